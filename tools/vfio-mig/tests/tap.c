// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>

#include "tap.h"

unsigned tap_passed, tap_failed;

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("#   %s: ", cond ? "pass" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (cond)
		tap_passed++;
	else {
		tap_failed++;
		printf(" (%s:%d)", file, line);
	}
	printf("\n");
	fflush(stdout);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("#   ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}
