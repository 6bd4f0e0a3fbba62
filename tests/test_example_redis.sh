#!/bin/sh
# examples/redis_cache_stats against a private redis-server in its own netns
# and cgroup: GETs on one connection are answered by the kernel (hits and a
# hit rate show up, Redis' own GET count stays below what was sent), and
# Redis keeps serving after the example detaches.
set -u
ex="${top_builddir:-.}/examples/redis_cache_stats"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (netns, cgroup, BPF)"; exit 77; }
command -v redis-server >/dev/null || { echo "SKIP: redis-server not installed"; exit 77; }
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg2" ] || { echo "SKIP: no cgroup2 mount"; exit 77; }

# eafx-<pid>-: the fixtures' names, which tests/test_leftovers.last checks.
ns=eafx-$$-example-$(od -An -N2 -tx2 /dev/urandom | tr -d ' ')
cg=$cg2/ebpfaccel-test-$$-example
dir=$(mktemp -d)
port=6390
cleanup() {
	# Everything started lives in the netns: end it all there ($! of a
	# backgrounded shell function is the subshell, not redis-server).
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rmdir "$cg" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; [ -f "$dir/ex.out" ] && cat "$dir/ex.out"; exit 1; }
# nsenter, not "ip netns exec": the latter remounts /sys and hides the cgroup2 mount.
in_ns() { nsenter --net=/run/netns/"$ns" "$@"; }

ip netns add "$ns" && ip -n "$ns" link set lo up || fail "netns"
mkdir "$cg" || fail "cgroup"
in_ns sh -c "echo \$\$ > $cg/cgroup.procs; exec redis-server --port $port --save '' --appendonly no --dir $dir --logfile $dir/redis.log" &
redis_pid=$!
for i in $(seq 100); do in_ns redis-cli -p $port PING >/dev/null 2>&1 && break; sleep 0.05; done
in_ns redis-cli -p $port SET greeting hello >/dev/null || fail "redis-server did not start"

in_ns "$ex" --port $port --cgroup "$cg" --seconds 4 > "$dir/ex.out" 2>&1 &
ex_pid=$!
for i in $(seq 100); do grep -q 'hits' "$dir/ex.out" 2>/dev/null && break; sleep 0.05; done
grep -q 'hits' "$dir/ex.out" || fail "the example did not attach"

calls() { in_ns redis-cli -p $port INFO commandstats | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p'; }
before=$(calls); before=${before:-0}
# 200 GETs on one connection accepted after the attach.
in_ns redis-cli -p $port -r 200 GET greeting > "$dir/gets.out" || fail "redis-cli"
[ "$(sort -u "$dir/gets.out")" = hello ] || fail "a GET returned $(sort -u "$dir/gets.out" | head -3)"
after=$(calls)
served_by_redis=$((after - before))
wait "$ex_pid"; ex_pid=
hits=$(awk 'NR > 1 { h = $1 } END { print h + 0 }' "$dir/ex.out")
cat "$dir/ex.out"
echo "Redis answered $served_by_redis of 200 GETs; the kernel counted $hits hits"
[ "$hits" -gt 100 ] || fail "too few kernel hits: $hits"
[ "$served_by_redis" -lt 100 ] || fail "Redis still answered $served_by_redis GETs"
tail -1 "$dir/ex.out" | grep -q '%$' || fail "no hit rate column"
# Detached: Redis and new clients are untouched.
[ "$(in_ns redis-cli -p $port GET greeting)" = hello ] || fail "Redis after detach"
rpid=$(in_ns redis-cli -p $port INFO server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
cleanup; trap - EXIT INT TERM
[ -n "$rpid" ] && kill -0 "$rpid" 2>/dev/null && fail "redis-server $rpid outlived the test"
echo "PASS: example attaches, serves from the kernel, detaches cleanly"
