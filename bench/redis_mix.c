// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Benchmark client for bench/redis_get: long-lived connections GET small keys
 * one after the other, as a pooled application does, and with EVERY > 0 each
 * connection reads a large value every EVERY requests (a big hash or JSON
 * document now and then). Prints how many GETs of small keys reached Redis
 * (from INFO commandstats) and so the share the kernel answered: the hit rate.
 *
 *   redis_mix PORT CONNS GETS_PER_CONN KEYS EVERY LARGE_KEY
 *
 * Keys are "key:<n>" for n < KEYS, values as redis-benchmark's -r leaves
 * them; the large value is read whole and its length checked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tests/resp_io.h"

struct conf {
	int port, conns, gets, keys, every;
	const char *large;
};

struct worker {
	const struct conf *c;
	pthread_t t;
	unsigned int seed;
	long small, large, errors;
};

static int conn_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* GET @key; returns the value's length (-1 for a null), -2 on error. The
 * value is read into @buf (or discarded in pieces past @cap). */
static long get(int fd, const char *key, char *buf, size_t cap)
{
	char req[256], line[64];
	int rl = snprintf(req, sizeof(req), "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n",
			  strlen(key), key);
	long len;

	if (rcc_send(fd, req, rl) || rcc_read_line(fd, line, sizeof(line)) || line[0] != '$')
		return -2;
	len = strtol(line + 1, NULL, 10);
	if (len < 0)
		return -1;
	for (long left = len + 2; left > 0;) {
		size_t n = (size_t)left < cap ? (size_t)left : cap;

		if (rcc_read_exact(fd, buf, n))
			return -2;
		left -= n;
	}
	return len;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	const struct conf *c = w->c;
	size_t cap = 1 << 16;
	char *buf = malloc(cap), key[32];
	int fd = conn_open(c->port);

	if (fd < 0 || !buf) {
		w->errors++;
		goto out;
	}
	for (int i = 1; i <= c->gets; i++) {
		if (c->every > 0 && i % c->every == 0) {
			if (get(fd, c->large, buf, cap) < 0)
				w->errors++;
			w->large++;
			continue;
		}
		snprintf(key, sizeof(key), "key:%012d", rand_r(&w->seed) % c->keys);
		if (get(fd, key, buf, cap) < -1)
			w->errors++;
		w->small++;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Redis' own count of GET calls, on a connection of its own. */
static long get_calls(int port)
{
	const char *req = "*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n";
	char line[64], *body, *p;
	long len, calls = -1;
	int fd = conn_open(port);

	if (fd < 0 || rcc_send(fd, req, strlen(req)) || rcc_read_line(fd, line, sizeof(line)))
		goto out;
	len = strtol(line + 1, NULL, 10);
	body = malloc(len + 3);
	if (body && !rcc_read_exact(fd, body, len + 2)) {
		body[len + 2] = 0;
		p = strstr(body, "cmdstat_get:calls=");
		calls = p ? strtol(p + strlen("cmdstat_get:calls="), NULL, 10) : 0;
	}
	free(body);
out:
	if (fd >= 0)
		close(fd);
	return calls;
}

int main(int argc, char **argv)
{
	struct conf c;
	struct worker *w;
	long small = 0, large = 0, errors = 0, before, after;

	if (argc != 7) {
		fprintf(stderr, "usage: %s PORT CONNS GETS_PER_CONN KEYS EVERY LARGE_KEY\n", argv[0]);
		return 2;
	}
	c = (struct conf){ atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), atoi(argv[4]),
			   atoi(argv[5]), argv[6] };
	if (c.conns <= 0 || c.gets <= 0 || c.keys <= 0) {
		fprintf(stderr, "redis_mix: CONNS, GETS_PER_CONN and KEYS must be > 0\n");
		return 2;
	}
	w = calloc(c.conns, sizeof(*w));
	before = get_calls(c.port);
	if (!w || before < 0) {
		fprintf(stderr, "redis_mix: cannot reach Redis on port %d\n", c.port);
		return 1;
	}
	for (int i = 0; i < c.conns; i++) {
		w[i] = (struct worker){ .c = &c, .seed = 1 + i };
		pthread_create(&w[i].t, NULL, work, &w[i]);
	}
	for (int i = 0; i < c.conns; i++) {
		pthread_join(w[i].t, NULL);
		small += w[i].small;
		large += w[i].large;
		errors += w[i].errors;
	}
	after = get_calls(c.port);
	if (errors || after < 0) {
		fprintf(stderr, "redis_mix: %ld errors\n", errors);
		return 1;
	}
	/* small GETs that reached Redis: all GETs it counted but the large */
	printf("small %ld large %ld redis_small %ld hit_rate %.4f\n", small, large,
	       after - before - large,
	       small ? 1.0 - (double)(after - before - large) / small : 0.0);
	free(w);
	return 0;
}
