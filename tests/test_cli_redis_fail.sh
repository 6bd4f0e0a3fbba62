#!/bin/sh
# 'ebpfaccel redis attach' when the cache cannot attach, for real reasons
# provoked here: the capabilities dropped, the kernel's BTF hidden (a
# private mount namespace), and whatever this kernel does with the cache's
# programs (its verifier's refusal where it refuses them, Redis not
# listening where it loads them).  Each time: a non-zero exit with the
# status --help lists, exactly one line on stderr saying why, the
# verifier's full log only with --debug, and nothing left behind (no
# holder process, no socket, no program attached).
set -u
cli="${top_builddir:-.}/tools/ebpfaccel"
. "${top_srcdir:-$(dirname "$0")/..}/tests/cli_lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (cgroups, BPF)"; exit 77; }
for t in setpriv unshare mount bpftool python3; do
	command -v $t >/dev/null || { echo "SKIP: $t is missing"; exit 77; }
done
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg2" ] || { echo "SKIP: no cgroup v2 mount"; exit 77; }

N=tf$$
CG="$cg2/ebpfaccel-attachfail-$$"
DIR=$(mktemp -d)
cleanup() {
	"$cli" redis detach --name $N >/dev/null 2>&1
	[ ! -d "$CG" ] || rmdir "$CG"
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$CG"
# No redis-server listens on this port: nothing gets far enough to need one.
attach="redis attach --cgroup $CG --port 6379 --name $N"

# one_line RC ERE WHAT COMMAND...: exits RC, prints nothing on stdout and
# exactly one line on stderr, matching ERE.
one_line() {
	want=$1 re=$2 what=$3
	shift 3
	"$@" > "$DIR/out" 2> "$DIR/err"
	rc=$?
	if [ "$rc" = "$want" ] && [ ! -s "$DIR/out" ] && [ "$(wc -l < "$DIR/err")" = 1 ] &&
	   grep -qE "$re" "$DIR/err"; then
		pass "$what: exit $rc, $(cat "$DIR/err")"
	else
		fail "$what: exit $rc (wanted $want), stdout '$(head -c 300 "$DIR/out")', stderr ($(wc -l < "$DIR/err") lines) '$(head -c 600 "$DIR/err")'"
	fi
}

nothing_left() { # what
	left=
	for f in /run/ebpfaccel/redis/$N.sock /run/ebpfaccel/redis/$N.log; do
		[ ! -e "$f" ] || left="$left $f"
	done
	pgrep -f -- "--name $N\$" >/dev/null && left="$left a holder: $(pgrep -a -f -- "--name $N\$")"
	progs=$(bpftool cgroup show "$CG" 2>/dev/null | grep -c sock_ops)
	[ "$progs" = 0 ] || left="$left $progs sock_ops programs on $CG"
	[ -z "$left" ] && pass "$1: nothing left" || fail "$1: left$left"
}

# Root without CAP_SYS_ADMIN and CAP_BPF: the library names the capability.
one_line 3 "^ebpfaccel: redis attach: the Redis cache needs CAP_(SYS_ADMIN|BPF): run as root or grant it" \
	"capabilities dropped" setpriv --inh-caps=-bpf,-sys_admin --bounding-set=-bpf,-sys_admin "$cli" $attach
nothing_left "capabilities dropped"

# Not root at all: the tool cannot even keep its holder's socket.
one_line 3 "^ebpfaccel: redis attach: .*run it as root \(it needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN\)" \
	"unprivileged" setpriv --reuid=65534 --regid=65534 --clear-groups "$cli" $attach
nothing_left "unprivileged"

# A kernel without BTF (CONFIG_DEBUG_INFO_BTF=n): the cache's programs need
# CO-RE relocations against it.  Every place libbpf looks is hidden.
hide_btf='for f in /sys/kernel/btf/vmlinux /boot/vmlinux-$(uname -r) /lib/modules/$(uname -r)/vmlinux-$(uname -r) \
		/lib/modules/$(uname -r)/build/vmlinux /usr/lib/modules/$(uname -r)/kernel/vmlinux \
		/usr/lib/debug/boot/vmlinux-$(uname -r) /usr/lib/debug/boot/vmlinux-$(uname -r).debug \
		/usr/lib/debug/lib/modules/$(uname -r)/vmlinux; do
	[ ! -e "$f" ] || mount --bind /dev/null "$f" || exit 99
done
exec "$@"'
one_line 1 "^ebpfaccel: redis attach: BPF object not loaded: failed to find valid kernel BTF$" \
	"kernel BTF hidden" unshare -m sh -c "$hide_btf" sh "$cli" $attach
nothing_left "kernel BTF hidden"

# What this kernel's verifier says about the cache's programs, as the probe
# found it: attach says the same in one line, the full log only with --debug.
verdict=$("$cli" features --json | python3 -c '
import json, sys
f = [x for x in json.load(sys.stdin) if x["name"] == "redis_cache"][0]
print("loads" if f["supported"] else f["detail"])')
case $verdict in
loads)
	one_line 1 "^ebpfaccel: redis attach: .*Connection refused; is redis-server listening on that port" \
		"cache loads, Redis not listening" "$cli" $attach
	nothing_left "Redis not listening" ;;
"BPF program "*" refused by the kernel's verifier: "*)
	echo "note: this kernel refuses the cache: $verdict"
	reason=$(printf '%s' "$verdict" | sed 's/[][\\.*^$()|+?{}]/\\&/g')
	one_line 1 "^ebpfaccel: redis attach: $reason \(run with --debug for the full log\)$" \
		"verifier refusal" "$cli" $attach
	nothing_left "verifier refusal"
	"$cli" --debug $attach > "$DIR/out" 2> "$DIR/err"
	rc=$?
	if [ $rc = 1 ] && grep -q -- "-- BEGIN PROG LOAD LOG --" "$DIR/err" &&
	   [ "$(tail -n 1 "$DIR/err")" = "$(grep "^ebpfaccel: redis attach: " "$DIR/err")" ]; then
		pass "--debug: the verifier's log ($(wc -l < "$DIR/err") lines), then the same one line"
	else
		fail "--debug: exit $rc, $(tail -n 3 "$DIR/err")"
	fi
	nothing_left "--debug" ;;
*)
	fail "the probe's redis_cache reason is neither 'loads' nor a verifier refusal: $verdict" ;;
esac
finish
