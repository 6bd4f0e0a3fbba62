# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The traffic probe and the auto compression policy
(include/ebpfaccel/traffic_probe.h).

    with ebpfaccel.TrafficProbe() as probe:
        probe.attach("veth0")       # name or ifindex, in this thread's netns
        ...
        probe.poll(100)
        for port in probe.ports():
            print(port.port, port.dir[ebpfaccel.TrafficDir.TX].payload_bytes)

Results are frozen dataclasses with the fields of the C structs; per
direction arrays are tuples indexed by TrafficDir.
"""
import enum

from . import _ebpfaccel as _c
from .core import Handle, make_opts, open_object, to_python

TrafficDir = enum.IntEnum("TrafficDir", {"TX": _c.EBPFACCEL_TRAFFIC_TX,
                                         "RX": _c.EBPFACCEL_TRAFFIC_RX}, module=__name__)
_REASON = "EBPFACCEL_AUTO_"
AutoReason = enum.IntEnum("AutoReason", sorted(
    ((n[len(_REASON):], getattr(_c, n)) for n in dir(_c) if n.startswith(_REASON)),
    key=lambda item: item[1]), module=__name__)


def _candidate_array(candidates):
    """A C array of struct ebpfaccel_auto_candidate; it must stay referenced
    until the policy has copied it."""
    array = _c.auto_candidate_array(max(len(candidates), 1))
    for i, fields in enumerate(candidates):
        array[i] = make_opts(_c.ebpfaccel_auto_candidate, **fields)
    return array


def auto_reason_name(reason):
    return _c.ebpfaccel_auto_reason__name(reason)


class TrafficProbe(Handle):
    """cls_bpf programs that measure per-flow and per-port traffic.

    Keywords are the fields of struct ebpfaccel_traffic_probe_opts
    (max_flows, max_ports, window_ms, sample_every_bytes, sample_window,
    priority).  Needs CAP_BPF and CAP_NET_ADMIN.  Closing detaches.
    """
    _free = staticmethod(_c.ebpfaccel_traffic_probe__destroy)

    def __init__(self, **options):
        super().__init__(open_object(_c.ebpfaccel_traffic_probe__open,
                                     make_opts(_c.ebpfaccel_traffic_probe_opts, **options)))

    def attach(self, interface):
        """Attach to an interface (name or ifindex) of the calling thread's netns."""
        if isinstance(interface, int):
            _c.ebpfaccel_traffic_probe__attach(self._handle(), interface)
        else:
            _c.ebpfaccel_traffic_probe__attach_ifname(self._handle(), interface)

    def detach(self):
        _c.ebpfaccel_traffic_probe__detach(self._handle())

    def poll(self, timeout_ms=0):
        """Consume payload samples; returns how many were processed."""
        return _c.ebpfaccel_traffic_probe__poll(self._handle(), timeout_ms)

    def port(self, port):
        """Statistics of one server port (FileNotFoundError: never seen)."""
        st = _c.ebpfaccel_port_stats()
        _c.ebpfaccel_traffic_probe__port_stats(self._handle(), port, st)
        return to_python(st)

    def ports(self):
        """Statistics of every tracked server port."""
        out = []
        _c.ebpfaccel_traffic_probe__for_each_port(self._handle(),
                                                  lambda st: out.append(to_python(st)))
        return out

    def flows(self):
        """Statistics of every tracked connection."""
        out = []
        _c.ebpfaccel_traffic_probe__for_each_flow(self._handle(),
                                                  lambda st: out.append(to_python(st)))
        return out

    @property
    def samples_dropped(self):
        return _c.ebpfaccel_traffic_probe__samples_dropped(self._handle())


class AutoPolicy(Handle):
    """Decides per port whether compression pays, from a TrafficProbe.

    Keywords are the fields of struct ebpfaccel_auto_policy_opts except the
    C apply callback: read decision(port) after update() instead.  With
    choose=True, candidates is a list of dicts with the fields of struct
    ebpfaccel_auto_candidate (algo, level, mode, comp_speed, decomp_speed,
    ratio); n_candidates follows from it.  The probe must outlive the
    policy.
    """
    _free = staticmethod(_c.ebpfaccel_auto_policy__free)

    def __init__(self, probe, candidates=None, **options):
        self._probe = probe
        array = None
        if candidates is not None:
            array = _candidate_array(candidates)
            options["candidates"], options["n_candidates"] = array.cast(), len(candidates)
        super().__init__(_c.ebpfaccel_auto_policy__new(
            probe._handle(), make_opts(_c.ebpfaccel_auto_policy_opts, **options)))

    def update(self):
        """Judge the interval since the last update from the probe's data;
        returns the number of decisions that changed."""
        return _c.ebpfaccel_auto_policy__update(self._handle())

    def feed(self, port, *, duration_ns, payload_bytes, turns=0, rate=0,
             sample_ratio=0.0, entropy=-1.0):
        """Judge one interval of @port from figures measured elsewhere."""
        s = _c.ebpfaccel_auto_sample()
        s.duration_ns, s.payload_bytes, s.turns = duration_ns, tuple(payload_bytes), turns
        s.rate, s.sample_ratio, s.entropy = rate, sample_ratio, entropy
        return _c.ebpfaccel_auto_policy__feed(self._handle(), port, s)

    def decision(self, port):
        d = _c.ebpfaccel_auto_decision()
        _c.ebpfaccel_auto_policy__decision(self._handle(), port, d)
        return to_python(d)

    def set_engine_ratio(self, port, ratio):
        """What the compression engine achieves on @port (original/wire
        bytes); while the port is on, it stands in for the probe's sample of
        the wire, which then carries compressed records.  0 forgets it."""
        return _c.ebpfaccel_auto_policy__set_engine_ratio(self._handle(), port, ratio)

    @property
    def comp_speed(self):
        """Compression speed in bytes/s the rate rule uses (0: not measured yet)."""
        return _c.ebpfaccel_auto_policy__comp_speed(self._handle())
