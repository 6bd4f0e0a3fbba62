# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Errors, logging, versions and options structs."""
import atexit
import builtins
import logging

from . import _ebpfaccel as _c

logger = logging.getLogger("ebpfaccel")

_LEVELS = {
    _c.EBPFACCEL_WARN: logging.WARNING,
    _c.EBPFACCEL_INFO: logging.INFO,
    _c.EBPFACCEL_DEBUG: logging.DEBUG,
}


class Error(OSError):
    """A libebpfaccel call failed.

    ``errno`` is the positive error code (an errno value, or one of the
    library's own ``EBPFACCEL_ERR_*`` codes), ``strerror`` the library's
    description of it, and ``warning`` the last warning the library logged
    during the failing call ("" if none), which usually says what was wrong.
    An error whose errno Python knows also is an instance of the matching
    built-in exception: ``except PermissionError`` catches EPERM.
    """

    def __init__(self, code, message, warning=""):
        super().__init__(code, message)
        self.warning = warning

    def __str__(self):
        text = super().__str__()
        return f"{text} ({self.warning})" if self.warning else text


_error_classes = {}


def _error_class(code):
    builtin = type(OSError(code, ""))
    if builtin is OSError:
        return Error
    if builtin not in _error_classes:
        _error_classes[builtin] = type(builtin.__name__, (Error, builtin),
                                       {"__module__": __name__})
    return _error_classes[builtin]


def _make_error(code, message, warning):
    return _error_class(code)(code, message, warning)


def _log(level, message):
    logger.log(_LEVELS.get(level, logging.DEBUG), "%s", message)


def version():
    """The library's version string, "MAJOR.MINOR.PATCH"."""
    return _c.ebpfaccel_version()


def version_info():
    """(major, minor) of the library loaded at run time."""
    return (_c.ebpfaccel_major_version(), _c.ebpfaccel_minor_version())


def strerror(code):
    """The library's description of an error code (either sign)."""
    return _c.ebpfaccel_strerror(code)


def last_warning():
    """The last warning the library logged in this thread's last call."""
    return _c.py_last_warning()


def make_opts(struct, **fields):
    """A C options struct (sz already set) with @fields filled in.

    ``struct`` is the SWIG class, e.g. ``_ebpfaccel.ebpfaccel_probe_opts``.
    Unknown field names raise TypeError instead of being silently ignored.
    """
    opts = struct()
    for name, value in fields.items():
        if name.startswith("_") or name == "sz" or callable(getattr(struct, name, len)):
            raise TypeError(f"{struct.__name__} has no field {name!r}")
        setattr(opts, name, value)
    return opts


def _install():
    _c.py_set_error_factory(_make_error)
    _c.py_set_log_handler(_log)
    _c.ebpfaccel_set_print(_c.python_print)
    # Library threads must not call into an interpreter that is going away.
    atexit.register(_c.ebpfaccel_set_print, None)


_install()
