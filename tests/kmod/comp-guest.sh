# Runs inside the qemu guest (busybox sh, see run-guest.sh): loads tcp_comp
# and runs each test program; on failure or hang it prints the kernel log
# and the stacks of the test's tasks.
limit=${KMOD_TEST_TIMEOUT:-240}

dump() {
	for p in /proc/[0-9]*; do
		case $(cat "$p/comm" 2>/dev/null) in
		kmod_*|kworker*|kstrp*)
			echo "== ${p#/proc/} $(cat "$p/comm") $(grep State "$p/status")"
			cat "$p/stack"
			;;
		esac
	done
	dmesg | tail -n 60
}

# runs "$@" with a deadline; a hung test is dumped before it is killed
run() {
	"$@" &
	pid=$!
	waited=0
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$waited" -ge "$limit" ]; then
			echo "FAIL: $* still running after ${limit}s"
			dump
			kill -9 "$pid"
			return 124
		fi
		sleep 1
		waited=$((waited + 1))
	done
	wait "$pid"
}

insmod /modules/tcp_comp.ko || { echo "FAIL: insmod tcp_comp.ko"; exit 1; }
for t in "kmod_sockopt" "kmod_corrupt" "kmod_interop" "kmod_engine" "kmod_roundtrip --throughput" \
	 "kmod_sockopt --unload"; do
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
if dmesg | grep -E 'BUG|WARNING|Oops|leak'; then
	echo "FAIL: kernel complained"
	exit 1
fi
exit 0
