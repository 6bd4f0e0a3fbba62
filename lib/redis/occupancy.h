/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a cache object's value maps hold, counted when asked (metrics):
 * entries per size class and generation, and the kernel memory of the maps.
 * Internal to lib/redis/.
 */
#ifndef EBPFACCEL_REDIS_OCCUPANCY_H
#define EBPFACCEL_REDIS_OCCUPANCY_H

#include <linux/types.h>

#include "redis/coherence.h"

struct rc_occupancy {
	__u64 small, large;	/* entries of the current generation */
	__u64 stale;		/* entries of older generations */
	__u64 memory;		/* bytes of the maps' kernel memory */
};

/* The kernel memory of @sh's value maps (no walk: preallocated). */
__u64 rc_occupancy__memory(const struct rc_shared *sh);
/* Counts @sh's entries against the current generation; 0 or -errno. */
int rc_occupancy__read(const struct rc_shared *sh, struct rc_occupancy *out);

#endif /* EBPFACCEL_REDIS_OCCUPANCY_H */
