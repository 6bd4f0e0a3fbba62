#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Redis' own test suite (the redis source package of this Debian release,
# tests/ in external-server mode) against a private redis-server with the
# in-kernel cache attached (the server-side cache on redis-server's cgroup, in
# sockmap or XDP mode, or the near cache on the cgroup of the suite's own
# clients), and optionally
# without it, to tell what each cache changes.  By hand, as root: 20-40
# minutes a mode.
#
#   make check-redis-suite        or   sh tests/redis-suite.sh [cache|xdp|near|plain|both|all] [runtest args]
#   (both: plain and cache; all: plain, cache, xdp and near)
#
# The source is fetched once with apt-get source, using deb-src entries
# derived from the machine's own apt sources (in a private apt configuration,
# the system's is not touched), into $EBPFACCEL_CACHE_DIR/redis-src
# (default /var/cache/ebpfaccel).  Output: the suite's own log per mode in
# $OUT (default ./redis-suite), and a summary of failed tests per mode.
set -eu
: "${top_builddir:=.}"
MODE=${1:-cache}
[ $# -gt 0 ] && shift
CLI=$(cd "$top_builddir" && pwd)/tools/ebpfaccel
CACHE=${EBPFACCEL_CACHE_DIR:-/var/cache/ebpfaccel}/redis-src
OUT=${OUT:-$(pwd)/redis-suite}
# Not a cache or kernel matter: this test reads a child's pid that an
# external server does not have (Redis 7.0's suite, external mode).
SKIP_TESTS=${SKIP_TESTS:-"SRANDMEMBER with a dict containing long chain"}

[ "$(id -u)" = 0 ] || { echo "redis-suite: needs root (netns, cgroups, BPF)" >&2; exit 77; }
for t in redis-server tclsh ip; do
	command -v $t >/dev/null || { echo "redis-suite: $t missing (deps/debian-packages.txt)" >&2; exit 77; }
done
[ -x "$CLI" ] || { echo "redis-suite: build first ($CLI missing)" >&2; exit 1; }

fetch_source() {
	ver=$(dpkg-query -W -f '${source:Version}' redis-server)
	dir=$CACHE/$ver
	if [ -f "$dir/.complete" ]; then echo "$dir"; return; fi
	rm -rf "$dir"; mkdir -p "$dir/apt/parts" "$dir/apt/lists/partial"
	# deb-src twins of the machine's deb entries, both source formats
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f" > "$dir/apt/parts/${f##*/}"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && sed -n 's/^deb /deb-src /p' "$f" >> "$dir/apt/parts/src.list"
	done
	set -- -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$dir/apt/parts" \
		-o Dir::State::Lists="$dir/apt/lists" -o APT::Sandbox::User=root
	apt-get "$@" -q update >&2
	(cd "$dir" && apt-get "$@" -q source --download-only "redis=$ver" >&2)
	tar -C "$dir" -xzf "$dir"/redis_*.orig.tar.gz
	src=$(ls -d "$dir"/redis-*/ | head -n1)
	mkdir -p "$src/src"
	# the suite looks for its binaries in src/: the installed ones
	for b in redis-server redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
		ln -sf "/usr/bin/$b" "$src/src/$b"
	done
	touch "$dir/.complete"
	echo "$dir"
}

cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
live_ns= live_nsc= live_name= live_cmd= live_cg= live_ccg= live_tmp=
# Leaves nothing behind, also when the suite is interrupted.
mode_cleanup() {
	[ -z "$live_cmd" ] || "$CLI" $live_cmd detach --name "$live_name" >/dev/null 2>&1 || true
	if [ -n "$live_ns" ]; then
		pids=$(ip netns pids "$live_ns" 2>/dev/null); [ -z "$pids" ] || kill $pids 2>/dev/null || true
		sleep 0.5; ip netns del "$live_ns" 2>/dev/null || true
	fi
	[ -z "$live_nsc" ] || ip netns del "$live_nsc" 2>/dev/null || true
	for d in "$live_ccg" "$live_cg"; do [ -z "$d" ] || rmdir "$d" 2>/dev/null || true; done
	[ -z "$live_tmp" ] || rm -rf "$live_tmp"
	live_ns= live_nsc= live_name= live_cmd= live_cg= live_ccg= live_tmp=
}
trap mode_cleanup EXIT
trap 'exit 1' INT TERM

# The suite's clients in their own netns, redis-server in another, over a
# veth pair (the addresses are this script's own); the clients' end gets a
# pass-through XDP program, without which veth drops what XDP sends back.
xdp_link() {
	live_nsc=$live_ns-c
	ip netns add "$live_nsc"; ip -n "$live_nsc" link set lo up
	ip link add "rss$$" netns "$live_ns" type veth peer name "rsc$$" netns "$live_nsc"
	ip -n "$live_ns" addr add 10.78.0.1/24 dev "rss$$"
	ip -n "$live_nsc" addr add 10.78.0.2/24 dev "rsc$$"
	ip -n "$live_ns" link set "rss$$" up; ip -n "$live_nsc" link set "rsc$$" up
	nsenter --net="/run/netns/$live_nsc" "$top_builddir/bench/xdp_pass" "rsc$$"
}

# plain: no cache; cache: the server-side cache on redis-server's cgroup;
# xdp: the same in XDP mode, the suite over a veth pair from another netns;
# near: the near cache on the cgroup of the suite's own client processes.
run_mode() { # plain|cache|xdp|near [runtest args] -> log in $OUT/$1.log
	mode=$1; shift
	live_ns=ebpfaccel-rs-$$-$mode; live_name=rs$$$mode
	live_cg=$cg2/$live_ns; live_ccg=$cg2/$live_ns-clients
	live_tmp=$(mktemp -d)
	mkdir "$live_cg" "$live_ccg"; ip netns add "$live_ns"; ip -n "$live_ns" link set lo up
	host=127.0.0.1 bind=127.0.0.1 cns=$live_ns
	# Over the veth pair this test's stand-in listener is in the clients' netns,
	# not the server's: the port is free there, Redis moves to it and the suite
	# loses its server.  A matter of the topology, not of the cache.
	[ "$mode" != xdp ] || { xdp_link; host=10.78.0.1 bind="10.78.0.1 127.0.0.1" cns=$live_nsc
		set -- --skiptest "CONFIG SET rollback on apply error" "$@"; }
	sh -c 'echo $$ > "$1/cgroup.procs"; exec ip netns exec "$2" redis-server --port 6379 --bind $4 --protected-mode no --save "" --appendonly no --dir "$3" --enable-debug-command yes --enable-module-command yes' \
		sh "$live_cg" "$live_ns" "$live_tmp" "$bind" > "$live_tmp/redis.log" 2>&1 &
	i=0; until ip netns exec "$cns" redis-cli -h $host ping >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "redis-suite: redis-server did not start" >&2; return 1; }; sleep 0.1
	done
	case $mode in
	cache) live_cmd=redis
		"$CLI" redis attach --cgroup "$live_cg" --port 6379 --netns "$live_ns" --name "$live_name" ;;
	xdp) live_cmd=redis
		"$CLI" redis attach --cgroup "$live_cg" --port 6379 --netns "$live_ns" --mode xdp --dev "rss$$" --name "$live_name" ;;
	near) live_cmd="redis near"
		"$CLI" redis near attach --cgroup "$live_ccg" --server 127.0.0.1:6379 --netns "$live_ns" --name "$live_name" ;;
	esac
	(cd "$src" && sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$live_ccg" \
		ip netns exec "$cns" ./runtest --host $host --port 6379 --clients 4 \
		--timeout 600 --skiptest "$SKIP_TESTS" "$@") > "$OUT/$mode.log" 2>&1 || true
	[ "$mode" = plain ] || "$CLI" $live_cmd stats --name "$live_name" > "$OUT/$mode.stats" 2>&1 || true
	mode_cleanup
	sed 's/\x1b\[[0-9;]*m//g' "$OUT/$mode.log" | grep -E '^\[(err|exception|timeout)\]' > "$OUT/$mode.failed" || true
	printf '%s: %s tests ok, %s failed (%s)\n' "$mode" \
		"$(sed 's/\x1b\[[0-9;]*m//g' "$OUT/$mode.log" | grep -c '^\[ok\]')" \
		"$(wc -l < "$OUT/$mode.failed")" "$OUT/$mode.failed"
}

# Lists the tests that failed in mode $1 but not without a cache.
only_with() {
	sed 's/ ([0-9]* ms)$//' "$OUT/plain.failed" | sort > "$OUT/plain.f"
	echo "failed with the $1 cache only:"
	sed 's/ ([0-9]* ms)$//' "$OUT/$1.failed" | sort | comm -23 - "$OUT/plain.f" | sed 's/^/  /'
}

src=$(ls -d "$(fetch_source)"/redis-*/ | head -n1)
mkdir -p "$OUT"
case $MODE in
cache|plain|near|xdp) run_mode "$MODE" "$@" ;;
both) run_mode plain "$@"; run_mode cache "$@"; only_with cache ;;
all) run_mode plain "$@"; run_mode cache "$@"; run_mode xdp "$@"; run_mode near "$@"
	only_with cache; only_with xdp; only_with near ;;
*) echo "usage: redis-suite.sh [cache|xdp|near|plain|both|all] [runtest args]" >&2; exit 2 ;;
esac
