#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The mlx5c generic netlink family from iproute2 and vfio-mig: genl sees
# it, monitor prints a migration's events, stats counts it, an unprivileged
# caller gets nothing, and the monitor outlives an unload of the module.
. "$(dirname "$(readlink -f "$0")")/mlx5c_lib.sh"

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

ktap_print_header
need_two_functions
ktap_set_plan 6
for t in genl python3 setpriv; do
	command -v $t > /dev/null || ktap_exit_fail_msg "no $t in the VM"
done
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
result $rc "netlink.genl_ctrl_get"

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
result $rc "netlink.monitor_migration"

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
result $? "netlink.monitor_json"

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
result $rc "netlink.stats"

# Unprivileged: GET and RESET_STATS are refused with EPERM, and the
# events group cannot be joined (telemetry is CAP_NET_ADMIN only).
nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
! nobody "$vfio_mig" stats "$f0" > /dev/null 2> /tmp/get.err &&
	grep -q 'Operation not permitted' /tmp/get.err &&
	! nobody "$vfio_mig" stats --reset > /dev/null 2> /tmp/reset.err &&
	grep -q 'Operation not permitted' /tmp/reset.err &&
	! nobody timeout 10 "$vfio_mig" monitor > /dev/null 2> /tmp/mon.err &&
	grep -q 'cannot join' /tmp/mon.err &&
	"$vfio_mig" stats "$f0" > /dev/null &&
	"$vfio_mig" stats --reset "$f0"
rc=$?
sed 's/^/# /' /tmp/get.err /tmp/reset.err /tmp/mon.err
result $rc "netlink.unprivileged_refused"

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
# The setup as the user left it, for the tests that follow.
"$here/mlx5c_setup.sh" bind "${funcs[@]}" > /dev/null || rc=1
sed 's/^/# /' /tmp/mon.out
result $rc "netlink.unload_while_monitoring"
ktap_finished
