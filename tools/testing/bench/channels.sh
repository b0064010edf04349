#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Channels benchmark, run in the VM by `make bench` (tools/testing/bench/run.sh):
# stop-copy throughput of vfio-mig save/load with 1, 2, 4 and 8 channels
# between two network namespaces joined by veth, next to a plain
# single-stream copy of the same bytes (stream-baseline: saving fd -> one
# socket -> resuming fd).  Twice: with the sending side capped per flow
# (fq maxrate), where N channels are up to N times faster by construction,
# and uncapped, where the guest's CPU is the limit.
#
#   channels.sh OUT.json
#
# MB/s = stop-copy bytes / (first step out of RUNNING -> destination RUNNING
# acknowledged), 1 MB = 10^6 bytes.  Each figure is the median, with the
# minimum, of MLX5C_BENCH_REPS repetitions (default 5) after a warm-up run;
# each repetition runs every case once, in an order that alternates
# (forward, then backward).  BENCH_CAP (default 6mbit), BENCH_MTU and
# BENCH_CHANNELS (default "1 2 4 8") override the setup.  Exit 1 if any run
# fails or loads a byte wrong.
set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:-$top/build/bench/channels.json}
bin=$top/build/kselftest/mlx5c
vfio_mig=$top/build/vfio-mig/vfio-mig
cap=${BENCH_CAP:-6mbit}
mtu=${BENCH_MTU:-65520}
channels=(${BENCH_CHANNELS:-1 2 4 8})
reps=${MLX5C_BENCH_REPS:-5}
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
	ip -n $ns0 link set veth0 up && ip -n $ns1 link set veth1 up ||
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

# One repetition of every case on the current link, forward or backward.
rep() {
	local link=$1 r=$2 cases=(baseline:1) c n
	for n in "${channels[@]}"; do cases+=("vfio-mig:$n"); done
	if [ $((r % 2)) -eq 1 ]; then
		for ((c = ${#cases[@]} - 1; c >= 0; c--)); do
			one "$link" "$r" "${cases[c]}"
		done
	else
		for c in "${cases[@]}"; do one "$link" "$r" "$c"; done
	fi
}

one() {
	local link=$1 r=$2 kind=${3%%:*} n=${3##*:} mbs
	mbs=$(run "$kind" "$n")
	echo "channels: $link rep $r: $kind $n channel(s): $mbs MB/s" >&2
	printf '%s\t%s\t%s\t%s\t%s\n' "$link" "$r" "$kind" "$n" "$mbs" \
		>> "$tmp/runs.tsv"
}

set_link() {
	ip netns exec $ns0 tc qdisc del dev veth0 root 2>/dev/null
	if [ "$1" = capped ]; then
		ip netns exec $ns0 tc qdisc add dev veth0 root fq maxrate "$cap"
	else
		ip netns exec $ns0 tc qdisc add dev veth0 root fq
	fi
}

psk_file
: > "$tmp/runs.tsv"
for link in capped uncapped; do
	set_link $link || { echo "channels: tc setup failed" >&2; exit 1; }
	mbs=$(run vfio-mig 1)		# the warm-up, dropped
	echo "channels: $link warm-up: $mbs MB/s" >&2
	[ "$mbs" != null ] || { echo "channels: the warm-up failed" >&2; exit 1; }
	for ((r = 0; r < reps; r++)); do rep $link $r; done
done

python3 - "$out" "$cap" "$reps" "${MLX5C_BENCH_COMMIT:-unknown}" \
	"${MLX5C_VM_ACCEL:-unknown}" "$(uname -r)" \
	"$(stat -c %s "/sys/bus/pci/devices/$src/resource2")" "$tmp/runs.tsv" <<'EOF'
import json, statistics, sys
out, cap, reps, commit, accel, kernel, size, tsv = sys.argv[1:9]
reps = int(reps)
runs = {}
for line in open(tsv):
    link, r, kind, n, mbs = line.split()
    runs[(link, int(r), kind, int(n))] = None if mbs == "null" else float(mbs)
failed = sorted(k for k, v in runs.items() if v is None)


def stat(vals):
    return {"median": round(statistics.median(vals), 3),
            "min": round(min(vals), 3), "runs": [round(v, 3) for v in vals]}


res = {"context": {"kernel": kernel, "accelerator": accel, "commit": commit,
                   "repetitions": reps, "warmup": 1, "order": "alternating",
                   "function_bytes": int(size), "per_flow_cap": cap,
                   "tls": True, "precopy": False}}
if failed:
    json.dump(res, open(out, "w"), indent=2)
    sys.exit("channels: %d run(s) failed: %s" % (len(failed), failed))
for link in ("capped", "uncapped"):
    chans = sorted({k[3] for k in runs if k[0] == link and k[2] == "vfio-mig"})
    base = [runs[(link, r, "baseline", 1)] for r in range(reps)]
    one = [runs[(link, r, "vfio-mig", 1)] for r in range(reps)]
    rows = []
    for c in chans:
        v = [runs[(link, r, "vfio-mig", c)] for r in range(reps)]
        rows.append({"channels": c, "mbytes_per_s": stat(v),
                     "speedup_vs_1_channel":
                         stat([a / b for a, b in zip(v, one)])})
    res[link] = {"baseline_mbytes_per_s": stat(base),
                 "n1_over_baseline": stat([a / b for a, b in zip(one, base)]),
                 "rows": rows}
json.dump(res, open(out, "w"), indent=2)
for link in ("capped", "uncapped"):
    L = res[link]
    how = "at %s per flow" % cap if link == "capped" else "no cap"
    print("stop-copy throughput (--no-precopy, TLS), veth between two netns,"
          " %s, median (min) of %d" % (how, reps))
    print("%-9s %18s %18s" % ("channels", "MB/s", "x 1 channel"))
    for row in L["rows"]:
        m, s = row["mbytes_per_s"], row["speedup_vs_1_channel"]
        print("%-9d %9.2f (%6.2f) %9.2f (%6.2f)"
              % (row["channels"], m["median"], m["min"], s["median"], s["min"]))
    b, o = L["baseline_mbytes_per_s"], L["n1_over_baseline"]
    print("baseline %.2f (min %.2f) MB/s; 1 channel over baseline %.2f (min %.2f)"
          % (b["median"], b["min"], o["median"], o["min"]))
print("wrote " + out)
EOF
