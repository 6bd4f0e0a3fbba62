#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The quickstart's compression demo (./quickstart.sh runs it; as root):
# two network namespaces joined by a rate-limited veth, a cgroup with the
# negotiation policy attached by the ebpfaccel tool, and the same file sent
# by an unmodified program (python3 under the preload shim) once to a port
# without a rule and once to a port with one.  Prints the gain.
#
# Everything it makes is removed at the end, also on Ctrl-C; it runs in a
# mount namespace of its own with a private bpffs, so even a killed demo
# leaves no pin (and so nothing attached) behind.
# Knobs: DEMO_MB (default 24), DEMO_RATE (tc rate, default 100mbit).
set -eu
: "${top_builddir:=.}"
if [ -z "${DEMO_UNSHARED:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "demo: needs root (netns, cgroups, BPF): skipped"; exit 0; }
	for tool in ip tc unshare python3 tar; do
		command -v $tool >/dev/null || { echo "demo: $tool is missing: skipped"; exit 0; }
	done
	DEMO_UNSHARED=1 exec unshare --mount --propagation private "$0" "$@"
fi

. "${top_srcdir:-$(dirname "$0")/..}/tests/veth_pair.sh"
CLI="$top_builddir/tools/ebpfaccel"
SHIM=$(cd "$top_builddir/preload/.libs" && pwd)/libebpfaccel-preload.so
MB=${DEMO_MB:-24}
RATE=${DEMO_RATE:-100mbit}
TAG=qs$$
NS_S=${TAG}s; NS_R=${TAG}r
CG="$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)/ebpfaccel-demo-$$"
DIR=$(mktemp -d /tmp/ebpfaccel-demo.$$.XXXXXX)
PORT_PLAIN=7301; PORT_COMP=7300

step() { printf '  .. %s\n' "$*"; }
cleanup() {
	trap - EXIT INT TERM
	# Whatever still runs in the namespaces (a receiver left by Ctrl-C).
	for ns in "$NS_S" "$NS_R"; do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -z "$pids" ] || kill $pids 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	# and this shell's own subshells (a transfer waiting on its sender)
	pkill -TERM -P $$ 2>/dev/null || true
	"$CLI" comp detach --name demo >/dev/null 2>&1 || true
	[ ! -d "$CG" ] || rmdir "$CG" 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up"; exit 130' INT TERM

# A bpffs of this mount namespace only (the tool mounts it on attach).
while [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; do umount -l /sys/fs/bpf || break; done

step "two network namespaces joined by a veth limited to $RATE"
veth_pair "$NS_S" "$NS_R" "${TAG}a" "${TAG}b" 198.18.77
tc -n "$NS_S" qdisc replace dev "${TAG}a" root tbf rate "$RATE" burst 256kb latency 100ms

step "a cgroup for the demo's programs, and the policy attached to it"
mkdir "$CG"
"$CLI" comp attach --cgroup "$CG" --name demo 2>&1 | grep -v "^next:" | sed "s/^/     /"
"$CLI" comp policy set $PORT_COMP --algo lz4 | sed 's/^/     port rule: /'

step "$MB MiB of text to send (a tar of /usr/include)"
tar cf - /usr/include 2>/dev/null | head -c $((MB << 20)) > "$DIR/data" || true

# An unmodified program: python3 sends and receives with plain sockets;
# the preload shim compresses where the handshake negotiated it.
cat > "$DIR/xfer.py" <<'EOF'
import socket, sys, time
role, port = sys.argv[1], int(sys.argv[2])
if role == "recv":
    with socket.create_server(("198.18.77.2", port)) as l:
        print("ready", flush=True)
        s, _ = l.accept()
        n = 0
        while (chunk := s.recv(1 << 16)):
            n += len(chunk)
        s.sendall(b"%d" % n)
        s.close()
else:
    data = open(sys.argv[3], "rb").read()
    t = time.monotonic()
    s = socket.create_connection(("198.18.77.2", port))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = int(s.recv(64))
    print("%.3f %d" % (time.monotonic() - t, got))
EOF

in_cgroup() { # netns command... : runs in the demo cgroup, under the shim
	ns=$1; shift
	sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CG" \
		ip netns exec "$ns" env LD_PRELOAD="$SHIM" "$@"
}

wire_bytes() { ip -n "$NS_S" -s -j link show "${TAG}a" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["bytes"])'; }

transfer() { # port -> "seconds wire_bytes"
	in_cgroup "$NS_R" python3 "$DIR/xfer.py" recv "$1" > "$DIR/recv.out" &
	# A background job ignores SIGINT: on Ctrl-C before the sender
	# connected, the receiver would wait forever and this command
	# substitution with it, keeping the demo's own trap from running.
	recv_pid=$!
	trap 'kill "$recv_pid" 2>/dev/null; exit 130' INT TERM
	i=0; until grep -q ready "$DIR/recv.out" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || { echo "demo: the receiver did not start" >&2; exit 1; }; sleep 0.05
	done
	before=$(wire_bytes)
	set -- $(in_cgroup "$NS_S" python3 "$DIR/xfer.py" send "$1" "$DIR/data")
	wait
	[ "$2" = $((MB << 20)) ] || { echo "demo: the receiver got $2 bytes, not $((MB << 20))" >&2; exit 1; }
	echo "$1 $(( $(wire_bytes) - before ))"
}

step "sending it to port $PORT_PLAIN (no rule: plain TCP)"
set -- $(transfer $PORT_PLAIN); plain_s=$1; plain_w=$2
printf '     %.2f s, %.1f MiB on the wire\n' "$plain_s" "$(echo "$plain_w" | awk '{ print $1 / 1048576 }')"
step "sending it to port $PORT_COMP (rule: lz4, negotiated in the handshake)"
set -- $(transfer $PORT_COMP); comp_s=$1; comp_w=$2
printf '     %.2f s, %.1f MiB on the wire\n' "$comp_s" "$(echo "$comp_w" | awk '{ print $1 / 1048576 }')"

step "what the policy counted (ebpfaccel comp stats)"
"$CLI" comp stats | sed -n '2,3p;6p' | sed 's/^/   /'
echo "$plain_s $comp_s $plain_w $comp_w $RATE" | awk '{
	printf "==> compression gain on a %s link: %.1fx faster, %.0f%% of the bytes on the wire\n",
		$5, $1 / $2, 100 * $4 / $3 }'
step "cleaning up"
