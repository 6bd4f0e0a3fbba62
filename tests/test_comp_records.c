// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Record boundaries in the user-space engine's receive path: a stream of
 * compressed and raw records (text, incompressible bytes, text that refers
 * back across the raw record) arriving split at every byte, read in every
 * size up to past a record, and many records answered by one recv().
 * Records are made by the engine itself and travel through a socketpair.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "fixtures.h"
#include "comp_testlib.h"

#define RECORD	4096	/* small records: many boundaries in a few KiB of wire */

#define P(a, m, v, f) { .version = (v), .algo = (a), .mode = (m), .level = 1, \
			.record_size = RECORD, .flags = (f) }
static const struct tcp_comp_params cfgs[] = {
	P(TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_BLOCK, TCP_COMP_VERSION_2, 0),
	P(TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM, TCP_COMP_VERSION_2, 0),
	P(TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_BLOCK, TCP_COMP_VERSION_2, 0),
	P(TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_STREAM, TCP_COMP_VERSION_2, 0),
	P(TCP_COMP_ALGO_LZ4, TCP_COMP_MODE_STREAM, TCP_COMP_VERSION_1, TCP_COMP_F_CHECKSUM),
	P(TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM, TCP_COMP_VERSION_1, 0),
};
#define N_CFGS (sizeof(cfgs) / sizeof(cfgs[0]))

static const struct tcp_comp_params plain = { .version = TCP_COMP_VERSION };

/* What the sender sends, one send() per piece. */
struct corpus {
	char data[20000];
	size_t pieces[5], n_pieces, len;
};

/* Text, then incompressible bytes (raw records in every mode but zstd
 * stream), then a send of over two records (lz4 stream compresses those in
 * the caller's buffer) repeating the first part (matches reach back across
 * the raw record into the history), then two smaller sends. */
static void corpus_make(struct corpus *c)
{
	static const size_t sizes[] = { 5000, 1500, 9000, 2000, 17 };

	c->len = 0;
	for (size_t i = 0; i < 5; i++)
		c->pieces[i] = sizes[i], c->len += sizes[i];
	c->n_pieces = 5;
	comp_fill_text(c->data, 5000, 3);
	comp_fill_random(c->data + 5000, 1500, 4);
	memcpy(c->data + 6500, c->data, 5000);
	comp_fill_text(c->data + 11500, c->len - 11500, 5);
}

static struct ebpfaccel_comp_conn *wrap(int fd, const struct tcp_comp_params *tx,
					const struct tcp_comp_params *rx)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .tx = tx, .rx = rx, .no_kernel = true);
	struct ebpfaccel_comp_conn *c = ebpfaccel_comp_conn__new(fd, &o);

	ck_assert_ptr_nonnull(c);
	return c;
}

/* The engine's wire bytes for @c. */
static char *encode(const struct tcp_comp_params *p, const struct corpus *c, size_t *wire_len)
{
	struct ebpfaccel_comp_conn *tx;
	size_t off = 0, cap = 1 << 16;
	char *wire = malloc(cap);
	ssize_t n;
	int sv[2];

	ck_assert_ptr_nonnull(wire);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	tx = wrap(sv[0], p, &plain);
	/* A few KiB of wire: the socket holds all of it, no reader thread.
	 * Each piece is sent from its own mapping, unmapped right after, as
	 * callers reuse or free their buffers: an engine still reading one
	 * faults. */
	for (size_t i = 0; i < c->n_pieces; i++) {
		char *piece = mmap(NULL, c->pieces[i], PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		ck_assert_ptr_ne(piece, MAP_FAILED);
		memcpy(piece, c->data + off, c->pieces[i]);
		ck_assert_int_eq(comp_send_all(tx, sv[0], piece, c->pieces[i]), 0);
		munmap(piece, c->pieces[i]);
		off += c->pieces[i];
	}
	ebpfaccel_comp_conn__free(tx);
	shutdown(sv[0], SHUT_WR);
	*wire_len = 0;
	while ((n = read(sv[1], wire + *wire_len, cap - *wire_len)) > 0)
		*wire_len += n;
	ck_assert_int_eq(n, 0);
	ck_assert_uint_lt(*wire_len, cap);
	close(sv[0]);
	close(sv[1]);
	return wire;
}

/* Reads until -EAGAIN (@until_eof: until the end) in @rsize reads. */
static void drain(struct ebpfaccel_comp_conn *rx, int fd, size_t rsize, char *out, size_t cap,
		  size_t *got, bool until_eof)
{
	for (;;) {
		size_t want = cap - *got < rsize ? cap - *got : rsize;
		ssize_t n = ebpfaccel_comp_conn__recv(rx, out + *got, want ? want : 1);

		if (n == -EAGAIN && until_eof) {
			comp_wait(fd, POLLIN);
			continue;
		}
		if (n == -EAGAIN || !n)
			return;
		if (n < 0)
			ck_abort_msg("recv: %s", strerror(-n));
		ck_assert_uint_le(*got + n, cap);
		*got += n;
	}
}

/* The receiver sees @wire arrive as [0, split) then the rest and reads it in
 * @rsize pieces; it must read exactly @c. */
static void decode_split(const struct tcp_comp_params *p, const char *wire, size_t wire_len,
			 size_t split, size_t rsize, const struct corpus *c)
{
	struct ebpfaccel_comp_conn *rx;
	static char out[sizeof(c->data) + 1];
	size_t got = 0;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	rx = wrap(sv[1], &plain, p);
	ck_assert_int_eq(write(sv[0], wire, split), (ssize_t)split);
	drain(rx, sv[1], rsize, out, sizeof(out), &got, false);
	ck_assert_int_eq(write(sv[0], wire + split, wire_len - split), (ssize_t)(wire_len - split));
	shutdown(sv[0], SHUT_WR);
	drain(rx, sv[1], rsize, out, sizeof(out), &got, true);
	ck_assert_msg(got == c->len && !memcmp(out, c->data, c->len),
		      "split at %zu, reads of %zu: %zu of %zu bytes, %s", split, rsize, got,
		      c->len, got == c->len ? "different" : "short");
	ebpfaccel_comp_conn__free(rx);
	close(sv[0]);
	close(sv[1]);
}

/* Every split point of the wire, with reads larger than several records,
 * smaller than one, and in between. */
START_TEST(split_at_every_byte)
{
	static const size_t rsizes[] = { 1 << 20, 1000, RECORD + 1 };
	static struct corpus c;
	size_t wire_len;
	char *wire;

	corpus_make(&c);
	wire = encode(&cfgs[_i], &c, &wire_len);
	for (size_t split = 0; split <= wire_len; split++)
		decode_split(&cfgs[_i], wire, wire_len, split, rsizes[split % 3], &c);
	free(wire);
}
END_TEST

/* Every read size from 1 byte to past a record, all the wire already there. */
START_TEST(reads_of_every_size)
{
	static struct corpus c;
	size_t wire_len;
	char *wire;

	corpus_make(&c);
	wire = encode(&cfgs[_i], &c, &wire_len);
	for (size_t rsize = 1; rsize <= RECORD + 64; rsize += rsize < 64 ? 1 : 61)
		decode_split(&cfgs[_i], wire, wire_len, wire_len, rsize, &c);
	free(wire);
}
END_TEST

/* Records already received are all decoded by the next recv() that has room,
 * not one per call; one that does not fit waits for the next call. */
START_TEST(many_records_one_recv)
{
	struct ebpfaccel_comp_conn *rx;
	static struct corpus c;
	static char out[sizeof(c.data)];
	struct tcp_comp_stats st;
	size_t wire_len;
	char *wire;
	ssize_t n;
	int sv[2];

	corpus_make(&c);
	wire = encode(&cfgs[_i], &c, &wire_len);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[0], wire, wire_len), (ssize_t)wire_len);
	shutdown(sv[0], SHUT_WR);
	rx = wrap(sv[1], &plain, &cfgs[_i]);
	/* The first two records (5000 bytes of text in RECORD pieces) fit,
	 * the third (1500 raw bytes) does not. */
	n = ebpfaccel_comp_conn__recv(rx, out, 5000 + 1000);
	ck_assert_int_eq(n, 5000);
	ck_assert_int_eq(ebpfaccel_comp_conn__stats(rx, &st), 0);
	ck_assert_uint_eq(st.rx_records, 2);
	n = ebpfaccel_comp_conn__recv(rx, out + 5000, sizeof(out) - 5000);
	ck_assert_int_eq(n, c.len - 5000);
	ck_assert(!memcmp(out, c.data, c.len));
	ck_assert_int_eq(ebpfaccel_comp_conn__recv(rx, out, sizeof(out)), 0);
	ebpfaccel_comp_conn__free(rx);
	close(sv[0]);
	close(sv[1]);
	free(wire);
}
END_TEST

/* A bad record after good ones: the good bytes are returned, then the error,
 * which stays. */
START_TEST(error_after_good_records)
{
	struct ebpfaccel_comp_conn *rx;
	static struct corpus c;
	static char out[sizeof(c.data)];
	struct tcp_comp_rec_hdr h;
	size_t wire_len, first;
	char *wire;
	int sv[2];

	corpus_make(&c);
	wire = encode(&cfgs[_i], &c, &wire_len);
	/* The second record's magic byte, right after the first record. */
	memcpy(&h, wire, sizeof(h));
	first = TCP_COMP_REC_HDR_LEN + ntohl(h.wire_len) +
		(h.flags & TCP_COMP_REC_F_XXH3 ? TCP_COMP_REC_XXH3_LEN : 0) +
		(h.flags & TCP_COMP_REC_F_CHECKSUM ? TCP_COMP_REC_CSUM_LEN : 0);
	ck_assert_uint_lt(first, wire_len);
	wire[first] ^= 0xff;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[0], wire, wire_len), (ssize_t)wire_len);
	shutdown(sv[0], SHUT_WR);
	rx = wrap(sv[1], &plain, &cfgs[_i]);
	ck_assert_int_eq(ebpfaccel_comp_conn__recv(rx, out, sizeof(out)), RECORD);
	ck_assert(!memcmp(out, c.data, RECORD));
	ck_assert_int_eq(ebpfaccel_comp_conn__recv(rx, out, sizeof(out)), -EBADMSG);
	ck_assert_int_eq(ebpfaccel_comp_conn__recv(rx, out, sizeof(out)), -EBADMSG);
	ebpfaccel_comp_conn__free(rx);
	close(sv[0]);
	close(sv[1]);
	free(wire);
}
END_TEST

static Suite *records_suite(void)
{
	Suite *s = suite_create("comp_records");
	TCase *tc = tcase_create("records");

	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, split_at_every_byte, 0, N_CFGS);
	tcase_add_loop_test(tc, reads_of_every_size, 0, N_CFGS);
	tcase_add_loop_test(tc, many_records_one_recv, 0, N_CFGS);
	tcase_add_loop_test(tc, error_after_good_records, 0, N_CFGS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	ebpfaccel_set_print(NULL);
	return fx_run_suite(records_suite());
}
