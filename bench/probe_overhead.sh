#!/bin/sh
# Cost of the traffic probe on an unlimited veth at full speed: one iperf3
# TCP stream between two private netns, alternating runs without and with
# the probe attached to the receiver's side, in one invocation, printed as
# ratios.  The kernel's BPF run-time statistics give the probe's own cost
# per packet.  Sender pinned to CPU 0, receiver to CPU 1 (taskset); the
# machine's cores are shared with other work, so figures are noisy.
#
# Environment: DURATION (s per run, default 3), ROUNDS (default 8).
set -eu

builddir=${top_builddir:-.}
helper="$builddir/bench/probe_overhead"
duration=${DURATION:-3}
rounds=${ROUNDS:-8}
tag=$$
ns_c=eabench-$tag-c
ns_s=eabench-$tag-s
if_c=eab${tag}c
if_s=eab${tag}s
tmp=$(mktemp -d)
server_pid=
helper_pid=

for tool in iperf3 bpftool tc python3 taskset; do
	command -v "$tool" >/dev/null || { echo "probe_overhead: $tool is missing" >&2; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "probe_overhead: needs root (netns, BPF)" >&2; exit 77; }

cleanup() {
	# Every step runs, whatever failed before (set -e must not stop it).
	set +e
	[ -n "$helper_pid" ] && kill "$helper_pid" 2>/dev/null && wait "$helper_pid" 2>/dev/null
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	ip netns del "$ns_c" 2>/dev/null
	ip netns del "$ns_s" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "${top_srcdir:-$(dirname "$0")/..}/tests/veth_pair.sh"
veth_pair "$ns_c" "$ns_s" "$if_c" "$if_s" 198.18.250

ip netns exec "$ns_s" taskset -c 1 iperf3 -s >/dev/null 2>&1 &
server_pid=$!
sleep 0.5

# Received bits/s of one run.
run() {
	ip netns exec "$ns_c" taskset -c 0 iperf3 -c 198.18.250.2 -t "$duration" -J > "$tmp/run.json"
	python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$tmp/run.json"
}

# "runs nanoseconds" of the probe's program on hook $1 (ingress|egress).
prog_stats() {
	id=$(ip netns exec "$ns_s" tc filter show dev "$if_s" "$1" | sed -n 's/.* id \([0-9]*\) .*/\1/p' | head -n1)
	bpftool -j prog show id "$id" |
		python3 -c 'import json,sys; p=json.load(sys.stdin); print(p.get("run_cnt",0), p.get("run_time_ns",0))'
}

attach() {
	ip netns exec "$ns_s" "$helper" "$if_s" > "$tmp/helper.out" &
	helper_pid=$!
	for _ in $(seq 100); do
		grep -q attached "$tmp/helper.out" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "probe_overhead: the probe did not attach" >&2
	exit 1
}

detach() {
	kill "$helper_pid"
	wait "$helper_pid"
	helper_pid=
}

sum_base=0 sum_probe=0 runs=0 ns=0
printf '%-6s %14s %14s %8s %12s %10s\n' round "base Mbit/s" "probe Mbit/s" ratio "ns/packet" "probe CPU"
for r in $(seq "$rounds"); do
	# Alternate the order so warm-up and drift do not favour one side.
	[ $(( r % 2 )) = 1 ] && base=$(run)
	attach
	probe=$(run)
	set -- $(prog_stats ingress) $(prog_stats egress)
	detach
	[ $(( r % 2 )) = 0 ] && base=$(run)
	round_runs=$(( $1 + $3 ))
	round_ns=$(( $2 + $4 ))
	runs=$(( runs + round_runs ))
	ns=$(( ns + round_ns ))
	sum_base=$(( sum_base + base ))
	sum_probe=$(( sum_probe + probe ))
	python3 -c 'import sys; d,b,p,n,c=map(int,sys.argv[2:]); print("%-6s %14.0f %14.0f %8.3f %12.1f %9.2f%%" % (sys.argv[1], b/1e6, p/1e6, p/b, n/max(c,1), 100*n/(d*1e9)))' \
		"$r" "$duration" "$base" "$probe" "$round_ns" "$round_runs"
	python3 -c 'import sys; print(int(sys.argv[2]) / int(sys.argv[1]))' "$base" "$probe" >> "$tmp/ratios"
done
# The median of the rounds' ratios resists a round spoilt by other load.
python3 -c 'import statistics, sys; d,r,b,p,n,c=map(int,sys.argv[2:]); print("%-6s %14.0f %14.0f %8.3f %12.1f %9.2f%%\nmedian ratio %.3f" % ("mean", b/r/1e6, p/r/1e6, p/b, n/max(c,1), 100*n/(r*d*1e9), statistics.median(float(x) for x in open(sys.argv[1]))))' \
	"$tmp/ratios" "$duration" "$rounds" "$sum_base" "$sum_probe" "$ns" "$runs"
# The probe alone, without the stack around it: BPF_PROG_TEST_RUN of the
# ingress program on a 1448-byte data segment and on a pure ACK of one flow.
python3 - "$tmp" <<'PYEOF'
import os, struct, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
def packet(payload_len, name):
    tcp = struct.pack("!HHIIBBHHH", 40000, 5201, 1, 1, 5 << 4, 0x10, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + payload_len, 0, 0x4000, 64, 6, 0,
                     bytes([198, 18, 250, 1]), bytes([198, 18, 250, 2]))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002020000000001") + b"\x08\x00"
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(eth + ip + tcp + os.urandom(payload_len))
packet(1448, "data.bin")
packet(0, "ack.bin")
PYEOF
attach
id=$(ip netns exec "$ns_s" tc filter show dev "$if_s" ingress | sed -n 's/.* id \([0-9]*\) .*/\1/p' | head -n1)
for kind in data ack; do
	printf '%-4s segment: ' "$kind"
	bpftool prog run id "$id" data_in "$tmp/$kind.bin" repeat 2000000 | sed -n 's/.*duration (average): /BPF_PROG_TEST_RUN average /p'
done
detach
echo "(test-run figures include the harness's own cost per run: an empty program measured ~95 ns on the development machine)"
echo "ratio = throughput with the probe / without (1.000 = no cost); ns/packet = the probe's"
echo "programs' average run time per skb (ingress + egress hooks; GSO packets count once);"
echo "probe CPU = the programs' run time as a share of one core over the run."
echo "2 shared cores: sender on CPU 0, receiver on CPU 1; expect a few % noise between rounds."
