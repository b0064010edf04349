/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kselftest harness, with a longer default timeout: the tests run in a
 * TCG VM on a shared machine, where a 64 MiB migration may take seconds.
 * A hang is still caught, later.
 */
#ifndef MLX5C_HARNESS_H
#define MLX5C_HARNESS_H

#include "kselftest_harness.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#endif
