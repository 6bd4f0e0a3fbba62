#!/bin/sh
# go test of the Go binding with Debian's golang, offline, against the build
# tree: cgo finds the library through a .pc that points into it.  Go's
# caches live in the build tree.
set -eu
if [ -z "${GO:-}" ]; then
	echo "SKIP: the Go binding is not tested (configure found no go with cgo)"
	exit 77
fi
cache="$abs_top_builddir/bindings/go/cache"
export GOCACHE="$cache/build" GOPATH="$cache/gopath" GOMODCACHE="$cache/gopath/pkg/mod"
export GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on GOTOOLCHAIN=local CGO_ENABLED=1
export PKG_CONFIG_PATH="$EBPFACCEL_PKG_CONFIG_PATH"
export LD_LIBRARY_PATH="$abs_top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The package as staged for this library (bindings/go/stage.sh): no tags.
cd "$abs_top_builddir/bindings/go/stage"
"$GO" vet .
exec "$GO" test -count=1 -v .
