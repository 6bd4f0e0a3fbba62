// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where lz4 decoding loses against one call over the file (not a test): the
 * library's decoder over the same text, one thing varied at a time against
 * LZ4_decompress_safe() of the bytes that LZ4_compress_fast() made of the
 * same span in one call, which is what `lz4 -b1` times.
 *
 *   comp_lz4_floor FILE [ROUNDS [MiB]]   (default 7 rounds over the first 64 MiB)
 *
 * The file goes through in 4 MiB spans; each variant and the one call decode
 * a span side by side (the order alternating by span and round, so both see
 * the machine of the same moment), each span's time the best of the rounds;
 * the rounds' own paired ratios (whole file against whole file) give the
 * spread.  The first row is the method's own error: the one call against a
 * copy of itself.  CPU time of this thread; pin it (taskset).
 *
 * The variants: the one call's bytes through lz4's dictionary entry points
 * (the same instructions' worth of work, another code path: prefix mode
 * with the 64 KiB before the output, as lz4 stream records decode after the
 * first of a read, and an external 64 KiB dictionary, as the first one
 * does); independent records of 64 KiB to 4 MiB made as the engine's block
 * mode makes them (LZ4_compress_fast_extState()), each decoded straight to
 * its place; 256 KiB records into one 256 KiB scratch buffer instead (a
 * destination in the core's cache), with XXH3 over each payload after it
 * (format 2's check), and into memory madvise()d for transparent huge pages
 * (fewer TLB misses on the destination; the one call there too); stream
 * records (LZ4_compress_fast_continue()) of 128 and 256 KiB, each against
 * the output before it; and 128 KiB stream records read as the engine reads
 * them, 1 MiB per call: the first record of each call against a 64 KiB copy
 * of the previous call's end, that copy made after the call; then each of
 * the two alone (the copy made, every record decoded in prefix mode; the
 * first record of a call against the same bytes where they already are).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <lz4.h>
#include <xxhash.h>

#define SPAN		(4U << 20)
#define HISTORY		(64U * 1024)
#define READ_SIZE	(1U << 20)
#define MAX_ROUNDS	31
#define HUGE_PAGE	(2U << 20)

/* The codec's dispatching XXH3 (lib/comp_codec.c: the same weak symbol). */
XXH64_hash_t XXH3_64bits_withSeed_dispatch(const void *input, size_t len, XXH64_hash_t seed)
	__attribute__((weak));

enum how {
	ONE,		/* LZ4_decompress_safe() of the one call's bytes */
	PREFIX,		/* ... through _usingDict(), the 64 KiB before the output */
	EXTDICT,	/* ... through _usingDict(), a 64 KiB dictionary elsewhere */
	BLOCK,		/* independent records, each to its place */
	SCRATCH,	/* independent records, each into one scratch buffer */
	CHECKED,	/* independent records, XXH3 over each payload after it */
	HUGE,		/* as its twin, into memory madvise()d for huge pages */
	STREAM,		/* stream records, each against the output before it */
	READS,		/* stream records, 1 MiB reads with a 64 KiB history copy */
	READS_COPY,	/* ... the copy alone: every record in prefix mode */
	READS_EXTDICT,	/* ... the extDict record alone: a history not copied */
};

struct variant {
	const char *name;
	enum how how;
	size_t record;	/* 0: one record per span (the one call's bytes) */
};

static const struct variant variants[] = {
	{ "A/A: the one call against itself", ONE, 0 },
	{ "one call's bytes, prefix entry", PREFIX, 0 },
	{ "one call's bytes, extDict entry", EXTDICT, 0 },
	{ "one call into huge-page memory", HUGE, 0 },
	{ "block records 64 KiB", BLOCK, 64 << 10 },
	{ "block records 128 KiB", BLOCK, 128 << 10 },
	{ "block records 256 KiB", BLOCK, 256 << 10 },
	{ "block records 1 MiB", BLOCK, 1 << 20 },
	{ "block records 4 MiB", BLOCK, 4 << 20 },
	{ "block 256 KiB into a scratch", SCRATCH, 256 << 10 },
	{ "block 256 KiB + XXH3 each", CHECKED, 256 << 10 },
	{ "block 256 KiB into huge pages", HUGE, 256 << 10 },
	{ "stream records 128 KiB", STREAM, 128 << 10 },
	{ "stream records 256 KiB", STREAM, 256 << 10 },
	{ "stream 128 KiB, 1 MiB reads", READS, 128 << 10 },
	{ "  their history copies alone", READS_COPY, 128 << 10 },
	{ "  their extDict records alone", READS_EXTDICT, 128 << 10 },
};
#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))

static bool stream_records(const struct variant *v)
{
	return v->how == STREAM || v->how == READS || v->how == READS_COPY ||
	       v->how == READS_EXTDICT;
}

/* One span's compressed records, back to back (each payload's offset kept). */
struct records {
	char *wire;
	size_t wire_len;
	int n, *len;
	size_t *off;
};

struct bench {
	const char *data;
	size_t len;
	char *out, *huge, *scratch, *history;
	struct records (*rec)[N_VARIANTS + 1];	/* [span][0]: the one call */
	double (*best)[N_VARIANTS][2];		/* [span][variant][one call, variant] */
	size_t spans;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "comp_lz4_floor: %s: %s\n", what, strerror(err));
	exit(1);
}

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		die("memory", ENOMEM);
	memset(p, 0xD6, n);	/* faulted in before any timing */
	return p;
}

static uint64_t xxh3(const void *p, size_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed_dispatch ? XXH3_64bits_withSeed_dispatch(p, n, seed)
					     : XXH3_64bits_withSeed(p, n, seed);
}

/* @n bytes at @src in records of @record bytes (0: one), block or stream. */
static void compress(struct records *r, const char *src, size_t n, size_t record, bool stream)
{
	LZ4_stream_t *s = LZ4_createStream();
	size_t w = 0;

	record = record ? record : n;
	r->n = (n + record - 1) / record;
	r->wire = xmalloc(LZ4_compressBound(n) + r->n * 64);
	r->len = calloc(r->n, sizeof(*r->len));
	r->off = calloc(r->n, sizeof(*r->off));
	if (!s || !r->len || !r->off)
		die("memory", ENOMEM);
	for (int i = 0; i < r->n; i++) {
		size_t k = n - i * record < record ? n - i * record : record;
		const char *in = src + i * record;
		int cap = LZ4_compressBound(k);

		r->len[i] = stream ? LZ4_compress_fast_continue(s, in, r->wire + w, k, cap, 1)
			   : record == n ? LZ4_compress_fast(in, r->wire + w, k, cap, 1)
					 : LZ4_compress_fast_extState(s, in, r->wire + w, k, cap, 1);
		if (r->len[i] <= 0)
			die("LZ4 compress", EIO);
		r->off[i] = w;
		w += r->len[i] + 24;	/* a format 2 header's worth between payloads */
	}
	r->wire_len = w;
	LZ4_freeStream(s);
}

static bool decoded(int got, size_t want)
{
	return got >= 0 && (size_t)got == want;
}

/* CPU seconds to decode span @k's records of variant @v (or the one call) to @dst. */
static double decode(struct bench *b, size_t k, const struct variant *v, const struct records *r,
		     char *dst, size_t n)
{
	size_t record = v->record ? v->record : n;
	LZ4_streamDecode_t sd;
	uint64_t acc = 0;
	double t0;

	memset(&sd, 0, sizeof(sd));
	if (v->how == READS)
		LZ4_setStreamDecode(&sd, b->history, HISTORY);
	t0 = cpu_now();
	for (int i = 0; i < r->n; i++) {
		size_t off = i * record, m = n - off < record ? n - off : record;
		const char *in = r->wire + r->off[i];
		char *to = v->how == SCRATCH ? b->scratch : dst + off;
		bool ok;

		switch (v->how) {
		case PREFIX:	/* span 0 has nothing before it: the one call there */
			ok = decoded(k ? LZ4_decompress_safe_usingDict(in, to, r->len[i], m,
								      to - HISTORY, HISTORY)
				       : LZ4_decompress_safe(in, to, r->len[i], m), m);
			break;
		case EXTDICT:
			ok = decoded(LZ4_decompress_safe_usingDict(in, to, r->len[i], m,
								   b->history, HISTORY), m);
			break;
		case STREAM:
		case READS:
		case READS_COPY:
		case READS_EXTDICT:
			if (v->how == READS_EXTDICT && i && off % READ_SIZE == 0)
				LZ4_setStreamDecode(&sd, b->data + k * SPAN + off - HISTORY, HISTORY);
			ok = decoded(LZ4_decompress_safe_continue(&sd, in, to, r->len[i], m), m);
			if ((v->how == READS || v->how == READS_COPY) && (off + m) % READ_SIZE == 0)
				memcpy(b->history, to + m - HISTORY, HISTORY);
			if (v->how == READS && (off + m) % READ_SIZE == 0)
				LZ4_setStreamDecode(&sd, b->history, HISTORY);
			break;
		default:
			ok = decoded(LZ4_decompress_safe(in, to, r->len[i], m), m);
			if (v->how == CHECKED)
				acc += xxh3(in, r->len[i], i);
		}
		if (!ok)
			die("LZ4 decode", EILSEQ);
	}
	t0 = cpu_now() - t0;
	__asm__ volatile("" : : "r"(acc));
	return t0;
}

/* The history an EXTDICT / READS span decodes against: the 64 KiB before it
 * (span 0's records refer to nothing before them: any bytes do). */
static void set_history(struct bench *b, size_t k)
{
	if (k)
		memcpy(b->history, b->data + k * SPAN - HISTORY, HISTORY);
}

static size_t span_len(const struct bench *b, size_t k)
{
	return b->len - k * SPAN < SPAN ? b->len - k * SPAN : SPAN;
}

/* Span @k of round @r: variant @i and the one call side by side; @t: their times. */
static void pair(struct bench *b, size_t k, size_t i, int r, double t[2])
{
	const struct variant *v = &variants[i], one = { "", ONE, 0 };
	size_t n = span_len(b, k);
	char *dst = (v->how == HUGE ? b->huge : b->out) + k * SPAN;
	bool variant_first = (k + i + r) & 1;

	for (int j = 0; j < 2; j++) {
		bool var = variant_first == !j;

		set_history(b, k);
		t[var] = decode(b, k, var ? v : &one, &b->rec[k][var ? i + 1 : 0], var ? dst :
				b->out + k * SPAN, n);
		if (!(var && v->how == SCRATCH) &&
		    memcmp(var ? dst : b->out + k * SPAN, b->data + k * SPAN, n))
			die(var ? variants[i].name : "one call", EILSEQ);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_variant(const struct bench *b, size_t i, double *ratios, int rounds)
{
	double one = 0, var = 0;
	size_t wire = 0;

	for (size_t k = 0; k < b->spans; k++) {
		one += b->best[k][i][0];
		var += b->best[k][i][1];
		for (int j = 0; j < b->rec[k][i + 1].n; j++)
			wire += b->rec[k][i + 1].len[j];
	}
	qsort(ratios, rounds, sizeof(*ratios), cmp_double);
	printf("%-34s %6.4f %7.0f  %5.3fx   %5.3fx %5.3f..%5.3f\n", variants[i].name,
	       (double)wire / b->len, b->len / var / 1e6, one / var, ratios[rounds / 2], ratios[0],
	       ratios[rounds - 1]);
}

/* Whether the kernel backed @p with huge pages: AnonHugePages of its mapping. */
static long huge_kib(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static void setup(struct bench *b, const char *path, size_t mib)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	char *data;

	if (fd < 0 || fstat(fd, &st))
		die(path, errno);
	b->len = (size_t)st.st_size < mib << 20 ? (size_t)st.st_size : mib << 20;
	if (b->len < 2 * SPAN)
		die("FILE shorter than 8 MiB", EINVAL);
	data = xmalloc(b->len);
	if (read(fd, data, b->len) != (ssize_t)b->len)
		die(path, EIO);
	close(fd);
	b->data = data;
	b->spans = (b->len + SPAN - 1) / SPAN;
	b->out = xmalloc(b->len);
	b->scratch = xmalloc(SPAN);
	b->history = xmalloc(HISTORY);
	b->huge = aligned_alloc(HUGE_PAGE, (b->len + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1));
	if (!b->huge)
		die("memory", ENOMEM);
	madvise(b->huge, b->len, MADV_HUGEPAGE);
	memset(b->huge, 0xD6, b->len);
	b->rec = calloc(b->spans, sizeof(*b->rec));
	b->best = calloc(b->spans, sizeof(*b->best));
	if (!b->rec || !b->best)
		die("memory", ENOMEM);
	for (size_t k = 0; k < b->spans; k++) {
		compress(&b->rec[k][0], data + k * SPAN, span_len(b, k), 0, false);
		for (size_t i = 0; i < N_VARIANTS; i++) {
			const struct variant *v = &variants[i];

			compress(&b->rec[k][i + 1], data + k * SPAN, span_len(b, k), v->record,
				 stream_records(v));
			b->best[k][i][0] = b->best[k][i][1] = 1e9;
		}
	}
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	static double ratios[N_VARIANTS][MAX_ROUNDS];
	struct bench b = { 0 };
	double load[3];

	if (argc < 2 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: comp_lz4_floor FILE [ROUNDS (1-%d) [MiB]]\n", MAX_ROUNDS);
		return 2;
	}
	setup(&b, argv[1], argc > 3 ? strtoul(argv[3], NULL, 0) : 64);
	if (getloadavg(load, 3) == 3)
		printf("load average before: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
	for (int r = -1; r < rounds; r++) {	/* round -1: warm-up, not counted */
		for (size_t i = 0; i < N_VARIANTS; i++) {
			double sum[2] = { 0, 0 }, t[2];

			for (size_t k = 0; k < b.spans; k++) {
				pair(&b, k, i, r, t);
				for (int j = 0; j < 2 && r >= 0; j++)
					if (t[j] < b.best[k][i][j])
						b.best[k][i][j] = t[j];
				sum[0] += t[0];
				sum[1] += t[1];
			}
			if (r >= 0)
				ratios[i][r] = sum[0] / sum[1];
		}
	}
	if (getloadavg(load, 3) == 3)
		printf("load average after : %.2f %.2f %.2f\n", load[0], load[1], load[2]);
	printf("\nlz4 decoding of %zu MiB, each variant against LZ4_decompress_safe() of one "
	       "LZ4_compress_fast() call per 4 MiB span, side by side; %d rounds (huge pages "
	       "in use: %ld KiB)\n", b.len >> 20, rounds, huge_kib());
	printf("%-34s %6s %7s  %-7s  %s\n", "variant", "wire", "MB/s", "vs one",
	       "rounds: median, range");
	for (size_t i = 0; i < N_VARIANTS; i++)
		print_variant(&b, i, ratios[i], rounds);
	printf("vs one: the one call's time over the variant's (each span's best of the rounds); "
	       "above 1: the variant is faster\n");
	return 0;
}
