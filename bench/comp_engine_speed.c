// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Benchmark helper for bench/comp_link.sh (not a test): the engine against
 * the libraries it wraps, on one core, in the same run.
 *
 *   comp_engine_speed FILE [REPS [CONFIG]]   (CONFIG: only the engine configuration so named)
 *   COMP_BENCH_RECORD=BYTES: the engine's record size (default: the library's)
 *   COMP_BENCH_SOCKET=0: leave out the socketpair rounds (profiling)
 *   COMP_BENCH_CHECK=0: leave out the paired rounds that time the check
 *   COMP_BENCH_CHECK_AA=0: leave out the A/A controls (each format 1 twin
 *   timed against itself beside them: the method's own error, printed beside
 *   the goal line's figures)
 *   COMP_BENCH_TOOLS=SECS: REPS interleaved rounds of `zstd -b1 -iSECS` /
 *   `lz4 -b1 -iSECS` beside the engine timed their way (default 1; 0: not run)
 *
 * What `zstd -b1` / `lz4 -b1` time is the library in memory: the whole file
 * compressed and decompressed by one core, buffers allocated once and reused,
 * best of several runs.  The reference here is that: one ZSTD_compressCCtx()
 * / LZ4_compress_fast() call over the whole FILE and one decompression call
 * back, with the same contexts and buffers every round.  That it is what the
 * tools do is checked on every run: they must report the same compressed
 * size to the byte (zstd 1.5.4's bench compresses the file single-threaded
 * as one chunk unless given -B or -T; lz4 1.9.4's as one LZ4_compress_fast()
 * block unless given -B).  The rounds here time CPU; the figure
 * comes from rounds interleaved with the tools themselves, everything on
 * their clock and window (vs_run(), below).
 *
 * The engine is timed the same way (lib/comp_codec.c, the code every
 * connection of the user-space engine runs): FILE encoded as one send() of
 * records into a reused wire buffer (framing, headers, the record check,
 * dictionary / frame handling, the library calls), then decoded as 1 MiB
 * recv()s into the reused output buffer; one encoder and decoder for all
 * rounds, as one long connection.  What it leaves out is moving the wire
 * bytes, which the kernel does and which plain TCP pays for more bytes.
 *
 * Decoding is also split in two: the engine's own records decoded by direct
 * library calls, no check, each straight to its place in one buffer (the
 * format's floor: what any decoder of these records pays), against the one
 * call (floor/library: the format's cost) and against the engine
 * (engine/floor: the cost of the engine's code, its check and copies).
 *
 * The same through a socketpair (ebpfaccel_comp_conn__send() / __recv(), a
 * new connection per round, another thread draining / feeding it on the
 * same core) is printed apart: the engine plus the socket's copies and
 * thread switches, what an application sees.
 *
 * All times are CPU time of the calling thread.  Each round times, per
 * configuration, the reference and the engine back to back (compress, then
 * decompress), so a disturbed moment of the shared machine hits both; the
 * ratios are of the best times, with the range of the per-round ratios.
 *
 * The check's cost (format 2's XXH3 on every record) is timed apart, in
 * pairs: the format 2 connection and its format 1 twin go through the file
 * side by side in 2 MiB chunks, in alternating order, each chunk's time the
 * best of the rounds (check_pair()).  Best-of-whole-rounds of two separate
 * configurations differed by up to 7% on a quiet machine for a hash that
 * costs 1-2%: the noise, not the check.
 *
 * The closing goal lines: the figure (the engine in memory against
 * `zstd -b1` / `lz4 -b1` on the same core and file: medians of interleaved
 * rounds, both sides on the tools' clock), then the stricter library-call
 * and socketpair figures as information.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <lz4.h>
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_d_stableOutBuffer, stable since 1.4.6 */
#include <zstd.h>
#include <ebpfaccel/ebpfaccel.h>

#include "comp_codec.h"

extern char **environ;	/* the tools inherit it (posix_spawnp) */

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

/* One timed quantity: the best of the rounds, and the range of
 * reference/engine ratios of the rounds. */
struct sample {
	double best;
	double rmin, rmax;
};

#define MAX_REPS 64

struct speed {
	struct sample comp, decomp;
	struct sample floor;	/* the library per record (engine rows only) */
	size_t wire;
};

static void speed_reset(struct speed *s)
{
	s->comp = s->decomp = s->floor = (struct sample){ 1e9, 1e9, 0 };
}

static void keep(struct sample *s, double t, double ref_t)
{
	double ratio = ref_t > 0 ? ref_t / t : 0;

	if (t < s->best)
		s->best = t;
	if (ratio < s->rmin)
		s->rmin = ratio;
	if (ratio > s->rmax)
		s->rmax = ratio;
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

/* Buffers every measurement reuses, touched once before the first round. */
struct bufs {
	const char *data;
	size_t len;
	char *out;		/* decoded bytes, compared with data */
	char *tmp;		/* the reference's compressed bytes */
	size_t tmp_cap, tmp_len;
	char *wire;		/* the engine's records */
	size_t wire_cap, wire_len;
};

static double ref_compress(enum tcp_comp_algo algo, struct bufs *b)
{
	double t0 = cpu_now();

	b->tmp_len = algo == TCP_COMP_ALGO_ZSTD ? ref_zstd_compress(b->data, b->len, b->tmp, b->tmp_cap)
						: ref_lz4_compress(b->data, b->len, b->tmp, b->tmp_cap);
	return cpu_now() - t0;
}

static double ref_decompress(enum tcp_comp_algo algo, struct bufs *b)
{
	double t0 = cpu_now(), t;
	size_t back;

	back = algo == TCP_COMP_ALGO_ZSTD ? ref_zstd_decompress(b->tmp, b->tmp_len, b->out, b->len)
					  : ref_lz4_decompress(b->tmp, b->tmp_len, b->out, b->len);
	t = cpu_now() - t0;
	if (back != b->len || memcmp(b->out, b->data, b->len))
		die("reference decode", EILSEQ);
	return t;
}

/* The engine's codec as one long connection in memory. */
struct mem_conn {
	struct comp_encoder enc;
	struct comp_decoder dec;
	struct tcp_comp_stats st;
	bool ready;
};

/* @len bytes at @src encoded as one send() into @wire from *wire_len on. */
static void encode_range(struct mem_conn *m, const char *src, size_t len, char *wire,
			 size_t *wire_len, size_t wire_cap)
{
	size_t rec = comp_record_size(&m->enc.p), max = comp_encoder__max_record(&m->enc);

	comp_encoder__begin(&m->enc, len);
	for (size_t off = 0, n; off < len; off += n) {
		ssize_t r;

		n = len - off < rec ? len - off : rec;
		if (*wire_len + max > wire_cap)
			die("wire buffer", ENOSPC);
		r = comp_encoder__record(&m->enc, src + off, n, wire + *wire_len, &m->st);
		if (r < 0)
			die("encode", -r);
		*wire_len += r;
	}
	comp_encoder__end(&m->enc);
}

/* The @wire_len bytes at @wire decoded in READ_SIZE recv()s into @len bytes at @out. */
static void decode_range(struct mem_conn *m, const char *wire, size_t wire_len, char *out,
			 size_t len)
{
	size_t got = 0, off = 0, used;

	while (got < len) {
		size_t want = len - got < READ_SIZE ? len - got : READ_SIZE;
		ssize_t n;

		if (comp_decoder__pending(&m->dec)) {
			got += comp_decoder__copy_out(&m->dec, out + got, want);
			continue;
		}
		n = comp_decoder__decode(&m->dec, wire + off, wire_len - off, &used, out + got, want,
					 &m->st);
		if (n <= 0)
			die(m->dec.why ? m->dec.why : "engine decode", n ? -n : EPIPE);
		off += used;
		got += n;
	}
	if (off != wire_len)
		die("engine decode", EPIPE);
}

/* CPU seconds to encode the file as one send(): records into b->wire.  Out
 * of line, as mem_decode(), for bench/comp_engine_insns.sh. */
static __attribute__((noinline)) double mem_encode(struct mem_conn *m, struct bufs *b)
{
	double t0 = cpu_now();

	b->wire_len = 0;
	encode_range(m, b->data, b->len, b->wire, &b->wire_len, b->wire_cap);
	return cpu_now() - t0;
}

/* CPU seconds to decode b->wire in READ_SIZE recv()s into b->out. */
static __attribute__((noinline)) double mem_decode(struct mem_conn *m, struct bufs *b)
{
	double t0 = cpu_now();

	decode_range(m, b->wire, b->wire_len, b->out, b->len);
	return cpu_now() - t0;
}


/*
 * The format's own cost, apart from the engine's code: the engine's records
 * decoded by direct library calls, each payload straight to its place in
 * one output buffer, no check, no history kept aside — what the decoder
 * cannot beat without another record format.  lz4 stream: each record
 * against the 64 KiB before it in that buffer (lz4's prefix mode); zstd
 * stream: ZSTD_d_stableOutBuffer over the whole buffer, so zstd writes into
 * it instead of its window ring and a copy out (the engine does so for the
 * part of a read that lies a window before its end: lib/comp_zstd_zc.c).
 */
static ZSTD_DCtx *floor_dctx(bool stream)
{
	static ZSTD_DCtx *zd[2];

	if (!zd[stream]) {
		zd[stream] = ZSTD_createDCtx();
		if (!zd[stream])
			die("zstd", ENOMEM);
		if (stream)
			ZSTD_DCtx_setParameter(zd[stream], ZSTD_d_stableOutBuffer, 1);
	}
	return zd[stream];
}

/* @h's payload (@wire bytes) decoded to @orig bytes at b->out + @off. */
static bool floor_record(const struct tcp_comp_rec_hdr *h, const char *payload, uint32_t wire,
			 uint32_t orig, struct bufs *b, size_t off, ZSTD_outBuffer *zout)
{
	bool stream = h->flags & TCP_COMP_REC_F_STREAM;
	char *dst = b->out + off;
	/* Before the first record: the previous round's, which ended with the
	 * same bytes as this one (harmless to a fresh stream: nothing refers
	 * back that far). */
	size_t dict_len = off ? off : b->len;
	const char *dict = (off ? dst : b->data + b->len) - (dict_len < 65536 ? dict_len : 65536);

	dict_len = dict_len < 65536 ? dict_len : 65536;

	if (h->flags & TCP_COMP_REC_F_RAW) {
		memcpy(dst, payload, orig);
		return !zout;	/* zstd stream: not in the test data */
	}
	if (h->algo == TCP_COMP_ALGO_LZ4)
		return (stream ? LZ4_decompress_safe_usingDict(payload, dst, wire, orig, dict,
							      dict_len)
			       : LZ4_decompress_safe(payload, dst, wire, orig)) == (int)orig;
	if (!stream)
		return ZSTD_decompressDCtx(floor_dctx(false), dst, orig, payload, wire) == orig;
	for (ZSTD_inBuffer in = { payload, wire, 0 }; in.pos < in.size;) {
		size_t in_before = in.pos, out_before = zout->pos;

		if (ZSTD_isError(ZSTD_decompressStream(floor_dctx(true), zout, &in)) ||
		    (in.pos == in_before && zout->pos == out_before))
			return false;
	}
	return zout->pos == off + orig;
}

/* Bytes before the payload of the record whose header is @h. */
static size_t rec_hlen(const struct tcp_comp_rec_hdr *h)
{
	return TCP_COMP_REC_HDR_LEN + (h->flags & TCP_COMP_REC_F_CHECKSUM ? TCP_COMP_REC_CSUM_LEN : 0) +
	       (h->flags & TCP_COMP_REC_F_XXH3 ? TCP_COMP_REC_XXH3_LEN : 0);
}

/* CPU seconds XXH3 alone takes over the payloads of the @len record bytes at @wire. */
static __attribute__((noinline)) double hash_records(const char *wire, size_t len)
{
	double t0 = cpu_now();
	uint64_t acc = 0;

	for (size_t in = 0; in < len;) {
		struct tcp_comp_rec_hdr h;

		memcpy(&h, wire + in, sizeof(h));
		acc += comp_rec_xxh3(&h, wire + in + rec_hlen(&h));
		in += rec_hlen(&h) + ntohl(h.wire_len);
	}
	__asm__ volatile("" : : "r"(acc));
	return cpu_now() - t0;
}

static bool zstd_frame_start(const char *payload, uint32_t wire)
{
	static const unsigned char magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

	return wire >= 4 && !memcmp(payload, magic, 4);
}

/* CPU seconds to decode b->wire's records as floor_record() does, scaled to
 * the whole file: a zstd stream that continues the previous round's frame
 * is decoded from its next frame on. */
static __attribute__((noinline)) double floor_decode(struct bufs *b)
{
	ZSTD_outBuffer zout = { b->out, b->len, 0 };
	size_t off = 0, in = 0, from = 0;
	struct tcp_comp_rec_hdr h;
	bool zstream, started = false;
	double t0 = cpu_now();

	memcpy(&h, b->wire, sizeof(h));
	zstream = (h.flags & TCP_COMP_REC_F_STREAM) && h.algo == TCP_COMP_ALGO_ZSTD;
	while (in < b->wire_len) {
		size_t hlen;
		uint32_t orig, wire;

		memcpy(&h, b->wire + in, sizeof(h));
		orig = ntohl(h.orig_len);
		wire = ntohl(h.wire_len);
		hlen = rec_hlen(&h);
		if (zstream && !started && zstd_frame_start(b->wire + in + hlen, wire)) {
			started = true;
			from = off;
			zout.pos = off;
			ZSTD_DCtx_reset(floor_dctx(true), ZSTD_reset_session_only);
		}
		if (off + orig > b->len ||
		    ((!zstream || started) &&
		     !floor_record(&h, b->wire + in + hlen, wire, orig, b, off, zstream ? &zout : NULL)))
			die("library per record", EILSEQ);
		in += hlen + wire;
		off += orig;
	}
	return (cpu_now() - t0) * b->len / (b->len - from);
}

struct config {
	const char *name;
	struct tcp_comp_params p;
};

/*
 * As the tools before each window (and here before each round's passes):
 * every page the passes touch written or read once from user space first.
 * On this VM (a PVM guest) the first user access to a page after
 * MAP_POPULATE is slow: one lz4 decompression of 100 MiB into fresh
 * populated memory took 0.22 s of CPU, 0.03 s the next time.  @engine: the
 * engine's wire buffer (as long as its last pass wrote), else the library's.
 */
static void warm(struct bufs *b, bool engine)
{
	volatile const char *src = b->data;
	size_t wire = engine ? b->wire_len : b->tmp_len;

	memset(engine ? b->wire : b->tmp, 0xE5, wire ? wire : b->len);
	memset(b->out, 0xD6, b->len);
	for (size_t off = 0; off < b->len; off += 4096)
		(void)src[off];
}

/* One round of one configuration: reference and engine back to back. */
static void round_mem(const struct config *cfg, struct mem_conn *m, struct bufs *b,
		      struct speed *eng, struct speed *ref)
{
	enum tcp_comp_algo algo = cfg->p.algo;
	double rc, ec, rd, ed;

	if (!m->ready) {
		if (comp_encoder__init(&m->enc, &cfg->p) || comp_decoder__init(&m->dec, &cfg->p))
			die("codec", ENOMEM);
		m->ready = true;
	}
	warm(b, false);
	rc = ref_compress(algo, b);
	warm(b, true);
	ec = mem_encode(m, b);
	rd = ref_decompress(algo, b);
	ed = mem_decode(m, b);
	if (memcmp(b->out, b->data, b->len))
		die("engine decode", EILSEQ);
	keep(&eng->floor, floor_decode(b), rd);
	if (memcmp(b->out, b->data, b->len))
		die("library per record", EILSEQ);
	keep(&ref->comp, rc, 0);
	keep(&ref->decomp, rd, 0);
	keep(&eng->comp, ec, rc);
	keep(&eng->decomp, ed, rd);
	ref->wire = b->tmp_len;
	eng->wire = b->wire_len;
}

/* The same through a socketpair, a new connection each round. */
static void round_socket(const struct config *cfg, struct bufs *b, struct drain *d,
			 const struct speed *ref, struct speed *sock)
{
	double c = engine_encode(&cfg->p, b->data, b->len, d);

	keep(&sock->comp, c, ref->comp.best);
	keep(&sock->decomp, engine_decode(&cfg->p, d, b->data, b->out, b->len), ref->decomp.best);
	sock->wire = d->len;
}

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
#define GOAL 0.90
#define CHECK_GOAL 3.0	/* percent */
/* Below this share of the core the tools' wall-clock figures understate
 * them: each reports its best of many short runs, which passes over a few
 * interruptions, and loading the file or lz4's pause between runs are not
 * interruptions of a run. */
#define TOOL_SHARE 0.90

static double mbps(size_t len, double t)
{
	return len / 1e6 / t;
}

static void print_row(const char *name, size_t len, const struct speed *e, const struct speed *r)
{
	printf("%-19s %6.3f %7.1f %7.1f | %7.1f %7.1f | %5.2fx %4.2f-%4.2f %5.2fx %4.2f-%4.2f",
	       name, (double)e->wire / len, mbps(len, e->comp.best), mbps(len, e->decomp.best),
	       mbps(len, r->comp.best), mbps(len, r->decomp.best),
	       r->comp.best / e->comp.best, e->comp.rmin, e->comp.rmax,
	       r->decomp.best / e->decomp.best, e->decomp.rmin, e->decomp.rmax);
}

/* Row @i is format 2 and row @i + 1 its format 1 twin without a check. */
static bool has_twin(size_t i)
{
	const struct tcp_comp_params *a = &configs[i].p, *b = &configs[i + 1].p;

	return i + 1 < N_CONFIGS && a->version == TCP_COMP_VERSION_2 &&
	       b->version == TCP_COMP_VERSION_1 && !b->flags && a->algo == b->algo &&
	       a->mode == b->mode;
}

static double dmax(double a, double b)
{
	return a > b ? a : b;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

static double dabs(double a)
{
	return a < 0 ? -a : a;
}

/* Median and range of @n values (n >= 1). */
struct spread {
	double med, lo, hi;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct spread spread_of(const double *v, int n)
{
	double s[MAX_REPS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return (struct spread){ n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, s[0], s[n - 1] };
}

/* Memory faulted in up front: the tools' buffers are warm after their first
 * run, and a first-touch fault costs more than a page of compression here. */
static void *touched(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);

	if (p == MAP_FAILED)
		die("memory", errno);
	return p;
}

/*
 * The check's cost, paired: a format 2 connection (A) and its format 1 twin
 * without a check (B) go through the file side by side, CHECK_CHUNK bytes
 * at a time: both encode chunk k, then both decode it, B first on every
 * other chunk and round, so both see the machine of the same moment.  Each
 * chunk's time is the best of the rounds: a disturbed moment costs one
 * chunk of one round, not the figure.  The rounds' own paired ratios give
 * the spread.  XXH3 alone is timed over A's payloads of the chunk (about
 * 0.2-0.3 of 2 MiB: in the core's cache) when A has decoded them.
 */
#define CHECK_CHUNK	(2U << 20)

struct check_result {
	bool ran;
	double comp, dec;		/* percent more time than the twin (chunk bests) */
	struct spread rcomp, rdec;	/* the same per round */
	double hcomp, hdec;		/* XXH3 alone, percent of the twin's time */
};

/* One side of a pair, and its times per chunk: best of the rounds. */
struct check_side {
	struct mem_conn m;
	char *wire;
	size_t wire_cap, wire_len;
	double *enc, *dec;
	double round_enc, round_dec;
};

static double timed_encode(struct check_side *s, const char *src, size_t n)
{
	double t0 = cpu_now();

	s->wire_len = 0;
	encode_range(&s->m, src, n, s->wire, &s->wire_len, s->wire_cap);
	return cpu_now() - t0;
}

static double timed_decode(struct check_side *s, char *out, size_t n)
{
	double t0 = cpu_now();

	decode_range(&s->m, s->wire, s->wire_len, out, n);
	return cpu_now() - t0;
}

static void side_init(struct check_side *s, const struct tcp_comp_params *p, size_t chunks)
{
	memset(s, 0, sizeof(*s));
	if (comp_encoder__init(&s->m.enc, p) || comp_decoder__init(&s->m.dec, p))
		die("codec", ENOMEM);
	s->wire_cap = (CHECK_CHUNK / comp_record_size(p) + 2) * comp_encoder__max_record(&s->m.enc);
	s->wire = touched(s->wire_cap);
	s->enc = malloc(chunks * sizeof(double));
	s->dec = malloc(chunks * sizeof(double));
	if (!s->enc || !s->dec)
		die("memory", ENOMEM);
	for (size_t k = 0; k < chunks; k++)
		s->enc[k] = s->dec[k] = 1e9;
}

static void side_fini(struct check_side *s)
{
	comp_encoder__fini(&s->m.enc);
	comp_decoder__fini(&s->m.dec);
	munmap(s->wire, s->wire_cap);
	free(s->enc);
	free(s->dec);
}

static void keep_min(double *best, double t, bool counted)
{
	if (counted && t < *best)
		*best = t;
}

/* Chunk @k of round @r for the pair @s (A, B); *hash: XXH3 alone over A's payloads. */
static void check_chunk(struct check_side *s, const struct bufs *b, size_t k, int r, double *hash)
{
	size_t off = (size_t)k * CHECK_CHUNK, n = b->len - off < CHECK_CHUNK ? b->len - off
									     : CHECK_CHUNK;
	int first = (k + r) & 1;
	double t;

	for (int j = 0; j < 2; j++) {
		struct check_side *x = &s[first ^ j];

		t = timed_encode(x, b->data + off, n);
		keep_min(&x->enc[k], t, r >= 0);
		x->round_enc += t;
	}
	for (int j = 0; j < 2; j++) {
		struct check_side *x = &s[first ^ j];

		t = timed_decode(x, b->out, n);
		keep_min(&x->dec[k], t, r >= 0);
		x->round_dec += t;
		/* The second pass, from cache, as the engine hashes a record
		 * it has just decoded; the first brings the payloads in. */
		if (x == s) {
			hash_records(x->wire, x->wire_len);
			keep_min(hash, hash_records(x->wire, x->wire_len), r >= 0);
		}
		if (memcmp(b->out, b->data + off, n))
			die("check pair decode", EILSEQ);
	}
}

static double sum_of(const double *v, size_t n)
{
	double sum = 0;

	for (size_t k = 0; k < n; k++)
		sum += v[k];
	return sum;
}

/* The check's cost of format 2 row @i against its twin, @reps rounds after a
 * warm-up; @control: the twin against itself (an A/A control: what the
 * method reads where there is no difference). */
static void check_pair(size_t i, const struct bufs *b, int reps, unsigned int record_size,
		       bool control, struct check_result *res)
{
	size_t chunks = (b->len + CHECK_CHUNK - 1) / CHECK_CHUNK;
	double rc[MAX_REPS], rd[MAX_REPS], *hash = malloc(chunks * sizeof(double));
	struct check_side s[2];

	if (!hash)
		die("memory", ENOMEM);
	for (int j = 0; j < 2; j++) {
		struct tcp_comp_params p = configs[control ? i + 1 : i + j].p;

		p.record_size = record_size;
		side_init(&s[j], &p, chunks);
	}
	for (size_t k = 0; k < chunks; k++)
		hash[k] = 1e9;
	for (int r = -1; r < reps; r++) {
		s[0].round_enc = s[0].round_dec = s[1].round_enc = s[1].round_dec = 0;
		for (size_t k = 0; k < chunks; k++)
			check_chunk(s, b, k, r, &hash[k]);
		if (r < 0)
			continue;
		rc[r] = 100 * (s[0].round_enc / s[1].round_enc - 1);
		rd[r] = 100 * (s[0].round_dec / s[1].round_dec - 1);
	}
	res->ran = true;
	res->comp = 100 * (sum_of(s[0].enc, chunks) / sum_of(s[1].enc, chunks) - 1);
	res->dec = 100 * (sum_of(s[0].dec, chunks) / sum_of(s[1].dec, chunks) - 1);
	res->rcomp = spread_of(rc, reps);
	res->rdec = spread_of(rd, reps);
	res->hcomp = 100 * sum_of(hash, chunks) / sum_of(s[1].enc, chunks);
	res->hdec = 100 * sum_of(hash, chunks) / sum_of(s[1].dec, chunks);
	side_fini(&s[0]);
	side_fini(&s[1]);
	free(hash);
}

static void print_check_row(const char *name, const char *what, const struct check_result *c)
{
	printf("%-19s%-7s %5.1f%% %5.1f%% (%5.1f..%5.1f)  %5.1f%% %5.1f%% (%5.1f..%5.1f)  | "
	       "%4.1f%% %4.1f%%\n", name, what, c->comp, c->rcomp.med, c->rcomp.lo, c->rcomp.hi,
	       c->dec, c->rdec.med, c->rdec.lo, c->rdec.hi, c->hcomp, c->hdec);
}

/* How far a paired figure can be trusted: the A/A control's reading (its
 * median off zero, or half its rounds' range, whichever is larger), else
 * half the row's own rounds' range. */
static double check_noise(const struct spread *row, const struct spread *aa)
{
	if (aa)
		return dmax(dabs(aa->med), (aa->hi - aa->lo) / 2);
	return (row->hi - row->lo) / 2;
}

enum check_verdict { CHECK_MET, CHECK_MET_NOISE, CHECK_NOT_MET_NOISE, CHECK_NOT_MET };

/* @cost against CHECK_GOAL, given the measurement's @noise. */
static enum check_verdict check_verdict(double cost, double noise)
{
	if (cost > CHECK_GOAL)
		return cost - noise > CHECK_GOAL ? CHECK_NOT_MET : CHECK_NOT_MET_NOISE;
	return cost + noise > CHECK_GOAL ? CHECK_MET_NOISE : CHECK_MET;
}

/*
 * The goal line judges each path by its paired figure: the median of the
 * rounds in which format 2 and its twin went through the same chunks side
 * by side, the whole file's time against the whole file's time.  Beside it,
 * the same figure of the twin against itself (A/A: median [range]), so the
 * line says how finely this run resolves 3 %.  The chunk-best figure of the
 * table takes each side's luckiest moment per chunk; a path whose two sides
 * vary differently (zstd stream frames) reads up to 3 points apart that way
 * while its A/A reads zero, so it stays in the table as information.
 */
static void print_check_goal(const struct check_result *res, const struct check_result *aa)
{
	enum check_verdict worst = CHECK_MET;
	static const char *const said[] = { "met", "met, within the noise",
					    "NOT MET, within the noise", "NOT MET" };
	size_t rows = 0;
	bool controls = false;

	for (size_t i = 0; i < N_CONFIGS; i++)
		controls |= aa[i].ran;
	printf("goal: the check costs <= %.0f%% on every path (comp/dec: the paired rounds' "
	       "median; beside it %s):", CHECK_GOAL,
	       controls ? "the A/A control's median [range]"
				      : "the rounds' range, no A/A control run");
	for (size_t i = 0; i < N_CONFIGS; i++) {
		const struct check_result *c = &res[i], *a = aa[i].ran ? &aa[i] : NULL;
		const struct spread *sc = a ? &a->rcomp : &c->rcomp, *sd = a ? &a->rdec : &c->rdec;
		enum check_verdict vc, vd;

		if (!c->ran)
			continue;
		rows++;
		vc = check_verdict(c->rcomp.med, check_noise(&c->rcomp, a ? &a->rcomp : NULL));
		vd = check_verdict(c->rdec.med, check_noise(&c->rdec, a ? &a->rdec : NULL));
		worst = vc > worst ? vc : worst;
		worst = vd > worst ? vd : worst;
		printf(" %s %.1f/%.1f%% (%s%.1f [%.1f..%.1f] / %.1f [%.1f..%.1f])", configs[i].name,
		       c->rcomp.med, c->rdec.med, a ? "A/A " : "", a ? sc->med : 0.0, sc->lo,
		       sc->hi, a ? sd->med : 0.0, sd->lo, sd->hi);
	}
	printf(": %s\n", rows ? said[worst] : "(no row)");
}

/* @res: format 2 rows against their twins; @aa: the twins against themselves. */
static void print_check_costs(const struct check_result *res, const struct check_result *aa)
{
	printf("\nthe check: format 2 (XXH3 on every record) against its format 1 twin without "
	       "it, in memory, the two side by side through the file in %u MiB chunks (each "
	       "chunk's best of the rounds; the rounds' own paired figures: median, range):\n",
	       CHECK_CHUNK >> 20);
	printf("%-26s %-30s %-30s | %s\n", "engine config", "comp: cost  rounds (range)",
	       "dec: cost  rounds (range)", "XXH3 alone, comp dec");
	for (size_t i = 0; i < N_CONFIGS; i++) {
		if (res[i].ran)
			print_check_row(configs[i].name, "", &res[i]);
		if (aa[i].ran)
			print_check_row(configs[i].name, " A/A", &aa[i]);
	}
	print_check_goal(res, aa);
}

/* Format 2 rows against @tool's MB/s (wall clock, best of its runs), or
 * against the library's one call (@tool NULL): below @GOAL, compress or
 * decompress. */
static void print_goal(const char *what, size_t len, const struct speed *eng,
		       const struct speed *ref, const double tool[][3], bool info,
		       const char *not_shown)
{
	size_t below = 0, rows = 0;

	printf("%s: %s:", info ? "info" : "goal", what);
	for (size_t i = 0; i < N_CONFIGS; i++) {
		int a = configs[i].p.algo == ZSTD ? 0 : 1;
		double c, d;

		if (configs[i].p.version != TCP_COMP_VERSION_2 || !eng[i].wire)
			continue;
		if (tool && !(tool[a][0] > 0))
			continue;
		c = tool ? mbps(len, eng[i].comp.best) / tool[a][0]
			 : ref[i].comp.best / eng[i].comp.best;
		d = tool ? mbps(len, eng[i].decomp.best) / tool[a][1]
			 : ref[i].decomp.best / eng[i].decomp.best;
		rows++;
		below += c < GOAL || d < GOAL;
		printf(" %s %.2f/%.2f", configs[i].name, c, d);
	}
	printf(": %s\n", !rows ? "(no row: not run)" : not_shown ? not_shown : below ? "NOT MET" : "met");
}

/* What the record format costs the decoder by itself, and the engine on top. */
static void print_floor(size_t len, const struct speed *eng, const struct speed *ref,
			const char *only)
{
	printf("\ndecoding, the format's floor: the library per record on the engine's records "
	       "(no check, straight to one buffer):\n");
	printf("%-19s %7s | %-24s | %s\n", "engine config", "dec", "floor/library (format)",
	       "engine/floor (the engine's code)");
	for (size_t i = 0; i < N_CONFIGS; i++) {
		if (only && strcmp(only, configs[i].name))
			continue;
		printf("%-19s %7.1f | %5.2fx %4.2f-%4.2f        | %5.2fx\n", configs[i].name,
		       mbps(len, eng[i].floor.best), ref[i].decomp.best / eng[i].floor.best,
		       eng[i].floor.rmin, eng[i].floor.rmax,
		       eng[i].floor.best / eng[i].decomp.best);
	}
}

static void print_socket_row(const char *name, size_t len, const struct speed *s,
			     const struct speed *r)
{
	printf("%-19s %7.1f %7.1f | %5.2fx %5.2fx\n", name, mbps(len, s->comp.best),
	       mbps(len, s->decomp.best), r->comp.best / s->comp.best,
	       r->decomp.best / s->decomp.best);
}

static void print_load(const char *when)
{
	double l[3];

	if (getloadavg(l, 3) == 3)
		printf("load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

/* One tool's result line: compressed size and MB/s both ways. */
struct tool_result {
	size_t size;
	double comp, decomp;
	double share;	/* its CPU time over its wall time: the core it had */
};

/* The tools rewrite a "... -> SIZE (ratio), C MB/s, D MB/s" line in place
 * (\r) as they go, showing their best run so far; the last line may be a
 * new round's compression alone.  The best of all lines, as they print. */
static bool parse_tool(char *out, struct tool_result *t)
{
	char *p, *q, *save;

	*t = (struct tool_result){ 0 };
	for (p = out; *p; p++)
		if (*p == '\r')
			*p = '\n';
	for (p = strtok_r(out, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		double c, d;

		if (!strstr(p, "MB/s") || !strstr(p, "->") || !strchr(p, ')'))
			continue;
		t->size = strtoull(strstr(p, "->") + 2, NULL, 10);
		c = strtod(strchr(p, ')') + 2, &q);
		if (c > t->comp)
			t->comp = c;
		p = strstr(q, "MB/s");
		if (!p)
			continue;
		p += 4 + strspn(p + 4, " ,");
		d = strtod(p, &q);
		if (q != p && d > t->decomp)
			t->decomp = d;
	}
	return t->comp > 0 && t->decomp > 0;
}

/* Runs @argv (a tool's bench mode) with its output into @out; true if it
 * printed a result line. */
static bool run_tool(char *const argv[], struct tool_result *t)
{
	static char out[1 << 16];
	posix_spawn_file_actions_t fa;
	struct timespec t0, t1;
	struct rusage ru;
	size_t len = 0;
	int fds[2], status;
	ssize_t n;
	pid_t pid;
	bool ok;

	if (pipe(fds))
		return false;
	/* Spawned, not forked: fork() write-protects every page of ours for
	 * copy-on-write, and on this VM the next pass over the buffers then
	 * takes a fault per page (1.3 s instead of 0.09 s for one lz4
	 * decompression of 100 MiB after a child's exit). */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ))
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	while (pid > 0 && (n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
		if ((len += n) == sizeof(out) - 1)	/* keep the tail: the result is last */
			len = 0;
	close(fds[0]);
	out[len] = 0;
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok = parse_tool(out, t);
	t->share = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6) /
		   (t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return ok;
}

/* The reference of the first configuration of @algo that ran, or one with wire 0. */
static const struct speed *first_ref(const struct speed *ref, enum tcp_comp_algo algo)
{
	static const struct speed none;

	for (size_t i = 0; i < N_CONFIGS; i++)
		if (configs[i].p.algo == algo && ref[i].wire)
			return &ref[i];
	return &none;
}

/*
 * The engine against the tools, timed as they time (bench.c of lz4 1.9.4's
 * and zstd 1.5.4's programs/): wall clock; whole-file passes, buffers
 * allocated once and reused, compression repeated for a window of at least
 * a second (-i), the window's average pass, best of their windows.  The
 * rounds above time CPU of single passes instead, and a comparison of a
 * best CPU-time pass with a tool run minutes later moved by more than the
 * goal's margin from run to run (session 7).  Here every round runs the
 * tool and, right beside it in alternating order, the engine's format 2
 * rows and the library call with the tool's clock and window: a disturbed
 * moment of the shared machine hits both sides of a round, and the figure
 * is the median of the rounds' ratios, printed with their range.
 *
 * The tools execute the same library code as the one call (callgrind: the
 * same instructions per byte for lz4 1.9.4's compression and
 * decompression): the library/tool row measures the setting, not the code.
 */
static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wall-clock MB/s each way, the core it had (CPU time over wall time), and
 * MB/s each way in CPU time. */
struct rate {
	double comp, dec, core;
	double cpu_comp, cpu_dec;
};

/* Seconds of one pass each way, wall clock and CPU. */
struct pass_time {
	double comp, dec, cpu_comp, cpu_dec;
};

/* One whole-file pass each way: the engine's codec, or (@m NULL) the one
 * library call, added to @t.  Each pass decodes what it encoded: a stream's
 * encoder and decoder stay in step across passes. */
static void file_pass(enum tcp_comp_algo algo, struct mem_conn *m, struct bufs *b,
		      struct pass_time *t)
{
	double t0 = wall_now(), c0 = cpu_now(), t1, c1;
	size_t back = b->len;

	if (m) {
		b->wire_len = 0;
		encode_range(m, b->data, b->len, b->wire, &b->wire_len, b->wire_cap);
	} else {
		b->tmp_len = algo == ZSTD ? ref_zstd_compress(b->data, b->len, b->tmp, b->tmp_cap)
					  : ref_lz4_compress(b->data, b->len, b->tmp, b->tmp_cap);
	}
	t1 = wall_now();
	c1 = cpu_now();
	if (m)
		decode_range(m, b->wire, b->wire_len, b->out, b->len);
	else
		back = algo == ZSTD ? ref_zstd_decompress(b->tmp, b->tmp_len, b->out, b->len)
				    : ref_lz4_decompress(b->tmp, b->tmp_len, b->out, b->len);
	t->cpu_dec += cpu_now() - c1;
	t->dec += wall_now() - t1;
	t->comp += t1 - t0;
	t->cpu_comp += c1 - c0;
	if (back != b->len)
		die("reference decode", EILSEQ);
}

/* Passes until compression has run @secs of wall clock (and at least two):
 * the tools' window and its average pass. */
static struct rate timed_window(enum tcp_comp_algo algo, struct mem_conn *m, struct bufs *b,
				double secs)
{
	const struct timespec settle = { 0, 1000000 };
	struct pass_time t = { 0 };
	int n = 0;

	warm(b, m != NULL);
	nanosleep(&settle, NULL);	/* as the tools: a fresh time slice */
	do {
		file_pass(algo, m, b, &t);
		n++;
	} while (t.comp < secs || n < 2);
	if (memcmp(b->out, b->data, b->len))
		die(m ? "engine decode" : "reference decode", EILSEQ);
	return (struct rate){ mbps(b->len, t.comp / n), mbps(b->len, t.dec / n),
			      (t.cpu_comp + t.cpu_dec) / (t.comp + t.dec),
			      mbps(b->len, t.cpu_comp / n), mbps(b->len, t.cpu_dec / n) };
}

/* A row of the interleaved rounds: a tool (TOOL_ROW), the library call
 * (LIB_ROW) or a configs[] index, with one rate per round. */
#define TOOL_ROW (-1)
#define LIB_ROW (-2)

struct vs_row {
	int algo;	/* 0 zstd, 1 lz4 */
	int what;
	struct rate r[MAX_REPS];
};

struct vs_tools {
	struct vs_row row[2 * (N_CONFIGS + 2)];
	int rows, rounds;
	bool tool_ok[2];	/* ran, and computed the library call's bytes */
	const char *secs;
};

static const char *const tool_name[2] = { "zstd -b1", "lz4 -b1" };

/* The tool of @algo on @file, -i@secs; false when it failed or computed
 * something else than the library call (@size bytes). */
static bool tool_round(int algo, const char *file, const char *secs, size_t size, struct rate *r)
{
	char iarg[32];
	char *argv[] = { algo ? "lz4" : "zstd", "-b1", iarg, (char *)file, NULL };
	struct tool_result t;

	snprintf(iarg, sizeof(iarg), "-i%s", secs);
	if (!run_tool(argv, &t) || t.size != size)
		return false;
	*r = (struct rate){ .comp = t.comp, .dec = t.decomp, .core = t.share };
	return true;
}

static void vs_add(struct vs_tools *v, int algo, int what)
{
	v->row[v->rows++] = (struct vs_row){ .algo = algo, .what = what };
}

/* One round: per algorithm (order alternating), its tool and the others,
 * the tool first on even rounds and last on odd ones. */
static void vs_round(struct vs_tools *v, int r, const char *file, struct mem_conn *mem,
		     struct bufs *b, const size_t size[2])
{
	double secs = atof(v->secs);

	for (int k = 0; k < 2; k++) {
		int a = k ^ (r & 1);

		for (int j = 0; j < v->rows; j++) {
			int i = r & 1 ? v->rows - 1 - j : j;
			struct vs_row *w = &v->row[i];

			if (w->algo != a || !v->tool_ok[a])
				continue;
			if (w->what == TOOL_ROW)
				v->tool_ok[a] = tool_round(a, file, v->secs, size[a], &w->r[r]);
			else
				w->r[r] = timed_window(a ? LZ4 : ZSTD,
						       w->what == LIB_ROW ? NULL : &mem[w->what],
						       b, secs);
		}
	}
}

/* @reps interleaved rounds of the tools (-i@secs), the library call and
 * the format 2 rows that ran (@ref[i].wire: the library's size). */
static void vs_run(struct vs_tools *v, int reps, const char *secs, const char *file,
		   struct mem_conn *mem, struct bufs *b, const struct speed *ref)
{
	size_t size[2] = { first_ref(ref, ZSTD)->wire, first_ref(ref, LZ4)->wire };

	memset(v, 0, sizeof(*v));
	v->secs = secs;
	for (int a = 0; a < 2; a++) {
		if (!size[a])
			continue;
		v->tool_ok[a] = true;
		vs_add(v, a, TOOL_ROW);
		vs_add(v, a, LIB_ROW);
		for (size_t i = 0; i < N_CONFIGS; i++)
			if ((configs[i].p.algo == LZ4) == a && mem[i].ready &&
			    configs[i].p.version == TCP_COMP_VERSION_2)
				vs_add(v, a, (int)i);
	}
	for (v->rounds = 0; v->rounds < reps; v->rounds++)
		vs_round(v, v->rounds, file, mem, b, size);
}

/* Medians and ranges of row @w over the rounds, and of its ratios to the tool row @t. */
struct vs_fig {
	struct spread comp, dec, core, rc, rd;
	struct spread lc, ld;	/* to the library row of the same round, in CPU time */
};

static const struct vs_row *vs_row_of(const struct vs_tools *v, int algo, int what)
{
	for (int i = 0; i < v->rows; i++)
		if (v->row[i].algo == algo && v->row[i].what == what)
			return &v->row[i];
	return NULL;
}

static struct vs_fig vs_figures(const struct vs_tools *v, const struct vs_row *w)
{
	double c[MAX_REPS], d[MAX_REPS], k[MAX_REPS], rc[MAX_REPS], rd[MAX_REPS];
	double lc[MAX_REPS], ld[MAX_REPS];
	const struct vs_row *t = vs_row_of(v, w->algo, TOOL_ROW);
	const struct vs_row *l = vs_row_of(v, w->algo, LIB_ROW);
	int n = v->rounds;

	for (int r = 0; r < n; r++) {
		c[r] = w->r[r].comp;
		d[r] = w->r[r].dec;
		k[r] = w->r[r].core;
		rc[r] = w->r[r].comp / t->r[r].comp;
		rd[r] = w->r[r].dec / t->r[r].dec;
		lc[r] = w->r[r].cpu_comp / l->r[r].cpu_comp;
		ld[r] = w->r[r].cpu_dec / l->r[r].cpu_dec;
	}
	return (struct vs_fig){ spread_of(c, n), spread_of(d, n), spread_of(k, n),
				spread_of(rc, n), spread_of(rd, n), spread_of(lc, n),
				spread_of(ld, n) };
}

static const char *vs_name(const struct vs_row *w)
{
	return w->what == TOOL_ROW ? tool_name[w->algo] : w->what == LIB_ROW ? "library, one call"
									      : configs[w->what].name;
}

static void print_vs(const struct vs_tools *v, double tool[2][3])
{
	printf("\nthe engine against the tools, interleaved: %d rounds; each runs `zstd -b1 "
	       "-i%s` and `lz4 -b1 -i%s` on this core, and beside each, in alternating order, the "
	       "library call and the engine's format 2 rows timed as the tools time (wall clock; "
	       "whole-file passes repeated for >= %s s of compression; the average pass); "
	       "medians of the rounds, ratios to the same round's tool (median, range); core: "
	       "CPU time over wall time; vs library: the engine's CPU time against the library "
	       "call's in the same round (median), which load stretches less:\n", v->rounds,
	       v->secs, v->secs, v->secs);
	printf("%-19s %8s %8s %5s | %-18s %-18s | %s\n", "row", "comp", "dec", "core",
	       "vs tool: comp", "dec", "vs library: comp, dec");
	for (int i = 0; i < v->rows; i++) {
		const struct vs_row *w = &v->row[i];
		struct vs_fig f;

		if (!v->tool_ok[w->algo]) {
			if (w->what == TOOL_ROW)
				printf("%-19s (not run: missing, failed or not the library call's "
				       "bytes)\n", vs_name(w));
			continue;
		}
		f = vs_figures(v, w);
		printf("%-19s %8.1f %8.1f %4.0f%% |", vs_name(w), f.comp.med, f.dec.med,
		       100 * f.core.med);
		if (w->what == TOOL_ROW) {
			tool[w->algo][0] = f.comp.med;
			tool[w->algo][1] = f.dec.med;
			tool[w->algo][2] = f.core.lo;
			printf("\n");
			continue;
		}
		printf(" %5.2fx %4.2f-%4.2f   %5.2fx %4.2f-%4.2f", f.rc.med, f.rc.lo, f.rc.hi,
		       f.rd.med, f.rd.lo, f.rd.hi);
		if (w->what >= 0)
			printf(" | %5.2fx %5.2fx", f.lc.med, f.ld.med);
		printf("\n");
	}
}

/* The figure: medians of the interleaved rounds' ratios. */
static void print_vs_goal(const struct vs_tools *v)
{
	double low = 1e9, core = 1;
	int rows = 0, below = 0;

	printf("goal: the engine in memory >= %.2fx of `zstd -b1` / `lz4 -b1` on this core and "
	       "file, interleaved rounds, medians (comp/dec):", GOAL);
	for (int i = 0; i < v->rows; i++) {
		const struct vs_row *w = &v->row[i];
		struct vs_fig f;

		if (w->what < 0 || !v->tool_ok[w->algo])
			continue;
		f = vs_figures(v, w);
		core = dmin(core, f.core.lo);
		low = dmin(low, dmin(f.rc.lo, f.rd.lo));
		rows++;
		below += f.rc.med < GOAL || f.rd.med < GOAL;
		printf(" %s %.2f/%.2f", configs[w->what].name, f.rc.med, f.rd.med);
	}
	for (int a = 0; a < 2; a++) {
		const struct vs_row *t = vs_row_of(v, a, TOOL_ROW);

		if (t && v->tool_ok[a])
			core = dmin(core, vs_figures(v, t).core.lo);
	}
	if (!rows) {
		printf(": (no row: the tools did not run)\n");
		return;
	}
	printf(" (lowest round %.2f; the least core a measurement had: %.0f%%): %s\n", low,
	       100 * core, below ? "NOT MET" : "met");
}

/* The figure (the engine in memory against the tools, interleaved
 * on this core), and stricter ones beside it as information. */
static void print_goals(size_t len, const struct speed *eng, const struct speed *sock,
			const struct speed *ref, const double tool[][3], bool socket_rounds,
			const struct vs_tools *v)
{
	double share = 1;
	char why[128];

	for (int a = 0; a < 2; a++)
		if (tool[a][0] > 0 && tool[a][2] < share)
			share = tool[a][2];
	printf("\ngoals, this run:\n");
	if (v)
		print_vs_goal(v);
	else
		printf("goal: the engine in memory >= %.2fx of `zstd -b1` / `lz4 -b1`: (not run: "
		       "COMP_BENCH_TOOLS=0)\n", GOAL);
	print_goal("the engine in memory >= 0.90x of one library call over the file (CPU time, "
		   "best round; comp/dec)", len, eng, ref, NULL, true, NULL);
	snprintf(why, sizeof(why), "NOT SHOWN (the tools had %.0f%% of the core: their wall-clock "
		 "MB/s are low; a quiet machine shows it)", 100 * share);
	if (socket_rounds && v)
		print_goal("through a socketpair >= 0.90x of the tools (CPU time, best round, against "
			   "the tools' medians; comp/dec)", len, sock, ref, tool, true,
			   share < TOOL_SHARE ? why : NULL);
}

static int usage(void)
{
	fprintf(stderr, "usage: comp_engine_speed FILE [REPS [CONFIG]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct mem_conn mem[N_CONFIGS];
	struct speed eng[N_CONFIGS] = { 0 }, sock[N_CONFIGS] = { 0 }, ref[N_CONFIGS] = { 0 };
	int reps = argc > 2 ? atoi(argv[2]) : 5, in;
	double tool[2][3] = { { 0 } };	/* zstd, lz4: comp, decomp MB/s, core share */
	const char *only = argc > 3 ? argv[3] : NULL;
	unsigned int record_size = getenv("COMP_BENCH_RECORD") ? atoi(getenv("COMP_BENCH_RECORD")) : 0;
	bool socket_rounds = !getenv("COMP_BENCH_SOCKET") || atoi(getenv("COMP_BENCH_SOCKET"));
	bool check_rounds = !getenv("COMP_BENCH_CHECK") || atoi(getenv("COMP_BENCH_CHECK"));
	bool check_control = !getenv("COMP_BENCH_CHECK_AA") || atoi(getenv("COMP_BENCH_CHECK_AA"));
	static struct check_result checks[N_CONFIGS], controls[N_CONFIGS];
	static struct vs_tools vs;
	const char *tools = getenv("COMP_BENCH_TOOLS");
	size_t rec;
	int seen[__TCP_COMP_ALGO_MAX] = { 0 };
	struct drain d = { 0 };
	struct bufs b = { 0 };
	struct stat sb;
	void *map;
	ssize_t n;

	if (argc < 2 || reps < 1 || reps > MAX_REPS)
		return usage();
	in = open(argv[1], O_RDONLY);
	if (in < 0 || fstat(in, &sb) || !sb.st_size)
		die(argv[1], in < 0 ? errno : EINVAL);
	b.len = sb.st_size;
	/* Read into memory of ours, as the tools read it: a mapping of the page
	 * cache would be other memory than theirs. */
	map = touched(b.len);
	for (size_t got = 0; got < b.len; got += n) {
		n = read(in, (char *)map + got, b.len - got);
		if (n <= 0)
			die(argv[1], n ? errno : EIO);
	}
	close(in);
	b.data = map;
	b.tmp_cap = ZSTD_compressBound(b.len) + LZ4_compressBound(b.len);
	rec = record_size ? record_size : TCP_COMP_DEFAULT_RECORD;
	b.wire_cap = (b.len / rec + 2) * (ZSTD_compressBound(rec) + LZ4_compressBound(rec) + 64);
	b.out = touched(b.len);
	b.tmp = touched(b.tmp_cap);
	b.wire = touched(b.wire_cap);
	ebpfaccel_set_print(NULL);
	print_load("before");
	/* Round -1 warms caches, contexts and the codec's buffers; not counted. */
	for (int r = reps > 1 ? -1 : 0; r < reps; r++) {
		for (size_t i = 0; i < N_CONFIGS && r <= 0; i++) {
			speed_reset(&eng[i]);
			speed_reset(&sock[i]);
			speed_reset(&ref[i]);
		}
		for (size_t i = 0; i < N_CONFIGS; i++) {
			struct config cfg = configs[i];

			if (only && strcmp(only, cfg.name))
				continue;
			cfg.p.record_size = record_size;
			round_mem(&cfg, &mem[i], &b, &eng[i], &ref[i]);
			if (socket_rounds)
				round_socket(&cfg, &b, &d, &ref[i], &sock[i]);
		}
	}
	for (size_t i = 0; i < N_CONFIGS && check_rounds && !only; i++) {
		if (!has_twin(i))
			continue;
		check_pair(i, &b, reps, record_size, false, &checks[i]);
		if (check_control)
			check_pair(i, &b, reps, record_size, true, &controls[i]);
	}
	print_load("after ");
	printf("\nthe engine's codec in memory vs the library (what zstd -b1 / lz4 -b1 time); "
	       "CPU time, best of %d after a warm-up round:\n", reps);
	printf("%-19s %6s %7s %7s | %7s %7s | %s\n", "engine config", "wire", "comp", "dec",
	       "lib_c", "lib_d", "engine/library comp, dec");
	printf("%-19s %6s %7s %7s | %7s %7s | %s\n", "", "/raw", "MB/s", "MB/s", "MB/s", "MB/s",
	       "best (range of the rounds)");
	for (size_t i = 0; i < N_CONFIGS; i++) {
		if (only && strcmp(only, configs[i].name))
			continue;
		print_row(configs[i].name, b.len, &eng[i], &ref[i]);
		printf("\n");
	}
	if (!only && check_rounds)
		print_check_costs(checks, controls);
	print_floor(b.len, eng, ref, only);
	if (socket_rounds) {
		printf("\nthe same through a socketpair (ebpfaccel_comp_conn__send() / __recv(), a "
		       "thread draining / feeding it on the same core):\n");
		printf("%-19s %7s %7s | %s\n", "engine config", "comp", "dec", "vs library comp, dec");
	}
	for (size_t i = 0; i < N_CONFIGS && socket_rounds; i++)
		if (!only || !strcmp(only, configs[i].name))
			print_socket_row(configs[i].name, b.len, &sock[i], &ref[i]);
	printf("\nf1: record format 1 without a check (format 2, the default, checks every record "
	       "with XXH3); f1+xxh32: format 1 with TCP_COMP_F_CHECKSUM\n");
	printf("check cost: how much more time format 2 takes than its format 1 twin (f1, no "
	       "check); XXH3 alone: the hash over the same payloads, each just read, in percent "
	       "of the twin's time\n");
	printf("library: one ZSTD_compressCCtx(level 1) / LZ4_compress_fast(1) call over the file "
	       "and one decompression call; wire/raw");
	for (size_t i = 0; i < N_CONFIGS; i++)
		if (ref[i].wire && !seen[configs[i].p.algo]++)
			printf(" %s %.3f", configs[i].p.algo == ZSTD ? "zstd" : "lz4",
			       (double)ref[i].wire / b.len);
	printf("\n");
	if (!tools || strcmp(tools, "0")) {
		vs_run(&vs, reps, tools ? tools : "1", argv[1], mem, &b, ref);
		print_load("after the interleaved rounds");
		print_vs(&vs, tool);
	}
	print_goals(b.len, eng, sock, ref, tool, socket_rounds,
		    !tools || strcmp(tools, "0") ? &vs : NULL);
	for (size_t i = 0; i < N_CONFIGS; i++)
		if (mem[i].ready) {
			comp_encoder__fini(&mem[i].enc);
			comp_decoder__fini(&mem[i].dec);
		}
	free(d.out);
	munmap(b.out, b.len);
	munmap(b.tmp, b.tmp_cap);
	munmap(b.wire, b.wire_cap);
	munmap(map, b.len);
	return 0;
}
