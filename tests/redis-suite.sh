#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Redis' own test suite (the redis source package of this Debian release,
# tests/ in external-server mode) against a private redis-server with the
# in-kernel cache attached, and optionally without it, to tell what the cache
# changes.  By hand, as root: it takes 20-40 minutes.
#
#   make check-redis-suite        or   sh tests/redis-suite.sh [cache|plain|both] [runtest args]
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

run_mode() { # cache|plain [runtest args] -> log in $OUT/$1.log
	mode=$1; shift
	ns=ebpfaccel-rs-$$-$mode; name=rs$$$mode
	cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)/$ns
	tmp=$(mktemp -d)
	mkdir "$cg"; ip netns add "$ns"; ip -n "$ns" link set lo up
	sh -c 'echo $$ > "$1/cgroup.procs"; exec ip netns exec "$2" redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --dir "$3" --enable-debug-command yes --enable-module-command yes' \
		sh "$cg" "$ns" "$tmp" > "$tmp/redis.log" 2>&1 &
	i=0; until ip netns exec "$ns" redis-cli ping >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "redis-suite: redis-server did not start" >&2; return 1; }; sleep 0.1
	done
	[ "$mode" = plain ] || "$CLI" redis attach --cgroup "$cg" --port 6379 --netns "$ns" --name "$name"
	(cd "$src" && ip netns exec "$ns" ./runtest --host 127.0.0.1 --port 6379 --clients 4 \
		--timeout 600 --skiptest "$SKIP_TESTS" "$@") > "$OUT/$mode.log" 2>&1 || true
	[ "$mode" = plain ] || "$CLI" redis stats --name "$name" > "$OUT/$mode.stats" 2>&1 || true
	[ "$mode" = plain ] || "$CLI" redis detach --name "$name" >/dev/null 2>&1 || true
	pids=$(ip netns pids "$ns"); [ -z "$pids" ] || kill $pids 2>/dev/null || true
	sleep 0.5; ip netns del "$ns"; rmdir "$cg" 2>/dev/null || true; rm -rf "$tmp"
	sed 's/\x1b\[[0-9;]*m//g' "$OUT/$mode.log" | grep -E '^\[(err|exception|timeout)\]' > "$OUT/$mode.failed" || true
	printf '%s: %s tests ok, %s failed (%s)\n' "$mode" \
		"$(sed 's/\x1b\[[0-9;]*m//g' "$OUT/$mode.log" | grep -c '^\[ok\]')" \
		"$(wc -l < "$OUT/$mode.failed")" "$OUT/$mode.failed"
}

src=$(ls -d "$(fetch_source)"/redis-*/ | head -n1)
mkdir -p "$OUT"
case $MODE in
cache|plain) run_mode "$MODE" "$@" ;;
both) run_mode plain "$@"; run_mode cache "$@"
	echo "failed with the cache only:"
	sed 's/ ([0-9]* ms)$//' "$OUT/plain.failed" | sort > "$OUT/plain.f"
	sed 's/ ([0-9]* ms)$//' "$OUT/cache.failed" | sort | comm -23 - "$OUT/plain.f" | sed 's/^/  /' ;;
*) echo "usage: redis-suite.sh [cache|plain|both] [runtest args]" >&2; exit 2 ;;
esac
