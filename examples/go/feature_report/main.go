// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// feature_report prints what this machine offers libebpfaccel: the Go
// version of feature_report.c, line for line the same output.
//
// Build in the module of examples/go (its go.mod points at the binding's
// sources; tests/bindings/installed.sh makes one for an installation):
//
//	go build -o feature_report ./feature_report
//
// Run as root for the full picture; unprivileged, it tells which
// capabilities are missing.  Exit status: 0 if every feature the Redis
// cache and compression negotiation need is there, 1 if not, 2 on error.
package main

import (
	"fmt"
	"os"

	"ebpfaccel"
)

// Features without which the accelerations cannot run: the kernel features,
// and the objects built on them loading on this kernel.
var required = map[ebpfaccel.Feature]bool{
	ebpfaccel.FeatBPFSyscall: true, ebpfaccel.FeatSockmap: true,
	ebpfaccel.FeatSKStorage: true, ebpfaccel.FeatTCPHdrOpt: true,
	ebpfaccel.FeatCgroup2: true, ebpfaccel.FeatRedisCache: true,
	ebpfaccel.FeatCompNegotiate: true,
}

func report() (missing int, err error) {
	probe, err := ebpfaccel.NewProbe(nil)
	if err != nil {
		return 0, err
	}
	defer probe.Close()

	fmt.Printf("libebpfaccel %s on Linux %s\n", ebpfaccel.Version(), probe.KernelRelease())
	status, err := probe.Status()
	if err != nil {
		return 0, err
	}
	for _, s := range status {
		answer := "no"
		if s.Supported {
			answer = "yes"
		}
		fmt.Printf("  %-14s %-3s  %s\n", s.Name, answer, s.Reason)
		if !s.Supported && required[s.Feature] {
			missing++
		}
	}
	return missing, nil
}

func main() {
	missing, err := report()
	if err != nil {
		fmt.Fprintf(os.Stderr, "feature_report: probe failed: %v\n", err)
		os.Exit(2)
	}
	if missing > 0 {
		fmt.Printf("%d required feature(s) missing: the accelerations cannot attach here\n", missing)
		os.Exit(1)
	}
}
