// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Redis cache's XDP mode: redis-server in one netns, clients in another
 * behind a veth pair, GET hits answered by XDP on the server's veth with
 * the server's sequence numbers translated. Every reply is checked byte for
 * byte; XDP answered when the cache's hits rose while Redis' own GET count
 * did not. Losses are the test's own: bpf/tests/xdp_drop.bpf.c on the
 * client's end drops what the server's side sent, as each case asks.
 */
#include <check.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <ebpfaccel/ebpfaccel.h>
#include "redis_cache_client.h"
#include "redis_tracking.h"
#include "redis/xdp_conn.h"
#include "tests/xdp_drop.skel.h"

struct xenv {
	struct fx_netns *srv, *cli;
	struct fx_veth veth;
	struct fx_cgroup *cg;
	struct fx_redis *redis;
	struct ebpfaccel_redis_cache *rc;
	struct xdp_drop_bpf *loss;	/* the client end's XDP program */
	int port;
};

static int xconnect(struct xenv *e, int family);
static int answered_conn(struct xenv *e, int family);

/* @conf: redis-server's extra configuration (NULL: the fixture's, with a
 * unix socket); @early: when not NULL, a client connection made before the
 * cache is attached, which the programs never see. */
static void xenv_start_conf(struct xenv *e, const char *const *conf, int *early)
{
	__u16 port;
	int prev, ifindex;

	fx_require_root();
	fx_require_program("/usr/bin/redis-server", "redis-server");
	e->srv = fx_netns_new();
	e->cli = fx_netns_new();
	ck_assert(e->srv && e->cli);
	ck_assert_int_eq(fx_veth_new(e->srv, e->cli, &e->veth), 0);
	e->cg = fx_cgroup_new();
	ck_assert_ptr_nonnull(e->cg);
	e->redis = fx_redis_start_cg(e->srv, e->cg, conf);
	ck_assert_ptr_nonnull(e->redis);
	e->port = port = fx_redis_port(e->redis);

	/* veth: frames sent back with XDP_TX arrive only where the peer has
	 * an XDP program (kernel-facts, XDP rule 9) */
	e->loss = xdp_drop_bpf__open_and_load();
	ck_assert_ptr_nonnull(e->loss);
	e->loss->bss->port = htons(port);
	prev = fx_netns_enter(e->cli);
	ck_assert_int_ge(prev, 0);
	ifindex = if_nametoindex(e->veth.name_b);
	ck_assert_int_gt(ifindex, 0);
	ck_assert_int_eq(bpf_xdp_attach(ifindex, bpf_program__fd(e->loss->progs.xdp_drop),
					XDP_FLAGS_DRV_MODE, NULL), 0);
	ck_assert_int_eq(fx_netns_return(prev), 0);
	if (early)
		*early = xconnect(e, AF_INET);
	{
		LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_opts, opts,
			.ports = &port, .nr_ports = 1,
			.cgroup_path = fx_cgroup_path(e->cg),
			.mode = EBPFACCEL_REDIS_CACHE_XDP,
			.ifname = e->veth.name_a);

		e->rc = ebpfaccel_redis_cache__open(&opts);
	}
	ck_assert_msg(e->rc, "open: %s", strerror(errno));
	prev = fx_netns_enter(e->srv);
	ck_assert_int_ge(prev, 0);
	ck_assert_int_eq(ebpfaccel_redis_cache__attach(e->rc), 0);
	ck_assert_int_eq(fx_netns_return(prev), 0);
}

static void xenv_start(struct xenv *e)
{
	xenv_start_conf(e, NULL, NULL);
}

static void xenv_stop(struct xenv *e)
{
	ebpfaccel_redis_cache__destroy(e->rc);
	xdp_drop_bpf__destroy(e->loss);
	fx_redis_stop(e->redis);
	fx_cgroup_free(e->cg);
	fx_netns_free(e->cli);
	fx_netns_free(e->srv);
}

/* A client connection from the client netns over the veth. */
static int xconnect(struct xenv *e, int family)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (void *)&ss;
	struct sockaddr_in6 *sin6 = (void *)&ss;
	int fd = fx_socket_in(e->cli, family, SOCK_STREAM), one = 1;
	socklen_t len;

	ck_assert_int_ge(fd, 0);
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(e->port);
		inet_pton(AF_INET, e->veth.ip4_a, &sin->sin_addr);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(e->port);
		inet_pton(AF_INET6, e->veth.ip6_a, &sin6->sin6_addr);
		len = sizeof(*sin6);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ck_assert_msg(!connect(fd, (struct sockaddr *)&ss, len), "connect: %s", strerror(errno));
	return fd;
}

static struct ebpfaccel_redis_cache_stats stats(struct xenv *e)
{
	struct ebpfaccel_redis_cache_stats s;

	ck_assert_int_eq(ebpfaccel_redis_cache__stats(e->rc, &s, sizeof(s)), 0);
	return s;
}

static __u64 hits(struct xenv *e)
{
	return stats(e).hits;
}

/* A TcpExt or Tcp counter of @ns (/proc/net/netstat, /proc/net/snmp). */
static long net_counter(struct fx_netns *ns, const char *name)
{
	char *out = NULL, *names, *vals, *sn, *sv;
	long v = -1;

	ck_assert_int_eq(fx_run(ns, &out, "cat /proc/net/netstat /proc/net/snmp"), 0);
	/* pairs of lines: "TcpExt: A B ..." then "TcpExt: 1 2 ..." */
	for (names = strtok_r(out, "\n", &sn); names && v < 0; names = strtok_r(NULL, "\n", &sn)) {
		char *n, *x;

		vals = strtok_r(NULL, "\n", &sn);
		if (!vals)
			break;
		n = strtok_r(names, " ", &sv);
		x = strtok_r(vals, " ", &vals);
		for (n = strtok_r(NULL, " ", &sv), x = strtok_r(NULL, " ", &vals); n && x;
		     n = strtok_r(NULL, " ", &sv), x = strtok_r(NULL, " ", &vals))
			if (!strcmp(n, name)) {
				v = strtol(x, NULL, 10);
				break;
			}
	}
	free(out);
	ck_assert_msg(v >= 0, "no counter %s", name);
	return v;
}

/* What must not happen on either end over a run (the nstat list). */
static const char *const bad_counters[] = {
	"TCPSpuriousRTOs", "TCPChallengeACK", "TCPSACKReneging", "TCPSACKDiscard",
};
#define NBAD (sizeof(bad_counters) / sizeof(bad_counters[0]))

static void bad_snapshot(struct xenv *e, long snap[2][NBAD])
{
	for (size_t i = 0; i < NBAD; i++) {
		snap[0][i] = net_counter(e->srv, bad_counters[i]);
		snap[1][i] = net_counter(e->cli, bad_counters[i]);
	}
}

static void bad_none_since(struct xenv *e, long snap[2][NBAD])
{
	long now[2][NBAD];

	bad_snapshot(e, now);
	for (size_t i = 0; i < NBAD; i++) {
		ck_assert_msg(now[0][i] == snap[0][i], "server: %s rose by %ld",
			      bad_counters[i], now[0][i] - snap[0][i]);
		ck_assert_msg(now[1][i] == snap[1][i], "client: %s rose by %ld",
			      bad_counters[i], now[1][i] - snap[1][i]);
	}
}


/* Bytes redis-server's socket of the connection @fd received (ss): what
 * XDP answered never got there. The sockmap path answers hits too, after
 * the socket received them, so Redis' GET count cannot tell them apart. */
static long srv_rx(struct xenv *e, int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	char *out = NULL, *p;
	long n = -1;

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &l), 0);
	ck_assert_int_eq(fx_run(e->srv, &out, "ss -tinH state established dport = :%u",
				ntohs(((struct sockaddr_in *)&ss)->sin_port)), 0);
	p = strstr(out, "bytes_received:");
	if (p)
		n = strtol(p + strlen("bytes_received:"), NULL, 10);
	free(out);
	return n;
}

/* Three GETs of "hot" on @fd; true if XDP answered any. Not just one: the
 * first request after a pause carries the ACK XDP kept from the server
 * (docs/redis-cache.md, XDP mode, rule 8), so it goes to the socket. */
/* The bytes of a GET of @key */
static long get_len(const char *key)
{
	const char *get[] = { "GET", key };
	char req[128];

	return rcc_encode(req, sizeof(req), 2, get, NULL);
}

static int xdp_answers_kv(struct xenv *e, int fd, const char *key, const char *value)
{
	long rx = srv_rx(e, fd);

	for (int i = 0; i < 3; i++)
		ck_assert(rcc_get_is(fd, key, value));
	return srv_rx(e, fd) - rx < 3 * get_len(key);
}

static int xdp_answers(struct xenv *e, int fd)
{
	return xdp_answers_kv(e, fd, "hot", "value-of-hot");
}

/* GETs @key (whose value is @value) on @fd until XDP answers one, 2 s at
 * most (fills are confirmed by the library first). */
static void warm_xdp(struct xenv *e, int fd, const char *key, const char *value)
{
	for (int i = 0; i < 200 && !xdp_answers_kv(e, fd, key, value); i++)
		fx_sleep_ms(10);
	ck_assert_msg(xdp_answers_kv(e, fd, key, value), "XDP never answered %s", key);
}

/* SET and GET of a @len-byte value on @fd, byte-exact. */
static void big_roundtrip(int fd, size_t len, int salt)
{
	char *val = malloc(len + 1), *req = malloc(len + 128), *want = malloc(len + 32);
	const char *argv[] = { "SET", "big", val };
	const char *get[] = { "GET", "big" };
	size_t lens[] = { 3, 3, len }, n, wl;

	ck_assert(val && req && want);
	for (size_t i = 0; i < len; i++)
		val[i] = 'A' + (i * 31 + salt) % 26;
	val[len] = 0;
	n = rcc_encode(req, len + 128, 3, argv, lens);
	ck_assert(rcc_roundtrip(fd, req, n, "+OK\r\n", 5));
	n = rcc_encode(req, len + 128, 2, get, NULL);
	wl = snprintf(want, len + 32, "$%zu\r\n%s\r\n", len, val);
	ck_assert(rcc_roundtrip(fd, req, n, want, wl));
	free(val);
	free(req);
	free(want);
}

#define NKEYS 64

/* Mixed GETs (hits, misses) and SETs over one connection, every reply
 * checked; returns how many GETs Redis did not see. */
static long mixed_run(struct xenv *e, int family, int rounds, int lossy)
{
	char keys[NKEYS][32], vals[NKEYS][160];
	long gets = 0, before;
	int fd = xconnect(e, family);
	unsigned seed = 42;
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);

	for (int i = 0; i < NKEYS; i++) {
		const char *set[3];

		snprintf(keys[i], sizeof(keys[i]), "key:%d", i);
		/* sizes around the small class limit: some are answered only by
		 * the sockmap path */
		memset(vals[i], 'a' + i % 26, (i * 7) % 150);
		vals[i][(i * 7) % 150] = 0;
		set[0] = "SET"; set[1] = keys[i]; set[2] = vals[i];
		ck_assert(rcc_ok(fd, 3, set));
	}
	/* fills are confirmed by the library: give it a moment */
	for (int i = 0; i < NKEYS; i++)
		ck_assert(rcc_get_is(fd, keys[i], vals[i]));
	fx_sleep_ms(200);
	before = fx_redis_calls(e->redis, "get");
	for (int r = 0; r < rounds; r++) {
		int k = rand_r(&seed) % NKEYS;

		if (rand_r(&seed) % 50 == 0) {
			const char *set[3] = { "SET", keys[k], vals[k] };

			vals[k][0] = vals[k][0] ? (vals[k][0] == 'z' ? 'a' : vals[k][0] + 1) : 0;
			ck_assert(rcc_ok(fd, 3, set));
			continue;
		}
		if (rand_r(&seed) % 20 == 0) {
			ck_assert(rcc_get_is(fd, "no:such:key", NULL));
			gets++;
			continue;
		}
		ck_assert_msg(rcc_get_is(fd, keys[k], vals[k]), "round %d key %s", r, keys[k]);
		gets++;
	}
	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
	ck_assert_msg(lossy || ti.tcpi_total_retrans == 0, "client retransmitted %u segments",
		      ti.tcpi_total_retrans);
	/* the translation leaves windows alone: they must be scaled */
	ck_assert_int_gt(ti.tcpi_snd_wscale, 0);
	ck_assert_int_gt(ti.tcpi_rcv_wscale, 0);
	close(fd);
	return gets - (fx_redis_calls(e->redis, "get") - before);
}

static void check_mixed(int family, int rounds)
{
	struct ebpfaccel_redis_cache_stats s0, s;
	struct xenv e = { 0 };
	long unseen;

	long snap[2][NBAD];

	xenv_start(&e);
	bad_snapshot(&e, snap);
	s0 = stats(&e);
	unseen = mixed_run(&e, family, rounds, 0);
	s = stats(&e);
	fprintf(stderr, "IPv%d, %d rounds: %ld of the GETs never reached Redis, hits %llu, "
		"in XDP %llu, passed to carry an ACK %llu\n", family == AF_INET ? 4 : 6, rounds,
		unseen, (unsigned long long)(s.hits - s0.hits),
		(unsigned long long)(s.xdp_hits - s0.xdp_hits),
		(unsigned long long)(s.xdp_ack_passes - s0.xdp_ack_passes));
	ck_assert_int_gt(unseen, rounds / 20);
	/* the XDP counters: answers among the hits, nothing lost or dropped */
	ck_assert_uint_gt(s.xdp_hits - s0.xdp_hits, (__u64)rounds / 20);
	ck_assert_uint_le(s.xdp_hits - s0.xdp_hits, s.hits - s0.hits);
	ck_assert_uint_eq(s.xdp_retransmits, s0.xdp_retransmits);
	ck_assert_uint_eq(s.xdp_drops, s0.xdp_drops);
	ck_assert_uint_ge(s.xdp_conns - s0.xdp_conns, 1);
	bad_none_since(&e, snap);
	xenv_stop(&e);
}

/* The byte-exact mixed 100k, over IPv4; IPv6 the same, shorter. */
START_TEST(test_mixed_ipv4)
{
	check_mixed(AF_INET, 100000);
}
END_TEST

START_TEST(test_mixed_ipv6)
{
	check_mixed(AF_INET6, 20000);
}
END_TEST


/* The map named @name of the XDP program on the server's veth (other
 * sessions may run the same object on this machine); its max_entries in
 * *@max. */
static int xdp_map_fd(struct xenv *e, const char *name, __u32 *max)
{
	struct bpf_prog_info pi = { 0 };
	__u32 ids[32], len = sizeof(pi), prog_id = 0;
	int prev, pfd, fd = -1;

	prev = fx_netns_enter(e->srv);
	ck_assert_int_ge(prev, 0);
	ck_assert_int_eq(bpf_xdp_query_id(if_nametoindex(e->veth.name_a), 0, &prog_id), 0);
	ck_assert_int_eq(fx_netns_return(prev), 0);
	pfd = bpf_prog_get_fd_by_id(prog_id);
	ck_assert_int_ge(pfd, 0);
	pi.nr_map_ids = 32;
	pi.map_ids = (__u64)(unsigned long)ids;
	ck_assert_int_eq(bpf_obj_get_info_by_fd(pfd, &pi, &len), 0);
	for (__u32 i = 0; i < pi.nr_map_ids && i < 32 && fd < 0; i++) {
		struct bpf_map_info mi = { 0 };
		__u32 ml = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		ck_assert_int_ge(mfd, 0);
		ck_assert_int_eq(bpf_obj_get_info_by_fd(mfd, &mi, &ml), 0);
		if (!strcmp(mi.name, name)) {
			fd = mfd;
			*max = mi.max_entries;
		} else {
			close(mfd);
		}
	}
	close(pfd);
	ck_assert_msg(fd >= 0, "no map %s on program %u", name, prog_id);
	return fd;
}

static long map_entries(int fd)
{
	struct xr_flow key, next;
	void *prev = NULL;
	long n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

/* Connections beyond the first table's room (its first XR_HOT_CONNS, see
 * xdp.bpf.c) live in the second: filled with flows that never come, the
 * next connection is taken into the other and answered as any, byte
 * exact, and its entry goes at close. */
START_TEST(test_second_table)
{
	struct ebpfaccel_redis_cache_stats s0, s;
	struct xr_conn *blank = calloc(1, sizeof(*blank));
	struct xenv e = { 0 };
	long snap[2][NBAD], rest0, unseen;
	__u32 hot_max, rest_max, i;
	int hot, rest, fd;

	ck_assert_ptr_nonnull(blank);
	xenv_start(&e);
	hot = xdp_map_fd(&e, "xr_hot", &hot_max);
	rest = xdp_map_fd(&e, "xr_conns", &rest_max);
	ck_assert_uint_gt(rest_max, hot_max);
	/* 198.18.0.0/15 (benchmarking): flows no one here sends */
	for (i = 0; i < 2 * hot_max; i++) {
		struct xr_flow f = { .cli = { htonl(0xc6120000 + i) }, .srv = { htonl(0xc6130001) },
				     .cli_port = htons(40000), .srv_port = htons(e.port), .family = 4 };

		if (bpf_map_update_elem(hot, &f, blank, BPF_NOEXIST)) {
			ck_assert_int_eq(errno, E2BIG);
			break;
		}
	}
	ck_assert_int_eq(map_entries(hot), hot_max);
	rest0 = map_entries(rest);
	bad_snapshot(&e, snap);
	s0 = stats(&e);
	fd = answered_conn(&e, AF_INET);
	ck_assert_int_eq(map_entries(rest), rest0 + 1);
	ck_assert_int_eq(map_entries(hot), hot_max);
	unseen = mixed_run(&e, AF_INET, 3000, 0);
	s = stats(&e);
	ck_assert_int_gt(unseen, 3000 / 20);
	ck_assert_uint_gt(s.xdp_hits - s0.xdp_hits, 3000 / 20);
	ck_assert_uint_eq(s.xdp_drops, s0.xdp_drops);
	close(fd);
	/* mixed_run()'s connection and this one: deleted at TCP_CLOSE */
	for (i = 0; i < 200 && map_entries(rest) != rest0; i++)
		fx_sleep_ms(10);
	ck_assert_int_eq(map_entries(rest), rest0);
	bad_none_since(&e, snap);
	close(hot);
	close(rest);
	free(blank);
	xenv_stop(&e);
}
END_TEST

/* A connection on which XDP has answered: its numbers are shifted. */
static int answered_conn(struct xenv *e, int family)
{
	int fd = xconnect(e, family);
	const char *set[] = { "SET", "hot", "value-of-hot" };

	ck_assert(rcc_ok(fd, 3, set));
	ck_assert(rcc_get_is(fd, "hot", "value-of-hot"));
	fx_sleep_ms(200);	/* the fill's confirmation */
	for (int i = 0; i < 20; i++)
		ck_assert(rcc_get_is(fd, "hot", "value-of-hot"));
	ck_assert_msg(xdp_answers(e, fd), "XDP answered nothing");
	return fd;
}

/* Lost answers and lost replies: every one of the first few and then one
 * in 7 segments with payload toward the client is dropped. The client
 * retransmits the request of a lost answer (XDP answers it again, same
 * bytes, rule 4) and SACKs around lost parts of long replies (XDP
 * translates the edges). Still byte-exact, no challenge ACK. */
static void check_losses(int family)
{
	struct xenv e = { 0 };
	long unseen, srv_sacks, discards;

	xenv_start(&e);
	srv_sacks = net_counter(e.srv, "TCPSackRecovery");
	discards = net_counter(e.srv, "TCPSACKDiscard");
	e.loss->bss->drop_next = 3;
	e.loss->bss->drop_every = 7;
	/* a segment lost again at its retransmissions waits out RTO backoff */
	rcc_read_timeout_ms = 15000;
	unseen = mixed_run(&e, family, 1500, 1);
	ck_assert_int_gt(e.loss->bss->dropped, 100);
	ck_assert_int_gt(unseen, 100);
	/* lost answers were sent again (rule 4) */
	ck_assert_uint_gt(stats(&e).xdp_retransmits, 0);
	{
		/* long replies lose segments in the middle: SACK */
		int fd = answered_conn(&e, family);

		for (int i = 0; i < 10; i++)
			big_roundtrip(fd, 40000 + i * 1000, i);
		close(fd);
	}
	fprintf(stderr, "IPv%d losses: %llu dropped, %ld GETs never reached Redis, "
		"%ld SACK recoveries on the server\n", family == AF_INET ? 4 : 6,
		(unsigned long long)e.loss->bss->dropped, unseen,
		net_counter(e.srv, "TCPSackRecovery") - srv_sacks);
	ck_assert_int_gt(net_counter(e.srv, "TCPSackRecovery"), srv_sacks);
	/* a SACK block the server finds invalid was translated wrong */
	ck_assert_int_eq(net_counter(e.srv, "TCPSACKDiscard"), discards);
	ck_assert_int_eq(net_counter(e.srv, "TCPChallengeACK"), 0);
	ck_assert_int_eq(net_counter(e.cli, "TCPChallengeACK"), 0);
	xenv_stop(&e);
}

START_TEST(test_losses_ipv4)
{
	check_losses(AF_INET);
}
END_TEST

START_TEST(test_losses_ipv6)
{
	check_losses(AF_INET6);
}
END_TEST

static long redis_clients(struct xenv *e)
{
	char *out = NULL;
	const char *p;
	long n = -1;

	ck_assert_int_eq(fx_run(e->srv, &out, "redis-cli -s %s INFO clients",
				fx_redis_unixsock(e->redis)), 0);
	p = strstr(out, "connected_clients:");
	if (p)
		n = strtol(p + strlen("connected_clients:"), NULL, 10);
	free(out);
	return n;
}

/* Redis counts @want clients within 2 s. */
static int clients_become(struct xenv *e, long want)
{
	for (int i = 0; i < 100; i++) {
		if (redis_clients(e) == want)
			return 1;
		fx_sleep_ms(20);
	}
	return 0;
}

static void local_port_of(int fd, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &l), 0);
	snprintf(buf, cap, "%u", ntohs(((struct sockaddr_in *)&ss)->sin_port));
}

/* The client end of a connection sees the server's FIN (0) or RST (-1
 * ECONNRESET) within 2 s. */
static int peer_closed(int fd, int want_reset)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;
	ssize_t n;

	if (poll(&pfd, 1, 2000) <= 0)
		return 0;
	n = recv(fd, &c, 1, 0);
	return want_reset ? n < 0 && errno == ECONNRESET : n == 0;
}

/* FIN and RST from either side, each after XDP answered on the
 * connection: the ends agree on every sequence number, so the close is
 * accepted at once (a wrong one would hang or draw a challenge ACK). */
static void check_closes(int family)
{
	struct xenv e = { 0 };
	long base, snap[2][NBAD];
	char port[16];
	int fd;

	xenv_start(&e);
	base = redis_clients(&e);
	bad_snapshot(&e, snap);

	/* client FIN */
	fd = answered_conn(&e, family);
	ck_assert(clients_become(&e, base + 1));
	close(fd);
	ck_assert_msg(clients_become(&e, base), "redis kept the connection after the client's FIN");

	/* client RST */
	fd = answered_conn(&e, family);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 }, sizeof(struct linger));
	close(fd);
	ck_assert_msg(clients_become(&e, base), "redis kept the connection after the client's RST");

	/* server FIN: Redis closes it */
	fd = answered_conn(&e, family);
	local_port_of(fd, port, sizeof(port));
	ck_assert_int_eq(fx_run(e.srv, NULL, "redis-cli -s %s CLIENT KILL ADDR \"$(redis-cli -s %s"
				" CLIENT LIST | sed -n 's/.* addr=\\([^ ]*:%s\\) .*/\\1/p')\" | grep -qx 1",
				fx_redis_unixsock(e.redis), fx_redis_unixsock(e.redis), port), 0);
	ck_assert_msg(peer_closed(fd, 0), "the server's FIN did not reach the client");
	close(fd);

	/* server RST: the socket is aborted */
	fd = answered_conn(&e, family);
	local_port_of(fd, port, sizeof(port));
	ck_assert_int_eq(fx_run(e.srv, NULL, "ss -K -t state established dport = :%s >/dev/null", port), 0);
	ck_assert_msg(peer_closed(fd, 1), "the server's RST did not reach the client");
	close(fd);

	ck_assert(clients_become(&e, base));
	bad_none_since(&e, snap);
	xenv_stop(&e);
}

START_TEST(test_closes_ipv4)
{
	check_closes(AF_INET);
}
END_TEST

START_TEST(test_closes_ipv6)
{
	check_closes(AF_INET6);
}
END_TEST

/* Two GETs in one segment are not one GET: Redis answers both; the next
 * single GET is XDP's again. A long reply between answers goes out as GSO
 * packets that tc egress translates whole. */
START_TEST(test_pipeline_and_gso)
{
	struct xenv e = { 0 };
	long snap[2][NBAD], g0;
	char req[256];
	const char *argv[] = { "GET", "hot" };
	const char *want = "$12\r\nvalue-of-hot\r\n$12\r\nvalue-of-hot\r\n";
	size_t n;
	int fd;

	xenv_start(&e);
	bad_snapshot(&e, snap);
	fd = answered_conn(&e, AF_INET);
	for (int i = 0; i < 50; i++) {
		n = rcc_encode(req, sizeof(req), 2, argv, NULL);
		memcpy(req + n, req, n);
		g0 = srv_rx(&e, fd);
		ck_assert(rcc_roundtrip(fd, req, 2 * n, want, strlen(want)));
		ck_assert_int_eq(srv_rx(&e, fd), g0 + 2 * n);
		ck_assert(xdp_answers(&e, fd));
		big_roundtrip(fd, 300 * 1024, i);
	}
	close(fd);
	bad_none_since(&e, snap);
	xenv_stop(&e);
}
END_TEST

/* ---- tracking: per-key while every write path is one the programs see */

/* the fixture's server without its unix socket: TCP on one port only */
static const char *const tcp_only[] = { "unixsocket \"\"", NULL };

/* The tracking in effect becomes @want (with @why_has in its reason) */
static void wait_tracking(struct xenv *e, int want, const char *why_has)
{
	ck_assert_int_eq(rtr_wait_tracking(e->rc, want, why_has), want);
}

static long info_stat(struct xenv *e, const char *name)
{
	return rtr_info_stat(e->srv, e->port, name);
}

/* Writers on other connections, readers whose hits XDP answers: a reader
 * asking after a write was acknowledged sees that write (the write
 * invalidates on its way in, before Redis answers it), under the tracking
 * @conf's server leads to (@want). */
static void soak_run(const char *const *conf, int want)
{
	struct xenv e = { 0 };
	long snap[2][NBAD], stale = 0, reads = 0;
	int w, r[2];
	char val[32];
	const char *set[] = { "SET", "soak", val };
	struct timespec t0, t;
	__u64 h0, x0;

	xenv_start_conf(&e, conf, NULL);
	wait_tracking(&e, want, NULL);
	bad_snapshot(&e, snap);
	w = xconnect(&e, AF_INET);
	r[0] = answered_conn(&e, AF_INET);
	r[1] = xconnect(&e, AF_INET6);
	h0 = hits(&e);
	x0 = stats(&e).xdp_hits;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0;; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 3)
			break;
		snprintf(val, sizeof(val), "v%d", i);
		if (i % 10 == 0)
			ck_assert(rcc_ok(w, 3, set));
		else
			snprintf(val, sizeof(val), "v%d", i - i % 10);
		for (int k = 0; k < 2; k++, reads++)
			if (!rcc_get_is(r[k], "soak", val))
				stale++;
		ck_assert(rcc_get_is(r[i & 1], "hot", "value-of-hot"));
	}
	fprintf(stderr, "soak (%s): %ld reads, %ld stale, %llu hits, %llu in XDP\n",
		want == EBPFACCEL_REDIS_TRACK_KEYS ? "per-key" : "broadcast", reads, stale,
		(unsigned long long)(hits(&e) - h0),
		(unsigned long long)(stats(&e).xdp_hits - x0));
	ck_assert_int_eq(stale, 0);
	ck_assert_int_gt(hits(&e) - h0, 100);
	ck_assert_uint_gt(stats(&e).xdp_hits - x0, 100);
	/* still the same tracking: nothing in the soak opened a path */
	ck_assert_int_eq(ebpfaccel_redis_cache__tracking(e.rc, NULL, 0), want);
	close(w);
	close(r[0]);
	close(r[1]);
	bad_none_since(&e, snap);
	xenv_stop(&e);
}

/* The fixture's unix socket is a write path the programs do not see */
START_TEST(test_soak)
{
	soak_run(NULL, EBPFACCEL_REDIS_TRACK_ALL);
}
END_TEST

START_TEST(test_soak_keys)
{
	soak_run(tcp_only, EBPFACCEL_REDIS_TRACK_KEYS);
}
END_TEST

/* A TCP-only server, clients over the veth: the default (automatic)
 * tracking is per-key in XDP mode too, Redis tracks keys rather than a
 * prefix, XDP answers, and a write on another connection is never
 * answered stale. */
START_TEST(test_auto_keys)
{
	const char *set2[] = { "SET", "hot", "v2" };
	struct xenv e = { 0 };
	int fd, w;

	xenv_start_conf(&e, tcp_only, NULL);
	wait_tracking(&e, EBPFACCEL_REDIS_TRACK_KEYS, "no write path");
	fd = answered_conn(&e, AF_INET);
	ck_assert_int_eq(info_stat(&e, "tracking_total_prefixes"), 0);
	ck_assert_int_ge(info_stat(&e, "tracking_total_keys"), 1);
	w = xconnect(&e, AF_INET6);
	ck_assert(rcc_ok(w, 3, set2));
	ck_assert(rcc_get_is(fd, "hot", "v2"));
	ck_assert_int_eq(ebpfaccel_redis_cache__tracking(e.rc, NULL, 0),
			 EBPFACCEL_REDIS_TRACK_KEYS);
	close(w);
	close(fd);
	xenv_stop(&e);
}
END_TEST

/* GETs of @key on @fd (whose value is @value) until the tracking in effect
 * is @until (100k GETs at most), back to back: none answered in XDP, Redis' socket received
 * every one. Returns how many. */
static long xdp_silent_until(struct xenv *e, int fd, const char *key, const char *value,
			     int until)
{
	long rx = srv_rx(e, fd), n = 0;
	int t = -1;

	for (int i = 0; i < 100000 && t != until; i++, n++) {
		ck_assert(rcc_get_is(fd, key, value));
		t = ebpfaccel_redis_cache__tracking(e->rc, NULL, 0);
	}
	ck_assert_int_eq(t, until);
	ck_assert_int_eq(srv_rx(e, fd) - rx, n * get_len(key));
	return n;
}

/* The server ACKed everything sent on @fd, 2 s at most: its TCP took it
 * in, and the sockmap verdict, which runs as it is queued, saw it. */
static void wait_acked(int fd)
{
	int outq = -1;

	for (int i = 0; i < 20000; i++) {
		ck_assert_int_eq(ioctl(fd, SIOCOUTQ, &outq), 0);
		if (!outq)
			return;
		usleep(100);
	}
	ck_abort_msg("%d bytes never acknowledged", outq);
}

/*
 * Write paths the programs do not see, in XDP mode:
 * - a connection accepted before the attach keeps broadcast tracking (its
 *   write is answered fresh at once); per-key once it closed;
 * - under per-key tracking, a write the programs cannot tie to its reply
 *   (more in flight than they remember, held by CLIENT PAUSE WRITE) stops
 *   XDP's answers at once, before the library switches to broadcast (the
 *   switch flushes: an answer after it needs a new fill); the key it
 *   writes is read fresh after its reply; per-key again once that
 *   connection closed.
 */
START_TEST(test_auto_unseen)
{
	const char *pause[] = { "CLIENT", "PAUSE", "120000", "WRITE" };
	const char *unpause[] = { "CLIENT", "UNPAUSE" };
	const char *set2[] = { "SET", "hot", "v2" }, *set_o[] = { "SET", "o", "vo" };
	struct xenv e = { 0 };
	char req[4096], key[16];
	const char *set[] = { "SET", key, "v3" };
	size_t n = 0;
	int early, fd, p, w;
	long quiet;

	xenv_start_conf(&e, tcp_only, &early);
	wait_tracking(&e, EBPFACCEL_REDIS_TRACK_ALL, "do not see");
	fd = answered_conn(&e, AF_INET);
	ck_assert(rcc_ok(early, 3, set2));
	ck_assert(rcc_get_is(fd, "hot", "v2"));
	close(early);
	wait_tracking(&e, EBPFACCEL_REDIS_TRACK_KEYS, "no write path");
	ck_assert(rcc_ok(fd, 3, set_o));
	warm_xdp(&e, fd, "hot", "v2");

	p = xconnect(&e, AF_INET);
	w = xconnect(&e, AF_INET6);
	/* long enough for a TCG guest: the test ends it */
	ck_assert(rcc_ok(p, 4, pause));
	/* the pause invalidated everything: reads fill again meanwhile */
	warm_xdp(&e, fd, "o", "vo");
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), i ? "deep%d" : "hot", i);
		n += rcc_encode(req + n, sizeof(req) - n, 3, set, NULL);
	}
	/* answered in XDP just before (the first may carry an ACK XDP kept,
	 * rule 8; the socket statistics are not read in between: that takes
	 * longer than the ACK is kept), so only the gate sends the next to Redis */
	for (int i = 0; i < 3; i++)
		ck_assert(rcc_get_is(fd, "o", "vo"));
	ck_assert_int_eq(rcc_send(w, req, n), 0);
	wait_acked(w);
	/* "o", confirmed under per-key tracking and not written: not answered
	 * in XDP from the moment the programs saw the write they cannot tie */
	quiet = xdp_silent_until(&e, fd, "o", "vo", EBPFACCEL_REDIS_TRACK_ALL);
	fprintf(stderr, "%ld GETs of o before broadcast tracking was in effect\n", quiet);
	/* the write to "hot" (the first, remembered as pending: no fill of
	 * "hot" stands until its reply) waits in Redis: its old value */
	for (int i = 0; i < 20; i++)
		ck_assert(!xdp_answers_kv(&e, fd, "hot", "v2"));
	ck_assert(rcc_ok(p, 2, unpause));
	for (int i = 0; i < 20; i++)
		ck_assert(rcc_line(w, "", 0, "+OK"));
	ck_assert(rcc_get_is(fd, "hot", "v3"));
	close(w);
	wait_tracking(&e, EBPFACCEL_REDIS_TRACK_KEYS, "no write path");
	warm_xdp(&e, fd, "hot", "v3");
	close(p);
	close(fd);
	xenv_stop(&e);
}
END_TEST

/* Detach stops answering but keeps translating: a connection XDP answered
 * on goes on, byte-exact, with Redis answering. Destroy resets it (the
 * client gets an RST at once instead of a connection that can never make
 * progress); a connection XDP never answered on is left alone. */
START_TEST(test_detach_destroy)
{
	struct xenv e = { 0 };
	int shifted, plain;
	long g0;
	__u64 h0;

	xenv_start(&e);
	shifted = answered_conn(&e, AF_INET);
	plain = xconnect(&e, AF_INET6);
	ck_assert(rcc_get_is(plain, "no:such:key", NULL));
	ck_assert_int_eq(ebpfaccel_redis_cache__detach(e.rc), 0);
	h0 = hits(&e);
	g0 = fx_redis_calls(e.redis, "get");
	for (int i = 0; i < 200; i++)
		ck_assert(rcc_get_is(shifted, "hot", "value-of-hot"));
	big_roundtrip(shifted, 100 * 1024, 1);
	ck_assert_int_eq(hits(&e), h0);
	ck_assert_int_eq(fx_redis_calls(e.redis, "get"), g0 + 201);
	ebpfaccel_redis_cache__destroy(e.rc);
	e.rc = NULL;
	ck_assert_msg(peer_closed(shifted, 1), "a shifted connection was not reset at destroy");
	ck_assert(rcc_get_is(plain, "hot", "value-of-hot"));
	close(shifted);
	close(plain);
	xenv_stop(&e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("redis_xdp");
	TCase *tc;

#define ADD(t) (tc = tcase_create(#t), tcase_set_timeout(tc, 300), \
		tcase_add_test(tc, test_##t), suite_add_tcase(s, tc))
	ADD(mixed_ipv4);
	ADD(mixed_ipv6);
	ADD(losses_ipv4);
	ADD(losses_ipv6);
	ADD(closes_ipv4);
	ADD(closes_ipv6);
	ADD(pipeline_and_gso);
	ADD(soak);
	ADD(soak_keys);
	ADD(auto_keys);
	ADD(auto_unseen);
	ADD(detach_destroy);
	ADD(second_table);
	return fx_run_suite(s);
}
