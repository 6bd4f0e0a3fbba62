#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Compression over a rate-limited veth link, side by side with the plain
# transfer in the same run, plus the engine against `zstd -b1` / `lz4 -b1`.
# Run by hand as root: `make bench` (or top_builddir=. sh bench/comp_link.sh).
# Sender is pinned to CPU 0 and receiver to CPU 1; on a shared 2-core machine
# the numbers are noisy.  A short demo: COMP_BENCH_MB=32 COMP_BENCH_RATES=1gbit
# COMP_BENCH_CONFIGS="none/block lz4/stream" COMP_BENCH_ENGINE=0.
set -eu
: "${top_builddir:=.}"
XFER="$top_builddir/bench/comp_xfer"
SIZE_MB=${COMP_BENCH_MB:-100}
RATES=${COMP_BENCH_RATES:-"1gbit 10gbit"}
# zstd at level 1 to compare with `zstd -b1` (the library default is zstd's 3).
CONFIGS=${COMP_BENCH_CONFIGS:-"none/block zstd:1/block zstd:1/stream lz4/block lz4/stream"}

if [ "$(id -u)" != 0 ]; then
	echo "comp_link: needs root (netns, veth, tc): skipped"; exit 0
fi
for tool in ip tc taskset zstd lz4 tar; do
	command -v $tool >/dev/null || { echo "comp_link: $tool missing: skipped"; exit 0; }
done

TAG=cl$$
NS_S=${TAG}s; NS_R=${TAG}r
DIR=$(mktemp -d /tmp/comp_link.XXXXXX)
cleanup() {
	ip netns del "$NS_S" 2>/dev/null || true
	ip netns del "$NS_R" 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

ip netns add "$NS_S"; ip netns add "$NS_R"
ip link add "${TAG}a" netns "$NS_S" type veth peer name "${TAG}b" netns "$NS_R"
ip -n "$NS_S" addr add 198.19.77.1/24 dev "${TAG}a"
ip -n "$NS_R" addr add 198.19.77.2/24 dev "${TAG}b"
for ns in "$NS_S" "$NS_R"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "${TAG}a" up; ip -n "$NS_R" link set "${TAG}b" up

# (a) compressible: a tar of /usr/include (+ /usr/share/doc), (b) random.
tar cf - /usr/include /usr/share/doc 2>/dev/null | head -c $((SIZE_MB << 20)) > "$DIR/text"
head -c $((SIZE_MB << 20)) /dev/urandom > "$DIR/random"

run_one() { # rate data algo mode -> "seconds wire cpu_send cpu_recv"
	ip netns exec "$NS_R" taskset -c 1 "$XFER" recv 198.19.77.2 7100 "$3" "$4" > "$DIR/recv.out" &
	rpid=$!
	i=0; until grep -q ready "$DIR/recv.out" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || { echo "receiver did not start" >&2; exit 1; }; sleep 0.05
	done
	ip netns exec "$NS_S" taskset -c 0 "$XFER" send 198.19.77.2 7100 "$3" "$4" "$DIR/$2" > "$DIR/send.out"
	wait $rpid
	s=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$DIR/send.out")
	w=$(sed -n 's/.*wire=\([0-9]*\).*/\1/p' "$DIR/send.out")
	cs=$(sed -n 's/.*cpu_send=\([0-9.]*\).*/\1/p' "$DIR/send.out")
	cr=$(sed -n 's/.*cpu_recv=\([0-9.]*\).*/\1/p' "$DIR/recv.out")
	echo "$s $w $cs $cr"
}

echo "comp_link: $SIZE_MB MiB per transfer; sender on CPU 0, receiver on CPU 1 (shared machine: noisy)"
for rate in $RATES; do
	tc -n "$NS_S" qdisc replace dev "${TAG}a" root tbf rate "$rate" burst 4mb latency 100ms
	for data in text random; do
		printf '\n%-7s %-6s %-12s %8s %10s %9s %9s | %8s %8s %8s\n' link data config seconds \
			wire_MiB cpu_snd cpu_rcv speedup wire/raw cpu/plain
		base=""
		for cfg in $CONFIGS; do
			set -- $(run_one "$rate" "$data" "${cfg%/*}" "${cfg#*/}")
			[ -n "$base" ] || base="$1 $3 $4"
			echo "$rate $data $cfg $1 $2 $3 $4 $base $SIZE_MB" | awk '{
				bytes = $11 * 1048576; cpu = $6 + $7; bcpu = $9 + $10;
				printf "%-7s %-6s %-12s %8.3f %10.1f %9.3f %9.3f | %7.2fx %8.3f %7.2fx\n",
					$1, $2, $3, $4, $5 / 1048576, $6, $7, $8 / $4, $5 / bytes,
					(bcpu > 0 ? cpu / bcpu : 0) }'
		done
	done
done

[ "${COMP_BENCH_ENGINE:-1}" = 1 ] || exit 0
echo
echo "engine (one core, in memory) vs the command-line tools on the same $SIZE_MB MiB of text:"
zline=$(zstd -b1 -i3 "$DIR/text" 2>&1 | tr '\r' '\n' | grep 'MB/s' | tail -1)
lline=$(lz4 -b1 -i3 "$DIR/text" 2>&1 | tr '\r' '\n' | grep 'MB/s' | tail -1)
tool_speed() { # line field(1=comp,2=decomp)
	echo "$1" | sed 's/.*)[, ]*//' | awk -F, -v f="$2" '{ v = $f; gsub(/[^0-9.]/, "", v); print v }'
}
printf '%-12s %9s %11s %11s | %10s %10s %10s\n' config ratio comp_MB/s decomp_MB/s tool_comp tool_dec \
	engine/tool
for cfg in zstd:1/block zstd:1/stream lz4/block lz4/stream; do
	out=$("$XFER" engine "${cfg%/*}" "${cfg#*/}" "$DIR/text")
	case $cfg in zstd*) line=$zline ;; *) line=$lline ;; esac
	tc_=$(tool_speed "$line" 1); td_=$(tool_speed "$line" 2)
	echo "$cfg $out $tc_ $td_" | sed 's/[a-z_]*=//g' | awk '{
		printf "%-12s %8.2f:1 %11.1f %11.1f | %10.1f %10.1f %9.2fx\n",
			$1, $2 / $3, $4, $5, $6, $7, $4 / $6 }'
done
echo "tools: zstd -b1: $zline"
echo "       lz4 -b1:  $lline"
