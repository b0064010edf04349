#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The body of `make check`: lint the module and the documentation, run the
# host-side tests, fuzz the parser, check the install, run the kselftests in
# the VM.  Prints ONE KTAP document: every step is one result, and a step
# that prints KTAP itself (the vfio-mig host tests, the VM suite with each
# test program nested in it, the VM install test) has its document nested
# under its result.  A step is "ok" only when its exit status is 0 and its
# document (tools/testing/ktap.py) has every plan matched, no "not ok", no
# skip but those listed in tools/testing/expected-skips.  The last line is
# "N passed, N failed, N skipped" over every result, nested ones included;
# the exit status is non-zero on any failure.
# Logs: build/check/STEP.{out,err} (or CHECK_LOG), the document in
# build/check/ktap.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
log=${CHECK_LOG:-$top/build/check}
ktap=$top/tools/testing/ktap.py
skips=$top/tools/testing/expected-skips
inst=$top/tools/testing/install
rm -rf "$log"
mkdir -p "$log"
start=$(date +%s)

# STEP FORMAT CMD...: the command's exit status must be 0, and with FORMAT
# "ktap" its stdout must be a clean KTAP document, nested under the result.
steps=(
	"ktap_judge leaf python3 $top/tools/testing/ktap_test.py"
	"build_w1_clean leaf no_warnings make -s -C $top module"
	"sparse_clean leaf sparse_clean"
	"checkpatch_clean leaf make -s -C $top checkpatch"
	"docs_rst_clean leaf make -s -C $top docs-check"
	"vfio_mig_host_tests ktap make -s -C $top/tools/vfio-mig check O=$top/build/vfio-mig"
	"parser_libfuzzer leaf make -s -C $top/tools/testing/fuzz run RUNS=100000"
	"netlink_spec ktap $top/tools/testing/netlink/check-spec.sh"
	"kselftests_on_host ktap $top/tools/testing/selftests-host.sh"
	"modinfo_fields leaf $inst/modinfo.sh $top/build/module/mlx5c-vfio-pci.ko"
	"man_page_matches_help leaf $inst/man-help.sh $top/build/vfio-mig/vfio-mig $top/build/man/vfio-mig.1"
	"install_staging ktap $inst/staging.sh"
	"dkms_add_build_install leaf $inst/dkms.sh"
	"vm_kselftests ktap vm_suite"
	"vm_mtty ktap vm_mtty"
	"vm_install ktap vm_install"
)

# CHECK_ONLY="STEP..." runs only those steps (for a quick look; make check
# runs them all).
if [ -n "${CHECK_ONLY:-}" ]; then
	only=()
	for s in "${steps[@]}"; do
		[[ " $CHECK_ONLY " == *" ${s%% *} "* ]] && only+=("$s")
	done
	steps=("${only[@]}")
fi

# A build that fails, or succeeds with a warning, fails the step.
no_warnings() {
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	[ $rc -eq 0 ] || return $rc
	! grep -qE 'warning:|error:' <<< "$out"
}

# sparse must be there and run: kbuild would carry on without it.
sparse_clean() {
	command -v sparse > /dev/null || { echo "sparse is not installed (make deps)"; return 1; }
	no_warnings make -s -C "$top" sparse
}

# The kselftests in two VMs side by side (vm/split.sh), the first with the
# longest programs.
vm_suite() {
	"$top/tools/testing/vm/split.sh" \
		"qemu_migration.py fuzz vfio_mig_e2e.sh netns.sh sample.sh reset resume_checks" \
		"$log/vm" --timeout 2400 -- \
		"$top/tools/testing/selftests/mlx5c/run_tests.sh"
}

# vfio-mig against two instances of the upstream mtty sample (an mdev).
vm_mtty() {
	VM_KEEP_LOG=$log/console-mtty.log "$top/tools/testing/vm/run" --ivshmem 0 -- \
		"$top/tools/vfio-mig/tests/mtty-vm.sh"
}

vm_install() {
	VM_KEEP_LOG=$log/console-install.log "$top/tools/testing/vm/run" --no-module -- \
		"$inst/vm-install.sh"
}

# Lines of FILE as diagnostics (never mistaken for a nested document).
diag() {
	tail -n "${2:-30}" "$1" | sed 's/^/#   /'
}

document() {
echo "TAP version 13"
echo "1..${#steps[@]}"
touch "$top"/drivers/vfio/pci/mlx5c/*.c
n=0
for s in "${steps[@]}"; do
	read -r -a cmd <<< "$s"
	name=${cmd[0]} format=${cmd[1]}
	cmd=("${cmd[@]:2}")
	n=$((n + 1))
	t0=$(date +%s)
	"${cmd[@]}" > "$log/$name.out" 2> "$log/$name.err" < /dev/null
	rc=$?
	judged=0
	if [ "$format" = ktap ]; then
		"$ktap" --wrap "$log/$name.out" > "$log/$name.ktap"
		sed 's/^/# /; s/^# $/#/' "$log/$name.ktap"
		"$ktap" --expected-skips "$skips" --name "$name" "$log/$name.ktap" \
			> "$log/$name.judge"
		judged=$?
		sed 's/^/# /' "$log/$name.judge"
	fi
	echo "# $name: exit status $rc, $(( $(date +%s) - t0 ))s"
	if [ $rc -eq 0 ] && [ $judged -eq 0 ]; then
		echo "ok $n $name"
	else
		[ "$format" = ktap ] || diag "$log/$name.out"
		diag "$log/$name.err"
		echo "not ok $n $name # exit=$rc"
	fi
done
echo "# check total: $(( $(date +%s) - start ))s"
}

document 2>&1 | tee "$log/ktap"
"$ktap" --expected-skips "$skips" --tally "$log/ktap"
