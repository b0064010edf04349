#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# samples/vfio-mig-sample: the raw-uAPI PRE_COPY migration a VMM would do.
. "$(dirname "$(readlink -f "$0")")/mlx5c_lib.sh"
sample=${MLX5C_SAMPLE:-$top/build/samples/vfio-mig-sample}

ktap_print_header
need_two_functions
ktap_set_plan 1
[ -x "$sample" ] || ktap_exit_fail_msg "no $sample: run make"

"$bin/bar2ctl" fill "${funcs[0]}" 31 &&
	"$bin/bar2ctl" fill "${funcs[1]}" 0 &&
	"$sample" "${funcs[0]}" "${funcs[1]}" > /tmp/sample.out 2>&1 &&
	"$bin/bar2ctl" cmp "${funcs[0]}" "${funcs[1]}"
rc=$?
show /tmp/sample.out
result $rc "vfio-mig-sample.precopy_migration"
ktap_finished
