/* SPDX-License-Identifier: GPL-2.0 */
/* A tiny TAP producer for the vfio-mig host tests. */
#ifndef VFIO_MIG_TAP_H
#define VFIO_MIG_TAP_H

#include <stdbool.h>

extern unsigned tap_passed, tap_failed;

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tap_done(void);

#define ok(cond, ...)	tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

void test_util(void);
void test_policy(void);
void test_handshake(void);
void test_transport(void);
void test_faults(void);
void test_mig(void);

#endif
