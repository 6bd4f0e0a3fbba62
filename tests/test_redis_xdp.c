// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Redis cache's XDP mode: redis-server in one netns, clients in another
 * behind a veth pair, GET hits answered by XDP on the server's veth with
 * the server's sequence numbers translated. Every reply is checked byte for
 * byte; XDP answered when the cache's hits rose while Redis' own GET count
 * did not.
 */
#include <check.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <ebpfaccel/ebpfaccel.h>
#include "redis_cache_client.h"

struct xenv {
	struct fx_netns *srv, *cli;
	struct fx_veth veth;
	struct fx_cgroup *cg;
	struct fx_redis *redis;
	struct ebpfaccel_redis_cache *rc;
	int peer_prog;
	int port;
};

/* veth: frames sent back with XDP_TX arrive only where the peer has an XDP
 * program (kernel-facts, XDP rule 9): the client's side gets one that
 * passes everything. */
static int peer_pass_prog(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "peer_pass", "GPL", insns, 2, NULL);
}

static void xenv_start(struct xenv *e)
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
	e->redis = fx_redis_start_cg(e->srv, e->cg, NULL);
	ck_assert_ptr_nonnull(e->redis);
	e->port = port = fx_redis_port(e->redis);

	e->peer_prog = peer_pass_prog();
	ck_assert_int_ge(e->peer_prog, 0);
	prev = fx_netns_enter(e->cli);
	ck_assert_int_ge(prev, 0);
	ifindex = if_nametoindex(e->veth.name_b);
	ck_assert_int_gt(ifindex, 0);
	ck_assert_int_eq(bpf_xdp_attach(ifindex, e->peer_prog, XDP_FLAGS_DRV_MODE, NULL), 0);
	ck_assert_int_eq(fx_netns_return(prev), 0);
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

static void xenv_stop(struct xenv *e)
{
	ebpfaccel_redis_cache__destroy(e->rc);
	close(e->peer_prog);
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

static long redis_gets(struct xenv *e)
{
	char *out = NULL;
	const char *p;
	long n = 0;

	ck_assert_int_eq(fx_run(e->srv, &out, "redis-cli -s %s INFO commandstats",
				fx_redis_unixsock(e->redis)), 0);
	p = strstr(out, "cmdstat_get:calls=");
	if (p)
		n = strtol(p + strlen("cmdstat_get:calls="), NULL, 10);
	free(out);
	return n;
}

static __u64 hits(struct xenv *e)
{
	struct ebpfaccel_redis_cache_stats s;

	ck_assert_int_eq(ebpfaccel_redis_cache__stats(e->rc, &s, sizeof(s)), 0);
	return s.hits;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

#define NKEYS 64

/* Mixed GETs (hits, misses) and SETs over one connection, every reply
 * checked; returns how many GETs Redis did not see. */
static long mixed_run(struct xenv *e, int family, int rounds)
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
	sleep_ms(200);
	before = redis_gets(e);
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
	ck_assert_msg(ti.tcpi_total_retrans == 0, "client retransmitted %u segments",
		      ti.tcpi_total_retrans);
	close(fd);
	return gets - (redis_gets(e) - before);
}

static void check_mixed(int family)
{
	struct xenv e = { 0 };
	__u64 h0;
	long unseen;

	xenv_start(&e);
	h0 = hits(&e);
	unseen = mixed_run(&e, family, 20000);
	fprintf(stderr, "IPv%d: %ld of the GETs never reached Redis, hits %llu\n",
		family == AF_INET ? 4 : 6, unseen, (unsigned long long)(hits(&e) - h0));
	ck_assert_int_gt(unseen, 1000);
	xenv_stop(&e);
}

START_TEST(test_mixed_ipv4)
{
	check_mixed(AF_INET);
}
END_TEST

START_TEST(test_mixed_ipv6)
{
	check_mixed(AF_INET6);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("redis_xdp");
	TCase *tc = tcase_create("xdp");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_mixed_ipv4);
	tcase_add_test(tc, test_mixed_ipv6);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
