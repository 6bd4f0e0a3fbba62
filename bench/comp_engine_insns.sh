#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The engine against the libraries in instructions, which a loaded machine
# does not change (times do): bench/comp_engine_speed under callgrind, one
# round per configuration, prints the instructions per input byte of the
# engine's codec (mem_encode / mem_decode: what every connection of the
# user-space engine runs, without the socket) and of the one-call reference
# (ZSTD_compressCCtx / LZ4_compress_fast over the whole file and back), and
# library/engine.  Instructions leave out memory stalls: read it next to
# comp_engine_speed's times.
#
#   bench/comp_engine_insns.sh FILE [CONFIG...]   (default: the four format 2 configurations)
#   e.g. head -c 16M of the comp_link.sh text corpus: a few minutes.
set -eu
: "${top_builddir:=.}"
[ $# -ge 1 ] || { echo "usage: comp_engine_insns.sh FILE [CONFIG...]" >&2; exit 2; }
FILE=$1; shift
[ $# -ge 1 ] || set -- zstd:1/block zstd:1/stream lz4/block lz4/stream
for tool in valgrind callgrind_annotate; do
	command -v $tool >/dev/null || { echo "comp_engine_insns: $tool missing: skipped"; exit 0; }
done
BIN=$top_builddir/bench/comp_engine_speed
# libtool wrappers re-exec the real binary: run that one under valgrind.
[ -x "$top_builddir/bench/.libs/comp_engine_speed" ] && BIN=$top_builddir/bench/.libs/comp_engine_speed
export LD_LIBRARY_PATH="$top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
OUT=$(mktemp -d /tmp/comp_engine_insns.XXXXXX)
trap 'rm -rf "$OUT"' EXIT INT TERM
BYTES=$(stat -c %s "$FILE")

insns() { # callgrind-file function -> inclusive instructions
	callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
		awk -v f=":$2 " 'index($0, f) && !/=>/ { gsub(",", "", $1); print $1; exit }'
}

printf '%-16s %9s %9s | %9s %9s | %14s\n' "engine config" "comp_i/B" "dec_i/B" "lib_comp" "lib_dec" "library/engine"
for cfg in "$@"; do
	f=$OUT/cg.$(echo "$cfg" | tr ':/+' '___')
	COMP_BENCH_SOCKET=0 COMP_BENCH_TOOLS=0 valgrind --tool=callgrind --callgrind-out-file="$f" "$BIN" "$FILE" 1 "$cfg" \
		>/dev/null 2>&1
	case $cfg in zstd*) lib=zstd ;; *) lib=lz4 ;; esac
	echo "$cfg $(insns "$f" mem_encode) $(insns "$f" mem_decode)" \
	     "$(insns "$f" ref_${lib}_compress) $(insns "$f" ref_${lib}_decompress)" |
	awk -v b="$BYTES" '{ printf "%-16s %9.2f %9.2f | %9.2f %9.2f | %6.2fx %6.2fx\n", $1,
		$2 / b, $3 / b, $4 / b, $5 / b, $4 / $2, $5 / $3 }'
done
echo "instructions per input byte (callgrind, user space only); library: one call over the file, as zstd -b1 / lz4 -b1"
