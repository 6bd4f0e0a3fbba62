#!/bin/sh
# Fetch Debian's packaged kernel, its headers and kbuild into a cache directory
# (never installed on the host) so modules can be built against it and the
# kernel booted in qemu.  Idempotent: a complete cache is reused as is.
#
# usage: prepare.sh CACHE_DIR
# prints the kernel release (e.g. 6.1.0-56-amd64) on stdout; the tree is
#   CACHE_DIR/<release>/root/boot/vmlinuz-<release>
#   CACHE_DIR/<release>/root/lib/modules/<release>/...
#   CACHE_DIR/<release>/root/usr/src/linux-headers-<release>   (make -C here)
# exit 77 when the packages cannot be had (no apt, no network).
set -eu

cache=${1:?usage: prepare.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

die_skip() { echo "prepare.sh: $*" >&2; exit 77; }

command -v apt-cache >/dev/null || die_skip "apt-cache not found (needs a Debian system)"
command -v dpkg-deb >/dev/null || die_skip "dpkg-deb not found"

# The release is whatever Debian's meta package points at today, so security
# updates of the archive are followed without editing this script.
image_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)\(-unsigned\)\{0,1\}$/\1/p' | head -n1
}
image_pkg=$(image_pkg)
# Package lists can be missing (fresh machine, or wiped by an update with
# other sources): refresh them once rather than skip the kernel tests.
if [ -z "$image_pkg" ] && [ "$(id -u)" = 0 ]; then
	echo "prepare.sh: apt knows no linux-image-amd64; running apt-get update" >&2
	apt-get -q update >&2 || true
	image_pkg=$(image_pkg)
fi
if [ -z "$image_pkg" ]; then
	# Offline: a kernel fetched earlier still does.
	cached=$(ls -d "$cache"/*/.complete 2>/dev/null | sort -V | tail -n1)
	[ -n "$cached" ] || die_skip "apt knows no linux-image-amd64 dependency and nothing is cached in $cache"
	basename "$(dirname "$cached")"
	exit 0
fi
release=${image_pkg#linux-image-}

dir=$cache/$release
if [ -f "$dir/.complete" ]; then
	echo "$release"
	exit 0
fi

headers_pkg=linux-headers-$release
common_pkg=$(apt-cache depends "$headers_pkg" | sed -n 's/^ *Depends: \(linux-headers-.*-common\)$/\1/p' | head -n1)
kbuild_pkg=$(apt-cache depends "$headers_pkg" | sed -n 's/^ *Depends: \(linux-kbuild-.*\)$/\1/p' | head -n1)
[ -n "$common_pkg" ] && [ -n "$kbuild_pkg" ] || die_skip "cannot resolve dependencies of $headers_pkg"

rm -rf "$dir"
mkdir -p "$dir/debs" "$dir/root"
(cd "$dir/debs" && apt-get download "$image_pkg" "$headers_pkg" "$common_pkg" "$kbuild_pkg" >&2) ||
	die_skip "apt-get download $image_pkg $headers_pkg $common_pkg $kbuild_pkg failed"
for deb in "$dir"/debs/*.deb; do
	dpkg-deb -x "$deb" "$dir/root"
done

# The arch headers' Makefile includes the -common tree and points at kbuild by
# absolute paths of an installed system; make them point into this tree.
hdr=$dir/root/usr/src/linux-headers-$release
[ -d "$hdr" ] || die_skip "$headers_pkg did not unpack to $hdr"
sed -i "s|/usr/src/|$dir/root/usr/src/|g" "$hdr/Makefile"
for link in "$hdr/scripts" "$hdr/tools"; do
	[ -L "$link" ] || continue
	target=$(readlink "$link")
	case $target in
	/*) ln -sfn "$dir/root$target" "$link" ;;
	esac
done
[ -f "$dir/root/boot/vmlinuz-$release" ] || die_skip "no kernel image in $image_pkg"
rm -rf "$dir/debs"
touch "$dir/.complete"
echo "$release"
