// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * In-kernel Redis GET cache on an unmodified kernel (sockmap).
 *
 * rc_sockops   puts redis-server's accepted sockets on the chosen ports into
 *              a SOCKHASH (attached to the cgroup redis-server runs in).
 * rc_request   sk_skb verdict, no stream parser: scans every request with
 *              the shared RESP scanner, keeping its state per socket. A
 *              segment made only of GETs of cached keys, arriving while Redis
 *              owes no reply on the socket, is answered by the kernel: the
 *              replies are staged per socket, the segment keeps its length,
 *              is tagged in place and redirected to the socket's own egress.
 *              Everything else passes to Redis, after its effect on the cache
 *              (invalidation, SELECT, AUTH, expected fill) is recorded.
 * rc_reply     sk_msg: turns a tagged segment into the staged replies, and
 *              scans every reply Redis writes to count replies, apply the
 *              recorded effects, fill the cache from GET replies and apply
 *              client-tracking invalidation pushes synchronously.
 * See docs/redis-cache.md for the coherence argument.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "redis_cache.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SK_DROP 0
#define SK_PASS 1
#define LOOP_BUDGET (1 << 17)	/* bytes scanned per segment or message */

struct rc_stage {
	__u32 len;
	__u32 nget;
	__u8 buf[RC_STAGE_MAX + RC_VAL_MAX + 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} rc_socks SEC(".maps");

/* sk_skb programs cannot use sk_storage: per-socket state is keyed by the
 * socket cookie, created by rc_sockops and deleted when the socket closes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct rc_conn);
} rc_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct rc_stage);
} rc_stages SEC(".maps");

/* zeroed templates for new entries (too large for the stack) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rc_conn);
} rc_conn_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rc_stage);
} rc_stage_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct rc_key);
	__type(value, struct rc_small);
} rc_cache_small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct rc_key);
	__type(value, struct rc_large);
} rc_cache_large SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536 + 4096);
	__type(key, struct rc_key);
	__type(value, __u64);
} rc_confirmed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, char[RESP_CMD_MAX]);
	__type(value, __u32);
} rc_cmds SEC(".maps");

#include "rc_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rc_large);
} rc_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rc_fills SEC(".maps");

/* Reconfiguring commands not yet known to be executed, for the library:
 * one per open connection at most (deleted when it closes) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct rc_reconf);
} rc_reconf SEC(".maps");

/* Set by the library. */
__u32 rc_enabled;		/* serve from the kernel */
__u32 rc_accepting;		/* take new connections in */
__u32 rc_tracking_ok;		/* the invalidation connection is live */
__u32 rc_tracker_port;		/* its local port, seen as remote port here */
__u32 rc_tracker_seen;		/* set here when that connection arrives */
__u32 rc_query_port;		/* the library's query connection's local port */
/* Redis may hold pushes back in its own buffer, behind writes that reply
 * to other clients (a write it cannot finish on the tracking connection, or
 * more than it writes per event-loop turn). Bumped here when the tracking
 * connection's last write suggests so; answers need it to equal
 * rc_track_synced, which the library sets after a round trip on that
 * connection (every push queued before its reply has passed this program). */
__u32 rc_track_backlog;
__u32 rc_track_synced;
#define RC_TRACK_BURST	16384	/* Redis' reply chunk (PROTO_REPLY_CHUNK_BYTES) */
__u32 rc_max_value = RC_VAL_MAX;
/* Per-key tracking is trusted only while nothing unseen can write: with
 * rc_track_keys set, answers need rc_unseen == rc_unseen_ok, and the
 * programs bump rc_unseen when they see something that may change that
 * (a reconfiguring command, a connection they failed to take in). */
__u32 rc_track_keys;
__u32 rc_unseen;
__u32 rc_unseen_ok;
__u32 rc_reconf_lost;		/* one could not be noted in rc_reconf */
/* Bumped by both sides: a value belongs to one global generation, and a
 * fill only stands if its key's bucket generation did not move. */
__u64 rc_gen_all;
__u64 rc_gen_bucket[RC_BUCKETS];
/* Writes passed to Redis whose reply Redis has not written yet, by key
 * bucket, and those that may change any key. A fill stands only while none
 * is pending for its key: Redis may run a write later than it arrives
 * (CLIENT PAUSE WRITE, behind a blocked client, deep in a pipeline), and a
 * GET it answers meanwhile reads the value the write replaces. With per-key
 * tracking the write's invalidation push then follows its reply (and the
 * replies of that event-loop turn); here the bucket's generation moves
 * once more before that reply leaves, and no fill stands in between. */
__u32 rc_wpend[RC_BUCKETS];
__u32 rc_wpend_all;
/* An upper bound of the entries each hash bucket (rc_occ_index()) holds in rc_cache_small and
 * rc_cache_large: raised before every insert (fill(), the engine's
 * read-back), lowered after a delete that removed one. LRU evictions and
 * replacing updates leave it high, never low, so 0 says the bucket holds no
 * entry and a write of one of its keys need not look (drop_key()): most
 * written keys are not cached, and each lookup is a cold walk of a large
 * hash table's buckets. 64 bits: what evictions leave behind only grows,
 * and a count that wrapped to 0 would hide an entry. */
__u64 rc_occupied[RC_OCC_BUCKETS];

#include "rc_bpf.h"

/* The key's whole hash (rc_key_hash32()); global: inlined, each caller
 * would pay the unrolled hash in instructions to verify. */
GLOBAL __u32 key_hash(const struct rc_key *k)
{
	return k ? rc_key_hash32(k) : 0;
}

/* The TCP socket behind a program's socket pointer (NULL if it is not). */
static __always_inline struct tcp_sock *tcp_of(struct bpf_sock *sk)
{
	return sk ? bpf_skc_to_tcp_sock(sk) : NULL;
}

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&rc_stats, &idx);

	if (v)
		*v += n;
}

static __always_inline void invalidate_all(void)
{
	__sync_fetch_and_add(&rc_gen_all, 1);
	stat_add(RC_STAT_FLUSHES, 1);
}

/* ---- requests ----------------------------------------------------------- */

/*
 * What the segment scan carries from one bpf_loop() iteration to the next.
 * Scalars only, and only ever touched inside global functions: the verifier
 * checks those once with unknown arguments, and a global call leaves the
 * caller's copy unknown as well. Offsets it could track exactly from one
 * iteration to the next would give it a new state per iteration (8193-jump
 * and 1M-insn failures on 6.18.44-7.3), and on kernels that verify a
 * callback once (6.1) would let it hard-wire branches of the first
 * iteration as dead.
 */
struct req_scan {
	__u32 off;		/* stream offset of b.data[0] */
	__u32 len;		/* segment length */
	__u32 serve;		/* every request so far is a staged hit */
	__u32 eligible;		/* the connection could be served at all */
	__u32 nhits;
	__u32 stage_len;
	__u32 bad;
	__u32 missed;		/* the segment was one GET, passed (fast_miss()) */
	struct resp_buf b;
};

struct vctx {
	struct __sk_buff *skb;
	struct rc_conn *c;
	struct rc_stage *st;	/* NULL unless the segment may be served */
	struct req_scan s;
};

/* Appends "$<len>\r\n<value>\r\n" for a confirmed, current entry. */
static __noinline int stage_hit(struct rc_conn *c, struct rc_stage *st,
				__u32 off, const struct rc_key *k)
{
	struct rc_small *s;
	struct rc_large *l;
	struct rc_hdr *h;
	const __u8 *data;
	__u64 *cv, ver;
	__u32 len, n;
	char hdr[16] = {};

	s = bpf_map_lookup_elem(&rc_cache_small, k);
	if (s) {
		h = &s->h;
		data = s->data;
	} else {
		l = bpf_map_lookup_elem(&rc_cache_large, k);
		if (!l)
			return 0;
		h = &l->h;
		data = l->data;
	}
	ver = READ_ONCE(h->version);
	if (h->db != READ_ONCE(c->db) || h->gen != READ_ONCE(rc_gen_all))
		return 0;
	cv = bpf_map_lookup_elem(&rc_confirmed, k);
	if (!cv || *cv != ver)
		return 0;
	len = h->len;
	if (len > RC_VAL_MAX || off > RC_STAGE_MAX)
		return 0;
	n = rc_bulk_header(len, hdr);
	if (off + n + len + 2 > RC_STAGE_MAX)
		return 0;
	off = RESP_MASK(off, RC_STAGE_MAX - 1);
	__builtin_memcpy(st->buf + off, hdr, 16);
	off = RESP_MASK(off + n, RC_STAGE_MAX - 1);
	if (len > RC_VAL_MAX)
		return 0;
	if (len && bpf_probe_read_kernel(st->buf + off, len, data))
		return 0;
	off = RESP_MASK(off + len, RC_STAGE_MAX - 1);
	st->buf[off] = '\r';
	st->buf[off + 1] = '\n';
	/* an LRU element can be reused under us: its version then moved */
	if (READ_ONCE(h->version) != ver)
		return 0;
	if (!READ_ONCE(h->served))
		WRITE_ONCE(h->served, 1);
	return n + len + 2;
}

static __always_inline struct rc_slot *slot_for(struct rc_conn *c, __u32 seq)
{
	return &c->slots[seq & (RC_SLOTS - 1)];
}

static __always_inline int slot_is_write(__u32 kind)
{
	return kind == SLOT_SET || kind == SLOT_WRITE || kind == SLOT_WRITE_ALL;
}

/* A write whose reply Redis has not written yet: only that reply (or the
 * connection's close) may release its slot. */
static __always_inline int slot_pending(const struct rc_slot *s, __u32 rep_seq)
{
	__u32 seq = READ_ONCE(s->seq);

	return seq && slot_is_write(READ_ONCE(s->kind)) && (__s32)(seq - 1 - rep_seq) >= 0;
}

/* Returns 0 when the slot still holds a pending write (16 requests in
 * flight): the request is then not remembered. @key (RESP_KEY_MAX bytes,
 * zero padded) and @key_len matter for fills and keyed writes only. */
static __always_inline int record(struct rc_conn *c, __u32 kind, __u32 db,
				  const char *key, __u32 key_len)
{
	struct rc_slot *s = slot_for(c, c->req_seq);
	__u32 seq = c->req_seq + 1;

	if (slot_pending(s, READ_ONCE(c->rep_seq)))
		return 0;
	WRITE_ONCE(s->seq, 0);
	barrier();
	s->kind = kind;
	s->db = db;
	if (key && (kind == SLOT_FILL || kind == SLOT_SET || kind == SLOT_WRITE)) {
		s->key.len = key_len;
		__builtin_memcpy(s->key.data, key, RESP_KEY_MAX);
		s->bucket = key_hash(&s->key);
		s->gen = READ_ONCE(rc_gen_all);
		s->bgen = READ_ONCE(rc_gen_bucket[s->bucket & (RC_BUCKETS - 1)]);
	}
	barrier();
	WRITE_ONCE(s->seq, seq);
	return 1;
}

static __always_inline void unseen_event(void)
{
	__sync_fetch_and_add(&rc_unseen, 1);
}

/* A write of @c may run with no reply to release it: per-key tracking can
 * no longer cover it (see rc_conn.unprovable). */
static __always_inline void unprovable(struct rc_conn *c)
{
	if (c->unprovable || c->tracker)
		return;
	c->unprovable = 1;
	unseen_event();
}

/* A write passed to Redis, before it invalidates: pending from now until
 * Redis writes its reply (rc_wpend). Inside MULTI, EXEC is that write.
 * Returns the slot it is pending in, NULL if it is not remembered. */
static __always_inline struct rc_slot *write_pending(struct rc_conn *c, __u32 kind,
						     const struct rc_key *k)
{
	struct rc_slot *s;

	if (c->in_multi)
		return NULL;
	if (c->pushy || !record(c, kind, READ_ONCE(c->db), k ? k->data : NULL,
				k ? k->len : 0)) {
		unprovable(c);
		return NULL;
	}
	s = slot_for(c, c->req_seq);
	if (kind == SLOT_WRITE_ALL)
		__sync_fetch_and_add(&rc_wpend_all, 1);
	else
		__sync_fetch_and_add(&rc_wpend[s->bucket & (RC_BUCKETS - 1)], 1);
	return s;
}

/* Redis wrote a pending write's reply (or its connection went): the
 * write's invalidation once more, then its key's fills may stand again. */
static __always_inline void write_done(__u32 kind, __u32 bucket)
{
	if (kind == SLOT_WRITE_ALL) {
		__sync_fetch_and_add(&rc_gen_all, 1);
		__sync_fetch_and_add(&rc_wpend_all, -1);
	} else if (kind == SLOT_SET || kind == SLOT_WRITE) {
		__sync_fetch_and_add(&rc_gen_bucket[bucket & (RC_BUCKETS - 1)], 1);
		__sync_fetch_and_add(&rc_wpend[bucket & (RC_BUCKETS - 1)], -1);
	}
}

/* An unknown write: everything is invalidated, and pending until its reply. */
static __always_inline void write_all(struct rc_conn *c)
{
	write_pending(c, SLOT_WRITE_ALL, NULL);
	invalidate_all();
}

/* Served only as the default user, once Redis let the connection in: it
 * accepted its AUTH or answered one of its GETs (neither NOAUTH nor NOPERM).
 * Whether a password is needed can change behind the programs' back
 * (CONFIG SET requirepass on the unix socket), so it is never assumed. */
static __always_inline int auth_ok(struct rc_conn *c)
{
	return READ_ONCE(c->authed) && !c->other_user;
}

static __noinline void apply_get(struct rc_conn *c, struct resp_req *r)
{
	if (r->argc != 2 || (r->flags & RESP_REQ_KEY_LONG) || c->pushy ||
	    c->in_multi || READ_ONCE(c->select_inflight) || c->other_user)
		return;
	stat_add(RC_STAT_MISSES, 1);
	record(c, SLOT_FILL, READ_ONCE(c->db), r->key, r->key_len);
}

/* The request's first argument, if the cache could hold it (keys longer
 * than RESP_KEY_MAX are never cached). */
static __always_inline int req_key(struct rc_key *k, const struct resp_req *r)
{
	if (r->argc < 2 || (r->flags & RESP_REQ_KEY_LONG))
		return 0;
	key_from_req(k, r);
	return 1;
}

/* Deletes @k, of hash @h, from @map; true if that removed an entry (its
 * rc_occupied count is then one lower). */
static __always_inline int drop_entry(void *map, const struct rc_key *k, __u32 h)
{
	if (bpf_map_delete_elem(map, k))
		return 0;
	__sync_fetch_and_add(&rc_occupied[rc_occ_index(h)], -1);
	return 1;
}

/* Invalidates @k, of hash @h (key_hash(), known to the caller), and
 * says whether its entry was answered from since it was filled. Generation
 * first, then delete what is there: a fill that raced with us either reads
 * the new generation and removes itself, or inserted before that read, and
 * then the lookups here see its entry. Both sides put a full barrier
 * between the two: x86's locked add (the generation here, rc_wpend in
 * fill()) and the engine's fence after its insert (the programs have no
 * fetching atomics: "verifier" in docs/redis-cache.md). Only a key that is there is
 * deleted: a delete takes the bucket's lock with interrupts off (a
 * paravirtual call in a guest), a lookup takes nothing, and most written
 * keys are not cached. Both maps are looked at: a fill that moves a key
 * between them inserts in one before it deletes from the other. @k stays
 * a pointer to the caller's stack (see invalidate_key()).
 *
 * A bucket whose rc_occupied reads 0 after the generation moved holds
 * nothing to look for: every insert raises it (a locked add, ordered
 * before the insert) before the inserter reads the generations, so an
 * entry this read missed is one whose fill then sees the new generation
 * and removes itself, as above. */
static __noinline int drop_key(const struct rc_key *k, __u32 h)
{
	struct rc_hdr *sm, *lg;
	int was_served = 0;

	__sync_fetch_and_add(&rc_gen_bucket[h & (RC_BUCKETS - 1)], 1);
	stat_add(RC_STAT_INVALIDATIONS, 1);
	if (!READ_ONCE(rc_occupied[rc_occ_index(h)]))
		return 0;
	sm = bpf_map_lookup_elem(&rc_cache_small, k);
	lg = bpf_map_lookup_elem(&rc_cache_large, k);
	if (sm) {
		was_served |= READ_ONCE(sm->served);
		drop_entry(&rc_cache_small, k, h);
	}
	if (lg) {
		was_served |= READ_ONCE(lg->served);
		drop_entry(&rc_cache_large, k, h);
	}
	return was_served;
}

/* A write of @k passed to Redis: pending, then invalidated. Returns the
 * slot it is pending in (NULL if none) and in *@was_served what
 * drop_key() said. */
static __always_inline struct rc_slot *write_key(struct rc_conn *c,
						 const struct rc_key *k,
						 int *was_served)
{
	struct rc_slot *s = write_pending(c, SLOT_WRITE, k);

	*was_served = drop_key(k, s ? s->bucket : key_hash(k));
	return s;
}

static __noinline void apply_write(struct rc_conn *c, struct resp_req *r,
				   __u32 cls)
{
	struct rc_key k;
	int was_served;

	if (cls == RC_CMD_WRITEN && r->argc != 2) {
		write_all(c);
		return;
	}
	/* a key too long to be cached: nothing to invalidate */
	if (!req_key(&k, r))
		return;
	write_key(c, &k, &was_served);
}

/* A SET of @k (@plain: no options) passed to Redis. A SET of a key read
 * from the cache asks for a read-back once Redis accepted it (its slot
 * becomes SLOT_SET: Redis cannot have read the request yet, so nothing
 * took the slot); keys only written cost nothing more. @k is on the
 * caller's stack (a map key). */
static __always_inline void set_key(struct rc_conn *c, const struct rc_key *k,
				    int plain)
{
	int was_served;
	struct rc_slot *s = write_key(c, k, &was_served);

	if (s && was_served && plain && !READ_ONCE(c->select_inflight) &&
	    auth_ok(c))
		WRITE_ONCE(s->kind, SLOT_SET);
}

/* Calls no other apply_*(): 6.1 allows 512 bytes of stack along a call
 * chain, each frame rounded up to 32. */
static __noinline void apply_set(struct rc_conn *c, struct resp_req *r)
{
	struct rc_key k;

	if (!req_key(&k, r))
		return;
	set_key(c, &k, r->argc == 3);
}

static __noinline void apply_client(struct rc_conn *c, struct resp_req *r)
{
	if (key_is(r, "TRACKING", 8) || key_is(r, "REPLY", 5) ||
	    key_is(r, "CACHING", 7))
		c->pushy = 1;
	/* Redis holds every client until the pause ends: so must the cache.
	 * Nothing can be refilled before Redis answers again. */
	if (key_is(r, "PAUSE", 5))
		invalidate_all();
}

/* ACL SETUSER and friends change who may read what: what the cache holds
 * was read under the old rules. */
static __noinline void apply_admin(struct rc_conn *c, struct resp_req *r)
{
	if (!admin_reads(r))
		invalidate_all();
}

/* CONFIG SET, REPLICAOF, MODULE LOAD, ...: answers stop at once while
 * per-key tracking is on, and the library re-checks once Redis replied
 * (rc_reconf) before it trusts per-key tracking again. Reads of the
 * configuration change nothing; the library's own connections are exempt. */
static __noinline void apply_reconf(struct rc_conn *c, struct resp_req *r)
{
	struct rc_reconf v = { .seq = c->req_seq };
	__u64 cookie = c->cookie;

	if (c->tracker || reconf_reads(r))
		return;
	invalidate_all();
	v.unprovable = c->in_multi || c->pushy;
	if (bpf_map_update_elem(&rc_reconf, &cookie, &v, BPF_ANY))
		WRITE_ONCE(rc_reconf_lost, 1);
	unseen_event();
}

/* Records what a request passed to Redis does to the cache. Inlined into
 * request_chunk(): one stack frame less on the deepest call chain. */
static __always_inline void apply(struct rc_conn *c, struct resp_req *r, __u32 cls)
{
	switch (cls) {
	case RC_CMD_GET:
		apply_get(c, r);
		break;
	case RC_CMD_READ:
		break;
	case RC_CMD_SET:
		apply_set(c, r);
		break;
	case RC_CMD_WRITE1:
	case RC_CMD_WRITEN:
		apply_write(c, r, cls);
		break;
	case RC_CMD_SELECT:
		if (c->pushy)
			break;
		__sync_fetch_and_add(&c->select_inflight, 1);
		record(c, SLOT_SELECT, parse_db(r), NULL, 0);
		break;
	case RC_CMD_AUTH:
		/* ACL users other than "default" may not read every key */
		if (c->pushy)
			break;
		if (!(r->argc == 2 ||
		      (r->argc == 3 && key_is(r, "DEFAULT", 7)))) {
			c->other_user = 1;
			break;
		}
		record(c, SLOT_AUTH, 0, NULL, 0);
		break;
	case RC_CMD_HELLO:
		/* HELLO <ver> AUTH|SETNAME ...: the user is not parsed, so the
		 * connection is never served nor fills */
		if (r->argc > 2)
			c->other_user = 1;
		break;
	case RC_CMD_ADMIN:
		apply_admin(c, r);
		break;
	case RC_CMD_MULTI:
		c->in_multi = 1;
		break;
	case RC_CMD_EXEC:
		c->in_multi = 0;
		write_all(c);
		break;
	case RC_CMD_PUSHY:
		c->pushy = 1;
		break;
	case RC_CMD_CLIENT:
		apply_client(c, r);
		break;
	case RC_CMD_RECONF:
		apply_reconf(c, r);
		break;
	default:
		write_all(c);
	}
	if (!c->pushy)
		c->req_seq++;
	stat_add(RC_STAT_REQUESTS, 1);
}

static __always_inline void request_done(struct rc_conn *c,
					 struct rc_stage *st,
					 struct req_scan *s)
{
	struct resp_req *r = &c->req;
	__u32 cls = classify(r);
	struct rc_key k;
	int n;

	if (s->serve) {
		if (cls == RC_CMD_GET && r->argc == 2 &&
		    !(r->flags & RESP_REQ_KEY_LONG) && s->nhits < RC_BATCH_MAX &&
		    st) {
			key_from_req(&k, r);
			n = stage_hit(c, st, s->stage_len, &k);
			if (n > 0) {
				s->stage_len += n;
				s->nhits++;
				return;
			}
		}
		s->serve = 0;
		c->req_seq += s->nhits;
		stat_add(RC_STAT_REQUESTS, s->nhits);
		stat_add(RC_STAT_BYPASS_MIXED, s->nhits);
	} else if (cls == RC_CMD_GET) {
		stat_add(s->eligible ? RC_STAT_BYPASS_MIXED : RC_STAT_BYPASS_STATE, 1);
	}
	apply(c, r, cls);
}

/* Refills s->b when it is used up; false at the end of the segment. */
static __always_inline int request_refill(struct __sk_buff *skb,
					  struct rc_conn *c,
					  struct req_scan *s)
{
	__u32 skipped, n;

	n = rc_refill_next(&s->off, s->len, &s->b, resp_req_skippable(&c->req), &skipped);
	if (skipped) {
		resp_req_skip(&c->req, skipped);
		return 1;
	}
	return n && rc_refill_skb(skb, s->off, &s->b, n, &s->bad);
}

/* One unit of the segment scan: a refill, or the scan of the buffered chunk
 * up to the next complete request. Returns 1 to stop. */
GLOBAL int request_chunk(struct __sk_buff *skb, struct rc_conn *c,
			 struct rc_stage *st, struct req_scan *s)
{
	int ev;

	if (!skb || !c || !s)
		return 1;
	if (s->b.pos >= s->b.len)
		return !request_refill(skb, c, s);
	ev = resp_req_feed_buf(&c->req, &s->b);
	if (ev == RESP_BAD) {
		s->bad = 1;
		return 1;
	}
	if (ev == RESP_DONE) {
		request_done(c, st, s);
		resp_req_reset(&c->req);
	}
	return 0;
}

static long request_step(__u32 i, struct vctx *v)
{
	return request_chunk(v->skb, v->c, v->st, &v->s) ? 1 : 0;
}

static __always_inline int can_serve(struct rc_conn *c)
{
	return READ_ONCE(rc_enabled) && READ_ONCE(rc_tracking_ok) &&
	       READ_ONCE(rc_track_backlog) == READ_ONCE(rc_track_synced) &&
	       (!READ_ONCE(rc_track_keys) ||
		READ_ONCE(rc_unseen) == READ_ONCE(rc_unseen_ok)) &&
	       rc_conn_idle(c);
}

/*
 * Whether the socket's next message would be sent without rc_reply: a send
 * that failed half-way leaves its verdict in the psock (tcp_bpf resets
 * psock->eval only after a push that succeeds with no apply_bytes left;
 * docs/redis-cache.md, "How reply bytes go out unseen"), and the message
 * it then applies to may end exactly where rc_reply's scan did. A kernel
 * answer's tagged request must never be that message: it would reach the
 * client as it is. Read from the psock behind sk_user_data (its low bits
 * are flags); anything unreadable counts as carried.
 */
static __always_inline int verdict_carried(struct sock *sk)
{
	struct sk_psock *psock;
	__u64 ud = 0;
	__u32 eval = 0;

	if (bpf_core_read(&ud, sizeof(ud), &sk->sk_user_data))
		return 1;
	psock = (struct sk_psock *)(ud & ~7ULL);
	if (!psock || bpf_core_read(&eval, sizeof(eval), &psock->eval))
		return 1;
	return eval != bpf_core_enum_value(enum __sk_action, __SK_NONE);
}

/* Nothing Redis wrote is still waiting to be sent (a send that failed
 * half-way: the rest comes again later and must not be overtaken), the
 * answer's own message will be seen by rc_reply, and it fits the send
 * buffer, so its own send cannot fail half-way. Redis holds the socket
 * lock from rc_reply's scan to the end of its send, and the kernel
 * answer's send takes it too. */
static __always_inline int send_clear(struct __sk_buff *skb,
				      struct rc_conn *c, __u32 len)
{
	struct tcp_sock *tp = tcp_of(skb->sk);
	struct sock *sk = (struct sock *)tp;

	if (!tp)
		return 0;
	if (READ_ONCE(c->seq_valid) && READ_ONCE(c->rep_end_seq) != tp->write_seq)
		return 0;
	if (verdict_carried(sk))
		return 0;
	return sk->sk_wmem_queued + len + 8192 <= sk->sk_sndbuf;
}

/* Answers the whole segment from the stage; false if it cannot. */
static __always_inline int reflect(struct __sk_buff *skb, struct vctx *v)
{
	struct rc_conn *c = v->c;
	__u32 tag = RC_TAG, orig;
	__u32 stage_len = v->s.stage_len, nhits = v->s.nhits;

	if (!v->st || !send_clear(skb, c, stage_len))
		return 0;
	/* Linear, so that skb_send_sock() sends it in one sendmsg and
	 * rc_reply sees the tag and the whole request as one message: the
	 * head and each page frag would be separate messages (measured: the
	 * rest of the request then went out after the answer). */
	if (bpf_skb_pull_data(skb, skb->len) ||
	    bpf_skb_load_bytes(skb, 0, &orig, 4) ||
	    bpf_skb_store_bytes(skb, 0, &tag, 4, 0))
		return 0;
	v->st->len = stage_len;
	v->st->nget = nhits;
	__sync_fetch_and_add(&c->reflect_pending, 1);
	if (bpf_sk_redirect_hash(skb, &rc_socks, &c->cookie, 0) != SK_PASS) {
		__sync_fetch_and_add(&c->reflect_pending, -1);
		bpf_skb_store_bytes(skb, 0, &orig, 4, 0);
		return 0;
	}
	stat_add(RC_STAT_HITS, nhits);
	stat_add(RC_STAT_HIT_BATCHES, 1);
	return 1;
}

/* ---- fast path: segments of nothing but GETs ------------------------------ */

/* The segment is exactly one canonical GET, of @k, and its entry cannot be
 * answered: recorded as apply_get() would (the connection is idle, so
 * every condition it checks holds), without the generic scan. The
 * request scanner stays between requests. */
static __always_inline int fast_miss(struct rc_conn *c, struct req_scan *s,
				     const struct rc_key *k)
{
	stat_add(RC_STAT_MISSES, 1);
	record(c, SLOT_FILL, READ_ONCE(c->db), k->data, k->len);
	c->req_seq++;
	stat_add(RC_STAT_REQUESTS, 1);
	s->off = s->len;
	s->missed = 1;
	return 1;
}

/* One canonical GET at s->off: stages its reply and moves past it (0), or
 * stops (1) at the end of the segment, at a miss of a segment's only GET
 * (fast_miss()) or at anything else (s->bad). Global for the same reason
 * as request_chunk(). */
GLOBAL int fast_get(struct __sk_buff *skb, struct rc_conn *c,
		    struct rc_stage *st, struct req_scan *s)
{
	struct rc_key k = {};
	__u32 n = 0, hl, off;
	__u8 h[20];
	__u16 crlf;
	int got;

	if (!skb || !c || !st || !s)
		return 1;
	off = s->off;
	if (off >= s->len)
		return 1;
	if (s->len - off < 20 || s->nhits >= RC_BATCH_MAX ||
	    bpf_skb_load_bytes(skb, off, h, 20))
		goto miss;
	hl = rc_get_header(h, &n);
	if (!hl || n > RESP_KEY_MAX || off + hl + n + 2 > s->len)
		goto miss;
	k.len = n;
	if (bpf_skb_load_bytes(skb, off + hl, k.data,
			       RESP_MASK(n - 1, RESP_KEY_MAX - 1) + 1) ||
	    bpf_skb_load_bytes(skb, off + hl + n, &crlf, 2) ||
	    crlf != ('\r' | '\n' << 8))
		goto miss;
	got = stage_hit(c, st, s->stage_len, &k);
	if (got <= 0 && !off && hl + n + 2 == s->len)
		return fast_miss(c, s, &k);
	if (got <= 0)
		goto miss;
	s->stage_len += got;
	s->nhits++;
	s->off = off + hl + n + 2;
	return 0;
miss:
	s->bad = 1;
	return 1;
}

/* The end of the segment is checked here, not only in fast_get(): every
 * call and return pays for the return thunk on this kernel, and a run would
 * otherwise end with a call that finds nothing. */
static long fast_step(__u32 i, struct vctx *v)
{
	if (v->s.off >= v->s.len)
		return 1;
	return fast_get(v->skb, v->c, v->st, &v->s) ? 1 : 0;
}

/* True when the whole segment is GETs of confirmed entries, staged, or one
 * GET passed on a miss (s.missed). Leaves the connection's scanner
 * untouched: on false the generic path starts over (what was staged is
 * overwritten). */
static __always_inline int fast_gets(struct vctx *v)
{
	bpf_loop(RC_BATCH_MAX + 1, fast_step, v, 0);
	if (v->s.missed || (!v->s.bad && v->s.nhits && v->s.off == v->s.len))
		return 1;
	v->s.off = 0;
	v->s.bad = 0;
	v->s.nhits = 0;
	v->s.stage_len = 0;
	return 0;
}

/* ---- fast path: SETs at the start of a segment ---------------------------- */

/* One canonical SET without options at s->off, its value inside the
 * segment: records its effect as apply_set() would and moves past it (0),
 * or stops (1) at the end of the segment or at anything else, which the
 * generic scan then takes from s->off. Global for the same reason as
 * request_chunk(). */
GLOBAL int fast_set(struct __sk_buff *skb, struct rc_conn *c, struct req_scan *s)
{
	struct rc_key k = {};
	__u32 n = 0, m = 0, hl, vl, off, end;
	__u8 h[20];
	__u16 crlf;

	if (!skb || !c || !s)
		return 1;
	off = s->off;
	if (off >= s->len || s->len - off < 20 || bpf_skb_load_bytes(skb, off, h, 20))
		return 1;
	hl = rc_set_header(h, &n);
	/* the key, then "\r\n$<m>\r\n" (12 bytes loaded: values of 4 bytes
	 * and more, shorter ones take the generic scan) */
	if (!hl || n > RESP_KEY_MAX || off + hl + n + 12 > s->len)
		return 1;
	k.len = n;
	if (bpf_skb_load_bytes(skb, off + hl, k.data,
			       RESP_MASK(n - 1, RESP_KEY_MAX - 1) + 1) ||
	    bpf_skb_load_bytes(skb, off + hl + n, h, 12))
		return 1;
	vl = rc_next_bulk(h, &m);
	end = off + hl + n + vl + m + 2;
	if (!vl || end > s->len || bpf_skb_load_bytes(skb, end - 2, &crlf, 2) ||
	    crlf != ('\r' | '\n' << 8))
		return 1;
	set_key(c, &k, 1);
	c->req_seq++;
	stat_add(RC_STAT_REQUESTS, 1);
	s->off = end;
	return 0;
}

static long set_step(__u32 i, struct vctx *v)
{
	if (v->s.off >= v->s.len)	/* see fast_step() */
		return 1;
	return fast_set(v->skb, v->c, &v->s) ? 1 : 0;
}

/* Takes the SETs a segment starts with (a client's SETs come one per
 * segment, each whole) without the generic scan: no byte-wise walk of
 * the header and key, no command lookup. Only between requests and where
 * apply() would record the request the same way. The segment can then no
 * longer be answered from the cache. */
static __always_inline void fast_sets(struct vctx *v)
{
	struct rc_conn *c = v->c;

	if (c->req.st != RQ_START || c->pushy || c->in_multi)
		return;
	bpf_loop(RC_BATCH_MAX, set_step, v, 0);
	if (v->s.off)
		v->s.serve = 0;
}

/* The segment starts with "*3\r\n$3\r\nSET\r\n" (any case) in its linear
 * head, read without a helper call (a head too short says no). Such a
 * segment is never answered from the cache: the SET ends serving
 * (request_done(), fast_sets()), so neither its stage nor the GET fast
 * path is worth a lookup. */
static __always_inline int starts_with_set(struct __sk_buff *skb)
{
	__u8 *h = (void *)(long)skb->data;
	__u64 w0, w1;

	if ((void *)(h + 16) > (void *)(long)skb->data_end)
		return 0;
	__builtin_memcpy(&w0, h, 8);
	__builtin_memcpy(&w1, h + 8, 8);
	return w0 == SET_W0 && ((w1 & ~0x202020ull) & 0xffffffffffull) == SET_W1;
}

SEC("sk_skb")
int rc_request(struct __sk_buff *skb)
{
	struct vctx v = { .skb = skb, .s.len = skb->len };
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct rc_conn *c;

	c = bpf_map_lookup_elem(&rc_conns, &cookie);
	if (!c)
		return SK_PASS;
	if (c->broken) {
		invalidate_all();
		return SK_PASS;
	}
	v.c = c;
	if (can_serve(c)) {
		v.s.eligible = 1;
		if (!starts_with_set(skb)) {
			v.st = bpf_map_lookup_elem(&rc_stages, &cookie);
			v.s.serve = v.st != NULL;
			v.s.eligible = v.s.serve;
		}
	}
	/* a segment the fast path staged whole needs no scan: the scanner is
	 * at a request boundary before and after it */
	if (!v.s.serve || !fast_gets(&v)) {
		fast_sets(&v);
		if (v.s.off == v.s.len)
			goto scanned;
		bpf_loop(LOOP_BUDGET, request_step, &v, 0);
		if (v.s.off + v.s.b.len < v.s.len || v.s.b.pos < v.s.b.len)
			v.s.bad = 1;
		if (v.s.bad) {
			/* framing lost: every later write is unknown */
			c->broken = 1;
			unprovable(c);
			invalidate_all();
			stat_add(RC_STAT_BYPASS_BAD, 1);
			return SK_PASS;
		}
	}
scanned:
	if (v.s.serve && v.s.nhits && c->req.st == RQ_START && reflect(skb, &v))
		return SK_PASS;
	if (v.s.serve) {
		c->req_seq += v.s.nhits;
		stat_add(RC_STAT_REQUESTS, v.s.nhits);
	}
	return SK_PASS;
}

/* ---- replies ------------------------------------------------------------ */

/* The message scan's loop-carried state; see struct req_scan. */
struct rep_scan {
	__u32 off;		/* message offset of b.data[0] */
	__u32 len;
	__u32 bad;
	struct resp_buf b;
};

struct mctx {
	struct sk_msg_md *msg;
	struct rc_conn *c;
	struct rep_scan s;
};

static __always_inline int entry_current(struct rc_slot *s,
					 const struct rc_key *key, __u32 len)
{
	struct rc_hdr *h;

	if (len <= RC_SMALL_MAX)
		h = bpf_map_lookup_elem(&rc_cache_small, key);
	else
		h = bpf_map_lookup_elem(&rc_cache_large, key);
	return h && h->db == s->db && h->gen == s->gen && h->len == len;
}

static __always_inline void notify(struct rc_slot *s, __u64 version, __u32 kind)
{
	rc_notify(s, version, kind);
	if (kind == RC_EV_REFILL)
		stat_add(RC_STAT_SETS, 1);
}

GLOBAL int fill(struct sk_msg_md *msg, struct rc_slot *s, __u32 off, __u32 len)
{
	struct rc_large *v;
	struct rc_key key;
	__u32 zero = 0, pend;
	void *data, *end;
	int rc;

	v = bpf_map_lookup_elem(&rc_scratch, &zero);
	if (!v || !s || len > RC_VAL_MAX)
		return 0;
	__builtin_memcpy(&key, &s->key, sizeof(key));
	/* The key was not invalidated since an entry of this generation was
	 * filled (invalidation deletes it): keep it and its confirmation,
	 * or every miss under load would replace a confirmed version. Checked
	 * before the value is copied: misses until the library confirms a
	 * fill all land here. */
	if (entry_current(s, &key, len))
		return 0;
	if (len) {
		if (bpf_msg_pull_data(msg, off, off + len, 0))
			return 0;
		data = (void *)(long)msg->data;
		end = (void *)(long)msg->data_end;
		if (data + len > end)
			return 0;
		/* 1..RC_VAL_MAX in a form the verifier keeps */
		if (bpf_probe_read_kernel(v->data,
					  RESP_MASK(len - 1, RC_VAL_MAX - 1) + 1,
					  data))
			return 0;
	}
	v->h.len = len;
	v->h.db = s->db;
	v->h.gen = s->gen;
	/* unique without a fetching atomic: time, then CPU */
	v->h.version = (bpf_ktime_get_ns() << 6) |
		       (bpf_get_smp_processor_id() & 63);
	/* before the insert: see drop_key() */
	__sync_fetch_and_add(&rc_occupied[rc_occ_index(s->bucket)], 1);
	if (len <= RC_SMALL_MAX) {
		rc = bpf_map_update_elem(&rc_cache_small, &key, v, BPF_ANY);
		drop_entry(&rc_cache_large, &key, s->bucket);
	} else {
		rc = bpf_map_update_elem(&rc_cache_large, &key, v, BPF_ANY);
		drop_entry(&rc_cache_small, &key, s->bucket);
	}
	if (rc)
		return 0;
	/* a write pending (read first: its release moves the generation
	 * before it ends), or an invalidation since the GET was read: the
	 * value may be older. First a locked add of 0, a full barrier on
	 * x86: drop_key() deletes only what its lookups see, so the insert
	 * must be visible before the counts and generations are read. */
	barrier_var(zero);	/* an add of a constant 0 is dropped */
	__sync_fetch_and_add(&rc_wpend[s->bucket & (RC_BUCKETS - 1)], zero);
	pend = READ_ONCE(rc_wpend_all) | READ_ONCE(rc_wpend[s->bucket & (RC_BUCKETS - 1)]);
	barrier();
	if (pend || READ_ONCE(rc_gen_all) != s->gen ||
	    READ_ONCE(rc_gen_bucket[s->bucket & (RC_BUCKETS - 1)]) != s->bgen) {
		drop_entry(&rc_cache_small, &key, s->bucket);
		drop_entry(&rc_cache_large, &key, s->bucket);
		stat_add(RC_STAT_FILL_RACES, 1);
		return 0;
	}
	stat_add(RC_STAT_FILLS, 1);
	notify(s, v->h.version, RC_EV_FILLED);
	return 0;
}

static __always_inline int slot_take(struct rc_conn *c, __u32 seq,
				     struct rc_slot *out)
{
	return rc_slot_take(slot_for(c, seq), seq, out);
}

GLOBAL int reply_done(struct rc_conn *c)
{
	struct rc_slot s;
	__u32 seq;

	if (!c)
		return 0;
	seq = c->rep_seq;
	stat_add(RC_STAT_REPLIES, 1);
	if (c->pushy)
		return 0;
	if (slot_take(c, seq, &s)) {
		if (s.kind == SLOT_SELECT) {
			if (c->rep.top == '+')
				c->db = s.db;
			__sync_fetch_and_add(&c->select_inflight, -1);
		} else if (s.kind == SLOT_AUTH && c->rep.top == '+') {
			c->authed = 1;
		} else if (s.kind == SLOT_FILL &&
			   (c->rep.top == '$' || c->rep.top == '_')) {
			/* Redis let this connection read */
			c->authed = 1;
		} else if (s.kind == SLOT_SET && c->rep.top == '+') {
			notify(&s, 0, RC_EV_REFILL);
		}
		write_done(s.kind, s.bucket);
	}
	__sync_fetch_and_add(&c->rep_seq, 1);
	return 0;
}

/* A top-level bulk starts at @at of a @size byte message. */
GLOBAL int reply_bulk(struct sk_msg_md *msg, struct rc_conn *c, __u32 at,
		      __u32 size)
{
	struct rc_slot s;
	__u32 len;

	if (!c)
		return 0;
	len = c->rep.top_len;
	if (c->pushy || c->rep.top != '$' || !slot_take(c, c->rep_seq, &s) ||
	    s.kind != SLOT_FILL)
		return 0;
	if (len > READ_ONCE(rc_max_value) || len > RC_VAL_MAX ||
	    at + len + 2 > size) {
		stat_add(RC_STAT_BYPASS_SIZE, 1);
		return 0;
	}
	return fill(msg, &s, at, len);
}

GLOBAL int push_key(struct rc_conn *c)
{
	struct rc_key k = {};
	__u32 n;

	if (!c)
		return 0;
	n = c->rep.cap_len;
	if (n > RESP_KEY_MAX)
		return 0;
	/* bytes past cap_len are left over from earlier strings: copy only
	 * the key, in one step (a loop over bytes with a per-byte bound costs
	 * the verifier a state per byte and length) */
	if (n && bpf_probe_read_kernel(k.data, RESP_MASK(n - 1, RESP_KEY_MAX - 1) + 1,
				       c->rep.cap))
		return 0;
	k.len = n;
	invalidate_key(&k);
	stat_add(RC_STAT_PUSH_INVALIDATIONS, 1);
	return 0;
}

static __always_inline int reply_refill(struct sk_msg_md *msg,
					struct rc_conn *c, struct rep_scan *s)
{
	__u32 skipped, n;

	n = rc_refill_next(&s->off, s->len, &s->b, resp_rep_skippable(&c->rep), &skipped);
	if (skipped) {
		resp_rep_skip(&c->rep, skipped);
		return 1;
	}
	return n && rc_refill_msg(msg, s->off, &s->b, n, &s->bad);
}

/* One unit of the message scan: a refill, or the buffered chunk up to the
 * next event. Returns 1 to stop. Global: see struct req_scan. */
GLOBAL int reply_chunk(struct sk_msg_md *msg, struct rc_conn *c,
		       struct rep_scan *s)
{
	int ev;

	if (!msg || !c || !s)
		return 1;
	if (s->b.pos >= s->b.len && !c->rep.done_due)
		return !reply_refill(msg, c, s);
	ev = resp_rep_feed_buf(&c->rep, &s->b);
	switch (ev) {
	case RESP_BAD:
		s->bad = 1;
		return 1;
	case RESP_DONE:
		if (c->rep.top != '>')
			reply_done(c);
		break;
	case RESP_BULK:
		reply_bulk(msg, c, s->off + s->b.pos, s->len);
		break;
	case RESP_INV_KEY:
		push_key(c);
		break;
	case RESP_INV_ALL:
		invalidate_all();
		break;
	}
	return 0;
}

static long reply_step(__u32 i, struct mctx *m)
{
	return reply_chunk(m->msg, m->c, &m->s) ? 1 : 0;
}

struct copy_ctx {
	struct sk_msg_md *msg;
	struct rc_stage *st;
	__u32 base;		/* message and stage offset of msg->data */
	__u32 want;		/* bytes to copy from there */
};

/* Copies block i of @bytes from the stage into the message; the last block
 * is moved back to end at x->want (>= bytes), overlapping the one before
 * with the same bytes. One bpf_loop() iteration per block: each callback
 * is an indirect call, which costs more than the copy of a few words. */
static __always_inline long copy_block(__u32 i, struct copy_ctx *x,
				       const __u32 bytes)
{
	__u8 *data = (void *)(long)x->msg->data;
	__u8 *end = (void *)(long)x->msg->data_end;
	__u32 off = i * bytes;
	__u8 *dst, *src;

	if (off + bytes > x->want)
		off = x->want - bytes;
	off = RESP_MASK(off, RC_STAGE_MAX - 1);
	src = x->st->buf + RESP_MASK(x->base + off, RC_STAGE_MAX - 1);
	dst = data + off;
	if (dst + bytes > end)
		return 1;
#pragma unroll
	for (int k = 0; k < bytes / 8; k++)
		((__u64 *)dst)[k] = ((__u64 *)src)[k];
	return 0;
}

static long copy_256(__u32 i, struct copy_ctx *x)
{
	return copy_block(i, x, 256);
}

static long copy_32(__u32 i, struct copy_ctx *x)
{
	return copy_block(i, x, 32);
}

static long copy_8(__u32 i, struct copy_ctx *x)
{
	return copy_block(i, x, 8);
}

static long copy_byte(__u32 i, struct copy_ctx *x)
{
	__u8 *data = (void *)(long)x->msg->data;
	__u8 *end = (void *)(long)x->msg->data_end;
	__u32 off = RESP_MASK(i, RC_STAGE_MAX - 1);

	if (data + off + 1 > end)
		return 1;
	data[off] = x->st->buf[RESP_MASK(x->base + off, RC_STAGE_MAX - 1)];
	return 0;
}

/* Copies the staged bytes [from, to) into the message. The range is made
 * linear first: within one scatterlist element that costs nothing, across
 * elements it allocates and copies. */
static __always_inline int copy_stage(struct copy_ctx *x, __u32 from,
				      __u32 to)
{
	__u32 want = to - from;

	if (bpf_msg_pull_data(x->msg, from, to, 0))
		return -1;
	x->base = from;
	x->want = want;

	if (want >= 256)
		bpf_loop((want + 255) / 256, copy_256, x, 0);
	else if (want >= 32)
		bpf_loop((want + 31) / 32, copy_32, x, 0);
	else if (want >= 8)
		bpf_loop((want + 7) / 8, copy_8, x, 0);
	else
		bpf_loop(want, copy_byte, x, 0);
	return 0;
}

/* Replaces the tagged request segment by the staged replies. */
GLOBAL int answer(struct sk_msg_md *msg, struct rc_conn *c)
{
	struct copy_ctx x = { .msg = msg };
	__u32 have = msg->size, want;
	__u64 cookie;

	if (!c)
		return SK_DROP;
	cookie = c->cookie;
	x.st = bpf_map_lookup_elem(&rc_stages, &cookie);
	if (!x.st)
		return SK_DROP;
	want = x.st->len;
	if (want > RC_STAGE_MAX || !want)
		return SK_DROP;
	/* One scatterlist element, whatever the lengths: tcp_bpf_push() sends
	 * each element with its own tcp_sendmsg_locked() call, and on Redis'
	 * TCP_NODELAY socket each became a segment of its own (measured: 2 data
	 * segments per answer and a pure ACK from the client for each). A
	 * longer answer therefore goes into a fresh element in front of the
	 * request, which is then dropped whole; a shorter one is the request's
	 * element cut short. */
	if (want > have) {
		if (bpf_msg_push_data(msg, 0, want, 0) ||
		    bpf_msg_pop_data(msg, want, have, 0))
			return SK_DROP;
	} else if (want < have && bpf_msg_pop_data(msg, want, have - want, 0)) {
		return SK_DROP;
	}
	if (copy_stage(&x, 0, want))
		return SK_DROP;
	return SK_PASS;
}

static __always_inline int tagged(struct sk_msg_md *msg)
{
	void *data, *end;

	if (bpf_msg_pull_data(msg, 0, 4, 0))
		return 0;
	data = (void *)(long)msg->data;
	end = (void *)(long)msg->data_end;
	return data + 4 <= end && *(__u32 *)data == RC_TAG;
}

/*
 * @gap bytes Redis wrote went out without the program (see rc_reply()):
 * accounts for them without their content when that is still exact, and
 * returns 0; -1 when the reply stream is lost.
 *
 * A send that fails half-way frees the rest of a message the program
 * scanned; Redis writes from the failure point again, and the kernel sends
 * that message without running the program (tcp_bpf keeps the old
 * verdict). The bytes it repeats were seen; what lies past the end of the
 * scan (rep_end_seq) was not. They are the next bytes of Redis' reply
 * stream, contiguous, so when the scanner stood in the payload of a bulk
 * (a large GET reply, or a large element of an aggregate) and the gap ends
 * no later than that bulk's CRLF, they can only be the rest of that payload
 * and the CRLF: the scanner skips them as it would have, and counts the
 * reply when the CRLF ends it. Payloads are never looked at (fills need the
 * whole value in one message), and pushes are excluded (their strings are
 * captured). Anything else (the gap reaches into the next reply) cannot be
 * known: the connection is given up, as before.
 *
 * Why a connection taken back this way never gets an answer before a reply
 * Redis still owes: the verdict answers only when every request passed to
 * Redis has been counted as replied (req_seq == rep_seq) and every byte
 * Redis queued has been accounted for (rep_end_seq == write_seq); until
 * this runs, the unseen bytes keep write_seq ahead of rep_end_seq, and a
 * reply they end is not counted. Both programs run under the socket lock.
 */
GLOBAL int reply_resync(struct rc_conn *c, __u32 gap)
{
	struct resp_rep *p;
	__u32 n;
	int ev;

	if (!c)
		return -1;
	p = &c->rep;
	if (c->rep_broken || (p->flags & RESP_REP_PUSH))
		return -1;
	n = resp_rep_skippable(p);
	if (n > gap)
		n = gap;
	if (n) {
		resp_rep_skip(p, n);
		gap -= n;
	}
	/* what is left can only be the bulk's CRLF */
	for (int i = 0; i < 2 && gap; i++) {
		if (p->st != RP_DATA_CR && p->st != RP_DATA_LF)
			return -1;
		ev = resp_rep_byte(p, p->st == RP_DATA_CR ? '\r' : '\n');
		if (ev == RESP_DONE)
			reply_done(c);
		else if (ev != RESP_MORE)
			return -1;
		gap--;
	}
	if (gap)
		return -1;
	stat_add(RC_STAT_READMITS, 1);
	return 0;
}

/* The reply stream is not known any more: the connection is never answered
 * again. Besides malformed or unscannable replies, this is how a send that
 * failed half-way ends when reply_resync() cannot account for the bytes
 * that went out unseen. */
static __always_inline int reply_lost(struct rc_conn *c)
{
	/* counted once per connection given up: its later messages come
	 * here again (their bytes are not followed any more) */
	if (!c->rep_broken)
		stat_add(RC_STAT_BYPASS_BAD, 1);
	c->rep_broken = 1;
	c->pushy = 1;
	/* its pending writes are released when it closes */
	unprovable(c);
	if (c->tracker) {
		rc_tracking_ok = 0;
		invalidate_all();
	}
	return SK_PASS;
}

/*
 * A write on the tracking connection after which Redis may hold pushes
 * back: a send refused for want of buffer space is not seen here, so the
 * last one it accepted must tell. Refused means the queue reached the send
 * buffer's size; it grows only by sends, each seen here first, so a queue
 * at half of it (with this message) comes first. Redis also stops after
 * NET_MAX_WRITES_PER_EVENT (64 KiB) per connection and turn whatever the
 * socket takes; such a write reaches this program in chunks of tens of
 * KiB (as many page fragments as a message holds), so one of them is at
 * least RC_TRACK_BURST. Either way the writer's reply may leave before the
 * rest of the pushes: answers stop until the library's round trip.
 */
static __always_inline void tracker_backlog(struct sk_msg_md *msg, struct tcp_sock *tp)
{
	struct sock *sk = (struct sock *)tp;

	if ((bpf_ntohl(msg->remote_port) & 0xffff) != READ_ONCE(rc_tracker_port))
		return;		/* the query connection: no pushes */
	if (msg->size >= RC_TRACK_BURST ||
	    2 * ((__u64)sk->sk_wmem_queued + msg->size) >= (__u64)sk->sk_sndbuf)
		__sync_fetch_and_add(&rc_track_backlog, 1);
}

/*
 * Keeps what a send that fails half-way leaves unseen inside what this
 * program scanned (docs/redis-cache.md, "How reply bytes go out unseen").
 * Without it, the failed send's verdict stays in the psock and covers the
 * whole first message of Redis' next write (up to 17 pages of 32 KiB):
 * measured under load, that reached past a 16 MiB value into the replies
 * queued behind it, and the connection was given up.
 *
 * A message that may not fit the room left in the send buffer gets the
 * verdict for its first A = min(ceil(len/2), sndbuf/4) bytes only; the
 * kernel runs the program again on the rest (already scanned: a skip),
 * which is bounded the same way. The verdict's unspent bytes survive a
 * failed push whole (apply_bytes is charged only after a push succeeds),
 * so:
 * - a push of A that fails k < A bytes in leaves the verdict on the next
 *   A bytes Redis writes, which start where the push stopped: they end
 *   k + A <= 2A - 1 <= len bytes into this message, inside the scan;
 * - Redis writes again only when poll() says the socket is writable,
 *   i.e. with at least a third of the send buffer free, so those A <=
 *   sndbuf/4 bytes are pushed whole, the budget is spent, and the program
 *   runs on everything after them (a server that writes sooner than
 *   that falls back to the gap handling below).
 * A push can still fail inside a piece that fits (TCP memory pressure),
 * or a write that does not wait for poll() (Redis writes again at once
 * when its first write was short and under 64 KiB) can push the budget at
 * low room: what that leaves unseen goes to reply_resync(), or the
 * connection is given up. A message that fits is passed whole, as before.
 */
static __always_inline void bound_unseen(struct sk_msg_md *msg,
					 struct tcp_sock *tp)
{
	struct sock *sk = (struct sock *)tp;
	__s64 room = (__s64)sk->sk_sndbuf - sk->sk_wmem_queued;
	__u32 len = msg->size, a;

	/* skb overhead: a few hundred bytes per 64 KiB segment */
	if (len < 2 || room >= (__s64)len + len / 32 + 8192)
		return;
	a = (len + 1) / 2;
	if (a > (__u32)sk->sk_sndbuf / 4)
		a = (__u32)sk->sk_sndbuf / 4;
	bpf_msg_apply_bytes(msg, a ? a : 1);
}

/* "+OK\r\n" as a whole message at a reply boundary (every SET's reply):
 * counted without the scanner, leaving its state as the scanner would. */
static __always_inline int ok_reply(struct sk_msg_md *msg, struct rc_conn *c)
{
	void *data, *end;

	if (msg->size != 5 || c->rep.st != RP_TYPE || c->rep.depth ||
	    c->rep.done_due || bpf_msg_pull_data(msg, 0, 5, 0))
		return 0;
	data = (void *)(long)msg->data;
	end = (void *)(long)msg->data_end;
	if (data + 5 > end || *(__u32 *)data != ('+' | 'O' << 8 | 'K' << 16 | '\r' << 24) ||
	    *(__u8 *)(data + 4) != '\n')
		return 0;
	/* the scanner's own start of a top-level line, then its end */
	resp_rep_type(&c->rep, '+');
	c->rep.st = RP_TYPE;
	reply_done(c);
	return 1;
}

/* ---- fast path: invalidation pushes on the tracking connection ------------ */

/* With broadcast tracking Redis writes a push for the keys of every write
 * to the tracking connection; the generic scan walks each byte of it. */
#define PUSH_HDR	">2\r\n$10\r\ninvalidate\r\n*"
#define PUSH_HDR_LEN	22
#define PUSH_STEPS	(1 << 14)

struct push_scan {
	__u32 off;		/* message offset of the next element */
	__u32 len;
	__u32 keys;		/* keys of the current push still due */
	__u32 nkeys;		/* keys invalidated */
	__u32 bad;
};

struct pctx {
	struct sk_msg_md *msg;
	struct push_scan s;
};

/* Copies @n (1..RESP_KEY_MAX) bytes at @off of the message to @dst. */
static __always_inline int msg_load(struct sk_msg_md *msg, __u32 off,
				    void *dst, __u32 n)
{
	void *data, *end;

	n = RESP_MASK(n - 1, RESP_KEY_MAX - 1) + 1;
	if (bpf_msg_pull_data(msg, off, off + n, 0))
		return -1;
	data = (void *)(long)msg->data;
	end = (void *)(long)msg->data_end;
	if (data + n > end)
		return -1;
	return bpf_probe_read_kernel(dst, n, data) ? -1 : 0;
}

/* One element at s->off: a push header ">2 invalidate *<n>" or one of its
 * keys ("$<n>\r\n<key>\r\n", 1..RESP_KEY_MAX bytes), which it invalidates.
 * Returns 1 to stop: at the end of the message, or (s->bad) at anything
 * else, which the generic scan then reads from the message's start. */
GLOBAL int fast_push(struct sk_msg_md *msg, struct push_scan *s)
{
	struct rc_key k = {};
	const char *w = PUSH_HDR;
	__u32 n = 0, i, off;
	__u8 b[28];
	__u16 crlf;

	if (!msg || !s)
		return 1;
	off = s->off;
	if (!s->keys) {
		if (off >= s->len)
			return 1;
		if (s->len - off < 28 || msg_load(msg, off, b, 28))
			goto bad;
		for (i = 0; i < PUSH_HDR_LEN; i++)
			if (b[i] != w[i])
				goto bad;
		for (i = PUSH_HDR_LEN; i < PUSH_HDR_LEN + 4; i++) {
			if (b[i] < '0' || b[i] > '9')
				break;
			n = n * 10 + b[i] - '0';
		}
		if (!n || b[PUSH_HDR_LEN] == '0' || b[i] != '\r' || b[i + 1] != '\n')
			goto bad;
		s->keys = n;
		s->off = off + i + 2;
		return 0;
	}
	/* "$1\r\nx\r\n" is the shortest key element */
	if (s->len - off < 7 || msg_load(msg, off, b, 5) || b[0] != '$' ||
	    b[1] < '1' || b[1] > '9')
		goto bad;
	n = b[1] - '0';
	i = 2;
	if (b[2] >= '0' && b[2] <= '9') {
		n = n * 10 + b[2] - '0';
		i = 3;
	}
	if (n > RESP_KEY_MAX || b[i] != '\r' || b[i + 1] != '\n' ||
	    off + i + 2 + n + 2 > s->len)
		goto bad;
	k.len = n;
	if (msg_load(msg, off + i + 2, k.data, n) ||
	    msg_load(msg, off + i + 2 + n, &crlf, 2) || crlf != ('\r' | '\n' << 8))
		goto bad;
	invalidate_key(&k);
	s->nkeys++;
	s->keys--;
	s->off = off + i + 2 + n + 2;
	return 0;
bad:
	s->bad = 1;
	return 1;
}

static long push_step(__u32 i, struct pctx *p)
{
	return fast_push(p->msg, &p->s) ? 1 : 0;
}

/* True when the message, starting at a reply boundary, is whole
 * invalidation pushes of keys, all invalidated; the scanner's state is
 * then the generic scan's after a push. Invalidation is idempotent: on
 * false the generic scan reads the message again from its start. */
static __always_inline int fast_pushes(struct sk_msg_md *msg, struct rc_conn *c)
{
	struct pctx p = { .msg = msg, .s.len = msg->size };

	if (c->rep.st != RP_TYPE || c->rep.depth || c->rep.done_due)
		return 0;
	bpf_loop(PUSH_STEPS, push_step, &p, 0);
	if (p.s.bad || p.s.keys || p.s.off != p.s.len || !p.s.nkeys)
		return 0;
	resp_rep_type(&c->rep, '>');
	c->rep.st = RP_TYPE;
	stat_add(RC_STAT_PUSH_INVALIDATIONS, p.s.nkeys);
	return 1;
}

SEC("sk_msg")
int rc_reply(struct sk_msg_md *msg)
{
	struct mctx m = { .msg = msg, .s.len = msg->size };
	struct tcp_sock *tp;
	struct rc_conn *c;
	__u64 cookie;
	__u32 start;
	__s32 seen;
	int verdict;

	tp = tcp_of(msg->sk);
	if (!tp)
		return SK_PASS;
	/* sk_msg has no socket-cookie helper: the cookie rc_sockops' helper
	 * stored in the socket (sock_gen_cookie()), read where it lies
	 * instead of from socket storage, a second lookup per message */
	cookie = ((struct sock *)tp)->__sk_common.skc_cookie.counter;
	c = bpf_map_lookup_elem(&rc_conns, &cookie);
	if (!c)
		return SK_PASS;
	if (c->tracker)
		tracker_backlog(msg, tp);
	/* nothing of this message is queued yet: it starts at write_seq */
	start = tp->write_seq;
	seen = c->seq_valid ? (__s32)(c->rep_end_seq - start) : 0;
	if (seen < 0) {		/* bytes went out unseen */
		if (c->rep_broken || reply_resync(c, -seen))
			return reply_lost(c);
		seen = 0;
	}
	if (READ_ONCE(c->reflect_pending) && !seen && c->rep.st == RP_TYPE &&
	    !c->rep.depth && tagged(msg)) {
		verdict = answer(msg, c);
		WRITE_ONCE(c->rep_end_seq, start + msg->size);
		WRITE_ONCE(c->seq_valid, 1);
		barrier();
		__sync_fetch_and_add(&c->reflect_pending, -1);
		return verdict;
	}
	if (c->rep_broken)
		return SK_PASS;
	bound_unseen(msg, tp);
	/* a send that failed half-way, or the rest of a message bound_unseen()
	 * cut: skip what was scanned already. Marked before replies are
	 * counted, see send_clear(). A message that starts in scanned bytes
	 * and goes past them is Redis writing again after such a failure: the
	 * connection stayed in step. */
	if (seen >= m.s.len)
		return SK_PASS;
	if (seen > 0)
		stat_add(RC_STAT_READMITS, 1);
	WRITE_ONCE(c->rep_end_seq, start + m.s.len);
	WRITE_ONCE(c->seq_valid, 1);
	barrier();
	if (!seen && ok_reply(msg, c))
		return SK_PASS;
	if (!seen && c->tracker && fast_pushes(msg, c))
		return SK_PASS;
	m.s.off = seen;
	m.c = c;
	bpf_loop(LOOP_BUDGET, reply_step, &m, 0);
	if (m.s.off + m.s.b.len < m.s.len || m.s.b.pos < m.s.b.len ||
	    c->rep.done_due)
		m.s.bad = 1;
	if (m.s.bad)
		return reply_lost(c);
	/* the rest of an invalidation push may come late: forget everything */
	if (c->rep.top == '>' && (c->rep.depth || c->rep.st != RP_TYPE))
		invalidate_all();
	return SK_PASS;
}

/* ---- connections -------------------------------------------------------- */

/* A connection going: the writes Redis has not answered are released (it
 * answers none of them now). */
GLOBAL int release_writes(struct rc_conn *c)
{
	__u32 rep, i;

	if (!c)
		return 0;
	rep = READ_ONCE(c->rep_seq);
	for (i = 0; i < RC_SLOTS; i++) {
		if (!slot_pending(&c->slots[i], rep))
			continue;
		WRITE_ONCE(c->slots[i].seq, 0);
		write_done(c->slots[i].kind, c->slots[i].bucket);
	}
	return 0;
}

/* @rport: the peer's port. Only the library's current connections cover
 * the cache: one it replaced (switching tracking modes) may close after
 * the new ones are up. */
static __always_inline void conn_close(__u64 cookie, __u32 rport)
{
	struct rc_conn *c = bpf_map_lookup_elem(&rc_conns, &cookie);

	if (!c)
		return;
	release_writes(c);
	if (c->tracker && (rport == READ_ONCE(rc_tracker_port) ||
			   rport == READ_ONCE(rc_query_port))) {
		rc_tracking_ok = 0;
		invalidate_all();
	}
	bpf_map_delete_elem(&rc_stages, &cookie);
	bpf_map_delete_elem(&rc_reconf, &cookie);
	bpf_map_delete_elem(&rc_conns, &cookie);
}

static __always_inline void conn_open(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	__u16 port = skops->local_port;
	__u32 rport;
	__u32 zero = 0;
	struct rc_conn *c;
	void *tmpl;

	if (!READ_ONCE(rc_accepting) || !bpf_map_lookup_elem(&rc_ports, &port))
		return;
	tmpl = bpf_map_lookup_elem(&rc_conn_zero, &zero);
	if (!tmpl || bpf_map_update_elem(&rc_conns, &cookie, tmpl, BPF_NOEXIST)) {
		unseen_event();		/* a connection whose writes pass unseen */
		return;
	}
	tmpl = bpf_map_lookup_elem(&rc_stage_zero, &zero);
	if (tmpl)
		bpf_map_update_elem(&rc_stages, &cookie, tmpl, BPF_NOEXIST);
	c = bpf_map_lookup_elem(&rc_conns, &cookie);
	if (!c)
		return;
	c->cookie = cookie;
	rport = bpf_ntohl(skops->remote_port) & 0xffff;
	if (rc_tracker_port && rport == rc_tracker_port) {
		c->tracker = 1;
		c->pushy = 1;
		rc_tracker_seen = 1;
	}
	/* Its GETs register keys for invalidation and check fills against
	 * Redis: never a fill, never answered here. Its keys are tracked only
	 * while it lives, so losing it loses coherence like the tracker. */
	if (rc_query_port && rport == rc_query_port) {
		c->tracker = 1;
		c->pushy = 1;
	}
	bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
	if (bpf_sock_hash_update(skops, &rc_socks, &cookie, BPF_NOEXIST)) {
		conn_close(cookie, rport);
		unseen_event();
	}
}

SEC("sockops")
int rc_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		conn_open(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		/* the tracker stops covering us as soon as it leaves */
		if (skops->args[1] == BPF_TCP_CLOSE ||
		    skops->args[1] == BPF_TCP_CLOSE_WAIT ||
		    skops->args[1] == BPF_TCP_FIN_WAIT1)
			conn_close(bpf_get_socket_cookie(skops),
				   bpf_ntohl(skops->remote_port) & 0xffff);
		break;
	}
	return 1;
}
