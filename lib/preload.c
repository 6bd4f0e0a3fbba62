// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libebpfaccel-preload.so: LD_PRELOAD shim that gives unmodified programs
 * compression on sockets whose handshake negotiated it (policy ports).
 *
 * Every connected TCP socket is looked at once, on its first I/O call: if
 * the negotiation program recorded compression for it, the socket's reads
 * and writes go through an ebpfaccel_comp_conn from then on; anything else
 * passes straight to libc.  poll() and epoll_wait() report sockets whose
 * decoded bytes sit in the shim (the kernel no longer sees them), and push
 * record bytes that a non-blocking write left behind.
 *
 * Limits: select(), dup()ed descriptors, a socket watched by several epoll
 * instances and control messages are not supported on compressed sockets;
 * MSG_PEEK / MSG_OOB fail with EOPNOTSUPP there, MSG_DONTWAIT is ignored
 * (the socket's own O_NONBLOCK counts).  Reading the state needs
 * the privilege to enumerate BPF maps (CAP_SYS_ADMIN).
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "ebpfaccel/ebpfaccel.h"

#define SHIM_MAX_FD	65536
#define FLUSH_RETRY_MS	5
#define CLOSE_FLUSH_MS	1000

enum { FD_UNKNOWN = 0, FD_PLAIN, FD_WRAPPED };

struct shim_sock {
	int fd;
	struct ebpfaccel_comp_conn *conn;
	pthread_mutex_t rx_lock, tx_lock;
	int epfd;			/* epoll instance watching it, -1 if none */
	struct epoll_event ev;
};

static unsigned char fd_class[SHIM_MAX_FD];
static struct shim_sock *socks[SHIM_MAX_FD];
/* Highest descriptor ever wrapped: bounds the scans of poll/epoll_wait. */
static int max_wrapped_fd = -1;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
/* Set while the library itself does I/O, which must reach libc directly. */
static __thread bool in_shim;

#define REAL(name) real_##name
#define DECLARE_REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
DECLARE_REAL(ssize_t, read, int, void *, size_t);
DECLARE_REAL(ssize_t, write, int, const void *, size_t);
DECLARE_REAL(ssize_t, recv, int, void *, size_t, int);
DECLARE_REAL(ssize_t, send, int, const void *, size_t, int);
DECLARE_REAL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *);
DECLARE_REAL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t);
DECLARE_REAL(ssize_t, readv, int, const struct iovec *, int);
DECLARE_REAL(ssize_t, writev, int, const struct iovec *, int);
DECLARE_REAL(ssize_t, recvmsg, int, struct msghdr *, int);
DECLARE_REAL(ssize_t, sendmsg, int, const struct msghdr *, int);
DECLARE_REAL(ssize_t, sendfile, int, int, off_t *, size_t);
DECLARE_REAL(int, close, int);
DECLARE_REAL(int, socket, int, int, int);
DECLARE_REAL(int, accept, int, struct sockaddr *, socklen_t *);
DECLARE_REAL(int, accept4, int, struct sockaddr *, socklen_t *, int);
DECLARE_REAL(int, dup2, int, int);
DECLARE_REAL(int, dup3, int, int, int);
DECLARE_REAL(int, poll, struct pollfd *, nfds_t, int);
DECLARE_REAL(int, epoll_ctl, int, int, int, struct epoll_event *);
DECLARE_REAL(int, epoll_wait, int, struct epoll_event *, int, int);

#define RESOLVE(name) real_##name = dlsym(RTLD_NEXT, #name)

__attribute__((constructor)) static void shim_init(void)
{
	RESOLVE(read); RESOLVE(write); RESOLVE(recv); RESOLVE(send);
	RESOLVE(recvfrom); RESOLVE(sendto); RESOLVE(readv); RESOLVE(writev);
	RESOLVE(recvmsg); RESOLVE(sendmsg); RESOLVE(sendfile); RESOLVE(close);
	RESOLVE(socket); RESOLVE(accept); RESOLVE(accept4); RESOLVE(dup2);
	RESOLVE(dup3); RESOLVE(poll); RESOLVE(epoll_ctl); RESOLVE(epoll_wait);
}

static bool fd_in_range(int fd)
{
	return fd >= 0 && fd < SHIM_MAX_FD;
}

static void sock_free(struct shim_sock *s)
{
	ebpfaccel_comp_conn__free(s->conn);
	pthread_mutex_destroy(&s->rx_lock);
	pthread_mutex_destroy(&s->tx_lock);
	free(s);
}

/* The descriptor number now names something new. */
static void forget_fd(int fd)
{
	struct shim_sock *s;

	if (in_shim || !fd_in_range(fd))
		return;
	pthread_mutex_lock(&table_lock);
	s = socks[fd];
	socks[fd] = NULL;
	fd_class[fd] = FD_UNKNOWN;
	pthread_mutex_unlock(&table_lock);
	if (s)
		sock_free(s);
}

static struct shim_sock *wrap(int fd)
{
	struct ebpfaccel_comp_state st = { .sz = sizeof(st) };
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .tx = &st.tx, .rx = &st.rx);
	struct shim_sock *s;

	if (ebpfaccel_comp__state(fd, &st) ||
	    (st.phase != EBPFACCEL_COMP_PHASE_ON && st.phase != EBPFACCEL_COMP_PHASE_CONFIRMING) ||
	    (st.tx.algo == TCP_COMP_ALGO_NONE && st.rx.algo == TCP_COMP_ALGO_NONE))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->conn = ebpfaccel_comp_conn__new(fd, &o);
	if (!s->conn) {
		free(s);
		return NULL;
	}
	s->fd = fd;
	s->epfd = -1;
	pthread_mutex_init(&s->rx_lock, NULL);
	pthread_mutex_init(&s->tx_lock, NULL);
	return s;
}

/* Decides once per descriptor; a TCP socket not yet connected stays unknown. */
static int classify(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	int proto, cls = FD_PLAIN;

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) || proto != IPPROTO_TCP)
		return FD_PLAIN;
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		return FD_UNKNOWN;
	socks[fd] = wrap(fd);
	if (socks[fd]) {
		cls = FD_WRAPPED;
		if (fd > max_wrapped_fd)
			max_wrapped_fd = fd;
	}
	return cls;
}

static struct shim_sock *lookup(int fd)
{
	struct shim_sock *s = NULL;
	int saved = errno;

	if (in_shim || !fd_in_range(fd) || fd_class[fd] == FD_PLAIN)
		return NULL;
	pthread_mutex_lock(&table_lock);
	if (fd_class[fd] == FD_UNKNOWN) {
		in_shim = true;
		fd_class[fd] = classify(fd);
		in_shim = false;
	}
	if (fd_class[fd] == FD_WRAPPED)
		s = socks[fd];
	pthread_mutex_unlock(&table_lock);
	errno = saved;
	return s;
}

static ssize_t set_errno(ssize_t ret)
{
	if (ret >= 0)
		return ret;
	errno = -ret;
	return -1;
}

static ssize_t shim_recv(struct shim_sock *s, void *buf, size_t len)
{
	ssize_t n;

	pthread_mutex_lock(&s->rx_lock);
	in_shim = true;
	n = ebpfaccel_comp_conn__recv(s->conn, buf, len);
	in_shim = false;
	pthread_mutex_unlock(&s->rx_lock);
	return set_errno(n);
}

/* Decoded bytes cannot be peeked at without consuming them: refuse rather
 * than lose data.  MSG_WAITALL is honoured. */
static ssize_t shim_recv_flags(struct shim_sock *s, void *buf, size_t len, int flags)
{
	size_t got = 0;
	ssize_t n;

	if (flags & (MSG_PEEK | MSG_OOB)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (!(flags & MSG_WAITALL))
		return shim_recv(s, buf, len);
	while (got < len) {
		n = shim_recv(s, (char *)buf + got, len - got);
		if (n <= 0)
			return got ? (ssize_t)got : n;
		got += n;
	}
	return got;
}

static ssize_t shim_send(struct shim_sock *s, const void *buf, size_t len)
{
	ssize_t n;

	pthread_mutex_lock(&s->tx_lock);
	in_shim = true;
	n = ebpfaccel_comp_conn__send(s->conn, buf, len);
	in_shim = false;
	pthread_mutex_unlock(&s->tx_lock);
	return set_errno(n);
}

static void shim_flush(struct shim_sock *s)
{
	pthread_mutex_lock(&s->tx_lock);
	in_shim = true;
	ebpfaccel_comp_conn__flush(s->conn);
	in_shim = false;
	pthread_mutex_unlock(&s->tx_lock);
}

/* Pushes leftovers of non-blocking writes; true if some remain. */
static bool flush_all(void)
{
	bool pending = false;

	for (int fd = 0; fd <= max_wrapped_fd; fd++) {
		struct shim_sock *s = fd_class[fd] == FD_WRAPPED ? socks[fd] : NULL;

		if (!s || !ebpfaccel_comp_conn__tx_pending(s->conn))
			continue;
		shim_flush(s);
		pending |= ebpfaccel_comp_conn__tx_pending(s->conn) > 0;
	}
	return pending;
}

/* ---- data calls -------------------------------------------------------- */

ssize_t read(int fd, void *buf, size_t len)
{
	struct shim_sock *s = lookup(fd);

	return s ? shim_recv(s, buf, len) : REAL(read)(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct shim_sock *s = lookup(fd);

	return s ? shim_send(s, buf, len) : REAL(write)(fd, buf, len);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct shim_sock *s = lookup(fd);

	return s ? shim_recv_flags(s, buf, len, flags) : REAL(recv)(fd, buf, len, flags);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct shim_sock *s = lookup(fd);

	return s ? shim_send(s, buf, len) : REAL(send)(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src,
		 socklen_t *alen)
{
	struct shim_sock *s = src ? NULL : lookup(fd);

	return s ? shim_recv_flags(s, buf, len, flags) :
		   REAL(recvfrom)(fd, buf, len, flags, src, alen);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *dst,
	       socklen_t alen)
{
	struct shim_sock *s = dst ? NULL : lookup(fd);

	return s ? shim_send(s, buf, len) : REAL(sendto)(fd, buf, len, flags, dst, alen);
}

/* A short read is always allowed: fill the first non-empty buffer. */
static ssize_t shim_readv(struct shim_sock *s, const struct iovec *iov, int cnt, int flags)
{
	for (int i = 0; i < cnt; i++)
		if (iov[i].iov_len)
			return shim_recv_flags(s, iov[i].iov_base, iov[i].iov_len, flags);
	return 0;
}

static ssize_t shim_writev(struct shim_sock *s, const struct iovec *iov, int cnt)
{
	ssize_t total = 0;

	for (int i = 0; i < cnt; i++) {
		ssize_t n;

		if (!iov[i].iov_len)
			continue;
		n = shim_send(s, iov[i].iov_base, iov[i].iov_len);
		if (n < 0)
			return total ? total : -1;
		total += n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return total;
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct shim_sock *s = lookup(fd);

	return s ? shim_readv(s, iov, cnt, 0) : REAL(readv)(fd, iov, cnt);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct shim_sock *s = lookup(fd);

	return s ? shim_writev(s, iov, cnt) : REAL(writev)(fd, iov, cnt);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct shim_sock *s = msg->msg_name || msg->msg_control ? NULL : lookup(fd);

	if (!s)
		return REAL(recvmsg)(fd, msg, flags);
	msg->msg_flags = 0;
	return shim_readv(s, msg->msg_iov, msg->msg_iovlen, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct shim_sock *s = msg->msg_name || msg->msg_control ? NULL : lookup(fd);

	return s ? shim_writev(s, msg->msg_iov, msg->msg_iovlen) : REAL(sendmsg)(fd, msg, flags);
}

ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	struct shim_sock *s = lookup(out_fd);
	ssize_t n;

	if (!s)
		return REAL(sendfile)(out_fd, in_fd, offset, count);
	pthread_mutex_lock(&s->tx_lock);
	in_shim = true;
	n = ebpfaccel_comp_conn__sendfile(s->conn, in_fd, offset, count);
	in_shim = false;
	pthread_mutex_unlock(&s->tx_lock);
	return set_errno(n);
}
ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count)
	__attribute__((alias("sendfile")));

/* ---- descriptor life --------------------------------------------------- */

/* The last record must reach the socket before the descriptor goes. */
static void drain_before_close(struct shim_sock *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };

	for (int waited = 0; waited < CLOSE_FLUSH_MS && ebpfaccel_comp_conn__tx_pending(s->conn);
	     waited += FLUSH_RETRY_MS) {
		shim_flush(s);
		if (ebpfaccel_comp_conn__tx_pending(s->conn))
			REAL(poll)(&p, 1, FLUSH_RETRY_MS);
	}
}

int close(int fd)
{
	if (in_shim)
		return REAL(close)(fd);
	if (fd_in_range(fd) && fd_class[fd] == FD_WRAPPED && socks[fd])
		drain_before_close(socks[fd]);
	forget_fd(fd);
	return REAL(close)(fd);
}

int socket(int domain, int type, int proto)
{
	int fd = REAL(socket)(domain, type, proto);

	forget_fd(fd);
	return fd;
}

int accept(int lfd, struct sockaddr *addr, socklen_t *alen)
{
	int fd = REAL(accept)(lfd, addr, alen);

	forget_fd(fd);
	return fd;
}

int accept4(int lfd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	int fd = REAL(accept4)(lfd, addr, alen, flags);

	forget_fd(fd);
	return fd;
}

int dup2(int old, int new)
{
	int fd = REAL(dup2)(old, new);

	if (fd >= 0 && old != new)
		forget_fd(fd);
	return fd;
}

int dup3(int old, int new, int flags)
{
	int fd = REAL(dup3)(old, new, flags);

	if (fd >= 0)
		forget_fd(fd);
	return fd;
}

/* ---- readiness --------------------------------------------------------- */

static bool has_buffered_input(int fd)
{
	return !in_shim && fd_in_range(fd) && fd_class[fd] == FD_WRAPPED && socks[fd] &&
	       ebpfaccel_comp_conn__rx_pending(socks[fd]->conn);
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	int ready = 0, ret;

	if (in_shim)
		return REAL(poll)(fds, n, timeout);
	if (flush_all() && (timeout < 0 || timeout > FLUSH_RETRY_MS))
		timeout = FLUSH_RETRY_MS;
	for (nfds_t i = 0; i < n; i++)
		if ((fds[i].events & POLLIN) && has_buffered_input(fds[i].fd))
			ready++;
	ret = REAL(poll)(fds, n, ready ? 0 : timeout);
	if (ret < 0 || !ready)
		return ret;
	ret = 0;
	for (nfds_t i = 0; i < n; i++) {
		if ((fds[i].events & POLLIN) && has_buffered_input(fds[i].fd))
			fds[i].revents |= POLLIN;
		ret += fds[i].revents != 0;
	}
	return ret;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int ret = REAL(epoll_ctl)(epfd, op, fd, ev);
	struct shim_sock *s;

	if (ret || !(s = lookup(fd)))
		return ret;
	s->epfd = op == EPOLL_CTL_DEL ? -1 : epfd;
	if (ev && op != EPOLL_CTL_DEL)
		s->ev = *ev;
	return ret;
}

/* Adds EPOLLIN for sockets of @epfd whose decoded bytes wait in the shim. */
static int add_buffered_events(int epfd, struct epoll_event *events, int n, int max)
{
	for (int fd = 0; fd <= max_wrapped_fd && n < max; fd++) {
		struct shim_sock *s = fd_class[fd] == FD_WRAPPED ? socks[fd] : NULL;
		int i;

		if (!s || s->epfd != epfd || !(s->ev.events & EPOLLIN) ||
		    !ebpfaccel_comp_conn__rx_pending(s->conn))
			continue;
		for (i = 0; i < n && events[i].data.u64 != s->ev.data.u64; i++)
			;
		events[i].events |= EPOLLIN;
		events[i].data = s->ev.data;
		if (i == n)
			n++;
	}
	return n;
}

static bool epoll_has_buffered(int epfd)
{
	struct epoll_event probe;

	return add_buffered_events(epfd, &probe, 0, 1) > 0;
}

int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout)
{
	int n;

	if (in_shim)
		return REAL(epoll_wait)(epfd, events, max, timeout);
	if (flush_all() && (timeout < 0 || timeout > FLUSH_RETRY_MS))
		timeout = FLUSH_RETRY_MS;
	if (epoll_has_buffered(epfd))
		timeout = 0;
	n = REAL(epoll_wait)(epfd, events, max, timeout);
	if (n < 0)
		return n;
	return add_buffered_events(epfd, events, n, max);
}
