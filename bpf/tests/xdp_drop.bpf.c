// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tests/test_redis_xdp's own loss: on the client's end of the veth, drops
 * segments redis-server's side sent (answers injected by XDP included)
 * that carry payload, as the test asks. Everything else passes; that it is
 * attached at all is what veth needs for the peer's XDP_TX (kernel-facts,
 * XDP rule 9). Never part of the library.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IPPROTO_TCP	6

__u16 port;		/* redis-server's, network order */
__u32 drop_next;	/* drop this many payload segments, then pass */
__u32 drop_every;	/* after that, drop one in this many (0: none) */
__u64 seen, dropped;

static __always_inline struct tcphdr *tcp_of(void *data, void *end, __u32 *l4_len)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return NULL;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
			return NULL;
		*l4_len = bpf_ntohs(ip->tot_len) - sizeof(*ip);
		return (void *)(ip + 1);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return NULL;
		*l4_len = bpf_ntohs(ip6->payload_len);
		return (void *)(ip6 + 1);
	}
	return NULL;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 l4_len = 0, n;
	struct tcphdr *th = tcp_of(data, end, &l4_len);

	if (!th || (void *)(th + 1) > end || th->source != port ||
	    l4_len <= th->doff * 4u)
		return XDP_PASS;
	n = __sync_fetch_and_add(&seen, 1);
	if (drop_next) {
		drop_next--;
		goto drop;
	}
	if (drop_every && n % drop_every == drop_every - 1)
		goto drop;
	return XDP_PASS;
drop:
	__sync_fetch_and_add(&dropped, 1);
	return XDP_DROP;
}
