# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What the running system supports (include/ebpfaccel/probe.h)."""
import enum
from dataclasses import dataclass

from . import _ebpfaccel as _c
from .core import Handle, make_opts

_PREFIX = "EBPFACCEL_FEAT_"

# Built from the C enum, so features added to probe.h appear here.
Feature = enum.IntEnum("Feature", sorted(
    ((name[len(_PREFIX):], getattr(_c, name))
     for name in dir(_c) if name.startswith(_PREFIX)),
    key=lambda item: item[1]), module=__name__)
Feature.__doc__ = "enum ebpfaccel_feature, without the EBPFACCEL_FEAT_ prefix."


def feature_name(feature):
    """Short stable name of a feature ("sockmap", "cap_bpf", ...)."""
    return _c.ebpfaccel_feature__name(feature)


@dataclass(frozen=True)
class FeatureStatus:
    """One feature of a probe result."""
    feature: Feature
    name: str
    supported: bool
    reason: str


class Probe(Handle):
    """A snapshot of what the system supports, taken when created.

    Use as a context manager, or call close().  ``skip_bpf=True`` skips the
    probes that load BPF programs.  Iterating yields a FeatureStatus per
    feature, in the C enum's order.
    """
    _free = staticmethod(_c.ebpfaccel_probe__free)

    def __init__(self, *, skip_bpf=False):
        opts = make_opts(_c.ebpfaccel_probe_opts, skip_bpf=skip_bpf)
        super().__init__(_c.ebpfaccel_probe__new(opts))

    @property
    def kernel_release(self):
        """uname -r of the probed kernel."""
        return _c.ebpfaccel_probe__kernel_release(self._handle())

    def supported(self, feature):
        return _c.ebpfaccel_probe__supported(self._handle(), feature) == 1

    def reason(self, feature):
        """Why a feature is missing, or how it was found."""
        return _c.ebpfaccel_probe__reason(self._handle(), feature)

    def __getitem__(self, feature):
        feature = Feature(feature)
        return FeatureStatus(feature, feature_name(feature),
                             self.supported(feature), self.reason(feature))

    def __iter__(self):
        return (self[f] for f in Feature)

    def as_dict(self):
        """{feature name: {"supported": bool, "reason": str}}, e.g. for JSON."""
        return {s.name: {"supported": s.supported, "reason": s.reason}
                for s in self}
