# Runs inside the qemu guest (busybox sh, see run-guest.sh and
# tests/test_kernel_matrix.sh): bpf_verify against the guest's kernel, then
# the kernel log must hold no warning, bug or verifier complaint.  The guest
# boots with panic_on_warn=0 so that a WARN is reported here, with the whole
# table, instead of ending the boot.
# shellcheck disable=SC2034 # limit, dump_comms: used by guest-lib.sh
limit=${GUEST_TEST_TIMEOUT:-900}
dump_comms="bpf_verify"
# shellcheck source=tests/kmod/guest-lib.sh
. ./guest-lib.sh

echo "guest: Linux $(uname -r), $(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
run "${BPF_VERIFY:?run-guest.sh -e BPF_VERIFY=<path>}"
rc=$?
# the unfinished row names the program (begun before each load)
[ "$rc" -lt 128 ] || echo "
FAIL: bpf_verify was killed (signal $((rc - 128))) while the program above loaded"
if dmesg | grep -E 'WARNING|BUG|Oops|verifier bug|INVARIANTS VIOLATION|Out of memory'; then
	echo "FAIL: the kernel complained while the programs loaded"
	[ "$rc" != 0 ] || rc=1
fi
exit "$rc"
