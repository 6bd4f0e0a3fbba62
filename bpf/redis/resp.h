/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Incremental RESP scanners shared by the BPF programs and the host.
 *
 * Both scanners consume a byte stream in chunks of at most RESP_CHUNK bytes
 * and keep everything they need between chunks in an explicit state struct,
 * so a request or reply may be split anywhere across TCP segments or writes.
 * Every loop is bounded by RESP_CHUNK or RESP_DEPTH: the same code passes the
 * BPF verifier and runs under libFuzzer on the host. Replies nest to any
 * depth in constant state: the top RESP_DEPTH levels are kept on a stack
 * (push recognition needs levels 1 and 2), everything below the deepest
 * stacked level is one counter of the elements still owed.
 *
 * The request scanner understands the multibulk form clients send
 * (`*<argc>\r\n$<len>\r\n<bytes>\r\n...`) and captures the command name,
 * the first argument (normally the key) and a short second argument.
 * The reply scanner understands RESP2 and RESP3 replies, finds where each
 * top-level reply ends, tells out-of-band push messages apart from replies
 * and extracts the keys of client-tracking "invalidate" pushes.
 * RESP3 attributes are followed as part of the element they annotate.
 * Anything else (inline commands, streamed strings, pushes inside replies,
 * oversize numbers) is reported as RESP_BAD: the caller then stops trusting
 * the stream instead of guessing.
 */
#ifndef EBPFACCEL_RESP_H
#define EBPFACCEL_RESP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifdef __bpf__
#define RESP_API static __always_inline
/* The chunk scanners are global BPF functions: the verifier checks their
 * loop once, not at every call site. They scan a whole chunk per call:
 * with retpolines and return thunks a call per byte (bpf_loop() callback
 * plus a global step function) cost more than the scanning itself. */
#define RESP_FEED __attribute__((noinline))
/* Steps taken once per element, not per byte, are global functions too:
 * inlined into the chunk loop they multiplied the states the verifier
 * explores per byte (rc_reply used a third of the 1M budget). */
#define RESP_ELEM __attribute__((noinline))
#else
#define RESP_API static inline
#define RESP_FEED static inline
#define RESP_ELEM static inline
#endif

/* Index masks the compiler cannot drop: clang proves them redundant after a
 * bound check and removes them, but the verifier needs to see them. */
#ifdef __bpf__
#define RESP_MASK(i, m) ({ __u64 __v = (i); \
	asm volatile("%0 &= %1" : "+r"(__v) : "i"(m)); __v; })
#else
#define RESP_MASK(i, m) ((i) & (m))
#endif

#define RESP_CHUNK	64	/* bytes fed per call; a power of two */
#define RESP_KEY_MAX	64	/* longest key the cache handles */
#define RESP_CMD_MAX	16	/* longest command name kept */
#define RESP_ARG_MAX	16	/* bytes kept of the second argument */
#define RESP_DEPTH	4	/* reply levels kept on a stack; a power of two */
#define RESP_NUM_MAX	999999999u /* larger counts/lengths are refused */
/* Elements a reply may owe below its stacked levels: each aggregate adds at
 * most 2 * RESP_NUM_MAX + 1, so the counter cannot wrap before this trips. */
#define RESP_DEEP_MAX	(1ull << 62)

_Static_assert(RESP_DEPTH > 2 && !(RESP_DEPTH & (RESP_DEPTH - 1)),
	       "pushes are read at levels 1-2; stack indexes are masked");

enum resp_event {
	RESP_MORE = 0,		/* chunk consumed, nothing complete yet */
	RESP_DONE,		/* a request / a top-level reply or push ended */
	RESP_BAD,		/* stream not understood: stop trusting it */
	RESP_BULK,		/* reply: a top-level bulk's payload starts at *pos */
	RESP_INV_KEY,		/* reply: an invalidate push named key cap[] */
	RESP_INV_ALL,		/* reply: an invalidate push with null (flush) */
};

/* A chunk of input and the scan position in it. Scalars only: BPF global
 * functions take it by pointer. */
struct resp_buf {
	__u32 len;		/* bytes in data[], at most RESP_CHUNK */
	__u32 pos;		/* next byte to scan */
	__u8 data[RESP_CHUNK];
};

/* ---- request scanner ---------------------------------------------------- */

enum resp_req_state {
	RQ_START = 0, RQ_ARGC, RQ_ARGC_LF, RQ_DOLLAR, RQ_BLEN, RQ_BLEN_LF,
	RQ_DATA, RQ_DATA_CR, RQ_DATA_LF,
};

#define RESP_REQ_KEY_LONG	0x1	/* first argument longer than RESP_KEY_MAX */
#define RESP_REQ_ARG_LONG	0x2	/* second argument longer than RESP_ARG_MAX */
#define RESP_REQ_CMD_LONG	0x4	/* command name longer than RESP_CMD_MAX */

struct resp_req {
	__u8 st;
	__u8 flags;
	__u8 ndig;
	__u8 cmd_len;
	__u8 key_len;
	__u8 arg_len;
	__u16 pad;
	__u32 argc;		/* arguments of the current request */
	__u32 argi;		/* index of the argument being read */
	__u32 num;		/* number being parsed */
	__u32 left;		/* payload bytes of the current argument still unread */
	char cmd[RESP_CMD_MAX];	/* upper-cased, zero padded */
	char key[RESP_KEY_MAX];	/* argument 1, zero padded */
	char arg[RESP_ARG_MAX];	/* argument 2, upper-cased, zero padded */
};

RESP_API int resp_digit(struct resp_req *r, __u8 c)
{
	if (c < '0' || c > '9' || r->ndig >= 9)
		return -1;
	r->num = r->num * 10 + (c - '0');
	r->ndig++;
	return 0;
}

RESP_API __u8 resp_upper(__u8 c)
{
	return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

/* Resets the per-request part of @r before the next request starts. */
RESP_API void resp_req_reset(struct resp_req *r)
{
	__builtin_memset(r, 0, sizeof(*r));
}

/* Keeps a byte of the command, the key or the second argument; called only
 * while the argument's buffer has room (see resp_req_skippable()). */
RESP_API void resp_req_capture(struct resp_req *r, __u8 c)
{
	if (r->argi == 0 && r->cmd_len < RESP_CMD_MAX)
		r->cmd[RESP_MASK(r->cmd_len++, RESP_CMD_MAX - 1)] = resp_upper(c);
	else if (r->argi == 1 && r->key_len < RESP_KEY_MAX)
		r->key[RESP_MASK(r->key_len++, RESP_KEY_MAX - 1)] = c;
	else if (r->argi == 2 && r->arg_len < RESP_ARG_MAX)
		r->arg[RESP_MASK(r->arg_len++, RESP_ARG_MAX - 1)] = resp_upper(c);
}

/* Bytes of the current argument the scanner does not keep: past the third
 * argument, or past what its capture buffer holds. The caller may advance
 * over them without reading them. */
RESP_API __u32 resp_req_skippable(const struct resp_req *r)
{
	if (r->st != RQ_DATA)
		return 0;
	if (r->argi > 2 || (r->argi == 0 && r->cmd_len >= RESP_CMD_MAX) ||
	    (r->argi == 1 && r->key_len >= RESP_KEY_MAX) ||
	    (r->argi == 2 && r->arg_len >= RESP_ARG_MAX))
		return r->left;
	return 0;
}

RESP_API void resp_req_skip(struct resp_req *r, __u32 n)
{
	/* skipping a kept argument means it was cut */
	if (n && r->argi == 0)
		r->flags |= RESP_REQ_CMD_LONG;
	else if (n && r->argi == 1)
		r->flags |= RESP_REQ_KEY_LONG;
	else if (n && r->argi == 2)
		r->flags |= RESP_REQ_ARG_LONG;
	r->left -= n;
	if (!r->left)
		r->st = RQ_DATA_CR;
}

/* One byte of a request; returns RESP_MORE, RESP_DONE or RESP_BAD. */
RESP_API int resp_req_byte(struct resp_req *r, __u8 c)
{
	if (!r)
		return RESP_BAD;
	switch (r->st) {
	case RQ_START:
		if (c != '*')
			return RESP_BAD;
		r->st = RQ_ARGC;
		return RESP_MORE;
	case RQ_ARGC:
	case RQ_BLEN:
		if (c == '\r') {
			if (!r->ndig)
				return RESP_BAD;
			r->st++;
			return RESP_MORE;
		}
		return resp_digit(r, c) ? RESP_BAD : RESP_MORE;
	case RQ_ARGC_LF:
		/* "*0" makes Redis answer nothing: never count on it */
		if (c != '\n' || !r->num)
			return RESP_BAD;
		r->argc = r->num;
		r->st = RQ_DOLLAR;
		return RESP_MORE;
	case RQ_DOLLAR:
		if (c != '$')
			return RESP_BAD;
		r->num = 0;
		r->ndig = 0;
		r->st = RQ_BLEN;
		return RESP_MORE;
	case RQ_BLEN_LF:
		if (c != '\n')
			return RESP_BAD;
		r->left = r->num;
		r->st = r->left ? RQ_DATA : RQ_DATA_CR;
		return RESP_MORE;
	case RQ_DATA:
		resp_req_capture(r, c);
		r->left--;
		if (!r->left)
			r->st = RQ_DATA_CR;
		return RESP_MORE;
	case RQ_DATA_CR:
		if (c != '\r')
			return RESP_BAD;
		r->st = RQ_DATA_LF;
		return RESP_MORE;
	case RQ_DATA_LF:
		if (c != '\n')
			return RESP_BAD;
		r->argi++;
		if (r->argi == r->argc)
			return RESP_DONE;
		r->st = RQ_DOLLAR;
		return RESP_MORE;
	}
	return RESP_BAD;
}

/* One unit of work on buf[*pos..len): skips what is not kept, or feeds one
 * byte. BPF runs it once per bpf_loop() iteration. */
RESP_API int resp_req_step(struct resp_req *r, const __u8 *buf, __u32 len,
			   __u32 *pos)
{
	__u32 i = *pos, n;

	if (i >= len || i >= RESP_CHUNK)
		return RESP_MORE;
	n = resp_req_skippable(r);
	if (n) {
		if (n > len - i)
			n = len - i;
		resp_req_skip(r, n);
		*pos = i + n;
		return RESP_MORE;
	}
	*pos = i + 1;
	return resp_req_byte(r, buf[RESP_MASK(i, RESP_CHUNK - 1)]);
}

/*
 * Scans buf[*pos..len) (len <= RESP_CHUNK) until one request ends (RESP_DONE,
 * *pos just past it; the captured fields stay valid until resp_req_reset()),
 * the chunk ends (RESP_MORE) or the bytes are not a request (RESP_BAD).
 */
RESP_API int resp_req_feed(struct resp_req *r, const __u8 *buf, __u32 len,
			   __u32 *pos)
{
	int ev;

	for (int k = 0; k < RESP_CHUNK; k++) {
		if (*pos >= len)
			break;
		ev = resp_req_step(r, buf, len, pos);
		if (ev != RESP_MORE)
			return ev;
	}
	return RESP_MORE;
}

/* resp_req_feed() on b->data[b->pos..b->len), advancing b->pos. */
RESP_FEED int resp_req_feed_buf(struct resp_req *r, struct resp_buf *b)
{
	if (!r || !b)
		return RESP_BAD;
	/* the position lives in memory: a copy in a register would differ
	 * on every path and multiply the verifier's states */
	return resp_req_feed(r, b->data, b->len, &b->pos);
}

/* ---- reply scanner ------------------------------------------------------ */

enum resp_rep_state {
	RP_TYPE = 0, RP_LINE, RP_LINE_LF, RP_NUM, RP_NUM_LF, RP_DATA,
	RP_DATA_CR, RP_DATA_LF,
};

#define RESP_REP_PUSH		0x1	/* the top-level element is a push */
#define RESP_REP_INVALIDATE	0x2	/* ... an "invalidate" push */
#define RESP_REP_CAP_LONG	0x4	/* captured string was cut */
#define RESP_REP_NEG		0x8	/* number being parsed is negative */

struct resp_rep {
	__u8 st;
	__u8 type;		/* type byte of the element being read */
	__u8 top;		/* type byte of the current top-level element
				 * ('|' for one an attribute annotates) */
	__u8 flags;
	__u8 depth;		/* open aggregates on the stack */
	__u8 ndig;
	__u8 cap_len;
	__u8 done_due;		/* a DONE follows the event just returned */
	__u32 num;
	__u32 left;		/* payload bytes of the current bulk still unread */
	__u32 top_len;		/* top-level bulk length; ~0 for a null */
	__u32 pushidx;		/* elements of the current push completed */
	/* Elements still owed by the aggregates open below the deepest stacked
	 * level; nonzero while inside them. Their shape is never needed, only
	 * where they end: at 0, one element of the deepest stacked level. */
	__u64 deep;
	__u32 nelem[RESP_DEPTH];	/* elements still due per stacked aggregate */
	char cap[RESP_KEY_MAX];	/* captured bulk inside a push */
};

RESP_API void resp_rep_reset(struct resp_rep *p)
{
	__builtin_memset(p, 0, sizeof(*p));
}

/* Push elements worth reading: the push's name, then invalidated keys. */
RESP_API int resp_rep_capturing(const struct resp_rep *p)
{
	if (!(p->flags & RESP_REP_PUSH))
		return 0;
	if (p->depth == 1 && p->pushidx == 0)
		return 1;
	return p->depth == 2 && p->pushidx == 1 &&
	       (p->flags & RESP_REP_INVALIDATE);
}

RESP_API __u32 resp_rep_skippable(const struct resp_rep *p)
{
	if (p->st != RP_DATA || resp_rep_capturing(p))
		return 0;
	return p->left;
}

RESP_API void resp_rep_skip(struct resp_rep *p, __u32 n)
{
	p->left -= n;
	if (!p->left)
		p->st = RP_DATA_CR;
}

RESP_API int resp_rep_is_invalidate(const struct resp_rep *p)
{
	const char *w = "invalidate";

	if (p->cap_len != 10 || (p->flags & RESP_REP_CAP_LONG))
		return 0;
	for (int i = 0; i < 10; i++)
		if (p->cap[i] != w[i])
			return 0;
	return 1;
}

/* The element just read is complete: close aggregates it completes. */
RESP_ELEM int resp_rep_elem_done(struct resp_rep *p, int is_null)
{
	if (!p)
		return RESP_BAD;
	int ev = RESP_MORE;
	__u8 d;

	/* below the stack (depth == RESP_DEPTH > 2: no push capture there) */
	if (p->deep) {
		p->deep--;
		if (p->deep) {
			p->st = RP_TYPE;
			return RESP_MORE;
		}
	}

	if (p->flags & RESP_REP_PUSH) {
		if (p->depth == 1 && p->pushidx == 0 && resp_rep_is_invalidate(p))
			p->flags |= RESP_REP_INVALIDATE;
		else if (p->depth == 1 && p->pushidx == 1 && is_null &&
			 (p->flags & RESP_REP_INVALIDATE))
			ev = RESP_INV_ALL;
		else if (p->depth == 2 && p->pushidx == 1 &&
			 (p->flags & RESP_REP_INVALIDATE) &&
			 !(p->flags & RESP_REP_CAP_LONG))
			ev = RESP_INV_KEY;
	}
	/* closing every stacked level takes RESP_DEPTH steps, and one more to
	 * see the top level end */
	for (int k = 0; k <= RESP_DEPTH; k++) {
		d = p->depth;
		if (!d) {
			p->st = RP_TYPE;
			if (ev == RESP_MORE)
				return RESP_DONE;
			p->done_due = 1;
			return ev;
		}
		if (d == 1 && (p->flags & RESP_REP_PUSH))
			p->pushidx++;
		d--;
		p->nelem[RESP_MASK(d, RESP_DEPTH - 1)]--;
		if (p->nelem[RESP_MASK(d, RESP_DEPTH - 1)])
			break;
		p->depth = d;
	}
	p->st = RP_TYPE;
	return ev;
}

RESP_ELEM int resp_rep_type(struct resp_rep *p, __u8 c)
{
	if (!p)
		return RESP_BAD;
	p->type = c;
	p->num = 0;
	p->ndig = 0;
	p->flags &= ~RESP_REP_NEG;
	if (!p->depth) {
		p->top = c;
		p->flags = 0;
		p->pushidx = 0;
		p->top_len = 0;
	}
	p->cap_len = 0;
	p->flags &= ~RESP_REP_CAP_LONG;
	switch (c) {
	case '+': case '-': case ':': case '_': case ',': case '#': case '(':
		p->st = RP_LINE;
		return RESP_MORE;
	case '>':
		if (p->depth)
			return RESP_BAD;
		p->flags |= RESP_REP_PUSH;
		/* fallthrough */
	case '$': case '!': case '=': case '*': case '%': case '~': case '|':
		p->st = RP_NUM;
		return RESP_MORE;
	}
	return RESP_BAD;
}

RESP_ELEM int resp_rep_num_done(struct resp_rep *p)
{
	if (!p)
		return RESP_BAD;
	int is_null = p->flags & RESP_REP_NEG;
	__u32 n = p->num;
	__u8 t = p->type, d = p->depth;

	if (is_null && n != 1)
		return RESP_BAD;
	if (t == '$' || t == '!' || t == '=') {
		if (!d)
			p->top_len = is_null ? ~0u : n;
		if (is_null)
			return resp_rep_elem_done(p, 1);
		p->left = n;
		p->st = n ? RP_DATA : RP_DATA_CR;
		return d ? RESP_MORE : RESP_BULK;
	}
	/* In a push, an attribute before the name or in an invalidation
	 * would move what is read, and a nested key list would hide keys:
	 * refuse rather than miss an invalidation. */
	if ((p->flags & RESP_REP_PUSH) &&
	    ((p->flags & RESP_REP_INVALIDATE) ?
	     t == '|' || d >= 2 : t == '|' && d == 1 && !p->pushidx))
		return RESP_BAD;
	if (t == '|') {
		/* an attribute's pairs and the element they annotate: one
		 * element to the enclosing level */
		if (is_null)
			return RESP_BAD;
		n = 2 * n + 1;
	} else if (is_null || !n) {
		return resp_rep_elem_done(p, is_null);
	} else if (t == '%') {
		n *= 2;
	}
	p->st = RP_TYPE;
	if (p->deep) {
		/* itself one owed element, owing n more */
		p->deep += n - 1;
		return p->deep > RESP_DEEP_MAX ? RESP_BAD : RESP_MORE;
	}
	if (d >= RESP_DEPTH) {
		p->deep = n;
		return RESP_MORE;
	}
	p->nelem[RESP_MASK(d, RESP_DEPTH - 1)] = n;
	p->depth = d + 1;
	return RESP_MORE;
}

RESP_API void resp_rep_capture(struct resp_rep *p, __u8 c)
{
	__u32 at = p->cap_len;

	if (at < RESP_KEY_MAX) {
		p->cap[RESP_MASK(at, RESP_KEY_MAX - 1)] = c;
		p->cap_len++;
	} else {
		p->flags |= RESP_REP_CAP_LONG;
	}
}

RESP_API int resp_rep_byte(struct resp_rep *p, __u8 c)
{
	if (!p)
		return RESP_BAD;
	switch (p->st) {
	case RP_TYPE:
		return resp_rep_type(p, c);
	case RP_LINE:
		if (c == '\r')
			p->st = RP_LINE_LF;
		return RESP_MORE;
	case RP_LINE_LF:
		if (c != '\n')
			return RESP_BAD;
		return resp_rep_elem_done(p, p->type == '_');
	case RP_NUM:
		if (c == '\r') {
			if (!p->ndig)
				return RESP_BAD;
			p->st = RP_NUM_LF;
			return RESP_MORE;
		}
		if (c == '-' && !p->ndig && !(p->flags & RESP_REP_NEG)) {
			p->flags |= RESP_REP_NEG;
			return RESP_MORE;
		}
		if (c < '0' || c > '9' || p->ndig >= 9)
			return RESP_BAD;
		p->num = p->num * 10 + (c - '0');
		p->ndig++;
		return RESP_MORE;
	case RP_NUM_LF:
		if (c != '\n')
			return RESP_BAD;
		return resp_rep_num_done(p);
	case RP_DATA:
		resp_rep_capture(p, c);
		resp_rep_skip(p, 1);
		return RESP_MORE;
	case RP_DATA_CR:
		if (c != '\r')
			return RESP_BAD;
		p->st = RP_DATA_LF;
		return RESP_MORE;
	case RP_DATA_LF:
		if (c != '\n')
			return RESP_BAD;
		return resp_rep_elem_done(p, 0);
	}
	return RESP_BAD;
}

/* One unit of work on buf[*pos..len), like resp_req_step(). */
RESP_API int resp_rep_step(struct resp_rep *p, const __u8 *buf, __u32 len,
			   __u32 *pos)
{
	__u32 i = *pos, n;

	/* the key of a push's last element is reported before its end */
	if (p->done_due) {
		p->done_due = 0;
		return RESP_DONE;
	}
	if (i >= len || i >= RESP_CHUNK)
		return RESP_MORE;
	n = resp_rep_skippable(p);
	if (n) {
		if (n > len - i)
			n = len - i;
		resp_rep_skip(p, n);
		*pos = i + n;
		return RESP_MORE;
	}
	*pos = i + 1;
	return resp_rep_byte(p, buf[RESP_MASK(i, RESP_CHUNK - 1)]);
}

/*
 * Scans buf[*pos..len) (len <= RESP_CHUNK) and stops after the first event:
 * RESP_DONE at the end of each top-level element (p->top tells a push '>'
 * from a reply), RESP_BULK when a top-level bulk's payload of p->top_len
 * bytes starts at *pos, RESP_INV_KEY / RESP_INV_ALL inside invalidate
 * pushes, RESP_BAD, or RESP_MORE at the end of the chunk.
 */
RESP_API int resp_rep_feed(struct resp_rep *p, const __u8 *buf, __u32 len,
			   __u32 *pos)
{
	int ev;

	for (int k = 0; k <= RESP_CHUNK; k++) {
		if (*pos >= len && !p->done_due)
			break;
		ev = resp_rep_step(p, buf, len, pos);
		if (ev != RESP_MORE)
			return ev;
	}
	return RESP_MORE;
}

/* resp_rep_feed() on b->data[b->pos..b->len), advancing b->pos. */
RESP_FEED int resp_rep_feed_buf(struct resp_rep *p, struct resp_buf *b)
{
	if (!p || !b)
		return RESP_BAD;
	/* the position lives in memory: a copy in a register would differ
	 * on every path and multiply the verifier's states */
	return resp_rep_feed(p, b->data, b->len, &b->pos);
}

#endif /* EBPFACCEL_RESP_H */
