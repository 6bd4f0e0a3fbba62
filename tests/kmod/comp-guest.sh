# Runs inside the qemu guest (busybox sh, see run-guest.sh): loads tcp_comp
# and runs each test program; on failure or hang it prints the kernel log
# and the stacks of the test's tasks.
# shellcheck disable=SC2034 # limit, dump_comms: used by guest-lib.sh
limit=${KMOD_TEST_TIMEOUT:-240}
dump_comms="kmod_* kworker* kstrp*"
# shellcheck source=tests/kmod/guest-lib.sh
. ./guest-lib.sh

run_all() {
	for t in "$@"; do
		echo "== $t"
		# shellcheck disable=SC2086
		run ./$t
		rc=$?
		if [ "$rc" != 0 ]; then
			echo "FAIL: $t exited with $rc"
			dump
			exit 1
		fi
	done
}

insmod /modules/tcp_comp.ko || { echo "FAIL: insmod tcp_comp.ko"; exit 1; }
run_all "kmod_sockopt" "kmod_corrupt" "kmod_interop" "kmod_engine" "kmod_roundtrip --throughput"
# format 2's check cost as a ratio, measured once: in the 6.1 guest
case $(uname -r) in
6.1.*) run_all "kmod_roundtrip --check-cost" ;;
esac
run_all "kmod_sockopt --unload"

# A host whose module predates record format 2, as max_format=1 makes it:
# the module refuses format 2 and the library negotiates format 1 for it.
if insmod /modules/tcp_comp.ko max_format=3 2>/dev/null; then
	echo "FAIL: tcp_comp loaded with max_format=3"
	exit 1
fi
insmod /modules/tcp_comp.ko max_format=1 || { echo "FAIL: insmod tcp_comp.ko max_format=1"; exit 1; }
run_all "kmod_sockopt" "kmod_engine --negotiate" "kmod_sockopt --unload"

# Installed (as DKMS does) but not loaded: the library has the kernel load
# it before it offers a format, and negotiates format 2 for it.
release=$(uname -r)
mkdir -p "/lib/modules/$release"
cp /modules/tcp_comp.ko "/lib/modules/$release/"
depmod "$release"
echo /bin/modprobe >/proc/sys/kernel/modprobe
run_all "kmod_engine --negotiate"
grep -q '^tcp_comp ' /proc/modules || { echo "FAIL: the library did not load tcp_comp"; exit 1; }
if dmesg | grep -E 'BUG|WARNING|Oops|leak'; then
	echo "FAIL: kernel complained"
	exit 1
fi
exit 0
