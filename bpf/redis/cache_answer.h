/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Turning a tagged request segment into the replies staged for it: the
 * block copies from the stage into the message.
 *
 * Part of redis_cache.bpf.c, included by it alone after its maps and
 * globals (static functions of one BPF object; see that file).
 */
#ifndef EBPFACCEL_REDIS_CACHE_ANSWER_H
#define EBPFACCEL_REDIS_CACHE_ANSWER_H

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

#endif
