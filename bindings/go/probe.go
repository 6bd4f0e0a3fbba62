// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package ebpfaccel

/*
#include <errno.h>
#include "cgo_helpers.h"
*/
import "C"

import "unsafe"

// Feature is a capability the probe checks (enum ebpfaccel_feature).
type Feature int

const (
	FeatBPFSyscall  Feature = C.EBPFACCEL_FEAT_BPF_SYSCALL
	FeatBTF         Feature = C.EBPFACCEL_FEAT_BTF
	FeatSockmap     Feature = C.EBPFACCEL_FEAT_SOCKMAP
	FeatSKStorage   Feature = C.EBPFACCEL_FEAT_SK_STORAGE
	FeatTCPHdrOpt   Feature = C.EBPFACCEL_FEAT_TCP_HDR_OPT
	FeatClsBPF      Feature = C.EBPFACCEL_FEAT_CLS_BPF
	FeatCgroup2     Feature = C.EBPFACCEL_FEAT_CGROUP2
	FeatBPFFS       Feature = C.EBPFACCEL_FEAT_BPFFS
	FeatTCPCompKmod Feature = C.EBPFACCEL_FEAT_TCP_COMP_KMOD
	FeatCapBPF      Feature = C.EBPFACCEL_FEAT_CAP_BPF
	FeatCapNetAdmin Feature = C.EBPFACCEL_FEAT_CAP_NET_ADMIN
	FeatCapSysAdmin Feature = C.EBPFACCEL_FEAT_CAP_SYS_ADMIN
	// The library's own BPF objects load on this kernel.
	FeatRedisCache    Feature = C.EBPFACCEL_FEAT_REDIS_CACHE
	FeatCompNegotiate Feature = C.EBPFACCEL_FEAT_COMP_NEGOTIATE
	FeatTrafficProbe  Feature = C.EBPFACCEL_FEAT_TRAFFIC_PROBE
	FeatNearCache     Feature = C.EBPFACCEL_FEAT_NEAR_CACHE
)

// Features lists every feature the library knows, in the C enum's order
// (taken from the C header, so it includes features added after this file).
func Features() []Feature {
	fs := make([]Feature, 0, C.__EBPFACCEL_FEAT_MAX)
	for f := Feature(0); f < C.__EBPFACCEL_FEAT_MAX; f++ {
		fs = append(fs, f)
	}
	return fs
}

// String is the feature's short stable name ("sockmap", "cap_bpf", ...).
func (f Feature) String() string {
	name, err := C.ebpfaccel_feature__name(C.enum_ebpfaccel_feature(f))
	if name == nil {
		return "feature(" + err.Error() + ")"
	}
	return C.GoString(name)
}

// ProbeOpts are the options of NewProbe; nil means defaults.
type ProbeOpts struct {
	// SkipBPF skips the probes that load BPF programs.
	SkipBPF bool
}

// Probe is a snapshot of what the running system supports.
type Probe struct {
	p *C.struct_ebpfaccel_probe
}

// FeatureStatus is one feature of a probe result.
type FeatureStatus struct {
	Feature   Feature
	Name      string
	Supported bool
	Reason    string
}

// NewProbe probes the system.  Missing features are part of the result, not
// errors; errors are bad options (EINVAL) and ENOMEM.
func NewProbe(opts *ProbeOpts) (*Probe, error) {
	return newProbe(opts, unsafe.Sizeof(C.struct_ebpfaccel_probe_opts{}))
}

// newProbe passes @sz as the options' size, which lets the tests see how
// the library treats a caller built against a different header.
func newProbe(opts *ProbeOpts, sz uintptr) (*Probe, error) {
	var copts C.struct_ebpfaccel_probe_opts
	copts.sz = C.size_t(sz)
	if opts != nil {
		copts.skip_bpf = C.bool(opts.SkipBPF)
	}
	p, err := callPtr("ebpfaccel_probe__new", func() (*C.struct_ebpfaccel_probe, error) {
		ptr, errno := C.ebpfaccel_probe__new(&copts)
		return ptr, errno
	})
	if err != nil {
		return nil, err
	}
	return &Probe{p: p}, nil
}

// Close frees the result; calling it again does nothing.
func (p *Probe) Close() error {
	C.ebpfaccel_probe__free(p.p)
	p.p = nil
	return nil
}

// Supported says whether a feature is there; EINVAL for an unknown feature
// or a closed probe.
func (p *Probe) Supported(f Feature) (bool, error) {
	ret, err := callInt("ebpfaccel_probe__supported", func() C.int {
		return C.ebpfaccel_probe__supported(p.p, C.enum_ebpfaccel_feature(f))
	})
	return ret == 1, err
}

// Reason says why a feature is missing, or how it was found.
func (p *Probe) Reason(f Feature) (string, error) {
	s, err := callPtr("ebpfaccel_probe__reason", func() (*C.char, error) {
		ptr, errno := C.ebpfaccel_probe__reason(p.p, C.enum_ebpfaccel_feature(f))
		return ptr, errno
	})
	if err != nil {
		return "", err
	}
	return C.GoString(s), nil
}

// KernelRelease is uname -r of the probed kernel ("" for a closed probe).
func (p *Probe) KernelRelease() string {
	return C.GoString(C.ebpfaccel_probe__kernel_release(p.p))
}

// Status reports every feature, in the order of Features().
func (p *Probe) Status() ([]FeatureStatus, error) {
	var st []FeatureStatus
	for _, f := range Features() {
		ok, err := p.Supported(f)
		if err != nil {
			return nil, err
		}
		reason, err := p.Reason(f)
		if err != nil {
			return nil, err
		}
		st = append(st, FeatureStatus{Feature: f, Name: f.String(), Supported: ok, Reason: reason})
	}
	return st, nil
}
