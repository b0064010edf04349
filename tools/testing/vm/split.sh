#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kselftests in two test VMs side by side.
#
#   split.sh FIRST OUTDIR [VM_RUN_OPTION...] -- GUEST_CMD [ARG...]
#
# The test VM runs one TCG thread (tools/testing/vm/run), so a 2-core host
# works on two VMs at once in about the time of one.  FIRST names the
# kselftests of the first VM, space-separated (the longest ones); the
# second runs every other test of build/kselftest/kselftest_install/kselftest-list.txt
# in the list's order.  Each VM ends with lifecycle.sh (the module
# unloaded).  In each VM, GUEST_CMD runs with that VM's test names
# appended and prints a KTAP document.
#
# Prints one KTAP document: VM N is result N ("vm_part_N"), its document
# nested under it, then when each of its test programs ended (to choose
# FIRST by) and the tail of vm/run's stderr.  Exits non-zero when a VM
# does.  OUTDIR keeps each VM's output, stderr, times and console log.
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
first=$1
out=$2
shift 2
vm_opts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	vm_opts+=("$1")
	shift
done
[ "${1:-}" = -- ] || { echo "split.sh: no -- GUEST_CMD" >&2; exit 2; }
shift
guest_cmd=("$@")

list=$top/build/kselftest/kselftest_install/kselftest-list.txt
[ -r "$list" ] || { echo "split.sh: no $list (make selftests)" >&2; exit 2; }
mapfile -t all < <(sed -n 's/^mlx5c://p' "$list")
read -r -a group_1 <<< "$first"
group_2=()
for t in "${group_1[@]}"; do
	[[ " ${all[*]} " == *" $t "* ]] ||
		{ echo "split.sh: $t is not in $list" >&2; exit 2; }
done
for t in "${all[@]}"; do
	[[ " ${group_1[*]} lifecycle.sh " == *" $t "* ]] || group_2+=("$t")
done
group_1+=(lifecycle.sh)
group_2+=(lifecycle.sh)
mkdir -p "$out"

# The VM's output as it is, and when each test program ended.
stamp() {
	local line t0
	t0=$(date +%s)
	: > "$out/part-$1.times"
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		*"ok "*" selftests: mlx5c: "*)
			echo "$(( $(date +%s) - t0 ))s ${line##*: }" >> "$out/part-$1.times" ;;
		esac
	done > "$out/part-$1.out"
}

run_part() {
	local i=$1
	shift
	VM_KEEP_LOG=$out/console-$i.log "$top/tools/testing/vm/run" "${vm_opts[@]}" \
		-- "${guest_cmd[@]}" "$@" 2> "$out/part-$i.err" < /dev/null | stamp "$i"
}

start=$(date +%s)
run_part 1 "${group_1[@]}" &
pid_1=$!
# The second VM a little later, so that the two boots do not coincide.
sleep 5
run_part 2 "${group_2[@]}" &
pid_2=$!
status=(0 0 0)
wait $pid_1 || status[1]=$?
wait $pid_2 || status[2]=$?

echo "TAP version 13"
echo "1..2"
for i in 1 2; do
	sed 's/^/# /; s/^# $/#/' "$out/part-$i.out"
	if [ "${status[i]}" -eq 0 ]; then
		echo "ok $i vm_part_$i"
	else
		echo "not ok $i vm_part_$i # exit=${status[i]}"
	fi
	sed "s/^/# vm_part_$i: ended at /" "$out/part-$i.times"
	tail -n 20 "$out/part-$i.err" | sed "s/^/# vm_part_$i: /"
done
echo "# two VMs: $(( $(date +%s) - start ))s"
[ "${status[1]}" -eq 0 ] && [ "${status[2]}" -eq 0 ]
