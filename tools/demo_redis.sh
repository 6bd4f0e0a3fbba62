#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The quickstart's Redis demo (./quickstart.sh runs it; as root): a private
# redis-server in a network namespace and a cgroup, the same GET load from
# redis-benchmark (1 client) without and with the in-kernel cache attached
# by the ebpfaccel tool, side by side, with the cache's hit rate.
#
# Everything it makes is removed at the end, also on Ctrl-C or when the
# cache cannot attach (then it says why and exits 1).  The machine
# this runs on may be small and shared: the speed-up is a glimpse, not a
# benchmark (bench/redis_get is the benchmark).
# Knobs: DEMO_REQUESTS (default 20000).
set -eu
: "${top_builddir:=.}"
if [ "$(id -u)" != 0 ]; then echo "demo: needs root (netns, cgroups, BPF): skipped"; exit 0; fi
for tool in ip redis-server redis-cli redis-benchmark python3 taskset; do
	command -v $tool >/dev/null || { echo "demo: $tool is missing: skipped"; exit 0; }
done

CLI="$top_builddir/tools/ebpfaccel"
N=${DEMO_REQUESTS:-20000}
NS=qr$$
NAME=demo$$
CG="$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)/ebpfaccel-demo-redis-$$"
DIR=$(mktemp -d /tmp/ebpfaccel-demo.$$.XXXXXX)
redis_pid=

step() { printf '  .. %s\n' "$*"; }
cleanup() {
	trap - EXIT INT TERM
	"$CLI" redis detach --name "$NAME" >/dev/null 2>&1 || true
	pids=$(ip netns pids "$NS" 2>/dev/null || true)
	[ -z "$pids" ] || kill $pids 2>/dev/null || true
	[ -z "$redis_pid" ] || wait "$redis_pid" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	[ ! -d "$CG" ] || rmdir "$CG" 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up"; exit 130' INT TERM

step "a private redis-server in a network namespace and a cgroup"
mkdir "$CG"
ip netns add "$NS"
ip -n "$NS" link set lo up
# Server side (redis-server and the netns' softirqs, via RPS on lo) on the
# last CPU, the client on the first: otherwise the client is measured.
last=$(($(nproc) - 1))
ip netns exec "$NS" sh -c "printf '%x' $((1 << last)) > /sys/class/net/lo/queues/rx-0/rps_cpus" 2>/dev/null || true
sh -c 'echo $$ > "$1/cgroup.procs"; exec ip netns exec "$2" taskset -c "$4" redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --dir "$3"' \
	sh "$CG" "$NS" "$DIR" "$last" > "$DIR/redis.log" 2>&1 &
redis_pid=$!
i=0; until [ "$(ip netns exec "$NS" redis-cli ping 2>/dev/null)" = PONG ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: redis-server did not start" >&2; exit 1; }; sleep 0.05
done

bench() { # -> "requests/s mean_ms"
	ip netns exec "$NS" taskset -c 0 redis-benchmark -q -c 1 -n "$N" -r 1000 -d 64 -t "$1" --csv 2>/dev/null |
		awk -F'"' '/^"(GET|SET)"/ { print $4, $6 }'
}
step "1000 keys of 64 bytes (redis-benchmark SET)"
bench set > /dev/null
step "$N GETs from one client, plain Redis"
set -- $(bench get); plain_rps=$1; plain_ms=$2
printf '     %s requests/s, mean %s ms\n' "$plain_rps" "$plain_ms"

step "attaching the cache (ebpfaccel redis attach)"
# The tool says in one line why it cannot attach (a kernel whose verifier
# refuses the cache's programs, a missing capability): no figures then.
if ! attached=$("$CLI" redis attach --cgroup "$CG" --port 6379 --netns "$NS" --name "$NAME" 2>&1); then
	printf '     %s\n' "$attached" >&2
	echo "demo: the in-kernel cache cannot attach on this machine (Linux $(uname -r)): no figures with the cache" >&2
	exit 1
fi
printf '     %s\n' "$attached"
step "$N GETs from one client, with the cache"
set -- $(bench get); cache_rps=$1; cache_ms=$2
printf '     %s requests/s, mean %s ms\n' "$cache_rps" "$cache_ms"
hit=$("$CLI" redis stats --name "$NAME" --json | python3 -c 'import json,sys; print("%.0f" % (100 * json.load(sys.stdin)["hit_rate"]))')
echo "$plain_rps $cache_rps $plain_ms $cache_ms $hit" | awk '{
	printf "==> Redis GET, 1 client: %.2fx requests/s, %.2fx mean latency with the cache; hit rate %d%%\n",
		$2 / $1, ($3 > 0 ? $4 / $3 : 0), $5 }'
step "detaching (Redis keeps serving) and cleaning up"
