#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitrd.sh KVER OUTDIR: build (once) the tiny busybox initramfs that
# mounts the host's root over 9p with a tmpfs overlay and chroots into it.
# Prints the path of the image.
set -euo pipefail

kver=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)

busybox=$(command -v busybox || echo /bin/busybox)
key=$(cat "$here/init" "$0" | md5sum | cut -c1-12)
img=$out/initrd-$kver-$key.cpio.gz
if [ -s "$img" ]; then
	echo "$img"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,mnt,lib/modules,newroot}
cp "$busybox" "$work/bin/busybox"
ln -s busybox "$work/bin/sh"
cp "$here/init" "$work/init"
chmod +x "$work/init"

# The 9p and overlay modules, decompressed (busybox insmod cannot read .xz),
# in dependency order.  A kernel with them built in needs none.
if [ -d "/lib/modules/$kver" ]; then
	for m in 9pnet_virtio 9p overlay; do
		modprobe -S "$kver" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		base=$(basename "$ko")
		base=${base%.xz}
		base=${base%.zst}
		case $ko in
		*.xz) xz -dc "$ko" > "$work/lib/modules/$base" ;;
		*.zst) zstd -qdc "$ko" > "$work/lib/modules/$base" ;;
		*) cp "$ko" "$work/lib/modules/$base" ;;
		esac
		echo "$base" >> "$work/lib/modules/order"
	done
fi

mkdir -p "$out"
# A temporary name of its own: two VMs may start side by side.
tmp=$(mktemp "$img.XXXXXX")
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$img"
echo "$img"
