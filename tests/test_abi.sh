#!/bin/sh
# The exported ABI is exactly the version script: no private symbol leaks
# (-fvisibility=hidden + EBPFACCEL_API), and nothing listed in the map is
# missing from the library.
set -eu
lib="${top_builddir:-.}/lib/.libs/libebpfaccel.so"
map="${top_srcdir:-.}/lib/libebpfaccel.map"
NM="${NM:-nm}"
[ -f "$lib" ] || { echo "FAIL: $lib not built"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$NM -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' \
	| sed 's/@.*//' | grep -v '^EBPFACCEL_[0-9.]*$' | sort -u > "$tmp/exported"
sed -n 's/^[[:space:]]*\([a-z_][a-z0-9_]*\);[[:space:]]*$/\1/p' "$map" | grep -v '^local$' | sort -u > "$tmp/mapped"

rc=0
if grep -v '^ebpfaccel_' "$tmp/exported" > "$tmp/foreign"; then
	echo "FAIL: exported symbols without the ebpfaccel_ prefix:"; cat "$tmp/foreign"; rc=1
fi
if ! diff -u "$tmp/mapped" "$tmp/exported" > "$tmp/diff"; then
	echo "FAIL: exported symbols differ from $map (- map only, + library only):"; cat "$tmp/diff"; rc=1
fi
# Every exported symbol carries the version node of the map.
if $NM -D --defined-only "$lib" | awk '$2 == "T" && $3 !~ /@@?EBPFACCEL_/' | grep .; then
	echo "FAIL: unversioned exported functions above"; rc=1
fi
n=$(wc -l < "$tmp/exported")
[ "$rc" = 0 ] && echo "PASS: $n exported symbols match $map"

# The LD_PRELOAD shim exports exactly the libc names of its map, each one
# libc really has: a helper of its own leaking into every program it is
# preloaded into could collide with that program's names.
shim="${top_builddir:-.}/preload/.libs/libebpfaccel-preload.so"
shim_map="${top_srcdir:-.}/preload/preload.map"
libc=$(ldd "$shim" | awk '$1 ~ /^libc\.so/ { print $3 }')
[ -f "$shim" ] || { echo "FAIL: $shim not built"; exit 1; }
$NM -D --defined-only "$shim" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sort -u > "$tmp/shim_exported"
sed '/\/\*/,/\*\//d' "$shim_map" | tr ' \t' '\n\n' | sed -n 's/^\([a-z_][a-z0-9_]*\);$/\1/p' | sort -u > "$tmp/shim_mapped"
if ! diff -u "$tmp/shim_mapped" "$tmp/shim_exported" > "$tmp/shim_diff"; then
	echo "FAIL: the shim's exports differ from $shim_map (- map only, + library only):"
	cat "$tmp/shim_diff"; rc=1
fi
$NM -D --defined-only "$libc" | awk '{ print $3 }' | sed 's/@.*//' | sort -u > "$tmp/libc"
if comm -23 "$tmp/shim_exported" "$tmp/libc" | grep . > "$tmp/not_libc"; then
	echo "FAIL: the shim exports names libc does not have:"; cat "$tmp/not_libc"; rc=1
fi
[ "$rc" = 0 ] && echo "PASS: the shim exports $(wc -l < "$tmp/shim_exported") libc entry points, nothing else"
exit $rc
