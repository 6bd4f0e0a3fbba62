#!/bin/sh
# The quickstart's demos (tools/demo_comp.sh, tools/demo_redis.sh): they show a gain,
# and leaves no network namespace, cgroup, pin or process behind, neither
# when it finishes nor when it is interrupted with Ctrl-C (SIGINT to its
# process group, as a terminal sends it).
set -u
demo="${top_srcdir:-.}/tools/demo_comp.sh"
. "${top_srcdir:-$(dirname "$0")/..}/tests/cli_lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (netns, cgroups, BPF)"; exit 77; }
for t in ip tc unshare setsid python3 tar pgrep redis-server redis-benchmark taskset; do
	command -v $t >/dev/null || { echo "SKIP: $t is missing"; exit 77; }
done
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# A shell starts background jobs with SIGINT ignored, which a script cannot
# trap: restore it, in a process group of its own as a terminal would make
# (use it with &: it replaces the shell that runs it).
interruptible() {
	exec python3 -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

leftovers() { # pid of a demo run
	ip netns list | grep -E "^qs$1[sr]( |$)"
	[ ! -d "$cg2/ebpfaccel-demo-$1" ] || echo "cgroup $cg2/ebpfaccel-demo-$1"
	ls -d /sys/fs/bpf/ebpfaccel/comp/demo 2>/dev/null
	ls -d /tmp/ebpfaccel-demo."$1".* 2>/dev/null
	# Its session (setsid): not the processes of other runs' demos.
	pgrep -s "$1"
}

# A whole run, small.
DEMO_MB=4 DEMO_RATE=50mbit top_builddir="${top_builddir:-.}" setsid "$demo" > "$out" 2>&1 &
pid=$!
wait $pid; rc=$?
[ $rc = 0 ] && pass "demo exits 0" || fail "demo exit $rc: $(cat "$out")"
grep -qE '^==> compression gain on a 50mbit link: [0-9.]+x faster, [0-9]+% of the bytes' "$out" \
	&& pass "demo prints the gain" || fail "no gain line: $(cat "$out")"
speedup=$(sed -n 's/.*link: \([0-9.]*\)x faster.*/\1/p' "$out")
awk -v s="$speedup" 'BEGIN { exit !(s > 1.5) }' && pass "compressed is faster (${speedup}x)" \
	|| fail "compressed is not faster: ${speedup}x"
[ "$(grep -c '^  \.\. ' "$out")" -ge 6 ] && pass "a progress line per step" || fail "progress lines: $(cat "$out")"
left=$(leftovers $pid)
[ -z "$left" ] && pass "nothing left after a run" || fail "left after a run: $left"

# Ctrl-C while the first transfer runs.
DEMO_MB=16 DEMO_RATE=10mbit top_builddir="${top_builddir:-.}" interruptible "$demo" > "$out" 2>&1 &
pid=$!
i=0; until grep -q "sending it to port 7301" "$out" || [ $i -ge 300 ]; do i=$((i + 1)); sleep 0.1; done
sleep 1
env kill -INT -- -$pid
wait $pid; rc=$?
[ $rc = 130 ] && pass "interrupted demo exits 130" || fail "interrupted demo exit $rc: $(cat "$out")"
grep -q "interrupted, cleaning up" "$out" && pass "says it cleans up" || fail "no cleanup message: $(cat "$out")"
# killed processes take a moment to go on a loaded machine: 5 s at most
i=0; left=$(leftovers $pid)
while [ -n "$left" ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; left=$(leftovers $pid); done
[ -z "$left" ] && pass "nothing left after Ctrl-C" || fail "left after Ctrl-C: $left"

# The Redis demo: hit rate shown, nothing left, also after Ctrl-C.
rdemo="${top_srcdir:-.}/tools/demo_redis.sh"
rleftovers() { # pid of a demo run
	ip netns list | grep -E "^qr$1( |$)"
	[ ! -d "$cg2/ebpfaccel-demo-redis-$1" ] || echo "cgroup $cg2/ebpfaccel-demo-redis-$1"
	ls /run/ebpfaccel/redis/demo$1.* 2>/dev/null
	pgrep -f "redis-server .*ebpfaccel-demo" | while read -r p; do
		grep -q "qr$1" "/proc/$p/cmdline" 2>/dev/null && echo "redis-server $p"; done
	pgrep -f "ebpfaccel redis attach .*--name demo$1"
}
# Whether the cache's object loads on this kernel decides what the demo
# must do: show the figures, or stop its Redis part with the tool's line.
cache_loads=$("${top_builddir:-.}/tools/ebpfaccel" features --json | python3 -c '
import json, sys
f = [x for x in json.load(sys.stdin) if x["name"] == "redis_cache"][0]
print("yes" if f["supported"] else f["detail"])')
DEMO_REQUESTS=5000 top_builddir="${top_builddir:-.}" "$rdemo" > "$out" 2>&1 &
pid=$!
wait $pid; rc=$?
if [ "$cache_loads" = yes ]; then
	[ $rc = 0 ] && pass "redis demo exits 0" || fail "redis demo exit $rc: $(cat "$out")"
	grep -qE '^==> Redis GET, 1 client: [0-9.]+x requests/s, [0-9.]+x mean latency with the cache; hit rate ([5-9][0-9]|100)%' "$out" \
		&& pass "redis demo shows both and a hit rate over 50%" || fail "redis demo output: $(cat "$out")"
else
	echo "note: the cache does not load here: $cache_loads"
	[ $rc = 1 ] && pass "redis demo exits 1 when the cache cannot attach" || fail "redis demo exit $rc: $(cat "$out")"
	grep -qxF "     ebpfaccel: redis attach: $cache_loads (run with --debug for the full log)" "$out" \
		&& pass "redis demo says why in the tool's one line" || fail "redis demo output: $(cat "$out")"
	[ "$(grep -c 'ebpfaccel: redis attach' "$out")" = 1 ] && ! grep -qE 'Traceback|^==> Redis GET|from one client, with the cache' "$out" \
		&& pass "redis demo: no traceback, no figures with the cache" || fail "redis demo output: $(cat "$out")"
fi
left=$(rleftovers $pid)
[ -z "$left" ] && pass "redis demo: nothing left" || fail "redis demo left: $left"
# Ctrl-C in the middle of a measurement.
step="with the cache"
[ "$cache_loads" = yes ] || step="plain Redis"
DEMO_REQUESTS=2000000 top_builddir="${top_builddir:-.}" interruptible "$rdemo" > "$out" 2>&1 &
pid=$!
i=0; until grep -q "$step" "$out" || [ $i -ge 300 ]; do i=$((i + 1)); sleep 0.1; done
sleep 0.5
env kill -INT -- -$pid
wait $pid; rc=$?
[ $rc = 130 ] && pass "interrupted redis demo exits 130" || fail "interrupted redis demo exit $rc: $(cat "$out")"
sleep 0.5
left=$(rleftovers $pid)
[ -z "$left" ] && pass "redis demo: nothing left after Ctrl-C" || fail "redis demo left after Ctrl-C: $left"

finish
