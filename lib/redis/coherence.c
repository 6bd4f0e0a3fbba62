// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The coherence engine of lib/redis/coherence.h.
 *
 * Two connections to Redis. The query connection runs the engine's own
 * commands with CLIENT TRACKING ON REDIRECT <tracking connection> (default
 * mode): every key it reads is registered in Redis' tracking table, and
 * Redis sends an invalidation for it at its next change, once. The tracking
 * connection (RESP3) only receives those pushes. A fill is confirmed by
 * GETRANGE + PTTL of its key on the query connection: a write before that
 * read shows in its value (compared with the filled one), a write after it sends
 * an invalidation. Redis therefore tracks only what the cache holds, and a
 * write of any other key costs it one failed radix tree lookup; broadcast
 * tracking (BCAST) built and sent a push for every write of every key.
 * The pushes stay on their own connection: a command reply pending there
 * would hold the pushes back behind it.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "redis/coherence.h"
#include "redis/rconn.h"
#include "redis/trackauto.h"

#define RC_AUTO_PERIOD_MS 1000	/* automatic tracking re-checks this often */
/* Push bytes that wake the engine where the programs apply pushes: far
 * below what the receive buffer holds, so Redis' writes rarely wait (the
 * 100 ms poll timeout drains the rest; when they do, rc_track_sync()) */
#define RC_TRACK_LOWAT	16384
/* The tracking connection's receive buffer: a window that takes seconds
 * of pushes at a high write rate while the engine thread waits for a CPU.
 * Pushes Redis cannot send stop the kernel's answers (rc_track_sync()). */
#define RC_TRACK_RCVBUF	(4 << 20)
/* Read-backs that share one round trip to Redis' write of their SETs'
 * invalidations (rc_refill_batch()) */
#define RC_REFILL_BATCH	64

struct rc_coherence {
	struct rc_shared sh;
	char host[64];
	__u16 port;
	char *user;
	char *password;
	struct rconn *track;	/* tracking pushes only */
	struct rconn *query;	/* the engine's own commands, tracked */
	long long track_id;	/* CLIENT ID of the tracking connection */
	bool track_all;		/* BCAST on the tracking connection instead */
	bool track_auto;	/* choose between them (trackauto.h) */
	bool keys;		/* per-key tracking now (the thread's) */
	bool shown_keys;	/* what rc_coherence__tracking() tells, with why */
	int (*unseen)(void *ctx);	/* struct rc_server's */
	void *unseen_ctx;
	rc_seen_fn seen;
	pthread_mutex_t why_lock;
	char why[192];		/* why the tracking in effect was chosen */
	__u64 next_check;	/* CLOCK_MONOTONIC ms */
	__u32 query_db;
	struct rc_large got;	/* the value the last rc_fetch() read */
	struct ring_buffer *fills;
	/* read-backs taken from the ring, waiting for rc_refill_batch() */
	struct rc_fill_event refills[RC_REFILL_BATCH];
	unsigned int nrefills;
	pthread_t thread;
	int stop_fd;
	__u64 confirms;
	__u64 reconnects;	/* coherence regained after a loss */
};

void rc_shared__flush(const struct rc_shared *sh)
{
	__atomic_fetch_add(sh->gen_all, 1, __ATOMIC_SEQ_CST);
}

/* Whether a delete left no entry behind: done, or there was none. */
static bool rc_gone(int err)
{
	return !err || err == -ENOENT;
}

/* @k's hash bucket may hold one more entry (before an insert; see
 * rc_occupied in bpf/redis/redis_cache.bpf.c). A full barrier: the insert
 * comes after. */
static void rc_occupy(const struct rc_shared *sh, const struct rc_key *k)
{
	if (sh->occupied)
		__atomic_fetch_add(&sh->occupied[rc_occ_index(rc_key_hash32(k))], 1,
				   __ATOMIC_SEQ_CST);
}

/* Deletes @k from @map; the libbpf result. One fewer in its hash bucket
 * when that removed an entry. */
static int rc_delete(const struct rc_shared *sh, struct bpf_map *map, const struct rc_key *k)
{
	int err = bpf_map__delete_elem(map, k, sizeof(*k), 0);

	if (!err && sh->occupied)
		__atomic_fetch_sub(&sh->occupied[rc_occ_index(rc_key_hash32(k))], 1,
				   __ATOMIC_SEQ_CST);
	return err;
}

/* Generation first, then delete, as the programs do: a fill that raced with
 * us either sees the new generation or is deleted. A delete that failed
 * with the key present (the map's bucket lock) flushes everything: the
 * entry must not outlive its invalidation (docs/redis-cache.md, restart 5). */
static void rc_invalidate_key(const struct rc_shared *sh, const struct rc_key *k)
{
	__u32 h = rc_key_hash(k);
	int small, large;

	__atomic_fetch_add(&sh->gen_bucket[h], 1, __ATOMIC_SEQ_CST);
	small = rc_delete(sh, sh->cache_small, k);
	large = rc_delete(sh, sh->cache_large, k);
	if (!rc_gone(small) || !rc_gone(large))
		rc_shared__flush(sh);
}

/* Where the programs see the tracking connection they apply its pushes
 * before Redis even sends them; applied here once more, late, a push would
 * only delete fills that came after it. Elsewhere this is the only place. */
static void rc_on_push(void *ctx, const struct resp_rep *p, int ev)
{
	const struct rc_shared *sh = ctx;
	struct rc_key k = { 0 };

	if (sh->tracker_port)
		return;
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

static void rc_query_bound(void *ctx, __u16 local_port)
{
	const struct rc_shared *sh = ctx;

	if (sh->query_port)
		__atomic_store_n(sh->query_port, local_port, __ATOMIC_SEQ_CST);
}

static int rc_tracker_check(struct rc_coherence *co);

/* The tracking connection: HELLO 3 [AUTH user pass], then CLIENT ID, or
 * CLIENT TRACKING ON BCAST when every write is to be pushed. */
static int rc_handshake(struct rc_coherence *co)
{
	const char *hello[] = { "HELLO", "3", "AUTH",
				co->user ? co->user : "default", co->password };
	const char *id[] = { "CLIENT", "ID" };
	const char *bcast[] = { "CLIENT", "TRACKING", "ON", "BCAST" };
	struct rconn *c = co->track;
	const char *text;
	size_t len;
	int err, t;

	err = rconn__command(c, co->password ? 5 : 2, hello, NULL);
	if (!err)
		err = rconn__expect(c, "HELLO 3", '%');
	if (!err && !co->keys) {
		err = rconn__command(c, 4, bcast, NULL);
		if (!err)
			err = rconn__expect(c, "CLIENT TRACKING", '+');
		if (!err)
			return rc_tracker_check(co);
	}
	if (!err)
		err = rconn__command(c, 2, id, NULL);
	if (err)
		return err;
	t = rconn__reply(c, &text, &len);
	if (t < 0)
		return t;
	if (t != ':' || (co->track_id = strtoll(text + 1, NULL, 10)) <= 0) {
		pr_warn("redis_cache: CLIENT ID refused: %.*s\n",
			(int)(len > 200 ? 200 : len), text);
		return -EPROTO;
	}
	return rc_tracker_check(co);
}

/* The programs that apply pushes themselves must see the tracker. */
static int rc_tracker_check(struct rc_coherence *co)
{
	if (co->sh.tracker_seen &&
	    !__atomic_load_n(co->sh.tracker_seen, __ATOMIC_SEQ_CST)) {
		pr_warn("redis_cache: the coherence connection to port %u is not "
			"seen by the programs: is redis-server in the cgroup?\n",
			co->port);
		return -ENOTCONN;
	}
	return 0;
}

/* The query connection: AUTH when Redis wants it, then default-mode
 * tracking of every key it reads, pushed to the tracking connection. */
static int rc_query_setup(struct rc_coherence *co)
{
	const char *auth[] = { "AUTH", co->user ? co->user : co->password,
			       co->password };
	char id[24];
	const char *track[] = { "CLIENT", "TRACKING", "ON", "REDIRECT", id };
	int err = 0;

	if (co->password) {
		err = rconn__command(co->query, co->user ? 3 : 2, auth, NULL);
		if (!err)
			err = rconn__expect(co->query, "AUTH", '+');
	}
	if (!co->keys)
		return err;
	snprintf(id, sizeof(id), "%lld", co->track_id);
	if (!err)
		err = rconn__command(co->query, 5, track, NULL);
	return err ?: rconn__expect(co->query, "CLIENT TRACKING", '+');
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

enum rc_fetched {
	RC_GOT_VALUE,		/* a string, in co->got */
	RC_GOT_VALUE_TTL,	/* the same, but the key expires */
	RC_GOT_OTHER,		/* no such key, another type, too large */
};

/* Reads @ev's key with GETRANGE key 0 -1 + PTTL key (one round trip) on the
 * query connection, which registers the key for invalidation. GETRANGE
 * reads what GET reads, and keeps the engine out of Redis' GET statistics
 * (a missing key reads as "", PTTL -2 tells). Returns enum rc_fetched or
 * -errno (the connection is then lost). */
static int rc_fetch(struct rc_coherence *co, const struct rc_fill_event *ev)
{
	const char *get[] = { "GETRANGE", ev->key.data, "0", "-1" };
	const char *pttl[] = { "PTTL", ev->key.data };
	size_t glens[] = { 8, ev->key.len, 1, 2 }, plens[] = { 4, ev->key.len };
	__u32 max = co->sh.max_value ? *co->sh.max_value : RC_VAL_MAX;
	bool value = false;
	const char *text, *nl;
	size_t len;
	long vlen;
	int t, err;

	if (ev->key.len > RESP_KEY_MAX)
		return RC_GOT_OTHER;
	err = rc_query_select(co, ev->db) ?: rconn__command_more(co->query, 4, get, glens);
	if (!err)
		err = rconn__command(co->query, 2, pttl, plens);
	if (err)
		return err;
	t = rconn__reply(co->query, &text, &len);
	if (t < 0)
		return t;
	nl = t == '$' ? memchr(text, '\n', len) : NULL;
	vlen = nl ? strtol(text + 1, NULL, 10) : -1;
	if (vlen >= 0 && vlen <= max && vlen <= RC_VAL_MAX &&
	    (size_t)(nl + 1 - text) + vlen + 2 == len) {
		memcpy(co->got.data, nl + 1, vlen);
		co->got.h.len = vlen;
		co->got.h.db = ev->db;
		value = true;
	}
	t = rconn__reply(co->query, &text, &len);
	if (t < 0)
		return t;
	if (!value || t != ':' || (len == 5 && !memcmp(text, ":-2\r\n", 5)))
		return RC_GOT_OTHER;
	return len == 5 && !memcmp(text, ":-1\r\n", 5) ? RC_GOT_VALUE : RC_GOT_VALUE_TTL;
}

/* The entry filled under @ev's key, if it is still @ev's version. */
static bool rc_entry(const struct rc_coherence *co, const struct rc_fill_event *ev,
		     struct rc_large *e)
{
	struct rc_small s;

	if (!bpf_map__lookup_elem(co->sh.cache_small, &ev->key, sizeof(ev->key),
				  &s, sizeof(s), 0)) {
		memcpy(e, &s, sizeof(s));
	} else if (bpf_map__lookup_elem(co->sh.cache_large, &ev->key, sizeof(ev->key),
					e, sizeof(*e), 0)) {
		return false;
	}
	return e->h.version == ev->version && e->h.db == ev->db &&
	       e->h.len <= RC_VAL_MAX;
}

static int rc_confirm_version(struct rc_coherence *co, const struct rc_key *k,
			      __u64 version)
{
	int err = bpf_map__update_elem(co->sh.confirmed, k, sizeof(*k), &version,
				       sizeof(version), BPF_ANY);

	if (!err)
		__atomic_fetch_add(&co->confirms, 1, __ATOMIC_RELAXED);
	return err;
}

/* Confirms a fill for serving when Redis, asked after the fill, holds the
 * same value without a TTL. A different value means a write the cache did
 * not hear of (the key was not tracked before this read): it goes. */
static int rc_confirm(struct rc_coherence *co, const struct rc_fill_event *ev)
{
	struct rc_large e;
	int got = rc_fetch(co, ev);

	if (got < 0)
		return got;
	if (!rc_entry(co, ev, &e))
		return 0;	/* invalidated or filled again meanwhile */
	if (got != RC_GOT_OTHER && e.h.len == co->got.h.len &&
	    !memcmp(e.data, co->got.data, e.h.len))
		return got == RC_GOT_VALUE ? rc_confirm_version(co, &ev->key, e.h.version) : 0;
	rc_invalidate_key(&co->sh, &ev->key);
	return 0;
}

/* One round trip on the query connection. Redis writes what it queued in
 * one event-loop turn before it reads again, so afterwards every push for a
 * write Redis executed before this was sent has been written (and applied). */
static int rc_query_sync(struct rc_coherence *co)
{
	const char *ping[] = { "PING" };
	int err = rconn__command(co->query, 1, ping, NULL);

	return err ?: rconn__expect(co->query, "PING", '+');
}

/* Applies the pushes that arrived so far. */
static int rc_drain_pushes(struct rc_coherence *co)
{
	const char *text;
	size_t len;
	int err;

	do
		err = rconn__next(co->track, &text, &len, 0);
	while (err >= 0);
	return err == -ETIMEDOUT ? 0 : err;
}

/* The generations a stored value was read under still stand. */
static bool rc_gens_stand(const struct rc_shared *sh, __u32 b, __u64 gen, __u64 bgen)
{
	return __atomic_load_n(sh->gen_all, __ATOMIC_SEQ_CST) == gen &&
	       __atomic_load_n(&sh->gen_bucket[b], __ATOMIC_SEQ_CST) == bgen;
}

/* A write of bucket @b (or of any key) that Redis has not answered yet: it
 * may run after the read-back. Read before the generations, as the
 * programs do: a write's release moves the generation before it ends. */
static bool rc_write_pending(const struct rc_shared *sh, __u32 b)
{
	return sh->wpend && (__atomic_load_n(sh->wpend_all, __ATOMIC_SEQ_CST) ||
			     __atomic_load_n(&sh->wpend[b], __ATOMIC_SEQ_CST));
}

/* Reads a key back after Redis accepted a SET of it and caches what it read,
 * guarded like the programs' fills: it stands only if no invalidation of the
 * key (or of everything) came since before the GET was sent. The SET's own
 * invalidation (the key was tracked) is written after the SET's reply, which
 * is what sent us here: rc_refill_batch() waited for it, or every refill
 * would look raced.
 * The value is confirmed (made servable) only once the guard held after it
 * was stored: a write between the read and the store has deleted nothing
 * yet, and a confirmed value would be answered until the check removed it
 * (this thread can be preempted for milliseconds in between). */
static int rc_refill(struct rc_coherence *co, const struct rc_fill_event *ev)
{
	__u32 b = rc_key_hash(&ev->key);
	struct bpf_map *into, *other;
	struct timespec now;
	__u64 gen, bgen;
	int got, err;

	gen = __atomic_load_n(co->sh.gen_all, __ATOMIC_SEQ_CST);
	bgen = __atomic_load_n(&co->sh.gen_bucket[b], __ATOMIC_SEQ_CST);
	got = rc_fetch(co, ev);
	if (got != RC_GOT_VALUE)
		return got < 0 ? got : 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* the programs' versions are ktime << 6 | cpu: CPU 63 is taken here */
	co->got.h.version = ((__u64)now.tv_sec * 1000000000ull + now.tv_nsec) << 6 | 63;
	co->got.h.gen = gen;
	co->got.h.confirmed = 0;	/* clears served too: a union */
	into = co->got.h.len <= RC_SMALL_MAX ? co->sh.cache_small : co->sh.cache_large;
	other = into == co->sh.cache_small ? co->sh.cache_large : co->sh.cache_small;
	rc_occupy(&co->sh, &ev->key);
	err = bpf_map__update_elem(into, &ev->key, sizeof(ev->key), &co->got,
				   into == co->sh.cache_small ? sizeof(struct rc_small)
							      : sizeof(struct rc_large),
				   BPF_ANY);
	rc_delete(&co->sh, other, &ev->key);
	/* the insert before the checks: the programs delete only the entries
	 * their lookups see (drop_key() in redis_cache.bpf.c) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!err && !rc_write_pending(&co->sh, b) && rc_gens_stand(&co->sh, b, gen, bgen))
		err = rc_confirm_version(co, &ev->key, co->got.h.version);
	else
		err = err ?: -ESTALE;
	/* an invalidation after the checks deletes the entry itself; checked
	 * again for one that came between them and the confirmation */
	if (err || rc_write_pending(&co->sh, b) || !rc_gens_stand(&co->sh, b, gen, bgen))
		rc_delete(&co->sh, into, &ev->key);
	return 0;
}

/* The read-backs taken from the ring so far, after one round trip for all
 * of them: every one was emitted (its SET's +OK written) before the PING
 * was sent, so its SET's invalidation has landed once the PING's reply is
 * read (rc_refill()). One PING per read-back made a SET of a key read from
 * the cache cost Redis three commands and the engine two round trips. */
static int rc_refill_batch(struct rc_coherence *co)
{
	unsigned int i, n = co->nrefills;
	int err;

	if (!n)
		return 0;
	co->nrefills = 0;
	err = rc_query_sync(co) ?: rc_drain_pushes(co);
	for (i = 0; !err && i < n; i++)
		err = rc_refill(co, &co->refills[i]);
	return err;
}

static int rc_on_fill(void *ctx, void *data, size_t size)
{
	struct rc_coherence *co = ctx;
	const struct rc_fill_event *ev = data;

	if (size < sizeof(*ev))
		return 0;
	if (ev->kind != RC_EV_REFILL)
		return rc_confirm(co, ev) < 0 ? -1 : 0;
	co->refills[co->nrefills++] = *ev;
	if (co->nrefills < RC_REFILL_BATCH)
		return 0;
	return rc_refill_batch(co) < 0 ? -1 : 0;
}

/* Everything the ring holds: confirmations as they come, read-backs in
 * batches. -EIO when a connection failed. */
static int rc_consume_fills(struct rc_coherence *co)
{
	if (ring_buffer__consume(co->fills) < 0 || rc_refill_batch(co) < 0)
		return -EIO;
	return 0;
}

static void rc_lost_coherence(struct rc_coherence *co, int err)
{
	/* the flush below makes every entry the read-backs would replace go */
	co->nrefills = 0;
	__atomic_store_n(co->sh.tracking_ok, 0, __ATOMIC_SEQ_CST);
	rc_shared__flush(&co->sh);
	if (err)
		pr_warn("redis_cache: coherence connection lost (%s): kernel answers "
			"off until it is back\n", strerror(-err));
	else
		pr_warn("redis_cache: invalidation stream not understood (a push "
			"too large to scan?): kernel answers off until it is back\n");
}

/* Where the programs apply the pushes inside Redis' write of them, this
 * thread only keeps the tracking connection's receive side from filling
 * up (Redis could then hold a push back unwritten) and notices its loss:
 * woken per RC_TRACK_LOWAT bytes, or by the poll timeout, instead of per
 * push (broadcast tracking writes one per event-loop turn with writes).
 * A close or an error still wakes it at once. */
static void rc_track_lowat(struct rc_coherence *co)
{
	int lowat = RC_TRACK_LOWAT, rcvbuf = RC_TRACK_RCVBUF;

	if (!co->sh.tracker_port)
		return;
	if (setsockopt(co->track->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)))
		pr_debug("redis_cache: SO_RCVLOWAT: %s\n", strerror(errno));
	/* beyond net.core.rmem_max where the process may (CAP_NET_ADMIN) */
	if (setsockopt(co->track->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) &&
	    setsockopt(co->track->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		pr_debug("redis_cache: SO_RCVBUF: %s\n", strerror(errno));
}

/* The programs saw a write on the tracking connection after which Redis
 * may hold pushes back (a full send buffer, a burst larger than Redis
 * writes per turn), while the replies of writes those pushes invalidate go
 * out: answers are off. A PING there is answered behind every push Redis
 * queued before it, so once its reply is read, all of them went through
 * the programs and answers may resume, up to the backlog noted before. */
static int rc_track_sync(struct rc_coherence *co)
{
	const char *ping[] = { "PING" };
	int one = 1, lowat = RC_TRACK_LOWAT, err;
	__u32 snap;

	if (!co->sh.track_backlog)
		return 0;
	snap = __atomic_load_n(co->sh.track_backlog, __ATOMIC_SEQ_CST);
	if (snap == __atomic_load_n(co->sh.track_synced, __ATOMIC_SEQ_CST))
		return 0;
	/* poll() would not wake for a reply below the low water mark */
	if (setsockopt(co->track->fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one)))
		return -errno;
	err = rconn__command(co->track, 1, ping, NULL) ?:
	      rconn__expect(co->track, "PING", '+');
	if (!err && setsockopt(co->track->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)))
		err = -errno;
	if (!err)
		__atomic_store_n(co->sh.track_synced, snap, __ATOMIC_SEQ_CST);
	return err;
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
	int err;

	co->query_db = 0;
	co->track = rconn__connect(co->host, co->port, rc_tracker_bound, &co->sh);
	if (!co->track)
		return -errno;
	co->track->on_push = rc_on_push;
	co->track->push_ctx = &co->sh;
	co->query = rconn__connect(co->host, co->port, rc_query_bound, &co->sh);
	if (!co->query)
		return -errno;
	co->query->on_push = rc_on_push;
	co->query->push_ctx = &co->sh;
	err = rc_handshake(co) ?: rc_query_setup(co);
	if (!err)
		rc_track_lowat(co);	/* no more replies to wait for on it */
	return err;
}

/* Serving again is safe only from a new generation: values filled while no
 * invalidation reached the programs may be stale, fills still on their way
 * belong to the old one. */
static void rc_resume(struct rc_coherence *co)
{
	rc_shared__flush(&co->sh);
	/* nothing is held back on a new tracking connection */
	if (co->sh.track_backlog)
		__atomic_store_n(co->sh.track_synced,
				 __atomic_load_n(co->sh.track_backlog, __ATOMIC_SEQ_CST),
				 __ATOMIC_SEQ_CST);
	__atomic_store_n(co->sh.tracking_ok, 1, __ATOMIC_SEQ_CST);
}

static __u64 rc_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (__u64)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void rc_set_why(struct rc_coherence *co, const char *why)
{
	pthread_mutex_lock(&co->why_lock);
	if (strcmp(co->why, why) || co->shown_keys != co->keys)
		pr_info("redis_cache: %s tracking: %s\n", co->keys ? "per-key" : "broadcast", why);
	co->shown_keys = co->keys;
	snprintf(co->why, sizeof(co->why), "%s", why);
	pthread_mutex_unlock(&co->why_lock);
}

/* The mode to (re)connect in: automatic tracking begins with broadcast,
 * which is safe whatever the server looks like, and checks at once. */
static void rc_auto_reset(struct rc_coherence *co, const char *why)
{
	co->keys = co->track_auto ? false : !co->track_all;
	if (!co->track_auto) {
		co->shown_keys = co->keys;
		return;
	}
	if (co->sh.track_keys)
		__atomic_store_n(co->sh.track_keys, 0, __ATOMIC_SEQ_CST);
	co->next_check = 0;
	rc_set_why(co, why);
}

/*
 * Reconnects in the other tracking mode. Answers stop first and resume from
 * a new generation: entries confirmed under broadcast tracking are not in
 * Redis' per-key table, and under per-key tracking a write may have been
 * pushed late. Per-key answers need rc_unseen to still be @snap, taken
 * before the check that allowed them.
 */
static int rc_switch(struct rc_coherence *co, bool keys, __u32 snap)
{
	int err;

	__atomic_store_n(co->sh.tracking_ok, 0, __ATOMIC_SEQ_CST);
	rc_shared__flush(&co->sh);
	rc_close_conns(co);
	co->keys = keys;
	err = rc_open_conns(co);
	if (err)
		return err;
	__atomic_store_n(co->sh.unseen_ok, snap, __ATOMIC_SEQ_CST);
	__atomic_store_n(co->sh.track_keys, keys, __ATOMIC_SEQ_CST);
	rc_resume(co);
	return 0;
}

/* Automatic tracking: leaves per-key tracking as soon as the programs saw
 * something that may open an unseen write path, re-checks the server every
 * RC_AUTO_PERIOD_MS and takes per-key tracking when nothing unseen can
 * write. -errno when a connection failed. */
static int rc_auto_step(struct rc_coherence *co)
{
	struct rc_auto_env env = {
		.sh = &co->sh, .port = co->port, .seen = co->seen, .ctx = co->unseen_ctx,
	};
	char why[sizeof(co->why)];
	__u32 snap;
	int v;

	if (!co->track_auto)
		return 0;
	snap = co->sh.unseen ? __atomic_load_n(co->sh.unseen, __ATOMIC_SEQ_CST) : 0;
	if (co->keys && snap != __atomic_load_n(co->sh.unseen_ok, __ATOMIC_SEQ_CST)) {
		co->next_check = 0;
		v = rc_switch(co, false, 0);
		rc_set_why(co, "the programs saw a reconfiguring command, could not take "
			   "a connection in, or saw a write they cannot tie to its reply");
		return v;
	}
	if (rc_now_ms() < co->next_check)
		return 0;
	co->next_check = rc_now_ms() + RC_AUTO_PERIOD_MS;
	v = rc_auto__check(co->query, &env, !co->keys, why, sizeof(why));
	if (v < 0)
		return v;
	if (v != co->keys)
		v = rc_switch(co, v, snap);
	rc_set_why(co, co->keys ? "no write path the programs do not see" : why);
	return v < 0 ? v : 0;
}

/* Reconnects with backoff (50 ms doubling to 2 s); false when told to stop. */
static bool rc_recover(struct rc_coherence *co)
{
	struct pollfd stop = { .fd = co->stop_fd, .events = POLLIN };
	int backoff = 50, err;

	/* automatic tracking starts over from broadcast: whatever changed
	 * while the connection was down is checked before per-key again */
	rc_auto_reset(co, "reconnected: checking the server again");
	for (;;) {
		rc_close_conns(co);
		if (poll(&stop, 1, backoff) > 0)
			return false;
		err = rc_open_conns(co);
		if (!err)
			break;
		pr_debug("redis_cache: reconnect: %s\n", strerror(-err));
		if (err == -ENOTCONN && co->unseen && !co->unseen(co->unseen_ctx)) {
			rc_close_conns(co);
			if (!rc_open_conns(co))
				break;
		}
		backoff = backoff < 1000 ? backoff * 2 : 2000;
	}
	rc_resume(co);
	__atomic_fetch_add(&co->reconnects, 1, __ATOMIC_RELAXED);
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
	int err;

	for (;;) {
		if (poll(pfd, 3, 100) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		/* only pushes arrive unasked */
		err = pfd[1].revents ? rc_drain_pushes(co) : 0;
		if (!err)
			err = -ETIMEDOUT;
		if (err == -ETIMEDOUT && rc_consume_fills(co))
			err = -EIO;
		if (err == -ETIMEDOUT)
			err = rc_track_sync(co) ?: -ETIMEDOUT;
		/* the programs turn answers off when they lose the stream */
		if (err == -ETIMEDOUT &&
		    !__atomic_load_n(co->sh.tracking_ok, __ATOMIC_SEQ_CST))
			err = 0;
		if (err == -ETIMEDOUT) {
			err = rc_auto_step(co);
			pfd[1].fd = co->track ? co->track->fd : -1;
			if (!err)
				continue;
		}
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
	co->track_all = srv->track_all;
	co->track_auto = srv->track_auto;
	co->seen = srv->seen;
	co->unseen = srv->unseen;
	co->unseen_ctx = srv->ctx;
	co->user = srv->user ? strdup(srv->user) : NULL;
	co->password = srv->password ? strdup(srv->password) : NULL;
	if ((srv->user && !co->user) || (srv->password && !co->password))
		return -ENOMEM;
	return 0;
}

static int rc_start(struct rc_coherence *co)
{
	int err;

	rc_auto_reset(co, "checking the server");
	err = rc_open_conns(co);

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
	pthread_mutex_init(&co->why_lock, NULL);
	if (!sh->track_keys || !sh->unseen || !sh->unseen_ok || !sh->reconf_lost)
		co->sh.reconf = NULL;	/* automatic tracking stays broadcast */
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
	pthread_mutex_destroy(&co->why_lock);
	free(co);
}

int rc_coherence__tracking(struct rc_coherence *co, char *why, size_t why_sz)
{
	int keys;

	pthread_mutex_lock(&co->why_lock);
	keys = co->shown_keys;
	if (why && why_sz)
		snprintf(why, why_sz, "%s", co->why[0] ? co->why :
			 keys ? "per-key tracking asked for" : "broadcast tracking asked for");
	pthread_mutex_unlock(&co->why_lock);
	return keys;
}

__u64 rc_coherence__confirms(const struct rc_coherence *co)
{
	return co ? __atomic_load_n(&co->confirms, __ATOMIC_RELAXED) : 0;
}

__u64 rc_coherence__reconnects(const struct rc_coherence *co)
{
	return co ? __atomic_load_n(&co->reconnects, __ATOMIC_RELAXED) : 0;
}
