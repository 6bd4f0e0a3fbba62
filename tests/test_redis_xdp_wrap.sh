#!/bin/sh
# XDP mode (issue 15) and client sequence numbers that wrap past 2^32: a
# client whose first request straddles sequence number 0, written segment
# by segment (tests/xdp_raw_client.py, scapy) so that its ISN is chosen, to
# a real redis-server with the cache attached in XDP mode on the server's
# veth.  The request must be answered (the programs once dropped every
# segment crossing 0 of a connection XDP had not answered on: it never
# reached Redis and the connection hung), the GETs after the wrap byte-exact,
# a SET after it seen, FIN both ways.
set -u
cli="${top_builddir:-.}/tools/ebpfaccel"
pass_prog="${top_builddir:-.}/bench/xdp_pass"
PY=/usr/bin/python3
. "${top_srcdir:-$(dirname "$0")/..}/tests/cli_lib.sh"
redis_test_require
"$PY" -c 'import scapy.all' 2>/dev/null || { echo "SKIP: python3-scapy is missing"; exit 77; }
[ -x "$pass_prog" ] || { echo "FAIL: $pass_prog is not built"; exit 1; }

N=xw$$
NS=ebpfaccel-xwrap-$$
NSC=$NS-c
CG=$cg2/$NS
VS=xws$$
VC=xwc$$
DIR=$(mktemp -d)
cleanup() {
	"$cli" redis detach --name $N >/dev/null 2>&1
	[ -z "${redis_pid:-}" ] || { kill "$redis_pid"; wait "$redis_pid"; } 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NSC" 2>/dev/null
	[ ! -d "$CG" ] || rmdir "$CG"
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir "$CG"
ip netns add "$NS" && ip netns add "$NSC" || exit 1
ip -n "$NS" link set lo up
ip -n "$NSC" link set lo up
ip link add "$VS" netns "$NS" type veth peer name "$VC" netns "$NSC" || exit 1
ip -n "$NS" addr add 10.79.0.1/24 dev "$VS"
ip -n "$NSC" addr add 10.79.0.2/24 dev "$VC"
ip -n "$NS" link set "$VS" up
ip -n "$NSC" link set "$VC" up
smac=$(ip -n "$NS" -br link show "$VS" | awk '{ print $3 }')
cmac=$(ip -n "$NSC" -br link show "$VC" | awk '{ print $3 }')
# the raw client's address: reachable from the server, not the client netns' own
ip -n "$NS" neigh add 10.79.0.3 lladdr "$cmac" dev "$VS" nud permanent
# veth delivers what XDP sends back only to an end with an XDP program
nsenter --net="/run/netns/$NSC" "$pass_prog" "$VC" || exit 1

sh -c 'echo $$ > "$1/cgroup.procs"; exec ip netns exec "$2" redis-server --port 6379 --bind 10.79.0.1 --protected-mode no --save "" --appendonly no --dir "$3"' \
	sh "$CG" "$NS" "$DIR" > "$DIR/redis.log" 2>&1 &
redis_pid=$!
rcli() { ip netns exec "$NS" redis-cli -h 10.79.0.1 -p 6379 "$@"; }
i=0; until [ "$(rcli ping 2>/dev/null)" = PONG ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "FAIL: redis-server did not start: $(cat "$DIR/redis.log")"; exit 1; }
	sleep 0.05
done

expect_rc 0 "attach in XDP mode" "$cli" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --host 10.79.0.1 \
	--mode xdp --dev "$VS" --name $N
rcli set wrapkey hello > /dev/null
if ip netns exec "$NSC" "$PY" "${top_srcdir:-$(dirname "$0")/..}/tests/xdp_raw_client.py" \
	"$VC" "$smac" "$cmac" wrapkey hello > "$DIR/client.out" 2>&1; then
	pass "raw client across the wrap: $(grep -c '^ok' "$DIR/client.out") checks"
else
	fail "raw client across the wrap:"; cat "$DIR/client.out"
fi
json=$("$cli" redis stats --name $N --json)
counter() { echo "$json" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['counters']['$1'])"; }
xh=$(counter xdp_hits); xd=$(counter xdp_drops)
[ "$xd" = 0 ] && pass "no segment dropped by the programs" || fail "xdp_drops $xd"
[ "$xh" -ge 1 ] && pass "GETs answered in XDP after the wrap: $xh" || fail "no GET answered in XDP after the wrap (xdp_hits $xh)"
[ "$(rcli get wrapkey)" = after-wrap ] && pass "Redis holds the SET sent after the wrap" || fail "Redis: $(rcli get wrapkey)"
finish
