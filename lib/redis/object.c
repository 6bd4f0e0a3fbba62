// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the Redis cache objects do alike (object.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "redis/object.h"
#include "redis/redis_cache.h"

int rc_object__check_opts(const char *who, int cgroup_fd, const char *cgroup_path,
			  const char *discover, bool discovering, __u32 max_value_size)
{
	if (cgroup_fd <= 0 && !cgroup_path && !discovering) {
		pr_warn("%s: a cgroup (path or fd%s%s) is required\n", who,
			discover ? ", or " : "", discover ? discover : "");
		return -EINVAL;
	}
	if (max_value_size > RC_VAL_MAX) {
		pr_warn("%s: max_value_size is at most %d\n", who, RC_VAL_MAX);
		return -EINVAL;
	}
	return 0;
}

int rc_object__open_cgroup(const char *who, int fd, const char *path, bool *own)
{
	*own = false;
	if (fd > 0)
		return fd;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		pr_warn("%s: cgroup %s: %s\n", who, path, strerror(-err));
		return err;
	}
	*own = true;
	return fd;
}

int rc_object__dup_credentials(char **user, char **password, const char *u, const char *p)
{
	*user = u ? strdup(u) : NULL;
	*password = p ? strdup(p) : NULL;
	return (u && !*user) || (p && !*password) ? -ENOMEM : 0;
}

static int rc_size_map(struct bpf_object *obj, const char *name, __u32 entries)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);

	return map ? bpf_map__set_max_entries(map, entries) : -ENOENT;
}

int rc_object__load(const char *who, struct bpf_object_skeleton *(*open)(void *ctx),
		    void *ctx, __u32 small, __u32 large, struct ebpfaccel_load_error *why)
{
	struct bpf_object_skeleton *s;
	int err;

	small = small ?: 65536;
	large = large ?: 4096;
	/* open's complaints (a bad BTF, no memory) explain a failure too */
	ebpfaccel__load_begin();
	s = open(ctx);
	err = s ? 0 : -errno;
	if (!err)
		err = rc_size_map(*s->obj, "rc_cache_small", small);
	if (!err)
		err = rc_size_map(*s->obj, "rc_cache_large", large);
	if (!err)
		err = rc_size_map(*s->obj, "rc_confirmed", small + large);
	/* the skeleton's load also maps its globals for the caller */
	if (!err)
		err = bpf_object__load_skeleton(s);
	return ebpfaccel__load_end(err, who, why);
}

int rc_object__attach_sockets(struct rc_sock_progs p, int cgroup_fd,
			      struct bpf_link **link)
{
	int map_fd = bpf_map__fd(p.socks);

	/* sockets take the map's programs when added: programs first */
	if (bpf_prog_attach(bpf_program__fd(p.verdict), map_fd, BPF_SK_SKB_VERDICT, 0) ||
	    bpf_prog_attach(bpf_program__fd(p.msg), map_fd, BPF_SK_MSG_VERDICT, 0))
		return -errno;
	*link = bpf_program__attach_cgroup(p.sockops, cgroup_fd);
	return *link ? 0 : -errno;
}

static void rc_clear_socks(struct bpf_map *map)
{
	__u64 key;

	/* a SOCKMAP's every index exists: empty ones refuse the delete */
	if (bpf_map__type(map) == BPF_MAP_TYPE_SOCKMAP) {
		for (__u32 i = 0; i < bpf_map__max_entries(map); i++)
			bpf_map__delete_elem(map, &i, sizeof(i), 0);
		return;
	}
	/* restart after each delete: deleting invalidates the cursor */
	while (!bpf_map__get_next_key(map, NULL, &key, sizeof(key)))
		if (bpf_map__delete_elem(map, &key, sizeof(key), 0))
			break;
}

void rc_object__release_sockets(struct rc_sock_progs p, struct bpf_link **link)
{
	/* let replies already queued be read, and answers already on their
	 * way be sent, before the sockets leave the map */
	struct timespec settle = { 0, 20 * 1000 * 1000 };
	int map_fd;

	if (!*link)
		return;
	nanosleep(&settle, NULL);
	map_fd = bpf_map__fd(p.socks);
	rc_clear_socks(p.socks);
	bpf_prog_detach2(bpf_program__fd(p.verdict), map_fd, BPF_SK_SKB_VERDICT);
	bpf_prog_detach2(bpf_program__fd(p.msg), map_fd, BPF_SK_MSG_VERDICT);
	bpf_link__destroy(*link);
	*link = NULL;
}
