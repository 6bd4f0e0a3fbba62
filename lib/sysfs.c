// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Where the kernel's pseudo file systems are mounted on this machine. */
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "internal.h"

int ebpfaccel__cgroup2_path(char *buf, size_t len)
{
	struct mntent ent, *m;
	char strings[4096];
	FILE *f;
	int err = -ENOENT;

	if (!buf || !len)
		return -EINVAL;
	/* Hybrid setups mount v2 at .../unified, pure v2 at /sys/fs/cgroup:
	 * never guess, read the mount table. */
	f = setmntent("/proc/mounts", "re");
	if (!f)
		return -errno;
	while ((m = getmntent_r(f, &ent, strings, sizeof(strings)))) {
		if (strcmp(m->mnt_type, "cgroup2"))
			continue;
		if (strlen(m->mnt_dir) >= len) {
			err = -ENAMETOOLONG;
			break;
		}
		strcpy(buf, m->mnt_dir);
		err = 0;
		break;
	}
	endmntent(f);
	return err;
}

int ebpfaccel__bpffs_at(const char *path)
{
	struct statfs st;

	if (statfs(path, &st))
		return -errno;
	return st.f_type == BPF_FS_MAGIC ? 0 : -ENOENT;
}

void ebpfaccel__bump_memlock(void)
{
	struct rlimit r = { RLIM_INFINITY, RLIM_INFINITY };

	/* Best effort: only kernels before 5.11 need it, and an unprivileged
	 * caller cannot raise it anyway (its load then fails with EPERM). */
	setrlimit(RLIMIT_MEMLOCK, &r);
}
