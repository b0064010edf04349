#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The VM runner (tools/testing/vm/run runs it inside the test VM): the
# mlx5c kselftests as "make" installed them with the kernel's kselftest
# framework (build/kselftest/kselftest_install), run by the kernel's
# runner (kselftest/runner.sh), each test program one KTAP result with its
# own results nested under it, the per-test timeout from "settings".  A
# program that dies, times out or exits non-zero is a "not ok"; exit
# status 4 is a skip.
#   run_tests.sh [TEST...]     default: every test of kselftest-list.txt,
#                              in the order of the Makefile
# The functions under test are MLX5C_BDFS; unset, the VM's ivshmem-plain
# functions, bound with mlx5c_setup.sh (the setup step a user does).
# Exits non-zero when any test program is "not ok".
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../../.." && pwd)
export MLX5C_FUZZ_CASES=${MLX5C_FUZZ_CASES:-1000}

BASE_DIR=${MLX5C_KSFT:-$top/build/kselftest/kselftest_install}
if [ ! -r "$BASE_DIR/kselftest/runner.sh" ] || [ ! -r "$BASE_DIR/kselftest-list.txt" ]; then
	echo "TAP version 13"
	echo "1..0"
	echo "Bail out! no $BASE_DIR/kselftest/runner.sh or kselftest-list.txt: run make"
	exit 1
fi
if [ -z "${MLX5C_BDFS:-}" ]; then
	setup=$("$here/mlx5c_setup.sh" bind $("$here/mlx5c_setup.sh" ivshmem)) || {
		echo "TAP version 13"
		echo "1..0"
		echo "Bail out! mlx5c_setup.sh could not bind the VM's ivshmem functions"
		exit 1
	}
	eval "$setup"
fi
tests=("$@")
[ ${#tests[@]} -gt 0 ] ||
	mapfile -t tests < <(sed -n 's/^mlx5c://p' "$BASE_DIR/kselftest-list.txt")

. "$BASE_DIR/kselftest/runner.sh"
cd "$BASE_DIR/mlx5c" || exit 1
out=$(mktemp)
run_many "${tests[@]}" | tee "$out"
status=0
grep -q '^not ok ' "$out" && status=1
rm -f "$out"
exit $status
