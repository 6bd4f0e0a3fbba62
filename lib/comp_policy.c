// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Compression negotiation policy: loads bpf/comp_negotiate.bpf.c, attaches it
 * to a cgroup v2 and fills its LPM policy map; reads the per-socket result
 * from the comp_sk_state sk_storage map.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "pin.h"
#include "ebpfaccel/ebpfaccel.h"
#include "comp_negotiate.h"
#include "comp_negotiate.skel.h"

#define COMP_STATE_MAP_NAME	"comp_sk_state"

struct ebpfaccel_comp_policy {
	struct comp_negotiate_bpf *skel;
	struct bpf_link *link;
	bool pin;		/* pin at attach time */
	char *pin_name;		/* NULL: the cgroup id */
	char *pin_dir;		/* where it is pinned, once it is */
};

/* File names inside a pinned policy's directory. */
#define PIN_FEATURE	"comp"
#define PIN_LINK	"link"
#define PIN_POLICY	"comp_policy"
#define PIN_STATE	"comp_sk_state"
#define PIN_COUNTERS	"counters"

/* Announce format 2 unless a tcp_comp module that predates it would carry
 * the data: its peers then keep format 1 and the module its sockets. */
static __u8 max_format(void)
{
	int kernel = ebpfaccel__comp_kernel_format();

	return kernel == TCP_COMP_VERSION_1 ? TCP_COMP_VERSION_1 : TCP_COMP_VERSION_2;
}

EBPFACCEL_API struct ebpfaccel_comp_policy *
ebpfaccel_comp_policy__open(const struct ebpfaccel_comp_policy_opts *opts)
{
	struct ebpfaccel_comp_policy *p;
	int err;

	if (!OPTS_VALID(opts, ebpfaccel_comp_policy_opts)) {
		errno = EINVAL;
		return NULL;
	}
	err = ebpfaccel__need_caps("load the compression negotiation program",
				   CAPMASK(CAP_BPF) | CAPMASK(CAP_NET_ADMIN));
	if (err) {
		ebpfaccel__load_error_clear(OPTS_GET(opts, load_error, NULL), err);
		return ebpfaccel__err_ptr(err);
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	p->pin = OPTS_GET(opts, pin, false);
	if (OPTS_GET(opts, pin_name, NULL) && !(p->pin_name = strdup(opts->pin_name))) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	ebpfaccel__bump_memlock();
	ebpfaccel__route_libbpf_print();
	ebpfaccel__load_begin();
	p->skel = comp_negotiate_bpf__open();
	err = p->skel ? 0 : -errno;
	if (!err) {
		p->skel->rodata->comp_max_format = max_format();
		err = comp_negotiate_bpf__load(p->skel);
	}
	err = ebpfaccel__load_end(err, "comp", OPTS_GET(opts, load_error, NULL));
	if (err) {
		comp_negotiate_bpf__destroy(p->skel);
		free(p->pin_name);
		free(p);
		return ebpfaccel__err_ptr(err);
	}
	return p;
}

static int pin_policy(struct ebpfaccel_comp_policy *p, int cgroup_fd)
{
	const struct pin_obj objs[] = {
		{ PIN_POLICY, bpf_map__fd(p->skel->maps.comp_policy) },
		{ PIN_STATE, bpf_map__fd(p->skel->maps.comp_sk_state) },
		{ PIN_COUNTERS, bpf_map__fd(p->skel->maps.bss) },
		/* Last: the program stays attached only once its maps are pinned. */
		{ PIN_LINK, bpf_link__fd(p->link) },
	};
	char name[32], dir[512];
	struct stat st;
	int err;

	if (!p->pin_name) {
		if (fstat(cgroup_fd, &st))
			return -errno;
		snprintf(name, sizeof(name), "%llu", (unsigned long long)st.st_ino);
	}
	err = ebpfaccel__pin_objs(PIN_FEATURE, p->pin_name ?: name, objs, ARRAY_SIZE(objs),
				  dir, sizeof(dir));
	if (err)
		return err;
	p->pin_dir = strdup(dir);
	if (!p->pin_dir) {
		ebpfaccel__unpin_dir(dir);
		return -ENOMEM;
	}
	return 0;
}

EBPFACCEL_API int ebpfaccel_comp_policy__attach(struct ebpfaccel_comp_policy *p, int cgroup_fd)
{
	int err;

	if (!p || cgroup_fd < 0)
		return -EINVAL;
	if (p->link)
		return -EBUSY;
	err = ebpfaccel__need_caps("attach to a cgroup",
				   CAPMASK(CAP_SYS_ADMIN) | CAPMASK(CAP_BPF) | CAPMASK(CAP_NET_ADMIN));
	if (err)
		return err;
	p->link = bpf_program__attach_cgroup(p->skel->progs.comp_negotiate, cgroup_fd);
	if (!p->link) {
		err = -errno;
		pr_warn("comp: attaching to cgroup fd %d failed: %s\n", cgroup_fd, strerror(-err));
		return err;
	}
	err = p->pin ? pin_policy(p, cgroup_fd) : 0;
	if (err) {
		bpf_link__destroy(p->link);
		p->link = NULL;
	}
	return err;
}

EBPFACCEL_API int ebpfaccel_comp_policy__detach(struct ebpfaccel_comp_policy *p)
{
	int err;

	if (!p)
		return -EINVAL;
	if (!p->link)
		return -ENOENT;
	if (p->pin_dir) {
		/* Other processes may hold the link open: detach it for them too. */
		err = bpf_link__detach(p->link);
		if (err)
			pr_warn("comp: detaching the pinned link failed: %s\n", strerror(-err));
		ebpfaccel__unpin_dir(p->pin_dir);
		free(p->pin_dir);
		p->pin_dir = NULL;
	}
	err = bpf_link__destroy(p->link);
	p->link = NULL;
	return err;
}

static __u8 action_to_bpf(enum ebpfaccel_comp_action a)
{
	switch (a) {
	case EBPFACCEL_COMP_OFF:
		return COMP_ACTION_OFF;
	case EBPFACCEL_COMP_AUTO:
		return COMP_ACTION_AUTO;
	default:
		return COMP_ACTION_ON;
	}
}

static enum ebpfaccel_comp_action action_from_bpf(__u8 a)
{
	if (a == COMP_ACTION_OFF)
		return EBPFACCEL_COMP_OFF;
	return a == COMP_ACTION_AUTO ? EBPFACCEL_COMP_AUTO : EBPFACCEL_COMP_ON;
}

static int rule_to_val(const struct ebpfaccel_comp_rule_opts *rule, struct comp_policy_val *val)
{
	unsigned int record_size = OPTS_GET(rule, record_size, 0);
	unsigned int dir = OPTS_GET(rule, dir, 0);
	int action = OPTS_GET(rule, action, EBPFACCEL_COMP_ON);
	int algo = OPTS_GET(rule, algo, TCP_COMP_ALGO_ZSTD);
	int mode = OPTS_GET(rule, mode, TCP_COMP_MODE_BLOCK);
	unsigned int flags = OPTS_GET(rule, flags, 0);

	if (!OPTS_VALID(rule, ebpfaccel_comp_rule_opts))
		return -EINVAL;
	if (!dir)
		dir = EBPFACCEL_COMP_DIR_BOTH;
	if (rule && OPTS_HAS(rule, algo) && rule->algo == TCP_COMP_ALGO_NONE)
		algo = TCP_COMP_ALGO_ZSTD;
	if (action < EBPFACCEL_COMP_ON || action > EBPFACCEL_COMP_AUTO ||
	    algo <= TCP_COMP_ALGO_NONE || algo >= __TCP_COMP_ALGO_MAX ||
	    mode < 0 || mode >= __TCP_COMP_MODE_MAX || (dir & ~EBPFACCEL_COMP_DIR_BOTH) ||
	    (flags & ~TCP_COMP_F_CHECKSUM) || record_size > TCP_COMP_MAX_RECORD)
		return -EINVAL;
	*val = (struct comp_policy_val){
		.action = action_to_bpf(action), .algo = algo, .mode = mode, .dir = dir,
		.level = OPTS_GET(rule, level, 0), .record_size = record_size, .flags = flags,
	};
	return 0;
}

static int make_key(int family, const void *addr, unsigned int prefixlen, uint16_t port,
		    struct comp_policy_key *key)
{
	memset(key, 0, sizeof(*key));
	if (!port)
		return -EINVAL;
	key->port[0] = port >> 8;
	key->port[1] = port & 0xff;
	if (!addr) {
		key->prefixlen = COMP_KEY_PORT_BITS;
		return 0;
	}
	if (family == AF_INET) {
		if (prefixlen > 32)
			return -EINVAL;
		key->addr[10] = 0xff;
		key->addr[11] = 0xff;
		memcpy(&key->addr[12], addr, 4);
		key->prefixlen = COMP_KEY_PORT_BITS + 96 + prefixlen;
		return 0;
	}
	if (family == AF_INET6) {
		if (prefixlen > 128)
			return -EINVAL;
		memcpy(key->addr, addr, 16);
		key->prefixlen = COMP_KEY_PORT_BITS + prefixlen;
		return 0;
	}
	return -EAFNOSUPPORT;
}

static int update_rule(struct ebpfaccel_comp_policy *p, int family, const void *addr,
		       unsigned int prefixlen, uint16_t port,
		       const struct ebpfaccel_comp_rule_opts *rule)
{
	struct comp_policy_key key;
	struct comp_policy_val val;
	int err;

	if (!p)
		return -EINVAL;
	err = make_key(family, addr, prefixlen, port, &key);
	if (!err)
		err = rule_to_val(rule, &val);
	if (err)
		return err;
	err = bpf_map__update_elem(p->skel->maps.comp_policy, &key, sizeof(key), &val,
				   sizeof(val), BPF_ANY);
	if (err)
		pr_warn("comp: setting the rule of port %u failed: %s\n", port, strerror(-err));
	return err;
}

static int delete_rule(struct ebpfaccel_comp_policy *p, int family, const void *addr,
		       unsigned int prefixlen, uint16_t port)
{
	struct comp_policy_key key;
	int err;

	if (!p)
		return -EINVAL;
	err = make_key(family, addr, prefixlen, port, &key);
	if (err)
		return err;
	return bpf_map__delete_elem(p->skel->maps.comp_policy, &key, sizeof(key), 0);
}

EBPFACCEL_API int ebpfaccel_comp_policy__set_port(struct ebpfaccel_comp_policy *p, uint16_t port,
						  const struct ebpfaccel_comp_rule_opts *rule)
{
	return update_rule(p, AF_UNSPEC, NULL, 0, port, rule);
}

EBPFACCEL_API int ebpfaccel_comp_policy__set_prefix(struct ebpfaccel_comp_policy *p, int family,
						    const void *addr, unsigned int prefixlen,
						    uint16_t port,
						    const struct ebpfaccel_comp_rule_opts *rule)
{
	if (!addr)
		return -EINVAL;
	return update_rule(p, family, addr, prefixlen, port, rule);
}

EBPFACCEL_API int ebpfaccel_comp_policy__del_port(struct ebpfaccel_comp_policy *p, uint16_t port)
{
	return delete_rule(p, AF_UNSPEC, NULL, 0, port);
}

EBPFACCEL_API int ebpfaccel_comp_policy__del_prefix(struct ebpfaccel_comp_policy *p, int family,
						    const void *addr, unsigned int prefixlen,
						    uint16_t port)
{
	if (!addr)
		return -EINVAL;
	return delete_rule(p, family, addr, prefixlen, port);
}

static void fill_params(struct tcp_comp_params *out, __u8 algo, const struct comp_sk_state *st)
{
	*out = (struct tcp_comp_params){
		.version = st->format ? st->format : TCP_COMP_VERSION_1, .algo = algo,
		.mode = st->mode,
		.level = st->level, .record_size = st->record_size, .flags = st->flags,
	};
}

static int state_from_map(int map_fd, int sock_fd, struct ebpfaccel_comp_state *out)
{
	struct comp_sk_state st;

	if (bpf_map_lookup_elem(map_fd, &sock_fd, &st))
		return -errno;
	memset((char *)out + sizeof(out->sz), 0, sizeof(*out) - sizeof(out->sz));
	out->role = st.role;
	out->phase = st.phase;
	out->action = action_from_bpf(st.action);
	fill_params(&out->tx, st.tx_algo, &st);
	fill_params(&out->rx, st.rx_algo, &st);
	/* Level, record size and checksum are encoder choices. */
	out->rx.level = 0;
	out->rx.record_size = 0;
	out->rx.flags = 0;
	return 0;
}

static int state_out_valid(const struct ebpfaccel_comp_state *out)
{
	return out && out->sz >= sizeof(*out);
}

EBPFACCEL_API int ebpfaccel_comp_policy__state(const struct ebpfaccel_comp_policy *p, int sock_fd,
					       struct ebpfaccel_comp_state *out)
{
	if (!p || sock_fd < 0 || !state_out_valid(out))
		return -EINVAL;
	return state_from_map(bpf_map__fd(p->skel->maps.comp_sk_state), sock_fd, out);
}

EBPFACCEL_API int ebpfaccel_comp_policy__stats(const struct ebpfaccel_comp_policy *p,
					       struct ebpfaccel_comp_policy_stats *s)
{
	const volatile __u64 *c;

	if (!p || !s)
		return -EINVAL;
	c = p->skel->bss->comp_counters;
	*s = (struct ebpfaccel_comp_policy_stats){
		.syn_opt = c[COMP_CNT_SYN_OPT],
		.synack_opt = c[COMP_CNT_SYNACK_OPT],
		.client_on = c[COMP_CNT_CLIENT_ON],
		.client_no_answer = c[COMP_CNT_CLIENT_NO_ANSWER],
		.server_on = c[COMP_CNT_SERVER_ON],
		.server_no_confirm = c[COMP_CNT_SERVER_NO_CONFIRM],
		.confirm_done = c[COMP_CNT_CONFIRM_DONE],
	};
	return 0;
}

EBPFACCEL_API void ebpfaccel_comp_policy__destroy(struct ebpfaccel_comp_policy *p)
{
	if (!p)
		return;
	/* Closing a pinned link's fd leaves it attached. */
	bpf_link__destroy(p->link);
	comp_negotiate_bpf__destroy(p->skel);
	free(p->pin_name);
	free(p->pin_dir);
	free(p);
}

/* The maps of a fresh copy of the program are replaced by the pinned ones
 * (libbpf checks they are compatible); its own program is never attached. */
static int reuse_pinned_maps(struct comp_negotiate_bpf *skel, const char *dir)
{
	const struct { struct bpf_map *map; const char *file; } maps[] = {
		{ skel->maps.comp_policy, PIN_POLICY },
		{ skel->maps.comp_sk_state, PIN_STATE },
		{ skel->maps.bss, PIN_COUNTERS },
	};

	for (size_t i = 0; i < ARRAY_SIZE(maps); i++) {
		char path[PATH_MAX];
		int fd = ebpfaccel__pin_get(dir, maps[i].file);

		/* libbpf would create a missing pin instead of failing. */
		if (fd < 0)
			return fd;
		close(fd);
		snprintf(path, sizeof(path), "%s/%s", dir, maps[i].file);
		if (bpf_map__set_pin_path(maps[i].map, path))
			return -errno;
	}
	return comp_negotiate_bpf__load(skel);
}

static struct ebpfaccel_comp_policy *open_pinned(const char *dir)
{
	struct ebpfaccel_comp_policy *p = calloc(1, sizeof(*p));
	char path[PATH_MAX];
	int err;

	if (!p)
		return ebpfaccel__err_ptr(-ENOMEM);
	p->pin_dir = strdup(dir);
	p->skel = comp_negotiate_bpf__open();
	if (!p->pin_dir || !p->skel) {
		ebpfaccel_comp_policy__destroy(p);
		return ebpfaccel__err_ptr(-ENOMEM);
	}
	err = reuse_pinned_maps(p->skel, dir);
	if (!err) {
		snprintf(path, sizeof(path), "%s/%s", dir, PIN_LINK);
		p->link = bpf_link__open(path);
		err = p->link ? 0 : -errno;
	}
	if (err) {
		pr_warn("comp: opening the policy pinned in %s failed: %s\n", dir, strerror(-err));
		ebpfaccel_comp_policy__destroy(p);
		return ebpfaccel__err_ptr(err);
	}
	return p;
}

EBPFACCEL_API struct ebpfaccel_comp_policy *ebpfaccel_comp_policy__open_pinned(const char *name_or_path)
{
	char dir[512];
	int err;

	err = ebpfaccel__pin_dir(PIN_FEATURE, name_or_path, dir, sizeof(dir));
	if (err)
		return ebpfaccel__err_ptr(err);
	err = ebpfaccel__need_caps("open a pinned compression policy",
				   CAPMASK(CAP_BPF) | CAPMASK(CAP_NET_ADMIN));
	if (err)
		return ebpfaccel__err_ptr(err);
	if (access(dir, F_OK)) {
		err = -errno;
		pr_debug("comp: no policy is pinned in %s\n", dir);
		return ebpfaccel__err_ptr(err);
	}
	ebpfaccel__bump_memlock();
	return open_pinned(dir);
}

EBPFACCEL_API const char *ebpfaccel_comp_policy__pin_path(const struct ebpfaccel_comp_policy *p)
{
	return p ? p->pin_dir : NULL;
}

EBPFACCEL_API uint64_t ebpfaccel_comp_policy__cgroup_id(const struct ebpfaccel_comp_policy *p)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (!p || !p->link) {
		errno = p ? ENOENT : EINVAL;
		return 0;
	}
	if (bpf_obj_get_info_by_fd(bpf_link__fd(p->link), &info, &len))
		return 0;
	if (!info.cgroup.cgroup_id)
		errno = ENOENT;
	return info.cgroup.cgroup_id;
}

static bool port_only_key(const struct comp_policy_key *k)
{
	return k->prefixlen == COMP_KEY_PORT_BITS;
}

static int cmp_port(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

EBPFACCEL_API int ebpfaccel_comp_policy__ports(const struct ebpfaccel_comp_policy *p, uint16_t *ports,
					       size_t max)
{
	struct comp_policy_key key, next;
	void *prev = NULL;
	size_t n = 0;
	int fd;

	if (!p || (max && !ports))
		return -EINVAL;
	fd = bpf_map__fd(p->skel->maps.comp_policy);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (port_only_key(&next)) {
			if (n < max)
				ports[n] = next.port[0] << 8 | next.port[1];
			n++;
		}
		key = next;
		prev = &key;
	}
	if (ports)
		qsort(ports, n < max ? n : max, sizeof(*ports), cmp_port);
	return n;
}

EBPFACCEL_API int ebpfaccel_comp_policy__get_port(const struct ebpfaccel_comp_policy *p, uint16_t port,
						  struct ebpfaccel_comp_rule_opts *rule)
{
	struct comp_policy_key key;
	struct comp_policy_val val;
	int err;

	if (!p || !rule || rule->sz < sizeof(*rule))
		return -EINVAL;
	err = make_key(AF_UNSPEC, NULL, 0, port, &key);
	if (err)
		return err;
	/* The LPM lookup of a port-only key cannot match an address rule. */
	if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.comp_policy), &key, &val))
		return -errno;
	*rule = (struct ebpfaccel_comp_rule_opts){
		.sz = rule->sz, .action = action_from_bpf(val.action), .algo = val.algo,
		.mode = val.mode, .dir = val.dir, .level = val.level,
		.record_size = val.record_size, .flags = val.flags,
	};
	return 0;
}

static int is_state_map(int map_fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return 0;
	return info.type == BPF_MAP_TYPE_SK_STORAGE &&
	       info.value_size == sizeof(struct comp_sk_state) &&
	       !strcmp(info.name, COMP_STATE_MAP_NAME);
}

/* Any process may have loaded the policy: look through every loaded map. */
EBPFACCEL_API int ebpfaccel_comp__state(int sock_fd, struct ebpfaccel_comp_state *out)
{
	__u32 id = 0;
	int err = -ENOENT;

	if (sock_fd < 0 || !state_out_valid(out))
		return -EINVAL;
	while (!bpf_map_get_next_id(id, &id)) {
		int map_fd = bpf_map_get_fd_by_id(id);

		if (map_fd < 0)
			continue;
		if (is_state_map(map_fd))
			err = state_from_map(map_fd, sock_fd, out);
		close(map_fd);
		if (!err)
			return 0;
		if (err != -ENOENT)
			return err;
	}
	if (errno == EPERM)
		return -EPERM;
	return -ENOENT;
}
