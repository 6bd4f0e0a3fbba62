/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Blocking socket I/O for raw RESP clients (the Redis cache tests and the
 * bench clients): whole buffers out, exact byte counts back, with a timeout,
 * so a missing or late reply is an error instead of a hang. */
#ifndef RESP_IO_H
#define RESP_IO_H

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>

/* How long one read may wait for the next byte. A test that drops packets
 * on purpose raises it: TCP's retransmission timeout doubles at each loss of
 * the same segment (0.2 + 0.4 + 0.8 + 1.6 s), so a late reply there is
 * slow, not lost. */
#define RCC_READ_TIMEOUT_MS 2000
static int rcc_read_timeout_ms = RCC_READ_TIMEOUT_MS;

/* Sends all of @buf; 0, or -1 on error. */
static inline int rcc_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Reads exactly @len bytes; 0, or -1 on timeout/EOF/error. */
static inline int rcc_read_exact(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, rcc_read_timeout_ms) <= 0)
			return -1;
		n = recv(fd, p, len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Reads one line up to and including its '\n' into @line (NUL-terminated);
 * 0, or -1 on timeout/EOF/error or a line longer than @cap - 1. */
static inline int rcc_read_line(int fd, char *line, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		if (rcc_read_exact(fd, line + n, 1))
			return -1;
		if (line[n++] == '\n') {
			line[n] = 0;
			return 0;
		}
	}
	return -1;
}

#endif
