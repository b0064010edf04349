#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The body of `make check-debug`: build (or reuse) the debug kernel, build
# the module against it, and run the whole VM suite on it in two VMs side
# by side, each a half of the kselftests (vfio-mig end to end and QEMU
# among them), the module's life cycle, then a kmemleak scan.
# Any KASAN, lockdep, kmemleak or WARN report fails the run (vm/run scans
# the console; the scan's own report is printed to it).  TAP on stdout.
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
here=$top/tools/testing/debug-kernel
out=$top/build/debug

kdir=$("$here/build.sh" | tail -n 1)
krel=$(cat "$kdir/include/config/kernel.release")

# Build a copy of the driver, so that the stock build's objects stay.
rm -rf "$out/src"
mkdir -p "$out/src"
cp -r "$top/Kbuild" "$top/drivers" "$top/include" "$out/src/"
make -s -C "$kdir" M="$out/src" W=1 modules >&2
cp "$out/src/drivers/vfio/pci/mlx5c/mlx5c-vfio-pci.ko" "$out/mlx5c-vfio-pci.ko"

# The suite in two VMs side by side (vm/split.sh; in one VM it took about
# 46 minutes), the first with the longest programs; each ends with
# lifecycle.sh and its own kmemleak scan (guest-suite.sh).  The functions
# are 16 MiB, not 64: the same paths (eight 2 MiB copy chunks, 4096 pages
# of dirty bitmap) at a quarter of the KASAN-checked copying.
# MLX5C_DEBUG_FIRST names the first VM's tests instead.
first=${MLX5C_DEBUG_FIRST:-"qemu_migration.py fail_nth fuzz races vfio_mig_e2e.sh integrity migration netns.sh"}
# The environment reaches the guest only through the command (env).
"$top/tools/testing/vm/split.sh" "$first" "$out/vm" \
	--kernel "$kdir/arch/x86/boot/bzImage" --kver "$krel" \
	--module "$out/mlx5c-vfio-pci.ko" --ivshmem-size 16M --timeout 3000 -- \
	env MLX5C_MODULE="$out/mlx5c-vfio-pci.ko" MLX5C_KCONFIG="$kdir/.config" \
	MLX5C_FUZZ_CASES="${MLX5C_FUZZ_CASES:-300}" \
	MLX5C_RACE_SECONDS="${MLX5C_RACE_SECONDS:-10}" \
	"$here/guest-suite.sh"
