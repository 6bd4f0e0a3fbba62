// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "comp_testlib.h"

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

void comp_fill_text(char *buf, size_t len, uint32_t seed)
{
	static const char *const words[] = {
		"GET", "/index.html", "HTTP/1.1", "200", "OK", "{\"id\":", "\"name\":", "\"value\":",
		"true", "false", "null", "Content-Length:", "level=info", "msg=", "request",
		"served", "in", "ms", "user", "session", "2026-11-25T20:30:00Z", "error", "cache",
	};
	uint32_t s = seed | 1;
	size_t i = 0;

	while (i < len) {
		const char *w = words[xorshift(&s) % (sizeof(words) / sizeof(words[0]))];
		size_t n = strlen(w);

		if (xorshift(&s) % 4 == 0) {
			buf[i++] = '0' + xorshift(&s) % 10;
			continue;
		}
		if (n > len - i)
			n = len - i;
		memcpy(buf + i, w, n);
		i += n;
		if (i < len)
			buf[i++] = xorshift(&s) % 8 ? ' ' : '\n';
	}
}

void comp_fill_random(char *buf, size_t len, uint32_t seed)
{
	uint32_t s = seed | 1;

	for (size_t i = 0; i < len; i++)
		buf[i] = xorshift(&s) >> 24;
}

int comp_private_netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd, err = 0;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			err = -errno;
	} else {
		err = -errno;
	}
	close(fd);
	return err;
}

int comp_tcp_pair(int *client, int *server)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), err = 0;

	if (lfd < 0)
		return -errno;
	*client = *server = -1;
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen)) {
		err = -errno;
		goto out;
	}
	*client = socket(AF_INET, SOCK_STREAM, 0);
	if (*client < 0 || connect(*client, (struct sockaddr *)&a, sizeof(a))) {
		err = -errno;
		goto out;
	}
	*server = accept(lfd, NULL, NULL);
	if (*server < 0)
		err = -errno;
out:
	close(lfd);
	return err;
}

void comp_wait(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	poll(&p, 1, 1000);
}

int comp_send_all(struct ebpfaccel_comp_conn *c, int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = ebpfaccel_comp_conn__send(c, (const char *)buf + done, len - done);

		if (n == -EAGAIN) {
			comp_wait(fd, POLLOUT);
			continue;
		}
		if (n < 0)
			return n;
		done += n;
	}
	for (;;) {
		int err = ebpfaccel_comp_conn__flush(c);

		if (err != -EAGAIN)
			return err;
		comp_wait(fd, POLLOUT);
	}
}

int comp_recv_all(struct ebpfaccel_comp_conn *c, int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = ebpfaccel_comp_conn__recv(c, (char *)buf + done, len - done);

		if (n == -EAGAIN) {
			comp_wait(fd, POLLIN);
			continue;
		}
		if (n < 0)
			return n;
		if (!n)
			return -EPIPE;
		done += n;
	}
	return 0;
}

