#!/bin/sh
# ebpfaccel redis near ...: a real redis-server in a netns, the near cache
# attached by the tool for a cgroup of clients and held by its holder
# process; hits proven by Redis' own command statistics; stats, flush,
# error paths; detach leaves nothing attached and the clients working.
set -u
cli="${top_builddir:-.}/tools/ebpfaccel"
PY=/usr/bin/python3
. "${top_srcdir:-$(dirname "$0")/..}/tests/cli_lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (netns, cgroups, BPF)"; exit 77; }
for t in redis-server redis-cli bpftool ip; do
	command -v $t >/dev/null || { echo "SKIP: $t is missing"; exit 77; }
done
[ -x "$PY" ] || { echo "SKIP: $PY is needed for the client and to validate JSON"; exit 77; }
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg2" ] || { echo "SKIP: no cgroup v2 mount"; exit 77; }

N=n$$
CG="$cg2/ebpfaccel-neartest-$$"
NS="ebpfaccel-neartest-$$"
DIR=$(mktemp -d)
cleanup() {
	"$cli" redis near detach --name $N >/dev/null 2>&1
	[ -z "${redis_pid:-}" ] || { kill "$redis_pid"; wait "$redis_pid"; } 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	[ ! -d "$CG" ] || rmdir "$CG"
	rm -rf "$DIR"
}
trap cleanup EXIT
mkdir "$CG"
ip netns add "$NS" && ip -n "$NS" link set lo up
ip netns exec "$NS" redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" \
	> "$DIR/redis.log" 2>&1 &
redis_pid=$!
rcli() { ip netns exec "$NS" redis-cli -p 6379 "$@"; }
i=0; until [ "$(rcli ping 2>/dev/null)" = PONG ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "FAIL: redis-server did not start: $(cat "$DIR/redis.log")"; exit 1; }
	sleep 0.05
done
gets() { rcli info commandstats | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p'; }
counter() { "$cli" redis near stats --name $N --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)['counters']['$1'])"; }
sock_ops() { bpftool cgroup show "$CG" | grep -c sock_ops; }
# a client process of the cgroup: 20 GETs on one connection (python3-redis)
client() {
	sh -c 'echo $$ > "$1/cgroup.procs"; exec ip netns exec "$2" "$3" -c "
import time, redis
r = redis.Redis(port=6379)
for i in range(20):
    assert r.get(\"k\") == b\"hello\", i
    time.sleep(0.02)
"' sh "$CG" "$NS" "$PY"
}

expect_rc 4 "stats with nothing attached" "$cli" redis near stats --name $N
expect_rc 4 "detach with nothing attached" "$cli" redis near detach --name $N
expect_rc 2 "attach without --server" "$cli" redis near attach --cgroup "$CG" --name $N
expect_rc 2 "attach without --cgroup" "$cli" redis near attach --server 127.0.0.1:6379 --name $N
expect_rc 2 "bad --max-staleness-ms" "$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6379 --max-staleness-ms 0 --name $N
expect_msg "IPV4:PORT" "bad --server says the form" "$cli" redis near attach --cgroup "$CG" --server localhost:6379 --netns "$NS" --name $N
expect_rc 1 "attach without redis at that address" "$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6380 --netns "$NS" --name $N

expect_rc 0 "attach" "$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6379 --prefix k --max-staleness-ms 5000 --netns "$NS" --name $N
[ "$(sock_ops)" = 1 ] && pass "sock_ops attached to the clients' cgroup" || fail "sock_ops: $(sock_ops)"
rcli set k hello >/dev/null
g0=$(gets)
client || fail "20 GETs in the clients' cgroup (python3-redis): wrong values"
g1=$(gets)
hits=$(counter hits)
[ "$hits" -ge 1 ] && [ $((g1 - g0 + hits)) = 20 ] && pass "$hits of 20 GETs answered on the client's host (Redis saw $((g1 - g0)))" \
	|| fail "hits $hits, Redis GETs $g0 -> $g1"
if "$cli" redis near stats --name $N --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
assert set(s) == {"name", "kind", "pid", "cgroup", "servers", "prefixes", "serving", "hit_rate", "counters"}, s.keys()
assert s["kind"] == "near" and s["cgroup"] == sys.argv[1] and s["servers"] == ["127.0.0.1:6379"], s
assert s["prefixes"] == ["k"] and s["serving"] is True and 0 < s["hit_rate"] <= 1, s
assert len(s["counters"]) == 14, s
' "$CG"; then pass "stats --json schema"; else fail "stats --json"; fi
"$cli" redis near stats --name $N | grep -qE "^near cache $N on $CG .*serving, hit rate" && pass "stats text" || fail "stats text"
expect_rc 0 "flush" "$cli" redis near flush --name $N

holder=$("$cli" redis near stats --name $N --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
expect_rc 0 "detach" "$cli" redis near detach --name $N
i=0; while kill -0 "$holder" 2>/dev/null && [ $i -lt 40 ]; do i=$((i + 1)); sleep 0.05; done
kill -0 "$holder" 2>/dev/null && fail "holder $holder still runs" || pass "holder gone"
[ "$(sock_ops)" = 0 ] && pass "detach: nothing attached" || fail "detach: $(sock_ops) sock_ops programs"
client && pass "clients work after detach" || fail "clients after detach"
finish
