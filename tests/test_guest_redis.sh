#!/bin/sh
# make check: the feature probe and the in-kernel Redis cache's serving and
# coherence cases of this build tree on Debian's kernels 6.1, 6.12 and the
# newest (7.3) — GUEST_REDIS_KERNELS —, and its XDP mode's cases
# (test_redis_xdp, veth between two netns inside the guest) on 6.1 and 6.12
# — GUEST_XDP_KERNELS —, each booted in qemu by
# tests/kmod/run-guest.sh (two at a time); tests/kmod/redis-guest.sh runs
# them in the guest, every case expected to pass.  The programs go in
# dynamically linked, with the build tree's libebpfaccel.so and the host's
# shared libraries (the guest runs the host's userland on its own kernel).
# GUEST_REDIS_CASES overrides the cases (names of test_redis_cache's table),
# GUEST_XDP_CASES those of test_redis_xdp.
# SKIP (77) only when qemu, busybox-static or a kernel cannot be had
# (run-guest.sh, prepare.sh; a kernel that cannot be fetched fails with
# CI=true), or a program the tests need is not installed on the host.
set -u
srcdir=$(cd "${top_srcdir:-.}" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
cache=${KMOD_CACHE:-${EBPFACCEL_CACHE_DIR:+$EBPFACCEL_CACHE_DIR/kernel}}
cache=${cache:-$builddir/tests/kmod/cache}
out=$builddir/tests/kmod/guest-redis
# shellcheck source=tests/kmod/matrix-lib.sh
. "$srcdir/tests/kmod/matrix-lib.sh"

skip() { echo "SKIP: $*"; exit 77; }
for p in redis-server redis-cli redis-benchmark; do
	[ -x "/usr/bin/$p" ] || skip "/usr/bin/$p not installed (redis-server, redis-tools)"
done
ip=$(command -v ip) || skip "ip (iproute2) not installed"
ss=$(command -v ss) || skip "ss (iproute2) not installed"

# the real binaries behind libtool's wrapper scripts; ldd finds the build
# tree's libebpfaccel through LD_LIBRARY_PATH, so run-guest.sh copies it too
progs=
for p in examples/feature_report tests/test_probe tests/test_resp tests/test_redis_cache \
	tests/test_redis_xdp; do
	bin=$builddir/${p%/*}/.libs/${p##*/}
	[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }
	progs="$progs -d $bin"
done
# The cache serves (hits from the kernel, every request form, split and
# pipelined requests, one-segment answers) and stays coherent (other
# writers, SELECT, write-through SET, the coherence connection's recovery);
# replies of any nesting depth keep a connection served.
# The first is the gate (redis-guest.sh): when the kernel does not serve
# it, the others are not run.  The rest of test_redis_cache runs on the
# host; a name missing from its table is an error, not a smaller run.
cases=${GUEST_REDIS_CASES:-hit_comes_from_kernel get_request_forms split_and_pipelined \
answer_is_one_segment invalidated_by_other_writers select_across_dbs set_write_through \
coherence_connection_recovers deeply_nested_replies set_forms_invalidate_keys}
table=$(sed -n 's/^[[:space:]]*T(\([a-z0-9_]*\)),$/\1/p' "$srcdir/tests/test_redis_cache.c")
for c in $cases; do
	echo "$table" | grep -qx "$c" || { echo "FAIL: no case $c in tests/test_redis_cache.c"; exit 1; }
done
# XDP mode: lost answers and replies (1500 mixed rounds, byte-exact), FIN/RST
# after answers, pipelines and GSO replies, per-key tracking by default (a
# TCP-only server) with XDP's per-key gate. Not yet by default: mixed_ipv6
# (20k rounds, ~11 min of TCG) saw the client retransmit 28-48 segments on
# 6.1 and 6.12 at a host load of 35, which that case forbids (none on the
# host); the 100k IPv4 run, the soak and destroy's resets stay on the host.
xdp_cases=${GUEST_XDP_CASES:-losses_ipv4 closes_ipv4 pipeline_and_gso auto_keys}
xdp_table=$(sed -n 's/^[[:space:]]*ADD(\([a-z0-9_]*\));$/\1/p' "$srcdir/tests/test_redis_xdp.c")
for c in $xdp_cases; do
	echo "$xdp_table" | grep -qx "$c" || { echo "FAIL: no case $c in tests/test_redis_xdp.c"; exit 1; }
done
export LD_LIBRARY_PATH="$builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

redis_guest() {
	# the XDP cases' veth, clsact/cls_bpf (tc egress) and sock_diag (resets
	# at destroy) are modules of Debian's kernels
	xdp=
	case " ${GUEST_XDP_KERNELS:-6.1 6.12} " in
	*" $1 "*) xdp="-l veth -l sch_ingress -l cls_bpf -l tcp_diag -e XDP_CASES=$(echo $xdp_cases | tr ' ' ,)" ;;
	esac
	# shellcheck disable=SC2086
	"$srcdir/tests/kmod/run-guest.sh" -c "$cache" -k "$1" -M "${GUEST_REDIS_MEM:-2048}" \
		$progs $xdp -d "$ip" -d "$ss" -d /usr/bin/dash \
		-d /usr/bin/redis-server -d /usr/bin/redis-cli -d /usr/bin/redis-benchmark \
		-e EBPFACCEL_BUILD="$builddir" -e REDIS_CASES="$(echo $cases)" \
		-e GUEST_TEST_TIMEOUT="${GUEST_TEST_TIMEOUT:-420}" -t "${GUEST_REDIS_TIMEOUT:-3600}" \
		-o "$out/$1.console" "$srcdir/tests/kmod/redis-guest.sh"
}
# a passed guest: the time each program took
results() {
	tr -d '\r' <"$1" | sed -n '/^guest results/,$p'
}

# shellcheck disable=SC2086 # a list of kernels
matrix_prepare ${GUEST_REDIS_KERNELS:-6.1 6.12 7.3}
matrix_run redis_guest
matrix_report results
