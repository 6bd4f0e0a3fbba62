// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Benchmark helper: attaches the Redis cache to a port and cgroup (tracking
 * "default" (the library's: automatic), "all" (broadcast always), "keys" or
 * "auto": automatic tracking is given up to 3 s to settle; sockmap mode, or
 * XDP mode on IFNAME), prints
 * "attached", holds it until stdin closes, then prints the counters and the
 * tracking in effect. */
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
	const char *ifname = NULL, *track;
	char buf[64], why[256] = "";
	int err, tracking;
	__u16 port;

	if (argc == 6 && !strcmp(argv[4], "xdp")) {
		ifname = argv[5];
		argc = 4;
	}
	track = argc == 4 ? argv[3] : "default";
	if (argc < 3 || argc > 4 || (strcmp(track, "default") && strcmp(track, "all") &&
				     strcmp(track, "keys") && strcmp(track, "auto"))) {
		fprintf(stderr, "usage: %s PORT CGROUP_DIR [default|all|keys|auto [xdp IFNAME]]\n",
			argv[0]);
		return 2;
	}
	tracking = !strcmp(track, "keys") ? EBPFACCEL_REDIS_TRACK_KEYS :
		   !strcmp(track, "auto") ? EBPFACCEL_REDIS_TRACK_AUTO :
		   !strcmp(track, "all") ? EBPFACCEL_REDIS_TRACK_BCAST : EBPFACCEL_REDIS_TRACK_DEFAULT;
	port = atoi(argv[1]);
	{
		LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_opts, opts,
			.ports = &port, .nr_ports = 1, .cgroup_path = argv[2],
			.tracking = tracking,
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
	for (int i = 0; (tracking == EBPFACCEL_REDIS_TRACK_AUTO ||
			 tracking == EBPFACCEL_REDIS_TRACK_DEFAULT) && i < 300 &&
	     ebpfaccel_redis_cache__tracking(rc, NULL, 0) != EBPFACCEL_REDIS_TRACK_KEYS; i++)
		usleep(10000);
	printf("attached\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	ebpfaccel_redis_cache__stats(rc, &s, sizeof(s));
	tracking = ebpfaccel_redis_cache__tracking(rc, why, sizeof(why));
	printf("hits %llu misses %llu fills %llu bypass_mixed %llu bypass_state %llu "
	       "bypass_bad %llu readmits %llu read_backs %llu confirms %llu "
	       "push_invalidations %llu | xdp_hits %llu xdp_retransmits %llu "
	       "xdp_ack_passes %llu xdp_drops %llu | tracking %s (%s)\n", s.hits, s.misses,
	       s.fills, s.bypass_mixed, s.bypass_state, s.bypass_bad, s.readmits, s.sets, s.confirms,
	       s.push_invalidations, s.xdp_hits,
	       s.xdp_retransmits, s.xdp_ack_passes, s.xdp_drops,
	       tracking == EBPFACCEL_REDIS_TRACK_KEYS ? "keys" : "all", why);
	ebpfaccel_redis_cache__destroy(rc);
	return 0;
}
