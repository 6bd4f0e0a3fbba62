// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <glob.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/tcp.h>

#include <ebpfaccel/ebpfaccel.h>

#include "traffic_fixtures.h"

void tf_link_new(struct tf_link *l)
{
	int prev;

	memset(l, 0, sizeof(*l));
	l->cli = fx_netns_new();
	l->srv = fx_netns_new();
	ck_assert_ptr_nonnull(l->cli);
	ck_assert_ptr_nonnull(l->srv);
	ck_assert_int_eq(fx_veth_new(l->cli, l->srv, &l->veth), 0);
	prev = fx_netns_enter(l->srv);
	ck_assert_int_ge(prev, 0);
	l->srv_ifindex = (int)if_nametoindex(l->veth.name_b);
	fx_netns_return(prev);
	ck_assert_int_gt(l->srv_ifindex, 0);
}

void tf_link_free(struct tf_link *l)
{
	fx_netns_free(l->cli);
	fx_netns_free(l->srv);
}

void tf_link_limit(struct tf_link *l, int mbit)
{
	/* burst above one GSO packet (64 KiB), or tbf would drop them all */
	ck_assert_int_eq(fx_run(l->cli, NULL, "tc qdisc replace dev %s root tbf rate %dmbit burst 256kb latency 20ms",
				l->veth.name_a, mbit), 0);
}

static void sockaddr_of(struct tf_link *l, int family, uint16_t port, struct sockaddr_storage *ss,
			socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, l->veth.ip4_b, &sin->sin_addr), 1);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, l->veth.ip6_b, &sin6->sin6_addr), 1);
		*len = sizeof(*sin6);
	}
}

void tf_write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		ck_assert_msg(n > 0, "write: %s", strerror(errno));
		buf += n;
		len -= n;
	}
}

/* 0, or -1 at EOF or error. */
static int read_all(int fd, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);

		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

void tf_read_all(int fd, uint8_t *buf, size_t len)
{
	ck_assert_msg(read_all(fd, buf, len) == 0, "read: %s", strerror(errno));
}

/* -------------------------------------------------------------- server */

struct tf_server {
	int lfd;
	uint16_t port;
	enum tf_server_mode mode;
	size_t req_len, resp_len;
	atomic_bool stop;
	atomic_uint_fast64_t received;
	pthread_t thread;
	pthread_mutex_t lock;		/* last, finished */
	struct tf_decoded last;
	uint64_t finished;
};

/* True once @fd is readable; false when the server is stopping. */
static bool wait_readable(struct tf_server *s, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (!atomic_load(&s->stop))
		if (poll(&pfd, 1, 100) > 0)
			return true;
	return false;
}

static void serve_sink(struct tf_server *s, int fd)
{
	static uint8_t buf[1 << 16];
	ssize_t n;

	while (wait_readable(s, fd) && (n = read(fd, buf, sizeof(buf))) > 0)
		atomic_fetch_add(&s->received, n);
}

static void serve_echo(struct tf_server *s, int fd)
{
	uint8_t *req = malloc(s->req_len), *resp = calloc(1, s->resp_len);

	memset(resp, 'r', s->resp_len);
	while (req && resp && wait_readable(s, fd) && !read_all(fd, req, s->req_len)) {
		atomic_fetch_add(&s->received, s->req_len);
		if (write(fd, resp, s->resp_len) != (ssize_t)s->resp_len)
			break;
	}
	free(req);
	free(resp);
}

uint64_t tf_hash(uint64_t h, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ buf[i]) * 0x100000001b3ULL;
	return h;
}

static void serve_decode(struct tf_server *s, int fd)
{
	static uint8_t buf[1 << 16];
	struct tf_decoded d = { .hash = TF_HASH_INIT };
	struct ebpfaccel_comp_conn *c = ebpfaccel_comp_conn__new(fd, NULL);
	struct tcp_comp_params tx, rx;
	ssize_t n = -errno;

	if (c) {
		ebpfaccel_comp_conn__params(c, &tx, &rx);
		d.rx_algo = rx.algo;
		while ((ebpfaccel_comp_conn__rx_pending(c) || wait_readable(s, fd)) &&
		       (n = ebpfaccel_comp_conn__recv(c, buf, sizeof(buf))) > 0) {
			d.hash = tf_hash(d.hash, buf, n);
			d.len += n;
			atomic_fetch_add(&s->received, n);
		}
		ebpfaccel_comp_conn__free(c);
	}
	d.error = n < 0 ? (int)n : 0;
	pthread_mutex_lock(&s->lock);
	s->last = d;
	s->finished++;
	pthread_mutex_unlock(&s->lock);
}

uint64_t tf_server_last(struct tf_server *s, struct tf_decoded *d)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	*d = s->last;
	n = s->finished;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void *server_main(void *arg)
{
	struct tf_server *s = arg;
	int fd;

	while (wait_readable(s, s->lfd)) {
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (s->mode == TF_SINK)
			serve_sink(s, fd);
		else if (s->mode == TF_DECODE)
			serve_decode(s, fd);
		else
			serve_echo(s, fd);
		close(fd);
	}
	return NULL;
}

struct tf_server *tf_server_start(struct tf_link *l, int family, enum tf_server_mode mode,
				  size_t req_len, size_t resp_len)
{
	struct tf_server *s = calloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	ck_assert_ptr_nonnull(s);
	pthread_mutex_init(&s->lock, NULL);
	s->mode = mode;
	s->req_len = req_len;
	s->resp_len = resp_len;
	s->lfd = fx_socket_in(l->srv, family, SOCK_STREAM);
	ck_assert_int_ge(s->lfd, 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sockaddr_of(l, family, 0, &ss, &len);
	ck_assert_msg(!bind(s->lfd, (struct sockaddr *)&ss, len), "bind: %s", strerror(errno));
	ck_assert_int_eq(listen(s->lfd, 16), 0);
	ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&ss, &len), 0);
	s->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, server_main, s), 0);
	return s;
}

uint16_t tf_server_port(const struct tf_server *s) { return s->port; }
uint64_t tf_server_received(struct tf_server *s) { return atomic_load(&s->received); }

void tf_server_stop(struct tf_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int tf_connect(struct tf_link *l, const struct tf_server *s, int family)
{
	struct timeval tv = { .tv_sec = 5 };
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = fx_socket_in(l->cli, family, SOCK_STREAM);

	ck_assert_int_ge(fd, 0);
	/* A stuck peer fails the test instead of hanging it. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sockaddr_of(l, family, s->port, &ss, &len);
	ck_assert_msg(!connect(fd, (struct sockaddr *)&ss, len), "connect: %s", strerror(errno));
	return fd;
}

/* -------------------------------------------------------------- client */

struct tf_client {
	int fd;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t lock;
	const uint8_t *data;
	size_t len;
	size_t resp_len;
	uint64_t sent;
	uint64_t rounds;
	int err;
};

/* Fresh random bytes for every write: repeated random data would be
 * compressible, and the probe's samples would rightly say so. */
static const uint8_t *random_chunk(uint8_t *buf, size_t len)
{
	for (size_t have = 0; have < len;) {
		ssize_t n = getrandom(buf + have, len - have, 0);

		if (n <= 0)
			return NULL;
		have += n;
	}
	return buf;
}

static void *bulk_main(void *arg)
{
	static uint8_t rnd[65536];
	struct tf_client *c = arg;
	size_t off = 0;

	while (!atomic_load(&c->stop)) {
		const uint8_t *data;
		size_t len, chunk;
		ssize_t n;

		pthread_mutex_lock(&c->lock);
		data = c->data;
		len = c->len;
		pthread_mutex_unlock(&c->lock);
		if (!data) {
			data = random_chunk(rnd, sizeof(rnd));
			len = sizeof(rnd);
			off = 0;
		}
		off %= len;
		chunk = len - off < 65536 ? len - off : 65536;
		n = data ? write(c->fd, data + off, chunk) : -1;
		if (n <= 0) {
			c->err = errno;
			break;
		}
		off += n;
		c->sent += n;
	}
	return NULL;
}

static void *pingpong_main(void *arg)
{
	struct tf_client *c = arg;
	uint8_t *resp = malloc(c->resp_len);

	while (resp && !atomic_load(&c->stop)) {
		if (write(c->fd, c->data, c->len) != (ssize_t)c->len || read_all(c->fd, resp, c->resp_len)) {
			c->err = errno ?: EPIPE;
			break;
		}
		c->sent += c->len;
		c->rounds++;
	}
	free(resp);
	return NULL;
}

static struct tf_client *client_start(int fd, const uint8_t *data, size_t len, size_t resp_len,
				      void *(*fn)(void *))
{
	struct tf_client *c = calloc(1, sizeof(*c));

	ck_assert_ptr_nonnull(c);
	c->fd = fd;
	c->data = data;
	c->len = len;
	c->resp_len = resp_len;
	pthread_mutex_init(&c->lock, NULL);
	ck_assert_int_eq(pthread_create(&c->thread, NULL, fn, c), 0);
	return c;
}

struct tf_client *tf_bulk_start(int fd, const uint8_t *data, size_t len)
{
	return client_start(fd, data, len, 0, bulk_main);
}

struct tf_client *tf_pingpong_start(int fd, const uint8_t *req, size_t req_len, size_t resp_len)
{
	return client_start(fd, req, req_len, resp_len, pingpong_main);
}

void tf_bulk_switch(struct tf_client *c, const uint8_t *data, size_t len)
{
	pthread_mutex_lock(&c->lock);
	c->data = data;
	c->len = len;
	pthread_mutex_unlock(&c->lock);
}

uint64_t tf_client_stop(struct tf_client *c, uint64_t *rounds)
{
	uint64_t sent;

	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	ck_assert_msg(c->err == 0, "client: %s", strerror(c->err));
	close(c->fd);
	sent = c->sent;
	if (rounds)
		*rounds = c->rounds;
	pthread_mutex_destroy(&c->lock);
	free(c);
	return sent;
}

/* ---------------------------------------------------------------- data */

uint8_t *tf_text(size_t len)
{
	static const char *const patterns[] = {
		"/usr/share/common-licenses/*", "/usr/include/*.h", "/usr/include/linux/*.h",
	};
	uint8_t *buf = malloc(len);
	size_t have = 0;
	glob_t g;

	ck_assert_ptr_nonnull(buf);
	for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]) && have < len; p++) {
		if (glob(patterns[p], 0, NULL, &g))
			continue;
		for (size_t i = 0; i < g.gl_pathc && have < len; i++) {
			FILE *f = fopen(g.gl_pathv[i], "re");

			if (!f)
				continue;
			have += fread(buf + have, 1, len - have, f);
			fclose(f);
		}
		globfree(&g);
	}
	ck_assert_msg(have == len, "only %zu bytes of text on this system", have);
	return buf;
}

uint8_t *tf_random(size_t len)
{
	uint8_t *buf = malloc(len);
	size_t have = 0;

	ck_assert_ptr_nonnull(buf);
	while (have < len) {
		ssize_t n = getrandom(buf + have, len - have, 0);

		ck_assert_int_gt(n, 0);
		have += n;
	}
	return buf;
}

uint64_t tf_bytes_retrans(int fd)
{
	struct tcp_info ti = { 0 };
	socklen_t len = sizeof(ti);

	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	ck_assert_uint_ge(len, offsetof(struct tcp_info, tcpi_bytes_retrans) + sizeof(ti.tcpi_bytes_retrans));
	return ti.tcpi_bytes_retrans;
}
