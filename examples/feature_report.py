#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""feature_report -- print what this machine offers libebpfaccel.

The Python version of feature_report.c, line for line the same output.
Needs the ebpfaccel package (make install puts it in Debian's
dist-packages).  Run as root for the full picture; unprivileged, it tells
which capabilities are missing.  Exit status: 0 if every feature the Redis
cache and compression negotiation need is there, 1 if not, 2 on error.
"""
import sys

import ebpfaccel
from ebpfaccel import Feature

# Features without which the accelerations cannot run: the kernel features,
# and the objects built on them loading on this kernel.
REQUIRED = {Feature.BPF_SYSCALL, Feature.SOCKMAP, Feature.SK_STORAGE,
            Feature.TCP_HDR_OPT, Feature.CGROUP2,
            Feature.REDIS_CACHE, Feature.COMP_NEGOTIATE}


def main():
    try:
        probe = ebpfaccel.Probe()
    except ebpfaccel.Error as err:
        print(f"feature_report: probe failed: {err.strerror}", file=sys.stderr)
        return 2
    missing = 0
    with probe:
        print(f"libebpfaccel {ebpfaccel.version()} on Linux {probe.kernel_release}")
        for status in probe:
            answer = "yes" if status.supported else "no"
            print(f"  {status.name:<14} {answer:<3}  {status.reason}")
            if not status.supported and status.feature in REQUIRED:
                missing += 1
    if missing:
        print(f"{missing} required feature(s) missing: the accelerations cannot attach here")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
