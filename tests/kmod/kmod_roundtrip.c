// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Guest test: data sent through tcp_comp on one end comes out of recvmsg
 * on the other end byte for byte — every algorithm and mode, record sizes,
 * IPv4 and IPv6, sendfile, non-blocking with poll, MSG_PEEK, small reads,
 * half close.  Ends with a throughput figure (qemu TCG: not real speeds).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

struct rt_case {
	int family, algo, mode, level;
	int format;		/* record format; 0 = guest_format (2) */
	uint32_t record_size, flags;
	size_t len, chunk;	/* chunk: bytes per write(), 0 = all at once */
	int alternate;		/* writes of 1 and 999 bytes in turn */
	int compressible;
	int use_sendfile;
	int use_splice;
	int nonblock;
	int rcvbuf;		/* SO_RCVBUF the receiver sets after the switch; 0: none */
};

static void rt_send(int fd, const uint8_t *data, const struct rt_case *c)
{
	size_t off = 0, chunk = c->chunk ?: c->len;

	while (off < c->len) {
		size_t want = c->alternate ? (off % 2 ? 999 : 1) : chunk;
		size_t n = c->len - off < want ? c->len - off : want;

		guest_write_all(fd, data + off, n);
		off += n;
	}
}

static void rt_sendfile(int fd, const uint8_t *data, size_t len)
{
	char path[] = "/tmp/kmod_rt.XXXXXX";
	int file = mkstemp(path);
	off_t off = 0;

	CHECK(file >= 0, "mkstemp: %m");
	unlink(path);
	guest_write_all(file, data, len);
	while ((size_t)off < len)
		CHECK(sendfile(fd, file, &off, len - off) > 0, "sendfile: %m");
	close(file);
}

/* splice(2) from a pipe: the pages reach the module through sendpage (up to
 * 6.4) or sendmsg with MSG_SPLICE_PAGES (6.5 on), like sendfile's */
static void rt_splice(int fd, const uint8_t *data, size_t len)
{
	size_t off = 0;
	int pipefd[2];

	CHECK(!pipe(pipefd), "pipe: %m");
	while (off < len) {
		ssize_t n = write(pipefd[1], data + off, len - off < 65536 ? len - off : 65536);

		CHECK(n > 0, "pipe write: %m");
		off += n;
		while (n > 0) {
			ssize_t m = splice(pipefd[0], NULL, fd, NULL, n, off < len ? SPLICE_F_MORE : 0);

			CHECK(m > 0, "splice: %m");
			n -= m;
		}
	}
	close(pipefd[0]);
	close(pipefd[1]);
}

static void rt_send_nonblock(int fd, const uint8_t *data, size_t len)
{
	size_t off = 0;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (off < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n = send(fd, data + off, len - off, 0);

		if (n < 0 && errno == EAGAIN) {
			CHECK(poll(&pfd, 1, 10000) == 1, "poll POLLOUT timed out");
			continue;
		}
		CHECK(n > 0, "send: %m");
		off += n;
	}
}

/* reads until EOF; non-blocking readers wait in poll, which must not wake
 * them for nothing more than a few times */
static size_t rt_recv(int fd, uint8_t *buf, size_t cap, int nonblock)
{
	size_t got = 0;
	int spurious = 0;

	if (nonblock)
		fcntl(fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (nonblock)
			CHECK(poll(&pfd, 1, 10000) == 1, "poll POLLIN timed out after %zu bytes", got);
		n = recv(fd, buf + got, cap - got, 0);
		if (n < 0 && nonblock && errno == EAGAIN) {
			spurious++;
			continue;
		}
		CHECK(n >= 0, "recv: %m after %zu bytes", got);
		if (!n)
			break;
		got += n;
		CHECK(got <= cap, "more bytes than sent");
	}
	CHECK(spurious < 1000, "%d spurious POLLIN wake-ups", spurious);
	return got;
}

/* which case failed, in the guest log */
static const char *rt_describe(const struct rt_case *c, char *buf, size_t size)
{
	snprintf(buf, size, "IPv%d algo %d mode %d format %d record %u flags %#x, %zu bytes in writes of %zu%s%s%s%s%s, SO_RCVBUF %d",
		 c->family == AF_INET6 ? 6 : 4, c->algo, c->mode, c->format, c->record_size, c->flags,
		 c->len, c->chunk ?: c->len, c->alternate ? ", alternating" : "",
		 c->compressible ? ", compressible" : "", c->use_sendfile ? ", sendfile" : "",
		 c->use_splice ? ", splice" : "", c->nonblock ? ", non-blocking" : "", c->rcvbuf);
	return buf;
}

static void rt_run(const struct rt_case *c)
{
	struct tcp_comp_params p = guest_params(c->algo, c->mode, c->level, c->record_size, c->flags);
	uint8_t *data = malloc(c->len + 1), *got = malloc(c->len + 1);

	if (c->format)
		p.version = c->format;
	struct tcp_comp_stats st, tx;
	int cli, srv, status, report[2];
	char desc[200];
	size_t n;
	pid_t pid;

	CHECK(data && got, "malloc");
	guest_fill(data, c->len, c->compressible, c->len ^ c->algo);
	guest_comp_pair(c->family, &p, &cli, &srv);
	if (c->rcvbuf)
		CHECK(!setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf, sizeof(c->rcvbuf)),
		      "SO_RCVBUF: %m");
	/* the sender's stats come back for a failure's report */
	CHECK(!pipe(report), "pipe: %m");

	pid = fork();
	CHECK(pid >= 0, "fork: %m");
	if (!pid) {
		close(srv);
		close(report[0]);
		if (c->use_sendfile)
			rt_sendfile(cli, data, c->len);
		else if (c->use_splice)
			rt_splice(cli, data, c->len);
		else if (c->nonblock)
			rt_send_nonblock(cli, data, c->len);
		else
			rt_send(cli, data, c);
		st = guest_stats(cli);
		CHECK(st.tx_bytes_in == c->len, "tx_bytes_in %llu", (unsigned long long)st.tx_bytes_in);
		if (c->compressible && c->algo && c->len >= 65536)
			CHECK(st.tx_bytes_out < c->len * 3 / 4, "compressible data did not shrink: %llu",
			      (unsigned long long)st.tx_bytes_out);
		if (!c->compressible && !c->mode)
			CHECK(st.tx_raw_records == st.tx_records, "random data compressed");
		/* page by page, yet whole records: one sealed per chunk the
		 * kernel hands over (a pipe buffer) would be several times as
		 * many; one more for a splice() that moved its last chunk in
		 * two calls */
		if ((c->use_sendfile || c->use_splice) && c->record_size)
			CHECK(st.tx_records <= (c->len + c->record_size - 1) / c->record_size + 1,
			      "%llu records for %zu bytes in records of %u",
			      (unsigned long long)st.tx_records, c->len, c->record_size);
		CHECK(write(report[1], &st, sizeof(st)) == sizeof(st), "report: %m");
		close(cli);
		exit(0);
	}
	close(cli);
	close(report[1]);
	n = rt_recv(srv, got, c->len + 1, c->nonblock);
	st = guest_stats(srv);
	/* end of stream means the sender's socket is closed, so it is gone or
	 * going: reap it before judging the length.  A sender killed by a
	 * signal prints no FAIL line, and its close() still ends the stream
	 * cleanly on a record boundary, which looks like a short read */
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %m");
	if (read(report[0], &tx, sizeof(tx)) != sizeof(tx))
		memset(&tx, 0, sizeof(tx));
	close(report[0]);
	CHECK(n == c->len,
	      "%zu bytes read of %zu (%s); sender %s %d: %llu records, %llu bytes out; receiver: %llu records, %llu bytes in, %llu out, %llu errors",
	      n, c->len, rt_describe(c, desc, sizeof(desc)),
	      WIFSIGNALED(status) ? "killed by signal" : "exited with",
	      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
	      (unsigned long long)tx.tx_records,
	      (unsigned long long)tx.tx_bytes_out, (unsigned long long)st.rx_records,
	      (unsigned long long)st.rx_bytes_in, (unsigned long long)st.rx_bytes_out,
	      (unsigned long long)st.rx_errors);
	CHECK(!memcmp(data, got, c->len), "data differs (%s)", rt_describe(c, desc, sizeof(desc)));
	CHECK(st.rx_bytes_out == c->len && !st.rx_errors, "rx stats %llu %llu",
	      (unsigned long long)st.rx_bytes_out, (unsigned long long)st.rx_errors);
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status), "sender failed");
	close(srv);
	free(data);
	free(got);
}

static void test_matrix(void)
{
	static const size_t sizes[] = { 1, 100, 4095, 65536, 65537, 1048576 + 3 };
	static const uint32_t records[] = { 0, 1000 };
	int algo, mode, comp;
	unsigned int s, r, n = 0;

	for (algo = 0; algo < __TCP_COMP_ALGO_MAX; algo++)
		for (mode = 0; mode < __TCP_COMP_MODE_MAX; mode++)
			for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
				for (r = 0; r < 2; r++)
					for (comp = 0; comp < 2; comp++) {
						struct rt_case c = {
							.family = n % 3 ? AF_INET : AF_INET6,
							.algo = algo, .mode = mode,
							.record_size = records[r],
							.flags = n % 2 ? TCP_COMP_F_CHECKSUM : 0,
							/* format 2, and format 1
							 * with and without XXH32 */
							.format = n / 2 % 2 ? TCP_COMP_VERSION_1
									    : TCP_COMP_VERSION_2,
							.len = sizes[s], .compressible = comp,
							.chunk = n % 4 == 1 ? 777 : 0,
						};
						rt_run(&c);
						n++;
					}
	printf("ok matrix: %u round trips (3 algos x 2 modes x sizes x record sizes x formats 1/2)\n", n);
}

static void test_sendfile_nonblock(void)
{
	int algo, mode;

	for (algo = 0; algo < __TCP_COMP_ALGO_MAX; algo++)
		for (mode = 0; mode < __TCP_COMP_MODE_MAX; mode++) {
			struct rt_case f = { .family = AF_INET, .algo = algo, .mode = mode,
					     .len = 3 * 1048576 + 5, .compressible = 1,
					     .record_size = TCP_COMP_MAX_RECORD,
					     .use_sendfile = 1 };
			struct rt_case nb = { .family = AF_INET6, .algo = algo, .mode = mode,
					      .len = 4 * 1048576, .compressible = algo & 1,
					      .nonblock = 1 };

			rt_run(&f);
			f.use_sendfile = 0;
			f.use_splice = 1;
			rt_run(&f);
			rt_run(&nb);
		}
	printf("ok sendfile, splice from a pipe and non-blocking/poll for every algorithm and mode\n");
}

static void test_small_writes(void)
{
	int mode;

	for (mode = 0; mode < __TCP_COMP_MODE_MAX; mode++) {
		struct rt_case c = { .family = AF_INET, .algo = TCP_COMP_ALGO_ZSTD, .mode = mode,
				     .len = 50000, .chunk = 50, .compressible = 1 };

		rt_run(&c);
		c.algo = TCP_COMP_ALGO_LZ4;
		rt_run(&c);
		c.chunk = 0;
		c.alternate = 1;
		rt_run(&c);
		c.algo = TCP_COMP_ALGO_ZSTD;
		rt_run(&c);
	}
	printf("ok 1000 small writes, and 1-byte writes between larger ones, per algorithm and mode\n");
}

static void test_peek_and_small_reads(void)
{
	struct tcp_comp_params p = guest_params(TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_BLOCK, 0, 0, 0);
	uint8_t data[70000], got[70000], buf[16];
	int cli, srv;
	size_t off;

	guest_comp_pair(AF_INET, &p, &cli, &srv);

	guest_write_all(cli, "hello world", 11);
	CHECK(recv(srv, buf, 5, MSG_PEEK) == 5 && !memcmp(buf, "hello", 5), "peek");
	CHECK(recv(srv, buf, 5, MSG_PEEK) == 5 && !memcmp(buf, "hello", 5), "second peek");
	CHECK(recv(srv, buf, sizeof(buf), 0) == 11 && !memcmp(buf, "hello world", 11), "read after peek");
	CHECK(recv(srv, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN, "empty: %m");

	guest_fill(data, sizeof(data), 1, 7);
	guest_write_all(cli, data, sizeof(data));
	for (off = 0; off < sizeof(data);) {
		ssize_t n = recv(srv, got + off, sizeof(data) - off < 3 ? sizeof(data) - off : 3, 0);

		CHECK(n > 0, "small read: %m");
		off += n;
	}
	CHECK(!memcmp(data, got, sizeof(data)), "small reads differ");

	guest_write_all(cli, data, 1000);
	CHECK(recv(srv, got, 1000, MSG_WAITALL) == 1000 && !memcmp(got, data, 1000), "waitall");

	/* half close: what MSG_MORE kept back goes out before the FIN, and
	 * the other direction still works (plain TCP here) */
	CHECK(send(cli, "kept", 4, MSG_MORE) == 4, "send MSG_MORE: %m");
	CHECK(!shutdown(cli, SHUT_WR), "shutdown: %m");
	CHECK(recv(srv, buf, sizeof(buf), MSG_WAITALL) == 4 && !memcmp(buf, "kept", 4),
	      "MSG_MORE data lost at shutdown");
	CHECK(recv(srv, buf, sizeof(buf), 0) == 0, "EOF after shutdown");
	guest_write_all(srv, "back", 4);
	CHECK(recv(cli, buf, sizeof(buf), 0) == 4 && !memcmp(buf, "back", 4), "reverse direction");
	close(cli);
	close(srv);
	printf("ok MSG_PEEK, 3-byte reads, MSG_WAITALL, MSG_MORE, half close\n");
}

/* writes after the peer is gone fail as on TCP, and SIGPIPE stays away
 * with MSG_NOSIGNAL */
static void test_peer_gone(void)
{
	struct tcp_comp_params p = guest_params(TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_BLOCK, 0, 0, 0);
	uint8_t data[1000] = { 0 };
	int cli, srv, i;

	guest_comp_pair(AF_INET, &p, &cli, &srv);
	close(srv);
	for (i = 0; i < 100 && send(cli, data, sizeof(data), MSG_NOSIGNAL) > 0; i++)
		usleep(10000);
	CHECK(i < 100 && (errno == EPIPE || errno == ECONNRESET), "send after peer close: %m");
	close(cli);
	printf("ok writes after the peer closed fail with %s\n", strerror(errno));
}

/* close() right after non-blocking writes filled every buffer: what the
 * writes accepted still arrives, as on plain TCP.  notsent_lowat > 0 sets
 * TCP_NOTSENT_LOWAT on the sender (servers tune it; so may the sysctl):
 * TCP then refuses new data while that much is unsent, whatever the
 * send buffer's size. */
static void close_in_flight(int algo, int notsent_lowat)
{
	struct tcp_comp_params p = guest_params(algo, TCP_COMP_MODE_STREAM, 0, 0, 0);
	size_t cap = 64 * 1048576, sent = 0, n;
	uint8_t *data = malloc(cap), *got = malloc(cap);
	int cli, srv;

	CHECK(data && got, "malloc");
	guest_fill(data, cap, 0, 77 + algo);
	guest_comp_pair(AF_INET, &p, &cli, &srv);
	if (notsent_lowat)
		CHECK(!setsockopt(cli, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &notsent_lowat,
				  sizeof(notsent_lowat)), "TCP_NOTSENT_LOWAT: %m");
	fcntl(cli, F_SETFL, O_NONBLOCK);
	for (;;) {
		ssize_t m = send(cli, data + sent, 100000 < cap - sent ? 100000 : cap - sent, 0);

		if (m < 0 && errno == EAGAIN)
			break;
		CHECK(m > 0, "send: %m");
		sent += m;
		CHECK(sent < cap, "buffers never filled");
	}
	close(cli);
	n = rt_recv(srv, got, cap, 0);
	CHECK(n == sent, "%zu of %zu bytes accepted before close() arrived (algo %d, notsent_lowat %d)",
	      n, sent, algo, notsent_lowat);
	CHECK(!memcmp(got, data, sent), "data differs");
	close(srv);
	free(data);
	free(got);
}

static void test_close_in_flight(void)
{
	int algo;

	for (algo = 0; algo < __TCP_COMP_ALGO_MAX; algo++)
		close_in_flight(algo, 0);
	close_in_flight(TCP_COMP_ALGO_NONE, 16384);
	printf("ok close() after non-blocking writes filled the buffers loses nothing (also with TCP_NOTSENT_LOWAT)\n");
}

struct echo_arg {
	int fd;
	const uint8_t *data;
	size_t len;
};

static void *echo_writer(void *arg)
{
	struct echo_arg *a = arg;

	guest_write_all(a->fd, a->data, a->len);
	return NULL;
}

/* two threads writing one socket: the bytes may interleave as on TCP, but
 * every record must stay whole (a writer sleeping in TCP for memory must
 * not have its record sent twice or overwritten) */
static void test_concurrent_writers(void)
{
	struct tcp_comp_params p = guest_params(TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_BLOCK, 0, 0, 0);
	size_t len = 8 * 1048576, got = 0;
	uint8_t *data = malloc(len), *buf = malloc(65536);
	struct echo_arg wa, wb;
	pthread_t ta, tb;
	int cli, srv;

	CHECK(data && buf, "malloc");
	guest_fill(data, len, 1, 3);
	guest_comp_pair(AF_INET, &p, &cli, &srv);
	wa = (struct echo_arg){ cli, data, len };
	wb = wa;
	pthread_create(&ta, NULL, echo_writer, &wa);
	pthread_create(&tb, NULL, echo_writer, &wb);
	while (got < 2 * len) {
		ssize_t n = read(srv, buf, 65536);

		CHECK(n > 0, "read: %m after %zu bytes", got);
		got += n;
	}
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	close(cli);
	CHECK(read(srv, buf, 1) == 0, "more bytes than written");
	close(srv);
	free(data);
	free(buf);
	printf("ok two threads writing one socket keep every record whole\n");
}

/* both directions compressed at once, each end with its own algorithm */
static void test_bidirectional(void)
{
	struct tcp_comp_params z = guest_params(TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM, 3, 0, 0);
	struct tcp_comp_params l = guest_params(TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_STREAM, 0, 0, 0);
	size_t len = 2 * 1048576;
	uint8_t *a = malloc(len), *b = malloc(len), *got = malloc(len);
	struct echo_arg wa, wb;
	pthread_t ta, tb;
	int cli, srv;

	CHECK(a && b && got, "malloc");
	guest_fill(a, len, 1, 1);
	guest_fill(b, len, 1, 2);
	guest_tcp_pair(AF_INET6, &cli, &srv);
	guest_ulp(cli);
	guest_ulp(srv);
	guest_comp(cli, TCP_COMP_TX, &z);
	guest_comp(srv, TCP_COMP_RX, &z);
	guest_comp(srv, TCP_COMP_TX, &l);
	guest_comp(cli, TCP_COMP_RX, &l);
	wa = (struct echo_arg){ cli, a, len };
	wb = (struct echo_arg){ srv, b, len };
	pthread_create(&ta, NULL, echo_writer, &wa);
	pthread_create(&tb, NULL, echo_writer, &wb);
	guest_read_all(srv, got, len);
	CHECK(!memcmp(got, a, len), "client to server differs");
	guest_read_all(cli, got, len);
	CHECK(!memcmp(got, b, len), "server to client differs");
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	close(cli);
	close(srv);
	free(a);
	free(b);
	free(got);
	printf("ok both directions at once (zstd stream one way, lz4 stream the other)\n");
}

/* A receiver that shrinks SO_RCVBUF after the switch (servers tune
 * accepted sockets) still gets whole records of the largest size: the
 * parser refuses a message larger than sk_rcvbuf. */
static void test_small_rcvbuf(void)
{
	int algo;

	for (algo = 0; algo < __TCP_COMP_ALGO_MAX; algo++) {
		/* random data: records go raw, a full TCP_COMP_MAX_RECORD each */
		struct rt_case c = { .family = AF_INET, .algo = algo, .mode = TCP_COMP_MODE_BLOCK,
				     .record_size = TCP_COMP_MAX_RECORD, .len = 2 * 1048576 + 11,
				     .rcvbuf = 4096 };

		rt_run(&c);
	}
	printf("ok a receiver that set SO_RCVBUF to 4096 after the switch gets records of %u bytes\n",
	       TCP_COMP_MAX_RECORD);
}

/* MB/s through loopback with and without the module, same run; *ratio is
 * wire bytes per application byte */
static double tput_one(int algo, int format, const uint8_t *data, size_t len, size_t total,
		       double *ratio)
{
	struct tcp_comp_params p = guest_params(algo, TCP_COMP_MODE_BLOCK, 0, 0, 0);
	int ulp = format != 0;
	uint8_t *buf = malloc(len);
	struct tcp_comp_stats st;
	int cli, srv, status;
	size_t got = 0;
	double t0;
	pid_t pid;

	CHECK(buf, "malloc");
	p.version = ulp ? format : TCP_COMP_VERSION_1;
	if (ulp)
		guest_comp_pair(AF_INET, &p, &cli, &srv);
	else
		guest_tcp_pair(AF_INET, &cli, &srv);
	t0 = guest_now();
	pid = fork();
	CHECK(pid >= 0, "fork: %m");
	if (!pid) {
		size_t sent;

		for (sent = 0; sent < total; sent += len)
			guest_write_all(cli, data, len);
		exit(0);
	}
	close(cli);
	while (got < total) {
		ssize_t n = read(srv, buf, len);

		CHECK(n > 0, "read: %m");
		got += n;
	}
	t0 = guest_now() - t0;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status), "sender");
	*ratio = 1;
	if (ulp) {
		st = guest_stats(srv);
		*ratio = (double)st.rx_bytes_in / st.rx_bytes_out;
	}
	close(srv);
	free(buf);
	return total / t0 / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * What format 2's check costs: format 2 (XXH3 of every payload) against
 * format 1 without a check, in turns (which goes first alternates), so that
 * both see the same load.  TCG timings are not absolute and a loaded host
 * only ever slows a run down: the figure is the ratio of each format's
 * best run, with the median of the pairwise ratios beside it.
 */
static void test_check_cost(const uint8_t *data, size_t len)
{
	static const char *const names[] = { "none", "zstd", "lz4" };
	enum { REPS = 7 };
	size_t total = 4 * 1048576;
	double ratio, r[REPS];
	int algo, i;

	printf("format 2 check cost, 4 MiB x %d runs per format, in turns: format 2 / format 1 without check\n",
	       REPS);
	for (algo = 0; algo < __TCP_COMP_ALGO_MAX; algo++) {
		double best1 = 0, best2 = 0;

		for (i = 0; i < REPS; i++) {
			int first = i % 2 ? TCP_COMP_VERSION_2 : TCP_COMP_VERSION_1;
			double a = tput_one(algo, first, data, len, total, &ratio);
			double b = tput_one(algo, 3 - first, data, len, total, &ratio);
			double f1 = first == TCP_COMP_VERSION_1 ? a : b, f2 = a + b - f1;

			best1 = f1 > best1 ? f1 : best1;
			best2 = f2 > best2 ? f2 : best2;
			r[i] = f2 / f1;
		}
		qsort(r, REPS, sizeof(r[0]), cmp_double);
		printf("   comp %-4s block  best %.3f (%.1f / %.1f MB/s), median pair %.3f, pairs %.3f..%.3f\n",
		       names[algo], best2 / best1, best2, best1, r[REPS / 2], r[0], r[REPS - 1]);
	}
}

static void test_throughput(void)
{
	static const char *const names[] = { "none", "zstd", "lz4" };
	size_t len = 65536, total = 32 * 1048576;
	uint8_t *data = malloc(len);
	double plain, ratio;
	int algo;

	CHECK(data, "malloc");
	guest_fill(data, len, 1, 99);
	plain = tput_one(0, 0, data, len, total, &ratio);
	printf("throughput (qemu TCG, 2 vCPUs, shared host: NOT real speeds), 32 MiB text-like data, 64 KiB writes\n");
	printf("   plain TCP        %8.1f MB/s\n", plain);
	for (algo = 0; algo < __TCP_COMP_ALGO_MAX; algo++) {
		double mbs = tput_one(algo, TCP_COMP_VERSION_2, data, len, total, &ratio);

		printf("   comp %-4s block  %8.1f MB/s  (%.2fx plain, %.3f wire bytes per byte)\n",
		       names[algo], mbs, mbs / plain, ratio);
	}
	free(data);
}

static void check_cost_only(void)
{
	uint8_t *data = malloc(65536);

	CHECK(data, "malloc");
	guest_fill(data, 65536, 1, 99);
	test_check_cost(data, 65536);
	free(data);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* the measurement alone, run by comp-guest.sh in the 6.1 guest */
	if (argc > 1 && !strcmp(argv[1], "--check-cost")) {
		check_cost_only();
		return 0;
	}
	/* the matrix alone, again and again: a race's reproducer */
	if (argc > 2 && !strcmp(argv[1], "--matrix")) {
		int i;

		for (i = 0; i < atoi(argv[2]); i++)
			test_matrix();
		return 0;
	}
	test_peek_and_small_reads();
	test_peer_gone();
	test_close_in_flight();
	test_small_writes();
	test_bidirectional();
	test_concurrent_writers();
	test_small_rcvbuf();
	test_sendfile_nonblock();
	test_matrix();
	if (argc > 1 && !strcmp(argv[1], "--throughput"))
		test_throughput();
	return 0;
}
