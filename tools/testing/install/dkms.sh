#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms add, build, install and remove mlx5c-vfio-pci against the installed
# headers of KVER, in a private DKMS tree under build/dkms: the host's
# /var/lib/dkms, /usr/src and /lib/modules are not touched (the signing key
# DKMS makes is private too, and depmod is not run).
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
kver=${KVER:-$(ls /lib/modules | grep -E '^6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -n 1)}
work=$top/build/dkms

conf_var() { sed -n "s/^$1=\"\\(.*\\)\"\$/\\1/p" "$top/dkms.conf"; }
name=$(conf_var PACKAGE_NAME)
ver=$(conf_var PACKAGE_VERSION)
modver=$(sed -n 's/^MODULE_VERSION("\(.*\)");/\1/p' "$top/drivers/vfio/pci/mlx5c/main.c")
echo "# dkms.conf: $name $ver; MODULE_VERSION $modver; kernel $kver"
[ -n "$ver" ] && [ "$ver" = "$modver" ] ||
	{ echo "dkms.conf PACKAGE_VERSION '$ver' != MODULE_VERSION '$modver'" >&2; exit 1; }

command -v dkms >/dev/null || { echo "dkms is not installed (scripts/install-deps.sh)" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work/tree" "$work/src" "$work/lib-modules/$kver"
make -s -C "$top" dkms-src DKMS_SRC="$work/src/$name-$ver"

export mok_signing_key=$work/mok.key mok_certificate=$work/mok.pub
d=(dkms --dkmstree "$work/tree" --sourcetree "$work/src" --installtree "$work/lib-modules")
set -x
"${d[@]}" add -m "$name" -v "$ver"
"${d[@]}" build -m "$name" -v "$ver" -k "$kver"
"${d[@]}" install -m "$name" -v "$ver" -k "$kver" --no-depmod
"${d[@]}" status -m "$name"
set +x
ko=$(find "$work/lib-modules/$kver" -name "$name.ko*" | head -n 1)
[ -n "$ko" ] || { echo "dkms install left no $name.ko under $work/lib-modules/$kver" >&2; exit 1; }
case $ko in
"$work/lib-modules/$kver/updates/"*) ;;
*) echo "$ko is not under updates/" >&2; exit 1 ;;
esac
"${d[@]}" status -m "$name" | grep -q "$name/$ver, $kver, .*: installed" ||
	{ echo "dkms status does not say installed" >&2; exit 1; }
"$top/tools/testing/install/modinfo.sh" "$ko"
set -x
"${d[@]}" remove -m "$name" -v "$ver" --all --no-depmod
set +x
[ ! -e "$ko" ] || { echo "dkms remove left $ko" >&2; exit 1; }
echo "# dkms: ok"
