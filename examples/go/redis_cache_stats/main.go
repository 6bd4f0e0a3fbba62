// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// redis_cache_stats attaches the in-kernel cache to a local redis-server
// and prints its counters every second (the Go version of
// redis_cache_stats.py):
//
//	redis_cache_stats -port 6379 -cgroup /sys/fs/cgroup/unified/redis
//
// redis-server must run in that cgroup v2 (a child, never the root cgroup of
// a shared machine) and listen on the port on 127.0.0.1; run as root.
// Connections accepted after the attach are served; Ctrl-C detaches.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"ebpfaccel"
)

func main() {
	port := flag.Uint("port", 6379, "redis-server's TCP port")
	cgroup := flag.String("cgroup", "", "cgroup v2 directory of redis-server (required)")
	password := flag.String("password", "", "redis-server's requirepass")
	seconds := flag.Int("seconds", 0, "stop after this long (0: never)")
	flag.Parse()

	cache, err := ebpfaccel.OpenRedisCache(ebpfaccel.RedisCacheOpts{
		Ports: []uint16{uint16(*port)}, CgroupPath: *cgroup, RedisPassword: *password,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "redis_cache_stats: %v\n", err)
		os.Exit(1)
	}
	defer cache.Close()
	if err := cache.Attach(); err != nil {
		fmt.Fprintf(os.Stderr, "redis_cache_stats: %v\n", err)
		os.Exit(1)
	}
	defer cache.Detach()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	var deadline <-chan time.Time
	if *seconds > 0 {
		deadline = time.After(time.Duration(*seconds) * time.Second)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	fmt.Printf("%13s  %13s  %13s  %13s  %13s\n", "hits", "misses", "fills", "invalidations", "bypass_state")
	for {
		select {
		case <-stop:
			return
		case <-deadline:
			return
		case <-tick.C:
			st, err := cache.Stats()
			if err != nil {
				fmt.Fprintf(os.Stderr, "redis_cache_stats: %v\n", err)
				return
			}
			fmt.Printf("%13d  %13d  %13d  %13d  %13d\n", st.Hits, st.Misses, st.Fills, st.Invalidations, st.BypassState)
		}
	}
}
