#!/bin/sh
# make check: build the tcp_comp module against one of Debian's packaged
# kernels with that kernel's own compiler (tests/kmod/build-module.sh) and
# run the guest tests (tests/kmod/comp-guest.sh) on it in qemu.
# KMOD_KERNEL picks the kernel (tests/kmod/prepare.sh: 6.1, the default,
# 6.12, 7.3, ...); tests/test_kmod_<kernel>.sh set it for make check.
# SKIP (77) only when qemu, busybox-static, the kernel packages or the
# kernel's compiler cannot be had; with CI=true those fail instead.
set -u
srcdir=$(cd "${top_srcdir:-.}" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
kmod_dir=$builddir/tests/kmod
# KMOD_CACHE, else the cache quickstart.sh shares between build trees
# (distcheck's included), else the build tree.
cache=${KMOD_CACHE:-${EBPFACCEL_CACHE_DIR:+$EBPFACCEL_CACHE_DIR/kernel}}
cache=${cache:-$kmod_dir/cache}
kernel=${KMOD_KERNEL:-6.1}

# what cannot be had is a skip on a developer's machine, a failure in CI
unavailable() {
	[ "$1" = 77 ] && [ "${CI:-}" = true ] && { echo "FAIL: $2 (CI=true)"; exit 1; }
	exit "$1"
}

release=$("$srcdir/tests/kmod/prepare.sh" "$cache" "$kernel") || unavailable $? "kernel $kernel"
headers=$cache/$release/root/usr/src/linux-headers-$release
[ -d "$headers" ] || { echo "FAIL: no headers for $release in the archive"; exit 1; }

# one build directory per kernel: the kernels' tests run in parallel; the
# compiler chroot, when one is needed, lives in $EBPFACCEL_CACHE_DIR/toolchain
# (default /var/cache/ebpfaccel): it serves every build tree
build=$kmod_dir/module-$kernel
"$srcdir/tests/kmod/build-module.sh" -I "$srcdir/include" \
	"$headers" "$srcdir/kmod" "$build" || unavailable $? "no $release compiler"

progs=
for p in kmod_sockopt kmod_corrupt kmod_interop kmod_engine kmod_roundtrip; do
	progs="$progs -f $kmod_dir/$p"
done
# shellcheck disable=SC2086
"$srcdir/tests/kmod/run-guest.sh" -c "$cache" -k "$kernel" -m "$build/tcp_comp.ko" $progs \
	-t "${KMOD_GUEST_TIMEOUT:-1500}" -o "$kmod_dir/guest-$kernel.log" "$srcdir/tests/kmod/comp-guest.sh"
