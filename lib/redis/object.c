// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the Redis cache objects do alike when opened (object.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
