// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * redis_cache_stats — attach the in-kernel GET cache to a local
 * redis-server and print its counters every second.
 *
 *   redis_cache_stats --port 6379 --cgroup /sys/fs/cgroup/unified/redis [--seconds N]
 *
 * redis-server must run in that cgroup v2 directory (a child cgroup, never
 * the root of a shared machine) and listen on the port on 127.0.0.1.  Run
 * as root.  Connections accepted after the attach are served; Ctrl-C (or
 * --seconds) detaches and leaves Redis and its clients running.
 *
 * Build against the installed library:
 *   cc redis_cache_stats.c $(pkg-config --cflags --libs ebpfaccel) -o redis_cache_stats
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ebpfaccel/ebpfaccel.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int fail(const char *what, int err)
{
	char msg[128];

	ebpfaccel_strerror(err, msg, sizeof(msg));
	fprintf(stderr, "redis_cache_stats: %s: %s\n", what, msg);
	return 1;
}

static void print_stats(const struct ebpfaccel_redis_cache *rc)
{
	struct ebpfaccel_redis_cache_stats s;
	unsigned long long gets;

	if (ebpfaccel_redis_cache__stats(rc, &s, sizeof(s)))
		return;
	gets = s.hits + s.misses + s.bypass_state + s.bypass_mixed + s.bypass_size;
	printf("%13llu  %13llu  %13llu  %13llu  %7.1f%%\n", s.hits, s.misses, s.fills,
	       s.invalidations + s.push_invalidations, gets ? 100.0 * s.hits / gets : 0.0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "password", required_argument, NULL, 'a' },
		{ "seconds", required_argument, NULL, 's' },
		{}
	};
	const char *cgroup = NULL, *password = NULL;
	struct ebpfaccel_redis_cache *rc;
	__u16 port = 6379;
	int seconds = 0, c, err;

	while ((c = getopt_long(argc, argv, "p:c:a:s:", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': port = (__u16)atoi(optarg); break;
		case 'c': cgroup = optarg; break;
		case 'a': password = optarg; break;
		case 's': seconds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s --cgroup DIR [--port N] [--password P] [--seconds N]\n", argv[0]);
			return 2;
		}
	}
	if (!cgroup) {
		fprintf(stderr, "redis_cache_stats: --cgroup is required (the cgroup v2 directory of redis-server)\n");
		return 2;
	}

	LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_opts, opts,
		.ports = &port, .nr_ports = 1, .cgroup_path = cgroup, .redis_password = password);
	rc = ebpfaccel_redis_cache__open(&opts);
	if (!rc)
		return fail("open", -errno);
	err = ebpfaccel_redis_cache__attach(rc);
	if (err) {
		ebpfaccel_redis_cache__destroy(rc);
		return fail("attach", err);
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("%13s  %13s  %13s  %13s  %8s\n", "hits", "misses", "fills", "invalidations", "hit rate");
	for (int i = 0; !stop && (!seconds || i < seconds); i++) {
		sleep(1);
		print_stats(rc);
	}
	/* Detach first: Redis keeps every connection; destroy once idle. */
	ebpfaccel_redis_cache__detach(rc);
	ebpfaccel_redis_cache__destroy(rc);
	return 0;
}
