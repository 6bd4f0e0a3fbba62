#!/bin/sh
# ebpfaccel redis near ...: a real redis-server in a netns, the near cache
# attached by the tool for a cgroup of clients and held by its holder
# process (and by the command itself with --foreground); clients of the
# cgroup are unmodified python3-redis and redis-cli; hits proven by Redis'
# own command statistics; stats text/JSON/Prometheus, status, flush, error
# paths, commands of one kind refusing the other; detach leaves nothing
# attached and the clients working.
set -u
cli="${top_builddir:-.}/tools/ebpfaccel"
PY=/usr/bin/python3
. "${top_srcdir:-$(dirname "$0")/..}/tests/cli_lib.sh"
redis_test_require
"$PY" -c 'import redis, prometheus_client' 2>/dev/null || { echo "SKIP: python3-redis and python3-prometheus-client are needed"; exit 77; }

N=n$$
CG="$cg2/ebpfaccel-nearcli-$$"
NS="ebpfaccel-nearcli-$$"
DIR=$(mktemp -d)
cleanup() {
	"$cli" redis near detach --name $N >/dev/null 2>&1
	[ -z "${fg_pid:-}" ] || { kill "$fg_pid"; wait "$fg_pid"; } 2>/dev/null
	redis_stop
	[ ! -d "$CG" ] || rmdir "$CG"
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$CG"
redis_start	# in no cgroup of the test: the clients' cgroup is the near cache's
counter() { "$cli" redis near stats --name $N --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)['counters']['$1'])"; }
in_cg() { sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CG" ip netns exec "$NS" "$@"; }
# a client process of the cgroup: 50 GETs on one connection, 20 ms apart (a
# second for the engine to confirm the fill on a loaded machine), python3-redis
pyclient() {
	in_cg "$PY" -c '
import time, redis
r = redis.Redis(port=6379)
for i in range(50):
    assert r.get("k") == b"hello", i
    time.sleep(0.02)
'
}

expect_rc 4 "stats with nothing attached" "$cli" redis near stats --name $N
expect_rc 4 "detach with nothing attached" "$cli" redis near detach --name $N
expect_rc 2 "attach without --server" "$cli" redis near attach --cgroup "$CG" --name $N
expect_rc 2 "attach without --cgroup" "$cli" redis near attach --server 127.0.0.1:6379 --name $N
expect_rc 2 "--port is not a near option" "$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6379 --port 6379 --name $N
expect_rc 2 "bad --max-staleness-ms" "$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6379 --max-staleness-ms 0 --name $N
expect_msg "1 to 3600000" "bad --max-staleness-ms says the range" "$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6379 --max-staleness-ms 1x --name $N
expect_msg "at most 8" "too many --prefix" "$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6379 \
	--prefix a --prefix b --prefix c --prefix d --prefix e --prefix f --prefix g --prefix h --prefix i --name $N
expect_rc 2 "bad --server" "$cli" redis near attach --cgroup "$CG" --server localhost:6379 --netns "$NS" --name $N
expect_msg "IPV4:PORT" "bad --server says the form" "$cli" redis near attach --cgroup "$CG" --server localhost:6379 --netns "$NS" --name $N
expect_msg "^ebpfaccel: redis near attach: .*reachable|listening" "attach without redis at that address says what to check" \
	"$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6380 --netns "$NS" --name $N
[ ! -e /run/ebpfaccel/redis/$N.sock ] && pass "a failed attach leaves no holder socket" || fail "holder socket left behind"

expect_rc 0 "attach" "$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6379 --prefix k --max-staleness-ms 5000 --netns "$NS" --name $N
[ "$(sock_ops)" = 1 ] && pass "sock_ops attached to the clients' cgroup" || fail "sock_ops: $(sock_ops)"
expect_rc 1 "attach again under the same name" "$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6379 --netns "$NS" --name $N
expect_msg "redis near detach --name $N" "attach again says how to detach" "$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6379 --netns "$NS" --name $N
rcli set k hello >/dev/null
g0=$(gets)
pyclient || fail "50 GETs in the clients' cgroup (python3-redis): wrong values"
g1=$(gets)
hits=$(counter hits)
[ "$hits" -ge 1 ] && [ $((g1 - g0 + hits)) = 50 ] && pass "python3-redis: $hits of 50 GETs answered on the client's host (Redis saw $((g1 - g0)))" \
	|| fail "python3-redis: hits $hits, Redis GETs $g0 -> $g1"
# redis-cli repeating a GET on its one connection: same bytes, from the host
out=$(in_cg redis-cli -p 6379 -r 20 -i 0.02 get k | sort | uniq -c | tr -s ' ')
g2=$(gets); hits2=$(counter hits)
[ "$out" = " 20 hello" ] && [ $((g2 - g1 + hits2 - hits)) = 20 ] && [ $((hits2 - hits)) -ge 1 ] \
	&& pass "redis-cli: $((hits2 - hits)) of 20 GETs answered on the client's host, every answer right" \
	|| fail "redis-cli: '$out', hits $hits -> $hits2, Redis GETs $g1 -> $g2"

if "$cli" redis near stats --name $N --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
assert set(s) == {"name", "kind", "pid", "cgroup", "servers", "prefixes", "max_staleness_ms", "serving",
                  "hit_rate", "counters"}, s.keys()
assert s["kind"] == "near" and s["cgroup"] == sys.argv[1] and s["servers"] == ["127.0.0.1:6379"], s
assert s["prefixes"] == ["k"] and s["max_staleness_ms"] == 5000, s
assert s["serving"] is True and 0 < s["hit_rate"] <= 1, s
assert len(s["counters"]) == 14 and s["counters"]["connections"] >= 2, s
' "$CG"; then pass "stats --json schema"; else fail "stats --json: $("$cli" redis near stats --name $N --json)"; fi
"$cli" redis near stats --name $N | grep -qE "^near cache $N on $CG .*serving, hit rate" && pass "stats text" || fail "stats text"
if "$cli" redis near stats --name $N --prometheus > "$DIR/metrics" && "$cli" redis near stats --name $N --json | "$PY" -c '
import json, sys
from prometheus_client.parser import text_string_to_metric_families
c = json.load(sys.stdin)["counters"]
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
for f in fams:
    assert f.name.startswith("ebpfaccel_redis_near_cache_"), f.name
    assert f.documentation and f.type in ("counter", "gauge"), f
    assert all(s.labels["cache"] == sys.argv[2] for s in f.samples), f
v = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams for s in f.samples}
cache = ("cache", sys.argv[2])
assert v[("ebpfaccel_redis_near_cache_hits_total", (cache,))] == c["hits"] > 0, v
assert v[("ebpfaccel_redis_near_cache_bypassed_total", (cache, ("reason", "state")))] == c["bypass_state"], v
assert v[("ebpfaccel_redis_near_cache_connections_total", (cache,))] == c["connections"], v
assert v[("ebpfaccel_redis_near_cache_serving", (cache,))] == 1, v
assert len(v) == 15, sorted(v)
' "$DIR/metrics" $N; then pass "stats --prometheus: parsed by prometheus_client, figures match"; else fail "stats --prometheus: $(cat "$DIR/metrics")"; fi
if "$cli" status --json | "$PY" -c '
import json, sys
a = [x for x in json.load(sys.stdin)["attachments"] if x["feature"] == "redis" and x["name"] == sys.argv[2]]
assert len(a) == 1 and a[0]["kind"] == "near" and a[0]["cgroup"] == sys.argv[1] and a[0]["serving"] is True, a
' "$CG" $N; then pass "status lists the near cache"; else fail "status: $("$cli" status --json)"; fi

# The server cache's commands do not act on a near cache.
expect_rc 1 "'redis detach' refuses a near cache" "$cli" redis detach --name $N
expect_msg "redis near" "'redis flush' on a near cache says which command" "$cli" redis flush --name $N
expect_rc 0 "flush" "$cli" redis near flush --name $N
g0=$(gets); in_cg redis-cli -p 6379 get k >/dev/null; g1=$(gets)
[ $((g1 - g0)) = 1 ] && pass "after flush the GET goes to Redis" || fail "GET after flush not seen by Redis"

holder=$("$cli" redis near stats --name $N --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
expect_rc 0 "detach" "$cli" redis near detach --name $N
# detach returns once the holder removed its socket, its last step
i=0; while kill -0 "$holder" 2>/dev/null && [ $i -lt 40 ]; do i=$((i + 1)); sleep 0.05; done
kill -0 "$holder" 2>/dev/null && fail "holder $holder still runs" || pass "holder gone"
[ "$(sock_ops)" = 0 ] && pass "detach: nothing attached" || fail "detach: $(sock_ops) sock_ops programs"
g0=$(gets); pyclient && pass "clients work after detach" || fail "clients after detach"
g1=$(gets)
[ $((g1 - g0)) = 50 ] && pass "after detach every GET reaches Redis" || fail "after detach Redis saw $((g1 - g0)) of 50"

# --foreground: the command is the holder, until SIGTERM
"$cli" redis near attach --cgroup "$CG" --server 127.0.0.1:6379 --netns "$NS" --name $N --foreground > "$DIR/fg.log" 2>&1 &
fg_pid=$!
i=0; until grep -q "near cache attached" "$DIR/fg.log" || [ $i -ge 100 ]; do i=$((i + 1)); sleep 0.05; done
grep -q "^near cache attached to $CG for 127.0.0.1:6379; held by process $fg_pid" "$DIR/fg.log" \
	&& pass "--foreground: attached, held by the command itself" || fail "--foreground: $(cat "$DIR/fg.log")"
[ "$(sock_ops)" = 1 ] && pass "--foreground: sock_ops attached" || fail "--foreground: sock_ops $(sock_ops)"
kill "$fg_pid"; wait "$fg_pid"; rc=$?; fg_pid=
[ $rc = 0 ] && [ "$(sock_ops)" = 0 ] && pass "--foreground: SIGTERM detaches (exit 0)" || fail "--foreground: exit $rc, sock_ops $(sock_ops)"
finish
