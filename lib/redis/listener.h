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

/* The process holding the TCP socket listening on @port (in the calling
 * thread's netns; the first found), or -errno (-ENOENT: none). */
int rc_listener_pid(__u16 port);

#endif
