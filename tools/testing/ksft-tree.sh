#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ksft-tree.sh KSRC OUT: the kernel tree the mlx5c kselftests build in,
# made of links: the kselftest framework of KSRC (linux-source-6.12:
# tools/testing/selftests/{Makefile,lib.mk,kselftest*,...} and the
# scripts/ it includes) with this repository's selftests, uAPI headers and
# benchmarks where a kernel tree carrying the driver would have them.  Then
#   make -C OUT/tools/testing/selftests TARGETS=mlx5c O=... install
# is the kernel's own build and install of the tests, nothing copied here.
set -euo pipefail
ksrc=$1
out=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
sel=$ksrc/tools/testing/selftests

for f in "$sel/Makefile" "$sel/lib.mk" "$sel/kselftest/runner.sh" "$ksrc/scripts/subarch.include"; do
	[ -r "$f" ] || { echo "ksft-tree.sh: no $f: install linux-source-6.12 (make deps)" >&2; exit 1; }
done

# Rebuilt from scratch each time: links only, so it is cheap, and a file
# removed from the repository leaves no stale link.
rm -rf "$out"
mkdir -p "$out/tools/testing/selftests/mlx5c"
ln -s "$ksrc/scripts" "$out/scripts"
ln -s "$top/include" "$out/include"
ln -s "$top/tools/testing/bench" "$out/tools/testing/bench"
# The framework: every file at the top of KSRC's selftests (no test
# directory but kselftest/).
for f in "$sel"/*; do
	[ -f "$f" ] || [ "$f" = "$sel/kselftest" ] || continue
	ln -s "$f" "$out/tools/testing/selftests/$(basename "$f")"
done
for f in "$top/tools/testing/selftests/mlx5c"/*; do
	[ "$(basename "$f")" = __pycache__ ] && continue
	ln -s "$f" "$out/tools/testing/selftests/mlx5c/$(basename "$f")"
done
