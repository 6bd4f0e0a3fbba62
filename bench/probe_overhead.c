// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Helper of bench/probe_overhead.sh: attaches a traffic probe to IFNAME (in
 * the netns it runs in), turns on the kernel's BPF run-time statistics for
 * as long as it runs, says "attached" on stdout, and detaches on SIGTERM or
 * SIGINT, printing what the probe counted.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <ebpfaccel/ebpfaccel.h>

static int print_port(const struct ebpfaccel_port_stats *st, void *ctx)
{
	(void)ctx;
	printf("port %u: rx %llu payload bytes in %llu segments, tx %llu packets\n", st->port,
	       (unsigned long long)st->dir[EBPFACCEL_TRAFFIC_RX].payload_bytes,
	       (unsigned long long)st->dir[EBPFACCEL_TRAFFIC_RX].payload_segs,
	       (unsigned long long)st->dir[EBPFACCEL_TRAFFIC_TX].packets);
	return 0;
}

int main(int argc, char **argv)
{
	struct ebpfaccel_traffic_probe *probe;
	sigset_t set;
	int sig, stats_fd, err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s IFNAME\n", argv[0]);
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);

	probe = ebpfaccel_traffic_probe__open(NULL);
	if (!probe) {
		perror("ebpfaccel_traffic_probe__open");
		return 1;
	}
	err = ebpfaccel_traffic_probe__attach_ifname(probe, argv[1]);
	if (err) {
		fprintf(stderr, "attach %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	/* Global while the fd is open: every BPF program on the machine pays
	 * two clock reads per run meanwhile, so keep the runs short. */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		fprintf(stderr, "no BPF run-time statistics: %s\n", strerror(errno));
	printf("attached\n");
	fflush(stdout);
	sigwait(&set, &sig);
	ebpfaccel_traffic_probe__for_each_port(probe, print_port, NULL);
	if (stats_fd >= 0)
		close(stats_fd);
	err = ebpfaccel_traffic_probe__detach(probe);
	ebpfaccel_traffic_probe__destroy(probe);
	return err ? 1 : 0;
}
