// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Handshake negotiation between two network namespaces joined by a veth:
 * client and server sockets are created in two child cgroups, each with its
 * own policy object.  The matrix: both sides with a rule (IPv4, IPv6, both
 * algorithms and modes, one direction), one side only, the option stripped
 * by a tc middlebox in either direction, SYN cookies forced, prefix rules.
 * Every case also moves real data through ebpfaccel_comp_conn and checks
 * both ends agree (compressed or plain).
 */
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/libbpf.h>

#include "fixtures.h"
#include "comp_testlib.h"
#include "comp_pair.h"
#include "comp_strip.skel.h"

#define PORT		7001
#define DATA_LEN	(200 * 1024)

static struct comp_pair env;
static struct ebpfaccel_comp_policy *pol_c, *pol_s;

static void setup(void)
{
	comp_pair_setup(&env);
	pol_c = ebpfaccel_comp_policy__open(NULL);
	pol_s = ebpfaccel_comp_policy__open(NULL);
	ck_assert_ptr_nonnull(pol_c);
	ck_assert_ptr_nonnull(pol_s);
	ck_assert_int_eq(ebpfaccel_comp_policy__attach(pol_c, fx_cgroup_fd(env.cg_c)), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__attach(pol_s, fx_cgroup_fd(env.cg_s)), 0);
}

static void teardown(void)
{
	ebpfaccel_comp_policy__destroy(pol_c);
	ebpfaccel_comp_policy__destroy(pol_s);
	comp_pair_teardown(&env);
}

static struct comp_fds connect_pair(int family, bool client_cg, bool server_cg)
{
	return comp_pair_connect(&env, family, PORT, client_cg ? env.cg_c : NULL,
				 server_cg ? env.cg_s : NULL);
}

struct side {
	struct ebpfaccel_comp_conn *conn;
	int fd;
	const char *data;
	int err;
};

/* Server: receives DATA_LEN bytes, checks them, sends them back. */
static void *server_side(void *arg)
{
	struct side *s = arg;
	char *buf = malloc(DATA_LEN);

	s->err = comp_recv_all(s->conn, s->fd, buf, DATA_LEN);
	if (!s->err && memcmp(buf, s->data, DATA_LEN))
		s->err = -EILSEQ;
	if (!s->err)
		s->err = comp_send_all(s->conn, s->fd, buf, DATA_LEN);
	free(buf);
	return NULL;
}

static struct ebpfaccel_comp_conn *conn_of(int fd, const struct ebpfaccel_comp_policy *pol)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .policy = pol);
	struct ebpfaccel_comp_conn *c = ebpfaccel_comp_conn__new(fd, &o);

	ck_assert_ptr_nonnull(c);
	return c;
}

/* Moves data both ways; returns the wire bytes each side sent. */
static void exchange(const struct comp_fds *p, struct tcp_comp_stats *cst,
		     struct tcp_comp_stats *sst)
{
	char *data = malloc(DATA_LEN), *back = malloc(DATA_LEN);
	struct side srv;
	struct ebpfaccel_comp_conn *c = conn_of(p->cfd, pol_c), *s = conn_of(p->sfd, pol_s);
	pthread_t t;

	comp_fill_text(data, DATA_LEN, 99);
	srv = (struct side){ .conn = s, .fd = p->sfd, .data = data };
	pthread_create(&t, NULL, server_side, &srv);
	ck_assert_int_eq(comp_send_all(c, p->cfd, data, DATA_LEN), 0);
	ck_assert_int_eq(comp_recv_all(c, p->cfd, back, DATA_LEN), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(srv.err, 0);
	ck_assert(memcmp(back, data, DATA_LEN) == 0);
	ck_assert_int_eq(ebpfaccel_comp_conn__stats(c, cst), 0);
	ck_assert_int_eq(ebpfaccel_comp_conn__stats(s, sst), 0);
	ebpfaccel_comp_conn__free(c);
	ebpfaccel_comp_conn__free(s);
	free(data);
	free(back);
}

static void close_pair(struct comp_fds *p)
{
	close(p->cfd);
	close(p->sfd);
}

static void get_state(const struct ebpfaccel_comp_policy *pol, int fd, struct ebpfaccel_comp_state *st)
{
	*st = (struct ebpfaccel_comp_state){ .sz = sizeof(*st) };
	ck_assert_int_eq(ebpfaccel_comp_policy__state(pol, fd, st), 0);
}

static void assert_compressed(const struct tcp_comp_stats *st, bool on)
{
	if (on)
		ck_assert_uint_lt(st->tx_bytes_out, st->tx_bytes_in / 2);
	else
		ck_assert_uint_eq(st->tx_bytes_out, st->tx_bytes_in);
}

struct agree_case {
	int family;
	enum tcp_comp_algo algo;
	enum tcp_comp_mode mode;
	unsigned int client_dir, server_dir;
	enum tcp_comp_algo expect_c2s, expect_s2c;
};

static const struct agree_case agree_cases[] = {
	{ AF_INET, TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_BLOCK, 0, 0,
	  TCP_COMP_ALGO_ZSTD, TCP_COMP_ALGO_ZSTD },
	{ AF_INET6, TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_BLOCK, 0, 0,
	  TCP_COMP_ALGO_ZSTD, TCP_COMP_ALGO_ZSTD },
	{ AF_INET, TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_STREAM, 0, 0,
	  TCP_COMP_ALGO_LZ4, TCP_COMP_ALGO_LZ4 },
	{ AF_INET6, TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_BLOCK, EBPFACCEL_COMP_DIR_TX, 0,
	  TCP_COMP_ALGO_LZ4, TCP_COMP_ALGO_NONE },
	{ AF_INET, TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM, EBPFACCEL_COMP_DIR_RX, 0,
	  TCP_COMP_ALGO_NONE, TCP_COMP_ALGO_ZSTD },
	/* The server only accepts compressed requests: replies stay plain. */
	{ AF_INET, TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_BLOCK, 0, EBPFACCEL_COMP_DIR_RX,
	  TCP_COMP_ALGO_ZSTD, TCP_COMP_ALGO_NONE },
};

static void set_rules(const struct agree_case *ac)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, rc, .algo = ac->algo, .mode = ac->mode,
			  .dir = ac->client_dir);
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, rs, .algo = ac->algo, .mode = ac->mode,
			  .dir = ac->server_dir);

	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_c, PORT, &rc), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_s, PORT, &rs), 0);
}

START_TEST(both_sides_agree)
{
	const struct agree_case *ac = &agree_cases[_i];
	struct ebpfaccel_comp_state cs, ss, any = { .sz = sizeof(any) };
	struct tcp_comp_stats cst, sst;
	struct comp_fds p;

	set_rules(ac);
	p = connect_pair(ac->family, true, true);
	get_state(pol_c, p.cfd, &cs);
	get_state(pol_s, p.sfd, &ss);
	ck_assert_int_eq(cs.role, EBPFACCEL_COMP_ROLE_CLIENT);
	ck_assert_int_eq(ss.role, EBPFACCEL_COMP_ROLE_SERVER);
	ck_assert_int_eq(ss.phase, EBPFACCEL_COMP_PHASE_ON);
	ck_assert(cs.phase == EBPFACCEL_COMP_PHASE_CONFIRMING || cs.phase == EBPFACCEL_COMP_PHASE_ON);
	ck_assert_int_eq(cs.tx.algo, ac->expect_c2s);
	ck_assert_int_eq(ss.rx.algo, ac->expect_c2s);
	ck_assert_int_eq(cs.rx.algo, ac->expect_s2c);
	ck_assert_int_eq(ss.tx.algo, ac->expect_s2c);
	ck_assert_int_eq(cs.tx.mode, ac->mode);
	ck_assert_int_eq(ss.tx.mode, ac->mode);
	/* Found without the policy handle too, as another process would. */
	ck_assert_int_eq(ebpfaccel_comp__state(p.cfd, &any), 0);
	ck_assert_int_eq(any.tx.algo, cs.tx.algo);
	exchange(&p, &cst, &sst);
	assert_compressed(&cst, ac->expect_c2s != TCP_COMP_ALGO_NONE);
	assert_compressed(&sst, ac->expect_s2c != TCP_COMP_ALGO_NONE);
	/* Once the server has answered, the client stops confirming. */
	get_state(pol_c, p.cfd, &cs);
	ck_assert_int_eq(cs.phase, EBPFACCEL_COMP_PHASE_ON);
	close_pair(&p);
}
END_TEST

static void expect_plain(struct comp_fds *p)
{
	struct tcp_comp_stats cst, sst;

	exchange(p, &cst, &sst);
	assert_compressed(&cst, false);
	assert_compressed(&sst, false);
	close_pair(p);
}

/* The client runs no program: its SYN has no option, nothing changes. */
START_TEST(server_side_only)
{
	struct ebpfaccel_comp_policy_stats st;
	struct ebpfaccel_comp_state ss;
	struct comp_fds p;

	set_rules(&agree_cases[0]);
	p = connect_pair(_i ? AF_INET6 : AF_INET, false, true);
	get_state(pol_s, p.sfd, &ss);
	ck_assert_int_eq(ss.phase, EBPFACCEL_COMP_PHASE_OFF);
	ck_assert_int_eq(ebpfaccel_comp_policy__stats(pol_s, &st), 0);
	ck_assert_uint_eq(st.synack_opt, 0);
	expect_plain(&p);
}
END_TEST

/* The server runs no program: the option is ignored, the client stays off. */
START_TEST(client_side_only)
{
	struct ebpfaccel_comp_policy_stats st;
	struct ebpfaccel_comp_state cs;
	struct comp_fds p;

	set_rules(&agree_cases[0]);
	p = connect_pair(_i ? AF_INET6 : AF_INET, true, false);
	get_state(pol_c, p.cfd, &cs);
	ck_assert_int_eq(cs.phase, EBPFACCEL_COMP_PHASE_OFF);
	ck_assert_int_eq(ebpfaccel_comp_policy__stats(pol_c, &st), 0);
	ck_assert_uint_eq(st.syn_opt, 1);
	ck_assert_uint_eq(st.client_no_answer, 1);
	expect_plain(&p);
}
END_TEST

/* A middlebox (tc egress on one veth end) removes the option, or only
 * @clear_bits of its flags. */
static struct comp_strip_bpf *strip_on(struct fx_netns *ns, const char *ifname, __u8 clear_bits)
{
	struct comp_strip_bpf *skel = comp_strip_bpf__open_and_load();
	int prev = fx_netns_enter(ns);
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts);

	ck_assert_ptr_nonnull(skel);
	ck_assert_int_ge(prev, 0);
	skel->bss->clear_ver_bits = clear_bits;
	hook.ifindex = if_nametoindex(ifname);
	ck_assert_int_gt(hook.ifindex, 0);
	ck_assert_int_eq(bpf_tc_hook_create(&hook), 0);
	opts.prog_fd = bpf_program__fd(skel->progs.comp_strip);
	ck_assert_int_eq(bpf_tc_attach(&hook, &opts), 0);
	ck_assert_int_eq(fx_netns_return(prev), 0);
	return skel;
}

/* Whichever direction loses the option, both ends must end up off. */
static void stripped_case(struct fx_netns *ns, const char *ifname, int family,
			  uint64_t expect_synack_opt)
{
	struct comp_strip_bpf *strip = strip_on(ns, ifname, 0);
	struct ebpfaccel_comp_state cs, ss;
	struct ebpfaccel_comp_policy_stats st;
	struct comp_fds p;

	set_rules(&agree_cases[0]);
	p = connect_pair(family, true, true);
	get_state(pol_c, p.cfd, &cs);
	get_state(pol_s, p.sfd, &ss);
	ck_assert_int_eq(cs.phase, EBPFACCEL_COMP_PHASE_OFF);
	ck_assert_int_eq(ss.phase, EBPFACCEL_COMP_PHASE_OFF);
	ck_assert_uint_ge(strip->bss->stripped, 1);
	ck_assert_int_eq(ebpfaccel_comp_policy__stats(pol_s, &st), 0);
	ck_assert_uint_eq(st.synack_opt, expect_synack_opt);
	ck_assert_uint_eq(st.server_no_confirm, 1);
	expect_plain(&p);
	comp_strip_bpf__destroy(strip);
}

/*
 * Record format: both ends with this library agree on format 2 (every record
 * checked).  A peer that predates format 2 (simulated by a middlebox that
 * clears TCP_COMP_OPT_F_FORMAT2 on the client's or on the server's side)
 * makes both ends use format 1, and the data still flows compressed.
 */
START_TEST(record_format)
{
	struct fx_netns *ns[] = { NULL, env.ns_c, env.ns_s };
	const char *ifname[] = { NULL, env.veth.name_a, env.veth.name_b };
	struct comp_strip_bpf *strip = _i ? strip_on(ns[_i], ifname[_i], TCP_COMP_OPT_F_FORMAT2)
					  : NULL;
	int want = _i ? TCP_COMP_VERSION_1 : TCP_COMP_VERSION_2;
	struct ebpfaccel_comp_state cs, ss;
	struct tcp_comp_stats cst, sst;
	struct comp_fds p;

	set_rules(&agree_cases[0]);
	p = connect_pair(AF_INET, true, true);
	get_state(pol_c, p.cfd, &cs);
	get_state(pol_s, p.sfd, &ss);
	ck_assert_int_eq(ss.phase, EBPFACCEL_COMP_PHASE_ON);
	ck_assert_int_eq(cs.tx.version, want);
	ck_assert_int_eq(cs.rx.version, want);
	ck_assert_int_eq(ss.tx.version, want);
	ck_assert_int_eq(ss.rx.version, want);
	if (strip)
		ck_assert_uint_ge(strip->bss->stripped, 1);
	exchange(&p, &cst, &sst);
	assert_compressed(&cst, true);
	assert_compressed(&sst, true);
	close_pair(&p);
	comp_strip_bpf__destroy(strip);
}
END_TEST

/* The server never sees the SYN's option, so it never answers. */
START_TEST(stripped_client_to_server)
{
	stripped_case(env.ns_c, env.veth.name_a, _i ? AF_INET6 : AF_INET, 0);
}
END_TEST

/* The server answered, the answer never arrived: no confirmation. */
START_TEST(stripped_server_to_client)
{
	stripped_case(env.ns_s, env.veth.name_b, _i ? AF_INET6 : AF_INET, 1);
}
END_TEST

static unsigned long syncookies_sent(struct fx_netns *ns)
{
	unsigned long n = 0;
	char *out = NULL;

	ck_assert_int_eq(fx_run(ns, &out, "nstat -asz TcpExtSyncookiesSent"), 0);
	sscanf(strstr(out, "TcpExtSyncookiesSent") ?: "x 0", "%*s %lu", &n);
	free(out);
	return n;
}

/* The server keeps nothing between SYN and ACK: the confirmation decides. */
START_TEST(syn_cookies)
{
	struct ebpfaccel_comp_state cs, ss;
	struct tcp_comp_stats cst, sst;
	struct comp_fds p;

	ck_assert_int_eq(fx_run(env.ns_s, NULL, "sysctl -qw net.ipv4.tcp_syncookies=2"), 0);
	set_rules(&agree_cases[2]);
	p = connect_pair(_i ? AF_INET6 : AF_INET, true, true);
	ck_assert_uint_ge(syncookies_sent(env.ns_s), 1);
	get_state(pol_c, p.cfd, &cs);
	get_state(pol_s, p.sfd, &ss);
	ck_assert_int_eq(ss.phase, EBPFACCEL_COMP_PHASE_ON);
	ck_assert_int_eq(cs.tx.algo, TCP_COMP_ALGO_LZ4);
	ck_assert_int_eq(ss.rx.algo, TCP_COMP_ALGO_LZ4);
	ck_assert_int_eq(ss.tx.mode, TCP_COMP_MODE_STREAM);
	exchange(&p, &cst, &sst);
	assert_compressed(&cst, true);
	assert_compressed(&sst, true);
	close_pair(&p);
}
END_TEST

/* The most specific rule wins: an OFF rule for the server's /32 beats the port rule. */
START_TEST(prefix_rules)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, off, .action = EBPFACCEL_COMP_OFF);
	struct ebpfaccel_comp_state cs;
	struct in_addr a4;
	struct comp_fds p;

	set_rules(&agree_cases[0]);
	inet_pton(AF_INET, env.veth.ip4_b, &a4);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_prefix(pol_c, AF_INET, &a4, 32, PORT, &off), 0);
	p = connect_pair(AF_INET, true, true);
	cs = (struct ebpfaccel_comp_state){ .sz = sizeof(cs) };
	ck_assert_int_eq(ebpfaccel_comp_policy__state(pol_c, p.cfd, &cs), -ENOENT);
	expect_plain(&p);
	/* A /24 ON rule also matches and turns it back on. */
	ck_assert_int_eq(ebpfaccel_comp_policy__del_prefix(pol_c, AF_INET, &a4, 32, PORT), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_prefix(pol_c, AF_INET, &a4, 24, PORT, NULL), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__del_port(pol_c, PORT), 0);
	p = connect_pair(AF_INET, true, true);
	get_state(pol_c, p.cfd, &cs);
	ck_assert_int_eq(cs.tx.algo, TCP_COMP_ALGO_ZSTD);
	close_pair(&p);
}
END_TEST

/* AUTO negotiates like ON and says so; after detach nothing negotiates. */
START_TEST(auto_then_detach)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, rule, .action = EBPFACCEL_COMP_AUTO,
			  .level = 7, .record_size = 4096, .flags = TCP_COMP_F_CHECKSUM);
	struct ebpfaccel_comp_state cs, ss;
	struct tcp_comp_stats cst, sst;
	struct comp_fds p;

	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_c, PORT, &rule), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_s, PORT, NULL), 0);
	p = connect_pair(AF_INET, true, true);
	get_state(pol_c, p.cfd, &cs);
	get_state(pol_s, p.sfd, &ss);
	ck_assert_int_eq(cs.action, EBPFACCEL_COMP_AUTO);
	ck_assert_int_eq(ss.action, EBPFACCEL_COMP_ON);
	ck_assert_int_eq(cs.tx.algo, TCP_COMP_ALGO_ZSTD);
	/* The encoder's own settings come from the local rule. */
	ck_assert_int_eq(cs.tx.level, 7);
	ck_assert_uint_eq(cs.tx.record_size, 4096);
	ck_assert_uint_eq(cs.tx.flags, TCP_COMP_F_CHECKSUM);
	ck_assert_uint_eq(ss.tx.flags, 0);
	exchange(&p, &cst, &sst);
	assert_compressed(&cst, true);
	ck_assert_uint_eq(cst.tx_records, (DATA_LEN + 4095) / 4096);
	close_pair(&p);

	ck_assert_int_eq(ebpfaccel_comp_policy__detach(pol_c), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__detach(pol_s), 0);
	p = connect_pair(AF_INET, true, true);
	cs = (struct ebpfaccel_comp_state){ .sz = sizeof(cs) };
	ck_assert_int_eq(ebpfaccel_comp_policy__state(pol_c, p.cfd, &cs), -ENOENT);
	ck_assert_int_eq(ebpfaccel_comp_policy__state(pol_s, p.sfd, &cs), -ENOENT);
	expect_plain(&p);
}
END_TEST

START_TEST(policy_api_errors)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, r);
	struct in6_addr a6 = IN6ADDR_LOOPBACK_INIT;

	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_c, 0, NULL), -EINVAL);
	r.algo = 9;
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_c, 80, &r), -EINVAL);
	r.algo = TCP_COMP_ALGO_LZ4;
	r.mode = 7;
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_c, 80, &r), -EINVAL);
	r.mode = TCP_COMP_MODE_STREAM;
	r.record_size = TCP_COMP_MAX_RECORD + 1;
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_c, 80, &r), -EINVAL);
	r.record_size = 0;
	r.dir = 8;
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_c, 80, &r), -EINVAL);
	r.dir = 0;
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_c, 80, &r), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__del_port(pol_c, 80), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__del_port(pol_c, 80), -ENOENT);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_prefix(pol_c, AF_INET6, &a6, 129, 80, NULL),
			 -EINVAL);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_prefix(pol_c, AF_UNIX, &a6, 8, 80, NULL),
			 -EAFNOSUPPORT);
	ck_assert_int_eq(ebpfaccel_comp_policy__attach(pol_c, fx_cgroup_fd(env.cg_c)), -EBUSY);
	ck_assert_int_eq(ebpfaccel_comp_policy__detach(pol_c), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__detach(pol_c), -ENOENT);
}
END_TEST

/* Bytes through the client's veth end; @col 1 = received, 9 = sent. */
static unsigned long long link_bytes(int col)
{
	unsigned long long n = 0;
	char *out = NULL;

	ck_assert_int_eq(fx_run(env.ns_c, &out, "tr ':' ' ' < /proc/net/dev | awk '$1 == \"%s\" "
				"{ print $%d }'", env.veth.name_a, col + 1), 0);
	ck_assert_msg(out[0] >= '0' && out[0] <= '9', "no counters for %s", env.veth.name_a);
	n = strtoull(out, NULL, 10);
	free(out);
	return n;
}

struct shim_env {
	char shim[512], libdir[512], env[1200];
};

static void shim_env_init(struct shim_env *e)
{
	const char *top = getenv("top_builddir") ?: ".";

	snprintf(e->shim, sizeof(e->shim), "%s/preload/.libs/libebpfaccel-preload.so", top);
	snprintf(e->libdir, sizeof(e->libdir), "%s/lib/.libs", top);
	snprintf(e->env, sizeof(e->env), "LD_PRELOAD=%s LD_LIBRARY_PATH=%s", e->shim, e->libdir);
}

/* redis-server under the shim in the server cgroup, and rules for its port
 * on both sides. */
static struct fx_redis *start_redis_with_shim(const struct shim_env *e)
{
	static const char *const conf[] = { "save \"\"", NULL };
	struct fx_redis *r;
	int port;

	fx_require_program("/usr/bin/redis-server", "redis-server");
	setenv("LD_PRELOAD", e->shim, 1);
	setenv("LD_LIBRARY_PATH", e->libdir, 1);
	r = fx_redis_start_cg(env.ns_s, env.cg_s, conf);
	unsetenv("LD_PRELOAD");
	unsetenv("LD_LIBRARY_PATH");
	ck_assert_ptr_nonnull(r);
	port = fx_redis_port(r);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_c, port, NULL), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_s, port, NULL), 0);
	return r;
}

/* Unmodified redis-server and redis-cli under the preload shim: a 1 MiB
 * compressible value goes in and comes back exact, with far fewer bytes on
 * the veth than the value's size in each direction. */
START_TEST(preload_redis_cli)
{
	size_t len = 1 << 20;
	char *value = malloc(len), *got = NULL, vpath[] = "/tmp/comp-preload-XXXXXX";
	unsigned long long tx0, tx1, rx1;
	struct ebpfaccel_comp_policy_stats st;
	struct shim_env e;
	struct fx_redis *r;
	int vfd = mkstemp(vpath), port;

	fx_require_program("/usr/bin/redis-cli", "redis-cli");
	shim_env_init(&e);
	comp_fill_text(value, len, 1234);
	for (size_t i = 0; i < len; i++)
		value[i] = value[i] == '\n' ? '_' : value[i];
	ck_assert_int_eq(write(vfd, value, len), (ssize_t)len);
	close(vfd);
	r = start_redis_with_shim(&e);
	port = fx_redis_port(r);

	ck_assert_int_eq(fx_cgroup_add_pid(env.cg_c, getpid()), 0);
	tx0 = link_bytes(9);
	ck_assert_int_eq(fx_run(env.ns_c, NULL, "%s redis-cli -h %s -p %d -x SET big < %s >/dev/null",
				e.env, env.veth.ip4_b, port, vpath), 0);
	tx1 = link_bytes(9);
	rx1 = link_bytes(1);
	ck_assert_int_eq(fx_run(env.ns_c, &got, "%s redis-cli -h %s -p %d GET big", e.env, env.veth.ip4_b,
				port), 0);
	ck_assert_int_eq(fx_cgroup_add_pid(env.cg_n, getpid()), 0);

	ck_assert_uint_eq(strlen(got), len + 1);
	ck_assert(memcmp(got, value, len) == 0);
	ck_assert_uint_lt(tx1 - tx0, len / 2);
	ck_assert_uint_lt(link_bytes(1) - rx1, len / 2);
	ck_assert_int_eq(ebpfaccel_comp_policy__stats(pol_s, &st), 0);
	ck_assert_uint_ge(st.server_on, 2);
	fx_redis_stop(r);
	unlink(vpath);
	free(got);
	free(value);
}
END_TEST

/* redis-benchmark: 20 non-blocking clients with pipelining on epoll, both
 * ends under the shim; every request must be answered. */
START_TEST(preload_redis_benchmark)
{
	const unsigned long long payload = 20000ULL * 8192;	/* per command */
	unsigned long long tx0, rx0;
	struct ebpfaccel_comp_policy_stats st;
	struct shim_env e;
	struct fx_redis *r;
	char *out = NULL;

	fx_require_program("/usr/bin/redis-benchmark", "redis-benchmark");
	shim_env_init(&e);
	r = start_redis_with_shim(&e);
	ck_assert_int_eq(fx_cgroup_add_pid(env.cg_c, getpid()), 0);
	tx0 = link_bytes(9);
	rx0 = link_bytes(1);
	ck_assert_int_eq(fx_run(env.ns_c, &out, "%s redis-benchmark -h %s -p %d -c 20 -P 8 -n 20000 "
				"-d 8192 -t set,get -q --csv", e.env, env.veth.ip4_b, fx_redis_port(r)), 0);
	ck_assert_int_eq(fx_cgroup_add_pid(env.cg_n, getpid()), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"SET\""));
	ck_assert_ptr_nonnull(strstr(out, "\"GET\""));
	/* SET values go out and GET values come back, both compressed
	 * (redis-benchmark's values are random letters: about 2.6:1). */
	ck_assert_uint_lt(link_bytes(9) - tx0, payload * 6 / 10);
	ck_assert_uint_lt(link_bytes(1) - rx0, payload * 6 / 10);
	ck_assert_int_eq(ebpfaccel_comp_policy__stats(pol_s, &st), 0);
	ck_assert_uint_ge(st.server_on, 20);
	fx_redis_stop(r);
	free(out);
}
END_TEST

static Suite *negotiate_suite(void)
{
	Suite *s = suite_create("comp_negotiate");
	TCase *tc = tcase_create("negotiate");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, both_sides_agree, 0, sizeof(agree_cases) / sizeof(agree_cases[0]));
	tcase_add_loop_test(tc, server_side_only, 0, 2);
	tcase_add_loop_test(tc, client_side_only, 0, 2);
	tcase_add_loop_test(tc, stripped_client_to_server, 0, 2);
	tcase_add_loop_test(tc, record_format, 0, 3);
	tcase_add_loop_test(tc, stripped_server_to_client, 0, 2);
	tcase_add_loop_test(tc, syn_cookies, 0, 2);
	tcase_add_test(tc, prefix_rules);
	tcase_add_test(tc, auto_then_detach);
	tcase_add_test(tc, policy_api_errors);
	tcase_add_test(tc, preload_redis_cli);
	tcase_add_test(tc, preload_redis_benchmark);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{

	fx_require_root();
	return fx_run_suite(negotiate_suite());
}
