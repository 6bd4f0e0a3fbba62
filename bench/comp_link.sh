#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Compression over a rate-limited veth link, side by side with the plain
# transfer in the same run, plus the engine against the libraries (what
# `zstd -b1` / `lz4 -b1` time): bench/comp_engine_speed.
# Run by hand as root: `make bench` (or top_builddir=. sh bench/comp_link.sh).
# Sender is pinned to CPU 0 and receiver to CPU 1; on a shared 2-core machine
# the numbers are noisy.  A short demo: COMP_BENCH_MB=32 COMP_BENCH_RATES=1gbit
# COMP_BENCH_CONFIGS="none/block lz4/stream" COMP_BENCH_ENGINE=0.
# The auto policy section (COMP_BENCH_AUTO=ALGO/MODE, default zstd:1/block;
# "" skips it) compares plain, forced ALGO/MODE and the auto policy over
# COMP_BENCH_ROUNDS (default 5) rounds in rotating order and prints medians;
# COMP_BENCH_CONFIGS="" skips the table of forced configurations;
# COMP_BENCH_WARMUP_S and COMP_BENCH_TICK_MS: see the auto section below.
set -eu
: "${top_builddir:=.}"
XFER="$top_builddir/bench/comp_xfer"
SIZE_MB=${COMP_BENCH_MB:-100}
RATES=${COMP_BENCH_RATES:-"1gbit 10gbit"}
# zstd at level 1 to compare with `zstd -b1` (the library default is zstd's 3).
CONFIGS=${COMP_BENCH_CONFIGS-"none/block zstd:1/block zstd:1/stream lz4/block lz4/stream"}
AUTO=${COMP_BENCH_AUTO-"zstd:1/block"}
ROUNDS=${COMP_BENCH_ROUNDS:-5}
TICK_MS=${COMP_BENCH_TICK_MS:-100}
WARMUP_S=${COMP_BENCH_WARMUP_S:-0.6}

if [ "$(id -u)" != 0 ]; then
	echo "comp_link: needs root (netns, veth, tc): skipped"; exit 0
fi
for tool in ip tc taskset nsenter zstd lz4 tar; do
	command -v $tool >/dev/null || { echo "comp_link: $tool missing: skipped"; exit 0; }
done

TAG=cl$$
NS_S=${TAG}s; NS_R=${TAG}r
DIR=$(mktemp -d /tmp/comp_link.XXXXXX)
CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CG_S=$CG_ROOT/comp_link.$$.s; CG_C=$CG_ROOT/comp_link.$$.c
ctl_pid=""
cleanup() {
	[ -z "$ctl_pid" ] || { kill "$ctl_pid" 2>/dev/null; wait "$ctl_pid" 2>/dev/null; } || true
	ip netns del "$NS_S" 2>/dev/null || true
	ip netns del "$NS_R" 2>/dev/null || true
	rmdir "$CG_S" "$CG_C" 2>/dev/null || true
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

in_cg() { # cgroup-dir|"" command...: run command with its process in that cgroup
	cg=$1; shift
	if [ -n "$cg" ]; then
		sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
	else
		"$@"
	fi
}

run_one() { # rate data algo mode [min_seconds] -> "seconds wire cpu_send cpu_recv tx_algo"
	# $RUN_CG_R / $RUN_CG_S: cgroups of receiver and sender (negotiation).
	# A stale "ready" must not let the sender connect before the listen.
	rm -f "$DIR/recv.out"
	in_cg "${RUN_CG_R:-}" ip netns exec "$NS_R" taskset -c 1 "$XFER" recv 198.19.77.2 7100 "$3" "$4" \
		> "$DIR/recv.out" &
	rpid=$!
	i=0; until grep -q ready "$DIR/recv.out" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || { echo "receiver did not start" >&2; exit 1; }; sleep 0.05
	done
	in_cg "${RUN_CG_S:-}" ip netns exec "$NS_S" taskset -c 0 "$XFER" send 198.19.77.2 7100 "$3" "$4" \
		"$DIR/$2" ${5:-} > "$DIR/send.out" || { kill $rpid; echo "sender failed" >&2; exit 1; }
	wait $rpid
	s=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$DIR/send.out")
	w=$(sed -n 's/.*wire=\([0-9]*\).*/\1/p' "$DIR/send.out")
	cs=$(sed -n 's/.*cpu_send=\([0-9.]*\).*/\1/p' "$DIR/send.out")
	cr=$(sed -n 's/.*cpu_recv=\([0-9.]*\).*/\1/p' "$DIR/recv.out")
	ta=$(sed -n 's/.*tx_algo=\([0-9]*\).*/\1/p' "$DIR/send.out")
	echo "$s $w $cs $cr $ta"
}

echo "comp_link: $SIZE_MB MiB per transfer; sender on CPU 0, receiver on CPU 1 (shared machine: noisy)"
set_rate() { tc -n "$NS_S" qdisc replace dev "${TAG}a" root tbf rate "$1" burst 4mb latency 100ms; }

for rate in $RATES; do
	[ -n "$CONFIGS" ] || break
	set_rate "$rate"
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

# ---- auto policy ----
# Negotiation happens at the handshake, so one auto run is: start autoctl
# (policies on two fresh cgroups, server rule OFF, probe on the receiver's
# veth), warm-up connections from the client cgroup, each sending the same
# data again and again for at least COMP_BENCH_WARMUP_S seconds (0.6; a
# steady stream: separate 0.1 s transfers at 10 Gbit/s give intervals whose
# verdicts alternate, and the hysteresis rightly never settles), until the
# decision has settled, then ONE measured transfer on a new connection that
# negotiates with the decision in force.  Its time, wire bytes and CPU are
# measured exactly as for the other configurations; the warm-up is not timed,
# and the controller (probe + policy, pinned with the receiver: it is the
# receiving host that probes and decides) keeps running until the
# measured transfer ends: its CPU is printed apart.
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
	END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

ratios() { # label, then t_off t_on t_auto, or with "paired": the three per-round ratio medians
	echo "$2 $3 $4 ${5:-}" | awk -v l="$1" '{
		if ($4 == "paired") { sau = $1; son = $2; af = $3 } else { sau = $1 / $3; son = $1 / $2; af = $2 / $3 }
		printf "ratios, throughput, %-17s auto/plain %.3f  forced/plain %.3f  auto/forced %.3f  share of forced gain %s\n",
			l ":", sau, son, af, (son > 1.05) ? sprintf("%.3f", (sau - 1) / (son - 1)) : "n/a (no forced gain)" }'
}

auto_run() { # data -> "seconds wire cpu_send cpu_recv tx_algo warmups cpu_ctl reason"
	rm -f "$DIR/ctl.out"
	nsenter --net=/run/netns/"$NS_R" taskset -c 1 "$XFER" autoctl "${TAG}b" 7100 "$CG_S" "$CG_C" \
		"${AUTO%/*}" "${AUTO#*/}" "$TICK_MS" > "$DIR/ctl.out" &
	ctl_pid=$!
	i=0; until grep -q ready "$DIR/ctl.out" 2>/dev/null; do
		i=$((i + 1)); kill -0 $ctl_pid && [ $i -lt 200 ] || { echo "autoctl did not start" >&2; exit 1; }
		sleep 0.05
	done
	warm=0
	until grep -q settled "$DIR/ctl.out"; do
		warm=$((warm + 1))
		[ $warm -le 8 ] || { echo "auto policy did not settle" >&2; cat "$DIR/ctl.out" >&2; exit 1; }
		RUN_CG_R=$CG_S RUN_CG_S=$CG_C run_one "$rate" "$1" neg block "$WARMUP_S" > /dev/null
		sleep "$(echo "$TICK_MS" | awk '{ print 3 * $1 / 1000 }')"
	done
	m=$(RUN_CG_R=$CG_S RUN_CG_S=$CG_C run_one "$rate" "$1" neg block)
	kill $ctl_pid; wait $ctl_pid || true; ctl_pid=""
	grep settled "$DIR/ctl.out" > "$DIR/auto.settled"
	echo "$m $warm $(sed -n 's/^cpu_ctl=\([0-9.]*\).*/\1/p' "$DIR/ctl.out")" \
		"$(sed -n 's/^settled compress=\([01]\) reason=\([a-z-]*\).*/\2/p' "$DIR/ctl.out")"
}

if [ -n "$AUTO" ]; then
	mkdir "$CG_S" "$CG_C"
	echo
	echo "auto policy ($AUTO when on) vs plain and forced $AUTO: $ROUNDS rounds, order rotating; medians"
	for rate in $RATES; do
		set_rate "$rate"
		for data in text random; do
			rm -f "$DIR"/auto.*
			for r in $(seq "$ROUNDS"); do
				order="off on auto"
				for k in $(seq $((r % 3))); do order="${order#* } ${order%% *}"; done
				for cfg in $order; do
					case $cfg in
					off) set -- $(run_one "$rate" "$data" none block) ;;
					on) set -- $(run_one "$rate" "$data" "${AUTO%/*}" "${AUTO#*/}") ;;
					auto) # not in $(...): cleanup must see $ctl_pid
					      auto_run "$data" > "$DIR/auto.last"
					      set -- $(cat "$DIR/auto.last")
					      echo "$5 $6 $7 $8" >> "$DIR/auto.extra" ;;
					esac
					echo "$1" >> "$DIR/auto.$cfg.s"; echo "$2" >> "$DIR/auto.$cfg.w"
					echo "$3 $4" | awk '{ print $1 + $2 }' >> "$DIR/auto.$cfg.cpu"
				done
			done
			printf '\n%-7s %-6s %-6s %9s %9s %9s  %s\n' link data config med_s wire/raw cpu_s \
				"seconds per round"
			for cfg in off on auto; do
				printf '%-7s %-6s %-6s %9.3f %9.3f %9.3f  %s\n' "$rate" "$data" "$cfg" \
					"$(median < "$DIR/auto.$cfg.s")" \
					"$(median < "$DIR/auto.$cfg.w" | awk -v b=$((SIZE_MB << 20)) '{ print $1 / b }')" \
					"$(median < "$DIR/auto.$cfg.cpu")" "$(tr '\n' ' ' < "$DIR/auto.$cfg.s")"
			done
			awk '{ n++; on += ($1 != 0); w += $2; c += $3; r[$4]++ }
				END { printf "auto: measured connection compressed in %d of %d rounds; %.1f warm-up transfers per round; controller CPU %.3f s per round; decisions:", on, n, w / n, c / n
				      for (k in r) printf " %s x%d", k, r[k]; print "" }' "$DIR/auto.extra"
			echo "last decision: $(sed 's/^settled //' "$DIR/auto.settled")"
			ratios "from medians" "$(median < "$DIR/auto.off.s")" "$(median < "$DIR/auto.on.s")" \
				"$(median < "$DIR/auto.auto.s")"
			paste -d' ' "$DIR/auto.off.s" "$DIR/auto.on.s" "$DIR/auto.auto.s" |
				awk '{ a = a " " $1 / $3; f = f " " $1 / $2; x = x " " $2 / $3 }
				     END { print a; print f; print x }' > "$DIR/auto.pairs"
			ratios "per-round medians" "$(sed -n 1p "$DIR/auto.pairs" | median)" \
				"$(sed -n 2p "$DIR/auto.pairs" | median)" "$(sed -n 3p "$DIR/auto.pairs" | median)" paired
		done
	done
fi

[ "${COMP_BENCH_ENGINE:-1}" = 1 ] || exit 0
# The engine against the libraries on one core (CPU time, best of
# COMP_BENCH_ENGINE_REPS), then the command-line tools for reference: they
# time wall clock, which a loaded machine stretches.
echo
echo "engine (CPU 0) vs the libraries, same $SIZE_MB MiB of text, same run:"
taskset -c 0 "$top_builddir/bench/comp_engine_speed" "$DIR/text" "${COMP_BENCH_ENGINE_REPS:-5}"
tool_line() { "$@" 2>&1 | tr '\r' '\n' | grep 'MB/s' | tail -1; }
echo "tools: zstd -b1: $(tool_line taskset -c 0 zstd -b1 -i3 "$DIR/text")"
echo "       lz4 -b1:  $(tool_line taskset -c 0 lz4 -b1 -i3 "$DIR/text")"
