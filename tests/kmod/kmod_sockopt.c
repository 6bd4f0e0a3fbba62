// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Guest test: the socket options of the comp ULP — exact lengths, bad
 * values, unknown options, other levels passed through to TCP, state read
 * back — and, with --unload, that the module cannot go away under a live
 * socket but can once the sockets are closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guest.h"

static void test_ulp_attach(void)
{
	struct tcp_comp_params p = guest_params(TCP_COMP_ALGO_ZSTD, 0, 0, 0, 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0), cli, srv;

	/* records need a peer: not on unconnected sockets */
	CHECK(fd >= 0, "socket: %m");
	CHECK_ERR(setsockopt(fd, SOL_TCP, TCP_ULP, "comp", 5), ENOTCONN);
	close(fd);

	/* without the ULP our level is unknown to TCP */
	guest_tcp_pair(AF_INET, &cli, &srv);
	CHECK_ERR(setsockopt(cli, SOL_TCP_COMP, TCP_COMP_TX, &p, sizeof(p)), ENOPROTOOPT);
	guest_ulp(cli);
	CHECK_ERR(setsockopt(cli, SOL_TCP, TCP_ULP, "comp", 5), EEXIST);
	close(cli);
	close(srv);
	printf("ok ULP attach rules\n");
}

static void test_set_errors(int fd, int dir)
{
	struct tcp_comp_params good = guest_params(TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_STREAM, -2, 4096,
						   TCP_COMP_F_CHECKSUM);
	struct tcp_comp_params p;
	char big[sizeof(p) + 1] = { 0 };

	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &good, sizeof(good) - 1), EINVAL);
	memcpy(big, &good, sizeof(good));
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, big, sizeof(big)), EINVAL);
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, NULL, sizeof(good)), EFAULT);

	p = good, p.version = 0;
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &p, sizeof(p)), EINVAL);
	p = good, p.version = TCP_COMP_VERSION_2 + 1;
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &p, sizeof(p)), EINVAL);
	/* a module loaded with max_format=1 refuses format 2, as one from
	 * before it did */
	if (guest_module_max_format() < TCP_COMP_VERSION_2) {
		p = good, p.version = TCP_COMP_VERSION_2;
		CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &p, sizeof(p)), EINVAL);
	}
	p = good, p.algo = __TCP_COMP_ALGO_MAX;
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &p, sizeof(p)), EINVAL);
	p = good, p.mode = __TCP_COMP_MODE_MAX;
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &p, sizeof(p)), EINVAL);
	p = good, p.flags = 1U << 5;
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &p, sizeof(p)), EINVAL);
	p = good, p.record_size = TCP_COMP_MAX_RECORD + 1;
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &p, sizeof(p)), EINVAL);
	p = good, p.level = 1;	/* LZ4HC levels are not offered */
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &p, sizeof(p)), EINVAL);
	p = good, p.algo = TCP_COMP_ALGO_ZSTD, p.level = 20;
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &p, sizeof(p)), EINVAL);
	p = good, p.algo = TCP_COMP_ALGO_NONE, p.level = 3;
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &p, sizeof(p)), EINVAL);

	guest_comp(fd, dir, &good);
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, dir, &good, sizeof(good)), EBUSY);
}

static void test_get(int fd)
{
	struct tcp_comp_params p, want = guest_params(TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_STREAM, -2,
						      4096, TCP_COMP_F_CHECKSUM);
	struct tcp_comp_stats st;
	char big[sizeof(p) + 8];
	socklen_t len;

	len = sizeof(big);
	CHECK(!getsockopt(fd, SOL_TCP_COMP, TCP_COMP_TX, big, &len), "get TX: %m");
	CHECK(len == sizeof(p) && !memcmp(big, &want, sizeof(want)), "TX read back, len %u", len);
	len = sizeof(p) - 1;
	CHECK_ERR(getsockopt(fd, SOL_TCP_COMP, TCP_COMP_TX, &p, &len), EINVAL);
	len = sizeof(p);
	CHECK_ERR(getsockopt(fd, SOL_TCP_COMP, TCP_COMP_TX, NULL, &len), EFAULT);
	len = sizeof(st);
	CHECK(!getsockopt(fd, SOL_TCP_COMP, TCP_COMP_STATS, &st, &len) && len == sizeof(st),
	      "stats: %m");
	CHECK(!st.tx_records && !st.rx_records && !st.rx_errors, "fresh stats not zero");
	len = sizeof(st) - 1;
	CHECK_ERR(getsockopt(fd, SOL_TCP_COMP, TCP_COMP_STATS, &st, &len), EINVAL);
	len = sizeof(int);
	CHECK_ERR(getsockopt(fd, SOL_TCP_COMP, 99, &st, &len), ENOPROTOOPT);
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, 99, &st, sizeof(int)), ENOPROTOOPT);
	CHECK_ERR(setsockopt(fd, SOL_TCP_COMP, TCP_COMP_STATS, &st, sizeof(st)), ENOPROTOOPT);
}

static void test_matrix(void)
{
	struct tcp_comp_params p;
	int cli, srv, one = 1, val;
	socklen_t len;
	char name[16] = "";

	guest_tcp_pair(AF_INET6, &cli, &srv);
	guest_ulp(cli);

	/* a direction not switched on reads back as version 0 */
	len = sizeof(p);
	CHECK(!getsockopt(cli, SOL_TCP_COMP, TCP_COMP_RX, &p, &len) && !p.version, "unset RX");
	test_set_errors(cli, TCP_COMP_TX);
	test_set_errors(cli, TCP_COMP_RX);
	test_get(cli);

	/* other levels still reach TCP, IP and the socket layer */
	CHECK(!setsockopt(cli, SOL_TCP, TCP_NODELAY, &one, sizeof(one)), "TCP_NODELAY: %m");
	len = sizeof(val);
	CHECK(!getsockopt(cli, SOL_TCP, TCP_NODELAY, &val, &len) && val, "TCP_NODELAY read back");
	len = sizeof(name);
	CHECK(!getsockopt(cli, SOL_TCP, TCP_ULP, name, &len) && !strcmp(name, "comp"), "TCP_ULP %s", name);
	CHECK(!setsockopt(cli, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), "SO_KEEPALIVE: %m");
	CHECK(!setsockopt(cli, SOL_IPV6, IPV6_TCLASS, &one, sizeof(one)), "IPV6_TCLASS: %m");
	CHECK_ERR(setsockopt(cli, SOL_TCP, 12345, &one, sizeof(one)), ENOPROTOOPT);
	close(cli);
	close(srv);
	printf("ok sockopt matrix\n");
}

static int delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK);
}

static int module_refs(const char *name)
{
	char path[128], buf[16] = "";
	int fd, n;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0, "%s: %m", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

static void test_unload(void)
{
	struct tcp_comp_params p = guest_params(TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM, 0, 0, 0);
	char buf[8];
	int cli, srv, i;

	guest_comp_pair(AF_INET, &p, &cli, &srv);
	guest_write_all(cli, "in flight", 9);
	CHECK(module_refs("tcp_comp") >= 2, "refcnt %d with two comp sockets", module_refs("tcp_comp"));
	/* O_NONBLOCK: refuse instead of waiting for the references to go */
	CHECK_ERR(delete_module("tcp_comp"), EWOULDBLOCK);
	CHECK(recv(srv, buf, sizeof(buf), 0) == 8, "data after refused unload");
	close(cli);
	close(srv);
	/* the module reference goes with the sockets, once TCP destroys them */
	for (i = 0; i < 100 && delete_module("tcp_comp"); i++)
		usleep(50000);
	CHECK(i < 100, "unload after close: %m");
	guest_tcp_pair(AF_INET, &cli, &srv);
	CHECK(setsockopt(cli, SOL_TCP, TCP_ULP, "comp", 5) == -1, "ULP still there after unload");
	close(cli);
	close(srv);
	printf("ok unload refused while sockets hold the module, done after close\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* parameters in the newest format the module takes */
	guest_format = guest_module_max_format();
	if (argc > 1 && !strcmp(argv[1], "--unload")) {
		test_unload();
		return 0;
	}
	CHECK(guest_format == TCP_COMP_VERSION_1 || guest_format == TCP_COMP_VERSION_2,
	      "max_format %d", guest_format);
	test_ulp_attach();
	test_matrix();
	printf("ok sockopt with max_format=%d\n", guest_format);
	return 0;
}
