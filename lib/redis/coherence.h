/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Keeping a kernel-side Redis cache coherent: one coherence engine for every
 * place the cache answers from (server sockets, XDP, the client's host).
 * It holds the library's connections to Redis, receives invalidations
 * through Redis' client tracking (of the keys the cache holds only, so a
 * write of any other key costs Redis nothing), confirms what the programs
 * filled before they may serve it, and on any loss of the invalidation
 * stream stops the serving and recovers from a new generation. docs/redis-cache.md states
 * the guarantee. Internal to lib/redis/.
 */
#ifndef EBPFACCEL_REDIS_COHERENCE_H
#define EBPFACCEL_REDIS_COHERENCE_H

#include <stdbool.h>
#include <linux/types.h>

struct bpf_map;

/* What a cache object's programs share with the engine: the maps and the
 * globals (pointers into the skeleton's mmapped .bss) named alike in every
 * object (see bpf/redis/redis_cache.h). */
struct rc_shared {
	struct bpf_map *cache_small;
	struct bpf_map *cache_large;
	struct bpf_map *confirmed;
	struct bpf_map *fills;		/* ring buffer of struct rc_fill_event */
	__u64 *gen_all;
	__u64 *gen_bucket;		/* RC_BUCKETS of them */
	__u32 *tracking_ok;		/* the programs serve only while set */
	/* Writes Redis has not answered yet, by bucket and of any key, where
	 * the programs see them (NULL elsewhere): no fill stands meanwhile. */
	__u32 *wpend;			/* RC_BUCKETS of them */
	__u32 *wpend_all;
	/* An upper bound of the entries each bucket holds, where the programs
	 * skip the lookups of a write when it is 0 (NULL elsewhere): raised
	 * before every insert, lowered after a delete that removed one. */
	__u64 *occupied;		/* RC_OCC_BUCKETS of them */
	/* Where the programs see the tracking connection's server side and
	 * apply its pushes themselves (sockmap mode); NULL elsewhere. */
	__u32 *tracker_port;
	__u32 *tracker_seen;
	/* There too: answers need *track_backlog == *track_synced; the
	 * programs bump the first when Redis may hold pushes back, the engine
	 * sets the second after a round trip on the tracking connection. */
	__u32 *track_backlog;
	__u32 *track_synced;
	/* Where the programs see the query connection (its local port is
	 * stored here before it connects): they must neither fill from nor
	 * answer its GETs, which register keys for invalidation and confirm
	 * fills against Redis itself. NULL where they cannot see it. */
	__u32 *query_port;
	/* Largest value the programs cache (NULL: RC_VAL_MAX). */
	__u32 *max_value;
	/* Automatic tracking (lib/redis/trackauto.h), where the programs see
	 * the server's connections; NULL elsewhere. With *track_keys set the
	 * programs answer only while *unseen == *unseen_ok; they bump *unseen
	 * when something may open a write path they do not see, and note
	 * reconfiguring commands in reconf (rc_conns gives their progress). */
	__u32 *track_keys;
	__u32 *unseen;
	__u32 *unseen_ok;
	__u32 *reconf_lost;	/* set when one could not be noted */
	struct bpf_map *reconf;
	struct bpf_map *conns;
};

/* The Redis server to stay coherent with. Strings are copied. */
struct rc_server {
	const char *host;
	__u16 port;
	const char *user;		/* NULL: "default" */
	const char *password;		/* NULL: no AUTH */
	/* Redis pushes every write (BCAST) instead of the writes of the keys
	 * the engine read (docs/redis-cache.md: what each guarantees) */
	bool track_all;
	/* Per-key tracking while no write path the programs do not see
	 * exists (checked with @seen and Redis' settings), broadcast
	 * otherwise; switches as that changes. Overrides track_all. */
	bool track_auto;
	int (*seen)(void *ctx, const char *clients, size_t len, char *why,
		    size_t why_sz);
	/* Called from the engine's thread when a reconnect finds its
	 * connections unseen by the programs (-ENOTCONN: the server came back
	 * in another cgroup); 0 when it moved the programs, so that the
	 * reconnect is tried again at once. NULL: keep retrying. */
	int (*unseen)(void *ctx);
	void *ctx;
};

struct rc_coherence;

/* Connects to the server, subscribes to its invalidations, turns serving on
 * from a new generation and starts the engine's thread. */
int rc_coherence__start(struct rc_coherence **out, const struct rc_shared *sh,
			const struct rc_server *srv);

/* Stops the thread, turns serving off, closes the connections, frees. */
void rc_coherence__stop(struct rc_coherence *co);

/* 1 while per-key tracking is in effect, 0 for broadcast; why (the
 * reason for the current one) into @why. */
int rc_coherence__tracking(struct rc_coherence *co, char *why, size_t why_sz);

/* Fills confirmed for serving so far. */
__u64 rc_coherence__confirms(const struct rc_coherence *co);

/* Times the engine regained coherence after losing it (Redis restarted,
 * a connection killed): each one flushed the cache. */
__u64 rc_coherence__reconnects(const struct rc_coherence *co);

/* Forgets every cached value (a generation bump: entries stay until LRU
 * eviction or refill, but are never served again). */
void rc_shared__flush(const struct rc_shared *sh);

#endif /* EBPFACCEL_REDIS_COHERENCE_H */
