#!/bin/sh
# make check: tcp_comp built for and run on Debian 13's kernel 6.12 (tests/test_kmod.sh)
export KMOD_KERNEL=6.12
exec "$(dirname "$0")/test_kmod.sh"
