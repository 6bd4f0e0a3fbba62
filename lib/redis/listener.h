/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The cgroup of a running server's TCP listener (lib/redis/listener.c). */
#ifndef EBPFACCEL_REDIS_LISTENER_H
#define EBPFACCEL_REDIS_LISTENER_H

#include <stddef.h>
#include <linux/types.h>

/* The cgroup2 directory the connections of the TCP socket listening on
 * @port (in the calling thread's netns; held by process @pid when > 0)
 * belong to, into @path. 0 or -errno (-ENOENT: no such listener,
 * -EOPNOTSUPP: kernel < 5.7, -ENOTUNIQ: listeners in several cgroups). */
int rc_listener_cgroup(__u16 port, int pid, char *path, size_t sz);

struct inet_diag_msg;
typedef void (*rc_diag_fn)(void *ctx, const struct inet_diag_msg *m, unsigned int len);

/* Passes every TCP socket (IPv4 and IPv6) of the calling thread's netns in
 * one of @states (a mask of 1 << TCP_*) to @fn with its attributes' length.
 * 0 or -errno. */
int rc_diag_dump(__u32 states, rc_diag_fn fn, void *ctx);

/* The cgroup id (INET_DIAG_CGROUP_ID) of a rc_diag_dump() socket, 0 if the
 * kernel does not report it. */
__u64 rc_diag_cgroup_id(const struct inet_diag_msg *m, unsigned int len);

/* 1 when cgroup @id is the cgroup open at @cgroup_fd or below it (where
 * that cgroup's programs run too), 0 if not, -errno. */
int rc_cgroup_contains(int cgroup_fd, __u64 id);
/* The last listener found and its process: looking for the holder of a
 * socket reads every process' descriptors, so an unchanged listener (same
 * inode) still held by the same process is not looked for again. */
struct rc_listener_memo {
	__u32 inode;
	int pid;
};

/* The process holding the TCP socket listening on @port (in the calling
 * thread's netns; the first found), or -errno (-ENOENT: none). @memo (may
 * be NULL) is read and updated. */
int rc_listener_pid(__u16 port, struct rc_listener_memo *memo);

#endif
