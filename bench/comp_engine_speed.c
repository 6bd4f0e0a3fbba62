// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Benchmark helper for bench/comp_engine_speed.sh (not a test): the engine
 * against the libraries it wraps, on one core, in the same run.
 *
 *   comp_engine_speed FILE [REPS [CONFIG]]   (CONFIG: only the engine configuration so named)
 *   COMP_BENCH_RECORD=BYTES: the engine's record size (default: the library's)
 *
 * Engine: ebpfaccel_comp_conn__send() of the whole FILE into a socketpair
 * (a thread drains it), then __recv() in 1 MiB reads from a socketpair that a
 * thread feeds with those records; the output is compared with FILE outside
 * the timing.  Reference: what `zstd -b1` and `lz4 -b1` time, i.e. one
 * ZSTD_compressCCtx() / LZ4_compress_fast() call over the whole FILE and one
 * decompression call back.  Both are timed in CPU time of the calling thread,
 * best of REPS (default 5), alternating engine and reference so that a
 * disturbed moment of the shared machine hits both.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <lz4.h>
#include <zstd.h>
#include <ebpfaccel/ebpfaccel.h>

#define READ_SIZE (1u << 20)

__attribute__((noreturn)) static void die(const char *what, int err)
{
	fprintf(stderr, "comp_engine_speed: %s: %s\n", what, strerror(err));
	exit(1);
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct drain {
	int fd;
	char *out;
	size_t len;
};

static void *drain_thread(void *arg)
{
	struct drain *d = arg;
	size_t cap = 1 << 20;
	ssize_t n;

	d->out = malloc(cap);
	while (d->out && (n = read(d->fd, d->out + d->len, cap - d->len)) > 0) {
		d->len += n;
		if (d->len == cap)
			d->out = realloc(d->out, cap *= 2);
	}
	if (!d->out)
		die("drain", ENOMEM);
	return NULL;
}

struct feed {
	int fd;
	const char *buf;
	size_t len;
};

static void *feed_thread(void *arg)
{
	struct feed *f = arg;
	size_t off = 0;

	while (off < f->len) {
		ssize_t n = write(f->fd, f->buf + off, f->len - off);

		if (n <= 0)
			break;
		off += n;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

static struct ebpfaccel_comp_conn *wrap(int fd, const struct tcp_comp_params *tx,
					const struct tcp_comp_params *rx)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .tx = tx, .rx = rx, .no_kernel = true);
	struct ebpfaccel_comp_conn *c = ebpfaccel_comp_conn__new(fd, &o);

	if (!c)
		die("ebpfaccel_comp_conn__new", errno);
	return c;
}

static const struct tcp_comp_params plain = { .version = TCP_COMP_VERSION };

/* CPU seconds to encode @len bytes; the records end up in @d. */
static double engine_encode(const struct tcp_comp_params *p, const char *data, size_t len,
			    struct drain *d)
{
	struct ebpfaccel_comp_conn *c;
	double t0, t1;
	pthread_t t;
	ssize_t n;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair", errno);
	free(d->out);
	*d = (struct drain){ .fd = sv[1] };
	pthread_create(&t, NULL, drain_thread, d);
	c = wrap(sv[0], p, &plain);
	t0 = cpu_now();
	for (size_t off = 0; off < len; off += n) {
		n = ebpfaccel_comp_conn__send(c, data + off, len - off);
		if (n <= 0)
			die("encode", n ? -n : EIO);
	}
	t1 = cpu_now();
	ebpfaccel_comp_conn__free(c);
	shutdown(sv[0], SHUT_WR);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	return t1 - t0;
}

/* CPU seconds to decode @d's records into @out, checked against @data. */
static double engine_decode(const struct tcp_comp_params *p, const struct drain *d,
			    const char *data, char *out, size_t len)
{
	struct feed f;
	struct ebpfaccel_comp_conn *c;
	size_t got = 0;
	double t0, t1;
	pthread_t t;
	ssize_t n;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair", errno);
	f = (struct feed){ .fd = sv[1], .buf = d->out, .len = d->len };
	pthread_create(&t, NULL, feed_thread, &f);
	c = wrap(sv[0], &plain, p);
	t0 = cpu_now();
	while ((n = ebpfaccel_comp_conn__recv(c, out + got,
					      len - got < READ_SIZE ? len - got : READ_SIZE)) > 0)
		got += n;
	t1 = cpu_now();
	pthread_join(t, NULL);
	ebpfaccel_comp_conn__free(c);
	close(sv[0]);
	close(sv[1]);
	if (n < 0 || got != len || memcmp(out, data, len))
		die("engine decode", n < 0 ? -n : EILSEQ);
	return t1 - t0;
}

struct speed {
	double comp, decomp;	/* best CPU seconds */
	size_t wire;
	double send, recv;	/* of that: moving the wire bytes alone (transport) */
};

static void keep_best(struct speed *s, double comp, double decomp)
{
	if (comp < s->comp)
		s->comp = comp;
	if (decomp < s->decomp)
		s->decomp = decomp;
}

/*
 * The socket's share of the engine's time: the same wire bytes sent in
 * @chunk writes (one per record, as the engine does) and received in reads
 * as large as the engine's, without any coding.  CPU seconds of this thread.
 */
static void transport_round(const struct drain *d, size_t chunk, struct speed *s)
{
	size_t cap = 2 * (TCP_COMP_MAX_RECORD + 1024), got = 0;
	char *buf = malloc(cap);
	struct drain back = { 0 };
	struct feed f;
	double t0, t1, t2;
	pthread_t t;
	ssize_t n;
	int sv[2];

	if (!buf || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("transport", errno);
	back.fd = sv[1];
	pthread_create(&t, NULL, drain_thread, &back);
	t0 = cpu_now();
	for (size_t off = 0; off < d->len; off += n)
		if ((n = write(sv[0], d->out + off, d->len - off < chunk ? d->len - off : chunk)) <= 0)
			die("transport send", errno);
	t1 = cpu_now();
	shutdown(sv[0], SHUT_WR);
	pthread_join(t, NULL);
	free(back.out);
	close(sv[0]);
	close(sv[1]);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("transport", errno);
	f = (struct feed){ .fd = sv[1], .buf = d->out, .len = d->len };
	pthread_create(&t, NULL, feed_thread, &f);
	t1 -= t0;
	t0 = cpu_now();
	while ((n = read(sv[0], buf, cap)) > 0)
		got += n;
	t2 = cpu_now();
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	free(buf);
	if (got != d->len)
		die("transport recv", EPIPE);
	if (t1 < s->send)
		s->send = t1;
	if (t2 - t0 < s->recv)
		s->recv = t2 - t0;
}

/* The reference, one call each way over the whole input as the tools do;
 * out of line so that bench/comp_engine_insns.sh finds them by name. */
static __attribute__((noinline)) size_t ref_zstd_compress(const char *data, size_t len, char *tmp,
							  size_t tmp_cap)
{
	static ZSTD_CCtx *zc;

	if (!zc && !(zc = ZSTD_createCCtx()))
		die("zstd", ENOMEM);
	return ZSTD_compressCCtx(zc, tmp, tmp_cap, data, len, 1);
}

static __attribute__((noinline)) size_t ref_zstd_decompress(const char *tmp, size_t z, char *out,
							    size_t len)
{
	static ZSTD_DCtx *zd;

	if (!zd && !(zd = ZSTD_createDCtx()))
		die("zstd", ENOMEM);
	return ZSTD_decompressDCtx(zd, out, len, tmp, z);
}

static __attribute__((noinline)) size_t ref_lz4_compress(const char *data, size_t len, char *tmp,
							 size_t tmp_cap)
{
	return LZ4_compress_fast(data, tmp, len, tmp_cap, 1);
}

static __attribute__((noinline)) size_t ref_lz4_decompress(const char *tmp, size_t z, char *out,
							   size_t len)
{
	int n = LZ4_decompress_safe(tmp, out, z, len);

	return n < 0 ? 0 : (size_t)n;
}

static void reference_round(enum tcp_comp_algo algo, const char *data, size_t len, char *out,
			    char *tmp, size_t tmp_cap, struct speed *s)
{
	double t0, t1, t2;
	size_t z, back;

	t0 = cpu_now();
	z = algo == TCP_COMP_ALGO_ZSTD ? ref_zstd_compress(data, len, tmp, tmp_cap)
				       : ref_lz4_compress(data, len, tmp, tmp_cap);
	t1 = cpu_now();
	back = algo == TCP_COMP_ALGO_ZSTD ? ref_zstd_decompress(tmp, z, out, len)
					  : ref_lz4_decompress(tmp, z, out, len);
	t2 = cpu_now();
	if (back != len || memcmp(out, data, len))
		die("reference decode", EILSEQ);
	s->wire = z;
	keep_best(s, t1 - t0, t2 - t1);
}

struct config {
	const char *name;
	struct tcp_comp_params p;
};

#define CFG(n, a, m, v, f) { n, { .version = (v), .algo = (a), .mode = (m), .level = 1, .flags = (f) } }
#define ZSTD TCP_COMP_ALGO_ZSTD
#define LZ4 TCP_COMP_ALGO_LZ4
#define BLOCK TCP_COMP_MODE_BLOCK
#define STREAM TCP_COMP_MODE_STREAM

#define V1 TCP_COMP_VERSION_1
#define V2 TCP_COMP_VERSION_2
#define XXH32 TCP_COMP_F_CHECKSUM

/* Format 2 (every record checked, the default) and format 1 without a check
 * next to each other: the difference is the check's cost. */
static const struct config configs[] = {
	CFG("zstd:1/block", ZSTD, BLOCK, V2, 0),
	CFG("zstd:1/block/f1", ZSTD, BLOCK, V1, 0),
	CFG("zstd:1/stream", ZSTD, STREAM, V2, 0),
	CFG("zstd:1/stream/f1", ZSTD, STREAM, V1, 0),
	CFG("lz4/block", LZ4, BLOCK, V2, 0),
	CFG("lz4/block/f1", LZ4, BLOCK, V1, 0),
	CFG("lz4/block/f1+xxh32", LZ4, BLOCK, V1, XXH32),
	CFG("lz4/stream", LZ4, STREAM, V2, 0),
	CFG("lz4/stream/f1", LZ4, STREAM, V1, 0),
};
#define N_CONFIGS (sizeof(configs) / sizeof(configs[0]))

/* @e's speed relative to @base's, in percent less: what format 2's check costs. */
static void print_cost(const struct speed *e, const struct speed *base)
{
	printf(" | %5.1f%% %5.1f%%", 100 * (1 - base->comp / e->comp),
	       100 * (1 - base->decomp / e->decomp));
}

static void print_row(const char *name, size_t len, const struct speed *e, const struct speed *r)
{
	double ec = len / 1e6 / e->comp, ed = len / 1e6 / e->decomp;
	double rc = len / 1e6 / r->comp, rd = len / 1e6 / r->decomp;

	printf("%-20s %8.3f %9.1f %9.1f | %9.1f %9.1f | %6.2fx %6.2fx | %6.2fx %6.2fx", name,
	       (double)e->wire / len, ec, ed, rc, rd, ec / rc, ed / rd,
	       r->comp / (e->comp - e->send), r->decomp / (e->decomp - e->recv));
}

int main(int argc, char **argv)
{
	struct speed eng[N_CONFIGS], ref[__TCP_COMP_ALGO_MAX];
	int reps = argc > 2 ? atoi(argv[2]) : 5, in;
	const char *only = argc > 3 ? argv[3] : NULL;
	unsigned int record_size = getenv("COMP_BENCH_RECORD") ? atoi(getenv("COMP_BENCH_RECORD")) : 0;
	struct drain d = { 0 };
	char *data, *out, *tmp;
	size_t len, tmp_cap;
	struct stat sb;

	if (argc < 2 || reps < 1) {
		fprintf(stderr, "usage: comp_engine_speed FILE [REPS]\n");
		return 2;
	}
	in = open(argv[1], O_RDONLY);
	if (in < 0 || fstat(in, &sb) || !sb.st_size)
		die(argv[1], in < 0 ? errno : EINVAL);
	len = sb.st_size;
	tmp_cap = ZSTD_compressBound(len) + LZ4_compressBound(len);
	data = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, in, 0);
	out = malloc(len);
	tmp = malloc(tmp_cap);
	if (data == MAP_FAILED || !out || !tmp)
		die("memory", ENOMEM);
	ebpfaccel_set_print(NULL);
	for (size_t i = 0; i < N_CONFIGS; i++)
		eng[i] = (struct speed){ 1e9, 1e9, 0, 1e9, 1e9 };
	for (int a = 0; a < __TCP_COMP_ALGO_MAX; a++)
		ref[a] = (struct speed){ 1e9, 1e9, 0, 0, 0 };
	for (int r = 0; r < reps; r++) {
		reference_round(ZSTD, data, len, out, tmp, tmp_cap, &ref[ZSTD]);
		reference_round(LZ4, data, len, out, tmp, tmp_cap, &ref[LZ4]);
		for (size_t i = 0; i < N_CONFIGS; i++) {
			struct tcp_comp_params p = configs[i].p;

			if (only && strcmp(only, configs[i].name))
				continue;
			p.record_size = record_size;
			double c = engine_encode(&p, data, len, &d);

			keep_best(&eng[i], c, engine_decode(&p, &d, data, out, len));
			eng[i].wire = d.len;
			transport_round(&d, (size_t)((double)d.len / len *
						     (record_size ? record_size : TCP_COMP_DEFAULT_RECORD)) + 20,
					&eng[i]);
		}
	}
	printf("%-20s %8s %9s %9s | %9s %9s | %15s | %15s | %s\n", "engine config", "wire/raw",
	       "comp_MB/s", "dec_MB/s", "lib_comp", "lib_dec", "engine/library", "w/o socket I/O",
	       "check cost");
	for (size_t i = 0; i < N_CONFIGS; i++) {
		if (only && strcmp(only, configs[i].name))
			continue;
		print_row(configs[i].name, len, &eng[i], &ref[configs[i].p.algo]);
		/* Format 2 rows are followed by their format 1 twin. */
		if (!only && configs[i].p.version == TCP_COMP_VERSION_2)
			print_cost(&eng[i], &eng[i + 1]);
		printf("\n");
	}
	printf("f1: record format 1 without a check (format 2, the default, checks every record "
	       "with XXH3); f1+xxh32: format 1 with TCP_COMP_F_CHECKSUM\n");
	printf("check cost: how much slower format 2 is than its format 1 twin (f1, no check), "
	       "compress / decompress (noise: a few %% either way)\n");
	printf("w/o socket I/O: the engine's time less the time to send / receive its wire bytes "
	       "through the socketpair alone, which any receiver pays (the library has no socket)\n");
	printf("library: one ZSTD_compressCCtx(level 1) / LZ4_compress_fast(1) call over the file "
	       "(ratio %.3f / %.3f), as zstd -b1 / lz4 -b1; CPU time, best of %d\n",
	       (double)ref[ZSTD].wire / len, (double)ref[LZ4].wire / len, reps);
	free(d.out);
	free(out);
	free(tmp);
	return 0;
}
