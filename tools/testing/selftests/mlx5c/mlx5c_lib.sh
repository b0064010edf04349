# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the mlx5c kselftest scripts: where things are, the ivshmem
# functions of the VM, and the KTAP helpers of the kernel's kselftest
# framework (kselftest/ktap_helpers.sh, from the installed kselftest tree
# or from linux-source-6.12; never copied here).
self=$(readlink -f "$0")
here=$(dirname "$self")
top=$(cd "$here/../../../.." && pwd)
bin=${MLX5C_SELFTESTS:-$top/build/selftests}
module=${MLX5C_MODULE:-$top/build/module/mlx5c-vfio-pci.ko}
vfio_mig=${MLX5C_VFIO_MIG:-$top/build/vfio-mig/vfio-mig}

ksft_dir=$(dirname "$0")/../kselftest
[ -r "$ksft_dir/ktap_helpers.sh" ] ||
	ksft_dir=${KSRC:-/usr/src/linux-source-6.12}/tools/testing/selftests/kselftest
if ! . "$ksft_dir/ktap_helpers.sh"; then
	echo "Bail out! no kselftest/ktap_helpers.sh (install linux-source-6.12)"
	exit 1
fi

# result RC NAME: one KTAP result from an exit status.
result() {
	if [ "$1" -eq 0 ]; then
		ktap_test_pass "$2"
	else
		ktap_test_fail "$2"
	fi
}

# The ivshmem-plain functions (1af4:1110) the VM has.
mapfile -t funcs < <(for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] &&
		basename "$d"
done)

# need_two_functions: vfio-mig, bar2ctl and two functions, or a failed
# run (a missing precondition is a failure in the test VM, not a skip).
need_two_functions() {
	local f
	for f in "$vfio_mig" "$bin/bar2ctl"; do
		[ -x "$f" ] || ktap_exit_fail_msg "no $f: run make"
	done
	[ ${#funcs[@]} -ge 2 ] ||
		ktap_exit_fail_msg "need two ivshmem functions, found ${#funcs[@]}"
}

# wait_for CMD: up to 10 s for the shell command CMD to succeed.
wait_for() {
	local i
	for i in $(seq 100); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}

# show FILE...: FILEs as KTAP diagnostics.
show() {
	local f
	for f in "$@"; do
		echo "# $f:"
		sed 's/^/#   /' "$f"
	done
}
