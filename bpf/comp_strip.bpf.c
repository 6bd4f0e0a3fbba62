// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test middlebox (tc egress): overwrites the compression option (kind 254
 * with our ExID) in every TCP segment with NOPs and fixes the checksum, the
 * way a firewall that drops unknown options does.  With clear_ver_bits set
 * it clears those flag bits of the option instead, which makes an end look
 * like a peer that predates them.  Used by tests/test_comp_negotiate only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ebpfaccel/uapi.h"

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IPPROTO_TCP_	6
#define TCP_OPT_MAX	40
#define TC_ACT_OK	0

__u64 stripped;
__u8 clear_ver_bits;	/* set before attaching */

/* Offset of the TCP header, or -1 if the frame is not TCP over IP. */
static int tcp_offset(struct __sk_buff *skb)
{
	__u8 ver_ihl, proto;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ver_ihl, 1) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1) || proto != IPPROTO_TCP_)
			return -1;
		return ETH_HLEN + (ver_ihl & 0xf) * 4;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &proto, 1) || proto != IPPROTO_TCP_)
			return -1;
		return ETH_HLEN + 40;
	}
	return -1;
}

static __always_inline int is_ours(const __u8 *o, int i)
{
	if (i + TCP_COMP_OPT_LEN > TCP_OPT_MAX)
		return 0;
	return o[i] == TCP_COMP_OPT_KIND && o[i + 1] == TCP_COMP_OPT_LEN &&
	       o[i + 2] == (TCP_COMP_OPT_EXID >> 8) && o[i + 3] == (TCP_COMP_OPT_EXID & 0xff);
}

SEC("tc")
int comp_strip(struct __sk_buff *skb)
{
	__u8 old[TCP_OPT_MAX] = {}, opts[TCP_OPT_MAX] = {};
	__u32 len, next = 0, changed = 0;
	int off = tcp_offset(skb);
	__u8 doff;
	__s64 diff;

	if (off < 0 || bpf_skb_load_bytes(skb, off + 12, &doff, 1))
		return TC_ACT_OK;
	len = (doff >> 4) * 4;
	if (len <= 20)
		return TC_ACT_OK;
	len -= 20;
	/* Word by word with constant sizes: a variable length is hard to
	 * prove non-zero to the verifier. */
#pragma unroll
	for (int w = 0; w < TCP_OPT_MAX / 4; w++) {
		if (w * 4 >= len)
			break;
		if (bpf_skb_load_bytes(skb, off + 20 + w * 4, &opts[w * 4], 4))
			return TC_ACT_OK;
	}
	__builtin_memcpy(old, opts, sizeof(old));
	/* Walk every byte position with constant indices (the verifier
	 * refuses variable stack offsets); act where an option starts. */
#pragma unroll
	for (int pos = 0; pos < TCP_OPT_MAX - 1; pos++) {
		if (pos != next)
			continue;
		if (pos >= len || opts[pos] == 0)
			break;
		if (opts[pos] == 1) {
			next++;
			continue;
		}
		if (opts[pos + 1] < 2)
			break;
		next += opts[pos + 1];
		if (is_ours(opts, pos) && clear_ver_bits) {
			if (pos + 4 < TCP_OPT_MAX)
				opts[pos + 4] &= ~clear_ver_bits;
			changed = 1;
		} else if (is_ours(opts, pos)) {
#pragma unroll
			for (int k = 0; k < TCP_COMP_OPT_LEN; k++)
				if (pos + k < TCP_OPT_MAX)
					opts[pos + k] = 1;
			changed = 1;
		}
	}
	if (!changed)
		return TC_ACT_OK;
	diff = bpf_csum_diff((__be32 *)old, TCP_OPT_MAX, (__be32 *)opts, TCP_OPT_MAX, 0);
	if (diff < 0)
		return TC_ACT_OK;
#pragma unroll
	for (int w = 0; w < TCP_OPT_MAX / 4; w++) {
		if (w * 4 >= len)
			break;
		if (bpf_skb_store_bytes(skb, off + 20 + w * 4, &opts[w * 4], 4, 0))
			return TC_ACT_OK;
	}
	if (bpf_l4_csum_replace(skb, off + 16, 0, diff, 0))
		return TC_ACT_OK;
	__sync_fetch_and_add(&stripped, 1);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual BSD/GPL";
