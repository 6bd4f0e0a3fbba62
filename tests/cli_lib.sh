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
