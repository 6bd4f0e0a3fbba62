// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the running system supports, found by trying it. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ebpfaccel/uapi.h"
#include "internal.h"
#include "probe.skel.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define REASON_LEN 256

struct ebpfaccel_probe {
	signed char supported[__EBPFACCEL_FEAT_MAX];
	char reason[__EBPFACCEL_FEAT_MAX][REASON_LEN];
	char release[65];
};

static const char *const feature_names[__EBPFACCEL_FEAT_MAX] = {
	[EBPFACCEL_FEAT_BPF_SYSCALL]	= "bpf_syscall",
	[EBPFACCEL_FEAT_BTF]		= "btf",
	[EBPFACCEL_FEAT_SOCKMAP]	= "sockmap",
	[EBPFACCEL_FEAT_SK_STORAGE]	= "sk_storage",
	[EBPFACCEL_FEAT_TCP_HDR_OPT]	= "tcp_hdr_opt",
	[EBPFACCEL_FEAT_CLS_BPF]	= "cls_bpf",
	[EBPFACCEL_FEAT_CGROUP2]	= "cgroup2",
	[EBPFACCEL_FEAT_BPFFS]		= "bpffs",
	[EBPFACCEL_FEAT_TCP_COMP_KMOD]	= "tcp_comp_kmod",
	[EBPFACCEL_FEAT_CAP_BPF]	= "cap_bpf",
	[EBPFACCEL_FEAT_CAP_NET_ADMIN]	= "cap_net_admin",
	[EBPFACCEL_FEAT_CAP_SYS_ADMIN]	= "cap_sys_admin",
	[EBPFACCEL_FEAT_REDIS_CACHE]	= "redis_cache",
	[EBPFACCEL_FEAT_COMP_NEGOTIATE]	= "comp_negotiate",
	[EBPFACCEL_FEAT_TRAFFIC_PROBE]	= "traffic_probe",
	[EBPFACCEL_FEAT_NEAR_CACHE]	= "near_cache",
};

__attribute__((format(printf, 4, 5)))
static void set_result(struct ebpfaccel_probe *p, enum ebpfaccel_feature f,
		       bool ok, const char *fmt, ...)
{
	va_list ap;

	p->supported[f] = ok;
	va_start(ap, fmt);
	vsnprintf(p->reason[f], REASON_LEN, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------- BPF probes */

/* One probe per feature: the programs and maps of the embedded object it
 * loads, and an optional step that must also work once they are loaded. */
struct bpf_probe {
	enum ebpfaccel_feature feature;
	const char *what;		/* "the kernel refused <what>" */
	const char *found;		/* detail when supported */
	const char *progs[2];
	const char *map;
	int (*verify)(struct probe_bpf *skel);
};

/* Loading is not enough for sockmap: the verdict and msg attach types
 * must exist too. */
static int attach_sockmap_progs(struct probe_bpf *skel)
{
	int map_fd = bpf_map__fd(skel->maps.probe_sockhash);

	if (bpf_prog_attach(bpf_program__fd(skel->progs.probe_sk_skb), map_fd, BPF_SK_SKB_VERDICT, 0) ||
	    bpf_prog_attach(bpf_program__fd(skel->progs.probe_sk_msg), map_fd, BPF_SK_MSG_VERDICT, 0))
		return -errno;
	return 0;
}

static const struct bpf_probe bpf_probes[] = {
	{ EBPFACCEL_FEAT_BPF_SYSCALL, "a trivial socket filter", "BPF programs load",
	  { "probe_syscall" }, NULL, NULL },
	{ EBPFACCEL_FEAT_SOCKMAP, "a SOCKHASH with sk_skb/sk_msg programs",
	  "SOCKHASH with sk_skb verdict and sk_msg",
	  { "probe_sk_skb", "probe_sk_msg" }, "probe_sockhash", attach_sockmap_progs },
	{ EBPFACCEL_FEAT_SK_STORAGE, "an SK_STORAGE map used from sock_ops", "SK_STORAGE maps from sock_ops",
	  { "probe_sk_storage_ops" }, "probe_sk_storage", NULL },
	{ EBPFACCEL_FEAT_TCP_HDR_OPT, "a sock_ops program using the TCP header-option helpers",
	  "bpf_{reserve,store,load}_hdr_opt from sock_ops", { "probe_hdr_opt" }, NULL, NULL },
	{ EBPFACCEL_FEAT_CLS_BPF, "a SCHED_CLS program", "SCHED_CLS programs load",
	  { "probe_cls" }, NULL, NULL },
};

/* Open the embedded object with only @bp's programs and map enabled. */
static int open_subset(const struct bpf_probe *bp, struct probe_bpf **out)
{
	struct probe_bpf *skel = probe_bpf__open();
	struct bpf_program *prog;
	struct bpf_map *map;

	if (!skel)
		return -errno;
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	bpf_object__for_each_map(map, skel->obj)
		bpf_map__set_autocreate(map, bp->map && !strcmp(bpf_map__name(map), bp->map));
	for (size_t i = 0; i < ARRAY_SIZE(bp->progs) && bp->progs[i]; i++) {
		prog = bpf_object__find_program_by_name(skel->obj, bp->progs[i]);
		if (!prog) {
			probe_bpf__destroy(skel);
			return -ENOENT;
		}
		bpf_program__set_autoload(prog, true);
	}
	*out = skel;
	return 0;
}

static int run_bpf_probe(const struct bpf_probe *bp)
{
	struct probe_bpf *skel;
	int err = open_subset(bp, &skel);

	if (err)
		return err;
	ebpfaccel__libbpf_quiet(true);
	err = probe_bpf__load(skel);
	ebpfaccel__libbpf_quiet(false);
	if (!err && bp->verify)
		err = bp->verify(skel);
	probe_bpf__destroy(skel);
	return err;
}

static void explain_load_error(struct ebpfaccel_probe *p, const struct bpf_probe *bp, int err)
{
	char msg[128];

	if ((err == -EPERM || err == -EACCES) &&
	    !ebpfaccel__has_cap(CAP_BPF) && !ebpfaccel__has_cap(CAP_SYS_ADMIN)) {
		set_result(p, bp->feature, false,
			   "loading %s needs CAP_BPF (or CAP_SYS_ADMIN); this process lacks it", bp->what);
		return;
	}
	ebpfaccel_strerror(err, msg, sizeof(msg));
	set_result(p, bp->feature, false, "the kernel refused %s: %s (set EBPFACCEL_DEBUG=1 for the verifier log)",
		   bp->what, msg);
}

static void probe_all_bpf(struct ebpfaccel_probe *p)
{
	ebpfaccel__route_libbpf_print();
	ebpfaccel__bump_memlock();
	for (size_t i = 0; i < ARRAY_SIZE(bpf_probes); i++) {
		const struct bpf_probe *bp = &bpf_probes[i];
		int err = run_bpf_probe(bp);

		if (err)
			explain_load_error(p, bp, err);
		else
			set_result(p, bp->feature, true, "%s", bp->found);
	}
}

/* ------------------------------------------------------ object probes
 * Whether the library's own objects load on this kernel, through the
 * objects' open functions (what an attach would do first), unattached. */

struct object_probe {
	enum ebpfaccel_feature feature;
	const char *found;
	uint64_t caps;		/* what the open checks first */
	int (*load)(struct ebpfaccel_load_error *why);
};

static int load_redis_cache(struct ebpfaccel_load_error *why)
{
	__u16 port = 6379;
	/* Small maps; the cgroup is opened, never attached to. */
	LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_opts, opts, .ports = &port, .nr_ports = 1,
			  .cgroup_path = "/", .max_entries = 64, .max_large_entries = 64,
			  .load_error = why);
	struct ebpfaccel_redis_cache *rc = ebpfaccel_redis_cache__open(&opts);

	if (!rc)
		return -errno;
	ebpfaccel_redis_cache__destroy(rc);
	return 0;
}

static int load_comp_negotiate(struct ebpfaccel_load_error *why)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_policy_opts, opts, .load_error = why);
	struct ebpfaccel_comp_policy *cp = ebpfaccel_comp_policy__open(&opts);

	if (!cp)
		return -errno;
	ebpfaccel_comp_policy__destroy(cp);
	return 0;
}

static int load_traffic_probe(struct ebpfaccel_load_error *why)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_traffic_probe_opts, opts, .max_flows = 64, .max_ports = 16,
			  .load_error = why);
	struct ebpfaccel_traffic_probe *tp = ebpfaccel_traffic_probe__open(&opts);

	if (!tp)
		return -errno;
	ebpfaccel_traffic_probe__destroy(tp);
	return 0;
}

static int load_near_cache(struct ebpfaccel_load_error *why)
{
	static const char *const server[] = { "127.0.0.1:6379" };
	/* Small maps; nothing is attached or connected before attach. */
	LIBEBPFACCEL_OPTS(ebpfaccel_near_cache_opts, opts, .servers = server, .nr_servers = 1,
			  .cgroup_path = "/", .max_entries = 64, .max_large_entries = 64,
			  .load_error = why);
	struct ebpfaccel_near_cache *nc = ebpfaccel_near_cache__open(&opts);

	if (!nc)
		return -errno;
	ebpfaccel_near_cache__destroy(nc);
	return 0;
}

static const struct object_probe object_probes[] = {
	{ EBPFACCEL_FEAT_REDIS_CACHE, "the Redis cache's BPF programs load",
	  CAPMASK(CAP_BPF) | CAPMASK(CAP_NET_ADMIN) | CAPMASK(CAP_SYS_ADMIN), load_redis_cache },
	{ EBPFACCEL_FEAT_COMP_NEGOTIATE, "the compression negotiation's BPF program loads",
	  CAPMASK(CAP_BPF) | CAPMASK(CAP_NET_ADMIN), load_comp_negotiate },
	{ EBPFACCEL_FEAT_TRAFFIC_PROBE, "the traffic probe's BPF programs load",
	  CAPMASK(CAP_BPF), load_traffic_probe },
	{ EBPFACCEL_FEAT_NEAR_CACHE, "the Redis near cache's BPF programs load",
	  CAPMASK(CAP_BPF) | CAPMASK(CAP_NET_ADMIN) | CAPMASK(CAP_SYS_ADMIN), load_near_cache },
};

static void probe_object(struct ebpfaccel_probe *p, const struct object_probe *op)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_load_error, why);
	int cap = ebpfaccel__missing_cap(op->caps), err;
	char msg[128];

	if (cap >= 0) {
		set_result(p, op->feature, false, "not probed: loading needs %s, which this process lacks",
			   ebpfaccel__cap_name(cap));
		return;
	}
	ebpfaccel__libbpf_quiet(true);
	err = op->load(&why);
	ebpfaccel__libbpf_quiet(false);
	if (!err) {
		set_result(p, op->feature, true, "%s", op->found);
		return;
	}
	ebpfaccel_strerror(err, msg, sizeof(msg));
	set_result(p, op->feature, false, "%s", why.reason[0] ? why.reason : msg);
}

/* ------------------------------------------------------- system probes */

static void probe_btf(struct ebpfaccel_probe *p)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		set_result(p, EBPFACCEL_FEAT_BTF, true, "/sys/kernel/btf/vmlinux");
	else
		set_result(p, EBPFACCEL_FEAT_BTF, false,
			   "/sys/kernel/btf/vmlinux: %s (kernel built without CONFIG_DEBUG_INFO_BTF?)",
			   strerror(errno));
}

static void probe_cgroup2(struct ebpfaccel_probe *p)
{
	char path[REASON_LEN - 16];
	int err = ebpfaccel__cgroup2_path(path, sizeof(path));

	if (!err)
		set_result(p, EBPFACCEL_FEAT_CGROUP2, true, "mounted at %s", path);
	else
		set_result(p, EBPFACCEL_FEAT_CGROUP2, false,
			   "no cgroup2 mount in /proc/mounts (mount -t cgroup2 none /sys/fs/cgroup/unified)");
}

static void probe_bpffs(struct ebpfaccel_probe *p)
{
	if (ebpfaccel__bpffs_at("/sys/fs/bpf") == 0)
		set_result(p, EBPFACCEL_FEAT_BPFFS, true, "mounted at /sys/fs/bpf");
	else
		set_result(p, EBPFACCEL_FEAT_BPFFS, false,
			   "/sys/fs/bpf is not a bpffs (mount -t bpf bpf /sys/fs/bpf); only persistent attachments need it");
}

/* /proc/sys/net/ipv4/tcp_available_ulp: names separated by spaces. */
bool ebpfaccel__ulp_registered(const char *name)
{
	char buf[512], *tok, *save;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "re");
	bool found = false;

	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f))
		for (tok = strtok_r(buf, " \n", &save); tok && !found; tok = strtok_r(NULL, " \n", &save))
			found = !strcmp(tok, name);
	fclose(f);
	return found;
}

/* modules.dep lines start with "<dir>/<module>.ko[.xz|.zst]:". */
static bool module_installed(const char *release, const char *module)
{
	char path[128], line[1024], *colon, *base;
	size_t mlen = strlen(module);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", release);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		base = strrchr(line, '/');
		base = base ? base + 1 : line;
		found = !strncmp(base, module, mlen) && !strncmp(base + mlen, ".ko", 3);
	}
	fclose(f);
	return found;
}

static void probe_kmod(struct ebpfaccel_probe *p)
{
	if (ebpfaccel__ulp_registered(TCP_COMP_ULP_NAME)) {
		set_result(p, EBPFACCEL_FEAT_TCP_COMP_KMOD, true, "loaded (TCP ULP \"comp\" registered)");
		return;
	}
	if (access("/proc/modules", F_OK)) {
		set_result(p, EBPFACCEL_FEAT_TCP_COMP_KMOD, false,
			   "kernel %s cannot load modules; the user-space compression engine is used", p->release);
		return;
	}
	if (module_installed(p->release, "tcp_comp"))
		set_result(p, EBPFACCEL_FEAT_TCP_COMP_KMOD, true,
			   "installed for %s, loaded on first use", p->release);
	else
		set_result(p, EBPFACCEL_FEAT_TCP_COMP_KMOD, false,
			   "not loaded and not installed for kernel %s (build and install kmod/); the user-space engine is used",
			   p->release);
}

static void probe_caps(struct ebpfaccel_probe *p)
{
	static const struct { enum ebpfaccel_feature f; int cap; const char *use; } caps[] = {
		{ EBPFACCEL_FEAT_CAP_BPF, CAP_BPF, "load BPF programs" },
		{ EBPFACCEL_FEAT_CAP_NET_ADMIN, CAP_NET_ADMIN, "attach to sockets and qdiscs" },
		{ EBPFACCEL_FEAT_CAP_SYS_ADMIN, CAP_SYS_ADMIN, "attach to cgroups and mount bpffs" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
		bool has = ebpfaccel__has_cap(caps[i].cap) ||
			   (caps[i].cap == CAP_BPF && ebpfaccel__has_cap(CAP_SYS_ADMIN));

		set_result(p, caps[i].f, has, "%s %s, needed to %s",
			   has ? "has" : "lacks", ebpfaccel__cap_name(caps[i].cap), caps[i].use);
	}
}

/* --------------------------------------------------------------- API */

EBPFACCEL_API struct ebpfaccel_probe *ebpfaccel_probe__new(const struct ebpfaccel_probe_opts *opts)
{
	struct ebpfaccel_probe *p;
	struct utsname u;

	if (!OPTS_VALID(opts, ebpfaccel_probe_opts))
		return ebpfaccel__err_ptr(-EINVAL);
	p = calloc(1, sizeof(*p));
	if (!p)
		return ebpfaccel__err_ptr(-ENOMEM);
	if (!uname(&u))
		snprintf(p->release, sizeof(p->release), "%s", u.release);

	probe_caps(p);
	probe_btf(p);
	probe_cgroup2(p);
	probe_bpffs(p);
	probe_kmod(p);
	if (OPTS_GET(opts, skip_bpf, false)) {
		for (int f = EBPFACCEL_FEAT_BPF_SYSCALL; f <= EBPFACCEL_FEAT_CLS_BPF; f++)
			if (f != EBPFACCEL_FEAT_BTF)
				set_result(p, f, false, "not probed (skip_bpf)");
		for (size_t i = 0; i < ARRAY_SIZE(object_probes); i++)
			set_result(p, object_probes[i].feature, false, "not probed (skip_bpf)");
	} else {
		probe_all_bpf(p);
		for (size_t i = 0; i < ARRAY_SIZE(object_probes); i++)
			probe_object(p, &object_probes[i]);
	}
	return p;
}

static bool feature_valid(enum ebpfaccel_feature f)
{
	return (unsigned int)f < __EBPFACCEL_FEAT_MAX;
}

EBPFACCEL_API int ebpfaccel_probe__supported(const struct ebpfaccel_probe *probe,
					     enum ebpfaccel_feature feature)
{
	if (!probe || !feature_valid(feature))
		return -EINVAL;
	return probe->supported[feature];
}

EBPFACCEL_API const char *ebpfaccel_probe__reason(const struct ebpfaccel_probe *probe,
						  enum ebpfaccel_feature feature)
{
	if (!probe || !feature_valid(feature))
		return ebpfaccel__err_ptr(-EINVAL);
	return probe->reason[feature];
}

EBPFACCEL_API const char *ebpfaccel_probe__kernel_release(const struct ebpfaccel_probe *probe)
{
	if (!probe)
		return ebpfaccel__err_ptr(-EINVAL);
	return probe->release;
}

EBPFACCEL_API void ebpfaccel_probe__free(struct ebpfaccel_probe *probe)
{
	free(probe);
}

EBPFACCEL_API const char *ebpfaccel_feature__name(enum ebpfaccel_feature feature)
{
	if (!feature_valid(feature))
		return ebpfaccel__err_ptr(-EINVAL);
	return feature_names[feature];
}
