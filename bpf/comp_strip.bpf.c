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

/* The options live in a 64-byte buffer and every index into it is masked
 * with OPT_MASK: a walk whose position comes from the packet then needs no
 * proof of its bounds beyond the mask. */
#define OPT_BUF		64
#define OPT_MASK	(OPT_BUF - 1)

struct tcp_opts {
	__u8 b[OPT_BUF];
};

static __always_inline bool is_ours(const __u8 *o, __u32 pos)
{
	return o[pos & OPT_MASK] == TCP_COMP_OPT_KIND &&
	       o[(pos + 1) & OPT_MASK] == TCP_COMP_OPT_LEN &&
	       o[(pos + 2) & OPT_MASK] == (TCP_COMP_OPT_EXID >> 8) &&
	       o[(pos + 3) & OPT_MASK] == (TCP_COMP_OPT_EXID & 0xff);
}

/* Overwrites our options in bytes @start..@len of @opts with NOPs (or
 * clears clear_ver_bits in them); returns
 * 1 when it found one, else 0.  One option per iteration, at most
 * TCP_OPT_MAX of them (all NOPs).  A global function, so the verifier
 * checks it once, with @start and @len unknown: no comparison of the
 * position is ever decided, the position stays imprecise and the states
 * of each iteration merge (started from a constant 0, every NOP run gave
 * the verifier one more exact position to explore: over 1M insns).
 *
 * It replaces a walk unrolled over every byte position, which compared
 * the next option's start with each position's constant ("if (pos !=
 * next) continue"): on paths where that start was exact, 6.18.15's
 * verifier could not rule out the branch and logged a kernel WARN,
 * "verifier bug: REG INVARIANTS VIOLATION (true_reg2): range bounds
 * violation u64=[0x1d, 0x1c]" (a machine with panic_on_warn panics);
 * 6.1-7.3 accept both.  Measured: the unrolled walk alone still WARNed
 * there; this one does not (docs/kernel-matrix.md). */
__noinline int nop_ours(struct tcp_opts *opts, __u32 start, __u32 len)
{
	__u32 pos = start, found = 0;
	__u8 *o;

	if (!opts)
		return 0;
	o = opts->b;

	for (int i = 0; i < TCP_OPT_MAX; i++) {
		__u8 kind, olen;

		if (pos >= len)
			break;
		kind = o[pos & OPT_MASK];
		if (kind == 0) /* end of options */
			break;
		if (kind == 1) { /* NOP */
			pos++;
			continue;
		}
		if (pos + 1 >= len)
			break;
		olen = o[(pos + 1) & OPT_MASK];
		if (olen < 2 || pos + olen > len)
			break;
		if (is_ours(o, pos) && clear_ver_bits) {
			o[(pos + 4) & OPT_MASK] &= ~clear_ver_bits;
			found = 1;
		} else if (is_ours(o, pos)) {
			for (int k = 0; k < TCP_COMP_OPT_LEN; k++)
				o[(pos + k) & OPT_MASK] = 1;
			found = 1;
		}
		pos += olen;
	}
	return found;
}

SEC("tc")
int comp_strip(struct __sk_buff *skb)
{
	struct tcp_opts old = {}, opts = {};
	int off = tcp_offset(skb);
	__u8 doff;
	__s64 diff;
	__u64 len; /* 64-bit: checked in the register the helpers get */

	if (off < 0 || bpf_skb_load_bytes(skb, off + 12, &doff, 1))
		return TC_ACT_OK;
	len = (doff >> 4) * 4;
	if (len <= 20)
		return TC_ACT_OK;
	len -= 20;
	/* The options in one load and one store of their own length (4..40
	 * bytes), bounded where clang cannot drop the check: a variable
	 * length must be proven non-zero and within the buffer (unrolled
	 * per-word copies cost a branch per word in every path). */
	asm volatile("%0 &= %1" : "+r"(len) : "i"(OPT_MASK));
	if (len < 4 || len > TCP_OPT_MAX)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, off + 20, opts.b, len))
		return TC_ACT_OK;
	old = opts;
	if (nop_ours(&opts, 0, len) <= 0)
		return TC_ACT_OK;
	diff = bpf_csum_diff((__be32 *)old.b, TCP_OPT_MAX, (__be32 *)opts.b, TCP_OPT_MAX, 0);
	if (diff < 0)
		return TC_ACT_OK;
	if (bpf_skb_store_bytes(skb, off + 20, opts.b, len, 0))
		return TC_ACT_OK;
	if (bpf_l4_csum_replace(skb, off + 16, 0, diff, 0))
		return TC_ACT_OK;
	__sync_fetch_and_add(&stripped, 1);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual BSD/GPL";
