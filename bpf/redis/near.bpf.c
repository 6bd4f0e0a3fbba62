// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Near cache: Redis GET hits answered on the client's own host, for
 * unmodified clients (sockmap on the client's sockets).
 *
 * nc_sockops  puts the client connections of the cgroup's processes to the
 *             chosen Redis server into a SOCKMAP (ACTIVE_ESTABLISHED).
 * nc_request  sk_msg on every request the application writes. A message
 *             that is exactly one GET at a command boundary, on a
 *             connection that owes no reply and whose state is modelled,
 *             for a confirmed, current, young enough entry, is rewritten
 *             into the reply and redirected to the socket's own ingress:
 *             the application's next read returns it, nothing crosses TCP.
 *             Everything else is scanned (writes invalidate here, before
 *             they leave: read-your-writes) and passed untouched.
 * nc_reply    sk_skb verdict, no parser, on every segment from Redis: counts
 *             replies, applies SELECT/AUTH, fills the cache from GET
 *             replies, invalidates again when a write's reply arrives.
 *             It also puts Redis' replies into the psock's ingress queue,
 *             the queue local answers join: an answer given only while no
 *             reply is owed never overtakes one (kernel-facts).
 * The coherence engine (lib/redis/coherence.c) confirms fills and applies
 * Redis' invalidations from user space. docs/redis-near-cache.md states the
 * guarantee. Every bpf_loop() callback only calls a global function with a
 * scalar-only state struct (see bpf/redis/redis_cache.bpf.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "near.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SK_DROP 0
#define SK_PASS 1
#define AF_INET 2
#define AF_INET6 10
#define LOOP_BUDGET (1 << 17)	/* bytes scanned per segment or message */

/* What request n expects from Redis' n-th reply (struct rc_slot's kind). */
enum nc_slot_kind { NC_SLOT_NONE, NC_SLOT_FILL, NC_SLOT_SELECT, NC_SLOT_AUTH, NC_SLOT_WRITE,
		    NC_SLOT_FLUSH };

/* A message or segment scan's loop-carried state: scalars only, touched
 * only inside global functions (see bpf/redis/redis_cache.bpf.c, struct
 * req_scan). Kept in the connection's state, not on the stack: kernels
 * before 6.2 allow 512 bytes of stack for the whole call chain. */
struct scan {
	__u32 off;		/* offset of b.data[0] */
	__u32 len;
	__u32 bad;
	__u32 servable;		/* the connection could be answered */
	struct resp_buf b;
};

/* Written by nc_request and nc_reply alike: both run under the socket's
 * lock (the verdict runs in softirq only when no task owns the socket,
 * else from release_sock() by the owner), so they never run at once. */
struct nc_conn {
	struct resp_req req;
	struct resp_rep rep;
	struct scan req_scan;	/* nc_request's */
	struct scan rep_scan;	/* nc_reply's */
	__u64 cookie;
	__u32 sock_slot;	/* the socket's index in nc_socks */
	__u32 req_seq;		/* requests passed to Redis */
	__u32 rep_seq;		/* replies Redis sent */
	__u32 select_inflight;	/* SELECTs whose reply is still owed */
	__u32 db;
	__u32 lost_until;	/* flush at every reply up to this request */
	__u32 req_end_seq;	/* TCP sequence just past the bytes scanned */
	__u8 lost_writes;	/* a write's slot was reused before its reply */
	__u8 seq_valid;		/* req_end_seq is known */
	__u8 authed;
	__u8 in_multi;
	__u8 pushy;		/* replies do not follow requests 1:1 */
	__u8 broken;		/* a stream not understood: never served */
	__u8 other_user;	/* an ACL user other than default */
	struct rc_slot slots[NC_SLOTS];
};

/* The connections, each at an index of its own: a local answer's redirect
 * indexes an array instead of hashing a key. sock_ops takes a free index
 * (BPF_NOEXIST) and the kernel frees it when the socket leaves the map
 * (close, unhash), which also ends the programs' runs on that socket: an
 * index in a connection's state is its own socket's for as long as
 * nc_request can run on it. */
#define NC_SOCK_SLOTS	65536
#define NC_SLOT_PROBES	8	/* indices tried per connection */

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, NC_SOCK_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} nc_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct nc_conn);
} nc_conns SEC(".maps");

/* Per socket, used under its lock: a fill's value on its way into the
 * cache (local answers are written straight from the entry). Per-CPU
 * scratch would not do: a softirq can interrupt a program running in
 * process context. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct rc_large);
} nc_stages SEC(".maps");

/* zeroed templates for new entries (too large for the stack) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nc_conn);
} nc_conn_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rc_large);
} nc_stage_zero SEC(".maps");

/* The maps struct rc_shared names: the coherence engine works on them. */
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
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rc_fills SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, char[RESP_CMD_MAX]);
	__type(value, __u32);
} rc_cmds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NC_SERVERS_MAX);
	__type(key, struct nc_addr);
	__type(value, __u8);
} nc_servers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NC_PREFIXES_MAX);
	__type(key, __u32);
	__type(value, struct nc_prefix);
} nc_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NC_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} nc_stats SEC(".maps");

/* Set by the library. */
__u32 nc_enabled;		/* answer locally */
__u32 nc_accepting;		/* take new connections in */
__u32 nc_nr_prefixes;		/* 0: every key is cached */
__u32 rc_tracking_ok;		/* the engine's invalidation stream is live */
__u32 rc_max_value = RC_VAL_MAX;
__u64 nc_max_stale_ns = 1000000000ull;
/* The index the last closed connection left: tried first, so indices are
 * reused at once (and closing/opening is what the tests exercise). */
__u32 nc_slot_hint;
/* Bumped by both sides: a value belongs to one global generation, and a
 * fill only stands if its key's bucket generation did not move. */
__u64 rc_gen_all;
__u64 rc_gen_bucket[RC_BUCKETS];

#include "rc_bpf.h"

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&nc_stats, &idx);

	if (v)
		*v += n;
}

/* A version is the fill's time (ns) << 6 | cpu: its age needs no field. */
static __always_inline __u64 version_new(void)
{
	return (bpf_ktime_get_ns() << 6) | (bpf_get_smp_processor_id() & 63);
}

static __always_inline __u64 version_age(__u64 version)
{
	return bpf_ktime_get_ns() - (version >> 6);
}

static __always_inline void invalidate_all(void)
{
	__sync_fetch_and_add(&rc_gen_all, 1);
	stat_add(NC_STAT_FLUSHES, 1);
}

/* Whether the key is one the cache keeps (nc_prefixes, as words). */
GLOBAL int prefix_ok(const struct rc_key *k)
{
	__u32 n = READ_ONCE(nc_nr_prefixes);
	struct nc_prefix *p;
	__u64 w;

	if (!k)
		return 0;
	if (!n)
		return 1;
	for (__u32 i = 0; i < NC_PREFIXES_MAX; i++) {
		__u32 idx = i, j;

		if (i >= n)
			break;
		p = bpf_map_lookup_elem(&nc_prefixes, &idx);
		if (!p)
			return 0;
		for (j = 0; j < NC_KEY_WORDS; j++) {
			__builtin_memcpy(&w, k->data + j * 8, 8);
			if ((w ^ p->w[j]) & p->mask[j])
				break;
		}
		if (j == NC_KEY_WORDS)
			return 1;
	}
	return 0;
}

/* ---- requests (nc_request, sk_msg) -------------------------------------- */

static __always_inline struct rc_slot *slot_for(struct nc_conn *c, __u32 seq)
{
	return &c->slots[seq & (NC_SLOTS - 1)];
}

static __always_inline int slot_is_write(const struct rc_slot *s)
{
	return s->kind == NC_SLOT_WRITE || s->kind == NC_SLOT_FLUSH;
}

/* Remembers what request c->req_seq expects from its reply (@k NULL: no
 * key). A write whose slot is taken over before its reply came (more than
 * NC_SLOTS requests in flight) makes every reply up to it flush the cache
 * instead. Callers keep no key of their own on the stack: kernels before
 * 6.2 allow 512 bytes for the whole call chain. */
GLOBAL int record(struct nc_conn *c, __u32 kind, __u32 db,
		  const struct rc_key *k)
{
	struct rc_slot *s;
	__u32 seq, old;

	if (!c || c->pushy)
		return 0;
	seq = c->req_seq;
	s = slot_for(c, seq);
	old = s->seq - 1;
	if (s->seq && slot_is_write(s) && (__s32)(old - c->rep_seq) >= 0) {
		c->lost_writes = 1;
		c->lost_until = old;
	}
	s->seq = 0;
	s->kind = kind;
	s->db = db;
	if (k)
		__builtin_memcpy(&s->key, k, sizeof(s->key));
	else
		__builtin_memset(&s->key, 0, sizeof(s->key));
	s->bucket = key_bucket(&s->key);
	s->gen = READ_ONCE(rc_gen_all);
	s->bgen = READ_ONCE(rc_gen_bucket[s->bucket & (RC_BUCKETS - 1)]);
	s->seq = seq + 1;
	return 0;
}

/* A GET of @k passed to Redis on a connection whose state is modelled:
 * its reply fills the cache. */
static __always_inline void record_get(struct nc_conn *c, const struct rc_key *k)
{
	if (!prefix_ok(k))
		return;
	stat_add(NC_STAT_MISSES, 1);
	record(c, NC_SLOT_FILL, c->db, k);
}

static __noinline void apply_get(struct nc_conn *c, struct resp_req *r)
{
	struct rc_key k;

	if (r->argc != 2 || (r->flags & RESP_REQ_KEY_LONG) || c->pushy ||
	    c->in_multi || c->select_inflight || c->other_user)
		return;
	key_from_req(&k, r);
	record_get(c, &k);
}

/* Before the write leaves, and again when its reply arrives: a GET another
 * connection sent later may have run in Redis before the write and be
 * filled after this invalidation. */
static __noinline void apply_write(struct nc_conn *c, struct resp_req *r,
				   __u32 cls)
{
	struct rc_key k;

	if (cls == RC_CMD_WRITEN && r->argc != 2) {
		invalidate_all();
		record(c, NC_SLOT_FLUSH, 0, NULL);
		return;
	}
	/* keys longer than RESP_KEY_MAX are never cached */
	if (r->argc < 2 || (r->flags & RESP_REQ_KEY_LONG)) {
		record(c, NC_SLOT_NONE, 0, NULL);
		return;
	}
	key_from_req(&k, r);
	invalidate_key(&k);
	stat_add(NC_STAT_INVALIDATIONS, 1);
	record(c, NC_SLOT_WRITE, 0, &k);
}

static __noinline void apply_flush(struct nc_conn *c)
{
	invalidate_all();
	record(c, NC_SLOT_FLUSH, 0, NULL);
}

static __noinline void apply_state(struct nc_conn *c, struct resp_req *r,
				   __u32 cls)
{
	switch (cls) {
	case RC_CMD_SELECT:
		__sync_fetch_and_add(&c->select_inflight, 1);
		record(c, NC_SLOT_SELECT, parse_db(r), NULL);
		return;
	case RC_CMD_AUTH:
		/* ACL users other than "default" may not read every key */
		if (r->argc == 2 || (r->argc == 3 && key_is(r, "DEFAULT", 7)))
			record(c, NC_SLOT_AUTH, 0, NULL);
		else
			c->other_user = 1;
		return;
	case RC_CMD_HELLO:
		/* HELLO <ver> AUTH|SETNAME ...: the user is not parsed */
		if (r->argc > 2)
			c->other_user = 1;
		break;
	case RC_CMD_MULTI:
		c->in_multi = 1;
		break;
	case RC_CMD_CLIENT:
		if (key_is(r, "TRACKING", 8) || key_is(r, "REPLY", 5) ||
		    key_is(r, "CACHING", 7))
			c->pushy = 1;
		break;
	case RC_CMD_PUSHY:
		c->pushy = 1;
		break;
	}
	record(c, NC_SLOT_NONE, 0, NULL);
}

/* CONFIG GET and CONFIG HELP only read: clients such as redis-benchmark
 * send CONFIG GET when they connect, which must not flush everyone's cache.
 * Only CONFIG's: "REPLICAOF GET 6379" names a host. */
/* Records what a request passed to Redis does to the cache. */
static __noinline void apply(struct nc_conn *c, struct resp_req *r, __u32 cls)
{
	switch (cls) {
	case RC_CMD_GET:
		apply_get(c, r);
		break;
	case RC_CMD_READ:
		record(c, NC_SLOT_NONE, 0, NULL);
		break;
	case RC_CMD_SET:
	case RC_CMD_WRITE1:
	case RC_CMD_WRITEN:
		apply_write(c, r, cls);
		break;
	case RC_CMD_EXEC:
		c->in_multi = 0;
		apply_flush(c);
		break;
	case RC_CMD_RECONF:
	case RC_CMD_ADMIN:
		if (cls == RC_CMD_ADMIN ? admin_reads(r) : reconf_reads(r))
			record(c, NC_SLOT_NONE, 0, NULL);
		else
			apply_flush(c);
		break;
	case RC_CMD_SELECT:
	case RC_CMD_AUTH:
	case RC_CMD_HELLO:
	case RC_CMD_MULTI:
	case RC_CMD_CLIENT:
	case RC_CMD_PUSHY:
		apply_state(c, r, cls);
		break;
	default:
		apply_flush(c);
	}
	if (!c->pushy)
		c->req_seq++;
	stat_add(NC_STAT_REQUESTS, 1);
}

struct mctx {
	struct sk_msg_md *msg;
	struct nc_conn *c;
};

/* Refills s->b from the message when it is used up; false at its end. */
static __always_inline int request_refill(struct sk_msg_md *msg,
					  struct nc_conn *c, struct scan *s)
{
	__u32 skipped, n;

	n = rc_refill_next(&s->off, s->len, &s->b, resp_req_skippable(&c->req), &skipped);
	if (skipped) {
		resp_req_skip(&c->req, skipped);
		return 1;
	}
	return n && rc_refill_msg(msg, s->off, &s->b, n, &s->bad);
}

GLOBAL int request_chunk(struct sk_msg_md *msg, struct nc_conn *c,
			 struct scan *s)
{
	struct resp_req *r;
	__u32 cls;
	int ev;

	if (!msg || !c || !s)
		return 1;
	if (s->b.pos >= s->b.len)
		return !request_refill(msg, c, s);
	r = &c->req;
	ev = resp_req_feed_buf(r, &s->b);
	if (ev == RESP_BAD) {
		s->bad = 1;
		return 1;
	}
	if (ev == RESP_DONE) {
		cls = classify(r);
		if (cls == RC_CMD_GET && !s->servable)
			stat_add(NC_STAT_BYPASS_STATE, 1);
		apply(c, r, cls);
		resp_req_reset(r);
	}
	return 0;
}

static long request_step(__u32 i, struct mctx *m)
{
	return request_chunk(m->msg, m->c, &m->c->req_scan) ? 1 : 0;
}

/* ---- local answers ------------------------------------------------------- */

static __always_inline int authed(struct nc_conn *c)
{
	return c->authed && !c->other_user;
}

/* At a command boundary, no reply owed, every state of the connection
 * modelled: a local answer is what Redis would reply next. */
static __always_inline int can_serve(struct nc_conn *c)
{
	return READ_ONCE(nc_enabled) && READ_ONCE(rc_tracking_ok) &&
	       !c->pushy && !c->broken && authed(c) && !c->in_multi &&
	       !c->select_inflight && c->req.st == RQ_START &&
	       c->req_seq == c->rep_seq && c->rep.st == RP_TYPE &&
	       !c->rep.depth && !c->rep.done_due;
}

/* The key of a message that is exactly one GET; 0 if it is anything else. */
GLOBAL int one_get(struct sk_msg_md *msg, struct rc_key *k)
{
	__u32 size, n = 0, hl;
	void *data, *end;
	__u8 h[20];
	__u16 crlf;

	if (!msg || !k)
		return 0;
	size = msg->size;
	if (size < 20 || size > 18 + RESP_KEY_MAX + 2)
		return 0;
	data = (void *)(long)msg->data;
	end = (void *)(long)msg->data_end;
	/* a write of one GET is one element already: no pull to call */
	if (data + size > end) {
		if (bpf_msg_pull_data(msg, 0, size, 0))
			return 0;
		data = (void *)(long)msg->data;
		end = (void *)(long)msg->data_end;
	}
	if (data + 20 > end)
		return 0;
	__builtin_memcpy(h, data, 20);
	hl = rc_get_header(h, &n);
	if (!hl || n > RESP_KEY_MAX || hl + n + 2 != size ||
	    data + size > end)
		return 0;
	if (bpf_probe_read_kernel(k->data, RESP_MASK(n - 1, RESP_KEY_MAX - 1) + 1,
				  data + hl) ||
	    bpf_probe_read_kernel(&crlf, 2, data + hl + n) ||
	    crlf != ('\r' | '\n' << 8))
		return 0;
	k->len = n;
	return 1;
}

/* msg->data and msg->data_end, each loaded at its constant context offset:
 * clang otherwise may form the field's address from a register that holds
 * the offset, and the verifier refuses a modified context pointer. */
static __always_inline __u8 *msg_data(struct sk_msg_md *msg)
{
	__u8 *p;

	asm volatile("%0 = *(u64 *)(%1 + 0)" : "=r"(p) : "r"(msg));
	return p;
}

static __always_inline __u8 *msg_end(struct sk_msg_md *msg)
{
	__u8 *p;

	asm volatile("%0 = *(u64 *)(%1 + 8)" : "=r"(p) : "r"(msg));
	return p;
}

_Static_assert(__builtin_offsetof(struct sk_msg_md, data) == 0 &&
	       __builtin_offsetof(struct sk_msg_md, data_end) == 8, "sk_msg_md layout");

/* The reply's first word: "$<len>\r\n" (len < 10000) in its low bytes, in
 * registers (rc_bulk_header() writes a buffer: on the stack clang forms
 * its byte addresses with OR, which the verifier refuses on a pointer).
 * Returns the header's length; the value's copy writes over the rest. */
static __always_inline __u32 reply_header(__u32 len, __u64 *word)
{
	__u64 w = '$';
	__u32 n = 1;

	if (len >= 1000)
		w |= (__u64)('0' + len / 1000 % 10) << (8 * n++);
	if (len >= 100)
		w |= (__u64)('0' + len / 100 % 10) << (8 * n++);
	if (len >= 10)
		w |= (__u64)('0' + len / 10 % 10) << (8 * n++);
	w |= (__u64)('0' + len % 10) << (8 * n++);
	w |= (__u64)('\r' | '\n' << 8) << (8 * n);
	*word = w;
	return n + 2;
}

struct copy_ctx {
	struct sk_msg_md *msg;
	const __u8 *src;	/* the entry's value */
	__u64 at;		/* the value's offset in the message */
};

/* Bytes pushed past the reply: whole blocks are copied, never a clamped
 * last one (on paths a clamp makes impossible, 6.1's verifier meets
 * ranges with min > max and refuses the pointer). The pop that drops the
 * request drops them too. */
#define NC_SLACK 256

/* Copies block i of the entry's value (a map value of @max bytes, a
 * multiple of @bytes) into the message. One bpf_loop() iteration per
 * block. */
static __always_inline long copy_block(__u32 i, struct copy_ctx *x,
				       const __u32 bytes, const __u32 max)
{
	__u8 *data = msg_data(x->msg);
	__u8 *end = msg_end(x->msg);
	/* 64-bit: no zero extension after the bound check, which clang
	 * would apply to a copy the verifier knows no bound of */
	__u64 off = RESP_MASK((__u64)i * bytes, max - 1), at = x->at;
	const __u8 *src;
	__u8 *dst;

	if (off > max - bytes || at > 8)
		return 1;
	src = x->src + off;
	dst = data + at + off;
	if (dst + bytes > end)
		return 1;
#pragma unroll
	for (int k = 0; k < bytes / 8; k++)
		((__u64 *)dst)[k] = ((const __u64 *)src)[k];
	return 0;
}

static long copy_large_256(__u32 i, struct copy_ctx *x)
{
	return copy_block(i, x, 256, RC_VAL_MAX);
}

static long copy_small_32(__u32 i, struct copy_ctx *x)
{
	return copy_block(i, x, 32, RC_SMALL_MAX);
}

static long copy_small_8(__u32 i, struct copy_ctx *x)
{
	return copy_block(i, x, 8, RC_SMALL_MAX);
}

/* Writes "$<len>\r\n<value>\r\n" (@want bytes) at the start of the message,
 * whose first element holds them and NC_SLACK bytes more
 * (bpf_msg_push_data() made it). */
static __always_inline int put_reply(struct sk_msg_md *msg,
				     const struct rc_small *sm,
				     const struct rc_large *lg, __u32 len)
{
	struct copy_ctx x = { .msg = msg };
	__u8 *data = msg_data(msg);
	__u8 *end = msg_end(msg);
	__u64 word;
	__u32 n, i;

	n = reply_header(len, &word);
	if (data + 8 > end)
		return -1;
	*(__u64 *)data = word;
	x.at = n;
	if (sm) {
		x.src = sm->data;
		if (len >= 32)
			bpf_loop((len + 31) / 32, copy_small_32, &x, 0);
		else
			bpf_loop((len + 7) / 8, copy_small_8, &x, 0);
	} else if (lg) {
		x.src = lg->data;
		bpf_loop((len + 255) / 256, copy_large_256, &x, 0);
	} else {
		return -1;
	}
	/* the message is re-read after the loop */
	data = msg_data(msg);
	end = msg_end(msg);
	/* masked in the register used below: 6.1's verifier loses the bound
	 * of the spilled len across the loop */
	i = RESP_MASK(n + len, 2 * RC_VAL_MAX - 1);
	if (i > RC_VAL_MAX + 8)
		return -1;
	data += i;
	if (data + 2 > end)
		return -1;
	data[0] = '\r';
	data[1] = '\n';
	return 0;
}

/* Whether an entry may answer a GET on @c now: this generation, the
 * connection's db, young enough, the version confirmed by the engine. */
static __always_inline int entry_servable(struct nc_conn *c, struct rc_hdr *h,
					  __u64 ver, const struct rc_key *key)
{
	__u64 *cv;

	if (h->db != c->db || h->gen != READ_ONCE(rc_gen_all))
		return 0;
	if (version_age(ver) > READ_ONCE(nc_max_stale_ns)) {
		stat_add(NC_STAT_EXPIRED, 1);
		return 0;
	}
	/* a version the engine confirmed stays confirmed: the first answer
	 * copies it into the entry, later ones skip the rc_confirmed lookup */
	if (READ_ONCE(h->confirmed) != ver) {
		cv = bpf_map_lookup_elem(&rc_confirmed, key);
		if (!cv || *cv != ver)
			return 0;
		WRITE_ONCE(h->confirmed, ver);
	}
	return h->len <= RC_VAL_MAX;
}

/* Answers the message, one GET of @k, locally if its entry is servable.
 * The reply is written straight from the entry into an element pushed in
 * front of the request (the push, which allocates, is the one step that
 * can fail on a healthy system, and comes before anything is written);
 * then the entry's version is read again: an LRU element reused under us
 * has moved on, and popping the pushed element restores the request.
 * Only then is the request dropped. Returns SK_PASS (answered: redirected
 * to our own ingress), SK_DROP (the message could not be restored) or -1
 * (untouched: go on as usual). */
static __noinline int answer(struct sk_msg_md *msg, struct nc_conn *c,
			     struct rc_key *k)
{
	struct rc_small *sm;
	struct rc_large *lg = NULL;
	struct rc_hdr *h;
	__u64 ver, word;
	__u32 len, want, have;

	if (!msg || !c || !k)
		return -1;
	sm = bpf_map_lookup_elem(&rc_cache_small, k);
	if (sm) {
		h = &sm->h;
	} else {
		lg = bpf_map_lookup_elem(&rc_cache_large, k);
		if (!lg)
			return -1;
		h = &lg->h;
	}
	ver = READ_ONCE(h->version);
	if (!entry_servable(c, h, ver, k))
		return -1;
	len = h->len;
	if (len > RC_VAL_MAX || (sm && len > RC_SMALL_MAX))
		return -1;
	want = reply_header(len, &word) + len + 2;
	have = msg->size;
	if (bpf_msg_push_data(msg, 0, want + NC_SLACK, 0))
		return -1;
	if (msg_data(msg) + want + NC_SLACK > msg_end(msg) &&
	    bpf_msg_pull_data(msg, 0, want + NC_SLACK, 0))
		goto restore;
	if (put_reply(msg, sm, lg, len))
		goto restore;
	barrier();
	if (READ_ONCE(h->version) != ver)
		goto restore;
	if (bpf_msg_pop_data(msg, want, NC_SLACK + have, 0))
		goto spoilt;
	if (bpf_msg_redirect_map(msg, &nc_socks, c->sock_slot, BPF_F_INGRESS) != SK_PASS)
		goto spoilt;
	stat_add(NC_STAT_HITS, 1);
	return SK_PASS;
restore:
	if (!bpf_msg_pop_data(msg, 0, want + NC_SLACK, 0))
		return -1;
spoilt:
	c->broken = 1;
	stat_add(NC_STAT_BYPASS_BAD, 1);
	return SK_DROP;
}

/* The message, exactly the GET of @k at a command boundary of a servable
 * connection, goes to Redis: recorded as the scan would record it, without
 * scanning the bytes one_get() already parsed. */
static __noinline void pass_get(struct nc_conn *c, const struct rc_key *k)
{
	record_get(c, k);
	c->req_seq++;
	stat_add(NC_STAT_REQUESTS, 1);
}

/* Requests went out unseen (a send the program did not run on), or were
 * not understood: every later write is unknown. */
static __always_inline int request_lost(struct nc_conn *c)
{
	c->broken = 1;
	invalidate_all();
	stat_add(NC_STAT_BYPASS_BAD, 1);
	return SK_PASS;
}

SEC("sk_msg")
int nc_request(struct sk_msg_md *msg)
{
	struct mctx m = { .msg = msg };
	struct rc_key k = {};
	struct scan *sc;
	struct tcp_sock *tp;
	struct nc_conn *c;
	__u64 cookie;
	__u32 start;
	__s32 seen;
	int verdict;

	if (!msg->sk)
		return SK_PASS;
	tp = bpf_skc_to_tcp_sock(msg->sk);
	if (!tp)
		return SK_PASS;
	/* sk_msg has no socket-cookie helper: the cookie is read where the
	 * kernel keeps it (nc_sockops asked for it before the socket could
	 * send through this program) */
	cookie = tp->inet_conn.icsk_inet.sk.__sk_common.skc_cookie.counter;
	c = bpf_map_lookup_elem(&nc_conns, &cookie);
	if (!c)
		return SK_PASS;
	if (c->broken) {
		/* any message may hold a write the programs cannot see */
		invalidate_all();
		return SK_PASS;
	}
	/* nothing of this message is queued yet: it starts at write_seq. A
	 * send that failed half-way freed bytes the program saw, and the
	 * application writes them again. */
	start = tp->write_seq;
	seen = c->seq_valid ? (__s32)(c->req_end_seq - start) : 0;
	if (seen < 0)
		return request_lost(c);
	if (seen >= msg->size)
		return SK_PASS;
	sc = &c->req_scan;
	__builtin_memset(sc, 0, sizeof(*sc));
	sc->len = msg->size;
	sc->servable = !seen && can_serve(c);
	if (sc->servable && one_get(msg, &k)) {
		verdict = answer(msg, c, &k);
		if (verdict >= 0)
			return verdict;
		c->req_end_seq = start + sc->len;
		c->seq_valid = 1;
		pass_get(c, &k);
		return SK_PASS;
	}
	c->req_end_seq = start + sc->len;
	c->seq_valid = 1;
	sc->off = seen;
	m.c = c;
	bpf_loop(LOOP_BUDGET, request_step, &m, 0);
	if (sc->off + sc->b.len < sc->len || sc->b.pos < sc->b.len)
		sc->bad = 1;
	if (sc->bad)
		return request_lost(c);
	return SK_PASS;
}

/* ---- replies (nc_reply, sk_skb verdict) ---------------------------------- */

static __always_inline int slot_take(struct nc_conn *c, __u32 seq,
				     struct rc_slot *out)
{
	return rc_slot_take(slot_for(c, seq), seq, out);
}


/* An entry of this generation holds the value and is young enough: keep
 * it and its confirmation (a new version waits for the engine again). Past
 * half the staleness bound it is refilled, so hot keys stay servable. */
static __always_inline int entry_current(struct rc_slot *s,
					 const struct rc_key *key, __u32 len)
{
	struct rc_hdr *h;

	if (len <= RC_SMALL_MAX)
		h = bpf_map_lookup_elem(&rc_cache_small, key);
	else
		h = bpf_map_lookup_elem(&rc_cache_large, key);
	return h && h->db == s->db && h->gen == s->gen && h->len == len &&
	       version_age(h->version) < READ_ONCE(nc_max_stale_ns) / 2;
}

/* Stores a GET reply's value (len bytes at @off of the segment). */
GLOBAL int fill(struct __sk_buff *skb, struct nc_conn *c, struct rc_slot *s,
		__u32 off, __u32 len)
{
	struct rc_large *v;
	struct rc_key key;
	__u64 cookie;
	int rc;

	if (!skb || !c || !s || len > RC_VAL_MAX)
		return 0;
	cookie = c->cookie;
	v = bpf_map_lookup_elem(&nc_stages, &cookie);
	if (!v)
		return 0;
	__builtin_memcpy(&key, &s->key, sizeof(key));
	if (entry_current(s, &key, len))
		return 0;
	if (len && bpf_skb_load_bytes(skb, off, v->data,
				      RESP_MASK(len - 1, RC_VAL_MAX - 1) + 1))
		return 0;
	v->h.len = len;
	v->h.db = s->db;
	v->h.gen = s->gen;
	v->h.version = version_new();
	/* the stage held answers too: no stale bytes may pose as confirmed */
	v->h.confirmed = 0;
	if (len <= RC_SMALL_MAX) {
		rc = bpf_map_update_elem(&rc_cache_small, &key, v, BPF_ANY);
		bpf_map_delete_elem(&rc_cache_large, &key);
	} else {
		rc = bpf_map_update_elem(&rc_cache_large, &key, v, BPF_ANY);
		bpf_map_delete_elem(&rc_cache_small, &key);
	}
	if (rc)
		return 0;
	/* an invalidation since the GET left: the value may be older */
	if (READ_ONCE(rc_gen_all) != s->gen ||
	    READ_ONCE(rc_gen_bucket[s->bucket & (RC_BUCKETS - 1)]) != s->bgen) {
		bpf_map_delete_elem(&rc_cache_small, &key);
		bpf_map_delete_elem(&rc_cache_large, &key);
		stat_add(NC_STAT_FILL_RACES, 1);
		return 0;
	}
	stat_add(NC_STAT_FILLS, 1);
	rc_notify(s, v->h.version, RC_EV_FILLED);
	return 0;
}

/* A top-level bulk of the current reply starts at @at of the segment. */
GLOBAL int reply_bulk(struct __sk_buff *skb, struct nc_conn *c, __u32 at,
		      __u32 size)
{
	struct rc_slot s;
	__u32 len;

	if (!c)
		return 0;
	len = c->rep.top_len;
	if (c->pushy || c->rep.top != '$' || !slot_take(c, c->rep_seq, &s) ||
	    s.kind != NC_SLOT_FILL)
		return 0;
	if (len > READ_ONCE(rc_max_value) || len > RC_VAL_MAX ||
	    at + len + 2 > size) {
		stat_add(NC_STAT_BYPASS_SIZE, 1);
		return 0;
	}
	return fill(skb, c, &s, at, len);
}

GLOBAL int reply_done(struct nc_conn *c)
{
	struct rc_slot s;
	__u32 seq;

	if (!c)
		return 0;
	seq = c->rep_seq;
	stat_add(NC_STAT_REPLIES, 1);
	if (c->pushy)
		return 0;
	if (c->lost_writes) {
		invalidate_all();
		if (seq == c->lost_until)
			c->lost_writes = 0;
	}
	if (slot_take(c, seq, &s)) {
		if (s.kind == NC_SLOT_SELECT) {
			if (c->rep.top == '+')
				c->db = s.db;
			__sync_fetch_and_add(&c->select_inflight, -1);
		} else if (s.kind == NC_SLOT_AUTH && c->rep.top == '+') {
			c->authed = 1;
		} else if (s.kind == NC_SLOT_FILL &&
			   (c->rep.top == '$' || c->rep.top == '_')) {
			/* Redis let this connection read */
			c->authed = 1;
		} else if (s.kind == NC_SLOT_WRITE) {
			invalidate_key(&s.key);
		} else if (s.kind == NC_SLOT_FLUSH) {
			invalidate_all();
		}
	}
	c->rep_seq = seq + 1;
	return 0;
}

GLOBAL int push_key(struct nc_conn *c)
{
	struct rc_key k = {};
	__u32 n;

	if (!c)
		return 0;
	n = c->rep.cap_len;
	if (n > RESP_KEY_MAX)
		return 0;
	if (n && bpf_probe_read_kernel(k.data, RESP_MASK(n - 1, RESP_KEY_MAX - 1) + 1,
				       c->rep.cap))
		return 0;
	k.len = n;
	invalidate_key(&k);
	return 0;
}

struct sctx {
	struct __sk_buff *skb;
	struct nc_conn *c;
};

static __always_inline int reply_refill(struct __sk_buff *skb,
					struct nc_conn *c, struct scan *s)
{
	__u32 skipped, n;

	n = rc_refill_next(&s->off, s->len, &s->b, resp_rep_skippable(&c->rep), &skipped);
	if (skipped) {
		resp_rep_skip(&c->rep, skipped);
		return 1;
	}
	return n && rc_refill_skb(skb, s->off, &s->b, n, &s->bad);
}

GLOBAL int reply_chunk(struct __sk_buff *skb, struct nc_conn *c,
		       struct scan *s)
{
	int ev;

	if (!skb || !c || !s)
		return 1;
	if (s->b.pos >= s->b.len && !c->rep.done_due)
		return !reply_refill(skb, c, s);
	ev = resp_rep_feed_buf(&c->rep, &s->b);
	switch (ev) {
	case RESP_BAD:
		s->bad = 1;
		return 1;
	case RESP_DONE:
		/* a RESP3 push: replies no longer follow requests alone */
		if (c->rep.top == '>')
			c->pushy = 1;
		else
			reply_done(c);
		break;
	case RESP_BULK:
		reply_bulk(skb, c, s->off + s->b.pos, s->len);
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

static long reply_step(__u32 i, struct sctx *x)
{
	return reply_chunk(x->skb, x->c, &x->c->rep_scan) ? 1 : 0;
}

SEC("sk_skb")
int nc_reply(struct __sk_buff *skb)
{
	struct sctx x = { .skb = skb };
	struct scan *sc;
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct nc_conn *c;

	c = bpf_map_lookup_elem(&nc_conns, &cookie);
	if (!c)
		return SK_PASS;
	if (c->broken) {
		/* any reply may end a write the programs could not see */
		invalidate_all();
		return SK_PASS;
	}
	x.c = c;
	sc = &c->rep_scan;
	__builtin_memset(sc, 0, sizeof(*sc));
	sc->len = skb->len;
	bpf_loop(LOOP_BUDGET, reply_step, &x, 0);
	if (sc->off + sc->b.len < sc->len || sc->b.pos < sc->b.len ||
	    c->rep.done_due)
		sc->bad = 1;
	if (sc->bad) {
		/* replies not understood: the connection's writes are not
		 * known to be done, and it is never answered again */
		c->broken = 1;
		invalidate_all();
		stat_add(NC_STAT_BYPASS_BAD, 1);
	}
	return SK_PASS;
}

/* ---- connections ---------------------------------------------------------- */

static __always_inline int is_server(struct bpf_sock_ops *skops)
{
	/* every field read once, unconditionally: clang would otherwise
	 * merge the two address loads into one at a variable context
	 * offset, which the verifier refuses */
	__u32 family = skops->family, ip4 = skops->remote_ip4;
	__u32 ip6_0 = skops->remote_ip6[0], ip6_1 = skops->remote_ip6[1];
	__u32 ip6_2 = skops->remote_ip6[2], ip6_3 = skops->remote_ip6[3];
	struct nc_addr a = {};

	barrier();
	a.port = bpf_ntohl(skops->remote_port) & 0xffff;
	if (family == AF_INET) {
		a.ip6[2] = bpf_htonl(0xffff);
		a.ip6[3] = ip4;
	} else if (family == AF_INET6) {
		a.ip6[0] = ip6_0;
		a.ip6[1] = ip6_1;
		a.ip6[2] = ip6_2;
		a.ip6[3] = ip6_3;
	} else {
		return 0;
	}
	return bpf_map_lookup_elem(&nc_servers, &a) != NULL;
}

static __always_inline void conn_close(__u64 cookie)
{
	bpf_map_delete_elem(&nc_stages, &cookie);
	bpf_map_delete_elem(&nc_conns, &cookie);
}

/* TCP_CLOSE: the socket leaves nc_socks (the kernel removes it right after
 * this callback, or did at close()); its index is the next one tried. */
static __always_inline void conn_closed(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct nc_conn *c = bpf_map_lookup_elem(&nc_conns, &cookie);

	if (c)
		WRITE_ONCE(nc_slot_hint, c->sock_slot);
	conn_close(cookie);
}

/* Puts the socket at a free index of nc_socks: the last one freed, then a
 * few from its cookie on (cookies grow by one per socket that asks). */
static __always_inline int sock_slot_take(struct bpf_sock_ops *skops,
					  __u64 cookie, __u32 *slot)
{
	__u32 i, s;

	for (i = 0; i < NC_SLOT_PROBES; i++) {
		s = i ? (__u32)cookie + i : READ_ONCE(nc_slot_hint);
		s &= NC_SOCK_SLOTS - 1;
		if (!bpf_sock_map_update(skops, &nc_socks, &s, BPF_NOEXIST)) {
			*slot = s;
			return 0;
		}
	}
	return -1;
}

static __always_inline void conn_open(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct bpf_sock *sk = skops->sk;
	__u32 zero = 0;
	struct nc_conn *c;
	void *tmpl;

	if (!READ_ONCE(nc_accepting) || !sk || !is_server(skops))
		return;
	tmpl = bpf_map_lookup_elem(&nc_stage_zero, &zero);
	if (!tmpl || bpf_map_update_elem(&nc_stages, &cookie, tmpl, BPF_NOEXIST))
		return;
	tmpl = bpf_map_lookup_elem(&nc_conn_zero, &zero);
	if (!tmpl || bpf_map_update_elem(&nc_conns, &cookie, tmpl, BPF_NOEXIST))
		goto fail;
	c = bpf_map_lookup_elem(&nc_conns, &cookie);
	if (!c)
		goto fail;
	c->cookie = cookie;
	bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
	/* the slot is written before any message can run nc_request: this
	 * callback holds the socket's lock */
	if (sock_slot_take(skops, cookie, &c->sock_slot))
		goto fail;
	stat_add(NC_STAT_CONNS, 1);
	return;
fail:
	conn_close(cookie);
}

SEC("sockops")
int nc_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		conn_open(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE)
			conn_closed(skops);
		break;
	}
	return 1;
}
