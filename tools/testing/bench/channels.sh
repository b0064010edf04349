#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Channels benchmark, run in the VM by `make bench` (tools/testing/bench/run.sh):
# stop-copy throughput of vfio-mig save/load with 1, 2, 4 and 8 channels
# between two network namespaces joined by veth, the sending side capped
# per flow (fq maxrate), next to a plain single-stream copy of the same
# bytes (stream-baseline: saving fd -> one socket -> resuming fd).
#
#   channels.sh OUT.json
#
# MB/s = stop-copy bytes / (first step out of RUNNING -> destination RUNNING
# acknowledged), 1 MB = 10^6 bytes.  BENCH_CAP (default 24mbit) and
# BENCH_CHANNELS (default "1 2 4 8") override the setup.
set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:-$top/build/bench/channels.json}
bin=$top/build/selftests
vfio_mig=$top/build/vfio-mig/vfio-mig
cap=${BENCH_CAP:-6mbit}
mtu=${BENCH_MTU:-65520}
channels=(${BENCH_CHANNELS:-1 2 4 8})
ns0=bench-ns0 ns1=bench-ns1 dst_ip=10.214.0.2 port=7800
tmp=$(mktemp -d)

mapfile -t funcs < <(for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] &&
		basename "$d"
done)
[ ${#funcs[@]} -ge 2 ] || { echo "channels: need two functions" >&2; exit 1; }
src=${funcs[0]} dst=${funcs[1]}

cleanup() {
	ip netns del $ns0 2>/dev/null
	ip netns del $ns1 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
cleanup
mkdir -p "$tmp"
modprobe veth 2>/dev/null
modprobe sch_fq 2>/dev/null
ip netns add $ns0 && ip netns add $ns1 &&
	ip link add veth0 netns $ns0 type veth peer name veth1 netns $ns1 &&
	ip -n $ns0 addr add 10.214.0.1/24 dev veth0 &&
	ip -n $ns1 addr add $dst_ip/24 dev veth1 &&
	ip -n $ns0 link set lo up && ip -n $ns1 link set lo up &&
	ip -n $ns0 link set veth0 mtu "$mtu" && ip -n $ns1 link set veth1 mtu "$mtu" &&
	ip -n $ns0 link set veth0 up && ip -n $ns1 link set veth1 up &&
	ip netns exec $ns0 tc qdisc add dev veth0 root fq maxrate "$cap" ||
	{ echo "channels: network namespace setup failed" >&2; exit 1; }

listening() {
	local i
	for i in $(seq 100); do
		ip netns exec $ns1 ss -Hltn "sport = :$port" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# The pre-shared key of vfio-mig's TLS (IDENTITY:HEXKEY).
psk_file() {
	printf 'bench:%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" \
		> "$tmp/mig.psk"
}

# One run: DST listens in ns1, SRC sends from ns0; prints MB/s or "null".
run() {
	local kind=$1 n=$2 lpid mbs=null
	port=$((port + 1))
	"$bin/bar2ctl" fill "$src" $((n + 100)) > /dev/null &&
		"$bin/bar2ctl" fill "$dst" 0 > /dev/null || { echo null; return; }
	if [ "$kind" = baseline ]; then
		ip netns exec $ns1 timeout -s KILL 300 "$bin/stream-baseline" recv \
			"$dst" $dst_ip:$port 2> "$tmp/load.err" &
	else
		# TLS on, as vfio-mig runs by default
		ip netns exec $ns1 timeout -s KILL 300 "$vfio_mig" load "$dst" \
			--listen $dst_ip:$port --psk-file "$tmp/mig.psk" \
			> /dev/null 2> "$tmp/load.err" &
	fi
	lpid=$!
	if listening; then
		if [ "$kind" = baseline ]; then
			ip netns exec $ns0 timeout -s KILL 300 "$bin/stream-baseline" send \
				"$src" $dst_ip:$port > "$tmp/save.json" 2> "$tmp/save.err"
		else
			ip netns exec $ns0 timeout -s KILL 300 "$vfio_mig" save "$src" \
				--to $dst_ip:$port --psk-file "$tmp/mig.psk" \
				--no-precopy --channels "$n" --json \
				> "$tmp/save.json" 2> "$tmp/save.err"
		fi
		[ $? -eq 0 ] && mbs=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
if "source" in r:
    r = r["source"]
    b, ms = r["bytes"]["stopcopy"], r["downtime_ms"]
else:
    b, ms = r["bytes"], r["ms"]
print("%.2f" % (b / ms / 1e3))' "$tmp/save.json")
	fi
	wait $lpid || mbs=null
	if [ "$mbs" = null ]; then
		echo "channels: $kind run with $n channel(s) failed:" >&2
		sed 's/^/  /' "$tmp/save.err" "$tmp/load.err" >&2
	fi
	"$bin/bar2ctl" cmp "$src" "$dst" > /dev/null || mbs=null
	echo "$mbs"
}

psk_file
# The baseline runs right before N=1 and again after it, so that drift in
# the machine's load shows; its value is the mean of the two.
base1=$(run baseline 1)
declare -A mbs
for n in "${channels[@]}"; do
	mbs[$n]=$(run vfio-mig "$n")
	echo "channels: $n channel(s): ${mbs[$n]} MB/s" >&2
done
base2=$(run baseline 1)
echo "channels: baseline: $base1 then $base2 MB/s" >&2

python3 - "$out" "$cap" "$base1" "$base2" "${channels[@]/#/c}" \
	$(for n in "${channels[@]}"; do echo "${mbs[$n]}"; done) <<'EOF'
import json, sys
out, cap, b1, b2 = sys.argv[1:5]
rest = sys.argv[5:]
chans = [int(c[1:]) for c in rest if c.startswith("c")]
vals = [None if v == "null" else float(v) for v in rest[len(chans):]]
bs = [float(b) for b in (b1, b2) if b != "null"]
base = round(sum(bs) / len(bs), 2) if bs else None
one = vals[chans.index(1)] if 1 in chans else None
rows = []
for c, v in zip(chans, vals):
    rows.append({"channels": c, "mbytes_per_s": v, "baseline_mbytes_per_s": base,
                 "speedup_vs_1_channel": round(v / one, 2) if v and one else None,
                 "per_flow_cap": cap})
json.dump(rows, open(out, "w"), indent=2)
print("stop-copy throughput (--no-precopy), veth between two netns, fq maxrate %s per flow" % cap)
print("%-9s %10s %12s %14s" % ("channels", "MB/s", "x 1 channel", "baseline MB/s"))
for r in rows:
    f = lambda x, p: "-" if x is None else ("%.*f" % (p, x))
    print("%-9d %10s %12s %14s" % (r["channels"], f(r["mbytes_per_s"], 2),
          f(r["speedup_vs_1_channel"], 2), f(base, 2)))
if one and base:
    print("N=1 vs baseline: %+.1f%% (baseline runs: %s, %s MB/s)" % ((one / base - 1) * 100, b1, b2))
print("wrote " + out)
EOF
