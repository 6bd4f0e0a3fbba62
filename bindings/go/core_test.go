// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package ebpfaccel

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestVersion(t *testing.T) {
	major, minor := VersionInfo()
	if want := fmt.Sprintf("%d.%d.", major, minor); !strings.HasPrefix(Version(), want) {
		t.Fatalf("Version() = %q, VersionInfo() = %d.%d", Version(), major, minor)
	}
}

func TestStrError(t *testing.T) {
	for _, e := range []syscall.Errno{syscall.EPERM, syscall.EINVAL, syscall.ENOENT} {
		got := StrError(int(e))
		if !strings.EqualFold(got, e.Error()) || StrError(-int(e)) != got {
			t.Errorf("StrError(%d) = %q, want %q", int(e), got, e.Error())
		}
	}
	if got := StrError(5002); !strings.Contains(got, "verifier") {
		t.Errorf("StrError(EBPFACCEL_ERR_VERIFY) = %q", got)
	}
}

type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) log(level Level, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf("%d %s", level, msg))
}

func TestBadOptsGiveEINVALWithTheLibraryWarning(t *testing.T) {
	rec := &logRecorder{}
	SetLogger(rec.log)
	defer SetLogger(defaultLogger)

	p, err := newProbe(nil, 1)
	if p != nil || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("newProbe(sz 1) = %v, %v; want EINVAL", p, err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%T is not *Error", err)
	}
	if e.Op != "ebpfaccel_probe__new" || e.Msg != "Invalid argument" || !strings.Contains(e.Warning, "too small") {
		t.Errorf("error fields: %+v", e)
	}
	if !strings.Contains(err.Error(), e.Warning) {
		t.Errorf("Error() = %q lacks the warning", err.Error())
	}
	if len(rec.msgs) == 0 || !strings.Contains(rec.msgs[len(rec.msgs)-1], fmt.Sprintf("%d %s", LevelWarn, e.Warning)) {
		t.Errorf("logger got %q", rec.msgs)
	}
}

func TestErrorsUnwrapToErrno(t *testing.T) {
	p, err := NewProbe(&ProbeOpts{SkipBPF: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Supported(Feature(1000))
	if !errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EPERM) {
		t.Fatalf("Supported(1000): %v", err)
	}
	if _, err = p.Reason(Feature(-1)); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Reason(-1): %v", err)
	}
	perm := &Error{Op: "x", Errno: syscall.EPERM}
	if !errors.Is(perm, os.ErrPermission) {
		t.Fatal("EPERM does not match os.ErrPermission")
	}
}
