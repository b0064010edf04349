/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kselftest harness, with a longer default timeout: the tests run in a
 * TCG VM on a shared machine, where a 64 MiB migration may take seconds.
 * A hang is still caught, later.  Every program takes the functions to
 * test as BDF arguments after the harness's options, or in MLX5C_BDFS.
 */
#ifndef MLX5C_HARNESS_H
#define MLX5C_HARNESS_H

#include "kselftest_harness.h"
#include "mlx5c_util.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#undef TEST_HARNESS_MAIN
#define TEST_HARNESS_MAIN \
	int main(int argc, char **argv) \
	{ \
		argc = mlx5c_take_bdf_args(argc, argv); \
		return test_harness_run(argc, argv); \
	}

#endif
