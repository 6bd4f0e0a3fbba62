// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The near cache against a real redis-server 7: the server in one netns,
 * the clients in another (the client host), a veth pair between them, the
 * clients in a cgroup the cache is attached to. A hit is proven to be
 * answered on the client's host when Redis' own INFO commandstats shows no
 * GET call for it and the client socket received no segment for it.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/un.h>
#include <time.h>

#include <ebpfaccel/ebpfaccel.h>
#include "redis_cache_client.h"
#include "tcp_segs.h"

#define STALE_MS 300

struct env {
	struct fx_netns *srv_ns, *cli_ns;
	struct fx_veth veth;
	struct fx_cgroup *cg;
	struct fx_redis *redis;
	struct ebpfaccel_near_cache *nc;
	char server[64];
	int port;
	/* options of env_start_opts() */
	const char *const *prefixes;
	size_t nr_prefixes;
	bool ipv6;
	__u32 stale_ms;		/* 0: STALE_MS */
};

/* Everything this process creates from here on (sockets, redis-cli,
 * python) is a client of the cache; the library's own connections were
 * made before, outside the cgroup, as they would be in a holder. */
static void env_start_opts(struct env *e)
{
	const char *servers[1] = { e->server };
	int prev;

	fx_require_root();
	fx_require_program("/usr/bin/redis-server", "redis-server");
	fx_require_program("/usr/bin/redis-cli", "redis-cli");
	e->srv_ns = fx_netns_new();
	e->cli_ns = fx_netns_new();
	ck_assert(e->srv_ns && e->cli_ns);
	ck_assert_int_eq(fx_veth_new(e->cli_ns, e->srv_ns, &e->veth), 0);
	e->cg = fx_cgroup_new();
	ck_assert_ptr_nonnull(e->cg);
	e->redis = fx_redis_start(e->srv_ns, NULL);
	ck_assert_ptr_nonnull(e->redis);
	e->port = fx_redis_port(e->redis);
	if (e->ipv6)
		snprintf(e->server, sizeof(e->server), "[%s]:%d", e->veth.ip6_b, e->port);
	else
		snprintf(e->server, sizeof(e->server), "%s:%d", e->veth.ip4_b, e->port);
	{
		LIBEBPFACCEL_OPTS(ebpfaccel_near_cache_opts, opts,
			.servers = servers, .nr_servers = 1,
			.cgroup_path = fx_cgroup_path(e->cg),
			.max_staleness_ms = e->stale_ms ?: STALE_MS,
			.prefixes = e->prefixes, .nr_prefixes = e->nr_prefixes);

		e->nc = ebpfaccel_near_cache__open(&opts);
	}
	ck_assert_msg(e->nc, "open: %s", strerror(errno));
	prev = fx_netns_enter(e->cli_ns);
	ck_assert_int_ge(prev, 0);
	ck_assert_int_eq(ebpfaccel_near_cache__attach(e->nc), 0);
	ck_assert_int_eq(fx_netns_return(prev), 0);
	ck_assert_int_eq(ebpfaccel_near_cache__serving(e->nc), 1);
	ck_assert_int_eq(fx_cgroup_add_pid(e->cg, getpid()), 0);
}

static void env_start(struct env *e)
{
	env_start_opts(e);
}

static void env_stop(struct env *e)
{
	ebpfaccel_near_cache__destroy(e->nc);
	fx_redis_stop(e->redis);
	fx_cgroup_free(e->cg);
	fx_netns_free(e->cli_ns);
	fx_netns_free(e->srv_ns);
}

static struct ebpfaccel_near_cache_stats stats(struct env *e)
{
	struct ebpfaccel_near_cache_stats s;

	ck_assert_int_eq(ebpfaccel_near_cache__stats(e->nc, &s, sizeof(s)), 0);
	return s;
}

static void dump_stats(struct env *e, const char *when)
{
	struct ebpfaccel_near_cache_stats s = stats(e);

	fprintf(stderr, "%s: hits %llu misses %llu fills %llu races %llu inval %llu "
		"flushes %llu expired %llu bypass state %llu size %llu bad %llu "
		"requests %llu replies %llu conns %llu confirms %llu\n", when,
		s.hits, s.misses, s.fills, s.fill_races, s.invalidations, s.flushes,
		s.expired, s.bypass_state, s.bypass_size, s.bypass_bad, s.requests,
		s.replies, s.connections, s.confirms);
}

/* A client connection to the server across the veth. */
static int nconnect(struct env *e)
{
	int fd = rcc_connect_to(e->cli_ns, e->veth.ip4_b, e->port);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* A connection to the server's unix socket: a writer the programs never
 * see (its invalidations come through Redis' client tracking only). */
static int uconnect(struct env *e)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fx_redis_unixsock(e->redis));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* GETs @key on @fd until the near cache answers it (fill confirmed). */
static void warm(struct env *e, int fd, const char *key, const char *value)
{
	for (int i = 0; i < 200; i++) {
		long before = tcp_data_segs_in(fd);

		ck_assert(rcc_get_is(fd, key, value));
		if (tcp_data_segs_in(fd) == before)
			return;
		fx_sleep_ms(5);
	}
	dump_stats(e, "warm");
	ck_abort_msg("key %s never answered on the client's host", key);
}

static void uset(int u, const char *key, const char *value)
{
	const char *set[] = { "SET", key, value };

	ck_assert(rcc_ok(u, 3, set));
}

START_TEST(hit_answered_on_client_host)
{
	/* Entries past half the bound are refilled: under load (average 25
	 * on 2 cores) 1000 GETs outlasted half of STALE_MS and 1 or 66 of
	 * them reached Redis. A bound far beyond the run measures hits. */
	struct env e = { .stale_ms = 60000 };
	struct ebpfaccel_near_cache_stats s0, s1;
	long rx;
	long calls;
	int fd, u;

	env_start(&e);
	u = uconnect(&e);
	uset(u, "greeting", "hello world");
	fd = nconnect(&e);
	warm(&e, fd, "greeting", "hello world");
	s0 = stats(&e);
	calls = fx_redis_calls(e.redis, "get");
	rx = tcp_data_segs_in(fd);
	for (int i = 0; i < 1000; i++)
		ck_assert(rcc_get_is(fd, "greeting", "hello world"));
	s1 = stats(&e);
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
	ck_assert_uint_eq(tcp_data_segs_in(fd), rx);
	ck_assert_uint_ge(s1.hits - s0.hits, 1000);
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	close(u);
	env_stop(&e);
}
END_TEST

/* Every size class and header width of a local answer, byte for byte:
 * empty and sub-word values, each side of a word, of the small class'
 * 128 bytes, of the large class' 32- and 256-byte blocks, 1-4 digit
 * lengths up to the largest value cached; and replies shorter than their
 * request (a key of RESP_KEY_MAX bytes, a 1-byte value). Each is answered
 * on the client's host: no segment comes back from Redis. */
START_TEST(every_reply_size)
{
	static const unsigned int sizes[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33,
		63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 511, 999, 1000, 1001,
		4095, 4096 };
	static char val[4097];
	char key[80], long_key[65];
	struct env e = { .stale_ms = 60000 };
	int fd, u;

	env_start(&e);
	u = uconnect(&e);
	fd = nconnect(&e);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned int n = sizes[i];
		long rx;

		for (unsigned int j = 0; j < n; j++)
			val[j] = 'A' + (i + j * 7) % 26;
		val[n] = '\0';
		snprintf(key, sizeof(key), "size:%u", n);
		uset(u, key, val);
		warm(&e, fd, key, val);
		rx = tcp_data_segs_in(fd);
		for (int k = 0; k < 20; k++)
			ck_assert_msg(rcc_get_is(fd, key, val), "value of %u bytes", n);
		ck_assert_msg(tcp_data_segs_in(fd) == rx, "value of %u bytes went to Redis", n);
	}
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	uset(u, long_key, "v");
	warm(&e, fd, long_key, "v");
	for (int k = 0; k < 20; k++)
		ck_assert(rcc_get_is(fd, long_key, "v"));
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	close(u);
	env_stop(&e);
}
END_TEST

/* The expected reply of GET against the model. */
static size_t expect_get(char *out, const char *v)
{
	return v ? (size_t)sprintf(out, "$%zu\r\n%s\r\n", strlen(v), v)
		 : (size_t)sprintf(out, "$-1\r\n");
}

/* 100k requests on one connection (single GETs, pipelined GETs, SETs,
 * DELs, APPENDs, MGETs), every reply compared byte for byte with a model
 * of the keyspace: this connection is the only writer. */
START_TEST(exact_bytes_mixed)
{
	enum { NKEYS = 40, N = 100000 };
	static char vals[NKEYS][1200];
	static char req[16384], want[65536], got[65536];
	bool present[NKEYS] = { 0 };
	struct env e = { 0 };
	struct ebpfaccel_near_cache_stats s;
	unsigned int seed = 14;
	int fd, i;

	env_start(&e);
	fd = nconnect(&e);
	for (i = 0; i < N; i++) {
		int op = rand_r(&seed) % 100, k = rand_r(&seed) % NKEYS;
		char key[16];
		size_t rl = 0, wl = 0;

		snprintf(key, sizeof(key), "key:%d", k);
		if (op < 70) {
			const char *a[] = { "GET", key };

			rl = rcc_encode(req, sizeof(req), 2, a, NULL);
			wl = expect_get(want, present[k] ? vals[k] : NULL);
		} else if (op < 78) {
			/* pipelined GETs in one segment */
			for (int j = 0; j < 3; j++) {
				char k2[16];
				int kk = (k + j) % NKEYS;
				const char *a[] = { "GET", k2 };

				snprintf(k2, sizeof(k2), "key:%d", kk);
				rl += rcc_encode(req + rl, sizeof(req) - rl, 2, a, NULL);
				wl += expect_get(want + wl, present[kk] ? vals[kk] : NULL);
			}
		} else if (op < 90) {
			int len = rand_r(&seed) % 10 == 0 ? 200 + rand_r(&seed) % 1000
							   : 1 + rand_r(&seed) % 100;
			const char *a[] = { "SET", key, vals[k] };

			for (int j = 0; j < len; j++)
				vals[k][j] = 'a' + (i + j) % 26;
			vals[k][len] = '\0';
			present[k] = true;
			rl = rcc_encode(req, sizeof(req), 3, a, NULL);
			wl = sprintf(want, "+OK\r\n");
		} else if (op < 94) {
			const char *a[] = { "DEL", key };

			rl = rcc_encode(req, sizeof(req), 2, a, NULL);
			wl = sprintf(want, ":%d\r\n", present[k]);
			present[k] = false;
		} else if (op < 97 && present[k] && strlen(vals[k]) < 1100) {
			const char *a[] = { "APPEND", key, "xy" };

			strcat(vals[k], "xy");
			rl = rcc_encode(req, sizeof(req), 3, a, NULL);
			wl = sprintf(want, ":%zu\r\n", strlen(vals[k]));
		} else {
			const char *a[] = { "MGET", key, "nokey" };

			rl = rcc_encode(req, sizeof(req), 3, a, NULL);
			wl = sprintf(want, "*2\r\n");
			wl += expect_get(want + wl, present[k] ? vals[k] : NULL);
			wl += sprintf(want + wl, "$-1\r\n");
		}
		ck_assert_int_eq(rcc_send(fd, req, rl), 0);
		ck_assert_msg(!rcc_read_exact(fd, got, wl), "request %d: no reply", i);
		ck_assert_msg(!memcmp(got, want, wl), "request %d: reply differs", i);
	}
	ck_assert(rcc_quiet(fd, 50));
	s = stats(&e);
	dump_stats(&e, "mixed");
	/* how many depends on how fast the engine confirms fills on a busy
	 * machine; what matters here is that every answer is exact */
	ck_assert_uint_gt(s.hits, 1000);
	close(fd);
	env_stop(&e);
}
END_TEST

/* A GET sent while a reply is owed must wait for it: SET then GET of the
 * same key, and MGET then GET of a cached key, each written back to back
 * in separate sends, are answered in order, with the new value. */
START_TEST(owed_reply_ordering)
{
	struct env e = { 0 };
	static char got[256], want[256];
	int fd, u;

	env_start(&e);
	u = uconnect(&e);
	uset(u, "hot", "v0");
	fd = nconnect(&e);
	warm(&e, fd, "hot", "v0");
	for (int i = 1; i <= 2000; i++) {
		char val[16], set[64];
		const char *a[] = { "SET", "hot", val };
		const char *g[] = { "GET", "hot" };
		size_t n, wl;

		snprintf(val, sizeof(val), "v%d", i);
		n = rcc_encode(set, sizeof(set), 3, a, NULL);
		ck_assert_int_eq(rcc_send(fd, set, n), 0);
		n = rcc_encode(set, sizeof(set), 2, g, NULL);
		ck_assert_int_eq(rcc_send(fd, set, n), 0);
		wl = sprintf(want, "+OK\r\n$%zu\r\n%s\r\n", strlen(val), val);
		ck_assert_msg(!rcc_read_exact(fd, got, wl), "pair %d: no reply", i);
		ck_assert_msg(!memcmp(got, want, wl), "pair %d: out of order or stale", i);
	}
	/* a cached GET right behind a read Redis still owes the reply of:
	 * answered locally at once, it would overtake that reply */
	warm(&e, fd, "hot", "v2000");
	for (int i = 0; i < 2000; i++) {
		const char mget[] = "*2\r\n$4\r\nMGET\r\n$3\r\nhot\r\n";
		const char get[] = "*2\r\n$3\r\nGET\r\n$3\r\nhot\r\n";
		const char want2[] = "*1\r\n$5\r\nv2000\r\n$5\r\nv2000\r\n";

		ck_assert_int_eq(rcc_send(fd, mget, sizeof(mget) - 1), 0);
		ck_assert_int_eq(rcc_send(fd, get, sizeof(get) - 1), 0);
		ck_assert(!rcc_read_exact(fd, got, sizeof(want2) - 1));
		got[sizeof(want2) - 1] = '\0';
		ck_assert_msg(!memcmp(got, want2, sizeof(want2) - 1),
			      "pair %d: the answer overtook MGET's reply: %s", i, got);
		ck_assert(rcc_get_is(fd, "hot", "v2000"));
	}
	ck_assert(rcc_quiet(fd, 50));
	close(fd);
	close(u);
	env_stop(&e);
}
END_TEST

struct soak {
	struct env *e;
	atomic_int stop;
	/* the counter value whose SET reply the writer has received, and when */
	atomic_long acked;
	double acked_at[1 << 16];
	long writes;
};

static void *soak_writer(void *arg)
{
	struct soak *s = arg;
	int u = uconnect(s->e);

	for (long v = 1; !atomic_load(&s->stop) && v < (1 << 16); v++) {
		char val[24];

		snprintf(val, sizeof(val), "%ld", v);
		uset(u, "counter", val);
		s->acked_at[v] = now_ms();
		atomic_store(&s->acked, v);
		s->writes = v;
		fx_sleep_ms(1);
	}
	close(u);
	return NULL;
}

/* Reads a GET reply of a decimal value. */
static long get_counter(int fd)
{
	static const char req[] = "*2\r\n$3\r\nGET\r\n$7\r\ncounter\r\n";
	char buf[64];
	size_t n = 0;

	ck_assert_int_eq(rcc_send(fd, req, sizeof(req) - 1), 0);
	/* "$<len>\r\n<digits>\r\n" */
	ck_assert(!rcc_read_exact(fd, buf, 4));
	n = 4;
	while (n < 4 || memcmp(buf + n - 2, "\r\n", 2) || n < (size_t)(buf[1] - '0') + 6) {
		ck_assert(!rcc_read_exact(fd, buf + n, 1));
		n++;
		ck_assert_uint_lt(n, sizeof(buf) - 1);
	}
	buf[n] = '\0';
	return strtol(strchr(buf, '\n') + 1, NULL, 10);
}

/* A writer the programs never see (unix socket) increments a counter; a
 * reader on the client host must never read a value older than the last
 * write acknowledged more than the staleness bound ago. Reported: how
 * late the reader saw writes (tracking latency). */
START_TEST(other_writer_within_bound)
{
	struct env e = { 0 };
	struct soak *s = calloc(1, sizeof(*s));
	long reads = 0, stale_within = 0;
	double start, worst = 0;
	pthread_t th;
	int fd, u;

	ck_assert_ptr_nonnull(s);
	env_start(&e);
	s->e = &e;
	u = uconnect(&e);
	uset(u, "counter", "0");
	fd = nconnect(&e);
	warm(&e, fd, "counter", "0");
	ck_assert_int_eq(pthread_create(&th, NULL, soak_writer, s), 0);
	start = now_ms();
	while (now_ms() - start < 3000) {
		double t0 = now_ms();
		long before = atomic_load(&s->acked), v;

		v = get_counter(fd);
		reads++;
		/* acknowledged before the GET was sent: a value older than it
		 * is stale, allowed only within the bound */
		if (v < before) {
			double lag = t0 - s->acked_at[v + 1];

			ck_assert_msg(lag <= STALE_MS + 50,
				      "read %ld at %.1f ms after write %ld was acked",
				      v, lag, v + 1);
			stale_within++;
			worst = lag > worst ? lag : worst;
		}
	}
	atomic_store(&s->stop, 1);
	pthread_join(th, NULL);
	fprintf(stderr, "soak: %ld reads, %ld writes, %ld behind the writer, at most "
		"%.2f ms (bound %d ms)\n", reads, s->writes, stale_within, worst, STALE_MS);
	dump_stats(&e, "soak");
	ck_assert_uint_gt(stats(&e).hits, 0);
	close(fd);
	close(u);
	free(s);
	env_stop(&e);
}
END_TEST

/* The library's tracking connection killed: answers stop, nothing written
 * meanwhile is ever answered stale, and serving resumes after reconnect. */
START_TEST(tracking_link_cut)
{
	struct env e = { 0 };
	char *out = NULL;
	int fd, u, n;

	env_start(&e);
	u = uconnect(&e);
	uset(u, "k", "before");
	fd = nconnect(&e);
	warm(&e, fd, "k", "before");
	/* the tracking connection is the library's only RESP3 one (it
	 * receives the pushes, whichever connection registers the keys) */
	n = fx_run(e.srv_ns, &out, "redis-cli -s %s CLIENT LIST | "
		   "awk '/resp=3/ { sub(\"id=\", \"\", $1); print $1 }'",
		   fx_redis_unixsock(e.redis));
	ck_assert_int_eq(n, 0);
	ck_assert_msg(out && atoi(out) > 0, "no tracking client in CLIENT LIST");
	ck_assert_int_eq(fx_run(e.srv_ns, NULL, "redis-cli -s %s CLIENT KILL ID %d >/dev/null",
				fx_redis_unixsock(e.redis), atoi(out)), 0);
	free(out);
	/* written while no invalidation can reach the host */
	uset(u, "k", "after");
	for (int i = 0; i < 50 && ebpfaccel_near_cache__serving(e.nc); i++)
		fx_sleep_ms(2);
	ck_assert(rcc_get_is(fd, "k", "after"));
	for (int i = 0; i < 200 && !ebpfaccel_near_cache__serving(e.nc); i++)
		fx_sleep_ms(10);
	ck_assert_int_eq(ebpfaccel_near_cache__serving(e.nc), 1);
	ck_assert(rcc_get_is(fd, "k", "after"));
	warm(&e, fd, "k", "after");
	close(fd);
	close(u);
	env_stop(&e);
}
END_TEST

/* What must pass untouched: MULTI, SELECT, CLIENT REPLY, AUTH of another
 * user, subscribers; what is never confused: db 1's key with db 0's. */
START_TEST(connection_state_modelled)
{
	struct env e = { 0 };
	const char *sel1[] = { "SELECT", "1" }, *sel0[] = { "SELECT", "0" };
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	const char getk[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
	const char reply_off[] = "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n";
	char buf[128];
	int fd, u;

	env_start(&e);
	u = uconnect(&e);
	uset(u, "k", "db0");
	ck_assert(rcc_ok(u, 2, sel1));
	uset(u, "k", "db1");
	fd = nconnect(&e);
	warm(&e, fd, "k", "db0");
	/* SELECT 1: the db 0 entry must not answer */
	ck_assert(rcc_ok(fd, 2, sel1));
	for (int i = 0; i < 20; i++)
		ck_assert(rcc_get_is(fd, "k", "db1"));
	ck_assert(rcc_ok(fd, 2, sel0));
	warm(&e, fd, "k", "db0");
	/* MULTI: the GET is queued by Redis, not answered */
	ck_assert(rcc_ok(fd, 1, multi));
	ck_assert(rcc_line(fd, getk, sizeof(getk) - 1, "+QUEUED"));
	ck_assert_int_eq(rcc_send(fd, "*1\r\n$4\r\nEXEC\r\n", 14), 0);
	ck_assert(!rcc_read_exact(fd, buf, 13));
	ck_assert(!memcmp(buf, "*1\r\n$3\r\ndb0\r\n", 13));
	(void)exec;
	warm(&e, fd, "k", "db0");
	/* CLIENT REPLY OFF: no reply at all, then none is made up */
	ck_assert_int_eq(rcc_send(fd, reply_off, sizeof(reply_off) - 1), 0);
	ck_assert_int_eq(rcc_send(fd, getk, sizeof(getk) - 1), 0);
	ck_assert(rcc_quiet(fd, 200));
	close(fd);
	/* a subscriber's connection is never answered */
	fd = nconnect(&e);
	warm(&e, fd, "k", "db0");
	ck_assert_int_eq(rcc_send(fd, "*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n", 27), 0);
	ck_assert(!rcc_read_exact(fd, buf, 31));
	ck_assert(!memcmp(buf, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", 31));
	ck_assert_int_eq(rcc_send(fd, getk, sizeof(getk) - 1), 0);
	ck_assert(!rcc_read_exact(fd, buf, 1));
	ck_assert_int_eq(buf[0], '-');	/* Redis: only (P|S)SUBSCRIBE / ... allowed */
	close(fd);
	close(u);
	env_stop(&e);
}
END_TEST

/* Closes @fd with a RST (SO_LINGER 0): TCP_CLOSE at once, so the socket's
 * index in the near cache's map is free for the next connection. */
static void close_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd);
}

#define CHURN_LONG	4
#define CHURN_ROUNDS	300
#define CHURN_HELD	6

static void churn_key(int i, char *key, char *val)
{
	sprintf(key, "churn:%d", i);
	sprintf(val, "value-of-%d", i);
}

/* Each long-lived connection GETs its own key: answered on the client's
 * host, exactly its value, nothing left over. */
static void churn_check_long(const int *lfd)
{
	char key[32], val[32];

	for (int i = 0; i < CHURN_LONG; i++) {
		churn_key(i, key, val);
		ck_assert_msg(rcc_get_is(lfd[i], key, val), "connection %d: not its answer", i);
	}
}

/* Connections that come and go take the map indices others left (the
 * last one freed is tried first): every answer still reaches the socket
 * that asked. Long-lived connections GET their own keys between short
 * ones, which GET a shared key twice (the first reaches Redis, the second
 * is answered here) and close, half with a RST, half with a FIN. Then,
 * past Redis' maxclients, connections Redis refuses come and go too. */
START_TEST(connection_churn)
{
	struct env e = { .stale_ms = 60000 };
	const char maxc[] = "*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$10\r\nmaxclients\r\n";
	const char getshort[] = "*2\r\n$3\r\nGET\r\n$5\r\nshort\r\n";
	struct ebpfaccel_near_cache_stats s0, s1;
	int lfd[CHURN_LONG], held[CHURN_HELD], u, refused = 0;
	char key[32], val[32], req[128];
	size_t n;

	env_start(&e);
	u = uconnect(&e);
	uset(u, "short", "shared");
	for (int i = 0; i < CHURN_LONG; i++) {
		churn_key(i, key, val);
		uset(u, key, val);
		lfd[i] = nconnect(&e);
		warm(&e, lfd[i], key, val);
	}
	s0 = stats(&e);
	for (int r = 0; r < CHURN_ROUNDS; r++) {
		int fd = nconnect(&e);
		long rx;

		if (r == 0)
			warm(&e, fd, "short", "shared");
		ck_assert(rcc_get_is(fd, "short", "shared"));
		rx = tcp_data_segs_in(fd);
		ck_assert(rcc_get_is(fd, "short", "shared"));
		ck_assert_msg(tcp_data_segs_in(fd) == rx, "round %d: not answered locally", r);
		churn_check_long(lfd);
		if (r % 2)
			close_rst(fd);
		else
			close(fd);
	}
	s1 = stats(&e);
	ck_assert_uint_ge(s1.connections - s0.connections, CHURN_ROUNDS);
	ck_assert_uint_ge(s1.hits - s0.hits, CHURN_ROUNDS * (1 + CHURN_LONG));
	/* room for two more clients: the rest are refused by Redis at once */
	{
		const char *info[] = { "CLIENT", "LIST" };
		char list[8192];
		size_t rl = rcc_encode(req, sizeof(req), 2, info, NULL);
		int clients = 0, len;

		ck_assert_int_eq(rcc_send(u, req, rl), 0);
		ck_assert(!rcc_read_line(u, list, sizeof(list)));
		ck_assert_int_eq(list[0], '$');
		len = atoi(list + 1);
		ck_assert_int_lt(len, (int)sizeof(list));
		ck_assert(!rcc_read_exact(u, list, len + 2));
		for (int i = 0; i < len; i++)
			clients += list[i] == '\n';
		snprintf(val, sizeof(val), "%d", clients + 2);
	}
	n = sprintf(req, "%s$%zu\r\n%s\r\n", maxc, strlen(val), val);
	ck_assert(rcc_roundtrip(u, req, n, "+OK\r\n", 5));
	for (int i = 0; i < CHURN_HELD; i++) {
		char line[128];

		held[i] = nconnect(&e);
		/* Redis writes its error and closes, unread GET and all: the
		 * RST may come first, and the socket leaving the map drops
		 * what was queued for it */
		if (rcc_send(held[i], getshort, sizeof(getshort) - 1) ||
		    rcc_read_line(held[i], line, sizeof(line)) ||
		    !strncmp(line, "-ERR max number of clients", 26)) {
			refused++;
		} else {
			ck_assert_str_eq(line, "$6\r\n");
			ck_assert(!rcc_read_exact(held[i], line, 8));
			ck_assert(!memcmp(line, "shared\r\n", 8));
		}
		churn_check_long(lfd);
	}
	ck_assert_int_ge(refused, CHURN_HELD - 2);
	for (int i = 0; i < CHURN_HELD; i++)
		close_rst(held[i]);
	n = sprintf(req, "%s$5\r\n10000\r\n", maxc);
	ck_assert(rcc_roundtrip(u, req, n, "+OK\r\n", 5));
	/* the refused connections' indices go to new ones */
	for (int r = 0; r < 20; r++) {
		int fd = nconnect(&e);

		warm(&e, fd, "short", "shared");
		churn_check_long(lfd);
		close_rst(fd);
	}
	for (int i = 0; i < CHURN_LONG; i++) {
		ck_assert(rcc_quiet(lfd[i], 20));
		close(lfd[i]);
	}
	close(u);
	env_stop(&e);
}
END_TEST

/* CONFIG GET (redis-benchmark sends it when it connects) and CONFIG HELP
 * leave the cache as it is; CONFIG SET, which may open a write path (an
 * eviction policy), flushes it. */
START_TEST(config_reads_keep_cache)
{
	struct env e = { 0 };
	const char get[] = "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$16\r\nmaxmemory-policy\r\n";
	const char want[] = "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n";
	const char help[] = "*2\r\n$6\r\nconfig\r\n$4\r\nhelp\r\n";
	const char *set[] = { "CONFIG", "SET", "maxmemory-policy", "noeviction" };
	struct ebpfaccel_near_cache_stats s0, s1;
	char line[512];
	long rx;
	int fd, cfd, hfd, u;

	env_start(&e);
	u = uconnect(&e);
	uset(u, "k", "v");
	fd = nconnect(&e);
	cfd = nconnect(&e);
	hfd = nconnect(&e);
	warm(&e, fd, "k", "v");
	s0 = stats(&e);
	ck_assert(rcc_roundtrip(cfd, get, sizeof(get) - 1, want, sizeof(want) - 1));
	/* lower case, as redis-cli users type it */
	ck_assert_int_eq(rcc_send(hfd, help, sizeof(help) - 1), 0);
	ck_assert_int_eq(rcc_read_line(hfd, line, sizeof(line)), 0);
	ck_assert_msg(line[0] == '*', "CONFIG HELP: %s", line);
	rx = tcp_data_segs_in(fd);
	ck_assert(rcc_get_is(fd, "k", "v"));
	s1 = stats(&e);
	ck_assert_uint_eq(s1.flushes, s0.flushes);
	ck_assert_uint_eq(tcp_data_segs_in(fd), rx);	/* still answered locally */
	ck_assert(rcc_ok(cfd, 4, set));
	s1 = stats(&e);
	ck_assert_uint_gt(s1.flushes, s0.flushes);
	close(hfd);
	close(cfd);
	close(fd);
	close(u);
	env_stop(&e);
}
END_TEST

/* redis-cli and redis-py, unmodified, see exactly what Redis says. */
START_TEST(unmodified_clients)
{
	struct env e = { 0 };
	struct ebpfaccel_near_cache_stats s0, s1;
	char *out = NULL;
	int u;

	fx_require_program("/usr/bin/python3", "python3 (with python3-redis)");
	env_start(&e);
	u = uconnect(&e);
	uset(u, "cli", "plain value");
	s0 = stats(&e);
	/* one redis-cli session (its first request is COMMAND DOCS; see
	 * deeply_nested_replies for its answers) */
	ck_assert_int_eq(fx_run(e.cli_ns, &out,
		"for i in $(seq 200); do echo GET cli; done | redis-cli -h %s -p %d | sort | uniq -c",
		e.veth.ip4_b, e.port), 0);
	ck_assert_msg(strstr(out, "200 plain value"), "redis-cli saw: %s", out);
	free(out);
	{
		ck_assert_int_eq(fx_run(e.cli_ns, &out,
			"/usr/bin/python3 -c '\n"
			"import redis, time\n"
			"r = redis.Redis(host=\"%s\", port=%d)\n"
			"bad = 0\n"
			"for i in range(3000):\n"
			"    if i %% 500 == 0:\n"
			"        r.set(\"py\", \"v%%d\" %% i); want = b\"v%%d\" %% i\n"
			"    if r.get(\"py\") != want: bad += 1\n"
			"    if r.get(\"cli\") != b\"plain value\": bad += 1\n"
			"print(\"bad\", bad)\n'", e.veth.ip4_b, e.port), 0);
		ck_assert_msg(strstr(out, "bad 0"), "redis-py saw: %s", out);
		free(out);
	}
	s1 = stats(&e);
	dump_stats(&e, "clients");
	ck_assert_uint_gt(s1.hits - s0.hits, 100);
	close(u);
	env_stop(&e);
}
END_TEST

/* Over IPv6, with prefixes: only keys under a prefix are cached. */
START_TEST(ipv6_and_prefixes)
{
	const char *prefixes[] = { "user:", "session:" };
	struct env e = { .prefixes = prefixes, .nr_prefixes = 2, .ipv6 = true };
	struct ebpfaccel_near_cache_stats s0, s1;
	int fd, u;

	env_start_opts(&e);
	u = uconnect(&e);
	uset(u, "user:1", "alice");
	uset(u, "other:1", "bob");
	fd = rcc_connect_to6(e.cli_ns, e.veth.ip6_b, e.port);
	ck_assert_int_ge(fd, 0);
	warm(&e, fd, "user:1", "alice");
	s0 = stats(&e);
	for (int i = 0; i < 50; i++) {
		ck_assert(rcc_get_is(fd, "user:1", "alice"));
		ck_assert(rcc_get_is(fd, "other:1", "bob"));
		ck_assert(rcc_get_is(fd, "user", NULL));
	}
	s1 = stats(&e);
	ck_assert_uint_ge(s1.hits - s0.hits, 50);
	ck_assert_uint_lt(s1.hits - s0.hits, 100);
	ck_assert_uint_eq(s1.fills, s0.fills);
	close(fd);
	close(u);
	env_stop(&e);
}
END_TEST

START_TEST(bad_options)
{
	const char *bad[] = { "10.0.0.1", "10.0.0.1:0", "[::1:6379", "host:6379", "::1:6379" };
	const char *good[] = { "127.0.0.1:6379" };

	fx_require_root();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		LIBEBPFACCEL_OPTS(ebpfaccel_near_cache_opts, opts,
			.servers = &bad[i], .nr_servers = 1, .cgroup_path = "/");

		errno = 0;
		ck_assert_ptr_null(ebpfaccel_near_cache__open(&opts));
		ck_assert_int_eq(errno, EINVAL);
	}
	{
		LIBEBPFACCEL_OPTS(ebpfaccel_near_cache_opts, opts,
			.servers = good, .nr_servers = 1);

		ck_assert_ptr_null(ebpfaccel_near_cache__open(&opts));
		ck_assert_int_eq(errno, EINVAL);
	}
	{
		LIBEBPFACCEL_OPTS(ebpfaccel_near_cache_opts, opts,
			.servers = good, .nr_servers = 1, .cgroup_path = "/",
			.max_staleness_ms = 3600001);

		ck_assert_ptr_null(ebpfaccel_near_cache__open(&opts));
		ck_assert_int_eq(errno, EINVAL);
	}
	ck_assert_int_eq(ebpfaccel_near_cache__attach(NULL), -EINVAL);
	ck_assert_int_eq(ebpfaccel_near_cache__flush(NULL), -EINVAL);
	ebpfaccel_near_cache__destroy(NULL);
}
END_TEST

/* max_entries and max_large_entries size the two value classes, the
 * confirmations get one entry a value; 0 gives the defaults. Nothing is
 * attached: the maps are sized when the object loads. */
START_TEST(map_sizes_follow_options)
{
	static const __u32 asked[][2] = { { 64, 32 }, { 0, 0 } }, sized[][2] = {
		{ 64, 32 }, { 65536, 4096 } };
	static const char *const server[] = { "127.0.0.1:6379" };

	fx_require_root();
	for (size_t i = 0; i < 2; i++) {
		LIBEBPFACCEL_OPTS(ebpfaccel_near_cache_opts, o, .servers = server, .nr_servers = 1,
				  .cgroup_path = "/", .max_entries = asked[i][0],
				  .max_large_entries = asked[i][1]);
		struct ebpfaccel_near_cache *nc = ebpfaccel_near_cache__open(&o);

		ck_assert_msg(nc, "open: %s", strerror(errno));
		fx_assert_cache_maps(sized[i][0], sized[i][1]);
		ebpfaccel_near_cache__destroy(nc);
		ck_assert_int_eq(fx_own_map_max_entries("rc_cache_small"), -1);
	}
}
END_TEST

/* redis-cli asks COMMAND DOCS first, a reply nested far deeper than the
 * scanner's stack; EVAL can nest replies to any depth. Neither costs the
 * connection its local answers. */
START_TEST(deeply_nested_replies)
{
	struct env e = { 0 };
	struct ebpfaccel_near_cache_stats s0, s1;
	char *out = NULL;
	long calls;
	int fd, u;

	e.stale_ms = 60000;	/* not about staleness: a bound no loaded machine reaches */
	env_start(&e);
	u = uconnect(&e);
	uset(u, "deep", "dv");
	uset(u, "other", "ov");
	fd = nconnect(&e);
	ck_assert(rcc_deep_replies(fd, "deep", "dv", "other", "ov"));
	warm(&e, fd, "deep", "dv");
	s0 = stats(&e);
	calls = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 50; i++)
		ck_assert(rcc_get_is(fd, "deep", "dv"));
	s1 = stats(&e);
	ck_assert_uint_eq(s1.hits - s0.hits, 50);
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), calls);
	ck_assert_uint_eq(s1.bypass_bad, 0);
	close(fd);

	/* a real redis-cli session: after its first GET, answered locally */
	s0 = stats(&e);
	calls = fx_redis_calls(e.redis, "get");
	ck_assert_int_eq(fx_run(e.cli_ns, &out,
		"for i in $(seq 200); do echo GET deep; done | redis-cli -h %s -p %d | sort | uniq -c",
		e.veth.ip4_b, e.port), 0);
	ck_assert_msg(strstr(out, "200 dv"), "redis-cli saw: %s", out);
	free(out);
	s1 = stats(&e);
	dump_stats(&e, "redis-cli");
	/* its first GET goes to Redis (a connection is answered once Redis
	 * let it read); every GET is either answered locally or seen there */
	ck_assert_uint_ge(s1.hits - s0.hits, 190);
	ck_assert_int_eq(fx_redis_calls(e.redis, "get") - calls, 200 - (long)(s1.hits - s0.hits));
	close(u);
	env_stop(&e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("redis_near");
	TCase *tc = tcase_create("near");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bad_options);
	tcase_add_test(tc, map_sizes_follow_options);
	tcase_add_test(tc, hit_answered_on_client_host);
	tcase_add_test(tc, exact_bytes_mixed);
	tcase_add_test(tc, every_reply_size);
	tcase_add_test(tc, owed_reply_ordering);
	tcase_add_test(tc, other_writer_within_bound);
	tcase_add_test(tc, tracking_link_cut);
	tcase_add_test(tc, connection_state_modelled);
	tcase_add_test(tc, connection_churn);
	tcase_add_test(tc, config_reads_keep_cache);
	tcase_add_test(tc, unmodified_clients);
	tcase_add_test(tc, ipv6_and_prefixes);
	tcase_add_test(tc, deeply_nested_replies);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
