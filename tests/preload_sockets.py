# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Socket calls the preload shim handles on compressed sockets, run by an
# unmodified python3 under it (tests/test_preload_apps.sh):
#   server ADDR PORT   echoes one connection until EOF, then exits
#   client ADDR PORT   MSG_PEEK (with MSG_WAITALL), MSG_DONTWAIT, select(),
#                      poll(), ppoll(), epoll_wait() and epoll_pwait() of
#                      peeked bytes, dup() and fcntl(F_DUPFD_CLOEXEC)
#                      descriptors used after the original is closed; prints
#                      "ok" when all held
import ctypes, os, select, socket, sys

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

class PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]

class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

class EpollEvent(ctypes.Structure):  # packed on x86-64, as the kernel's
    _pack_ = 1
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]

def readiness_of_peeked(s):
    """Peeked bytes wait in the shim, not in the kernel: every readiness
    call must still report the socket readable, without waiting."""
    libc = ctypes.CDLL(None, use_errno=True)  # the shim's symbols come first
    p = select.poll()
    p.register(s, select.POLLIN)
    assert p.poll(0) == [(s.fileno(), select.POLLIN)], "poll() missed peeked bytes"
    pfd = PollFd(s.fileno(), select.POLLIN, 0)
    zero = Timespec(0, 0)
    assert libc.ppoll(ctypes.byref(pfd), 1, ctypes.byref(zero), None) == 1 \
        and pfd.revents & select.POLLIN, "ppoll() missed peeked bytes"
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLIN)
    assert ep.poll(0) == [(s.fileno(), select.EPOLLIN)], "epoll_wait() missed peeked bytes"
    ev = (EpollEvent * 4)()
    assert libc.epoll_pwait(ep.fileno(), ev, 4, 0, None) == 1 \
        and ev[0].events & select.EPOLLIN, "epoll_pwait() missed peeked bytes"
    ep.unregister(s.fileno())
    ep.close()

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

# One small record, peeked: the shim decodes all of it, so the kernel's
# queue is empty and only the shim can say the socket is readable.
small = msg[:100]
s.sendall(small)
r, _, _ = select.select([s], [], [], 10)
assert r == [s], "select() did not report the small echo"
assert s.recv(10, socket.MSG_PEEK | socket.MSG_WAITALL) == small[:10], "small peek differs"
readiness_of_peeked(s)
assert recv_exact(s, len(small)) == small, "small echo differs after peeking"

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
