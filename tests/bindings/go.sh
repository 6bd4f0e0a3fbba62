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
# Its tests also drive an unmodified Go Redis client, redigo, from Debian's
# source package, vendored into a copy of the stage: vendor mode reads no
# module graph (redigo's go.mod requires testify, which is not packaged for
# this), and the staged package that 'make install' installs stays free of
# dependencies.
redigo=/usr/share/gocode/src/github.com/gomodule/redigo
if [ ! -f "$redigo/redis/redis.go" ]; then
	echo "FAIL: $redigo is missing: install golang-github-gomodule-redigo-dev (deps/debian-packages.txt)"
	exit 1
fi
pkg="$abs_top_builddir/bindings/go/test-pkg"
rm -rf "$pkg"
mkdir -p "$pkg/vendor/github.com/gomodule/redigo"
cp "$abs_top_builddir/bindings/go/stage"/* "$pkg/"
cp -r "$redigo/redis" "$pkg/vendor/github.com/gomodule/redigo/"
printf '\nrequire github.com/gomodule/redigo v1.8.3\n' >> "$pkg/go.mod"
printf '# github.com/gomodule/redigo v1.8.3\n## explicit; go 1.14\ngithub.com/gomodule/redigo/redis\n' \
	> "$pkg/vendor/modules.txt"
export GOFLAGS=-mod=vendor
cd "$pkg"
"$GO" vet .
exec "$GO" test -count=1 -v .
