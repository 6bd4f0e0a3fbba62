// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Benchmark helper: attaches an XDP program that passes every frame to
 * IFNAME (native mode) in the calling netns. On veth, frames a peer sends
 * back with XDP_TX arrive only where the receiving end has an XDP program
 * (docs/redis-cache.md, XDP mode); the bench's client end needs one in
 * every mode so that they all go through the same receive path. The
 * program stays attached until the device goes (the bench deletes its
 * netns). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	const struct bpf_insn pass[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int ifindex, fd, err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s IFNAME\n", argv[0]);
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_pass", "GPL", pass, 2, NULL);
	if (fd < 0) {
		fprintf(stderr, "loading the XDP program: %s\n", strerror(-fd));
		return 1;
	}
	err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		fprintf(stderr, "native XDP on %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	return 0;
}
