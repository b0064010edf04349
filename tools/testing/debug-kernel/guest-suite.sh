#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the debug-kernel VM: the whole suite, then a kmemleak scan whose
# every report is printed to the kernel console (and so fails the run).
top=$(cd "$(dirname "$0")/../../.." && pwd)
status=0
"$top/tools/testing/selftests/mlx5c/run_tests.sh" || status=1

kml=/sys/kernel/debug/kmemleak
echo "# selftest: kmemleak"
echo "TAP version 13"
echo "1..1"
if [ -w "$kml" ]; then
	# Objects freed late (RCU, work items) need a moment and two scans.
	sleep 5
	echo scan > "$kml"
	sleep 5
	echo scan > "$kml"
	leaks=$(grep -c '^unreferenced object' "$kml" || true)
	if [ "$leaks" -eq 0 ]; then
		echo "ok 1 kmemleak.no_leaks"
	else
		echo "not ok 1 kmemleak.no_leaks ($leaks objects)"
		sed 's/^/# /' "$kml" | head -n 100
		echo "kmemleak: new suspected memory leaks ($leaks)" > /dev/kmsg
		status=1
	fi
else
	echo "not ok 1 kmemleak.no_leaks (no $kml: not a debug kernel?)"
	status=1
fi
exit $status
