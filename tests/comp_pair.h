/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The compression tests' two-host fixture: a client and a server network
 * namespace joined by a veth, and the cgroups their sockets are made in. */
#ifndef EBPFACCEL_TESTS_COMP_PAIR_H
#define EBPFACCEL_TESTS_COMP_PAIR_H

#include "fixtures.h"

struct comp_pair {
	struct fx_netns *ns_c, *ns_s;
	struct fx_veth veth;		/* a = client side, b = server side */
	/* cg_c and cg_s get the policies; cg_n has no program: sockets made
	 * there are like a host without the library, and the test process
	 * waits there between socket creations */
	struct fx_cgroup *cg_c, *cg_s, *cg_n;
};

struct comp_fds {
	int cfd, sfd;
};

/* Creates everything and moves the calling process into cg_n (asserts). */
void comp_pair_setup(struct comp_pair *p);
void comp_pair_teardown(struct comp_pair *p);

/* A TCP socket of @family made in @ns from cgroup @cg (NULL: cg_n). */
int comp_pair_socket(struct comp_pair *p, struct fx_netns *ns,
		     struct fx_cgroup *cg, int family);

/* A connection from the client namespace to @port on the server's veth
 * address; the sockets are made from @client_cg and @server_cg (NULL: no
 * policy). */
struct comp_fds comp_pair_connect(struct comp_pair *p, int family, int port,
				  struct fx_cgroup *client_cg,
				  struct fx_cgroup *server_cg);

#endif
