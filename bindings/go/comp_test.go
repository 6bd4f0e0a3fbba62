// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

//go:build ebpfaccel_comp

package ebpfaccel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tcpPair connects two sockets over loopback.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err = net.DialTCP("tcp", nil, l.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func compPair(t *testing.T, tx, rx Params) (c, s *Conn, client, server *net.TCPConn) {
	client, server = tcpPair(t)
	c, err := NewConn(client, &ConnOpts{TX: &tx, RX: &rx})
	if err != nil {
		t.Fatal(err)
	}
	s, err = NewConn(server, &ConnOpts{TX: &rx, RX: &tx})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s, client, server
}

func TestCompRoundTrip(t *testing.T) {
	data := compressible(300000, 1)
	for _, algo := range []Algo{AlgoZstd, AlgoLZ4} {
		for _, mode := range []Mode{ModeBlock, ModeStream} {
			p := Params{Algo: algo, Mode: mode}
			c, s, _, _ := compPair(t, p, p)
			written := make(chan error, 1)
			go func() {
				_, err := c.Write(data)
				written <- err
			}()
			got := make([]byte, len(data))
			if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("algo %d mode %d: %v, equal %v", algo, mode, err, bytes.Equal(got, data))
			}
			if err := <-written; err != nil {
				t.Fatal(err)
			}
			if tx, rx := c.Params(); tx.Algo != algo || tx.Mode != mode || rx != tx {
				t.Errorf("Params() = %+v %+v", tx, rx)
			}
			st, err := c.Stats()
			if err != nil || st.TxBytesIn != uint64(len(data)) || st.TxBytesOut >= st.TxBytesIn/2 {
				t.Errorf("algo %d mode %d stats %+v %v", algo, mode, st, err)
			}
		}
	}
}

func TestCompPending(t *testing.T) {
	// A compressed record is decoded whole; what a short read leaves of
	// it waits inside the connection.
	p := Params{Algo: AlgoZstd}
	c, s, _, _ := compPair(t, p, p)
	msg := bytes.Repeat([]byte("0123456789"), 10)
	if _, err := c.Write(msg); err != nil || c.TxPending() != 0 {
		t.Fatalf("Write: %v, TxPending %d", err, c.TxPending())
	}
	head := make([]byte, 10)
	if _, err := io.ReadFull(s, head); err != nil || !s.RxPending() {
		t.Fatalf("after a partial read: %v, RxPending %v", err, s.RxPending())
	}
	rest := make([]byte, 90)
	if _, err := io.ReadFull(s, rest); err != nil || s.RxPending() {
		t.Fatalf("after draining: %v, RxPending %v", err, s.RxPending())
	}
}

func TestCompEOFAndSendFile(t *testing.T) {
	data := compressible(100000, 7)
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, s, client, _ := compPair(t, Params{Algo: AlgoZstd}, Params{Algo: AlgoZstd})
	go func() {
		if n, err := c.SendFile(f, len(data)); n != len(data) || err != nil {
			t.Errorf("SendFile: %d %v", n, err)
		}
		client.CloseWrite()
	}()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll: %d bytes, %v", len(got), err)
	}
}

func TestCompErrors(t *testing.T) {
	client, _ := tcpPair(t)
	bad := Params{Algo: 99}
	if _, err := NewConn(client, &ConnOpts{TX: &bad, RX: &Off}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("bad algo: %v", err)
	}
	c, _, _, server := compPair(t, Params{Algo: AlgoZstd}, Params{Algo: AlgoZstd})
	server.Write([]byte(strings.Repeat("this is not a record stream ", 4)))
	server.CloseWrite()
	var e *Error
	if _, err := c.Read(make([]byte, 4096)); !errors.Is(err, syscall.EBADMSG) || !errors.As(err, &e) {
		t.Errorf("garbage: %v", err)
	}
}

func TestCompPolicyRules(t *testing.T) {
	requireRoot(t, "loading the negotiation program")
	p, err := OpenPolicy()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetPort(7000, &Rule{Algo: AlgoLZ4, Mode: ModeStream}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPrefix(netip.MustParsePrefix("198.18.0.0/15"), 7001, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.DelPrefix(netip.MustParsePrefix("198.18.0.0/15"), 7001); err != nil {
		t.Fatal(err)
	}
	if err := p.DelPort(7000); err != nil {
		t.Fatal(err)
	}
	if err := p.DelPort(7000); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("second DelPort: %v", err)
	}
	if err := p.SetPort(0, nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("port 0: %v", err)
	}
	if _, err := p.Stats(); err != nil {
		t.Error(err)
	}
	if _, err := SocketState(-1); err == nil {
		t.Error("state of fd -1")
	}
}

// A policy pinned by one handle is found by name through another, which
// sees its rules; Detach removes it for both.
func TestCompPolicyPinned(t *testing.T) {
	requireRoot(t, "loading and pinning the negotiation program")
	cg := newCgroup(t)
	name := fmt.Sprintf("gotest-%d", os.Getpid())
	p, err := OpenPolicyPinned(true, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Attach(cg); err != nil {
		p.Close()
		t.Fatal(err)
	}
	p.Close() // stays attached
	q, err := OpenPinnedPolicy(name)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.PinPath() != "/sys/fs/bpf/ebpfaccel/comp/"+name || q.CgroupID() == 0 {
		t.Errorf("pin path %q, cgroup id %d", q.PinPath(), q.CgroupID())
	}
	if err := q.SetPort(7005, &Rule{Algo: AlgoLZ4}); err != nil {
		t.Fatal(err)
	}
	if ports, err := q.Ports(); err != nil || len(ports) != 1 || ports[0] != 7005 {
		t.Errorf("ports %v, %v", ports, err)
	}
	if r, err := q.GetPort(7005); err != nil || r.Algo != AlgoLZ4 || r.Dir != DirBoth {
		t.Errorf("rule %+v, %v", r, err)
	}
	if _, err := q.GetPort(7006); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("rule of a port without one: %v", err)
	}
	if err := q.Detach(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPinnedPolicy(name); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("reopen after detach: %v", err)
	}
}
