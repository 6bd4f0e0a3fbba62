// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * In-kernel Redis GET cache on redis-server's sockets: loading and attaching.
 * The data path is bpf/redis/redis_cache.bpf.c, coherence lib/redis/coherence.c;
 * docs/redis-cache.md explains both.
 */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <net/if.h>
#include <pthread.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "ebpfaccel/redis_cache.h"
#include "redis/coherence.h"
#include "redis/commands.h"
#include "redis/guard.h"
#include "redis/listener.h"
#include "redis/object.h"
#include "redis/occupancy.h"
#include "redis/redis_cache.h"
#include "redis/redis_cache.skel.h"
#include "redis/seen.h"
#include "redis/xdp.h"
#include "redis/xdp_conn.h"

struct ebpfaccel_redis_cache {
	struct redis_cache_bpf *skel;
	struct bpf_link *sockops_link;
	int cgroup_fd;		/* swapped by rc_follow_listener(): under cgroup_lock */
	pthread_mutex_t cgroup_lock;
	struct rc_listener_memo listener;	/* under listener_lock */
	pthread_mutex_t listener_lock;
	bool own_cgroup_fd;
	bool attached;
	__u16 ports[RC_PORTS_MAX];
	size_t nr_ports;
	char host[64];
	char *user;
	char *password;
	bool track_all;
	bool track_auto;
	bool discovered;	/* the cgroup was found from the listener */
	struct rc_shared shared;
	struct rc_coherence *co;
	struct rc_guard guard;	/* stops the serving if this process dies */
	__u64 confirms;		/* of coherence engines stopped since open */
	__u64 reconnects;	/* likewise */
	int mode;		/* enum ebpfaccel_redis_cache_mode asked for */
	int ifindex;
	char ifname[IF_NAMESIZE];
	struct rc_xdp *xdp;	/* XDP mode's programs, NULL otherwise */
	bool xdp_attached;
};

/* The programs' counters up to readmits, then confirms (kept in user
 * space), then the counters appended later, then the XDP programs'. */
_Static_assert(offsetof(struct ebpfaccel_redis_cache_stats, confirms) ==
	       RC_STAT_READMITS * sizeof(__u64) &&
	       offsetof(struct ebpfaccel_redis_cache_stats, readmits) ==
	       (RC_STAT_READMITS + 1) * sizeof(__u64),
	       "counters added after confirms come after it (append-only ABI)");
_Static_assert(offsetof(struct ebpfaccel_redis_cache_stats, xdp_hits) ==
	       (RC_STAT_MAX + 1) * sizeof(__u64) &&
	       sizeof(struct ebpfaccel_redis_cache_stats) ==
	       (RC_STAT_MAX + 1 + XR_STAT_MAX) * sizeof(__u64), "XDP stats follow enum xr_stat");

/* The public struct's slot of BPF counter @i: `confirms` (kept in user
 * space) sits between the first counters and those appended later. */
static size_t stat_slot(__u32 i)
{
	return i < RC_STAT_READMITS ? i : i + 1;
}

/* ---------------------------------------------------------------- API */

static int rc_fill_tables(struct ebpfaccel_redis_cache *rc)
{
	__u8 one = 1;
	int err;

	err = rc_commands__fill(rc->skel->maps.rc_cmds);
	if (err)
		return err;
	for (size_t i = 0; i < rc->nr_ports; i++) {
		err = bpf_map__update_elem(rc->skel->maps.rc_ports, &rc->ports[i],
					   sizeof(__u16), &one, sizeof(one), BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

static int rc_check_opts(const struct ebpfaccel_redis_cache_opts *opts)
{
	const char *ifname = OPTS_GET(opts, ifname, NULL);
	size_t nr = OPTS_GET(opts, nr_ports, 0);

	if (!opts || !OPTS_VALID(opts, ebpfaccel_redis_cache_opts))
		return -EINVAL;
	if (!nr || nr > RC_PORTS_MAX || !OPTS_GET(opts, ports, NULL)) {
		pr_warn("redis_cache: 1 to %d ports are required\n", RC_PORTS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < nr; i++)
		if (!opts->ports[i])
			return -EINVAL;
	if (rc_object__check_opts("redis_cache", OPTS_GET(opts, cgroup_fd, 0),
				  OPTS_GET(opts, cgroup_path, NULL), "discover_cgroup",
				  OPTS_GET(opts, discover_cgroup, false),
				  OPTS_GET(opts, max_value_size, 0)))
		return -EINVAL;
	if (OPTS_GET(opts, pid, 0) < 0) {
		pr_warn("redis_cache: pid must be >= 0\n");
		return -EINVAL;
	}
	if ((unsigned int)OPTS_GET(opts, tracking, 0) > EBPFACCEL_REDIS_TRACK_BCAST) {
		pr_warn("redis_cache: tracking must be EBPFACCEL_REDIS_TRACK_DEFAULT, _KEYS, _AUTO or _BCAST\n");
		return -EINVAL;
	}
	if (OPTS_GET(opts, mode, 0) < EBPFACCEL_REDIS_CACHE_SOCKMAP ||
	    OPTS_GET(opts, mode, 0) > EBPFACCEL_REDIS_CACHE_AUTO) {
		pr_warn("redis_cache: unknown mode %d\n", OPTS_GET(opts, mode, 0));
		return -EINVAL;
	}
	if (OPTS_GET(opts, mode, 0) == EBPFACCEL_REDIS_CACHE_XDP &&
	    OPTS_GET(opts, ifindex, 0) <= 0 && !OPTS_GET(opts, ifname, NULL)) {
		pr_warn("redis_cache: XDP mode needs an interface (ifname or ifindex)\n");
		return -EINVAL;
	}
	if (ifname && strlen(ifname) >= IF_NAMESIZE) {
		pr_warn("redis_cache: interface name too long\n");
		return -EINVAL;
	}
	return 0;
}

static int rc_open_cgroup(struct ebpfaccel_redis_cache *rc,
			  const struct ebpfaccel_redis_cache_opts *opts)
{
	const char *path = OPTS_GET(opts, cgroup_path, NULL);
	char found[PATH_MAX];
	int err;

	if (!path && OPTS_GET(opts, cgroup_fd, 0) <= 0) {
		err = rc_listener_cgroup(rc->ports[0], OPTS_GET(opts, pid, 0), found,
					 sizeof(found));
		if (err)
			return err;
		pr_info("redis_cache: port %u's connections are in cgroup %s\n",
			rc->ports[0], found);
		path = found;
		rc->discovered = true;
	}
	err = rc_object__open_cgroup("redis_cache", OPTS_GET(opts, cgroup_fd, 0), path,
				     &rc->own_cgroup_fd);
	if (err < 0)
		return err;
	rc->cgroup_fd = err;
	return 0;
}

static int rc_copy_strings(struct ebpfaccel_redis_cache *rc,
			   const struct ebpfaccel_redis_cache_opts *opts)
{
	const char *host = OPTS_GET(opts, redis_host, NULL);
	const char *user = OPTS_GET(opts, redis_user, NULL);
	const char *pass = OPTS_GET(opts, redis_password, NULL);

	snprintf(rc->host, sizeof(rc->host), "%s", host ? host : "127.0.0.1");
	return rc_object__dup_credentials(&rc->user, &rc->password, user, pass);
}

/* The programs see the tracking connection's server side, so they apply
 * its pushes themselves, synchronously with Redis writing them. */
static void rc_share(struct ebpfaccel_redis_cache *rc)
{
	struct redis_cache_bpf *skel = rc->skel;

	rc->shared = (struct rc_shared){
		.cache_small = skel->maps.rc_cache_small,
		.cache_large = skel->maps.rc_cache_large,
		.confirmed = skel->maps.rc_confirmed,
		.fills = skel->maps.rc_fills,
		.gen_all = &skel->bss->rc_gen_all,
		.gen_bucket = skel->bss->rc_gen_bucket,
		.wpend = skel->bss->rc_wpend,
		.wpend_all = &skel->bss->rc_wpend_all,
		.occupied = skel->bss->rc_occupied,
		.tracking_ok = &skel->bss->rc_tracking_ok,
		.tracker_port = &skel->bss->rc_tracker_port,
		.tracker_seen = &skel->bss->rc_tracker_seen,
		.track_backlog = &skel->bss->rc_track_backlog,
		.track_synced = &skel->bss->rc_track_synced,
		.query_port = &skel->bss->rc_query_port,
		.max_value = &skel->data->rc_max_value,
		.track_keys = &skel->bss->rc_track_keys,
		.unseen = &skel->bss->rc_unseen,
		.unseen_ok = &skel->bss->rc_unseen_ok,
		.reconf_lost = &skel->bss->rc_reconf_lost,
		.reconf = skel->maps.rc_reconf,
		.conns = skel->maps.rc_conns,
	};
}

/* ---------------------------------------------------------------- XDP mode */

static bool rc_wants_xdp(const struct ebpfaccel_redis_cache *rc)
{
	return rc->mode == EBPFACCEL_REDIS_CACHE_XDP ||
	       (rc->mode == EBPFACCEL_REDIS_CACHE_AUTO && (rc->ifindex > 0 || rc->ifname[0]));
}

/* The XDP programs work on this object's maps and read its globals
 * (for an object that wants them). */
static int rc_xdp_load(struct ebpfaccel_redis_cache *rc)
{
	struct redis_cache_bpf *skel = rc->skel;
	const char *bss = (const char *)skel->bss;
	struct rc_xdp_share sh = {
		.cache_small = skel->maps.rc_cache_small,
		.confirmed = skel->maps.rc_confirmed,
		.conns = skel->maps.rc_conns,
		.ports = skel->maps.rc_ports,
		.stats = skel->maps.rc_stats,
		.globals = skel->maps.bss,
		.off_enabled = (const char *)&skel->bss->rc_enabled - bss,
		.off_tracking_ok = (const char *)&skel->bss->rc_tracking_ok - bss,
		.off_gen_all = (const char *)&skel->bss->rc_gen_all - bss,
		.off_track_backlog = (const char *)&skel->bss->rc_track_backlog - bss,
		.off_track_synced = (const char *)&skel->bss->rc_track_synced - bss,
		.off_track_keys = (const char *)&skel->bss->rc_track_keys - bss,
		.off_unseen = (const char *)&skel->bss->rc_unseen - bss,
		.off_unseen_ok = (const char *)&skel->bss->rc_unseen_ok - bss,
	};
	int err;

	err = rc_xdp__open(&rc->xdp, &sh);
	if (err && rc->mode == EBPFACCEL_REDIS_CACHE_AUTO) {
		pr_info("redis_cache: XDP unavailable (%s): sockmap mode\n", strerror(-err));
		return 0;
	}
	return err;
}

/* Once per object, like the sockmap programs: the XDP programs stay until
 * destroy, so connections they answered on keep being translated. */
static int rc_xdp_attach(struct ebpfaccel_redis_cache *rc)
{
	int ifindex = rc->ifindex, err;

	if (!rc->xdp || rc->xdp_attached)
		return 0;
	if (ifindex <= 0)
		ifindex = if_nametoindex(rc->ifname);
	if (ifindex <= 0) {
		err = -errno;
		pr_warn("redis_cache: interface %s: %s\n", rc->ifname, strerror(errno));
	} else {
		err = rc_xdp__attach(rc->xdp, rc->cgroup_fd, ifindex);
	}
	if (err && rc->mode == EBPFACCEL_REDIS_CACHE_AUTO) {
		pr_info("redis_cache: XDP unavailable (%s): sockmap mode\n", strerror(-err));
		rc_xdp__destroy(rc->xdp);
		rc->xdp = NULL;
		return 0;
	}
	rc->xdp_attached = !err;
	return err;
}

static struct bpf_object_skeleton *rc_open_skel(void *ctx)
{
	struct ebpfaccel_redis_cache *rc = ctx;

	rc->skel = redis_cache_bpf__open();
	return rc->skel ? rc->skel->skeleton : NULL;
}

static int rc_load(struct ebpfaccel_redis_cache *rc,
		   const struct ebpfaccel_redis_cache_opts *opts)
{
	struct ebpfaccel_load_error *why = OPTS_GET(opts, load_error, NULL);
	int err;

	err = rc_object__load("redis_cache", rc_open_skel, rc, OPTS_GET(opts, max_entries, 0),
			      OPTS_GET(opts, max_large_entries, 0), why);
	if (err)
		return err;
	rc->skel->data->rc_max_value = OPTS_GET(opts, max_value_size, 0) ?: RC_VAL_MAX;
	rc_share(rc);
	err = rc_fill_tables(rc);
	if (err) {
		ebpfaccel__load_error_clear(why, err);
		return err;
	}
	if (!rc_wants_xdp(rc))
		return 0;
	/* XDP mode's own object: a refusal is explained like the sockmap's */
	ebpfaccel__load_begin();
	return ebpfaccel__load_end(rc_xdp_load(rc), "redis_cache (XDP)", why);
}

EBPFACCEL_API struct ebpfaccel_redis_cache *
ebpfaccel_redis_cache__open(const struct ebpfaccel_redis_cache_opts *opts)
{
	struct ebpfaccel_redis_cache *rc;
	int err;

	err = rc_check_opts(opts);
	if (!err)
		err = ebpfaccel__need_caps("the Redis cache", CAPMASK(CAP_BPF) |
					   CAPMASK(CAP_NET_ADMIN) | CAPMASK(CAP_SYS_ADMIN));
	if (err) {
		ebpfaccel__load_error_clear(OPTS_GET(opts, load_error, NULL), err);
		return ebpfaccel__err_ptr(err);
	}
	rc = calloc(1, sizeof(*rc));
	if (!rc)
		return ebpfaccel__err_ptr(-ENOMEM);
	rc->cgroup_fd = -1;
	pthread_mutex_init(&rc->cgroup_lock, NULL);
	pthread_mutex_init(&rc->listener_lock, NULL);
	rc->nr_ports = opts->nr_ports;
	rc->track_all = OPTS_GET(opts, tracking, 0) == EBPFACCEL_REDIS_TRACK_BCAST;
	rc->track_auto = OPTS_GET(opts, tracking, 0) == EBPFACCEL_REDIS_TRACK_AUTO ||
			 OPTS_GET(opts, tracking, 0) == EBPFACCEL_REDIS_TRACK_DEFAULT;
	memcpy(rc->ports, opts->ports, rc->nr_ports * sizeof(__u16));
	rc->mode = OPTS_GET(opts, mode, 0);
	rc->ifindex = OPTS_GET(opts, ifindex, 0);
	if (OPTS_GET(opts, ifname, NULL))
		snprintf(rc->ifname, sizeof(rc->ifname), "%s", opts->ifname);
	ebpfaccel__bump_memlock();
	ebpfaccel__route_libbpf_print();
	err = rc_copy_strings(rc, opts);
	if (!err)
		err = rc_open_cgroup(rc, opts);
	if (err)
		ebpfaccel__load_error_clear(OPTS_GET(opts, load_error, NULL), err);
	else
		err = rc_load(rc, opts);
	if (err) {
		ebpfaccel_redis_cache__destroy(rc);
		return ebpfaccel__err_ptr(err);
	}
	return rc;
}

static struct rc_sock_progs rc_sock_progs(const struct ebpfaccel_redis_cache *rc)
{
	return (struct rc_sock_progs){
		.socks = rc->skel->maps.rc_socks, .verdict = rc->skel->progs.rc_request,
		.msg = rc->skel->progs.rc_reply, .sockops = rc->skel->progs.rc_sockops,
	};
}

/*
 * The engine's thread, reconnecting: its connections are not seen, so a
 * restarted server listens in another cgroup. With a cgroup found from the
 * listener, follow it: the sock_ops program moves to the new one (sockets
 * accepted in the old one keep their psock and close with the old server).
 */
static int rc_follow_listener(void *ctx)
{
	struct ebpfaccel_redis_cache *rc = ctx;
	struct bpf_link *link;
	char path[PATH_MAX];
	struct stat a, b;
	int fd, err;

	err = rc_listener_cgroup(rc->ports[0], 0, path, sizeof(path));
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!fstat(fd, &a) && !fstat(rc->cgroup_fd, &b) && a.st_ino == b.st_ino) {
		close(fd);
		return -ENOTCONN;	/* same cgroup: nothing to follow */
	}
	link = bpf_program__attach_cgroup(rc->skel->progs.rc_sockops, fd);
	if (!link) {
		err = -errno;
		close(fd);
		return err;
	}
	bpf_link__destroy(rc->sockops_link);
	rc->sockops_link = link;
	pthread_mutex_lock(&rc->cgroup_lock);
	if (rc->own_cgroup_fd)
		close(rc->cgroup_fd);
	rc->cgroup_fd = fd;
	rc->own_cgroup_fd = true;
	pthread_mutex_unlock(&rc->cgroup_lock);
	pr_info("redis_cache: port %u's listener is now in cgroup %s: followed\n",
		rc->ports[0], path);
	return 0;
}

/* The engine's thread, with automatic tracking: does every listener lead
 * to, and every client in @clients sit on, a connection the programs hold?
 * In XDP mode too: XDP answers under the same per-key gate, and every
 * other segment reaches the socket, where the sockmap programs see it. */
static int rc_seen_all(void *ctx, const char *clients, size_t len, char *why,
		       size_t why_sz)
{
	struct ebpfaccel_redis_cache *rc = ctx;
	struct rc_seen s = {
		.port = rc->ports[0], .cgroup_fd = rc->cgroup_fd,
		.conns_fd = bpf_map__fd(rc->skel->maps.rc_conns),
	};

	return rc_seen__check(&s, clients, len, why, why_sz);
}

EBPFACCEL_API int ebpfaccel_redis_cache__attach(struct ebpfaccel_redis_cache *rc)
{
	int err = 0;

	if (!rc)
		return -EINVAL;
	if (rc->attached)
		return -EALREADY;
	/* writes while detached were not seen */
	rc_shared__flush(&rc->shared);
	if (!rc->sockops_link)
		err = rc_object__attach_sockets(rc_sock_progs(rc), rc->cgroup_fd,
						&rc->sockops_link);
	if (!err)
		err = rc_xdp_attach(rc);
	if (!err) {
		rc->skel->bss->rc_accepting = 1;
		err = rc_coherence__start(&rc->co, &rc->shared, &(struct rc_server){
			.host = rc->host, .port = rc->ports[0],
			.user = rc->user, .password = rc->password,
			.track_all = rc->track_all, .track_auto = rc->track_auto,
			.seen = rc_seen_all,
			.unseen = rc->discovered ? rc_follow_listener : NULL, .ctx = rc });
	}
	/* serving is on from here (rc_coherence__start): guard it at once */
	if (!err)
		err = rc_guard__start(&rc->guard, &rc->shared);
	rc->attached = true;
	if (err) {
		pr_warn("redis_cache: attach: %s\n", strerror(-err));
		ebpfaccel_redis_cache__detach(rc);
		return err;
	}
	rc->skel->bss->rc_enabled = 1;
	return 0;
}

/*
 * Removing a socket from a sockmap frees whatever the kernel queued for the
 * application on it (measured: requests Redis had not read yet are lost).
 * So detach only stops answering and taking new connections: connections
 * already in keep flowing through the programs, which keep tracking them
 * (a later attach serves them again), until they close or the cache is
 * destroyed.
 */
EBPFACCEL_API int ebpfaccel_redis_cache__detach(struct ebpfaccel_redis_cache *rc)
{
	if (!rc)
		return -EINVAL;
	if (!rc->attached)
		return -ENOTCONN;
	rc->skel->bss->rc_enabled = 0;
	rc->skel->bss->rc_accepting = 0;
	rc->confirms += rc_coherence__confirms(rc->co);
	rc->reconnects += rc_coherence__reconnects(rc->co);
	rc_coherence__stop(rc->co);
	rc->co = NULL;
	rc_guard__stop(&rc->guard);
	rc->attached = false;
	return 0;
}

EBPFACCEL_API int ebpfaccel_redis_cache__flush(struct ebpfaccel_redis_cache *rc)
{
	if (!rc)
		return -EINVAL;
	rc_shared__flush(&rc->shared);
	return 0;
}

EBPFACCEL_API int ebpfaccel_redis_cache__serving(const struct ebpfaccel_redis_cache *rc)
{
	if (!rc)
		return -EINVAL;
	return rc->attached && rc->skel->bss->rc_enabled &&
	       rc->skel->bss->rc_tracking_ok;
}

EBPFACCEL_API int ebpfaccel_redis_cache__tracking(const struct ebpfaccel_redis_cache *rc,
						  char *why, size_t why_sz)
{
	if (!rc || (why_sz && !why))
		return -EINVAL;
	if (!rc->co)
		return -ENOTCONN;
	return rc_coherence__tracking(rc->co, why, why_sz) ? EBPFACCEL_REDIS_TRACK_KEYS
							   : EBPFACCEL_REDIS_TRACK_ALL;
}

EBPFACCEL_API int ebpfaccel_redis_cache__stats(const struct ebpfaccel_redis_cache *rc,
					       struct ebpfaccel_redis_cache_stats *stats,
					       size_t sz)
{
	struct ebpfaccel_redis_cache_stats all = { 0 };
	__u64 *slots = (__u64 *)&all, prog[RC_STAT_MAX], xr[XR_STAT_MAX];
	int err;

	if (!rc || !stats)
		return -EINVAL;
	err = ebpfaccel__sum_percpu(rc->skel->maps.rc_stats, RC_STAT_MAX, (uint64_t *)prog);
	if (err)
		return err;
	for (__u32 i = 0; i < RC_STAT_MAX; i++)
		slots[stat_slot(i)] = prog[i];
	if (rc->xdp) {
		err = rc_xdp__stats(rc->xdp, xr);
		if (err)
			return err;
		all.xdp_hits = xr[XR_STAT_HITS];
		all.xdp_retransmits = xr[XR_STAT_RETRANS];
		all.xdp_ack_passes = xr[XR_STAT_OWED_PASS];
		all.xdp_drops = xr[XR_STAT_DROPS];
		all.xdp_conns = xr[XR_STAT_CONNS];
	}
	all.confirms = rc->confirms + rc_coherence__confirms(rc->co);
	memcpy(stats, &all, sz < sizeof(all) ? sz : sizeof(all));
	return 0;
}

/* The lock guards the fd, not the object's value: taken by const readers. */
static pthread_mutex_t *rc_cgroup_lock(const struct ebpfaccel_redis_cache *rc)
{
	return (pthread_mutex_t *)&rc->cgroup_lock;
}

EBPFACCEL_API int ebpfaccel_redis_cache__server_pid(const struct ebpfaccel_redis_cache *rc)
{
	/* the memo is a cache of the lookup, not the object's value */
	struct ebpfaccel_redis_cache *m = (struct ebpfaccel_redis_cache *)rc;
	int pid;

	if (!rc)
		return -EINVAL;
	pthread_mutex_lock(&m->listener_lock);
	pid = rc_listener_pid(rc->ports[0], &m->listener);
	pthread_mutex_unlock(&m->listener_lock);
	return pid == -ENOENT ? 0 : pid;
}

EBPFACCEL_API int ebpfaccel_redis_cache__info(const struct ebpfaccel_redis_cache *rc,
					      struct ebpfaccel_redis_cache_info *out, size_t sz)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_info_opts, opts, .entries = true);

	return ebpfaccel_redis_cache__info_opts(rc, out, sz, &opts);
}

EBPFACCEL_API int
ebpfaccel_redis_cache__info_opts(const struct ebpfaccel_redis_cache *rc,
				 struct ebpfaccel_redis_cache_info *out, size_t sz,
				 const struct ebpfaccel_redis_cache_info_opts *opts)
{
	struct ebpfaccel_redis_cache_info info = { 0 };
	struct rc_occupancy occ = { 0 };
	struct stat st;
	int err, pid;

	if (!rc || !out || !OPTS_VALID(opts, ebpfaccel_redis_cache_info_opts))
		return -EINVAL;
	if (OPTS_GET(opts, entries, false)) {
		err = rc_occupancy__read(&rc->shared, &occ);
		if (err)
			return err;
	} else {
		occ.memory = rc_occupancy__memory(&rc->shared);
	}
	info.entries_small = occ.small;
	info.entries_large = occ.large;
	info.entries_stale = occ.stale;
	info.capacity_small = bpf_map__max_entries(rc->skel->maps.rc_cache_small);
	info.capacity_large = bpf_map__max_entries(rc->skel->maps.rc_cache_large);
	info.memory_bytes = occ.memory;
	info.reconnects = rc->reconnects + rc_coherence__reconnects(rc->co);
	pthread_mutex_lock(rc_cgroup_lock(rc));
	info.cgroup_id = fstat(rc->cgroup_fd, &st) ? 0 : st.st_ino;
	pthread_mutex_unlock(rc_cgroup_lock(rc));
	/* in effect now: automatic tracking moves between the two */
	pid = ebpfaccel_redis_cache__tracking(rc, NULL, 0);
	info.tracking = pid >= 0 ? pid : rc->track_all || rc->track_auto ? EBPFACCEL_REDIS_TRACK_ALL
									 : EBPFACCEL_REDIS_TRACK_KEYS;
	info.tracking_ok = __atomic_load_n(&rc->skel->bss->rc_tracking_ok, __ATOMIC_RELAXED);
	pid = ebpfaccel_redis_cache__server_pid(rc);
	info.server_pid = pid > 0 ? pid : 0;
	memcpy(out, &info, sz < sizeof(info) ? sz : sizeof(info));
	return 0;
}

/* The path of the directory the cgroup fd was opened on, whichever way the
 * caller gave it: the kernel keeps it (and renames follow). */
EBPFACCEL_API int ebpfaccel_redis_cache__cgroup(const struct ebpfaccel_redis_cache *rc,
						char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	if (!rc || !buf || !size)
		return -EINVAL;
	pthread_mutex_lock(rc_cgroup_lock(rc));
	snprintf(link, sizeof(link), "/proc/self/fd/%d", rc->cgroup_fd);
	n = readlink(link, buf, size);
	pthread_mutex_unlock(rc_cgroup_lock(rc));
	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	buf[n] = 0;
	return 0;
}

EBPFACCEL_API void ebpfaccel_redis_cache__destroy(struct ebpfaccel_redis_cache *rc)
{
	if (!rc)
		return;
	if (rc->attached)
		ebpfaccel_redis_cache__detach(rc);
	rc_xdp__destroy(rc->xdp);
	if (rc->skel)
		rc_object__release_sockets(rc_sock_progs(rc), &rc->sockops_link);
	redis_cache_bpf__destroy(rc->skel);
	if (rc->own_cgroup_fd)
		close(rc->cgroup_fd);
	pthread_mutex_destroy(&rc->cgroup_lock);
	pthread_mutex_destroy(&rc->listener_lock);
	free(rc->user);
	free(rc->password);
	free(rc);
}
