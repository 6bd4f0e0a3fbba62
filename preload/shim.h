/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libebpfaccel-preload.so, shared between its files: the descriptor table
 * and the per-socket state behind the libc calls the shim defines.
 */
#ifndef EBPFACCEL_PRELOAD_SHIM_H
#define EBPFACCEL_PRELOAD_SHIM_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ebpfaccel/ebpfaccel.h"

#define SHIM_MAX_FD	65536
#define FLUSH_RETRY_MS	5

/*
 * One compressed TCP socket.  Every descriptor that names it (the one it
 * was found on and its dup()s) points here; the connection itself runs on
 * a private duplicate, @fd, so that the application may close any of its
 * descriptors in any order.  The socket is released with the last one.
 */
struct shim_sock {
	int fd;				/* the shim's own descriptor of the socket */
	unsigned int aliases;		/* application descriptors naming it */
	struct ebpfaccel_comp_conn *conn;
	pthread_mutex_t rx_lock, tx_lock;
	/* Decoded bytes handed out by MSG_PEEK and not yet read (rx_lock). */
	char *peek;
	size_t peek_len, peek_cap;
	int epfd;			/* epoll instance watching it, -1 if none */
	struct epoll_event ev;
};

/* Set while the shim itself does I/O, which must reach libc directly. */
extern __thread bool shim_busy;
/* Highest descriptor ever wrapped: bounds the scans of poll, select, epoll. */
extern int shim_max_fd;

/* The libc functions the shim defines, reached through real_<name>
 * (resolved with RTLD_NEXT at load time). */
#define SHIM_REALS(X)								\
	X(ssize_t, read, int, void *, size_t)					\
	X(ssize_t, write, int, const void *, size_t)				\
	X(ssize_t, recv, int, void *, size_t, int)				\
	X(ssize_t, send, int, const void *, size_t, int)			\
	X(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *) \
	X(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t) \
	X(ssize_t, readv, int, const struct iovec *, int)			\
	X(ssize_t, writev, int, const struct iovec *, int)			\
	X(ssize_t, recvmsg, int, struct msghdr *, int)				\
	X(ssize_t, sendmsg, int, const struct msghdr *, int)			\
	X(ssize_t, sendfile, int, int, off_t *, size_t)				\
	X(int, close, int)							\
	X(int, close_range, unsigned int, unsigned int, int)			\
	X(int, socket, int, int, int)						\
	X(int, accept, int, struct sockaddr *, socklen_t *)			\
	X(int, accept4, int, struct sockaddr *, socklen_t *, int)		\
	X(int, dup, int)							\
	X(int, dup2, int, int)							\
	X(int, dup3, int, int, int)						\
	X(int, fcntl, int, int, ...)						\
	X(int, poll, struct pollfd *, nfds_t, int)				\
	X(int, ppoll, struct pollfd *, nfds_t, const struct timespec *,		\
	  const sigset_t *)							\
	X(int, select, int, fd_set *, fd_set *, fd_set *, struct timeval *)	\
	X(int, pselect, int, fd_set *, fd_set *, fd_set *, const struct timespec *, \
	  const sigset_t *)							\
	X(int, epoll_ctl, int, int, int, struct epoll_event *)			\
	X(int, epoll_wait, int, struct epoll_event *, int, int)		\
	X(int, epoll_pwait, int, struct epoll_event *, int, int, const sigset_t *) \
	X(int, epoll_pwait2, int, struct epoll_event *, int, const struct timespec *, \
	  const sigset_t *)

#define SHIM_DECLARE_REAL(ret, name, ...) extern ret (*real_##name)(__VA_ARGS__);
SHIM_REALS(SHIM_DECLARE_REAL)

/* The socket behind @fd if it is compressed (decided on its first use),
 * else NULL; errno is kept. */
struct shim_sock *shim_lookup(int fd);
/* The socket behind @fd if it was already wrapped; never classifies. */
struct shim_sock *shim_wrapped(int fd);
/* @fd (a new descriptor for the object @old names) now names @old's socket
 * too, if @old is compressed. */
void shim_alias(int old, int fd);
/* The descriptor number @fd is about to be closed or reused: drops its
 * reference, and releases the socket (pushing out its last record) with
 * the last one. */
void shim_forget(int fd);

/* Decoded bytes wait in the shim (peeked or in the connection). */
bool shim_rx_pending(struct shim_sock *s);
/* Pushes leftovers of non-blocking writes on every socket; true if some remain. */
bool shim_flush_all(void);
void shim_flush(struct shim_sock *s);

/* glibc's fortified entry points (no public prototypes), defined too. */
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		const sigset_t *mask, size_t fdslen);
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *src, socklen_t *alen);

/* -1 with errno for a negative -errno, else @ret. */
ssize_t shim_errno(ssize_t ret);

#endif
