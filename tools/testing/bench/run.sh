#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run inside the test VM by `make bench`, JSON in build/bench/:
#   run.sh [downtime] [channels] [qemu] [datapath]
#                                           default: downtime channels
# make bench boots one VM per benchmark: downtime with the default 64 MiB
# functions, channels with 16 MiB ones (its capped links are slow), qemu
# (QEMU migrating the test guest) with 256 MiB ones, datapath twice, with
# 64 MiB and with 1 GiB functions (datapath-64m.json, datapath-1024m.json).
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$top/build/bench"
# The setup step of the kselftests, which downtime shares: the VM's
# ivshmem functions bound and given in MLX5C_BDFS.
if [ -z "${MLX5C_BDFS:-}" ]; then
	setup=$top/tools/testing/selftests/mlx5c/mlx5c_setup.sh
	bound=$("$setup" bind $("$setup" ivshmem))
	eval "$bound"
fi
# The data path benchmark in a memory cgroup of its own: the kernel memory
# a session holds is what the driver charges to it.
datapath() {
	local cg=/sys/fs/cgroup/mlx5c-bench bdf mib
	mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup
	echo +memory > /sys/fs/cgroup/cgroup.subtree_control
	mkdir -p "$cg"
	bdf=${MLX5C_BDFS//,/ }
	bdf=${bdf%% *}
	mib=$(( $(stat -c %s "/sys/bus/pci/devices/$bdf/resource2") >> 20 ))
	( echo $BASHPID > "$cg/cgroup.procs" &&
	  exec "$top/build/kselftest/mlx5c/datapath" \
		"$top/build/bench/datapath-${mib}m.json" )
	rmdir "$cg"
}
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(downtime channels)
for b in "${benches[@]}"; do
	case $b in
	downtime) "$top/build/kselftest/mlx5c/downtime" "$top/build/bench/downtime.json" ;;
	channels) "$top/tools/testing/bench/channels.sh" "$top/build/bench/channels.json" ;;
	qemu) "$top/tools/testing/bench/qemu.py" "$top/build/bench/qemu.json" ;;
	datapath) datapath ;;
	*) echo "bench: unknown benchmark $b" >&2; exit 2 ;;
	esac
done
