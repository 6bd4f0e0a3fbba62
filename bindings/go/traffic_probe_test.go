// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

//go:build ebpfaccel_traffic_probe

package ebpfaccel

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestTrafficProbeMeasuresAnUpload(t *testing.T) {
	requireRoot(t, "netns, veth and BPF")
	requirePrograms(t, "ip")
	a, b := newNetns(t), newNetns(t)
	ifname, serverAddr := vethPair(t, a, b)
	probe, err := OpenTrafficProbe(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	var l net.Listener
	var conn net.Conn
	inNetns(t, a, func() {
		if err := probe.AttachName(ifname); err != nil {
			t.Fatal(err)
		}
	})
	inNetns(t, b, func() { l, err = net.Listen("tcp", serverAddr+":5201") })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	inNetns(t, a, func() { conn, err = net.Dial("tcp", serverAddr+":5201") })
	if err != nil {
		t.Fatal(err)
	}
	data := compressible(1<<20, 5)
	go func() { conn.Write(data); conn.Close() }()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, server); n != int64(len(data)) || err != nil {
		t.Fatalf("received %d, %v", n, err)
	}
	server.Close()
	if _, err := probe.Poll(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ps, err := probe.Port(5201)
	if err != nil {
		t.Fatal(err)
	}
	tx := ps.Dir[TrafficTX]
	if ps.Flows < 1 || tx.PayloadBytes < uint64(len(data)) || ps.SampleRatio[TrafficTX] <= 1.5 ||
		ps.Entropy[TrafficTX] >= 6 || ps.Dir[TrafficRX].PayloadBytes > 1000 {
		t.Errorf("port stats %+v", ps)
	}
	ports, err := probe.Ports()
	if err != nil || len(ports) != 1 || ports[0].Port != 5201 {
		t.Errorf("Ports() = %+v, %v", ports, err)
	}
	flows, err := probe.Flows()
	if err != nil || len(flows) != 1 || flows[0].ServerPort != 5201 || flows[0].Remote.Addr().String() != serverAddr ||
		flows[0].LocalIsServer != 0 {
		t.Errorf("Flows() = %+v, %v", flows, err)
	}
	if _, err := probe.Port(5202); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("unseen port: %v", err)
	}
}

func TestAutoPolicyHold(t *testing.T) {
	requireRoot(t, "loading the probe")
	probe, err := OpenTrafficProbe(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	policy, err := NewAutoPolicy(probe, &AutoPolicyOpts{Hold: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer policy.Close()
	s := AutoSample{Duration: time.Second, PayloadBytes: [2]uint64{10_000_000, 100}, Rate: 1_000_000,
		SampleRatio: 3, Entropy: 4.5}
	for i := 0; i < 3; i++ {
		if err := policy.Feed(8080, s); err != nil {
			t.Fatal(err)
		}
	}
	d, err := policy.Decision(8080)
	if err != nil || !d.Compress || d.Reason != AutoBulkCompressible || d.Reason.String() != "bulk-compressible" || d.Text == "" {
		t.Errorf("decision %+v, %v", d, err)
	}
	if err := policy.SetEngineRatio(8080, 2.5); err != nil {
		t.Errorf("SetEngineRatio: %v", err)
	}
	if err := policy.SetEngineRatio(8080, -1); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("negative engine ratio: %v", err)
	}
}

// The goodput model with given figures: at 10 MB/s the dense zstd-9
// delivers 40 MB/s (lz4 only 20), so it is chosen.
func TestAutoPolicyChoose(t *testing.T) {
	requireRoot(t, "loading the probe")
	probe, err := OpenTrafficProbe(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	cands := []AutoCandidate{
		{Algo: int(AlgoLZ4), Mode: int(ModeBlock), CompSpeed: 700e6, DecompSpeed: 3000e6, Ratio: 2},
		{Algo: int(AlgoZstd), Level: 9, Mode: int(ModeStream), CompSpeed: 40e6, DecompSpeed: 1200e6, Ratio: 4},
	}
	policy, err := NewAutoPolicy(probe, &AutoPolicyOpts{Choose: true, Candidates: cands, StreamGain: 1, CPUShare: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer policy.Close()
	s := AutoSample{Duration: time.Second, PayloadBytes: [2]uint64{10_000_000, 100}, Rate: 10_000_000,
		SampleRatio: 3, Entropy: 4.5}
	for i := 0; i < 3; i++ {
		if err := policy.Feed(8080, s); err != nil {
			t.Fatal(err)
		}
	}
	d, err := policy.Decision(8080)
	if err != nil || !d.Compress || d.Choice != cands[1] || d.LinkRate != 10_000_000 || d.Goodput != 40_000_000 {
		t.Errorf("decision %+v, %v", d, err)
	}
	if _, err := NewAutoPolicy(probe, &AutoPolicyOpts{Choose: true, Candidates: []AutoCandidate{{Algo: 9}}}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("bad candidate: %v", err)
	}
}
