/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the Redis cache objects (the server-side cache, lib/redis/cache.c,
 * and the near cache, lib/redis/near.c) do alike when they are opened: the
 * options both have, the cgroup they attach to, the credentials of the
 * library's connections. Internal to lib/redis/.
 */
#ifndef EBPFACCEL_REDIS_OBJECT_H
#define EBPFACCEL_REDIS_OBJECT_H

#include <stdbool.h>
#include <linux/types.h>

struct bpf_link;
struct bpf_map;
struct bpf_object_skeleton;
struct bpf_program;
struct ebpfaccel_load_error;

/* The checks of the options every cache object has (@who names it in the
 * warning): a cgroup (@cgroup_fd > 0, @cgroup_path, or, for an object that
 * can find it, named by option @discover, @discovering), a largest value
 * the maps can hold. 0 or -EINVAL. */
int rc_object__check_opts(const char *who, int cgroup_fd, const char *cgroup_path,
			  const char *discover, bool discovering, __u32 max_value_size);

/* The cgroup to attach to: @fd when > 0 (the caller's; *own = false), else
 * @path opened (*own = true). Returns the fd or -errno (warned). */
int rc_object__open_cgroup(const char *who, int fd, const char *path, bool *own);

/* Copies of the optional @user and @password. 0 or -ENOMEM. */
int rc_object__dup_credentials(char **user, char **password, const char *u, const char *p);

/* Loads a cache object, libbpf's messages watched from its open on
 * (internal.h): @open opens the object's skeleton into @ctx and returns
 * its bpf_object_skeleton (NULL and errno on failure); its value caches
 * get @small and @large entries (0: 65536 and 4096), the confirmations
 * one a value. Returns ebpfaccel__load_end()'s result, the reason in @why
 * and the WARN line under @who. */
int rc_object__load(const char *who, struct bpf_object_skeleton *(*open)(void *ctx),
		    void *ctx, __u32 small, __u32 large, struct ebpfaccel_load_error *why);

/* The programs of an object that works on a cgroup's connections: @verdict
 * (sk_skb) and @msg (sk_msg) on the SOCKHASH @socks, into which @sockops
 * puts the connections. */
struct rc_sock_progs {
	struct bpf_map *socks;
	struct bpf_program *verdict;
	struct bpf_program *msg;
	struct bpf_program *sockops;
};

/* Attaches the programs of @p, the sock_ops one to @cgroup_fd as *@link.
 * 0 or -errno (whatever was attached stays, for
 * rc_object__release_sockets()). */
int rc_object__attach_sockets(struct rc_sock_progs p, int cgroup_fd,
			      struct bpf_link **link);

/* Takes every socket out of the programs' reach, then the programs off,
 * and destroys *@link (NULL after). Nothing to do when *@link is NULL. */
void rc_object__release_sockets(struct rc_sock_progs p, struct bpf_link **link);

#endif /* EBPFACCEL_REDIS_OBJECT_H */
