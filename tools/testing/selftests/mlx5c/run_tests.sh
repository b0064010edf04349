#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run inside the test VM (tools/testing/vm/run): the mlx5c kselftests with
# the kernel's own kselftest runner (kselftest/runner.sh, from
# linux-source-6.12 through the tree "make" installs in build/selftests/ksft),
# each test program one KTAP result with its own results nested under it,
# the per-test timeout from "settings".  A program that dies, times out or
# exits non-zero is a "not ok"; exit status 4 is a skip.
#   run_tests.sh [TEST...]     default: every test of kselftest-list.txt,
#                              in the order of the Makefile
# Exits non-zero when any test program is "not ok".
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../../.." && pwd)
bin=${MLX5C_SELFTESTS:-$top/build/selftests}
export MLX5C_FUZZ_CASES=${MLX5C_FUZZ_CASES:-1000}

BASE_DIR=$bin/ksft
if [ ! -r "$BASE_DIR/kselftest/runner.sh" ] || [ ! -r "$BASE_DIR/kselftest-list.txt" ]; then
	echo "TAP version 13"
	echo "1..0"
	echo "Bail out! no $BASE_DIR/kselftest/runner.sh or kselftest-list.txt: run make"
	exit 1
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
