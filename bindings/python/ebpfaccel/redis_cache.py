# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The in-kernel Redis cache (include/ebpfaccel/redis_cache.h).

    with ebpfaccel.RedisCache([6379], "/sys/fs/cgroup/unified/redis") as cache:
        with cache.attached():          # detaches on leaving the block
            ...
            print(cache.stats().hits)
"""
import contextlib
import enum
import os

from . import _ebpfaccel as _c
from .core import Handle, make_opts, open_object, to_python


# tracking= (enum ebpfaccel_redis_tracking): TRACK_DEFAULT (0, automatic),
# TRACK_KEYS, TRACK_AUTO or TRACK_BCAST; in effect TRACK_ALL or TRACK_KEYS.
TRACK_DEFAULT = _c.EBPFACCEL_REDIS_TRACK_DEFAULT
TRACK_ALL = _c.EBPFACCEL_REDIS_TRACK_ALL
TRACK_KEYS = _c.EBPFACCEL_REDIS_TRACK_KEYS
TRACK_AUTO = _c.EBPFACCEL_REDIS_TRACK_AUTO
TRACK_BCAST = _c.EBPFACCEL_REDIS_TRACK_BCAST


def find_cgroup(port, pid=0):
    """The cgroup v2 directory of the connections of the TCP socket
    listening on @port in the calling thread's netns (held by process @pid
    if given): where a running redis-server's cache attaches.  Linux >= 5.7."""
    return _c.ebpfaccel_redis_cache__find_cgroup(port, pid)


RedisCacheMode = enum.IntEnum("RedisCacheMode", {
    "SOCKMAP": _c.EBPFACCEL_REDIS_CACHE_SOCKMAP,
    "XDP": _c.EBPFACCEL_REDIS_CACHE_XDP,
    "AUTO": _c.EBPFACCEL_REDIS_CACHE_AUTO,
}, module=__name__)
RedisCacheMode.__doc__ = "Where GET hits are answered (the mode option)."


class RedisCache(Handle):
    """The cache's BPF programs and maps for a redis-server you run.

    @ports are the TCP ports redis-server listens on; @cgroup the cgroup v2
    directory its connections belong to (path, or an fd that must stay
    open while the cache lives; never the root cgroup), or None: found
    from the socket listening on ports[0] (see find_cgroup(); pid= narrows
    it to one process).  The other keywords are the fields of struct
    ebpfaccel_redis_cache_opts (max_entries, max_large_entries,
    max_value_size, redis_host, redis_user, redis_password, tracking, pid,
    mode (a RedisCacheMode), ifname, ifindex: XDP mode answers hits in XDP
    on that interface).  Needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN.
    Closing detaches and unloads.  When the kernel refuses a program, the
    Error raised has a ``load_error`` saying which and why.
    """
    _free = staticmethod(_c.ebpfaccel_redis_cache__destroy)

    def __init__(self, ports, cgroup=None, **options):
        ports = list(ports)
        array = _c.u16_array(max(len(ports), 1))
        for i, port in enumerate(ports):
            array[i] = port
        opts = make_opts(_c.ebpfaccel_redis_cache_opts, **options)
        opts.ports = array.cast()
        opts.nr_ports = len(ports)
        # The library uses the cgroup again at attach: an fd stays the caller's.
        if cgroup is None:
            opts.discover_cgroup = True
        elif isinstance(cgroup, int):
            opts.cgroup_fd = cgroup
        else:
            opts.cgroup_path = os.fsdecode(cgroup)
        super().__init__(open_object(_c.ebpfaccel_redis_cache__open, opts))

    def attach(self):
        """Serve redis-server connections accepted from now on.  The
        coherence connection is opened from the calling thread's netns."""
        _c.ebpfaccel_redis_cache__attach(self._handle())

    def detach(self):
        _c.ebpfaccel_redis_cache__detach(self._handle())

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
        _c.ebpfaccel_redis_cache__flush(self._handle())

    @property
    def serving(self):
        """Whether the kernel answers GETs right now."""
        return _c.ebpfaccel_redis_cache__serving(self._handle()) == 1

    @property
    def tracking(self):
        """(TRACK_ALL or TRACK_KEYS, why): the tracking in effect and why
        it was chosen (tracking=TRACK_AUTO switches between them)."""
        return _c.ebpfaccel_redis_cache__tracking(self._handle())

    def stats(self):
        """The counters (hits, misses, fills, invalidations, bypasses ...)
        as a frozen dataclass with the fields of the C struct."""
        s = _c.ebpfaccel_redis_cache_stats()
        _c.ebpfaccel_redis_cache__stats(self._handle(), s)
        return to_python(s)

    def info(self, entries=True):
        """What the cache holds and its coherence state, counted now:
        entries_small/large (current generation), entries_stale,
        capacity_small/large, memory_bytes (preallocated kernel memory of
        the maps), reconnects, cgroup_id, tracking (TRACK_ALL or
        TRACK_KEYS), tracking_ok, server_pid (the process listening on
        ports[0] now, in the calling thread's netns; 0: none); a frozen
        dataclass. entries=False skips counting the entries (a walk of
        the maps; they read 0) and costs no walk."""
        s = _c.ebpfaccel_redis_cache_info()
        if entries:
            _c.ebpfaccel_redis_cache__info(self._handle(), s)
        else:
            opts = make_opts(_c.ebpfaccel_redis_cache_info_opts, entries=False)
            _c.ebpfaccel_redis_cache__info_opts(self._handle(), s, opts)
        return to_python(s)

    @property
    def server_pid(self):
        """The process listening on ports[0] now (calling thread's netns),
        0 while none does."""
        return _c.ebpfaccel_redis_cache__server_pid(self._handle())

    @property
    def cgroup(self):
        """The cgroup v2 directory the programs are attached to now (a
        cache whose cgroup was found from the listener follows a server
        restarted in another cgroup)."""
        return _c.ebpfaccel_redis_cache__cgroup(self._handle())
