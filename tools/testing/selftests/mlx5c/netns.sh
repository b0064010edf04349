#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vfio-mig save and load in two network namespaces joined by veth, and the
# fault cases against the driver: the destination killed mid-transfer (a
# per-flow rate cap keeps the transfer long enough) and a firmware load
# failure injected on the destination.  The source must come back RUNNING
# with its pattern, the destination must not run half-loaded.
. "$(dirname "$(readlink -f "$0")")/mlx5c_lib.sh"

ns0=mlx5c-ns0 ns1=mlx5c-ns1 dst_ip=10.213.0.2 port=7700
netns_setup() {
	# vfio-mig's TLS key, shared by both namespaces (IDENTITY:HEXKEY)
	printf 'mig:%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" \
		> /tmp/mig.psk
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
		--psk-file /tmp/mig.psk --json > /tmp/load.out 2>&1 &
	load_pid=$!
	wait_for "ip netns exec $ns1 ss -Hltn 'sport = :$port' | grep -q ."
}
# load_wait: the exit status of the load load_start started (1 if none);
# a load that outlives its source by 60 s (a source that failed before it
# connected: load waits for a source without a deadline) is killed.
load_wait() {
	local i
	[ -n "$load_pid" ] || return 1
	for ((i = 0; i < 600; i++)); do
		kill -0 "$load_pid" 2> /dev/null || break
		sleep 0.1
	done
	kill -KILL "$load_pid" 2> /dev/null
	wait "$load_pid"
}
save_to() {
	ip netns exec $ns0 timeout -s KILL 300 "$vfio_mig" save "$1" \
		--to $dst_ip:$port --psk-file /tmp/mig.psk --json "${@:2}" \
		> /tmp/save.out 2>&1
}
state_of() {
	"$vfio_mig" info "$1" | sed -n 's/^state: *//p'
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
	[ $rc -eq 0 ] || show /tmp/save.out /tmp/load.out
	result $rc "vfio-mig-netns.$name"
}

ktap_print_header
need_two_functions
ktap_set_plan 4
for t in ip tc ss python3; do
	command -v $t > /dev/null || ktap_exit_fail_msg "no $t in the VM"
done
src=${funcs[0]} dst=${funcs[1]}
trap netns_cleanup EXIT
netns_cleanup
netns_setup
setup_rc=$?

# Byte-exact, 4 channels, PRE_COPY, across the veth.
rc=$setup_rc
if [ $setup_rc -eq 0 ]; then
	load_pid=
	"$bin/bar2ctl" fill "$src" 41 && "$bin/bar2ctl" fill "$dst" 0 &&
		load_start "$dst" &&
		save_to "$src" --channels 4
	rc=$?
	load_wait || rc=1
	[ $rc -eq 0 ] && "$bin/bar2ctl" cmp "$src" "$dst"
	rc=$?
fi
[ $rc -eq 0 ] || [ $setup_rc -ne 0 ] || show /tmp/save.out /tmp/load.out
result $rc "vfio-mig-netns.save_load_4_channels"

# Destination killed mid-transfer, in PRE_COPY and in STOP_COPY: 64 MiB
# at 20 Mbit/s take about 27 s, the kill comes 1 s in.
ip netns exec $ns0 tc qdisc add dev veth0 root fq maxrate 20mbit
rc=$?
if [ $setup_rc -eq 0 ] && [ $rc -eq 0 ]; then
	netns_kill_dst destination_killed_precopy 42
	netns_kill_dst destination_killed_stopcopy 43 --no-precopy
else
	result 1 "vfio-mig-netns.destination_killed_precopy"
	result 1 "vfio-mig-netns.destination_killed_stopcopy"
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
		load_wait
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
result $rc "vfio-mig-netns.destination_firmware_failure"
netns_cleanup
ktap_finished
