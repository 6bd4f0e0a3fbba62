# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Compression from Python over real TCP sockets on loopback, and the
negotiation policy on a child cgroup (root)."""
import errno
import os
import random
import socket
import unittest

import ebpfaccel

comp = getattr(ebpfaccel, "comp", None)
IS_ROOT = os.geteuid() == 0
WORDS = [b"GET", b"/index.html", b"HTTP/1.1", b"200", b"OK", b'{"id":', b"level=info",
         b"request", b"served", b"in", b"ms", b"session", b"cache", b"error"]


def text(size, seed=1):
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += rnd.choice(WORDS) + (b" " if rnd.random() < 0.9 else b"\n")
    return bytes(out[:size])


def tcp_pair():
    with socket.create_server(("127.0.0.1", 0)) as lsock:
        client = socket.create_connection(lsock.getsockname())
        server, _ = lsock.accept()
    return client, server


def recv_exactly(conn, size):
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        n = conn.recv_into(view[got:])
        if n == 0:
            break
        got += n
    return bytes(buf[:got])


@unittest.skipIf(comp is None, "comp.h is not part of this build of the library")
class ConnectionTest(unittest.TestCase):
    def pair(self, tx, rx):
        client, server = tcp_pair()
        self.addCleanup(client.close)
        self.addCleanup(server.close)
        # Sockets and plain fds are both accepted.
        c = comp.Connection(client, tx=tx, rx=rx)
        s = comp.Connection(server.fileno(), tx=rx, rx=tx)
        self.addCleanup(c.close)
        self.addCleanup(s.close)
        return c, s, client, server

    def test_round_trip_every_algorithm_and_mode(self):
        data = text(300_000)
        for algo in (comp.Algo.ZSTD, comp.Algo.LZ4):
            for mode in comp.Mode:
                with self.subTest(algo=algo.name, mode=mode.name):
                    params = comp.Params(algo=algo, mode=mode)
                    c, s, _, _ = self.pair(params, params)
                    c.sendall(data)
                    self.assertEqual(recv_exactly(s, len(data)), data)
                    s.sendall(data[:1000])
                    self.assertEqual(recv_exactly(c, 1000), data[:1000])
                    self.assertEqual(c.params, (params, params))
                    st = c.stats()
                    self.assertEqual(st.tx_bytes_in, len(data))
                    self.assertLess(st.tx_bytes_out, len(data) // 2)
                    self.assertEqual(s.stats().rx_bytes_out, len(data))

    def test_pending_bytes_are_visible(self):
        c, s, _, _ = self.pair(comp.Params(), comp.Params())
        c.sendall(b"0123456789" * 10)
        self.assertEqual(c.tx_pending, 0)
        self.assertEqual(s.recv(10), b"0123456789")
        # The rest of the record is decoded and waiting, not in the socket.
        self.assertTrue(s.rx_pending)
        self.assertEqual(recv_exactly(s, 90), b"0123456789" * 9)
        self.assertFalse(s.rx_pending)

    def test_plain_direction_and_in_kernel(self):
        c, s, _, _ = self.pair(comp.Params(), comp.OFF)
        self.assertFalse(c.in_kernel and not ebpfaccel.Probe(skip_bpf=True).supported(
            ebpfaccel.Feature.TCP_COMP_KMOD))
        s.sendall(b"plain reply")
        self.assertEqual(recv_exactly(c, 11), b"plain reply")
        self.assertEqual(c.params[1].algo, comp.Algo.NONE)

    def test_bad_params_raise_einval(self):
        client, server = tcp_pair()
        with client, server, self.assertRaises(ebpfaccel.Error) as cm:
            comp.Connection(client, tx=comp.Params(algo=99), rx=comp.Params())
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_garbage_from_the_peer_is_ebadmsg(self):
        c, _, _, server = self.pair(comp.Params(), comp.Params())
        server.sendall(b"this is not a record stream at all" * 4)
        server.shutdown(socket.SHUT_WR)
        with self.assertRaises(ebpfaccel.Error) as cm:
            c.recv(4096)
        self.assertEqual(cm.exception.errno, errno.EBADMSG)

    def test_nonblocking_empty_is_blockingioerror(self):
        client, server = tcp_pair()
        self.addCleanup(client.close)
        self.addCleanup(server.close)
        client.setblocking(False)
        with comp.Connection(client, tx=comp.Params(), rx=comp.Params()) as c:
            with self.assertRaises(BlockingIOError) as cm:
                c.recv(100)
        self.assertIsInstance(cm.exception, ebpfaccel.Error)
        self.assertEqual(cm.exception.errno, errno.EAGAIN)

    def test_sendfile(self):
        data = text(100_000, seed=7)
        c, s, _, _ = self.pair(comp.Params(), comp.Params())
        path = f"/tmp/ebpfaccel-pytest-{os.getpid()}"
        with open(path, "wb") as f:
            f.write(data)
        self.addCleanup(os.unlink, path)
        with open(path, "rb") as f:
            sent = 0
            while sent < len(data):
                n = c.sendfile(f, len(data) - sent)
                self.assertGreater(n, 0)
                sent += n
        c.flush()
        self.assertEqual(recv_exactly(s, len(data)), data)

    def test_closed_connection_refuses(self):
        c, _, _, _ = self.pair(comp.Params(), comp.Params())
        c.close()
        with self.assertRaises(ValueError):
            c.send(b"x")


def cgroup2_mount():
    with open("/proc/mounts") as f:
        for line in f:
            dev, path, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return path
    return None


@unittest.skipIf(comp is None, "comp.h is not part of this build of the library")
@unittest.skipUnless(IS_ROOT, "needs root: loading and attaching the negotiation program")
class PolicyTest(unittest.TestCase):
    def setUp(self):
        mount = cgroup2_mount()
        if mount is None:
            self.skipTest("no cgroup2 mount")
        self.cgroup = os.path.join(mount, f"ebpfaccel-pytest-{os.getpid()}")
        os.mkdir(self.cgroup)
        self.addCleanup(os.rmdir, self.cgroup)

    def test_rules_and_errors(self):
        with comp.Policy() as policy:
            policy.set_port(7000, algo=comp.Algo.LZ4, mode=comp.Mode.STREAM)
            policy.set_prefix("198.18.0.0", 15, 7001)
            policy.set_prefix("2001:2::", 48, 7001, dir=comp.DIR_TX)
            policy.del_prefix("198.18.0.0", 15, 7001)
            policy.del_port(7000)
            with self.assertRaises(FileNotFoundError):
                policy.del_port(7000)
            with self.assertRaises(ebpfaccel.Error) as cm:
                policy.set_port(0)
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            with self.assertRaises(TypeError):
                policy.set_port(7000, algorithm=1)
            self.assertEqual(set(policy.stats()) >= {"syn_opt", "synack_opt"}, True)

    def test_pinned_outlives_the_handle(self):
        name = f"pytest-{os.getpid()}"
        with comp.Policy(pin=True, pin_name=name) as policy:
            policy.attach(self.cgroup)
        with comp.Policy.open_pinned(name) as again:
            self.assertEqual(again.pin_path, f"/sys/fs/bpf/ebpfaccel/comp/{name}")
            self.assertEqual(again.cgroup_id, os.stat(self.cgroup).st_ino)
            again.set_port(7005, algo=comp.Algo.LZ4)
            self.assertEqual(again.ports(), [7005])
            self.assertEqual(again.get_port(7005)["algo"], comp.Algo.LZ4)
            with self.assertRaises(FileNotFoundError):
                again.get_port(7006)
            again.detach()
        with self.assertRaises(FileNotFoundError):
            comp.Policy.open_pinned(name)

    def test_negotiates_in_the_cgroup(self):
        """A child process in the cgroup connects to itself on a policy
        port; both ends negotiate and talk compressed through the state."""
        with comp.Policy() as policy:
            lsock = socket.create_server(("127.0.0.1", 0))
            port = lsock.getsockname()[1]
            lsock.close()
            policy.set_port(port, algo=comp.Algo.ZSTD)
            policy.attach(self.cgroup)
            rfd, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(rfd)
                os._exit(self.child(policy, port, wfd))
            os.close(wfd)
            with os.fdopen(rfd) as f:
                report = f.read()
            _, status = os.waitpid(pid, 0)
            stats = policy.stats()
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, report)
        self.assertIn("ok", report)
        self.assertGreaterEqual(stats["syn_opt"], 1, stats)

    def child(self, policy, port, wfd):
        try:
            with open(os.path.join(self.cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
            with socket.create_server(("127.0.0.1", port)) as lsock:
                client = socket.create_connection(("127.0.0.1", port))
                server, _ = lsock.accept()
            with client, server:
                cs, ss = policy.state(client), policy.state(server)
                report = f"client {cs}\nserver {ss}\n"
                data = text(50_000, seed=3)
                with comp.Connection(client, policy=policy) as c, \
                        comp.Connection(server, policy=policy) as s:
                    c.sendall(data)
                    ok = recv_exactly(s, len(data)) == data
                    st = c.stats()
            report += f"{st}\n"
            if ss.phase == comp.Phase.ON and cs.tx.algo == comp.Algo.ZSTD and ok \
                    and st.tx_bytes_out < st.tx_bytes_in:
                report += "ok\n"
            os.write(wfd, report.encode())
            return 0
        except BaseException as err:  # the parent reads why
            os.write(wfd, repr(err).encode())
            return 1


if __name__ == "__main__":
    unittest.main()
