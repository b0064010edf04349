# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the mlx5c kselftest scripts: where things are, the functions
# under test, and the KTAP helpers of the kernel's kselftest
# framework (kselftest/ktap_helpers.sh, from the installed kselftest tree
# or from linux-source-6.12; never copied here).
self=$(readlink -f "$0")
here=$(dirname "$self")
top=$(cd "$here/../../../.." && pwd)
# The programs: beside the script in an installed tree, else this
# repository's build; vfio-mig from this repository's build or the PATH.
bin=$top/build/kselftest/mlx5c
[ -x "$here/bar2ctl" ] && bin=$here
bin=${MLX5C_SELFTESTS:-$bin}
module=${MLX5C_MODULE:-$top/build/module/mlx5c-vfio-pci.ko}
vfio_mig=$top/build/vfio-mig/vfio-mig
[ -x "$vfio_mig" ] || vfio_mig=$(command -v vfio-mig || echo "$vfio_mig")
vfio_mig=${MLX5C_VFIO_MIG:-$vfio_mig}

ksft_dir=$(dirname "$0")/../kselftest
[ -r "$ksft_dir/ktap_helpers.sh" ] ||
	ksft_dir=${KSRC:-/usr/src/linux-source-6.12}/tools/testing/selftests/kselftest
if ! . "$ksft_dir/ktap_helpers.sh"; then
	echo "Bail out! no kselftest/ktap_helpers.sh (install linux-source-6.12)"
	exit 1
fi

# threads_of PID: each thread of PID with the syscall it is in (number,
# first argument) and where the kernel has it waiting: what a stalled
# vfio-mig was doing.
threads_of() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "# $(basename "$t") $(cat "$t/comm" 2> /dev/null)" \
			"syscall $(cut -d' ' -f1,2 "$t/syscall" 2> /dev/null)" \
			"wchan $(cat "$t/wchan" 2> /dev/null)"
	done
}

# watch_stall PID SECS: once PID has run SECS seconds, show its threads.
watch_stall() {
	local end=$((SECONDS + $2))
	while kill -0 "$1" 2> /dev/null; do
		if ((SECONDS >= end)); then
			echo "# still running after $2 s:"
			threads_of "$1"
			return 0
		fi
		sleep 0.5
	done
}

# The guest's stalls: a heartbeat that wakes every 0.25 s logs each wake
# that came 5 s or more after the last ("END_USEC GAP_USEC", in stall_log);
# result reports those of the test it ends.  A socket test that timed out
# across such a stall was starved (a slow host), not deadlocked.  No fork
# per beat: read -t on a FIFO nobody writes, $EPOCHREALTIME.
stall_log=/tmp/mlx5c-stalls.$$
stall_from=${EPOCHREALTIME/[.,]/}
stall_watch() {
	local fifo=/tmp/mlx5c-beat.$$ parent=$$
	rm -f "$fifo" "$stall_log"
	mkfifo "$fifo" || return
	(
		exec 3<> "$fifo"
		rm -f "$fifo"
		last=${EPOCHREALTIME/[.,]/}
		while kill -0 "$parent" 2> /dev/null; do
			read -r -t 0.25 -u 3
			now=${EPOCHREALTIME/[.,]/}
			((now - last >= 5000000)) &&
				echo "$now $((now - last))" >> "$stall_log"
			last=$now
		done
		rm -f "$stall_log"
	) < /dev/null > /dev/null 2>&1 &
}

stall_report() {
	local end gap
	[ -r "$stall_log" ] || return 0
	while read -r end gap; do
		((end > stall_from)) || continue
		printf '# the guest stalled: %d.%d s between two 0.25 s heartbeats, %d s into this test\n' \
			$((gap / 1000000)) $((gap % 1000000 / 100000)) \
			$(((end - stall_from) / 1000000))
	done < "$stall_log"
	stall_from=${EPOCHREALTIME/[.,]/}
}

# result RC NAME: one KTAP result from an exit status, after the guest's
# stalls during the test.
result() {
	stall_report
	if [ "$1" -eq 0 ]; then
		ktap_test_pass "$2"
	else
		ktap_test_fail "$2"
	fi
}

# The functions under test, as the user gave them: the BDFs among the
# script's arguments, or MLX5C_BDFS (spaces or commas), bound to
# mlx5c-vfio-pci by the setup step (mlx5c_setup.sh bind).
funcs=()
for a in "$@"; do
	[[ $a =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]] && funcs+=("$a")
done
[ ${#funcs[@]} -gt 0 ] || read -r -a funcs <<< "${MLX5C_BDFS//,/ }"

# need_two_functions: two functions given and bound (else the test skips,
# saying why), vfio-mig and bar2ctl (a missing build is a failure).
need_two_functions() {
	local f drv
	if [ ${#funcs[@]} -lt 2 ]; then
		ktap_skip_all "needs 2 mlx5c functions, given ${#funcs[@]}: pass their BDFs as arguments or in MLX5C_BDFS, bound by mlx5c_setup.sh bind"
		exit "$KSFT_SKIP"
	fi
	for f in "${funcs[@]:0:2}"; do
		drv=$(basename "$(readlink "/sys/bus/pci/devices/$f/driver" 2> /dev/null)")
		[ "$drv" = mlx5c-vfio-pci ] && continue
		ktap_skip_all "$f is bound to ${drv:-no driver}, not mlx5c-vfio-pci: run mlx5c_setup.sh bind $f"
		exit "$KSFT_SKIP"
	done
	for f in "$vfio_mig" "$bin/bar2ctl"; do
		[ -x "$f" ] || ktap_exit_fail_msg "no $f: run make"
	done
	stall_watch
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
