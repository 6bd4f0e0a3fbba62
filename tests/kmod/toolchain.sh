#!/bin/sh
# A Debian chroot with another release's compiler, for building kernel
# modules against kernels that release packages (Debian 13's kernels are
# built with gcc-14 and their headers pass flags bookworm's gcc-12 rejects;
# their kbuild programs need trixie's libc).  Made with debootstrap from the
# mirror the host's own apt sources name, kept in the cache directory and
# reused; concurrent callers wait on a lock instead of building it twice.
#
# usage: toolchain.sh CACHE_DIR SUITE PACKAGE...
#   makes CACHE_DIR/toolchain/SUITE (idempotent), installs the packages in
#   it and prints its path on stdout.
# usage: toolchain.sh -r ROOT DIR... -- COMMAND [ARG]...
#   runs COMMAND inside the chroot ROOT with each DIR visible at its own
#   path, in a private mount namespace (nothing stays mounted afterwards).
# exit 77 when the chroot cannot be made (no debootstrap, no mirror, offline
# with nothing cached).
set -eu

die() { echo "toolchain.sh: $*" >&2; exit 1; }
die_skip() { echo "toolchain.sh: $*" >&2; exit 77; }

# The host's Debian archive (not its security archive): the index target
# whose origin and label are both "Debian".
host_mirror() {
	# shellcheck disable=SC2016 # apt's own $(FIELD) syntax
	apt-get indextargets --format '$(ORIGIN)|$(LABEL)|$(REPO_URI)' 2>/dev/null |
		sed -n 's/^Debian|Debian|\(.*[^/]\)\/*$/\1/p' | head -n1
}

# Runs "$@" (after "--") in the chroot $1 with the directories before "--"
# bound at the same paths.  /dev and /proc come from the host for the
# compiler's and make's probes.
in_chroot() {
	root=$1
	shift
	binds=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		dir=$(cd "$1" && pwd) || die "no directory $1"
		binds="$binds $dir"
		shift
	done
	[ "${1:-}" = -- ] || die "in_chroot: missing --"
	shift
	# shellcheck disable=SC2016 # expanded by the inner shell
	exec unshare --mount --propagation private -- sh -eu -c '
		root=$1 binds=$2
		shift 2
		mount --rbind /dev "$root/dev"
		mount -t proc proc "$root/proc"
		for dir in $binds; do
			mkdir -p "$root$dir"
			mount --bind "$dir" "$root$dir"
		done
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LC_ALL=C.UTF-8 "$@"' in-chroot "$root" "$binds" "$@"
}

if [ "${1:-}" = -r ]; then
	[ $# -ge 3 ] || die "usage: toolchain.sh -r ROOT DIR... -- COMMAND..."
	shift
	in_chroot "$@"
fi

cache=${1:?usage: toolchain.sh CACHE_DIR SUITE PACKAGE...}
suite=${2:?usage: toolchain.sh CACHE_DIR SUITE PACKAGE...}
shift 2
case $suite in
*[!a-z-]* | '') die "bad suite name: $suite" ;;
esac
mkdir -p "$cache/toolchain"
base=$(cd "$cache/toolchain" && pwd)
root=$base/$suite
have=$root/.ebpfaccel-packages

# every package asked for is in the list of what was installed
have_all() {
	[ -f "$have" ] || return 1
	for pkg in "$@"; do
		grep -qxF "$pkg" "$have" || return 1
	done
}

exec 9>"$base/.lock-$suite"
flock 9
if have_all "$@"; then
	echo "$root"
	exit 0
fi
[ "$(id -u)" = 0 ] || die_skip "making the $suite chroot in $base needs root"
command -v debootstrap >/dev/null || die_skip "debootstrap not installed"
command -v unshare >/dev/null || die_skip "unshare not installed (util-linux)"

if [ ! -f "$root/.ebpfaccel-bootstrapped" ]; then
	mirror=$(host_mirror)
	[ -n "$mirror" ] || die_skip "no Debian mirror in the host's apt sources"
	echo "toolchain.sh: debootstrap $suite from $mirror into $root" >&2
	# a half-made chroot (interrupted run) is thrown away, never reused
	rm -rf "$root" "$root.new"
	debootstrap --variant=minbase "$suite" "$root.new" "$mirror" >"$base/debootstrap-$suite.log" 2>&1 || {
		tail -n 20 "$base/debootstrap-$suite.log" >&2
		rm -rf "$root.new"
		die_skip "debootstrap $suite failed (log: $base/debootstrap-$suite.log)"
	}
	touch "$root.new/.ebpfaccel-bootstrapped"
	mv "$root.new" "$root"
fi
if [ $# -gt 0 ]; then
	echo "toolchain.sh: installing $* in the $suite chroot" >&2
	(in_chroot "$root" -- sh -c 'apt-get -q update && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "$@" && apt-get clean' apt "$@") \
		>"$base/apt-$suite.log" 2>&1 || {
		tail -n 20 "$base/apt-$suite.log" >&2
		die_skip "installing $* in the $suite chroot failed (log: $base/apt-$suite.log)"
	}
	for pkg in "$@"; do
		grep -qxF "$pkg" "$have" 2>/dev/null || echo "$pkg" >>"$have"
	done
fi
echo "$root"
