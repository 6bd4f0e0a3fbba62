/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which tracking a Redis cache runs, and what Redis' own tracking table
 * holds: the automatic tracking tests of every mode. */
#ifndef REDIS_TRACKING_H
#define REDIS_TRACKING_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ebpfaccel/ebpfaccel.h>
#include "fixtures.h"

/* Waits up to 6 s for the tracking in effect to be @want with a reason
 * containing @why_has (when not NULL, which must then be there); returns
 * the last one read. */
static inline int rtr_wait_tracking(const struct ebpfaccel_redis_cache *rc, int want,
				    const char *why_has)
{
	struct timespec ms20 = { 0, 20 * 1000000L };
	char why[256] = "";
	int t = -1;

	for (int i = 0; i < 300; i++) {
		t = ebpfaccel_redis_cache__tracking(rc, why, sizeof(why));
		if (t == want && (!why_has || strstr(why, why_has)))
			break;
		nanosleep(&ms20, NULL);
	}
	fprintf(stderr, "tracking %s: %s\n", t == EBPFACCEL_REDIS_TRACK_KEYS ? "keys" :
		t == EBPFACCEL_REDIS_TRACK_ALL ? "all" : "?", why);
	if (why_has)
		ck_assert_msg(strstr(why, why_has), "reason '%s' lacks '%s'", why, why_has);
	return t;
}

/* A field of Redis' INFO stats (tracking_total_keys, ...), read over TCP
 * from inside @ns; -1 if there is none. */
static inline long rtr_info_stat(struct fx_netns *ns, int port, const char *name)
{
	char *out = NULL, *p;
	long v = -1;

	ck_assert_int_eq(fx_run(ns, &out, "redis-cli -p %d INFO stats", port), 0);
	p = strstr(out, name);
	if (p && p[strlen(name)] == ':')
		v = strtol(p + strlen(name) + 1, NULL, 10);
	free(out);
	return v;
}

#endif
