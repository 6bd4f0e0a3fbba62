# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The Redis cache from Python: a private redis-server in its own netns
and cgroup; GETs answered by the kernel never reach Redis."""
import errno
import os
import socket
import tempfile
import time
import unittest

import ebpfaccel
import fixtures

MISSING = fixtures.require("redis-server", "redis-cli", "ip")


def resp(*args):
    out = f"*{len(args)}\r\n".encode()
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def command(sock, *args):
    sock.sendall(resp(*args))
    reply = b""
    while not reply.endswith(b"\r\n") or (reply.startswith(b"$") and reply.count(b"\r\n") < 2
                                          and not reply.startswith(b"$-1")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply


@unittest.skipUnless(hasattr(ebpfaccel, "RedisCache"), "redis_cache.h is not part of this build")
@unittest.skipUnless(os.geteuid() == 0, "needs root: netns, cgroup and BPF")
@unittest.skipIf(MISSING, MISSING)
class RedisCacheTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.ns = fixtures.NetNs()
        self.addCleanup(self.ns.close)
        self.cgroup = fixtures.Cgroup()
        self.addCleanup(self.cgroup.close)
        self.redis = fixtures.RedisServer(self.ns, self.cgroup, self.tmp.name)
        self.addCleanup(self.redis.close)

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
        with ebpfaccel.RedisCache([self.redis.port], self.cgroup.path) as cache, \
                self.ns.entered():
            self.assertFalse(cache.serving)
            with cache.attached():
                self.assertTrue(cache.serving)
                with socket.create_connection(("127.0.0.1", self.redis.port)) as sock:
                    self.check_served(cache, sock)
            self.assertFalse(cache.serving)
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
        # A write through another connection is seen at once.
        self.redis.cli("SET", "greeting", "changed")
        self.assertEqual(command(sock, "GET", "greeting"), b"$7\r\nchanged\r\n")
        self.warm(sock, "greeting", b"changed")
        # After a flush the next GET goes to Redis again.
        cache.flush()
        calls = self.redis.get_calls()
        self.assertEqual(command(sock, "GET", "greeting"), b"$7\r\nchanged\r\n")
        self.assertEqual(self.redis.get_calls(), calls + 1)

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


if __name__ == "__main__":
    unittest.main()
