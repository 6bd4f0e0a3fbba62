/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/**
 * @file near_cache.h
 * @brief Redis GET hits answered on the client's own host, for unmodified
 * clients.
 *
 * BPF programs on the client processes' connections to one Redis server
 * answer a GET of a cached key without sending it: the reply is put in the
 * connection's receive queue, the client's next read returns it. The cache
 * is shared by every process of the cgroup, fills itself from the replies
 * to their GETs, and stays coherent through the writes it sees, Redis'
 * client tracking (a connection the library owns) and an age bound. See
 * docs/redis-near-cache.md for the guarantee.
 *
 * @code
 * const char *servers[] = { "10.0.0.5:6379" };
 * LIBEBPFACCEL_OPTS(ebpfaccel_near_cache_opts, opts,
 *         .servers = servers, .nr_servers = 1,
 *         .cgroup_path = "/sys/fs/cgroup/app",
 *         .max_staleness_ms = 500);
 * struct ebpfaccel_near_cache *nc = ebpfaccel_near_cache__open(&opts);
 * if (!nc || ebpfaccel_near_cache__attach(nc))
 *         err(1, "near cache");
 * ...
 * ebpfaccel_near_cache__destroy(nc);
 * @endcode
 */
#ifndef EBPFACCEL_NEAR_CACHE_H
#define EBPFACCEL_NEAR_CACHE_H

#include <stddef.h>
#include <linux/types.h>
#include <ebpfaccel/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A near cache for one Redis server (opaque). */
struct ebpfaccel_near_cache;

/** Options for ebpfaccel_near_cache__open(). */
struct ebpfaccel_near_cache_opts {
	/** sizeof(struct ebpfaccel_near_cache_opts); use LIBEBPFACCEL_OPTS(). */
	size_t sz;
	/** cgroup v2 directory of the client processes (required, or
	 *  @ref cgroup_fd): their connections to the server are accelerated. */
	const char *cgroup_path;
	/** Alternatively an open fd of that cgroup (used when > 0). */
	int cgroup_fd;
	/** Addresses of ONE Redis server as the clients connect to it:
	 *  "ipv4:port" or "[ipv6]:port" literals (required, at most 8). The
	 *  library's own connections go to the first. Several servers need
	 *  several objects: cached keys carry no server identity. */
	const char *const *servers;
	/** Number of entries in @ref servers. */
	size_t nr_servers;
	/** Longest time a cached value is answered after the reply it was
	 *  filled from arrived, in ms (default 1000, at most 3600000): the
	 *  bound on staleness when invalidations are late or lost. */
	__u32 max_staleness_ms;
	/** Entries of the small value class (values up to 128 bytes);
	 *  default 65536. */
	__u32 max_entries;
	/** Entries of the large value class; default 4096. */
	__u32 max_large_entries;
	/** Largest value cached, at most 4096 (default). */
	__u32 max_value_size;
	/** Only keys starting with one of these are cached (NULL: every key;
	 *  at most 8, each 1 to 64 bytes). */
	const char *const *prefixes;
	/** Number of entries in @ref prefixes. */
	size_t nr_prefixes;
	/** ACL user for the library's connections (default: none). */
	const char *redis_user;
	/** Password for the library's connections (default: none). Client
	 *  connections are answered locally only once Redis let them read. */
	const char *redis_password;
	/** Filled when open fails: which BPF program the kernel refused and
	 *  why (optional; see struct ebpfaccel_load_error). */
	struct ebpfaccel_load_error *load_error;
	size_t :0;
};
#define ebpfaccel_near_cache_opts__last_field load_error

/** Counters summed over CPUs since open. */
struct ebpfaccel_near_cache_stats {
	__u64 hits;		/**< GETs answered on the client's host */
	__u64 misses;		/**< GETs passed to Redis with a fill expected */
	__u64 fills;		/**< values stored from GET replies */
	__u64 fill_races;	/**< fills dropped: the key changed meanwhile */
	__u64 invalidations;	/**< keys invalidated by this host's writes */
	__u64 flushes;		/**< whole-cache invalidations */
	__u64 expired;		/**< GETs passed: entry older than max_staleness_ms */
	__u64 bypass_state;	/**< GETs passed: replies owed, MULTI, auth, SELECT */
	__u64 bypass_size;	/**< values too large for the cache */
	__u64 bypass_bad;	/**< streams not understood (malformed, inline) */
	__u64 requests;		/**< requests passed to Redis */
	__u64 replies;		/**< replies from Redis */
	__u64 connections;	/**< client connections taken in */
	__u64 confirms;		/**< fills confirmed by the library */
};

/**
 * Loads the near cache's BPF programs and maps; nothing is attached yet.
 * @param opts options (a cgroup and the server's address are required)
 * @return a near cache, or NULL with errno set: EINVAL (bad options, said
 *         in the log), EPERM (needs CAP_BPF, CAP_NET_ADMIN and
 *         CAP_SYS_ADMIN), or the error of the BPF load.
 */
EBPFACCEL_API struct ebpfaccel_near_cache *
ebpfaccel_near_cache__open(const struct ebpfaccel_near_cache_opts *opts);

/**
 * Attaches: connections the cgroup's processes open to the server from now
 * on go through the programs (existing ones are left alone). Opens the
 * library's connections to the server (client tracking) from the calling
 * thread's netns and starts a library thread; answers start once tracking
 * is in place. A connection is answered locally only after Redis let it
 * read (one of its GETs answered with a value or nil, or its AUTH as the
 * default user accepted), so its first GET always reaches Redis.
 * @return 0, or -errno: -EALREADY (attached), -ECONNREFUSED and other
 *         socket errors (server unreachable), -EACCES (credentials or
 *         tracking refused).
 */
EBPFACCEL_API int ebpfaccel_near_cache__attach(struct ebpfaccel_near_cache *nc);

/**
 * Stops answering locally, stops taking new connections in and closes the
 * library's connections. Connections taken in earlier keep passing through
 * the programs (which keep modelling them, so a later attach serves them
 * again) until they close or the object is destroyed.
 * @return 0 or -errno (-ENOTCONN if not attached)
 */
EBPFACCEL_API int ebpfaccel_near_cache__detach(struct ebpfaccel_near_cache *nc);

/**
 * Forgets every cached value at once (O(1): a generation bump).
 * @return 0, or -EINVAL for NULL
 */
EBPFACCEL_API int ebpfaccel_near_cache__flush(struct ebpfaccel_near_cache *nc);

/**
 * Reads the counters.
 * @param nc the near cache
 * @param stats filled with the sums over CPUs
 * @param sz sizeof(*stats) as the caller knows it (fields beyond are not
 *        written)
 * @return 0 or -errno
 */
EBPFACCEL_API int ebpfaccel_near_cache__stats(const struct ebpfaccel_near_cache *nc,
					      struct ebpfaccel_near_cache_stats *stats,
					      size_t sz);

/**
 * Whether GETs are currently answered locally (attached, tracking live).
 * @return 1, 0, or -EINVAL
 */
EBPFACCEL_API int ebpfaccel_near_cache__serving(const struct ebpfaccel_near_cache *nc);

/**
 * Detaches if attached, takes every socket out of the programs and frees
 * everything. Bytes the kernel queued on an accelerated connection in that
 * instant can be lost (kernel limitation, see docs/redis-near-cache.md):
 * destroy when traffic is quiet. NULL is a no-op.
 */
EBPFACCEL_API void ebpfaccel_near_cache__destroy(struct ebpfaccel_near_cache *nc);

#ifdef __cplusplus
}
#endif

#endif /* EBPFACCEL_NEAR_CACHE_H */
