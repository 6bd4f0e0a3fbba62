// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The library's own RESP client (lib/redis/rconn.h): the coherence
 * connections of every Redis cache mode talk to Redis through it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "internal.h"
#include "redis/rconn.h"

static int rconn_send(struct rconn *c, const char *buf, size_t len, int flags)
{
	while (len) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | flags);

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

static int rconn_command(struct rconn *c, int argc, const char *const *argv,
			 const size_t *lens, int flags)
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
	return rconn_send(c, out, at, flags);
}

int rconn__command(struct rconn *c, int argc, const char *const *argv,
		   const size_t *lens)
{
	return rconn_command(c, argc, argv, lens, 0);
}

int rconn__command_more(struct rconn *c, int argc, const char *const *argv,
			const size_t *lens)
{
	return rconn_command(c, argc, argv, lens, MSG_MORE);
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
	/* poll() may call the socket readable below its SO_RCVLOWAT (memory
	 * pressure, a small window), where a blocking recv() would wait for
	 * the rest */
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (!n)
		return -ECONNRESET;
	c->len += n;
	return 0;
}

/* The element scanned up to c->scan ends here: hand it out. */
static int rconn_element(struct rconn *c, const char **text, size_t *len)
{
	*text = c->buf + c->start;
	*len = c->scan - c->start;
	c->start = c->scan;
	return c->p.top;
}

int rconn__next(struct rconn *c, const char **text, size_t *len, int timeout_ms)
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
			if ((ev == RESP_INV_KEY || ev == RESP_INV_ALL) && c->on_push)
				c->on_push(c->push_ctx, &c->p, ev);
			if (ev == RESP_DONE)
				return rconn_element(c, text, len);
		}
		if (c->p.done_due) {
			__u32 pos = 0;

			resp_rep_feed(&c->p, (const __u8 *)c->buf, 0, &pos);
			return rconn_element(c, text, len);
		}
		err = rconn_fill(c, timeout_ms);
		if (err)
			return err;
	}
}

int rconn__reply(struct rconn *c, const char **text, size_t *len)
{
	int t;

	do
		t = rconn__next(c, text, len, RCONN_TIMEOUT_MS);
	while (t == '>');
	return t;
}

int rconn__expect(struct rconn *c, const char *what, char want)
{
	const char *text;
	size_t len;
	int t = rconn__reply(c, &text, &len);

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

static int rconn_addr(const char *host, __u16 port, struct sockaddr_storage *ss,
		      socklen_t *sl)
{
	struct sockaddr_in *sin = (void *)ss;
	struct sockaddr_in6 *sin6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sl = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sl = sizeof(*sin6);
		return 0;
	}
	pr_warn("redis_cache: redis_host '%s' is not an IP address\n", host);
	return -EINVAL;
}

/* Binds to an ephemeral port and tells which. */
static int rconn_bind_any(int fd, int family, socklen_t sl, __u16 *port)
{
	struct sockaddr_storage any = { .ss_family = family }, local;
	socklen_t ll = sizeof(local);

	if (bind(fd, (void *)&any, sl) || getsockname(fd, (void *)&local, &ll))
		return -errno;
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&local)->sin_port
					: ((struct sockaddr_in6 *)&local)->sin6_port);
	return 0;
}

static int rconn_open(struct rconn *c, const char *host, __u16 port,
		      rconn_bound_fn bound, void *ctx)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	__u16 local = 0;
	int one = 1, err;

	err = rconn_addr(host, port, &ss, &sl);
	if (err)
		return err;
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* bounds connect() and sends: detach waits for the coherence thread,
	 * which may be reconnecting */
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 2 },
		   sizeof(struct timeval));
	if (bound) {
		err = rconn_bind_any(c->fd, ss.ss_family, sl, &local);
		if (err)
			return err;
		bound(ctx, local);
	}
	if (connect(c->fd, (void *)&ss, sl))
		return -errno;
	return 0;
}

struct rconn *rconn__connect(const char *host, __u16 port, rconn_bound_fn bound,
			     void *ctx)
{
	struct rconn *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return ebpfaccel__err_ptr(-ENOMEM);
	c->fd = -1;
	err = rconn_open(c, host, port, bound, ctx);
	if (err) {
		rconn__free(c);
		return ebpfaccel__err_ptr(err);
	}
	return c;
}

void rconn__free(struct rconn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* Reads @want bytes into @out: first what @c buffered, then the socket. */
static int rconn_read_into(struct rconn *c, char *out, size_t want)
{
	size_t have = c->len - c->start, got = have < want ? have : want;

	memcpy(out, c->buf + c->start, got);
	c->start += got;
	while (got < want) {
		ssize_t n;

		if (rconn_fill(c, RCONN_TIMEOUT_MS) < 0)
			return -ETIMEDOUT;
		n = c->len - c->start < want - got ? c->len - c->start : want - got;
		memcpy(out + got, c->buf + c->start, n);
		c->start += n;
		got += n;
	}
	c->scan = c->start;
	return 0;
}

int rconn__bulk_alloc(struct rconn *c, size_t max, char **out, size_t *len)
{
	char *nl, *end;
	long long n;
	int err;

	*out = NULL;
	if (c->scan != c->start)
		return -EBUSY;	/* the scanner is inside an element */
	while (!(nl = memchr(c->buf + c->start, '\n', c->len - c->start)))
		if ((err = rconn_fill(c, RCONN_TIMEOUT_MS)))
			return err;
	if (c->buf[c->start] != '$')
		return -EPROTO;
	n = strtoll(c->buf + c->start + 1, &end, 10);
	if (n < 0 || (size_t)n > max || end + 2 != nl + 1)
		return n > 0 ? -E2BIG : -EPROTO;
	c->start = nl + 1 - c->buf;
	*out = malloc(n + 2);
	if (!*out)
		return -ENOMEM;
	err = rconn_read_into(c, *out, n + 2);
	if (err) {
		free(*out);
		*out = NULL;
		return err;
	}
	(*out)[n] = 0;
	*len = n;
	return 0;
}
