#!/usr/bin/env bash
# libebpfaccel quick start.  On a fresh Debian 12 / Ubuntu machine, as root:
#
#   ./quickstart.sh          install dependencies, build, run the demo
#   ./quickstart.sh check    install dependencies, build, run the whole test suite
#
# Other steps, for developers: deps | build | demo.  Idempotent: a second run
# installs nothing and rebuilds only what changed.
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
# Downloads that outlive a build tree (kernel packages for the qemu tests).
export EBPFACCEL_CACHE_DIR="${EBPFACCEL_CACHE_DIR:-/var/cache/ebpfaccel}"

say() { printf '==> %s\n' "$*"; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

install_deps() {
	local missing=() pkg
	while read -r pkg; do
		[ -n "$pkg" ] && [ "${pkg#\#}" = "$pkg" ] || continue
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed' \
			|| missing+=("$pkg")
	done < deps/debian-packages.txt
	[ ${#missing[@]} -eq 0 ] && { say "dependencies: all installed"; return; }
	[ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}): run as root, or install them with apt-get"
	say "installing ${#missing[@]} packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ] \
	   || [ -n "$(find mk -name '*.am' -newer configure 2>/dev/null)" ]; then
		say "autoreconf"
		autoreconf -fi >/dev/null
	fi
	if [ ! -f Makefile ] || [ configure -nt config.status ]; then
		say "configure"
		./configure --quiet
	fi
	say "make -j$jobs"
	make -s -j"$jobs"
}

# A demo that cannot run here says why; the others still run, and the
# quick start then fails.
demo() {
	local rc=0
	say "what this machine offers libebpfaccel"
	./examples/feature_report || true
	say "Redis GETs with and without the in-kernel cache (tools/demo_redis.sh)"
	./tools/demo_redis.sh || rc=1
	say "compression over a rate-limited link, with and without (tools/demo_comp.sh)"
	./tools/demo_comp.sh || rc=1
	[ $rc = 0 ] || die "a demo could not run on this machine (see above)"
}

# One closing line for people and CI alike: every Check case, Python
# unittest case and Go test counted once; other script tests count one each.
count_log() { # log -> "passed failed skipped", or nothing if no known runner spoke
	local log=$1 n f e s
	# Check's summary counts only for Check programs: a script test may
	# show a Check run it expects to fail (tests/test_guest_redis.sh).
	if [ "${log%.sh.log}" = "$log" ] && read -r n f e < <(sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' "$log" | tail -n 1) && [ -n "$n" ]; then
		echo "$((n - f - e)) $((f + e)) 0"
	elif n=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$log" | tail -n 1) && [ -n "$n" ]; then
		s=$(sed -n 's/.*skipped=\([0-9]*\).*/\1/p' "$log" | tail -n 1)
		f=$(sed -n 's/^FAILED (.*failures=\([0-9]*\).*/\1/p' "$log" | tail -n 1)
		e=$(sed -n 's/^FAILED (.*errors=\([0-9]*\).*/\1/p' "$log" | tail -n 1)
		s=${s:-0} f=${f:-0} e=${e:-0}
		echo "$((n - s - f - e)) $((f + e)) $s"
	elif grep -q -- '--- \(PASS\|FAIL\|SKIP\):' "$log"; then
		echo "$(grep -c -- '--- PASS:' "$log") $(grep -c -- '--- FAIL:' "$log") $(grep -c -- '--- SKIP:' "$log")"
	fi
}

summarize() {
	local passed=0 failed=0 skipped=0 trs log result counts p f s
	for trs in $(find tests -name '*.trs' | sort); do
		log="${trs%.trs}.log"
		result=$(sed -n 's/^:test-result: //p' "$trs")
		if [ "$result" = SKIP ]; then
			skipped=$((skipped + 1))
			continue
		fi
		counts=$(count_log "$log")
		if [ -n "$counts" ]; then
			read -r p f s <<< "$counts"
			passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
			# A crashed runner may have printed a summary that hides it.
			[ "$result" = PASS ] || [ "$f" -gt 0 ] || failed=$((failed + 1))
		elif [ "$result" = PASS ]; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
		fi
	done
	summary="check: $passed passed, $failed failed, $skipped skipped"
	echo "$summary"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

check() {
	local rc=0 stage summary=
	[ "$(id -u)" = 0 ] || die "the test suite needs root (network namespaces, cgroups, BPF)"
	# The privilege tests run the build tree's tools as "nobody": it must
	# be able to reach them (a clone under a 0700 mktemp dir is not).
	local d=$top
	while [ "$d" != / ]; do
		if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$d" 2>/dev/null; then
			say "allowing search (o+x) on $d for the unprivileged tests"
			chmod o+x "$d"
		fi
		d=$(dirname "$d")
	done
	say "make check"
	make -j"$jobs" check VERBOSE=1 || rc=$?
	summarize || rc=1
	[ $rc -eq 0 ] || die "make check failed (logs: tests/*.log, test-suite.log)"

	stage=$(mktemp -d)
	say "make install + installcheck (staged in $stage)"
	make -s install DESTDIR="$stage" >/dev/null
	make -s installcheck DESTDIR="$stage" || rc=$?
	rm -rf "$stage"
	[ $rc -eq 0 ] || die "installcheck failed"

	say "make distcheck"
	make -s distcheck >/dev/null || die "make distcheck failed"
	say "all checks passed"
	echo "$summary"
}

case "${1:-demo}" in
	deps)  install_deps ;;
	build) install_deps; build ;;
	demo)  install_deps; build; demo ;;
	check) install_deps; build; check ;;
	-h|--help|help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' ;;
	*) die "unknown command '$1' (try: $0 --help)" ;;
esac
