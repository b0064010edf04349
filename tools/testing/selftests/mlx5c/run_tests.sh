#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run inside the test VM (tools/testing/vm/run): every mlx5c kselftest,
# then the module's life cycle.  KTAP on stdout.
#   run_tests.sh [TEST...]     default: all of them
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../../.." && pwd)
bin=${MLX5C_SELFTESTS:-$top/build/selftests}
module=${MLX5C_MODULE:-$top/build/module/mlx5c-vfio-pci.ko}
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(basic migration precopy)

status=0
for t in "${tests[@]}"; do
	echo "# selftest: $t"
	"$bin/$t" || status=1
done

# The module's life cycle: unbind every function, unload, load again.
n=0
tap() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		status=1
	fi
}
echo "# selftest: lifecycle"
echo "TAP version 13"
echo "1..3"
rc=0
for d in /sys/bus/pci/drivers/mlx5c-vfio-pci/0000:*; do
	[ -e "$d" ] || continue
	bdf=$(basename "$d")
	echo "$bdf" > /sys/bus/pci/drivers/mlx5c-vfio-pci/unbind || rc=1
	echo > "/sys/bus/pci/devices/$bdf/driver_override" || rc=1
done
tap $rc "lifecycle.unbind_all"
rmmod mlx5c_vfio_pci && [ ! -d /sys/module/mlx5c_vfio_pci ]
tap $? "lifecycle.rmmod"
insmod "$module" && [ -d /sys/bus/pci/drivers/mlx5c-vfio-pci ]
tap $? "lifecycle.insmod"
exit $status
