#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo, run inside the test VM by `make demo`: bind two ivshmem-plain
# functions to mlx5c-vfio-pci and show what was found.
set -euo pipefail
drv=mlx5c-vfio-pci
funcs=()
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] &&
		funcs+=("$(basename "$d")")
done
[ ${#funcs[@]} -ge 2 ] || { echo "demo: need two ivshmem-plain functions" >&2; exit 1; }
for bdf in "${funcs[@]:0:2}"; do
	echo "$drv" > "/sys/bus/pci/devices/$bdf/driver_override"
	echo "$bdf" > /sys/bus/pci/drivers_probe
	group=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/iommu_group")")
	read -r start end _ < <(sed -n 3p "/sys/bus/pci/devices/$bdf/resource")
	size=$((end - start + 1))
	echo "$bdf: driver $(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver")")," \
		"IOMMU group $group (/dev/vfio/$group), BAR2 $((size >> 20)) MiB"
done
