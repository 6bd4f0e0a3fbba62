# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The traffic probe from Python: TCP traffic over a veth pair between two
netns, measured on one end; the auto policy judged from given figures."""
import errno
import os
import random
import socket
import threading
import unittest

import ebpfaccel
import fixtures

MISSING = fixtures.require("ip")
PORT = 5201
WORDS = [b"GET", b"/index.html", b"HTTP/1.1", b"200", b"OK", b"level=info", b"served"]


def text(size):
    rnd = random.Random(5)
    out = bytearray()
    while len(out) < size:
        out += rnd.choice(WORDS) + b" "
    return bytes(out[:size])


@unittest.skipUnless(hasattr(ebpfaccel, "TrafficProbe"), "traffic_probe.h is not part of this build")
@unittest.skipUnless(os.geteuid() == 0, "needs root: netns, veth and BPF")
@unittest.skipIf(MISSING, MISSING)
class TrafficProbeTest(unittest.TestCase):
    def setUp(self):
        self.a, self.b = fixtures.NetNs(), fixtures.NetNs()
        self.addCleanup(self.b.close)
        self.addCleanup(self.a.close)
        self.ifname, self.server_addr = fixtures.veth(self.a, self.b)

    def transfer(self, data):
        with self.b.entered():
            listener = socket.create_server((self.server_addr, PORT))
        with self.a.entered():
            client = socket.create_connection((self.server_addr, PORT))
        server, _ = listener.accept()
        listener.close()
        sender = threading.Thread(target=lambda: (client.sendall(data), client.close()))
        sender.start()
        got = 0
        while chunk := server.recv(65536):
            got += len(chunk)
        sender.join()
        server.close()
        return got

    def test_measures_a_compressible_upload(self):
        data = text(1 << 20)
        with ebpfaccel.TrafficProbe() as probe:
            with self.a.entered():
                probe.attach(self.ifname)
            self.assertEqual(self.transfer(data), len(data))
            probe.poll(100)
            port = probe.port(PORT)
            tx = port.dir[ebpfaccel.TrafficDir.TX]
            self.assertEqual(port.port, PORT)
            self.assertGreaterEqual(port.flows, 1)
            self.assertGreaterEqual(tx.payload_bytes, len(data))
            self.assertLess(port.dir[ebpfaccel.TrafficDir.RX].payload_bytes, 1000)
            self.assertGreater(port.sample_ratio[ebpfaccel.TrafficDir.TX], 1.5)
            self.assertLess(port.entropy[ebpfaccel.TrafficDir.TX], 6.0)
            self.assertIn(PORT, [p.port for p in probe.ports()])
            flows = [f for f in probe.flows() if f.server_port == PORT]
            self.assertEqual(len(flows), 1)
            self.assertEqual(flows[0].local_is_server, 0)
            with self.assertRaises(FileNotFoundError):
                probe.port(PORT + 1)
            probe.detach()

    def test_iteration_stops_and_raises_from_the_callback(self):
        with ebpfaccel.TrafficProbe() as probe:
            with self.a.entered():
                probe.attach(self.ifname)
            self.transfer(b"x" * 1000)

            def fail(_):
                raise KeyError("from the callback")
            with self.assertRaises(KeyError):
                ebpfaccel._ebpfaccel.ebpfaccel_traffic_probe__for_each_port(probe._handle(), fail)


@unittest.skipUnless(hasattr(ebpfaccel, "AutoPolicy"), "traffic_probe.h is not part of this build")
@unittest.skipUnless(os.geteuid() == 0, "needs root: loading the probe")
class AutoPolicyTest(unittest.TestCase):
    def test_bulk_compressible_turns_on_after_the_hold(self):
        with ebpfaccel.TrafficProbe() as probe, ebpfaccel.AutoPolicy(probe, hold=3) as policy:
            for _ in range(3):
                policy.feed(8080, duration_ns=10**9, payload_bytes=(10**7, 100),
                            rate=10**6, sample_ratio=3.0, entropy=4.5)
            d = policy.decision(8080)
            self.assertTrue(d.compress, d.text)
            self.assertEqual(d.reason, ebpfaccel.AutoReason.BULK_COMPRESSIBLE)
            self.assertEqual(ebpfaccel.traffic_probe.auto_reason_name(d.reason),
                             "bulk-compressible")
            with self.assertRaises(ValueError):
                policy.feed(8080, duration_ns=1, payload_bytes=(1, 2, 3))
            policy.set_engine_ratio(8080, 2.5)
            with self.assertRaises(OSError) as e:
                policy.set_engine_ratio(8080, -1.0)
            self.assertEqual(e.exception.errno, errno.EINVAL)

    def test_choose_by_goodput(self):
        # At 10 MB/s the dense zstd-9 delivers 40 MB/s, lz4 only 20.
        lz4 = dict(algo=ebpfaccel._ebpfaccel.TCP_COMP_ALGO_LZ4, level=0,
                   mode=ebpfaccel._ebpfaccel.TCP_COMP_MODE_BLOCK,
                   comp_speed=700 * 10**6, decomp_speed=3000 * 10**6, ratio=2.0)
        zstd9 = dict(algo=ebpfaccel._ebpfaccel.TCP_COMP_ALGO_ZSTD, level=9,
                     mode=ebpfaccel._ebpfaccel.TCP_COMP_MODE_STREAM,
                     comp_speed=40 * 10**6, decomp_speed=1200 * 10**6, ratio=4.0)
        with ebpfaccel.TrafficProbe() as probe, ebpfaccel.AutoPolicy(
                probe, choose=True, candidates=[lz4, zstd9], stream_gain=1.0,
                cpu_share=1.0) as policy:
            for _ in range(3):
                policy.feed(8080, duration_ns=10**9, payload_bytes=(10**7, 100),
                            rate=10**7, sample_ratio=3.0, entropy=4.5)
            d = policy.decision(8080)
            self.assertTrue(d.compress, d.text)
            self.assertEqual((d.choice.algo, d.choice.level), (zstd9["algo"], 9))
            self.assertEqual((d.link_rate, d.goodput), (10**7, 40 * 10**6))
            with self.assertRaises(OSError) as e:
                ebpfaccel.AutoPolicy(probe, choose=True, candidates=[dict(lz4, algo=9)])
            self.assertEqual(e.exception.errno, errno.EINVAL)


if __name__ == "__main__":
    unittest.main()
