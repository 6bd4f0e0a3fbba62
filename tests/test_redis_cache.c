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

int main(void)
{
	Suite *s = suite_create("redis_cache");
	TCase *tc = tcase_create("redis_cache");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, hit_comes_from_kernel);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
