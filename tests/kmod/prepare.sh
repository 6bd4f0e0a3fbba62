#!/bin/sh
# Fetch one of Debian's packaged kernels, with its headers and kbuild where
# the archive has them, into a cache directory (never installed on the host)
# so modules can be built against it and the kernel booted in qemu.
# Idempotent and safe to run in parallel (flock): a complete cache is reused
# as is; callers wanting the same kernel take turns, others do not wait for
# each other's downloads.
#
# usage: prepare.sh CACHE_DIR [KERNEL]
#   KERNEL  6.1      Debian 12 (bookworm): what linux-image-amd64 points at (default)
#           6.12     Debian 13 (trixie): what linux-image-amd64 points at
#           6.18.15  trixie-backports, exactly that version
#           6.19     the newest 6.19.x in trixie-backports
#           7.3      the newest 7.3.x in trixie-backports
# prints the kernel release (e.g. 6.1.0-57-amd64) on stdout; the tree is
#   CACHE_DIR/<release>/root/boot/vmlinuz-<release>
#   CACHE_DIR/<release>/root/lib/modules/<release>/...  (modules.dep made)
#   CACHE_DIR/<release>/root/usr/src/linux-headers-<release>   (make -C here;
#                                     only when the archive has the headers)
# The packages come through a private apt configuration in
# CACHE_DIR/apt/<distribution>: the host's Debian mirror (read from its apt
# sources) with the kernel's suites.  Nothing system-wide is touched.
# Offline, a kernel fetched earlier for the same KERNEL still does.
# exit 77 when the kernel cannot be had (no apt, no network, not in the
# archive); 1 instead when CI=true, where a missing kernel is a failure.
set -eu

usage="usage: prepare.sh CACHE_DIR [6.1|6.12|6.18.15|6.19|7.3]"
cache=${1:?$usage}
selector=${2:-6.1}

# selector -> distribution and how the image package is chosen:
#   meta     the dependency of the distribution's linux-image-amd64
#   exact    linux-image-<selector>+deb13-amd64
#   newest   the highest linux-image-<selector>.N+deb13-amd64
# A new kernel of the matrix is one more line here.
case $selector in
6.1) dist=bookworm pick=meta ;;
6.12) dist=trixie pick=meta ;;
6.18.15) dist=trixie pick=exact ;;
6.19 | 7.3) dist=trixie pick=newest ;;
*) echo "prepare.sh: unknown kernel '$selector'; $usage" >&2; exit 2 ;;
esac

unavailable() {
	echo "prepare.sh: kernel $selector: $*" >&2
	[ "${CI:-}" = true ] && exit 1
	exit 77
}
command -v apt-get >/dev/null || unavailable "apt-get not found (needs a Debian system)"
command -v dpkg-deb >/dev/null || unavailable "dpkg-deb not found"
command -v flock >/dev/null || unavailable "flock not found (util-linux)"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
# the distribution's apt state: shared while read, exclusive while updated
exec 8>"$cache/.lock-apt-$dist"
flock -s 8

# --- the private apt configuration -----------------------------------------

aptdir=$cache/apt/$dist
apt_opts() {
	echo -o Dir::Etc::SourceList="$aptdir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
		-o Dir::State="$aptdir/state" -o Dir::State::Lists="$aptdir/lists" \
		-o Dir::State::status=/dev/null -o Dir::Cache="$aptdir/cache" \
		-o APT::Sandbox::User=root -o Debug::NoLocking=1
}
# shellcheck disable=SC2046 # the options are one word each (no blanks in $cache)
apt_() {
	cmd=$1
	shift
	"$cmd" $(apt_opts) -q "$@"
}

# "URI SUITE" for every binary entry of the host's apt sources, both formats
host_entries() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '
		function flush() { if (deb) for (i = 1; i <= ns; i++) for (j = 1; j <= nu; j++) print u[j], s[i]
				   deb = 0; nu = 0; ns = 0 }
		/^[[:space:]]*$/ { flush(); next }
		/^#/ { next }
		tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
		tolower($1) == "uris:" { for (i = 2; i <= NF; i++) u[++nu] = $i }
		tolower($1) == "suites:" { for (i = 2; i <= NF; i++) s[++ns] = $i }
		tolower($1) == "enabled:" && tolower($2) == "no" { deb = 0; nu = 0; ns = 0 }
		END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\)[[:space:]]\{1,\}\([^[:space:]]*\).*/\2 \3/p' "$f"
	done
}

# The same mirrors as the host's Debian entries, with $dist's suites: the
# main archive (release, -updates, -backports) and the security archive.
write_sources() {
	host=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"')
	[ -n "$host" ] || unavailable "no VERSION_CODENAME in /etc/os-release (needs a Debian host)"
	entries=$(host_entries)
	mirror=$(echo "$entries" | awk -v s="$host" '$2 == s { print $1; exit }')
	security=$(echo "$entries" | awk -v s="$host-security" '$2 == s { print $1; exit }')
	[ -n "$mirror" ] || unavailable "no '$host' suite in the host's apt sources to take the Debian mirror from"
	opt=
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -f "$keyring" ] && opt="[signed-by=$keyring] "
	mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/state"
	{
		for suite in "$dist" "$dist-updates" "$dist-backports"; do
			echo "deb $opt$mirror $suite main"
		done
		[ -z "$security" ] || echo "deb $opt$security $dist-security main"
	} >"$aptdir/sources.list.new"
	mv "$aptdir/sources.list.new" "$aptdir/sources.list"
}

refreshed=no
# lists older than 12 hours are refreshed; a failed refresh keeps the old
refresh() {
	flock -x 8
	rc=0
	write_sources
	if apt_ apt-get update >&2; then
		touch "$aptdir/updated"
		refreshed=yes
	else
		echo "prepare.sh: apt-get update for $dist failed" >&2
		rc=1
	fi
	flock -s 8
	return $rc
}
if [ ! -f "$aptdir/updated" ] || [ -n "$(find "$aptdir/updated" -mmin +720)" ]; then
	refresh || true
fi

# --- which kernel ----------------------------------------------------------

image_pkg() {
	case $pick in
	meta)
		apt_ apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1
		;;
	exact)
		apt_ apt-cache show "linux-image-$selector+deb13-amd64" >/dev/null 2>&1 &&
			echo "linux-image-$selector+deb13-amd64"
		;;
	newest)
		apt_ apt-cache pkgnames "linux-image-$selector." 2>/dev/null |
			grep -E "^linux-image-$(echo "$selector" | sed 's/\./\\./g')\.[0-9]+\+deb13-amd64\$" |
			sort -V | tail -n1
		;;
	esac
}

# a kernel of this selector fetched earlier (caches made before selectors
# existed hold 6.1)
cached_kernel() {
	for c in "$cache"/*/.complete; do
		[ -f "$c" ] || continue
		d=$(dirname "$c")
		s=6.1
		[ ! -f "$d/selector" ] || s=$(cat "$d/selector")
		[ "$s" = "$selector" ] && basename "$d"
	done | sort -V | tail -n1
}

# depmod for a cache made before prepare.sh did it (run-guest.sh needs it)
finish() {
	exec 9>"$cache/.lock-$1"
	flock -x 9
	root=$cache/$1/root
	[ -f "$root/lib/modules/$1/modules.dep" ] || depmod -b "$root" "$1"
	echo "$1"
	exit 0
}

image_pkg=$(image_pkg)
if [ -z "$image_pkg" ] && [ "$refreshed" = no ]; then
	refresh || true
	image_pkg=$(image_pkg)
fi
if [ -z "$image_pkg" ]; then
	old=$(cached_kernel)
	[ -z "$old" ] || { echo "prepare.sh: using the cached $old" >&2; finish "$old"; }
	unavailable "no package for it in $dist (offline?) and nothing cached in $cache"
fi
release=${image_pkg#linux-image-}
dir=$cache/$release
exec 9>"$cache/.lock-$release"
flock -x 9
[ ! -f "$dir/.complete" ] || finish "$release"

# --- fetch and unpack ------------------------------------------------------

# From 6.19 on linux-image-<release> is a meta package: the kernel is in
# linux-binary-<release>, the modules in linux-modules-<release>; every
# package of the same release it depends on is fetched with it.
same_release_deps() {
	apt_ apt-cache depends "$1" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-[a-z]*-.*\)$/\1/p' | grep -F -- "-$release" | grep -vF -- -dbg || true
}
pkgs="$image_pkg $(same_release_deps "$image_pkg")"
if apt_ apt-cache show "linux-headers-$release" >/dev/null 2>&1; then
	hdeps=$(apt_ apt-cache depends "linux-headers-$release" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-headers-.*-common\|linux-kbuild-.*\|linux-base-.*\)$/\1/p')
	pkgs="$pkgs linux-headers-$release $hdeps"
fi
pkgs=$(echo "$pkgs" | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ')

download() {
	rm -rf "$dir"
	mkdir -p "$dir/debs" "$dir/root"
	# shellcheck disable=SC2086
	(cd "$dir/debs" && apt_ apt-get download $pkgs >&2)
}
if ! download; then
	# stale lists point at files the mirror dropped: once more, refreshed
	if [ "$refreshed" = no ] && refresh && download; then
		:
	else
		rm -rf "$dir"
		old=$(cached_kernel)
		[ -z "$old" ] || { echo "prepare.sh: download failed, using the cached $old" >&2; finish "$old"; }
		unavailable "apt-get download $pkgs failed"
	fi
fi
for deb in "$dir"/debs/*.deb; do
	dpkg-deb -x "$deb" "$dir/root"
done
rm -rf "$dir/debs"
root=$dir/root

# trixie's packages keep modules under usr/lib, and from 6.19 the kernel is
# usr/lib/modules/<release>/vmlinuz: one layout for run-guest.sh and depmod
[ -e "$root/lib" ] || [ ! -d "$root/usr/lib/modules" ] || ln -s usr/lib "$root/lib"
if [ ! -f "$root/boot/vmlinuz-$release" ] && [ -f "$root/lib/modules/$release/vmlinuz" ]; then
	mkdir -p "$root/boot"
	ln -s "../lib/modules/$release/vmlinuz" "$root/boot/vmlinuz-$release"
fi
[ -f "$root/boot/vmlinuz-$release" ] || { rm -rf "$dir"; unavailable "no kernel image in $pkgs"; }
# the archive lacks linux-modules-<release> of some backports (6.19.x): such
# a kernel boots and loads BPF, only packaged modules cannot be had
if [ ! -d "$root/lib/modules/$release" ]; then
	echo "prepare.sh: $release comes without modules" >&2
	mkdir -p "$root/usr/lib/modules/$release"
	[ -e "$root/lib" ] || ln -s usr/lib "$root/lib"
	(cd "$root/lib/modules/$release" && : >modules.order && : >modules.builtin && : >modules.builtin.modinfo)
fi

# The arch headers' Makefile includes the -common tree and points at kbuild by
# absolute paths of an installed system; make them point into this tree.
hdr=$root/usr/src/linux-headers-$release
if [ -d "$hdr" ]; then
	sed -i "s|/usr/src/|$root/usr/src/|g" "$hdr/Makefile"
	for link in "$hdr/scripts" "$hdr/tools"; do
		[ -L "$link" ] || continue
		target=$(readlink "$link")
		case $target in
		/*) ln -sfn "$root$target" "$link" ;;
		esac
	done
fi
depmod -b "$root" "$release"
echo "$selector" >"$dir/selector"
echo "$pkgs" >"$dir/packages"
touch "$dir/.complete"
echo "$release"
