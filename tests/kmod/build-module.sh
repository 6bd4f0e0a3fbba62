#!/bin/sh
# Build the tcp_comp module against a kernel's headers with the compiler that
# kernel was built with, the way the kernel's own distribution would (and
# DKMS on a user's machine does): on this host when it has that compiler,
# else in a debootstrap'd chroot of the kernel's Debian release
# (tests/kmod/toolchain.sh), e.g. trixie's gcc-14 for Debian 13's kernels.
# Compiler warnings fail the build.
#
# usage: build-module.sh [-c CACHE_DIR] [-I INCLUDE_DIR] HEADERS_DIR SRC_DIR OUT_DIR
#   HEADERS_DIR  a kernel's headers (make -C here)
#   SRC_DIR      the module's Kbuild and sources (copied into OUT_DIR: Kbuild
#                writes next to them, and the source tree stays clean)
#   OUT_DIR      made afresh; tcp_comp.ko and build.log end up there
#   -I DIR       include directory holding <ebpfaccel/uapi.h>, copied into
#                OUT_DIR/include (default: SRC_DIR/include, as in the DKMS
#                tree, else SRC_DIR/../include, as in the repository)
#   -c DIR       cache for the chroot (default: $EBPFACCEL_CACHE_DIR, else
#                /var/cache/ebpfaccel)
# exit 77 when the compiler cannot be had (no chroot possible), 1 on a build
# failure or a warning.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${EBPFACCEL_CACHE_DIR:-/var/cache/ebpfaccel}
include=
while getopts c:I: opt; do
	case $opt in
	c) cache=$OPTARG ;;
	I) include=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 3 ] || { echo "usage: build-module.sh [-c CACHE_DIR] [-I INCLUDE_DIR] HEADERS_DIR SRC_DIR OUT_DIR" >&2; exit 2; }
headers=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
out=$3

die() { echo "build-module.sh: $*" >&2; exit 1; }
[ -f "$headers/.config" ] || die "$headers has no .config: not a kernel headers tree"

# The compiler command the kernel was built with, e.g. gcc-12 or
# x86_64-linux-gnu-gcc-14 (the headers' Makefile invokes the same one).
cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$headers/.config")
[ -n "$cc" ] || die "no CONFIG_CC_VERSION_TEXT in $headers/.config"
case $cc in
*gcc-[0-9]*) cc_pkg=gcc-${cc##*gcc-} ;;
*) die "kernel built with $cc: only Debian's gcc-N is known here" ;;
esac

# The Debian release a kernel belongs to, from its release string
# (6.12.118+deb13-amd64 -> 13 -> trixie).
debian_suite() {
	version=$(basename "$headers" | sed -n 's/.*+deb\([0-9][0-9]*\).*/\1/p')
	[ -n "$version" ] || return 1
	sed -n "s/^$version,[^,]*,\([a-z]*\),.*/\1/p" /usr/share/distro-info/debian.csv 2>/dev/null
}

# What the headers reach outside their directory: the -common tree their
# Makefile includes and the kbuild tree their scripts link points into.
tree_dirs() {
	echo "$headers"
	sed -n 's/^include \(.*\)\/Makefile$/\1/p' "$headers/Makefile"
	dirname "$(readlink -f "$headers/scripts")"
}

rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
cp "$src"/Kbuild "$src"/*.[ch] "$out/"
# the build directory is self-contained, like the DKMS tree
if [ -z "$include" ]; then
	include=$src/include
	[ -d "$include" ] || include=$src/../include
fi
[ -f "$include/ebpfaccel/uapi.h" ] || die "no ebpfaccel/uapi.h in $include"
mkdir -p "$out/include/ebpfaccel"
cp "$include/ebpfaccel/uapi.h" "$out/include/ebpfaccel/"

set -- make -C "$headers" M="$out" modules
if command -v "$cc" >/dev/null; then
	where="this host's $cc"
	# The kernel's make is a build of its own: it must not see a calling
	# make's jobserver (make -j check) or flags.
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$@" >"$out/build.log" 2>&1 || build_rc=$?
else
	suite=$(debian_suite) ||
		die "$cc is not installed and $(basename "$headers") names no Debian release to get it from"
	[ -n "$suite" ] || die "Debian release of $(basename "$headers") unknown to distro-info-data"
	root=$("$here/toolchain.sh" "$cache" "$suite" make "$cc_pkg" libc6-dev libelf-dev libssl-dev pahole) || exit $?
	where="$cc of a $suite chroot"
	# shellcheck disable=SC2046 # one directory a line, no spaces
	"$here/toolchain.sh" -r "$root" $(tree_dirs) "$out" -- "$@" \
		>"$out/build.log" 2>&1 || build_rc=$?
fi
if [ "${build_rc:-0}" != 0 ]; then
	cat "$out/build.log"
	die "tcp_comp.ko does not build against $(basename "$headers") with $where"
fi
# Compiler diagnostics only ("file:line:col: warning:"), not make's notes.
if grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$out/build.log"; then
	die "compiler warnings in tcp_comp (against $(basename "$headers"), $where)"
fi
[ -f "$out/tcp_comp.ko" ] || die "no tcp_comp.ko in $out"
echo "build-module.sh: tcp_comp.ko for $(basename "$headers") built with $where" >&2
