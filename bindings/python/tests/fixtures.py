# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Network namespaces, veth pairs, cgroups and redis-server for the binding
tests; every object removes what it created."""
import contextlib
import ctypes
import itertools
import os
import shutil
import subprocess
import tempfile
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_ids = itertools.count(1)


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class NetNs:
    """A named network namespace with lo up."""

    def __init__(self):
        self.name = f"ebpfaccel-py-{os.getpid()}-{next(_ids)}"
        _ip("netns", "add", self.name)
        _ip("-n", self.name, "link", "set", "lo", "up")

    @contextlib.contextmanager
    def entered(self):
        """Run the block with this thread in the namespace: sockets made
        there stay there, and the library sees it as the caller's netns."""
        prev = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        ns = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            _setns(ns)
            yield self
        finally:
            _setns(prev)
            os.close(ns)
            os.close(prev)

    def close(self):
        subprocess.run(["ip", "netns", "pids", self.name], capture_output=True)
        _ip("netns", "del", self.name)


def veth(a, b):
    """A veth pair a <-> b: (a side name, b address); 198.18.N.1 / .2."""
    n = 100 + (os.getpid() + next(_ids)) % 100
    name_a, name_b = f"ea{n}a", f"ea{n}b"
    _ip("-n", a.name, "link", "add", name_a, "type", "veth", "peer", "name", name_b,
        "netns", b.name)
    _ip("-n", a.name, "addr", "add", f"198.18.{n}.1/24", "dev", name_a)
    _ip("-n", b.name, "addr", "add", f"198.18.{n}.2/24", "dev", name_b)
    _ip("-n", a.name, "link", "set", name_a, "up")
    _ip("-n", b.name, "link", "set", name_b, "up")
    return name_a, f"198.18.{n}.2"


def cgroup2_mount():
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    return None


class Cgroup:
    """A child cgroup of the cgroup2 mount (never the root itself)."""

    def __init__(self):
        self.path = os.path.join(cgroup2_mount(), f"ebpfaccel-py-{os.getpid()}-{next(_ids)}")
        os.mkdir(self.path)

    def close(self):
        for _ in range(100):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.02)   # members that just exited
        os.rmdir(self.path)


class RedisServer:
    """A private redis-server in @ns and @cgroup, on port 6379 of that netns,
    plus a unix socket (never cached) to ask it the truth."""

    def __init__(self, ns, cgroup, workdir):
        self.port = 6379
        self.unixsocket = os.path.join(workdir, "redis.sock")
        procs = os.path.join(cgroup.path, "cgroup.procs")

        def join_cgroup():
            with open(procs, "w") as f:
                f.write(str(os.getpid()))

        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--unixsocket", self.unixsocket, "--unixsocketperm", "700", "--dir", workdir],
            stdout=subprocess.DEVNULL, preexec_fn=join_cgroup)
        for _ in range(200):
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.02)
        self.close()
        raise RuntimeError("redis-server did not answer PING")

    def cli(self, *args):
        run = subprocess.run(["redis-cli", "-s", self.unixsocket, *args],
                             capture_output=True, text=True, check=False)
        return run.stdout.strip()

    def get_calls(self):
        for line in self.cli("INFO", "commandstats").splitlines():
            if line.startswith("cmdstat_get:calls="):
                return int(line.split("=")[1].split(",")[0])
        return 0

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def new_cgroup(test):
    """A Cgroup removed by @test's (a unittest.TestCase) cleanups."""
    cg = Cgroup()
    test.addCleanup(cg.close)
    return cg


def private_redis(test, cgroup):
    """A RedisServer in a new netns and in @cgroup for @test, both removed
    by its cleanups (the server first): (ns, redis)."""
    tmp = tempfile.TemporaryDirectory()
    test.addCleanup(tmp.cleanup)
    ns = NetNs()
    test.addCleanup(ns.close)
    redis = RedisServer(ns, cgroup, tmp.name)
    test.addCleanup(redis.close)
    return ns, redis


@contextlib.contextmanager
def in_cgroup(path):
    """Run the block in cgroup @path: sockets made there stay its own."""
    with open("/proc/self/cgroup") as f:
        home = next(line.split("::", 1)[1].strip() for line in f if line.startswith("0::"))
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    try:
        yield
    finally:
        with open(os.path.join(cgroup2_mount() + home, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


def resp(*args):
    """A RESP command, as clients send it."""
    out = f"*{len(args)}\r\n".encode()
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def command(sock, *args):
    """Send one command on @sock, return its reply (a simple or bulk one)."""
    sock.sendall(resp(*args))
    reply = b""
    while not reply.endswith(b"\r\n") or (reply.startswith(b"$") and reply.count(b"\r\n") < 2
                                          and not reply.startswith(b"$-1")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply


def require(*programs):
    missing = [p for p in programs if shutil.which(p) is None]
    return f"needs {', '.join(missing)}" if missing else None


def check_open_agrees_with_probe(test, feature, open_object):
    """open_object() fails exactly when the probe says @feature's BPF object
    does not load on this kernel; the Error then says which program and
    why, as the probe does, and the library logged that one line at
    WARNING (the verifier's log only at DEBUG)."""
    import ebpfaccel

    with ebpfaccel.Probe() as probe:
        status = probe[feature]
    if status.supported:
        open_object().close()
        return
    with test.assertLogs("ebpfaccel", "DEBUG") as logs, \
            test.assertRaises(ebpfaccel.Error) as raised:
        open_object()
    why = raised.exception.load_error
    test.assertIsInstance(why, ebpfaccel.LoadError)
    test.assertEqual(why.reason, status.reason)
    warnings = [r.getMessage() for r in logs.records if r.levelname == "WARNING"]
    test.assertEqual(len(warnings), 1, warnings)
    test.assertIn(why.reason, warnings[0])
    if why.verifier:
        test.assertEqual(raised.exception.errno, ebpfaccel._ebpfaccel.EBPFACCEL_ERR_VERIFY)
        test.assertTrue(why.reason.startswith(f"BPF program {why.prog} refused by the kernel's verifier: "))
        test.assertTrue(any("BEGIN PROG LOAD LOG" in r.getMessage() for r in logs.records))
