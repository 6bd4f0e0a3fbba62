/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Automatic tracking (lib/redis/trackauto.c): whether a Redis server has a
 * write path the cache's programs do not see. Internal to lib/redis/.
 */
#ifndef EBPFACCEL_REDIS_TRACKAUTO_H
#define EBPFACCEL_REDIS_TRACKAUTO_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct rconn;
struct rc_shared;

/* The owner's part of the check (lib/redis/seen.h through the cache
 * object): 1 when every listener, and with @clients every client of
 * Redis' CLIENT LIST, is seen by the programs; 0 (reason in @why) or
 * -errno otherwise. */
typedef int (*rc_seen_fn)(void *ctx, const char *clients, size_t len, char *why,
			  size_t why_sz);

struct rc_auto_env {
	const struct rc_shared *sh;	/* with reconf, conns, unseen */
	__u16 port;			/* the server's TCP port */
	rc_seen_fn seen;
	void *ctx;
};

/*
 * Asks Redis (on @q, the engine's query connection) and the kernel whether
 * any write can reach Redis where the programs do not see it: a unix
 * socket, a TLS or other port, evictions, a master link, modules, cluster
 * mode, a listener outside the cgroup; with @full also a reconfiguring
 * command not yet executed and any client the programs do not hold (CLIENT
 * LIST). Returns 1 when none can, 0 with the reason in @why, -errno when
 * @q failed (the connection is then lost).
 */
int rc_auto__check(struct rconn *q, const struct rc_auto_env *env, bool full,
		   char *why, size_t why_sz);

#endif
