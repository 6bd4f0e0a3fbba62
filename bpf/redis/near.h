/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Definitions shared by bpf/redis/near.bpf.c and lib/redis/near.c: the near
 * cache on the client's host. Map layout and generations: redis_cache.h. */
#ifndef EBPFACCEL_REDIS_NEAR_BPF_H
#define EBPFACCEL_REDIS_NEAR_BPF_H

#include "redis_cache.h"

#define NC_SERVERS_MAX	8	/* addresses of the one Redis server */
#define NC_PREFIXES_MAX	8	/* key prefixes cached (none: every key) */
#define NC_SLOTS	32	/* requests remembered per connection */
#define NC_KEY_WORDS	(RESP_KEY_MAX / 8)

enum nc_stat {
	NC_STAT_HITS,		/* GETs answered on the client's host */
	NC_STAT_MISSES,		/* GETs passed with a fill expected */
	NC_STAT_FILLS,		/* values stored from GET replies */
	NC_STAT_FILL_RACES,	/* fills dropped: invalidated meanwhile */
	NC_STAT_INVALIDATIONS,	/* keys invalidated by this host's writes */
	NC_STAT_FLUSHES,	/* whole-cache invalidations */
	NC_STAT_EXPIRED,	/* GETs passed: entry older than the bound */
	NC_STAT_BYPASS_STATE,	/* GETs passed: replies owed, MULTI, auth, db */
	NC_STAT_BYPASS_SIZE,	/* values too large for the cache */
	NC_STAT_BYPASS_BAD,	/* streams not understood */
	NC_STAT_REQUESTS,	/* requests passed to Redis */
	NC_STAT_REPLIES,	/* replies from Redis */
	NC_STAT_CONNS,		/* connections taken in */
	NC_STAT_MAX,
};

/* A server address as sock_ops sees it: IPv4 as ::ffff:a.b.c.d. */
struct nc_addr {
	__u32 ip6[4];		/* network order */
	__u32 port;		/* host order */
};

/* A key prefix as words: key word i matches when
 * (word ^ w[i]) & mask[i] == 0 for every i. */
struct nc_prefix {
	__u64 w[NC_KEY_WORDS];
	__u64 mask[NC_KEY_WORDS];
};

#endif
