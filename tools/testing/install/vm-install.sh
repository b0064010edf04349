#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run inside the test VM started with --no-module (tools/testing/vm/run):
# make install into the guest's overlay (Kbuild's modules_install: the module
# lands stripped and compressed as the kernel's config says), modprobe by
# name, bind two functions
# through driver_override, one migration with the installed vfio-mig, unbind,
# modprobe -r and make uninstall.  TAP on stdout.
top=$(cd "$(dirname "$0")/../../.." && pwd)
bar2ctl=$top/build/kselftest/mlx5c/bar2ctl
drv=mlx5c-vfio-pci
kver=${KVER:-$(uname -r)}
# Where Kbuild's modules_install puts the module, with the suffix of the
# kernel's CONFIG_MODULE_COMPRESS_* (Debian: .xz).
kconfig() { sed -n "s/^$1=//p" "/lib/modules/$kver/build/.config"; }
suffix=
if [ "$(kconfig CONFIG_MODULE_COMPRESS_ALL)" = y ]; then
	[ "$(kconfig CONFIG_MODULE_COMPRESS_GZIP)" = y ] && suffix=.gz
	[ "$(kconfig CONFIG_MODULE_COMPRESS_XZ)" = y ] && suffix=.xz
	[ "$(kconfig CONFIG_MODULE_COMPRESS_ZSTD)" = y ] && suffix=.zst
fi
ko=/lib/modules/$kver/updates/drivers/vfio/pci/mlx5c/$drv.ko$suffix
status=0
n=0
tap() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n install.$2 # ${SECONDS}s"
	else
		echo "not ok $n install.$2 # ${SECONDS}s"
		status=1
	fi
}
run() { # run CMD...: its output as TAP comments
	"$@" > /tmp/install.out 2>&1
	local rc=$?
	sed 's/^/# /' /tmp/install.out
	return $rc
}
driver_of() { # the driver BDF is bound to, empty if none
	local l=/sys/bus/pci/devices/$1/driver
	[ -e "$l" ] && basename "$(readlink -f "$l")"
}

mapfile -t funcs < <(for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] &&
		basename "$d"
done)

echo "TAP version 13"
echo "1..13"

# guest-init.sh loads vfio_pci_core and vfio_iommu_type1 even with
# --no-module: unload them, so that modprobe has to load them.
[ ! -d /sys/module/mlx5c_vfio_pci ] &&
	run modprobe -r vfio_iommu_type1 vfio_pci_core &&
	[ ! -d /sys/module/vfio_pci_core ] && [ ! -d /sys/module/vfio_iommu_type1 ] &&
	[ ${#funcs[@]} -ge 2 ]
tap $? "setup_nothing_loaded"

run make -C "$top" install KVER="$kver" &&
	[ -f "$ko" ] && { [ -z "$suffix" ] || [ ! -e "${ko%"$suffix"}" ]; } &&
	[ -x /usr/local/bin/vfio-mig ] && [ -x /usr/local/sbin/mlx5c-vfio-pci-bind ] &&
	[ -f /usr/local/share/man/man1/vfio-mig.1 ] &&
	[ "$(modinfo -n "$drv")" = "$ko" ] &&
	[ "$(command -v vfio-mig)" = /usr/local/bin/vfio-mig ]
tap $? "make_install"

# Stripped of its debug info (the built one has it), same module otherwise.
built=$top/drivers/vfio/pci/mlx5c/$drv.ko
case $suffix in
.xz) xz -dc "$ko" ;; .gz) gzip -dc "$ko" ;; .zst) zstd -dcq "$ko" ;; *) cat "$ko" ;;
esac > /tmp/installed.ko &&
	readelf -S "$built" | grep '\.debug_info' > /dev/null &&
	! readelf -S /tmp/installed.ko | grep '\.debug_info' > /dev/null &&
	[ "$(modinfo -F srcversion /tmp/installed.ko)" = "$(modinfo -F srcversion "$built")" ]
tap $? "installed_module_stripped"

run "$top/tools/testing/install/modinfo.sh" "$drv"
tap $? "modinfo_by_name"

# The modprobe.d sample, with a latency we can recognise.
sed 's/latency_ms=[0-9]*/latency_ms=7/' "$top/samples/modprobe.d/$drv.conf" \
	> "/etc/modprobe.d/$drv.conf" &&
	run modprobe "$drv" &&
	[ -d /sys/module/mlx5c_vfio_pci ] && [ -d /sys/module/vfio_pci_core ] &&
	[ -d /sys/module/vfio ] && [ -d /sys/bus/pci/drivers/$drv ] &&
	[ "$(cat /sys/module/mlx5c_vfio_pci/srcversion)" = "$(modinfo -F srcversion "$drv")" ]
tap $? "modprobe_loads_dependencies"
[ -d /sys/module/vfio_iommu_type1 ] &&
	[ "$(cat /sys/module/mlx5c_vfio_pci/parameters/latency_ms)" = 7 ]
tap $? "modprobe_d_softdep_and_options"

# Override-only: loading the driver binds nothing by itself.
[ -z "$(driver_of "${funcs[0]}")" ] && [ -z "$(driver_of "${funcs[1]}")" ]
tap $? "no_binding_without_override"

# The udev sample, for the second function: udevadm test applies its
# driver_override and shows the helper it would run.
mkdir -p /run/udev /etc/udev/rules.d
sed "s/0000:02:00.0/${funcs[1]}/" "$top/samples/udev/90-$drv.rules" \
	> "/etc/udev/rules.d/90-$drv.rules" &&
	udevadm test --action=add "/sys/bus/pci/devices/${funcs[1]}" > /tmp/install.out 2>&1
rc=$?
grep -E "90-$drv|^run:" /tmp/install.out | sed 's/^/# /'
[ $rc -eq 0 ] && grep -qxF "run: '/usr/local/sbin/mlx5c-vfio-pci-bind ${funcs[1]}'" /tmp/install.out &&
	[ "$(cat "/sys/bus/pci/devices/${funcs[1]}/driver_override")" = "$drv" ] &&
	[ -z "$(driver_of "${funcs[1]}")" ]
tap $? "udev_rule_sets_override"
rm -f "/etc/udev/rules.d/90-$drv.rules"

# One function by hand, the other with the udev sample's helper, as udev
# would run it.
echo "$drv" > "/sys/bus/pci/devices/${funcs[0]}/driver_override" &&
	echo "${funcs[0]}" > /sys/bus/pci/drivers_probe &&
	[ "$(driver_of "${funcs[0]}")" = "$drv" ] &&
	run mlx5c-vfio-pci-bind "${funcs[1]}" &&
	[ "$(driver_of "${funcs[1]}")" = "$drv" ] &&
	[ -n "$(ls "/sys/bus/pci/devices/${funcs[0]}/vfio-dev" 2>/dev/null)" ]
tap $? "bind_driver_override"

"$bar2ctl" fill "${funcs[0]}" 21 && "$bar2ctl" fill "${funcs[1]}" 0 &&
	run vfio-mig migrate "${funcs[0]}" "${funcs[1]}" --channels 2 &&
	run "$bar2ctl" cmp "${funcs[0]}" "${funcs[1]}"
tap $? "migrate_2_channels"

# Unbind and clear driver_override: the function is handed back, and a
# probe leaves it unbound (ivshmem-plain has no other driver).
rc=0
for f in "${funcs[0]}" "${funcs[1]}"; do
	echo "$f" > "/sys/bus/pci/drivers/$drv/unbind" &&
		echo > "/sys/bus/pci/devices/$f/driver_override" &&
		[ ! -e "/sys/bus/pci/devices/$f/driver" ] &&
		echo "$f" > /sys/bus/pci/drivers_probe &&
		[ ! -e "/sys/bus/pci/devices/$f/driver" ] &&
		[ "$(cat "/sys/bus/pci/devices/$f/driver_override")" = "(null)" ] || rc=1
done
tap $rc "unbind_hands_back"

run modprobe -r "$drv" && [ ! -d /sys/module/mlx5c_vfio_pci ]
tap $? "modprobe_r"

# make uninstall without its depmod: a second depmod of the whole tree
# takes minutes in the TCG guest, and make_install has tested it.
rm -f "/etc/modprobe.d/$drv.conf"
run make -C "$top" uninstall KVER="$kver" DEPMOD=: &&
	[ ! -e "$ko" ] && [ ! -e /usr/local/bin/vfio-mig ] &&
	[ ! -e /usr/local/sbin/mlx5c-vfio-pci-bind ] &&
	[ ! -e /usr/local/share/man/man1/vfio-mig.1 ] && ! modinfo "$drv" > /dev/null 2>&1
tap $? "make_uninstall"
exit $status
