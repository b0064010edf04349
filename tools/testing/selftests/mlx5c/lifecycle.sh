#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module's life cycle: unbind every function, unload, load again, and
# bind the functions under test again (mlx5c_setup.sh), as they were.
. "$(dirname "$(readlink -f "$0")")/mlx5c_lib.sh"

ktap_print_header
ktap_set_plan 4
[ -r "$module" ] || ktap_exit_fail_msg "no $module: run make"
[ -d /sys/bus/pci/drivers/mlx5c-vfio-pci ] ||
	ktap_exit_fail_msg "mlx5c-vfio-pci is not loaded"

rc=0
for d in /sys/bus/pci/drivers/mlx5c-vfio-pci/0000:*; do
	[ -e "$d" ] || continue
	bdf=$(basename "$d")
	echo "$bdf" > /sys/bus/pci/drivers/mlx5c-vfio-pci/unbind || rc=1
	echo > "/sys/bus/pci/devices/$bdf/driver_override" || rc=1
done
result $rc "lifecycle.unbind_all"
rmmod mlx5c_vfio_pci && [ ! -d /sys/module/mlx5c_vfio_pci ]
result $? "lifecycle.rmmod"
insmod "$module" && [ -d /sys/bus/pci/drivers/mlx5c-vfio-pci ]
result $? "lifecycle.insmod"
if [ ${#funcs[@]} -gt 0 ]; then
	"$here/mlx5c_setup.sh" bind "${funcs[@]}" > /dev/null
	result $? "lifecycle.bind_again"
else
	ktap_test_skip "lifecycle.bind_again (no functions given: MLX5C_BDFS)"
fi
ktap_finished
