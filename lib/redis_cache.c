// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * In-kernel Redis GET cache: loading, attaching and the coherence thread.
 * The data path is bpf/redis_cache.bpf.c; docs/redis-cache.md explains it.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "ebpfaccel/redis_cache.h"
#include "redis_cache.h"
#include "redis_cache.skel.h"

#define RC_IO_TIMEOUT_MS 2000

/* A blocking RESP connection that splits its input into top-level elements
 * with the same scanner the kernel uses. */
struct rconn {
	int fd;
	struct resp_rep p;
	size_t len;		/* bytes in buf */
	size_t scan;		/* bytes of buf scanned */
	size_t start;		/* start of the element being scanned */
	char buf[65536];
};

struct ebpfaccel_redis_cache {
	struct redis_cache_bpf *skel;
	struct bpf_link *sockops_link;
	struct ring_buffer *fills;
	int cgroup_fd;
	bool own_cgroup_fd;
	bool attached;
	__u16 ports[RC_PORTS_MAX];
	size_t nr_ports;
	char host[64];
	char *user;
	char *password;
	struct rconn *conn;	/* tracking pushes only */
	struct rconn *query;	/* the library's own commands */
	__u32 query_db;
	pthread_t thread;
	int stop_fd;
	__u64 confirms;
};

_Static_assert(sizeof(struct ebpfaccel_redis_cache_stats) ==
	       (RC_STAT_MAX + 1) * sizeof(__u64), "stats follow enum rc_stat");

struct rc_cmd {
	const char *name;
	enum rc_cmd_class cls;
};

/* Commands not listed invalidate the whole cache when seen. */
static const struct rc_cmd rc_cmds[] = {
	{ "GET", RC_CMD_GET },
	{ "SET", RC_CMD_SET },
	{ "DEL", RC_CMD_WRITEN }, { "UNLINK", RC_CMD_WRITEN },
	{ "SELECT", RC_CMD_SELECT }, { "AUTH", RC_CMD_AUTH },
	{ "HELLO", RC_CMD_HELLO }, { "MULTI", RC_CMD_MULTI },
	{ "EXEC", RC_CMD_EXEC }, { "DISCARD", RC_CMD_EXEC },
	{ "CLIENT", RC_CMD_CLIENT }, { "ACL", RC_CMD_ADMIN },
	{ "SUBSCRIBE", RC_CMD_PUSHY }, { "PSUBSCRIBE", RC_CMD_PUSHY },
	{ "SSUBSCRIBE", RC_CMD_PUSHY }, { "UNSUBSCRIBE", RC_CMD_PUSHY },
	{ "PUNSUBSCRIBE", RC_CMD_PUSHY }, { "SUNSUBSCRIBE", RC_CMD_PUSHY },
	{ "MONITOR", RC_CMD_PUSHY }, { "RESET", RC_CMD_PUSHY },
	{ "SYNC", RC_CMD_PUSHY }, { "PSYNC", RC_CMD_PUSHY },
	{ "REPLCONF", RC_CMD_PUSHY },
	/* change their first argument only */
	{ "SETNX", RC_CMD_WRITE1 }, { "SETEX", RC_CMD_WRITE1 },
	{ "PSETEX", RC_CMD_WRITE1 }, { "GETSET", RC_CMD_WRITE1 },
	{ "GETDEL", RC_CMD_WRITE1 }, { "GETEX", RC_CMD_WRITE1 },
	{ "APPEND", RC_CMD_WRITE1 }, { "INCR", RC_CMD_WRITE1 },
	{ "DECR", RC_CMD_WRITE1 }, { "INCRBY", RC_CMD_WRITE1 },
	{ "DECRBY", RC_CMD_WRITE1 }, { "INCRBYFLOAT", RC_CMD_WRITE1 },
	{ "SETRANGE", RC_CMD_WRITE1 }, { "SETBIT", RC_CMD_WRITE1 },
	{ "EXPIRE", RC_CMD_WRITE1 }, { "PEXPIRE", RC_CMD_WRITE1 },
	{ "EXPIREAT", RC_CMD_WRITE1 }, { "PEXPIREAT", RC_CMD_WRITE1 },
	{ "PERSIST", RC_CMD_WRITE1 }, { "HSET", RC_CMD_WRITE1 },
	{ "HSETNX", RC_CMD_WRITE1 }, { "HMSET", RC_CMD_WRITE1 },
	{ "HDEL", RC_CMD_WRITE1 }, { "HINCRBY", RC_CMD_WRITE1 },
	{ "HINCRBYFLOAT", RC_CMD_WRITE1 }, { "LPUSH", RC_CMD_WRITE1 },
	{ "RPUSH", RC_CMD_WRITE1 }, { "LPUSHX", RC_CMD_WRITE1 },
	{ "RPUSHX", RC_CMD_WRITE1 }, { "LPOP", RC_CMD_WRITE1 },
	{ "RPOP", RC_CMD_WRITE1 }, { "LSET", RC_CMD_WRITE1 },
	{ "LREM", RC_CMD_WRITE1 }, { "LTRIM", RC_CMD_WRITE1 },
	{ "LINSERT", RC_CMD_WRITE1 }, { "SADD", RC_CMD_WRITE1 },
	{ "SREM", RC_CMD_WRITE1 }, { "SPOP", RC_CMD_WRITE1 },
	{ "ZADD", RC_CMD_WRITE1 }, { "ZREM", RC_CMD_WRITE1 },
	{ "ZINCRBY", RC_CMD_WRITE1 }, { "ZPOPMIN", RC_CMD_WRITE1 },
	{ "ZPOPMAX", RC_CMD_WRITE1 }, { "ZREMRANGEBYSCORE", RC_CMD_WRITE1 },
	{ "ZREMRANGEBYRANK", RC_CMD_WRITE1 }, { "ZREMRANGEBYLEX", RC_CMD_WRITE1 },
	{ "XADD", RC_CMD_WRITE1 }, { "XDEL", RC_CMD_WRITE1 },
	{ "XTRIM", RC_CMD_WRITE1 }, { "XACK", RC_CMD_WRITE1 },
	{ "PFADD", RC_CMD_WRITE1 }, { "PFMERGE", RC_CMD_WRITE1 },
	{ "PFCOUNT", RC_CMD_WRITEN }, /* rewrites its cached cardinality */
	{ "GEOADD", RC_CMD_WRITE1 }, { "SUNIONSTORE", RC_CMD_WRITE1 },
	{ "SINTERSTORE", RC_CMD_WRITE1 }, { "SDIFFSTORE", RC_CMD_WRITE1 },
	{ "ZUNIONSTORE", RC_CMD_WRITE1 }, { "ZINTERSTORE", RC_CMD_WRITE1 },
	{ "ZDIFFSTORE", RC_CMD_WRITE1 }, { "ZRANGESTORE", RC_CMD_WRITE1 },
	/* change no key */
	{ "PTTL", RC_CMD_READ }, { "TTL", RC_CMD_READ },
	{ "EXPIRETIME", RC_CMD_READ }, { "PEXPIRETIME", RC_CMD_READ },
	{ "EXISTS", RC_CMD_READ }, { "TYPE", RC_CMD_READ },
	{ "STRLEN", RC_CMD_READ }, { "GETRANGE", RC_CMD_READ },
	{ "SUBSTR", RC_CMD_READ }, { "MGET", RC_CMD_READ },
	{ "PING", RC_CMD_READ }, { "ECHO", RC_CMD_READ },
	{ "INFO", RC_CMD_READ }, { "DBSIZE", RC_CMD_READ },
	{ "KEYS", RC_CMD_READ }, { "SCAN", RC_CMD_READ },
	{ "RANDOMKEY", RC_CMD_READ }, { "TIME", RC_CMD_READ },
	{ "LASTSAVE", RC_CMD_READ }, { "COMMAND", RC_CMD_READ },
	{ "CONFIG", RC_CMD_READ }, { "QUIT", RC_CMD_READ },
	{ "HGET", RC_CMD_READ }, { "HGETALL", RC_CMD_READ },
	{ "HMGET", RC_CMD_READ }, { "HKEYS", RC_CMD_READ },
	{ "HVALS", RC_CMD_READ }, { "HLEN", RC_CMD_READ },
	{ "HEXISTS", RC_CMD_READ }, { "HSTRLEN", RC_CMD_READ },
	{ "HSCAN", RC_CMD_READ }, { "LRANGE", RC_CMD_READ },
	{ "LLEN", RC_CMD_READ }, { "LINDEX", RC_CMD_READ },
	{ "LPOS", RC_CMD_READ }, { "SMEMBERS", RC_CMD_READ },
	{ "SISMEMBER", RC_CMD_READ }, { "SMISMEMBER", RC_CMD_READ },
	{ "SCARD", RC_CMD_READ }, { "SSCAN", RC_CMD_READ },
	{ "SINTER", RC_CMD_READ }, { "SUNION", RC_CMD_READ },
	{ "SDIFF", RC_CMD_READ }, { "ZRANGE", RC_CMD_READ },
	{ "ZRANGEBYSCORE", RC_CMD_READ }, { "ZREVRANGE", RC_CMD_READ },
	{ "ZSCORE", RC_CMD_READ }, { "ZCARD", RC_CMD_READ },
	{ "ZCOUNT", RC_CMD_READ }, { "ZRANK", RC_CMD_READ },
	{ "ZREVRANK", RC_CMD_READ }, { "ZSCAN", RC_CMD_READ },
	{ "ZMSCORE", RC_CMD_READ }, { "BITCOUNT", RC_CMD_READ },
	{ "BITPOS", RC_CMD_READ }, { "GETBIT", RC_CMD_READ },
	{ "XRANGE", RC_CMD_READ }, { "XREVRANGE", RC_CMD_READ },
	{ "XLEN", RC_CMD_READ }, { "LCS", RC_CMD_READ },
	{ "DUMP", RC_CMD_READ }, { "TOUCH", RC_CMD_READ },
	{ "PUBLISH", RC_CMD_READ }, { "SPUBLISH", RC_CMD_READ },
	{ "PUBSUB", RC_CMD_READ }, { "WATCH", RC_CMD_READ },
	{ "UNWATCH", RC_CMD_READ }, { "ROLE", RC_CMD_READ },
	{ "SLOWLOG", RC_CMD_READ }, { "LATENCY", RC_CMD_READ },
	{ "WAIT", RC_CMD_READ }, { "READONLY", RC_CMD_READ },
	{ "READWRITE", RC_CMD_READ },
};

/* ------------------------------------------------------------ RESP client */

static int rconn_send(struct rconn *c, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/* Appends "$<len>\r\n<data>\r\n" to @out (of @cap bytes) at *@at. */
static int resp_arg(char *out, size_t cap, size_t *at, const void *data, size_t len)
{
	int n = snprintf(out + *at, cap - *at, "$%zu\r\n", len);

	if (n < 0 || *at + n + len + 2 > cap)
		return -E2BIG;
	*at += n;
	memcpy(out + *at, data, len);
	memcpy(out + *at + len, "\r\n", 2);
	*at += len + 2;
	return 0;
}

/* Sends one command of @argc arguments. */
static int rconn_command(struct rconn *c, int argc, const char *const *argv,
			 const size_t *lens)
{
	char out[1024];
	size_t at;
	int n, err;

	n = snprintf(out, sizeof(out), "*%d\r\n", argc);
	at = n;
	for (int i = 0; i < argc; i++) {
		err = resp_arg(out, sizeof(out), &at, argv[i],
			       lens ? lens[i] : strlen(argv[i]));
		if (err)
			return err;
	}
	return rconn_send(c, out, at);
}

static int rconn_fill(struct rconn *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int r;

	if (c->start) {
		memmove(c->buf, c->buf + c->start, c->len - c->start);
		c->len -= c->start;
		c->scan -= c->start;
		c->start = 0;
	}
	if (c->len == sizeof(c->buf))
		return -E2BIG;
	r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (!r)
		return -ETIMEDOUT;
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (!n)
		return -ECONNRESET;
	c->len += n;
	return 0;
}

/* Invalidation pushes are applied by the kernel; doing it here as well
 * costs little and covers a kernel that missed the connection. */
static void rc_user_invalidate(struct ebpfaccel_redis_cache *rc,
			       const struct resp_rep *p, int ev)
{
	struct rc_key k = { 0 };
	__u32 h;

	if (!rc)
		return;
	if (ev == RESP_INV_ALL) {
		__atomic_fetch_add(&rc->skel->bss->rc_gen_all, 1, __ATOMIC_SEQ_CST);
		return;
	}
	k.len = p->cap_len;
	memcpy(k.data, p->cap, p->cap_len);
	h = rc_key_hash(&k);
	__atomic_fetch_add(&rc->skel->bss->rc_gen_bucket[h], 1, __ATOMIC_SEQ_CST);
	bpf_map__delete_elem(rc->skel->maps.rc_cache_small, &k, sizeof(k), 0);
	bpf_map__delete_elem(rc->skel->maps.rc_cache_large, &k, sizeof(k), 0);
}

/*
 * Reads the next top-level element. Returns its type byte ('>' for a push)
 * and points *@text at its raw bytes (valid until the next call), or -errno.
 */
static int rconn_next(struct ebpfaccel_redis_cache *rc, struct rconn *c,
		      const char **text, size_t *len, int timeout_ms)
{
	int err, ev;

	for (;;) {
		while (c->scan < c->len) {
			__u32 n = c->len - c->scan, pos = 0;

			if (n > RESP_CHUNK)
				n = RESP_CHUNK;
			ev = resp_rep_feed(&c->p, (const __u8 *)c->buf + c->scan, n, &pos);
			c->scan += pos;
			if (ev == RESP_BAD)
				return -EPROTO;
			if (ev == RESP_INV_KEY || ev == RESP_INV_ALL)
				rc_user_invalidate(rc, &c->p, ev);
			if (ev != RESP_DONE)
				continue;
			*text = c->buf + c->start;
			*len = c->scan - c->start;
			c->start = c->scan;
			return c->p.top;
		}
		if (c->p.done_due) {
			__u32 pos = 0;

			resp_rep_feed(&c->p, (const __u8 *)c->buf, 0, &pos);
			*text = c->buf + c->start;
			*len = c->scan - c->start;
			c->start = c->scan;
			return c->p.top;
		}
		err = rconn_fill(c, timeout_ms);
		if (err)
			return err;
	}
}

/* The next reply, skipping pushes. */
static int rconn_reply(struct ebpfaccel_redis_cache *rc, struct rconn *c,
		       const char **text, size_t *len)
{
	int t;

	do
		t = rconn_next(rc, c, text, len, RC_IO_TIMEOUT_MS);
	while (t == '>');
	return t;
}

/* ----------------------------------------------------------- coherence */

static int rc_connect(struct ebpfaccel_redis_cache *rc, struct rconn *c,
		      bool tracker)
{
	struct sockaddr_storage ss = { 0 }, any = { 0 };
	struct sockaddr_in *sin = (void *)&ss;
	struct sockaddr_in6 *sin6 = (void *)&ss;
	socklen_t sl;
	int one = 1;

	if (inet_pton(AF_INET, rc->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, rc->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sl = sizeof(*sin6);
	} else {
		pr_warn("redis_cache: redis_host '%s' is not an IP address\n", rc->host);
		return -EINVAL;
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* bounds connect() and sends: detach waits for the thread, which may
	 * be reconnecting */
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 2 },
		   sizeof(struct timeval));
	if (!tracker)
		goto connect;
	/* the programs recognise the connection by its port: know it before
	 * the handshake completes */
	any.ss_family = ss.ss_family;
	if (bind(c->fd, (void *)&any, sl))
		return -errno;
	{
		struct sockaddr_storage local;
		socklen_t ll = sizeof(local);

		if (getsockname(c->fd, (void *)&local, &ll))
			return -errno;
		rc->skel->bss->rc_tracker_port = ntohs(ss.ss_family == AF_INET ?
			((struct sockaddr_in *)&local)->sin_port :
			((struct sockaddr_in6 *)&local)->sin6_port);
	}
	rc->skel->bss->rc_tracker_seen = 0;
connect:
	if (ss.ss_family == AF_INET)
		sin->sin_port = htons(rc->ports[0]);
	else
		sin6->sin6_port = htons(rc->ports[0]);
	if (connect(c->fd, (void *)&ss, sl))
		return -errno;
	return 0;
}

static int rc_expect(struct ebpfaccel_redis_cache *rc, struct rconn *c,
		     const char *what, char want)
{
	const char *text;
	size_t len;
	int t = rconn_reply(rc, c, &text, &len);

	if (t < 0) {
		pr_warn("redis_cache: %s: %s\n", what, strerror(-t));
		return t;
	}
	if (t != want && !(want == '%' && t == '*')) {
		pr_warn("redis_cache: %s refused: %.*s\n", what,
			(int)(len > 200 ? 200 : len), text);
		return -EACCES;
	}
	return 0;
}

/* HELLO 3 [AUTH user pass], CLIENT TRACKING ON BCAST. */
static int rc_handshake(struct ebpfaccel_redis_cache *rc, struct rconn *c)
{
	const char *hello[] = { "HELLO", "3", "AUTH",
				rc->user ? rc->user : "default", rc->password };
	const char *track[] = { "CLIENT", "TRACKING", "ON", "BCAST" };
	int err;

	err = rconn_command(c, rc->password ? 5 : 2, hello, NULL);
	if (!err)
		err = rc_expect(rc, c, "HELLO 3", '%');
	if (!err)
		err = rconn_command(c, 4, track, NULL);
	if (!err)
		err = rc_expect(rc, c, "CLIENT TRACKING", '+');
	if (err)
		return err;
	if (!__atomic_load_n(&rc->skel->bss->rc_tracker_seen, __ATOMIC_SEQ_CST)) {
		pr_warn("redis_cache: the coherence connection to port %u is not "
			"seen by the programs: is redis-server in the cgroup?\n",
			rc->ports[0]);
		return -ENOTCONN;
	}
	return 0;
}

/* AUTH on the query connection when Redis wants it. */
static int rc_query_auth(struct ebpfaccel_redis_cache *rc, struct rconn *c)
{
	const char *auth[] = { "AUTH", rc->user ? rc->user : rc->password,
			       rc->password };
	int err;

	if (!rc->password)
		return 0;
	err = rconn_command(c, rc->user ? 3 : 2, auth, NULL);
	return err ?: rc_expect(rc, c, "AUTH", '+');
}

/* SELECTs @db on the query connection, in its own round trip: the programs
 * record no fill for a GET while a SELECT's reply is owed. */
static int rc_query_select(struct ebpfaccel_redis_cache *rc, __u32 db)
{
	struct rconn *c = rc->query;
	char num[16];
	const char *sel[] = { "SELECT", num };
	int err;

	if (db == rc->query_db)
		return 0;
	snprintf(num, sizeof(num), "%u", db);
	err = rconn_command(c, 2, sel, NULL);
	if (!err)
		err = rc_expect(rc, c, "SELECT", '+');
	if (!err)
		rc->query_db = db;
	return err;
}

/*
 * Confirms a fill for serving once Redis says its key has no TTL. This runs
 * on its own connection: a command reply pending on the tracking connection
 * would keep Redis from writing an invalidation there before it writes the
 * writer's reply (Redis flushes the clients it queued last first, and a
 * client already queued keeps its place).
 */
static int rc_confirm(struct ebpfaccel_redis_cache *rc, const struct rc_fill_event *ev)
{
	struct rconn *c = rc->query;
	const char *pttl[] = { "PTTL", ev->key.data };
	size_t lens[] = { 4, ev->key.len };
	const char *text;
	size_t len;
	int t, err;

	err = rc_query_select(rc, ev->db);
	if (!err)
		err = rconn_command(c, 2, pttl, lens);
	if (err)
		return err;
	t = rconn_reply(rc, c, &text, &len);
	if (t < 0)
		return t;
	if (t != ':' || len != 5 || memcmp(text, ":-1\r\n", 5))
		return 0;
	err = bpf_map__update_elem(rc->skel->maps.rc_confirmed, &ev->key,
				   sizeof(ev->key), &ev->version,
				   sizeof(ev->version), BPF_ANY);
	if (!err)
		__atomic_fetch_add(&rc->confirms, 1, __ATOMIC_RELAXED);
	return err;
}

/* Reads a key back after Redis accepted a SET of it: the GET passes
 * through the programs, which refill the cache from its reply. */
static int rc_refill(struct ebpfaccel_redis_cache *rc, const struct rc_fill_event *ev)
{
	struct rconn *c = rc->query;
	const char *get[] = { "GET", ev->key.data };
	size_t lens[] = { 3, ev->key.len };
	const char *text;
	size_t len;
	int err;

	err = rc_query_select(rc, ev->db);
	if (!err)
		err = rconn_command(c, 2, get, lens);
	if (!err && rconn_reply(rc, c, &text, &len) < 0)
		err = -EIO;
	return err;
}

static int rc_on_fill(void *ctx, void *data, size_t size)
{
	struct ebpfaccel_redis_cache *rc = ctx;
	const struct rc_fill_event *ev = data;

	if (size < sizeof(*ev))
		return 0;
	if (ev->kind == RC_EV_REFILL)
		return rc_refill(rc, ev) < 0 ? -1 : 0;
	return rc_confirm(rc, ev) < 0 ? -1 : 0;
}

static void rc_lost_coherence(struct ebpfaccel_redis_cache *rc, int err)
{
	rc->skel->bss->rc_tracking_ok = 0;
	__atomic_fetch_add(&rc->skel->bss->rc_gen_all, 1, __ATOMIC_SEQ_CST);
	if (err)
		pr_warn("redis_cache: coherence connection lost (%s): kernel answers "
			"off until it is back\n", strerror(-err));
	else
		pr_warn("redis_cache: invalidation stream not understood (a push "
			"too large to scan?): kernel answers off until it is back\n");
}

static int rc_open_conns(struct ebpfaccel_redis_cache *rc);
static void rc_close_conn(struct ebpfaccel_redis_cache *rc);

/* Serving again is safe only from a new generation: values filled while no
 * invalidation reached the programs may be stale, fills still on their way
 * belong to the old one. */
static void rc_resume(struct ebpfaccel_redis_cache *rc)
{
	__atomic_fetch_add(&rc->skel->bss->rc_gen_all, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&rc->skel->bss->rc_tracking_ok, 1, __ATOMIC_SEQ_CST);
}

/* Reconnects with backoff (50 ms doubling to 2 s); false when told to stop. */
static bool rc_recover(struct ebpfaccel_redis_cache *rc)
{
	struct pollfd stop = { .fd = rc->stop_fd, .events = POLLIN };
	int backoff = 50, err;

	for (;;) {
		rc_close_conn(rc);
		if (poll(&stop, 1, backoff) > 0)
			return false;
		err = rc_open_conns(rc);
		if (!err)
			break;
		pr_debug("redis_cache: reconnect: %s\n", strerror(-err));
		backoff = backoff < 1000 ? backoff * 2 : 2000;
	}
	rc_resume(rc);
	pr_info("redis_cache: coherence connection back: kernel answers on\n");
	return true;
}

/* Reads pushes (keeping Redis' send buffer for them empty, see docs) and
 * confirms fills; on any loss of coherence, reconnects. */
static void *rc_thread(void *arg)
{
	struct ebpfaccel_redis_cache *rc = arg;
	struct pollfd pfd[3] = {
		{ .fd = rc->stop_fd, .events = POLLIN },
		{ .fd = rc->conn->fd, .events = POLLIN },
		{ .fd = ring_buffer__epoll_fd(rc->fills), .events = POLLIN },
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
			err = pfd[1].revents ? rconn_next(rc, rc->conn, &text, &len, 0)
					     : -ETIMEDOUT;
		while (err >= 0);
		if (err == -ETIMEDOUT && ring_buffer__consume(rc->fills) < 0)
			err = -EIO;
		/* the programs turn answers off when they lose the stream */
		if (err == -ETIMEDOUT &&
		    !__atomic_load_n(&rc->skel->bss->rc_tracking_ok, __ATOMIC_SEQ_CST))
			err = 0;
		if (err == -ETIMEDOUT)
			continue;
		rc_lost_coherence(rc, err);
		if (!rc_recover(rc))
			break;
		pfd[1].fd = rc->conn->fd;
	}
	return NULL;
}

/* ---------------------------------------------------------------- API */

static int rc_fill_tables(struct ebpfaccel_redis_cache *rc)
{
	__u8 one = 1;
	int err;

	for (size_t i = 0; i < ARRAY_SIZE(rc_cmds); i++) {
		char name[RESP_CMD_MAX] = { 0 };
		__u32 cls = rc_cmds[i].cls;

		memcpy(name, rc_cmds[i].name, strnlen(rc_cmds[i].name, sizeof(name)));
		err = bpf_map__update_elem(rc->skel->maps.rc_cmds, name, sizeof(name),
					   &cls, sizeof(cls), BPF_ANY);
		if (err)
			return err;
	}
	for (size_t i = 0; i < rc->nr_ports; i++) {
		err = bpf_map__update_elem(rc->skel->maps.rc_ports, &rc->ports[i],
					   sizeof(__u16), &one, sizeof(one), BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

static int rc_check_opts(const struct ebpfaccel_redis_cache_opts *opts)
{
	size_t nr = OPTS_GET(opts, nr_ports, 0);

	if (!opts || !OPTS_VALID(opts, ebpfaccel_redis_cache_opts))
		return -EINVAL;
	if (!nr || nr > RC_PORTS_MAX || !OPTS_GET(opts, ports, NULL)) {
		pr_warn("redis_cache: 1 to %d ports are required\n", RC_PORTS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < nr; i++)
		if (!opts->ports[i])
			return -EINVAL;
	if (OPTS_GET(opts, cgroup_fd, 0) <= 0 && !OPTS_GET(opts, cgroup_path, NULL)) {
		pr_warn("redis_cache: a cgroup (path or fd) is required\n");
		return -EINVAL;
	}
	if (OPTS_GET(opts, max_value_size, 0) > RC_VAL_MAX) {
		pr_warn("redis_cache: max_value_size is at most %d\n", RC_VAL_MAX);
		return -EINVAL;
	}
	return 0;
}

static int rc_open_cgroup(struct ebpfaccel_redis_cache *rc,
			  const struct ebpfaccel_redis_cache_opts *opts)
{
	const char *path = OPTS_GET(opts, cgroup_path, NULL);

	if (OPTS_GET(opts, cgroup_fd, 0) > 0) {
		rc->cgroup_fd = opts->cgroup_fd;
		return 0;
	}
	rc->cgroup_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rc->cgroup_fd < 0) {
		pr_warn("redis_cache: cgroup %s: %s\n", path, strerror(errno));
		return -errno;
	}
	rc->own_cgroup_fd = true;
	return 0;
}

static int rc_copy_strings(struct ebpfaccel_redis_cache *rc,
			   const struct ebpfaccel_redis_cache_opts *opts)
{
	const char *host = OPTS_GET(opts, redis_host, NULL);
	const char *user = OPTS_GET(opts, redis_user, NULL);
	const char *pass = OPTS_GET(opts, redis_password, NULL);

	snprintf(rc->host, sizeof(rc->host), "%s", host ? host : "127.0.0.1");
	rc->user = user ? strdup(user) : NULL;
	rc->password = pass ? strdup(pass) : NULL;
	if ((user && !rc->user) || (pass && !rc->password))
		return -ENOMEM;
	return 0;
}

static int rc_load(struct ebpfaccel_redis_cache *rc,
		   const struct ebpfaccel_redis_cache_opts *opts)
{
	__u32 small = OPTS_GET(opts, max_entries, 0) ?: 65536;
	__u32 large = OPTS_GET(opts, max_large_entries, 0) ?: 4096;
	int err;

	ebpfaccel__load_begin();
	rc->skel = redis_cache_bpf__open();
	err = rc->skel ? 0 : -errno;
	if (!err) {
		bpf_map__set_max_entries(rc->skel->maps.rc_cache_small, small);
		bpf_map__set_max_entries(rc->skel->maps.rc_cache_large, large);
		bpf_map__set_max_entries(rc->skel->maps.rc_confirmed, small + large);
		err = redis_cache_bpf__load(rc->skel);
	}
	err = ebpfaccel__load_end(err, "redis_cache", OPTS_GET(opts, load_error, NULL));
	if (err)
		return err;
	rc->skel->data->rc_max_value = OPTS_GET(opts, max_value_size, 0) ?: RC_VAL_MAX;
	return rc_fill_tables(rc);
}

EBPFACCEL_API struct ebpfaccel_redis_cache *
ebpfaccel_redis_cache__open(const struct ebpfaccel_redis_cache_opts *opts)
{
	struct ebpfaccel_redis_cache *rc;
	int err;

	err = rc_check_opts(opts);
	if (!err)
		err = ebpfaccel__need_caps("the Redis cache", CAPMASK(CAP_BPF) |
					   CAPMASK(CAP_NET_ADMIN) | CAPMASK(CAP_SYS_ADMIN));
	if (err) {
		ebpfaccel__load_error_clear(OPTS_GET(opts, load_error, NULL), err);
		return ebpfaccel__err_ptr(err);
	}
	rc = calloc(1, sizeof(*rc));
	if (!rc)
		return ebpfaccel__err_ptr(-ENOMEM);
	rc->cgroup_fd = -1;
	rc->stop_fd = -1;
	rc->nr_ports = opts->nr_ports;
	memcpy(rc->ports, opts->ports, rc->nr_ports * sizeof(__u16));
	ebpfaccel__bump_memlock();
	ebpfaccel__route_libbpf_print();
	err = rc_copy_strings(rc, opts);
	if (!err)
		err = rc_open_cgroup(rc, opts);
	if (err)
		ebpfaccel__load_error_clear(OPTS_GET(opts, load_error, NULL), err);
	else
		err = rc_load(rc, opts);
	if (err) {
		ebpfaccel_redis_cache__destroy(rc);
		return ebpfaccel__err_ptr(err);
	}
	return rc;
}

static void rc_clear_map(struct bpf_map *map, size_t key_sz)
{
	char key[128], next[128];
	void *prev = NULL;

	/* restart after each delete: deleting invalidates the cursor */
	while (!bpf_map__get_next_key(map, prev, next, key_sz)) {
		memcpy(key, next, key_sz);
		if (bpf_map__delete_elem(map, key, key_sz, 0))
			break;
		prev = NULL;
	}
}

static void rc_stop_thread(struct ebpfaccel_redis_cache *rc)
{
	__u64 one = 1;

	if (rc->stop_fd < 0)
		return;
	if (write(rc->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(rc->thread, NULL);
	close(rc->stop_fd);
	rc->stop_fd = -1;
}

static void rc_free_conn(struct rconn **c)
{
	if (!*c)
		return;
	if ((*c)->fd >= 0)
		close((*c)->fd);
	free(*c);
	*c = NULL;
}

static void rc_close_conn(struct ebpfaccel_redis_cache *rc)
{
	rc_free_conn(&rc->conn);
	rc_free_conn(&rc->query);
}

static int rc_attach_progs(struct ebpfaccel_redis_cache *rc)
{
	int map_fd = bpf_map__fd(rc->skel->maps.rc_socks);
	int err;

	/* sockets take the map's programs when added: programs first */
	err = bpf_prog_attach(bpf_program__fd(rc->skel->progs.rc_request), map_fd,
			      BPF_SK_SKB_VERDICT, 0);
	if (!err)
		err = bpf_prog_attach(bpf_program__fd(rc->skel->progs.rc_reply), map_fd,
				      BPF_SK_MSG_VERDICT, 0);
	if (err)
		return -errno;
	rc->sockops_link = bpf_program__attach_cgroup(rc->skel->progs.rc_sockops,
						      rc->cgroup_fd);
	if (!rc->sockops_link)
		return -errno;
	return 0;
}

/* The tracking connection (handshake done) and the query connection. */
static int rc_open_conns(struct ebpfaccel_redis_cache *rc)
{
	int err;

	rc->conn = calloc(1, sizeof(*rc->conn));
	rc->query = calloc(1, sizeof(*rc->query));
	if (!rc->conn || !rc->query)
		return -ENOMEM;
	rc->conn->fd = -1;
	rc->query->fd = -1;
	rc->query_db = 0;
	err = rc_connect(rc, rc->conn, true);
	if (!err)
		err = rc_handshake(rc, rc->conn);
	if (!err)
		err = rc_connect(rc, rc->query, false);
	if (!err)
		err = rc_query_auth(rc, rc->query);
	return err;
}

static int rc_start_coherence(struct ebpfaccel_redis_cache *rc)
{
	int err = rc_open_conns(rc);

	if (err)
		return err;
	rc->fills = ring_buffer__new(bpf_map__fd(rc->skel->maps.rc_fills),
				     rc_on_fill, rc, NULL);
	if (!rc->fills)
		return -errno;
	rc->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (rc->stop_fd < 0)
		return -errno;
	/* before the thread, which takes tracking_ok == 0 for a lost stream */
	rc_resume(rc);
	err = pthread_create(&rc->thread, NULL, rc_thread, rc);
	if (err) {
		close(rc->stop_fd);
		rc->stop_fd = -1;
		return -err;
	}
	return 0;
}

EBPFACCEL_API int ebpfaccel_redis_cache__attach(struct ebpfaccel_redis_cache *rc)
{
	int err = 0;

	if (!rc)
		return -EINVAL;
	if (rc->attached)
		return -EALREADY;
	/* writes while detached were not seen */
	__atomic_fetch_add(&rc->skel->bss->rc_gen_all, 1, __ATOMIC_SEQ_CST);
	if (!rc->sockops_link)
		err = rc_attach_progs(rc);
	if (!err) {
		rc->skel->bss->rc_accepting = 1;
		err = rc_start_coherence(rc);
	}
	rc->attached = true;
	if (err) {
		pr_warn("redis_cache: attach: %s\n", strerror(-err));
		ebpfaccel_redis_cache__detach(rc);
		return err;
	}
	rc->skel->bss->rc_enabled = 1;
	return 0;
}

/*
 * Removing a socket from a sockmap frees whatever the kernel queued for the
 * application on it (measured: requests Redis had not read yet are lost).
 * So detach only stops answering and taking new connections: connections
 * already in keep flowing through the programs, which keep tracking them
 * (a later attach serves them again), until they close or the cache is
 * destroyed.
 */
EBPFACCEL_API int ebpfaccel_redis_cache__detach(struct ebpfaccel_redis_cache *rc)
{
	if (!rc)
		return -EINVAL;
	if (!rc->attached)
		return -ENOTCONN;
	rc->skel->bss->rc_enabled = 0;
	rc->skel->bss->rc_accepting = 0;
	rc_stop_thread(rc);
	rc->skel->bss->rc_tracking_ok = 0;
	rc_close_conn(rc);
	ring_buffer__free(rc->fills);
	rc->fills = NULL;
	__atomic_fetch_add(&rc->skel->bss->rc_gen_all, 1, __ATOMIC_SEQ_CST);
	rc->attached = false;
	return 0;
}

static void rc_wait_answers(struct ebpfaccel_redis_cache *rc)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	/* let requests already passed to Redis be read and kernel answers
	 * already on their way be sent before sockets leave the map */
	nanosleep(&ts, NULL);
}

/* Takes every socket out of the programs' reach, then the programs off. */
static void rc_release_sockets(struct ebpfaccel_redis_cache *rc)
{
	int map_fd;

	if (!rc->sockops_link)
		return;
	rc_wait_answers(rc);
	map_fd = bpf_map__fd(rc->skel->maps.rc_socks);
	rc_clear_map(rc->skel->maps.rc_socks, sizeof(__u64));
	bpf_prog_detach2(bpf_program__fd(rc->skel->progs.rc_request), map_fd,
			 BPF_SK_SKB_VERDICT);
	bpf_prog_detach2(bpf_program__fd(rc->skel->progs.rc_reply), map_fd,
			 BPF_SK_MSG_VERDICT);
	bpf_link__destroy(rc->sockops_link);
	rc->sockops_link = NULL;
}

EBPFACCEL_API int ebpfaccel_redis_cache__flush(struct ebpfaccel_redis_cache *rc)
{
	if (!rc)
		return -EINVAL;
	__atomic_fetch_add(&rc->skel->bss->rc_gen_all, 1, __ATOMIC_SEQ_CST);
	return 0;
}

EBPFACCEL_API int ebpfaccel_redis_cache__serving(const struct ebpfaccel_redis_cache *rc)
{
	if (!rc)
		return -EINVAL;
	return rc->attached && rc->skel->bss->rc_enabled &&
	       rc->skel->bss->rc_tracking_ok;
}

EBPFACCEL_API int ebpfaccel_redis_cache__stats(const struct ebpfaccel_redis_cache *rc,
					       struct ebpfaccel_redis_cache_stats *stats,
					       size_t sz)
{
	struct ebpfaccel_redis_cache_stats all = { 0 };
	__u64 *sum = (__u64 *)&all;
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	if (!rc || !stats || ncpu <= 0)
		return -EINVAL;
	vals = calloc(ncpu, sizeof(__u64));
	if (!vals)
		return -ENOMEM;
	for (__u32 i = 0; i < RC_STAT_MAX; i++) {
		int err = bpf_map__lookup_elem(rc->skel->maps.rc_stats, &i, sizeof(i),
					       vals, ncpu * sizeof(__u64), 0);

		if (err) {
			free(vals);
			return err;
		}
		for (int cpu = 0; cpu < ncpu; cpu++)
			sum[i] += vals[cpu];
	}
	free(vals);
	all.confirms = __atomic_load_n(&rc->confirms, __ATOMIC_RELAXED);
	memcpy(stats, &all, sz < sizeof(all) ? sz : sizeof(all));
	return 0;
}

EBPFACCEL_API void ebpfaccel_redis_cache__destroy(struct ebpfaccel_redis_cache *rc)
{
	if (!rc)
		return;
	if (rc->attached)
		ebpfaccel_redis_cache__detach(rc);
	if (rc->skel)
		rc_release_sockets(rc);
	redis_cache_bpf__destroy(rc->skel);
	if (rc->own_cgroup_fd)
		close(rc->cgroup_fd);
	free(rc->user);
	free(rc->password);
	free(rc);
}
