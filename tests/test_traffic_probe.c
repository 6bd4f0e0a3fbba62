// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The traffic probe on a veth pair between two private netns: its counters
 * against what the test's own sockets sent and received, its sampled
 * compressibility against known data, and that detach leaves the interface
 * exactly as it found it (checked with tc and bpftool's view of the kernel).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <ebpfaccel/ebpfaccel.h>

#include "traffic_fixtures.h"

static struct tf_link link_;
static struct ebpfaccel_traffic_probe *probe;

static void setup(void)
{
	tf_link_new(&link_);
	probe = ebpfaccel_traffic_probe__open(NULL);
	ck_assert_msg(probe, "open: %s", strerror(errno));
}

static void teardown(void)
{
	ebpfaccel_traffic_probe__destroy(probe);
	tf_link_free(&link_);
}

static void attach_server_side(void)
{
	int prev = fx_netns_enter(link_.srv);

	ck_assert_int_ge(prev, 0);
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach(probe, link_.srv_ifindex), 0);
	fx_netns_return(prev);
}

static const int families[] = { AF_INET, AF_INET6 };

/* close() returns before the data left: wait until the server has it all. */
static void wait_received(struct tf_server *srv, uint64_t total)
{
	for (int i = 0; i < 250 && tf_server_received(srv) < total; i++)
		usleep(20000);
	ck_assert_uint_eq(tf_server_received(srv), total);
}

struct flow_find {
	uint16_t server_port;
	int family;
	int found;
	struct ebpfaccel_flow_stats st;
};

static int find_flow(const struct ebpfaccel_flow_stats *st, void *ctx)
{
	struct flow_find *f = ctx;

	if (st->server_port == f->server_port && st->family == f->family) {
		f->found++;
		f->st = *st;
	}
	return 0;
}

/* What the client wrote arrives as RX payload, under the server's port,
 * for IPv4 and IPv6; a one-way transfer has no turns.  Exact up to what TCP
 * retransmitted (a loaded machine drops on the veth backlog, before the
 * probe sees the packet, and the retransmission passes it). */
START_TEST(counts_one_way_payload_exactly)
{
	int family = families[_i];
	size_t len = 3 * 1024 * 1024 + 17;
	uint8_t *data = tf_text(len);
	struct ebpfaccel_port_stats ps;
	struct flow_find ff = { .family = family };
	struct tf_server *srv;
	uint64_t retrans;
	int fd;

	attach_server_side();
	srv = tf_server_start(&link_, family, TF_SINK, 0, 0);
	ff.server_port = tf_server_port(srv);
	fd = tf_connect(&link_, srv, family);
	tf_write_all(fd, data, len);
	wait_received(srv, len);
	retrans = tf_bytes_retrans(fd);
	close(fd);

	ck_assert_int_eq(ebpfaccel_traffic_probe__port_stats(probe, ff.server_port, &ps), 0);
	ck_assert_uint_ge(ps.dir[EBPFACCEL_TRAFFIC_RX].payload_bytes, len);
	ck_assert_uint_le(ps.dir[EBPFACCEL_TRAFFIC_RX].payload_bytes, len + retrans);
	ck_assert_uint_eq(ps.dir[EBPFACCEL_TRAFFIC_TX].payload_bytes, 0);
	ck_assert_uint_eq(ps.flows, 1);
	ck_assert_uint_eq(ps.turns, 0);
	ck_assert_uint_ge(ps.dir[EBPFACCEL_TRAFFIC_RX].packets, len / 65536);
	ck_assert_uint_gt(ps.dir[EBPFACCEL_TRAFFIC_TX].packets, 0);	/* ACKs */
	ck_assert_uint_gt(ps.dir[EBPFACCEL_TRAFFIC_RX].bytes, len);
	ck_assert_uint_gt(ps.dir[EBPFACCEL_TRAFFIC_RX].peak_rate, 0);

	ck_assert_int_eq(ebpfaccel_traffic_probe__for_each_flow(probe, find_flow, &ff), 0);
	ck_assert_int_eq(ff.found, 1);
	ck_assert_int_eq(ff.st.local_is_server, 1);
	ck_assert_uint_eq(ff.st.local_port, ff.server_port);
	ck_assert_uint_eq(ff.st.dir[EBPFACCEL_TRAFFIC_RX].payload_bytes,
			  ps.dir[EBPFACCEL_TRAFFIC_RX].payload_bytes);
	{
		uint8_t srv_addr[16] = { 0 }, cli_addr[16] = { 0 };

		inet_pton(family, family == AF_INET ? link_.veth.ip4_b : link_.veth.ip6_b, srv_addr);
		inet_pton(family, family == AF_INET ? link_.veth.ip4_a : link_.veth.ip6_a, cli_addr);
		ck_assert_int_eq(memcmp(ff.st.local_addr, srv_addr, 16), 0);
		ck_assert_int_eq(memcmp(ff.st.remote_addr, cli_addr, 16), 0);
	}

	tf_server_stop(srv);
	free(data);
}
END_TEST

/* Every request and every response is one direction change: rounds R give
 * 2R - 1 turns, counted per flow and per port. */
START_TEST(counts_request_response_turns)
{
	const size_t req = 40, resp = 300;
	const int rounds = 500;
	uint8_t qbuf[40], rbuf[300];
	struct ebpfaccel_port_stats ps;
	struct flow_find ff = { .family = AF_INET };
	struct tf_server *srv;
	uint64_t retrans;
	int fd;

	memset(qbuf, 'q', sizeof(qbuf));
	attach_server_side();
	srv = tf_server_start(&link_, AF_INET, TF_ECHO, req, resp);
	ff.server_port = tf_server_port(srv);
	fd = tf_connect(&link_, srv, AF_INET);
	for (int i = 0; i < rounds; i++) {
		tf_write_all(fd, qbuf, req);
		tf_read_all(fd, rbuf, resp);
	}
	retrans = tf_bytes_retrans(fd);
	close(fd);

	ck_assert_int_eq(ebpfaccel_traffic_probe__port_stats(probe, ff.server_port, &ps), 0);
	ck_assert_uint_eq(ps.turns, 2 * rounds - 1);
	/* A retransmission is counted again; the turns are not. */
	ck_assert_uint_ge(ps.dir[EBPFACCEL_TRAFFIC_RX].payload_bytes, rounds * req);
	ck_assert_uint_le(ps.dir[EBPFACCEL_TRAFFIC_RX].payload_bytes, rounds * req + retrans);
	ck_assert_uint_ge(ps.dir[EBPFACCEL_TRAFFIC_TX].payload_bytes, rounds * resp);
	ck_assert_uint_ge(ps.dir[EBPFACCEL_TRAFFIC_RX].payload_segs, rounds);
	ck_assert_int_eq(ebpfaccel_traffic_probe__for_each_flow(probe, find_flow, &ff), 0);
	ck_assert_int_eq(ff.found, 1);
	ck_assert_uint_eq(ff.st.turns, 2 * rounds - 1);
	tf_server_stop(srv);
}
END_TEST

/* Sampled text has text's entropy and compresses; random bytes neither. */
START_TEST(sample_estimates_follow_the_data)
{
	size_t len = 24 * 1024 * 1024;
	/* Random data must not repeat: repeated random bytes do compress. */
	uint8_t *text = tf_text(4 * 1024 * 1024), *rnd = tf_random(len);
	struct ebpfaccel_port_stats ps;
	struct tf_server *srv;
	const uint8_t *src[2] = { text, rnd };
	const size_t step[2] = { 4 * 1024 * 1024, len };

	attach_server_side();
	srv = tf_server_start(&link_, AF_INET, TF_SINK, 0, 0);
	for (int k = 0; k < 2; k++) {
		int fd = tf_connect(&link_, srv, AF_INET);

		for (size_t off = 0; off < len; off += step[k])
			tf_write_all(fd, src[k], step[k]);
		close(fd);
		wait_received(srv, (k + 1) * len);
		ck_assert_int_eq(ebpfaccel_traffic_probe__port_stats(probe, tf_server_port(srv), &ps), 0);
		ck_assert_uint_eq(ps.sample_bytes[EBPFACCEL_TRAFFIC_RX], 65536);
		if (k == 0) {
			ck_assert_msg(ps.entropy[EBPFACCEL_TRAFFIC_RX] < 6.5, "text entropy %.2f",
				      ps.entropy[EBPFACCEL_TRAFFIC_RX]);
			ck_assert_msg(ps.sample_ratio[EBPFACCEL_TRAFFIC_RX] > 2.0, "text ratio %.2f",
				      ps.sample_ratio[EBPFACCEL_TRAFFIC_RX]);
		} else {
			ck_assert_msg(ps.entropy[EBPFACCEL_TRAFFIC_RX] > 7.9, "random entropy %.2f",
				      ps.entropy[EBPFACCEL_TRAFFIC_RX]);
			ck_assert_msg(ps.sample_ratio[EBPFACCEL_TRAFFIC_RX] < 1.05, "random ratio %.2f",
				      ps.sample_ratio[EBPFACCEL_TRAFFIC_RX]);
		}
	}
	ck_assert_uint_eq(ebpfaccel_traffic_probe__samples_dropped(probe), 0);
	tf_server_stop(srv);
	free(text);
	free(rnd);
}
END_TEST

static int count(const void *st, void *ctx)
{
	(void)st;
	++*(int *)ctx;
	return 0;
}

/* A UDP datagram from the client to the server side, received there. */
static void udp_roundtrip(int family)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int rx = fx_socket_in(link_.srv, family, SOCK_DGRAM), tx = fx_socket_in(link_.cli, family, SOCK_DGRAM);
	char buf[64];

	ck_assert_int_ge(rx, 0);
	ck_assert_int_ge(tx, 0);
	ss.ss_family = family;
	if (family == AF_INET)
		inet_pton(AF_INET, link_.veth.ip4_b, &((struct sockaddr_in *)&ss)->sin_addr);
	else
		inet_pton(AF_INET6, link_.veth.ip6_b, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	ck_assert_int_eq(bind(rx, (struct sockaddr *)&ss, len), 0);
	ck_assert_int_eq(getsockname(rx, (struct sockaddr *)&ss, &len), 0);
	ck_assert_int_eq(sendto(tx, "udp payload", 11, 0, (struct sockaddr *)&ss, len), 11);
	ck_assert_int_eq(recv(rx, buf, sizeof(buf), 0), 11);
	close(rx);
	close(tx);
}

/* UDP (and the ARP/NDP it needs) is not TCP: no flow, no port. */
START_TEST(ignores_other_protocols)
{
	int ports = 0, flows = 0;

	attach_server_side();
	udp_roundtrip(AF_INET);
	udp_roundtrip(AF_INET6);
	ck_assert_int_eq(ebpfaccel_traffic_probe__for_each_port(probe, (ebpfaccel_port_stats_fn)count, &ports), 0);
	ck_assert_int_eq(ebpfaccel_traffic_probe__for_each_flow(probe, (ebpfaccel_flow_stats_fn)count, &flows), 0);
	ck_assert_int_eq(ports, 0);
	ck_assert_int_eq(flows, 0);
}
END_TEST

/* More connections than flow slots: the flow map stays within its bound
 * (LRU), the port still counts every connection. */
START_TEST(flow_table_is_bounded)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_traffic_probe_opts, opts, .max_flows = 64);
	struct ebpfaccel_port_stats ps;
	struct tf_server *srv;
	int flows = 0, conns = 200;

	ebpfaccel_traffic_probe__destroy(probe);
	probe = ebpfaccel_traffic_probe__open(&opts);
	ck_assert_ptr_nonnull(probe);
	attach_server_side();
	srv = tf_server_start(&link_, AF_INET, TF_SINK, 0, 0);
	for (int i = 0; i < conns; i++) {
		int fd = tf_connect(&link_, srv, AF_INET);

		tf_write_all(fd, (const uint8_t *)"hello", 5);
		close(fd);
	}
	wait_received(srv, 5 * conns);
	ck_assert_int_eq(ebpfaccel_traffic_probe__for_each_flow(probe, (ebpfaccel_flow_stats_fn)count, &flows), 0);
	ck_assert_int_le(flows, 64);
	ck_assert_int_gt(flows, 0);
	ck_assert_int_eq(ebpfaccel_traffic_probe__port_stats(probe, tf_server_port(srv), &ps), 0);
	ck_assert_uint_ge(ps.flows, conns);
	ck_assert_uint_ge(ps.dir[EBPFACCEL_TRAFFIC_RX].payload_bytes, 5 * conns);
	tf_server_stop(srv);
}
END_TEST

static char *tc_show(const char *what)
{
	char *out = NULL;

	ck_assert_int_eq(fx_run(link_.srv, &out, "tc %s dev %s", what, link_.veth.name_b), 0);
	return out;
}

static bool tc_has(const char *what, const char *needle)
{
	char *out = tc_show(what);
	bool has = strstr(out, needle) != NULL;

	free(out);
	return has;
}

static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	ck_assert_int_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	return info.id;
}

/* The filters carry our programs while attached; after detach the qdisc and
 * filters are gone, and after destroy so are the programs. */
START_TEST(detach_leaves_nothing_behind)
{
	uint32_t ids[2];
	int fd;

	ck_assert(!tc_has("qdisc show", "clsact"));
	attach_server_side();
	ck_assert(tc_has("qdisc show", "clsact"));
	ck_assert(tc_has("filter show ingress", "tp_ingress"));
	ck_assert(tc_has("filter show egress", "tp_egress"));
	ck_assert(tc_has("filter show ingress", "direct-action"));
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach(probe, link_.srv_ifindex), -EBUSY);

	{
		char *out = tc_show("filter show ingress");
		char *p = strstr(out, " id ");

		ck_assert_ptr_nonnull(p);
		ids[0] = strtoul(p + 4, NULL, 10);
		free(out);
	}
	ck_assert_int_eq(ebpfaccel_traffic_probe__detach(probe), 0);
	ck_assert_int_eq(ebpfaccel_traffic_probe__detach(probe), -ENOENT);
	ck_assert(!tc_has("qdisc show", "clsact"));
	ck_assert(!tc_has("filter show ingress", "bpf"));
	ck_assert(!tc_has("filter show egress", "bpf"));

	fd = bpf_prog_get_fd_by_id(ids[0]);
	ck_assert_int_ge(fd, 0);	/* still loaded: the probe holds it */
	ids[1] = prog_id(fd);
	close(fd);
	ck_assert_uint_eq(ids[0], ids[1]);
	ebpfaccel_traffic_probe__destroy(probe);
	probe = NULL;
	/* Program release is deferred to an RCU grace period. */
	for (int i = 0; i < 100 && (fd = bpf_prog_get_fd_by_id(ids[0])) >= 0; i++) {
		close(fd);
		usleep(10000);
	}
	ck_assert_int_lt(fd, 0);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* A clsact qdisc someone else made, with their filter on it, survives. */
START_TEST(detach_keeps_what_others_made)
{
	ck_assert_int_eq(fx_run(link_.srv, NULL, "tc qdisc add dev %s clsact && "
				"tc filter add dev %s ingress prio 7 protocol all u32 match u32 0 0",
				link_.veth.name_b, link_.veth.name_b), 0);
	attach_server_side();
	ck_assert(tc_has("filter show ingress", "tp_ingress"));
	ck_assert_int_eq(ebpfaccel_traffic_probe__detach(probe), 0);
	ck_assert(tc_has("qdisc show", "clsact"));
	ck_assert(tc_has("filter show ingress", "u32"));
	ck_assert(!tc_has("filter show ingress", "bpf"));
	ck_assert(!tc_has("filter show egress", "bpf"));
}
END_TEST

/* Our qdisc, but someone added a filter meanwhile: the qdisc stays. */
START_TEST(detach_keeps_qdisc_in_use)
{
	attach_server_side();
	ck_assert_int_eq(fx_run(link_.srv, NULL, "tc filter add dev %s egress prio 7 protocol all u32 match u32 0 0",
				link_.veth.name_b), 0);
	ck_assert_int_eq(ebpfaccel_traffic_probe__detach(probe), 0);
	ck_assert(tc_has("qdisc show", "clsact"));
	ck_assert(tc_has("filter show egress", "u32"));
	ck_assert(!tc_has("filter show egress", "bpf"));
}
END_TEST

START_TEST(attach_refuses_bad_input)
{
	struct ebpfaccel_traffic_probe *second;
	int prev;

	ck_assert_int_eq(ebpfaccel_traffic_probe__attach(NULL, 1), -EINVAL);
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach(probe, 0), -EINVAL);
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach_ifname(probe, "ea-no-such-if"), -ENODEV);
	prev = fx_netns_enter(link_.srv);
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach(probe, 99999), -ENODEV);
	/* An L3 device (no Ethernet header): refused, nothing added. */
	ck_assert_int_eq(fx_run(link_.srv, NULL, "ip tuntap add mode tun name eatun0"), 0);
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach_ifname(probe, "eatun0"), -EOPNOTSUPP);
	ck_assert_int_eq(fx_run(link_.srv, NULL, "tc qdisc show dev eatun0 | grep -q clsact"), 1);
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach_ifname(probe, link_.veth.name_b), 0);
	/* Same priority on the same hook: refused, and the first stays intact. */
	second = ebpfaccel_traffic_probe__open(NULL);
	ck_assert_ptr_nonnull(second);
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach(second, link_.srv_ifindex), -EEXIST);
	ebpfaccel_traffic_probe__destroy(second);
	fx_netns_return(prev);
	ck_assert(tc_has("filter show ingress", "tp_ingress"));
	ck_assert(tc_has("qdisc show", "clsact"));
	ck_assert_int_eq(ebpfaccel_traffic_probe__port_stats(probe, 1, NULL), -EINVAL);
	{
		struct ebpfaccel_port_stats ps;

		ck_assert_int_eq(ebpfaccel_traffic_probe__port_stats(probe, 1, &ps), -ENOENT);
	}
}
END_TEST

START_TEST(open_refuses_bad_opts)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_traffic_probe_opts, tiny, .sample_window = 16);
	struct { struct ebpfaccel_traffic_probe_opts o; long future; } big = {
		.o.sz = sizeof(big), .future = 1,
	};

	ck_assert_ptr_null(ebpfaccel_traffic_probe__open(&tiny));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(ebpfaccel_traffic_probe__open(&big.o));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Without CAP_BPF: EPERM, and the message names the capability. */
START_TEST(unprivileged_open_is_refused)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(100);
		_exit(ebpfaccel_traffic_probe__open(NULL) ? 101 : errno);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), EPERM);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("traffic_probe");
	TCase *tc = tcase_create("veth");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, counts_one_way_payload_exactly, 0, 2);
	tcase_add_test(tc, counts_request_response_turns);
	tcase_add_test(tc, sample_estimates_follow_the_data);
	tcase_add_test(tc, ignores_other_protocols);
	tcase_add_test(tc, flow_table_is_bounded);
	tcase_add_test(tc, detach_leaves_nothing_behind);
	tcase_add_test(tc, detach_keeps_what_others_made);
	tcase_add_test(tc, detach_keeps_qdisc_in_use);
	tcase_add_test(tc, attach_refuses_bad_input);
	tcase_add_test(tc, open_refuses_bad_opts);
	tcase_add_test(tc, unprivileged_open_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	fx_require_root();
	return fx_run_suite(suite());
}
