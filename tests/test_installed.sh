#!/bin/sh
# Run by 'make installcheck': build the examples out of tree against the
# installed headers, library and ebpfaccel.pc only, then run one.
# Works with a plain install (prefix) and a staged one (DESTDIR).
set -eu
: "${srcdir:=.}" "${prefix:?}" "${libdir:?}"
DESTDIR="${DESTDIR:-}"
pc="$DESTDIR$libdir/pkgconfig"
[ -f "$pc/ebpfaccel.pc" ] || { echo "FAIL: $pc/ebpfaccel.pc is not installed"; exit 1; }
# The Redis cache's unit template runs the installed tool in the foreground.
unit="$DESTDIR${systemdunitdir:-$prefix/lib/systemd/system}/ebpfaccel-redis@.service"
grep -q "^ExecStart=${bindir:-$prefix/bin}/ebpfaccel redis attach --foreground --port %i " "$unit" \
	|| { echo "FAIL: $unit is not installed or does not run ${bindir:-$prefix/bin}/ebpfaccel"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$srcdir"/examples/*.c "$srcdir"/examples/Makefile "$work/"

# --define-prefix maps the .pc's own location back to the staged prefix.
PKG_CONFIG="pkg-config --define-prefix"
export PKG_CONFIG_PATH="$pc"
cflags=$($PKG_CONFIG --cflags ebpfaccel)
libs=$($PKG_CONFIG --libs ebpfaccel)
case "$cflags $libs" in
	*"$DESTDIR"*) ;;
	*) echo "FAIL: pkg-config does not point into $DESTDIR: $cflags $libs"; exit 1 ;;
esac
make -s -C "$work" PKG_CONFIG="$PKG_CONFIG"

out=$(LD_LIBRARY_PATH="$DESTDIR$libdir" "$work/feature_report" || true)
echo "$out" | head -n 3
echo "$out" | grep -q "^libebpfaccel [0-9]" || { echo "FAIL: feature_report printed no report"; exit 1; }
echo "PASS: examples build and run against the installed library"
