/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The library's own RESP client: blocking connections with bounded waits that
 * split their input into top-level elements with the scanner the kernel uses.
 * Internal to lib/redis/.
 */
#ifndef EBPFACCEL_REDIS_RCONN_H
#define EBPFACCEL_REDIS_RCONN_H

#include <stddef.h>
#include <linux/types.h>

#include "redis/redis_cache.h"

#define RCONN_TIMEOUT_MS 2000

/* Called for each invalidation inside a push (RESP_INV_KEY with the key in
 * p->cap, or RESP_INV_ALL) as it is scanned. */
typedef void (*rconn_push_fn)(void *ctx, const struct resp_rep *p, int ev);

struct rconn {
	int fd;
	struct resp_rep p;
	rconn_push_fn on_push;
	void *push_ctx;
	size_t len;		/* bytes in buf */
	size_t scan;		/* bytes of buf scanned */
	size_t start;		/* start of the element being scanned */
	char buf[65536];
};

/* Told the local port of a connection before its handshake starts, for
 * programs that recognise the connection by it. */
typedef void (*rconn_bound_fn)(void *ctx, __u16 local_port);

/* A new connection to @host:@port (@bound, if not NULL, is called between
 * bind and connect). NULL and errno on failure. */
struct rconn *rconn__connect(const char *host, __u16 port, rconn_bound_fn bound,
			     void *ctx);
void rconn__free(struct rconn *c);

/* Sends one command of @argc arguments (@lens NULL: C strings). */
int rconn__command(struct rconn *c, int argc, const char *const *argv,
		   const size_t *lens);

/* The same, held back until the next rconn__command(): commands sent
 * together reach Redis in one segment and are read in one go. */
int rconn__command_more(struct rconn *c, int argc, const char *const *argv,
			const size_t *lens);

/* The next top-level element: returns its type byte ('>' for a push) and
 * points *@text at its raw bytes (valid until the next call), or -errno
 * (-ETIMEDOUT when nothing complete arrived within @timeout_ms). */
int rconn__next(struct rconn *c, const char **text, size_t *len, int timeout_ms);

/* The next reply, skipping (but applying) pushes. */
int rconn__reply(struct rconn *c, const char **text, size_t *len);

/* The next reply, a bulk string of up to @max bytes (larger than the
 * connection's buffer), into a new NUL-terminated *@out the caller frees.
 * Only between replies: nothing of an element may be scanned yet. */
int rconn__bulk_alloc(struct rconn *c, size_t max, char **out, size_t *len);

/* The next reply must be of type @want ('%' also takes '*'); logs @what. */
int rconn__expect(struct rconn *c, const char *what, char want);

#endif /* EBPFACCEL_REDIS_RCONN_H */
