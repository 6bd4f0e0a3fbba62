#!/bin/sh
# make check: tcp_comp built for and run on the newest 7.3.x of trixie-backports (tests/test_kmod.sh)
export KMOD_KERNEL=7.3
exec "$(dirname "$0")/test_kmod.sh"
