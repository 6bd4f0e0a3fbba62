# Shared by the make-check scripts that boot several kernels
# (tests/test_kernel_matrix.sh, tests/test_guest_redis.sh); sourced, with
# $srcdir, $cache (prepare.sh's cache) and $out (a directory for the
# results) set.  Per kernel K: $out/K.release, .prepare (prepare.sh's
# messages), .out (the guest's output), .rc, .secs (the guest's wall time).

# Fetches every kernel of "$@" one at a time, so that one that cannot be had
# is said once and the guests only boot.  Sets $ready and $missing; exits 1
# when prepare.sh fails hard (CI=true: a kernel that cannot be fetched).
matrix_prepare() {
	ready=
	missing=
	mkdir -p "$out"
	for k in "$@"; do
		"$srcdir/tests/kmod/prepare.sh" "$cache" "$k" >"$out/$k.release" 2>"$out/$k.prepare"
		case $? in
		0) ready="$ready $k" ;;
		77) missing="$missing $k"; cat "$out/$k.prepare" ;;
		*) cat "$out/$k.prepare"; echo "FAIL: kernel $k cannot be fetched"; exit 1 ;;
		esac
	done
}

# Runs "$@ K" (a command booting kernel K, its output going to stdout) for
# every ready kernel, two at a time (2 cores, TCG): lane N takes every other
# kernel of the list.
matrix_run() {
	matrix_lane 0 "$@" &
	lane0=$!
	matrix_lane 1 "$@" &
	lane1=$!
	wait "$lane0" "$lane1"
}
matrix_lane() {
	lane=$1
	shift
	i=0
	for k in $ready; do
		if [ $((i % 2)) = "$lane" ]; then
			start=$(date +%s)
			"$@" "$k" >"$out/$k.out" 2>&1
			echo $? >"$out/$k.rc"
			echo $(($(date +%s) - start)) >"$out/$k.secs"
		fi
		i=$((i + 1))
	done
}

# Prints each kernel's verdict and wall time, then "$1 FILE" of a passed
# guest's output (its summary) or the whole output of a failed one; exits
# with the verdict: 1 when a guest failed, 77 when kernels were missing or
# skipped, else 0.
matrix_report() {
	summary=$1
	failed=
	skipped=
	for k in $ready; do
		rc=$(cat "$out/$k.rc")
		echo "=== kernel $k ($(cat "$out/$k.release")): exit $rc, guest $(cat "$out/$k.secs") s"
		case $rc in
		0) "$summary" "$out/$k.out" ;;
		77) skipped="$skipped $k"; cat "$out/$k.out" ;;
		*) failed="$failed $k"; cat "$out/$k.out" ;;
		esac
	done
	[ -z "$failed" ] || { echo "FAIL: kernels:$failed"; exit 1; }
	if [ -n "$missing$skipped" ]; then
		echo "SKIP: kernels not tested:$missing$skipped"
		exit 77
	fi
	echo "PASS: kernels:$ready"
	exit 0
}
