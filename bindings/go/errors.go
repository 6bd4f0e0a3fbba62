// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package ebpfaccel

/*
#include <stdlib.h>
#include "cgo_helpers.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// The library's own error codes (enum ebpfaccel_error), for errors.Is.
const (
	ErrKernel syscall.Errno = C.EBPFACCEL_ERR_KERNEL // the kernel lacks a BPF feature
	ErrVerify syscall.Errno = C.EBPFACCEL_ERR_VERIFY // the verifier refused a program
	ErrProto  syscall.Errno = C.EBPFACCEL_ERR_PROTO  // the peer violated the protocol
)

// Error is a failed library call.  It unwraps to its syscall.Errno, so
// errors.Is(err, syscall.EPERM) and errors.Is(err, os.ErrPermission) work.
type Error struct {
	Op      string        // the C function that failed
	Errno   syscall.Errno // errno value or one of the library's EBPFACCEL_ERR_* codes
	Msg     string        // the library's description of Errno
	Warning string        // the last warning the library logged during the call
	Load    *LoadError    // set when an open failed loading BPF programs
}

// LoadError says why the kernel did not load an object's BPF programs
// (struct ebpfaccel_load_error); the verifier's full log is logged at
// EBPFACCEL_DEBUG.
type LoadError struct {
	Program  string // the program the kernel refused; "" if no program was
	Reason   string // one line for people: what failed and why
	Verifier bool   // the kernel's verifier refused Program
}

// newLoadError is a struct ebpfaccel_load_error in C memory, for an open's
// options to point at (cgo lets C keep no pointer to Go memory); C.free it.
func newLoadError() *C.struct_ebpfaccel_load_error {
	why := (*C.struct_ebpfaccel_load_error)(C.calloc(1, C.sizeof_struct_ebpfaccel_load_error))
	why.sz = C.sizeof_struct_ebpfaccel_load_error
	return why
}

// withLoadError adds what @why says to the error of a failed open.
func withLoadError(err error, why *C.struct_ebpfaccel_load_error) error {
	var e *Error
	if errors.As(err, &e) && why.reason[0] != 0 {
		e.Load = &LoadError{
			Program:  C.GoString(&why.prog[0]),
			Reason:   C.GoString(&why.reason[0]),
			Verifier: bool(why.verifier),
		}
	}
	return err
}

func (e *Error) Error() string {
	if e.Warning != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Op, e.Msg, e.Warning)
	}
	return fmt.Sprintf("%s: %s", e.Op, e.Msg)
}

func (e *Error) Unwrap() error { return e.Errno }

// StrError is the library's description of an error code (either sign).
func StrError(code int) string {
	buf := make([]byte, 256)
	C.ebpfaccel_strerror(C.int(code), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
}

// call runs a library call on one OS thread, so that the warning it logs is
// the one read back on failure.  fn returns the C result and errno; failed
// decides from them whether the call failed and with which code.
func call(op string, fn func() (ret int64, errno error), failed func(ret int64, errno error) syscall.Errno) (int64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.goebpfaccel_clear_warning()
	ret, errno := fn()
	code := failed(ret, errno)
	if code == 0 {
		return ret, nil
	}
	return ret, &Error{
		Op:      op,
		Errno:   code,
		Msg:     StrError(int(code)),
		Warning: trimNewline(C.GoString(C.goebpfaccel_last_warning())),
	}
}

// callInt runs an int- or ssize_t-returning library call (0 or a count, or
// -errno).
func callInt[T ~int32 | ~int64](op string, fn func() T) (int64, error) {
	return call(op, func() (int64, error) { return int64(fn()), nil }, negErrno)
}

// callPtr runs a pointer-returning library call (NULL and errno on failure).
func callPtr[T any](op string, fn func() (*T, error)) (*T, error) {
	var p *T
	_, err := call(op, func() (int64, error) {
		var errno error
		p, errno = fn()
		return int64(uintptr(unsafe.Pointer(p))), errno
	}, nullErrno)
	return p, err
}

// negErrno: int-returning functions give 0 (or a count) or -errno.
func negErrno(ret int64, _ error) syscall.Errno {
	if ret >= 0 {
		return 0
	}
	return syscall.Errno(-ret)
}

// nullErrno: pointer-returning functions give NULL (ret 0) and set errno.
func nullErrno(ret int64, errno error) syscall.Errno {
	if ret != 0 {
		return 0
	}
	if e, ok := errno.(syscall.Errno); ok && e != 0 {
		return e
	}
	return syscall.EINVAL
}

func trimNewline(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}
