// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <check.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "comp_pair.h"
#include "comp_testlib.h"

void comp_pair_setup(struct comp_pair *p)
{
	fx_require_root();
	memset(p, 0, sizeof(*p));
	p->ns_c = FIXTURE_NEW(fx_netns_new);
	p->ns_s = FIXTURE_NEW(fx_netns_new);
	ck_assert(p->ns_c && p->ns_s);
	ck_assert_int_eq(fx_veth_new(p->ns_c, p->ns_s, &p->veth), 0);
	p->cg_c = FIXTURE_NEW(fx_cgroup_new);
	p->cg_s = FIXTURE_NEW(fx_cgroup_new);
	p->cg_n = FIXTURE_NEW(fx_cgroup_new);
	ck_assert(p->cg_c && p->cg_s && p->cg_n);
	ck_assert_int_eq(fx_cgroup_add_pid(p->cg_n, getpid()), 0);
}

void comp_pair_teardown(struct comp_pair *p)
{
	fx_cgroup_free(p->cg_c);
	fx_cgroup_free(p->cg_s);
	fx_cgroup_free(p->cg_n);
	fx_netns_free(p->ns_c);
	fx_netns_free(p->ns_s);
}

int comp_pair_socket(struct comp_pair *p, struct fx_netns *ns,
		     struct fx_cgroup *cg, int family)
{
	int fd;

	/* the sock_ops program runs in the cgroup that creates the socket */
	if (cg)
		ck_assert_int_eq(fx_cgroup_add_pid(cg, getpid()), 0);
	fd = fx_socket_in(ns, family, SOCK_STREAM);
	if (cg)
		ck_assert_int_eq(fx_cgroup_add_pid(p->cg_n, getpid()), 0);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static socklen_t server_addr(const struct comp_pair *p, int family, int port,
			     struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, p->veth.ip4_b, &s4->sin_addr);
		return sizeof(*s4);
	}
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	inet_pton(AF_INET6, p->veth.ip6_b, &s6->sin6_addr);
	return sizeof(*s6);
}

struct comp_fds comp_pair_connect(struct comp_pair *p, int family, int port,
				  struct fx_cgroup *client_cg,
				  struct fx_cgroup *server_cg)
{
	struct sockaddr_storage ss;
	socklen_t len = server_addr(p, family, port, &ss);
	int lfd = comp_pair_socket(p, p->ns_s, server_cg, family), one = 1;
	struct comp_fds fds;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* IPv6 DAD would delay the address: bind may need a moment */
	for (int i = 0; i < 100 && bind(lfd, (struct sockaddr *)&ss, len); i++)
		usleep(50000);
	ck_assert_int_eq(listen(lfd, 8), 0);
	fds.cfd = comp_pair_socket(p, p->ns_c, client_cg, family);
	ck_assert_int_eq(connect(fds.cfd, (struct sockaddr *)&ss, len), 0);
	fds.sfd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fds.sfd, 0);
	close(lfd);
	return fds;
}
