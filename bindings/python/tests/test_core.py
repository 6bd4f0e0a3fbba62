# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Versions, error mapping and logging through the real library."""
import errno
import logging
import os
import unittest

import ebpfaccel
from ebpfaccel import _ebpfaccel as _c


class VersionTest(unittest.TestCase):
    def test_version_matches_header_constants(self):
        major, minor = ebpfaccel.version_info()
        self.assertEqual((major, minor), (_c.LIBEBPFACCEL_MAJOR_VERSION,
                                          _c.LIBEBPFACCEL_MINOR_VERSION))
        self.assertTrue(ebpfaccel.version().startswith(f"{major}.{minor}."))
        self.assertEqual(ebpfaccel.__version__, ebpfaccel.version())


class StrerrorTest(unittest.TestCase):
    def test_errno_values_read_like_strerror(self):
        for code in (errno.EPERM, errno.EINVAL, errno.ENOENT):
            self.assertEqual(ebpfaccel.strerror(code), os.strerror(code))
            self.assertEqual(ebpfaccel.strerror(-code), os.strerror(code))

    def test_library_codes_have_their_own_text(self):
        text = ebpfaccel.strerror(_c.EBPFACCEL_ERR_VERIFY)
        self.assertIn("verifier", text)


class ErrorMappingTest(unittest.TestCase):
    def bad_opts(self):
        opts = _c.ebpfaccel_probe_opts()
        opts.sz = 1   # what a caller that skipped LIBEBPFACCEL_OPTS passes
        return opts

    def test_bad_opts_raise_einval_with_the_library_warning(self):
        with self.assertLogs("ebpfaccel", logging.WARNING) as logs, \
                self.assertRaises(ebpfaccel.Error) as cm:
            _c.ebpfaccel_probe__new(self.bad_opts())
        err = cm.exception
        self.assertIsInstance(err, OSError)
        self.assertEqual(err.errno, errno.EINVAL)
        self.assertEqual(err.strerror, os.strerror(errno.EINVAL))
        self.assertIn("too small", err.warning)
        self.assertIn("too small", str(err))
        self.assertIn(err.warning, logs.output[-1])
        self.assertEqual(ebpfaccel.last_warning(), "")  # cleared by the next call

    def test_negative_int_result_raises(self):
        with ebpfaccel.Probe(skip_bpf=True) as probe:
            with self.assertRaises(ebpfaccel.Error) as cm:
                probe.supported(len(ebpfaccel.Feature) + 100)
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_null_pointer_result_raises(self):
        with self.assertRaises(ebpfaccel.Error) as cm:
            ebpfaccel.feature_name(-1)
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_known_errnos_are_also_builtin_exceptions(self):
        from ebpfaccel.core import _make_error
        err = _make_error(errno.EPERM, "Operation not permitted", "needs CAP_BPF")
        self.assertIsInstance(err, PermissionError)
        self.assertIsInstance(err, ebpfaccel.Error)
        self.assertEqual(err.warning, "needs CAP_BPF")
        self.assertIs(type(_make_error(errno.EPERM, "", "")), type(err))
        self.assertIsInstance(_make_error(errno.ENOENT, "", ""), FileNotFoundError)
        self.assertIs(type(_make_error(_c.EBPFACCEL_ERR_KERNEL, "", "")), ebpfaccel.Error)

    def test_struct_fields_are_data_not_errors(self):
        # Only calls map negative results to errors, never struct accessors.
        opts = self.bad_opts()
        opts.sz = 0
        self.assertEqual(opts.sz, 0)

    def test_make_opts_refuses_unknown_fields(self):
        with self.assertRaises(TypeError):
            ebpfaccel.make_opts(_c.ebpfaccel_probe_opts, skip_bfp=True)
        opts = ebpfaccel.make_opts(_c.ebpfaccel_probe_opts, skip_bpf=True)
        self.assertTrue(opts.skip_bpf)
        self.assertGreater(opts.sz, 8)


if __name__ == "__main__":
    unittest.main()
