# Helpers for the scripts run-guest.sh runs in the guest, which source this
# file (/tests/guest-lib.sh).  Set before calling run:
#   limit        seconds a program may run (default 240)
#   dump_comms   shell patterns of task names whose kernel stacks are shown
#                when a program hangs (default: every task)

# stacks of the matching tasks and the end of the kernel log
dump() {
	set -f
	for p in /proc/[0-9]*; do
		comm=$(cat "$p/comm" 2>/dev/null) || continue
		for pat in ${dump_comms:-*}; do
			# shellcheck disable=SC2254 # $pat is a pattern
			case $comm in
			$pat)
				echo "== ${p#/proc/} $comm $(grep State "$p/status")"
				cat "$p/stack"
				break
				;;
			esac
		done
	done
	set +f
	dmesg | tail -n 60
}

# runs "$@" with a deadline; a hung program is dumped before it is killed
run() {
	"$@" &
	pid=$!
	waited=0
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$waited" -ge "${limit:-240}" ]; then
			echo "FAIL: $* still running after ${limit:-240}s"
			dump
			kill -9 "$pid"
			return 124
		fi
		sleep 1
		waited=$((waited + 1))
	done
	wait "$pid"
}
