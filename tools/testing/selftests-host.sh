#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kselftests as a kernel developer meets them, on the host (no VM, no
# function): they build with the kernel's kselftest framework from a
# kernel tree into a fresh output directory, and without functions given
# every program and script skips and says why; BDFs are taken from the
# arguments as well as from MLX5C_BDFS.  KTAP on stdout.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
ksrc=${KSRC:-/usr/src/linux-source-6.12}
. "$ksrc/tools/testing/selftests/kselftest/ktap_helpers.sh" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ktap_print_header
ktap_set_plan 5

# make -C tools/testing/selftests TARGETS=mlx5c from a kernel tree, into
# an output directory nothing was built in before.
"$top/tools/testing/ksft-tree.sh" "$ksrc" "$tmp/ktree" &&
	make -s -C "$tmp/ktree/tools/testing/selftests" TARGETS=mlx5c \
		O="$tmp/out" install > "$tmp/build.log" 2>&1 &&
	grep -qx "mlx5c:lifecycle.sh" "$tmp/out/kselftest/kselftest_install/kselftest-list.txt" &&
	[ -x "$tmp/out/kselftest/kselftest_install/mlx5c/migration" ]
rc=$?
if [ $rc -eq 0 ]; then
	ktap_test_pass ksft.build_from_kernel_tree
else
	sed 's/^/# /' "$tmp/build.log" | tail -20
	ktap_test_fail ksft.build_from_kernel_tree
fi
bin=$tmp/out/kselftest/kselftest_install/mlx5c

# expect NAME WANT CMD...: CMD's stdout has the line WANT (a fixed
# string), and CMD exits 0 (a C program: its tests skipped) or 4 (a
# script: skipped as a whole).
expect() {
	local name=$1 want=$2 rc
	shift 2
	"$@" > "$tmp/out.txt" 2>&1
	rc=$?
	if [ ! -x "$1" ] || ! grep -qF -- "$want" "$tmp/out.txt" ||
	   { [ $rc -ne 0 ] && [ $rc -ne 4 ]; }; then
		echo "# $* (exit $rc) did not say: $want"
		sed 's/^/#   /' "$tmp/out.txt" | head -20
		ktap_test_fail "$name"
		return
	fi
	ktap_test_pass "$name"
}

unset MLX5C_BDFS
expect ksft.program_skips_without_functions \
	"# SKIP needs 2 mlx5c functions, given 0: pass their BDFs as arguments or in MLX5C_BDFS" \
	"$bin/migration"
expect ksft.script_skips_without_functions \
	"1..0 # SKIP needs 2 mlx5c functions, given 0" \
	"$bin/vfio_mig_e2e.sh"
expect ksft.bdf_from_arguments \
	"# SKIP MLX5C_BDFS: 0000:ff:1f.7 is not a PCI function here" \
	"$bin/basic" 0000:ff:1f.7
MLX5C_BDFS="0000:ff:1f.6,0000:ff:1f.7" expect ksft.bdf_from_environment \
	"# SKIP MLX5C_BDFS: 0000:ff:1f.6 is not a PCI function here" \
	"$bin/migration"
ktap_finished
