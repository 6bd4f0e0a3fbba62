#!/bin/sh
# make check: tcp_comp built for and run on Debian 12's kernel 6.1 (tests/test_kmod.sh)
export KMOD_KERNEL=6.1
exec "$(dirname "$0")/test_kmod.sh"
