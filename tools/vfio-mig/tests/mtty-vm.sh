#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vfio-mig against a driver nobody here wrote: two instances of the upstream
# mtty sample (samples/vfio-mdev/mtty.c of linux-source-6.12: an mdev with
# STOP_COPY, P2P and PRE_COPY, whose saving fd returns 0 at the temporary
# end of PRE_COPY data).  UART registers are written on the source through
# the VFIO region, the device is migrated, and the registers are read back
# on the destination.  KTAP on stdout.
#
#   make -C tools/vfio-mig mtty
#   tools/testing/vm/run -- tools/vfio-mig/tests/mtty-vm.sh
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
O=${O:-$top/build/vfio-mig}
mig=$O/vfio-mig reg=$O/vfio-mig-regtool ko=$O/mtty/mtty.ko
n=0 status=0
tap() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; status=1; fi
}
echo "TAP version 13"
echo "1..3"
modprobe vfio_iommu_type1 && modprobe mdev && insmod "$ko"
tap $? "mtty.load"
types=/sys/class/mdev_bus/mtty/mdev_supported_types
t=$(ls "$types" 2>/dev/null | head -n 1)
a=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 b=83b8f4f2-509f-382f-3c1e-e6bfe0fa1002
echo $a > "$types/$t/create" && echo $b > "$types/$t/create"
echo "# mdev type $t: $a $b"
"$mig" info $a | sed 's/^/# /'

# migrate SRC DST SCRATCH LCR [OPTIONS]: registers of port 0 (BAR0,
# region 0) written on SRC must be read back on DST.
migrate() {
	local src=$1 dst=$2 scr=$3 lcr=$4 rc
	shift 4
	"$reg" $src 0 7 $scr > /dev/null && "$reg" $src 0 3 $lcr > /dev/null &&
		"$mig" migrate $src $dst --channels 2 "$@" -j > /tmp/mtty.json 2> /tmp/mtty.err
	rc=$?
	echo "# migrate $src -> $dst $*: exit $rc, decision $(python3 -c '
import json,sys; print(json.load(open(sys.argv[1]))["source"]["policy"]["decision"])' /tmp/mtty.json 2>/dev/null)"
	sed 's/^/#   /' /tmp/mtty.err
	[ $rc -eq 0 ] &&
		[ "$("$reg" $dst 0 7)" = "$scr" ] && [ "$("$reg" $dst 0 3)" = "$lcr" ] &&
		[ "$("$mig" state $dst running 2>/dev/null)" = running ]
}
migrate $a $b 0x5a 0x03
tap $? "mtty.migrate_precopy"
migrate $b $a 0xa5 0x1b --no-precopy
tap $? "mtty.migrate_stopcopy"
echo 1 > /sys/bus/mdev/devices/$a/remove
echo 1 > /sys/bus/mdev/devices/$b/remove
rmmod mtty
exit $status
