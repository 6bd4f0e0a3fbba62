#!/bin/sh
# ebpfaccel redis ...: a real redis-server in a netns and a cgroup, the
# cache attached by the tool and held by its holder process; hits proven by
# Redis' own command statistics; flush, status, JSON, error paths; a killed
# holder leaves nothing attached; detach leaves Redis serving. Attach by
# port (and pid) to the server as it runs: its cgroup found from its
# listener, also after the process moved to another cgroup; connections
# open before the attach pass untouched, byte-exact.
set -u
cli="${top_builddir:-.}/tools/ebpfaccel"
PY=/usr/bin/python3
. "${top_srcdir:-$(dirname "$0")/..}/tests/cli_lib.sh"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
redis_test_require

N=t$$
CG="$cg2/ebpfaccel-redistest-$$"
NS="ebpfaccel-redistest-$$"
DIR=$(mktemp -d)
cleanup() {
	"$cli" redis detach --name $N >/dev/null 2>&1
	redis_stop
	[ ! -d "$CG" ] || rmdir "$CG"
	[ ! -d "$CG.moved" ] || rmdir "$CG.moved"
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$CG"
redis_start "$CG"
counter() { "$cli" redis stats --name $N --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)['counters']['$1'])"; }

expect_rc 4 "stats with nothing attached" "$cli" redis stats --name $N
expect_rc 4 "flush with nothing attached" "$cli" redis flush --name $N
expect_rc 4 "detach with nothing attached" "$cli" redis detach --name $N
expect_msg "redis attach --cgroup" "says how to attach" "$cli" redis detach --name $N
expect_rc 2 "attach without --port" "$cli" redis attach --cgroup "$CG" --name $N
expect_rc 4 "attach by port, nobody listens" "$cli" redis attach --netns "$NS" --port 6390 --name $N
expect_msg "listening" "attach by port, nobody listens: says what to check" "$cli" redis attach --netns "$NS" --port 6390 --name $N
expect_rc 2 "bad --pid" "$cli" redis attach --port 6379 --pid 0 --name $N
expect_rc 2 "bad port" "$cli" redis attach --cgroup "$CG" --port 0 --name $N
expect_msg "1 to 65535" "bad port says the range" "$cli" redis attach --cgroup "$CG" --port 6379,x --name $N
expect_rc 2 "bad name" "$cli" redis attach --cgroup "$CG" --port 6379 --name a.b
expect_rc 2 "stray argument" "$cli" redis stats --name $N extra
expect_rc 3 "unprivileged attach" nobody "$cli" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --name $N
expect_rc 3 "unprivileged stats" nobody "$cli" redis stats
expect_rc 1 "attach without redis on that port" "$cli" redis attach --cgroup "$CG" --port 6380 --netns "$NS" --name $N
expect_msg "listening" "no redis: says what to check" "$cli" redis attach --cgroup "$CG" --port 6380 --netns "$NS" --name $N

# Broadcast tracking asked for: the figures below must not move with a
# switch of automatic tracking (this server has no unseen write path).
expect_rc 0 "attach, --track all" "$cli" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --name $N --track all
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
if "$cli" redis stats --name $N --json --entries | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
assert set(s) == {"name", "kind", "pid", "cgroup", "ports", "serving", "tracking", "tracking_why",
                  "hit_rate", "counters", "follows_listener", "server_pid", "cache"}, s.keys()
assert s["kind"] == "server", s
assert s["tracking"] == "all" and s["tracking_why"], s
assert s["cgroup"] == sys.argv[1] and s["ports"] == [6379] and s["serving"] is True, s
assert s["follows_listener"] is False and s["server_pid"] == int(sys.argv[2]), s
assert 0 < s["hit_rate"] <= 1 and len(s["counters"]) == 22, s
# sockmap mode: the XDP counters are there, and 0
assert all(s["counters"][k] == 0 for k in s["counters"] if k.startswith("xdp_")), s
c = s["cache"]
assert c["entries_small"] == 1 and c["entries_large"] == 0 and c["capacity_small"] == 65536, c
assert c["memory_bytes"] > 0 and c["tracking"] == "all" and c["tracking_ok"] is True, c
assert c["reconnects"] == 0, c
' "$CG" "$redis_pid"; then pass "stats --json schema"; else fail "stats --json: $("$cli" redis stats --name $N --json)"; fi
"$cli" redis stats --name $N | grep -qE "^cache $N on $CG .*serving, hit rate" && pass "stats text" || fail "stats text"
# The entries are counted (a walk of the maps) only where asked: --entries
# or a Prometheus scrape; the rest of the figures are there either way.
"$cli" redis stats --name $N --json | "$PY" -c '
import json, sys
c = json.load(sys.stdin)["cache"]
assert "entries_small" not in c and "entries_stale" not in c, c
assert c["capacity_small"] == 65536 and c["memory_bytes"] > 0 and c["tracking_ok"] is True, c
' && "$cli" redis stats --name $N | grep -qE "^capacity 65536 small, 4096 large; [0-9]+ bytes of kernel memory \(entries: --entries\)$" \
	&& "$cli" redis stats --name $N --entries | grep -qE "^entries 1 small of 65536, 0 large of 4096, [0-9]+ stale;" \
	&& pass "stats: entries counted only with --entries (text and JSON)" \
	|| fail "stats --entries: $("$cli" redis stats --name $N; "$cli" redis stats --name $N --json)"
# Prometheus' own parser reads the exposition; every family has HELP and TYPE,
# and the figures are the holder's.
if "$cli" redis stats --name $N --prometheus > "$DIR/metrics" && "$cli" redis stats --name $N --json | "$PY" -c '
import json, sys
from prometheus_client.parser import text_string_to_metric_families
c = json.load(sys.stdin)["counters"]
text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
for f in fams.values():
    assert f.documentation and f.type in ("counter", "gauge"), f
    assert "# HELP ebpfaccel_redis_cache_%s" % f.name.split("ebpfaccel_redis_cache_")[1] in text, f.name
    assert all(s.labels["cache"] == sys.argv[2] for s in f.samples), f
v = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams.values() for s in f.samples}
cache = ("cache", sys.argv[2])
assert v[("ebpfaccel_redis_cache_hits_total", (cache,))] == c["hits"] > 0, v
assert v[("ebpfaccel_redis_cache_bypassed_total", (cache, ("reason", "mixed")))] == c["bypass_mixed"], v
assert v[("ebpfaccel_redis_cache_invalidations_total", (cache, ("source", "tracking")))] == c["push_invalidations"], v
assert v[("ebpfaccel_redis_cache_serving", (cache,))] == 1, v
assert v[("ebpfaccel_redis_cache_entries", (cache, ("class", "small")))] == 1, v
assert v[("ebpfaccel_redis_cache_tracking_ok", (cache,))] == 1, v
assert v[("ebpfaccel_redis_cache_xdp_hits_total", (cache,))] == c["xdp_hits"], v
assert len(v) == 32, sorted(v)
' "$DIR/metrics" $N; then pass "stats --prometheus: parsed by prometheus_client, figures match"; else fail "stats --prometheus: $(cat "$DIR/metrics")"; fi
expect_rc 2 "--prometheus and --json" "$cli" redis stats --name $N --prometheus --json
# Broadcast tracking registers the empty prefix; --track keys none.
[ "$(rcli info stats | tr -d '\r' | sed -n 's/^tracking_total_prefixes://p')" = 1 ] && pass "--track all: broadcast tracking" \
	|| fail "--track all: $(rcli info stats | grep tracking_)"
if "$cli" status --json | "$PY" -c '
import json, sys
a = [x for x in json.load(sys.stdin)["attachments"] if x["feature"] == "redis" and x["name"] == sys.argv[2]]
assert len(a) == 1 and a[0]["cgroup"] == sys.argv[1] and a[0]["serving"] is True, a
assert a[0]["kind"] == "server", a
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

expect_rc 2 "--track with a bad mode" "$cli" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --name $N --track some
expect_rc 0 "attach again, --track keys" "$cli" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --name $N --track keys
# The fill of k is confirmed by a read on the query connection: that
# registers k in Redis' tracking table.
rcli get k >/dev/null; i=0
while [ "$(rcli info stats | tr -d '\r' | sed -n 's/^tracking_total_keys://p')" = 0 ] && [ $i -lt 40 ]; do i=$((i + 1)); sleep 0.05; done
[ "$(rcli info stats | tr -d '\r' | sed -n 's/^tracking_total_prefixes://p')" = 0 ] && [ "$(rcli info stats | tr -d '\r' | sed -n 's/^tracking_total_keys://p')" -ge 1 ] && pass "--track keys: no BCAST prefix, keys tracked" \
	|| fail "--track keys: $(rcli info stats | grep tracking_)"
holder=$("$cli" redis stats --name $N --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
expect_rc 0 "detach" "$cli" redis detach --name $N
# Its socket goes right before it exits.
i=0; while kill -0 "$holder" 2>/dev/null && [ $i -lt 40 ]; do i=$((i + 1)); sleep 0.05; done
kill -0 "$holder" 2>/dev/null && fail "holder $holder still runs" || pass "holder gone"
[ "$(sock_ops)" = 0 ] && pass "detach: nothing attached" || fail "detach: $(sock_ops) sock_ops programs"
ls /run/ebpfaccel/redis/$N.* >/dev/null 2>&1 && fail "left in /run: $(ls /run/ebpfaccel/redis/)" || pass "nothing left in /run"
[ "$(rcli get k)" = hello ] && pass "Redis serves after detach" || fail "Redis after detach"

# ---- Attach by port to the server as it runs (a service in its own cgroup,
# in another netns), with a client connected before the attach.
wait_detached() { i=0; while [ -e /run/ebpfaccel/redis/$N.sock ] && [ $i -lt 60 ]; do i=$((i + 1)); sleep 0.05; done; }
wait_detached

# No --track: automatic tracking. This server has TCP on one port only and
# no client from before the attach, so per-key tracking, and 'redis stats'
# says why.
expect_rc 0 "attach, default tracking" "$cli" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --name $N
auto_keys() { "$cli" redis stats --name $N | grep -q '^tracking: keys (no write path the programs do not see)$'; }
i=0; while ! auto_keys && [ $i -lt 60 ]; do i=$((i + 1)); sleep 0.1; done
auto_keys && pass "default (automatic) tracking: per-key tracking, and why" \
	|| fail "default tracking: $("$cli" redis stats --name $N | grep tracking)"
expect_rc 0 "detach" "$cli" redis detach --name $N
wait_detached
rcli set old "$(printf 'x%.0s' $(seq 300))" >/dev/null
mkfifo "$DIR/ready" "$DIR/go" "$DIR/went"
# The early client: one connection from before the attach to after it, every
# reply compared byte for byte (python3-redis parses RESP strictly).
ip netns exec "$NS" "$PY" -c '
import redis, sys
r = redis.Redis(port=6379)
want = {"k": b"hello", "old": b"x" * 300}
assert [r.get(k) for k in want] == list(want.values())
open(sys.argv[3], "w").write("connected")
open(sys.argv[1]).read()
n = 0
for i in range(200):
    for k, v in want.items():
        assert r.get(k) == v, (i, k)
        n += 1
assert r.set("early", "1") and r.get("early") == b"1"
open(sys.argv[2], "w").write(str(n))
' "$DIR/go" "$DIR/went" "$DIR/ready" > "$DIR/early.out" 2>&1 &
early=$!
[ "$(timeout 30 cat "$DIR/ready")" = connected ] || fail "early client: $(cat "$DIR/early.out")"
expect_rc 0 "attach by port (no --cgroup)" "$cli" redis attach --port 6379 --netns "$NS" --name $N
"$cli" redis stats --name $N | grep -q "^cache $N on $CG " && pass "attach by port: the server's cgroup found" \
	|| fail "attach by port: $("$cli" redis stats --name $N)"
g0=$(gets); h0=$(counter hits)
# (bounded: a client that died early opens neither fifo)
timeout 10 sh -c 'echo go > "$1"' sh "$DIR/go"
n=$(timeout 30 cat "$DIR/went")
wait "$early" && [ "$n" = 400 ] && pass "connection open before the attach: 400 GETs byte-exact" \
	|| fail "early connection: $(cat "$DIR/early.out")"
g1=$(gets); h1=$(counter hits)
[ $((g1 - g0)) -ge 401 ] && [ "$h1" = "$h0" ] && pass "connection open before the attach passes untouched (Redis saw all its GETs)" \
	|| fail "early connection: Redis saw $((g1 - g0)) GETs, kernel hits $h0 -> $h1"
ip netns exec "$NS" "$PY" -c '
import redis
r = redis.Redis(port=6379)
for i in range(50):
    assert r.get("k") == b"hello", i
' || fail "a new connection's GETs"
[ "$(counter hits)" -gt "$h1" ] && pass "attach by port: a new connection is answered by the kernel" \
	|| fail "attach by port: no hits ($(counter hits))"
expect_rc 0 "detach" "$cli" redis detach --name $N
wait_detached

# The process moved to another cgroup after it started listening: its
# connections still belong to the listener's cgroup, which is what counts.
mkdir "$CG.moved"
echo "$redis_pid" > "$CG.moved/cgroup.procs"
expect_rc 0 "attach by --pid (netns from the process)" "$cli" redis attach --port 6379 --pid "$redis_pid" --name $N
"$cli" redis stats --name $N | grep -q "^cache $N on $CG " && pass "moved server: the listener's cgroup, not the process's" \
	|| fail "moved server: $("$cli" redis stats --name $N)"
expect_rc 0 "detach" "$cli" redis detach --name $N
wait_detached
expect_rc 4 "--pid of a process not listening there" "$cli" redis attach --port 6379 --pid $$ --netns "$NS" --name $N

# ---- --foreground (the systemd unit's way), and a Redis restart under it:
# killed, started again on the same port, the cache serves again by itself.
start_redis() {
	sh -c 'echo $$ > "$1/cgroup.procs"; exec ip netns exec "$2" redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --dir "$3"' \
		sh "$CG" "$NS" "$DIR" > "$DIR/redis.log" 2>&1 &
	redis_pid=$!
	i=0; until [ "$(rcli ping 2>/dev/null)" = PONG ]; do i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05; done
}
serving() { "$cli" redis stats --name $N --json 2>/dev/null | "$PY" -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["serving"] else 1)'; }
wait_serving() { i=0; until serving; do i=$((i + 1)); [ $i -lt 200 ] || return 1; sleep 0.05; done; }
# kernel_hits VALUE: batches of 50 GETs of k (each on one connection, all
# VALUE) until the kernel answered some: a fill is served once the holder's
# engine confirmed it, which on a loaded machine can take longer than one
# batch (20 tries); prints how many the kernel answered
kernel_hits() {
	h=$(counter hits)
	for try in $(seq 20); do
		ip netns exec "$NS" "$PY" -c '
import redis, sys
r = redis.Redis(port=6379)
for i in range(50):
    assert r.get("k") == sys.argv[1].encode(), i
' "$1" || echo "wrong values" >&2
		[ "$(counter hits)" -gt "$h" ] && break
		sleep 0.1
	done
	echo $(($(counter hits) - h))
}
"$cli" redis attach --foreground --port 6379 --netns "$NS" --name $N > "$DIR/fg.out" 2> "$DIR/fg.err" &
fg=$!
wait_serving && grep -q "^attached to $CG, ports 6379; held by process $fg " "$DIR/fg.out" \
	&& pass "--foreground: attached, held by the tool's own process" || fail "--foreground: $(cat "$DIR/fg.out" "$DIR/fg.err")"
rcli set k before >/dev/null
[ "$(kernel_hits before)" -gt 0 ] && pass "--foreground: served" || fail "--foreground: no hits"
kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null
start_redis
rcli set k after >/dev/null
wait_serving && pass "Redis restarted: serving again" || fail "Redis restarted: not serving ($(cat "$DIR/fg.err"))"
[ "$(kernel_hits after)" -gt 0 ] && pass "Redis restarted: new connections served, the new values" \
	|| fail "Redis restarted: no hits"
# Started again in another cgroup (the service moved): the cache, which
# found its cgroup from the listener, follows it.
kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null
CG_FIRST=$CG; CG=$CG.moved
start_redis
rcli set k moved >/dev/null
wait_serving && pass "Redis restarted in another cgroup: followed, serving again" \
	|| fail "Redis restarted in another cgroup: not serving ($(cat "$DIR/fg.err"))"
[ "$(kernel_hits moved)" -gt 0 ] && pass "Redis restarted in another cgroup: served, the new values" \
	|| fail "Redis restarted in another cgroup: no hits"
CG=$CG_FIRST
kill -TERM "$fg"; wait "$fg"; rc=$?
[ $rc = 0 ] && [ "$(sock_ops)" = 0 ] && [ "$(bpftool cgroup show "$CG.moved" | grep -c sock_ops)" = 0 ] && [ ! -e /run/ebpfaccel/redis/$N.sock ] \
	&& pass "--foreground: SIGTERM detaches and exits 0" || fail "--foreground after SIGTERM: exit $rc, $(sock_ops) sock_ops"
finish
