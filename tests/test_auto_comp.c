// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The auto policy driving the compression negotiation end to end: the
 * server's compression policy (sock_ops on its cgroup) has the port on AUTO,
 * the traffic probe watches the server's veth, and the auto policy writes
 * its decisions into the server's port rule.  A client whose own policy
 * asks for compression on that port then finds, connection by connection,
 * what the server agreed to: nothing while the traffic is random, zstd once
 * bulk text has turned the port on; and with the goodput model, the
 * algorithm a faster link calls for, byte-exact through the engine.
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
	srv = tf_server_start(&link_, AF_INET, TF_DECODE, 0, 0);
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

/* The goodput model (opts.choose) with given figures, so that only the
 * measured link rate decides: A, lz4, never limits but compresses 1.5:1;
 * B, zstd-3, compresses 2.5:1 but only 15 MB/s.  Over 40 Mbit/s (5 MB/s)
 * B delivers 12.5 MB/s, A 7.5: B.  Over 1 Gbit/s A delivers 1.5 times the
 * link, B 15 MB/s: A once the link passes 11 MB/s.  (Both in block mode:
 * the mode of a connection is the server's rule's, and the policy here
 * runs on the client, the sender, which picks algorithm and level of what
 * it sends.) */
static const struct ebpfaccel_auto_candidate link_cands[] = {
	{ TCP_COMP_ALGO_LZ4, 0, TCP_COMP_MODE_BLOCK, 3000000000ULL, 3000000000ULL, 1.5 },
	{ TCP_COMP_ALGO_ZSTD, 3, TCP_COMP_MODE_BLOCK, 15000000ULL, 1000000000ULL, 2.5 },
};

/* Updates until the port's choice is @want. */
static void wait_choice(const struct ebpfaccel_auto_candidate *want)
{
	struct ebpfaccel_auto_decision d = { 0 };

	for (int i = 0; i < 60; i++) {
		usleep(TICK_US);
		ck_assert_int_ge(ebpfaccel_auto_policy__update(policy), 0);
		if (!ebpfaccel_auto_policy__decision(policy, tf_server_port(srv), &d) && d.compress &&
		    d.choice.algo == want->algo && d.choice.level == want->level)
			return;
	}
	ck_abort_msg("port %u: compress %d, algo %d level %d, %s: %s", d.port, d.compress,
		     d.choice.algo, d.choice.level, ebpfaccel_auto_reason__name(d.reason), d.text);
}

/* Waits (up to 5 s) until the server has finished @n connections. */
static uint64_t wait_finished(uint64_t n, struct tf_decoded *got)
{
	for (int i = 0; i < 100 && tf_server_last(srv, got) < n; i++)
		usleep(50000);
	return tf_server_last(srv, got);
}

/* A connection from the client's policy cgroup sends @len bytes of @data
 * through the engine with what the handshake chose, @want; the server must
 * decode exactly them. */
static void transfer_with(const struct ebpfaccel_auto_candidate *want, const uint8_t *data, size_t len)
{
	struct tcp_comp_params tx, rx;
	struct ebpfaccel_comp_conn *c;
	struct tcp_comp_stats st;
	struct tf_decoded got;
	uint64_t before = tf_server_last(srv, &got);
	int fd;

	ck_assert_int_eq(fx_cgroup_add_pid(cg_c, getpid()), 0);
	fd = tf_connect(&link_, srv, AF_INET);
	ck_assert_int_eq(fx_cgroup_add_pid(cg_n, getpid()), 0);
	c = ebpfaccel_comp_conn__new(fd, NULL);
	ck_assert_ptr_nonnull(c);
	ebpfaccel_comp_conn__params(c, &tx, &rx);
	ck_assert_int_eq(tx.algo, want->algo);
	ck_assert_int_eq(tx.level, want->level);
	ck_assert_int_eq(tx.mode, want->mode);
	for (size_t off = 0; off < len;) {
		ssize_t n = ebpfaccel_comp_conn__send(c, data + off, len - off);

		ck_assert_int_gt(n, 0);
		off += n;
	}
	ck_assert_int_eq(ebpfaccel_comp_conn__flush(c), 0);
	ck_assert_int_eq(ebpfaccel_comp_conn__stats(c, &st), 0);
	ck_assert_uint_lt(st.tx_bytes_out, len * 2 / 3);
	ebpfaccel_comp_conn__free(c);
	close(fd);
	ck_assert_uint_eq(wait_finished(before + 1, &got), before + 1);
	ck_assert_int_eq(got.error, 0);
	ck_assert_int_eq(got.rx_algo, want->algo);
	ck_assert_uint_eq(got.len, len);
	ck_assert_uint_eq(got.hash, tf_hash(TF_HASH_INIT, data, len));
}

/* Plain bulk text (a client without a policy) over a link of @mbit until
 * the port's choice is @want; then a compressed connection uses it. */
static void phase(int mbit, const struct ebpfaccel_auto_candidate *want, const uint8_t *text)
{
	struct tf_decoded got;
	uint64_t before = tf_server_last(srv, &got);
	struct tf_client *c;

	tf_link_limit(&link_, mbit);
	c = tf_bulk_start(tf_connect(&link_, srv, AF_INET), text, DATA_LEN);
	wait_choice(want);
	tf_client_stop(c, NULL);
	/* The server serves one connection at a time: this one first. */
	ck_assert_uint_eq(wait_finished(before + 1, &got), before + 1);
	transfer_with(want, text, 2 << 20);
}

/* The client's probe and auto policy choose what it sends: the link gets
 * faster, the next connection negotiates another algorithm and level, and
 * both transfers arrive exact. */
START_TEST(choice_changes_at_next_connection)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, accept, .action = EBPFACCEL_COMP_ON);
	LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, opts, .comp_policy = pol_c, .choose = true,
			  .candidates = link_cands, .n_candidates = 2, .stream_gain = 1.0,
			  .cpu_share = 1.0);
	struct ebpfaccel_traffic_probe *cprobe = ebpfaccel_traffic_probe__open(NULL);
	uint8_t *text = tf_text(DATA_LEN);
	struct ebpfaccel_auto_decision d;
	int prev;

	ck_assert_ptr_nonnull(cprobe);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_s, tf_server_port(srv), &accept), 0);
	prev = fx_netns_enter(link_.cli);
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach_ifname(cprobe, link_.veth.name_a), 0);
	fx_netns_return(prev);
	ebpfaccel_auto_policy__free(policy);
	policy = ebpfaccel_auto_policy__new(cprobe, &opts);
	ck_assert_ptr_nonnull(policy);

	phase(40, &link_cands[1], text);
	phase(1000, &link_cands[0], text);
	ck_assert_int_eq(ebpfaccel_auto_policy__decision(policy, tf_server_port(srv), &d), 0);
	/* At least off -> zstd -> lz4; a loaded machine's first intervals
	 * (tbf's bucket passes a burst at once) may add one on the way. */
	ck_assert_uint_ge(d.changes, 2);
	ck_assert_int_eq(d.busy_dir, EBPFACCEL_TRAFFIC_TX);
	ck_assert_uint_gt(d.link_rate, 11000000);
	ebpfaccel_auto_policy__free(policy);
	policy = NULL;
	ebpfaccel_traffic_probe__destroy(cprobe);
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
	tcase_add_test(tc, choice_changes_at_next_connection);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	fx_require_root();
	return fx_run_suite(suite());
}
