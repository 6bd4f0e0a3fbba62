// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Automatic tracking (lib/redis/trackauto.h): is there a write path the
 * programs do not see? docs/redis-cache.md ("Automatic tracking") states
 * the argument; in short, per-key tracking writes the invalidation of a
 * write *after* the writer's reply, which is harmless only for writes the
 * programs invalidate themselves, so it is chosen only while Redis cannot
 * be written any other way:
 * - no unix socket, no TLS port, Redis on the cache's port (CONFIG, INFO);
 * - no evictions of keys the cache may hold (maxmemory with an allkeys-*
 *   policy; volatile-* evicts only keys with a TTL, which are never
 *   served), no master link (role), no modules, no cluster;
 * - every listener on the port in the programs' cgroup, every client a
 *   connection the programs hold (lib/redis/seen.c);
 * - no reconfiguring command the programs saw still waiting to be executed:
 *   rc_reconf holds, per connection, the request number of the last one,
 *   executed once Redis wrote that many replies there (rc_conn.rep_seq).
 * Clients are checked after that barrier, and Redis' settings after the
 * clients: a reconfiguration not executed by then sits in a client that
 * CLIENT LIST showed, hence on a connection the programs hold, where it
 * bumped rc_unseen after the engine's snapshot (the engine re-checks).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "redis/coherence.h"
#include "redis/rconn.h"
#include "redis/trackauto.h"

#define AUTO_REPLY_MAX	(64u << 20)	/* CLIENT LIST of ~200k clients */

static __attribute__((format(printf, 3, 4)))
int auto_fail(char *why, size_t sz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sz, fmt, ap);
	va_end(ap);
	return 0;
}

/* 1 when every reconfiguring command the programs saw was executed (or
 * its connection is gone, which deletes its entry: CLIENT LIST then tells
 * whether Redis still has the client), 0 if one may still run. Drops the
 * entries done with. */
static int auto_barrier(const struct rc_shared *sh, char *why, size_t sz)
{
	struct rc_conn *c = malloc(sizeof(*c));
	__u64 key, next, *prev = NULL;
	struct rc_reconf r;
	int done = 1;

	if (!c)
		return -ENOMEM;
	if (__atomic_load_n(sh->reconf_lost, __ATOMIC_SEQ_CST))
		done = auto_fail(why, sz, "a reconfiguring command could not be noted "
				 "(out of memory): for as long as this cache object lives");
	while (done && !bpf_map__get_next_key(sh->reconf, prev, &next, sizeof(next))) {
		key = next;
		prev = &key;
		if (bpf_map__lookup_elem(sh->reconf, &key, sizeof(key), &r, sizeof(r), 0))
			continue;
		if (!bpf_map__lookup_elem(sh->conns, &key, sizeof(key), c, sizeof(*c), 0)) {
			if (r.unprovable)
				done = auto_fail(why, sz, "a reconfiguring command in MULTI or on "
						 "a subscriber connection: until it closes");
			else if ((__s32)(c->rep_seq - (r.seq + 1)) < 0)
				done = auto_fail(why, sz, "a reconfiguring command (CONFIG SET, "
						 "REPLICAOF, ...) is not executed yet");
		}
		if (done)
			bpf_map__delete_elem(sh->reconf, &key, sizeof(key), 0);
	}
	free(c);
	return done;
}

/* The value of "name:" in INFO text, or "" */
static void info_field(const char *info, const char *name, char *out, size_t sz)
{
	size_t n = strlen(name);
	const char *p = info, *e;

	out[0] = 0;
	for (; p; p = strchr(p, '\n')) {
		p += *p == '\n';
		if (!strncmp(p, name, n) && p[n] == ':')
			break;
	}
	if (!p)
		return;
	p += n + 1;
	e = p + strcspn(p, "\r\n");
	snprintf(out, sz, "%.*s", (int)(e - p), p);
}

static int auto_info(const char *info, __u16 port, char *why, size_t sz)
{
	char v[64], mm[64];

	info_field(info, "role", v, sizeof(v));
	if (strcmp(v, "master"))
		return auto_fail(why, sz, "a replica (role %s): writes arrive over its master link", v);
	info_field(info, "cluster_enabled", v, sizeof(v));
	if (strcmp(v, "0"))
		return auto_fail(why, sz, "cluster mode");
	if (strstr(info, "\nmodule:"))
		return auto_fail(why, sz, "modules are loaded");
	info_field(info, "tcp_port", v, sizeof(v));
	if (strtoul(v, NULL, 10) != port)
		return auto_fail(why, sz, "Redis listens on TCP port %s", v);
	info_field(info, "maxmemory", mm, sizeof(mm));
	info_field(info, "maxmemory_policy", v, sizeof(v));
	if (!mm[0] || !v[0])
		return auto_fail(why, sz, "INFO did not tell maxmemory");
	if (strcmp(mm, "0") && strcmp(v, "noeviction") && strncmp(v, "volatile-", 9))
		return auto_fail(why, sz, "Redis evicts keys (maxmemory-policy %s)", v);
	return 1;
}

/* A bulk string "$<n>\r\n<data>\r\n" at *@p (before @end): its data and
 * length, *@p moved past it; NULL if there is none. */
static const char *resp_bulk(const char **p, const char *end, size_t *n)
{
	const char *d;
	char *e;
	long v;

	if (*p >= end || **p != '$')
		return NULL;
	v = strtol(*p + 1, &e, 10);
	d = e + 2;
	if (v < 0 || e + 2 > end || e[0] != '\r' || d + v + 2 > end)
		return NULL;
	*n = v;
	*p = d + v + 2;
	return d;
}

/* The value of a one-parameter CONFIG GET reply ("" when not set or
 * unknown to this Redis: "*0"). */
static int auto_config(struct rconn *q, char *out, size_t sz)
{
	const char *text, *p, *end, *v = NULL;
	size_t len, n = 0;
	int t;

	t = rconn__reply(q, &text, &len);
	if (t < 0)
		return t;
	end = text + len;
	p = t == '*' ? memchr(text, '\n', len) : NULL;
	if (p)
		p++;
	if (p && resp_bulk(&p, end, &n))	/* the name */
		v = resp_bulk(&p, end, &n);
	snprintf(out, sz, "%.*s", v ? (int)n : 0, v ? v : "");
	return 0;
}

/* Redis' own settings: unix socket, TLS port, INFO (one round trip). */
static int auto_redis(struct rconn *q, __u16 port, char *why, size_t sz)
{
	const char *unix_sock[] = { "CONFIG", "GET", "unixsocket" };
	const char *tls[] = { "CONFIG", "GET", "tls-port" };
	const char *info[] = { "INFO" };
	char path[256], tls_port[16], *text = NULL;
	size_t len;
	int err;

	err = rconn__command_more(q, 3, unix_sock, NULL) ?:
	      rconn__command_more(q, 3, tls, NULL) ?: rconn__command(q, 1, info, NULL);
	err = err ?: auto_config(q, path, sizeof(path));
	err = err ?: auto_config(q, tls_port, sizeof(tls_port));
	err = err ?: rconn__bulk_alloc(q, AUTO_REPLY_MAX, &text, &len);
	if (err)
		return err;
	if (path[0])
		err = auto_fail(why, sz, "a unix socket (%s)", path);
	else if (tls_port[0] && strcmp(tls_port, "0"))
		err = auto_fail(why, sz, "a TLS port (%s)", tls_port);
	else
		err = auto_info(text, port, why, sz);
	free(text);
	return err;
}

static int auto_clients(struct rconn *q, char **clients, size_t *len)
{
	const char *list[] = { "CLIENT", "LIST" };

	return rconn__command(q, 2, list, NULL) ?:
	       rconn__bulk_alloc(q, AUTO_REPLY_MAX, clients, len);
}

int rc_auto__check(struct rconn *q, const struct rc_auto_env *env, bool full,
		   char *why, size_t why_sz)
{
	char *clients = NULL;
	size_t len = 0;
	int v;

	if (!env->seen || !env->sh->reconf || !env->sh->conns)
		return auto_fail(why, why_sz, "the programs do not see this server's "
				 "connections");
	if (full) {
		v = auto_barrier(env->sh, why, why_sz);
		if (v <= 0)
			return v < 0 ? auto_fail(why, why_sz, "%s", strerror(-v)) : 0;
		v = auto_clients(q, &clients, &len);
		if (v < 0)
			return v;
	}
	v = auto_redis(q, env->port, why, why_sz);
	if (v == 1 && env->seen(env->ctx, clients, len, why, why_sz) != 1)
		v = 0;
	free(clients);
	return v;
}
