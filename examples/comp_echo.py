#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""comp_echo -- a compressed client/server pair on loopback.

The server echoes what it receives; both ends speak libebpfaccel's record
format (through the tcp_comp kernel module when it is loaded, in user space
otherwise).  Without options both directions use zstd in block mode, set
explicitly on each end.  With --policy CGROUP (root) the library's policy
negotiates instead, in the TCP handshake of sockets of that cgroup v2 (this
process joins it).  Prints what went over the wire.
"""
import argparse
import os
import socket
import threading

import ebpfaccel
from ebpfaccel import comp

MESSAGE = b"GET /index.html HTTP/1.1 200 OK level=info request served in 3 ms\n" * 2000


def serve(listener, params, policy):
    sock, _ = listener.accept()
    with sock, comp.Connection(sock, tx=params, rx=params, policy=policy) as conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", metavar="CGROUP", help="negotiate in this cgroup v2")
    args = parser.parse_args()

    policy, params = None, comp.Params(algo=comp.Algo.ZSTD)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if args.policy:
        policy, params = comp.Policy(), None
        policy.set_port(port, algo=comp.Algo.ZSTD)
        policy.attach(args.policy)
        with open(os.path.join(args.policy, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        listener.close()   # the listening socket must be made in the cgroup
        listener = socket.create_server(("127.0.0.1", port))

    server = threading.Thread(target=serve, args=(listener, params, policy))
    server.start()
    with socket.create_connection(("127.0.0.1", port)) as sock, \
            comp.Connection(sock, tx=params, rx=params, policy=policy) as conn:
        conn.sendall(MESSAGE)
        echoed = bytearray()
        while len(echoed) < len(MESSAGE):
            echoed += conn.recv(65536)
        sock.shutdown(socket.SHUT_WR)
        stats, (tx, _), in_kernel = conn.stats(), conn.params, conn.in_kernel
    server.join()
    listener.close()
    if policy:
        policy.close()

    print(f"echoed {len(echoed)} bytes, {'same' if echoed == MESSAGE else 'DIFFERENT'}")
    print(f"sent with {tx.algo.name.lower()} ({'kernel' if in_kernel else 'user space'}):"
          f" {stats.tx_bytes_in} bytes as {stats.tx_bytes_out} on the wire"
          f" ({stats.tx_bytes_in / max(stats.tx_bytes_out, 1):.1f}:1)")
    return 0 if echoed == MESSAGE else 1


if __name__ == "__main__":
    raise SystemExit(main())
