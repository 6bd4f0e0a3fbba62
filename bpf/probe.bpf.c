// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Feature probes: one small program per kernel facility the library relies
 * on.  The library loads them one at a time from its embedded skeleton; a
 * program that loads proves the kernel has the map types and helpers it
 * uses, with the same verifier the real programs will meet.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} probe_sockhash SEC(".maps");

struct probe_sk_val {
	__u64 seen;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct probe_sk_val);
} probe_sk_storage SEC(".maps");

SEC("socket")
int probe_syscall(struct __sk_buff *skb)
{
	return 0;
}

SEC("sk_skb/stream_verdict")
int probe_sk_skb(struct __sk_buff *skb)
{
	__u32 key = 0;

	return bpf_sk_redirect_hash(skb, &probe_sockhash, &key, 0);
}

SEC("sk_msg")
int probe_sk_msg(struct sk_msg_md *msg)
{
	__u32 key = 0;

	return bpf_msg_redirect_hash(msg, &probe_sockhash, &key, 0);
}

SEC("sockops")
int probe_sk_storage_ops(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct probe_sk_val *v;

	if (!sk)
		return 1;
	v = bpf_sk_storage_get(&probe_sk_storage, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (v)
		v->seen++;
	return 1;
}

SEC("sockops")
int probe_hdr_opt(struct bpf_sock_ops *skops)
{
	/* kind 254 (RFC 6994 experimental) with a zero ExID: never sent,
	 * since the probe is only loaded, not attached. */
	__u8 opt[4] = { 254, 4, 0, 0 };

	switch (skops->op) {
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		bpf_reserve_hdr_opt(skops, sizeof(opt), 0);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		bpf_store_hdr_opt(skops, opt, sizeof(opt), 0);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
		bpf_load_hdr_opt(skops, opt, sizeof(opt), 0);
		break;
	}
	return 1;
}

SEC("tc")
int probe_cls(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}
