# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Socket calls the preload shim handles on compressed sockets, run by an
# unmodified python3 under it (tests/test_preload_apps.sh):
#   server ADDR PORT   echoes one connection until EOF, then exits
#   client ADDR PORT   MSG_PEEK (with MSG_WAITALL), MSG_DONTWAIT, select(),
#                      dup() and fcntl(F_DUPFD_CLOEXEC) descriptors used after
#                      the original is closed; prints "ok" when all held
import os, select, socket, sys

role, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if role == "server":
    with socket.create_server((addr, port)) as lsn:
        print("ready", flush=True)
        conn, _ = lsn.accept()
        while data := conn.recv(1 << 16):
            conn.sendall(data)
        conn.close()
    sys.exit(0)

def recv_exact(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        assert chunk, "early end of stream"
        got += chunk
    return got

msg = b"".join(b"line %06d of a compressible echo\n" % i for i in range(4000))
s = socket.create_connection((addr, port))
try:
    s.recv(1, socket.MSG_DONTWAIT)
    raise AssertionError("MSG_DONTWAIT on an idle socket did not fail")
except BlockingIOError:
    pass
s.sendall(msg)
r, _, _ = select.select([s], [], [], 10)
assert r == [s], "select() did not report the echo"
head = s.recv(64, socket.MSG_PEEK | socket.MSG_WAITALL)
assert head == msg[:64], head
assert s.recv(16, socket.MSG_PEEK) == msg[:16], "second peek differs"
r, _, _ = select.select([s], [], [], 0)
assert r == [s], "peeked bytes not reported readable"
assert recv_exact(s, len(msg)) == msg, "echo differs after peeking"

# A dup()ed descriptor (socket.dup) and an F_DUPFD_CLOEXEC one (os.dup)
# carry on after the original is closed.
d = s.dup()
fd2 = os.dup(s.fileno())
s.close()
d.sendall(msg)
assert recv_exact(d, len(msg)) == msg, "echo through dup() differs"
d.close()
os.write(fd2, msg[:1000])
got = b""
while len(got) < 1000:
    got += os.read(fd2, 1000 - len(got))
assert got == msg[:1000], "echo through F_DUPFD differs"
os.close(fd2)
print("ok")
