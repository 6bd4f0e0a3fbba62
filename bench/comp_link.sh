#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Compression over a rate-limited veth link, side by side with the plain
# transfer in the same run, plus the engine against the libraries (what
# `zstd -b1` / `lz4 -b1` time): bench/comp_engine_speed.
# Run by hand as root: `make bench` (or top_builddir=. sh bench/comp_link.sh).
# Sender is pinned to CPU 0 and receiver to CPU 1; on a shared 2-core machine
# the numbers are noisy.  A short demo: COMP_BENCH_MB=32 COMP_BENCH_RATES=1gbit
# COMP_BENCH_CONFIGS="none/block lz4/stream" COMP_BENCH_ENGINE=0.
# The auto policy section (COMP_BENCH_AUTO, default choose/block: the goodput
# model; ALGO/MODE: the on/off policy for one configuration; "" skips it)
# compares plain, every forced configuration (COMP_BENCH_FORCED) and auto
# per link (COMP_BENCH_AUTO_RATES, default 100mbit 1gbit 10gbit; 100mbit
# moves COMP_BENCH_SLOW_MB, 24) and corpus (COMP_BENCH_CORPORA: text mixed
# random) over COMP_BENCH_ROUNDS (default 5) rounds in rotating order, and
# prints medians, auto/best, auto/plain and plain's own spread over the rounds
# (slowest/fastest: the noise the ratios stand in); COMP_BENCH_SMOKE=1 is a
# quick iteration run (16 MiB, 100 Mbit/s 6 MiB, 1 round unless
# COMP_BENCH_ROUNDS says); COMP_BENCH_CONFIGS="" skips the table of
# forced configurations; COMP_BENCH_WARMUP_S and COMP_BENCH_TICK_MS: see the
# auto section below.
set -eu
: "${top_builddir:=.}"
XFER="$top_builddir/bench/comp_xfer"
SMOKE=${COMP_BENCH_SMOKE:-0}
[ "$SMOKE" = 1 ] && SIZE_MB=${COMP_BENCH_MB:-16} || SIZE_MB=${COMP_BENCH_MB:-100}
RATES=${COMP_BENCH_RATES:-"1gbit 10gbit"}
# zstd at level 1 to compare with `zstd -b1` (the library default is zstd's 3).
CONFIGS=${COMP_BENCH_CONFIGS-"none/block zstd:1/block zstd:1/stream lz4/block lz4/stream"}
AUTO=${COMP_BENCH_AUTO-"choose/block"}
[ "$SMOKE" = 1 ] && ROUNDS=${COMP_BENCH_ROUNDS:-1} || ROUNDS=${COMP_BENCH_ROUNDS:-5}
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

run_one() { # rate data algo mode [min_seconds] -> "seconds wire cpu_send cpu_recv tx_algo tx_level tx_mode"
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
	tl=$(sed -n 's/.*tx_level=\(-*[0-9]*\).*/\1/p' "$DIR/send.out")
	tm=$(sed -n 's/.*tx_mode=\([0-9]*\).*/\1/p' "$DIR/send.out")
	echo "$s $w $cs $cr $ta $tl $tm"
}

echo "comp_link: $SIZE_MB MiB per transfer; sender on CPU 0, receiver on CPU 1 (shared machine: noisy)"
# The bucket lets a burst through at once: 4 MB is 30 ms at 1 Gbit/s, but
# 320 ms at 100 Mbit/s, whose transfers are shorter: 256 KB there.
set_rate() {
	burst=4mb; [ "$1" != 100mbit ] || burst=256kb
	tc -n "$NS_S" qdisc replace dev "${TAG}a" root tbf rate "$1" burst $burst latency 100ms
}

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

# ---- auto policy (goodput model) against every forced configuration ----
# Per link and corpus, COMP_BENCH_ROUNDS rounds (order rotating): plain, each
# forced configuration of $FORCED on both ends, and auto.  One auto run:
# autoctl (negotiation policies on two fresh cgroups, server rule OFF so the
# warm-up crosses the probe uncompressed; probe on the receiver's veth,
# whose ingress sees the link's shaped rate, while the sender's egress hook
# sees packets before the tbf queue; decisions go to both ends' rules) judges every
# COMP_BENCH_TICK_MS; warm-up connections from the client cgroup send the
# corpus again and again for COMP_BENCH_WARMUP_S each, until the decision
# has settled (the model measures its candidates on the probe's sample on
# the way); then ONE measured transfer on a new connection negotiates with
# the decision in force, timed like every other transfer.  The controller's
# CPU (pinned with the receiver) is printed apart.  Medians of the rounds.
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
	END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

auto_run() { # file -> "seconds wire cpu_send cpu_recv tx_algo tx_level tx_mode warmups cpu_ctl"
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
		[ $warm -le 12 ] || { echo "auto policy did not settle" >&2; cat "$DIR/ctl.out" >&2; exit 1; }
		RUN_CG_R=$CG_S RUN_CG_S=$CG_C run_one "$rate" "$1" neg block "$WARMUP_S" > /dev/null
		sleep "$(echo "$TICK_MS" | awk '{ print 3 * $1 / 1000 }')"
	done
	m=$(RUN_CG_R=$CG_S RUN_CG_S=$CG_C run_one "$rate" "$1" neg block)
	kill $ctl_pid; wait $ctl_pid || true; ctl_pid=""
	grep settled "$DIR/ctl.out" | sed 's/^settled //' > "$DIR/auto.settled"
	sed 's/^settled //' "$DIR/auto.settled" >> "$DIR/auto.decisions"
	# The settled judgement's: the last one, a line per candidate.
	grep '^model ' "$DIR/ctl.out" | tail -n "$(echo $FORCED | wc -w)" > "$DIR/auto.model" || true
	echo "$m $warm $(sed -n 's/^cpu_ctl=\([0-9.]*\).*/\1/p' "$DIR/ctl.out")"
}

# The model's expected goodput per configuration (the last round's settled
# judgement) beside what the configuration's own transfers
# delivered (the median time of its rounds): which input misled a choice.
model_vs_forced() { # MiB
	[ -s "$DIR/auto.model" ] || return 0
	echo "model (last round) vs forced, MB/s of application data:"
	for cfg in $FORCED; do
		printf '%s %s\n' "$cfg" "$(median < "$DIR/auto.$(echo "$cfg" | tr '/:' '_-').s")"
	done > "$DIR/auto.forced"
	awk -v bytes="$(($1 << 20))" 'FNR == NR { t[$1] = $2; next }
		{ split($2, a, "-"); name = (a[1] == "lz4" ? "lz4" : a[1] ":" a[2]) "/" substr($3, 1, length($3) - 1)
		  line = $0; sub(/^model [^:]*: /, "", line)
		  printf "  %-14s %s | forced %7.1f\n", name, line, (t[name] > 0 ? bytes / t[name] / 1e6 : 0) }' \
		"$DIR/auto.forced" "$DIR/auto.model"
}

cfg_name() { # tx_algo tx_level tx_mode -> the configuration's name, as in $FORCED
	case $1 in 0) echo plain; return ;; 1) a="zstd:$2" ;; *) a=lz4 ;; esac
	[ "$3" = 1 ] && echo "$a/stream" || echo "$a/block"
}

# The mixed corpus: JSON log lines, HTML pages and already-compressed files
# (.gz, .png) of this system, interleaved in 1 MiB pieces.
make_mixed() { # MiB -> $DIR/mixed
	/usr/bin/python3 - "$1" "$DIR/mixed" <<'PYEOF'
import glob, itertools, os, random, sys
size, out = int(sys.argv[1]) << 20, sys.argv[2]
rnd = random.Random(18)
def logs():
    paths = ["/v1/items/%d", "/v1/users/%d/orders", "/static/app.%d.js", "/api/search?q=%d"]
    for i in itertools.count():
        yield (('{"ts":"2026-11-25T%02d:%02d:%02d.%03dZ","level":"%s","svc":"%s","method":"%s",'
                '"path":"%s","status":%d,"ms":%.1f,"ip":"10.%d.%d.%d","req":"%016x"}\n') % (
            i // 3600000 % 24, i // 60000 % 60, i // 1000 % 60, i % 1000,
            rnd.choice(["info", "info", "info", "warn", "error"]), rnd.choice(["api", "auth", "cart"]),
            rnd.choice(["GET", "GET", "POST"]), rnd.choice(paths) % rnd.randrange(100000),
            rnd.choice([200, 200, 200, 201, 304, 404, 500]), rnd.expovariate(0.05),
            rnd.randrange(256), rnd.randrange(256), rnd.randrange(256), rnd.getrandbits(64))).encode()
def files(patterns):
    names = sorted(n for p in patterns for n in glob.glob(p, recursive=True) if os.path.isfile(n))
    for n in itertools.cycle(names or ["/dev/urandom"]):
        with open(n, "rb") as f:
            yield f.read(1 << 20)
def pieces(gen):
    buf = b""
    for chunk in gen:
        buf += chunk
        while len(buf) >= 1 << 20:
            yield buf[:1 << 20]
            buf = buf[1 << 20:]
sources = [pieces(logs()), pieces(files(["/usr/share/doc/**/*.html"])),
           pieces(files(["/usr/share/doc/**/*.gz", "/usr/share/**/*.png"]))]
with open(out, "wb") as f:
    for i in range((size + (1 << 20) - 1) >> 20):
        f.write(next(sources[i % 3])[:size - (i << 20)])
PYEOF
}

if [ -n "$AUTO" ]; then
	FORCED=${COMP_BENCH_FORCED-"lz4/block lz4/stream zstd:1/block zstd:1/stream zstd:3/stream zstd:6/stream zstd:9/stream"}
	AUTO_RATES=${COMP_BENCH_AUTO_RATES:-"100mbit 1gbit 10gbit"}
	CORPORA=${COMP_BENCH_CORPORA:-"text mixed random"}
	[ "$SMOKE" = 1 ] && SLOW_MB=${COMP_BENCH_SLOW_MB:-6} || SLOW_MB=${COMP_BENCH_SLOW_MB:-24}
	mkdir "$CG_S" "$CG_C"
	make_mixed "$SIZE_MB"
	echo
	echo "auto policy ($AUTO) vs plain and every forced configuration: $ROUNDS rounds, order rotating; medians"
	printf '%-7s %-6s %4s | %8s %9s | %-14s %8s | %-14s %8s | %9s %10s %10s | %s\n' link corpus MiB plain_s \
		plain_spr best_forced best_s auto_choice auto_s auto/best auto/plain best/plain load1 > "$DIR/summary"
	for rate in $AUTO_RATES; do
		set_rate "$rate"
		mb=$SIZE_MB; [ "$rate" != 100mbit ] || mb=$((SLOW_MB < SIZE_MB ? SLOW_MB : SIZE_MB))
		for data in $CORPORA; do
			file=${data}_$mb
			head -c $((mb << 20)) "$DIR/$data" > "$DIR/$file"
			rm -f "$DIR"/auto.*
			configs="plain $FORCED auto"
			for r in $(seq "$ROUNDS"); do
				order=$configs
				for k in $(seq $(( (r - 1) % $(echo $configs | wc -w) ))); do
					order="${order#* } ${order%% *}"
				done
				for cfg in $order; do
					case $cfg in
					plain) set -- $(run_one "$rate" "$file" none block) ;;
					auto) # not in $(...): cleanup must see $ctl_pid
					      auto_run "$file" > "$DIR/auto.last"
					      set -- $(cat "$DIR/auto.last")
					      echo "$(cfg_name "$5" "$6" "$7") $8 $9" >> "$DIR/auto.extra" ;;
					*) set -- $(run_one "$rate" "$file" "${cfg%/*}" "${cfg#*/}") ;;
					esac
					echo "$1" >> "$DIR/auto.$(echo "$cfg" | tr '/:' '_-').s"
				done
			done
			printf '\n%-7s %-6s' "$rate" "$data"
			for cfg in $configs; do
				printf ' %s %.3f' "$cfg" "$(median < "$DIR/auto.$(echo "$cfg" | tr '/:' '_-').s")"
			done | tee "$DIR/auto.medians"
			echo
			echo "auto chose: $(awk '{ c[$1]++; w += $2; t += $3 } END { for (k in c) printf "%s x%d ", k, c[k];
				printf "(%.1f warm-up transfers and %.2f s controller CPU per round)", w / NR, t / NR }' "$DIR/auto.extra")"
			echo "last decision: $(cat "$DIR/auto.settled")"
			echo "every round's decision:"; sed 's/^/  /' "$DIR/auto.decisions"
			model_vs_forced "$mb"
			echo "spread (fastest-slowest round):$(for cfg in $configs; do
				printf ' %s %s' "$cfg" "$(sort -g "$DIR/auto.$(echo "$cfg" | tr '/:' '_-').s" |
					awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.3f-%.3f", a, b }')"; done)"
			spread=$(sort -g "$DIR/auto.plain.s" | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.3f", b / a }')
			awk -v load="$(cut -d' ' -f1 /proc/loadavg)" -v spread="$spread" -v link="$rate" -v corpus="$data" -v mb="$mb" -v choice="$(awk '{ c[$1]++ } END { for (k in c) if (c[k] > n) { n = c[k]; b = k }; print b }' "$DIR/auto.extra")" '{
				for (i = 1; i < NF; i += 2) t[$i] = $(i + 1)
				best = ""; for (i = 1; i < NF; i += 2) if ($i != "auto" && (best == "" || $(i + 1) < t[best])) best = $i
				printf "%-7s %-6s %4d | %8.3f %8.3fx | %-14s %8.3f | %-14s %8.3f | %8.3fx %9.3fx %9.3fx | %s\n",
					link, corpus, mb, t["plain"], spread, best, t[best], choice, t["auto"],
					t[best] / t["auto"], t["plain"] / t["auto"], t["plain"] / t[best], load }' \
				"$DIR/auto.medians" >> "$DIR/summary"
		done
	done
	echo
	echo "summary (throughput ratios; times are medians of $ROUNDS rounds; load1: the one-minute load"
	echo "average when the row ended, on $(nproc) CPUs; a shared machine is noisy; plain_spr: plain's"
	echo "slowest/fastest round, the noise any ratio of the row is read against):"
	cat "$DIR/summary"
	awk -F'|' 'NR > 1 { n++; split($5, r, "x"); ab = r[1] + 0; ap = r[2] + 0
		if (ab >= 0.95) best++; if (ap >= 0.97) plain++ }
		END { printf "goal: auto/best >= 0.95 on %d of %d rows, auto/plain >= 0.97 on %d of %d\n",
			best, n, plain, n }' "$DIR/summary"
fi

[ "${COMP_BENCH_ENGINE:-1}" = 1 ] || exit 0
# The engine's codec against the libraries on one core, in memory as the
# tools time them (CPU time, best of COMP_BENCH_ENGINE_REPS after a warm-up
# round), then the same through a socketpair, then the command-line tools
# on the same core (the bench checks they compute what its reference does;
# they time wall clock, which a loaded machine stretches).
echo
echo "engine (CPU 0) vs the libraries, same $SIZE_MB MiB of text, same run:"
taskset -c 0 "$top_builddir/bench/comp_engine_speed" "$DIR/text" "${COMP_BENCH_ENGINE_REPS:-5}"
# The same in instructions per byte (callgrind: load does not change them),
# over the first 16 MiB: a few minutes; COMP_BENCH_INSNS=0 skips it.
[ "${COMP_BENCH_INSNS:-1}" = 1 ] || exit 0
echo
echo "engine vs the libraries in instructions, first 16 MiB of the text:"
head -c $((16 << 20)) "$DIR/text" > "$DIR/text16"
top_builddir=$top_builddir sh "$(dirname "$0")/comp_engine_insns.sh" "$DIR/text16"
