// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Compressibility and compressor speed, measured on sampled payload. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include <lz4.h>
#include <zstd.h>

#include "ebpfaccel/uapi.h"
#include "internal.h"
#include "traffic.h"

double ebpfaccel__entropy(const uint8_t *buf, size_t len)
{
	uint64_t hist[256] = { 0 };
	double h = 0;

	if (!len)
		return -1;
	for (size_t i = 0; i < len; i++)
		hist[buf[i]]++;
	for (int b = 0; b < 256; b++) {
		double p = (double)hist[b] / len;

		if (hist[b])
			h -= p * log2(p);
	}
	return h;
}

/* Compressed size, or -errno. */
static int64_t compress_once(int algo, int level, const uint8_t *src, size_t len,
			     void *dst, size_t cap, ZSTD_CCtx *cctx)
{
	size_t zret;
	int lret;

	switch (algo) {
	case TCP_COMP_ALGO_ZSTD:
		zret = ZSTD_compressCCtx(cctx, dst, cap, src, len, level);
		return ZSTD_isError(zret) ? -EIO : (int64_t)zret;
	case TCP_COMP_ALGO_LZ4:
		/* As in the compression rules: a negative lz4 level is an
		 * acceleration, any other level the default speed. */
		lret = LZ4_compress_fast((const char *)src, dst, (int)len, (int)cap, level < 0 ? -level : 1);
		return lret > 0 ? lret : -EIO;
	default:
		return -EINVAL;
	}
}

static size_t bound(int algo, size_t len)
{
	return algo == TCP_COMP_ALGO_LZ4 ? (size_t)LZ4_compressBound((int)len) : ZSTD_compressBound(len);
}

/* Output buffer and context for compressing @len bytes with @algo. */
static int64_t alloc_scratch(int algo, size_t len, void **dst, size_t *cap, ZSTD_CCtx **cctx)
{
	if (len > INT32_MAX)
		return -E2BIG;
	*cap = bound(algo, len);
	*dst = malloc(*cap);
	*cctx = ZSTD_createCCtx();
	if (!*dst || !*cctx) {
		free(*dst);
		ZSTD_freeCCtx(*cctx);
		return -ENOMEM;
	}
	return 0;
}

double ebpfaccel__comp_ratio(int algo, int level, const uint8_t *buf, size_t len)
{
	ZSTD_CCtx *cctx;
	size_t cap;
	int64_t n;
	void *dst;

	if (!len)
		return 0;
	n = alloc_scratch(algo, len, &dst, &cap, &cctx);
	if (n)
		return n;
	n = compress_once(algo, level, buf, len, dst, cap, cctx);
	free(dst);
	ZSTD_freeCCtx(cctx);
	return n > 0 ? (double)len / n : n;
}

uint64_t ebpfaccel__monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The thread's CPU time, not the wall clock: the speed of one core that
 * compresses, even when other work preempts the measurement. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int64_t ebpfaccel__comp_speed(int algo, int level, const uint8_t *buf, size_t len)
{
	const uint64_t min_ns = 20000000;
	uint64_t start, elapsed, done = 0;
	ZSTD_CCtx *cctx;
	size_t cap;
	int64_t n;
	void *dst;

	if (!len)
		return -EINVAL;
	n = alloc_scratch(algo, len, &dst, &cap, &cctx);
	if (n)
		return n;
	start = cpu_ns();
	do {
		n = compress_once(algo, level, buf, len, dst, cap, cctx);
		done += len;
		elapsed = cpu_ns() - start;
	} while (n > 0 && elapsed < min_ns);
	free(dst);
	ZSTD_freeCCtx(cctx);
	if (n < 0)
		return n;
	return (int64_t)((double)done * 1e9 / elapsed);
}
