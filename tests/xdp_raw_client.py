# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A TCP client written segment by segment (scapy builds and parses the
frames, an AF_PACKET socket moves them), for what the kernel's own client
never does on demand: here, a connection whose sequence numbers wrap past
2**32 inside its first request.  Used by tests/test_redis_xdp_wrap.sh.

    xdp_raw_client.py IFACE SERVER_MAC CLIENT_MAC KEY VALUE

The client's address (10.79.0.3) is not configured in its netns, so that
kernel ignores the server's segments; the server's netns has a static
neighbour entry for it.  Prints one line per check; exit 0 if all held."""
import socket
import sys
import time

from scapy.all import IP, TCP, Ether, Raw

SRV, ME, PORT = "10.79.0.1", "10.79.0.3", 6379
MASK = 0xFFFFFFFF


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, iface, smac, cmac, sport, isn):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((iface, 0))
        self.sock.settimeout(0.2)
        self.smac, self.cmac, self.sport = smac, cmac, sport
        self.seq, self.ack = isn, 0

    def send(self, flags, data=b""):
        pkt = (Ether(src=self.cmac, dst=self.smac) / IP(src=ME, dst=SRV) /
               TCP(sport=self.sport, dport=PORT, flags=flags, seq=self.seq & MASK,
                   ack=self.ack & MASK, window=65535))
        if data:
            pkt = pkt / Raw(data)
        self.sock.send(bytes(pkt))

    def segments(self, timeout):
        """The server's segments to this connection, until timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                frame = self.sock.recv(65536)
            except socket.timeout:
                continue
            p = Ether(frame)
            if IP in p and TCP in p and p[IP].src == SRV and p[IP].dst == ME \
                    and p[TCP].dport == self.sport:
                yield p[TCP]

    def handshake(self):
        for _ in range(3):
            self.send("S")
            for t in self.segments(1.0):
                if t.flags.S and t.flags.A and t.ack == (self.seq + 1) & MASK:
                    self.seq += 1
                    self.ack = t.seq + 1
                    self.send("A")
                    return True
        return False

    def request(self, data, want):
        """Sends data (again after 1 s without an answer, up to 3 times) and
        reads until len(want) reply bytes came in order; ACKs them."""
        got = b""
        for _ in range(3):
            self.send("PA", data)
            for t in self.segments(1.0):
                payload = bytes(t.payload)
                if payload and t.seq == self.ack & MASK:
                    got += payload
                    self.ack += len(payload)
                if t.flags.A and t.ack == (self.seq + len(data)) & MASK and len(got) >= len(want):
                    self.seq += len(data)
                    self.send("A")
                    return got
            if got:
                break
        self.seq += len(data) if got else 0
        return got

    def close(self):
        self.send("FA")
        self.seq += 1
        for t in self.segments(2.0):
            if t.flags.F:
                self.ack = t.seq + len(bytes(t.payload)) + 1
                self.send("A")
                return True
        return False


def main():
    iface, smac, cmac, key, value = sys.argv[1:6]
    key, value = key.encode(), value.encode()
    ok = True

    def check(cond, what):
        nonlocal ok
        print(("ok: " if cond else "FAIL: ") + what)
        ok &= bool(cond)

    # the first request's bytes straddle sequence number 0
    c = Conn(iface, smac, cmac, 40000 + int(time.time()) % 20000, MASK - 8)
    check(c.handshake(), "handshake with ISN 2^32-9")
    want = b"$%d\r\n%s\r\n" % (len(value), value)
    got = c.request(resp(b"GET", key), want)
    check(got == want, "a GET whose bytes cross sequence number 0 is answered: %r" % got)
    check(c.seq & MASK < 1 << 16, "the client's numbers wrapped (next seq %d)" % (c.seq & MASK))
    bad = 0
    for _ in range(30):
        time.sleep(0.05)
        if c.request(resp(b"GET", key), want) != want:
            bad += 1
    check(bad == 0, "30 more GETs after the wrap, every reply exact (%d wrong)" % bad)
    got = c.request(resp(b"SET", key, b"after-wrap"), b"+OK\r\n")
    check(got == b"+OK\r\n", "a SET after the wrap: %r" % got)
    want = b"$10\r\nafter-wrap\r\n"
    got = c.request(resp(b"GET", key), want)
    check(got == want, "the GET after it reads the new value: %r" % got)
    check(c.close(), "FIN both ways")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
