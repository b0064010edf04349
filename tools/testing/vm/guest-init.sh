# SPDX-License-Identifier: GPL-2.0
# Sourced by the run's script inside the guest's chroot: set up the guest,
# load the modules, run the command on ttyS1 and report its exit status.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=${TERM:-dumb}
rundir=$(dirname "$0")

# /tmp and /run stay on the tmpfs overlay: a tmpfs mounted over them would
# hide a checkout (and its shared build directory) that lives under /tmp.
mkdir -p /dev/pts /dev/shm
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ip link set lo up 2>/dev/null
echo 1 > /proc/sys/kernel/panic_on_oops 2>/dev/null

out=/dev/ttyS1
stty -F "$out" raw -echo 2>/dev/null

power_off() {
	sync
	busybox poweroff -f 2>/dev/null
	echo o > /proc/sysrq-trigger
	while :; do sleep 1; done
}

guest_fail() {
	echo "vm: $*" > "$out"
	echo 125 > "$rundir/rc"
	power_off
}

# Modules, or built in (a debug kernel): then a symbol of theirs is there.
for m in vfio_pci_core:vfio_pci_core_register_device \
	 vfio_iommu_type1:vfio_iommu_type1_ioctl; do
	modprobe "${m%%:*}" 2>/dev/null ||
		grep -qw "${m#*:}" /proc/kallsyms ||
		guest_fail "cannot load ${m%%:*}"
done
if [ "$MLX5C_LOAD_MODULE" = 1 ]; then
	insmod "$MLX5C_MODULE" || guest_fail "cannot insmod $MLX5C_MODULE"
fi

cd "$MLX5C_TOP"
if [ "$MLX5C_SHELL" = 1 ]; then
	setsid sh -c "exec bash -i < $out > $out 2>&1"
	rc=0
else
	"$@" > "$out" 2>&1 < /dev/null
	rc=$?
fi
echo "$rc" > "$rundir/rc"
power_off
