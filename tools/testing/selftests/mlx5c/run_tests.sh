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
[ ${#tests[@]} -gt 0 ] || tests=(basic migration precopy faults ioctl races netlink fuzz)

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

# The mlx5c generic netlink family from iproute2 and vfio-mig: genl sees
# it, monitor prints a migration's events, stats counts it, an unprivileged
# caller cannot reset, and the monitor outlives an unload of the module.
wait_for() {
	local i
	for i in $(seq 100); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}
monitor_start() {
	rm -f /tmp/mon.err
	"$vfio_mig" monitor "$@" > /tmp/mon.out 2> /tmp/mon.err &
	mon_pid=$!
	wait_for "grep -q monitoring /tmp/mon.err"
}
monitor_stop() {
	kill "$mon_pid" 2>/dev/null
	wait "$mon_pid"
}
json_lines_ok() {
	python3 -c 'import json, sys
for l in open(sys.argv[1]):
    json.loads(l)' "$1"
}
if [ -x "$vfio_mig" ] && [ ${#funcs[@]} -ge 2 ] && [ $# -eq 0 ]; then
	echo "# selftest: netlink-tools"
	echo "TAP version 13"
	echo "1..6"
	n=0
	f0=${funcs[0]} f1=${funcs[1]}

	# (genl prints a command's capabilities only for families of version
	# 2 and up: the admin-only RESET_STATS is checked by the EPERM tests.)
	genl ctrl get name mlx5c > /tmp/genl.out 2>&1
	grep -q 'Name: mlx5c' /tmp/genl.out &&
		grep -q 'Version: 0x1' /tmp/genl.out &&
		grep -Eq 'ID-0x1( |$)' /tmp/genl.out &&
		grep -Eq 'ID-0x2( |$)' /tmp/genl.out &&
		grep -q 'name: events' /tmp/genl.out
	rc=$?
	sed 's/^/# /' /tmp/genl.out
	tap $rc "netlink.genl_ctrl_get"

	# A migration while vfio-mig monitor listens.
	"$bin/bar2ctl" fill "$f0" 21 && "$bin/bar2ctl" fill "$f1" 0 &&
		monitor_start &&
		"$vfio_mig" migrate "$f0" "$f1" --channels 2 > /tmp/nl-mig.out 2>&1 &&
		"$bin/bar2ctl" cmp "$f0" "$f1" &&
		wait_for "grep -q '$f1 .* state running_p2p -> running (arc)' /tmp/mon.out"
	rc=$?
	monitor_stop
	echo "# vfio-mig monitor during vfio-mig migrate $f0 $f1:"
	sed 's/^/# /' /tmp/mon.out
	[ $rc -eq 0 ] && grep -q "$f0 .* image saved initial seq 0" /tmp/mon.out &&
		grep -q "$f0 .* image saved final" /tmp/mon.out &&
		grep -q "$f1 .* image loaded final" /tmp/mon.out &&
		grep -q "$f1 .* state stop -> resuming (arc)" /tmp/mon.out &&
		grep -q "$f0 .* state running -> pre_copy (arc)" /tmp/mon.out
	rc=$?
	[ $rc -eq 0 ] || sed 's/^/# /' /tmp/nl-mig.out
	tap $rc "netlink.monitor_migration"

	# --json: one object per line; opening a function resets it.
	monitor_start --json --count 2 &&
		"$vfio_mig" state "$f0" stop > /dev/null &&
		wait_for "! kill -0 $mon_pid 2>/dev/null"
	rc=$?
	monitor_stop
	sed 's/^/# /' /tmp/mon.out
	[ $rc -eq 0 ] && [ "$(wc -l < /tmp/mon.out)" -eq 2 ] &&
		json_lines_ok /tmp/mon.out &&
		grep -q '"event":"state"' /tmp/mon.out
	tap $? "netlink.monitor_json"

	# stats: the dump lists both functions; the source saved bytes.
	"$vfio_mig" stats --json > /tmp/stats.json &&
		"$vfio_mig" stats "$f0" > /tmp/stats.txt &&
		python3 -c 'import json, sys
d = {x["bdf"]: x for x in json.load(open(sys.argv[1]))}
assert sys.argv[2] in d and sys.argv[3] in d, d.keys()
assert d[sys.argv[2]]["stats"]["saved"]["bytes"] > 0
assert d[sys.argv[3]]["stats"]["loaded"]["bytes"] > 0
assert d[sys.argv[3]]["stats"]["loaded"]["final"] >= 1' /tmp/stats.json "$f0" "$f1" &&
		grep -q "^$f0: vfio" /tmp/stats.txt
	rc=$?
	sed 's/^/# /' /tmp/stats.txt
	tap $rc "netlink.stats"

	# Unprivileged: GET works, RESET_STATS is refused with EPERM.
	nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
	nobody "$vfio_mig" stats "$f0" > /dev/null &&
		! nobody "$vfio_mig" stats --reset > /dev/null 2> /tmp/reset.err &&
		grep -q 'Operation not permitted' /tmp/reset.err &&
		"$vfio_mig" stats --reset "$f0"
	rc=$?
	sed 's/^/# /' /tmp/reset.err
	tap $rc "netlink.unprivileged_reset_refused"

	# Unbind and unload while a monitor listens, then load again.
	rc=0
	monitor_start || rc=1
	for f in "$f0" "$f1"; do
		echo "$f" > /sys/bus/pci/drivers/mlx5c-vfio-pci/unbind || rc=1
		echo > "/sys/bus/pci/devices/$f/driver_override" || rc=1
	done
	rmmod mlx5c_vfio_pci || rc=1
	wait_for "grep -q 'family mlx5c removed' /tmp/mon.out" || rc=1
	kill -0 "$mon_pid" || rc=1
	insmod "$module" || rc=1
	wait_for "grep -q 'family mlx5c added' /tmp/mon.out" || rc=1
	monitor_stop || rc=1
	sed 's/^/# /' /tmp/mon.out
	tap $rc "netlink.unload_while_monitoring"
fi

# samples/vfio-mig-sample: the raw-uAPI PRE_COPY migration a VMM would do.
sample=$top/build/samples/vfio-mig-sample
if [ -x "$sample" ] && [ ${#funcs[@]} -ge 2 ] && [ $# -eq 0 ]; then
	echo "# selftest: vfio-mig-sample"
	echo "TAP version 13"
	echo "1..1"
	n=0
	"$bin/bar2ctl" fill "${funcs[0]}" 31 &&
		"$bin/bar2ctl" fill "${funcs[1]}" 0 &&
		"$sample" "${funcs[0]}" "${funcs[1]}" > /tmp/sample.out 2>&1 &&
		"$bin/bar2ctl" cmp "${funcs[0]}" "${funcs[1]}"
	rc=$?
	sed 's/^/# /' /tmp/sample.out
	tap $rc "vfio-mig-sample.precopy_migration"
fi

# vfio-mig save and load in two network namespaces joined by veth, and the
# fault cases against the driver: the destination killed mid-transfer (a
# per-flow rate cap keeps the transfer long enough) and a firmware load
# failure injected on the destination.  The source must come back RUNNING
# with its pattern, the destination must not run half-loaded.
ns0=mlx5c-ns0 ns1=mlx5c-ns1 dst_ip=10.213.0.2 port=7700
netns_setup() {
	modprobe veth 2>/dev/null
	modprobe sch_fq 2>/dev/null
	ip netns add $ns0 && ip netns add $ns1 &&
		ip link add veth0 netns $ns0 type veth peer name veth1 netns $ns1 &&
		ip -n $ns0 addr add 10.213.0.1/24 dev veth0 &&
		ip -n $ns1 addr add $dst_ip/24 dev veth1 &&
		ip -n $ns0 link set lo up && ip -n $ns1 link set lo up &&
		ip -n $ns0 link set veth0 up && ip -n $ns1 link set veth1 up
}
netns_cleanup() {
	ip netns del $ns0 2>/dev/null
	ip netns del $ns1 2>/dev/null
}
# Start "vfio-mig load DEV" in ns1 on a new port; load_pid is vfio-mig's
# pid (ip netns exec execs it).  Returns once the port listens.
load_start() {
	port=$((port + 1))
	ip netns exec $ns1 "$vfio_mig" load "$1" --listen $dst_ip:$port \
		> /tmp/load.out 2>&1 &
	load_pid=$!
	wait_for "ip netns exec $ns1 ss -Hltn 'sport = :$port' | grep -q ."
}
save_to() {
	ip netns exec $ns0 timeout -s KILL 120 "$vfio_mig" save "$1" \
		--to $dst_ip:$port "${@:2}" > /tmp/save.out 2>&1
}
state_of() {
	"$vfio_mig" info "$1" | sed -n 's/^state: *//p'
}
show() {
	local f
	for f in "$@"; do
		echo "# $f:"
		sed 's/^/#   /' "$f"
	done
}
# The destination is killed with SIGKILL once a connection is established.
netns_kill_dst() {
	local name=$1 seed=$2 save_pid save_rc load_rc
	shift 2
	"$bin/bar2ctl" fill "$src" "$seed" && "$bin/bar2ctl" fill "$dst" 0 &&
		load_start "$dst"
	rc=$?
	if [ $rc -eq 0 ]; then
		save_to "$src" --channels 1 "$@" &
		save_pid=$!
		wait_for "ip netns exec $ns1 ss -Htn state established 'sport = :$port' | grep -q ." &&
			sleep 1
		rc=$?
		kill -KILL $load_pid
		wait $load_pid 2>/dev/null
		load_rc=$?
		wait $save_pid
		save_rc=$?
		echo "# save exit $save_rc, load exit $load_rc (killed)"
		[ $rc -eq 0 ] && [ $load_rc -eq 137 ] && [ $save_rc -eq 1 ] &&
			[ "$(state_of "$src")" = running ] &&
			"$bin/bar2ctl" check "$src" "$seed" &&
			[ "$(state_of "$dst")" = running ]
		rc=$?
	fi
	[ $rc -eq 0 ] || show /tmp/save.out
	tap $rc "vfio-mig-netns.$name"
}
if [ -x "$vfio_mig" ] && [ ${#funcs[@]} -ge 2 ] && [ $# -eq 0 ]; then
	echo "# selftest: vfio-mig-netns"
	echo "TAP version 13"
	echo "1..4"
	n=0
	src=${funcs[0]} dst=${funcs[1]}
	netns_cleanup
	netns_setup
	setup_rc=$?

	# Byte-exact, 4 channels, PRE_COPY, across the veth.
	rc=$setup_rc
	if [ $rc -eq 0 ]; then
		"$bin/bar2ctl" fill "$src" 41 && "$bin/bar2ctl" fill "$dst" 0 &&
			load_start "$dst" &&
			save_to "$src" --channels 4
		rc=$?
		wait $load_pid || rc=1
		[ $rc -eq 0 ] && "$bin/bar2ctl" cmp "$src" "$dst"
		rc=$?
		[ $rc -eq 0 ] || show /tmp/save.out /tmp/load.out
	fi
	tap $rc "vfio-mig-netns.save_load_4_channels"

	# Destination killed mid-transfer, in PRE_COPY and in STOP_COPY: 64 MiB
	# at 20 Mbit/s take about 27 s, the kill comes 1 s in.
	ip netns exec $ns0 tc qdisc add dev veth0 root fq maxrate 20mbit
	rc=$?
	if [ $setup_rc -eq 0 ] && [ $rc -eq 0 ]; then
		netns_kill_dst destination_killed_precopy 42
		netns_kill_dst destination_killed_stopcopy 43 --no-precopy
	else
		tap 1 "vfio-mig-netns.destination_killed_precopy"
		tap 1 "vfio-mig-netns.destination_killed_stopcopy"
	fi
	ip netns exec $ns0 tc qdisc del dev veth0 root 2>/dev/null

	# A firmware load failure on the destination: both ends fail, the
	# source runs with its memory, the destination was reset and holds
	# nothing of the source (its own pattern, 0, is intact).
	rc=$setup_rc
	knob=/sys/kernel/debug/mlx5c/$dst/load
	if [ $rc -eq 0 ]; then
		"$bin/bar2ctl" fill "$src" 44 && "$bin/bar2ctl" fill "$dst" 0 &&
			failed=$(cat $knob/failed) &&
			echo 1 > $knob/fail_count && load_start "$dst"
		rc=$?
		if [ $rc -eq 0 ]; then
			save_to "$src" --channels 2
			save_rc=$?
			wait $load_pid
			load_rc=$?
			echo "# save exit $save_rc, load exit $load_rc"
			[ $save_rc -ne 0 ] && [ $load_rc -ne 0 ] &&
				[ "$(cat $knob/failed)" -eq $((failed + 1)) ] &&
				grep -q 'Input/output error' /tmp/save.out &&
				[ "$(state_of "$src")" = running ] &&
				"$bin/bar2ctl" check "$src" 44 &&
				dst_state=$(state_of "$dst") &&
				echo "# destination state after the failure: $dst_state" &&
				[ "$dst_state" = running -o "$dst_state" = error ] &&
				"$bin/bar2ctl" check "$dst" 0
			rc=$?
		fi
		echo 0 > $knob/fail_count
		show /tmp/save.out /tmp/load.out
	fi
	tap $rc "vfio-mig-netns.destination_firmware_failure"
	netns_cleanup
fi

# The module's life cycle: unbind every function, unload, load again.
echo "# selftest: lifecycle"
echo "TAP version 13"
echo "1..3"
n=0
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
