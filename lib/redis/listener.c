// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which cgroup a running redis-server's connections belong to.
 *
 * An accepted socket takes the cgroup of its listening socket, and that is
 * the cgroup the listener was created in, not where the process runs now
 * (a server moved after start keeps its old one). So the cgroup is read
 * from the listener itself: NETLINK_SOCK_DIAG reports it as
 * INET_DIAG_CGROUP_ID (kernel >= 5.7), a cgroup2 directory's inode number.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

#include "internal.h"
#include "ebpfaccel/redis_cache.h"
#include "redis/listener.h"

struct listener_query {
	__u16 port;
	int pid;
	__u64 cgroup_id;	/* 0 until a listener matched */
	__u32 inode;		/* of the first listener on the port */
	int found;		/* listeners on the port (any pid) */
	int err;
};

/* Whether process @pid holds the socket with inode @ino. */
static bool pid_owns_inode(int pid, __u32 ino)
{
	char dir[64], link[PATH_MAX], want[64];
	struct dirent *de;
	bool owns = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	snprintf(want, sizeof(want), "socket:[%u]", ino);
	d = opendir(dir);
	if (!d)
		return false;
	while (!owns && (de = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);

		owns = n > 0 && (link[n] = 0, !strcmp(link, want));
	}
	closedir(d);
	return owns;
}

__u64 rc_diag_cgroup_id(const struct inet_diag_msg *m, unsigned int len)
{
	unsigned int alen = len - NLMSG_ALIGN(sizeof(*m));
	struct rtattr *a = (struct rtattr *)((char *)m + NLMSG_ALIGN(sizeof(*m)));
	__u64 id = 0;

	for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
		if (a->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(a) >= sizeof(id))
			memcpy(&id, RTA_DATA(a), sizeof(id));
	return id;
}

static void listener_seen(struct listener_query *q, const struct inet_diag_msg *m,
			  unsigned int len)
{
	__u64 id;

	if (ntohs(m->id.idiag_sport) != q->port)
		return;
	if (!q->found++)
		q->inode = m->idiag_inode;
	if (q->pid > 0 && !pid_owns_inode(q->pid, m->idiag_inode))
		return;
	id = rc_diag_cgroup_id(m, len);
	if (!id) {
		pr_warn("redis_cache: the kernel does not report sockets' cgroups "
			"(INET_DIAG_CGROUP_ID needs Linux 5.7): give the cgroup\n");
		q->err = -EOPNOTSUPP;
	} else if (q->cgroup_id && q->cgroup_id != id) {
		pr_warn("redis_cache: port %u has listeners in different cgroups: "
			"give the cgroup (or the pid)\n", q->port);
		q->err = -ENOTUNIQ;
	} else {
		q->cgroup_id = id;
	}
}

/* Reads one dump's replies; 1 when it is done, 0 for more, -errno. */
static int diag_recv(int fd, rc_diag_fn fn, void *ctx)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *h;
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(h);

			return e->error ? e->error : 1;
		}
		if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
		    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
			fn(ctx, NLMSG_DATA(h), h->nlmsg_len - NLMSG_LENGTH(0));
	}
	return 0;
}

/* Every TCP socket of @family in one of @states (a mask of 1 << TCP_*) in
 * the calling thread's netns, each passed to @fn. */
static int diag_dump(int fd, int family, __u32 states, rc_diag_fn fn, void *ctx)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req = {
		.nh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.r = {
			.sdiag_family = family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = states,
		},
	};
	int err;

	if (send(fd, &req, sizeof(req), 0) < 0)
		return -errno;
	while (!(err = diag_recv(fd, fn, ctx)))
		;
	return err < 0 ? err : 0;
}

int rc_diag_dump(__u32 states, rc_diag_fn fn, void *ctx)
{
	int fd, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	err = diag_dump(fd, AF_INET, states, fn, ctx);
	if (!err)
		err = diag_dump(fd, AF_INET6, states, fn, ctx);
	close(fd);
	return err;
}

static void listener_seen_cb(void *ctx, const struct inet_diag_msg *m, unsigned int len)
{
	listener_seen(ctx, m, len);
}

static int listener_cgroup_id(__u16 port, int pid, __u64 *id)
{
	struct listener_query q = { .port = port, .pid = pid };
	int err;

	err = rc_diag_dump(1 << TCP_LISTEN, listener_seen_cb, &q) ?: q.err;
	if (err)
		return err;
	if (!q.cgroup_id) {
		pr_warn("redis_cache: no TCP socket listens on port %u%s in this network namespace\n",
			port, q.found ? " held by that process" : "");
		return -ENOENT;
	}
	*id = q.cgroup_id;
	return 0;
}

static int cgroup2_mount(char *dir, size_t sz)
{
	struct mntent ent, *m;
	char buf[4096];
	FILE *f = setmntent("/proc/self/mounts", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (err && (m = getmntent_r(f, &ent, buf, sizeof(buf))))
		if (!strcmp(m->mnt_type, "cgroup2") &&
		    snprintf(dir, sz, "%s", m->mnt_dir) < (int)sz)
			err = 0;
	endmntent(f);
	if (err)
		pr_warn("redis_cache: no cgroup2 file system is mounted\n");
	return err;
}

/* Depth-first search under @path (PATH_MAX bytes) for the directory whose
 * inode is @ino; leaves it in @path. 1 found, 0 not, -errno. */
static int cgroup_walk(char *path, size_t len, __u64 ino)
{
	struct dirent *de;
	struct stat st;
	int found = 0;
	DIR *d;

	if (stat(path, &st))
		return errno == ENOENT ? 0 : -errno;	/* removed meanwhile */
	if (st.st_ino == ino)
		return 1;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (!found && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (de->d_type != DT_DIR || de->d_name[0] == '.' || len + 1 + n >= PATH_MAX)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, n + 1);
		found = cgroup_walk(path, len + 1 + n, ino);
	}
	closedir(d);
	if (!found)
		path[len] = 0;
	return found;
}

int rc_cgroup_contains(int cgroup_fd, __u64 id)
{
	char dir[PATH_MAX];
	struct stat st;

	if (fstat(cgroup_fd, &st))
		return -errno;
	if (st.st_ino == id)
		return 1;
	snprintf(dir, sizeof(dir), "/proc/self/fd/%d", cgroup_fd);
	return cgroup_walk(dir, strlen(dir), id);
}

int rc_listener_cgroup(__u16 port, int pid, char *path, size_t sz)
{
	char dir[PATH_MAX];
	__u64 id = 0;
	int err;

	if (!port || pid < 0 || !path || !sz)
		return -EINVAL;
	err = listener_cgroup_id(port, pid, &id);
	if (!err)
		err = cgroup2_mount(dir, sizeof(dir));
	if (err)
		return err;
	err = cgroup_walk(dir, strlen(dir), id);
	if (err < 0)
		return err;
	if (!err) {
		pr_warn("redis_cache: the cgroup (id %llu) of port %u's listener is not under %s "
			"(removed, or another cgroup namespace)\n", (unsigned long long)id, port, dir);
		return -ENOENT;
	}
	if (snprintf(path, sz, "%s", dir) >= (int)sz)
		return -ENAMETOOLONG;
	return 0;
}

int rc_listener_pid(__u16 port, struct rc_listener_memo *memo)
{
	struct listener_query q = { .port = port };
	struct dirent *de;
	int pid = -ENOENT, err;
	DIR *d;

	/* a listener without a cgroup id (kernel < 5.7) still has an inode */
	err = rc_diag_dump(1 << TCP_LISTEN, listener_seen_cb, &q);
	if (err)
		return err;
	if (!q.found)
		return -ENOENT;
	/* inode numbers of live sockets are unique: the same one still held
	 * by the same process is the same listener */
	if (memo && memo->pid > 0 && memo->inode == q.inode &&
	    pid_owns_inode(memo->pid, q.inode))
		return memo->pid;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while (pid < 0 && (de = readdir(d))) {
		int p = atoi(de->d_name);

		if (p > 0 && pid_owns_inode(p, q.inode))
			pid = p;
	}
	closedir(d);
	if (memo && pid > 0)
		*memo = (struct rc_listener_memo){ .inode = q.inode, .pid = pid };
	return pid;
}

EBPFACCEL_API int ebpfaccel_redis_cache__find_cgroup(__u16 port, int pid, char *buf,
						     size_t size)
{
	return rc_listener_cgroup(port, pid, buf, size);
}
