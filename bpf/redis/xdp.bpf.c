// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Redis cache answering GETs before the TCP stack, on a stock kernel.
 *
 * rc_xdp        on the server's ingress device: a segment that is exactly
 *               one GET of a confirmed small entry, on a connection that
 *               owes and is owed nothing, is turned into its reply and sent
 *               back (XDP_TX); redis-server never sees it. Every other
 *               segment of a known connection passes, its sequence numbers
 *               translated into the server's space.
 * rc_egress     tc egress on the same device: translates the server's
 *               segments into the client's space and records what the
 *               server sent and acknowledged.
 * rc_xsockops   creates a connection's entry when redis-server accepts it
 *               and deletes it when the socket closes.
 * The sockmap object (redis_cache.bpf.c) stays attached to the same
 * sockets: it fills the cache, invalidates inline and keeps the
 * per-connection state (auth, db, replies owed) this object reads. Maps
 * named rc_* are that object's, shared by the library; rc_globals is a
 * view of its .bss. The rules followed are in docs/redis-cache.md.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xdp_conn.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IPPROTO_TCP	6
#define AF_INET		2
#define AF_INET6	10
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
#define BPF_F_PSEUDO_HDR_SZ4	4

#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_PSH	0x08
#define TH_ACK	0x10
#define TH_URG	0x20

#define SEQ_LT(a, b)	((__s32)((a) - (b)) < 0)
#define SEQ_LE(a, b)	((__s32)((a) - (b)) <= 0)
#define SEQ_MAX(a, b)	(SEQ_LT(a, b) ? (b) : (a))

/* ---- maps shared with the sockmap object (fds reused by the library) -- */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, struct rc_key);
	__type(value, struct rc_small);
} rc_cache_small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, struct rc_key);
	__type(value, __u64);
} rc_confirmed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct rc_conn);
} rc_conns SEC(".maps");

#include "rc_maps.h"

/* The sockmap object's .bss; its size and the offsets below are set by
 * the library from that object's skeleton. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, 4);
	__uint(value_size, 8);
} rc_globals SEC(".maps");

const volatile __u32 xr_off_enabled;
const volatile __u32 xr_off_tracking_ok;
const volatile __u32 xr_off_gen_all;
const volatile __u32 xr_off_track_backlog;
const volatile __u32 xr_off_track_synced;
const volatile __u32 xr_off_track_keys;
const volatile __u32 xr_off_unseen;
const volatile __u32 xr_off_unseen_ok;

/* ---- this object's maps ------------------------------------------------ */

/*
 * The connections' entries, in two tables: the first XR_HOT_CONNS open
 * connections in xr_hot, the rest in xr_conns; each lives in one of them
 * for its life. Every segment either way looks its connection up, and a
 * hash map's bucket heads (16 bytes per bucket, one per entry it may
 * hold) are one block: up to 32 KiB it is kmalloc'ed (the kernel's
 * linear map, huge pages), above that vmalloc'ed in 4 KiB pages. With
 * 65,536 entries (1 MiB of heads) nearly every lookup of one of the
 * bench's 50 connections paid a TLB miss and a cache miss for its bucket
 * head on a busy machine (docs/redis-cache.md, XDP mode, "Measured").
 */
#define XR_HOT_CONNS	2048

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XR_HOT_CONNS);
	__type(key, struct xr_flow);
	__type(value, struct xr_conn);
} xr_hot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct xr_flow);
	__type(value, struct xr_conn);
} xr_conns SEC(".maps");

/* @f's entry, NULL if XDP does not know its connection. */
static __always_inline struct xr_conn *conn_of(const struct xr_flow *f)
{
	struct xr_conn *x = bpf_map_lookup_elem(&xr_hot, f);

	return x ? x : bpf_map_lookup_elem(&xr_conns, f);
}

/* A new connection's entry, all zero, never written: with its cache-line
 * gaps an xr_conn no longer fits the stack, and the verifier refuses a
 * value holding a bpf_spin_lock as a helper's source, so it is bytes. */
struct xr_blank_val {
	__u8 b[sizeof(struct xr_conn)];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xr_blank_val);
} xr_blank SEC(".maps");

/* Masks keep every index below 512 for the verifier. */
struct xr_reply {
	__u32 len;
	__u8 buf[512];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xr_reply);
} xr_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XR_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xr_stats SEC(".maps");

static __always_inline void stat_add(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += 1;
}

/* ---- packets ----------------------------------------------------------- */

/* A TCP segment to or from redis-server, as parsed. */
struct seg {
	struct xr_flow flow;
	__u32 l3;		/* offset of the IP header */
	__u32 l4;		/* offset of the TCP header */
	__u32 seq, ack;		/* host order */
	__u32 plen;		/* payload bytes */
	__u32 optlen;		/* TCP option bytes */
	__u8 flags;
};

struct opt_buf {
	__u32 len;
	__u8 data[64];
};

/* What the TCP options hold; offsets are into the options, ~0 if absent. */
struct opts {
	__u32 ts_at;		/* TSval's offset */
	__u32 tsval;		/* network order */
	__u32 tsecr;
	__u32 sack_at;		/* first SACK edge's offset */
	__u32 nsack;		/* SACK blocks */
	__u32 edge[8];		/* host order */
	__u32 plain_ts;		/* exactly NOP NOP TS */
	__u32 pos;		/* parse_opts()'s position */
};

static __always_inline __u32 be32_at(const __u8 *d, __u32 at)
{
	return (__u32)d[at & 63] << 24 | (__u32)d[(at + 1) & 63] << 16 |
	       (__u32)d[(at + 2) & 63] << 8 | d[(at + 3) & 63];
}

/* Reads the option at o->pos and moves o->pos past it: 1 if more may
 * follow, 0 at the end, -1 if malformed. Global, and verified once: the
 * caller's loop then costs a call per option, not the verifier's walk of
 * every kind at every position (~90k insns when inlined). */
GLOBAL int parse_opt(const struct opt_buf *b, struct opts *o)
{
	__u32 len, pos;
	__u8 kind, ol;

	if (!b || !o)
		return -1;
	len = b->len;
	pos = o->pos;
	if (len > 40 || pos >= len)
		return 0;
	kind = b->data[pos & 63];
	if (kind == 0)
		return 0;
	if (kind == 1) {
		o->pos = pos + 1;
		return 1;
	}
	if (pos + 1 >= len)
		return -1;
	ol = b->data[(pos + 1) & 63];
	if (ol < 2 || pos + ol > len)
		return -1;
	if (kind == 8 && ol == 10) {
		o->ts_at = pos + 2;
		o->tsval = bpf_htonl(be32_at(b->data, pos + 2));
		o->tsecr = bpf_htonl(be32_at(b->data, pos + 6));
	} else if (kind == 5 && ol >= 10 && !((ol - 2) & 7)) {
		o->sack_at = pos + 2;
		o->nsack = (ol - 2) / 8;
	}
	o->pos = pos + ol;
	return 1;
}

/* Walks the options once; -1 if they are malformed. */
static __always_inline int parse_opts(const struct opt_buf *b, struct opts *o)
{
	__u32 at;
	int r = 0;

	o->ts_at = ~0u;
	o->sack_at = ~0u;
	o->nsack = 0;
	o->pos = 0;
	o->plain_ts = b->len == 12 && b->data[0] == 1 && b->data[1] == 1 &&
		      b->data[2] == 8 && b->data[3] == 10;
	if (b->len > 40)
		return -1;
	/* what Linux sends on every segment of a timestamped connection:
	 * read it without the walk */
	if (o->plain_ts) {
		o->ts_at = 4;
		o->tsval = bpf_htonl(be32_at(b->data, 4));
		o->tsecr = bpf_htonl(be32_at(b->data, 8));
		return 0;
	}
	/* an option is at least a byte long */
	for (int i = 0; i < 40; i++) {
		r = parse_opt(b, o);
		if (r <= 0)
			break;
	}
	if (r < 0)
		return -1;
	at = o->sack_at;
	for (int i = 0; i < 8; i++) {
		if (i >= READ_ONCE(o->nsack) * 2)
			break;
		o->edge[i] = be32_at(b->data, at + 4 * i);
	}
	return 0;
}

/* ---- translation ------------------------------------------------------- */

/* The shifts in force, copied under the lock and applied after it. */
struct shift {
	__u32 in_delta, old_in_delta, in_mark;
	__u32 out_delta, old_out_delta, out_mark;
	__u32 hold;		/* an answer is not ACKed yet (rule 4) */
	/* the segment to rewrite: its TCP header's offset, its numbers */
	__u32 l4, seq, ack;
};

static __always_inline void shift_of(struct shift *s, const struct xr_conn *x)
{
	s->in_delta = x->in_delta;
	s->old_in_delta = x->old_in_delta;
	s->in_mark = x->in_mark;
	s->out_delta = x->out_delta;
	s->old_out_delta = x->old_out_delta;
	s->out_mark = x->out_mark;
	s->hold = x->inj_pending;
}

/* Client number of server bytes -> server number. Inside an answer the
 * client has partly ACKed: the answer's start. */
static __always_inline __u32 srv_bytes_in(const struct shift *s, __u32 v)
{
	if (!SEQ_LT(v, s->out_mark + s->out_delta))
		return v - s->out_delta;
	if (SEQ_LE(v, s->out_mark + s->old_out_delta))
		return v - s->old_out_delta;
	return s->out_mark;
}

/* Server number of server bytes -> client number: retransmissions of
 * bytes sent before the last answer keep the old shift (rule 2). */
static __always_inline __u32 srv_bytes_out(const struct shift *s, __u32 v)
{
	return SEQ_LT(v, s->out_mark) ? v + s->old_out_delta : v + s->out_delta;
}

/* Server number of client bytes -> client number. */
static __always_inline __u32 cli_bytes_out(const struct shift *s, __u32 v)
{
	return SEQ_LT(v, s->in_mark) ? v + s->old_in_delta : v + s->in_delta;
}

/* The server's ACK -> client number: while an answer is not ACKed, the
 * consumed request stays unacknowledged, so a lost answer brings the
 * request back (rule 4). */
static __always_inline __u32 srv_ack_out(const struct shift *s, __u32 v)
{
	if (s->hold && !SEQ_LT(v, s->in_mark))
		return s->in_mark + s->old_in_delta;
	return cli_bytes_out(s, v);
}

/* RFC 1624 update of a checksum for a 32-bit field in network order. */
static __always_inline void csum_replace4(__u16 *check, __u32 from, __u32 to)
{
	__u32 s = (__u16)~*check;

	s += (__u16)~(from & 0xffff) + (__u16)~(from >> 16);
	s += (to & 0xffff) + (to >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	*check = ~s;
}

static __always_inline __u16 csum_fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/* ---- lock-free recording (connections XDP never answered on) ----------- */

/* Raises the two sequence numbers packed in *@p to at least @lo and, if
 * @raise_hi, @hi, in one compare-and-swap. It is fully ordered even when
 * nothing changes: the caller's read of xr_conn.shifted after it cannot
 * pass its writes (see xdp_conn.h). -1 if racing writers kept winning. */
static __always_inline int pair_raise(__u64 *p, __u32 lo, __u32 hi, int raise_hi)
{
	for (int i = 0; i < 4; i++) {
		__u64 old = READ_ONCE(*p);
		__u32 l = old, h = old >> 32;

		l = SEQ_MAX(l, lo);
		if (raise_hi)
			h = SEQ_MAX(h, hi);
		if (__sync_val_compare_and_swap(p, old, (__u64)h << 32 | l) == old)
			return 0;
	}
	return -1;
}

/* Whether the connection is still unshifted after @x's line was written
 * by a fully ordered operation: else the first answer may have read the
 * line before the write, and the segment must be recorded again under
 * the lock. */
static __always_inline int still_unshifted(const struct xr_conn *x)
{
	return !READ_ONCE(x->shifted);
}

/* ---- XDP: parsing ------------------------------------------------------ */

/* The numbers of a TCP header either program parsed; @plen payload bytes. */
static __always_inline void tcp_fields(struct seg *g, const struct tcphdr *th,
				       __u32 plen)
{
	g->seq = bpf_ntohl(th->seq);
	g->ack = bpf_ntohl(th->ack_seq);
	g->flags = ((__u8 *)th)[13];
	g->optlen = th->doff * 4 - sizeof(*th);
	g->plen = plen;
}

static __always_inline int parse_xdp(struct xdp_md *ctx, struct seg *g)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *th;
	__u32 tot;

	if ((void *)(eth + 1) > end)
		return -1;
	g->l3 = sizeof(*eth);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl != 5 ||
		    ip->protocol != IPPROTO_TCP ||
		    (ip->frag_off & bpf_htons(0x3fff)))
			return -1;
		g->flow.family = 4;
		g->flow.cli[0] = ip->saddr;
		g->flow.srv[0] = ip->daddr;
		tot = bpf_ntohs(ip->tot_len);
		if (tot < sizeof(*ip))
			return -1;
		tot -= sizeof(*ip);
		th = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return -1;
		g->flow.family = 6;
		__builtin_memcpy(g->flow.cli, &ip6->saddr, 16);
		__builtin_memcpy(g->flow.srv, &ip6->daddr, 16);
		tot = bpf_ntohs(ip6->payload_len);
		th = (void *)(ip6 + 1);
	} else {
		return -1;
	}
	if ((void *)(th + 1) > end || th->doff < 5 || tot < th->doff * 4)
		return -1;
	g->l4 = (void *)th - data;
	g->flow.cli_port = th->source;
	g->flow.srv_port = th->dest;
	tcp_fields(g, th, tot - th->doff * 4);
	return 0;
}

/* Copies the options from @p when they are the 12 bytes Linux puts on
 * every segment of a timestamped connection and lie before @end: the
 * common case then costs no helper call. 0 if copied. */
static __always_inline int opts_direct(const void *p, const void *end,
				       struct opt_buf *b)
{
	if (b->len != 12 || p + 12 > end)
		return -1;
	__builtin_memcpy(b->data, p, 12);
	return 0;
}

static __always_inline int load_opts(struct xdp_md *ctx, const struct seg *g,
				     struct opts *o)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	/* parse_xdp() put the TCP header at most 54 bytes in */
	__u32 at = (g->l4 & 127) + sizeof(struct tcphdr);
	struct opt_buf b = { .len = g->optlen };

	if (g->optlen && opts_direct(data + at, end, &b) &&
	    bpf_xdp_load_bytes(ctx, at, b.data, ((g->optlen - 1) & 63) + 1))
		return -1;
	return parse_opts(&b, o);
}

/* ---- XDP: the answer --------------------------------------------------- */

#define GLOBAL_U32(g, off)	READ_ONCE(*(__u32 *)((g) + (off)))

/*
 * The sockmap object's serve gate, can_serve() in redis_cache.bpf.c less
 * the connection's part, read from its .bss: serving on, the tracking
 * stream live with no pushes held back in Redis and, under per-key
 * tracking, nothing seen since the engine's last check that may open a
 * write path the programs do not see (a write there would be pushed after
 * its reply: an answer meanwhile could be stale). Keep the two alike.
 * 1 with the global generation entries must carry in *@gen, 0 to not serve.
 */
static __always_inline int serve_gen(__u64 *gen)
{
	__u32 zero = 0;
	__u8 *g = bpf_map_lookup_elem(&rc_globals, &zero);

	if (!g || !GLOBAL_U32(g, xr_off_enabled) || !GLOBAL_U32(g, xr_off_tracking_ok) ||
	    /* rc_reply's tracker_backlog() */
	    GLOBAL_U32(g, xr_off_track_backlog) != GLOBAL_U32(g, xr_off_track_synced) ||
	    (GLOBAL_U32(g, xr_off_track_keys) &&
	     GLOBAL_U32(g, xr_off_unseen) != GLOBAL_U32(g, xr_off_unseen_ok)))
		return 0;
	*gen = READ_ONCE(*(__u64 *)(g + xr_off_gen_all));
	return 1;
}

/* The GET in the payload, if the segment is exactly one, and its entry is
 * served on this connection now: its reply is staged in xr_scratch and its
 * length returned; 0 otherwise. */
GLOBAL int stage_answer(struct xdp_md *ctx, __u32 at, __u32 plen, __u64 cookie)
{
	__u32 zero = 0, n = 0, hl, len;
	struct rc_key k = {};
	struct rc_small *e;
	struct xr_reply *r;
	struct rc_conn *c;
	__u64 gen, *cv, ver;
	__u8 h[20];

	/* cheapest first: what is not one GET, or misses, leaves before the
	 * globals and the connection's entry are read (cache lines the
	 * server's CPU writes on every request) */
	if (plen < 20 || bpf_xdp_load_bytes(ctx, at, h, 20))
		return 0;
	hl = rc_get_header(h, &n);
	if (!hl || n > RESP_KEY_MAX || hl + n + 2 != plen)
		return 0;
	k.len = n;
	if (bpf_xdp_load_bytes(ctx, at + hl, k.data,
			       RESP_MASK(n - 1, RESP_KEY_MAX - 1) + 1))
		return 0;
	e = bpf_map_lookup_elem(&rc_cache_small, &k);
	if (!e)
		return 0;
	r = bpf_map_lookup_elem(&xr_scratch, &zero);
	if (!r || !serve_gen(&gen))
		return 0;
	c = bpf_map_lookup_elem(&rc_conns, &cookie);
	if (!c || !rc_conn_idle(c))
		return 0;
	ver = READ_ONCE(e->h.version);
	barrier();
	len = e->h.len;
	if (e->h.db != READ_ONCE(c->db) || e->h.gen != gen ||
	    len > RC_SMALL_MAX)
		return 0;
	cv = bpf_map_lookup_elem(&rc_confirmed, &k);
	if (!cv || READ_ONCE(*cv) != ver)
		return 0;
	hl = rc_bulk_header(len, (char *)r->buf);
	if (len && bpf_probe_read_kernel(r->buf + (hl & 7),
					 RESP_MASK(len - 1, RC_SMALL_MAX - 1) + 1,
					 e->data))
		return 0;
	barrier();
	/* the element may have been reused for another fill meanwhile: a
	 * writer stores the header first, so the version has moved */
	if (READ_ONCE(e->h.version) != ver)
		return 0;
	n = RESP_MASK(hl + len, 255);
	r->buf[n] = '\r';
	r->buf[n + 1] = '\n';
	/* zero padding up to a whole word, for the checksum */
	r->buf[n + 2] = 0;
	r->buf[n + 3] = 0;
	r->buf[n + 4] = 0;
	r->len = n + 2;
	return n + 2;
}

/* What the reply's headers carry. */
struct reply_hdr {
	__u32 seq, ack;		/* host order */
	__u32 tsval, tsecr;	/* network order */
	__u16 win;		/* network order */
	__u16 ts;		/* carry the timestamp option */
	__u32 plen;		/* the request's payload bytes */
};

static __always_inline __u64 pseudo_sum(void *l3, __u32 family, __u32 tcp_len)
{
	struct { __u32 s, d; __u8 z, p; __u16 len; } p4;
	struct { __u32 s[4], d[4]; __u32 len; __u8 z[3], nh; } p6 = {};

	if (family == 4) {
		struct iphdr *ip = l3;

		p4.s = ip->saddr;
		p4.d = ip->daddr;
		p4.z = 0;
		p4.p = IPPROTO_TCP;
		p4.len = bpf_htons(tcp_len);
		return (__u32)bpf_csum_diff(NULL, 0, (void *)&p4, sizeof(p4), 0);
	}
	__builtin_memcpy(p6.s, &((struct ipv6hdr *)l3)->saddr, 32);
	p6.len = bpf_htonl(tcp_len);
	p6.nh = IPPROTO_TCP;
	return (__u32)bpf_csum_diff(NULL, 0, (void *)&p6, sizeof(p6), 0);
}

/* Swaps addresses and ports and sets the lengths of the reply's headers.
 * Returns the IP header's length, 0 on error. */
static __always_inline __u32 turn_headers(void *data, void *end, __u32 family,
					  __u32 tcp_len)
{
	struct ethhdr *eth = data;
	__u8 mac[6];

	if ((void *)(eth + 1) > end)
		return 0;
	__builtin_memcpy(mac, eth->h_source, 6);
	__builtin_memcpy(eth->h_source, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, mac, 6);
	if (family == 4) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 a;

		if ((void *)(ip + 1) > end)
			return 0;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->tot_len = bpf_htons(sizeof(*ip) + tcp_len);
		ip->ttl = 64;
		ip->id = 0;
		ip->check = 0;
		ip->check = csum_fold((__u32)bpf_csum_diff(NULL, 0, (void *)ip,
							   sizeof(*ip), 0));
		return sizeof(*ip);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct in6_addr t;

		if ((void *)(ip6 + 1) > end)
			return 0;
		t = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = t;
		ip6->payload_len = bpf_htons(tcp_len);
		ip6->hop_limit = 64;
		return sizeof(*ip6);
	}
}

/* Makes the frame @delta bytes longer or shorter, keeping its @hlen header
 * bytes in front. A longer frame grows at the front: drivers guarantee XDP
 * headroom, not tailroom (veth has none for small frames). */
static __always_inline int resize(struct xdp_md *ctx, __u32 hlen, int delta)
{
	__u8 hdr[128];

	if (delta < 0)
		return bpf_xdp_adjust_tail(ctx, delta);
	if (!delta)
		return 0;
	hlen = RESP_MASK(hlen - 1, 127) + 1;
	if (bpf_xdp_load_bytes(ctx, 0, hdr, hlen) ||
	    bpf_xdp_adjust_head(ctx, -delta))
		return -1;
	return bpf_xdp_store_bytes(ctx, 0, hdr, hlen);
}

/* Turns the request frame into the staged reply. Global: verified once. */
GLOBAL int build_reply(struct xdp_md *ctx, const struct reply_hdr *rh,
		       __u32 family)
{
	__u32 zero = 0, thl, iphl, rlen, words;
	struct xr_reply *r = bpf_map_lookup_elem(&xr_scratch, &zero);
	void *data, *end;
	struct tcphdr *th;
	__u64 sum;

	if (!r || !rh)
		return -1;
	rlen = r->len;
	if (rlen > XR_REPLY_MAX || !rlen)
		return -1;
	thl = rh->ts ? 32 : 20;
	if (resize(ctx, sizeof(struct ethhdr) + (family == 4 ? 20 : 40) + thl,
		   (int)rlen - (int)rh->plen))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	iphl = turn_headers(data, end, family, thl + rlen);
	if (iphl != 20 && iphl != 40)
		return -1;
	th = data + sizeof(struct ethhdr) + iphl;
	if ((void *)th + thl > end || (void *)th + 20 > end)
		return -1;
	{
		__u16 p = th->source;

		th->source = th->dest;
		th->dest = p;
	}
	th->seq = bpf_htonl(rh->seq);
	th->ack_seq = bpf_htonl(rh->ack);
	((__u8 *)th)[12] = (thl / 4) << 4;
	((__u8 *)th)[13] = TH_ACK | TH_PSH;
	th->window = rh->win;
	th->check = 0;
	th->urg_ptr = 0;
	if (rh->ts) {
		__u32 *o = (void *)(th + 1);

		if ((void *)th + 32 > end)
			return -1;
		o[0] = bpf_htonl(0x0101080a);
		o[1] = rh->tsval;
		o[2] = rh->tsecr;
	}
	if (bpf_xdp_store_bytes(ctx, sizeof(struct ethhdr) + iphl + thl, r->buf,
				RESP_MASK(rlen - 1, 255) + 1))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	th = data + sizeof(struct ethhdr) + iphl;
	if ((void *)th + 20 > end || data + sizeof(struct ethhdr) + 40 > end)
		return -1;
	sum = pseudo_sum(data + sizeof(struct ethhdr), family, thl + rlen);
	if (rh->ts) {
		if ((void *)th + 32 > end)
			return -1;
		sum += (__u32)bpf_csum_diff(NULL, 0, (void *)th, 32, 0);
	} else {
		sum += (__u32)bpf_csum_diff(NULL, 0, (void *)th, 20, 0);
	}
	words = RESP_MASK(((rlen + 3) & ~3u) - 4, 255) + 4;
	sum += (__u32)bpf_csum_diff(NULL, 0, (void *)r->buf, words, 0);
	th->check = csum_fold(sum);
	return 0;
}

/* ---- XDP: translation of segments passed on ---------------------------- */

/* Rewrites the segment's numbers into the server's space. */
GLOBAL int rewrite_in(struct xdp_md *ctx, const struct shift *s,
		      const struct opts *o)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct tcphdr *th;
	__u32 at, from, to, l4;

	if (!s || !o || s->l4 > 80)
		return -1;
	l4 = s->l4;
	th = data + l4;
	if ((void *)(th + 1) > end)
		return -1;
	to = bpf_htonl(s->seq);
	csum_replace4(&th->check, th->seq, to);
	th->seq = to;
	to = bpf_htonl(s->ack);
	csum_replace4(&th->check, th->ack_seq, to);
	th->ack_seq = to;
	if (o->sack_at == ~0u)
		return 0;
	for (int i = 0; i < 8; i++) {
		__u32 *p;

		if (i >= o->nsack * 2)
			break;
		at = l4 + sizeof(*th) + ((o->sack_at + 4 * i) & 63);
		p = data + (at & 127);
		if ((void *)(p + 1) > end)
			return -1;
		from = *p;
		to = bpf_htonl(srv_bytes_in(s, o->edge[i]));
		csum_replace4(&th->check, from, to);
		*p = to;
	}
	return 0;
}

/* What the locked section decided. */
enum verdict { V_PASS, V_SERVE, V_AGAIN, V_DROP };

struct decision {
	struct shift s;		/* and the translated numbers, for V_PASS */
	struct reply_hdr rh;
	__u32 stash_id;
};

/* Under the lock: no helper or function calls. */
static __always_inline int decide(struct xr_conn *x, const struct seg *g,
				  const struct opts *o, __u32 staged, __u64 now,
				  struct decision *d)
{
	__u32 rstart = x->in_mark + x->old_in_delta;
	__u32 rend = x->in_mark + x->in_delta;
	__u32 end = g->seq + g->plen;
	__u32 sflags = x->srv.flags;
	int ts_ok = sflags & XR_TS ? o->plain_ts : !g->optlen;

	d->rh.ts = !!(sflags & XR_TS);
	d->rh.tsval = x->srv.tsval;
	d->rh.tsecr = o->tsval;
	d->rh.win = x->srv.win;
	d->rh.plen = g->plen;
	/* an exact (or longer, collapsed) retransmission of the request an
	 * unacknowledged answer was for: answer it again */
	if (x->inj_pending && g->seq == x->inj_req_seq &&
	    g->plen >= x->inj_req_len && ts_ok &&
	    !(g->flags & (TH_SYN | TH_RST | TH_FIN | TH_URG))) {
		d->rh.seq = x->inj_start;
		d->rh.ack = x->inj_req_seq + x->inj_req_len;
		d->rh.plen = g->plen;
		d->stash_id = x->stash_id;
		return V_AGAIN;
	}
	/* a request that ACKs the last answer ends its hold here, not only
	 * in a segment passed on: else, with no pure ACK between them (a
	 * client waiting for each reply), only every other hit is answered */
	if (x->inj_pending && (g->flags & TH_ACK) &&
	    !SEQ_LT(g->ack, x->inj_start + x->inj_len))
		x->inj_pending = 0;
	if (staged && ts_ok && (sflags & XR_SRV_SEEN) &&
	    !((sflags | x->cli.flags) & XR_CLOSING) && !x->inj_pending &&
	    (g->flags & ~TH_PSH) == TH_ACK &&
	    g->seq == x->cli.nxt && x->srv.ack + x->in_delta == g->seq &&
	    g->ack == x->srv.nxt + x->out_delta) {
		/* the ACK this request carries has not reached the server for
		 * a while: let the request carry it (rule 8) */
		if (x->owed_since && now - x->owed_since > XR_OWE_NS)
			goto pass;
		if (!(x->cli.flags & XR_FWD_KNOWN) || x->cli.fwd_ack != x->srv.nxt) {
			if (!x->owed_since)
				x->owed_since = now;
		}
		x->old_in_delta = x->in_delta;
		x->in_mark = x->srv.ack;
		x->in_delta += g->plen;
		x->old_out_delta = x->out_delta;
		x->out_mark = x->srv.nxt;
		x->out_delta += staged;
		x->inj_pending = 1;
		x->inj_req_seq = g->seq;
		x->inj_req_len = g->plen;
		x->inj_start = x->srv.nxt + x->old_out_delta;
		x->inj_len = staged;
		x->cli.nxt = end;
		d->rh.seq = x->inj_start;
		d->rh.ack = end;
		d->stash_id = ++x->stash_id;
		return V_SERVE;
	}
pass:
	/* rstart == rend: nothing consumed yet, so nothing to be part of */
	if (rstart == rend || !SEQ_LT(g->seq, rend))
		d->s.seq = g->seq - x->in_delta;
	else if (SEQ_LE(end, rstart))
		d->s.seq = g->seq - x->old_in_delta;
	else if (!g->plen && g->seq == rstart)
		d->s.seq = x->in_mark;
	else
		return V_DROP;	/* part of a consumed request, and more */
	shift_of(&d->s, x);
	d->s.ack = g->ack;
	if (g->flags & TH_ACK) {
		d->s.ack = srv_bytes_in(&d->s, g->ack);
		if ((x->cli.flags & XR_FWD_KNOWN) && SEQ_LT(d->s.ack, x->cli.fwd_ack))
			d->s.ack = x->cli.fwd_ack;	/* rule 3 */
		x->cli.fwd_ack = d->s.ack;
		x->cli.flags |= XR_FWD_KNOWN;
		if (d->s.ack == x->srv.nxt)
			x->owed_since = 0;
		if (x->inj_pending &&
		    !SEQ_LT(g->ack, x->inj_start + x->inj_len))
			x->inj_pending = 0;
		d->s.hold = x->inj_pending;
	}
	end += !!(g->flags & (TH_FIN | TH_SYN));
	x->cli.nxt = SEQ_MAX(x->cli.nxt, end);
	if (g->flags & (TH_FIN | TH_RST))
		x->cli.flags |= XR_CLOSING;
	return V_PASS;
}

/* A segment of a connection XDP never answered on (so nothing to
 * translate) that it will not answer: records it on the XDP-owned line
 * only. 1 if it may pass as it is, 0 if the connection got shifted
 * meanwhile (take the locked path), -1 on a lost race (drop it). */
static __always_inline int pass_unshifted(struct xr_conn *x, const struct seg *g)
{
	__u32 end = g->seq + g->plen + !!(g->flags & (TH_FIN | TH_SYN));

	if (g->flags & (TH_FIN | TH_RST))
		__sync_fetch_and_or(&x->cli.flags, XR_CLOSING);
	/* rule 3 needs no rewrite here: with no shift an ACK below fwd_ack
	 * is the client's own reordering, handed on as it is */
	if (pair_raise(&x->cli.pair, end, g->ack, g->flags & TH_ACK))
		return -1;
	return still_unshifted(x);
}

/* Copies the stash into the scratch reply; -1 if it is being rewritten. */
static __always_inline int stash_load(struct xr_conn *x, __u32 id)
{
	__u32 zero = 0;
	struct xr_reply *r = bpf_map_lookup_elem(&xr_scratch, &zero);

	if (!r || READ_ONCE(x->stash_end) != id)
		return -1;
	barrier();
	r->len = x->stash_len;
	__builtin_memcpy(r->buf, x->stash, XR_REPLY_MAX);
	barrier();
	return READ_ONCE(x->stash_begin) == id ? 0 : -1;
}

static __always_inline void stash_store(struct xr_conn *x, __u32 id)
{
	__u32 zero = 0;
	struct xr_reply *r = bpf_map_lookup_elem(&xr_scratch, &zero);

	if (!r)
		return;
	WRITE_ONCE(x->stash_begin, id);
	barrier();
	x->stash_len = r->len;
	__builtin_memcpy(x->stash, r->buf, XR_REPLY_MAX);
	barrier();
	WRITE_ONCE(x->stash_end, id);
}

/* Looks the connection up, decides under its lock and keeps or loads the
 * answer's copy. Global: its many branches are verified once, not once per
 * path of the caller. Returns an enum verdict. */
GLOBAL int settle(const struct seg *g, const struct opts *o, __u32 staged,
		  struct decision *d)
{
	struct xr_flow f;
	struct xr_conn *x;
	__u64 now;
	int v;

	if (!g || !o || !d)
		return V_PASS;
	__builtin_memcpy(&f, &g->flow, sizeof(f));
	x = conn_of(&f);
	if (!x)
		return V_PASS;
	/* only an answer reads the clock (rule 8's age): a segment passed
	 * on, every pipelined batch or SET, need not pay for it */
	now = staged ? bpf_ktime_get_ns() : 0;
	/* the first answer: from here on every segment takes the lock; the
	 * flag is set (fully ordered) before cli and srv are read below */
	if (staged && !READ_ONCE(x->shifted))
		__sync_val_compare_and_swap(&x->shifted, 0, 1);
	bpf_spin_lock(&x->lock);
	v = decide(x, g, o, staged, now, d);
	bpf_spin_unlock(&x->lock);
	if (v == V_SERVE)
		stash_store(x, d->stash_id);
	else if (v == V_AGAIN && stash_load(x, d->stash_id))
		v = V_DROP;
	return v;
}

/* Whether the payload's length is one GET's that rc_xdp may answer. */
static __always_inline int one_get_size(const struct seg *g)
{
	return g->plen >= 20 && g->plen <= 20 + RESP_KEY_MAX;
}

/* A segment that cannot be passed on correctly; the client sends it again. */
static __always_inline int dropped(void)
{
	stat_add(&xr_stats, XR_STAT_DROPS);
	return XDP_DROP;
}

SEC("xdp")
int rc_xdp(struct xdp_md *ctx)
{
	struct decision d = {};
	struct opts o = {};
	struct seg g = {};
	struct xr_conn *x;
	__u32 staged = 0;
	int v;

	if (parse_xdp(ctx, &g))
		return XDP_PASS;
	x = conn_of(&g.flow);
	if (!x)
		return XDP_PASS;
	/* A segment that cannot be one GET (a pure ACK, a pipeline, a SET)
	 * of a connection never answered on needs nothing of its options:
	 * pass_unshifted() records sequence numbers only. The client's ACKs
	 * of long replies are most of what reaches rc_xdp under -P16. */
	if (!one_get_size(&g) && !READ_ONCE(x->shifted)) {
		v = pass_unshifted(x, &g);
		if (v)
			return v > 0 ? XDP_PASS : dropped();
		/* shifted meanwhile: the locked path, with the options */
	}
	if (load_opts(ctx, &g, &o))
		return XDP_PASS;
	if (one_get_size(&g) && o.sack_at == ~0u)
		staged = stage_answer(ctx, g.l4 + g.optlen + sizeof(struct tcphdr),
				      g.plen, x->cookie);
	/* misses, everything else of a connection never answered on:
	 * neither the lock nor a line rc_egress writes */
	if (!staged && !READ_ONCE(x->shifted)) {
		v = pass_unshifted(x, &g);
		if (v)
			return v > 0 ? XDP_PASS : dropped();
	}
	v = settle(&g, &o, staged, &d);
	if (v == V_SERVE || v == V_AGAIN) {
		/* on failure the client sends the request again */
		if (build_reply(ctx, &d.rh, g.flow.family))
			goto drop;
		if (v == V_AGAIN) {
			stat_add(&xr_stats, XR_STAT_RETRANS);
			return XDP_TX;
		}
		stat_add(&rc_stats, RC_STAT_HITS);
		stat_add(&rc_stats, RC_STAT_HIT_BATCHES);
		stat_add(&xr_stats, XR_STAT_HITS);
		return XDP_TX;
	}
	if (v != V_PASS)
		goto drop;
	if (staged)
		stat_add(&xr_stats, XR_STAT_OWED_PASS);
	if (!(d.s.in_delta | d.s.old_in_delta | d.s.out_delta | d.s.old_out_delta))
		return XDP_PASS;
	d.s.l4 = g.l4;
	if (!rewrite_in(ctx, &d.s, &o))
		return XDP_PASS;
drop:
	return dropped();
}

/* ---- tc egress: the server's segments ---------------------------------- */

/* What parse_linear() returns when the headers are not all in the skb's
 * linear part. */
#define NOT_LINEAR	(-2)

/*
 * Reads the headers and options of a server segment straight from the
 * skb's linear part, where the stack puts them on every segment it sends:
 * no helper call (each costs a call and a thunked return here; egress runs
 * on every segment and GSO packet redis-server sends). Only reads: a
 * direct write would make the verifier unclone every skb first. Returns
 * the window (kept apart until recorded), -1 if not a TCP segment to
 * translate, NOT_LINEAR if the headers are not all there.
 */
static __always_inline int parse_linear(struct __sk_buff *skb, struct seg *g,
					struct opt_buf *b)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *th;

	if ((void *)(eth + 1) > end)
		return NOT_LINEAR;
	g->l3 = sizeof(*eth);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end)
			return NOT_LINEAR;
		if (ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
			return -1;
		g->flow.family = 4;
		g->flow.srv[0] = ip->saddr;
		g->flow.cli[0] = ip->daddr;
		th = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return NOT_LINEAR;
		if (ip6->nexthdr != IPPROTO_TCP)
			return -1;
		g->flow.family = 6;
		__builtin_memcpy(g->flow.srv, &ip6->saddr, 16);
		__builtin_memcpy(g->flow.cli, &ip6->daddr, 16);
		th = (void *)(ip6 + 1);
	} else {
		return -1;
	}
	if ((void *)(th + 1) > end)
		return NOT_LINEAR;
	if (th->doff < 5)
		return -1;
	g->l4 = (void *)th - data;
	/* GSO packets: the payload of every segment they become */
	if (skb->len < g->l4 + th->doff * 4)
		return -1;
	g->flow.srv_port = th->source;
	g->flow.cli_port = th->dest;
	tcp_fields(g, th, skb->len - g->l4 - th->doff * 4);
	b->len = g->optlen;
	if (g->optlen && opts_direct(th + 1, end, b) &&
	    bpf_skb_load_bytes(skb, (g->l4 & 127) + sizeof(*th), b->data,
			       ((g->optlen - 1) & 63) + 1))
		return -1;
	return th->window;
}

/* parse_linear(), after pulling the headers into the linear part if they
 * were not all there (not seen from the stack; then the skb is
 * uncloned). */
static __always_inline int parse_skb(struct __sk_buff *skb, struct seg *g,
				     struct opt_buf *b)
{
	int win = parse_linear(skb, g, b);

	if (win != NOT_LINEAR)
		return win;
	/* Ethernet, IPv6 and a TCP header with every option */
	if (bpf_skb_pull_data(skb, skb->len < 114 ? skb->len : 114))
		return -1;
	win = parse_linear(skb, g, b);
	return win == NOT_LINEAR ? -1 : win;
}

static __always_inline int put32(struct __sk_buff *skb, __u32 l4, __u32 at,
				 __u32 from, __u32 to)
{
	if (from == to)
		return 0;
	if (bpf_l4_csum_replace(skb, l4 + 16, from, to, 4))
		return -1;
	return bpf_skb_store_bytes(skb, at, &to, 4, 0);
}

/* Rewrites the server's segment into the client's numbers. Global. */
GLOBAL int rewrite_out(struct __sk_buff *skb, const struct shift *s,
		       const struct opts *o)
{
	__u32 at, l4, seq, ack;

	if (!s || !o || s->l4 > 80)
		return -1;
	l4 = s->l4;
	seq = s->seq;
	ack = s->ack;
	if (put32(skb, l4, l4 + 4, bpf_htonl(seq), bpf_htonl(srv_bytes_out(s, seq))) ||
	    put32(skb, l4, l4 + 8, bpf_htonl(ack), bpf_htonl(srv_ack_out(s, ack))))
		return -1;
	if (o->sack_at == ~0u)
		return 0;
	for (int i = 0; i < 8; i++) {
		if (i >= o->nsack * 2)
			break;
		at = l4 + sizeof(struct tcphdr) + ((o->sack_at + 4 * i) & 63);
		if (put32(skb, l4, at, bpf_htonl(o->edge[i]),
			  bpf_htonl(cli_bytes_out(s, o->edge[i]))))
			return -1;
	}
	return 0;
}

/* The srv.flags a segment of the server sets. */
static __always_inline __u32 srv_flags_of(const struct seg *g, const struct opts *o)
{
	__u32 f = XR_SRV_SEEN;

	if (o->ts_at != ~0u)
		f |= XR_TS;
	if (g->flags & (TH_FIN | TH_RST))
		f |= XR_CLOSING;
	return f;
}

/* record_out() of a connection never answered on: the egress-owned line
 * only, lock-free. As pass_unshifted(). */
static __always_inline int record_unshifted(struct xr_conn *x, const struct seg *g,
					    const struct opts *o, __u16 win)
{
	__u32 f = srv_flags_of(g, o);

	WRITE_ONCE(x->srv.win, win);
	if (o->ts_at != ~0u)
		WRITE_ONCE(x->srv.tsval, o->tsval);
	if ((READ_ONCE(x->srv.flags) & f) != f)
		__sync_fetch_and_or(&x->srv.flags, f);
	if (pair_raise(&x->srv.pair, g->seq + g->plen + !!(g->flags & (TH_FIN | TH_SYN)),
		       g->ack, g->flags & TH_ACK))
		return -1;
	return still_unshifted(x);
}

/* Records what the server sent; the shifts to apply go to @s. */
static __always_inline void record_out(struct xr_conn *x, const struct seg *g,
				       const struct opts *o, __u16 win,
				       struct shift *s)
{
	__u32 end = g->seq + g->plen + !!(g->flags & (TH_FIN | TH_SYN));

	/* srv.nxt starts at the socket's snd_nxt (conn_open()) */
	x->srv.nxt = SEQ_MAX(x->srv.nxt, end);
	if (g->flags & TH_ACK)
		x->srv.ack = SEQ_MAX(x->srv.ack, g->ack);
	x->srv.win = win;
	if (o->ts_at != ~0u)
		x->srv.tsval = o->tsval;
	x->srv.flags |= srv_flags_of(g, o);
	shift_of(s, x);
}

SEC("tc")
int rc_egress(struct __sk_buff *skb)
{
	struct opt_buf b = {};
	struct shift s = {};
	struct opts o = {};
	struct seg g = {};
	struct xr_conn *x;
	int win;

	win = parse_skb(skb, &g, &b);
	if (win < 0)
		return TC_ACT_OK;
	x = conn_of(&g.flow);
	if (!x || parse_opts(&b, &o))
		return TC_ACT_OK;
	if (!READ_ONCE(x->shifted)) {
		int v = record_unshifted(x, &g, &o, win);

		if (v > 0)
			return TC_ACT_OK;
		if (v < 0)
			goto shot;
	}
	bpf_spin_lock(&x->lock);
	record_out(x, &g, &o, win, &s);
	bpf_spin_unlock(&x->lock);
	if (!(s.in_delta | s.old_in_delta | s.out_delta | s.old_out_delta))
		return TC_ACT_OK;
	/* a segment left untranslated would corrupt the stream */
	s.l4 = g.l4;
	s.seq = g.seq;
	s.ack = g.ack;
	if (!rewrite_out(skb, &s, &o))
		return TC_ACT_OK;
shot:
	stat_add(&xr_stats, XR_STAT_DROPS);
	return TC_ACT_SHOT;
}

/* ---- connections ------------------------------------------------------- */

static __always_inline void flow_of(struct bpf_sock_ops *skops, struct xr_flow *f)
{
	/* each context field read on its own: the verifier refuses loads
	 * through a context pointer the compiler moved */
	__u32 l0 = READ_ONCE(skops->local_ip6[0]), l1 = READ_ONCE(skops->local_ip6[1]);
	__u32 l2 = READ_ONCE(skops->local_ip6[2]), l3 = READ_ONCE(skops->local_ip6[3]);
	__u32 r0 = READ_ONCE(skops->remote_ip6[0]), r1 = READ_ONCE(skops->remote_ip6[1]);
	__u32 r2 = READ_ONCE(skops->remote_ip6[2]), r3 = READ_ONCE(skops->remote_ip6[3]);
	__u32 family = READ_ONCE(skops->family);

	f->srv_port = bpf_htons(READ_ONCE(skops->local_port));
	f->cli_port = bpf_htons(bpf_ntohl(READ_ONCE(skops->remote_port)) & 0xffff);
	if (family == AF_INET) {
		f->family = 4;
		f->srv[0] = READ_ONCE(skops->local_ip4);
		f->cli[0] = READ_ONCE(skops->remote_ip4);
		return;
	}
	/* IPv4 clients of a dual-stack socket are IPv4 on the wire */
	if (!l0 && !l1 && l2 == bpf_htonl(0xffff)) {
		f->family = 4;
		f->srv[0] = l3;
		f->cli[0] = r3;
		return;
	}
	f->family = 6;
	f->srv[0] = l0;
	f->srv[1] = l1;
	f->srv[2] = l2;
	f->srv[3] = l3;
	f->cli[0] = r0;
	f->cli[1] = r1;
	f->cli[2] = r2;
	f->cli[3] = r3;
}

static __always_inline void conn_open(struct bpf_sock_ops *skops)
{
	__u16 port = skops->local_port;
	struct xr_flow f = {};
	struct xr_blank_val *blank;
	struct xr_conn *x;
	__u32 zero = 0;
	long err;

	if (!bpf_map_lookup_elem(&rc_ports, &port))
		return;
	blank = bpf_map_lookup_elem(&xr_blank, &zero);
	if (!blank)
		return;
	flow_of(skops, &f);
	/* a flow known already keeps its entry; else the hot table while
	 * it has room */
	if (conn_of(&f))
		return;
	err = bpf_map_update_elem(&xr_hot, &f, blank, BPF_NOEXIST);
	if (err)
		err = bpf_map_update_elem(&xr_conns, &f, blank, BPF_NOEXIST);
	if (err)
		return;
	x = conn_of(&f);
	if (!x)
		return;
	x->cookie = bpf_get_socket_cookie(skops);
	bpf_spin_lock(&x->lock);
	x->srv.nxt = skops->snd_nxt;
	x->srv.ack = skops->rcv_nxt;
	x->cli.nxt = skops->rcv_nxt;
	x->cli.fwd_ack = skops->snd_una;
	x->cli.flags = XR_FWD_KNOWN;
	/* the marks start where the streams do, not at sequence number 0 */
	x->in_mark = skops->rcv_nxt;
	x->out_mark = skops->snd_nxt;
	bpf_spin_unlock(&x->lock);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
				  BPF_SOCK_OPS_STATE_CB_FLAG);
	stat_add(&xr_stats, XR_STAT_CONNS);
}

SEC("sockops")
int rc_xsockops(struct bpf_sock_ops *skops)
{
	struct xr_flow f = {};

	switch (skops->op) {
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		conn_open(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		/* the last segments are out: nothing to translate any more */
		if (skops->args[1] == BPF_TCP_CLOSE) {
			flow_of(skops, &f);
			bpf_map_delete_elem(&xr_hot, &f);
			bpf_map_delete_elem(&xr_conns, &f);
		}
		break;
	}
	return 1;
}
