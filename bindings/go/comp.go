// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// This file belongs to include/ebpfaccel/comp.h: bindings/go/stage.sh puts
// it into the package the build tests and installs only when the library
// has that header (the tag says which; without the header, plain go build
// of this directory skips the file too).

//go:build ebpfaccel_comp

package ebpfaccel

/*
#include <stdlib.h>
#include <sys/socket.h>
#include "cgo_helpers.h"
*/
import "C"

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"syscall"
	"unsafe"
)

// Algo is a compression algorithm (enum tcp_comp_algo).
type Algo uint8

const (
	AlgoNone Algo = C.TCP_COMP_ALGO_NONE
	AlgoZstd Algo = C.TCP_COMP_ALGO_ZSTD
	AlgoLZ4  Algo = C.TCP_COMP_ALGO_LZ4
)

// Mode is block or stream compression (enum tcp_comp_mode).
type Mode uint8

const (
	ModeBlock  Mode = C.TCP_COMP_MODE_BLOCK
	ModeStream Mode = C.TCP_COMP_MODE_STREAM
)

// Action is what a policy rule asks for (enum ebpfaccel_comp_action).
type Action int

const (
	ActionOff  Action = C.EBPFACCEL_COMP_OFF
	ActionOn   Action = C.EBPFACCEL_COMP_ON
	ActionAuto Action = C.EBPFACCEL_COMP_AUTO
)

// Phase is how far a socket's negotiation got (enum ebpfaccel_comp_phase).
type Phase int

const (
	PhaseNone       Phase = C.EBPFACCEL_COMP_PHASE_NONE
	PhaseSynSent    Phase = C.EBPFACCEL_COMP_PHASE_SYN_SENT
	PhaseConfirming Phase = C.EBPFACCEL_COMP_PHASE_CONFIRMING
	PhaseOn         Phase = C.EBPFACCEL_COMP_PHASE_ON
	PhaseOff        Phase = C.EBPFACCEL_COMP_PHASE_OFF
)

// Directions of a rule, seen from the host that owns the policy.
const (
	DirTX   = C.EBPFACCEL_COMP_DIR_TX
	DirRX   = C.EBPFACCEL_COMP_DIR_RX
	DirBoth = C.EBPFACCEL_COMP_DIR_BOTH
)

// Params says how one direction is compressed (struct tcp_comp_params).
type Params struct {
	Algo       Algo
	Mode       Mode
	Level      int32  // 0 = the algorithm's default
	RecordSize uint32 // 0 = TCP_COMP_DEFAULT_RECORD
	Flags      uint32 // TCP_COMP_F_*
}

// Off is a direction without compression.
var Off = Params{Algo: AlgoNone}

func (p Params) toC(c *C.struct_tcp_comp_params) {
	c.version = C.TCP_COMP_VERSION
	c.algo = C.__u8(p.Algo)
	c.mode = C.__u8(p.Mode)
	c.level = C.__s32(p.Level)
	c.record_size = C.__u32(p.RecordSize)
	c.flags = C.__u32(p.Flags)
}

func paramsOf(c *C.struct_tcp_comp_params) Params {
	return Params{Algo(c.algo), Mode(c.mode), int32(c.level), uint32(c.record_size), uint32(c.flags)}
}

// Stats are a connection's byte and record counters (struct tcp_comp_stats).
type Stats struct {
	TxBytesIn, TxBytesOut, TxRecords, TxRawRecords uint64
	RxBytesIn, RxBytesOut, RxRecords, RxErrors     uint64
}

// State is what a socket negotiated (struct ebpfaccel_comp_state).
type State struct {
	Role   int // EBPFACCEL_COMP_ROLE_CLIENT or _SERVER
	Phase  Phase
	Action Action
	TX, RX Params
}

func stateOf(s *C.struct_ebpfaccel_comp_state) State {
	return State{int(s.role), Phase(s.phase), Action(s.action), paramsOf(&s.tx), paramsOf(&s.rx)}
}

// ConnOpts are the options of NewConn; nil means: use the negotiated state.
type ConnOpts struct {
	Policy   *Policy // where to read the negotiated state; nil = any policy
	TX, RX   *Params // explicit parameters instead (both or none)
	NoKernel bool    // never switch to the tcp_comp kernel ULP
}

// Conn is a connected TCP socket that compresses what it carries.  It is an
// io.ReadWriteCloser; the socket stays the caller's.
type Conn struct {
	c   *C.struct_ebpfaccel_comp_conn
	raw syscall.RawConn
}

// NewConn wraps a connected TCP socket (a *net.TCPConn, or anything with
// SyscallConn).  Reads and writes wait through Go's poller, so deadlines on
// the socket apply.  From now on the socket must be used only through Conn.
func NewConn(sock syscall.Conn, opts *ConnOpts) (*Conn, error) {
	raw, err := sock.SyscallConn()
	if err != nil {
		return nil, err
	}
	// The options and the params they point to live in C memory: cgo does
	// not let C hold Go pointers inside Go memory.
	copts := (*C.struct_ebpfaccel_comp_conn_opts)(C.calloc(1, C.sizeof_struct_ebpfaccel_comp_conn_opts))
	params := (*[2]C.struct_tcp_comp_params)(C.calloc(2, C.sizeof_struct_tcp_comp_params))
	defer C.free(unsafe.Pointer(copts))
	defer C.free(unsafe.Pointer(params))
	copts.sz = C.sizeof_struct_ebpfaccel_comp_conn_opts
	if opts != nil {
		copts.no_kernel = C.bool(opts.NoKernel)
		if opts.Policy != nil {
			copts.policy = opts.Policy.p
		}
		if opts.TX != nil {
			opts.TX.toC(&params[0])
			copts.tx = &params[0]
		}
		if opts.RX != nil {
			opts.RX.toC(&params[1])
			copts.rx = &params[1]
		}
	}
	var c *C.struct_ebpfaccel_comp_conn
	cerr := raw.Control(func(fd uintptr) {
		c, err = callPtr("ebpfaccel_comp_conn__new", func() (*C.struct_ebpfaccel_comp_conn, error) {
			ptr, errno := C.ebpfaccel_comp_conn__new(C.int(fd), copts)
			return ptr, errno
		})
	})
	if cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, raw: raw}, nil
}

func wouldBlock(err error) bool { return errors.Is(err, syscall.EAGAIN) }

// Write sends all of p (compressed as negotiated) and flushes.
func (c *Conn) Write(p []byte) (int, error) {
	done := 0
	var err error
	rerr := c.raw.Write(func(uintptr) bool {
		for done < len(p) {
			var n int64
			n, err = callInt("ebpfaccel_comp_conn__send", func() C.ssize_t {
				return C.ebpfaccel_comp_conn__send(c.c, unsafe.Pointer(&p[done]), C.size_t(len(p)-done))
			})
			if err != nil {
				return !wouldBlock(err)
			}
			done += int(n)
		}
		err = c.flushOnce()
		return !wouldBlock(err)
	})
	if rerr != nil {
		return done, rerr
	}
	return done, err
}

func (c *Conn) flushOnce() error {
	_, err := callInt("ebpfaccel_comp_conn__flush", func() C.int {
		return C.ebpfaccel_comp_conn__flush(c.c)
	})
	return err
}

// Flush pushes buffered record bytes to the socket.
func (c *Conn) Flush() error {
	var err error
	rerr := c.raw.Write(func(uintptr) bool {
		err = c.flushOnce()
		return !wouldBlock(err)
	})
	if rerr != nil {
		return rerr
	}
	return err
}

// Read receives decoded bytes; io.EOF at the end of the stream.  A corrupt
// stream gives an error wrapping syscall.EBADMSG.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int64
	var err error
	rerr := c.raw.Read(func(uintptr) bool {
		n, err = callInt("ebpfaccel_comp_conn__recv", func() C.ssize_t {
			return C.ebpfaccel_comp_conn__recv(c.c, unsafe.Pointer(&p[0]), C.size_t(len(p)))
		})
		return !wouldBlock(err)
	})
	switch {
	case rerr != nil:
		return 0, rerr
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return int(n), nil
}

// SendFile sends count bytes of f from its current position.
func (c *Conn) SendFile(f *os.File, count int) (int, error) {
	sent := 0
	var err error
	rerr := c.raw.Write(func(uintptr) bool {
		for sent < count {
			var n int64
			n, err = callInt("ebpfaccel_comp_conn__sendfile", func() C.ssize_t {
				return C.ebpfaccel_comp_conn__sendfile(c.c, C.int(f.Fd()), nil, C.size_t(count-sent))
			})
			if err != nil || n == 0 {
				return !wouldBlock(err)
			}
			sent += int(n)
		}
		err = c.flushOnce()
		return !wouldBlock(err)
	})
	if rerr != nil {
		return sent, rerr
	}
	return sent, err
}

// Params are the parameters in use per direction (AlgoNone = plain).
func (c *Conn) Params() (tx, rx Params) {
	var ctx, crx C.struct_tcp_comp_params
	C.ebpfaccel_comp_conn__params(c.c, &ctx, &crx)
	return paramsOf(&ctx), paramsOf(&crx)
}

// RxPending says whether decoded bytes wait inside the connection, which
// the socket's own readiness does not show: read them before polling again.
func (c *Conn) RxPending() bool { return bool(C.ebpfaccel_comp_conn__rx_pending(c.c)) }

// TxPending is how many encoded bytes still wait for the socket to take
// them; Flush sends them.
func (c *Conn) TxPending() int { return int(C.ebpfaccel_comp_conn__tx_pending(c.c)) }

// InKernel says whether the tcp_comp kernel ULP carries the data.
func (c *Conn) InKernel() bool { return bool(C.ebpfaccel_comp_conn__in_kernel(c.c)) }

// Stats reads the connection's counters.
func (c *Conn) Stats() (Stats, error) {
	var s C.struct_tcp_comp_stats
	_, err := callInt("ebpfaccel_comp_conn__stats", func() C.int {
		return C.ebpfaccel_comp_conn__stats(c.c, &s)
	})
	return Stats{
		uint64(s.tx_bytes_in), uint64(s.tx_bytes_out), uint64(s.tx_records), uint64(s.tx_raw_records),
		uint64(s.rx_bytes_in), uint64(s.rx_bytes_out), uint64(s.rx_records), uint64(s.rx_errors),
	}, err
}

// Close frees the connection (not the socket); calling it again does nothing.
func (c *Conn) Close() error {
	C.ebpfaccel_comp_conn__free(c.c)
	c.c = nil
	return nil
}

// SocketState is what a socket (its fd) negotiated, from whichever loaded
// policy recorded it; errors wrap ENOENT (not negotiated) or EPERM.
func SocketState(fd int) (State, error) {
	s := C.struct_ebpfaccel_comp_state{sz: C.sizeof_struct_ebpfaccel_comp_state}
	_, err := callInt("ebpfaccel_comp__state", func() C.int {
		return C.ebpfaccel_comp__state(C.int(fd), &s)
	})
	return stateOf(&s), err
}

// Rule is a policy rule (struct ebpfaccel_comp_rule_opts); zero fields take
// the library's defaults (on, zstd, block, both directions).
type Rule struct {
	Action     Action
	Algo       Algo
	Mode       Mode
	Dir        uint
	Level      int
	RecordSize uint
	Flags      uint
}

func (r *Rule) toC() *C.struct_ebpfaccel_comp_rule_opts {
	if r == nil {
		return nil
	}
	return &C.struct_ebpfaccel_comp_rule_opts{
		sz:     C.sizeof_struct_ebpfaccel_comp_rule_opts,
		action: C.enum_ebpfaccel_comp_action(r.Action), algo: C.enum_tcp_comp_algo(r.Algo),
		mode: C.enum_tcp_comp_mode(r.Mode), dir: C.uint(r.Dir), level: C.int(r.Level),
		record_size: C.uint(r.RecordSize), flags: C.uint(r.Flags),
	}
}

// PolicyStats are the negotiation program's counters.
type PolicyStats struct {
	SynOpt, SynAckOpt, ClientOn, ClientNoAnswer, ServerOn, ServerNoConfirm, ConfirmDone uint64
}

// Policy is the negotiation program with its per-port rules.  Loading needs
// CAP_BPF and CAP_NET_ADMIN, attaching CAP_SYS_ADMIN too.
type Policy struct {
	p *C.struct_ebpfaccel_comp_policy
}

// OpenPolicy loads the negotiation program (not attached yet).
func OpenPolicy() (*Policy, error) {
	return OpenPolicyPinned(false, "")
}

// OpenPolicyPinned loads the negotiation program; with pin, Attach pins it
// in /sys/fs/bpf/ebpfaccel/comp/<name> (name "" = the cgroup's id) and
// Close leaves it attached until Detach (from this or another process).
func OpenPolicyPinned(pin bool, name string) (*Policy, error) {
	opts := (*C.struct_ebpfaccel_comp_policy_opts)(C.calloc(1, C.sizeof_struct_ebpfaccel_comp_policy_opts))
	defer C.free(unsafe.Pointer(opts))
	opts.sz = C.sizeof_struct_ebpfaccel_comp_policy_opts
	opts.pin = C.bool(pin)
	opts.load_error = newLoadError()
	defer C.free(unsafe.Pointer(opts.load_error))
	if name != "" {
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		opts.pin_name = cname
	}
	p, err := callPtr("ebpfaccel_comp_policy__open", func() (*C.struct_ebpfaccel_comp_policy, error) {
		ptr, errno := C.ebpfaccel_comp_policy__open(opts)
		return ptr, errno
	})
	if err != nil {
		return nil, withLoadError(err, opts.load_error)
	}
	return &Policy{p: p}, nil
}

// OpenPinnedPolicy reopens a policy pinned by another process (or an earlier
// run), by name or by its directory's path; errors wrap ENOENT if none is.
func OpenPinnedPolicy(nameOrPath string) (*Policy, error) {
	cname := C.CString(nameOrPath)
	defer C.free(unsafe.Pointer(cname))
	p, err := callPtr("ebpfaccel_comp_policy__open_pinned", func() (*C.struct_ebpfaccel_comp_policy, error) {
		ptr, errno := C.ebpfaccel_comp_policy__open_pinned(cname)
		return ptr, errno
	})
	if err != nil {
		return nil, err
	}
	return &Policy{p: p}, nil
}

// PinPath is the directory the policy is pinned in, "" when it is not.
func (p *Policy) PinPath() string {
	if s := C.ebpfaccel_comp_policy__pin_path(p.p); s != nil {
		return C.GoString(s)
	}
	return ""
}

// CgroupID is the id (inode number) of the cgroup the policy is attached
// to; 0 when it is not attached.
func (p *Policy) CgroupID() uint64 {
	return uint64(C.ebpfaccel_comp_policy__cgroup_id(p.p))
}

// Ports lists the ports that have a port-only rule, ascending.
func (p *Policy) Ports() ([]uint16, error) {
	for {
		n, err := callInt("ebpfaccel_comp_policy__ports", func() C.int {
			return C.ebpfaccel_comp_policy__ports(p.p, nil, 0)
		})
		if err != nil || n == 0 {
			return nil, err
		}
		ports := (*C.uint16_t)(C.calloc(C.size_t(n), C.sizeof_uint16_t))
		got, err := callInt("ebpfaccel_comp_policy__ports", func() C.int {
			return C.ebpfaccel_comp_policy__ports(p.p, ports, C.size_t(n))
		})
		out := make([]uint16, 0, n)
		for i, v := range unsafe.Slice(ports, n) {
			if int64(i) < got {
				out = append(out, uint16(v))
			}
		}
		C.free(unsafe.Pointer(ports))
		// A rule added between the two calls: count again.
		if err != nil || got <= n {
			return out, err
		}
	}
}

// GetPort reads the port-only rule of port (errors wrap ENOENT if none).
func (p *Policy) GetPort(port uint16) (Rule, error) {
	r := C.struct_ebpfaccel_comp_rule_opts{sz: C.sizeof_struct_ebpfaccel_comp_rule_opts}
	err := p.intCall("ebpfaccel_comp_policy__get_port", func() C.int {
		return C.ebpfaccel_comp_policy__get_port(p.p, C.uint16_t(port), &r)
	})
	return Rule{Action(r.action), Algo(r.algo), Mode(r.mode), uint(r.dir), int(r.level),
		uint(r.record_size), uint(r.flags)}, err
}

func (p *Policy) intCall(op string, fn func() C.int) error {
	_, err := callInt(op, fn)
	return err
}

// Attach attaches to the cgroup v2 directory at path.
func (p *Policy) Attach(cgroupPath string) error {
	f, err := os.Open(cgroupPath)
	if err != nil {
		return err
	}
	defer f.Close()
	return p.intCall("ebpfaccel_comp_policy__attach", func() C.int {
		return C.ebpfaccel_comp_policy__attach(p.p, C.int(f.Fd()))
	})
}

// Detach detaches from the cgroup; connections keep their state.
func (p *Policy) Detach() error {
	return p.intCall("ebpfaccel_comp_policy__detach", func() C.int { return C.ebpfaccel_comp_policy__detach(p.p) })
}

// SetPort sets the rule of a server port (nil: defaults).
func (p *Policy) SetPort(port uint16, r *Rule) error {
	return p.intCall("ebpfaccel_comp_policy__set_port", func() C.int {
		return C.ebpfaccel_comp_policy__set_port(p.p, C.uint16_t(port), r.toC())
	})
}

// DelPort removes the rule of a server port.
func (p *Policy) DelPort(port uint16) error {
	return p.intCall("ebpfaccel_comp_policy__del_port", func() C.int {
		return C.ebpfaccel_comp_policy__del_port(p.p, C.uint16_t(port))
	})
}

func prefixArgs(prefix netip.Prefix) (C.int, [16]byte, C.uint) {
	addr := prefix.Addr()
	if addr.Is4() {
		var b [16]byte
		a4 := addr.As4()
		copy(b[:], a4[:])
		return C.AF_INET, b, C.uint(prefix.Bits())
	}
	return C.AF_INET6, addr.As16(), C.uint(prefix.Bits())
}

// SetPrefix sets the rule of a server port on an address prefix.
func (p *Policy) SetPrefix(prefix netip.Prefix, port uint16, r *Rule) error {
	family, addr, bits := prefixArgs(prefix)
	return p.intCall("ebpfaccel_comp_policy__set_prefix", func() C.int {
		return C.ebpfaccel_comp_policy__set_prefix(p.p, family, unsafe.Pointer(&addr[0]), bits, C.uint16_t(port), r.toC())
	})
}

// DelPrefix removes a rule set by SetPrefix.
func (p *Policy) DelPrefix(prefix netip.Prefix, port uint16) error {
	family, addr, bits := prefixArgs(prefix)
	return p.intCall("ebpfaccel_comp_policy__del_prefix", func() C.int {
		return C.ebpfaccel_comp_policy__del_prefix(p.p, family, unsafe.Pointer(&addr[0]), bits, C.uint16_t(port))
	})
}

// State is what the socket fd negotiated under this policy.
func (p *Policy) State(fd int) (State, error) {
	s := C.struct_ebpfaccel_comp_state{sz: C.sizeof_struct_ebpfaccel_comp_state}
	err := p.intCall("ebpfaccel_comp_policy__state", func() C.int {
		return C.ebpfaccel_comp_policy__state(p.p, C.int(fd), &s)
	})
	return stateOf(&s), err
}

// Stats reads the negotiation program's counters.
func (p *Policy) Stats() (PolicyStats, error) {
	var s C.struct_ebpfaccel_comp_policy_stats
	err := p.intCall("ebpfaccel_comp_policy__stats", func() C.int {
		return C.ebpfaccel_comp_policy__stats(p.p, &s)
	})
	return PolicyStats{uint64(s.syn_opt), uint64(s.synack_opt), uint64(s.client_on),
		uint64(s.client_no_answer), uint64(s.server_on), uint64(s.server_no_confirm),
		uint64(s.confirm_done)}, err
}

// Close detaches (if attached and not pinned), unloads and frees; again
// does nothing.
func (p *Policy) Close() error {
	C.ebpfaccel_comp_policy__destroy(p.p)
	p.p = nil
	return nil
}
