#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make mutants: each one-line mutation of mutants.list applied to a scratch
# copy of the tree, built, and run against the part of the suite that
# covers it; a mutant the suite does not fail has "survived", which means a
# missing test.  Not part of make check (each driver mutant boots the VM).
#   run.sh [NAME...]      default: every mutant of mutants.list
#   MUTANTS_LIST=FILE     another list (to check this script's verdicts)
# Report in build/mutants/report, last line "mutants: N caught, N survived";
# exit status non-zero if any survived or could not be tested.
#
# "Caught" means a test said so: a "not ok" line, a hang (timeout), a
# sanitizer report of the host tests, or a report in the guest kernel log
# (WARN, BUG, KASAN, ...).  Anything else that goes wrong (the mutation
# does not apply, the mutated tree does not build, the VM runner fails
# before a test has run, a test program exits non-zero without a failing
# test) is an error: it is counted apart and fails the run, never taken
# for a catch.  Every VM boot holds the machine's VM lock (MLX5C_VM_LOCK,
# default /tmp/mlx5c-vm.lock): one VM at a time on this machine.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
out=$top/build/mutants
KVER=${KVER:-$(ls /lib/modules | grep -E '^6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -n 1)}
KDIR=${KDIR:-/lib/modules/$KVER/build}
report=$out/report
mkdir -p "$out"
: > "$report"

say() {
	echo "$*" | tee -a "$report"
}

# The scratch tree: the tracked files as they are now, then one mutation;
# and no object of an earlier mutant (the copies keep their times).
scratch() {
	rm -rf "$out/src" "$out/build"
	mkdir -p "$out/src"
	git -C "$top" ls-files -z | (cd "$top" && tar --null -T - -cf -) |
		tar -xf - -C "$out/src"
}

# mutate FILE TEXT REPLACEMENT: exactly one occurrence, or fail.
mutate() {
	python3 - "$out/src/$1" "$2" "$3" <<'PY'
import sys
path, text, repl = sys.argv[1:]
s = open(path).read()
n = s.count(text)
if n != 1:
    sys.exit('%s: the text occurs %d times, not once' % (path, n))
open(path, 'w').write(s.replace(text, repl))
PY
}

# vfio-mig and its host tests, built from the mutated tree, and run.
build_host() {
	make -s -C "$out/src/tools/vfio-mig" O="$out/build/vfio-mig" \
		"$out/build/vfio-mig/vfio-mig" "$out/build/vfio-mig/vfio-mig-tests"
}
# A hang is a failure too: the timeout's status 124 counts as caught.
run_host() {
	timeout -k 10 "${MUTANT_HOST_TIMEOUT:-300}" \
		make -s -C "$out/src/tools/vfio-mig" check O="$out/build/vfio-mig"
}

build_vm() {
	make -s -C "$KDIR" M="$out/src" modules
}
# run_vm TEST...: one boot with the mutated module; the tests in order,
# stopping at the first that fails.  0: all passed.
run_vm() {
	local ko=$out/src/drivers/vfio/pci/mlx5c/mlx5c-vfio-pci.ko
	rm -f "$out/locked_at"
	flock "${MLX5C_VM_LOCK:-/tmp/mlx5c-vm.lock}" \
		bash -c 'date +%s > "$0"; exec "$@"' "$out/locked_at" \
		"$top/tools/testing/vm/run" --module "$ko" --timeout 1800 -- \
		env MLX5C_FUZZ_CASES="${MLX5C_FUZZ_CASES:-300}" \
		MLX5C_MODULE="$ko" bash -c '
		for t in "$@"; do
			"$0" "$t" || { echo "# first failure: $t"; exit 1; }
		done' "$top/tools/testing/selftests/mlx5c/run_tests.sh" "$@"
}

# verdict SUITE STATUS LOG: what failed, if a test (or the kernel, or a
# hang) failed; nothing when the non-zero status has another cause.
verdict() {
	local by
	# The runner's "not ok" for a test it could not find is no catch.
	grep -q '^# Warning: file .* is missing' "$3" && return
	by=$(grep -E '^[[:space:]#]*not ok ' "$3" | grep -v '# SKIP' | head -n 1 |
		sed -E 's/^[[:space:]#]*//')
	if [ "$1" = host ]; then
		[ "$2" -eq 124 ] && by=${by:-"timed out"}
		grep -q -E '^(==[0-9]+==ERROR|SUMMARY): [A-Za-z]+Sanitizer' "$3" &&
			by=${by:-"$(grep -m 1 -E 'Sanitizer' "$3")"}
	else
		grep -q '^vm/run: the guest kernel log has a report' "$3" &&
			by=${by:-"guest kernel report"}
		grep -q '^vm/run: guest timed out' "$3" && by=${by:-"timed out"}
	fi
	echo "$by"
}

caught=0 survived=0 errors=0 run_start=$(date +%s)
mapfile -t lines < <(grep -v -e '^#' -e '^[[:space:]]*$' "${MUTANTS_LIST:-$here/mutants.list}")
for line in "${lines[@]}"; do
	IFS=$'\x1f' read -r name suite file text repl < <(python3 -c '
import sys
f = sys.argv[1].split(" | ")
print("\x1f".join(f if len(f) == 5 else ["?"] * 5))' "$line")
	if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
		continue
	fi
	start=$(date +%s)
	log=$out/$name.log
	scratch
	if ! mutate "$file" "$text" "$repl" > "$log" 2>&1; then
		say "error $name: not applied ($(tail -n 1 "$log"))"
		errors=$((errors + 1))
		continue
	fi
	case $suite in
	host)
		build_host >> "$log" 2>&1 || { say "error $name: does not build"; errors=$((errors + 1)); continue; }
		run_host >> "$log" 2>&1
		rc=$?
		;;
	vm:*)
		IFS=, read -r -a tests <<< "${suite#vm:}"
		missing=
		for t in "${tests[@]}"; do
			[ -e "$top/build/kselftest/kselftest_install/mlx5c/$t" ] || missing+=" $t"
		done
		if [ -n "$missing" ]; then
			say "error $name: no such kselftest:$missing (make all first)"
			errors=$((errors + 1))
			continue
		fi
		build_vm >> "$log" 2>&1 || { say "error $name: does not build"; errors=$((errors + 1)); continue; }
		vm_start=$(date +%s)
		run_vm "${tests[@]}" >> "$log" 2>&1
		rc=$?
		;;
	*)
		say "error $name: unknown suite $suite"
		errors=$((errors + 1))
		continue
		;;
	esac
	secs=$(( $(date +%s) - start ))
	# The time spent waiting for another VM to end, not the mutant's.
	if [ "$suite" != host ] && [ -s "$out/locked_at" ]; then
		secs="$secs s, $(( $(cat "$out/locked_at") - vm_start ))"
		secs+=" s of them waiting for the VM lock"
	else
		secs="$secs s"
	fi
	if [ $rc -eq 0 ]; then
		say "survived $name (${secs}): $file: '$text' -> '$repl'"
		survived=$((survived + 1))
		continue
	fi
	by=$(verdict "$suite" "$rc" "$log")
	if [ -n "$by" ]; then
		say "caught $name (${secs}): $by"
		caught=$((caught + 1))
	else
		say "error $name (${secs}): exit status $rc and no failing test (see $log)"
		errors=$((errors + 1))
	fi
done
[ $errors -eq 0 ] || say "mutants: $errors could not be tested (above)"
say "mutants: $(( $(date +%s) - run_start )) s in all"
say "mutants: $caught caught, $survived survived"
[ $survived -eq 0 ] && [ $errors -eq 0 ]
