#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The body of `make check`: lint the module, run the host-side tests, run
# the kselftests in the VM, and tally every TAP result into one line
# "N passed, N failed, N skipped".  Exit status non-zero on any failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
log=$top/build/check
rm -rf "$log"
mkdir -p "$log"
start=$(date +%s)

n=0
step() {
	local name=$1 rc
	shift
	n=$((n + 1))
	"$@" > "$log/$name.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $n $name" | tee -a "$log/tap"
	else
		echo "not ok $n $name" | tee -a "$log/tap"
		sed 's/^/#   /' "$log/$name.log" | tail -n 30
	fi
}

no_warnings() {
	"$@" 2>&1 | tee /dev/stderr | grep -E 'warning:|error:' && return 1
	return 0
}

echo "# lint"
touch "$top"/drivers/vfio/pci/mlx5c/*.c
step build_w1_clean no_warnings make -s -C "$top" module
step sparse_clean no_warnings make -s -C "$top" sparse
step checkpatch_clean make -s -C "$top" checkpatch

echo "# host tests"
if [ -f "$top/tools/vfio-mig/Makefile" ]; then
	make -s -C "$top/tools/vfio-mig" check O="$top/build/vfio-mig" \
		> "$log/vfio-mig.log" 2>&1
	grep -E '^(not )?ok ' "$log/vfio-mig.log" | tee -a "$log/tap"
	grep -E '^not ok ' "$log/vfio-mig.log" -A0 >/dev/null &&
		grep -B2 -A10 '^not ok ' "$log/vfio-mig.log" | sed 's/^/#   /' | head -n 60
fi

echo "# host fuzzing: libFuzzer on the driver's stream parser"
step parser_libfuzzer make -s -C "$top/tools/testing/fuzz" run RUNS=100000

echo "# install: modinfo, man page, DKMS"
inst=$top/tools/testing/install
step modinfo_fields "$inst/modinfo.sh" "$top/build/module/mlx5c-vfio-pci.ko"
step man_page_matches_help "$inst/man-help.sh" "$top/build/vfio-mig/vfio-mig" \
	"$top/build/man/vfio-mig.1"
step dkms_add_build_install "$inst/dkms.sh"

echo "# VM kselftests"
vm_start=$(date +%s)
VM_KEEP_LOG=$log/console.log "$top/tools/testing/vm/run" --timeout 2400 -- \
	"$top/tools/testing/selftests/mlx5c/run_tests.sh" > "$log/vm.log" 2>&1
vm_rc=$?
cat "$log/vm.log"
grep -E '^(not )?ok ' "$log/vm.log" >> "$log/tap"
# The guest's kernel log had no report and the guest ended by itself
# (test failures are counted above, each on its own line).
n=$((n + 1))
if [ $vm_rc -ne 124 ] && [ $vm_rc -ne 125 ] &&
   ! grep -q 'the guest kernel log has a report' "$log/vm.log"; then
	echo "ok $n vm_kernel_log_clean" | tee -a "$log/tap"
else
	echo "not ok $n vm_kernel_log_clean (status $vm_rc)" | tee -a "$log/tap"
fi
echo "# VM run: $(( $(date +%s) - vm_start ))s"

echo "# VM install: make install, modprobe, bind, migrate, unbind, modprobe -r"
vm_start=$(date +%s)
VM_KEEP_LOG=$log/console-install.log "$top/tools/testing/vm/run" --no-module -- \
	"$inst/vm-install.sh" > "$log/vm-install.log" 2>&1
vm_rc=$?
cat "$log/vm-install.log"
grep -E '^(not )?ok ' "$log/vm-install.log" >> "$log/tap"
n=$((n + 1))
if [ $vm_rc -eq 0 ]; then
	echo "ok $n vm_install_clean_kernel_log" | tee -a "$log/tap"
else
	echo "not ok $n vm_install_clean_kernel_log (status $vm_rc)" | tee -a "$log/tap"
fi
echo "# VM install run: $(( $(date +%s) - vm_start ))s; check total: $(( $(date +%s) - start ))s"

"$top/tools/testing/tally.sh" "$log/tap"
