// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The auto policy driving the compression negotiation end to end: the
 * server's compression policy (sock_ops on its cgroup) has the port on AUTO,
 * the traffic probe watches the server's veth, and the auto policy writes
 * its decisions into the server's port rule.  A client whose own policy
 * asks for compression on that port then finds, connection by connection,
 * what the server agreed to: nothing while the traffic is random, zstd once
 * bulk text has turned the port on.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ebpfaccel/ebpfaccel.h>

#include "traffic_fixtures.h"

#define DATA_LEN	(4 * 1024 * 1024)
#define TICK_US		150000

static struct tf_link link_;
static struct fx_cgroup *cg_c, *cg_s, *cg_n;
static struct ebpfaccel_comp_policy *pol_c, *pol_s;
static struct ebpfaccel_traffic_probe *probe;
static struct ebpfaccel_auto_policy *policy;
static struct tf_server *srv;

static void setup(void)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, want, .action = EBPFACCEL_COMP_ON);
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, auto_rule, .action = EBPFACCEL_COMP_AUTO);
	int prev;

	tf_link_new(&link_);
	tf_link_limit(&link_, 200);
	cg_c = fx_cgroup_new();
	cg_s = fx_cgroup_new();
	cg_n = fx_cgroup_new();
	ck_assert(cg_c && cg_s && cg_n);
	/* The test process waits in a cgroup without a program. */
	ck_assert_int_eq(fx_cgroup_add_pid(cg_n, getpid()), 0);
	pol_c = ebpfaccel_comp_policy__open(NULL);
	pol_s = ebpfaccel_comp_policy__open(NULL);
	ck_assert(pol_c && pol_s);
	ck_assert_int_eq(ebpfaccel_comp_policy__attach(pol_c, fx_cgroup_fd(cg_c)), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__attach(pol_s, fx_cgroup_fd(cg_s)), 0);

	/* The server's listening socket is made in its policy's cgroup. */
	ck_assert_int_eq(fx_cgroup_add_pid(cg_s, getpid()), 0);
	srv = tf_server_start(&link_, AF_INET, TF_SINK, 0, 0);
	ck_assert_int_eq(fx_cgroup_add_pid(cg_n, getpid()), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_s, tf_server_port(srv), &auto_rule), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_c, tf_server_port(srv), &want), 0);

	probe = ebpfaccel_traffic_probe__open(NULL);
	ck_assert_ptr_nonnull(probe);
	prev = fx_netns_enter(link_.srv);
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach(probe, link_.srv_ifindex), 0);
	fx_netns_return(prev);
	{
		LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, opts, .comp_policy = pol_s);

		policy = ebpfaccel_auto_policy__new(probe, &opts);
		ck_assert_ptr_nonnull(policy);
	}
}

static void teardown(void)
{
	tf_server_stop(srv);
	ebpfaccel_auto_policy__free(policy);
	ebpfaccel_traffic_probe__destroy(probe);
	ebpfaccel_comp_policy__destroy(pol_c);
	ebpfaccel_comp_policy__destroy(pol_s);
	fx_cgroup_free(cg_c);
	fx_cgroup_free(cg_s);
	fx_cgroup_free(cg_n);
	tf_link_free(&link_);
}

/* What a new connection from the client's policy cgroup negotiates. */
static struct ebpfaccel_comp_state new_connection(void)
{
	struct ebpfaccel_comp_state st = { .sz = sizeof(st) };
	int fd;

	ck_assert_int_eq(fx_cgroup_add_pid(cg_c, getpid()), 0);
	fd = tf_connect(&link_, srv, AF_INET);
	ck_assert_int_eq(fx_cgroup_add_pid(cg_n, getpid()), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__state(pol_c, fd, &st), 0);
	close(fd);
	return st;
}

/* Updates until the port's decision is @compress for @reason. */
static void wait_decision(bool compress, enum ebpfaccel_auto_reason reason)
{
	struct ebpfaccel_auto_decision d = { 0 };

	for (int i = 0; i < 60; i++) {
		usleep(TICK_US);
		ck_assert_int_ge(ebpfaccel_auto_policy__update(policy), 0);
		if (!ebpfaccel_auto_policy__decision(policy, tf_server_port(srv), &d) &&
		    d.compress == compress && d.reason == reason)
			return;
	}
	ck_abort_msg("port %u: compress %d, %s: %s", d.port, d.compress,
		     ebpfaccel_auto_reason__name(d.reason), d.text);
}

START_TEST(decisions_reach_the_negotiation)
{
	uint8_t *text = tf_text(DATA_LEN);
	struct ebpfaccel_comp_state st;
	struct tf_client *c;

	/* AUTO negotiates like ON until the probe has judged the port. */
	st = new_connection();
	ck_assert_int_eq(st.tx.algo, TCP_COMP_ALGO_ZSTD);

	c = tf_bulk_start(tf_connect(&link_, srv, AF_INET), NULL, 0);
	wait_decision(false, EBPFACCEL_AUTO_INCOMPRESSIBLE);
	st = new_connection();
	ck_assert_msg(st.tx.algo == TCP_COMP_ALGO_NONE && st.rx.algo == TCP_COMP_ALGO_NONE,
		      "random data, yet tx %d rx %d", st.tx.algo, st.rx.algo);

	tf_bulk_switch(c, text, DATA_LEN);
	wait_decision(true, EBPFACCEL_AUTO_BULK_COMPRESSIBLE);
	st = new_connection();
	tf_client_stop(c, NULL);
	/* The server receives the bulk (RX): it accepts compressed data, so
	 * the client may send compressed. */
	ck_assert_int_eq(st.tx.algo, TCP_COMP_ALGO_ZSTD);
	free(text);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("auto_comp");
	TCase *tc = tcase_create("negotiation");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, decisions_reach_the_negotiation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	fx_require_root();
	return fx_run_suite(suite());
}
