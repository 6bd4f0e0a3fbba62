#!/bin/sh
# ebpfaccel redis ...: a real redis-server in a netns and a cgroup, the
# cache attached by the tool and held by its holder process; hits proven by
# Redis' own command statistics; flush, status, JSON, error paths; a killed
# holder leaves nothing attached; detach leaves Redis serving.
set -u
cli="${top_builddir:-.}/tools/ebpfaccel"
PY=/usr/bin/python3
. "${top_srcdir:-$(dirname "$0")/..}/tests/cli_lib.sh"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (netns, cgroups, BPF)"; exit 77; }
for t in redis-server redis-cli bpftool ip; do
	command -v $t >/dev/null || { echo "SKIP: $t is missing"; exit 77; }
done
[ -x "$PY" ] || { echo "SKIP: $PY is needed to validate JSON"; exit 77; }
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg2" ] || { echo "SKIP: no cgroup v2 mount"; exit 77; }

N=t$$
CG="$cg2/ebpfaccel-redistest-$$"
NS="ebpfaccel-redistest-$$"
DIR=$(mktemp -d)
cleanup() {
	"$cli" redis detach --name $N >/dev/null 2>&1
	[ -z "${redis_pid:-}" ] || { kill "$redis_pid"; wait "$redis_pid"; } 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	[ ! -d "$CG" ] || rmdir "$CG"
	rm -rf "$DIR"
}
trap cleanup EXIT
mkdir "$CG"
ip netns add "$NS" && ip -n "$NS" link set lo up
sh -c 'echo $$ > "$1/cgroup.procs"; exec ip netns exec "$2" redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --dir "$3"' \
	sh "$CG" "$NS" "$DIR" > "$DIR/redis.log" 2>&1 &
redis_pid=$!
rcli() { ip netns exec "$NS" redis-cli -p 6379 "$@"; }
i=0; until [ "$(rcli ping 2>/dev/null)" = PONG ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "FAIL: redis-server did not start: $(cat "$DIR/redis.log")"; exit 1; }
	sleep 0.05
done
gets() { rcli info commandstats | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p'; }
counter() { "$cli" redis stats --name $N --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)['counters']['$1'])"; }
sock_ops() { bpftool cgroup show "$CG" | grep -c sock_ops; }

expect_rc 4 "stats with nothing attached" "$cli" redis stats --name $N
expect_rc 4 "flush with nothing attached" "$cli" redis flush --name $N
expect_rc 4 "detach with nothing attached" "$cli" redis detach --name $N
expect_msg "redis attach --cgroup" "says how to attach" "$cli" redis detach --name $N
expect_rc 2 "attach without --port" "$cli" redis attach --cgroup "$CG" --name $N
expect_rc 2 "attach without --cgroup" "$cli" redis attach --port 6379 --name $N
expect_rc 2 "bad port" "$cli" redis attach --cgroup "$CG" --port 0 --name $N
expect_msg "1 to 65535" "bad port says the range" "$cli" redis attach --cgroup "$CG" --port 6379,x --name $N
expect_rc 2 "bad name" "$cli" redis attach --cgroup "$CG" --port 6379 --name a.b
expect_rc 2 "stray argument" "$cli" redis stats --name $N extra
expect_rc 3 "unprivileged attach" nobody "$cli" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --name $N
expect_rc 3 "unprivileged stats" nobody "$cli" redis stats
expect_rc 1 "attach without redis on that port" "$cli" redis attach --cgroup "$CG" --port 6380 --netns "$NS" --name $N
expect_msg "listening" "no redis: says what to check" "$cli" redis attach --cgroup "$CG" --port 6380 --netns "$NS" --name $N

expect_rc 0 "attach" "$cli" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --name $N
expect_rc 1 "attach the same name again" "$cli" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --name $N
rcli set k hello >/dev/null
g0=$(gets)
# One connection: a connection's first GET always goes to Redis (it is how
# the cache learns Redis lets the connection read), later ones may not.
ip netns exec "$NS" "$PY" -c '
import time, redis
r = redis.Redis(port=6379)
for i in range(4):
    assert r.get("k") == b"hello", i
    time.sleep(0.2)
' || fail "4 GETs on one connection (python3-redis): wrong values"
g1=$(gets)
hits=$(counter hits)
[ "$hits" -ge 1 ] && [ $((g1 - g0 + hits)) = 4 ] && pass "$hits of 4 GETs answered by the kernel (Redis saw $((g1 - g0)))" \
	|| fail "hits $hits, Redis GETs $g0 -> $g1"
if "$cli" redis stats --name $N --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
assert set(s) == {"name", "kind", "pid", "cgroup", "ports", "serving", "hit_rate", "counters"}, s.keys()
assert s["kind"] == "server", s
assert s["cgroup"] == sys.argv[1] and s["ports"] == [6379] and s["serving"] is True, s
assert 0 < s["hit_rate"] <= 1 and len(s["counters"]) == 16, s
' "$CG"; then pass "stats --json schema"; else fail "stats --json"; fi
"$cli" redis stats --name $N | grep -qE "^cache $N on $CG .*serving, hit rate" && pass "stats text" || fail "stats text"
if "$cli" status --json | "$PY" -c '
import json, sys
a = [x for x in json.load(sys.stdin)["attachments"] if x["feature"] == "redis" and x["name"] == sys.argv[2]]
assert len(a) == 1 and a[0]["cgroup"] == sys.argv[1] and a[0]["serving"] is True, a
' "$CG" $N; then pass "status lists the cache"; else fail "status: $("$cli" status --json)"; fi

expect_rc 0 "flush" "$cli" redis flush --name $N
g0=$(gets); rcli get k >/dev/null; g1=$(gets)
[ $((g1 - g0)) = 1 ] && pass "after flush the GET goes to Redis" || fail "GET after flush not seen by Redis"

# A holder that dies takes the cache with it: nothing attached is left.
holder=$("$cli" redis stats --name $N --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
kill -9 "$holder"; sleep 0.3
[ "$(sock_ops)" = 0 ] && pass "killed holder: nothing attached" || fail "killed holder: $(sock_ops) sock_ops programs"
[ "$(rcli get k)" = hello ] && pass "Redis still answers" || fail "Redis does not answer after the holder died"
expect_rc 4 "stats of a dead holder" "$cli" redis stats --name $N
[ ! -e /run/ebpfaccel/redis/$N.sock ] && pass "dead holder's socket tidied" || fail "socket left"

expect_rc 0 "attach again" "$cli" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --name $N
holder=$("$cli" redis stats --name $N --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
expect_rc 0 "detach" "$cli" redis detach --name $N
# Its socket goes right before it exits.
i=0; while kill -0 "$holder" 2>/dev/null && [ $i -lt 40 ]; do i=$((i + 1)); sleep 0.05; done
kill -0 "$holder" 2>/dev/null && fail "holder $holder still runs" || pass "holder gone"
[ "$(sock_ops)" = 0 ] && pass "detach: nothing attached" || fail "detach: $(sock_ops) sock_ops programs"
ls /run/ebpfaccel/redis/$N.* >/dev/null 2>&1 && fail "left in /run: $(ls /run/ebpfaccel/redis/)" || pass "nothing left in /run"
[ "$(rcli get k)" = hello ] && pass "Redis serves after detach" || fail "Redis after detach"
finish
