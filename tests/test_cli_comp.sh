#!/bin/sh
# ebpfaccel comp ...: every command, the JSON schemas, the error paths, and a
# real negotiated connection counted by the policy the CLI attached.
# Runs in a mount namespace of its own with a private bpffs, so pins of
# tests running at the same time are not seen and nothing pinned can
# outlive the test: the namespace (and its bpffs) ends with it.
set -u
if [ -z "${CLI_COMP_UNSHARED:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (cgroups, BPF, mount namespaces)"; exit 77; }
	for t in unshare bpftool ip; do
		command -v $t >/dev/null || { echo "SKIP: $t is missing"; exit 77; }
	done
	CLI_COMP_UNSHARED=1 exec unshare --mount --propagation private "$0" "$@"
fi
cli="${top_builddir:-.}/tools/ebpfaccel"
PY=/usr/bin/python3
. "${top_srcdir:-$(dirname "$0")/..}/tests/cli_lib.sh"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
[ -x "$PY" ] || { echo "SKIP: $PY (Debian python3) is needed to validate JSON"; exit 77; }
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg2" ] || { echo "SKIP: no cgroup v2 mount"; exit 77; }

CG="$cg2/ebpfaccel-clitest-$$"
CG2="$cg2/ebpfaccel-clitest2-$$"
NS="ebpfaccel-clitest-$$"
cleanup() {
	"$cli" comp detach --name t1 >/dev/null 2>&1
	"$cli" comp detach --name t2 >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	for d in "$CG" "$CG2"; do [ ! -d "$d" ] || rmdir "$d"; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$CG" "$CG2"
# A bpffs of this namespace only; the first attach must mount it itself.
while [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; do umount -l /sys/fs/bpf || break; done

# Nothing attached yet.
expect_rc 4 "stats with nothing attached" "$cli" comp stats
expect_msg "comp attach --cgroup" "nothing attached says how to attach" "$cli" comp policy list
expect_rc 4 "detach with nothing attached" "$cli" comp detach
expect_rc 4 "set with nothing attached" "$cli" comp policy set 8080

# Not root: the capability is named, exit 3, nothing changes.
expect_rc 3 "unprivileged stats" nobody "$cli" comp stats
expect_rc 3 "unprivileged attach" nobody "$cli" comp attach --cgroup "$CG" --name t1
expect_msg "root|CAP_" "unprivileged attach names what is missing" nobody "$cli" comp attach --cgroup "$CG" --name t1

# Bad command lines.
expect_rc 2 "attach without --cgroup" "$cli" comp attach
expect_rc 2 "attach to a non-cgroup" "$cli" comp attach --cgroup /tmp
expect_rc 2 "attach to the root cgroup" "$cli" comp attach --cgroup "$cg2"
expect_msg "root cgroup" "root cgroup refused with the reason" "$cli" comp attach --cgroup "$cg2"
expect_rc 2 "attach with a port" "$cli" comp attach 80 --cgroup "$CG"
expect_rc 2 "--json on a write command" "$cli" comp attach --cgroup "$CG" --json

# Attach (mounting bpffs), then the same name again.
expect_msg "mounted bpffs" "attach mounts bpffs and says so" "$cli" comp attach --cgroup "$CG" --name t1
[ -d /sys/fs/bpf/ebpfaccel/comp/t1 ] && pass "pinned at comp/t1" || fail "no comp/t1"
mode=$(stat -c %a /sys/fs/bpf/ebpfaccel/comp/t1)/$(stat -c %a /sys/fs/bpf/ebpfaccel/comp/t1/link)
[ "$mode" = 700/600 ] && pass "modes 0700/0600" || fail "modes $mode"
progs=$(bpftool cgroup show "$CG" | grep -c sock_ops)
[ "$progs" = 1 ] && pass "attached to the cgroup" || fail "cgroup has $progs sock_ops programs"
expect_rc 1 "attach an existing name" "$cli" comp attach --cgroup "$CG" --name t1
expect_msg "comp detach --name t1" "existing name: says how to detach" "$cli" comp attach --cgroup "$CG" --name t1

# Rules.
expect_rc 0 "policy set defaults" "$cli" comp policy set 7010
expect_rc 0 "policy set all options" "$cli" comp policy set 7011 --algo lz4 --level -3 --mode stream --dir tx --auto
expect_rc 0 "policy set off" "$cli" comp policy set 7012 --off --dir rx
expect_rc 2 "bad port 0" "$cli" comp policy set 0
expect_rc 2 "bad port 65536" "$cli" comp policy set 65536
expect_rc 2 "bad port text" "$cli" comp policy set http
expect_msg "1 to 65535" "bad port says the range" "$cli" comp policy set 99999
expect_rc 2 "bad algorithm" "$cli" comp policy set 7010 --algo gzip
expect_msg "choose zstd or lz4" "bad algorithm names the choices" "$cli" comp policy set 7010 --algo gzip
expect_rc 2 "bad mode" "$cli" comp policy set 7010 --mode chunk
expect_rc 2 "bad direction" "$cli" comp policy set 7010 --dir up
expect_rc 2 "bad level" "$cli" comp policy set 7010 --level 99
expect_rc 2 "missing port" "$cli" comp policy set --algo lz4
expect_rc 2 "two ports" "$cli" comp policy set 1 2
expect_rc 2 "unknown option" "$cli" comp policy set 7010 --fast
expect_rc 4 "del a port without rule" "$cli" comp policy del 7999
expect_rc 0 "del" "$cli" comp policy del 7012

if "$cli" comp policy list --json | "$PY" -c '
import json, sys
p = json.load(sys.stdin)
assert set(p) == {"name", "pinned", "cgroup_id", "cgroup", "rules"}, p.keys()
assert p["name"] == "t1" and p["pinned"] == "/sys/fs/bpf/ebpfaccel/comp/t1", p
assert p["cgroup"] == sys.argv[1] and p["cgroup_id"] > 0, p
keys = {"port", "action", "algo", "level", "mode", "dir", "record_size", "checksum"}
assert all(set(r) == keys for r in p["rules"]), p["rules"]
got = [(r["port"], r["action"], r["algo"], r["level"], r["mode"], r["dir"]) for r in p["rules"]]
assert got == [(7010, "on", "zstd", 0, "block", "both"), (7011, "auto", "lz4", -3, "stream", "tx")], got
' "$CG"; then pass "policy list --json schema and rules"; else fail "policy list --json"; fi
"$cli" comp policy list | grep -qE '^7011 +auto +lz4 +-3 +stream +tx' && pass "policy list text" \
	|| fail "policy list text: $("$cli" comp policy list 2>&1)"

# A real connection in a netns, by processes of the cgroup: the policy
# the CLI attached negotiates it, and stats count it.
ip netns add "$NS" && ip -n "$NS" link set lo up
sh -c 'echo $$ > "$1/cgroup.procs" && exec ip netns exec "$2" "$3" -c "
import socket
l = socket.create_server((\"127.0.0.1\", 7010))
c = socket.create_connection((\"127.0.0.1\", 7010))
s, _ = l.accept()
c.sendall(b\"x\"); assert s.recv(1) == b\"x\"
"' sh "$CG" "$NS" "$PY" && pass "connection in the cgroup" || fail "connection in the cgroup"
if "$cli" comp stats --json | "$PY" -c '
import json, sys
p = json.load(sys.stdin)
assert set(p) == {"name", "pinned", "cgroup_id", "cgroup", "counters"}, p.keys()
c = p["counters"]
assert set(c) == {"syn_opt", "synack_opt", "client_on", "client_no_answer", "server_on",
                  "server_no_confirm", "confirm_done"}, c
assert c["syn_opt"] == 1 and c["synack_opt"] == 1 and c["client_on"] == 1, c
'; then pass "stats --json counts the negotiated connection"; else fail "stats --json: $("$cli" comp stats --json 2>&1)"; fi
"$cli" comp stats | grep -qE '^ +1  client SYNs sent' && pass "stats text" || fail "stats text"

# status shows it, with since when.
if "$cli" status --json | "$PY" -c '
import json, sys
# Redis caches of tests running meanwhile are listed too: they are not pinned.
a = [x for x in json.load(sys.stdin)["attachments"] if x["feature"] == "comp"]
assert len(a) == 1 and a[0]["feature"] == "comp" and a[0]["name"] == "t1", a
assert a[0]["cgroup"] == sys.argv[1] and a[0]["since"].endswith("Z"), a
' "$CG"; then pass "status --json lists the attachment"; else fail "status --json attachments"; fi
"$cli" status | grep -q "^attached: comp t1 on cgroup $CG since " && pass "status text" || fail "status text"
nobody "$cli" status | grep -q "^attachments: unknown (.*root only)" && pass "unprivileged status says it cannot see" \
	|| fail "unprivileged status: $(nobody "$cli" status 2>&1 | sed -n 3p)"
[ "$(stat -c %a /sys/fs/bpf)" = 1777 ] && pass "bpffs mounted as 'mount -t bpf' would" \
	|| fail "bpffs mode $(stat -c %a /sys/fs/bpf)"

# Two policies: commands need --name.
expect_rc 0 "second attach under another name" "$cli" comp attach --cgroup "$CG2" --name t2
expect_rc 2 "ambiguous without --name" "$cli" comp stats
expect_msg "choose one with --name" "ambiguity says what to do" "$cli" comp policy list
expect_rc 0 "stats --name" "$cli" comp stats --name t2
expect_rc 4 "unknown --name" "$cli" comp stats --name nope
expect_rc 2 "bad --name" "$cli" comp stats --name a.b
# Its cgroup removed: the kernel drops the program, the pins stay until detach.
rmdir "$CG2"
"$cli" status | grep -q "^attached: comp t2 on cgroup (removed" && pass "status: cgroup removed" \
	|| fail "status with a removed cgroup: $("$cli" status 2>&1 | grep attached)"
expect_rc 0 "detach --name t2" "$cli" comp detach --name t2

# Detach leaves nothing pinned or attached.
expect_rc 0 "detach" "$cli" comp detach
[ -z "$(ls -A /sys/fs/bpf/ebpfaccel/comp)" ] && pass "no pins left" || fail "pins left: $(ls -A /sys/fs/bpf/ebpfaccel/comp)"
progs=$(bpftool cgroup show "$CG" | grep -c sock_ops)
[ "$progs" = 0 ] && pass "nothing attached to the cgroup" || fail "cgroup still has $progs programs"
expect_rc 4 "detach again" "$cli" comp detach

finish
