#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# iommufd.sh [KDIR]: the driver on the debug kernel, which unlike Debian's
# has CONFIG_IOMMUFD (so IOMMUFD_DRIVER) and CONFIG_VFIO_DEVICE_CDEV.  It
# never builds that kernel: KDIR (default: the built one in the cache, with
# its .done) must exist.  Builds a copy of the module against it and, in the
# VM, runs the ioctl kselftests (group and cdev variants, DMA logging
# offered) and guest-iommufd.sh (vfio-mig opening the cdevs, the ynl
# client).  TAP on stdout.
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
cache=${MLX5C_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlx5c}
out=$top/build/iommufd

kdir=${1:-}
if [ -z "$kdir" ]; then
	for d in "$cache"/debug-kernel-*/; do
		[ -f "$d/.done" ] && kdir=${d%/}
	done
fi
[ -n "$kdir" ] && [ -f "$kdir/.done" ] && [ -f "$kdir/arch/x86/boot/bzImage" ] || {
	echo "no built debug kernel under $cache (make check-debug builds it)" >&2
	exit 1
}
for sym in CONFIG_IOMMUFD CONFIG_VFIO_DEVICE_CDEV CONFIG_IOMMUFD_DRIVER; do
	grep -q "^$sym=y" "$kdir/.config" || { echo "$kdir: no $sym=y" >&2; exit 1; }
done
krel=$(cat "$kdir/include/config/kernel.release")

rm -rf "$out/src"
mkdir -p "$out/src"
cp -r "$top/Kbuild" "$top/drivers" "$top/include" "$out/src/"
make -s -C "$kdir" M="$out/src" W=1 modules >&2
cp "$out/src/drivers/vfio/pci/mlx5c/mlx5c-vfio-pci.ko" "$out/mlx5c-vfio-pci.ko"

VM_KEEP_LOG=$out/console.log "$top/tools/testing/vm/run" \
	--kernel "$kdir/arch/x86/boot/bzImage" --kver "$krel" \
	--module "$out/mlx5c-vfio-pci.ko" --ivshmem-size 16M --timeout 2400 -- \
	env MLX5C_KCONFIG="$kdir/.config" \
	"$top/tools/testing/debug-kernel/guest-iommufd.sh"
