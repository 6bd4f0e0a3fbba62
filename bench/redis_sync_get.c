// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Benchmark client for bench/redis_near: one connection doing blocking GETs
 * one at a time with hiredis' redisCommand(), as a synchronous application
 * does (no event loop: a write, then a read that waits for the reply). Each
 * GET is timed alone; every reply is checked against the value the bench
 * stored, so a fast wrong answer fails the run instead of counting.
 *
 * -l: the same GETs, one at a time, through an epoll loop making the
 * system calls redis-benchmark's ae loop makes per request (five
 * epoll_ctl, two epoll_wait, a write and a read; strace -c counts them),
 * each GET timed as redis-benchmark times it (from before its write to its
 * whole reply) but with the clock's resolution: redis-benchmark's own
 * histogram counts below 16 ms in 8 µs buckets and reports a bucket's top
 * (a p50 of "0.015" is anything from 8 to 15 µs).
 *
 *   redis_sync_get -h HOST -p PORT -n GETS -r KEYS -k PREFIX (-e VALUE | -E) [-l]
 *
 * Keys are PREFIX followed by a random n < KEYS in 12 digits, as
 * redis-benchmark's __rand_int__ makes them. -e: every reply is VALUE;
 * -E: every reply is nil. Prints one line in redis-benchmark's --csv shape:
 * "GET","rps","avg_ms","min_ms","p50_ms","p95_ms","p99_ms","max_ms".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct conf {
	const char *host, *prefix, *value;
	int port, keys;
	long gets;
	int expect_nil;
	int event_loop;
};

static void usage(void)
{
	fprintf(stderr, "usage: redis_sync_get -h HOST -p PORT -n GETS -r KEYS -k PREFIX (-e VALUE | -E) [-l]\n");
	exit(2);
}

static long number(const char *s, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min)
		usage();
	return v;
}

static void parse(int argc, char **argv, struct conf *c)
{
	int o;

	while ((o = getopt(argc, argv, "h:p:n:r:k:e:El")) != -1) {
		switch (o) {
		case 'h': c->host = optarg; break;
		case 'p': c->port = number(optarg, 1); break;
		case 'n': c->gets = number(optarg, 1); break;
		case 'r': c->keys = number(optarg, 1); break;
		case 'k': c->prefix = optarg; break;
		case 'e': c->value = optarg; break;
		case 'E': c->expect_nil = 1; break;
		case 'l': c->event_loop = 1; break;
		default: usage();
		}
	}
	if (!c->host || !c->port || !c->gets || !c->keys || !c->prefix ||
	    !c->value == !c->expect_nil || optind != argc)
		usage();
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Whether @r is the reply the bench stored for every key of the run. */
static int reply_ok(const struct conf *c, const redisReply *r)
{
	if (c->expect_nil)
		return r->type == REDIS_REPLY_NIL;
	return r->type == REDIS_REPLY_STRING && r->len == strlen(c->value) &&
	       !memcmp(r->str, c->value, r->len);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Checks and frees GET @key's reply @r; 0 or -1 (said on stderr). */
static int check(redisContext *rc, const struct conf *c, const char *key,
		 redisReply *r)
{
	int ok;

	if (!r) {
		fprintf(stderr, "redis_sync_get: GET %s: %s\n", key,
			rc->err ? rc->errstr : "no reply");
		return -1;
	}
	ok = reply_ok(c, r);
	freeReplyObject(r);
	if (!ok) {
		fprintf(stderr, "redis_sync_get: GET %s: wrong reply\n", key);
		return -1;
	}
	return 0;
}

static void next_key(const struct conf *c, unsigned int *seed, char *key, size_t size)
{
	snprintf(key, size, "%s%012d", c->prefix, rand_r(seed) % c->keys);
}

/* Runs the GETs, one latency (µs) each into @lat; 0 or -1 on a wrong or
 * failed reply (said on stderr). */
static int run(redisContext *rc, const struct conf *c, double *lat)
{
	unsigned int seed = 1;

	for (long i = 0; i < c->gets; i++) {
		char key[64];
		redisReply *r;
		double t0;

		next_key(c, &seed, key, sizeof(key));
		t0 = now_us();
		r = redisCommand(rc, "GET %s", key);
		lat[i] = now_us() - t0;
		if (check(rc, c, key, r))
			return -1;
	}
	return 0;
}

/* epoll_ctl() as ae's aeCreateFileEvent()/aeDeleteFileEvent() issue it:
 * @from is the interest registered, @to the one wanted. */
static int interest(int ep, int fd, uint32_t from, uint32_t to)
{
	struct epoll_event ev = { .events = to, .data.fd = fd };
	int op = !from ? EPOLL_CTL_ADD : !to ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;

	return epoll_ctl(ep, op, fd, &ev);
}

static int wait_for(int ep, uint32_t events)
{
	struct epoll_event ev;
	int n;

	do
		n = epoll_wait(ep, &ev, 1, -1);
	while (n < 0 && errno == EINTR);
	return n == 1 && (ev.events & (events | EPOLLERR | EPOLLHUP)) ? 0 : -1;
}

/* One GET of @key through the loop; its reply into *@r (NULL on error). */
static void loop_get(redisContext *rc, int ep, const char *key, redisReply **r,
		     double *lat)
{
	void *reply = NULL;
	double t0;
	int done = 0;

	*r = NULL;
	/* redis-benchmark's resetClient(): drop the read interest (one call
	 * per bit), ask for writability */
	if (interest(ep, rc->fd, EPOLLIN, EPOLLIN) || interest(ep, rc->fd, EPOLLIN, 0) ||
	    interest(ep, rc->fd, 0, EPOLLOUT) || wait_for(ep, EPOLLOUT))
		return;
	t0 = now_us();
	if (redisAppendCommand(rc, "GET %s", key) != REDIS_OK)
		return;
	while (!done)
		if (redisBufferWrite(rc, &done) != REDIS_OK)
			return;
	/* its writeHandler(): write done, wait for the reply */
	if (interest(ep, rc->fd, EPOLLOUT, 0) || interest(ep, rc->fd, 0, EPOLLIN))
		return;
	do {
		if (wait_for(ep, EPOLLIN) || redisBufferRead(rc) != REDIS_OK ||
		    redisGetReplyFromReader(rc, &reply) != REDIS_OK)
			return;
	} while (!reply);
	*lat = now_us() - t0;
	*r = reply;
}

/* -l: as run(), through the event loop. */
static int run_loop(redisContext *rc, const struct conf *c, double *lat)
{
	unsigned int seed = 1;
	int ep, err = 0;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || fcntl(rc->fd, F_SETFL, fcntl(rc->fd, F_GETFL) | O_NONBLOCK) ||
	    interest(ep, rc->fd, 0, EPOLLIN)) {
		perror("redis_sync_get: epoll");
		if (ep >= 0)
			close(ep);
		return -1;
	}
	rc->flags &= ~REDIS_BLOCK;
	for (long i = 0; i < c->gets && !err; i++) {
		char key[64];
		redisReply *r;

		next_key(c, &seed, key, sizeof(key));
		loop_get(rc, ep, key, &r, &lat[i]);
		err = check(rc, c, key, r);
	}
	close(ep);
	return err;
}

static void report(double *lat, long n, double wall_us)
{
	double sum = 0;

	for (long i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("\"GET\",\"%.2f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\"\n",
	       n / (wall_us / 1e6), sum / n / 1e3, lat[0] / 1e3, lat[n / 2] / 1e3,
	       lat[n * 95 / 100] / 1e3, lat[n * 99 / 100] / 1e3, lat[n - 1] / 1e3);
}

int main(int argc, char **argv)
{
	struct conf c = { 0 };
	redisContext *rc;
	double *lat, t0;
	int err;

	parse(argc, argv, &c);
	lat = calloc(c.gets, sizeof(*lat));
	if (!lat) {
		perror("redis_sync_get");
		return 1;
	}
	rc = redisConnect(c.host, c.port);
	if (!rc || rc->err) {
		fprintf(stderr, "redis_sync_get: connect %s:%d: %s\n", c.host, c.port,
			rc ? rc->errstr : "out of memory");
		return 1;
	}
	t0 = now_us();
	err = c.event_loop ? run_loop(rc, &c, lat) : run(rc, &c, lat);
	if (!err)
		report(lat, c.gets, now_us() - t0);
	redisFree(rc);
	free(lat);
	return err ? 1 : 0;
}
