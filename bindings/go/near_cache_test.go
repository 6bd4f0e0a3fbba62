// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

//go:build ebpfaccel_near_cache

package ebpfaccel

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// inCgroup runs fn with this process in cgroup cg: sockets made there
// belong to cg for good.
func inCgroup(t *testing.T, cg string, fn func()) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var home string
	for _, line := range strings.Split(string(self), "\n") {
		if strings.HasPrefix(line, "0::") {
			home = strings.TrimPrefix(line, "0::")
		}
	}
	root := filepath.Dir(cg)
	join := func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(os.Getpid())), 0); err != nil {
			t.Fatal(err)
		}
	}
	join(cg)
	defer join(filepath.Join(root, home))
	fn()
}

// nearSetup starts a private redis-server and a near cache for a cgroup of
// clients, attached; in the server's netns, dial runs in the clients'
// cgroup and outside runs outside it (nil: nothing). The cache is closed
// at the end of the test.
func nearSetup(t *testing.T, staleMs uint32, dial, outside func(server string)) (*NearCache, *redisServer) {
	requireRoot(t, "netns, cgroup and BPF")
	requirePrograms(t, "redis-server", "redis-cli", "ip")
	ns, serverCg, clients := newNetns(t), newCgroup(t), newCgroup(t)
	redis := startRedis(t, ns, serverCg)
	server := fmt.Sprintf("127.0.0.1:%d", redis.port)

	cache, err := OpenNearCache(NearCacheOpts{Servers: []string{server}, CgroupPath: clients,
		MaxStalenessMs: staleMs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	inNetns(t, ns, func() {
		if err := cache.Attach(); err != nil {
			t.Fatal(err)
		}
		if outside != nil {
			outside(server)
		}
		inCgroup(t, clients, func() { dial(server) })
	})
	return cache, redis
}

func TestNearCacheAnswersOnTheClientHost(t *testing.T) {
	var conn net.Conn
	cache, redis := nearSetup(t, 2000, func(server string) {
		var err error
		if conn, err = net.Dial("tcp", server); err != nil {
			t.Fatal(err)
		}
	}, nil)
	defer conn.Close()
	if !cache.Serving() {
		t.Fatal("not serving after Attach")
	}
	rd := bufio.NewReader(conn)
	if got := respGet(t, conn, rd, "SET", "greeting", "hello world"); got != "+OK\r\n" {
		t.Fatalf("SET: %q", got)
	}
	want := "$11\r\nhello world\r\n"
	warm := false
	for i := 0; i < 200 && !warm; i++ {
		before := mustNearStats(t, cache).Hits
		if got := respGet(t, conn, rd, "GET", "greeting"); got != want {
			t.Fatalf("GET: %q", got)
		}
		warm = mustNearStats(t, cache).Hits > before
		time.Sleep(10 * time.Millisecond)
	}
	if !warm {
		t.Fatal("greeting was never answered on the client's host")
	}
	s0, calls := mustNearStats(t, cache), redis.getCalls(t)
	for i := 0; i < 20; i++ {
		if got := respGet(t, conn, rd, "GET", "greeting"); got != want {
			t.Fatalf("GET: %q", got)
		}
	}
	if s1 := mustNearStats(t, cache); redis.getCalls(t) != calls || s1.Hits-s0.Hits < 20 {
		t.Errorf("20 GETs: Redis saw %d, local hits %d -> %d", redis.getCalls(t)-calls, s0.Hits, s1.Hits)
	}
	if got := respGet(t, conn, rd, "SET", "greeting", "changed"); got != "+OK\r\n" {
		t.Fatalf("SET: %q", got)
	}
	if got := respGet(t, conn, rd, "GET", "greeting"); got != "$7\r\nchanged\r\n" {
		t.Errorf("GET after its own SET: %q", got)
	}
	flushAndDetach(t, cache)
}

func mustNearStats(t *testing.T, c *NearCache) NearCacheStats {
	s, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNearCacheBadOptions(t *testing.T) {
	requireRoot(t, "BPF")
	for _, servers := range [][]string{nil, {"localhost:6379"}, {"10.0.0.1"}} {
		_, err := OpenNearCache(NearCacheOpts{Servers: servers, CgroupPath: "/"})
		var e *Error
		if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &e) || !strings.Contains(e.Warning, "server") {
			t.Errorf("servers %q: %v", servers, err)
		}
	}
}
