#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Unmodified programs under libebpfaccel-preload.so: each server runs in one
# network namespace and its clients in another, joined by a veth, all in a
# cgroup with the negotiation policy and a rule for the server's port.
# Every transfer must be byte-exact and carry far fewer bytes over the veth
# than it moved (the compression really happened on the wire):
#   python3 -m http.server  <- curl, wget (MSG_PEEK, select())
#   redis-server            <- redis-cli SET (upload) and GET (download)
#   rsync --daemon          <- rsync push (upload) and pull (download) (select())
#   python3 sockets         MSG_PEEK, MSG_DONTWAIT, select(), ppoll(), epoll, dup()ed descriptors
# Runs in a mount namespace of its own with a private bpffs, so nothing
# pinned can outlive it; its namespaces, cgroup and processes go on exit.
set -u
if [ -z "${PRELOAD_APPS_UNSHARED:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (netns, cgroups, BPF)"; exit 77; }
	for t in unshare nsenter ip curl wget rsync redis-server redis-cli /usr/bin/python3; do
		command -v $t >/dev/null || { echo "SKIP: $t is missing"; exit 77; }
	done
	PRELOAD_APPS_UNSHARED=1 exec unshare --mount --propagation private "$0" "$@"
fi
: "${top_builddir:=.}"
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
. "$top_srcdir/tests/cli_lib.sh"
. "$top_srcdir/tests/veth_pair.sh"
CLI="$top_builddir/tools/ebpfaccel"
SHIM=$(cd "$top_builddir/preload/.libs" && pwd)/libebpfaccel-preload.so
LIBDIR=$(cd "$top_builddir/lib/.libs" && pwd)
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg2" ] || { echo "SKIP: no cgroup v2 mount"; exit 77; }

TAG=pa$$
NS_C=${TAG}c; NS_S=${TAG}s
NET=198.18.233
SRV=$NET.2
CG="$cg2/ebpfaccel-preload-apps-$$"
DIR=$(mktemp -d /tmp/ebpfaccel-preload-apps.XXXXXX)
HTTP_PORT=7401; REDIS_PORT=7402; RSYNC_PORT=7403; PY_PORT=7404

cleanup() {
	for ns in "$NS_C" "$NS_S"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$pids" ] || kill $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	"$CLI" comp detach --name "$TAG" >/dev/null 2>&1
	# killed processes leave the cgroup only once they are gone: end what
	# is still in it and wait for it to empty (5 s at most)
	i=0
	while [ -d "$CG" ] && ! rmdir "$CG" 2>/dev/null && [ $i -lt 50 ]; do
		pids=$(cat "$CG/cgroup.procs" 2>/dev/null)
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null
		i=$((i + 1)); sleep 0.1
	done
	[ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
while [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; do umount -l /sys/fs/bpf || break; done

veth_pair "$NS_C" "$NS_S" "${TAG}a" "${TAG}b" "$NET" || { echo "FAIL: veth pair"; exit 1; }
mkdir "$CG"
"$CLI" comp attach --cgroup "$CG" --name "$TAG" >/dev/null 2>&1 || { echo "FAIL: comp attach"; exit 1; }
for port in $HTTP_PORT $REDIS_PORT $RSYNC_PORT $PY_PORT; do
	"$CLI" comp policy set $port --name "$TAG" >/dev/null || { echo "FAIL: rule for $port"; exit 1; }
done

# Compressible data that is not trivially so: text of the system's headers.
mkdir "$DIR/www" "$DIR/up" "$DIR/get"
find /usr/include -name '*.h' -type f | sort | xargs cat 2>/dev/null | head -c $((6 << 20)) > "$DIR/www/text"
SIZE=$(stat -c %s "$DIR/www/text")
[ "$SIZE" = $((6 << 20)) ] || { echo "SKIP: /usr/include holds less than 6 MiB of headers"; exit 77; }

# run NS CMD...: in the cgroup and NS, under the shim; a client that hangs
# is a failure after 60 s.
run() {
	ns=$1; shift
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
		nsenter --net=/run/netns/"$ns" \
		env LD_PRELOAD="$SHIM" LD_LIBRARY_PATH="$LIBDIR" "$@"
}
client() { ns=$1; shift; run "$ns" timeout 60 "$@"; }
# "rx tx": bytes the client's veth end received and sent so far.
snap() { ip netns exec "$NS_C" cat /proc/net/dev | tr ':' ' ' | awk -v dev="${TAG}a" '$1 == dev { print $2, $10 }'; }
wait_port() { # port
	i=0
	until ip netns exec "$NS_S" ss -Hltn "sport = :$1" | grep -q LISTEN; do
		i=$((i + 1)); [ $i -lt 200 ] || return 1; sleep 0.05
	done
}
# check WHAT FILE_A FILE_B DIR(rx|tx) RX0 TX0: exact bytes, and the
# direction that carried them moved less than 60 % of them over the veth.
check() {
	what=$1
	if cmp -s "$2" "$3"; then pass "$what: byte-exact"; else fail "$what: $3 differs from $2"; return; fi
	set -- $(snap) "$4" "$5" "$6"
	[ "$3" = rx ] && wire=$(($1 - $4)) || wire=$(($2 - $5))
	if [ "$wire" -lt $((SIZE * 6 / 10)) ]; then
		pass "$what: $wire bytes on the wire for $SIZE ($3)"
	else
		fail "$what: $wire bytes on the wire for $SIZE ($3): not compressed"
	fi
}

# ---- python3 -m http.server, curl and wget
run "$NS_S" /usr/bin/python3 -m http.server $HTTP_PORT --bind $SRV --directory "$DIR/www" \
	>"$DIR/http.log" 2>&1 &
wait_port $HTTP_PORT || fail "http.server did not listen: $(cat "$DIR/http.log")"
set -- $(snap)
client "$NS_C" curl -sS -o "$DIR/get/curl" "http://$SRV:$HTTP_PORT/text" || fail "curl failed"
check "curl <- http.server" "$DIR/www/text" "$DIR/get/curl" rx "$1" "$2"
set -- $(snap)
client "$NS_C" wget -q -O "$DIR/get/wget" "http://$SRV:$HTTP_PORT/text" || fail "wget failed"
check "wget <- http.server" "$DIR/www/text" "$DIR/get/wget" rx "$1" "$2"
# Keep-alive: two requests on one connection, peeked headers between them.
set -- $(snap)
client "$NS_C" wget -q -O "$DIR/get/wget2" "http://$SRV:$HTTP_PORT/text" "http://$SRV:$HTTP_PORT/text" \
	|| fail "wget of two URLs failed"
cat "$DIR/www/text" "$DIR/www/text" > "$DIR/text2"
SIZE2=$SIZE; SIZE=$((SIZE * 2))
check "wget, two URLs <- http.server" "$DIR/text2" "$DIR/get/wget2" rx "$1" "$2"
SIZE=$SIZE2

# ---- python3 sockets: MSG_PEEK, MSG_DONTWAIT, select(), poll(), ppoll(), epoll, dup()ed descriptors
run "$NS_S" /usr/bin/python3 "$top_srcdir/tests/preload_sockets.py" server $SRV $PY_PORT \
	>"$DIR/py.log" 2>&1 &
wait_port $PY_PORT || fail "python3 server did not listen: $(cat "$DIR/py.log")"
set -- $(snap)
out=$(client "$NS_C" /usr/bin/python3 "$top_srcdir/tests/preload_sockets.py" client $SRV $PY_PORT 2>&1)
[ "$out" = ok ] && pass "python3: peek, dontwait, select, poll, ppoll, epoll_wait, epoll_pwait, dup, F_DUPFD on a compressed socket" \
	|| fail "python3 socket calls: $out"
set -- $(snap) "$1" "$2"
[ $(($1 - $3)) -lt 100000 ] && pass "python3: $(($1 - $3)) bytes on the wire for 281100 echoed bytes" \
	|| fail "python3: $(($1 - $3)) bytes on the wire for 281100 echoed bytes: not compressed"

# ---- redis-server and redis-cli
tr '\n' '_' < "$DIR/www/text" > "$DIR/value"
run "$NS_S" redis-server --bind $SRV --port $REDIS_PORT --save '' --appendonly no --protected-mode no \
	--dir "$DIR" >"$DIR/redis.log" 2>&1 &
wait_port $REDIS_PORT || fail "redis-server did not listen: $(cat "$DIR/redis.log")"
set -- $(snap)
client "$NS_C" redis-cli -h $SRV -p $REDIS_PORT -x SET big < "$DIR/value" >/dev/null || fail "redis-cli SET failed"
set -- $(snap) "$1" "$2"
[ $(($2 - $4)) -lt $((SIZE * 6 / 10)) ] && pass "redis-cli SET: $(($2 - $4)) bytes on the wire for $SIZE (tx)" \
	|| fail "redis-cli SET: $(($2 - $4)) bytes on the wire for $SIZE: not compressed"
set -- $(snap)
client "$NS_C" redis-cli -h $SRV -p $REDIS_PORT --raw GET big > "$DIR/get/redis" || fail "redis-cli GET failed"
printf '\n' >> "$DIR/value"
check "redis-cli SET, then GET <- redis-server" "$DIR/value" "$DIR/get/redis" rx "$1" "$2"

# ---- rsync daemon: push and pull whole files
cat > "$DIR/rsyncd.conf" <<CONF
uid = root
gid = root
use chroot = no
pid file = $DIR/rsyncd.pid
[www]
	path = $DIR/www
	read only = yes
[up]
	path = $DIR/up
	read only = no
CONF
run "$NS_S" rsync --daemon --no-detach --config="$DIR/rsyncd.conf" --address=$SRV \
	--port=$RSYNC_PORT >"$DIR/rsync.log" 2>&1 &
wait_port $RSYNC_PORT || fail "rsync daemon did not listen: $(cat "$DIR/rsync.log")"
set -- $(snap)
client "$NS_C" rsync --whole-file "rsync://$SRV:$RSYNC_PORT/www/text" "$DIR/get/rsync" || fail "rsync pull failed"
check "rsync pull <- rsync daemon" "$DIR/www/text" "$DIR/get/rsync" rx "$1" "$2"
set -- $(snap)
client "$NS_C" rsync --whole-file "$DIR/www/text" "rsync://$SRV:$RSYNC_PORT/up/text" || fail "rsync push failed"
check "rsync push -> rsync daemon" "$DIR/www/text" "$DIR/up/text" tx "$1" "$2"

# The policy negotiated every one of these connections (both ends count).
on=$("$CLI" comp stats --name "$TAG" --json | /usr/bin/python3 -c \
	'import json, sys; print(json.load(sys.stdin)["counters"]["server_on"])')
[ "${on:-0}" -ge 8 ] && pass "policy: $on connections negotiated on the server side" \
	|| fail "policy: only ${on:-0} server-side negotiations"
finish
