/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Definitions shared by bpf/redis/redis_cache.bpf.c and lib/redis/. */
#ifndef EBPFACCEL_REDIS_CACHE_BPF_H
#define EBPFACCEL_REDIS_CACHE_BPF_H

#include "resp.h"

#ifdef __bpf__
/* Every Redis BPF object (sockmap, near cache, XDP) uses these. */
#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
/* Ordering relies on x86-TSO plus the full barriers of atomic adds and of
 * the hash maps' bucket locks; BPF atomics returning values need -mcpu=v3,
 * which the shared build does not pass. */
#define barrier() asm volatile("" ::: "memory")
/* Global BPF functions are verified once, not at every call site. Their
 * pointer arguments are plain memory to the verifier, which kernels before
 * 6.2 (Debian 12's 6.1) refuse as map keys: copy keys to the stack first. */
#define GLOBAL __attribute__((noinline))
#endif

#define RC_SMALL_MAX	128	/* value bytes of the small size class */
#define RC_VAL_MAX	4096	/* value bytes of the large size class */
#define RC_STAGE_MAX	32768	/* reply bytes one kernel answer may carry */
#define RC_BATCH_MAX	32	/* GETs one kernel answer may carry */
#define RC_SLOTS	16	/* requests remembered per connection */
#define RC_BUCKETS	1024	/* invalidation generations, by key hash */
/* entry counts (rc_occupied), by key hash: finer than the generations, so
 * that a bucket without an entry is the rule while the cache holds fewer
 * keys than there are of them */
#define RC_OCC_BUCKETS	65536
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
	/* CONFIG, REPLICAOF, MODULE, ...: may open a write path the programs
	 * do not see (a listener, a master link, evictions, a module) */
	RC_CMD_RECONF,
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
	/* half-failed sends after which the connection stayed in step;
	 * after `confirms` in the public stats (appended) */
	RC_STAT_READMITS,
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
	union {
		struct {	/* the server cache's */
			__u32 served;	/* answered at least once since filled */
			__u32 pad;
		};
		/* the near cache's: the version the engine confirmed, copied
		 * from rc_confirmed by the first local answer, so later
		 * answers skip that lookup (a cache miss per hit). Fills
		 * zero it; a stale copy landing on a reused element names
		 * an older version, never the element's own. */
		__u64 confirmed;
	};
};

struct rc_small {
	struct rc_hdr h;
	__u8 data[RC_SMALL_MAX];
};

struct rc_large {
	struct rc_hdr h;
	__u8 data[RC_VAL_MAX];
};

/* Per-connection state of the sockmap programs (rc_conns, by socket cookie);
 * the XDP programs read it to know when a connection may be answered. */
enum rc_slot_kind {
	SLOT_NONE, SLOT_FILL, SLOT_SELECT, SLOT_AUTH,
	/* writes: their key's bucket (SET, WRITE) or every key (WRITE_ALL) is
	 * pending in rc_wpend until Redis writes their reply; a SET also asks
	 * for a read-back */
	SLOT_SET, SLOT_WRITE, SLOT_WRITE_ALL,
};

/* Remembered for request n until Redis' n-th reply: valid iff seq == n + 1. */
struct rc_slot {
	__u32 seq;
	__u32 kind;
	__u32 db;
	__u32 bucket;		/* a hash of key: masked where it is used */
	__u64 gen;
	__u64 bgen;
	struct rc_key key;
};

struct rc_conn {
	struct resp_req req;	/* written by rc_request only */
	struct resp_rep rep;	/* written by rc_reply only */
	__u64 cookie;
	__u32 req_seq;		/* requests passed to Redis (rc_request) */
	__u32 rep_seq;		/* replies Redis wrote (rc_reply) */
	__u32 reflect_pending;	/* kernel answers on their way out */
	__u32 select_inflight;	/* SELECTs whose reply is still owed */
	__u32 db;
	__u8 authed;
	__u8 in_multi;
	__u8 pushy;		/* replies do not follow requests 1:1 */
	__u8 broken;		/* request stream not understood */
	__u8 rep_broken;	/* reply stream not understood */
	__u8 tracker;		/* a coherence connection of the library */
	__u8 other_user;	/* AUTH/HELLO as an ACL user other than default */
	__u8 seq_valid;		/* rep_end_seq is known */
	/* a write of it may run in Redis with no reply the programs can tie
	 * it to (pushes, a stream not understood, slots full): automatic
	 * tracking stays broadcast while it lives (lib/redis/seen.c) */
	__u8 unprovable;
	__u8 pad[3];
	/* TCP sequence number just past the bytes rc_reply has scanned: a
	 * send that fails half-way frees bytes the program already saw, and
	 * Redis writes them again later */
	__u32 rep_end_seq;
	struct rc_slot slots[RC_SLOTS];
};

/* Whether a request arriving now on connection @c may be answered by the
 * kernel: Redis let it read as the default user, it owes no reply, its
 * request scanner stands between requests and nothing special (MULTI,
 * SELECT in flight, pushes, a stream not understood) is going on. Fields
 * written by other CPUs are read once. */
static inline __attribute__((always_inline)) int
rc_conn_idle(const struct rc_conn *c)
{
	return !c->pushy && !c->broken && c->req.st == RQ_START &&
	       *(volatile const __u8 *)&c->authed && !c->other_user &&
	       !c->in_multi && !*(volatile const __u32 *)&c->select_inflight &&
	       c->req_seq == *(volatile const __u32 *)&c->rep_seq &&
	       !*(volatile const __u32 *)&c->reflect_pending;
}

/* "*2\r\n$3\r\nGET\r\n$" and "*3\r\n$3\r\nSET\r\n$", the command in any
 * case, as words */
#define GET_W0	0x0a0d33240a0d322aull	/* "*2\r\n$3\r\n" */
#define GET_W1	0x0a0d544547u		/* "GET\r\n" (low 5 bytes) */
#define SET_W0	0x0a0d33240a0d332aull	/* "*3\r\n$3\r\n" */
#define SET_W1	0x0a0d544553u		/* "SET\r\n" (low 5 bytes) */

/* Length of the canonical header "*<argc>\r\n$3\r\n<CMD>\r\n$<n>\r\n" in
 * h[20] whose first 13 bytes are @w0 and @w1, and its key length in *n; 0
 * if h does not start with one. */
static inline __attribute__((always_inline)) __u32
rc_cmd_header(const __u8 *h, __u32 *n, __u64 want0, __u64 want1)
{
	__u64 w0, w1;

	__builtin_memcpy(&w0, h, 8);
	__builtin_memcpy(&w1, h + 8, 8);
	/* bytes 8-10 are letters: clearing 0x20 upper-cases them */
	if (w0 != want0 || ((w1 & ~0x202020ull) & 0xffffffffffull) != want1 ||
	    h[13] != '$' || h[14] < '1' || h[14] > '9')
		return 0;
	*n = h[14] - '0';
	if (h[15] == '\r')
		return h[16] == '\n' ? 17 : 0;
	if (h[15] < '0' || h[15] > '9' || h[16] != '\r' || h[17] != '\n')
		return 0;
	*n = *n * 10 + h[15] - '0';
	return 18;
}

/* A GET of one key (see rc_cmd_header()). */
static inline __attribute__((always_inline)) __u32
rc_get_header(const __u8 *h, __u32 *n)
{
	return rc_cmd_header(h, n, GET_W0, GET_W1);
}

/* A SET of a key to a value, without options (see rc_cmd_header()). */
static inline __attribute__((always_inline)) __u32
rc_set_header(const __u8 *h, __u32 *n)
{
	return rc_cmd_header(h, n, SET_W0, SET_W1);
}

/* Length of "\r\n$<m>\r\n" (the end of an argument, then the next one's
 * bulk header, m of 1..7 digits without a leading zero) at v[12], and m
 * in *m; 0 if v does not start with one. */
static inline __attribute__((always_inline)) __u32
rc_next_bulk(const __u8 *v, __u32 *m)
{
	__u32 len = 0;
	int i;

	if (v[0] != '\r' || v[1] != '\n' || v[2] != '$' || v[3] < '1' || v[3] > '9')
		return 0;
	for (i = 3; i < 10; i++) {
		if (v[i] < '0' || v[i] > '9')
			break;
		len = len * 10 + (v[i] - '0');
	}
	if (i == 3 || v[i] != '\r' || v[i + 1] != '\n')
		return 0;
	*m = len;
	return i + 2;
}

/* The whole zero-padded key's hash: FNV over 8-byte words
 * (every write and fill hashes its key, and a multiply per byte is a chain
 * of 64 multiplies), then murmur3's finaliser, since a product's low bits
 * depend only on its factors' low bits. */
static inline __u32 rc_key_hash32(const struct rc_key *k)
{
	/* data follows len, so it is 4-byte aligned: word loads (a copy
	 * from the char array is byte loads and their spills to the stack,
	 * which 6.1 counts along the whole call chain) */
	typedef __u32 __attribute__((may_alias)) word;
	const word *w = (const word *)(const void *)k->data;
	__u64 h = 0xcbf29ce484222325ull;

	for (int i = 0; i < RESP_KEY_MAX / 8; i++)
		h = (h ^ ((__u64)w[2 * i + 1] << 32 | w[2 * i])) * 0x100000001b3ull;
	h ^= k->len;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (__u32)h;
}

/* The key's invalidation bucket (rc_gen_bucket[], rc_wpend[]). */
static inline __u32 rc_key_hash(const struct rc_key *k)
{
	return rc_key_hash32(k) & (RC_BUCKETS - 1);
}

/* The key's rc_occupied[] index, from its rc_key_hash32(). */
static inline __u32 rc_occ_index(__u32 hash)
{
	return hash & (RC_OCC_BUCKETS - 1);
}

/* Writes "$<len>\r\n" (len <= 9999) into hdr[16]; returns its length.
 * Unrolled: loops over digits multiply the verifier's states. */
static inline __attribute__((always_inline)) __u32
rc_bulk_header(__u32 len, char *hdr)
{
	char d0 = '0' + len / 1000 % 10, d1 = '0' + len / 100 % 10;
	char d2 = '0' + len / 10 % 10, d3 = '0' + len % 10;

	hdr[0] = '$';
	if (len >= 1000) {
		hdr[1] = d0; hdr[2] = d1; hdr[3] = d2; hdr[4] = d3;
		hdr[5] = '\r'; hdr[6] = '\n';
		return 7;
	}
	if (len >= 100) {
		hdr[1] = d1; hdr[2] = d2; hdr[3] = d3;
		hdr[4] = '\r'; hdr[5] = '\n';
		return 6;
	}
	if (len >= 10) {
		hdr[1] = d2; hdr[2] = d3;
		hdr[3] = '\r'; hdr[4] = '\n';
		return 5;
	}
	hdr[1] = d3;
	hdr[2] = '\r'; hdr[3] = '\n';
	return 4;
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

/* A reconfiguring command on a connection (rc_reconf, by socket cookie):
 * executed once Redis wrote reply number seq + 1 on it, unless in_multi
 * (it runs at EXEC) or the connection's replies are not counted. */
struct rc_reconf {
	__u32 seq;
	__u32 unprovable;
};

struct rc_fill_event {
	struct rc_key key;
	__u64 version;
	__u32 db;
	__u32 kind;
};

#endif
