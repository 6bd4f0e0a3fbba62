#!/bin/sh
# make check: run the feature probe and the in-kernel Redis cache tests of
# this build tree on Debian 12's stock kernel (6.1), booted in qemu by
# tests/kmod/run-guest.sh; tests/kmod/redis-guest.sh runs them in the guest.
# The programs go in dynamically linked, with the build tree's
# libebpfaccel.so and the host's shared libraries (host and guest kernel
# are the same distribution's).  SKIP (77) only when qemu, busybox-static or
# the kernel packages cannot be had (run-guest.sh decides), or a program the
# tests need is not installed on the host.
set -u
srcdir=$(cd "${top_srcdir:-.}" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
cache=${KMOD_CACHE:-${EBPFACCEL_CACHE_DIR:+$EBPFACCEL_CACHE_DIR/kernel}}
cache=${cache:-$builddir/tests/kmod/cache}

skip() { echo "SKIP: $*"; exit 77; }
for p in redis-server redis-cli redis-benchmark; do
	[ -x "/usr/bin/$p" ] || skip "/usr/bin/$p not installed (redis-server, redis-tools)"
done
ip=$(command -v ip) || skip "ip (iproute2) not installed"

# the real binaries behind libtool's wrapper scripts; ldd finds the build
# tree's libebpfaccel through LD_LIBRARY_PATH, so run-guest.sh copies it too
progs=
for p in examples/feature_report tests/test_probe tests/test_resp tests/test_redis_cache; do
	bin=$builddir/${p%/*}/.libs/${p##*/}
	[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }
	progs="$progs -d $bin"
done
# every case of test_redis_cache's table, each run on its own in the guest
cases=$(sed -n 's/^[[:space:]]*T(\([a-z0-9_]*\)),$/\1/p' "$srcdir/tests/test_redis_cache.c" | tr '\n' ' ')
[ -n "$cases" ] || { echo "FAIL: no test cases found in tests/test_redis_cache.c"; exit 1; }
export LD_LIBRARY_PATH="$builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# shellcheck disable=SC2086
"$srcdir/tests/kmod/run-guest.sh" -c "$cache" $progs -d "$ip" -d /usr/bin/dash \
	-d /usr/bin/redis-server -d /usr/bin/redis-cli -d /usr/bin/redis-benchmark \
	-e EBPFACCEL_BUILD="$builddir" -e REDIS_CASES="$cases" \
	-e GUEST_TEST_TIMEOUT="${GUEST_TEST_TIMEOUT:-150}" -t "${GUEST_REDIS_TIMEOUT:-420}" \
	-o "$builddir/tests/kmod/guest-redis.log" "$srcdir/tests/kmod/redis-guest.sh"
