/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stopping kernel answers when the process holding a cache dies without
 * detaching (SIGKILL, OOM kill). Internal to lib/redis/.
 */
#ifndef EBPFACCEL_REDIS_GUARD_H
#define EBPFACCEL_REDIS_GUARD_H

#include <sys/types.h>

#include "redis/coherence.h"

struct rc_guard {
	pid_t pid;	/* the guard process; 0: none */
	int fd;		/* its pipe's write end */
};

/* Starts a guard process that turns serving off in @sh (tracking_ok = 0
 * and a generation bump) as soon as this process is gone. 0 or -errno. */
int rc_guard__start(struct rc_guard *g, const struct rc_shared *sh);

/* Ends the guard (it turns serving off, as detach does anyway) and reaps it. */
void rc_guard__stop(struct rc_guard *g);

#endif /* EBPFACCEL_REDIS_GUARD_H */
