#!/bin/sh
# The Python and Go versions of examples/feature_report print exactly what
# the C one prints, and exit the same way, on this machine and as this user.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LD_LIBRARY_PATH="$abs_top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

run() { # name command...
	name=$1; shift
	rc=0; "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" || rc=$?
	echo "$rc" > "$tmp/$name.rc"
	[ "$rc" -le 1 ] || { echo "FAIL: $name exited $rc:"; cat "$tmp/$name.err"; exit 1; }
}

same_as_c() { # name
	if ! diff -u "$tmp/c.out" "$tmp/$1.out" || ! cmp -s "$tmp/c.rc" "$tmp/$1.rc"; then
		echo "FAIL: the $1 feature_report differs from the C one (exit $(cat "$tmp/$1.rc") vs $(cat "$tmp/c.rc"))"
		exit 1
	fi
	echo "PASS: $1 feature_report = C feature_report"
	checked=$((checked + 1))
}

checked=0
run c "$abs_top_builddir/examples/feature_report"
cat "$tmp/c.out"

if [ -n "${PYTHON:-}" ]; then
	PYTHONPATH="$EBPFACCEL_PYTHONPATH" run python "$PYTHON" "$abs_top_srcdir/examples/feature_report.py"
	same_as_c python
fi

if [ -n "${GO:-}" ]; then
	cache="$abs_top_builddir/bindings/go/cache"
	cp -r "$abs_top_srcdir/examples/go" "$tmp/go"
	chmod -R u+w "$tmp/go"
	sed -i "s|^replace ebpfaccel => .*|replace ebpfaccel => $abs_top_builddir/bindings/go/stage|" "$tmp/go/go.mod"
	gobuild() {
		(cd "$tmp/go" && GOCACHE="$cache/build" GOPATH="$cache/gopath" GOPROXY=off GOFLAGS=-mod=mod \
		 PKG_CONFIG_PATH="$EBPFACCEL_PKG_CONFIG_PATH" "$GO" build -o "$tmp/$1_go" "./$1")
	}
	gobuild feature_report
	run go "$tmp/feature_report_go"
	same_as_c go
fi

# The compression examples, when the library has compression: an echo over
# loopback must come back the same, compressed.
compressed() { # name command...
	name=$1; shift
	out=$("$@") || { echo "FAIL: $name: $out"; exit 1; }
	echo "$out"
	echo "$out" | grep -q "^echoed [0-9]* bytes, same$" || { echo "FAIL: $name did not echo"; exit 1; }
	echo "PASS: $name"
}
if [ -n "${PYTHON:-}" ] && PYTHONPATH="$EBPFACCEL_PYTHONPATH" "$PYTHON" -c 'import ebpfaccel.comp' 2>/dev/null; then
	PYTHONPATH="$EBPFACCEL_PYTHONPATH" compressed comp_echo.py "$PYTHON" "$abs_top_srcdir/examples/comp_echo.py"
fi
if [ -n "${GO:-}" ] && [ -f "$abs_top_builddir/bindings/go/stage/comp.go" ]; then
	gobuild comp_echo
	compressed comp_echo.go "$tmp/comp_echo_go"
fi
if [ -n "${GO:-}" ] && [ -f "$abs_top_builddir/bindings/go/stage/redis_cache.go" ]; then
	gobuild redis_cache_stats
fi

if [ "$checked" = 0 ]; then
	echo "SKIP: neither binding is built"
	exit 77
fi
