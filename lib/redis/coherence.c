// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The coherence engine of lib/redis/coherence.h.
 *
 * Two connections to Redis: the tracking connection (RESP3, CLIENT TRACKING
 * ON BCAST) only receives invalidation pushes; the query connection runs the
 * engine's own commands (fill confirmations, refills). Confirmations run on
 * their own connection: a command reply pending on the tracking connection
 * would keep Redis from writing an invalidation there before it writes the
 * writer's reply (Redis flushes the clients it queued last first, and a
 * client already queued keeps its place).
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "redis/coherence.h"
#include "redis/rconn.h"

struct rc_coherence {
	struct rc_shared sh;
	char host[64];
	__u16 port;
	char *user;
	char *password;
	struct rconn *track;	/* tracking pushes only */
	struct rconn *query;	/* the engine's own commands */
	__u32 query_db;
	struct ring_buffer *fills;
	pthread_t thread;
	int stop_fd;
	__u64 confirms;
};

void rc_shared__flush(const struct rc_shared *sh)
{
	__atomic_fetch_add(sh->gen_all, 1, __ATOMIC_SEQ_CST);
}

/* Generation first, then delete, as the programs do: a fill that raced with
 * us either sees the new generation or is deleted. */
static void rc_invalidate_key(const struct rc_shared *sh, const struct rc_key *k)
{
	__u32 h = rc_key_hash(k);

	__atomic_fetch_add(&sh->gen_bucket[h], 1, __ATOMIC_SEQ_CST);
	bpf_map__delete_elem(sh->cache_small, k, sizeof(*k), 0);
	bpf_map__delete_elem(sh->cache_large, k, sizeof(*k), 0);
}

/* Where the programs see the tracking connection they apply its pushes
 * before Redis even sends them; doing it here as well costs little, and it
 * is the only place where they do not. */
static void rc_on_push(void *ctx, const struct resp_rep *p, int ev)
{
	const struct rc_shared *sh = ctx;
	struct rc_key k = { 0 };

	if (ev == RESP_INV_ALL) {
		rc_shared__flush(sh);
		return;
	}
	k.len = p->cap_len;
	memcpy(k.data, p->cap, p->cap_len);
	rc_invalidate_key(sh, &k);
}

static void rc_tracker_bound(void *ctx, __u16 local_port)
{
	const struct rc_shared *sh = ctx;

	if (!sh->tracker_port)
		return;
	__atomic_store_n(sh->tracker_seen, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(sh->tracker_port, local_port, __ATOMIC_SEQ_CST);
}

/* HELLO 3 [AUTH user pass], CLIENT TRACKING ON BCAST. */
static int rc_handshake(struct rc_coherence *co)
{
	const char *hello[] = { "HELLO", "3", "AUTH",
				co->user ? co->user : "default", co->password };
	const char *track[] = { "CLIENT", "TRACKING", "ON", "BCAST" };
	struct rconn *c = co->track;
	int err;

	err = rconn__command(c, co->password ? 5 : 2, hello, NULL);
	if (!err)
		err = rconn__expect(c, "HELLO 3", '%');
	if (!err)
		err = rconn__command(c, 4, track, NULL);
	if (!err)
		err = rconn__expect(c, "CLIENT TRACKING", '+');
	if (err)
		return err;
	if (co->sh.tracker_seen &&
	    !__atomic_load_n(co->sh.tracker_seen, __ATOMIC_SEQ_CST)) {
		pr_warn("redis_cache: the coherence connection to port %u is not "
			"seen by the programs: is redis-server in the cgroup?\n",
			co->port);
		return -ENOTCONN;
	}
	return 0;
}

/* AUTH on the query connection when Redis wants it. */
static int rc_query_auth(struct rc_coherence *co)
{
	const char *auth[] = { "AUTH", co->user ? co->user : co->password,
			       co->password };
	int err;

	if (!co->password)
		return 0;
	err = rconn__command(co->query, co->user ? 3 : 2, auth, NULL);
	return err ?: rconn__expect(co->query, "AUTH", '+');
}

/* SELECTs @db on the query connection, in its own round trip: the programs
 * record no fill for a GET while a SELECT's reply is owed. */
static int rc_query_select(struct rc_coherence *co, __u32 db)
{
	char num[16];
	const char *sel[] = { "SELECT", num };
	int err;

	if (db == co->query_db)
		return 0;
	snprintf(num, sizeof(num), "%u", db);
	err = rconn__command(co->query, 2, sel, NULL);
	if (!err)
		err = rconn__expect(co->query, "SELECT", '+');
	if (!err)
		co->query_db = db;
	return err;
}

/* Confirms a fill for serving once Redis says its key has no TTL. */
static int rc_confirm(struct rc_coherence *co, const struct rc_fill_event *ev)
{
	const char *pttl[] = { "PTTL", ev->key.data };
	size_t lens[] = { 4, ev->key.len };
	const char *text;
	size_t len;
	int t, err;

	err = rc_query_select(co, ev->db);
	if (!err)
		err = rconn__command(co->query, 2, pttl, lens);
	if (err)
		return err;
	t = rconn__reply(co->query, &text, &len);
	if (t < 0)
		return t;
	if (t != ':' || len != 5 || memcmp(text, ":-1\r\n", 5))
		return 0;
	err = bpf_map__update_elem(co->sh.confirmed, &ev->key, sizeof(ev->key),
				   &ev->version, sizeof(ev->version), BPF_ANY);
	if (!err)
		__atomic_fetch_add(&co->confirms, 1, __ATOMIC_RELAXED);
	return err;
}

/* Reads a key back after Redis accepted a SET of it: the GET passes
 * through the programs, which refill the cache from its reply. */
static int rc_refill(struct rc_coherence *co, const struct rc_fill_event *ev)
{
	const char *get[] = { "GET", ev->key.data };
	size_t lens[] = { 3, ev->key.len };
	const char *text;
	size_t len;
	int err;

	err = rc_query_select(co, ev->db);
	if (!err)
		err = rconn__command(co->query, 2, get, lens);
	if (!err && rconn__reply(co->query, &text, &len) < 0)
		err = -EIO;
	return err;
}

static int rc_on_fill(void *ctx, void *data, size_t size)
{
	struct rc_coherence *co = ctx;
	const struct rc_fill_event *ev = data;

	if (size < sizeof(*ev))
		return 0;
	if (ev->kind == RC_EV_REFILL)
		return rc_refill(co, ev) < 0 ? -1 : 0;
	return rc_confirm(co, ev) < 0 ? -1 : 0;
}

static void rc_lost_coherence(struct rc_coherence *co, int err)
{
	__atomic_store_n(co->sh.tracking_ok, 0, __ATOMIC_SEQ_CST);
	rc_shared__flush(&co->sh);
	if (err)
		pr_warn("redis_cache: coherence connection lost (%s): kernel answers "
			"off until it is back\n", strerror(-err));
	else
		pr_warn("redis_cache: invalidation stream not understood (a push "
			"too large to scan?): kernel answers off until it is back\n");
}

static void rc_close_conns(struct rc_coherence *co)
{
	rconn__free(co->track);
	rconn__free(co->query);
	co->track = NULL;
	co->query = NULL;
}

/* The tracking connection (handshake done) and the query connection. */
static int rc_open_conns(struct rc_coherence *co)
{
	co->query_db = 0;
	co->track = rconn__connect(co->host, co->port, rc_tracker_bound, &co->sh);
	if (!co->track)
		return -errno;
	co->track->on_push = rc_on_push;
	co->track->push_ctx = &co->sh;
	co->query = rconn__connect(co->host, co->port, NULL, NULL);
	if (!co->query)
		return -errno;
	co->query->on_push = rc_on_push;
	co->query->push_ctx = &co->sh;
	return rc_handshake(co) ?: rc_query_auth(co);
}

/* Serving again is safe only from a new generation: values filled while no
 * invalidation reached the programs may be stale, fills still on their way
 * belong to the old one. */
static void rc_resume(struct rc_coherence *co)
{
	rc_shared__flush(&co->sh);
	__atomic_store_n(co->sh.tracking_ok, 1, __ATOMIC_SEQ_CST);
}

/* Reconnects with backoff (50 ms doubling to 2 s); false when told to stop. */
static bool rc_recover(struct rc_coherence *co)
{
	struct pollfd stop = { .fd = co->stop_fd, .events = POLLIN };
	int backoff = 50, err;

	for (;;) {
		rc_close_conns(co);
		if (poll(&stop, 1, backoff) > 0)
			return false;
		err = rc_open_conns(co);
		if (!err)
			break;
		pr_debug("redis_cache: reconnect: %s\n", strerror(-err));
		backoff = backoff < 1000 ? backoff * 2 : 2000;
	}
	rc_resume(co);
	pr_info("redis_cache: coherence connection back: kernel answers on\n");
	return true;
}

/* Reads pushes (keeping Redis' send buffer for them empty, see docs) and
 * confirms fills; on any loss of coherence, reconnects. */
static void *rc_thread(void *arg)
{
	struct rc_coherence *co = arg;
	struct pollfd pfd[3] = {
		{ .fd = co->stop_fd, .events = POLLIN },
		{ .fd = co->track->fd, .events = POLLIN },
		{ .fd = ring_buffer__epoll_fd(co->fills), .events = POLLIN },
	};
	const char *text;
	size_t len;
	int err;

	for (;;) {
		if (poll(pfd, 3, 100) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		/* only pushes arrive unasked */
		do
			err = pfd[1].revents ? rconn__next(co->track, &text, &len, 0)
					     : -ETIMEDOUT;
		while (err >= 0);
		if (err == -ETIMEDOUT && ring_buffer__consume(co->fills) < 0)
			err = -EIO;
		/* the programs turn answers off when they lose the stream */
		if (err == -ETIMEDOUT &&
		    !__atomic_load_n(co->sh.tracking_ok, __ATOMIC_SEQ_CST))
			err = 0;
		if (err == -ETIMEDOUT)
			continue;
		rc_lost_coherence(co, err);
		if (!rc_recover(co))
			break;
		pfd[1].fd = co->track->fd;
	}
	return NULL;
}

static int rc_copy_server(struct rc_coherence *co, const struct rc_server *srv)
{
	snprintf(co->host, sizeof(co->host), "%s", srv->host ? srv->host : "127.0.0.1");
	co->port = srv->port;
	co->user = srv->user ? strdup(srv->user) : NULL;
	co->password = srv->password ? strdup(srv->password) : NULL;
	if ((srv->user && !co->user) || (srv->password && !co->password))
		return -ENOMEM;
	return 0;
}

static int rc_start(struct rc_coherence *co)
{
	int err = rc_open_conns(co);

	if (err)
		return err;
	co->fills = ring_buffer__new(bpf_map__fd(co->sh.fills), rc_on_fill, co, NULL);
	if (!co->fills)
		return -errno;
	co->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (co->stop_fd < 0)
		return -errno;
	/* before the thread, which takes tracking_ok == 0 for a lost stream */
	rc_resume(co);
	err = pthread_create(&co->thread, NULL, rc_thread, co);
	if (err) {
		close(co->stop_fd);
		co->stop_fd = -1;
		return -err;
	}
	return 0;
}

int rc_coherence__start(struct rc_coherence **out, const struct rc_shared *sh,
			const struct rc_server *srv)
{
	struct rc_coherence *co = calloc(1, sizeof(*co));
	int err;

	*out = NULL;
	if (!co)
		return -ENOMEM;
	co->sh = *sh;
	co->stop_fd = -1;
	err = rc_copy_server(co, srv) ?: rc_start(co);
	if (err) {
		rc_coherence__stop(co);
		return err;
	}
	*out = co;
	return 0;
}

static void rc_stop_thread(struct rc_coherence *co)
{
	__u64 one = 1;

	if (co->stop_fd < 0)
		return;
	if (write(co->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(co->thread, NULL);
	close(co->stop_fd);
	co->stop_fd = -1;
}

void rc_coherence__stop(struct rc_coherence *co)
{
	if (!co)
		return;
	rc_stop_thread(co);
	__atomic_store_n(co->sh.tracking_ok, 0, __ATOMIC_SEQ_CST);
	rc_close_conns(co);
	ring_buffer__free(co->fills);
	rc_shared__flush(&co->sh);
	free(co->user);
	free(co->password);
	free(co);
}

__u64 rc_coherence__confirms(const struct rc_coherence *co)
{
	return co ? __atomic_load_n(&co->confirms, __ATOMIC_RELAXED) : 0;
}
