# Runs inside the qemu guest (busybox sh, see run-guest.sh and
# tests/test_guest_redis.sh): the library's feature probe and its Redis cache
# tests against the guest's kernel: the cases named in $REDIS_CASES (and
# the XDP mode's in $XDP_CASES), each expected to pass.  The programs are the build tree's own
# (dynamically linked, at their host paths), with libebpfaccel from
# $EBPFACCEL_BUILD/lib/.libs.  Every program runs, even after a failure;
# the exit status is 0 only when all of them passed.
: "${EBPFACCEL_BUILD:?run-guest.sh -e EBPFACCEL_BUILD=<build tree>}"
# shellcheck disable=SC2034 # limit, dump_comms: used by guest-lib.sh
limit=${GUEST_TEST_TIMEOUT:-240}

# iproute2's ip (netns support) and Debian's redis before busybox's applets.
# Debian's static busybox sh runs its own applets before searching PATH
# (FEATURE_SH_STANDALONE), so its "ip" (no netns) would win in every
# system()/fx_run(): /bin/sh becomes the host's dash, which searches PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
ln -sf /usr/bin/dash /bin/sh
export LD_LIBRARY_PATH="$EBPFACCEL_BUILD/lib/.libs"
# The fixtures use ip netns (/run/netns), a cgroup2 mount found in
# /proc/mounts, and /tmp for redis-server's files.
mkdir -p /run /var /sys/fs/cgroup
ln -s /run /var/run
mount -t tmpfs run /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf

# TCG runs the tests 5-20x slower than the host, more on a busy machine:
# Check's timeouts are tripled (CK_TIMEOUT_MULTIPLIER), so test_redis_cache's
# 120 s per case become 360 s (on 6.12 under a load average of 20, attaching
# the cache alone took most of 120 s: its verification is 30-45 s of TCG),
# and the default 4 s of test_probe and test_resp 60 s; run() in
# guest-lib.sh ($limit) is the deadline above them.
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-20}"
export CK_TIMEOUT_MULTIPLIER="${CK_TIMEOUT_MULTIPLIER:-3}"

# shellcheck disable=SC2034
dump_comms="test_* redis-* feature_report kworker*"
# shellcheck source=tests/kmod/guest-lib.sh
. ./guest-lib.sh

check() {
	name=$1
	shift
	echo "== $name"
	start=$(date +%s)
	run "$@"
	rc=$?
	took=$(($(date +%s) - start))
	summary="$summary
  $name: exit $rc (${took}s)"
	if [ "$rc" != 0 ]; then
		echo "FAIL: $name exited with $rc"
		dmesg | tail -n 30
		failed="$failed $name"
	fi
}

echo "guest: Linux $(uname -r)"
failed=
summary=
B=$EBPFACCEL_BUILD
check feature_report "$B/examples/.libs/feature_report"
check test_probe "$B/tests/.libs/test_probe"
check test_resp "$B/tests/.libs/test_resp"
# Each case of test_redis_cache on its own (CK_RUN_CASE).  The first case
# is the gate: every case needs the kernel to serve, and when it does not,
# each would fail the same way after minutes of TCG warm-up; they are then
# listed as not run (the run fails).  After the gate, one case that hangs
# or fails does not hide the others.
gate=
# case $2 of program $1 (CK_RUN_CASE), unless the gate failed
run_case() {
	if [ -n "$gate" ]; then
		summary="$summary
  $1:$2: not run ($gate failed)"
		return
	fi
	export CK_RUN_CASE=$2
	check "$1:$2" "$B/tests/.libs/$1"
}
first=yes
for c in ${REDIS_CASES:?no cases}; do
	run_case test_redis_cache "$c"
	[ "$first" = no ] || [ "$rc" = 0 ] || gate=$c
	first=no
done
# The XDP mode's cases ($XDP_CASES, comma-separated), after the gate too.
for c in $(echo "${XDP_CASES:-}" | tr , ' '); do
	run_case test_redis_xdp "$c"
done
unset CK_RUN_CASE

if dmesg | grep -E 'BUG|WARNING|Oops|leak|verifier bug'; then
	echo "FAIL: kernel complained"
	failed="$failed kernel"
fi
echo "guest results (Linux $(uname -r)):$summary"
[ -z "$failed" ] || { echo "FAIL:$failed"; exit 1; }
exit 0
