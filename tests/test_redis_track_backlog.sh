#!/bin/sh
# Pushes that Redis holds back. A writer connected before the attach is not
# seen by the programs: only Redis' broadcast push invalidates its writes,
# and Redis writes that push before the writer's "+OK" only while the
# tracking connection takes everything it is given. When the cache's engine
# stops reading (here: its holder process SIGSTOPped, as a loaded machine
# deschedules it), the tracking connection's buffers fill, Redis keeps the
# pushes in its own buffer and the writer's replies go out ahead of them.
# Before the programs stopped answering then, a run of this test read
# values older than an acknowledged write (750 of 131,476; 6,675 of 78,600).
# Now: 0 stale reads (tests/redis_soak.py: readers the programs serve, the
# writer they do not see), while redis-benchmark's writes keep the pushes
# coming; after each stop the kernel answers again.
set -u
cli="${top_builddir:-.}/tools/ebpfaccel"
src="${top_srcdir:-$(dirname "$0")/..}"
PY=/usr/bin/python3
. "$src/tests/cli_lib.sh"
redis_test_require
command -v redis-benchmark >/dev/null || { echo "SKIP: redis-benchmark is missing"; exit 77; }
"$PY" -c 'import redis' 2>/dev/null || { echo "SKIP: python3-redis is needed"; exit 77; }

N="backlog-$$"
NS="ebpfaccel-backlog-$$"
CG="$cg2/ebpfaccel-backlog-$$"
DIR=$(mktemp -d)
cleanup() {
	touch "$DIR/stop"
	[ -z "${bench:-}" ] || { kill "$bench"; wait "$bench"; } 2>/dev/null
	[ -z "${holder:-}" ] || kill -CONT "$holder" 2>/dev/null
	[ -z "${soak:-}" ] || wait "$soak" 2>/dev/null
	"$cli" redis detach --name "$N" >/dev/null 2>&1
	redis_stop
	[ ! -d "$CG" ] || rmdir "$CG"
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$CG"
redis_start "$CG"

# Every soak connection opens before the attach: all pass unseen.
ip netns exec "$NS" "$PY" "$src/tests/redis_soak.py" 6379 "$DIR/status" "$DIR/stop" > "$DIR/soak.log" 2>&1 &
soak=$!
i=0; until [ -f "$DIR/status" ] && [ "$(soak_field writes)" -gt 0 ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { fail "the soak did not start: $(cat "$DIR/soak.log")"; finish; exit 1; }
	sleep 0.1
done
# Broadcast tracking, always: the stops below need pushes for every write.
# (Automatic tracking is broadcast too while the writer stays unseen, but
# per-key once every write path is seen, and then the random keys written
# below produce no pushes at all: a run left Redis nothing to hold back.)
expect_rc 0 "attach by port" "$cli" redis attach --port 6379 --netns "$NS" --name "$N" --track all
holder=$(field 's["pid"]')
# Connections open before the attach pass untouched (sock_ops takes a
# connection in only when it is accepted): every GET on them reaches Redis.
h0=$(field 's["counters"]["hits"]'); g0=$(gets); sleep 1; h1=$(field 's["counters"]["hits"]'); g1=$(gets)
[ "$h1" = "$h0" ] && [ $((g1 - g0)) -gt 100 ] \
	&& pass "connections from before the attach pass untouched ($((g1 - g0)) GETs reached Redis, kernel hits $h0 -> $h1)" \
	|| fail "connections from before the attach: Redis saw $((g1 - g0)) GETs, kernel hits $h0 -> $h1"
# The readers reconnect (seen now); the writer stays on its unseen one.
touch "$DIR/stop.recycle"
r=$(hits_rise) && pass "the kernel answers the readers ($r)" || fail "no hits ($r; $(cat "$DIR/soak.log"))"

# More pushes than a stopped engine's buffers hold (up to tcp_rmem's and
# tcp_wmem's maximum, 6 and 4 MiB by default): writes of 200-byte keys.
long=$(printf 'k%.0s' $(seq 200))
ip netns exec "$NS" redis-benchmark -p 6379 -r 100000 -n 2000000000 -P 16 -c 4 -q \
	SET "$long:__rand_int__" v > /dev/null 2>&1 &
bench=$!
c=0
while [ $c -lt "${BACKLOG_STOPS:-3}" ]; do
	c=$((c + 1))
	sleep 1
	kill -STOP "$holder"; sleep 3
	# what Redis holds for the tracking connection (flags t: tracking on)
	held=$(rcli client list | awk '/ flags=[A-Za-z]*t/ { for (i = 1; i <= NF; i++)
		if (split($i, a, "=") == 2 && a[1] == "omem" && a[2] > m) m = a[2] } END { print m + 0 }')
	kill -CONT "$holder"
	[ "$held" -gt 0 ] && pass "stop $c: Redis held $held bytes of pushes back" \
		|| fail "stop $c: Redis held no pushes back (the test did not fill the buffers)"
	r=$(hits_rise) && pass "stop $c: the kernel answers again ($r)" || fail "stop $c: no hits after the engine ran again ($r; $(stats))"
done
kill "$bench"; wait "$bench" 2>/dev/null; bench=

touch "$DIR/stop"; wait "$soak"; soak=
reads=$(soak_field reads); stale=$(soak_field stale); writes=$(soak_field writes)
echo "soak: $reads reads, $writes writes, $stale stale"
[ "$stale" = 0 ] && [ "$reads" -gt 1000 ] && [ "$writes" -gt 100 ] \
	&& pass "0 stale in $reads reads with the engine stopped ${BACKLOG_STOPS:-3} times" \
	|| fail "soak: $stale stale of $reads: $(soak_field examples)"
finish
