// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Whether the sockmap programs see every connection a redis-server has and
 * will accept (lib/redis/seen.h). Per-key tracking is trusted only then
 * (docs/redis-cache.md, "Automatic tracking").
 *
 * Two facts, both read from the kernel through NETLINK_SOCK_DIAG:
 * - every TCP listener on the server's port is in the cgroup the programs
 *   are attached to (or below it), so every connection accepted from now on
 *   is taken in by rc_sockops;
 * - every client in Redis' CLIENT LIST is one of the server-side sockets
 *   the programs hold state for (rc_conns, by socket cookie), matched by
 *   its peer address. A client on the unix socket, on another port, or
 *   accepted before the attach is not.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/inet_diag.h>

#include <bpf/bpf.h>

#include "internal.h"
#include "redis/listener.h"
#include "redis/seen.h"

#define PEER_MAX	64	/* "ffff:...:ffff%scope port" fits */

struct seen_query {
	__u16 port;
	int cgroup_fd;
	int conns_fd;
	char *why;
	size_t why_sz;
	int verdict;		/* 1 so far; 0 unseen; -errno */
	char (*peers)[PEER_MAX];	/* peers of sockets the programs hold */
	size_t n, cap;
	struct rc_conn *conn;	/* a lookup's value */
};

static __attribute__((format(printf, 3, 4)))
void seen_fail(struct seen_query *q, int verdict, const char *fmt, ...)
{
	va_list ap;

	if (q->verdict != 1)
		return;
	q->verdict = verdict;
	va_start(ap, fmt);
	vsnprintf(q->why, q->why_sz, fmt, ap);
	va_end(ap);
}

/* "address port", the form both sides are reduced to */
static void peer_key(char *out, const char *ip, unsigned int port)
{
	snprintf(out, PEER_MAX, "%s %u", ip, port);
}

static void seen_listener(void *ctx, const struct inet_diag_msg *m, unsigned int len)
{
	struct seen_query *q = ctx;
	__u64 id;
	int in;

	if (ntohs(m->id.idiag_sport) != q->port)
		return;
	id = rc_diag_cgroup_id(m, len);
	in = id ? rc_cgroup_contains(q->cgroup_fd, id) : -EOPNOTSUPP;
	if (in < 0)
		seen_fail(q, in, "the cgroup of a listener on the port is unknown (%s)",
			  strerror(-in));
	else if (!in)
		seen_fail(q, 0, "a listener on the port is in another cgroup: its "
			  "connections are not taken in");
}

static int peers_grow(struct seen_query *q)
{
	size_t cap = q->cap ? 2 * q->cap : 256;
	void *p = realloc(q->peers, cap * sizeof(*q->peers));

	if (!p)
		return -ENOMEM;
	q->peers = p;
	q->cap = cap;
	return 0;
}

/* A server-side socket on the port: its peer counts as seen when the
 * programs hold its state. */
static void seen_socket(void *ctx, const struct inet_diag_msg *m, unsigned int len)
{
	struct seen_query *q = ctx;
	char ip[INET6_ADDRSTRLEN];
	__u64 cookie;

	(void)len;
	if (ntohs(m->id.idiag_sport) != q->port || q->verdict < 0)
		return;
	cookie = (__u64)m->id.idiag_cookie[1] << 32 | m->id.idiag_cookie[0];
	if (bpf_map_lookup_elem(q->conns_fd, &cookie, q->conn))
		return;		/* not held: its client will not match */
	if (q->conn->unprovable) {
		seen_fail(q, 0, "a connection whose writes may run with no reply "
			  "the programs can tie them to (pushes, a stream not "
			  "understood or more than %d requests in flight)", RC_SLOTS);
		return;
	}
	if (!inet_ntop(m->idiag_family, m->id.idiag_dst, ip, sizeof(ip)))
		return;
	if (q->n == q->cap && peers_grow(q)) {
		q->verdict = -ENOMEM;
		return;
	}
	peer_key(q->peers[q->n++], ip, ntohs(m->id.idiag_dport));
}

static int peer_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The value of " name=" in one CLIENT LIST line, up to the next space. */
static bool client_field(const char *line, const char *end, const char *name,
			 char *out, size_t sz)
{
	size_t n = strlen(name);
	const char *p = line, *v, *e;

	for (; p && p + n < end; p = memchr(p + 1, ' ', end - p - 1)) {
		v = p == line ? p : p + 1;
		if (!strncmp(v, name, n) && v[n] == '=')
			break;
	}
	if (!p || p + n >= end)
		return false;
	v = (p == line ? p : p + 1) + n + 1;
	e = memchr(v, ' ', end - v);
	if (!e)
		e = end;
	if ((size_t)(e - v) >= sz)
		return false;
	memcpy(out, v, e - v);
	out[e - v] = 0;
	return true;
}

/* "ip:port" or "[ip6]:port" as peer_key() writes it; false if not TCP. */
static bool client_peer(const char *addr, char *key, unsigned int *port)
{
	char ip[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(addr, ':');
	size_t n;

	if (!colon || addr[0] == '/')
		return false;
	n = colon - addr;
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (!n || n >= sizeof(ip))
		return false;
	memcpy(ip, addr, n);
	ip[n] = 0;
	*port = strtoul(colon + 1, NULL, 10);
	peer_key(key, ip, *port);
	return true;
}

static void seen_client(struct seen_query *q, const char *line, const char *end)
{
	char addr[PEER_MAX], laddr[PEER_MAX] = "", flags[32], key[PEER_MAX], lkey[PEER_MAX];
	unsigned int rport, lport = 0;

	if (!client_field(line, end, "addr", addr, sizeof(addr)) ||
	    !client_field(line, end, "flags", flags, sizeof(flags))) {
		seen_fail(q, 0, "CLIENT LIST not understood");
		return;
	}
	if (strchr(flags, 'U') || !client_peer(addr, key, &rport)) {
		seen_fail(q, 0, "a client on the unix socket (%s)", addr);
		return;
	}
	if (strchr(flags, 'M')) {
		seen_fail(q, 0, "a master link (%s)", addr);
		return;
	}
	if (!client_field(line, end, "laddr", laddr, sizeof(laddr)) ||
	    !client_peer(laddr, lkey, &lport) || lport != q->port) {
		seen_fail(q, 0, "a client on another port or address (laddr=%s)", laddr);
		return;
	}
	if (!q->n || !bsearch(key, q->peers, q->n, sizeof(*q->peers), peer_cmp))
		seen_fail(q, 0, "a connection the programs do not see (addr=%s; "
			  "accepted before the attach?)", addr);
}

static void seen_clients(struct seen_query *q, const char *clients, size_t len)
{
	const char *p = clients, *end = clients + len, *nl;

	qsort(q->peers, q->n, sizeof(*q->peers), peer_cmp);
	for (; p < end && q->verdict == 1; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		if (nl - p > 1)
			seen_client(q, p, nl[-1] == '\r' ? nl - 1 : nl);
	}
}

int rc_seen__check(const struct rc_seen *s, const char *clients, size_t len,
		   char *why, size_t why_sz)
{
	struct seen_query q = {
		.port = s->port, .cgroup_fd = s->cgroup_fd, .conns_fd = s->conns_fd,
		.why = why, .why_sz = why_sz, .verdict = 1,
	};
	/* every state a server-side connection Redis still holds can be in */
	__u32 conns = 1 << TCP_ESTABLISHED | 1 << TCP_CLOSE_WAIT | 1 << TCP_LAST_ACK |
		      1 << TCP_FIN_WAIT1 | 1 << TCP_FIN_WAIT2 | 1 << TCP_CLOSING;
	int err;

	q.conn = malloc(sizeof(*q.conn));
	if (!q.conn)
		return -ENOMEM;
	err = rc_diag_dump(1 << TCP_LISTEN, seen_listener, &q);
	if (!err && q.verdict == 1 && clients)
		err = rc_diag_dump(conns, seen_socket, &q);
	if (!err && q.verdict == 1 && clients)
		seen_clients(&q, clients, len);
	free(q.peers);
	free(q.conn);
	if (err) {
		snprintf(why, why_sz, "socket diagnostics failed: %s", strerror(-err));
		return err;
	}
	return q.verdict;
}
