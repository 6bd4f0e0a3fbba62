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

#endif /* EBPFACCEL_REDIS_OBJECT_H */
