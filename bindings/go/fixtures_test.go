// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package ebpfaccel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var fixtureIDs int32

// sysSetns is the number of setns(2); Go 1.19's syscall package lacks it.
func sysSetns() uintptr {
	switch runtime.GOARCH {
	case "arm64":
		return 268
	case "386":
		return 346
	}
	return 308 // amd64
}

func fixtureName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), atomic.AddInt32(&fixtureIDs, 1))
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func requirePrograms(t *testing.T, names ...string) {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("needs %s", n)
		}
	}
}

// newNetns makes a named netns with lo up, deleted at the end of the test.
func newNetns(t *testing.T) string {
	name := fixtureName("ebpfaccel-go")
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// inNetns runs fn on an OS thread inside netns ns.  Sockets made there stay
// there; the library sees it as the caller's netns.
func inNetns(t *testing.T, ns string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	prev, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer prev.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if _, _, e := syscall.RawSyscall(sysSetns(), target.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
		t.Fatal(e)
	}
	defer func() {
		if _, _, e := syscall.RawSyscall(sysSetns(), prev.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
			panic(e) // this thread must not go back to the scheduler in ns
		}
	}()
	fn()
}

// vethPair links netns a and b: the a side's name and b's address.
func vethPair(t *testing.T, a, b string) (string, string) {
	n := 100 + (os.Getpid()+int(atomic.AddInt32(&fixtureIDs, 1)))%100
	ea, eb := fmt.Sprintf("eg%da", n), fmt.Sprintf("eg%db", n)
	run(t, "ip", "-n", a, "link", "add", ea, "type", "veth", "peer", "name", eb, "netns", b)
	run(t, "ip", "-n", a, "addr", "add", fmt.Sprintf("198.18.%d.1/24", n), "dev", ea)
	run(t, "ip", "-n", b, "addr", "add", fmt.Sprintf("198.18.%d.2/24", n), "dev", eb)
	run(t, "ip", "-n", a, "link", "set", ea, "up")
	run(t, "ip", "-n", b, "link", "set", eb, "up")
	return ea, fmt.Sprintf("198.18.%d.2", n)
}

// newCgroup makes a child of the cgroup2 mount, removed at the end.
func newCgroup(t *testing.T) string {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 2 && fields[2] == "cgroup2" {
			path := filepath.Join(fields[1], fixtureName("ebpfaccel-go"))
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				for i := 0; i < 100 && os.Remove(path) != nil; i++ {
					time.Sleep(20 * time.Millisecond)
				}
			})
			return path
		}
	}
	t.Skip("no cgroup2 mount")
	return ""
}

type redisServer struct {
	port     int
	unixSock string
}

// startRedis runs a private redis-server on port 6379 of netns ns, inside
// cgroup cg, with a unix socket to ask it the truth (never cached).
func startRedis(t *testing.T, ns, cg string) *redisServer {
	dir := t.TempDir()
	r := &redisServer{port: 6379, unixSock: filepath.Join(dir, "redis.sock")}
	// Go 1.19 cannot start a child in a cgroup: the shell joins, then execs.
	cmd := exec.Command("sh", "-c", `echo $$ > "$1/cgroup.procs" && exec ip netns exec "$2" redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --unixsocket "$3" --unixsocketperm 700 --dir "$4"`,
		"sh", cg, ns, r.unixSock, dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	for i := 0; i < 200; i++ {
		if r.cli(t, "PING") == "PONG" {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not answer PING")
	return nil
}

func (r *redisServer) cli(t *testing.T, args ...string) string {
	out, _ := exec.Command("redis-cli", append([]string{"-s", r.unixSock}, args...)...).Output()
	return strings.TrimSpace(string(out))
}

func (r *redisServer) getCalls(t *testing.T) int {
	for _, line := range strings.Split(r.cli(t, "INFO", "commandstats"), "\n") {
		if strings.HasPrefix(line, "cmdstat_get:calls=") {
			n, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(line, "cmdstat_get:calls="), ",", 2)[0])
			return n
		}
	}
	return 0
}

// cacheObject is what the Redis cache objects (RedisCache, NearCache) have alike.
type cacheObject interface {
	Flush() error
	Detach() error
}

// flushAndDetach ends a cache test: Flush works, Detach works once, then
// says ENOTCONN.
func flushAndDetach(t *testing.T, c cacheObject) {
	t.Helper()
	if err := c.Flush(); err != nil {
		t.Error(err)
	}
	if err := c.Detach(); err != nil {
		t.Fatal(err)
	}
	if err := c.Detach(); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("second Detach: %v", err)
	}
}

// compressible is text-like data that compresses well.
func compressible(size int, seed int64) []byte {
	words := []string{"GET", "/index.html", "HTTP/1.1", "200", "OK", `{"id":`, "level=info",
		"request", "served", "in", "ms", "session", "cache", "error"}
	rnd := rand.New(rand.NewSource(seed))
	var b bytes.Buffer
	for b.Len() < size {
		b.WriteString(words[rnd.Intn(len(words))])
		b.WriteByte(" \n"[rnd.Intn(10)/9])
	}
	return b.Bytes()[:size]
}
