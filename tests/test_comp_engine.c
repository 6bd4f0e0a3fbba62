// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * User-space compression engine over real TCP sockets (loopback of a private
 * netns): round trips of many sizes in both modes, both algorithms, both
 * directions, sendfile, non-blocking sockets with tiny buffers, and records
 * from a raw peer that are corrupt, truncated or oversized.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <lz4.h>
#include <xxhash.h>
#include <zstd.h>

#include "fixtures.h"
#include "comp_testlib.h"

struct combo {
	enum tcp_comp_algo algo;
	enum tcp_comp_mode mode;
	unsigned int flags;
	unsigned int record_size;
};

static const struct combo combos[] = {
	{ TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_BLOCK, 0, 0 },
	{ TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM, 0, 0 },
	{ TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_BLOCK, 0, 0 },
	{ TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_STREAM, 0, 0 },
	{ TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_BLOCK, TCP_COMP_F_CHECKSUM, 4096 },
	{ TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_STREAM, TCP_COMP_F_CHECKSUM, 1000 },
	{ TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM, TCP_COMP_F_CHECKSUM, TCP_COMP_MAX_RECORD },
	/* Records above the default: the receiver's buffers and history grow. */
	{ TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_STREAM, 0, TCP_COMP_MAX_RECORD },
	{ TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_BLOCK, 0, 200000 },
};
#define N_COMBOS (sizeof(combos) / sizeof(combos[0]))

static const size_t sizes[] = { 0, 1, 2, 100, 65535, 65536, 65537, 3 * 65536 + 7, 1 << 20 };

static struct tcp_comp_params params_of(const struct combo *cb)
{
	return (struct tcp_comp_params){
		.version = TCP_COMP_VERSION, .algo = cb->algo, .mode = cb->mode,
		.record_size = cb->record_size, .flags = cb->flags,
	};
}

static const struct tcp_comp_params plain = { .version = TCP_COMP_VERSION };

struct echo {
	int fd;
	struct ebpfaccel_comp_conn *conn;
	int err;
};

/* Server side: sends back everything until end of stream, then shuts down. */
static void *echo_thread(void *arg)
{
	struct echo *e = arg;
	size_t cap = 300 * 1024;
	char *buf = malloc(cap);

	for (;;) {
		ssize_t n = ebpfaccel_comp_conn__recv(e->conn, buf, cap);

		if (n == -EAGAIN) {
			comp_wait(e->fd, POLLIN);
			continue;
		}
		if (n <= 0) {
			e->err = n;
			break;
		}
		e->err = comp_send_all(e->conn, e->fd, buf, n);
		if (e->err)
			break;
	}
	shutdown(e->fd, SHUT_WR);
	free(buf);
	return NULL;
}

struct writer {
	int fd;
	struct ebpfaccel_comp_conn *conn;
	const char *data;
	size_t len, chunk;
	int err;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	size_t done = 0;

	while (!w->err && done < w->len) {
		size_t n = w->len - done < w->chunk ? w->len - done : w->chunk;

		w->err = comp_send_all(w->conn, w->fd, w->data + done, n);
		done += n;
	}
	if (!w->err)
		w->err = comp_send_all(w->conn, w->fd, "", 0);
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

struct pair {
	int cfd, sfd;
	struct ebpfaccel_comp_conn *client, *server;
};

static void pair_open(struct pair *p, const struct tcp_comp_params *c2s,
		      const struct tcp_comp_params *s2c, bool nonblock)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, co, .tx = c2s, .rx = s2c);
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, so, .tx = s2c, .rx = c2s);

	ck_assert_int_eq(comp_tcp_pair(&p->cfd, &p->sfd), 0);
	if (nonblock) {
		int small = 4096;

		/* A tiny send buffer forces partial writes.  The receive buffer
		 * stays large: below the loopback MSS the receiver's window
		 * updates stall TCP on zero-window probes. */
		for (int i = 0; i < 2; i++) {
			int fd = i ? p->sfd : p->cfd;

			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		}
	}
	p->client = ebpfaccel_comp_conn__new(p->cfd, &co);
	p->server = ebpfaccel_comp_conn__new(p->sfd, &so);
	ck_assert_ptr_nonnull(p->client);
	ck_assert_ptr_nonnull(p->server);
	ck_assert(!ebpfaccel_comp_conn__in_kernel(p->client));
}

static void pair_close(struct pair *p)
{
	ebpfaccel_comp_conn__free(p->client);
	ebpfaccel_comp_conn__free(p->server);
	close(p->cfd);
	close(p->sfd);
}

/* Client writes @data in @chunk pieces, the server echoes, the client checks. */
static void echo_round_trip(const struct tcp_comp_params *c2s, const struct tcp_comp_params *s2c,
			    const char *data, size_t len, size_t chunk, bool nonblock)
{
	struct pair p;
	struct writer w;
	struct echo e;
	pthread_t wt, et;
	char *got = malloc(len + 1), tail;
	ssize_t n;

	pair_open(&p, c2s, s2c, nonblock);
	w = (struct writer){ .fd = p.cfd, .conn = p.client, .data = data, .len = len,
			     .chunk = chunk ? chunk : 1 };
	e = (struct echo){ .fd = p.sfd, .conn = p.server };
	pthread_create(&et, NULL, echo_thread, &e);
	pthread_create(&wt, NULL, writer_thread, &w);
	ck_assert_int_eq(comp_recv_all(p.client, p.cfd, got, len), 0);
	do {
		n = ebpfaccel_comp_conn__recv(p.client, &tail, 1);
		if (n == -EAGAIN)
			comp_wait(p.cfd, POLLIN);
	} while (n == -EAGAIN);
	ck_assert_int_eq(n, 0);
	pthread_join(wt, NULL);
	pthread_join(et, NULL);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(e.err, 0);
	ck_assert(memcmp(got, data, len) == 0);
	free(got);
	pair_close(&p);
}

START_TEST(round_trip_sizes)
{
	const struct combo *cb = &combos[_i];
	struct tcp_comp_params p = params_of(cb);
	size_t max = 1 << 20;
	char *text = malloc(max), *rnd = malloc(max);

	comp_fill_text(text, max, 7);
	comp_fill_random(rnd, max, 9);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		echo_round_trip(&p, &p, text, sizes[i], sizes[i], false);
		echo_round_trip(&p, &p, rnd, sizes[i], sizes[i], false);
	}
	/* Many small writes: each is its own record. */
	echo_round_trip(&p, &p, text, 200000, 333, false);
	free(text);
	free(rnd);
}
END_TEST

START_TEST(one_direction_only)
{
	struct tcp_comp_params p = params_of(&combos[_i]);
	size_t len = 300000;
	char *text = malloc(len);

	comp_fill_text(text, len, 3);
	echo_round_trip(&p, &plain, text, len, 70000, false);
	echo_round_trip(&plain, &p, text, len, 70000, false);
	free(text);
}
END_TEST

START_TEST(nonblocking_partial_writes)
{
	struct tcp_comp_params p = params_of(&combos[_i]);
	size_t len = 2 << 20;
	char *data = malloc(len);

	comp_fill_text(data, len / 2, 11);
	comp_fill_random(data + len / 2, len / 2, 12);
	echo_round_trip(&p, &p, data, len, 100000, true);
	free(data);
}
END_TEST

/* A compressible stream of 100 MB: memory stays bounded, bytes stay exact. */
START_TEST(large_stream)
{
	struct tcp_comp_params p = params_of(&combos[_i]);
	size_t len = 100u << 20;
	char *data = malloc(len);
	struct tcp_comp_stats st;
	struct pair pr;
	struct writer w;
	pthread_t wt;
	char *buf = malloc(1 << 20);
	size_t got = 0;

	ck_assert_ptr_nonnull(data);
	comp_fill_text(data, len, 21);
	pair_open(&pr, &p, &plain, false);
	w = (struct writer){ .fd = pr.cfd, .conn = pr.client, .data = data, .len = len,
			     .chunk = 1 << 20 };
	pthread_create(&wt, NULL, writer_thread, &w);
	for (;;) {
		ssize_t n = ebpfaccel_comp_conn__recv(pr.server, buf, 1 << 20);

		ck_assert_int_ge(n, 0);
		if (!n)
			break;
		ck_assert_uint_le(got + n, len);
		ck_assert(memcmp(buf, data + got, n) == 0);
		got += n;
	}
	pthread_join(wt, NULL);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(got, len);
	ck_assert_int_eq(ebpfaccel_comp_conn__stats(pr.client, &st), 0);
	ck_assert_uint_eq(st.tx_bytes_in, len);
	/* The text compresses well: far fewer bytes went on the wire. */
	ck_assert_uint_lt(st.tx_bytes_out, len / 2);
	ck_assert_int_eq(ebpfaccel_comp_conn__stats(pr.server, &st), 0);
	ck_assert_uint_eq(st.rx_bytes_out, len);
	free(buf);
	free(data);
	pair_close(&pr);
}
END_TEST

START_TEST(sendfile_file)
{
	struct tcp_comp_params p = params_of(&combos[_i]);
	size_t len = 5 * 65536 + 123;
	char *data = malloc(len), *got = malloc(len);
	int mfd = memfd_create("comp-sendfile", 0);
	off_t off = 1000;
	struct pair pr;
	ssize_t n;

	comp_fill_text(data, len, 5);
	ck_assert_int_eq(write(mfd, data, len), (ssize_t)len);
	pair_open(&pr, &p, &plain, false);
	n = ebpfaccel_comp_conn__sendfile(pr.client, mfd, &off, len - 1000);
	ck_assert_int_eq(n, (ssize_t)(len - 1000));
	ck_assert_int_eq(off, (off_t)len);
	ck_assert_int_eq(comp_recv_all(pr.server, pr.sfd, got, len - 1000), 0);
	ck_assert(memcmp(got, data + 1000, len - 1000) == 0);
	/* Without an offset the file position is used and advanced. */
	lseek(mfd, 0, SEEK_SET);
	n = ebpfaccel_comp_conn__sendfile(pr.client, mfd, NULL, len);
	ck_assert_int_eq(n, (ssize_t)len);
	ck_assert_int_eq(lseek(mfd, 0, SEEK_CUR), (off_t)len);
	ck_assert_int_eq(comp_recv_all(pr.server, pr.sfd, got, len), 0);
	ck_assert(memcmp(got, data, len) == 0);
	close(mfd);
	free(data);
	free(got);
	pair_close(&pr);
}
END_TEST

/* ---- a raw peer writes records by hand ---- */

static void put_hdr(char *b, uint8_t algo, uint8_t flags, uint32_t orig, uint32_t wire)
{
	struct tcp_comp_rec_hdr h = {
		.magic = TCP_COMP_REC_MAGIC, .type = TCP_COMP_REC_DATA, .algo = algo,
		.flags = flags, .orig_len = htonl(orig), .wire_len = htonl(wire),
	};

	memcpy(b, &h, sizeof(h));
}

/* The receiver must answer -EBADMSG, keep answering it, and not hang. */
static void expect_badmsg(const struct tcp_comp_params *rx, const void *bytes, size_t len,
			  bool close_after)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .tx = &plain, .rx = rx);
	struct ebpfaccel_comp_conn *c;
	int cfd, sfd;
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	ck_assert_int_eq(comp_tcp_pair(&cfd, &sfd), 0);
	c = ebpfaccel_comp_conn__new(sfd, &o);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(send(cfd, bytes, len, 0), (ssize_t)len);
	if (close_after)
		shutdown(cfd, SHUT_WR);
	/* Records before the bad one may decode; the bad one must not. */
	do {
		n = ebpfaccel_comp_conn__recv(c, buf, sizeof(buf));
		ck_assert_int_ne(n, 0);
		total += n > 0 ? n : 0;
		ck_assert_uint_le(total, len * 2);
	} while (n > 0);
	ck_assert_int_eq(n, -EBADMSG);
	ck_assert_int_eq(ebpfaccel_comp_conn__recv(c, buf, sizeof(buf)), -EBADMSG);
	ebpfaccel_comp_conn__free(c);
	close(cfd);
	close(sfd);
}

/* Format 1: the raw peer's records need no check, so each header rule
 * (the same in format 2) is what refuses them. */
static const struct tcp_comp_params zstd_block = {
	.version = TCP_COMP_VERSION_1, .algo = TCP_COMP_ALGO_ZSTD, .mode = TCP_COMP_MODE_BLOCK,
};
static const struct tcp_comp_params zstd_block_f2 = {
	.version = TCP_COMP_VERSION_2, .algo = TCP_COMP_ALGO_ZSTD, .mode = TCP_COMP_MODE_BLOCK,
};

START_TEST(bad_header_fields)
{
	char b[64] = { 0 };

	put_hdr(b, TCP_COMP_ALGO_NONE, TCP_COMP_REC_F_RAW, 4, 4);
	b[0] = 0x45;
	expect_badmsg(&zstd_block, b, 16, false);			/* bad magic */
	put_hdr(b, TCP_COMP_ALGO_NONE, TCP_COMP_REC_F_RAW, 4, 4);
	b[1] = 9;
	expect_badmsg(&zstd_block, b, 16, false);			/* unknown type */
	put_hdr(b, TCP_COMP_ALGO_NONE, TCP_COMP_REC_F_RAW | 0x80, 4, 4);
	expect_badmsg(&zstd_block, b, 16, false);			/* unknown flag */
	put_hdr(b, TCP_COMP_ALGO_NONE, TCP_COMP_REC_F_RAW, 4, 5);
	expect_badmsg(&zstd_block, b, 17, false);			/* raw, lengths differ */
	put_hdr(b, TCP_COMP_ALGO_LZ4, 0, 4, 4);
	expect_badmsg(&zstd_block, b, 16, false);			/* algo not negotiated */
	put_hdr(b, TCP_COMP_ALGO_ZSTD, TCP_COMP_REC_F_STREAM, 4, 4);
	expect_badmsg(&zstd_block, b, 16, false);			/* mode not negotiated */
	put_hdr(b, TCP_COMP_ALGO_NONE, TCP_COMP_REC_F_RAW, 0, 0);
	expect_badmsg(&zstd_block, b, 12, false);			/* empty record */
}
END_TEST

/* Oversized claims are refused from the header alone, before any payload. */
START_TEST(oversized_records)
{
	char b[16];

	put_hdr(b, TCP_COMP_ALGO_ZSTD, 0, TCP_COMP_MAX_RECORD + 1, 100);
	expect_badmsg(&zstd_block, b, 12, false);
	put_hdr(b, TCP_COMP_ALGO_ZSTD, 0, 1000, TCP_COMP_MAX_WIRE + 1);
	expect_badmsg(&zstd_block, b, 12, false);
	put_hdr(b, TCP_COMP_ALGO_ZSTD, 0, 0xffffffffu, 0xffffffffu);
	expect_badmsg(&zstd_block, b, 12, false);
}
END_TEST

START_TEST(truncated_record)
{
	char b[12 + 50];

	put_hdr(b, TCP_COMP_ALGO_NONE, TCP_COMP_REC_F_RAW, 100, 100);
	memset(b + 12, 'x', 50);
	expect_badmsg(&zstd_block, b, sizeof(b), true);
	expect_badmsg(&zstd_block, b, 7, true);			/* inside the header */
}
END_TEST

/* A small record whose payload expands to far more than it claims. */
START_TEST(decompression_bomb)
{
	size_t big = 8u << 20, cap = ZSTD_compressBound(big);
	char *zeros = calloc(1, big), *rec = malloc(12 + cap);
	size_t z = ZSTD_compress(rec + 12, cap, zeros, big, 1);

	ck_assert(!ZSTD_isError(z));
	ck_assert_uint_lt(z, 4096);
	put_hdr(rec, TCP_COMP_ALGO_ZSTD, 0, 1000, z);
	expect_badmsg(&zstd_block, rec, 12 + z, false);
	free(zeros);
	free(rec);
}
END_TEST

START_TEST(corrupt_payload)
{
	const struct tcp_comp_params p = params_of(&combos[_i]);
	struct tcp_comp_params csum = p;
	size_t len = 50000;
	char *data = malloc(len), *wire = malloc(2 * len);
	struct pair pr;
	ssize_t got = 0, n;

	/* Produce a genuine record with a checksum, then flip one payload byte. */
	csum.flags |= TCP_COMP_F_CHECKSUM;
	comp_fill_text(data, len, 77);
	pair_open(&pr, &csum, &plain, false);
	ck_assert_int_eq(comp_send_all(pr.client, pr.cfd, data, len), 0);
	shutdown(pr.cfd, SHUT_WR);
	while ((n = recv(pr.sfd, wire + got, 2 * len - got, 0)) > 0)
		got += n;
	pair_close(&pr);
	ck_assert_int_gt(got, 16);
	wire[got / 2] ^= 0x5a;
	expect_badmsg(&csum, wire, got, true);
	free(data);
	free(wire);
}
END_TEST

/* The raw-record example of docs/compression-format.md, byte for byte. */
static const unsigned char hello_record[] = {
	0xea, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x05,
	'h', 'e', 'l', 'l', 'o',
};

/* The engine writes "hello" as exactly @rec, and reads @rec back as "hello". */
static void expect_hello_record(const struct tcp_comp_params *p, const unsigned char *rec,
				size_t len)
{
	unsigned char wire[64];
	struct pair pr;
	char got[8];
	ssize_t n = 0, r;

	pair_open(&pr, p, p, false);
	ck_assert_int_eq(ebpfaccel_comp_conn__send(pr.client, "hello", 5), 5);
	while (n < (ssize_t)len && (r = recv(pr.sfd, wire + n, sizeof(wire) - n, 0)) > 0)
		n += r;
	ck_assert_int_eq(n, len);
	ck_assert(memcmp(wire, rec, len) == 0);
	ck_assert_int_eq(send(pr.cfd, rec, len, 0), len);
	ck_assert_int_eq(ebpfaccel_comp_conn__recv(pr.server, got, sizeof(got)), 5);
	ck_assert(memcmp(got, "hello", 5) == 0);
	pair_close(&pr);
}

START_TEST(documented_example)
{
	expect_hello_record(&zstd_block, hello_record, sizeof(hello_record));
}
END_TEST

/* The same record in format 2: the XXH3 check of the payload, seeded with
 * the header (include/ebpfaccel/uapi.h), computed here from the spec. */
static const unsigned char hello_record_f2[] = {
	0xea, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x05,
	0, 0, 0, 0, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o',
};

START_TEST(documented_example_format2)
{
	uint64_t seed = (uint64_t)0x09 << 48 | (uint64_t)5 << 24 | 5;
	uint64_t h = XXH3_64bits_withSeed("hello", 5, seed);
	unsigned char rec[sizeof(hello_record_f2)];

	memcpy(rec, hello_record_f2, sizeof(rec));
	for (int i = 0; i < 8; i++)
		rec[12 + i] = h >> (56 - 8 * i);
	expect_hello_record(&zstd_block_f2, rec, sizeof(rec));
	/* A format 2 receiver refuses the unchecked format 1 record. */
	expect_badmsg(&zstd_block_f2, hello_record, sizeof(hello_record), false);
}
END_TEST

/* Records made by the libraries directly, not by the engine: what another
 * implementation (the kernel module, format 1) would produce must decode. */
START_TEST(foreign_encoder_records)
{
	const struct tcp_comp_params lz4_block = {
		.version = TCP_COMP_VERSION_1, .algo = TCP_COMP_ALGO_LZ4, .mode = TCP_COMP_MODE_BLOCK,
	};
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, zo, .tx = &plain, .rx = &zstd_block);
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, lo, .tx = &plain, .rx = &lz4_block);
	size_t len = 30000, cap = 12 + ZSTD_compressBound(len) + LZ4_compressBound(len);
	char *data = malloc(len), *rec = malloc(cap), *got = malloc(len);
	struct ebpfaccel_comp_conn *c;
	int cfd, sfd, z;
	uint32_t sum;

	comp_fill_text(data, len, 4);
	for (int algo = TCP_COMP_ALGO_ZSTD; algo <= TCP_COMP_ALGO_LZ4; algo++) {
		ck_assert_int_eq(comp_tcp_pair(&cfd, &sfd), 0);
		c = ebpfaccel_comp_conn__new(sfd, algo == TCP_COMP_ALGO_ZSTD ? &zo : &lo);
		ck_assert_ptr_nonnull(c);
		if (algo == TCP_COMP_ALGO_ZSTD)
			z = ZSTD_compress(rec + 16, cap - 16, data, len, 5);
		else
			z = LZ4_compress_default(data, rec + 16, len, cap - 16);
		ck_assert_int_gt(z, 0);
		put_hdr(rec, algo, TCP_COMP_REC_F_CHECKSUM, len, z);
		sum = htonl(XXH32(data, len, 0));
		memcpy(rec + 12, &sum, 4);
		ck_assert_int_eq(send(cfd, rec, 16 + z, 0), 16 + z);
		ck_assert_int_eq(comp_recv_all(c, sfd, got, len), 0);
		ck_assert(memcmp(got, data, len) == 0);
		ebpfaccel_comp_conn__free(c);
		close(cfd);
		close(sfd);
	}
	free(data);
	free(rec);
	free(got);
}
END_TEST

START_TEST(bad_params)
{
	struct tcp_comp_params p = zstd_block;
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .tx = &p, .rx = &p);
	int cfd, sfd;

	ck_assert_int_eq(comp_tcp_pair(&cfd, &sfd), 0);
	p.algo = 77;
	ck_assert_ptr_null(ebpfaccel_comp_conn__new(cfd, &o));
	ck_assert_int_eq(errno, EINVAL);
	p.algo = TCP_COMP_ALGO_ZSTD;
	p.version = TCP_COMP_VERSION_2 + 1;	/* a record format not known */
	ck_assert_ptr_null(ebpfaccel_comp_conn__new(cfd, &o));
	ck_assert_int_eq(errno, EINVAL);
	p.version = TCP_COMP_VERSION_1;
	p.record_size = TCP_COMP_MAX_RECORD + 1;
	ck_assert_ptr_null(ebpfaccel_comp_conn__new(cfd, &o));
	o.rx = NULL;
	p.record_size = 0;
	ck_assert_ptr_null(ebpfaccel_comp_conn__new(cfd, &o));
	ck_assert_ptr_null(ebpfaccel_comp_conn__new(-1, NULL));
	close(cfd);
	close(sfd);
}
END_TEST

static void setup(void)
{
	if (geteuid()) {
		fprintf(stderr, "SKIP: needs root for a private network namespace\n");
		exit(77);
	}
	ck_assert_int_eq(comp_private_netns(), 0);
}

static Suite *engine_suite(void)
{
	Suite *s = suite_create("comp_engine");
	TCase *tc = tcase_create("engine");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, round_trip_sizes, 0, N_COMBOS);
	tcase_add_loop_test(tc, one_direction_only, 0, N_COMBOS);
	tcase_add_loop_test(tc, nonblocking_partial_writes, 0, N_COMBOS);
	tcase_add_loop_test(tc, large_stream, 0, 4);
	tcase_add_loop_test(tc, sendfile_file, 0, N_COMBOS);
	tcase_add_test(tc, bad_header_fields);
	tcase_add_test(tc, oversized_records);
	tcase_add_test(tc, truncated_record);
	tcase_add_test(tc, decompression_bomb);
	tcase_add_loop_test(tc, corrupt_payload, 0, N_COMBOS);
	tcase_add_test(tc, bad_params);
	tcase_add_test(tc, documented_example);
	tcase_add_test(tc, documented_example_format2);
	tcase_add_test(tc, foreign_encoder_records);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{

	if (geteuid()) {
		fprintf(stderr, "SKIP: needs root for a private network namespace\n");
		return 77;
	}
	return fx_run_suite(engine_suite());
}
