// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Redis cache's XDP mode (lib/redis/xdp.h): loading bpf/redis/xdp.bpf.c
 * on the sockmap object's maps and attaching it to a device and a cgroup.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/if_link.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "traffic.h"
#include "redis/xdp.h"
#include "redis/xdp_conn.h"
#include "redis/xdp.skel.h"

/* below the traffic probe's filters, which only count */
#define RC_XDP_TC_PRIO 0xe1

struct rc_xdp {
	struct xdp_bpf *skel;
	struct bpf_link *sockops_link;
	struct ebpfaccel__tc_hooks tc;
	struct nl_sock *diag;	/* sock_diag, in the netns of the device */
	int ifindex;
	__u32 xdp_flags;
};

static int rc_xdp_reuse(struct xdp_bpf *skel, const struct rc_xdp_share *sh)
{
	const struct { struct bpf_map *ours, *theirs; } pairs[] = {
		{ skel->maps.rc_cache_small, sh->cache_small },
		{ skel->maps.rc_confirmed, sh->confirmed },
		{ skel->maps.rc_conns, sh->conns },
		{ skel->maps.rc_ports, sh->ports },
		{ skel->maps.rc_stats, sh->stats },
		{ skel->maps.rc_globals, sh->globals },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		int err = bpf_map__reuse_fd(pairs[i].ours, bpf_map__fd(pairs[i].theirs));

		if (err)
			return err;
	}
	return 0;
}

int rc_xdp__open(struct rc_xdp **out, const struct rc_xdp_share *sh)
{
	struct rc_xdp *x = calloc(1, sizeof(*x));
	int err;

	if (!x)
		return -ENOMEM;
	x->ifindex = -1;
	x->skel = xdp_bpf__open();
	if (!x->skel) {
		err = -errno;
		goto fail;
	}
	x->skel->rodata->xr_off_enabled = sh->off_enabled;
	x->skel->rodata->xr_off_tracking_ok = sh->off_tracking_ok;
	x->skel->rodata->xr_off_gen_all = sh->off_gen_all;
	x->skel->rodata->xr_off_track_backlog = sh->off_track_backlog;
	x->skel->rodata->xr_off_track_synced = sh->off_track_synced;
	x->skel->rodata->xr_off_track_keys = sh->off_track_keys;
	x->skel->rodata->xr_off_unseen = sh->off_unseen;
	x->skel->rodata->xr_off_unseen_ok = sh->off_unseen_ok;
	err = rc_xdp_reuse(x->skel, sh);
	if (!err)
		err = xdp_bpf__load(x->skel);
	if (err)
		goto fail;
	*out = x;
	return 0;
fail:
	pr_warn("redis_cache: loading the XDP programs: %s\n", strerror(-err));
	rc_xdp__destroy(x);
	return err;
}

/* Native mode where the driver has it; generic (slower, any device)
 * otherwise. */
static int rc_xdp_attach_dev(struct rc_xdp *x, int ifindex)
{
	int fd = bpf_program__fd(x->skel->progs.rc_xdp);
	int err;

	x->xdp_flags = XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_DRV_MODE;
	err = bpf_xdp_attach(ifindex, fd, x->xdp_flags, NULL);
	if (err) {
		pr_info("redis_cache: native XDP on ifindex %d: %s; using generic XDP\n",
			ifindex, strerror(-err));
		x->xdp_flags = XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_SKB_MODE;
		err = bpf_xdp_attach(ifindex, fd, x->xdp_flags, NULL);
	}
	if (err) {
		pr_warn("redis_cache: XDP on ifindex %d: %s\n", ifindex, strerror(-err));
		return err;
	}
	x->ifindex = ifindex;
	return 0;
}

/* The sockets to reset at destroy are in this netns: connect now. */
static int rc_xdp_open_diag(struct rc_xdp *x)
{
	int err;

	x->diag = nl_socket_alloc();
	if (!x->diag)
		return -ENOMEM;
	err = nl_connect(x->diag, NETLINK_SOCK_DIAG);
	if (err) {
		pr_warn("redis_cache: sock_diag netlink: %s\n", nl_geterror(err));
		nl_socket_free(x->diag);
		x->diag = NULL;
		return -EPROTONOSUPPORT;
	}
	return 0;
}

int rc_xdp__attach(struct rc_xdp *x, int cgroup_fd, int ifindex)
{
	const int fds[2] = { [EBPFACCEL_TRAFFIC_TX] = bpf_program__fd(x->skel->progs.rc_egress),
			     [EBPFACCEL_TRAFFIC_RX] = -1 };
	const char *const names[2] = { "rc_egress", NULL };
	int err;

	err = rc_xdp_open_diag(x);
	if (err)
		return err;
	/* the egress side first: no segment may leave untranslated once XDP
	 * answered on its connection */
	err = ebpfaccel__tc_hooks_attach(&x->tc, ifindex, RC_XDP_TC_PRIO, fds, names);
	if (err) {
		pr_warn("redis_cache: tc egress on ifindex %d: %s\n", ifindex, strerror(-err));
		return err;
	}
	err = rc_xdp_attach_dev(x, ifindex);
	if (!err) {
		x->sockops_link = bpf_program__attach_cgroup(x->skel->progs.rc_xsockops,
							     cgroup_fd);
		if (!x->sockops_link)
			err = -errno;
	}
	if (err) {
		if (x->ifindex > 0)
			bpf_xdp_detach(x->ifindex, x->xdp_flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
		x->ifindex = -1;
		ebpfaccel__tc_hooks_detach(&x->tc);
	}
	return err;
}

/* Aborts redis-server's socket of @f (SOCK_DESTROY): the kernel sends the
 * client an RST, which tc egress still translates. */
static int rc_xdp_abort(struct nl_sock *sk, const struct xr_flow *f)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = f->family == 4 ? AF_INET : AF_INET6,
		.sdiag_protocol = IPPROTO_TCP,
		.idiag_states = ~0u,
		.id = {
			.idiag_sport = f->srv_port,
			.idiag_dport = f->cli_port,
			.idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE },
		},
	};
	int err;

	memcpy(req.id.idiag_src, f->srv, sizeof(req.id.idiag_src));
	memcpy(req.id.idiag_dst, f->cli, sizeof(req.id.idiag_dst));
	err = nl_send_simple(sk, SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, &req, sizeof(req));
	if (err >= 0)
		err = nl_wait_for_ack(sk);
	/* gone meanwhile: closed by itself */
	if (err == -NLE_OBJ_NOTFOUND)
		return 0;
	if (err < 0) {
		pr_warn("redis_cache: resetting a connection XDP answered on: %s\n",
			nl_geterror(err));
		return -EIO;
	}
	return 1;
}

/* Whether the connection's numbers differ between client and server. */
static bool rc_xdp_shifted(const struct xr_conn *c)
{
	return c->in_delta || c->old_in_delta || c->out_delta || c->old_out_delta;
}

/* Aborts the connections of the table @fd that XDP answered on; how many. */
static int rc_xdp_reset_table(struct rc_xdp *x, int fd, struct xr_conn *c)
{
	struct xr_flow key, next;
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, c) || !rc_xdp_shifted(c))
			continue;
		if (rc_xdp_abort(x->diag, &key) > 0)
			n++;
	}
	return n;
}

int rc_xdp__reset_shifted(struct rc_xdp *x)
{
	struct xr_conn *c;
	int n;

	if (!x || !x->diag || x->ifindex <= 0)
		return 0;
	/* an answer that passed the enabled check before it was cleared is
	 * out of XDP long before this (programs run for microseconds) */
	nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* a connection lives in one of the two tables (xdp.bpf.c) */
	n = rc_xdp_reset_table(x, bpf_map__fd(x->skel->maps.xr_hot), c) +
	    rc_xdp_reset_table(x, bpf_map__fd(x->skel->maps.xr_conns), c);
	free(c);
	if (n)
		pr_info("redis_cache: reset %d connection(s) XDP had answered on\n", n);
	return n;
}

int rc_xdp__stats(const struct rc_xdp *x, __u64 *out)
{
	return ebpfaccel__sum_percpu(x->skel->maps.xr_stats, XR_STAT_MAX, (uint64_t *)out);
}

void rc_xdp__destroy(struct rc_xdp *x)
{
	if (!x)
		return;
	rc_xdp__reset_shifted(x);
	bpf_link__destroy(x->sockops_link);
	if (x->ifindex > 0)
		bpf_xdp_detach(x->ifindex, x->xdp_flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (x->tc.sk)
		ebpfaccel__tc_hooks_detach(&x->tc);
	xdp_bpf__destroy(x->skel);
	nl_socket_free(x->diag);
	free(x);
}
