#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (once) the test VM's debug kernel from Debian's linux-source-6.12:
# defconfig + kvm_guest.config + debug.config.  Cached outside the
# repository, keyed by the config fragment and the source package version;
# rebuilt when either changes.  Prints the build directory (KDIR; its
# arch/x86/boot/bzImage is the image) on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${MLX5C_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlx5c}
tarball=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n 1)
[ -n "$tarball" ] || { echo "debug-kernel: no linux-source-6.12 (make deps)" >&2; exit 1; }
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( (echo "$srcver"; cat "$here/debug.config") | md5sum | cut -c1-12)
dir=$cache/debug-kernel-$key

if [ -f "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

start=$(date +%s)
rm -rf "$dir" "$dir.tmp"
mkdir -p "$dir.tmp"
echo "debug-kernel: unpacking $tarball ($srcver)" >&2
tar -C "$dir.tmp" --strip-components=1 -xf "$tarball"
cd "$dir.tmp"
{
	make -s defconfig
	make -s kvm_guest.config
	scripts/kconfig/merge_config.sh -m .config "$here/debug.config"
	make -s olddefconfig
} >&2
for opt in KASAN KASAN_VMALLOC UBSAN DEBUG_LIST FAILSLAB FAIL_PAGE_ALLOC \
	SOFTLOCKUP_DETECTOR PROVE_LOCKING DEBUG_KMEMLEAK DEBUG_OBJECTS VFIO_PCI \
	IOMMUFD VFIO_DEVICE_CDEV NET_9P_VIRTIO OVERLAY_FS; do
	grep -q "^CONFIG_$opt=y" .config ||
		{ echo "debug-kernel: CONFIG_$opt did not stick" >&2; exit 1; }
done
echo "debug-kernel: building ($(nproc) jobs)" >&2
make -s -j"$(nproc)" bzImage modules >&2
cd /
mv "$dir.tmp" "$dir"
echo "$(( $(date +%s) - start ))" > "$dir/.build-seconds"
touch "$dir/.done"
echo "debug-kernel: built in $(cat "$dir/.build-seconds")s" >&2
echo "$dir"
