// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package ebpfaccel

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

const nobody = 65534

func requireRoot(t *testing.T, why string) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

type featureResult struct {
	supported bool
	reason    string
}

// cReport runs examples/feature_report, the C program, from the build tree.
func cReport(t *testing.T) map[string]featureResult {
	builddir := os.Getenv("abs_top_builddir")
	if builddir == "" {
		t.Skip("abs_top_builddir is not set (run through make check)")
	}
	out, err := exec.Command(filepath.Join(builddir, "examples", "feature_report")).Output()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^  (\S+) +(yes|no) +(.*)$`)
	report := map[string]featureResult{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			report[m[1]] = featureResult{m[2] == "yes", m[3]}
		}
	}
	return report
}

func report(t *testing.T, p *Probe) map[string]featureResult {
	st, err := p.Status()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]featureResult{}
	for _, s := range st {
		got[s.Name] = featureResult{s.Supported, s.Reason}
	}
	return got
}

func TestProbeMatchesTheCReport(t *testing.T) {
	requireRoot(t, "the C report to compare with loads BPF programs")
	want := cReport(t)
	p, err := NewProbe(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got := report(t, p)
	if len(want) != len(Features()) || len(got) != len(want) {
		t.Fatalf("C report has %d features, Go %d, Features() %d", len(want), len(got), len(Features()))
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: Go %+v, C %+v", name, got[name], w)
		}
	}
	var uts syscall.Utsname
	if err := syscall.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	release := make([]byte, 0, len(uts.Release))
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		release = append(release, byte(c))
	}
	if p.KernelRelease() != string(release) {
		t.Errorf("KernelRelease() = %q, uname says %q", p.KernelRelease(), release)
	}
}

func TestSkipBPFAndNames(t *testing.T) {
	p, err := NewProbe(&ProbeOpts{SkipBPF: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	reason, err := p.Reason(FeatSockmap)
	if ok, _ := p.Supported(FeatSockmap); ok || err != nil || !strings.Contains(reason, "skip_bpf") {
		t.Errorf("sockmap with SkipBPF: %v %q %v", ok, reason, err)
	}
	if FeatSockmap.String() != "sockmap" || FeatCapBPF.String() != "cap_bpf" {
		t.Errorf("names: %s %s", FeatSockmap, FeatCapBPF)
	}
	p.Close()
	if _, err := p.Supported(FeatBTF); err == nil {
		t.Error("a closed probe answered")
	}
}

// probeAsNobody probes on an OS thread whose credentials alone dropped to
// nobody (a raw setresuid changes only the calling thread, and with the
// uids every capability goes).  The goroutine never unlocks the thread, so
// Go ends that thread afterwards instead of reusing it.
func probeAsNobody(t *testing.T) map[string]featureResult {
	type result struct {
		report map[string]featureResult
		err    error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESGID, nobody, nobody, nobody); e != 0 {
			done <- result{err: e}
			return
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, nobody, nobody, nobody); e != 0 {
			done <- result{err: e}
			return
		}
		p, err := NewProbe(nil)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer p.Close()
		st, err := p.Status()
		r := map[string]featureResult{}
		for _, s := range st {
			r[s.Name] = featureResult{s.Supported, s.Reason}
		}
		done <- result{r, err}
	}()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	return res.report
}

func TestUnprivilegedReasonsNameTheCapability(t *testing.T) {
	requireRoot(t, "dropping to an unprivileged user")
	r := probeAsNobody(t)
	if c := r["cap_bpf"]; c.supported || !strings.HasPrefix(c.reason, "lacks CAP_BPF") {
		t.Errorf("cap_bpf: %+v", c)
	}
	if c := r["cap_net_admin"]; c.supported || !strings.Contains(c.reason, "lacks CAP_NET_ADMIN") {
		t.Errorf("cap_net_admin: %+v", c)
	}
	for _, name := range []string{"sockmap", "tcp_hdr_opt"} {
		if c := r[name]; c.supported || !strings.Contains(c.reason, "CAP_BPF") {
			t.Errorf("%s: %+v", name, c)
		}
	}
	// This process kept its capabilities.
	p, err := NewProbe(&ProbeOpts{SkipBPF: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if ok, _ := p.Supported(FeatCapBPF); !ok {
		t.Error("the test process lost CAP_BPF")
	}
}
