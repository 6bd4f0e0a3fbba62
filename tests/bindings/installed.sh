#!/bin/sh
# Run by 'make installcheck' (after tests/test_installed.sh): the Python and
# Go examples against the installed library, package and Go sources only --
# a plain install (prefix) or a staged one (DESTDIR).
set -eu
: "${srcdir:=.}" "${libdir:?}" "${pythondir:?}" "${godir:?}"
DESTDIR="${DESTDIR:-}"
srcdir=$(cd "$srcdir" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LD_LIBRARY_PATH="$DESTDIR$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
checked=0

if [ -n "${PYTHON:-}" ]; then
	[ -f "$DESTDIR$pythondir/ebpfaccel/__init__.py" ] || { echo "FAIL: no ebpfaccel package in $DESTDIR$pythondir"; exit 1; }
	where=$(cd "$work" && PYTHONPATH="$DESTDIR$pythondir" "$PYTHON" -c 'import ebpfaccel; print(ebpfaccel.__file__)')
	case "$where" in
	"$DESTDIR$pythondir"/*) ;;
	*) echo "FAIL: imported ebpfaccel from $where, not from the installation"; exit 1 ;;
	esac
	out=$(cd "$work" && PYTHONPATH="$DESTDIR$pythondir" "$PYTHON" "$srcdir/examples/feature_report.py" || true)
	echo "$out" | head -n 2
	echo "$out" | grep -q "^libebpfaccel [0-9]" || { echo "FAIL: the Python feature_report printed no report"; exit 1; }
	checked=$((checked + 1))
	if (cd "$work" && PYTHONPATH="$DESTDIR$pythondir" "$PYTHON" -c 'import ebpfaccel.comp' 2>/dev/null); then
		(cd "$work" && PYTHONPATH="$DESTDIR$pythondir" "$PYTHON" "$srcdir/examples/comp_echo.py") \
			| grep -q "^echoed [0-9]* bytes, same$" || { echo "FAIL: the Python comp_echo did not echo"; exit 1; }
		checked=$((checked + 1))
	fi
fi

if [ -n "${GO:-}" ]; then
	[ -f "$DESTDIR$godir/go.mod" ] || { echo "FAIL: no Go sources in $DESTDIR$godir"; exit 1; }
	for ex in feature_report comp_echo; do
		mkdir "$work/$ex"
		cp "$srcdir/examples/go/$ex/main.go" "$work/$ex/"
	done
	printf '%s\n' 'module examples' 'go 1.19' 'require ebpfaccel v0.0.0' \
		"replace ebpfaccel => $DESTDIR$godir" > "$work/go.mod"
	# The sysroot maps the installed .pc's paths into a staged DESTDIR.
	gobuild() {
		(cd "$work" && GOCACHE="$work/cache" GOPATH="$work/gopath" GOPROXY=off GOFLAGS=-mod=mod \
		 PKG_CONFIG_PATH="$DESTDIR$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$DESTDIR" \
		 "$GO" build -o "$1_go" "./$1")
	}
	gobuild feature_report
	out=$("$work/feature_report_go" || true)
	echo "$out" | head -n 2
	echo "$out" | grep -q "^libebpfaccel [0-9]" || { echo "FAIL: the Go feature_report printed no report"; exit 1; }
	checked=$((checked + 1))
	# Compression, when the installed library has it.
	if [ -f "$DESTDIR$godir/comp.go" ]; then
		gobuild comp_echo
		"$work/comp_echo_go" | grep -q "^echoed [0-9]* bytes, same$" \
			|| { echo "FAIL: the Go comp_echo did not echo"; exit 1; }
		checked=$((checked + 1))
	fi
fi
echo "PASS: $checked binding example(s) build and run against the installed library"
