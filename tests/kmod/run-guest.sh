#!/bin/sh
# Boot Debian's packaged kernel (fetched by prepare.sh) in qemu with a busybox
# initramfs, run a test script inside and return its exit status.
#
# usage: run-guest.sh [options] SCRIPT
#   -c DIR     kernel cache of prepare.sh (default: $KMOD_CACHE)
#   -k KERNEL  which kernel prepare.sh fetches: 6.1 (default), 6.12, 6.18.15,
#              6.19, 7.3 (default: $KMOD_KERNEL)
#   -M MIB     guest memory (default: $KMOD_GUEST_MEM, else 1024)
#   -m FILE    kernel module to put in the guest at /modules/ (not loaded;
#              its dependencies from the packaged kernel are loaded at boot)
#   -l NAME    module of the packaged kernel to load at boot (with deps)
#   -f FILE    any file (static test program, BPF object) for /tests/
#   -d PROG    a dynamically linked host program (redis-server, ...): put at
#              its host path with the shared libraries ldd finds
#   -e VAR=VAL environment variable exported to SCRIPT (no single quotes)
#   -t SECS    wall-clock limit for the whole boot (default 300)
#   -o LOG     keep the console log here (default: a temp file)
# Environment: KMOD_CACHE (as -c), KMOD_KERNEL (as -k), KMOD_GUEST_MEM
# (as -M), KMOD_ACCEL=kvm|tcg (default: KVM if a
# probe boot under KVM works, else TCG), KMOD_APPEND (more kernel options).
# The kernel runs with slub_debug=FZP: freed objects are poisoned, so a
# use after free shows up as wrong data or a slab report, not silence; and
# with no_timer_check: under TCG on an overloaded host the boot-time IO-APIC
# timer check can miss its ticks and panic ("IO-APIC + timer doesn't work",
# seen on 6.1 at load 22 on 2 cores).
# SCRIPT runs under busybox sh in /tests with lo up, /proc /sys /dev mounted
# and every busybox applet in /bin (host programs given with -d come first
# only if SCRIPT puts their directories before /bin in PATH); it may source
# ./guest-lib.sh (run with a deadline, dump of hung tasks).
# The guest prints a result marker; qemu's own exit status means nothing
# (it is 0 even when the guest fails), so the marker is the verdict.
# Exit: SCRIPT's status (0 pass, 77 skip, else fail); 1 when the marker is
# missing (panic, oops, timeout); 77 when qemu or the kernel is missing
# (a kernel that cannot be fetched fails with CI=true: see prepare.sh).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${KMOD_CACHE:-}
kernel_sel=${KMOD_KERNEL:-6.1}
mem=${KMOD_GUEST_MEM:-1024}
timeout_s=300
log=
modules=
loads=
files=
dynamic=
envs=
# VAR=VALUE becomes an export line of the guest's env.sh
add_env() {
	name=${1%%=*}
	case $1 in
	*=*) ;;
	*) name= ;;
	esac
	case $name in
	'' | [!A-Za-z_]* | *[!A-Za-z0-9_]*) echo "run-guest.sh: -e wants VAR=VALUE, not $1" >&2; exit 2 ;;
	esac
	case $1 in
	*\'*) echo "run-guest.sh: -e $name: no single quotes in the value" >&2; exit 2 ;;
	esac
	envs="$envs
export $name='${1#*=}'"
}
while getopts c:k:M:m:l:f:d:e:t:o: opt; do
	case $opt in
	c) cache=$OPTARG ;;
	k) kernel_sel=$OPTARG ;;
	M) mem=$OPTARG ;;
	m) modules="$modules $OPTARG" ;;
	l) loads="$loads $OPTARG" ;;
	f) files="$files $OPTARG" ;;
	d) dynamic="$dynamic $OPTARG" ;;
	e) add_env "$OPTARG" ;;
	t) timeout_s=$OPTARG ;;
	o) log=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
script=${1:?usage: run-guest.sh [options] SCRIPT}
[ -n "$cache" ] || { echo "run-guest.sh: no cache dir (-c or KMOD_CACHE)" >&2; exit 2; }

skip() { echo "SKIP: $*" >&2; exit 77; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && ! readelf -d "$busybox" 2>/dev/null | grep -q NEEDED ||
	skip "static busybox not installed (busybox-static)"
command -v cpio >/dev/null || skip "cpio not installed"

case $mem in
'' | *[!0-9]*) echo "run-guest.sh: -M wants MiB, not $mem" >&2; exit 2 ;;
esac
release=$("$here/prepare.sh" "$cache" "$kernel_sel") || exit $?
root=$cache/$release/root
kernel=$root/boot/vmlinuz-$release

work=$(mktemp -d "${TMPDIR:-/tmp}/kmod-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
initrd=$work/initrd
mkdir -p "$initrd/bin" "$initrd/proc" "$initrd/sys" "$initrd/dev" "$initrd/tmp" \
	 "$initrd/modules" "$initrd/deps" "$initrd/tests"
cp "$busybox" "$initrd/bin/busybox"
for applet in $("$busybox" --list | grep -vx busybox); do
	ln -s busybox "$initrd/bin/$applet"
done

# Dependencies of our modules come from the packaged kernel, loaded in
# modules.dep order (deepest first) before the test starts.
deps_of() {
	modprobe -d "$root" -S "$release" --show-depends "$1" 2>/dev/null |
		sed -n 's/^insmod \([^ ]*\).*/\1/p'
}
want=
for m in $modules; do
	cp "$m" "$initrd/modules/"
	for d in $(modinfo -F depends "$m" | tr ',' ' '); do
		want="$want $(deps_of "$d")"
	done
done
for l in $loads; do
	want="$want $(deps_of "$l")"
	[ -n "$(deps_of "$l")" ] || { echo "run-guest.sh: no module $l in $release" >&2; exit 2; }
done
: >"$initrd/deps/order"
# Debian compresses the modules of newer kernels (.ko.xz); busybox insmod
# takes them uncompressed.
for ko in $want; do
	name=$(basename "$ko")
	name=${name%.xz}
	name=${name%.zst}
	grep -qxF "$name" "$initrd/deps/order" && continue
	case $ko in
	*.xz) xz -dc "$ko" >"$initrd/deps/$name" ;;
	*.zst) zstd -qdc "$ko" >"$initrd/deps/$name" ;;
	*) cp "$ko" "$initrd/deps/" ;;
	esac
	echo "$name" >>"$initrd/deps/order"
done

for f in $files; do
	cp "$f" "$initrd/tests/"
done
# host programs keep their paths; the guest then has the same loader and
# libraries as the host (same distribution as the guest kernel's)
for prog in $dynamic; do
	prog=$(command -v "$prog") || { echo "run-guest.sh: no program $prog" >&2; exit 2; }
	for f in "$prog" $(ldd "$prog" | sed -n 's/.*[[:space:]]\(\/[^[:space:]]*\) (0x.*/\1/p'); do
		mkdir -p "$initrd$(dirname "$f")"
		cp -L "$f" "$initrd$f"
	done
done
cp "$script" "$initrd/tests/run.sh"
cp "$here/guest-lib.sh" "$initrd/tests/guest-lib.sh"
printf '%s\n' "$envs" >"$initrd/tests/env.sh"

marker=EBPFACCEL-GUEST-RESULT
cat >"$initrd/init" <<INIT
#!/bin/sh
echo "$marker-BOOTED"
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# /tmp stays the initramfs' own (already in RAM): a tmpfs there would hide
# programs copied in from a build tree under /tmp (CI clones there).
chmod 1777 /tmp
ip link set lo up
for ko in \$(cat /deps/order); do
	insmod /deps/\$ko || echo "guest: insmod \$ko failed"
done
cd /tests
. ./env.sh
sh ./run.sh
echo "$marker=\$?"
poweroff -f
INIT
chmod +x "$initrd/init"
printf '#!/bin/sh\necho KVM-PROBE-OK\npoweroff -f\n' >"$initrd/kvm-probe"
chmod +x "$initrd/kvm-probe"
(cd "$initrd" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

# KVM when it works, TCG otherwise.  /dev/kvm alone proves little (nested
# setups where qemu's KVM aborts or hangs exist), so a first run boots the
# kernel under KVM to a marker once and remembers the verdict in the cache.
# KMOD_ACCEL=kvm|tcg overrides.
kvm_works() {
	verdict=$cache/$release/kvm-verdict
	if [ ! -f "$verdict" ]; then
		if timeout --foreground -k 5 60 qemu-system-x86_64 -accel kvm -cpu host -m 256 \
			-nographic -no-reboot -nic none -kernel "$kernel" -initrd "$work/initrd.gz" \
			-append "console=ttyS0 rdinit=/kvm-probe panic=-1" </dev/null 2>&1 |
			tr -d '\r' | grep -q '^KVM-PROBE-OK$'; then
			echo yes >"$verdict"
		else
			echo no >"$verdict"
		fi
	fi
	[ "$(cat "$verdict")" = yes ]
}
accel="-accel tcg -cpu max"
case ${KMOD_ACCEL:-auto} in
kvm) accel="-accel kvm -cpu host" ;;
tcg) ;;
*) [ -r /dev/kvm ] && [ -w /dev/kvm ] && kvm_works && accel="-accel kvm -cpu host" ;;
esac
[ -n "$log" ] || log=$work/console.log
# no_timer_check: under TCG on a busy host the kernel's early check of the
# IO-APIC timer can miss its ticks and panic ("IO-APIC + timer doesn't
# work!"), seen on 6.18.15 with two guests on two cores.
boot() {
	# shellcheck disable=SC2086
	timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 $accel -m "$mem" -smp 2 \
		-nographic -no-reboot -nic none \
		-kernel "$kernel" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 no_timer_check oops=panic panic_on_warn=1 panic=-1 loglevel=4 slub_debug=FZP ${KMOD_APPEND:-}" \
		</dev/null >"$log" 2>&1 || true
}
boot
# A kernel that dies before its init runs has run nothing of ours (no
# module loaded, no program, no test): under TCG that happens now and then
# (an int3 Oops in the timer softirq while the kernel patches its own code
# at boot, seen on 6.12 with two guests on two cores). Such a boot is tried
# once more, and said so; a failure after init started is never retried.
# (The marker may share its line with the firmware's last output.)
if ! tr -d '\r' <"$log" | grep -q "$marker-BOOTED"; then
	echo "run-guest.sh: the guest kernel died before its init ran; booting it once more:" >&2
	tr -d '\r' <"$log" | grep -E 'Oops|BUG|panic|RIP:' | head -n 5 >&2 || true
	boot
fi
tr -d '\r' <"$log" | sed "/^$marker=/d; s/$marker-BOOTED//"
rc=$(tr -d '\r' <"$log" | sed -n "s/^$marker=\([0-9]*\)$/\1/p" | tail -n1)
if [ -z "$rc" ]; then
	echo "run-guest.sh: no result from the guest (panic, oops or timeout after ${timeout_s}s)" >&2
	exit 1
fi
exit "$rc"
