// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

//go:build ebpfaccel_redis_cache

package ebpfaccel

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// respGet sends GET key and returns the raw reply.
func respGet(t *testing.T, conn net.Conn, r *bufio.Reader, args ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(line, "$") && line != "$-1\r\n" {
		data, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		line += data
	}
	return line
}

func TestRedisCacheServesFromTheKernel(t *testing.T) {
	requireRoot(t, "netns, cgroup and BPF")
	requirePrograms(t, "redis-server", "redis-cli", "ip")
	ns, cg := newNetns(t), newCgroup(t)
	redis := startRedis(t, ns, cg)

	// broadcast asked for: the mode in effect cannot change under the test
	cache, err := OpenRedisCache(RedisCacheOpts{Ports: []uint16{uint16(redis.port)}, CgroupPath: cg,
		Tracking: RedisTrackBcast})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	var conn net.Conn
	inNetns(t, ns, func() {
		if err := cache.Attach(); err != nil {
			t.Fatal(err)
		}
		if conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", redis.port)); err != nil {
			t.Fatal(err)
		}
	})
	defer conn.Close()
	if !cache.Serving() {
		t.Fatal("not serving after Attach")
	}
	if mode, why, err := cache.Tracking(); err != nil || mode != RedisTrackAll || why == "" {
		t.Fatalf("Tracking: %v %q %v", mode, why, err)
	}
	rd := bufio.NewReader(conn)
	if got := respGet(t, conn, rd, "SET", "greeting", "hello world"); got != "+OK\r\n" {
		t.Fatalf("SET: %q", got)
	}
	want := "$11\r\nhello world\r\n"
	warm := false
	for i := 0; i < 200 && !warm; i++ {
		before := redis.getCalls(t)
		if got := respGet(t, conn, rd, "GET", "greeting"); got != want {
			t.Fatalf("GET: %q", got)
		}
		warm = redis.getCalls(t) == before
		time.Sleep(10 * time.Millisecond)
	}
	if !warm {
		t.Fatal("greeting was never served from the kernel")
	}
	s0, calls := mustStats(t, cache), redis.getCalls(t)
	for i := 0; i < 10; i++ {
		if got := respGet(t, conn, rd, "GET", "greeting"); got != want {
			t.Fatalf("GET: %q", got)
		}
	}
	if s1 := mustStats(t, cache); redis.getCalls(t) != calls || s1.Hits-s0.Hits < 10 {
		t.Errorf("10 GETs: Redis saw %d, kernel hits %d -> %d", redis.getCalls(t)-calls, s0.Hits, s1.Hits)
	}
	redis.cli(t, "SET", "greeting", "changed")
	if got := respGet(t, conn, rd, "GET", "greeting"); got != "$7\r\nchanged\r\n" {
		t.Errorf("GET after a foreign SET: %q", got)
	}
	flushAndDetach(t, cache)
}

func mustStats(t *testing.T, c *RedisCache) RedisCacheStats {
	s, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRedisCacheBadOptions(t *testing.T) {
	requireRoot(t, "BPF")
	_, err := OpenRedisCache(RedisCacheOpts{CgroupPath: "/nonexistent"})
	var e *Error
	if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &e) || !strings.Contains(e.Warning, "ports") {
		t.Errorf("no ports: %v", err)
	}
}

func TestRedisCacheFindsTheCgroup(t *testing.T) {
	requireRoot(t, "netns, cgroup and BPF")
	requirePrograms(t, "redis-server", "redis-cli", "ip")
	ns, cg := newNetns(t), newCgroup(t)
	redis := startRedis(t, ns, cg)

	var found string
	var err, missing error
	var cache *RedisCache
	inNetns(t, ns, func() {
		found, err = RedisFindCgroup(uint16(redis.port), 0)
		_, missing = RedisFindCgroup(uint16(redis.port+1), 0)
		if err == nil {
			cache, err = OpenRedisCache(RedisCacheOpts{Ports: []uint16{uint16(redis.port)}, DiscoverCgroup: true})
		}
		if err == nil {
			err = cache.Attach()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	if want, _ := filepath.EvalSymlinks(cg); found != want && found != cg {
		t.Errorf("RedisFindCgroup: %q, want %q", found, cg)
	}
	if !errors.Is(missing, syscall.ENOENT) {
		t.Errorf("RedisFindCgroup of a port nobody listens on: %v", missing)
	}
	if !cache.Serving() {
		t.Error("not serving after Attach with DiscoverCgroup")
	}
	if now, err := cache.Cgroup(); err != nil || now != found {
		t.Errorf("Cgroup: %q, %v; want %q", now, err, found)
	}
	var info RedisCacheInfo
	inNetns(t, ns, func() { info, err = cache.Info() }) // the listener is seen from its netns
	pid := -1
	for _, line := range strings.Split(redis.cli(t, "INFO", "server"), "\n") {
		if strings.HasPrefix(line, "process_id:") {
			pid, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "process_id:")))
		}
	}
	// the default, automatic: either mode
	if err != nil || !info.TrackingOK || (info.Tracking != RedisTrackAll && info.Tracking != RedisTrackKeys) ||
		info.CapacitySmall != 65536 ||
		info.CapacityLarge != 4096 || info.MemoryBytes == 0 || info.CgroupID == 0 || info.EntriesSmall != 0 ||
		info.ServerPid != pid {
		t.Errorf("Info: %+v, %v (redis-server pid %d)", info, err, pid)
	}
	// without the walk of the maps: the same but the entries
	var brief RedisCacheInfo
	var spid int
	inNetns(t, ns, func() { brief, err = cache.InfoOpts(false); spid, _ = cache.ServerPid() })
	if err != nil || brief.ServerPid != pid || spid != pid || brief.MemoryBytes != info.MemoryBytes ||
		brief.EntriesSmall != 0 || brief.EntriesStale != 0 || !brief.TrackingOK {
		t.Errorf("InfoOpts(false): %+v, %v; ServerPid %d (redis-server pid %d)", brief, err, spid, pid)
	}
}

// An open fails exactly when the probe says the cache's object does not
// load on this kernel, and then says which program and why, as the probe
// does (a verifier refusal is EBPFACCEL_ERR_VERIFY).
func TestOpenRedisCacheAgreesWithTheProbe(t *testing.T) {
	requireRoot(t, "BPF")
	p, err := NewProbe(nil)
	if err != nil {
		t.Fatal(err)
	}
	loads, err := p.Supported(FeatRedisCache)
	if err != nil {
		t.Fatal(err)
	}
	reason, _ := p.Reason(FeatRedisCache)
	p.Close()
	rc, err := OpenRedisCache(RedisCacheOpts{Ports: []uint16{6379}, CgroupPath: newCgroup(t)})
	if loads {
		if err != nil {
			t.Fatalf("the probe says the cache loads, open says %v", err)
		}
		rc.Close()
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Load == nil || e.Load.Reason != reason {
		t.Fatalf("the probe says %q, open says %v (%+v)", reason, err, e)
	}
	if e.Load.Verifier && (e.Errno != ErrVerify || e.Load.Program == "" ||
		!strings.Contains(e.Load.Reason, "BPF program "+e.Load.Program+" refused by the kernel's verifier: ")) {
		t.Errorf("verifier refusal: %+v, %+v", e, e.Load)
	}
	t.Logf("this kernel: %s", e.Load.Reason)
}

func TestRedisCacheXDPNeedsAnInterface(t *testing.T) {
	requireRoot(t, "BPF")
	_, err := OpenRedisCache(RedisCacheOpts{Ports: []uint16{6379}, CgroupPath: "/sys/fs/cgroup",
		Mode: RedisCacheXDP})
	var e *Error
	if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &e) || !strings.Contains(e.Warning, "interface") {
		t.Errorf("XDP without an interface: %v", err)
	}
	_, err = OpenRedisCache(RedisCacheOpts{Ports: []uint16{6379}, CgroupPath: "/sys/fs/cgroup",
		Mode: RedisCacheMode(9)})
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("unknown mode: %v", err)
	}
}
