#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The setup step of the mlx5c kselftests: the tests use the functions they
# are given (MLX5C_BDFS, or BDF arguments) and never bind one themselves,
# as upstream's vfio selftests leave binding to the user.
#   mlx5c_setup.sh bind BDF...     bind each to mlx5c-vfio-pci through
#                                  driver_override, then print the line
#                                  to give them to the tests:
#                                  export MLX5C_BDFS="BDF ..."
#   mlx5c_setup.sh unbind BDF...   unbind each, clear its driver_override
#   mlx5c_setup.sh ivshmem         the ivshmem-plain functions (1af4:1110)
#                                  of this machine (the test VM's), one a line
# Exits non-zero, saying why, when a BDF is not a PCI function here or
# does not end up where asked.
set -uo pipefail
DRV=mlx5c-vfio-pci
PCI=/sys/bus/pci/devices

die() {
	echo "mlx5c_setup.sh: $*" >&2
	exit 1
}

driver_of() {
	local link=$PCI/$1/driver

	[ -L "$link" ] && basename "$(readlink "$link")"
}

exists() {
	[[ $1 =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]] && [ -d "$PCI/$1" ] ||
		die "$1 is not a PCI function here (a BDF is 0000:01:00.0)"
}

bind_one() {
	local bdf=$1 cur

	exists "$bdf"
	cur=$(driver_of "$bdf")
	[ "$cur" = "$DRV" ] && return 0
	if [ -n "$cur" ]; then
		echo "$bdf" > "$PCI/$bdf/driver/unbind" || die "$bdf: cannot unbind from $cur"
	fi
	echo "$DRV" > "$PCI/$bdf/driver_override" || die "$bdf: cannot set driver_override"
	echo "$bdf" > /sys/bus/pci/drivers_probe
	cur=$(driver_of "$bdf")
	[ "$cur" = "$DRV" ] || die "$bdf: probe left it with ${cur:-no driver}, not $DRV (see dmesg)"
}

unbind_one() {
	local bdf=$1

	exists "$bdf"
	if [ -n "$(driver_of "$bdf")" ]; then
		echo "$bdf" > "$PCI/$bdf/driver/unbind" || die "$bdf: cannot unbind"
	fi
	echo > "$PCI/$bdf/driver_override" || die "$bdf: cannot clear driver_override"
}

ivshmem() {
	local d

	for d in "$PCI"/*; do
		[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] &&
			basename "$d"
	done
	return 0
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
bind)
	[ $# -gt 0 ] || die "bind: no BDF given"
	[ -d /sys/bus/pci/drivers/$DRV ] ||
		die "$DRV is not loaded: modprobe mlx5c-vfio-pci (or insmod the module)"
	for bdf; do
		bind_one "$bdf"
	done
	echo "export MLX5C_BDFS=\"$*\""
	;;
unbind)
	[ $# -gt 0 ] || die "unbind: no BDF given"
	for bdf; do
		unbind_one "$bdf"
	done
	;;
ivshmem)
	ivshmem
	;;
*)
	die "usage: mlx5c_setup.sh bind BDF... | unbind BDF... | ivshmem"
	;;
esac
