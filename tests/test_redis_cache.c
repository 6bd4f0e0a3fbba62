// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The in-kernel Redis cache against a real redis-server 7 in a private netns
 * and cgroup, with real clients (raw sockets, redis-cli, redis-benchmark).
 * A hit is proven to come from the kernel when Redis' own INFO commandstats
 * shows no GET call for it and the cache's hit counter rose.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <ebpfaccel/ebpfaccel.h>
#include "redis_cache_client.h"

struct env {
	struct fx_netns *ns;
	struct fx_cgroup *cg;
	struct fx_redis *redis;
	struct ebpfaccel_redis_cache *rc;
	int port;
};

static void env_start(struct env *e, const char *const *conf, const char *password)
{
	__u16 port;
	int prev;

	fx_require_root();
	fx_require_program("/usr/bin/redis-server", "redis-server");
	fx_require_program("/usr/bin/redis-cli", "redis-cli");
	e->ns = fx_netns_new();
	ck_assert_ptr_nonnull(e->ns);
	e->cg = fx_cgroup_new();
	ck_assert_ptr_nonnull(e->cg);
	e->redis = fx_redis_start_cg(e->ns, e->cg, conf);
	ck_assert_ptr_nonnull(e->redis);
	e->port = fx_redis_port(e->redis);
	port = e->port;
	{
		LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_opts, opts,
			.ports = &port, .nr_ports = 1,
			.cgroup_path = fx_cgroup_path(e->cg),
			.redis_password = password);

		e->rc = ebpfaccel_redis_cache__open(&opts);
	}
	ck_assert_msg(e->rc, "open: %s", strerror(errno));
	prev = fx_netns_enter(e->ns);
	ck_assert_int_ge(prev, 0);
	ck_assert_int_eq(ebpfaccel_redis_cache__attach(e->rc), 0);
	ck_assert_int_eq(fx_netns_return(prev), 0);
	ck_assert_int_eq(ebpfaccel_redis_cache__serving(e->rc), 1);
}

static void env_stop(struct env *e)
{
	ebpfaccel_redis_cache__destroy(e->rc);
	fx_redis_stop(e->redis);
	fx_cgroup_free(e->cg);
	fx_netns_free(e->ns);
}

static struct ebpfaccel_redis_cache_stats stats(struct env *e)
{
	struct ebpfaccel_redis_cache_stats s;

	ck_assert_int_eq(ebpfaccel_redis_cache__stats(e->rc, &s, sizeof(s)), 0);
	return s;
}

/* Redis' own count of GET calls, read over the unix socket (never cached). */
static long get_calls(struct env *e)
{
	char *out = NULL;
	const char *p;
	long n = 0;

	ck_assert_int_eq(fx_run(e->ns, &out, "redis-cli -s %s INFO commandstats",
				fx_redis_unixsock(e->redis)), 0);
	p = strstr(out, "cmdstat_get:calls=");
	if (p)
		n = strtol(p + strlen("cmdstat_get:calls="), NULL, 10);
	free(out);
	return n;
}

static void cli_unix(struct env *e, const char *cmd)
{
	ck_assert_int_eq(fx_run(e->ns, NULL, "redis-cli -s %s %s >/dev/null",
				fx_redis_unixsock(e->redis), cmd), 0);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* GETs @key until it is served by the kernel (fill + TTL confirmation done);
 * fails after 2 s. */
static void warm(struct env *e, int fd, const char *key, const char *value)
{
	for (int i = 0; i < 200; i++) {
		long before = get_calls(e);

		ck_assert(rcc_get_is(fd, key, value));
		if (get_calls(e) == before)
			return;
		sleep_ms(10);
	}
	ck_abort_msg("key %s never served from the kernel", key);
}

START_TEST(hit_comes_from_kernel)
{
	struct env e = { 0 };
	struct ebpfaccel_redis_cache_stats s0, s1;
	const char *set[] = { "SET", "greeting", "hello world" };
	long calls;
	int fd;

	env_start(&e, NULL, NULL);
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	ck_assert(rcc_ok(fd, 3, set));
	warm(&e, fd, "greeting", "hello world");
	s0 = stats(&e);
	calls = get_calls(&e);
	for (int i = 0; i < 100; i++)
		ck_assert(rcc_get_is(fd, "greeting", "hello world"));
	s1 = stats(&e);
	ck_assert_int_eq(get_calls(&e), calls);
	ck_assert_uint_ge(s1.hits - s0.hits, 100);
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	env_stop(&e);
}
END_TEST

/* Writes through other TCP connections and the unix socket, EXPIRE and
 * FLUSHALL: the next GET never sees the old value. */
START_TEST(invalidated_by_other_writers)
{
	struct env e = { 0 };
	const char *set2[] = { "SET", "k", "two" };
	const char *set3[] = { "SET", "k", "three" };
	int fd, w;
	long calls;

	env_start(&e, NULL, NULL);
	fd = rcc_connect(e.ns, e.port);
	w = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(w, 0);
	cli_unix(&e, "SET k one");
	warm(&e, fd, "k", "one");
	ck_assert(rcc_ok(w, 3, set2));
	ck_assert(rcc_get_is(fd, "k", "two"));
	warm(&e, fd, "k", "two");
	cli_unix(&e, "SET k unix");
	ck_assert(rcc_get_is(fd, "k", "unix"));
	warm(&e, fd, "k", "unix");
	cli_unix(&e, "DEL k");
	ck_assert(rcc_get_is(fd, "k", NULL));
	ck_assert(rcc_ok(w, 3, set3));
	warm(&e, fd, "k", "three");
	cli_unix(&e, "PEXPIRE k 300");
	/* a key with a TTL is never served from the kernel */
	for (int i = 0; i < 10; i++) {
		calls = get_calls(&e);
		ck_assert(rcc_get_is(fd, "k", "three"));
		ck_assert_int_eq(get_calls(&e), calls + 1);
		sleep_ms(5);
	}
	sleep_ms(400);
	ck_assert(rcc_get_is(fd, "k", NULL));
	cli_unix(&e, "SET k four");
	warm(&e, fd, "k", "four");
	cli_unix(&e, "FLUSHALL");
	ck_assert(rcc_get_is(fd, "k", NULL));
	ck_assert_uint_ge(stats(&e).push_invalidations, 3);
	close(w);
	close(fd);
	env_stop(&e);
}
END_TEST

/* The same key in two databases: each connection sees its own. */
START_TEST(select_across_dbs)
{
	struct env e = { 0 };
	const char *sel1[] = { "SELECT", "1" };
	const char *sel0[] = { "SELECT", "0" };
	int a, b;

	env_start(&e, NULL, NULL);
	cli_unix(&e, "SET k zero");
	cli_unix(&e, "-n 1 SET k one");
	a = rcc_connect(e.ns, e.port);
	b = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	warm(&e, a, "k", "zero");
	ck_assert(rcc_ok(b, 2, sel1));
	for (int i = 0; i < 20; i++) {
		ck_assert(rcc_get_is(b, "k", "one"));
		ck_assert(rcc_get_is(a, "k", "zero"));
	}
	warm(&e, b, "k", "one");
	ck_assert(rcc_get_is(a, "k", "zero"));
	ck_assert(rcc_ok(b, 2, sel0));
	ck_assert(rcc_get_is(b, "k", "zero"));
	close(a);
	close(b);
	env_stop(&e);
}
END_TEST

/* A request split into 1-byte segments, many hits in one segment, and a
 * mixed pipeline: every reply exact and in order. */
START_TEST(split_and_pipelined)
{
	struct env e = { 0 };
	const char *get[] = { "GET", "pk" };
	const char *set[] = { "SET", "other", "x" };
	char req[4096], want[4096];
	size_t rl, one, wl = 0;
	struct ebpfaccel_redis_cache_stats s0, s1;
	long calls;
	int fd;

	env_start(&e, NULL, NULL);
	cli_unix(&e, "SET pk pipelined-value");
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	warm(&e, fd, "pk", "pipelined-value");
	one = rcc_encode(req, sizeof(req), 2, get, NULL);
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < one; i++) {
			ck_assert_int_eq(rcc_send(fd, req + i, 1), 0);
			sleep_ms(1);
		}
		ck_assert(rcc_roundtrip(fd, "", 0, "$15\r\npipelined-value\r\n", 22));
	}
	for (int i = 1; i < 16; i++)
		memcpy(req + i * one, req, one);
	s0 = stats(&e);
	calls = get_calls(&e);
	for (int i = 0; i < 16; i++)
		wl += snprintf(want + wl, sizeof(want) - wl, "$15\r\npipelined-value\r\n");
	ck_assert(rcc_roundtrip(fd, req, 16 * one, want, wl));
	s1 = stats(&e);
	ck_assert_int_eq(get_calls(&e), calls);
	ck_assert_uint_ge(s1.hits - s0.hits, 16);
	/* GET, SET, GET in one segment: Redis answers all three */
	rl = rcc_encode(req, sizeof(req), 2, get, NULL);
	rl += rcc_encode(req + rl, sizeof(req) - rl, 3, set, NULL);
	rl += rcc_encode(req + rl, sizeof(req) - rl, 2, get, NULL);
	ck_assert(rcc_roundtrip(fd, req, rl,
		"$15\r\npipelined-value\r\n+OK\r\n$15\r\npipelined-value\r\n", 49));
	ck_assert_int_eq(get_calls(&e), calls + 2);
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	env_stop(&e);
}
END_TEST

/* Keys and values with CR, LF and NUL bytes round-trip exactly. */
START_TEST(binary_safe)
{
	struct env e = { 0 };
	const char key[] = "k\r\n\0\xff*2";
	const char val[] = "v\r\n$3\r\n\0\x01\x02";
	const char *set[] = { "SET", key, val };
	const char *get[] = { "GET", key };
	size_t setl[] = { 3, sizeof(key) - 1, sizeof(val) - 1 };
	size_t getl[] = { 3, sizeof(key) - 1 };
	char req[256], want[256];
	size_t rl, wl;
	long calls;
	int fd;

	env_start(&e, NULL, NULL);
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	rl = rcc_encode(req, sizeof(req), 3, set, setl);
	ck_assert(rcc_roundtrip(fd, req, rl, "+OK\r\n", 5));
	rl = rcc_encode(req, sizeof(req), 2, get, getl);
	wl = snprintf(want, sizeof(want), "$%zu\r\n", sizeof(val) - 1);
	memcpy(want + wl, val, sizeof(val) - 1);
	memcpy(want + wl + sizeof(val) - 1, "\r\n", 2);
	wl += sizeof(val) + 1;
	for (int i = 0; i < 100; i++) {
		calls = get_calls(&e);
		ck_assert(rcc_roundtrip(fd, req, rl, want, wl));
		if (get_calls(&e) == calls)
			break;
		sleep_ms(10);
	}
	calls = get_calls(&e);
	for (int i = 0; i < 10; i++)
		ck_assert(rcc_roundtrip(fd, req, rl, want, wl));
	ck_assert_int_eq(get_calls(&e), calls);
	close(fd);
	env_stop(&e);
}
END_TEST

/* Malformed RESP and inline commands reach Redis; oversize values are
 * served by Redis; other connections keep being answered right. */
START_TEST(malformed_and_oversize)
{
	struct env e = { 0 };
	char big[6000], req[7000], *out = NULL;
	const char *set[] = { "SET", "big", big };
	const char *get[] = { "GET", "big" };
	size_t rl, wl;
	long calls;
	int fd, bad;

	env_start(&e, NULL, NULL);
	cli_unix(&e, "SET k v");
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	warm(&e, fd, "k", "v");
	bad = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(bad, 0);
	ck_assert(rcc_roundtrip(bad, "GET k\r\n", 7, "$1\r\nv\r\n", 7));
	ck_assert(rcc_line(bad, "*2\r\n$3\r\nGET\r\n$x\r\n", 17, "-ERR Protocol error"));
	close(bad);
	ck_assert(rcc_get_is(fd, "k", "v"));
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert(rcc_ok(fd, 3, set));
	rl = rcc_encode(req, sizeof(req), 2, get, NULL);
	calls = get_calls(&e);
	out = malloc(sizeof(big) + 16);
	wl = snprintf(out, 16, "$%zu\r\n", sizeof(big) - 1);
	memcpy(out + wl, big, sizeof(big) - 1);
	memcpy(out + wl + sizeof(big) - 1, "\r\n", 2);
	for (int i = 0; i < 5; i++)
		ck_assert(rcc_roundtrip(fd, req, rl, out, wl + sizeof(big) + 1));
	ck_assert_int_eq(get_calls(&e), calls + 5);
	free(out);
	warm(&e, fd, "k", "v");
	close(fd);
	env_stop(&e);
}
END_TEST

/* requirepass: nothing is answered from the kernel before Redis accepted
 * the connection's AUTH. */
START_TEST(auth_required)
{
	static const char *const conf[] = { "requirepass s3cret", NULL };
	struct env e = { 0 };
	const char *auth[] = { "AUTH", "s3cret" };
	const char *bad[] = { "AUTH", "wrong" };
	const char *get[] = { "GET", "k" };
	char req[64], breq[64];
	size_t rl = rcc_encode(req, sizeof(req), 2, get, NULL);
	size_t bl = rcc_encode(breq, sizeof(breq), 2, bad, NULL);
	int a, b;

	env_start(&e, conf, "s3cret");
	ck_assert_int_eq(fx_run(e.ns, NULL, "redis-cli -s %s -a s3cret --no-auth-warning SET k v >/dev/null",
				fx_redis_unixsock(e.redis)), 0);
	a = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(a, 0);
	ck_assert(rcc_line(a, req, rl, "-NOAUTH"));
	ck_assert(rcc_ok(a, 2, auth));
	for (int i = 0; i < 200 && stats(&e).hits == 0; i++) {
		ck_assert(rcc_get_is(a, "k", "v"));
		sleep_ms(10);
	}
	ck_assert_uint_gt(stats(&e).hits, 0);
	b = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(b, 0);
	for (int i = 0; i < 5; i++)
		ck_assert(rcc_line(b, req, rl, "-NOAUTH"));
	ck_assert(rcc_line(b, breq, bl, "-WRONGPASS"));
	ck_assert(rcc_line(b, req, rl, "-NOAUTH"));
	ck_assert(rcc_quiet(b, 50));
	close(a);
	close(b);
	env_stop(&e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("redis_cache");
	TCase *tc = tcase_create("redis_cache");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, hit_comes_from_kernel);
	tcase_add_test(tc, invalidated_by_other_writers);
	tcase_add_test(tc, select_across_dbs);
	tcase_add_test(tc, split_and_pipelined);
	tcase_add_test(tc, binary_safe);
	tcase_add_test(tc, malformed_and_oversize);
	tcase_add_test(tc, auth_required);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
