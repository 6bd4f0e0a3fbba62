#!/bin/sh
# The cache under a stale-read soak (tests/redis_soak.py: python3-redis
# readers and a writer) across what happens to a service in production:
# redis-server runs as a service would, in its own cgroup (not one made for
# the cache), with an AOF fsynced before every reply, so every acknowledged
# write survives SIGKILL; 'ebpfaccel redis attach --port P' finds it there.
# Under the soak: Redis SIGKILLed and started again on the same port, then
# again into a DIFFERENT cgroup (the cache follows the listener), then the
# holder process SIGKILLed; in between, more restarts alternating between
# the two cgroups (RESTART_SOAK_CYCLES, 3 by default) with the readers
# reconnecting after each and 'redis stats' read in a loop (the phases in
# which a stale read was once seen). Throughout: 0 stale reads; after each restart
# the kernel serves again (its hits rise; after a restart into another
# cgroup, on connections made once the cache followed) and 'redis stats'
# shows where the cache is now; after the holder died nothing is attached and Redis
# answers every GET itself. The metrics are checked against Prometheus'
# text format rules (and its own parser) with a cache name that needs
# escaping.
set -u
cli="${top_builddir:-.}/tools/ebpfaccel"
src="${top_srcdir:-$(dirname "$0")/..}"
PY=/usr/bin/python3
. "$src/tests/cli_lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (netns, cgroups, BPF)"; exit 77; }
for t in redis-server redis-cli bpftool ip; do
	command -v $t >/dev/null || { echo "SKIP: $t is missing"; exit 77; }
done
"$PY" -c 'import redis, prometheus_client' 2>/dev/null || { echo "SKIP: python3-redis and python3-prometheus-client are needed"; exit 77; }
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg2" ] || { echo "SKIP: no cgroup v2 mount"; exit 77; }

# A name with a quote and a backslash: label values must be escaped.
N="opsmisc\"q\\$$"
SVC="$cg2/ebpfaccel-opsmisc-$$.service"	# as systemd would make it
SVC2="$cg2/ebpfaccel-opsmisc-$$-moved.service"
NS="ebpfaccel-opsmisc-$$"
DIR=$(mktemp -d)
DATA=$(mktemp -d /dev/shm/ebpfaccel-opsmisc.XXXXXX)	# tmpfs: fsync is cheap
cleanup() {
	touch "$DIR/stop"
	[ -z "${statsloop:-}" ] || { kill "$statsloop"; wait "$statsloop"; } 2>/dev/null
	[ -z "${soak:-}" ] || wait "$soak" 2>/dev/null
	"$cli" redis detach --name "$N" >/dev/null 2>&1
	[ -z "${holder:-}" ] || kill -9 "$holder" 2>/dev/null
	[ -z "${redis_pid:-}" ] || { kill "$redis_pid"; wait "$redis_pid"; } 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	for c in "$SVC" "$SVC2"; do [ ! -d "$c" ] || rmdir "$c"; done
	rm -rf "$DIR" "$DATA"
	rm -f "/run/ebpfaccel/redis/$N.log"	# a SIGKILLed holder's
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$SVC" "$SVC2"
ip netns add "$NS" && ip -n "$NS" link set lo up
rcli() { ip netns exec "$NS" redis-cli -p 6379 "$@"; }
start_redis() { # cgroup
	sh -c 'echo $$ > "$1/cgroup.procs"; exec ip netns exec "$2" redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always --dir "$3"' \
		sh "$1" "$NS" "$DATA" >> "$DIR/redis.log" 2>&1 &
	redis_pid=$!
	i=0; until [ "$(rcli ping 2>/dev/null)" = PONG ]; do
		i=$((i + 1)); [ $i -lt 200 ] || { fail "redis-server did not start: $(tail -5 "$DIR/redis.log")"; return 1; }
		sleep 0.05
	done
}
serving() { [ "$(field 's["serving"]' 2>/dev/null)" = True ]; }
wait_serving() { i=0; until serving; do i=$((i + 1)); [ $i -lt 200 ] || return 1; sleep 0.05; done; }
restart_into() { # cgroup description
	phase "$2"
	kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null
	start_redis "$1" || return
	if wait_serving; then pass "$2: serving again"; else fail "$2: not serving ($(stats))"; fi
}
recycle() { # the soak's readers reconnect once
	touch "$DIR/stop.recycle"
	i=0; while [ -e "$DIR/stop.recycle" ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
}
gets() { rcli info commandstats | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p'; }

start_redis "$SVC" || { finish; exit 1; }
expect_rc 0 "attach by port to the service's server" "$cli" redis attach --port 6379 --netns "$NS" --name "$N"
holder=$(field 's["pid"]')
[ "$(field 's["cgroup"]')" = "$SVC" ] && [ "$(field 's["server_pid"]')" = "$redis_pid" ] \
	&& pass "stats: the service's cgroup and redis-server's pid" || fail "stats: $(stats)"

ip netns exec "$NS" "$PY" "$src/tests/redis_soak.py" 6379 "$DIR/status" "$DIR/stop" > "$DIR/soak.log" 2>&1 &
soak=$!
t0=$(date +%s.%N)
phase() { # tells the soak too: it labels stale reads with it
	echo "$*" > "$DIR/stop.phase"
	echo "phase at $(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }') s: $*"
}
i=0; until [ -f "$DIR/status" ] && [ "$(soak_field reads)" -gt 0 ]; do
	i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1
done
phase "attached, serving"
r=$(hits_rise) && pass "soak: the kernel answers ($r)" || fail "soak: no hits ($r; $(cat "$DIR/soak.log"))"

restart_into "$SVC" "Redis SIGKILLed, started again on the same port"
# The readers reconnected to the new server at once, in the same cgroup,
# where the programs stayed: their connections are served again.
r=$(hits_rise) && pass "same cgroup: kernel hits rise under the soak, same clients ($r)" || fail "same cgroup: no hits ($r)"

restart_into "$SVC2" "Redis SIGKILLed, started again in another cgroup"
# The readers reconnected before the cache found the new cgroup (it learns
# of it when its own reconnect is not seen): those connections pass
# untouched, all their GETs reach Redis. Connections made after the
# follow are served (here: the readers reconnect, as pools retire
# connections).
h0=$(field 's["counters"]["hits"]'); g0=$(gets); sleep 1; h1=$(field 's["counters"]["hits"]'); g1=$(gets)
[ $((g1 - g0)) -gt 100 ] && pass "another cgroup: connections from before the follow go to Redis ($((g1 - g0)) GETs, kernel hits $h0 -> $h1)" 	|| fail "another cgroup: Redis saw $((g1 - g0)) GETs"
phase "readers reconnect"
recycle
r=$(hits_rise) && pass "another cgroup: after the readers reconnected, kernel hits rise ($r)" || fail "another cgroup: no hits after reconnecting ($r)"
phase "stats checks"
[ "$(field 's["cgroup"]')" = "$SVC2" ] && [ "$(field 's["server_pid"]')" = "$redis_pid" ] \
	&& [ "$(field 's["follows_listener"]')" = True ] \
	&& pass "stats after the followed restart: the new cgroup and pid" || fail "stats after the restart: $(stats)"
"$cli" redis stats --name "$N" | grep -qF "on $SVC2 " && "$cli" redis stats --name "$N" | grep -q "process $redis_pid (followed" \
	&& pass "stats text: the new cgroup and pid" || fail "stats text: $("$cli" redis stats --name "$N")"
[ "$(field 's["cache"]["reconnects"]')" -ge 2 ] && [ "$("$cli" redis stats --name "$N" --json --entries | "$PY" -c 'import json,sys; c=json.load(sys.stdin)["cache"]; print(c["entries_small"] + c["entries_large"])')" -gt 0 ] \
	&& pass "stats: reconnects and entries counted" || fail "stats cache: $(stats)"

# The text exposition, by Prometheus' rules and by its own parser.
"$cli" redis stats --name "$N" --prometheus > "$DIR/metrics"
stats > "$DIR/stats.json"
if "$PY" - "$DIR/metrics" "$DIR/stats.json" "$N" "$SVC2" <<'PYEOF'
import json, re, sys
from prometheus_client.parser import text_string_to_metric_families
text, s = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
name, cgroup = sys.argv[3], sys.argv[4]
assert '{cache="%s"' % name.replace("\\", "\\\\").replace('"', '\\"') in text, "label escaping"
helps, types, seen = {}, {}, set()
for line in text.splitlines():
    m = re.match(r"# (HELP|TYPE) (\S+) (.*)$", line)
    if m:
        (helps if m[1] == "HELP" else types)[m[2]] = m[3]
        continue
    metric = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", line)[1]
    assert metric in helps and metric in types, ("sample before its HELP/TYPE", line)
    assert types[metric] in ("counter", "gauge"), line
    assert metric.endswith("_total") == (types[metric] == "counter"), ("counter names end in _total", line)
    seen.add(metric)
assert seen == set(types) == set(helps), (seen, types)
v = {}
for f in text_string_to_metric_families(text):
    for smp in f.samples:
        labels = dict(smp.labels)
        assert labels.pop("cache") == name, smp        # escaped and read back
        v[(smp.name, tuple(sorted(labels.items())))] = smp.value
c = s["cache"]
assert v[("ebpfaccel_redis_cache_entries", (("class", "small"),))] >= 0
assert v[("ebpfaccel_redis_cache_entries", (("class", "small"),))] + \
    v[("ebpfaccel_redis_cache_entries", (("class", "large"),))] > 0, v
assert v[("ebpfaccel_redis_cache_capacity_entries", (("class", "large"),))] == c["capacity_large"] == 4096
assert v[("ebpfaccel_redis_cache_memory_bytes", ())] == c["memory_bytes"] > 0, v
assert v[("ebpfaccel_redis_cache_tracking_ok", ())] == 1
assert v[("ebpfaccel_redis_cache_reconnects_total", ())] >= 2
# automatic tracking (the default): either mode, as it stands
info = [k for k in v if k[0] == "ebpfaccel_redis_cache_info"]
assert len(info) == 1 and v[info[0]] == 1, v
assert info[0][1] in ((("cgroup", cgroup), ("tracking", "all")),
                      (("cgroup", cgroup), ("tracking", "keys"))), v
assert v[("ebpfaccel_redis_cache_serving", ())] == 1
PYEOF
then pass "stats --prometheus: HELP/TYPE, _total counters, escaped labels, entries, memory, coherence"
else fail "stats --prometheus (metrics in $DIR/metrics)"; cat "$DIR/metrics"; fi

# More restarts, into the cgroup the server is not in each time (the cache
# follows it back and forth), the readers reconnecting after each follow,
# while 'redis stats' (text and Prometheus) is read in a loop.
( while [ ! -e "$DIR/stop.stats" ]; do
	"$cli" redis stats --name "$N" >/dev/null 2>&1
	"$cli" redis stats --name "$N" --prometheus >/dev/null 2>&1
done ) &
statsloop=$!
c=0; cg=$SVC2
while [ $c -lt "${RESTART_SOAK_CYCLES:-3}" ]; do
	c=$((c + 1)); [ "$cg" = "$SVC" ] && cg=$SVC2 || cg=$SVC
	restart_into "$cg" "restart $c more, into ${cg##*/}"
	phase "restart $c more: readers reconnect"
	recycle
	r=$(hits_rise) && [ "$(field 's["cgroup"]')" = "$cg" ] \
		&& pass "restart $c more: followed into ${cg##*/}, kernel hits rise after the reconnect ($r)" \
		|| fail "restart $c more: $r; $(stats)"
done
touch "$DIR/stop.stats"; wait "$statsloop"; statsloop=
now=$cg		# where the server and the programs are now

# The holder dies under the soak: the programs go with its descriptors at
# once, and the soak keeps reading, from Redis now.
phase "holder SIGKILLed"
kill -9 "$holder"
i=0; while [ "$(bpftool cgroup show "$now" | grep -c sock_ops)" != 0 ] && [ $i -lt 20 ]; do i=$((i + 1)); sleep 0.05; done
[ $i -lt 20 ] && pass "holder SIGKILLed: nothing attached after $((i * 50)) ms" || fail "holder SIGKILLed: still attached"
# Its guard process (a fork of it, same arguments) turned serving off and exited.
ours() { ps -eo pid,args | NAME="--name $N" awk 'index($0, ENVIRON["NAME"])'; }
i=0; while [ -n "$(ours)" ] && [ $i -lt 40 ]; do i=$((i + 1)); sleep 0.05; done
[ $i -lt 40 ] && pass "holder SIGKILLed: its guard exited too" || fail "a process of the cache is left: $(ours)"
phase "after the holder died"
r0=$(soak_field reads); sleep 2
[ "$(soak_field reads)" -gt "$r0" ] && pass "soak goes on after the holder died" || fail "soak stalled after the holder died"

touch "$DIR/stop"; wait "$soak"; soak=
reads=$(soak_field reads); stale=$(soak_field stale); errors=$(soak_field errors); writes=$(soak_field writes)
echo "soak: $reads reads, $writes writes, $stale stale, $errors client errors (restarts)"
[ "$stale" = 0 ] && [ "$reads" -gt 1000 ] && pass "0 stale in $reads reads across $((2 + ${RESTART_SOAK_CYCLES:-3})) restarts and a killed holder" \
	|| fail "soak: $stale stale of $reads, from $(soak_field first_stale) s to $(soak_field last_stale) s: $(soak_field examples)"
g0=$(rcli info commandstats | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p')
ip netns exec "$NS" "$PY" -c '
import redis
r = redis.Redis(port=6379)
for i in range(100):
    assert r.get("soak:1") is not None
' || fail "GETs after the holder died"
g1=$(rcli info commandstats | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p')
[ $((g1 - g0)) = 100 ] && pass "after the holder died Redis answers every GET" || fail "Redis saw $((g1 - g0)) of 100 GETs"
finish
