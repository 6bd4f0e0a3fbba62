// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// comp_echo is a compressed client/server pair on loopback: the server
// echoes what it receives, both ends speak libebpfaccel's record format
// (through the tcp_comp kernel module when it is loaded, in user space
// otherwise), with zstd in block mode set explicitly on each end.  The Go
// version of comp_echo.py (which also shows the negotiating policy).
//
//	go build -o comp_echo ./comp_echo    # in examples/go
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"

	"ebpfaccel"
)

var message = bytes.Repeat([]byte("GET /index.html HTTP/1.1 200 OK level=info request served in 3 ms\n"), 2000)

var zstd = ebpfaccel.Params{Algo: ebpfaccel.AlgoZstd}

func serve(l *net.TCPListener, done chan<- error) {
	sock, err := l.AcceptTCP()
	if err != nil {
		done <- err
		return
	}
	defer sock.Close()
	conn, err := ebpfaccel.NewConn(sock, &ebpfaccel.ConnOpts{TX: &zstd, RX: &zstd})
	if err != nil {
		done <- err
		return
	}
	defer conn.Close()
	_, err = io.Copy(conn, conn) // echo until the client's end of stream
	done <- err
}

func run() error {
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer l.Close()
	done := make(chan error, 1)
	go serve(l, done)

	sock, err := net.DialTCP("tcp", nil, l.Addr().(*net.TCPAddr))
	if err != nil {
		return err
	}
	defer sock.Close()
	conn, err := ebpfaccel.NewConn(sock, &ebpfaccel.ConnOpts{TX: &zstd, RX: &zstd})
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Write(message); err != nil {
		return err
	}
	echoed := make([]byte, len(message))
	if _, err := io.ReadFull(conn, echoed); err != nil {
		return err
	}
	sock.CloseWrite()
	if err := <-done; err != nil {
		return err
	}
	st, err := conn.Stats()
	if err != nil {
		return err
	}
	where := "user space"
	if conn.InKernel() {
		where = "kernel"
	}
	same := "same"
	if !bytes.Equal(echoed, message) {
		same = "DIFFERENT"
	}
	fmt.Printf("echoed %d bytes, %s\n", len(echoed), same)
	fmt.Printf("sent with zstd (%s): %d bytes as %d on the wire (%.1f:1)\n", where,
		st.TxBytesIn, st.TxBytesOut, float64(st.TxBytesIn)/float64(st.TxBytesOut))
	if same != "same" {
		return fmt.Errorf("echo differs")
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "comp_echo: %v\n", err)
		os.Exit(1)
	}
}
