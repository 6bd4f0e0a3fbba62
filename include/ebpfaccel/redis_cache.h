/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/**
 * @file redis_cache.h
 * @brief In-kernel cache answering Redis GETs of a redis-server you run.
 *
 * BPF programs on redis-server's sockets answer GETs of cached keys in the
 * kernel and pass everything else to Redis unchanged. The cache fills itself
 * from Redis' replies to GETs, and stays coherent through the writes it sees
 * and through Redis' own client-tracking invalidations, received on a
 * connection the library owns. See docs/redis-cache.md for the guarantees.
 *
 * @code
 * __u16 ports[] = { 6379 };
 * LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_opts, opts,
 *         .ports = ports, .nr_ports = 1,
 *         .cgroup_path = "/sys/fs/cgroup/redis");
 * struct ebpfaccel_redis_cache *rc = ebpfaccel_redis_cache__open(&opts);
 * if (!rc || ebpfaccel_redis_cache__attach(rc))
 *         err(1, "redis cache");
 * ...
 * ebpfaccel_redis_cache__destroy(rc);   // detaches; Redis keeps running
 * @endcode
 */
#ifndef EBPFACCEL_REDIS_CACHE_H
#define EBPFACCEL_REDIS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <ebpfaccel/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An in-kernel Redis GET cache (opaque). */
struct ebpfaccel_redis_cache;

/**
 * How the library hears of writes the programs do not see (unix socket,
 * other ports, scripts, expiry, replication). Writes on accelerated
 * connections invalidate in the kernel before Redis runs them in both.
 */
enum ebpfaccel_redis_tracking {
	/** As an option (0, what zeroed opts hold): the default, automatic
	 *  tracking (EBPFACCEL_REDIS_TRACK_AUTO). Earlier builds took 0 as
	 *  broadcast tracking always (now EBPFACCEL_REDIS_TRACK_BCAST), which
	 *  is no safer: automatic tracking is broadcast
	 *  whenever a write path the programs do not see exists, and costs a
	 *  write of an uncached key nothing otherwise. */
	EBPFACCEL_REDIS_TRACK_DEFAULT = 0,
	/** In effect (ebpfaccel_redis_cache__tracking(),
	 *  ebpfaccel_redis_cache_stats.tracking): broadcast tracking. Redis
	 *  pushes every write of every key before it writes the writer's
	 *  reply, so no GET reaching the kernel after any client saw a
	 *  write's reply gets the value from before it. Costs Redis a push
	 *  per write (docs/redis-cache.md). As an option it is 0: the
	 *  default, see EBPFACCEL_REDIS_TRACK_DEFAULT. */
	EBPFACCEL_REDIS_TRACK_ALL = 0,
	/** Redis tracks only the keys the cache holds (opt-in): a write of
	 *  any other key costs Redis nothing. The invalidation of a write
	 *  the programs do not see (unix socket, other ports, scripts run by
	 *  other clients) is written by Redis in the same event-loop turn as
	 *  the writer's reply, but after it: a GET reaching the kernel in
	 *  those microseconds can still get the value that write replaced
	 *  (never an older one); docs/redis-cache.md. */
	EBPFACCEL_REDIS_TRACK_KEYS = 1,
	/** Per-key tracking while the library has established that Redis
	 *  has no write path the programs do not see (no unix socket, TLS
	 *  or other port, no evicting maxmemory policy, no master link,
	 *  modules or cluster, every listener in the cgroup, every client a
	 *  connection the programs hold), broadcast tracking otherwise;
	 *  re-checked every second, on reconnect, and at once when the
	 *  programs see a reconfiguring command (CONFIG SET, REPLICAOF,
	 *  MODULE, ...). See ebpfaccel_redis_cache__tracking() for the mode
	 *  in effect and why. A write Redis runs later than it arrives
	 *  (CLIENT PAUSE WRITE, deep pipelines) keeps its key from being
	 *  filled until Redis wrote its reply; a connection whose writes
	 *  cannot be tied to their replies (pushes, more than 16 requests
	 *  in flight) keeps it broadcast while it lives
	 *  (docs/redis-cache.md, "Automatic tracking"). */
	EBPFACCEL_REDIS_TRACK_AUTO = 2,
	/** Broadcast tracking always, whatever the server (an option only;
	 *  in effect it shows as EBPFACCEL_REDIS_TRACK_ALL). */
	EBPFACCEL_REDIS_TRACK_BCAST = 3,
};

/** Where GET hits are answered (see docs/redis-cache.md). */
enum ebpfaccel_redis_cache_mode {
	/** On redis-server's sockets (sockmap); the default. */
	EBPFACCEL_REDIS_CACHE_SOCKMAP = 0,
	/** Before the TCP stack, in XDP on the interface the clients reach
	 *  redis-server through (ifname or ifindex), with the server's TCP
	 *  sequence numbers translated per connection; everything XDP does not
	 *  answer goes through the sockmap path. */
	EBPFACCEL_REDIS_CACHE_XDP = 1,
	/** XDP when an interface is given and XDP can be used there, else
	 *  sockmap. */
	EBPFACCEL_REDIS_CACHE_AUTO = 2,
};

/** Options for ebpfaccel_redis_cache__open(). */
struct ebpfaccel_redis_cache_opts {
	/** sizeof(struct ebpfaccel_redis_cache_opts); use LIBEBPFACCEL_OPTS(). */
	size_t sz;
	/** TCP ports redis-server listens on (required, at most 16). */
	const __u16 *ports;
	/** Number of entries in @ref ports. */
	size_t nr_ports;
	/** cgroup v2 directory redis-server's connections belong to (the
	 *  cgroup its listening socket was created in); the programs are
	 *  attached there (never attach to the root cgroup of a shared
	 *  machine). Or see @ref discover_cgroup. */
	const char *cgroup_path;
	/** Alternatively an open fd of that cgroup (used when > 0). */
	int cgroup_fd;
	/** Entries of the small value class (values up to 128 bytes);
	 *  default 65536. */
	__u32 max_entries;
	/** Entries of the large value class; default 4096. */
	__u32 max_large_entries;
	/** Largest value cached, at most 4096 (default). */
	__u32 max_value_size;
	/** Address of redis-server for the library's coherence connection,
	 *  an IPv4 or IPv6 literal reached from the netns of the thread that
	 *  calls attach; default "127.0.0.1". Its port is ports[0]. */
	const char *redis_host;
	/** ACL user for the coherence connection (default: none). */
	const char *redis_user;
	/** Password for the coherence connection when redis-server has
	 *  requirepass or ACL users. Client connections never need it: each
	 *  is answered from the kernel only once Redis let it read, whatever
	 *  this says (see ebpfaccel_redis_cache__attach()). */
	const char *redis_password;
	/** enum ebpfaccel_redis_tracking; default (0) automatic tracking,
	 *  EBPFACCEL_REDIS_TRACK_BCAST for broadcast tracking always (see
	 *  docs/redis-cache.md). */
	int tracking;
	/** With no cgroup given: find it at open from the TCP socket
	 *  listening on ports[0] in the calling thread's netns, as
	 *  ebpfaccel_redis_cache__find_cgroup() does (for a redis-server
	 *  already running, e.g. as a service or in a container). A server
	 *  restarted later on that port in another cgroup is followed: the
	 *  programs move to the new listener's cgroup when the library
	 *  reconnects. */
	bool discover_cgroup;
	/** With @ref discover_cgroup: the listener must be held by this
	 *  process (0: any). */
	int pid;
	/** Filled when open fails: which BPF program the kernel refused and
	 *  why (optional). */
	struct ebpfaccel_load_error *load_error;
	/** enum ebpfaccel_redis_cache_mode. */
	int mode;
	/** XDP mode: the interface, in the netns of the thread that calls
	 *  attach, where clients' segments to redis-server arrive and its
	 *  replies leave (an XDP program and a tc egress filter go there). */
	const char *ifname;
	/** Alternatively its index (used when > 0). */
	int ifindex;
	size_t :0;
};
#define ebpfaccel_redis_cache_opts__last_field ifindex

/** Counters summed over CPUs since open. */
struct ebpfaccel_redis_cache_stats {
	__u64 hits;		/**< GETs answered by the kernel */
	__u64 hit_batches;	/**< segments answered by the kernel */
	__u64 misses;		/**< GETs passed to Redis with a fill expected */
	__u64 fills;		/**< values stored from GET replies */
	__u64 fill_races;	/**< fills dropped: the key changed meanwhile */
	__u64 invalidations;	/**< keys invalidated by writes seen */
	__u64 push_invalidations; /**< keys invalidated by Redis tracking */
	__u64 flushes;		/**< whole-cache invalidations */
	__u64 bypass_state;	/**< GETs passed: replies owed, MULTI, auth, SELECT */
	__u64 bypass_mixed;	/**< GETs passed in a segment holding a miss or another command */
	__u64 bypass_size;	/**< values too large for the cache */
	__u64 bypass_bad;	/**< streams not understood (malformed, inline) */
	__u64 requests;		/**< requests passed to Redis */
	__u64 replies;		/**< replies Redis wrote */
	__u64 sets;		/**< SETs of keys read from the cache, read back after +OK */
	__u64 confirms;		/**< fills confirmed as having no TTL */
	/** Sends of Redis' replies that failed half-way (a reply larger than
	 *  the send buffer's room) after which the connection stayed in step:
	 *  it is answered by the kernel again once idle, where it used to be
	 *  given up (bypass_bad). */
	__u64 readmits;
	/* XDP mode only (0 otherwise); @ref hits includes xdp_hits */
	__u64 xdp_hits;		/**< GETs answered in XDP */
	__u64 xdp_retransmits;	/**< answers sent again for a client's retransmitted request */
	__u64 xdp_ack_passes;	/**< hits passed to Redis to carry an ACK kept from it (rule 8) */
	__u64 xdp_drops;	/**< segments dropped: not translatable (the client sends them again) */
	__u64 xdp_conns;	/**< connections taken in by the XDP programs */
};

/**
 * What a cache holds and how it stays coherent, read when asked
 * (ebpfaccel_redis_cache__info()).
 */
struct ebpfaccel_redis_cache_info {
	__u64 entries_small;	/**< values up to 128 B of the current generation */
	__u64 entries_large;	/**< values up to 4096 B of the current generation */
	__u64 entries_stale;	/**< entries of older generations (a flush, a
				     lost tracking stream): never served, their
				     slots reused by the LRU maps */
	__u64 capacity_small;	/**< max_entries */
	__u64 capacity_large;	/**< max_large_entries */
	__u64 memory_bytes;	/**< kernel memory of the cache's value maps
				     (both size classes and the confirmations):
				     preallocated at open, so what they hold
				     and may hold are the same */
	__u64 reconnects;	/**< times coherence was regained after a loss
				     (Redis restarted, a connection killed),
				     each flushing the cache */
	__u64 cgroup_id;	/**< the cgroup the programs are attached to now
				     (its cgroup2 inode number) */
	__u32 tracking;		/**< enum ebpfaccel_redis_tracking in effect
				     now: _ALL or _KEYS (never _AUTO) */
	__u32 tracking_ok;	/**< 1 while Redis' invalidation stream is live */
	__u32 server_pid;	/**< the process listening on the first port now
				     (in the calling thread's netns; 0: none, e.g.
				     while Redis restarts) */
};

/**
 * Finds the cgroup v2 directory a running redis-server's connections belong
 * to: that of its TCP socket listening on @p port in the calling thread's
 * network namespace (an accepted socket takes its listener's cgroup, which
 * is where the listener was created, not necessarily where the process runs
 * now). Uses NETLINK_SOCK_DIAG's INET_DIAG_CGROUP_ID (Linux >= 5.7) and the
 * cgroup2 mount of the calling process.
 * @param port the TCP port
 * @param pid when > 0, only a listener held by this process counts
 * @param buf receives the directory, e.g. "/sys/fs/cgroup/system.slice/redis-server.service"
 * @param size size of @p buf
 * @return 0, or -errno: -ENOENT (no such listener, or its cgroup is not
 *         under the cgroup2 mount), -ENOTUNIQ (listeners on that port in
 *         different cgroups: give @p pid), -EOPNOTSUPP (kernel < 5.7),
 *         -ENAMETOOLONG, -EINVAL
 */
EBPFACCEL_API int ebpfaccel_redis_cache__find_cgroup(__u16 port, int pid, char *buf,
						     size_t size);

/**
 * Loads the cache's BPF programs and maps; nothing is attached yet.
 * @param opts options (ports and a cgroup, or discover_cgroup, are required)
 * @return a cache object, or NULL with errno set: EINVAL (bad options),
 *         EPERM (needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN),
 *         EBPFACCEL_ERR_VERIFY (the kernel's verifier refused a program),
 *         or another error of the BPF load.  A failed load is explained in
 *         one WARN line and in opts->load_error when set.
 */
EBPFACCEL_API struct ebpfaccel_redis_cache *
ebpfaccel_redis_cache__open(const struct ebpfaccel_redis_cache_opts *opts);

/**
 * Attaches the cache: redis-server connections accepted from now on (on the
 * chosen ports, in the chosen cgroup) go through it; existing connections
 * are left alone. Opens the coherence connections (one receiving Redis'
 * invalidations, one confirming fills, with CLIENT TRACKING as chosen by
 * ebpfaccel_redis_cache_opts.tracking) from the calling thread's netns and
 * starts a library thread.
 * Serving starts only once that connection is confirmed in place.
 *
 * Which connections are answered from the kernel: a connection's GETs are
 * answered only after Redis let it read, i.e. Redis answered one of its GETs
 * with a value (or nil) or accepted its AUTH as the default user, so a
 * connection's first GET always reaches Redis and one-shot clients are never
 * served by the kernel. Connections authenticated as another ACL user (AUTH
 * user pass, HELLO with arguments), subscribers, MONITOR, CLIENT
 * TRACKING/REPLY/CACHING and replicas are never answered from the kernel.
 * @return 0, or -errno: -EALREADY (attached), -ECONNREFUSED and other
 *         socket errors (Redis unreachable), -EACCES (Redis refused the
 *         credentials or tracking), -ENOTCONN (the connection is not seen
 *         by the programs: wrong port, or Redis outside the cgroup).
 */
EBPFACCEL_API int ebpfaccel_redis_cache__attach(struct ebpfaccel_redis_cache *rc);

/**
 * Stops answering from the kernel, stops taking new connections in and
 * closes the coherence connection. Redis and its connections keep working:
 * connections taken in earlier keep passing through the programs (which
 * keep tracking them, so a later attach serves them again) until they close
 * or the cache is destroyed, because taking a socket out of a sockmap drops
 * the requests the kernel queued for Redis on it.
 * @return 0 or -errno (-ENOTCONN if not attached)
 */
EBPFACCEL_API int ebpfaccel_redis_cache__detach(struct ebpfaccel_redis_cache *rc);

/**
 * Invalidates every cached value at once (O(1): a generation bump).
 * @return 0, or -EINVAL for a NULL cache
 */
EBPFACCEL_API int ebpfaccel_redis_cache__flush(struct ebpfaccel_redis_cache *rc);

/**
 * Reads the counters.
 * @param rc the cache
 * @param stats filled with the sums over CPUs
 * @param sz sizeof(*stats) as the caller knows it (fields beyond are not
 *        written)
 * @return 0 or -errno
 */
EBPFACCEL_API int ebpfaccel_redis_cache__stats(const struct ebpfaccel_redis_cache *rc,
					       struct ebpfaccel_redis_cache_stats *stats,
					       size_t sz);

/**
 * The tracking in effect: with EBPFACCEL_REDIS_TRACK_AUTO it changes as the
 * server does (see enum ebpfaccel_redis_tracking).
 * @param rc the cache
 * @param why when not NULL, receives why this tracking is in effect, e.g.
 *        "a unix socket (/run/redis.sock)" (NUL-terminated, truncated)
 * @param why_sz size of @p why
 * @return EBPFACCEL_REDIS_TRACK_ALL or EBPFACCEL_REDIS_TRACK_KEYS, or
 *         -errno: -ENOTCONN (not attached), -EINVAL
 */
EBPFACCEL_API int ebpfaccel_redis_cache__tracking(const struct ebpfaccel_redis_cache *rc,
						  char *why, size_t why_sz);

/**
 * Whether the kernel currently answers GETs (attached, coherence connection
 * live). @return 1, 0, or -EINVAL
 */
EBPFACCEL_API int ebpfaccel_redis_cache__serving(const struct ebpfaccel_redis_cache *rc);

/** Options of ebpfaccel_redis_cache__info_opts(). */
struct ebpfaccel_redis_cache_info_opts {
	size_t sz;	/**< sizeof(struct ebpfaccel_redis_cache_info_opts) */
	bool entries;	/**< count entries_small/large/stale: a walk of the
			     value maps (see ebpfaccel_redis_cache__info());
			     false leaves them 0 and costs no walk */
	size_t :0;
};
#define ebpfaccel_redis_cache_info_opts__last_field entries

/**
 * Reads what the cache holds (entries per size class, memory) and its
 * coherence state. Counting the entries walks the value maps in batches
 * (BPF_MAP_LOOKUP_BATCH): its cost grows with the entries held, about 25 ms
 * of CPU for full default-sized maps (docs/redis-cache.md, "Metrics"); call
 * it at scrape intervals, not per request, or use
 * ebpfaccel_redis_cache__info_opts() without entries for the rest.
 * @param rc the cache
 * @param out filled in
 * @param sz sizeof(*out) as the caller knows it (fields beyond are not
 *        written)
 * @return 0 or -errno
 */
EBPFACCEL_API int ebpfaccel_redis_cache__info(const struct ebpfaccel_redis_cache *rc,
					      struct ebpfaccel_redis_cache_info *out,
					      size_t sz);

/**
 * ebpfaccel_redis_cache__info(), the entries counted only when
 * @p opts asks (then the same walk); everything else costs no walk:
 * capacity and memory are the maps' own figures, the server's pid is looked
 * for among all processes only when the listener changed.
 * @param rc the cache
 * @param out filled in
 * @param sz sizeof(*out) as the caller knows it
 * @param opts NULL (no entries) or the options
 * @return 0 or -errno
 */
EBPFACCEL_API int
ebpfaccel_redis_cache__info_opts(const struct ebpfaccel_redis_cache *rc,
				 struct ebpfaccel_redis_cache_info *out, size_t sz,
				 const struct ebpfaccel_redis_cache_info_opts *opts);

/**
 * The process listening on the cache's first port now, in the calling
 * thread's network namespace (what ebpfaccel_redis_cache__info() reports as
 * server_pid). Finding it reads the descriptors of every process once per
 * listener: later calls check that the same process still holds the same
 * socket.
 * @param rc the cache
 * @return the pid, 0 when nothing listens (Redis restarting), or -errno
 */
EBPFACCEL_API int ebpfaccel_redis_cache__server_pid(const struct ebpfaccel_redis_cache *rc);

/**
 * The cgroup v2 directory the programs are attached to now. A cache whose
 * cgroup was found from the listener (discover_cgroup) follows redis-server
 * when it is restarted in another cgroup: this says where it is now.
 * @param rc the cache
 * @param buf receives the path, e.g. "/sys/fs/cgroup/system.slice/redis-server.service"
 * @param size size of @p buf
 * @return 0, or -errno: -ENAMETOOLONG, -EINVAL
 */
EBPFACCEL_API int ebpfaccel_redis_cache__cgroup(const struct ebpfaccel_redis_cache *rc,
						char *buf, size_t size);

/**
 * Detaches if attached, waits briefly for queued requests to be read, takes
 * every socket out of the programs and frees everything. A request arriving
 * on an accelerated connection in that instant can be lost (kernel
 * limitation, see docs/redis-cache.md): destroy when traffic is quiet, or
 * detach and keep the object until those connections close. NULL is a no-op.
 */
EBPFACCEL_API void ebpfaccel_redis_cache__destroy(struct ebpfaccel_redis_cache *rc);

#ifdef __cplusplus
}
#endif

#endif /* EBPFACCEL_REDIS_CACHE_H */
