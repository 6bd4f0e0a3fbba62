// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Near cache on the client's host: loading and attaching. The data path is
 * bpf/redis/near.bpf.c, coherence lib/redis/coherence.c (the programs do
 * not see the tracking connection's server side: the engine applies
 * Redis' invalidations from user space); docs/redis-near-cache.md.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "ebpfaccel/near_cache.h"
#include "redis/coherence.h"
#include "redis/commands.h"
#include "redis/near.h"
#include "redis/near.skel.h"
#include "redis/object.h"

#define NC_STALE_DEFAULT_MS	1000
#define NC_STALE_MAX_MS		3600000

struct ebpfaccel_near_cache {
	struct near_bpf *skel;
	struct bpf_link *sockops_link;
	int cgroup_fd;
	bool own_cgroup_fd;
	bool attached;
	struct nc_addr servers[NC_SERVERS_MAX];
	size_t nr_servers;
	char host[INET6_ADDRSTRLEN];	/* the first server, for the engine */
	char *user;
	char *password;
	struct rc_shared shared;
	struct rc_coherence *co;
	__u64 confirms;		/* of coherence engines stopped since open */
};

_Static_assert(sizeof(struct ebpfaccel_near_cache_stats) ==
	       (NC_STAT_MAX + 1) * sizeof(__u64), "stats follow enum nc_stat");

/* "a.b.c.d:port" or "[v6]:port" into @a (IPv4 as ::ffff:a.b.c.d) and the
 * bare address text into @host. */
static int nc_parse_server(const char *s, struct nc_addr *a, char *host,
			   size_t host_len)
{
	const char *colon = strrchr(s, ':'), *start = s, *stop = colon;
	char text[INET6_ADDRSTRLEN], *end;
	long port;

	if (!colon)
		return -EINVAL;
	if (*s == '[') {
		start = s + 1;
		if (colon == s || colon[-1] != ']')
			return -EINVAL;
		stop = colon - 1;
	}
	if (stop <= start || (size_t)(stop - start) >= sizeof(text))
		return -EINVAL;
	memcpy(text, start, stop - start);
	text[stop - start] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->port = port;
	if (inet_pton(AF_INET, text, &a->ip6[3]) == 1 && *s != '[')
		a->ip6[2] = htonl(0xffff);
	else if (*s != '[' || inet_pton(AF_INET6, text, a->ip6) != 1)
		return -EINVAL;
	snprintf(host, host_len, "%s", text);
	return 0;
}

static int nc_check_opts(const struct ebpfaccel_near_cache_opts *opts)
{
	size_t nr = OPTS_GET(opts, nr_servers, 0);
	size_t np = OPTS_GET(opts, nr_prefixes, 0);

	if (!opts || !OPTS_VALID(opts, ebpfaccel_near_cache_opts))
		return -EINVAL;
	if (!nr || nr > NC_SERVERS_MAX || !OPTS_GET(opts, servers, NULL)) {
		pr_warn("near_cache: 1 to %d addresses of the server are required\n",
			NC_SERVERS_MAX);
		return -EINVAL;
	}
	if (rc_object__check_opts("near_cache", OPTS_GET(opts, cgroup_fd, 0),
				  OPTS_GET(opts, cgroup_path, NULL), NULL, false,
				  OPTS_GET(opts, max_value_size, 0)))
		return -EINVAL;
	if (OPTS_GET(opts, max_staleness_ms, 0) > NC_STALE_MAX_MS) {
		pr_warn("near_cache: max_staleness_ms is at most %d\n", NC_STALE_MAX_MS);
		return -EINVAL;
	}
	if (np > NC_PREFIXES_MAX || (np && !OPTS_GET(opts, prefixes, NULL))) {
		pr_warn("near_cache: at most %d prefixes\n", NC_PREFIXES_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < np; i++) {
		size_t len = opts->prefixes[i] ? strlen(opts->prefixes[i]) : 0;

		if (!len || len > RESP_KEY_MAX) {
			pr_warn("near_cache: a prefix is 1 to %d bytes\n", RESP_KEY_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

static int nc_copy_opts(struct ebpfaccel_near_cache *nc,
			const struct ebpfaccel_near_cache_opts *opts)
{
	const char *user = OPTS_GET(opts, redis_user, NULL);
	const char *pass = OPTS_GET(opts, redis_password, NULL);
	char host[INET6_ADDRSTRLEN];

	nc->nr_servers = opts->nr_servers;
	for (size_t i = 0; i < nc->nr_servers; i++) {
		const char *s = opts->servers[i];

		if (!s || nc_parse_server(s, &nc->servers[i], host, sizeof(host))) {
			pr_warn("near_cache: bad server address '%s': want "
				"IPV4:PORT or [IPV6]:PORT\n", s ? s : "(null)");
			return -EINVAL;
		}
		if (!i)
			memcpy(nc->host, host, sizeof(nc->host));
	}
	return rc_object__dup_credentials(&nc->user, &nc->password, user, pass);
}

static int nc_open_cgroup(struct ebpfaccel_near_cache *nc,
			  const struct ebpfaccel_near_cache_opts *opts)
{
	int fd = rc_object__open_cgroup("near_cache", OPTS_GET(opts, cgroup_fd, 0),
					OPTS_GET(opts, cgroup_path, NULL), &nc->own_cgroup_fd);

	if (fd < 0)
		return fd;
	nc->cgroup_fd = fd;
	return 0;
}

/* A prefix as the words and masks the programs compare keys with. */
static void nc_prefix_words(const char *s, struct nc_prefix *p)
{
	unsigned char w[RESP_KEY_MAX] = { 0 }, m[RESP_KEY_MAX] = { 0 };
	size_t len = strlen(s);

	memcpy(w, s, len);
	memset(m, 0xff, len);
	memcpy(p->w, w, sizeof(w));
	memcpy(p->mask, m, sizeof(m));
}

static int nc_fill_tables(struct ebpfaccel_near_cache *nc,
			  const struct ebpfaccel_near_cache_opts *opts)
{
	size_t np = OPTS_GET(opts, nr_prefixes, 0);
	__u8 one = 1;
	int err;

	err = rc_commands__fill(nc->skel->maps.rc_cmds);
	for (size_t i = 0; !err && i < nc->nr_servers; i++)
		err = bpf_map__update_elem(nc->skel->maps.nc_servers, &nc->servers[i],
					   sizeof(struct nc_addr), &one, sizeof(one),
					   BPF_ANY);
	for (__u32 i = 0; !err && i < np; i++) {
		struct nc_prefix p;

		nc_prefix_words(opts->prefixes[i], &p);
		err = bpf_map__update_elem(nc->skel->maps.nc_prefixes, &i, sizeof(i),
					   &p, sizeof(p), BPF_ANY);
	}
	if (!err)
		nc->skel->bss->nc_nr_prefixes = np;
	return err;
}

static void nc_share(struct ebpfaccel_near_cache *nc)
{
	struct near_bpf *skel = nc->skel;

	/* no tracker_port: the programs never see the tracking connection's
	 * server side, the engine applies the pushes itself */
	nc->shared = (struct rc_shared){
		.cache_small = skel->maps.rc_cache_small,
		.cache_large = skel->maps.rc_cache_large,
		.confirmed = skel->maps.rc_confirmed,
		.fills = skel->maps.rc_fills,
		.gen_all = &skel->bss->rc_gen_all,
		.gen_bucket = skel->bss->rc_gen_bucket,
		.tracking_ok = &skel->bss->rc_tracking_ok,
	};
}

static struct bpf_object_skeleton *nc_open_skel(void *ctx)
{
	struct ebpfaccel_near_cache *nc = ctx;

	nc->skel = near_bpf__open();
	return nc->skel ? nc->skel->skeleton : NULL;
}

static int nc_load(struct ebpfaccel_near_cache *nc,
		   const struct ebpfaccel_near_cache_opts *opts)
{
	__u32 stale = OPTS_GET(opts, max_staleness_ms, 0) ?: NC_STALE_DEFAULT_MS;
	struct ebpfaccel_load_error *why = OPTS_GET(opts, load_error, NULL);
	int err;

	err = rc_object__load("near_cache", nc_open_skel, nc, OPTS_GET(opts, max_entries, 0),
			      OPTS_GET(opts, max_large_entries, 0), why);
	if (err)
		return err;
	nc->skel->data->rc_max_value = OPTS_GET(opts, max_value_size, 0) ?: RC_VAL_MAX;
	nc->skel->data->nc_max_stale_ns = (__u64)stale * 1000000;
	nc_share(nc);
	err = nc_fill_tables(nc, opts);
	if (err)
		ebpfaccel__load_error_clear(why, err);
	return err;
}

EBPFACCEL_API struct ebpfaccel_near_cache *
ebpfaccel_near_cache__open(const struct ebpfaccel_near_cache_opts *opts)
{
	struct ebpfaccel_near_cache *nc;
	int err;

	err = nc_check_opts(opts);
	if (!err)
		err = ebpfaccel__need_caps("the Redis near cache", CAPMASK(CAP_BPF) |
					   CAPMASK(CAP_NET_ADMIN) | CAPMASK(CAP_SYS_ADMIN));
	if (err) {
		ebpfaccel__load_error_clear(OPTS_GET(opts, load_error, NULL), err);
		return ebpfaccel__err_ptr(err);
	}
	nc = calloc(1, sizeof(*nc));
	if (!nc)
		return ebpfaccel__err_ptr(-ENOMEM);
	nc->cgroup_fd = -1;
	ebpfaccel__bump_memlock();
	ebpfaccel__route_libbpf_print();
	err = nc_copy_opts(nc, opts);
	if (!err)
		err = nc_open_cgroup(nc, opts);
	if (err)
		ebpfaccel__load_error_clear(OPTS_GET(opts, load_error, NULL), err);
	else
		err = nc_load(nc, opts);
	if (err) {
		ebpfaccel_near_cache__destroy(nc);
		return ebpfaccel__err_ptr(err);
	}
	return nc;
}

static struct rc_sock_progs nc_sock_progs(const struct ebpfaccel_near_cache *nc)
{
	return (struct rc_sock_progs){
		.socks = nc->skel->maps.nc_socks, .verdict = nc->skel->progs.nc_reply,
		.msg = nc->skel->progs.nc_request, .sockops = nc->skel->progs.nc_sockops,
	};
}

EBPFACCEL_API int ebpfaccel_near_cache__attach(struct ebpfaccel_near_cache *nc)
{
	int err = 0;

	if (!nc)
		return -EINVAL;
	if (nc->attached)
		return -EALREADY;
	/* writes while detached were not seen */
	rc_shared__flush(&nc->shared);
	if (!nc->sockops_link)
		err = rc_object__attach_sockets(nc_sock_progs(nc), nc->cgroup_fd,
						&nc->sockops_link);
	if (!err) {
		nc->skel->bss->nc_accepting = 1;
		err = rc_coherence__start(&nc->co, &nc->shared, &(struct rc_server){
			.host = nc->host, .port = nc->servers[0].port,
			.user = nc->user, .password = nc->password });
	}
	nc->attached = true;
	if (err) {
		pr_warn("near_cache: attach: %s\n", strerror(-err));
		ebpfaccel_near_cache__detach(nc);
		return err;
	}
	nc->skel->bss->nc_enabled = 1;
	return 0;
}

EBPFACCEL_API int ebpfaccel_near_cache__detach(struct ebpfaccel_near_cache *nc)
{
	if (!nc)
		return -EINVAL;
	if (!nc->attached)
		return -ENOTCONN;
	nc->skel->bss->nc_enabled = 0;
	nc->skel->bss->nc_accepting = 0;
	nc->confirms += rc_coherence__confirms(nc->co);
	rc_coherence__stop(nc->co);
	nc->co = NULL;
	nc->attached = false;
	return 0;
}

EBPFACCEL_API int ebpfaccel_near_cache__flush(struct ebpfaccel_near_cache *nc)
{
	if (!nc)
		return -EINVAL;
	rc_shared__flush(&nc->shared);
	return 0;
}

EBPFACCEL_API int ebpfaccel_near_cache__serving(const struct ebpfaccel_near_cache *nc)
{
	if (!nc)
		return -EINVAL;
	return nc->attached && nc->skel->bss->nc_enabled &&
	       nc->skel->bss->rc_tracking_ok;
}

EBPFACCEL_API int ebpfaccel_near_cache__stats(const struct ebpfaccel_near_cache *nc,
					      struct ebpfaccel_near_cache_stats *stats,
					      size_t sz)
{
	struct ebpfaccel_near_cache_stats all = { 0 };
	int err;

	if (!nc || !stats)
		return -EINVAL;
	err = ebpfaccel__sum_percpu(nc->skel->maps.nc_stats, NC_STAT_MAX, (uint64_t *)&all);
	if (err)
		return err;
	all.confirms = nc->confirms + rc_coherence__confirms(nc->co);
	memcpy(stats, &all, sz < sizeof(all) ? sz : sizeof(all));
	return 0;
}

EBPFACCEL_API void ebpfaccel_near_cache__destroy(struct ebpfaccel_near_cache *nc)
{
	if (!nc)
		return;
	if (nc->attached)
		ebpfaccel_near_cache__detach(nc);
	if (nc->skel)
		rc_object__release_sockets(nc_sock_progs(nc), &nc->sockops_link);
	near_bpf__destroy(nc->skel);
	if (nc->own_cgroup_fd)
		close(nc->cgroup_fd);
	free(nc->user);
	free(nc->password);
	free(nc);
}
