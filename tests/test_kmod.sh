#!/bin/sh
# make check: build the tcp_comp module against Debian's packaged kernel
# (tests/kmod/prepare.sh fetches it into the build tree once) and run the
# guest tests (tests/kmod/comp-guest.sh) in qemu.  SKIP (77) only when qemu,
# busybox-static or the kernel packages cannot be had.
set -u
srcdir=$(cd "${top_srcdir:-.}" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
kmod_dir=$builddir/tests/kmod
# KMOD_CACHE, else the cache quickstart.sh shares between build trees
# (distcheck's included), else the build tree.
cache=${KMOD_CACHE:-${EBPFACCEL_CACHE_DIR:+$EBPFACCEL_CACHE_DIR/kernel}}
cache=${cache:-$kmod_dir/cache}

# KMOD_KERNEL picks the kernel (tests/kmod/prepare.sh); Debian 12's by default
kernel=${KMOD_KERNEL:-6.1}
release=$("$srcdir/tests/kmod/prepare.sh" "$cache" "$kernel") || exit $?
headers=$cache/$release/root/usr/src/linux-headers-$release

# Kbuild writes next to the sources: build from a copy in the build tree so
# the source tree stays clean (and read-only trees, as in distcheck, work).
build=$kmod_dir/module
mkdir -p "$build"
cp "$srcdir"/kmod/Kbuild "$srcdir"/kmod/*.[ch] "$build/"
# The kernel's make is a separate build: it must not see our make's
# jobserver (make -j check) or flags.
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$headers" M="$build" EBPFACCEL_INCLUDE="$srcdir/include" modules \
	>"$build/build.log" 2>&1; then
	cat "$build/build.log"
	echo "FAIL: tcp_comp.ko does not build against $release"
	exit 1
fi
# Compiler diagnostics only ("file:line:col: warning:"), not make's notes.
if grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$build/build.log"; then
	echo "FAIL: compiler warnings in tcp_comp"
	exit 1
fi

progs=
for p in kmod_sockopt kmod_corrupt kmod_interop kmod_engine kmod_roundtrip; do
	progs="$progs -f $kmod_dir/$p"
done
# shellcheck disable=SC2086
"$srcdir/tests/kmod/run-guest.sh" -c "$cache" -k "$kernel" -m "$build/tcp_comp.ko" $progs \
	-t "${KMOD_GUEST_TIMEOUT:-1500}" -o "$kmod_dir/guest.log" "$srcdir/tests/kmod/comp-guest.sh"
