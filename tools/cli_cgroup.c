// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Where cgroup v2 is, and which directory a cgroup id names. */
#include <errno.h>
#include <ftw.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_cgroup2_mount(char *buf, size_t len)
{
	FILE *f = setmntent("/proc/mounts", "r");
	struct mntent *m;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f)))
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(buf, len, "%s", m->mnt_dir);
			err = 0;
			break;
		}
	endmntent(f);
	return err;
}

/* nftw() has no context argument. */
static uint64_t wanted_id;
static char *found;
static size_t found_len;

static int match_id(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type != FTW_D || st->st_ino != wanted_id)
		return FTW_CONTINUE;
	snprintf(found, found_len, "%s", path);
	return FTW_STOP;
}

int cli_cgroup_path(uint64_t id, char *buf, size_t len)
{
	char mount[4096];
	int err = cli_cgroup2_mount(mount, sizeof(mount));

	if (err)
		return err;
	wanted_id = id;
	found = buf;
	found_len = len;
	return nftw(mount, match_id, 32, FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL) == FTW_STOP ? 0 : -ENOENT;
}

const char *cli_cgroup_text(struct json_object *attachment)
{
	struct json_object *cg = json_object_object_get(attachment, "cgroup");
	struct json_object *id = json_object_object_get(attachment, "cgroup_id");

	if (cg)
		return json_object_get_string(cg);
	/* A cgroup that was removed drops its programs: only the pins remain. */
	if (id && !json_object_get_uint64(id))
		return "(removed; 'detach' cleans up)";
	return "?";
}
