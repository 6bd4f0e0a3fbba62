// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Stream-mode decoding over MiBs with reads of changing size: zstd stream
 * records go straight into the caller's buffer when a read holds two of
 * the frame's windows and through the decoder's ring otherwise
 * (lib/comp_zstd_zc.c), and the two alternate from one read to the next.
 * Level 1 (512 KiB window, 2 MiB frames: in place), level 6 (a larger
 * window: zstd's own streaming decoder) and lz4 stream, byte-exact: the
 * record codec alone (lib/comp_codec.h, every read decoding all the records
 * that fit, as from a large receive buffer) and through a socketpair with
 * a sender thread.
 */
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixtures.h"
#include "comp_codec.h"
#include "comp_testlib.h"

#define CORPUS	(9U << 20)

static const struct tcp_comp_params cfgs[] = {
	{ .version = TCP_COMP_VERSION_2, .algo = TCP_COMP_ALGO_ZSTD, .mode = TCP_COMP_MODE_STREAM,
	  .level = 1 },
	{ .version = TCP_COMP_VERSION_2, .algo = TCP_COMP_ALGO_ZSTD, .mode = TCP_COMP_MODE_STREAM,
	  .level = 6 },
	{ .version = TCP_COMP_VERSION_2, .algo = TCP_COMP_ALGO_LZ4, .mode = TCP_COMP_MODE_STREAM },
};
#define N_CFGS (sizeof(cfgs) / sizeof(cfgs[0]))

static const struct tcp_comp_params plain = { .version = TCP_COMP_VERSION };

/* Text whose matches reach far back (a block repeated 3 MiB later), with
 * incompressible stretches. */
static char *corpus(void)
{
	char *c = malloc(CORPUS);

	ck_assert_ptr_nonnull(c);
	comp_fill_text(c, CORPUS, 7);
	comp_fill_random(c + (1U << 20), 300000, 8);
	memcpy(c + (4U << 20), c + (1U << 20) - 200000, 600000);
	comp_fill_random(c + (6U << 20) + 12345, 70000, 9);
	return c;
}

struct sender {
	int fd;
	const struct tcp_comp_params *p;
	const char *data;
	int err;
};

/* Sends the corpus in pieces of changing size, as an application would. */
static void *send_thread(void *arg)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .no_kernel = true);
	struct sender *s = arg;
	struct ebpfaccel_comp_conn *c;
	size_t off = 0, piece = 70000;

	o.tx = s->p;
	o.rx = &plain;
	c = ebpfaccel_comp_conn__new(s->fd, &o);
	if (!c) {
		s->err = -errno;
		return NULL;
	}
	while (off < CORPUS && !s->err) {
		size_t n = CORPUS - off < piece ? CORPUS - off : piece;

		s->err = comp_send_all(c, s->fd, s->data + off, n);
		off += n;
		piece = piece * 3 % (3U << 20) + 1;
	}
	ebpfaccel_comp_conn__free(c);
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

/* Reads of these sizes in turn: above two windows, between one and two,
 * below one, tiny, and one record. */
static const size_t reads[] = {
	1U << 20, 3U << 20, 700000, 65536, (2U << 20) + 5, 4097, 1, 131072, 1500000,
};


/* The records of the whole corpus, as the engine's sender cuts them. */
static char *encode(const struct tcp_comp_params *p, const char *data, size_t *wire_len)
{
	struct comp_encoder e;
	struct tcp_comp_stats st = { 0 };
	size_t rec = comp_record_size(p), max, cap;
	char *wire;

	ck_assert_int_eq(comp_encoder__init(&e, p), 0);
	max = comp_encoder__max_record(&e);
	cap = (CORPUS / rec + 1) * max;
	wire = malloc(cap);
	ck_assert_ptr_nonnull(wire);
	*wire_len = 0;
	comp_encoder__begin(&e, CORPUS);
	for (size_t off = 0, n; off < CORPUS; off += n) {
		ssize_t r;

		n = CORPUS - off < rec ? CORPUS - off : rec;
		r = comp_encoder__record(&e, data + off, n, wire + *wire_len, &st);
		ck_assert_int_gt(r, 0);
		*wire_len += r;
	}
	comp_encoder__end(&e);
	comp_encoder__fini(&e);
	return wire;
}

/*
 * The corpus's records decoded by the codec alone in reads of @sizes in
 * turn, byte-exact.  @reuse: every read into one buffer that the caller
 * overwrites once it has taken the bytes, so nothing of a stream's history
 * may stay in the caller's memory; else each read lands at its place.
 */
static void codec_reads(const struct tcp_comp_params *p, const size_t *sizes, size_t n_sizes,
			bool reuse)
{
	const size_t room = 3U << 20;
	struct comp_decoder d;
	struct tcp_comp_stats st = { 0 };
	char *data = corpus(), *out = malloc(CORPUS), *buf = malloc(room), *wire, *to;
	size_t wire_len, off = 0, got = 0, used, i = 0;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(buf);
	wire = encode(p, data, &wire_len);
	ck_assert_int_eq(comp_decoder__init(&d, p), 0);
	while (got < CORPUS) {
		size_t want = sizes[i++ % n_sizes];
		ssize_t n;

		want = want < room ? want : room;
		want = want < CORPUS - got ? want : CORPUS - got;
		to = reuse ? buf : out + got;
		if (comp_decoder__pending(&d)) {
			n = comp_decoder__copy_out(&d, to, want);
		} else {
			n = comp_decoder__decode(&d, wire + off, wire_len - off, &used, to, want, &st);
			ck_assert_msg(n > 0, "decode at %zu of %zu: %zd (%s)", got, (size_t)CORPUS,
				      n, d.why ? d.why : "");
			off += used;
		}
		if (reuse) {
			memcpy(out + got, buf, n);
			memset(buf, 0xA5, n);
		}
		got += n;
	}
	ck_assert_uint_eq(off, wire_len);
	ck_assert_msg(!memcmp(out, data, CORPUS), "decoded bytes differ");
	comp_decoder__fini(&d);
	free(wire);
	free(buf);
	free(out);
	free(data);
}

START_TEST(codec_reads_of_changing_size)
{
	codec_reads(&cfgs[_i], reads, sizeof(reads) / sizeof(reads[0]), false);
}
END_TEST

/* Reads of one record (128 KiB) or a record and a part, and the others. */
static const size_t record_reads[] = {
	131072, 131072, 200000, 131072, 65536, 65536, 131072, 1U << 20, 131072, 4097,
};

/* lz4 stream decodes the first record of a read after its own history and
 * copies it out: the caller's copy must not be what the next read uses. */
START_TEST(codec_reads_into_a_reused_buffer)
{
	codec_reads(&cfgs[_i], record_reads, sizeof(record_reads) / sizeof(record_reads[0]), true);
	codec_reads(&cfgs[_i], reads, sizeof(reads) / sizeof(reads[0]), true);
}
END_TEST

START_TEST(reads_of_changing_size)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .tx = &plain, .rx = &cfgs[_i],
			  .no_kernel = true);
	struct sender s = { .p = &cfgs[_i] };
	struct ebpfaccel_comp_conn *rx;
	char *data = corpus(), *out = malloc(CORPUS + 1);
	size_t got = 0, i = 0;
	pthread_t t;
	int sv[2];
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.fd = sv[0];
	s.data = data;
	rx = ebpfaccel_comp_conn__new(sv[1], &o);
	ck_assert_ptr_nonnull(rx);
	ck_assert_int_eq(pthread_create(&t, NULL, send_thread, &s), 0);
	do {
		size_t want = reads[i++ % (sizeof(reads) / sizeof(reads[0]))];

		if (want > CORPUS + 1 - got)
			want = CORPUS + 1 - got;
		n = ebpfaccel_comp_conn__recv(rx, out + got, want);
		if (n > 0)
			got += n;
	} while (n > 0 && got <= CORPUS);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(!s.err, "send: %s", strerror(-s.err));
	ck_assert_msg(n == 0, "recv: %s", n < 0 ? strerror(-n) : "more bytes than sent");
	ck_assert_uint_eq(got, CORPUS);
	ck_assert_msg(!memcmp(out, data, CORPUS), "decoded bytes differ");
	ebpfaccel_comp_conn__free(rx);
	close(sv[0]);
	close(sv[1]);
	free(out);
	free(data);
}
END_TEST

static Suite *stream_reads_suite(void)
{
	Suite *s = suite_create("comp_stream_reads");
	TCase *tc = tcase_create("reads");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, codec_reads_of_changing_size, 0, N_CFGS);
	tcase_add_loop_test(tc, codec_reads_into_a_reused_buffer, 0, N_CFGS);
	tcase_add_loop_test(tc, reads_of_changing_size, 0, N_CFGS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	ebpfaccel_set_print(NULL);
	return fx_run_suite(stream_reads_suite());
}
