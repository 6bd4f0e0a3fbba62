#!/bin/sh
# The Python binding's unittest suites, with Debian's python3, against the
# build tree (the staged package and lib/.libs).
set -eu
if [ -z "${PYTHON:-}" ]; then
	echo "SKIP: the Python binding is not built (configure found no python3-dev or swig)"
	exit 77
fi
export PYTHONPATH="$EBPFACCEL_PYTHONPATH" LD_LIBRARY_PATH="$abs_top_builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" -m unittest discover -v -s "$abs_top_srcdir/bindings/python/tests" -t "$abs_top_srcdir/bindings/python/tests"
