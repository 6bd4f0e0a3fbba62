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
 * (a p50 of "0.015" is anything from 8 to 15 µs). It also prints, first, the
 * p50 of each system call of the timed window, to say where a GET's time
 * goes.
 *
 * -f (implies -l): the loop's floor. No Redis: the GET is formatted as
 * before, but the write puts its reply into the peer of a unix socketpair
 * whose other end the loop watches, so the reply is readable when write()
 * returns and costs nothing to make. The same system calls, with no TCP, no
 * cache and no server: what an event-loop GET costs on this host at best.
 *
 *   redis_sync_get -h HOST -p PORT -n GETS -r KEYS -k PREFIX (-e VALUE | -E) [-l]
 *   redis_sync_get -f -n GETS -r KEYS -k PREFIX (-e VALUE | -E)
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conf {
	const char *host, *prefix, *value;
	int port, keys;
	long gets;
	int expect_nil;
	int event_loop;
	int floor;		/* -f: answers from a socketpair */
	int peer;		/* -f: the end the replies are written into */
	char *reply;		/* -f: the reply every GET gets */
	size_t reply_len;
};

/* The system calls of -l's timed window, in order; each GET's µs in each
 * ("write" includes hiredis formatting the GET). Timing them adds four vDSO
 * clock reads (tens of ns) to every window, plain, near and floor alike. */
enum step { ST_WRITE, ST_DEL, ST_ADD, ST_WAIT, ST_READ, ST_GET, ST_MAX };

static const char *const step_names[ST_MAX] = {
	"write", "epoll_ctl(DEL)", "epoll_ctl(ADD)", "epoll_wait", "read",
	"GET",	/* the whole timed window, at the µs resolution the CSV lacks */
};

static void usage(void)
{
	fprintf(stderr, "usage: redis_sync_get -h HOST -p PORT -n GETS -r KEYS -k PREFIX (-e VALUE | -E) [-l]\n"
			"       redis_sync_get -f -n GETS -r KEYS -k PREFIX (-e VALUE | -E)\n");
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

	while ((o = getopt(argc, argv, "h:p:n:r:k:e:Elf")) != -1) {
		switch (o) {
		case 'h': c->host = optarg; break;
		case 'p': c->port = number(optarg, 1); break;
		case 'n': c->gets = number(optarg, 1); break;
		case 'r': c->keys = number(optarg, 1); break;
		case 'k': c->prefix = optarg; break;
		case 'e': c->value = optarg; break;
		case 'E': c->expect_nil = 1; break;
		case 'l': c->event_loop = 1; break;
		case 'f': c->floor = c->event_loop = 1; break;
		default: usage();
		}
	}
	if (!c->floor == !(c->host && c->port) || !c->gets || !c->keys || !c->prefix ||
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

/* µs since *@t, which moves to now. */
static double lap(double *t)
{
	double t1 = now_us(), d = t1 - *t;

	*t = t1;
	return d;
}

/* Writes GET @key: to Redis, or (-f) its reply into the socketpair's peer. */
static int send_get(redisContext *rc, const struct conf *c, const char *key)
{
	int done = 0;
	char *cmd;

	if (c->floor) {
		/* formatted all the same, so the floor has hiredis' work too */
		if (redisFormatCommand(&cmd, "GET %s", key) < 0)
			return -1;
		redisFreeCommand(cmd);
		return write(c->peer, c->reply, c->reply_len) == (ssize_t)c->reply_len ? 0 : -1;
	}
	if (redisAppendCommand(rc, "GET %s", key) != REDIS_OK)
		return -1;
	while (!done)
		if (redisBufferWrite(rc, &done) != REDIS_OK)
			return -1;
	return 0;
}

/* One GET of @key through the loop; its reply into *@r (NULL on error),
 * its time into *@lat and each system call's into @steps. */
static void loop_get(redisContext *rc, const struct conf *c, int ep, const char *key,
		     redisReply **r, double *lat, double *steps)
{
	void *reply = NULL;
	double t0, t;

	*r = NULL;
	/* redis-benchmark's resetClient(): drop the read interest (one call
	 * per bit), ask for writability */
	if (interest(ep, rc->fd, EPOLLIN, EPOLLIN) || interest(ep, rc->fd, EPOLLIN, 0) ||
	    interest(ep, rc->fd, 0, EPOLLOUT) || wait_for(ep, EPOLLOUT))
		return;
	t0 = t = now_us();
	if (send_get(rc, c, key))
		return;
	steps[ST_WRITE] = lap(&t);
	/* its writeHandler(): write done, wait for the reply */
	if (interest(ep, rc->fd, EPOLLOUT, 0))
		return;
	steps[ST_DEL] = lap(&t);
	if (interest(ep, rc->fd, 0, EPOLLIN))
		return;
	steps[ST_ADD] = lap(&t);
	steps[ST_WAIT] = steps[ST_READ] = 0;
	do {
		if (wait_for(ep, EPOLLIN))
			return;
		steps[ST_WAIT] += lap(&t);
		if (redisBufferRead(rc) != REDIS_OK ||
		    redisGetReplyFromReader(rc, &reply) != REDIS_OK)
			return;
		steps[ST_READ] += lap(&t);
	} while (!reply);
	*lat = steps[ST_GET] = t - t0;
	*r = reply;
}

/* -l: as run(), through the event loop. */
static int run_loop(redisContext *rc, const struct conf *c, double *lat, double *steps)
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
		loop_get(rc, c, ep, key, &r, &lat[i], &steps[i * ST_MAX]);
		err = check(rc, c, key, r);
	}
	close(ep);
	return err;
}

/* -l: "# p50 us: write W epoll_ctl(DEL) D ... GET G" (sorts @steps'
 * columns). */
static void report_steps(double *steps, long n)
{
	double *col = malloc(n * sizeof(*col));

	if (!col)
		return;
	printf("# p50 us:");
	for (int j = 0; j < ST_MAX; j++) {
		for (long i = 0; i < n; i++)
			col[i] = steps[i * ST_MAX + j];
		qsort(col, n, sizeof(*col), cmp_double);
		printf(" %s %.2f", step_names[j], col[n / 2]);
	}
	printf("\n");
	free(col);
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

/* -f: the loop's end of a socketpair, and the reply every GET gets. */
static redisContext *connect_floor(struct conf *c)
{
	int sv[2];
	redisContext *rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return NULL;
	c->peer = sv[1];
	if (c->expect_nil)
		c->reply = strdup("$-1\r\n");
	else if (asprintf(&c->reply, "$%zu\r\n%s\r\n", strlen(c->value), c->value) < 0)
		c->reply = NULL;
	if (!c->reply)
		return NULL;
	c->reply_len = strlen(c->reply);
	rc = redisConnectFd(sv[0]);
	if (!rc)
		close(sv[0]);
	return rc;
}

int main(int argc, char **argv)
{
	struct conf c = { .peer = -1 };
	redisContext *rc;
	double *lat, *steps, t0;
	int err;

	parse(argc, argv, &c);
	lat = calloc(c.gets, sizeof(*lat));
	steps = calloc(c.gets * ST_MAX, sizeof(*steps));
	if (!lat || !steps) {
		perror("redis_sync_get");
		return 1;
	}
	rc = c.floor ? connect_floor(&c) : redisConnect(c.host, c.port);
	if (!rc || rc->err) {
		if (c.floor)
			perror("redis_sync_get: socketpair");
		else
			fprintf(stderr, "redis_sync_get: connect %s:%d: %s\n", c.host, c.port,
				rc ? rc->errstr : "out of memory");
		return 1;
	}
	t0 = now_us();
	err = c.event_loop ? run_loop(rc, &c, lat, steps) : run(rc, &c, lat);
	if (!err) {
		if (c.event_loop)
			report_steps(steps, c.gets);
		report(lat, c.gets, now_us() - t0);
	}
	redisFree(rc);
	if (c.peer >= 0)
		close(c.peer);
	free(c.reply);
	free(steps);
	free(lat);
	return err ? 1 : 0;
}
