// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Persistent attachments below /sys/fs/bpf/ebpfaccel: see pin.h. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <bpf/bpf.h>

#include "internal.h"
#include "pin.h"

/* bpffs refuses dots in names (reserved by the kernel): "~tmp-<pid>-<name>". */
#define TMP_PREFIX "~tmp-"

static bool name_ok(const char *name)
{
	return name && *name && name[0] != '~' && !strpbrk(name, "/.") && strlen(name) < 128;
}

int ebpfaccel__pin_dir(const char *feature, const char *name_or_path, char *buf, size_t len)
{
	int n;

	if (name_or_path && strchr(name_or_path, '/'))
		n = snprintf(buf, len, "%s", name_or_path);
	else if (name_ok(name_or_path))
		n = snprintf(buf, len, "%s/%s/%s", EBPFACCEL_PIN_ROOT, feature, name_or_path);
	else
		return -EINVAL;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int ensure_bpffs(void)
{
	int err = ebpfaccel__bpffs_at(EBPFACCEL_BPFFS);

	if (err != -ENOENT)
		return err;
	err = ebpfaccel__need_caps("mount bpffs at " EBPFACCEL_BPFFS " for pinning",
				   CAPMASK(CAP_SYS_ADMIN));
	if (err)
		return err;
	/* As 'mount -t bpf bpf /sys/fs/bpf' would: other tools share it. */
	if (mount("bpf", EBPFACCEL_BPFFS, "bpf", 0, NULL)) {
		err = -errno;
		pr_warn("pin: bpffs is not mounted and mounting it at %s failed: %s "
			"(mount it with 'mount -t bpf bpf %s')\n", EBPFACCEL_BPFFS, strerror(errno),
			EBPFACCEL_BPFFS);
		return err;
	}
	pr_info("pin: mounted bpffs at %s (it was not mounted)\n", EBPFACCEL_BPFFS);
	return 0;
}

static int mkdir_0700(const char *path)
{
	if (mkdir(path, 0700) && errno != EEXIST) {
		pr_warn("pin: creating %s failed: %s\n", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * The last reference of a pinned link goes with its inode, which bpffs
 * frees after an RCU grace period, and the link leaves its cgroup later
 * still, from a workqueue: measured, a sock_ops program was still attached
 * after the unlink returned.  Detaching first makes removing a pin mean it
 * is gone when this returns (for a pinned map, the detach fails: ignored).
 */
static void detach_pinned(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	bpf_link_detach(fd);
	close(fd);
}

int ebpfaccel__unpin_dir(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int err = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		detach_pinned(dir, de->d_name);
		if (unlinkat(dirfd(d), de->d_name, 0) && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(dir) && !err)
		err = -errno;
	if (err)
		pr_warn("pin: removing %s failed: %s\n", dir, strerror(-err));
	return err;
}

/* A temporary directory is "<TMP_PREFIX><pid>-<name>"; the process that
 * made it died before renaming it if that pid is gone. */
static void reap_stale(const char *feature_dir)
{
	struct dirent *de;
	DIR *d = opendir(feature_dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		long pid;

		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
			continue;
		pid = strtol(de->d_name + strlen(TMP_PREFIX), NULL, 10);
		if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		snprintf(path, sizeof(path), "%s/%s", feature_dir, de->d_name);
		pr_info("pin: removing %s, left by a process that died while pinning\n", path);
		ebpfaccel__unpin_dir(path);
	}
	closedir(d);
}

static int pin_all(const char *tmp, const struct pin_obj *objs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", tmp, objs[i].file);
		if (bpf_obj_pin(objs[i].fd, path) || chmod(path, 0600)) {
			int err = -errno;

			pr_warn("pin: pinning %s failed: %s\n", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

int ebpfaccel__pin_objs(const char *feature, const char *name, const struct pin_obj *objs,
			size_t n, char *dir, size_t dir_len)
{
	char feature_dir[256], tmp[512];
	int err;

	if (!name_ok(name))
		return -EINVAL;
	err = ensure_bpffs();
	if (!err)
		err = mkdir_0700(EBPFACCEL_PIN_ROOT);
	snprintf(feature_dir, sizeof(feature_dir), "%s/%s", EBPFACCEL_PIN_ROOT, feature);
	if (!err)
		err = mkdir_0700(feature_dir);
	if (!err)
		err = ebpfaccel__pin_dir(feature, name, dir, dir_len);
	if (err)
		return err;
	reap_stale(feature_dir);
	if (!access(dir, F_OK)) {
		pr_warn("pin: %s exists: detach it first, or choose another name\n", dir);
		return -EEXIST;
	}
	snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "%d-%s", feature_dir, (int)getpid(), name);
	err = mkdir_0700(tmp);
	if (!err)
		err = pin_all(tmp, objs, n);
	/* rename() onto a directory that appeared meanwhile fails (ENOTEMPTY/EEXIST). */
	if (!err && rename(tmp, dir)) {
		err = errno == ENOTEMPTY ? -EEXIST : -errno;
		pr_warn("pin: moving %s to %s failed: %s\n", tmp, dir, strerror(-err));
	}
	if (err)
		ebpfaccel__unpin_dir(tmp);
	return err;
}

int ebpfaccel__pin_get(const char *dir, const char *file)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}
