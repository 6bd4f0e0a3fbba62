# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""libebpfaccel for Python.

The objects of the C library as Python objects: context managers that free
(or detach) what they hold, exceptions that carry the errno, the library's
description and the warning it logged, and results as dataclasses.  The
library's messages go to the ``logging`` logger "ebpfaccel".

Every C function is also available unchanged in ``ebpfaccel._ebpfaccel``
(same names; errors raise :class:`Error` there too).

    import ebpfaccel
    with ebpfaccel.Probe() as probe:
        for status in probe:
            print(status.name, status.supported, status.reason)
"""
from . import _ebpfaccel
from .core import (Error, LoadError, last_warning, make_opts, strerror,
                   version, version_info)
from .probe import Feature, FeatureStatus, Probe, feature_name

# Parts of the API present in this build of the library.
if hasattr(_ebpfaccel, "ebpfaccel_comp_conn__new"):
    from . import comp
if hasattr(_ebpfaccel, "ebpfaccel_redis_cache__open"):
    from .redis_cache import RedisCache, RedisCacheMode, find_cgroup as redis_find_cgroup
if hasattr(_ebpfaccel, "ebpfaccel_near_cache__open"):
    from .near_cache import NearCache
if hasattr(_ebpfaccel, "ebpfaccel_traffic_probe__open"):
    from .traffic_probe import AutoPolicy, AutoReason, TrafficDir, TrafficProbe

__version__ = version()

__all__ = [
    "Error", "Feature", "FeatureStatus", "LoadError", "Probe", "feature_name",
    "last_warning", "make_opts", "strerror", "version", "version_info",
]
