/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Whether the programs see every connection of a redis-server
 * (lib/redis/seen.c). Internal to lib/redis/. */
#ifndef EBPFACCEL_REDIS_SEEN_H
#define EBPFACCEL_REDIS_SEEN_H

#include <stddef.h>
#include <linux/types.h>

#include "redis/redis_cache.h"

struct rc_seen {
	__u16 port;		/* the server's TCP port */
	int cgroup_fd;		/* where rc_sockops is attached */
	int conns_fd;		/* rc_conns */
};

/* 1 when every TCP listener on the port is in (or below) the cgroup and,
 * with @clients (Redis' CLIENT LIST reply text), every client is a
 * connection the programs hold; 0 with the reason in @why when not;
 * -errno (reason in @why) when it cannot be told. */
int rc_seen__check(const struct rc_seen *s, const char *clients, size_t len,
		   char *why, size_t why_sz);

#endif
