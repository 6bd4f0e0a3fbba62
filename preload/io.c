// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The shim's data calls: reads and writes on a compressed socket go through
 * its connection; everything else passes straight to libc.
 *
 * MSG_PEEK: decoded bytes are kept in the socket's peek buffer, and reads
 * take from there first.  MSG_DONTWAIT: without buffered bytes, a socket
 * that has nothing to read gives EAGAIN; once it has, the call may wait
 * for the rest of a record that is partly there.  MSG_OOB and control
 * messages are not supported on compressed sockets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>

#include "shim.h"

#define PEEK_READ_MIN	16384

static ssize_t conn_recv(struct shim_sock *s, void *buf, size_t len)
{
	ssize_t n;

	shim_busy = true;
	n = ebpfaccel_comp_conn__recv(s->conn, buf, len);
	shim_busy = false;
	return n;
}

/* Called with rx_lock held. */
static size_t take_peeked(struct shim_sock *s, void *buf, size_t len)
{
	size_t n = len < s->peek_len ? len : s->peek_len;

	memcpy(buf, s->peek, n);
	s->peek_len -= n;
	memmove(s->peek, s->peek + n, s->peek_len);
	return n;
}

static ssize_t shim_recv(struct shim_sock *s, void *buf, size_t len)
{
	ssize_t n;

	pthread_mutex_lock(&s->rx_lock);
	n = s->peek_len ? (ssize_t)take_peeked(s, buf, len) : conn_recv(s, buf, len);
	pthread_mutex_unlock(&s->rx_lock);
	return shim_errno(n);
}

/* Decodes more into the peek buffer.  Called with rx_lock held. */
static ssize_t peek_more(struct shim_sock *s, size_t want)
{
	size_t room = want < PEEK_READ_MIN ? PEEK_READ_MIN : want;
	ssize_t n;

	if (s->peek_cap - s->peek_len < room) {
		char *p = realloc(s->peek, s->peek_len + room);

		if (!p)
			return -ENOMEM;
		s->peek = p;
		s->peek_cap = s->peek_len + room;
	}
	n = conn_recv(s, s->peek + s->peek_len, s->peek_cap - s->peek_len);
	if (n > 0)
		s->peek_len += n;
	return n;
}

/* Bytes stay in the peek buffer until read.  Whatever is buffered is
 * returned once the socket has no more to give (end of stream, error, or
 * EAGAIN), as the kernel does for MSG_PEEK | MSG_WAITALL. */
static ssize_t shim_peek(struct shim_sock *s, void *buf, size_t len, bool waitall)
{
	ssize_t n = 0;

	pthread_mutex_lock(&s->rx_lock);
	while (!s->peek_len || (waitall && s->peek_len < len)) {
		n = peek_more(s, len - s->peek_len);
		if (n <= 0)
			break;
	}
	if (s->peek_len) {
		n = len < s->peek_len ? len : s->peek_len;
		memcpy(buf, s->peek, n);
	}
	pthread_mutex_unlock(&s->rx_lock);
	return shim_errno(n);
}

/* MSG_DONTWAIT on a blocking socket: refuse to wait when nothing is there. */
static bool would_block(struct shim_sock *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };

	return !shim_rx_pending(s) && real_poll(&p, 1, 0) == 0;
}

static ssize_t shim_recv_flags(struct shim_sock *s, void *buf, size_t len, int flags)
{
	size_t got = 0;
	ssize_t n;

	if (flags & MSG_OOB) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if ((flags & MSG_DONTWAIT) && would_block(s)) {
		errno = EAGAIN;
		return -1;
	}
	if (flags & MSG_PEEK)
		return shim_peek(s, buf, len, flags & MSG_WAITALL);
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
	shim_busy = true;
	n = ebpfaccel_comp_conn__send(s->conn, buf, len);
	shim_busy = false;
	pthread_mutex_unlock(&s->tx_lock);
	return shim_errno(n);
}

ssize_t read(int fd, void *buf, size_t len)
{
	struct shim_sock *s = shim_lookup(fd);

	return s ? shim_recv(s, buf, len) : real_read(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct shim_sock *s = shim_lookup(fd);

	return s ? shim_send(s, buf, len) : real_write(fd, buf, len);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct shim_sock *s = shim_lookup(fd);

	return s ? shim_recv_flags(s, buf, len, flags) : real_recv(fd, buf, len, flags);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct shim_sock *s = shim_lookup(fd);

	return s ? shim_send(s, buf, len) : real_send(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src,
		 socklen_t *alen)
{
	struct shim_sock *s = src ? NULL : shim_lookup(fd);

	return s ? shim_recv_flags(s, buf, len, flags) :
		   real_recvfrom(fd, buf, len, flags, src, alen);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *dst,
	       socklen_t alen)
{
	struct shim_sock *s = dst ? NULL : shim_lookup(fd);

	return s ? shim_send(s, buf, len) : real_sendto(fd, buf, len, flags, dst, alen);
}

/* Fortified builds call these when the buffer's size is known. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		abort();
	return read(fd, buf, len);
}

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		abort();
	return recv(fd, buf, len, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *src, socklen_t *alen)
{
	if (len > buflen)
		abort();
	return recvfrom(fd, buf, len, flags, src, alen);
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
	struct shim_sock *s = shim_lookup(fd);

	return s ? shim_readv(s, iov, cnt, 0) : real_readv(fd, iov, cnt);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct shim_sock *s = shim_lookup(fd);

	return s ? shim_writev(s, iov, cnt) : real_writev(fd, iov, cnt);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct shim_sock *s = msg->msg_name || msg->msg_control ? NULL : shim_lookup(fd);

	if (!s)
		return real_recvmsg(fd, msg, flags);
	msg->msg_flags = 0;
	return shim_readv(s, msg->msg_iov, msg->msg_iovlen, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct shim_sock *s = msg->msg_name || msg->msg_control ? NULL : shim_lookup(fd);

	return s ? shim_writev(s, msg->msg_iov, msg->msg_iovlen) : real_sendmsg(fd, msg, flags);
}

ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	struct shim_sock *s = shim_lookup(out_fd);
	ssize_t n;

	if (!s)
		return real_sendfile(out_fd, in_fd, offset, count);
	pthread_mutex_lock(&s->tx_lock);
	shim_busy = true;
	n = ebpfaccel_comp_conn__sendfile(s->conn, in_fd, offset, count);
	shim_busy = false;
	pthread_mutex_unlock(&s->tx_lock);
	return shim_errno(n);
}
ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count)
	__attribute__((alias("sendfile")));
