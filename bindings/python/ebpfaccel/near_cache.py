# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The Redis near cache on the client's host (include/ebpfaccel/near_cache.h).

    with ebpfaccel.NearCache(["10.0.0.5:6379"], "/sys/fs/cgroup/app",
                             max_staleness_ms=500) as cache:
        with cache.attached():          # detaches on leaving the block
            ...
            print(cache.stats().hits)
"""
import contextlib
import os

from . import _ebpfaccel as _c
from .core import Handle, make_opts, open_object, to_python


class NearCache(Handle):
    """GET hits of the processes in a cgroup answered on their own host.

    @servers are the addresses of ONE Redis server as the clients reach it
    ("ipv4:port", "[ipv6]:port"); @cgroup the cgroup v2 directory of the
    client processes (path, or an fd that must stay open while the cache
    lives); @prefixes, if given, the only key prefixes cached. The other
    keywords are the fields of struct ebpfaccel_near_cache_opts
    (max_staleness_ms, max_entries, max_large_entries, max_value_size,
    redis_user, redis_password). Needs CAP_BPF, CAP_NET_ADMIN and
    CAP_SYS_ADMIN. Closing detaches and unloads. When the kernel refuses a
    program, the Error raised has a ``load_error`` saying which and why.
    """
    _free = staticmethod(_c.ebpfaccel_near_cache__destroy)

    def __init__(self, servers, cgroup, prefixes=(), **options):
        opts = make_opts(_c.ebpfaccel_near_cache_opts, **options)
        # the arrays must outlive the open call, which copies what it keeps
        self._servers = _c.str_array(list(servers))
        self._prefixes = _c.str_array(list(prefixes))
        opts.servers = self._servers.cast()
        opts.nr_servers = len(servers)
        opts.prefixes = self._prefixes.cast()
        opts.nr_prefixes = len(prefixes)
        if isinstance(cgroup, int):
            opts.cgroup_fd = cgroup
        else:
            opts.cgroup_path = os.fsdecode(cgroup)
        super().__init__(open_object(_c.ebpfaccel_near_cache__open, opts))

    def attach(self):
        """Accelerate the cgroup's connections to the server opened from now
        on. The library's connections are made from the calling thread's
        netns."""
        _c.ebpfaccel_near_cache__attach(self._handle())

    def detach(self):
        _c.ebpfaccel_near_cache__detach(self._handle())

    @contextlib.contextmanager
    def attached(self):
        """attach(), and detach() when the block ends."""
        self.attach()
        try:
            yield self
        finally:
            self.detach()

    def flush(self):
        """Invalidate every cached value at once."""
        _c.ebpfaccel_near_cache__flush(self._handle())

    @property
    def serving(self):
        """Whether GETs are answered on this host right now."""
        return _c.ebpfaccel_near_cache__serving(self._handle()) == 1

    def stats(self):
        """The counters (hits, misses, fills, invalidations, expired ...) as
        a frozen dataclass with the fields of the C struct."""
        s = _c.ebpfaccel_near_cache_stats()
        _c.ebpfaccel_near_cache__stats(self._handle(), s)
        return to_python(s)
