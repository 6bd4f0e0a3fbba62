// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"

void guest_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void guest_tcp_pair(int family, int *client, int *server)
{
	struct sockaddr_storage ss = { .ss_family = family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int lfd;

	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	lfd = socket(family, SOCK_STREAM, 0);
	CHECK(lfd >= 0, "socket: %m");
	CHECK(!bind(lfd, (struct sockaddr *)&ss, len), "bind: %m");
	CHECK(!listen(lfd, 1), "listen: %m");
	CHECK(!getsockname(lfd, (struct sockaddr *)&ss, &len), "getsockname: %m");
	*client = socket(family, SOCK_STREAM, 0);
	CHECK(*client >= 0, "socket: %m");
	CHECK(!connect(*client, (struct sockaddr *)&ss, len), "connect: %m");
	*server = accept(lfd, NULL, NULL);
	CHECK(*server >= 0, "accept: %m");
	close(lfd);
}

void guest_ulp(int fd)
{
	CHECK(!setsockopt(fd, SOL_TCP, TCP_ULP, TCP_COMP_ULP_NAME, sizeof(TCP_COMP_ULP_NAME)),
	      "TCP_ULP comp: %m");
}

void guest_comp_pair(int family, const struct tcp_comp_params *p, int *client, int *server)
{
	guest_tcp_pair(family, client, server);
	guest_ulp(*client);
	guest_ulp(*server);
	guest_comp(*client, TCP_COMP_TX, p);
	guest_comp(*server, TCP_COMP_RX, p);
}

int guest_format = TCP_COMP_VERSION_2;

int guest_module_max_format(void)
{
	FILE *f = fopen("/sys/module/tcp_comp/parameters/max_format", "r");
	int v = 0;

	CHECK(f, "tcp_comp's max_format parameter: %m");
	CHECK(fscanf(f, "%d", &v) == 1, "max_format unreadable");
	fclose(f);
	return v;
}

struct tcp_comp_params guest_params(int algo, int mode, int level, uint32_t record_size,
				    uint32_t flags)
{
	struct tcp_comp_params p = {
		.version = guest_format, .algo = algo, .mode = mode, .level = level,
		.record_size = record_size, .flags = flags,
	};
	return p;
}

void guest_comp(int fd, int dir, const struct tcp_comp_params *p)
{
	CHECK(!setsockopt(fd, SOL_TCP_COMP, dir, p, sizeof(*p)), "TCP_COMP_%s: %m",
	      dir == TCP_COMP_TX ? "TX" : "RX");
}

struct tcp_comp_stats guest_stats(int fd)
{
	struct tcp_comp_stats st;
	socklen_t len = sizeof(st);

	CHECK(!getsockopt(fd, SOL_TCP_COMP, TCP_COMP_STATS, &st, &len), "TCP_COMP_STATS: %m");
	CHECK(len == sizeof(st), "stats len %u", len);
	return st;
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

void guest_fill(uint8_t *buf, size_t len, int compressible, uint32_t seed)
{
	static const char *const words[] = {
		"GET ", "SET ", "user:", "session ", "value ", "\r\n", "42 ", "cache ",
	};
	uint32_t s = seed | 1;
	size_t i = 0;

	while (i < len) {
		if (compressible) {
			const char *w = words[xorshift(&s) % 8];

			while (*w && i < len)
				buf[i++] = *w++;
		} else {
			buf[i++] = xorshift(&s);
		}
	}
}

void guest_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		CHECK(n > 0, "write: %m");
		p += n;
		len -= n;
	}
}

void guest_read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		CHECK(n > 0, "read: %zd %m (%zu bytes missing)", n, len);
		p += n;
		len -= n;
	}
}

double guest_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void guest_expect_module_rx(int srv, const uint8_t *data, size_t len, int sender,
			    const char *what)
{
	uint8_t *got = malloc(len);
	struct tcp_comp_stats st;
	int status;

	CHECK(got, "malloc");
	guest_read_all(srv, got, len);
	CHECK(!memcmp(got, data, len), "%s: data differs", what);
	CHECK(recv(srv, got, 1, 0) == 0, "EOF");
	st = guest_stats(srv);
	CHECK(!st.rx_errors && st.rx_bytes_out == len, "rx stats");
	CHECK(waitpid(sender, &status, 0) == sender && WIFEXITED(status) &&
	      !WEXITSTATUS(status), "sender");
	close(srv);
	free(got);
}
