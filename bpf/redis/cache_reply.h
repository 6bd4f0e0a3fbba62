/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sk_msg side's scan of what Redis writes: reply counting, fills
 * from GET replies (generation-guarded), invalidation pushes, and how a
 * connection whose reply stream was lost is given up and re-admitted.
 *
 * Part of redis_cache.bpf.c, included by it alone after its maps and
 * globals (static functions of one BPF object; see that file).
 */
#ifndef EBPFACCEL_REDIS_CACHE_REPLY_H
#define EBPFACCEL_REDIS_CACHE_REPLY_H

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

#endif
