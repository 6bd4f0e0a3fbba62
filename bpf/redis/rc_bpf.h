/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF helpers every Redis cache object that keeps its own copy of struct
 * rc_shared uses (redis_cache.bpf.c, near.bpf.c): the generation and
 * invalidation rules and the command classification. Include after the maps
 * rc_cache_small, rc_cache_large, rc_cmds, rc_fills and the globals rc_gen_all and
 * rc_gen_bucket[] are defined. The RESP pieces written or matched (rc_get_header(),
 * rc_bulk_header()) and the READ_ONCE/WRITE_ONCE/barrier/GLOBAL macros live
 * in redis_cache.h, which the XDP object shares too. The request slots
 * (struct rc_slot) and the refill of a chunked scan are the same in both.
 */
#ifndef EBPFACCEL_REDIS_RC_BPF_H
#define EBPFACCEL_REDIS_RC_BPF_H

#include "resp_subcmd.h"

GLOBAL __u32 key_bucket(const struct rc_key *k)
{
	return k ? rc_key_hash(k) : 0;
}

/* Generation first, then delete: a fill that raced with us either sees the
 * new generation and removes itself, or is removed by the delete. A delete
 * that fails with the key present (a bucket lock taken on this CPU) is not
 * answered with a flush here: tried, that flushed on every SET on 6.1 (the
 * guest's get_request_forms), for a reason not found yet. Static: @k stays
 * a pointer to the caller's stack, which every kernel takes as a map key (a
 * global function would need a copy, and 6.1 allows 512 bytes of stack
 * along a whole call chain). Returns int although no caller uses it: a
 * subprogram must set R0 before its exit, or older verifiers refuse it. */
static __noinline int invalidate_key(const struct rc_key *k)
{
	__u32 b = key_bucket(k);

	__sync_fetch_and_add(&rc_gen_bucket[b & (RC_BUCKETS - 1)], 1);
	bpf_map_delete_elem(&rc_cache_small, k);
	bpf_map_delete_elem(&rc_cache_large, k);
	return 0;
}

static __always_inline void key_from_req(struct rc_key *k,
					 const struct resp_req *r)
{
	k->len = r->key_len;
	__builtin_memcpy(k->data, r->key, RESP_KEY_MAX);
}

static __always_inline __u32 parse_db(const struct resp_req *r)
{
	__u32 db = 0;

	if (!r->key_len || r->key_len > 9)
		return ~0u;
	for (int i = 0; i < 9; i++) {
		__u8 c = r->key[i];

		if (i >= r->key_len)
			break;
		if (c < '0' || c > '9')
			return ~0u;
		db = db * 10 + (c - '0');
	}
	return db;
}

/* What the request's command does to the cache (enum rc_cmd_class). */
static __always_inline __u32 classify(const struct resp_req *r)
{
	char cmd[RESP_CMD_MAX];
	__u32 *cls, w;

	if (r->flags & RESP_REQ_CMD_LONG)
		return RC_CMD_UNKNOWN;
	/* GET, the hot path, without a hash of the command name */
	__builtin_memcpy(&w, r->cmd, 4);
	if (r->cmd_len == 3 && w == ('G' | 'E' << 8 | 'T' << 16))
		return RC_CMD_GET;
	/* a key on the stack: kernels before 6.2 take no other memory as a
	 * map key, and the scanner's state is plain memory in global
	 * functions */
	__builtin_memcpy(cmd, r->cmd, RESP_CMD_MAX);
	cls = bpf_map_lookup_elem(&rc_cmds, cmd);
	return cls ? *cls : RC_CMD_UNKNOWN;
}

/* Copies slot @s into @out if it holds request @seq's (s->seq == seq + 1).
 * Read twice around the copy: in the server cache the request program may
 * take the slot over from another CPU meanwhile. */
static __always_inline int rc_slot_take(const struct rc_slot *s, __u32 seq,
					struct rc_slot *out)
{
	if (READ_ONCE(s->seq) != seq + 1)
		return 0;
	barrier();
	__builtin_memcpy(out, s, sizeof(*out));
	barrier();
	return READ_ONCE(s->seq) == seq + 1;
}

/* Tells the engine that @s's key was filled (RC_EV_FILLED, @version to
 * confirm) or is to be refilled (RC_EV_REFILL). Dropped when the ring is
 * full: the entry then stays unconfirmed, never served. */
static __always_inline void rc_notify(const struct rc_slot *s, __u64 version, __u32 kind)
{
	struct rc_fill_event *ev = bpf_ringbuf_reserve(&rc_fills, sizeof(*ev), 0);

	if (!ev)
		return;
	__builtin_memcpy(&ev->key, &s->key, sizeof(ev->key));
	ev->version = version;
	ev->db = s->db;
	ev->kind = kind;
	bpf_ringbuf_submit(ev, 0);
}

/* ---- chunked scans ------------------------------------------------------
 * Every scan of a segment or message (requests and replies, sk_skb and
 * sk_msg) feeds its scanner one chunk at a time from a struct resp_buf;
 * a refill is rc_refill_next(), then the scanner's skip or one of the
 * loads below. */

/* @b, at *@off of the @len bytes scanned, is used up. Returns how many
 * bytes to load next at *@off (1..RESP_CHUNK), or 0: at the end, or when
 * the scanner lets the next *@skipped bytes go unread (@skippable, its
 * resp_*_skippable(): the rest of an argument it does not keep). *@off is
 * then past them already; the caller hands them to the scanner's skip. */
static __always_inline __u32 rc_refill_next(__u32 *off, __u32 len, struct resp_buf *b,
					    __u32 skippable, __u32 *skipped)
{
	__u32 n;

	*off += b->len;
	b->pos = 0;
	b->len = 0;
	*skipped = 0;
	if (*off >= len)
		return 0;
	n = len - *off;
	if (skippable) {
		*skipped = skippable < n ? skippable : n;
		*off += *skipped;
		return 0;
	}
	return n < RESP_CHUNK ? n : RESP_CHUNK;
}

/* Loads @n bytes (1..RESP_CHUNK) at @off of the message into @b: 1, or 0
 * with *@bad set. */
static __always_inline int rc_refill_msg(struct sk_msg_md *msg, __u32 off, struct resp_buf *b,
					 __u32 n, __u32 *bad)
{
	void *data, *end;

	n = ((n - 1) & (RESP_CHUNK - 1)) + 1;
	if (bpf_msg_pull_data(msg, off, off + n, 0))
		goto bad;
	data = (void *)(long)msg->data;
	end = (void *)(long)msg->data_end;
	if (data + n > end || bpf_probe_read_kernel(b->data, n, data))
		goto bad;
	b->len = n;
	return 1;
bad:
	*bad = 1;
	return 0;
}

/* Loads @n bytes (1..RESP_CHUNK) at @off of the segment into @b: 1, or 0
 * with *@bad set. */
static __always_inline int rc_refill_skb(struct __sk_buff *skb, __u32 off, struct resp_buf *b,
					 __u32 n, __u32 *bad)
{
	n = ((n - 1) & (RESP_CHUNK - 1)) + 1;
	if (bpf_skb_load_bytes(skb, off, b->data, n)) {
		*bad = 1;
		return 0;
	}
	b->len = n;
	return 1;
}

#endif /* EBPFACCEL_REDIS_RC_BPF_H */
