// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sockmap attach points with programs that do nothing: what the
 * sockmap itself costs a connection, apart from what the cache's programs
 * do. For bench/redis_near (NEAR_NOOP=1: the near cache's attach points,
 * the client's connections) and bench/redis_get (RC_NOOP=1: the server
 * cache's, the connections redis-server accepts). The kernel takes the
 * same paths as with a cache passing everything: sendmsg through tcp_bpf
 * (the message copied into an sk_msg, the verdict run, then pushed to TCP),
 * every received segment through the verdict and the psock's ingress
 * queue, reads through tcp_bpf_recvmsg_parser.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SK_PASS 1

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} noop_socks SEC(".maps");

SEC("sk_msg")
int noop_request(struct sk_msg_md *msg)
{
	return SK_PASS;
}

SEC("sk_skb")
int noop_reply(struct __sk_buff *skb)
{
	return SK_PASS;
}

/* every connection the cgroup's processes open or accept: the benches'
 * cgroups hold only their Redis clients (connections to the Redis) or
 * their redis-server (connections from its clients) */
SEC("sockops")
int noop_sockops(struct bpf_sock_ops *skops)
{
	__u64 cookie;

	if (skops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ||
	    skops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
		cookie = bpf_get_socket_cookie(skops);
		bpf_sock_hash_update(skops, &noop_socks, &cookie, BPF_NOEXIST);
	}
	return 1;
}
