/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Raw RESP clients for the Redis cache tests: exact bytes out, exact bytes
 * back, with timeouts, so a wrong, missing or late reply fails the test. */
#ifndef REDIS_CACHE_CLIENT_H
#define REDIS_CACHE_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixtures.h"
#include "resp_io.h"

/* A TCP connection (TCP_NODELAY) to @sa made inside @ns; -errno on failure. */
static inline int rcc_connect_sa(struct fx_netns *ns, const struct sockaddr *sa, socklen_t len)
{
	int fd = fx_socket_in(ns, sa->sa_family, SOCK_STREAM), one = 1;

	if (fd < 0)
		return fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* A TCP connection to @ip4:@port made inside @ns; -errno on failure. */
static inline int rcc_connect_to(struct fx_netns *ns, const char *ip4, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	if (inet_pton(AF_INET, ip4, &sin.sin_addr) != 1)
		return -EINVAL;
	return rcc_connect_sa(ns, (struct sockaddr *)&sin, sizeof(sin));
}

/* A TCP connection to [@ip6]:@port made inside @ns; -errno on failure. */
static inline int rcc_connect_to6(struct fx_netns *ns, const char *ip6, int port)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	if (inet_pton(AF_INET6, ip6, &sin6.sin6_addr) != 1)
		return -EINVAL;
	return rcc_connect_sa(ns, (struct sockaddr *)&sin6, sizeof(sin6));
}

/* A TCP connection to 127.0.0.1:@port made inside @ns; -errno on failure. */
static inline int rcc_connect(struct fx_netns *ns, int port)
{
	return rcc_connect_to(ns, "127.0.0.1", port);
}

/* True if nothing more arrives within @ms. */
static inline int rcc_quiet(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, ms) <= 0)
		return 1;
	return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0 && errno == EAGAIN;
}

/* Sends @req and checks the reply is exactly @want (both binary-safe). */
static inline int rcc_roundtrip(int fd, const void *req, size_t req_len,
			 const void *want, size_t want_len)
{
	char *got = malloc(want_len + 1);
	int ok;

	if (!got || rcc_send(fd, req, req_len) || rcc_read_exact(fd, got, want_len)) {
		fprintf(stderr, "no complete reply within %d ms of silence (want '%.*s')\n",
			rcc_read_timeout_ms, (int)want_len, (const char *)want);
		free(got);
		return 0;
	}
	ok = !memcmp(got, want, want_len);
	if (!ok)
		fprintf(stderr, "reply mismatch: got '%.*s' want '%.*s'\n",
			(int)want_len, got, (int)want_len, (const char *)want);
	free(got);
	return ok;
}

/* Encodes a command of @argc binary-safe arguments into @out. */
static inline size_t rcc_encode(char *out, size_t cap, int argc, const char *const *argv,
			 const size_t *lens)
{
	size_t at = snprintf(out, cap, "*%d\r\n", argc);

	for (int i = 0; i < argc; i++) {
		size_t l = lens ? lens[i] : strlen(argv[i]);

		at += snprintf(out + at, cap - at, "$%zu\r\n", l);
		if (at + l + 2 > cap)
			abort();
		memcpy(out + at, argv[i], l);
		memcpy(out + at + l, "\r\n", 2);
		at += l + 2;
	}
	return at;
}

/* GET @key must answer "$len\r\nvalue\r\n" (or "$-1\r\n" for NULL). */
static inline int rcc_get_is(int fd, const char *key, const char *value)
{
	const char *argv[] = { "GET", key };
	size_t cap = (value ? strlen(value) : 0) + 32, rl, wl;
	char req[512], *want = malloc(cap);
	int ok;

	if (!want)
		return 0;
	rl = rcc_encode(req, sizeof(req), 2, argv, NULL);
	if (value)
		wl = snprintf(want, cap, "$%zu\r\n%s\r\n", strlen(value), value);
	else
		wl = snprintf(want, cap, "$-1\r\n");
	ok = rcc_roundtrip(fd, req, rl, want, wl);
	free(want);
	return ok;
}

static inline int rcc_ok(int fd, int argc, const char *const *argv)
{
	char req[16384];
	size_t rl = rcc_encode(req, sizeof(req), argc, argv, NULL);

	return rcc_roundtrip(fd, req, rl, "+OK\r\n", 5);
}

/* Sends @req; the reply must be one line starting with @prefix. */
static inline int rcc_line(int fd, const void *req, size_t req_len, const char *prefix)
{
	char line[512];

	if (rcc_send(fd, req, req_len) || rcc_read_line(fd, line, sizeof(line)))
		return 0;
	if (strncmp(line, prefix, strlen(prefix))) {
		fprintf(stderr, "line mismatch: got '%s' want '%s...'\n", line, prefix);
		return 0;
	}
	return 1;
}

/* Sends COMMAND DOCS (what redis-cli asks at connect: a reply nested deeper
 * than any fixed stack) and an ECHO of a marker behind it, and reads up to
 * the marker's reply: the bytes of COMMAND DOCS' reply, 0 on a timeout (5 s
 * without a byte: TCG guests are slow). */
static inline size_t rcc_command_docs(int fd)
{
	static const char req[] = "*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n"
		"*2\r\n$4\r\nECHO\r\n$16\r\n<end-of-docs-4f>\r\n";
	static const char end[] = "$16\r\n<end-of-docs-4f>\r\n";
	char buf[65536 + sizeof(end)];
	size_t total = 0, kept = 0, n = sizeof(end) - 1;

	if (rcc_send(fd, req, sizeof(req) - 1))
		return 0;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t got;

		if (poll(&pfd, 1, 5000) <= 0 ||
		    (got = recv(fd, buf + kept, sizeof(buf) - kept, 0)) <= 0) {
			fprintf(stderr, "COMMAND DOCS: no end after %zu bytes\n", total);
			return 0;
		}
		kept += got;
		total += got;
		if (kept >= n && !memcmp(buf + kept - n, end, n))
			return total - n;
		/* keep what could be the start of the marker */
		if (kept > n) {
			memmove(buf, buf + kept - n, n);
			kept = n;
		}
	}
}

/* EVAL returning @levels nested one-element tables around 1, then GET
 * @key, in one write: both replies must be byte-exact. */
static inline int rcc_nested_then_get(int fd, int levels, const char *key,
			       const char *value)
{
	static char req[1024], want[16384];
	char script[128];
	const char *get[] = { "GET", key };
	const char *eval[] = { "EVAL", script, "0" };
	size_t rl, wl = 0;

	if (levels < 0 || (size_t)levels * 4 + strlen(value) + 32 > sizeof(want))
		return 0;
	snprintf(script, sizeof(script),
		 "local t = 1 for i = 1, %d do t = {t} end return t", levels);
	rl = rcc_encode(req, sizeof(req), 3, eval, NULL);
	rl += rcc_encode(req + rl, sizeof(req) - rl, 2, get, NULL);
	for (int i = 0; i < levels; i++)
		wl += sprintf(want + wl, "*1\r\n");
	wl += sprintf(want + wl, ":1\r\n$%zu\r\n%s\r\n", strlen(value), value);
	return rcc_roundtrip(fd, req, rl, want, wl);
}

/* Deeply nested replies on @fd: COMMAND DOCS, then EVALs nesting 1-24
 * levels (around the reply scanner's stack and its old limit of 8) and
 * 300, each followed by GET @key and GET @other. A reply end the scanner
 * lost would pair each later reply with the request before it and fill
 * @key with @other's value. */
static inline int rcc_deep_replies(int fd, const char *key, const char *value,
			    const char *other, const char *ovalue)
{
	size_t docs = rcc_command_docs(fd);

	if (docs < 100000) {
		fprintf(stderr, "COMMAND DOCS: %zu bytes, want over 100000\n", docs);
		return 0;
	}
	for (int levels = 1; levels <= 24; levels++)
		if (!rcc_nested_then_get(fd, levels, key, value) ||
		    !rcc_get_is(fd, other, ovalue))
			return 0;
	return rcc_nested_then_get(fd, 300, key, value) &&
	       rcc_get_is(fd, other, ovalue);
}

#endif
