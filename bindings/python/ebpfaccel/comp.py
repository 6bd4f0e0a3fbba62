# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""TCP compression: the negotiation policy and compressed connections
(include/ebpfaccel/comp.h).

    policy = ebpfaccel.comp.Policy()
    policy.set_port(6379, algo=Algo.ZSTD)
    policy.attach("/sys/fs/cgroup/unified/myapp")   # path or fd of a cgroup v2

    with ebpfaccel.comp.Connection(sock) as conn:   # negotiated or explicit
        conn.sendall(b"...")
        data = conn.recv(65536)
"""
import enum
import os
import socket
from dataclasses import dataclass, fields

from . import _ebpfaccel as _c
from .core import Handle, make_opts, open_dir, open_object, struct_fields


def _enum(name, prefix, doc):
    """An IntEnum of the C constants PREFIX<NAME> (NAME without "_")."""
    members = sorted(((n[len(prefix):], getattr(_c, n)) for n in dir(_c)
                      if n.startswith(prefix) and "_" not in n[len(prefix):]),
                     key=lambda item: item[1])
    cls = enum.IntEnum(name, members, module=__name__)
    cls.__doc__ = doc
    return cls


Algo = _enum("Algo", "TCP_COMP_ALGO_", "enum tcp_comp_algo")
Mode = _enum("Mode", "TCP_COMP_MODE_", "enum tcp_comp_mode")
Action = _enum("Action", "EBPFACCEL_COMP_", "enum ebpfaccel_comp_action")
Phase = _enum("Phase", "EBPFACCEL_COMP_PHASE_", "enum ebpfaccel_comp_phase")

DIR_TX = _c.EBPFACCEL_COMP_DIR_TX
DIR_RX = _c.EBPFACCEL_COMP_DIR_RX
DIR_BOTH = _c.EBPFACCEL_COMP_DIR_BOTH


def _from_struct(cls, struct):
    return cls(**{f.name: getattr(struct, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class Params:
    """struct tcp_comp_params: how one direction is compressed."""
    algo: int = _c.TCP_COMP_ALGO_ZSTD
    mode: int = _c.TCP_COMP_MODE_BLOCK
    level: int = 0
    record_size: int = 0
    flags: int = 0

    def _struct(self):
        p = _c.tcp_comp_params()
        p.version = _c.TCP_COMP_VERSION
        for f in fields(self):
            setattr(p, f.name, int(getattr(self, f.name)))
        return p

    @classmethod
    def _of(cls, struct):
        p = _from_struct(cls, struct)
        return cls(Algo(p.algo), Mode(p.mode), p.level, p.record_size, p.flags)


OFF = Params(algo=_c.TCP_COMP_ALGO_NONE)


@dataclass(frozen=True)
class Stats:
    """struct tcp_comp_stats: byte and record counters of a connection."""
    tx_bytes_in: int
    tx_bytes_out: int
    tx_records: int
    tx_raw_records: int
    rx_bytes_in: int
    rx_bytes_out: int
    rx_records: int
    rx_errors: int


@dataclass(frozen=True)
class State:
    """struct ebpfaccel_comp_state: what a socket negotiated."""
    role: int
    phase: int
    action: int
    tx: Params
    rx: Params

    @classmethod
    def _of(cls, s):
        return cls(s.role, Phase(s.phase), s.action, Params._of(s.tx), Params._of(s.rx))


def _fileno(obj):
    return obj if isinstance(obj, int) else obj.fileno()


def state(sock):
    """What @sock (socket or fd) negotiated, from any loaded policy."""
    s = _c.ebpfaccel_comp_state()
    _c.ebpfaccel_comp__state(sock, s)
    return State._of(s)


def _addr(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return family, socket.inet_pton(family, address)


class Policy(Handle):
    """The negotiation program: per-port rules, attached to a cgroup v2.

    Needs CAP_BPF and CAP_NET_ADMIN (and CAP_SYS_ADMIN to attach).  Rules
    take the fields of struct ebpfaccel_comp_rule_opts as keywords (action,
    algo, mode, dir, level, record_size, flags); closing detaches.
    """
    _free = staticmethod(_c.ebpfaccel_comp_policy__destroy)

    def __init__(self, *, pin=False, pin_name=None):
        """With @pin, attach() pins the policy in
        /sys/fs/bpf/ebpfaccel/comp/<pin_name or the cgroup id>, and closing
        leaves it attached until detach() (from any process)."""
        opts = make_opts(_c.ebpfaccel_comp_policy_opts, pin=pin)
        if pin_name is not None:
            opts.pin_name = pin_name
        super().__init__(open_object(_c.ebpfaccel_comp_policy__open, opts))
        self._cgroup_fd = None

    @classmethod
    def open_pinned(cls, name_or_path):
        """The policy another process pinned (FileNotFoundError if none)."""
        policy = cls.__new__(cls)
        Handle.__init__(policy, _c.ebpfaccel_comp_policy__open_pinned(name_or_path))
        policy._cgroup_fd = None
        return policy

    @property
    def pin_path(self):
        """Directory the policy is pinned in, or None."""
        return _c.ebpfaccel_comp_policy__pin_path(self._handle())

    @property
    def cgroup_id(self):
        """Id (inode number) of the cgroup it is attached to; 0 if none."""
        return _c.ebpfaccel_comp_policy__cgroup_id(self._handle())

    def ports(self):
        """Ports with a port-only rule, ascending."""
        while True:
            n = _c.ebpfaccel_comp_policy__ports(self._handle(), None, 0)
            array = _c.u16_array(max(n, 1))
            got = _c.ebpfaccel_comp_policy__ports(self._handle(), array.cast(), n)
            if got <= n:
                return [array[i] for i in range(got)]

    def get_port(self, port):
        """The rule of @port as a dict of rule fields (FileNotFoundError if none)."""
        rule = make_opts(_c.ebpfaccel_comp_rule_opts)
        _c.ebpfaccel_comp_policy__get_port(self._handle(), port, rule)
        fields_ = struct_fields(rule)
        fields_.pop("sz", None)
        return fields_

    def attach(self, cgroup):
        """Attach to a cgroup v2 directory, given as a path or an fd."""
        fd, owned = open_dir(cgroup)
        try:
            _c.ebpfaccel_comp_policy__attach(self._handle(), fd)
        finally:
            if owned:
                os.close(fd)

    def detach(self):
        _c.ebpfaccel_comp_policy__detach(self._handle())

    def set_port(self, port, **rule):
        _c.ebpfaccel_comp_policy__set_port(self._handle(), port, self._rule(rule))

    def del_port(self, port):
        _c.ebpfaccel_comp_policy__del_port(self._handle(), port)

    def set_prefix(self, address, prefixlen, port, **rule):
        """Rule for @port on servers in address/prefixlen ("198.18.0.0", 15)."""
        family, addr = _addr(address)
        _c.ebpfaccel_comp_policy__set_prefix(self._handle(), family, addr, prefixlen,
                                             port, self._rule(rule))

    def del_prefix(self, address, prefixlen, port):
        family, addr = _addr(address)
        _c.ebpfaccel_comp_policy__del_prefix(self._handle(), family, addr, prefixlen, port)

    def state(self, sock):
        """What @sock negotiated under this policy (ENOENT: it did not)."""
        s = _c.ebpfaccel_comp_state()
        _c.ebpfaccel_comp_policy__state(self._handle(), sock, s)
        return State._of(s)

    def stats(self):
        """The negotiation program's counters, as a dict."""
        s = _c.ebpfaccel_comp_policy_stats()
        _c.ebpfaccel_comp_policy__stats(self._handle(), s)
        return struct_fields(s)

    @staticmethod
    def _rule(rule):
        return make_opts(_c.ebpfaccel_comp_rule_opts, **{k: int(v) for k, v in rule.items()})


class Connection(Handle):
    """A connected TCP socket that compresses what it carries.

    @sock is a socket.socket or an fd; it stays the caller's, and must be
    used only through the connection from now on.  With @tx and @rx
    (Params, or OFF) the directions are set explicitly; otherwise the
    negotiated state is used (from @policy, or from any loaded policy).
    """
    _free = staticmethod(_c.ebpfaccel_comp_conn__free)

    def __init__(self, sock, *, tx=None, rx=None, policy=None, no_kernel=False):
        opts = make_opts(_c.ebpfaccel_comp_conn_opts, no_kernel=no_kernel)
        # The C call only borrows these; keep them alive until it returns.
        keep = [p._struct() if p is not None else None for p in (tx, rx)]
        if keep[0] is not None:
            opts.tx = keep[0]
        if keep[1] is not None:
            opts.rx = keep[1]
        if policy is not None:
            opts.policy = policy._handle()
        self._fd = _fileno(sock)
        super().__init__(_c.ebpfaccel_comp_conn__new(self._fd, opts))

    def fileno(self):
        return self._fd

    def send(self, data):
        """Send bytes-like @data; returns how many bytes were accepted."""
        return _c.ebpfaccel_comp_conn__send(self._handle(), data)

    def sendall(self, data):
        """Send all of @data and flush (blocking sockets)."""
        view = memoryview(data).cast("B")
        while view:
            view = view[self.send(view):]
        self.flush()

    def recv_into(self, buffer):
        """Receive decoded bytes into a writable buffer; 0 at end of stream."""
        return _c.ebpfaccel_comp_conn__recv(self._handle(), buffer)

    def recv(self, size):
        buf = bytearray(size)
        n = self.recv_into(buf)
        del buf[n:]
        return bytes(buf)

    def sendfile(self, file, count):
        """Send @count bytes of @file (object or fd) from its position."""
        return _c.ebpfaccel_comp_conn__sendfile(self._handle(), file, None, count)

    def flush(self):
        _c.ebpfaccel_comp_conn__flush(self._handle())

    @property
    def params(self):
        """(tx, rx) Params in use; algo NONE = that direction is plain."""
        tx, rx = _c.tcp_comp_params(), _c.tcp_comp_params()
        _c.ebpfaccel_comp_conn__params(self._handle(), tx, rx)
        return Params._of(tx), Params._of(rx)

    @property
    def rx_pending(self):
        """True when decoded bytes wait inside the connection: read them
        before polling the socket again (its readiness does not show them)."""
        return _c.ebpfaccel_comp_conn__rx_pending(self._handle())

    @property
    def tx_pending(self):
        """Encoded bytes still waiting for the socket; flush() sends them."""
        return _c.ebpfaccel_comp_conn__tx_pending(self._handle())

    @property
    def in_kernel(self):
        """True when the tcp_comp kernel ULP carries the data."""
        return _c.ebpfaccel_comp_conn__in_kernel(self._handle())

    def stats(self):
        s = _c.tcp_comp_stats()
        _c.ebpfaccel_comp_conn__stats(self._handle(), s)
        return _from_struct(Stats, s)
