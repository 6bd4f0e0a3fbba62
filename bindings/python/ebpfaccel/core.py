# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Errors, logging, versions and options structs."""
import atexit
import dataclasses
import logging
import os

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
    ``load_error`` is a :class:`LoadError` when an object's open failed
    loading its BPF programs (which program the kernel refused and why),
    else None.
    An error whose errno Python knows also is an instance of the matching
    built-in exception: ``except PermissionError`` catches EPERM.
    """

    def __init__(self, code, message, warning=""):
        super().__init__(code, message)
        self.warning = warning
        self.load_error = None

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


@dataclasses.dataclass(frozen=True)
class LoadError:
    """Why the kernel did not load an object's BPF programs (struct
    ebpfaccel_load_error); the verifier's full log is logged at DEBUG."""
    prog: str        # the program the kernel refused; "" if no program was
    reason: str      # one line for people: what failed and why
    verifier: bool   # the kernel's verifier refused prog


def open_object(open_fn, opts):
    """open_fn(opts) with opts.load_error set: an Error it raises carries
    a LoadError when the BPF load failed."""
    why = _c.ebpfaccel_load_error()
    opts.load_error = why
    try:
        return open_fn(opts)
    except Error as err:
        if why.reason:
            err.load_error = LoadError(why.prog, why.reason, bool(why.verifier))
        raise


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


def struct_fields(struct):
    """{field: value} of a C struct object, in declaration order."""
    return {name: getattr(struct, name) for name in _field_names(type(struct))}


def _field_names(struct_type):
    return [name for name, attr in vars(struct_type).items()
            if type(attr).__name__ == "getset_descriptor" and not name.startswith(("this", "_"))]


def struct_dataclass(name, struct_type, doc, module):
    """A frozen dataclass with the fields of a C struct type, so counters
    added to the C struct appear without editing the binding."""
    cls = dataclasses.make_dataclass(name, _field_names(struct_type), frozen=True)
    cls.__doc__ = doc
    cls.__module__ = module
    return cls


_PLAIN = (int, float, bool, str, bytes, type(None))
_dataclasses = {}


def to_python(value):
    """A C struct object (or a tuple of them) as a frozen dataclass named
    after the struct (ebpfaccel_port_stats -> PortStats), recursively; the
    classes are made from the struct's fields on first use."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, tuple):
        return tuple(to_python(v) for v in value)
    struct_type = type(value)
    if struct_type not in _dataclasses:
        base = struct_type.__name__.removeprefix("ebpfaccel_")
        name = "".join(part.capitalize() for part in base.split("_"))
        _dataclasses[struct_type] = struct_dataclass(
            name, struct_type, f"struct {struct_type.__name__}", __package__)
    return _dataclasses[struct_type](**{k: to_python(v) for k, v in struct_fields(value).items()})


class Handle:
    """An owned C object: released by close(), the with-block or GC.
    Subclasses set _free to the C function that releases it."""
    _free = None

    def __init__(self, ptr):
        self._ptr = ptr

    def close(self):
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            type(self)._free(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_ptr", None) is not None:
            self.close()

    def _handle(self):
        if self._ptr is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr


def open_dir(path_or_fd):
    """(fd, close?) for a directory given as a path or an fd."""
    if isinstance(path_or_fd, int):
        return path_or_fd, False
    return os.open(path_or_fd, os.O_RDONLY | os.O_DIRECTORY), True


def _install():
    _c.py_set_error_factory(_make_error)
    _c.py_set_log_handler(_log)
    _c.ebpfaccel_set_print(_c.python_print)
    # Library threads must not call into an interpreter that is going away.
    atexit.register(_c.ebpfaccel_set_print, None)


_install()
