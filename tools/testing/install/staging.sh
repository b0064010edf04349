#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make install into staging trees under build/install (DESTDIR, so
# INSTALL_MOD_PATH too), as a packager would, on the host and without root:
# the module comes out of Kbuild's modules_install stripped, compressed as the
# kernel's .config says (Debian: xz) and signed only when a key is given; the
# tools land under DESTDIR/PREFIX; no depmod runs on a staging tree; a bad
# signing setup fails with a message and installs nothing; make uninstall
# removes it all.  TAP on stdout.  Needs "make" to have run.
set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
kver=${KVER:-$(ls /lib/modules | grep -E '^6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -n 1)}
kdir=${KDIR:-/lib/modules/$kver/build}
work=$top/build/install
rel=lib/modules/$kver/updates/drivers/vfio/pci/mlx5c/mlx5c-vfio-pci.ko
built=$top/drivers/vfio/pci/mlx5c/mlx5c-vfio-pci.ko
status=0
n=0
tap() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n staging.$2"
	else
		echo "not ok $n staging.$2"
		status=1
	fi
}
run() { # run CMD...: its output as TAP comments
	"$@" > "$work/out" 2>&1
	local rc=$?
	sed 's/^/# /' "$work/out"
	return $rc
}
kconfig() { sed -n "s/^$1=//p" "$kdir/.config"; }
# The module's ELF, decompressed if need be.
elf() {
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*.zst) zstd -dcq "$1" ;;
	*) cat "$1" ;;
	esac > "$work/mod.ko"
}
has_debug_info() { readelf -S "$1" | grep '\.debug_info' > /dev/null; } # not -q: no SIGPIPE under pipefail

rm -rf "$work"
mkdir -p "$work"
echo "TAP version 13"
echo "1..8"

# What the kernel expects: the suffix of CONFIG_MODULE_COMPRESS_ALL.
suffix=
if [ "$(kconfig CONFIG_MODULE_COMPRESS_ALL)" = y ]; then
	[ "$(kconfig CONFIG_MODULE_COMPRESS_GZIP)" = y ] && suffix=.gz
	[ "$(kconfig CONFIG_MODULE_COMPRESS_XZ)" = y ] && suffix=.xz
	[ "$(kconfig CONFIG_MODULE_COMPRESS_ZSTD)" = y ] && suffix=.zst
fi
echo "# kernel $kver: modules end in '${suffix:-(uncompressed)}'"
# The test means something only if the built module has debug info to strip.
has_debug_info "$built"
tap $? "built_module_has_debug_info"

d=$work/plain
run make -C "$top" install KVER="$kver" KDIR="$kdir" DESTDIR="$d"
rc=$?
mods=$(cd "$d" 2>/dev/null && find . -name 'mlx5c-vfio-pci.ko*' | sed 's|^\./||')
echo "# installed: $mods"
[ $rc -eq 0 ] && [ "$mods" = "$rel$suffix" ] &&
	[ -x "$d/usr/local/bin/vfio-mig" ] && [ -x "$d/usr/local/sbin/mlx5c-vfio-pci-bind" ] &&
	[ -f "$d/usr/local/share/man/man1/vfio-mig.1" ] &&
	[ -z "$(find "$d/lib/modules/$kver" -maxdepth 1 -name 'modules.*')" ]
tap $? "destdir_layout_no_depmod"

ko=$d/$rel$suffix
elf "$ko" && ! has_debug_info "$work/mod.ko" &&
	[ "$(modinfo -F srcversion "$ko")" = "$(modinfo -F srcversion "$built")" ] &&
	[ -z "$(modinfo -F signer "$ko")" ] && [ -z "$(modinfo -F sig_id "$ko")" ]
tap $? "compressed_stripped_unsigned"

d=$work/debug
run make -C "$top" install KVER="$kver" KDIR="$kdir" DESTDIR="$d" INSTALL_MOD_STRIP= &&
	elf "$d/$rel$suffix" && has_debug_info "$work/mod.ko"
tap $? "install_mod_strip_empty_keeps_debug_info"

# A key of our own (as DKMS's MOK key would be): the installed module
# carries a PKCS#7 signature by it, appended after stripping.
openssl req -new -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=mlx5c staging test/" \
	-keyout "$work/key.pem" -out "$work/cert.pem" > /dev/null 2>&1
d=$work/signed
run make -C "$top" install KVER="$kver" KDIR="$kdir" DESTDIR="$d" \
	MODULE_SIG_KEY="$work/key.pem" MODULE_SIG_CERT="$work/cert.pem" &&
	ko=$d/$rel$suffix && elf "$ko" &&
	[ "$(modinfo -F signer "$ko")" = "mlx5c staging test" ] &&
	[ "$(modinfo -F sig_hashalgo "$ko")" = "$(kconfig CONFIG_MODULE_SIG_HASH | tr -d '"')" ] &&
	[ "$(tail -c 28 "$work/mod.ko")" = "~Module signature appended~" ] &&
	! has_debug_info "$work/mod.ko"
tap $? "signed_with_module_sig_key"

d=$work/bad
run make -C "$top" install KVER="$kver" KDIR="$kdir" DESTDIR="$d" \
	MODULE_SIG_KEY="$work/key.pem"
rc=$?
[ $rc -ne 0 ] && grep -q 'MODULE_SIG_KEY and MODULE_SIG_CERT go together' "$work/out" &&
	[ ! -e "$d" ]
tap $? "key_without_cert_refused"
run make -C "$top" install KVER="$kver" KDIR="$kdir" DESTDIR="$d" \
	MODULE_SIG_KEY="$work/nonexistent.pem" MODULE_SIG_CERT="$work/cert.pem"
rc=$?
[ $rc -ne 0 ] && grep -q 'cannot read MODULE_SIG_KEY' "$work/out" && [ ! -e "$d" ]
tap $? "unreadable_key_refused"

d=$work/signed
run make -C "$top" uninstall KVER="$kver" DESTDIR="$d" &&
	[ -z "$(find "$d" -type f)" ]
tap $? "uninstall_removes_all"
exit $status
