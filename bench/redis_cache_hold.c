// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Benchmark helper: attaches the Redis cache to a port and cgroup (tracking
 * "all", the default, or "keys"; sockmap mode, or XDP mode on IFNAME),
 * prints "attached", holds it until stdin closes, then prints the
 * counters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ebpfaccel/ebpfaccel.h>

int main(int argc, char **argv)
{
	struct ebpfaccel_redis_cache_stats s;
	struct ebpfaccel_redis_cache *rc;
	__u16 port;
	char buf[64];
	int err;

	const char *ifname = NULL;

	if (argc == 6 && !strcmp(argv[4], "xdp")) {
		ifname = argv[5];
		argc = 4;
	}
	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "all") &&
				      strcmp(argv[3], "keys"))) {
		fprintf(stderr, "usage: %s PORT CGROUP_DIR [all|keys [xdp IFNAME]]\n", argv[0]);
		return 2;
	}
	port = atoi(argv[1]);
	{
		LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_opts, opts,
			.ports = &port, .nr_ports = 1, .cgroup_path = argv[2],
			.tracking = argc == 4 && !strcmp(argv[3], "keys") ?
				    EBPFACCEL_REDIS_TRACK_KEYS : EBPFACCEL_REDIS_TRACK_ALL,
			.mode = ifname ? EBPFACCEL_REDIS_CACHE_XDP : EBPFACCEL_REDIS_CACHE_SOCKMAP,
			.ifname = ifname);

		rc = ebpfaccel_redis_cache__open(&opts);
	}
	if (!rc) {
		fprintf(stderr, "open: %s\n", strerror(errno));
		return 1;
	}
	err = ebpfaccel_redis_cache__attach(rc);
	if (err) {
		fprintf(stderr, "attach: %s\n", strerror(-err));
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	ebpfaccel_redis_cache__stats(rc, &s, sizeof(s));
	printf("hits %llu misses %llu fills %llu bypass_mixed %llu bypass_state %llu"
	       " | xdp_hits %llu xdp_retransmits %llu xdp_ack_passes %llu xdp_drops %llu\n",
	       s.hits, s.misses, s.fills, s.bypass_mixed, s.bypass_state, s.xdp_hits,
	       s.xdp_retransmits, s.xdp_ack_passes, s.xdp_drops);
	ebpfaccel_redis_cache__destroy(rc);
	return 0;
}
