#!/bin/sh
# Run by 'make installcheck': the installed DKMS tree of tcp_comp
# ($(prefix)/src/tcp_comp-<version>) is complete and builds with DKMS itself
# against Debian 12's kernel 6.1 headers (fetched by tests/kmod/prepare.sh,
# never installed), the way DKMS builds it for a kernel on a user's machine.
# Works with a plain install (prefix) and a staged one (DESTDIR).
# SKIP (77) when the kernel headers cannot be had (a failure with CI=true)
# or dkms is not installed.
set -eu
: "${srcdir:=.}" "${dkmsdir:?}" "${VERSION:?}"
DESTDIR=${DESTDIR:-}
srcdir=$(cd "$srcdir" && pwd)
tree=$DESTDIR$dkmsdir

fail() { echo "FAIL: $*"; exit 1; }
[ -f "$tree/dkms.conf" ] || fail "no dkms.conf in $tree"
for f in Kbuild include/ebpfaccel/uapi.h; do
	[ -f "$tree/$f" ] || fail "$tree lacks $f"
done
grep -qx "PACKAGE_VERSION=\"$VERSION\"" "$tree/dkms.conf" || fail "dkms.conf does not say version $VERSION"
# DKMS copies the tree as it is: every source Kbuild names must be there
for o in $(sed -n 's/^tcp_comp-y *:= *//p' "$tree/Kbuild"); do
	[ -f "$tree/${o%.o}.c" ] || fail "$tree lacks ${o%.o}.c (named in Kbuild)"
done

command -v dkms >/dev/null || { echo "SKIP: dkms not installed"; exit 77; }
cache=${KMOD_CACHE:-${EBPFACCEL_CACHE_DIR:+$EBPFACCEL_CACHE_DIR/kernel}}
cache=${cache:-${top_builddir:-.}/tests/kmod/cache}
rc=0
release=$("$srcdir/tests/kmod/prepare.sh" "$cache" 6.1) || rc=$?
if [ $rc != 0 ]; then
	[ $rc = 77 ] && [ "${CI:-}" != true ] && { echo "SKIP: no 6.1 kernel headers"; exit 77; }
	fail "no 6.1 kernel headers"
fi
headers=$cache/$release/root/usr/src/linux-headers-$release

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# DKMS' own state goes to $work, never /var/lib/dkms; the module is built,
# not signed (signing keys are the machine's business, and DKMS would make
# one in /var/lib/dkms)
dkms_() {
	sign_file=/nonexistent dkms "$@" --dkmstree "$work/tree" --sourcetree "$(dirname "$tree")" \
		-m tcp_comp -v "$VERSION" -k "$release" --kernelsourcedir "$headers" >>"$work/dkms.log" 2>&1
}
mkdir -p "$work/tree"
if ! dkms_ add || ! dkms_ build; then
	cat "$work/dkms.log"
	find "$work/tree" -name make.log -exec cat {} +
	fail "dkms does not build the installed tree against $release"
fi
ko=$(find "$work/tree/tcp_comp/$VERSION/$release" -name 'tcp_comp.ko*' | head -n1)
[ -n "$ko" ] || { cat "$work/dkms.log"; fail "dkms built no tcp_comp.ko"; }
modinfo -F vermagic "$ko" | grep -q "^$release " || fail "$ko is not built for $release"
echo "PASS: the installed DKMS tree builds with dkms against $release"
