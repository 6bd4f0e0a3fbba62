#!/bin/sh
# make check: the kernel matrix.  Boots each kernel of the matrix (Debian's
# packaged kernels, tests/kmod/prepare.sh) in qemu and runs tests/bpf_verify
# there (tests/kmod/verify-guest.sh): every embedded BPF program loads alone
# within a quarter of the verifier's budget, and the kernel logs no warning
# or verifier bug.  Prints each kernel's table and how long its guest took.
#
# KERNEL_MATRIX (default "6.1 6.12 6.18.15 6.19 7.3") picks the kernels;
# two guests run at a time (TCG, 2 cores), KERNEL_MATRIX_MEM MiB each
# (default 2048).  A kernel that cannot be fetched: SKIP after the others
# ran, FAIL with CI=true (prepare.sh).  SKIP too when qemu or
# busybox-static is missing (run-guest.sh).
set -u
srcdir=$(cd "${top_srcdir:-.}" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
cache=${KMOD_CACHE:-${EBPFACCEL_CACHE_DIR:+$EBPFACCEL_CACHE_DIR/kernel}}
cache=${cache:-$builddir/tests/kmod/cache}
out=$builddir/tests/kmod/matrix
verify=$builddir/tests/bpf_verify
[ -x "$verify" ] || { echo "FAIL: $verify not built"; exit 1; }
# shellcheck source=tests/kmod/matrix-lib.sh
. "$srcdir/tests/kmod/matrix-lib.sh"

# The guest boots with panic_on_warn=0: a WARN while a program loads is
# reported with the whole table (and fails), instead of ending the boot.
verify_guest() {
	KMOD_APPEND="panic_on_warn=0 ${KMOD_APPEND:-}" "$srcdir/tests/kmod/run-guest.sh" \
		-c "$cache" -k "$1" -M "${KERNEL_MATRIX_MEM:-2048}" -d "$verify" \
		-e BPF_VERIFY="$verify" -t "${KERNEL_MATRIX_TIMEOUT:-1200}" -o "$out/$1.console" \
		"$srcdir/tests/kmod/verify-guest.sh"
}
# a passed guest: its table
table() {
	tr -d '\r' <"$1" | sed -n '/^guest: Linux/,/^# all /p'
}

# shellcheck disable=SC2086 # a list of kernels
matrix_prepare ${KERNEL_MATRIX:-6.1 6.12 6.18.15 6.19 7.3}
matrix_run verify_guest
matrix_report table
