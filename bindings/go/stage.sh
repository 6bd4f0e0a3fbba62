#!/bin/sh
# stage.sh OUTDIR HEADER... -- FILE...
# Copy the Go package's FILEs into OUTDIR as this build of the library
# needs them: a file tagged `//go:build ebpfaccel_<name>` belongs to the
# public header <name>.h; it is copied (without the tag line) when that
# header is among the HEADERs, and left out otherwise.  So the package in
# OUTDIR, which the tests use and 'make install' installs, builds without
# any -tags and covers exactly the API of the library next to it.
set -eu
out=$1; shift
headers=
while [ "$1" != "--" ]; do headers="$headers ${1##*/}"; shift; done
shift
rm -rf "$out"
mkdir -p "$out"
for f in "$@"; do
	tag=$(sed -n 's|^//go:build ebpfaccel_\([a-z0-9_]*\)$|\1|p' "$f")
	if [ -n "$tag" ]; then
		case " $headers " in *" $tag.h "*) ;; *) continue ;; esac
	fi
	sed '\|^//go:build ebpfaccel_|d' "$f" > "$out/${f##*/}"
done
