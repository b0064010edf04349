#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside the VM on a kernel with iommufd and the vfio cdev (iommufd.sh):
# the ioctl kselftests in both fixture variants, then vfio-mig migrating
# through the cdevs (the group interface of each function must stay
# unopened), QEMU with its iommufd backend (qemu_migration.py converge and
# plain), then the ynl client.  TAP on stdout.
top=$(cd "$(dirname "$0")/../../.." && pwd)
bin=$top/build/kselftest/mlx5c
vfio_mig=$top/build/vfio-mig/vfio-mig
setup=$top/tools/testing/selftests/mlx5c/mlx5c_setup.sh
status=0

# The setup step: the VM's ivshmem functions bound, given to every test.
bound=$("$setup" bind $("$setup" ivshmem)) || {
	echo "Bail out! mlx5c_setup.sh could not bind the VM's ivshmem functions"
	exit 1
}
eval "$bound"
read -r -a funcs <<< "$MLX5C_BDFS"

echo "# selftest: ioctl (group and cdev)"
"$bin/ioctl" || status=1

echo "# selftest: vfio-mig over the vfio cdev"
echo "TAP version 13"
echo "1..2"
cdevs=$(ls /dev/vfio/devices/ 2>/dev/null | tr '\n' ' ')
echo "# /dev/iommu: $([ -c /dev/iommu ] && echo yes || echo no); cdevs: $cdevs"
[ -c /dev/iommu ] && [ -n "$cdevs" ]
rc=$?
[ $rc -eq 0 ] && echo "ok 1 iommufd.cdev_present" || { echo "not ok 1 iommufd.cdev_present"; status=1; }

# vfio-mig holds both devices open for the whole migration: while it runs,
# their cdevs must be open and their groups not (strace is not needed: the
# open fds of the process say it).
"$bin/bar2ctl" fill "${funcs[0]}" 41 && "$bin/bar2ctl" fill "${funcs[1]}" 0 &&
	{ "$vfio_mig" migrate "${funcs[0]}" "${funcs[1]}" --channels 2 > /tmp/cdev-mig.out 2>&1 &
	  pid=$!
	  seen=
	  for i in $(seq 200); do
		fds=$(ls -l "/proc/$pid/fd" 2>/dev/null)
		if grep -q '/dev/vfio/devices/vfio' <<<"$fds"; then
			seen=$fds
			break
		fi
		sleep 0.05
	  done
	  wait $pid; } &&
	grep -q '/dev/iommu' <<<"$seen" && ! grep -qE '/dev/vfio/([0-9]+|vfio)$' <<<"$seen" &&
	"$bin/bar2ctl" cmp "${funcs[0]}" "${funcs[1]}"
rc=$?
sed 's/^/# /' /tmp/cdev-mig.out
grep -E 'vfio|iommu' <<<"${seen:-}" | sed 's/^/# fd: /'
[ $rc -eq 0 ] && echo "ok 2 iommufd.vfio_mig_migrates_through_cdev" ||
	{ echo "not ok 2 iommufd.vfio_mig_migrates_through_cdev"; status=1; }

# QEMU with the iommufd backend: precopy converges on its own (converge),
# and a migration is byte-exact (plain).
echo "# selftest: qemu over iommufd"
MLX5C_QEMU_IOMMUFD=1 "$top/tools/testing/selftests/mlx5c/qemu_migration.py" \
	converge plain || status=1

echo "# selftest: ynl"
"$top/tools/testing/netlink/ynl-client.py" || status=1
exit $status
