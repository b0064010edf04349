#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the debug-kernel VM: the kselftests named (default: all), then a
# kmemleak scan whose every report is printed to the kernel console (and so
# fails the run).
# One KTAP document: the suite's nested under result 1, kmemleak result 2.
top=$(cd "$(dirname "$0")/../../.." && pwd)
status=0
echo "TAP version 13"
echo "1..2"
"$top/tools/testing/selftests/mlx5c/run_tests.sh" "$@" | sed -u 's/^/# /; s/^# $/#/'
if [ "${PIPESTATUS[0]}" -eq 0 ]; then
	echo "ok 1 kselftests"
else
	echo "not ok 1 kselftests"
	status=1
fi

kml=/sys/kernel/debug/kmemleak
if [ -w "$kml" ]; then
	# Objects freed late (RCU, work items) need a moment and two scans.
	sleep 5
	echo scan > "$kml"
	sleep 5
	echo scan > "$kml"
	leaks=$(grep -c '^unreferenced object' "$kml" || true)
	if [ "$leaks" -eq 0 ]; then
		echo "ok 2 kmemleak.no_leaks"
	else
		sed 's/^/# /' "$kml" | head -n 100
		echo "not ok 2 kmemleak.no_leaks # $leaks objects"
		echo "kmemleak: new suspected memory leaks ($leaks)" > /dev/kmsg
		status=1
	fi
else
	echo "# no $kml: not a debug kernel?"
	echo "not ok 2 kmemleak.no_leaks"
	status=1
fi
exit $status
