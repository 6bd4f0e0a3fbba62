// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Traffic probe: cls_bpf programs on an interface's clsact ingress and
 * egress hooks that measure TCP traffic per flow and per server port
 * (volume, windowed rate, request/response turns) and send a bounded sample
 * of payload bytes to user space, which estimates compressibility from it.
 *
 * Work per packet is constant: two header reads, two hash lookups, a few
 * counter updates and, once per sample_every_bytes of a flow's payload, one
 * ring-buffer record of at most TP_SAMPLE_MAX bytes.  On user space's
 * request (stretch_gen), one flow of a port copies a contiguous stretch of
 * stretch_bytes of its payload, TP_STRETCH_PIECES records a segment at most.  The programs never
 * change or drop a packet: they always return TC_ACT_UNSPEC so the next
 * filter (or the default action) decides.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "traffic_probe.h"

#define TC_ACT_UNSPEC	(-1)
#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define IP_MF		0x2000
#define IP_OFFSET	0x1FFF

#define TCP_FLAG_SYN	0x02
#define TCP_FLAG_ACK	0x10

/* Set by the library before load. */
const volatile __u64 window_ns = 100000000ULL;
const volatile __u64 sample_every_bytes = 65536;

/* Samples the ring buffer had no room for (user space did not drain it). */
__u64 samples_dropped = 0;

#define READ_ONCE(x)	(*(volatile typeof(x) *)&(x))

/* A stretch request, written by user space through the mmap'ed .bss (port
 * and direction first, then stretch_gen): the next payload of a flow of
 * stretch_port in direction stretch_dir starts a contiguous stretch of
 * stretch_bytes.  stretch_taken is the request a flow took: one answers. */
const volatile __u32 stretch_bytes = 2U << 20;
__u64 stretch_gen = 0;
__u64 stretch_taken = 0;
__u16 stretch_port = 0;
__u8 stretch_dir = 0;
/* Stretches cut short: a gap or reordering in the flow, a full ring. */
__u64 stretches_broken = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tp_flow_key);
	__type(value, struct tp_flow);
} tp_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, struct tp_port);
} tp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);	/* a stretch (2 MiB) and the pieces */
} tp_samples SEC(".maps");

/* What the parser found in one packet. */
struct pkt {
	struct tp_flow_key key;
	__u32	seq;		/* TCP sequence number, host order */
	__u32	l3_bytes;
	__u32	payload_off;
	__u32	payload_len;
	__u16	src_port;	/* host order */
	__u16	dst_port;
	__u8	tcp_flags;
};

static __always_inline __u32 min_u32(__u32 a, __u32 b)
{
	return a < b ? a : b;
}

/* Payload length from the skb, trusting the IP length field when it is set
 * (ingress frames may carry link-layer padding; GSO and BIG TCP packets may
 * carry a length of 0 in the header). */
static __always_inline __u32 payload_len(const struct __sk_buff *skb, __u32 off, __u32 ip_end)
{
	__u32 end = skb->len;

	if (ip_end)
		end = min_u32(end, ip_end);
	return end > off ? end - off : 0;
}

/* @len bytes at @off: in place when the skb's linear part holds them (the
 * common case, and cheaper than a copy), else copied into @buf; NULL when
 * the packet is shorter. */
static __always_inline void *hdr_at(struct __sk_buff *skb, __u32 off, __u32 len, void *buf)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (data + off + len <= end)
		return data + off;
	return bpf_skb_load_bytes(skb, off, buf, len) ? NULL : buf;
}

static __always_inline int parse_tcp(struct __sk_buff *skb, __u32 l4_off, __u32 ip_end,
				     struct pkt *p)
{
	struct tcphdr buf, *th = hdr_at(skb, l4_off, sizeof(buf), &buf);
	__u32 thl;

	if (!th)
		return -1;
	thl = th->doff * 4;
	if (thl < sizeof(*th))
		return -1;
	p->src_port = bpf_ntohs(th->source);
	p->dst_port = bpf_ntohs(th->dest);
	p->tcp_flags = ((__u8 *)th)[13];
	p->seq = bpf_ntohl(th->seq);
	p->payload_off = l4_off + thl;
	p->payload_len = payload_len(skb, p->payload_off, ip_end);
	return 0;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct pkt *p, __u8 *src, __u8 *dst)
{
	struct iphdr buf, *ih = hdr_at(skb, ETH_HLEN, sizeof(buf), &buf);
	__u32 ihl;

	if (!ih)
		return -1;
	ihl = ih->ihl * 4;
	/* Only the first fragment has the TCP header. */
	if (ih->protocol != IPPROTO_TCP || ihl < sizeof(*ih) ||
	    (bpf_ntohs(ih->frag_off) & IP_OFFSET))
		return -1;
	p->key.family = AF_INET;
	__builtin_memcpy(src, &ih->saddr, 4);
	__builtin_memcpy(dst, &ih->daddr, 4);
	return parse_tcp(skb, ETH_HLEN + ihl, ih->tot_len ? ETH_HLEN + bpf_ntohs(ih->tot_len) : 0, p);
}

/* TCP directly after the fixed header only: extension headers are rare on
 * TCP traffic and following them would make the work per packet unbounded. */
static __always_inline int parse_ipv6(struct __sk_buff *skb, struct pkt *p, __u8 *src, __u8 *dst)
{
	struct ipv6hdr buf, *ih = hdr_at(skb, ETH_HLEN, sizeof(buf), &buf);
	__u32 plen;

	if (!ih || ih->nexthdr != IPPROTO_TCP)
		return -1;
	p->key.family = AF_INET6;
	__builtin_memcpy(src, &ih->saddr, 16);
	__builtin_memcpy(dst, &ih->daddr, 16);
	plen = bpf_ntohs(ih->payload_len);
	return parse_tcp(skb, ETH_HLEN + sizeof(*ih), plen ? ETH_HLEN + sizeof(*ih) + plen : 0, p);
}

static __always_inline int parse(struct __sk_buff *skb, enum tp_dir dir, struct pkt *p)
{
	/* Egress: we are the source; ingress: we are the destination. */
	__u8 *src = dir == TP_TX ? p->key.local : p->key.remote;
	__u8 *dst = dir == TP_TX ? p->key.remote : p->key.local;
	int err;

	if (skb->len <= ETH_HLEN)
		return -1;
	if (skb->protocol == bpf_htons(ETH_P_IP))
		err = parse_ipv4(skb, p, src, dst);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		err = parse_ipv6(skb, p, src, dst);
	else
		return -1;
	if (err)
		return err;
	p->key.lport = dir == TP_TX ? p->src_port : p->dst_port;
	p->key.rport = dir == TP_TX ? p->dst_port : p->src_port;
	p->l3_bytes = skb->len - ETH_HLEN;
	return 0;
}

/* The port a connection is filed under is the server's: the destination of
 * its SYN, the source of its SYN-ACK.  A connection already open when the
 * probe started falls back to the lower port, which is the server's in the
 * common case of a well-known port and an ephemeral client port. */
static __always_inline void classify_server(const struct pkt *p, enum tp_dir dir, struct tp_flow *f)
{
	__u8 syn = p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK);

	if (syn == TCP_FLAG_SYN) {
		f->server_port = p->dst_port;
		f->local_is_server = dir == TP_RX;
	} else if (syn == (TCP_FLAG_SYN | TCP_FLAG_ACK)) {
		f->server_port = p->src_port;
		f->local_is_server = dir == TP_TX;
	} else {
		f->server_port = p->src_port < p->dst_port ? p->src_port : p->dst_port;
		f->local_is_server = 2;
	}
}

static __always_inline struct tp_flow *flow_get(const struct pkt *p, enum tp_dir dir, __u64 now,
					       bool *created)
{
	struct tp_flow *f = bpf_map_lookup_elem(&tp_flows, &p->key);
	struct tp_flow init = {};

	*created = false;
	if (f)
		return f;
	init.first_ns = now;
	init.last_dir = TP_NDIR;
	classify_server(p, dir, &init);
	/* Another CPU may have created it meanwhile: keep theirs. */
	*created = !bpf_map_update_elem(&tp_flows, &p->key, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&tp_flows, &p->key);
}

static __always_inline struct tp_port *port_get(__u16 port, __u64 now)
{
	struct tp_port *ps = bpf_map_lookup_elem(&tp_ports, &port);
	struct tp_port init = {};

	if (ps)
		return ps;
	init.first_ns = now;
	bpf_map_update_elem(&tp_ports, &port, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&tp_ports, &port);
}

/* Two fixed windows aligned to window_ns.  Concurrent updates from several
 * CPUs may lose a few bytes at a window boundary; the rate is an estimate. */
static __always_inline void account_window(struct tp_dir_stats *d, __u64 payload, __u64 now)
{
	__u64 start = now - now % window_ns;

	if (start == d->win_start_ns) {
		__sync_fetch_and_add(&d->win_bytes, payload);
		return;
	}
	if (d->win_bytes > d->peak_win_bytes)
		d->peak_win_bytes = d->win_bytes;
	d->prev_win_bytes = start - d->win_start_ns == window_ns ? d->win_bytes : 0;
	d->win_bytes = payload;
	d->win_start_ns = start;
}

static __always_inline void account(struct tp_dir_stats *d, const struct pkt *p,
				    __u64 wire_packets, __u64 now)
{
	__sync_fetch_and_add(&d->bytes, p->l3_bytes);
	__sync_fetch_and_add(&d->packets, wire_packets);
	if (!p->payload_len)
		return;
	__sync_fetch_and_add(&d->payload_bytes, p->payload_len);
	__sync_fetch_and_add(&d->payload_segs, 1);
	account_window(d, p->payload_len, now);
}

/* A piece's port, direction and kind in one argument (a BPF call has
 * five). */
#define PIECE_META(port, dir, kind)	((__u32)(port) | (__u32)(dir) << 16 | (__u32)(kind) << 24)

/* One record of @len payload bytes (at most TP_SAMPLE_MAX are copied) at
 * @off: a sample's piece or a stretch's.  Global, so the verifier checks
 * it once and the stretch's loop stays a few instructions an iteration.
 * 0, or -1 if the ring is full (a sample's piece is counted dropped) or
 * the bytes are not there. */
__noinline int tp_piece(struct __sk_buff *skb, __u32 off, __u32 len, __u32 meta)
{
	struct tp_sample *s;

	if (!skb || !len)
		return -1;
	s = bpf_ringbuf_reserve(&tp_samples, sizeof(*s), 0);
	if (!s) {
		if ((__u8)(meta >> 24) == TP_PIECE)
			__sync_fetch_and_add(&samples_dropped, 1);
		return -1;
	}
	/* clang 14 may drop a plain bound check on a variable length; the
	 * mask keeps 1..TP_SAMPLE_MAX visible to the verifier. */
	len = min_u32(len, TP_SAMPLE_MAX) - 1;
	asm volatile("%0 &= %1" : "+r"(len) : "i"(TP_SAMPLE_MAX - 1));
	len += 1;
	if (bpf_skb_load_bytes(skb, off, s->data, len)) {
		bpf_ringbuf_discard(s, 0);
		return -1;
	}
	s->port = (__u16)meta;
	s->dir = (__u8)(meta >> 16);
	s->kind = (__u8)(meta >> 24);
	s->len = len;
	bpf_ringbuf_submit(s, 0);
	return 0;
}

/* Samples the first payload of each direction, then one segment per
 * sample_every_bytes of payload, so the sample volume follows the data
 * volume whatever the segment sizes (GSO makes them vary from one MSS to
 * 64 KiB). */
static __always_inline bool want_sample(struct tp_flow *f, const struct pkt *p, enum tp_dir dir)
{
	if (!p->payload_len)
		return false;
	if (f->dir[dir].payload_segs == 1) {
		f->sample_credit = 0;
		return true;
	}
	f->sample_credit += p->payload_len;
	if (f->sample_credit < sample_every_bytes)
		return false;
	/* Keep the remainder, or 64 KiB GSO packets would be sampled only
	 * every other one. */
	f->sample_credit -= sample_every_bytes;
	if (f->sample_credit >= sample_every_bytes)
		f->sample_credit = 0;
	return true;
}

/* Whether @f takes the pending stretch request: the request's port and
 * direction, and no other flow took it first. */
static __always_inline bool stretch_take(struct tp_flow *f, const struct pkt *p, enum tp_dir dir)
{
	__u64 gen = READ_ONCE(stretch_gen), taken = READ_ONCE(stretch_taken);

	if (gen == taken || f->server_port != READ_ONCE(stretch_port) || dir != READ_ONCE(stretch_dir))
		return false;
	if (__sync_val_compare_and_swap(&stretch_taken, taken, gen) != taken)
		return false;
	f->stretch_left = stretch_bytes;
	f->stretch_seq = p->seq;
	f->stretch_dir = dir;
	return true;
}

/* Copies the segment's payload (up to what the stretch still wants) in
 * TP_SAMPLE_MAX-byte records.  A segment that does not continue the
 * stretch where the last one ended (a retransmission, a gap, reordering),
 * a full ring buffer or a segment longer than TP_STRETCH_PIECES records
 * ends it: user space only uses a stretch that reached stretch_bytes. */
static __always_inline void stretch_copy(struct __sk_buff *skb, struct tp_flow *f, const struct pkt *p,
					 bool first)
{
	__u32 want = min_u32(p->payload_len, f->stretch_left);
	__u8 kind = first ? TP_STRETCH_FIRST : TP_STRETCH;
	int i;

	if (p->seq != f->stretch_seq)
		goto broken;
	for (i = 0; i < TP_STRETCH_PIECES; i++) {
		__u32 off = i * TP_SAMPLE_MAX;

		if (off >= want)
			break;
		if (tp_piece(skb, p->payload_off + off, want - off,
				     PIECE_META(f->server_port, f->stretch_dir, i ? TP_STRETCH : kind)))
			goto broken;
	}
	if (want > TP_STRETCH_PIECES * TP_SAMPLE_MAX)
		goto broken;
	f->stretch_left -= want;
	f->stretch_seq += want;
	return;
broken:
	f->stretch_left = 0;
	__sync_fetch_and_add(&stretches_broken, 1);
}

static __always_inline int handle(struct __sk_buff *skb, enum tp_dir dir)
{
	struct pkt p = {};
	struct tp_flow *f;
	struct tp_port *ps;
	__u64 now, wire_packets;
	bool new_flow, turned = false;

	if (parse(skb, dir, &p))
		return TC_ACT_UNSPEC;
	now = bpf_ktime_get_ns();
	f = flow_get(&p, dir, now, &new_flow);
	if (!f)
		return TC_ACT_UNSPEC;
	wire_packets = skb->gso_segs ? skb->gso_segs : 1;
	f->last_ns = now;
	account(&f->dir[dir], &p, wire_packets, now);
	if (p.payload_len) {
		if (f->last_dir != dir && f->last_dir != TP_NDIR) {
			__sync_fetch_and_add(&f->turns, 1);
			turned = true;
		}
		f->last_dir = dir;
	}

	ps = port_get(f->server_port, now);
	if (ps) {
		ps->last_ns = now;
		account(&ps->dir[dir], &p, wire_packets, now);
		if (turned)
			__sync_fetch_and_add(&ps->turns, 1);
		if (new_flow)
			__sync_fetch_and_add(&ps->flows, 1);
	}
	if (want_sample(f, &p, dir))
		tp_piece(skb, p.payload_off, p.payload_len, PIECE_META(f->server_port, dir, TP_PIECE));
	if (p.payload_len) {
		bool first = !f->stretch_left && stretch_take(f, &p, dir);

		if (f->stretch_left && f->stretch_dir == dir)
			stretch_copy(skb, f, &p, first);
	}
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tp_ingress(struct __sk_buff *skb)
{
	return handle(skb, TP_RX);
}

SEC("tc")
int tp_egress(struct __sk_buff *skb)
{
	return handle(skb, TP_TX);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
