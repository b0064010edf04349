/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Checks inside a host test.  Each test runs in its own process under the
 * kselftest harness (main.c); ok() records a failed check in that process
 * and prints it as a KTAP diagnostic, and the harness fails the test if any
 * check failed, the process crashed or a sanitizer reported an error.
 */
#ifndef VFIO_MIG_TAP_H
#define VFIO_MIG_TAP_H

#include <stdbool.h>

extern unsigned tap_passed, tap_failed;

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ok(cond, ...)	tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define T(group, name) void group##_##name(void);
#include "list.h"
#undef T

#endif
