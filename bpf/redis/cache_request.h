/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sk_skb verdict's segment scan: the scan state carried across
 * bpf_loop() iterations, staging replies for GET hits, the checks that
 * decide whether a segment may be answered by the kernel, and the fast
 * paths for segments of nothing but GETs and for leading SETs.
 *
 * Part of redis_cache.bpf.c, included by it alone after its maps and
 * globals (static functions of one BPF object; see that file).
 */
#ifndef EBPFACCEL_REDIS_CACHE_REQUEST_H
#define EBPFACCEL_REDIS_CACHE_REQUEST_H

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
	/* the first one called directly: one SET per segment is the rule,
	 * and bpf_loop() calls its callback indirectly (a retpoline where
	 * Spectre v2 mitigations are on), twice for one SET */
	if (!fast_set(v->skb, c, &v->s) && v->s.off < v->s.len)
		bpf_loop(RC_BATCH_MAX - 1, set_step, v, 0);
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

#endif
