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

# Keys that DKMS deprecates (CLEAN since 3.1.8; REMAKE_INITRD and
# MODULES_CONF* earlier) or that only repeat its defaults (MAKE).
bad_keys=$(grep -oE '^(CLEAN|REMAKE_INITRD|MODULES_CONF[A-Z_]*|MAKE)(\[[0-9]+\])?=' "$top/dkms.conf" || true)
[ -z "$bad_keys" ] || { echo "dkms.conf has deprecated or redundant keys: $bad_keys" >&2; exit 1; }

command -v dkms >/dev/null || { echo "dkms is not installed (scripts/install-deps.sh)" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work/tree" "$work/src" "$work/lib-modules/$kver"
make -s -C "$top" dkms-src DKMS_SRC="$work/src/$name-$ver"

export mok_signing_key=$work/mok.key mok_certificate=$work/mok.pub
d=(dkms --dkmstree "$work/tree" --sourcetree "$work/src" --installtree "$work/lib-modules")
set -x
{
"${d[@]}" add -m "$name" -v "$ver"
"${d[@]}" build -m "$name" -v "$ver" -k "$kver"
"${d[@]}" install -m "$name" -v "$ver" -k "$kver" --no-depmod
} 2>&1 | tee "$work/dkms.out"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
"${d[@]}" status -m "$name"
set +x
! grep -i 'deprecated' "$work/dkms.out" || { echo "dkms warns of a deprecated feature" >&2; exit 1; }
ko=$(find "$work/lib-modules/$kver" -name "$name.ko*" | head -n 1)
[ -n "$ko" ] || { echo "dkms install left no $name.ko under $work/lib-modules/$kver" >&2; exit 1; }
case $ko in
"$work/lib-modules/$kver/updates/"*) ;;
*) echo "$ko is not under updates/" >&2; exit 1 ;;
esac
# DKMS compresses as the kernel's config says, as modules_install does.
if grep -qx CONFIG_MODULE_COMPRESS_XZ=y "/lib/modules/$kver/build/.config"; then
	case $ko in *.ko.xz) ;; *) echo "$ko is not xz-compressed" >&2; exit 1 ;; esac
fi
"${d[@]}" status -m "$name" | grep -q "$name/$ver, $kver, .*: installed" ||
	{ echo "dkms status does not say installed" >&2; exit 1; }
"$top/tools/testing/install/modinfo.sh" "$ko"
set -x
"${d[@]}" remove -m "$name" -v "$ver" --all --no-depmod
set +x
[ ! -e "$ko" ] || { echo "dkms remove left $ko" >&2; exit 1; }
echo "# dkms: ok"
