/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Definitions shared by bpf/redis/redis_cache.bpf.c and lib/redis/. */
#ifndef EBPFACCEL_REDIS_CACHE_BPF_H
#define EBPFACCEL_REDIS_CACHE_BPF_H

#include "resp.h"

#define RC_SMALL_MAX	128	/* value bytes of the small size class */
#define RC_VAL_MAX	4096	/* value bytes of the large size class */
#define RC_STAGE_MAX	32768	/* reply bytes one kernel answer may carry */
#define RC_BATCH_MAX	32	/* GETs one kernel answer may carry */
#define RC_SLOTS	16	/* requests remembered per connection */
#define RC_BUCKETS	1024	/* invalidation generations, by key hash */
#define RC_PORTS_MAX	16
#define RC_TAG		0xA1CCE5FFu	/* stamped over a request answered in kernel */

/* What a command does to the cache; the library fills the table. */
enum rc_cmd_class {
	RC_CMD_UNKNOWN = 0,	/* effect unknown: invalidate everything */
	RC_CMD_GET,
	RC_CMD_READ,		/* changes no key */
	RC_CMD_WRITE1,		/* changes its first argument only */
	RC_CMD_WRITEN,		/* changes all its arguments (DEL, UNLINK) */
	RC_CMD_SET,
	RC_CMD_SELECT,
	RC_CMD_AUTH,
	RC_CMD_HELLO,
	RC_CMD_MULTI,
	RC_CMD_EXEC,		/* EXEC, DISCARD: ends a transaction */
	RC_CMD_PUSHY,		/* replies no longer follow requests 1:1 */
	RC_CMD_CLIENT,
	RC_CMD_ADMIN,		/* ACL: may change who reads what */
};

enum rc_stat {
	RC_STAT_HITS,		/* GETs answered by the kernel */
	RC_STAT_HIT_BATCHES,	/* segments answered by the kernel */
	RC_STAT_MISSES,		/* GETs of keys not in the cache */
	RC_STAT_FILLS,		/* values stored from GET replies */
	RC_STAT_FILL_RACES,	/* fills dropped: invalidated meanwhile */
	RC_STAT_INVALIDATIONS,	/* keys invalidated by writes */
	RC_STAT_PUSH_INVALIDATIONS, /* keys invalidated by tracking pushes */
	RC_STAT_FLUSHES,	/* whole-cache invalidations */
	RC_STAT_BYPASS_STATE,	/* GET passed: replies owed, MULTI, auth, db */
	RC_STAT_BYPASS_MIXED,	/* GET passed: segment held other commands */
	RC_STAT_BYPASS_SIZE,	/* key or value too large / batch too big */
	RC_STAT_BYPASS_BAD,	/* stream not understood (malformed, inline) */
	RC_STAT_REQUESTS,	/* requests seen */
	RC_STAT_REPLIES,	/* replies seen */
	RC_STAT_SETS,		/* SETs of cached keys read back */
	RC_STAT_MAX,
};

struct rc_key {
	__u32 len;
	char data[RESP_KEY_MAX];
};

struct rc_hdr {
	__u64 version;		/* unique per fill; the library confirms it */
	__u64 gen;		/* global generation the value belongs to */
	__u32 len;
	__u32 db;
	__u32 served;		/* answered at least once since filled */
	__u32 pad;
};

struct rc_small {
	struct rc_hdr h;
	__u8 data[RC_SMALL_MAX];
};

struct rc_large {
	struct rc_hdr h;
	__u8 data[RC_VAL_MAX];
};

/* FNV-1a over the whole zero-padded key: its invalidation bucket. */
static inline __u32 rc_key_hash(const struct rc_key *k)
{
	__u32 h = 2166136261u;

	for (int i = 0; i < RESP_KEY_MAX; i++) {
		h ^= (__u8)k->data[i];
		h *= 16777619u;
	}
	return (h ^ k->len) & (RC_BUCKETS - 1);
}

enum rc_event_kind {
	/* a value was filled: the library checks the key has no TTL (PTTL -1)
	 * and only then confirms the version for serving */
	RC_EV_FILLED = 0,
	/* Redis accepted a SET of a cached key that was read from the cache
	 * since its fill: the library reads the key back (GET + PTTL on its
	 * own connection) and caches that value, guarded like a fill. A value
	 * staged from the request could be older than a write from elsewhere
	 * executed in the same event-loop turn. Keys only written are never
	 * read back, so writes cost Redis nothing more. */
	RC_EV_REFILL = 1,
};

struct rc_fill_event {
	struct rc_key key;
	__u64 version;
	__u32 db;
	__u32 kind;
};

#endif
