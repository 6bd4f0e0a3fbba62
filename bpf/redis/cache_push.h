/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The fast path for whole messages of invalidation pushes on the
 * tracking connection.
 *
 * Part of redis_cache.bpf.c, included by it alone after its maps and
 * globals (static functions of one BPF object; see that file).
 */
#ifndef EBPFACCEL_REDIS_CACHE_PUSH_H
#define EBPFACCEL_REDIS_CACHE_PUSH_H

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

#endif
