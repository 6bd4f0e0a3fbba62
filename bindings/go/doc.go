// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// Package ebpfaccel is the Go binding of libebpfaccel: the in-kernel Redis
// cache, TCP compression offload and the feature probe.
//
// It is a cgo package over the installed C library, found through
// pkg-config ("#cgo pkg-config: ebpfaccel"), so it builds against exactly
// the library a C program would link.  Objects have a Close method that
// frees what they hold.  Failures are *Error values that wrap the errno as a
// syscall.Errno:
//
//	p, err := ebpfaccel.NewProbe(nil)
//	if errors.Is(err, syscall.EPERM) { ... }
//	defer p.Close()
//
// The library's messages go to the function installed with SetLogger
// (by default: warnings and info to stderr, like the C library); the last
// warning of a failed call is also kept in Error.Warning.
package ebpfaccel
