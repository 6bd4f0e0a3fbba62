// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cls_bpf filters on clsact hooks through libnl-route.  libnl knows neither
 * the clsact qdisc nor the bpf classifier, so both are sent as generic
 * objects of that kind, and the filter's TCA_OPTIONS (program fd, name,
 * direct-action flag) are appended to the request libnl builds.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <linux/if_arp.h>
#include <netlink/route/classifier.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>

#include "internal.h"
#include "traffic.h"

#define FILTER_HANDLE 1

static const uint32_t hook_parent[2] = {
	[EBPFACCEL_TRAFFIC_TX] = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS),
	[EBPFACCEL_TRAFFIC_RX] = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
};

static int nl_to_errno(int nlerr)
{
	static const int map[] = {
		[NLE_NOMEM] = ENOMEM, [NLE_EXIST] = EEXIST, [NLE_INVAL] = EINVAL,
		[NLE_RANGE] = ERANGE, [NLE_OPNOTSUPP] = EOPNOTSUPP,
		[NLE_OBJ_NOTFOUND] = ENOENT, [NLE_BUSY] = EBUSY,
		[NLE_NOACCESS] = EACCES, [NLE_PERM] = EPERM, [NLE_NODEV] = ENODEV,
		[NLE_AGAIN] = EAGAIN, [NLE_INTR] = EINTR,
	};
	unsigned int e = nlerr < 0 ? -nlerr : nlerr;

	if (e && (e >= ARRAY_SIZE(map) || !map[e]))
		pr_debug("netlink: %s\n", nl_geterror(nlerr));
	return e ? -(e < ARRAY_SIZE(map) && map[e] ? map[e] : EIO) : 0;
}

static struct rtnl_qdisc *clsact_qdisc(int ifindex)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	if (!q)
		return NULL;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_CLSACT);
	rtnl_tc_set_handle(TC_CAST(q), TC_H_MAKE(TC_H_CLSACT, 0));
	rtnl_tc_set_kind(TC_CAST(q), "clsact");
	return q;
}

/* 0 if created, 1 if the interface already had one, -errno. */
static int add_clsact(struct nl_sock *sk, int ifindex)
{
	struct rtnl_qdisc *q = clsact_qdisc(ifindex);
	int err;

	if (!q)
		return -ENOMEM;
	err = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_qdisc_put(q);
	if (err == -NLE_EXIST)
		return 1;
	return err ? nl_to_errno(err) : 0;
}

static int del_clsact(struct nl_sock *sk, int ifindex)
{
	struct rtnl_qdisc *q = clsact_qdisc(ifindex);
	int err;

	if (!q)
		return -ENOMEM;
	err = rtnl_qdisc_delete(sk, q);
	rtnl_qdisc_put(q);
	return err ? nl_to_errno(err) : 0;
}

static struct rtnl_cls *bpf_filter(int ifindex, uint32_t parent, uint16_t prio)
{
	struct rtnl_cls *cls = rtnl_cls_alloc();

	if (!cls)
		return NULL;
	rtnl_tc_set_ifindex(TC_CAST(cls), ifindex);
	rtnl_tc_set_parent(TC_CAST(cls), parent);
	rtnl_tc_set_handle(TC_CAST(cls), FILTER_HANDLE);
	rtnl_tc_set_kind(TC_CAST(cls), "bpf");
	rtnl_cls_set_prio(cls, prio);
	rtnl_cls_set_protocol(cls, ETH_P_ALL);
	return cls;
}

static int put_bpf_options(struct nl_msg *msg, int prog_fd, const char *name)
{
	struct nlattr *opts = nla_nest_start(msg, TCA_OPTIONS);

	if (!opts ||
	    nla_put_u32(msg, TCA_BPF_FD, prog_fd) ||
	    nla_put_string(msg, TCA_BPF_NAME, name) ||
	    nla_put_u32(msg, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT))
		return -EMSGSIZE;
	return nla_nest_end(msg, opts) ? -EMSGSIZE : 0;
}

static int add_filter(struct ebpfaccel__tc_hooks *h, int dir, int prog_fd, const char *name)
{
	struct rtnl_cls *cls = bpf_filter(h->ifindex, hook_parent[dir], h->prio);
	struct nl_msg *msg = NULL;
	int err;

	if (!cls)
		return -ENOMEM;
	err = rtnl_cls_build_add_request(cls, NLM_F_CREATE | NLM_F_EXCL, &msg);
	rtnl_cls_put(cls);
	if (err)
		return nl_to_errno(err);
	err = put_bpf_options(msg, prog_fd, name);
	if (!err) {
		err = nl_send_auto_complete(h->sk, msg);
		err = err < 0 ? nl_to_errno(err) : nl_to_errno(nl_wait_for_ack(h->sk));
	}
	nlmsg_free(msg);
	return err;
}

static int del_filter(struct ebpfaccel__tc_hooks *h, int dir)
{
	struct rtnl_cls *cls = bpf_filter(h->ifindex, hook_parent[dir], h->prio);
	int err;

	if (!cls)
		return -ENOMEM;
	err = rtnl_cls_delete(h->sk, cls, 0);
	rtnl_cls_put(cls);
	return err ? nl_to_errno(err) : 0;
}

/* Filters other programs or people put on the clsact hooks, or -errno. */
static int other_filters(struct ebpfaccel__tc_hooks *h)
{
	struct nl_cache *cache;
	int n = 0, err;

	for (int dir = 0; dir < 2; dir++) {
		err = rtnl_cls_alloc_cache(h->sk, h->ifindex, hook_parent[dir], &cache);
		if (err)
			return nl_to_errno(err);
		n += nl_cache_nitems(cache);
		nl_cache_free(cache);
	}
	return n;
}

/* The programs parse from an Ethernet header: refuse devices whose skbs
 * start elsewhere (tun, WireGuard, ...), where they would count garbage. */
static int check_link(struct nl_sock *sk, int ifindex)
{
	struct rtnl_link *link;
	unsigned int type;
	int err;

	err = rtnl_link_get_kernel(sk, ifindex, NULL, &link);
	if (err)
		return err == -NLE_OBJ_NOTFOUND ? -ENODEV : nl_to_errno(err);
	type = rtnl_link_get_arptype(link);
	rtnl_link_put(link);
	if (type == ARPHRD_ETHER || type == ARPHRD_LOOPBACK)
		return 0;
	pr_warn("ifindex %d has link type %u, not Ethernet: the probe cannot parse its packets\n",
		ifindex, type);
	return -EOPNOTSUPP;
}

static void release(struct ebpfaccel__tc_hooks *h)
{
	nl_socket_free(h->sk);
	h->sk = NULL;
	h->hooked[0] = h->hooked[1] = false;
	h->qdisc_created = false;
}

int ebpfaccel__tc_hooks_attach(struct ebpfaccel__tc_hooks *h, int ifindex, uint16_t prio,
			       const int prog_fd[2], const char *const prog_name[2])
{
	int err;

	h->sk = nl_socket_alloc();
	if (!h->sk)
		return -ENOMEM;
	err = nl_connect(h->sk, NETLINK_ROUTE);
	if (err) {
		release(h);
		return nl_to_errno(err);
	}
	h->ifindex = ifindex;
	h->prio = prio;
	err = check_link(h->sk, ifindex);
	if (!err)
		err = add_clsact(h->sk, ifindex);
	if (err < 0) {
		release(h);
		return err;
	}
	h->qdisc_created = err == 0;
	for (int dir = 0; dir < 2; dir++) {
		if (prog_fd[dir] < 0)
			continue;
		err = add_filter(h, dir, prog_fd[dir], prog_name[dir]);
		if (err) {
			ebpfaccel__tc_hooks_detach(h);
			return err;
		}
		h->hooked[dir] = true;
	}
	return 0;
}

int ebpfaccel__tc_hooks_detach(struct ebpfaccel__tc_hooks *h)
{
	int err = 0, e;

	for (int dir = 0; dir < 2; dir++) {
		if (!h->hooked[dir])
			continue;
		e = del_filter(h, dir);
		if (e)
			pr_warn("removing the cls_bpf filter (ifindex %d, prio %u): %d\n",
				h->ifindex, h->prio, e);
		err = err ?: e;
	}
	if (h->qdisc_created) {
		e = other_filters(h);
		if (e > 0)
			pr_info("leaving the clsact qdisc on ifindex %d: %d other filters use it\n",
				h->ifindex, e);
		else
			e = e ?: del_clsact(h->sk, h->ifindex);
		err = err ?: (e < 0 ? e : 0);
	}
	release(h);
	return err;
}
