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
#include <sys/un.h>

#include <ebpfaccel/ebpfaccel.h>
#include "redis_cache_client.h"
#include "redis_tracking.h"
#include "tcp_segs.h"

struct env {
	struct fx_netns *ns;
	struct fx_cgroup *cg;
	struct fx_redis *redis;
	struct ebpfaccel_redis_cache *rc;
	int port;
};

/* redis-server (with @conf lines added) in a new netns and cgroup */
static void env_server(struct env *e, const char *const *conf)
{
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
}

static void env_attach(struct env *e, const char *password, int tracking)
{
	__u16 port = e->port;
	int prev;

	{
		LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_opts, opts,
			.ports = &port, .nr_ports = 1,
			.cgroup_path = fx_cgroup_path(e->cg),
			.redis_password = password, .tracking = tracking);

		e->rc = ebpfaccel_redis_cache__open(&opts);
	}
	ck_assert_msg(e->rc, "open: %s", strerror(errno));
	prev = fx_netns_enter(e->ns);
	ck_assert_int_ge(prev, 0);
	ck_assert_int_eq(ebpfaccel_redis_cache__attach(e->rc), 0);
	ck_assert_int_eq(fx_netns_return(prev), 0);
	ck_assert_int_eq(ebpfaccel_redis_cache__serving(e->rc), 1);
}

static void env_start_tracking(struct env *e, const char *const *conf,
			       const char *password, int tracking)
{
	env_server(e, conf);
	env_attach(e, password, tracking);
}

static void env_start(struct env *e, const char *const *conf, const char *password)
{
	env_start_tracking(e, conf, password, EBPFACCEL_REDIS_TRACK_DEFAULT);	/* automatic */
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

static void dump_stats(struct env *e, const char *when)
{
	struct ebpfaccel_redis_cache_stats s = stats(e);

	fprintf(stderr, "%s: hits %llu batches %llu misses %llu fills %llu races %llu "
		"inval %llu push %llu flushes %llu bypass state %llu mixed %llu size %llu "
		"bad %llu requests %llu replies %llu sets %llu confirms %llu readmits %llu\n", when,
		s.hits, s.hit_batches, s.misses, s.fills, s.fill_races, s.invalidations,
		s.push_invalidations, s.flushes, s.bypass_state, s.bypass_mixed,
		s.bypass_size, s.bypass_bad, s.requests, s.replies, s.sets, s.confirms,
		s.readmits);
}

static void cli_unix(struct env *e, const char *cmd)
{
	ck_assert_int_eq(fx_run(e->ns, NULL, "redis-cli -s %s %s >/dev/null",
				fx_redis_unixsock(e->redis), cmd), 0);
}

/* GETs @key until it is served by the kernel (fill + TTL confirmation done);
 * fails after 2 s. */
static void warm(struct env *e, int fd, const char *key, const char *value)
{
	for (int i = 0; i < 200; i++) {
		long before = fx_redis_calls(e->redis, "get");

		ck_assert(rcc_get_is(fd, key, value));
		if (fx_redis_calls(e->redis, "get") == before)
			return;
		fx_sleep_ms(10);
	}
	dump_stats(e, "warm");
	ck_abort_msg("key %s never served from the kernel", key);
}

/* A new connection that SET @key to @value and read it until the kernel
 * answered it (see warm()). */
static int connect_warm(struct env *e, const char *key, const char *value)
{
	const char *set[] = { "SET", key, value };
	int fd = rcc_connect(e->ns, e->port);

	ck_assert_int_ge(fd, 0);
	ck_assert(rcc_ok(fd, 3, set));
	warm(e, fd, key, value);
	return fd;
}

/* max_entries and max_large_entries size the two value classes, the
 * confirmations get one entry a value; 0 gives the defaults. Nothing is
 * attached: the maps are sized when the object loads. */
START_TEST(map_sizes_follow_options)
{
	static const __u32 asked[][2] = { { 64, 32 }, { 0, 0 } }, sized[][2] = {
		{ 64, 32 }, { 65536, 4096 } };
	__u16 port = 6379;

	fx_require_root();
	for (size_t i = 0; i < 2; i++) {
		LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_opts, o, .ports = &port, .nr_ports = 1,
				  .cgroup_path = "/", .max_entries = asked[i][0],
				  .max_large_entries = asked[i][1]);
		struct ebpfaccel_redis_cache *rc = ebpfaccel_redis_cache__open(&o);

		ck_assert_msg(rc, "open: %s", strerror(errno));
		fx_assert_cache_maps(sized[i][0], sized[i][1]);
		ebpfaccel_redis_cache__destroy(rc);
		ck_assert_int_eq(fx_own_map_max_entries("rc_cache_small"), -1);
	}
}
END_TEST

START_TEST(hit_comes_from_kernel)
{
	struct env e = { 0 };
	struct ebpfaccel_redis_cache_stats s0, s1;
	long calls;
	int fd;

	env_start(&e, NULL, NULL);
	fd = connect_warm(&e, "greeting", "hello world");
	s0 = stats(&e);
	calls = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 100; i++)
		ck_assert(rcc_get_is(fd, "greeting", "hello world"));
	s1 = stats(&e);
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
	ck_assert_uint_ge(s1.hits - s0.hits, 100);
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	env_stop(&e);
}
END_TEST

/* Writes through other TCP connections and the unix socket, EXPIRE and
 * FLUSHALL: the next GET never sees the old value (FLUSHALL on the unix
 * socket: within moments, see the residual window in docs/redis-cache.md). */
START_TEST(invalidated_by_other_writers)
{
	struct env e = { 0 };
	const char *set2[] = { "SET", "k", "two" };
	const char *set3[] = { "SET", "k", "three" };
	const char *flushall[] = { "FLUSHALL" };
	int fd, w, i;
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
	cli_unix(&e, "PEXPIRE k 60000");
	/* a key with a TTL is never served from the kernel (a TTL far beyond
	 * the loop: each round spawns redis-cli, seconds on a loaded machine) */
	for (i = 0; i < 5; i++) {
		calls = fx_redis_calls(e.redis, "get");
		ck_assert(rcc_get_is(fd, "k", "three"));
		ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls + 1);
		fx_sleep_ms(5);
	}
	cli_unix(&e, "PEXPIRE k 100");
	fx_sleep_ms(300);
	ck_assert(rcc_get_is(fd, "k", NULL));
	cli_unix(&e, "SET k four");
	warm(&e, fd, "k", "four");
	/* FLUSHALL on an accelerated connection flushes in the verdict,
	 * before Redis runs it: the very next GET misses. */
	ck_assert(rcc_ok(w, 1, flushall));
	ck_assert(rcc_get_is(fd, "k", NULL));
	/* On the unix socket Redis queues the flush push while running the
	 * command and writes it just after the reply (docs/redis-cache.md,
	 * residual window a): the cache must drop the value within moments,
	 * not necessarily before the next GET. */
	cli_unix(&e, "SET k five");
	warm(&e, fd, "k", "five");
	cli_unix(&e, "FLUSHALL");
	for (i = 0; i < 100 && !rcc_get_is(fd, "k", NULL); i++)
		fx_sleep_ms(10);
	ck_assert_msg(i < 100, "a unix-socket FLUSHALL did not reach the cache within 1 s");
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
			fx_sleep_ms(1);
		}
		ck_assert(rcc_roundtrip(fd, "", 0, "$15\r\npipelined-value\r\n", 22));
	}
	for (int i = 1; i < 16; i++)
		memcpy(req + i * one, req, one);
	s0 = stats(&e);
	calls = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 16; i++)
		wl += snprintf(want + wl, sizeof(want) - wl, "$15\r\npipelined-value\r\n");
	ck_assert(rcc_roundtrip(fd, req, 16 * one, want, wl));
	s1 = stats(&e);
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
	ck_assert_uint_ge(s1.hits - s0.hits, 16);
	/* GET, SET, GET in one segment: Redis answers all three */
	rl = rcc_encode(req, sizeof(req), 2, get, NULL);
	rl += rcc_encode(req + rl, sizeof(req) - rl, 3, set, NULL);
	rl += rcc_encode(req + rl, sizeof(req) - rl, 2, get, NULL);
	ck_assert(rcc_roundtrip(fd, req, rl,
		"$15\r\npipelined-value\r\n+OK\r\n$15\r\npipelined-value\r\n", 49));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls + 2);
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	env_stop(&e);
}
END_TEST

/* Sends @req (split after @split bytes, 0: whole) on @fd, expects @reply,
 * then that the next GET of @key reads @value, and that the kernel serves
 * it again. */
static void set_form(struct env *e, int fd, const char *req, size_t split,
		     const char *reply, const char *key, const char *value)
{
	size_t rl = strlen(req);

	if (split) {
		ck_assert_int_eq(rcc_send(fd, req, split), 0);
		fx_sleep_ms(20);
	}
	ck_assert(rcc_roundtrip(fd, req + split, rl - split, reply, strlen(reply)));
	ck_assert(rcc_get_is(fd, key, value));
	warm(e, fd, key, value);
}

/* Every form of SET a client may send invalidates the key it names, on
 * the connection that reads it: canonical SETs (the verdict's fast path,
 * the command in any case, several in one segment, a GET after them in
 * the same segment, the longest cacheable key), and the forms the generic
 * scan takes (values under 4 bytes, a SET split across segments,
 * options). After each the next GET reads the new value, then the kernel
 * serves it again. */
static void set_forms(int tracking)
{
	static const char key64[] =
		"k123456789012345678901234567890123456789012345678901234567890123";
	static const struct {
		const char *req;
		size_t split;
		const char *reply, *value;
	} forms[] = {
		{ "*3\r\n$3\r\nSET\r\n$2\r\nfk\r\n$4\r\nv001\r\n", 0, "+OK\r\n", "v001" },
		{ "*3\r\n$3\r\nsEt\r\n$2\r\nfk\r\n$11\r\nv002-longer\r\n", 0, "+OK\r\n", "v002-longer" },
		{ "*3\r\n$3\r\nSET\r\n$2\r\nfk\r\n$4\r\nv003\r\n"
		  "*3\r\n$3\r\nSET\r\n$2\r\nfk\r\n$4\r\nv004\r\n"
		  "*2\r\n$3\r\nGET\r\n$2\r\nfk\r\n", 0, "+OK\r\n+OK\r\n$4\r\nv004\r\n", "v004" },
		{ "*3\r\n$3\r\nSET\r\n$2\r\nfk\r\n$2\r\nv5\r\n", 0, "+OK\r\n", "v5" },
		{ "*3\r\n$3\r\nSET\r\n$2\r\nfk\r\n$4\r\nv006\r\n", 10, "+OK\r\n", "v006" },
		{ "*4\r\n$3\r\nSET\r\n$2\r\nfk\r\n$4\r\nv007\r\n$7\r\nKEEPTTL\r\n", 0, "+OK\r\n", "v007" },
	};
	struct env e = { 0 };
	char req[256];
	int fd;

	env_start_tracking(&e, NULL, NULL, tracking);
	ck_assert_uint_eq(strlen(key64), 64);
	cli_unix(&e, "SET fk v000");
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	warm(&e, fd, "fk", "v000");
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		set_form(&e, fd, forms[i].req, forms[i].split, forms[i].reply, "fk",
			 forms[i].value);
	snprintf(req, sizeof(req), "SET %s l000", key64);
	cli_unix(&e, req);
	warm(&e, fd, key64, "l000");
	snprintf(req, sizeof(req), "*3\r\n$3\r\nSET\r\n$64\r\n%s\r\n$4\r\nl001\r\n", key64);
	set_form(&e, fd, req, 0, "+OK\r\n", key64, "l001");
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	env_stop(&e);
}

START_TEST(set_forms_invalidate)
{
	set_forms(EBPFACCEL_REDIS_TRACK_BCAST);
}
END_TEST

/* With per-key tracking Redis' push for a write follows its reply: only
 * the verdict's own invalidation keeps the next GET exact. */
START_TEST(set_forms_invalidate_keys)
{
	set_forms(EBPFACCEL_REDIS_TRACK_KEYS);
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
		calls = fx_redis_calls(e.redis, "get");
		ck_assert(rcc_roundtrip(fd, req, rl, want, wl));
		if (fx_redis_calls(e.redis, "get") == calls)
			break;
		fx_sleep_ms(10);
	}
	calls = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 10; i++)
		ck_assert(rcc_roundtrip(fd, req, rl, want, wl));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
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
	calls = fx_redis_calls(e.redis, "get");
	out = malloc(sizeof(big) + 16);
	wl = snprintf(out, 16, "$%zu\r\n", sizeof(big) - 1);
	memcpy(out + wl, big, sizeof(big) - 1);
	memcpy(out + wl + sizeof(big) - 1, "\r\n", 2);
	for (int i = 0; i < 5; i++)
		ck_assert(rcc_roundtrip(fd, req, rl, out, wl + sizeof(big) + 1));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls + 5);
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
		fx_sleep_ms(10);
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

/* Authentication and ACLs changed behind the programs' back (unix socket):
 * a new connection is answered by the kernel only once Redis let it in, and
 * a value read by another ACL user is never served to the default user. */
START_TEST(runtime_auth_and_acl)
{
	struct env e = { 0 };
	const char *auth[] = { "AUTH", "s3cret" };
	const char *admin[] = { "AUTH", "admin", "pw" };
	const char *get_k[] = { "GET", "k" }, *get_sec[] = { "GET", "secret" };
	const char *acl[] = { "ACL", "SETUSER", "admin", "on", ">pw" };
	char req[64], sreq[64];
	size_t rl = rcc_encode(req, sizeof(req), 2, get_k, NULL);
	size_t sl = rcc_encode(sreq, sizeof(sreq), 2, get_sec, NULL);
	struct ebpfaccel_redis_cache_stats s0;
	int a, b, c, d;

	env_start(&e, NULL, NULL);
	a = connect_warm(&e, "k", "v");

	/* requirepass set where the programs cannot see it */
	cli_unix(&e, "CONFIG SET requirepass s3cret");
	b = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(b, 0);
	s0 = stats(&e);
	for (int i = 0; i < 5; i++)
		ck_assert(rcc_line(b, req, rl, "-NOAUTH"));
	ck_assert_uint_eq(stats(&e).hits, s0.hits);
	ck_assert(rcc_ok(b, 2, auth));
	warm(&e, b, "k", "v");
	/* Redis keeps connections it had let in, and so does the cache */
	ck_assert(rcc_get_is(a, "k", "v"));
	cli_unix(&e, "-a s3cret --no-auth-warning CONFIG SET requirepass ''");

	/* an ACL user reads a key the default user may not read */
	cli_unix(&e, "SET secret classified");
	cli_unix(&e, "ACL SETUSER admin on '>pw' '~*' '+@all'");
	cli_unix(&e, "ACL SETUSER default resetkeys '~k'");
	c = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(c, 0);
	ck_assert(rcc_ok(c, 3, admin));
	for (int i = 0; i < 50; i++) {
		ck_assert(rcc_get_is(c, "secret", "classified"));
		fx_sleep_ms(5);
	}
	d = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(d, 0);
	ck_assert(rcc_get_is(d, "k", "v"));	/* let in by Redis */
	for (int i = 0; i < 5; i++)
		ck_assert(rcc_line(d, sreq, sl, "-NOPERM"));
	/* an ACL change seen on the wire drops what the cache holds */
	s0 = stats(&e);
	ck_assert(rcc_ok(c, 5, acl));
	ck_assert_uint_gt(stats(&e).flushes, s0.flushes);
	ck_assert(rcc_quiet(a, 50) && rcc_quiet(b, 50) && rcc_quiet(c, 50) && rcc_quiet(d, 50));
	close(a);
	close(b);
	close(c);
	close(d);
	env_stop(&e);
}
END_TEST

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CLIENT PAUSE holds every GET, cached or not, until the pause ends. */
START_TEST(client_pause_holds_hits)
{
	struct env e = { 0 };
	const char *set_k[] = { "SET", "k", "v" };
	const char *pause[] = { "CLIENT", "PAUSE", "400" };
	double t0, waited;
	long calls;
	int a, p;

	env_start(&e, NULL, NULL);
	a = rcc_connect(e.ns, e.port);
	p = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(p, 0);
	ck_assert(rcc_ok(a, 3, set_k));
	warm(&e, a, "k", "v");
	calls = fx_redis_calls(e.redis, "get");
	ck_assert(rcc_ok(p, 3, pause));
	t0 = now_ms();
	ck_assert(rcc_get_is(a, "k", "v"));
	waited = now_ms() - t0;
	ck_assert_msg(waited >= 250, "GET answered %.0f ms into a 400 ms pause", waited);
	ck_assert_int_gt(fx_redis_calls(e.redis, "get"), calls);
	/* and the cache serves again afterwards */
	warm(&e, a, "k", "v");
	close(a);
	close(p);
	env_stop(&e);
}
END_TEST

/* A reply larger than the send buffer, read slowly: the kernel sends part
 * of it, frees the rest and Redis writes it again later. A GET of a cached
 * key behind it must not overtake that rest. */
START_TEST(big_reply_not_overtaken)
{
	struct env e = { 0 };
	const char *get_big[] = { "GET", "big" }, *get_k[] = { "GET", "k" };
	const size_t big = 8 << 20;
	char req[64], hdr[32];
	char *buf = malloc(big + 64);
	size_t rl, hl;
	int a;

	ck_assert_ptr_nonnull(buf);
	env_start(&e, NULL, NULL);
	ck_assert_int_eq(fx_run(e.ns, NULL, "redis-cli -s %s -x SET big < /dev/null >/dev/null",
				fx_redis_unixsock(e.redis)), 0);
	ck_assert_int_eq(fx_run(e.ns, NULL, "redis-cli -s %s SETRANGE big %zu x >/dev/null",
				fx_redis_unixsock(e.redis), big - 1), 0);
	a = connect_warm(&e, "k", "v");
	for (int round = 0; round < 3; round++) {
		rl = rcc_encode(req, sizeof(req), 2, get_big, NULL);
		ck_assert_int_eq(rcc_send(a, req, rl), 0);
		fx_sleep_ms(200);	/* Redis fills the send buffer meanwhile */
		rl = rcc_encode(req, sizeof(req), 2, get_k, NULL);
		ck_assert_int_eq(rcc_send(a, req, rl), 0);
		fx_sleep_ms(100);
		hl = snprintf(hdr, sizeof(hdr), "$%zu\r\n", big);
		ck_assert_int_eq(rcc_read_exact(a, buf, hl), 0);
		ck_assert(!memcmp(buf, hdr, hl));
		ck_assert_int_eq(rcc_read_exact(a, buf, big + 2), 0);
		ck_assert_msg(buf[big - 1] == 'x' && !memcmp(buf + big, "\r\n", 2),
			      "round %d: the big value is cut", round);
		ck_assert_int_eq(rcc_read_exact(a, buf, 7), 0);
		ck_assert_msg(!memcmp(buf, "$1\r\nv\r\n", 7), "round %d: '%.7s' after the big value",
			      round, buf);
	}
	ck_assert(rcc_quiet(a, 50));
	close(a);
	free(buf);
	env_stop(&e);
}
END_TEST

/* The library's invalidation connection is killed: kernel answers stop at
 * once, a write made meanwhile is never answered stale, and serving resumes
 * on a new connection. */
START_TEST(coherence_connection_recovers)
{
	struct env e = { 0 };
	int a, back = 0;
	long calls;

	env_start(&e, NULL, NULL);
	a = connect_warm(&e, "k", "v1");
	/* every client with tracking on: the library's connection */
	ck_assert_int_eq(fx_run(e.ns, NULL,
		"for id in $(redis-cli -s %s CLIENT LIST | sed -n 's/^id=\\([0-9]*\\) .*flags=[^ ]*t.*/\\1/p'); "
		"do redis-cli -s %s CLIENT KILL ID $id; done | grep -q 1 && redis-cli -s %s SET k v2 >/dev/null",
		fx_redis_unixsock(e.redis), fx_redis_unixsock(e.redis),
		fx_redis_unixsock(e.redis)), 0);
	for (int i = 0; i < 300 && !back; i++) {
		calls = fx_redis_calls(e.redis, "get");
		ck_assert(rcc_get_is(a, "k", "v2"));
		back = fx_redis_calls(e.redis, "get") == calls;
		fx_sleep_ms(10);
	}
	ck_assert_msg(back, "kernel answers never resumed");
	ck_assert_int_eq(ebpfaccel_redis_cache__serving(e.rc), 1);
	cli_unix(&e, "SET k v3");
	ck_assert(rcc_get_is(a, "k", "v3"));
	close(a);
	env_stop(&e);
}
END_TEST

/* Request forms around the GET fast path's edges: key lengths of one and two
 * digits up to the longest cached (64) and one past it, the command in any
 * case, a length with a leading zero, and pipelined mixes of them. Every
 * answer is exact; the cacheable forms are answered by the kernel. */
START_TEST(get_request_forms)
{
	static const size_t lens[] = { 1, 9, 10, 63, 64, 65 };
	struct env e = { 0 };
	char keys[6][80], req[4096], want[4096], cmd[160];
	size_t rl, wl;
	long calls;
	int fd;

	env_start(&e, NULL, NULL);
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 6; i++) {
		const char *set[] = { "SET", keys[i], "val" };

		memset(keys[i], 'a' + i, lens[i]);
		keys[i][lens[i]] = 0;
		ck_assert(rcc_ok(fd, 3, set));
		if (lens[i] <= 64)
			warm(&e, fd, keys[i], "val");
	}
	/* lower case and mixed case: the kernel answers */
	for (int i = 0; i < 2; i++) {
		rl = snprintf(req, sizeof(req), "*2\r\n$3\r\n%s\r\n$10\r\n%s\r\n",
			      i ? "gEt" : "get", keys[2]);
		calls = fx_redis_calls(e.redis, "get");
		ck_assert(rcc_roundtrip(fd, req, rl, "$3\r\nval\r\n", 9));
		ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
	}
	/* "$010": Redis accepts it; the fast path leaves it to the scanner */
	rl = snprintf(req, sizeof(req), "*2\r\n$3\r\nGET\r\n$010\r\n%s\r\n", keys[2]);
	ck_assert(rcc_roundtrip(fd, req, rl, "$3\r\nval\r\n", 9));
	/* 65 bytes: never cached, always Redis' answer */
	calls = fx_redis_calls(e.redis, "get");
	rl = snprintf(req, sizeof(req), "*2\r\n$3\r\nGET\r\n$65\r\n%s\r\n", keys[5]);
	ck_assert(rcc_roundtrip(fd, req, rl, "$3\r\nval\r\n", 9));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls + 1);
	/* a pipeline of every cacheable length, twice: one kernel answer */
	rl = wl = 0;
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 5; i++) {
			rl += snprintf(req + rl, sizeof(req) - rl, "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n",
				       lens[i], keys[i]);
			wl += snprintf(want + wl, sizeof(want) - wl, "$3\r\nval\r\n");
		}
	calls = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 5; i++)
		ck_assert(rcc_roundtrip(fd, req, rl, want, wl));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
	/* the same with the 65-byte key in the middle: Redis answers all */
	rl = wl = 0;
	for (int i = 0; i < 6; i++) {
		rl += snprintf(req + rl, sizeof(req) - rl, "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n",
			       lens[5 - i], keys[5 - i]);
		wl += snprintf(want + wl, sizeof(want) - wl, "$3\r\nval\r\n");
	}
	calls = fx_redis_calls(e.redis, "get");
	ck_assert(rcc_roundtrip(fd, req, rl, want, wl));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls + 6);
	snprintf(cmd, sizeof(cmd), "DEL %s", keys[0]);
	cli_unix(&e, cmd);
	ck_assert(rcc_get_is(fd, keys[0], NULL));
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	env_stop(&e);
}
END_TEST

/* A kernel answer longer than its request leaves as one TCP segment, like
 * Redis' own reply (it once left as two: the request's scatterlist element
 * and the pushed one were sent separately on a TCP_NODELAY socket). */
START_TEST(answer_is_one_segment)
{
	struct env e = { 0 };
	char val[201];
	const char *set[] = { "SET", "k", val };
	long calls, segs;
	int fd;

	memset(val, 'x', sizeof(val) - 1);
	val[sizeof(val) - 1] = 0;
	env_start(&e, NULL, NULL);
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	for (int len = 50; len <= 200; len += 150) {
		val[len] = 0;
		ck_assert(rcc_ok(fd, 3, set));
		warm(&e, fd, "k", val);
		calls = fx_redis_calls(e.redis, "get");
		segs = tcp_data_segs_in(fd);
		ck_assert_int_ge(segs, 0);
		for (int i = 0; i < 50; i++)
			ck_assert(rcc_get_is(fd, "k", val));
		ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
		ck_assert_int_eq(tcp_data_segs_in(fd) - segs, 50);
		val[len] = 'x';
	}
	close(fd);
	env_stop(&e);
}
END_TEST

/* ---- concurrent soak: every read checked against what Redis acknowledged */

#define SOAK_KEYS 16

struct soak {
	struct env *e;
	int track_all;
	int tcp_only;		/* the second writer on TCP too */
	atomic_long acked[2 * SOAK_KEYS];	/* >0 set to v<n>, <0 deleted at n */
	atomic_long replaced[2 * SOAK_KEYS];	/* what the last acked write replaced */
	atomic_long del_started[2 * SOAK_KEYS];
	atomic_long next;
	atomic_int stop;
	atomic_long reads, stale, window, errors;
	const char *big;	/* readers now and then read it slowly */
	size_t big_len;
	atomic_long big_reads;
};

static int unix_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
		return -1;
	return fd;
}

/* Byte i of a large test value: no run of it looks like another's. */
static char big_byte(size_t i, int salt)
{
	return 'a' + (i * 7 + i / 4093 + salt) % 26;
}

/* Stores a value of @len bytes under @key over the unix socket (a
 * connection the programs do not see) and returns it (caller frees). */
static char *big_value(struct env *e, const char *key, size_t len, int salt)
{
	const char *argv[] = { "SET", key, NULL };
	size_t lens[] = { 3, strlen(key), len }, rl;
	char *val = malloc(len), *req = malloc(len + 128), ok[5];
	int fd = unix_connect(fx_redis_unixsock(e->redis));

	ck_assert(val && req && fd >= 0);
	for (size_t i = 0; i < len; i++)
		val[i] = big_byte(i, salt);
	argv[2] = val;
	rl = rcc_encode(req, len + 128, 3, argv, lens);
	ck_assert_int_eq(rcc_send(fd, req, rl), 0);
	ck_assert_int_eq(rcc_read_exact(fd, ok, 5), 0);
	ck_assert(!memcmp(ok, "+OK\r\n", 5));
	close(fd);
	free(req);
	return val;
}

/* Reads one bulk reply and checks it is exactly @want (@len bytes). */
static int read_bulk_is(int fd, const char *want, size_t len)
{
	char hdr[32], got_hdr[32], *got = malloc(len + 2);
	size_t hl = snprintf(hdr, sizeof(hdr), "$%zu\r\n", len);
	int ok = got && !rcc_read_exact(fd, got_hdr, hl) && !memcmp(got_hdr, hdr, hl) &&
		 !rcc_read_exact(fd, got, len + 2) && !memcmp(got, want, len) &&
		 !memcmp(got + len, "\r\n", 2);

	if (!ok)
		fprintf(stderr, "bulk reply of %zu bytes differs\n", len);
	free(got);
	return ok;
}

static void soak_write(struct soak *s, int fd, int base)
{
	while (!s->stop) {
		long n = ++s->next;
		int i = base + n % SOAK_KEYS;
		char key[16], val[32];
		const char *set[] = { "SET", key, val };
		const char *del[] = { "DEL", key };
		char req[128];
		size_t rl;

		snprintf(key, sizeof(key), "soak%d", i);
		snprintf(val, sizeof(val), "v%ld", n);
		if (n % 7 == 0) {
			s->del_started[i] = n;
			rl = rcc_encode(req, sizeof(req), 2, del, NULL);
			if (!rcc_line(fd, req, rl, ":")) {
				s->errors++;
				return;
			}
			s->replaced[i] = s->acked[i];
			s->acked[i] = -n;
		} else {
			if (!rcc_ok(fd, 3, set)) {
				s->errors++;
				return;
			}
			s->replaced[i] = s->acked[i];
			s->acked[i] = n;
		}
		/* leave readers time to be served from the kernel */
		fx_sleep_ms(1);
	}
}

static void *soak_tcp_writer(void *arg)
{
	static const char get[] = "*2\r\n$3\r\nGET\r\n$9\r\nsoak:none\r\n";
	struct soak *s = arg;
	int fd = rcc_connect(s->e->ns, s->e->port);

	/* Redis answering a GET lets the connection in (auth_ok() in the
	 * programs): its SETs of keys read from the cache are then read back
	 * by the engine, under the soak's readers and the other writer */
	if (!rcc_line(fd, get, sizeof(get) - 1, "$-1")) {
		s->errors++;
		close(fd);
		return NULL;
	}
	soak_write(s, fd, 0);
	close(fd);
	return NULL;
}

static void *soak_unix_writer(void *arg)
{
	struct soak *s = arg;
	int fd = s->tcp_only ? rcc_connect(s->e->ns, s->e->port)
			     : unix_connect(fx_redis_unixsock(s->e->redis));

	soak_write(s, fd, SOAK_KEYS);
	close(fd);
	return NULL;
}

/* Reads one bulk reply: returns the version n of "v<n>", 0 for a null,
 * -1 on error. */
/* soak_read_value()'s "no complete reply in time": the reader's stream is
 * out of step from there (a later reply would be taken for this one's), so
 * the reader stops and counts an error, not stale reads. */
#define SOAK_NO_REPLY (-2)

static long soak_read_value(int fd)
{
	char line[64], val[64];
	size_t n = 0;
	long len;

	while (n < sizeof(line) - 1) {
		if (rcc_read_exact(fd, line + n, 1))
			return SOAK_NO_REPLY;
		if (line[n++] == '\n')
			break;
	}
	line[n] = 0;
	if (line[0] != '$')
		return -1;
	len = strtol(line + 1, NULL, 10);
	if (len < 0)
		return 0;
	if (len > 60)
		return -1;
	if (rcc_read_exact(fd, val, len + 2))
		return SOAK_NO_REPLY;
	val[len] = 0;
	return val[0] == 'v' ? strtol(val + 1, NULL, 10) : -1;
}

static int soak_check(struct soak *s, int i, long lo, long got)
{
	if (got < 0)
		return 0;
	if (got == 0)
		return lo <= 0 || s->del_started[i] > lo;
	return lo > 0 ? got >= lo : got > -lo;
}

/* A read older than what was acked: allowed only with per-key tracking, for
 * a key written where the programs do not see it, and only the value the
 * last acked write replaced (docs/redis-cache.md, residual window). */
static int soak_window(struct soak *s, int i, long prev, long got)
{
	if (s->track_all || i < SOAK_KEYS || got < 0)
		return 0;
	if (got == 0)
		return prev <= 0;
	return got == prev;
}

static void *soak_reader(void *arg)
{
	struct soak *s = arg;
	int fd = rcc_connect(s->e->ns, s->e->port), rcvbuf = 64 << 10;
	unsigned int seed = (unsigned int)(long)pthread_self();

	/* large values then fill Redis' send buffer: sends fail half-way */
	if (s->big)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	while (!s->stop) {
		int batch = rand_r(&seed) % 4 ? 1 : 8, idx[8];

		if (s->big && rand_r(&seed) % 128 == 0) {
			const char *get[] = { "GET", "soakbig" };
			char req[64];
			size_t rl = rcc_encode(req, sizeof(req), 2, get, NULL);

			if (rcc_send(fd, req, rl)) {
				s->errors++;
				break;
			}
			fx_sleep_ms(rand_r(&seed) % 5);
			if (!read_bulk_is(fd, s->big, s->big_len)) {
				s->errors++;
				break;
			}
			s->big_reads++;
			continue;
		}

		long lo[8], prev[8];
		char req[1024];
		size_t rl = 0;

		for (int b = 0; b < batch; b++) {
			char key[16];
			const char *get[] = { "GET", key };

			idx[b] = rand_r(&seed) % (2 * SOAK_KEYS);
			snprintf(key, sizeof(key), "soak%d", idx[b]);
			lo[b] = s->acked[idx[b]];
			prev[b] = s->replaced[idx[b]];
			rl += rcc_encode(req + rl, sizeof(req) - rl, 2, get, NULL);
		}
		if (rcc_send(fd, req, rl)) {
			s->errors++;
			break;
		}
		for (int b = 0; b < batch; b++) {
			long got = soak_read_value(fd);

			if (got == SOAK_NO_REPLY) {
				fprintf(stderr, "soak reader: no complete reply to GET soak%d in time\n",
					idx[b]);
				s->errors++;
				goto out;
			}
			s->reads++;
			if (!soak_check(s, idx[b], lo[b], got) &&
			    soak_window(s, idx[b], prev[b], got)) {
				s->window++;
			} else if (!soak_check(s, idx[b], lo[b], got)) {
				fprintf(stderr, "stale read soak%d: got %ld, acked %ld before\n",
					idx[b], got, lo[b]);
				s->stale++;
			}
		}
	}
out:
	close(fd);
	return NULL;
}

/* TCP and unix-socket writers against readers: with broadcast tracking no
 * read is ever older than a write acknowledged before it was sent; with
 * per-key tracking the same holds for the TCP writer's keys, and the unix
 * writer's keys may show the value its last write replaced (counted). */
static int wait_tracking(struct env *e, int want, const char *why_has);

/* With automatic tracking no read may be older than an acked write: the
 * tracking it chose must not leave a window (s.track_all). @big_len: the
 * readers also read a value of that size now and then (0: never). */
static void soak_run_conf(int tracking, const char *const *conf, int tcp_only,
			  int want_tracking, size_t big_len)
{
	static struct soak s;
	struct env e = { 0 };
	char *big = NULL;
	pthread_t t[5];

	env_start_tracking(&e, conf, NULL, tracking);
	if (want_tracking >= 0)
		ck_assert_int_eq(wait_tracking(&e, want_tracking, NULL), want_tracking);
	memset(&s, 0, sizeof(s));
	s.e = &e;
	if (big_len) {
		big = big_value(&e, "soakbig", big_len, 4);
		s.big = big;
		s.big_len = big_len;
	}
	s.tcp_only = tcp_only;
	s.track_all = tracking != EBPFACCEL_REDIS_TRACK_KEYS;
	pthread_create(&t[0], NULL, soak_tcp_writer, &s);
	pthread_create(&t[1], NULL, soak_unix_writer, &s);
	for (int i = 2; i < 5; i++)
		pthread_create(&t[i], NULL, soak_reader, &s);
	fx_sleep_ms(4000);
	s.stop = 1;
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	fprintf(stderr, "soak (%s): %ld reads, %ld stale, %ld in the unseen-write window, "
		"%lu kernel hits, %lu fills\n", s.track_all ? "all" : "keys",
		(long)s.reads, (long)s.stale, (long)s.window,
		(unsigned long)stats(&e).hits, (unsigned long)stats(&e).fills);
	dump_stats(&e, "soak");
	ck_assert_int_eq(s.errors, 0);
	ck_assert_int_eq(s.stale, 0);
	ck_assert_int_gt(s.reads, 1000);
	ck_assert_uint_gt(stats(&e).hits, 0);
	if (big_len) {
		fprintf(stderr, "soak: %ld large values read\n", (long)s.big_reads);
		ck_assert_int_gt(s.big_reads, 10);
	}
	free(big);
	if (want_tracking >= 0)
		ck_assert_int_eq(ebpfaccel_redis_cache__tracking(e.rc, NULL, 0), want_tracking);
	env_stop(&e);
}

static void soak_run(int tracking, size_t big_len)
{
	soak_run_conf(tracking, NULL, 0, -1, big_len);
}

START_TEST(soak_writers_and_readers)
{
	soak_run(EBPFACCEL_REDIS_TRACK_BCAST, 0);
}
END_TEST

START_TEST(soak_track_keys)
{
	soak_run(EBPFACCEL_REDIS_TRACK_KEYS, 0);
}
END_TEST

/* The soak while readers now and then read a 4 MiB value slowly (sends of
 * it fail half-way): still no stale read. */
START_TEST(soak_large_values)
{
	soak_run(EBPFACCEL_REDIS_TRACK_DEFAULT, 4 << 20);
}
END_TEST

/* ---- automatic tracking: per-key only while nothing unseen can write */

/* the fixture's server without its unix socket: TCP on one port only */
static const char *const tcp_only[] = { "unixsocket \"\"", NULL };

static int wait_tracking(struct env *e, int want, const char *why_has)
{
	return rtr_wait_tracking(e->rc, want, why_has);
}

/* A command on a new TCP connection (taken in by the programs). */
static void tcp_command(struct env *e, int argc, const char *const *argv)
{
	int fd = rcc_connect(e->ns, e->port);

	ck_assert_int_ge(fd, 0);
	ck_assert(rcc_ok(fd, argc, argv));
	close(fd);
}

/* GETs @key on @fd until the kernel answered one (the hit counter rose). */
static void warm_hits(struct env *e, int fd, const char *key, const char *value)
{
	for (int i = 0; i < 200; i++) {
		__u64 before = stats(e).hits;

		ck_assert(rcc_get_is(fd, key, value));
		if (stats(e).hits > before)
			return;
		fx_sleep_ms(10);
	}
	dump_stats(e, "warm_hits");
	ck_abort_msg("key %s never served from the kernel", key);
}

/* Redis' own tracking table: per-key tracking registers keys, broadcast
 * tracking one prefix. */
static long info_stat(struct env *e, const char *name)
{
	return rtr_info_stat(e->ns, e->port, name);
}

START_TEST(auto_tcp_only_tracks_keys)
{
	const char *set[] = { "SET", "k", "v1" }, *set2[] = { "SET", "k", "v2" };
	struct env e = { 0 };
	int fd;

	env_start_tracking(&e, tcp_only, NULL, EBPFACCEL_REDIS_TRACK_AUTO);
	ck_assert_int_eq(wait_tracking(&e, EBPFACCEL_REDIS_TRACK_KEYS,
				       "no write path"), EBPFACCEL_REDIS_TRACK_KEYS);
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	ck_assert(rcc_ok(fd, 3, set));
	warm_hits(&e, fd, "k", "v1");
	ck_assert_int_eq(info_stat(&e, "tracking_total_prefixes"), 0);
	ck_assert_int_ge(info_stat(&e, "tracking_total_keys"), 1);
	/* a write on another connection: never answered stale afterwards */
	tcp_command(&e, 3, set2);
	ck_assert(rcc_get_is(fd, "k", "v2"));
	close(fd);
	env_stop(&e);
}
END_TEST

START_TEST(auto_unix_socket_tracks_all)
{
	struct env e = { 0 };

	env_start_tracking(&e, NULL, NULL, EBPFACCEL_REDIS_TRACK_AUTO);
	ck_assert_int_eq(wait_tracking(&e, EBPFACCEL_REDIS_TRACK_ALL, "unix socket"),
			 EBPFACCEL_REDIS_TRACK_ALL);
	ck_assert_int_eq(info_stat(&e, "tracking_total_prefixes"), 1);
	env_stop(&e);
}
END_TEST

/* An evicting policy makes it broadcast; CONFIG SET on a connection the
 * programs see stops per-key answers before Redis runs it. */
START_TEST(auto_eviction_policy)
{
	const char *const conf[] = { "unixsocket \"\"", "maxmemory 64mb",
				     "maxmemory-policy allkeys-lru", NULL };
	const char *volatile_lru[] = { "CONFIG", "SET", "maxmemory-policy", "volatile-lru" };
	const char *allkeys[] = { "CONFIG", "SET", "maxmemory-policy", "allkeys-random" };
	const char *set[] = { "SET", "k", "v1" };
	struct env e = { 0 };
	__u64 hits;
	int fd;

	env_start_tracking(&e, conf, NULL, EBPFACCEL_REDIS_TRACK_AUTO);
	wait_tracking(&e, EBPFACCEL_REDIS_TRACK_ALL, "evicts");
	tcp_command(&e, 4, volatile_lru);
	ck_assert_int_eq(wait_tracking(&e, EBPFACCEL_REDIS_TRACK_KEYS, NULL),
			 EBPFACCEL_REDIS_TRACK_KEYS);
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	ck_assert(rcc_ok(fd, 3, set));
	warm_hits(&e, fd, "k", "v1");
	tcp_command(&e, 4, allkeys);
	/* no kernel answer from the moment the programs saw the CONFIG SET */
	hits = stats(&e).hits;
	ck_assert(rcc_get_is(fd, "k", "v1"));
	ck_assert_uint_eq(stats(&e).hits, hits);
	wait_tracking(&e, EBPFACCEL_REDIS_TRACK_ALL, "evicts");
	close(fd);
	env_stop(&e);
}
END_TEST

START_TEST(auto_replica)
{
	struct fx_redis *master;
	struct env e = { 0 };
	const char *promote[] = { "REPLICAOF", "NO", "ONE" };
	char conf_line[64];
	const char *conf[] = { "unixsocket \"\"", conf_line, NULL };

	fx_require_root();
	fx_require_program("/usr/bin/redis-server", "redis-server");
	e.ns = fx_netns_new();
	ck_assert_ptr_nonnull(e.ns);
	master = fx_redis_start(e.ns, NULL);
	ck_assert_ptr_nonnull(master);
	snprintf(conf_line, sizeof(conf_line), "replicaof 127.0.0.1 %d", fx_redis_port(master));
	e.cg = fx_cgroup_new();
	ck_assert_ptr_nonnull(e.cg);
	e.redis = fx_redis_start_cg(e.ns, e.cg, conf);
	ck_assert_ptr_nonnull(e.redis);
	e.port = fx_redis_port(e.redis);
	env_attach(&e, NULL, EBPFACCEL_REDIS_TRACK_AUTO);
	wait_tracking(&e, EBPFACCEL_REDIS_TRACK_ALL, "replica");
	tcp_command(&e, 3, promote);
	ck_assert_int_eq(wait_tracking(&e, EBPFACCEL_REDIS_TRACK_KEYS, NULL),
			 EBPFACCEL_REDIS_TRACK_KEYS);
	env_stop(&e);
	fx_redis_stop(master);
}
END_TEST

/* A connection from before the attach passes unseen: broadcast until it
 * closes, then per-key. */
START_TEST(auto_connection_before_attach)
{
	struct env e = { 0 };
	int old;

	env_server(&e, tcp_only);
	old = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(old, 0);
	env_attach(&e, NULL, EBPFACCEL_REDIS_TRACK_AUTO);
	wait_tracking(&e, EBPFACCEL_REDIS_TRACK_ALL, "do not see");
	close(old);
	ck_assert_int_eq(wait_tracking(&e, EBPFACCEL_REDIS_TRACK_KEYS, NULL),
			 EBPFACCEL_REDIS_TRACK_KEYS);
	env_stop(&e);
}
END_TEST

/* The soak's unix-socket writer keeps automatic tracking broadcast: no
 * read older than an acked write, not even in a window. */
START_TEST(soak_auto_unix_writer)
{
	soak_run_conf(EBPFACCEL_REDIS_TRACK_AUTO, NULL, 0, EBPFACCEL_REDIS_TRACK_ALL, 0);
}
END_TEST

/* TCP writers only: per-key tracking, and still no read older than an
 * acked write. */
START_TEST(soak_auto_tcp_writers)
{
	soak_run_conf(EBPFACCEL_REDIS_TRACK_AUTO, tcp_only, 1, EBPFACCEL_REDIS_TRACK_KEYS, 0);
}
END_TEST

/* A write Redis runs later than it arrives (CLIENT PAUSE WRITE): until
 * Redis wrote its reply, GETs of its key read the value it replaces from
 * Redis and none of them may fill the cache (with per-key tracking the
 * write's push would follow its reply); other keys are still answered by
 * the kernel, and the key is again once the write is answered. A pending
 * write whose connection closes no longer holds its key. (No unix socket
 * here: Redis' own GET count cannot be read; the hit counter tells.) */
/* Sends @set (of "k") on @w, which Redis holds (paused), then GETs "k" on
 * @fd @n times: each reads @value from Redis, none is answered by the
 * kernel. */
static void held_write_not_served(struct env *e, int fd, int w, const char *const *set,
				  const char *value, int n)
{
	__u64 hits = stats(e).hits;
	char req[128];
	size_t len = rcc_encode(req, sizeof(req), 3, set, NULL);

	ck_assert_int_eq(rcc_send(w, req, len), 0);
	ck_assert(rcc_quiet(w, 100));
	for (int i = 0; i < n; i++) {
		ck_assert(rcc_get_is(fd, "k", value));
		fx_sleep_ms(5);	/* time for the library to confirm a fill */
	}
	ck_assert_uint_eq(stats(e).hits, hits);
}

START_TEST(auto_delayed_write_not_filled)
{
	const char *set1[] = { "SET", "k", "v1" }, *set_o[] = { "SET", "o", "v1" };
	const char *pause[] = { "CLIENT", "PAUSE", "10000", "WRITE" };
	const char *unpause[] = { "CLIENT", "UNPAUSE" };
	const char *set2[] = { "SET", "k", "v2" }, *set3[] = { "SET", "k", "v3" };
	struct ebpfaccel_redis_cache_stats s0, s1;
	struct env e = { 0 };
	int fd, p, w, w2;

	env_start_tracking(&e, tcp_only, NULL, EBPFACCEL_REDIS_TRACK_AUTO);
	ck_assert_int_eq(wait_tracking(&e, EBPFACCEL_REDIS_TRACK_KEYS, NULL),
			 EBPFACCEL_REDIS_TRACK_KEYS);
	fd = rcc_connect(e.ns, e.port);
	p = rcc_connect(e.ns, e.port);
	w = rcc_connect(e.ns, e.port);
	ck_assert(fd >= 0 && p >= 0 && w >= 0);
	ck_assert(rcc_ok(fd, 3, set1));
	ck_assert(rcc_ok(fd, 3, set_o));
	ck_assert(rcc_ok(p, 4, pause));
	/* the writer's SET waits in Redis; its reply comes at the unpause */
	s0 = stats(&e);
	held_write_not_served(&e, fd, w, set2, "v1", 50);
	s1 = stats(&e);
	ck_assert_uint_gt(s1.fill_races, s0.fill_races);
	ck_assert_uint_eq(ebpfaccel_redis_cache__tracking(e.rc, NULL, 0),
			  EBPFACCEL_REDIS_TRACK_KEYS);
	warm_hits(&e, fd, "o", "v1");
	ck_assert(rcc_ok(p, 2, unpause));
	ck_assert(rcc_line(w, "", 0, "+OK"));
	ck_assert(rcc_get_is(fd, "k", "v2"));
	warm_hits(&e, fd, "k", "v2");

	/* pending again, then its connection goes without an answer */
	ck_assert(rcc_ok(p, 4, pause));
	w2 = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(w2, 0);
	held_write_not_served(&e, fd, w2, set3, "v2", 10);
	close(w2);
	warm_hits(&e, fd, "k", "v2");
	ck_assert(rcc_ok(p, 2, unpause));
	close(w);
	close(p);
	close(fd);
	env_stop(&e);
}
END_TEST

/* More writes in flight than the programs remember on one connection: its
 * writes can no longer be tied to their replies, so automatic tracking
 * goes broadcast while that connection lives, and per-key after. */
START_TEST(auto_deep_write_pipeline)
{
	const char *pause[] = { "CLIENT", "PAUSE", "10000", "WRITE" };
	const char *unpause[] = { "CLIENT", "UNPAUSE" };
	struct env e = { 0 };
	char req[4096], key[16];
	const char *set[] = { "SET", key, "v" };
	size_t n = 0;
	int p, w;

	env_start_tracking(&e, tcp_only, NULL, EBPFACCEL_REDIS_TRACK_AUTO);
	ck_assert_int_eq(wait_tracking(&e, EBPFACCEL_REDIS_TRACK_KEYS, NULL),
			 EBPFACCEL_REDIS_TRACK_KEYS);
	p = rcc_connect(e.ns, e.port);
	w = rcc_connect(e.ns, e.port);
	ck_assert(p >= 0 && w >= 0);
	ck_assert(rcc_ok(p, 4, pause));
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "deep%d", i);
		n += rcc_encode(req + n, sizeof(req) - n, 3, set, NULL);
	}
	ck_assert_int_eq(rcc_send(w, req, n), 0);
	wait_tracking(&e, EBPFACCEL_REDIS_TRACK_ALL, "requests in flight");
	ck_assert(rcc_ok(p, 2, unpause));
	for (int i = 0; i < 20; i++)
		ck_assert(rcc_line(w, "", 0, "+OK"));
	close(w);
	ck_assert_int_eq(wait_tracking(&e, EBPFACCEL_REDIS_TRACK_KEYS, NULL),
			 EBPFACCEL_REDIS_TRACK_KEYS);
	close(p);
	env_stop(&e);
}
END_TEST

/* ---- detach and re-attach while clients keep reading */

struct loader {
	struct env *e;
	atomic_int stop;
	atomic_long ok, errors;
};

static void *load_loop(void *arg)
{
	struct loader *l = arg;
	int fd = rcc_connect(l->e->ns, l->e->port);

	while (!l->stop) {
		if (fd < 0 || !rcc_get_is(fd, "stable", "value")) {
			fprintf(stderr, "loader: GET failed after %ld good (fd %d)\n",
				(long)l->ok, fd);
			l->errors++;
			break;
		}
		l->ok++;
		if (l->ok % 500 == 0) {
			close(fd);
			fd = rcc_connect(l->e->ns, l->e->port);
		}
	}
	close(fd);
	return NULL;
}

START_TEST(detach_reattach_under_load)
{
	struct env e = { 0 };
	struct loader l = { .e = &e };
	pthread_t t[2];
	int fd, prev;

	env_start(&e, NULL, NULL);
	cli_unix(&e, "SET stable value");
	fd = rcc_connect(e.ns, e.port);
	warm(&e, fd, "stable", "value");
	close(fd);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, load_loop, &l);
	for (int round = 0; round < 3; round++) {
		fx_sleep_ms(300);
		ck_assert_int_eq(ebpfaccel_redis_cache__detach(e.rc), 0);
		ck_assert_int_eq(ebpfaccel_redis_cache__serving(e.rc), 0);
		fx_sleep_ms(300);
		prev = fx_netns_enter(e.ns);
		ck_assert_int_eq(ebpfaccel_redis_cache__attach(e.rc), 0);
		fx_netns_return(prev);
	}
	fx_sleep_ms(300);
	l.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(l.errors, 0);
	ck_assert_int_gt(l.ok, 100);
	fd = rcc_connect(e.ns, e.port);
	warm(&e, fd, "stable", "value");
	close(fd);
	ck_assert_int_eq(ebpfaccel_redis_cache__detach(e.rc), 0);
	fd = rcc_connect(e.ns, e.port);
	ck_assert(rcc_get_is(fd, "stable", "value"));
	close(fd);
	env_stop(&e);
}
END_TEST

/* redis-benchmark with 16 pipelined requests and python3-redis: no client
 * error, values right, and GETs answered by the kernel. */
START_TEST(real_clients)
{
	struct env e = { 0 };
	char *out = NULL;
	int fd;

	fx_require_program("/usr/bin/redis-benchmark", "redis-benchmark");
	fx_require_program("/usr/bin/python3", "python3");
	env_start(&e, NULL, NULL);
	ck_assert_int_eq(fx_run(e.ns, NULL, "redis-benchmark -p %d -t set -n 2000 -r 100 -d 64 -q >/dev/null",
				e.port), 0);
	ck_assert_int_eq(fx_run(e.ns, NULL, "redis-benchmark -p %d -t get -n 20000 -r 100 -P 16 -c 4 -q >/dev/null",
				e.port), 0);
	ck_assert_int_eq(fx_run(e.ns, NULL, "redis-benchmark -p %d -t get -n 20000 -r 100 -P 16 -c 4 -q >/dev/null",
				e.port), 0);
	dump_stats(&e, "redis-benchmark");
	ck_assert_uint_gt(stats(&e).hits, 1000);
	ck_assert_int_eq(fx_run(e.ns, &out,
		"/usr/bin/python3 -c '\n"
		"import redis\n"
		"r = redis.Redis(port=%d)\n"
		"r.set(\"py\", b\"\\x00bin\\r\\n\")\n"
		"for i in range(300):\n"
		"    assert r.get(\"py\") == b\"\\x00bin\\r\\n\"\n"
		"p = r.pipeline(transaction=False)\n"
		"for i in range(16): p.get(\"py\")\n"
		"assert p.execute() == [b\"\\x00bin\\r\\n\"] * 16\n"
		"r.set(\"py\", b\"new\")\n"
		"assert r.get(\"py\") == b\"new\"\n"
		"print(\"ok\")'", e.port), 0);
	ck_assert_str_eq(out, "ok\n");
	free(out);
	fd = rcc_connect(e.ns, e.port);
	ck_assert(rcc_get_is(fd, "py", "new"));
	close(fd);
	env_stop(&e);
}
END_TEST

/* A SET of a cached key is read back by the library once Redis accepted it,
 * so the key is answered by the kernel again without a client miss; SET
 * with options, refused SETs and pipelined SETs stay exact. */
START_TEST(set_write_through)
{
	struct env e = { 0 };
	const char *set[] = { "SET", "wt", "hello" };
	const char *setex[] = { "SET", "wt2", "ttl", "EX", "100" };
	const char *set_new[] = { "SET", "wt", "refused" };
	const char *a1[] = { "SET", "pa", "1" };
	const char *a2[] = { "SET", "pa", "2" };
	const char *ga[] = { "GET", "pa" };
	char req[512];
	size_t rl;
	long calls;
	int fd;

	env_start(&e, NULL, NULL);
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	cli_unix(&e, "SET wt old");
	warm(&e, fd, "wt", "old");
	ck_assert(rcc_ok(fd, 3, set));
	for (int i = 0; i < 200 && stats(&e).confirms < 2; i++)
		fx_sleep_ms(10);
	ck_assert_uint_ge(stats(&e).sets, 1);
	calls = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 10; i++)
		ck_assert(rcc_get_is(fd, "wt", "hello"));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
	ck_assert(rcc_ok(fd, 5, setex));
	for (int i = 0; i < 5; i++) {
		calls = fx_redis_calls(e.redis, "get");
		ck_assert(rcc_get_is(fd, "wt2", "ttl"));
		ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls + 1);
		fx_sleep_ms(5);
	}
	cli_unix(&e, "CONFIG SET maxmemory 1");
	rl = rcc_encode(req, sizeof(req), 3, set_new, NULL);
	ck_assert(rcc_line(fd, req, rl, "-OOM"));
	ck_assert(rcc_get_is(fd, "wt", "hello"));
	cli_unix(&e, "CONFIG SET maxmemory 0");
	rl = rcc_encode(req, sizeof(req), 3, a1, NULL);
	rl += rcc_encode(req + rl, sizeof(req) - rl, 3, a2, NULL);
	rl += rcc_encode(req + rl, sizeof(req) - rl, 2, ga, NULL);
	ck_assert(rcc_roundtrip(fd, req, rl, "+OK\r\n+OK\r\n$1\r\n2\r\n", 17));
	for (int i = 0; i < 5; i++)
		ck_assert(rcc_get_is(fd, "pa", "2"));
	close(fd);
	env_stop(&e);
}
END_TEST

/* Inside MULTI a GET must be queued by Redis, never answered by the
 * kernel; RESP3 connections (HELLO 3) are served the same bulk replies. */
START_TEST(multi_and_resp3)
{
	struct env e = { 0 };
	const char *multi[] = { "MULTI" };
	const char *exec[] = { "EXEC" };
	const char *get[] = { "GET", "mk" };
	const char *hello[] = { "HELLO", "3" };
	char req[256], line[4096];
	size_t rl;
	long calls;
	int fd, r3;

	env_start(&e, NULL, NULL);
	cli_unix(&e, "SET mk mv");
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	warm(&e, fd, "mk", "mv");
	ck_assert(rcc_ok(fd, 1, multi));
	rl = rcc_encode(req, sizeof(req), 2, get, NULL);
	ck_assert(rcc_roundtrip(fd, req, rl, "+QUEUED\r\n", 9));
	ck_assert(rcc_roundtrip(fd, req, rl, "+QUEUED\r\n", 9));
	rl = rcc_encode(req, sizeof(req), 1, exec, NULL);
	ck_assert(rcc_roundtrip(fd, req, rl, "*2\r\n$2\r\nmv\r\n$2\r\nmv\r\n", 20));
	warm(&e, fd, "mk", "mv");
	r3 = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(r3, 0);
	rl = rcc_encode(req, sizeof(req), 2, hello, NULL);
	ck_assert(rcc_send(r3, req, rl) == 0);
	ck_assert(rcc_read_exact(r3, line, 1) == 0 && line[0] == '%');
	while (!rcc_quiet(r3, 100) && recv(r3, line, sizeof(line), 0) > 0)
		;
	/* a connection's first GET goes to Redis: Redis lets it read */
	ck_assert(rcc_get_is(r3, "mk", "mv"));
	calls = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 10; i++)
		ck_assert(rcc_get_is(r3, "mk", "mv"));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
	close(r3);
	close(fd);
	env_stop(&e);
}
END_TEST

/* Values of the large size class (129..4096 bytes) are answered exactly,
 * alone and 16 to a segment (a 16 KiB kernel answer). */
/* redis-cli asks COMMAND DOCS first, a reply nested far deeper than the
 * scanner's stack; EVAL can nest replies to any depth. Neither costs the
 * connection its kernel answers, and no reply boundary is lost (a reply
 * whose last element closed every stacked level once was). */
START_TEST(deeply_nested_replies)
{
	struct env e = { 0 };
	char *out = NULL;
	long calls;
	int fd;

	env_start(&e, NULL, NULL);
	cli_unix(&e, "SET deep dv");
	cli_unix(&e, "SET other ov");
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	ck_assert(rcc_deep_replies(fd, "deep", "dv", "other", "ov"));
	warm(&e, fd, "deep", "dv");
	calls = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 50; i++)
		ck_assert(rcc_get_is(fd, "deep", "dv"));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
	ck_assert_uint_eq(stats(&e).bypass_bad, 0);
	close(fd);

	/* a real redis-cli session (COMMAND DOCS at connect): its GETs of a
	 * cached key are answered by the kernel after the first */
	calls = fx_redis_calls(e.redis, "get");
	ck_assert_int_eq(fx_run(e.ns, &out,
		"for i in $(seq 200); do echo GET deep; done | redis-cli -p %d | sort | uniq -c",
		e.port), 0);
	ck_assert_msg(strstr(out, "200 dv"), "redis-cli saw: %s", out);
	free(out);
	dump_stats(&e, "redis-cli");
	ck_assert_int_le(fx_redis_calls(e.redis, "get") - calls, 5);
	env_stop(&e);
}
END_TEST

START_TEST(large_class_value)
{
	struct env e = { 0 };
	static char val[1025], req[16 * 64], want[16 * 1040];
	const char *get[] = { "GET", "lk" };
	size_t one, wl = 0;
	long calls;
	int fd;

	memset(val, 'L', sizeof(val) - 1);
	val[100] = '\r';
	val[101] = '\n';
	env_start(&e, NULL, NULL);
	fd = connect_warm(&e, "lk", val);
	one = rcc_encode(req, sizeof(req), 2, get, NULL);
	for (int i = 1; i < 16; i++)
		memcpy(req + i * one, req, one);
	for (int i = 0; i < 16; i++)
		wl += snprintf(want + wl, sizeof(want) - wl, "$%zu\r\n%s\r\n",
			       sizeof(val) - 1, val);
	calls = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 5; i++)
		ck_assert(rcc_roundtrip(fd, req, 16 * one, want, wl));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
	close(fd);
	env_stop(&e);
}
END_TEST

/* ---- large replies: connections stay accelerated (issue 19, item 4) ---- */

static void send_get(int fd, const char *key)
{
	const char *get[] = { "GET", key };
	char req[128];
	size_t rl = rcc_encode(req, sizeof(req), 2, get, NULL);

	ck_assert_int_eq(rcc_send(fd, req, rl), 0);
}

/* Sends GET @key and reads the large reply after @delay_ms: meanwhile Redis
 * fills the send buffer, and a send fails half-way. */
static void get_big_slowly(int fd, const char *key, const char *want, size_t len,
			   int delay_ms)
{
	send_get(fd, key);
	fx_sleep_ms(delay_ms);
	ck_assert(read_bulk_is(fd, want, len));
}

/* The case: one 4 MiB GET on a connection, then 100 GETs of a cached
 * key; at least 95 are answered by the kernel (before: none, bypass_bad). */
START_TEST(large_reply_readmitted)
{
	struct env e = { 0 };
	const size_t len = 4 << 20;
	struct ebpfaccel_redis_cache_stats s0, s1;
	char *big;
	long calls;
	int fd;

	env_start(&e, NULL, NULL);
	big = big_value(&e, "big", len, 0);
	fd = connect_warm(&e, "k", "v");
	for (int round = 0; round < 3; round++) {
		s0 = stats(&e);
		get_big_slowly(fd, "big", big, len, 100);
		calls = fx_redis_calls(e.redis, "get");
		for (int i = 0; i < 100; i++)
			ck_assert(rcc_get_is(fd, "k", "v"));
		s1 = stats(&e);
		fprintf(stderr, "round %d: %lld of 100 GETs from the kernel, readmits %llu, bad %llu\n",
			round, (long long)(100 - (fx_redis_calls(e.redis, "get") - calls)),
			s1.readmits - s0.readmits, s1.bypass_bad - s0.bypass_bad);
		ck_assert_int_le(fx_redis_calls(e.redis, "get") - calls, 5);
		ck_assert_uint_ge(s1.hits - s0.hits, 95);
		ck_assert_uint_eq(s1.bypass_bad, s0.bypass_bad);
	}
	/* the case arose: bytes went out unseen and were accounted for */
	ck_assert_uint_ge(stats(&e).readmits, 1);
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	free(big);
	env_stop(&e);
}
END_TEST

/* The same with a large aggregate (LRANGE of a 5 MiB list, as a pooled
 * application reads a big list or hash now and then): unseen bytes fall
 * between elements too, where no length says what they hold. */
START_TEST(large_aggregate_readmitted)
{
	struct env e = { 0 };
	const int n = 50000;
	const char *lrange[] = { "LRANGE", "biglist", "0", "-1" };
	struct ebpfaccel_redis_cache_stats s0, s1;
	char req[128], *want = malloc(n * 128), *got = malloc(n * 128);
	size_t rl, wl;
	long calls;
	int fd, rcvbuf = 64 << 10;

	ck_assert(want && got);
	env_start(&e, NULL, NULL);
	cli_unix(&e, "EVAL \"for i = 1, 50000 do redis.call('RPUSH', KEYS[1], "
		     "string.rep('x', 100) .. i) end\" 1 biglist");
	wl = snprintf(want, n * 128, "*%d\r\n", n);
	for (int i = 1; i <= n; i++) {
		char num[16];
		int nl = snprintf(num, sizeof(num), "%d", i);

		wl += snprintf(want + wl, n * 128 - wl, "$%d\r\n", 100 + nl);
		memset(want + wl, 'x', 100);
		wl += 100;
		wl += snprintf(want + wl, n * 128 - wl, "%s\r\n", num);
	}
	fd = connect_warm(&e, "k", "v");
	/* Redis' send buffer fills while the client reads */
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	for (int round = 0; round < 3; round++) {
		s0 = stats(&e);
		rl = rcc_encode(req, sizeof(req), 4, lrange, NULL);
		ck_assert_int_eq(rcc_send(fd, req, rl), 0);
		fx_sleep_ms(100);
		ck_assert_int_eq(rcc_read_exact(fd, got, wl), 0);
		ck_assert_msg(!memcmp(got, want, wl), "round %d: LRANGE reply differs", round);
		calls = fx_redis_calls(e.redis, "get");
		for (int i = 0; i < 100; i++)
			ck_assert(rcc_get_is(fd, "k", "v"));
		s1 = stats(&e);
		fprintf(stderr, "round %d: %ld of 100 GETs from the kernel, readmits %llu, bad %llu\n",
			round, 100 - (fx_redis_calls(e.redis, "get") - calls), s1.readmits - s0.readmits,
			s1.bypass_bad - s0.bypass_bad);
		ck_assert_int_le(fx_redis_calls(e.redis, "get") - calls, 5);
		ck_assert_uint_eq(s1.bypass_bad, s0.bypass_bad);
	}
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	free(want);
	free(got);
	env_stop(&e);
}
END_TEST

/* A large reply still being written when the next GET of a cached key
 * arrives (Redis holds most of it: more than the send and the client's
 * receive buffers take): Redis still owes it, so the kernel must not answer
 * before it (Redis answers both, in order); then the connection is served
 * again. */
START_TEST(large_reply_in_flight_not_readmitted)
{
	struct env e = { 0 };
	const size_t len = 16 << 20;
	int rcvbuf = 64 << 10;
	struct ebpfaccel_redis_cache_stats s0, s1;
	char hdr[32], *big, *got = malloc(len + 2);
	size_t hl, at;
	long calls;
	int fd;

	ck_assert_ptr_nonnull(got);
	env_start(&e, NULL, NULL);
	big = big_value(&e, "big", len, 1);
	fd = connect_warm(&e, "k", "v");
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	for (int round = 0; round < 3; round++) {
		calls = fx_redis_calls(e.redis, "get");
		s0 = stats(&e);
		send_get(fd, "big");
		fx_sleep_ms(100);
		/* copying 16 MiB can take Redis a while on a loaded machine */
		ck_assert_int_eq(poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 20000), 1);
		hl = snprintf(hdr, sizeof(hdr), "$%zu\r\n", len);
		ck_assert_msg(rcc_read_exact(fd, got, hl) == 0, "round %d: no reply header", round);
		ck_assert(!memcmp(got, hdr, hl));
		/* 1 MiB of it read: sends failed half-way and went on */
		for (at = 0; at < 1 << 20; at += 256 << 10)
			ck_assert_int_eq(rcc_read_exact(fd, got + at, 256 << 10), 0);
		fx_sleep_ms(50);
		send_get(fd, "k");
		fx_sleep_ms(50);
		ck_assert_int_eq(rcc_read_exact(fd, got + at, len + 2 - at), 0);
		ck_assert_msg(!memcmp(got, big, len) && !memcmp(got + len, "\r\n", 2),
			      "round %d: the large value is not exact", round);
		ck_assert_int_eq(rcc_read_exact(fd, got, 7), 0);
		ck_assert_msg(!memcmp(got, "$1\r\nv\r\n", 7), "round %d: '%.7s' after the value",
			      round, got);
		s1 = stats(&e);
		/* both GETs reached Redis: the kernel answered nothing meanwhile */
		ck_assert_int_eq(fx_redis_calls(e.redis, "get") - calls, 2);
		ck_assert_uint_eq(s1.hits, s0.hits);
		/* and once it was all written the connection is answered
		 * again: the bytes its half-failed sends leave unseen stay
		 * inside what was scanned (bound_unseen()). Still possible,
		 * and then visible and exact: a gap past the scan (seen once
		 * in 3 full-suite runs at load 17; never in 6 runs of this
		 * case alone with a CPU hog on both cores): given up. */
		for (int i = 0; i < 20; i++)
			ck_assert(rcc_get_is(fd, "k", "v"));
		s1 = stats(&e);
		fprintf(stderr, "round %d: %ld of 20 GETs from the kernel, readmits %llu, bad %llu\n",
			round, 20 - (fx_redis_calls(e.redis, "get") - calls - 2), s1.readmits - s0.readmits,
			s1.bypass_bad - s0.bypass_bad);
		if (fx_redis_calls(e.redis, "get") - calls > 2 + 2) {
			ck_assert_msg(s1.bypass_bad > s0.bypass_bad,
				      "round %d: neither answered again nor given up", round);
			printf("large_reply_in_flight_not_readmitted: given up, not readmitted\n");
			break;
		}
	}
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	free(got);
	free(big);
	env_stop(&e);
}
END_TEST

/* Large values interleaved with pipelined GETs of cached keys, sent as one
 * segment or request by request, read at once or after a pause: every reply
 * byte-exact and in order. */
START_TEST(large_interleaved_pipelined)
{
	struct env e = { 0 };
	const size_t lens[2] = { 1 << 20, 3 << 20 };
	char *big[2], key[16], val[32], *req = malloc(1 << 16);
	struct ebpfaccel_redis_cache_stats s0, s1;
	unsigned int seed = 19;
	int fd;

	ck_assert_ptr_nonnull(req);
	env_start(&e, NULL, NULL);
	big[0] = big_value(&e, "big0", lens[0], 2);
	big[1] = big_value(&e, "big1", lens[1], 3);
	fd = rcc_connect(e.ns, e.port);
	ck_assert_int_ge(fd, 0);
	for (int k = 0; k < 8; k++) {
		snprintf(key, sizeof(key), "s%d", k);
		snprintf(val, sizeof(val), "small-%d", k);
		cli_unix(&e, (snprintf(req, 1 << 16, "SET %s %s", key, val), req));
		warm(&e, fd, key, val);
	}
	s0 = stats(&e);
	for (int round = 0; round < 40; round++) {
		int n = 1 + rand_r(&seed) % 6, which[6], one_segment = rand_r(&seed) % 2;
		size_t rl = 0;

		for (int i = 0; i < n; i++) {
			const char *get[] = { "GET", key };

			which[i] = rand_r(&seed) % 4 ? (int)(rand_r(&seed) % 8) : -1 - (int)(rand_r(&seed) % 2);
			if (which[i] >= 0)
				snprintf(key, sizeof(key), "s%d", which[i]);
			else
				snprintf(key, sizeof(key), "big%d", -1 - which[i]);
			if (one_segment) {
				rl += rcc_encode(req + rl, (1 << 16) - rl, 2, get, NULL);
			} else {
				rl = rcc_encode(req, 1 << 16, 2, get, NULL);
				ck_assert_int_eq(rcc_send(fd, req, rl), 0);
				rl = 0;
			}
		}
		if (rl)
			ck_assert_int_eq(rcc_send(fd, req, rl), 0);
		if (rand_r(&seed) % 2)
			fx_sleep_ms(30);
		for (int i = 0; i < n; i++) {
			if (which[i] < 0) {
				ck_assert_msg(read_bulk_is(fd, big[-1 - which[i]], lens[-1 - which[i]]),
					      "round %d reply %d", round, i);
				continue;
			}
			snprintf(val, sizeof(val), "small-%d", which[i]);
			ck_assert_msg(read_bulk_is(fd, val, strlen(val)), "round %d reply %d", round, i);
		}
		/* a few single GETs between rounds, as a pooled connection does */
		for (int i = 0; i < 5; i++)
			ck_assert(rcc_get_is(fd, "s0", "small-0"));
	}
	s1 = stats(&e);
	fprintf(stderr, "interleaved: hits %llu readmits %llu bad %llu\n", s1.hits - s0.hits,
		s1.readmits - s0.readmits, s1.bypass_bad - s0.bypass_bad);
	ck_assert_uint_gt(s1.hits, s0.hits);
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	free(big[0]);
	free(big[1]);
	free(req);
	env_stop(&e);
}
END_TEST

/* A connection whose reply stream the programs gave up (a push inside
 * EXEC's array: "DEBUG PROTOCOL push" in RESP3, which the scanner refuses)
 * counts bypass_bad once, not again at each later reply (issue 19: the
 * resync of an abandoned stream failed, and counted, every time); its
 * later GETs all go to Redis, answered right. */
START_TEST(given_up_counted_once)
{
	static const char *const conf[] = { "enable-debug-command yes", NULL };
	static const char req[] = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"
		"*1\r\n$5\r\nMULTI\r\n"
		"*3\r\n$5\r\nDEBUG\r\n$8\r\nPROTOCOL\r\n$4\r\npush\r\n"
		"*1\r\n$4\r\nEXEC\r\n"
		"*2\r\n$4\r\nECHO\r\n$16\r\n<end-of-exec-19>\r\n";
	static const char end[] = "$16\r\n<end-of-exec-19>\r\n";
	struct ebpfaccel_redis_cache_stats s0, s1;
	struct env e = { 0 };
	char buf[8192];
	size_t got = 0;
	long calls;
	int fd;

	env_start(&e, conf, NULL);
	fd = connect_warm(&e, "k", "v");
	s0 = stats(&e);
	ck_assert_int_eq(rcc_send(fd, req, sizeof(req) - 1), 0);
	/* up to the marker: HELLO's map, +OK, +QUEUED, EXEC's array, ECHO */
	while (got < sizeof(end) - 1 || memcmp(buf + got - (sizeof(end) - 1), end, sizeof(end) - 1)) {
		ck_assert_int_lt(got, sizeof(buf));
		ck_assert_int_eq(rcc_read_exact(fd, buf + got, 1), 0);
		got++;
	}
	buf[got] = 0;
	ck_assert_msg(strstr(buf, ">2\r\n$16\r\nserver-cpu-usage\r\n"), "no push in '%s'", buf);
	s1 = stats(&e);
	ck_assert_uint_eq(s1.bypass_bad - s0.bypass_bad, 1);
	calls = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 20; i++)
		ck_assert(rcc_get_is(fd, "k", "v"));
	ck_assert_int_eq(fx_redis_calls(e.redis, "get") - calls, 20);
	s1 = stats(&e);
	ck_assert_uint_eq(s1.bypass_bad - s0.bypass_bad, 1);
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	env_stop(&e);
}
END_TEST

int main(void)
{
	const struct {
		const char *name;
		const TTest *test;
	} tests[] = {
#define T(x) { #x, x }
		T(map_sizes_follow_options),
		T(hit_comes_from_kernel),
		T(invalidated_by_other_writers),
		T(select_across_dbs),
		T(split_and_pipelined),
		T(set_forms_invalidate),
		T(set_forms_invalidate_keys),
		T(binary_safe),
		T(get_request_forms),
		T(answer_is_one_segment),
		T(malformed_and_oversize),
		T(auth_required),
		T(runtime_auth_and_acl),
		T(client_pause_holds_hits),
		T(big_reply_not_overtaken),
		T(coherence_connection_recovers),
		T(soak_writers_and_readers),
		T(soak_track_keys),
		T(auto_tcp_only_tracks_keys),
		T(auto_unix_socket_tracks_all),
		T(auto_eviction_policy),
		T(auto_replica),
		T(auto_connection_before_attach),
		T(soak_auto_unix_writer),
		T(soak_auto_tcp_writers),
		T(auto_delayed_write_not_filled),
		T(auto_deep_write_pipeline),
		T(detach_reattach_under_load),
		T(real_clients),
		T(set_write_through),
		T(multi_and_resp3),
		T(large_class_value),
		T(deeply_nested_replies),
		T(large_reply_readmitted),
		T(large_aggregate_readmitted),
		T(large_reply_in_flight_not_readmitted),
		T(large_interleaved_pipelined),
		T(soak_large_values),
		T(given_up_counted_once),
#undef T
	};
	Suite *s = suite_create("redis_cache");
	SRunner *sr;
	int failed;

	/* one case per test: CK_RUN_CASE=<test> runs one */
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		TCase *tc = tcase_create(tests[i].name);

		tcase_set_timeout(tc, 120);
		tcase_add_test(tc, tests[i].test);
		suite_add_tcase(s, tc);
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
