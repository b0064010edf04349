#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo, run inside the test VM by `make demo`.  First QEMU, the VMM,
# migrates a running guest between two mlx5c functions (the qemu_migration
# selftest's plain and multifd cases, with QEMU's figures).  Then a live
# migration from one mlx5c function to another with vfio-mig: the source
# gets a pattern and a writer that keeps dirtying its memory while it runs;
# vfio-mig moves the state with PRE_COPY over 4 channels; the two memories
# are then compared.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bar2ctl=$top/build/kselftest/mlx5c/bar2ctl
vfio_mig=$top/build/vfio-mig/vfio-mig

setup=$top/tools/testing/selftests/mlx5c/mlx5c_setup.sh
mapfile -t funcs < <("$setup" ivshmem)
[ ${#funcs[@]} -ge 2 ] || { echo "demo: need two ivshmem-plain functions" >&2; exit 1; }
src=${funcs[0]}
dst=${funcs[1]}
echo "== binding $src (source) and $dst (destination) to mlx5c-vfio-pci"
"$setup" bind "$src" "$dst"

echo "== part 1: QEMU $(qemu-system-x86_64 --version | sed -n 's/.*version \([^ ]*\).*/\1/p') migrates a running guest from $src to $dst"
echo "   (the guest keeps writing the function's BAR2; plain, then multifd"
echo "   with the device state over 4 channels; figures are QEMU's own)"
"$top/tools/testing/selftests/mlx5c/qemu_migration.py" plain multifd "$src" "$dst"
echo
echo "== part 2: vfio-mig"
"$bar2ctl" fill "$src" 2026
"$bar2ctl" fill "$dst" 0
for bdf in "$src" "$dst"; do
	echo "$bdf: driver $(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver")")," \
		"IOMMU group $(basename "$(readlink "/sys/bus/pci/devices/$bdf/iommu_group")")"
done
echo
echo "== source device"
"$vfio_mig" info "$src"
echo
echo "== live migration: PRE_COPY, 4 channels, 4 MiB/s of writes on the source"
"$vfio_mig" migrate "$src" "$dst" --channels 4 --dirty 4M --json > /tmp/demo.json
grep -E '"(data_size|rounds|downtime_ms|destination_resume_ms|total_ms|dirty_bytes_written)"|"bytes": \{|"decision"' \
	/tmp/demo.json | sed 's/^ */  /'
echo
echo "== verifying"
"$bar2ctl" cmp "$src" "$dst"
echo "demo: destination memory verified equal to the source's"
