# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The feature probe from Python against the C library's own report."""
import json
import os
import re
import subprocess
import unittest

import ebpfaccel

BUILDDIR = os.environ.get("abs_top_builddir", ".")
IS_ROOT = os.geteuid() == 0
NOBODY = 65534


def c_report():
    """{name: (supported, reason)} as examples/feature_report (C) prints it."""
    run = subprocess.run([os.path.join(BUILDDIR, "examples", "feature_report")],
                         capture_output=True, text=True, check=False)
    if run.returncode not in (0, 1):
        raise AssertionError(f"feature_report failed: {run.stderr}")
    report = {}
    for line in run.stdout.splitlines()[1:]:
        m = re.match(r"^  (\S+) +(yes|no) +(.*)$", line)
        if m:
            report[m.group(1)] = (m.group(2) == "yes", m.group(3))
    return report


@unittest.skipUnless(IS_ROOT, "needs root: the C report to compare with loads BPF programs")
class ProbeAsRootTest(unittest.TestCase):
    def test_matches_the_c_report(self):
        expected = c_report()
        with ebpfaccel.Probe() as probe:
            got = {s.name: (s.supported, s.reason) for s in probe}
        self.assertEqual(len(expected), len(ebpfaccel.Feature))
        self.assertEqual(got, expected)

    def test_root_has_the_capabilities(self):
        with ebpfaccel.Probe() as probe:
            for feat in (ebpfaccel.Feature.CAP_BPF, ebpfaccel.Feature.CAP_NET_ADMIN,
                         ebpfaccel.Feature.CAP_SYS_ADMIN):
                self.assertTrue(probe.supported(feat), probe.reason(feat))


class ProbeTest(unittest.TestCase):
    def test_features_follow_the_c_enum(self):
        with ebpfaccel.Probe(skip_bpf=True) as probe:
            statuses = list(probe)
        self.assertEqual([s.feature for s in statuses], sorted(ebpfaccel.Feature))
        self.assertEqual([int(s.feature) for s in statuses], list(range(len(statuses))))
        for s in statuses:
            self.assertEqual(s.name, ebpfaccel.feature_name(s.feature))
            self.assertTrue(s.reason)

    def test_skip_bpf_loads_nothing(self):
        with ebpfaccel.Probe(skip_bpf=True) as probe:
            self.assertFalse(probe.supported(ebpfaccel.Feature.SOCKMAP))
            self.assertIn("skip_bpf", probe.reason(ebpfaccel.Feature.SOCKMAP))
            self.assertEqual(probe.kernel_release, os.uname().release)

    def test_as_dict_is_json(self):
        with ebpfaccel.Probe(skip_bpf=True) as probe:
            data = json.loads(json.dumps(probe.as_dict()))
        self.assertEqual(set(data), {ebpfaccel.feature_name(f) for f in ebpfaccel.Feature})

    def test_closed_probe_refuses_queries(self):
        probe = ebpfaccel.Probe(skip_bpf=True)
        probe.close()
        probe.close()
        with self.assertRaises(ValueError):
            probe.supported(ebpfaccel.Feature.BTF)


def probe_as_nobody():
    """Probe in a forked child that dropped every capability (uid nobody)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rfd)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            with ebpfaccel.Probe() as probe:
                os.write(wfd, json.dumps(probe.as_dict()).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    return json.loads(data)


@unittest.skipUnless(IS_ROOT, "needs root to drop to an unprivileged user")
class UnprivilegedTest(unittest.TestCase):
    def test_reasons_name_the_missing_capability(self):
        report = probe_as_nobody()
        self.assertFalse(report["cap_bpf"]["supported"])
        self.assertTrue(report["cap_bpf"]["reason"].startswith("lacks CAP_BPF"), report["cap_bpf"])
        self.assertIn("lacks CAP_NET_ADMIN", report["cap_net_admin"]["reason"])
        for name in ("sockmap", "tcp_hdr_opt"):
            self.assertFalse(report[name]["supported"])
            self.assertIn("CAP_BPF", report[name]["reason"])
        self.assertEqual(report["btf"]["supported"], os.access("/sys/kernel/btf/vmlinux", os.R_OK))


if __name__ == "__main__":
    unittest.main()
