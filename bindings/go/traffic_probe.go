// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// This file belongs to include/ebpfaccel/traffic_probe.h (see comp.go).

//go:build ebpfaccel_traffic_probe

package ebpfaccel

/*
#include <stdlib.h>
#include "cgo_helpers.h"
#include "traffic_probe_cb.h"
*/
import "C"

import (
	"net/netip"
	"runtime/cgo"
	"syscall"
	"time"
	"unsafe"
)

// TrafficDir indexes the per-direction arrays (enum ebpfaccel_traffic_dir).
type TrafficDir int

const (
	TrafficTX TrafficDir = C.EBPFACCEL_TRAFFIC_TX // leaving through the interface
	TrafficRX TrafficDir = C.EBPFACCEL_TRAFFIC_RX // arriving on it
)

// TrafficProbeOpts are the options of OpenTrafficProbe; zero = default.
type TrafficProbeOpts struct {
	MaxFlows, MaxPorts, WindowMs, SampleEveryBytes, SampleWindow uint32
	Priority                                                     uint16
}

// TrafficCounters count one direction (struct ebpfaccel_traffic_counters).
type TrafficCounters struct {
	Bytes, Packets, PayloadBytes, PayloadSegs, Rate, PeakRate uint64
}

// PortStats is the traffic under one server port (struct ebpfaccel_port_stats).
type PortStats struct {
	Port                        uint16
	Flows, Turns, AgeNs, IdleNs uint64
	Dir                         [2]TrafficCounters // by TrafficDir
	SampleBytes                 [2]uint32
	Entropy                     [2]float64 // bits per byte; -1 without a sample
	SampleRatio                 [2]float64 // zstd-1 ratio of the sample; 0 without one
}

// FlowStats is one connection (struct ebpfaccel_flow_stats).
type FlowStats struct {
	Local, Remote        netip.AddrPort
	ServerPort           uint16
	LocalIsServer        int // 1, 0, or -1 if the SYN was not seen
	Turns, AgeNs, IdleNs uint64
	Dir                  [2]TrafficCounters
}

func countersOf(c *[2]C.struct_ebpfaccel_traffic_counters) (out [2]TrafficCounters) {
	for i := range c {
		out[i] = TrafficCounters{uint64(c[i].bytes), uint64(c[i].packets), uint64(c[i].payload_bytes),
			uint64(c[i].payload_segs), uint64(c[i].rate), uint64(c[i].peak_rate)}
	}
	return out
}

func portStatsOf(s *C.struct_ebpfaccel_port_stats) PortStats {
	return PortStats{
		Port: uint16(s.port), Flows: uint64(s.flows), Turns: uint64(s.turns),
		AgeNs: uint64(s.age_ns), IdleNs: uint64(s.idle_ns), Dir: countersOf(&s.dir),
		SampleBytes: [2]uint32{uint32(s.sample_bytes[0]), uint32(s.sample_bytes[1])},
		Entropy:     [2]float64{float64(s.entropy[0]), float64(s.entropy[1])},
		SampleRatio: [2]float64{float64(s.sample_ratio[0]), float64(s.sample_ratio[1])},
	}
}

func addrOf(family C.int, b *[16]C.uint8_t, port C.uint16_t) netip.AddrPort {
	raw := (*[16]byte)(unsafe.Pointer(b))
	addr := netip.AddrFrom16(*raw)
	if family == syscall.AF_INET {
		addr = netip.AddrFrom4([4]byte{raw[0], raw[1], raw[2], raw[3]})
	}
	return netip.AddrPortFrom(addr, uint16(port))
}

func flowStatsOf(s *C.struct_ebpfaccel_flow_stats) FlowStats {
	return FlowStats{
		Local: addrOf(s.family, &s.local_addr, s.local_port), Remote: addrOf(s.family, &s.remote_addr, s.remote_port),
		ServerPort: uint16(s.server_port), LocalIsServer: int(s.local_is_server),
		Turns: uint64(s.turns), AgeNs: uint64(s.age_ns), IdleNs: uint64(s.idle_ns), Dir: countersOf(&s.dir),
	}
}

//export goEbpfaccelPortStats
func goEbpfaccelPortStats(st *C.struct_ebpfaccel_port_stats, h C.uintptr_t) C.int {
	cgo.Handle(h).Value().(func(PortStats))(portStatsOf(st))
	return 0
}

//export goEbpfaccelFlowStats
func goEbpfaccelFlowStats(st *C.struct_ebpfaccel_flow_stats, h C.uintptr_t) C.int {
	cgo.Handle(h).Value().(func(FlowStats))(flowStatsOf(st))
	return 0
}

// TrafficProbe measures per-flow and per-port traffic with cls_bpf programs.
type TrafficProbe struct {
	p *C.struct_ebpfaccel_traffic_probe
}

// OpenTrafficProbe loads the probe (not attached yet); needs CAP_BPF and
// CAP_NET_ADMIN.
func OpenTrafficProbe(o *TrafficProbeOpts) (*TrafficProbe, error) {
	opts := C.struct_ebpfaccel_traffic_probe_opts{sz: C.sizeof_struct_ebpfaccel_traffic_probe_opts}
	if o != nil {
		opts.max_flows, opts.max_ports = C.uint32_t(o.MaxFlows), C.uint32_t(o.MaxPorts)
		opts.window_ms, opts.sample_every_bytes = C.uint32_t(o.WindowMs), C.uint32_t(o.SampleEveryBytes)
		opts.sample_window, opts.priority = C.uint32_t(o.SampleWindow), C.uint16_t(o.Priority)
	}
	opts.load_error = newLoadError()
	defer C.free(unsafe.Pointer(opts.load_error))
	p, err := callPtr("ebpfaccel_traffic_probe__open", func() (*C.struct_ebpfaccel_traffic_probe, error) {
		ptr, errno := C.ebpfaccel_traffic_probe__open(&opts)
		return ptr, errno
	})
	if err != nil {
		return nil, withLoadError(err, opts.load_error)
	}
	return &TrafficProbe{p: p}, nil
}

// Attach hooks an interface (by index) of the calling OS thread's netns.
func (p *TrafficProbe) Attach(ifindex int) error {
	_, err := callInt("ebpfaccel_traffic_probe__attach", func() C.int {
		return C.ebpfaccel_traffic_probe__attach(p.p, C.int(ifindex))
	})
	return err
}

// AttachName hooks an interface by name, in the calling OS thread's netns.
func (p *TrafficProbe) AttachName(ifname string) error {
	name := C.CString(ifname)
	defer C.free(unsafe.Pointer(name))
	_, err := callInt("ebpfaccel_traffic_probe__attach_ifname", func() C.int {
		return C.ebpfaccel_traffic_probe__attach_ifname(p.p, name)
	})
	return err
}

// Detach removes the hooks.
func (p *TrafficProbe) Detach() error {
	_, err := callInt("ebpfaccel_traffic_probe__detach", func() C.int { return C.ebpfaccel_traffic_probe__detach(p.p) })
	return err
}

// Poll consumes payload samples for up to timeout; how many it processed.
func (p *TrafficProbe) Poll(timeout time.Duration) (int, error) {
	n, err := callInt("ebpfaccel_traffic_probe__poll", func() C.int {
		return C.ebpfaccel_traffic_probe__poll(p.p, C.int(timeout.Milliseconds()))
	})
	return int(n), err
}

// Port is the traffic under one server port; ENOENT if never seen.
func (p *TrafficProbe) Port(port uint16) (PortStats, error) {
	var s C.struct_ebpfaccel_port_stats
	_, err := callInt("ebpfaccel_traffic_probe__port_stats", func() C.int {
		return C.ebpfaccel_traffic_probe__port_stats(p.p, C.uint16_t(port), &s)
	})
	return portStatsOf(&s), err
}

// Ports lists every tracked server port.
func (p *TrafficProbe) Ports() ([]PortStats, error) {
	var out []PortStats
	h := cgo.NewHandle(func(s PortStats) { out = append(out, s) })
	defer h.Delete()
	_, err := callInt("ebpfaccel_traffic_probe__for_each_port", func() C.int {
		return C.goebpfaccel_for_each_port(p.p, C.uintptr_t(h))
	})
	return out, err
}

// Flows lists every tracked connection.
func (p *TrafficProbe) Flows() ([]FlowStats, error) {
	var out []FlowStats
	h := cgo.NewHandle(func(s FlowStats) { out = append(out, s) })
	defer h.Delete()
	_, err := callInt("ebpfaccel_traffic_probe__for_each_flow", func() C.int {
		return C.goebpfaccel_for_each_flow(p.p, C.uintptr_t(h))
	})
	return out, err
}

// SamplesDropped counts payload samples lost because the ring was full.
func (p *TrafficProbe) SamplesDropped() uint64 {
	return uint64(C.ebpfaccel_traffic_probe__samples_dropped(p.p))
}

// Close detaches and frees; again does nothing.
func (p *TrafficProbe) Close() error {
	C.ebpfaccel_traffic_probe__destroy(p.p)
	p.p = nil
	return nil
}

// AutoReason says why an auto decision is what it is (enum ebpfaccel_auto_reason).
type AutoReason int

func (r AutoReason) String() string {
	return C.GoString(C.ebpfaccel_auto_reason__name(C.enum_ebpfaccel_auto_reason(r)))
}

const (
	AutoNoData             AutoReason = C.EBPFACCEL_AUTO_NO_DATA
	AutoBulkCompressible   AutoReason = C.EBPFACCEL_AUTO_BULK_COMPRESSIBLE
	AutoIncompressible     AutoReason = C.EBPFACCEL_AUTO_INCOMPRESSIBLE
	AutoLatencyBound       AutoReason = C.EBPFACCEL_AUTO_LATENCY_BOUND
	AutoRateAboveCompSpeed AutoReason = C.EBPFACCEL_AUTO_RATE_ABOVE_COMP_SPEED
)

// AutoPolicyOpts are the options of NewAutoPolicy; zero = default.  The C
// apply callback is not offered: read Decision after Update.
type AutoPolicyOpts struct {
	Algo, Level           int
	CompSpeed             uint64
	OnRatio, OffRatio     float64
	MinRunBytes, MinBytes uint64
	Hold                  uint
	// Choose weighs Candidates (nil: the library's defaults) by expected
	// goodput instead of judging only Algo at Level.
	Choose     bool
	Candidates []AutoCandidate
	StreamGain float64
	LinkRate   uint64 // payload bytes/s; 0 = estimated per port
	// CPUShare is the share of a core (0, 1] each end of a connection
	// gets; 0 = estimated from the machine's load.
	CPUShare float64
}

// AutoCandidate is a compression configuration the goodput model weighs,
// with the engine's figures on a port's data (struct ebpfaccel_auto_candidate).
// Figures all non-zero are taken as given; otherwise they are measured.
type AutoCandidate struct {
	Algo, Level, Mode      int // enum tcp_comp_algo, level, enum tcp_comp_mode
	CompSpeed, DecompSpeed uint64
	Ratio                  float64
}

func autoCandidateOf(c C.struct_ebpfaccel_auto_candidate) AutoCandidate {
	return AutoCandidate{Algo: int(c.algo), Level: int(c.level), Mode: int(c.mode),
		CompSpeed: uint64(c.comp_speed), DecompSpeed: uint64(c.decomp_speed), Ratio: float64(c.ratio)}
}

// AutoSample is one interval measured elsewhere (struct ebpfaccel_auto_sample).
type AutoSample struct {
	Duration     time.Duration
	PayloadBytes [2]uint64 // by TrafficDir
	Turns, Rate  uint64
	SampleRatio  float64
	Entropy      float64
}

// AutoDecision is the decision for one port (struct ebpfaccel_auto_decision).
type AutoDecision struct {
	Port           uint16
	Compress       bool
	Reason, Latest AutoReason
	BusyDir        TrafficDir
	Agreeing       uint
	Changes        uint64
	Choice         AutoCandidate // in force (Algo 0, none, while off)
	LinkRate       uint64        // estimated payload bytes/s of the link
	Goodput        uint64        // bytes/s expected from Choice (Choose only)
	Text           string
}

// AutoPolicy decides per port whether compression pays.
type AutoPolicy struct {
	a     *C.struct_ebpfaccel_auto_policy
	probe *TrafficProbe
}

// NewAutoPolicy judges the traffic of probe, which must outlive it.
func NewAutoPolicy(probe *TrafficProbe, o *AutoPolicyOpts) (*AutoPolicy, error) {
	opts := C.struct_ebpfaccel_auto_policy_opts{sz: C.sizeof_struct_ebpfaccel_auto_policy_opts}
	if o != nil {
		opts.algo, opts.level, opts.comp_speed = C.int(o.Algo), C.int(o.Level), C.uint64_t(o.CompSpeed)
		opts.on_ratio, opts.off_ratio = C.double(o.OnRatio), C.double(o.OffRatio)
		opts.min_run_bytes, opts.min_bytes, opts.hold = C.uint64_t(o.MinRunBytes), C.uint64_t(o.MinBytes), C.uint(o.Hold)
		opts.choose, opts.stream_gain, opts.link_rate = C.bool(o.Choose), C.double(o.StreamGain), C.uint64_t(o.LinkRate)
		opts.cpu_share = C.double(o.CPUShare)
		if n := len(o.Candidates); n > 0 {
			// C memory: the options struct may not point into Go memory.
			cands := (*[1 << 16]C.struct_ebpfaccel_auto_candidate)(C.calloc(C.size_t(n), C.sizeof_struct_ebpfaccel_auto_candidate))[:n:n]
			defer C.free(unsafe.Pointer(&cands[0]))
			for i, c := range o.Candidates {
				cands[i] = C.struct_ebpfaccel_auto_candidate{algo: C.int(c.Algo), level: C.int(c.Level),
					mode: C.int(c.Mode), comp_speed: C.uint64_t(c.CompSpeed),
					decomp_speed: C.uint64_t(c.DecompSpeed), ratio: C.double(c.Ratio)}
			}
			opts.candidates, opts.n_candidates = &cands[0], C.size_t(n)
		}
	}
	a, err := callPtr("ebpfaccel_auto_policy__new", func() (*C.struct_ebpfaccel_auto_policy, error) {
		ptr, errno := C.ebpfaccel_auto_policy__new(probe.p, &opts)
		return ptr, errno
	})
	if err != nil {
		return nil, err
	}
	return &AutoPolicy{a: a, probe: probe}, nil
}

// Update judges the interval since the last update; how many decisions changed.
func (a *AutoPolicy) Update() (int, error) {
	n, err := callInt("ebpfaccel_auto_policy__update", func() C.int { return C.ebpfaccel_auto_policy__update(a.a) })
	return int(n), err
}

// Feed judges one interval of port from figures measured elsewhere.
func (a *AutoPolicy) Feed(port uint16, s AutoSample) error {
	cs := C.struct_ebpfaccel_auto_sample{
		duration_ns: C.uint64_t(s.Duration.Nanoseconds()), turns: C.uint64_t(s.Turns),
		rate: C.uint64_t(s.Rate), sample_ratio: C.double(s.SampleRatio), entropy: C.double(s.Entropy),
	}
	cs.payload_bytes[0], cs.payload_bytes[1] = C.uint64_t(s.PayloadBytes[0]), C.uint64_t(s.PayloadBytes[1])
	_, err := callInt("ebpfaccel_auto_policy__feed", func() C.int {
		return C.ebpfaccel_auto_policy__feed(a.a, C.uint16_t(port), &cs)
	})
	return err
}

// Decision is the decision in force for port.
func (a *AutoPolicy) Decision(port uint16) (AutoDecision, error) {
	var d C.struct_ebpfaccel_auto_decision
	_, err := callInt("ebpfaccel_auto_policy__decision", func() C.int {
		return C.ebpfaccel_auto_policy__decision(a.a, C.uint16_t(port), &d)
	})
	return AutoDecision{
		Port: uint16(d.port), Compress: bool(d.compress), Reason: AutoReason(d.reason),
		Latest: AutoReason(d.latest), BusyDir: TrafficDir(d.busy_dir), Agreeing: uint(d.agreeing),
		Changes: uint64(d.changes), Choice: autoCandidateOf(d.choice), LinkRate: uint64(d.link_rate),
		Goodput: uint64(d.goodput), Text: C.GoString(&d.text[0]),
	}, err
}

// SetEngineRatio tells the policy what the compression engine achieves on
// port (original/wire bytes); while port is on, it stands in for the probe's
// sample of the wire, which then carries compressed records.  0 forgets it.
func (a *AutoPolicy) SetEngineRatio(port uint16, ratio float64) error {
	_, err := callInt("ebpfaccel_auto_policy__set_engine_ratio", func() C.int {
		return C.ebpfaccel_auto_policy__set_engine_ratio(a.a, C.uint16_t(port), C.double(ratio))
	})
	return err
}

// CompSpeed is the compression speed (bytes/s) the rate rule uses; 0 = not measured yet.
func (a *AutoPolicy) CompSpeed() uint64 { return uint64(C.ebpfaccel_auto_policy__comp_speed(a.a)) }

// Close frees the policy; again does nothing.
func (a *AutoPolicy) Close() error {
	C.ebpfaccel_auto_policy__free(a.a)
	a.a = nil
	return nil
}
