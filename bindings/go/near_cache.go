// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// This file belongs to include/ebpfaccel/near_cache.h (see comp.go).

//go:build ebpfaccel_near_cache

package ebpfaccel

/*
#include <stdlib.h>
#include "cgo_helpers.h"
*/
import "C"

import "unsafe"

// NearCacheOpts are the options of OpenNearCache
// (struct ebpfaccel_near_cache_opts); zero fields take the defaults.
type NearCacheOpts struct {
	Servers         []string // addresses of ONE Redis server: "ipv4:port", "[ipv6]:port"
	CgroupPath      string   // cgroup v2 directory of the client processes ...
	CgroupFD        int      // ... or an fd of it (used when > 0), kept open by the caller
	MaxStalenessMs  uint32   // default 1000
	MaxEntries      uint32
	MaxLargeEntries uint32
	MaxValueSize    uint32
	Prefixes        []string // only keys with these prefixes are cached (none: all)
	RedisUser       string
	RedisPassword   string
}

// NearCacheStats are the near cache's counters (struct ebpfaccel_near_cache_stats).
type NearCacheStats struct {
	Hits, Misses, Fills, FillRaces, Invalidations, Flushes, Expired    uint64
	BypassState, BypassSize, BypassBad, Requests, Replies, Connections uint64
	Confirms                                                           uint64
}

// NearCache answers GET hits of a cgroup's Redis clients on their own host.
type NearCache struct {
	nc *C.struct_ebpfaccel_near_cache
}

// OpenNearCache loads the near cache's programs and maps (not attached yet).
// Needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN.
func OpenNearCache(o NearCacheOpts) (*NearCache, error) {
	var allocs []unsafe.Pointer
	defer func() {
		for _, p := range allocs {
			C.free(p)
		}
	}()
	// C memory throughout: the options hold pointers the library reads.
	opts := (*C.struct_ebpfaccel_near_cache_opts)(C.calloc(1, C.sizeof_struct_ebpfaccel_near_cache_opts))
	allocs = append(allocs, unsafe.Pointer(opts))
	opts.sz = C.sizeof_struct_ebpfaccel_near_cache_opts
	opts.servers = cStrings(o.Servers, &allocs)
	opts.nr_servers = C.size_t(len(o.Servers))
	opts.prefixes = cStrings(o.Prefixes, &allocs)
	opts.nr_prefixes = C.size_t(len(o.Prefixes))
	opts.cgroup_path = cString(o.CgroupPath, &allocs)
	opts.cgroup_fd = C.int(o.CgroupFD)
	opts.max_staleness_ms = C.__u32(o.MaxStalenessMs)
	opts.max_entries = C.__u32(o.MaxEntries)
	opts.max_large_entries = C.__u32(o.MaxLargeEntries)
	opts.max_value_size = C.__u32(o.MaxValueSize)
	opts.redis_user = cString(o.RedisUser, &allocs)
	opts.redis_password = cString(o.RedisPassword, &allocs)
	opts.load_error = newLoadError()
	allocs = append(allocs, unsafe.Pointer(opts.load_error))

	nc, err := callPtr("ebpfaccel_near_cache__open", func() (*C.struct_ebpfaccel_near_cache, error) {
		ptr, errno := C.ebpfaccel_near_cache__open(opts)
		return ptr, errno
	})
	if err != nil {
		return nil, withLoadError(err, opts.load_error)
	}
	return &NearCache{nc: nc}, nil
}

// Attach accelerates the cgroup's connections to the server opened from now
// on. The library's connections are made from the netns of the calling OS
// thread.
func (c *NearCache) Attach() error {
	_, err := callInt("ebpfaccel_near_cache__attach", func() C.int { return C.ebpfaccel_near_cache__attach(c.nc) })
	return err
}

// Detach stops answering locally; the clients keep working.
func (c *NearCache) Detach() error {
	_, err := callInt("ebpfaccel_near_cache__detach", func() C.int { return C.ebpfaccel_near_cache__detach(c.nc) })
	return err
}

// Flush invalidates every cached value at once.
func (c *NearCache) Flush() error {
	_, err := callInt("ebpfaccel_near_cache__flush", func() C.int { return C.ebpfaccel_near_cache__flush(c.nc) })
	return err
}

// Serving says whether GETs are answered on this host right now.
func (c *NearCache) Serving() bool {
	ret, err := callInt("ebpfaccel_near_cache__serving", func() C.int { return C.ebpfaccel_near_cache__serving(c.nc) })
	return err == nil && ret == 1
}

// Stats reads the counters, summed over CPUs.
func (c *NearCache) Stats() (NearCacheStats, error) {
	var s C.struct_ebpfaccel_near_cache_stats
	_, err := callInt("ebpfaccel_near_cache__stats", func() C.int {
		return C.ebpfaccel_near_cache__stats(c.nc, &s, C.sizeof_struct_ebpfaccel_near_cache_stats)
	})
	return NearCacheStats{
		uint64(s.hits), uint64(s.misses), uint64(s.fills), uint64(s.fill_races),
		uint64(s.invalidations), uint64(s.flushes), uint64(s.expired), uint64(s.bypass_state),
		uint64(s.bypass_size), uint64(s.bypass_bad), uint64(s.requests), uint64(s.replies),
		uint64(s.connections), uint64(s.confirms),
	}, err
}

// Close detaches (if attached), unloads and frees; again does nothing.
func (c *NearCache) Close() error {
	C.ebpfaccel_near_cache__destroy(c.nc)
	c.nc = nil
	return nil
}
