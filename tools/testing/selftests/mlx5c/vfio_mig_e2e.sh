#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vfio-mig end to end in the VM: a pattern on the source, a migration, the
# two BAR2s compared byte for byte.
. "$(dirname "$(readlink -f "$0")")/mlx5c_lib.sh"

ktap_print_header
need_two_functions
ktap_set_plan 6

# vfio-mig migrate, its threads shown if it runs past 60 s (a stall).
migrate() {
	local pid rc
	"$vfio_mig" migrate "${funcs[0]}" "${funcs[1]}" "$@" \
		> /tmp/e2e.out 2> /tmp/e2e.err &
	pid=$!
	watch_stall $pid 60 > /tmp/e2e.threads
	wait $pid
	rc=$?
	[ -s /tmp/e2e.threads ] && cat /tmp/e2e.threads
	return $rc
}

e2e() {
	local name=$1 seed=$2 rc
	shift 2
	"$bin/bar2ctl" fill "${funcs[0]}" "$seed" &&
		"$bin/bar2ctl" fill "${funcs[1]}" 0 &&
		migrate "$@" &&
		"$bin/bar2ctl" cmp "${funcs[0]}" "${funcs[1]}"
	rc=$?
	[ $rc -eq 0 ] || show /tmp/e2e.out /tmp/e2e.err
	result $rc "vfio-mig.$name"
}
e2e migrate_1_channel 11 --channels 1
e2e migrate_4_channels 12 --channels 4
e2e migrate_4_channels_dirty 13 --channels 4 --dirty 4M
e2e migrate_no_precopy 14 --channels 2 --no-precopy

# --json: one object, parsed by a JSON parser, that says what happened.
e2e migrate_json_report 15 --channels 2 --json
python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
src, dst = r["source"], r["destination"]
assert r["result"] == "ok" and r["exit_code"] == 0, r
assert src["device"] == sys.argv[2] and dst["device"] == sys.argv[3]
assert src["error"] is None and dst["error"] is None
assert dst["final_state"] == "running"
assert src["bytes"]["total"] == dst["bytes_written"] > 0
assert len(src["channels"]) == 2
assert sum(c["bytes"] for c in src["channels"]) == src["bytes"]["total"]' \
	/tmp/e2e.out "${funcs[0]}" "${funcs[1]}"
rc=$?
[ $rc -eq 0 ] || show /tmp/e2e.out
result $rc "vfio-mig.json_report_parses"
ktap_finished
