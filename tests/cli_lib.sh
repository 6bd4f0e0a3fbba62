# Sourced by the ebpfaccel tool's shell tests: counters and expectations.
fails=0; passes=0
pass() { passes=$((passes + 1)); echo "ok: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }
expect_rc() { # expected-rc description command...
	want=$1; what=$2; shift 2
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" = "$want" ]; then pass "$what (exit $rc)"; else fail "$what: exit $rc, wanted $want: $out"; fi
}
expect_msg() { # extended-regex description command...
	re=$1; what=$2; shift 2
	out=$("$@" 2>&1)
	if echo "$out" | grep -qE "$re"; then pass "$what"; else fail "$what: '$out' lacks /$re/"; fi
}
finish() {
	echo "$passes passed, $fails failed"
	[ "$fails" = 0 ]
}

# The Redis CLI tests' fixture. redis_test_require: root, the programs and a
# cgroup v2 mount (sets cg2), or SKIP.
redis_test_require() {
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (netns, cgroups, BPF)"; exit 77; }
	for t in redis-server redis-cli bpftool ip "$PY"; do
		command -v $t >/dev/null || { echo "SKIP: $t is missing"; exit 77; }
	done
	cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$cg2" ] || { echo "SKIP: no cgroup v2 mount"; exit 77; }
}
# redis_start [CGROUP]: netns $NS (lo up) and in it redis-server on
# 127.0.0.1:6379 (in CGROUP if given; data in $DIR); redis_pid; waits for it.
redis_start() {
	ip netns add "$NS" && ip -n "$NS" link set lo up
	sh -c '[ -z "$1" ] || echo $$ > "$1/cgroup.procs"; exec ip netns exec "$2" redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --dir "$3"' \
		sh "${1:-}" "$NS" "$DIR" > "$DIR/redis.log" 2>&1 &
	redis_pid=$!
	i=0; until [ "$(rcli ping 2>/dev/null)" = PONG ]; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "FAIL: redis-server did not start: $(cat "$DIR/redis.log")"; exit 1; }
		sleep 0.05
	done
}
# redis_stop: ends redis_start's server and netns.
redis_stop() {
	[ -z "${redis_pid:-}" ] || { kill "$redis_pid"; wait "$redis_pid"; } 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}
rcli() { ip netns exec "$NS" redis-cli -p 6379 "$@"; }
# Redis' own count of the GETs it ran
gets() { rcli info commandstats | sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p'; }
# sock_ops programs attached to $CG
sock_ops() { bpftool cgroup show "$CG" | grep -c sock_ops; }
# The attached cache $N's JSON stats, a field of them (a Python expression
# over s), and a field of tests/redis_soak.py's status file $DIR/status.
stats() { "$cli" redis stats --name "$N" --json 2>/dev/null; }
field() { stats | "$PY" -c "import json,sys; s=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
soak_field() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$DIR/status" "$1"; }
# The kernel's hits rise by 200 within 10 s (a soak is running); prints them.
hits_rise() {
	h0=$(field 's["counters"]["hits"]'); i=0
	while [ $i -lt 100 ]; do
		h=$(field 's["counters"]["hits"]')
		[ "$h" -lt $((h0 + 200)) ] || { echo "$h0 -> $h"; return 0; }
		i=$((i + 1)); sleep 0.1
	done
	echo "$h0 -> $h"; return 1
}
