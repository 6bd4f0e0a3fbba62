// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Compression negotiation in the TCP handshake (sock_ops on a cgroup v2).
 * The option and the exchange are described in include/ebpfaccel/uapi.h and
 * docs/compression-format.md.  The decision per socket ends up in the
 * comp_sk_state sk_storage, which the library reads by socket fd.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfaccel/uapi.h"
#include "comp_negotiate.h"

#define AF_INET		2
#define AF_INET6	10
#define TCPHDR_SYN	0x02
#define TCPHDR_ACK	0x10

#define OPT_ALGOS	((1U << TCP_COMP_ALGO_ZSTD) | (1U << TCP_COMP_ALGO_LZ4))
#define OPT_VER_FLAGS(f) ((TCP_COMP_OPT_VERSION << 4) | (f))

struct comp_opt {
	__u8	kind;
	__u8	len;
	__u8	exid[2];
	__u8	ver_flags;
	__u8	algos;
	__u8	tx;
	__u8	rx;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct comp_policy_key);
	__type(value, struct comp_policy_val);
} comp_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct comp_sk_state);
} comp_sk_state SEC(".maps");

__u64 comp_counters[__COMP_CNT_MAX];

/* Newest record format this host's data path speaks: the library lowers it
 * to 1 where the tcp_comp module that would carry the data predates format 2. */
const volatile __u8 comp_max_format = TCP_COMP_VERSION_2;

static __always_inline __u8 format2_flag(void)
{
	return comp_max_format >= TCP_COMP_VERSION_2 ? TCP_COMP_OPT_F_FORMAT2 : 0;
}

/* The format a peer's answer or confirmation agrees on (see adopt_peer_view). */
static __always_inline __u8 agreed_format(__u8 peer_flags)
{
	return (peer_flags & format2_flag()) ? TCP_COMP_VERSION_2 : TCP_COMP_VERSION_1;
}

static __always_inline void count(enum comp_counter c)
{
	if (c < __COMP_CNT_MAX)
		__sync_fetch_and_add(&comp_counters[c], 1);
}

#define OUR_CB_FLAGS (BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG | BPF_SOCK_OPS_PARSE_ALL_HDR_OPT_CB_FLAG)

/* Callback flags are per socket and shared with programs of other cgroup
 * levels: add to them, and take back only ours. */
static __always_inline void add_cb_flags(struct bpf_sock_ops *skops, int flags)
{
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | flags);
}

static __always_inline void drop_our_cb_flags(struct bpf_sock_ops *skops)
{
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags & ~OUR_CB_FLAGS);
}

static __always_inline int algo_known(__u8 algo)
{
	return algo > TCP_COMP_ALGO_NONE && algo < __TCP_COMP_ALGO_MAX;
}

/* The server side of the connection is remote for a client, local for a server. */
static struct comp_policy_val *lookup_policy(struct bpf_sock_ops *skops, int server_is_local)
{
	struct comp_policy_key key = { .prefixlen = COMP_KEY_MAX_BITS };
	__u32 lport = skops->local_port, rport = skops->remote_port;
	__u16 port = server_is_local ? lport : bpf_ntohl(rport) & 0xffff;

	key.port[0] = port >> 8;
	key.port[1] = port & 0xff;

	/* Read both ends unconditionally: the verifier refuses a context
	 * pointer that clang offsets by a selected field. */
	__u32 lip4 = skops->local_ip4, rip4 = skops->remote_ip4;
	__u32 lip6[4] = { skops->local_ip6[0], skops->local_ip6[1], skops->local_ip6[2],
			  skops->local_ip6[3] };
	__u32 rip6[4] = { skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2],
			  skops->remote_ip6[3] };

	if (skops->family == AF_INET) {
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], server_is_local ? &lip4 : &rip4, 4);
	} else if (skops->family == AF_INET6) {
		__builtin_memcpy(key.addr, server_is_local ? lip6 : rip6, 16);
	} else {
		return NULL;
	}

	struct comp_policy_val *pol = bpf_map_lookup_elem(&comp_policy, &key);

	if (!pol || pol->action == COMP_ACTION_OFF)
		return NULL;
	return pol;
}

static __always_inline int load_opt(struct bpf_sock_ops *skops, struct comp_opt *opt, __u64 flags)
{
	int ret;

	__builtin_memset(opt, 0, sizeof(*opt));
	opt->kind = TCP_COMP_OPT_KIND;
	opt->len = 4;	/* search by kind + ExID */
	opt->exid[0] = TCP_COMP_OPT_EXID >> 8;
	opt->exid[1] = TCP_COMP_OPT_EXID & 0xff;
	ret = bpf_load_hdr_opt(skops, opt, sizeof(*opt), flags);
	if (ret != TCP_COMP_OPT_LEN || opt->len != TCP_COMP_OPT_LEN)
		return -1;
	if ((opt->ver_flags >> 4) != TCP_COMP_OPT_VERSION)
		return -1;
	return 0;
}

static __always_inline void fill_opt(struct comp_opt *opt, __u8 flags, __u8 tx, __u8 rx)
{
	opt->kind = TCP_COMP_OPT_KIND;
	opt->len = TCP_COMP_OPT_LEN;
	opt->exid[0] = TCP_COMP_OPT_EXID >> 8;
	opt->exid[1] = TCP_COMP_OPT_EXID & 0xff;
	opt->ver_flags = OPT_VER_FLAGS(flags);
	opt->algos = OPT_ALGOS;
	opt->tx = tx;
	opt->rx = rx;
}

static __always_inline int sock_state_is(struct bpf_sock_ops *skops, struct comp_sk_state **out,
					 __u8 phase)
{
	struct bpf_sock *sk = skops->sk;

	if (!sk)
		return 0;
	*out = bpf_sk_storage_get(&comp_sk_state, sk, NULL, 0);
	return *out && (*out)->phase == phase;
}

/*
 * Server: answer a SYN from its option and the local policy.  Computed
 * twice (length and write callbacks) because a request sock has no storage.
 * Each direction is on when its sender wants it and its receiver accepts it;
 * the sender's algorithm wins when the receiver can decode it.
 */
static int server_answer(struct bpf_sock_ops *skops, struct comp_opt *answer)
{
	struct comp_policy_val *pol;
	struct comp_opt syn;
	__u8 c2s = 0, s2c = 0;

	if (load_opt(skops, &syn, BPF_LOAD_HDR_OPT_TCP_SYN) ||
	    (syn.ver_flags & (TCP_COMP_OPT_F_SYNACK | TCP_COMP_OPT_F_CONFIRM)))
		return -1;
	pol = lookup_policy(skops, 1);
	if (!pol)
		return -1;
	if (syn.tx && (pol->dir & COMP_DIR_RX) && algo_known(syn.tx))
		c2s = syn.tx;
	if (syn.rx && (pol->dir & COMP_DIR_TX)) {
		if (algo_known(pol->algo) && (syn.algos & (1U << pol->algo)))
			s2c = pol->algo;
		else if (algo_known(syn.rx))
			s2c = syn.rx;
	}
	if (!c2s && !s2c)
		return -1;
	fill_opt(answer, TCP_COMP_OPT_F_SYNACK | (syn.ver_flags & format2_flag()) |
		 (pol->mode == TCP_COMP_MODE_STREAM ? TCP_COMP_OPT_F_STREAM : 0), s2c, c2s);
	return 0;
}

/* Which option, if any, goes into the segment being built. */
static int option_to_write(struct bpf_sock_ops *skops, struct comp_opt *opt)
{
	__u8 tcp_flags = skops->skb_tcp_flags;
	struct comp_sk_state *st;

	if ((tcp_flags & (TCPHDR_SYN | TCPHDR_ACK)) == (TCPHDR_SYN | TCPHDR_ACK))
		return server_answer(skops, opt);
	if (tcp_flags & TCPHDR_SYN) {
		if (!sock_state_is(skops, &st, COMP_PHASE_SYN_SENT))
			return -1;
		fill_opt(opt, st->wish_flags, st->wish_tx, st->wish_rx);
		return 0;
	}
	if (!sock_state_is(skops, &st, COMP_PHASE_CONFIRMING))
		return -1;
	fill_opt(opt, TCP_COMP_OPT_F_CONFIRM |
		 (st->format == TCP_COMP_VERSION_2 ? TCP_COMP_OPT_F_FORMAT2 : 0) |
		 (st->mode == TCP_COMP_MODE_STREAM ? TCP_COMP_OPT_F_STREAM : 0),
		 st->tx_algo, st->rx_algo);
	return 0;
}

static void apply_policy(struct comp_sk_state *st, const struct comp_policy_val *pol)
{
	st->action = pol->action;
	st->level = pol->level;
	st->record_size = pol->record_size;
	st->flags = pol->flags;
}

static void client_connect(struct bpf_sock_ops *skops)
{
	struct comp_policy_val *pol = lookup_policy(skops, 0);
	struct bpf_sock *sk = skops->sk;
	struct comp_sk_state *st;
	__u8 algo;

	if (!pol || !sk)
		return;
	st = bpf_sk_storage_get(&comp_sk_state, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	algo = algo_known(pol->algo) ? pol->algo : TCP_COMP_ALGO_ZSTD;
	__builtin_memset(st, 0, sizeof(*st));
	st->role = COMP_ROLE_CLIENT;
	apply_policy(st, pol);
	st->wish_tx = (pol->dir & COMP_DIR_TX) ? algo : 0;
	st->wish_rx = (pol->dir & COMP_DIR_RX) ? algo : 0;
	st->wish_flags = (pol->mode == TCP_COMP_MODE_STREAM ? TCP_COMP_OPT_F_STREAM : 0) |
			 format2_flag();
	if (!st->wish_tx && !st->wish_rx)
		return;
	st->phase = COMP_PHASE_SYN_SENT;
	add_cb_flags(skops, BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
}

/* A direction in the answer is valid only if the client asked for it. */
static int answer_valid(__u8 answer, __u8 wish)
{
	return !answer || (wish && algo_known(answer));
}

/* The peer's option says tx/rx from its side: our tx is its rx. */
static void adopt_peer_view(struct comp_sk_state *st, const struct comp_opt *o, __u8 phase)
{
	st->tx_algo = o->rx;
	st->rx_algo = o->tx;
	st->mode = (o->ver_flags & TCP_COMP_OPT_F_STREAM) ? TCP_COMP_MODE_STREAM
							  : TCP_COMP_MODE_BLOCK;
	/* The client offered format 2 only if it speaks it; the server's
	 * answer or the client's confirmation carries it only if both do. */
	st->format = agreed_format(o->ver_flags);
	st->phase = phase;
}

static void client_established(struct bpf_sock_ops *skops)
{
	struct comp_sk_state *st;
	struct comp_opt ans;

	if (!sock_state_is(skops, &st, COMP_PHASE_SYN_SENT))
		return;
	if (load_opt(skops, &ans, 0) || !(ans.ver_flags & TCP_COMP_OPT_F_SYNACK) ||
	    !answer_valid(ans.rx, st->wish_tx) || !answer_valid(ans.tx, st->wish_rx) ||
	    (!ans.rx && !ans.tx)) {
		st->phase = COMP_PHASE_OFF;
		count(COMP_CNT_CLIENT_NO_ANSWER);
		drop_our_cb_flags(skops);
		return;
	}
	adopt_peer_view(st, &ans, COMP_PHASE_CONFIRMING);
	count(COMP_CNT_CLIENT_ON);
	add_cb_flags(skops, OUR_CB_FLAGS);
}

/* Any non-SYN segment from the server proves it has completed its handshake. */
static void client_parse(struct bpf_sock_ops *skops)
{
	struct comp_sk_state *st;

	if (skops->skb_tcp_flags & TCPHDR_SYN)
		return;
	if (!sock_state_is(skops, &st, COMP_PHASE_CONFIRMING))
		return;
	st->phase = COMP_PHASE_ON;
	count(COMP_CNT_CONFIRM_DONE);
	drop_our_cb_flags(skops);
}

static int confirm_acceptable(const struct comp_opt *c, const struct comp_policy_val *pol)
{
	if (!(c->ver_flags & TCP_COMP_OPT_F_CONFIRM) || (!c->tx && !c->rx))
		return 0;
	if (c->tx && (!(pol->dir & COMP_DIR_RX) || !algo_known(c->tx)))
		return 0;
	if (c->rx && (!(pol->dir & COMP_DIR_TX) || !algo_known(c->rx)))
		return 0;
	return 1;
}

static void server_established(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct comp_policy_val *pol;
	struct comp_sk_state *st;
	struct comp_opt c;

	drop_our_cb_flags(skops);
	pol = lookup_policy(skops, 1);
	if (!pol || !sk)
		return;
	st = bpf_sk_storage_get(&comp_sk_state, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	__builtin_memset(st, 0, sizeof(*st));
	st->role = COMP_ROLE_SERVER;
	apply_policy(st, pol);
	if (load_opt(skops, &c, 0) || !confirm_acceptable(&c, pol)) {
		st->phase = COMP_PHASE_OFF;
		count(COMP_CNT_SERVER_NO_CONFIRM);
		return;
	}
	adopt_peer_view(st, &c, COMP_PHASE_ON);
	count(COMP_CNT_SERVER_ON);
}

static void hdr_opt_len(struct bpf_sock_ops *skops)
{
	struct comp_opt opt;

	if (!option_to_write(skops, &opt))
		bpf_reserve_hdr_opt(skops, TCP_COMP_OPT_LEN, 0);
}

static void write_hdr_opt(struct bpf_sock_ops *skops)
{
	struct comp_opt opt;

	if (option_to_write(skops, &opt))
		return;
	if (bpf_store_hdr_opt(skops, &opt, sizeof(opt), 0))
		return;
	if ((skops->skb_tcp_flags & (TCPHDR_SYN | TCPHDR_ACK)) == (TCPHDR_SYN | TCPHDR_ACK))
		count(COMP_CNT_SYNACK_OPT);
	else if (skops->skb_tcp_flags & TCPHDR_SYN)
		count(COMP_CNT_SYN_OPT);
}

SEC("sockops")
int comp_negotiate(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		/* Set on every listener so a policy added later applies at once. */
		add_cb_flags(skops, BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		client_connect(skops);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		client_established(skops);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		server_established(skops);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
		client_parse(skops);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		hdr_opt_len(skops);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		write_hdr_opt(skops);
		break;
	}
	return 1;
}

char _license[] SEC("license") = "Dual BSD/GPL";
