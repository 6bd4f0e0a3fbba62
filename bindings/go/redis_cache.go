// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// This file belongs to include/ebpfaccel/redis_cache.h (see comp.go).

//go:build ebpfaccel_redis_cache

package ebpfaccel

/*
#include <stdlib.h>
#include "cgo_helpers.h"
*/
import "C"

import "unsafe"

// RedisCacheOpts are the options of OpenRedisCache
// (struct ebpfaccel_redis_cache_opts); zero fields take the defaults.
type RedisCacheOpts struct {
	Ports           []uint16 // TCP ports redis-server listens on (1..16)
	CgroupPath      string   // cgroup v2 directory of redis-server's connections ...
	CgroupFD        int      // ... or an fd of it (used when > 0), kept open by the caller ...
	DiscoverCgroup  bool     // ... or found from the listener on Ports[0] (see RedisFindCgroup)
	Pid             int      // with DiscoverCgroup: the listener's process (0: any)
	MaxEntries      uint32
	MaxLargeEntries uint32
	MaxValueSize    uint32
	RedisHost       string // default "127.0.0.1"
	RedisUser       string
	RedisPassword   string
	// Tracking is RedisTrackDefault (automatic), RedisTrackKeys,
	// RedisTrackAuto or RedisTrackBcast (enum ebpfaccel_redis_tracking).
	Tracking RedisTracking
	Mode     RedisCacheMode
	Ifname   string // XDP mode: the interface clients reach redis-server through ...
	Ifindex  int    // ... or its index (used when > 0)
}

// RedisTracking says how the cache hears of writes its programs do not see
// (enum ebpfaccel_redis_tracking; docs/redis-cache.md).
type RedisTracking int

const (
	// RedisTrackDefault (the zero value): automatic tracking.
	RedisTrackDefault RedisTracking = C.EBPFACCEL_REDIS_TRACK_DEFAULT
	// RedisTrackAll: in effect, Redis pushes every write (BCAST). As an
	// option it is the zero value, RedisTrackDefault.
	RedisTrackAll RedisTracking = C.EBPFACCEL_REDIS_TRACK_ALL
	// RedisTrackKeys: Redis tracks only the keys the cache holds (writes
	// at plain cost, a microsecond window for writes the cache does not see).
	RedisTrackKeys RedisTracking = C.EBPFACCEL_REDIS_TRACK_KEYS
	// RedisTrackAuto: per-key while no write path the programs do not
	// see exists, broadcast otherwise (see Tracking).
	RedisTrackAuto RedisTracking = C.EBPFACCEL_REDIS_TRACK_AUTO
	// RedisTrackBcast: broadcast tracking always, whatever the server.
	RedisTrackBcast RedisTracking = C.EBPFACCEL_REDIS_TRACK_BCAST
)

// RedisCacheMode is where GET hits are answered (enum ebpfaccel_redis_cache_mode).
type RedisCacheMode int

const (
	// RedisCacheSockmap answers on redis-server's sockets (the default).
	RedisCacheSockmap RedisCacheMode = C.EBPFACCEL_REDIS_CACHE_SOCKMAP
	// RedisCacheXDP also answers in XDP on Ifname, before the TCP stack.
	RedisCacheXDP RedisCacheMode = C.EBPFACCEL_REDIS_CACHE_XDP
	// RedisCacheAuto is XDP when an interface is given and XDP works there.
	RedisCacheAuto RedisCacheMode = C.EBPFACCEL_REDIS_CACHE_AUTO
)

// RedisCacheStats are the cache's counters (struct ebpfaccel_redis_cache_stats).
type RedisCacheStats struct {
	Hits, HitBatches, Misses, Fills, FillRaces, Invalidations, PushInvalidations uint64
	Flushes, BypassState, BypassMixed, BypassSize, BypassBad, Requests, Replies  uint64
	Confirms                                                                     uint64
	// Readmits counts sends of replies that failed half-way after which
	// the connection stayed in step (answered again once idle, where it
	// used to be given up).
	Readmits uint64
	// XDP mode only: GETs answered in XDP (also in Hits), answers sent again,
	// hits passed to carry an ACK, untranslatable segments dropped,
	// connections taken in.
	XDPHits, XDPRetransmits, XDPAckPasses, XDPDrops, XDPConns uint64
}

// RedisCacheInfo is what the cache holds and its coherence state
// (struct ebpfaccel_redis_cache_info), counted when asked.
type RedisCacheInfo struct {
	EntriesSmall, EntriesLarge, EntriesStale uint64 // current generation by size class; older ones
	CapacitySmall, CapacityLarge             uint64
	MemoryBytes                              uint64 // kernel memory of the maps (preallocated)
	Reconnects                               uint64 // coherence regained after a loss
	CgroupID                                 uint64 // the cgroup attached to now
	Tracking                                 RedisTracking
	TrackingOK                               bool // Redis' invalidation stream is live
	ServerPid                                int  // the process listening on Ports[0] now (0: none)
}

// RedisCache answers GETs of a redis-server from the kernel.
type RedisCache struct {
	rc *C.struct_ebpfaccel_redis_cache
}

// RedisFindCgroup returns the cgroup v2 directory the connections of the TCP
// socket listening on port belong to (in the calling OS thread's netns; held
// by process pid when pid > 0): where a running redis-server's cache
// attaches. Linux >= 5.7.
func RedisFindCgroup(port uint16, pid int) (string, error) {
	buf := make([]byte, 4096)
	_, err := callInt("ebpfaccel_redis_cache__find_cgroup", func() C.int {
		return C.ebpfaccel_redis_cache__find_cgroup(C.__u16(port), C.int(pid),
			(*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	})
	if err != nil {
		return "", err
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), nil
}

// OpenRedisCache loads the cache's programs and maps (not attached yet).
// Needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN.  When the kernel refuses
// a program, the *Error's Load says which and why.
func OpenRedisCache(o RedisCacheOpts) (*RedisCache, error) {
	var allocs []unsafe.Pointer
	defer func() {
		for _, p := range allocs {
			C.free(p)
		}
	}()
	// C memory throughout: the options hold pointers the library reads.
	opts := (*C.struct_ebpfaccel_redis_cache_opts)(C.calloc(1, C.sizeof_struct_ebpfaccel_redis_cache_opts))
	allocs = append(allocs, unsafe.Pointer(opts))
	opts.sz = C.sizeof_struct_ebpfaccel_redis_cache_opts
	if len(o.Ports) > 0 {
		ports := (*[1 << 16]C.__u16)(C.calloc(C.size_t(len(o.Ports)), 2))
		allocs = append(allocs, unsafe.Pointer(ports))
		for i, p := range o.Ports {
			ports[i] = C.__u16(p)
		}
		opts.ports = &ports[0]
	}
	opts.nr_ports = C.size_t(len(o.Ports))
	opts.cgroup_path = cString(o.CgroupPath, &allocs)
	opts.cgroup_fd = C.int(o.CgroupFD)
	opts.max_entries = C.__u32(o.MaxEntries)
	opts.max_large_entries = C.__u32(o.MaxLargeEntries)
	opts.max_value_size = C.__u32(o.MaxValueSize)
	opts.redis_host = cString(o.RedisHost, &allocs)
	opts.redis_user = cString(o.RedisUser, &allocs)
	opts.redis_password = cString(o.RedisPassword, &allocs)
	opts.tracking = C.int(o.Tracking)
	opts.discover_cgroup = C.bool(o.DiscoverCgroup)
	opts.pid = C.int(o.Pid)
	opts.load_error = newLoadError()
	allocs = append(allocs, unsafe.Pointer(opts.load_error))
	opts.mode = C.int(o.Mode)
	opts.ifname = cString(o.Ifname, &allocs)
	opts.ifindex = C.int(o.Ifindex)

	rc, err := callPtr("ebpfaccel_redis_cache__open", func() (*C.struct_ebpfaccel_redis_cache, error) {
		ptr, errno := C.ebpfaccel_redis_cache__open(opts)
		return ptr, errno
	})
	if err != nil {
		return nil, withLoadError(err, opts.load_error)
	}
	return &RedisCache{rc: rc}, nil
}

// Attach serves redis-server connections accepted from now on.  The
// coherence connection is opened from the netns of the calling OS thread.
func (c *RedisCache) Attach() error {
	_, err := callInt("ebpfaccel_redis_cache__attach", func() C.int { return C.ebpfaccel_redis_cache__attach(c.rc) })
	return err
}

// Detach stops answering and detaches the programs; Redis keeps working.
func (c *RedisCache) Detach() error {
	_, err := callInt("ebpfaccel_redis_cache__detach", func() C.int { return C.ebpfaccel_redis_cache__detach(c.rc) })
	return err
}

// Flush invalidates every cached value at once.
func (c *RedisCache) Flush() error {
	_, err := callInt("ebpfaccel_redis_cache__flush", func() C.int { return C.ebpfaccel_redis_cache__flush(c.rc) })
	return err
}

// Serving says whether the kernel answers GETs right now.
func (c *RedisCache) Serving() bool {
	ret, err := callInt("ebpfaccel_redis_cache__serving", func() C.int { return C.ebpfaccel_redis_cache__serving(c.rc) })
	return err == nil && ret == 1
}

// Tracking returns the tracking in effect (RedisTrackAll or RedisTrackKeys)
// and why it was chosen; with RedisTrackAuto it follows the server.
func (c *RedisCache) Tracking() (RedisTracking, string, error) {
	buf := make([]byte, 256)
	ret, err := callInt("ebpfaccel_redis_cache__tracking", func() C.int {
		return C.ebpfaccel_redis_cache__tracking(c.rc,
			(*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	})
	if err != nil {
		return 0, "", err
	}
	return RedisTracking(ret), C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), nil
}

// Stats reads the counters, summed over CPUs.
func (c *RedisCache) Stats() (RedisCacheStats, error) {
	var s C.struct_ebpfaccel_redis_cache_stats
	_, err := callInt("ebpfaccel_redis_cache__stats", func() C.int {
		return C.ebpfaccel_redis_cache__stats(c.rc, &s, C.sizeof_struct_ebpfaccel_redis_cache_stats)
	})
	return RedisCacheStats{
		uint64(s.hits), uint64(s.hit_batches), uint64(s.misses), uint64(s.fills), uint64(s.fill_races),
		uint64(s.invalidations), uint64(s.push_invalidations), uint64(s.flushes), uint64(s.bypass_state),
		uint64(s.bypass_mixed), uint64(s.bypass_size), uint64(s.bypass_bad), uint64(s.requests),
		uint64(s.replies), uint64(s.confirms), uint64(s.readmits), uint64(s.xdp_hits),
		uint64(s.xdp_retransmits), uint64(s.xdp_ack_passes), uint64(s.xdp_drops), uint64(s.xdp_conns),
	}, err
}

// Info counts what the cache holds (a bounded walk of its maps) and reads
// its coherence state.
func (c *RedisCache) Info() (RedisCacheInfo, error) {
	var s C.struct_ebpfaccel_redis_cache_info
	_, err := callInt("ebpfaccel_redis_cache__info", func() C.int {
		return C.ebpfaccel_redis_cache__info(c.rc, &s, C.sizeof_struct_ebpfaccel_redis_cache_info)
	})
	return redisCacheInfo(&s), err
}

// InfoOpts is Info, the entries counted only when entries is true (the
// walk of the maps); otherwise they read 0 and nothing is walked.
func (c *RedisCache) InfoOpts(entries bool) (RedisCacheInfo, error) {
	var s C.struct_ebpfaccel_redis_cache_info
	opts := C.struct_ebpfaccel_redis_cache_info_opts{
		sz: C.sizeof_struct_ebpfaccel_redis_cache_info_opts, entries: C.bool(entries),
	}
	_, err := callInt("ebpfaccel_redis_cache__info_opts", func() C.int {
		return C.ebpfaccel_redis_cache__info_opts(c.rc, &s, C.sizeof_struct_ebpfaccel_redis_cache_info, &opts)
	})
	return redisCacheInfo(&s), err
}

// ServerPid is the process listening on the first port now (the calling
// thread's netns), 0 while none does.
func (c *RedisCache) ServerPid() (int, error) {
	ret, err := callInt("ebpfaccel_redis_cache__server_pid", func() C.int {
		return C.ebpfaccel_redis_cache__server_pid(c.rc)
	})
	return int(ret), err
}

func redisCacheInfo(s *C.struct_ebpfaccel_redis_cache_info) RedisCacheInfo {
	return RedisCacheInfo{
		uint64(s.entries_small), uint64(s.entries_large), uint64(s.entries_stale),
		uint64(s.capacity_small), uint64(s.capacity_large), uint64(s.memory_bytes),
		uint64(s.reconnects), uint64(s.cgroup_id), RedisTracking(s.tracking), s.tracking_ok != 0,
		int(s.server_pid),
	}
}

// Cgroup is the cgroup v2 directory the programs are attached to now (a
// cache with DiscoverCgroup follows a server restarted in another cgroup).
func (c *RedisCache) Cgroup() (string, error) {
	buf := make([]byte, 4096)
	_, err := callInt("ebpfaccel_redis_cache__cgroup", func() C.int {
		return C.ebpfaccel_redis_cache__cgroup(c.rc, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	})
	if err != nil {
		return "", err
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), nil
}

// Close detaches (if attached), unloads and frees; again does nothing.
func (c *RedisCache) Close() error {
	C.ebpfaccel_redis_cache__destroy(c.rc)
	c.rc = nil
	return nil
}
