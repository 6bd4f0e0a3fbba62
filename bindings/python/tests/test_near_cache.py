# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The Redis near cache from Python: a private redis-server in its own netns,
a client socket made in the near cache's cgroup; its GET hits are answered
on the client's host and never reach Redis."""
import errno
import os
import socket
import time
import unittest

import ebpfaccel
import fixtures
from fixtures import command, in_cgroup

MISSING = fixtures.require("redis-server", "redis-cli", "ip")


@unittest.skipUnless(hasattr(ebpfaccel, "NearCache"), "near_cache.h is not part of this build")
@unittest.skipUnless(os.geteuid() == 0, "needs root: netns, cgroup and BPF")
@unittest.skipIf(MISSING, MISSING)
class NearCacheTest(unittest.TestCase):
    def setUp(self):
        self.clients = fixtures.new_cgroup(self)
        self.ns, self.redis = fixtures.private_redis(self, fixtures.new_cgroup(self))

    def test_hits_answered_on_the_client_host(self):
        server = f"127.0.0.1:{self.redis.port}"
        with ebpfaccel.NearCache([server], self.clients.path, max_staleness_ms=2000) as cache, \
                self.ns.entered():
            self.assertFalse(cache.serving)
            with cache.attached():
                self.assertTrue(cache.serving)
                with in_cgroup(self.clients.path):
                    sock = socket.create_connection(("127.0.0.1", self.redis.port))
                with sock:
                    self.check_served(cache, sock)
            self.assertFalse(cache.serving)
            with self.assertRaises(ebpfaccel.Error) as cm:
                cache.detach()
            self.assertEqual(cm.exception.errno, errno.ENOTCONN)

    def check_served(self, cache, sock):
        want = b"$11\r\nhello world\r\n"
        self.assertEqual(command(sock, "SET", "greeting", "hello world"), b"+OK\r\n")
        for _ in range(200):
            hits = cache.stats().hits
            self.assertEqual(command(sock, "GET", "greeting"), want)
            if cache.stats().hits > hits:
                break
            time.sleep(0.01)
        else:
            self.fail("greeting was never answered on the client's host")
        s0, calls = cache.stats(), self.redis.get_calls()
        for _ in range(20):
            self.assertEqual(command(sock, "GET", "greeting"), want)
        self.assertEqual(self.redis.get_calls(), calls)
        self.assertGreaterEqual(cache.stats().hits - s0.hits, 20)
        # this connection's own write is read back at once
        self.assertEqual(command(sock, "SET", "greeting", "changed"), b"+OK\r\n")
        self.assertEqual(command(sock, "GET", "greeting"), b"$7\r\nchanged\r\n")
        cache.flush()

    def test_bad_options(self):
        for servers in ([], ["localhost:6379"], ["127.0.0.1"]):
            with self.assertRaises(ebpfaccel.Error) as cm:
                ebpfaccel.NearCache(servers, self.clients.path)
            self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(ebpfaccel.Error) as cm:
            ebpfaccel.NearCache(["127.0.0.1:6379"], self.clients.path, prefixes=["x" * 65])
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(TypeError):
            ebpfaccel.NearCache(["127.0.0.1:6379"], self.clients.path, max_stalenes_ms=5)


@unittest.skipUnless(hasattr(ebpfaccel, "NearCache"), "near_cache.h is not part of this build")
@unittest.skipUnless(os.geteuid() == 0, "needs root: cgroup and BPF")
class NearCacheLoadTest(unittest.TestCase):
    def test_open_agrees_with_the_probe(self):
        cgroup = fixtures.Cgroup()
        self.addCleanup(cgroup.close)
        fixtures.check_open_agrees_with_probe(
            self, ebpfaccel.Feature.NEAR_CACHE,
            lambda: ebpfaccel.NearCache(["127.0.0.1:6379"], cgroup.path))


if __name__ == "__main__":
    unittest.main()
