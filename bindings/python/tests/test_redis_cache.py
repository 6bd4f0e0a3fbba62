# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The Redis cache from Python: a private redis-server in its own netns
and cgroup; GETs answered by the kernel never reach Redis."""
import errno
import os
import socket
import time
import unittest

import ebpfaccel
import fixtures
from fixtures import command

MISSING = fixtures.require("redis-server", "redis-cli", "ip")


@unittest.skipUnless(hasattr(ebpfaccel, "RedisCache"), "redis_cache.h is not part of this build")
@unittest.skipUnless(os.geteuid() == 0, "needs root: netns, cgroup and BPF")
@unittest.skipIf(MISSING, MISSING)
class RedisCacheTest(unittest.TestCase):
    def setUp(self):
        self.cgroup = fixtures.new_cgroup(self)
        self.ns, self.redis = fixtures.private_redis(self, self.cgroup)

    def warm(self, sock, key, value):
        """GET until the kernel answers (Redis' GET count stays put)."""
        for _ in range(200):
            before = self.redis.get_calls()
            self.assertEqual(command(sock, "GET", key), b"$%d\r\n%s\r\n" % (len(value), value))
            if self.redis.get_calls() == before:
                return
            time.sleep(0.01)
        self.fail(f"{key} was never served from the kernel")

    def test_hits_come_from_the_kernel(self):
        # In the netns: the library's coherence connection and our client.
        # broadcast asked for: the mode in effect cannot change under the test
        with ebpfaccel.RedisCache([self.redis.port], self.cgroup.path,
                                  tracking=ebpfaccel.redis_cache.TRACK_BCAST) as cache, \
                self.ns.entered():
            self.assertFalse(cache.serving)
            with cache.attached():
                self.assertTrue(cache.serving)
                mode, why = cache.tracking
                self.assertEqual(mode, ebpfaccel.redis_cache.TRACK_ALL)
                self.assertTrue(why)
                with socket.create_connection(("127.0.0.1", self.redis.port)) as sock:
                    self.check_served(cache, sock)
            self.assertFalse(cache.serving)
            with self.assertRaises(ebpfaccel.Error) as cm:
                cache.tracking
            self.assertEqual(cm.exception.errno, errno.ENOTCONN)
            with self.assertRaises(ebpfaccel.Error) as cm:
                cache.detach()
            self.assertEqual(cm.exception.errno, errno.ENOTCONN)

    def check_served(self, cache, sock):
        self.assertEqual(command(sock, "SET", "greeting", "hello world"), b"+OK\r\n")
        self.warm(sock, "greeting", b"hello world")
        s0, calls = cache.stats(), self.redis.get_calls()
        for _ in range(10):
            self.assertEqual(command(sock, "GET", "greeting"), b"$11\r\nhello world\r\n")
        self.assertEqual(self.redis.get_calls(), calls)
        self.assertGreaterEqual(cache.stats().hits - s0.hits, 10)
        info = cache.info()
        self.assertEqual((info.entries_small, info.entries_large), (1, 0))
        self.assertEqual((info.capacity_small, info.capacity_large), (65536, 4096))
        self.assertGreater(info.memory_bytes, 65536 * 128)
        self.assertEqual((info.tracking, info.tracking_ok), (ebpfaccel.redis_cache.TRACK_ALL, 1))
        self.assertEqual(info.cgroup_id, os.stat(cache.cgroup).st_ino)
        self.assertEqual(info.server_pid, self.redis.proc.pid)
        self.assertEqual(cache.server_pid, self.redis.proc.pid)
        # without the walk: the same but the entries
        brief = cache.info(entries=False)
        self.assertEqual((brief.entries_small, brief.entries_large, brief.entries_stale), (0, 0, 0))
        self.assertEqual(brief.server_pid, self.redis.proc.pid)
        self.assertEqual((brief.memory_bytes, brief.capacity_small, brief.tracking_ok),
                         (info.memory_bytes, info.capacity_small, info.tracking_ok))
        self.assertEqual(os.path.realpath(cache.cgroup), os.path.realpath(self.cgroup.path))
        # A write through another connection is seen at once.
        self.redis.cli("SET", "greeting", "changed")
        self.assertEqual(command(sock, "GET", "greeting"), b"$7\r\nchanged\r\n")
        self.warm(sock, "greeting", b"changed")
        # After a flush the next GET goes to Redis again.
        cache.flush()
        info = cache.info()
        self.assertEqual((info.entries_small, info.entries_stale), (0, 1))
        calls = self.redis.get_calls()
        self.assertEqual(command(sock, "GET", "greeting"), b"$7\r\nchanged\r\n")
        self.assertEqual(self.redis.get_calls(), calls + 1)

    def test_cgroup_found_from_the_port(self):
        # The listener is in the netns: so are the look-up and the open.
        with self.ns.entered():
            found = ebpfaccel.redis_find_cgroup(self.redis.port)
            self.assertEqual(os.path.realpath(found), os.path.realpath(self.cgroup.path))
            self.assertEqual(ebpfaccel.redis_find_cgroup(self.redis.port, self.redis.proc.pid),
                             found)
            with self.assertRaises(ebpfaccel.Error) as cm:
                ebpfaccel.redis_find_cgroup(self.redis.port + 1)
            self.assertEqual(cm.exception.errno, errno.ENOENT)
            with self.assertRaises(ebpfaccel.Error) as cm:   # not that process's
                ebpfaccel.redis_find_cgroup(self.redis.port, os.getpid())
            self.assertEqual(cm.exception.errno, errno.ENOENT)
            with ebpfaccel.RedisCache([self.redis.port], pid=self.redis.proc.pid) as cache, \
                    cache.attached(), \
                    socket.create_connection(("127.0.0.1", self.redis.port)) as sock:
                self.check_served(cache, sock)

    def test_bad_options(self):
        with self.assertRaises(ebpfaccel.Error) as cm:
            ebpfaccel.RedisCache([], self.cgroup.path)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(TypeError):
            ebpfaccel.RedisCache([6379], self.cgroup.path, max_entires=5)

    def test_modes(self):
        # XDP needs an interface; an unknown mode is refused.
        for bad in ({"mode": ebpfaccel.RedisCacheMode.XDP}, {"mode": 7},
                    {"mode": ebpfaccel.RedisCacheMode.XDP, "ifname": "x" * 40}):
            with self.assertRaises(ebpfaccel.Error) as cm:
                ebpfaccel.RedisCache([6379], self.cgroup.path, **bad)
            self.assertEqual(cm.exception.errno, errno.EINVAL)
        # AUTO without an interface is the sockmap cache; with one, the XDP
        # programs load (they attach at attach()).
        for opts in ({"mode": ebpfaccel.RedisCacheMode.AUTO},
                     {"mode": ebpfaccel.RedisCacheMode.XDP, "ifname": "lo"}):
            with ebpfaccel.RedisCache([6379], self.cgroup.path, **opts) as cache:
                self.assertFalse(cache.serving)


@unittest.skipUnless(hasattr(ebpfaccel, "RedisCache"), "redis_cache.h is not part of this build")
@unittest.skipUnless(os.geteuid() == 0, "needs root: cgroup and BPF")
class RedisCacheLoadTest(unittest.TestCase):
    def test_open_agrees_with_the_probe(self):
        cgroup = fixtures.Cgroup()
        self.addCleanup(cgroup.close)
        fixtures.check_open_agrees_with_probe(
            self, ebpfaccel.Feature.REDIS_CACHE,
            lambda: ebpfaccel.RedisCache([6379], cgroup.path))


if __name__ == "__main__":
    unittest.main()
