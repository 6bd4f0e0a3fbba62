// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package ebpfaccel

/*
#cgo pkg-config: ebpfaccel
#include "cgo_helpers.h"
*/
import "C"

import (
	"fmt"
	"os"
	"sync/atomic"
)

// Level of a library message, most severe first.
type Level int

const (
	LevelWarn  Level = C.EBPFACCEL_WARN
	LevelInfo  Level = C.EBPFACCEL_INFO
	LevelDebug Level = C.EBPFACCEL_DEBUG
)

// Logger receives the library's messages (without the trailing newline).
type Logger func(level Level, msg string)

var logger atomic.Value

// defaultLogger prints like the C library's default callback.
func defaultLogger(level Level, msg string) {
	if level == LevelDebug && os.Getenv("EBPFACCEL_DEBUG") == "" {
		return
	}
	fmt.Fprintln(os.Stderr, msg)
}

// SetLogger installs the function that receives the library's messages;
// nil silences them.  It may be called from the library's own threads.
func SetLogger(fn Logger) {
	if fn == nil {
		fn = func(Level, string) {}
	}
	logger.Store(fn)
}

//export goEbpfaccelLog
func goEbpfaccelLog(level C.int, msg *C.char) {
	logger.Load().(Logger)(Level(level), trimNewline(C.GoString(msg)))
}

func init() {
	logger.Store(Logger(defaultLogger))
	C.ebpfaccel_set_print(C.ebpfaccel_print_fn_t(C.goebpfaccel_print))
}

// Version is the library's version string, "MAJOR.MINOR.PATCH".
func Version() string { return C.GoString(C.ebpfaccel_version()) }

// VersionInfo is the major and minor version of the library loaded at run time.
func VersionInfo() (major, minor uint) {
	return uint(C.ebpfaccel_major_version()), uint(C.ebpfaccel_minor_version())
}
