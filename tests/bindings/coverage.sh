#!/bin/sh
# Every exported C function (lib/libebpfaccel.map, which test_abi.sh ties to
# the library) must be reachable from both bindings:
#   - Python: present in the SWIG module ebpfaccel._ebpfaccel (generated from
#     the headers, so this fails only if SWIG could not wrap it);
#   - Go: called as C.<function> by the package in bindings/go (or by its
#     C glue there).
# A gap fails the test, naming each function and its C declaration.
# Functions the idiomatic Python package does not use yet are listed as
# notes: they are reachable through ebpfaccel._ebpfaccel meanwhile.
set -eu
src="${abs_top_srcdir:-${top_srcdir:-.}}"
map="$src/lib/libebpfaccel.map"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed -n 's/^[[:space:]]*\(ebpfaccel_[a-z0-9_]*\);[[:space:]]*$/\1/p' "$map" | sort -u > "$tmp/api"
[ -s "$tmp/api" ] || { echo "FAIL: no functions found in $map"; exit 1; }
rc=0

declaration() {
	awk -v fn="$1" '
		/^[ \t]*(\/\*|\*|\/\/)/ { prev = ""; next }
		!found && $0 ~ ("(^|[^a-z0-9_])" fn "\\(") { found = 1; if (prev !~ /[;}\/]$|^$/) print "      " prev }
		found { print "      " $0 } found && /;/ { exit }
		{ prev = $0 }
	' "$src"/include/ebpfaccel/*.h
}

report_missing() { # $1 = list file, $2 = what, $3 = hint
	[ -s "$1" ] || return 0
	echo "FAIL: $(wc -l < "$1") public function(s) missing from $2:"
	while read -r fn; do
		echo "  - $fn"
		declaration "$fn"
	done < "$1"
	echo "  $3"
	rc=1
}

if [ -n "${PYTHON:-}" ]; then
	PYTHONPATH="$EBPFACCEL_PYTHONPATH" LD_LIBRARY_PATH="$abs_top_builddir/lib/.libs" \
		"$PYTHON" -c 'import sys; from ebpfaccel import _ebpfaccel as c
for name in sys.stdin.read().split():
    if not callable(getattr(c, name, None)): print(name)' < "$tmp/api" > "$tmp/py-missing"
	report_missing "$tmp/py-missing" "the Python module ebpfaccel._ebpfaccel" \
		"SWIG skipped them: see the warnings of the swig command in the build log and add a typemap to bindings/python/ebpfaccel.i."
	grep -ho '_c\.ebpfaccel_[a-z0-9_]*' "$src"/bindings/python/ebpfaccel/*.py | sed 's/^_c\.//' | sort -u > "$tmp/py-used"
	comm -23 "$tmp/api" "$tmp/py-used" > "$tmp/py-raw"
	if [ -s "$tmp/py-raw" ]; then
		echo "NOTE: not wrapped idiomatically yet (reachable as ebpfaccel._ebpfaccel.<name>):"
		sed 's/^/  - /' "$tmp/py-raw"
	fi
	echo "python: $(wc -l < "$tmp/api") functions checked"
else
	echo "python: not built, not checked"
fi

{
	grep -ho 'C\.ebpfaccel_[a-z0-9_]*' $(ls "$src"/bindings/go/*.go | grep -v '_test\.go$') | sed 's/^C\.//'
	# C glue of the package (callback trampolines) calls some directly.
	grep -ho 'ebpfaccel_[a-z0-9_]*(' "$src"/bindings/go/*.c | sed 's/($//'
} | sort -u > "$tmp/go-used"
comm -23 "$tmp/api" "$tmp/go-used" > "$tmp/go-missing"
report_missing "$tmp/go-missing" "the Go package (bindings/go calls no C.<function> for them)" \
	"Wrap each in bindings/go/<object>.go: a method on the object's Go type (Close for __free/__destroy), errors through call(op, fn, negErrno|nullErrno) as in probe.go."
echo "go: $(wc -l < "$tmp/api") functions checked"
[ "$rc" = 0 ] && echo "PASS: every public function is reachable from the bindings"
exit $rc
