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
[ ${#tests[@]} -gt 0 ] || tests=(basic migration precopy faults ioctl fuzz)

export MLX5C_FUZZ_CASES=${MLX5C_FUZZ_CASES:-1000}
status=0
for t in "${tests[@]}"; do
	echo "# selftest: $t"
	"$bin/$t" || status=1
done

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

# vfio-mig end to end: a pattern on the source, a migration, the two
# BAR2s compared byte for byte.
vfio_mig=$top/build/vfio-mig/vfio-mig
mapfile -t funcs < <(for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] &&
		basename "$d"
done)
e2e() {
	local name=$1 seed=$2
	shift 2
	"$bin/bar2ctl" fill "${funcs[0]}" "$seed" &&
		"$bin/bar2ctl" fill "${funcs[1]}" 0 &&
		"$vfio_mig" migrate "${funcs[0]}" "${funcs[1]}" "$@" > /tmp/e2e.out 2>&1 &&
		"$bin/bar2ctl" cmp "${funcs[0]}" "${funcs[1]}"
	local rc=$?
	[ $rc -eq 0 ] || sed 's/^/# /' /tmp/e2e.out
	tap $rc "vfio-mig.$name"
}
if [ -x "$vfio_mig" ] && [ ${#funcs[@]} -ge 2 ] && [ $# -eq 0 ]; then
	echo "# selftest: vfio-mig"
	echo "TAP version 13"
	echo "1..4"
	e2e migrate_1_channel 11 --channels 1
	e2e migrate_4_channels 12 --channels 4
	e2e migrate_4_channels_dirty 13 --channels 4 --dirty 4M
	e2e migrate_no_precopy 14 --channels 2 --no-precopy
fi

# The module's life cycle: unbind every function, unload, load again.
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
