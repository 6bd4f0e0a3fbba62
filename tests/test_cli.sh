#!/bin/sh
# The ebpfaccel tool: help/man, JSON schema, exit codes and error paths.
set -u
cli="${top_builddir:-.}/tools/ebpfaccel"
PY=/usr/bin/python3
. "${top_srcdir:-$(dirname "$0")/..}/tests/cli_lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to compare privileged and unprivileged views"; exit 77; }
[ -x "$PY" ] || { echo "SKIP: $PY (Debian python3) is needed to validate JSON"; exit 77; }

expect_rc 0 "--help" "$cli" --help
"$cli" --help | grep -q '^  status' && pass "help lists status" || fail "help does not list status"
expect_rc 0 "--version" "$cli" --version
"$cli" --version | grep -q "^ebpfaccel [0-9]" && pass "version format" || fail "version format"
expect_rc 2 "no command" "$cli"
expect_rc 2 "unknown command" "$cli" frobnicate
expect_rc 2 "bad option" "$cli" --bogus status
expect_rc 2 "extra argument" "$cli" status extra
"$cli" frobnicate 2>&1 | grep -q "unknown command 'frobnicate'" && pass "unknown command named" \
	|| fail "unknown command not named"
expect_rc 0 "group --help" "$cli" redis --help
"$cli" redis --help | grep -q '^  ebpfaccel redis attach --port' && pass "group help lists its commands" \
	|| fail "redis --help does not list redis attach"
expect_rc 2 "group without a subcommand" "$cli" comp
expect_rc 0 "command --help" "$cli" redis stats --help
"$cli" comp policy set --help | grep -q '^Usage: ebpfaccel comp policy set PORT' && pass "command help" \
	|| fail "comp policy set --help"

# JSON: valid, the documented keys, one entry per probed feature.
if "$cli" status --json | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
assert set(s) == {"version", "kernel", "attachments", "features"}, s.keys()
assert isinstance(s["attachments"], list)
names = [f["name"] for f in s["features"]]
assert len(names) == len(set(names)) >= 12, names
for f in s["features"]:
    assert set(f) == {"name", "supported", "detail"} and isinstance(f["supported"], bool), f
    assert f["supported"] or f["detail"], f
assert any(f["name"] == "cap_bpf" and f["supported"] for f in s["features"])
'; then pass "status --json schema"; else fail "status --json schema"; fi
if "$cli" --json features | "$PY" -c 'import json,sys; assert len(json.load(sys.stdin)) >= 12'; then
	pass "--json before the command"; else fail "--json before the command"; fi

# Text and JSON agree on each feature.
"$cli" --json features | "$PY" -c '
import json, sys
for f in json.load(sys.stdin): print(f["name"], "yes" if f["supported"] else "no")' > "${TMPDIR:-/tmp}/cli-json.$$"
"$cli" features | awk '{ print $1, $2 }' > "${TMPDIR:-/tmp}/cli-text.$$"
if cmp -s "${TMPDIR:-/tmp}/cli-json.$$" "${TMPDIR:-/tmp}/cli-text.$$"; then pass "text = json"; else fail "text and json differ"; fi
rm -f "${TMPDIR:-/tmp}/cli-json.$$" "${TMPDIR:-/tmp}/cli-text.$$"

# Unprivileged: still works, and says which capability is missing.
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$cli" features 2>&1)
echo "$out" | grep -q '^  cap_bpf *no *lacks CAP_BPF' && pass "unprivileged: CAP_BPF named" \
	|| fail "unprivileged output: $out"
echo "$out" | grep -q '^  sockmap *no .*CAP_BPF' && pass "unprivileged: sockmap explains" \
	|| fail "unprivileged sockmap line: $out"

# The man page is the help text.
man="${top_builddir:-.}/tools/ebpfaccel.1"
if [ -f "$man" ] && grep -q 'status' "$man" && grep -q 'Exit status' "$man"; then pass "man page"; else fail "man page $man"; fi

finish
