#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""redis_cache_stats -- attach the in-kernel cache to a local redis-server
and print its counters every second.

    redis_cache_stats.py --port 6379 --cgroup /sys/fs/cgroup/unified/redis

redis-server must run in that cgroup v2 (a child, never the root cgroup of
a shared machine) and listen on the port on 127.0.0.1; run as root.
Connections accepted after the attach are served; Ctrl-C detaches.
"""
import argparse
import time

import ebpfaccel

COUNTERS = ("hits", "misses", "fills", "invalidations", "bypass_state")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--cgroup", required=True, help="cgroup v2 directory of redis-server")
    parser.add_argument("--password", help="redis-server's requirepass")
    parser.add_argument("--seconds", type=int, default=0, help="stop after this long (0: never)")
    args = parser.parse_args()

    try:
        cache = ebpfaccel.RedisCache([args.port], args.cgroup, redis_password=args.password)
    except ebpfaccel.Error as err:
        raise SystemExit(f"redis_cache_stats: {err}")
    with cache, cache.attached():
        print("  ".join(f"{c:>13}" for c in COUNTERS))
        deadline = time.monotonic() + args.seconds if args.seconds else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(1)
                stats = cache.stats()
                print("  ".join(f"{getattr(stats, c):>13}" for c in COUNTERS))
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
