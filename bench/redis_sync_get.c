// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Benchmark client for bench/redis_near: one connection doing blocking GETs
 * one at a time with hiredis' redisCommand(), as a synchronous application
 * does (no event loop: a write, then a read that waits for the reply). Each
 * GET is timed alone; every reply is checked against the value the bench
 * stored, so a fast wrong answer fails the run instead of counting.
 *
 *   redis_sync_get -h HOST -p PORT -n GETS -r KEYS -k PREFIX (-e VALUE | -E)
 *
 * Keys are PREFIX followed by a random n < KEYS in 12 digits, as
 * redis-benchmark's __rand_int__ makes them. -e: every reply is VALUE;
 * -E: every reply is nil. Prints one line in redis-benchmark's --csv shape:
 * "GET","rps","avg_ms","min_ms","p50_ms","p95_ms","p99_ms","max_ms".
 */
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct conf {
	const char *host, *prefix, *value;
	int port, keys;
	long gets;
	int expect_nil;
};

static void usage(void)
{
	fprintf(stderr, "usage: redis_sync_get -h HOST -p PORT -n GETS -r KEYS -k PREFIX (-e VALUE | -E)\n");
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

	while ((o = getopt(argc, argv, "h:p:n:r:k:e:E")) != -1) {
		switch (o) {
		case 'h': c->host = optarg; break;
		case 'p': c->port = number(optarg, 1); break;
		case 'n': c->gets = number(optarg, 1); break;
		case 'r': c->keys = number(optarg, 1); break;
		case 'k': c->prefix = optarg; break;
		case 'e': c->value = optarg; break;
		case 'E': c->expect_nil = 1; break;
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

/* Runs the GETs, one latency (µs) each into @lat; 0 or -1 on a wrong or
 * failed reply (said on stderr). */
static int run(redisContext *rc, const struct conf *c, double *lat)
{
	unsigned int seed = 1;

	for (long i = 0; i < c->gets; i++) {
		char key[64];
		redisReply *r;
		double t0;
		int ok;

		snprintf(key, sizeof(key), "%s%012d", c->prefix,
			 rand_r(&seed) % c->keys);
		t0 = now_us();
		r = redisCommand(rc, "GET %s", key);
		lat[i] = now_us() - t0;
		if (!r) {
			fprintf(stderr, "redis_sync_get: GET %s: %s\n", key, rc->errstr);
			return -1;
		}
		ok = reply_ok(c, r);
		freeReplyObject(r);
		if (!ok) {
			fprintf(stderr, "redis_sync_get: GET %s: wrong reply\n", key);
			return -1;
		}
	}
	return 0;
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
	err = run(rc, &c, lat);
	if (!err)
		report(lat, c.gets, now_us() - t0);
	redisFree(rc);
	free(lat);
	return err ? 1 : 0;
}
