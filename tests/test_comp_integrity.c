// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Integrity of the user-space decoder against damaged input (issue 18):
 *
 * - corrupted_streams: 300 streams per configuration, each with 1-8 random
 *   bytes changed and/or cut short, the way a hostile or broken path would
 *   deliver them.  With the default parameters (record format 2) no stream
 *   may decode to a wrong byte without an error; format 1 without a check is
 *   measured next to it and must show the problem, which proves the test
 *   sees wrong bytes when there are some.
 * - mutation_fuzz: a seeded corpus of valid streams, mutated at random
 *   (bit flips, byte overwrites, insertions, deletions, cuts, header fields)
 *   for a bounded time (COMP_FUZZ_SECONDS, default 2 per configuration;
 *   COMP_FUZZ_SEED reproduces a run): never a crash, a hang or a wrong byte.
 *
 * Runs over AF_UNIX socketpairs: the engine needs only a connected stream
 * socket, and no privileges are needed.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "fixtures.h"
#include "comp_testlib.h"

#define STREAMS		300
#define MAX_STREAM	(200u * 1024)

static const struct tcp_comp_params plain = { .version = TCP_COMP_VERSION };

static struct tcp_comp_params params(int i)
{
	static const struct { uint8_t algo, mode; } c[] = {
		{ TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_BLOCK }, { TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM },
		{ TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_BLOCK }, { TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_STREAM },
	};

	return (struct tcp_comp_params){ .version = TCP_COMP_VERSION, .algo = c[i % 4].algo,
					 .mode = c[i % 4].mode, .record_size = i & 4 ? 4096 : 0 };
}
#define N_PARAMS 8

static const char *name_of(const struct tcp_comp_params *p)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s/%s/%s/format %d",
		 p->algo == TCP_COMP_ALGO_ZSTD ? "zstd" : "lz4",
		 p->mode == TCP_COMP_MODE_STREAM ? "stream" : "block",
		 p->record_size ? "4 KiB records" : "default records", p->version);
	return buf;
}

struct pipe_io {
	int fd;
	const char *in;		/* feed: bytes to write */
	char *out;		/* drain: bytes read */
	size_t len, cap;
};

static void *drain(void *arg)
{
	struct pipe_io *io = arg;
	ssize_t n;

	while ((n = read(io->fd, io->out + io->len, io->cap - io->len)) > 0)
		io->len += n;
	return NULL;
}

static void *feed(void *arg)
{
	struct pipe_io *io = arg;
	size_t off = 0;
	ssize_t n;

	while (off < io->len && (n = write(io->fd, io->in + off, io->len - off)) > 0)
		off += n;
	shutdown(io->fd, SHUT_WR);
	return NULL;
}

static struct ebpfaccel_comp_conn *conn(int fd, const struct tcp_comp_params *tx,
					const struct tcp_comp_params *rx)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .tx = tx, .rx = rx, .no_kernel = true);
	struct ebpfaccel_comp_conn *c = ebpfaccel_comp_conn__new(fd, &o);

	ck_assert_ptr_nonnull(c);
	return c;
}

/* Encodes @data as an application writing @chunk bytes at a time; returns the wire length. */
static size_t encode(const struct tcp_comp_params *p, const char *data, size_t len, size_t chunk,
		     char *wire, size_t cap)
{
	struct pipe_io io = { .out = wire, .cap = cap };
	struct ebpfaccel_comp_conn *c;
	pthread_t t;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	io.fd = sv[1];
	pthread_create(&t, NULL, drain, &io);
	c = conn(sv[0], p, &plain);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		ck_assert_int_eq(ebpfaccel_comp_conn__send(c, data + off, n), (ssize_t)n);
	}
	ebpfaccel_comp_conn__free(c);
	shutdown(sv[0], SHUT_WR);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	ck_assert_uint_lt(io.len, cap);
	return io.len;
}

/* Decodes @wire; *@got = bytes delivered.  0 = clean end, else the error. */
static int decode(const struct tcp_comp_params *p, const char *wire, size_t wlen, char *out,
		  size_t cap, size_t *got)
{
	struct pipe_io io = { .in = wire, .len = wlen };
	struct ebpfaccel_comp_conn *c;
	pthread_t t;
	ssize_t n;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	io.fd = sv[1];
	pthread_create(&t, NULL, feed, &io);
	c = conn(sv[0], &plain, p);
	*got = 0;
	while ((n = ebpfaccel_comp_conn__recv(c, out + *got, cap - *got)) > 0) {
		*got += n;
		ck_assert_uint_le(*got, cap);	/* never more than was sent */
	}
	ebpfaccel_comp_conn__free(c);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	return n;
}

/* Offsets where records end in a valid stream: a cut there is a clean end. */
static bool record_boundary(const char *wire, size_t wlen, size_t at)
{
	size_t off = 0;

	while (off < wlen && off < at) {
		const struct tcp_comp_rec_hdr *h = (const void *)(wire + off);
		size_t hlen = TCP_COMP_REC_HDR_LEN +
			      (h->flags & TCP_COMP_REC_F_XXH3 ? TCP_COMP_REC_XXH3_LEN : 0) +
			      (h->flags & TCP_COMP_REC_F_CHECKSUM ? TCP_COMP_REC_CSUM_LEN : 0);

		off += hlen + ntohl(h->wire_len);
	}
	return off == at;
}

struct verdict {
	unsigned int errors, intact, wrong;
};

/*
 * Wrong = the reader got a byte that differs from what was sent, or a
 * shorter stream without an error where the cut was inside a record.  A
 * cut between records reads as the sender closing early, as plain TCP does.
 */
static void judge(struct verdict *v, int err, const char *data, size_t len, const char *out,
		  size_t got, bool cut_at_boundary)
{
	if (got > len || memcmp(out, data, got))
		v->wrong++;
	else if (err)
		v->errors++;
	else if (got == len || cut_at_boundary)
		v->intact++;
	else
		v->wrong++;
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* The damage: 1-8 random bytes changed and/or the stream cut short. */
static size_t corrupt(char *wire, size_t wlen, uint32_t *s)
{
	unsigned int kind = rnd(s) % 3;	/* 0: bytes, 1: cut, 2: both */

	if (kind != 1)
		for (unsigned int i = 0, n = 1 + rnd(s) % 8; i < n; i++)
			wire[rnd(s) % wlen] ^= 1 + rnd(s) % 255;
	if (kind != 0)
		wlen = rnd(s) % wlen;
	return wlen;
}

static struct verdict corrupted_run(const struct tcp_comp_params *p, uint32_t seed)
{
	char *data = malloc(MAX_STREAM), *out = malloc(MAX_STREAM);
	size_t cap = 2 * MAX_STREAM;
	char *wire = malloc(cap), *bad = malloc(cap);
	struct verdict v = { 0 };
	uint32_t s = seed;

	for (int i = 0; i < STREAMS; i++) {
		/* Writes of 256 bytes and more keep the records' overhead, and so
		 * the wire, below twice the data (the drain's room). */
		size_t len = 1 + rnd(&s) % MAX_STREAM, chunk = 256 + rnd(&s) % len, got, wlen, blen;
		int err;

		if (i % 5 == 4)
			comp_fill_random(data, len, rnd(&s));
		else
			comp_fill_text(data, len, rnd(&s));
		wlen = encode(p, data, len, chunk, wire, cap);
		memcpy(bad, wire, wlen);
		blen = corrupt(bad, wlen, &s);
		err = decode(p, bad, blen, out, MAX_STREAM, &got);
		ck_assert(err == 0 || err == -EBADMSG);
		judge(&v, err, data, len, out, got,
		      blen == wlen ? false : record_boundary(wire, wlen, blen) && !memcmp(bad, wire, blen));
	}
	free(data);
	free(out);
	free(wire);
	free(bad);
	return v;
}

START_TEST(corrupted_streams)
{
	struct tcp_comp_params p = params(_i), f1 = p;
	struct verdict v2, v1;

	f1.version = TCP_COMP_VERSION_1;
	v2 = corrupted_run(&p, 1000 + _i);
	v1 = corrupted_run(&f1, 1000 + _i);
	printf("%-40s %3u streams: %3u errors, %3u intact, %3u wrong without error\n", name_of(&p),
	       STREAMS, v2.errors, v2.intact, v2.wrong);
	printf("%-40s %3u streams: %3u errors, %3u intact, %3u wrong without error\n", name_of(&f1),
	       STREAMS, v1.errors, v1.intact, v1.wrong);
	ck_assert_uint_eq(v2.wrong, 0);
	ck_assert_uint_gt(v1.wrong, 0);
}
END_TEST

/* One random edit of @buf (length *@len, room @cap). */
static void mutate(char *buf, size_t *len, size_t cap, uint32_t *s)
{
	size_t at = *len ? rnd(s) % *len : 0, n = 1 + rnd(s) % 16;

	switch (rnd(s) % 7) {
	case 0:	/* bit flip */
		if (*len)
			buf[at] ^= 1 << (rnd(s) % 8);
		break;
	case 1:	/* overwrite with an interesting value */
		if (*len)
			buf[at] = (char[]){ 0, 1, 0x7f, (char)0x80, (char)0xff, 0x3 }[rnd(s) % 6];
		break;
	case 2:	/* insert bytes */
		if (*len + n <= cap) {
			memmove(buf + at + n, buf + at, *len - at);
			for (size_t i = 0; i < n; i++)
				buf[at + i] = rnd(s);
			*len += n;
		}
		break;
	case 3:	/* delete bytes */
		n = n < *len - at ? n : *len - at;
		memmove(buf + at, buf + at + n, *len - at - n);
		*len -= n;
		break;
	case 4:	/* cut */
		*len = at;
		break;
	case 5:	/* a length field of the first header: the most sensitive bytes */
		if (*len >= TCP_COMP_REC_HDR_LEN)
			buf[4 + rnd(s) % 8] ^= 1 << (rnd(s) % 8);
		break;
	default: /* algo / flags of the first header */
		if (*len >= TCP_COMP_REC_HDR_LEN)
			buf[2 + rnd(s) % 2] ^= 1 << (rnd(s) % 8);
		break;
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(mutation_fuzz)
{
	const char *env = getenv("COMP_FUZZ_SECONDS");
	double budget = env ? atof(env) : 2, t0 = now();
	struct tcp_comp_params p = params(_i);
	enum { CORPUS = 8, LEN = 48 * 1024 };
	char *data[CORPUS], *wire[CORPUS], *buf, *out = malloc(LEN);
	size_t wlen[CORPUS], cap = 2 * LEN;
	uint32_t s = getenv("COMP_FUZZ_SEED") ? strtoul(getenv("COMP_FUZZ_SEED"), NULL, 0)
					      : (uint32_t)time(NULL) ^ (_i << 16);
	const uint32_t seed = s;
	unsigned long runs = 0;
	struct verdict v = { 0 };

	printf("%s: COMP_FUZZ_SEED=%u\n", name_of(&p), seed);
	fflush(stdout);
	/* Corpus: text and random data, written in large and in small pieces. */
	for (int i = 0; i < CORPUS; i++) {
		data[i] = malloc(LEN);
		wire[i] = malloc(cap);
		if (i % 4 == 3)
			comp_fill_random(data[i], LEN, i);
		else
			comp_fill_text(data[i], LEN, i);
		wlen[i] = encode(&p, data[i], LEN, i % 2 ? 1000 : LEN, wire[i], cap);
	}
	buf = malloc(cap);
	while (now() - t0 < budget || runs < 100) {
		int k = rnd(&s) % CORPUS, err;
		size_t len = wlen[k], got;

		memcpy(buf, wire[k], len);
		for (unsigned int m = 0, n = 1 + rnd(&s) % 4; m < n; m++)
			mutate(buf, &len, cap, &s);
		/* Every byte delivered must be the original one; a clean end is
		 * fine only where the mutated stream is a record-aligned prefix. */
		err = decode(&p, buf, len, out, LEN, &got);
		ck_assert(err == 0 || err == -EBADMSG);
		judge(&v, err, data[k], LEN, out, got,
		      len <= wlen[k] && !memcmp(buf, wire[k], len) && record_boundary(wire[k], wlen[k], len));
		ck_assert_msg(!v.wrong, "wrong bytes without error (COMP_FUZZ_SEED=%u)", seed);
		runs++;
	}
	printf("%s: %lu mutated streams in %.1f s: %u errors, %u intact\n", name_of(&p), runs,
	       now() - t0, v.errors, v.intact);
	for (int i = 0; i < CORPUS; i++) {
		free(data[i]);
		free(wire[i]);
	}
	free(buf);
	free(out);
}
END_TEST

static Suite *integrity_suite(void)
{
	Suite *s = suite_create("comp_integrity");
	TCase *tc = tcase_create("integrity");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, corrupted_streams, 0, N_PARAMS);
	tcase_add_loop_test(tc, mutation_fuzz, 0, N_PARAMS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	ebpfaccel_set_print(NULL);
	return fx_run_suite(integrity_suite());
}
