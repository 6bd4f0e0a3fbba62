// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * zstd stream records straight into the caller's buffer.
 *
 * zstd's streaming decoder decodes every block into its window ring and
 * copies it out: bench/comp_engine_speed puts the engine at 0.80-0.88x of
 * the same records decoded in place.  The bufferless API decodes anywhere,
 * but remembers only the current contiguous output segment and the one
 * before it (ZSTD_checkContinuity(): prefix + extDict), and cannot be told
 * that a copy of the window moved.  So the window has to be whole in the
 * segment before, and the output the next call refers to has to stay in
 * memory of ours.  Per call of T output bytes, window W:
 *
 *  - T >= 2W: the records up to the last boundary at or before T - W go
 *    straight to the caller (their dictionary: h, the previous call's
 *    tail, at least W); the rest, at least W, into h from its start
 *    (their dictionary: this call's first part, at least W) and are copied
 *    out.  Half the copy at 1 MiB reads and level 1's 512 KiB window.
 *  - otherwise everything goes through h, a ring of W + one record as
 *    zstd's own (h_slot()).
 *
 * Each record must end on a zstd block or frame boundary, as the format
 * says (docs/compression-format.md 2.2): a step of the bufferless decoder
 * cut by a record end is an error here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY	/* bufferless decoding, stable since 1.3 */
#include <zstd.h>

#include "comp_codec.h"
#include "comp_zstd_zc.h"

#define ZC_CAP	(ZSTD_ZC_WINDOW_MAX + TCP_COMP_MAX_RECORD)

int comp_zstd_zc__init(struct zstd_zc *z, ZSTD_DCtx *dctx)
{
	memset(z, 0, sizeof(*z));
	z->dctx = dctx;
	z->cap = ZC_CAP;
	z->h = malloc(z->cap);
	return z->h ? 0 : -ENOMEM;
}

void comp_zstd_zc__fini(struct zstd_zc *z)
{
	free(z->h);
	z->h = NULL;
}

bool comp_zstd_zc__history_ok(const struct zstd_zc *z)
{
	uint64_t need = z->window < z->frame_pos ? z->window : z->frame_pos;

	return !z->in_frame || z->seg >= need;
}

size_t comp_zstd_zc__frame_window(const char *payload, size_t wire)
{
	ZSTD_frameHeader fh;

	if (ZSTD_getFrameHeader(&fh, payload, wire))
		return 0;
	return fh.frameType == ZSTD_frame ? fh.windowSize : 0;
}

/* Starts the frame at @src, or says why not (-EAGAIN: window too large for us). */
static int frame_begin(struct zstd_zc *z, const char *src, size_t n, const char **why)
{
	ZSTD_frameHeader fh;
	size_t ret = ZSTD_getFrameHeader(&fh, src, n);

	if (ZSTD_isError(ret)) {
		*why = ZSTD_getErrorName(ret);
		return -EBADMSG;
	}
	if (ret) {
		*why = "zstd frame header cut by the record's end";
		return -EBADMSG;
	}
	/* The bufferless API does not apply ZSTD_d_windowLogMax. */
	if (fh.windowSize > (1ULL << TCP_COMP_ZSTD_WINDOWLOG_MAX)) {
		*why = "zstd window above TCP_COMP_ZSTD_WINDOWLOG_MAX";
		return -EBADMSG;
	}
	if (fh.frameType == ZSTD_frame && fh.windowSize > ZSTD_ZC_WINDOW_MAX)
		return -EAGAIN;
	ret = ZSTD_decompressBegin(z->dctx);
	if (ZSTD_isError(ret)) {
		*why = ZSTD_getErrorName(ret);
		return -EBADMSG;
	}
	z->in_frame = true;
	z->window = fh.windowSize;
	z->frame_pos = 0;
	z->seg = 0;
	z->prev_end = NULL;	/* ZSTD_decompressBegin() forgot the old segments */
	return 0;
}

/* Feeds @n bytes at @src step by step; output at @dst, *out bytes of @cap. */
static int feed(struct zstd_zc *z, const char *src, size_t n, char *dst, size_t cap, size_t *out,
		const char **why)
{
	const char *start = src;

	*out = 0;
	while (n) {
		size_t need, got;
		int err;

		if (!z->in_frame) {
			err = frame_begin(z, src, n, why);
			if (err == -EAGAIN && src != start) {
				*why = "zstd frame with a window above 512 KiB inside a record";
				return -EBADMSG;
			}
			if (err)
				return err;
		}
		need = ZSTD_nextSrcSizeToDecompress(z->dctx);
		if (need > n) {
			*why = "zstd block cut by the record's end";
			return -EBADMSG;
		}
		/* zstd starts a new segment wherever output does not continue the last. */
		if (cap > *out && dst + *out != z->prev_end) {
			z->seg = 0;
			z->prev_end = dst + *out;
		}
		got = ZSTD_decompressContinue(z->dctx, dst + *out, cap - *out, src, need);
		if (ZSTD_isError(got)) {
			*why = ZSTD_getErrorName(got);
			return -EBADMSG;
		}
		*out += got;
		z->prev_end += got;
		z->seg += got;
		z->frame_pos += got;
		src += need;
		n -= need;
		if (!ZSTD_nextSrcSizeToDecompress(z->dctx))
			z->in_frame = false;
	}
	return 0;
}

/*
 * Where a record of @orig bytes goes when it does not go to the caller: on
 * from the end of zstd's segment in h, or from h's start, as zstd's own
 * ring does.  From the start either the window is in the caller's part of
 * this call (planned to hold it) or the frame just began, or h is full:
 * then its segment (more than cap - TCP_COMP_MAX_RECORD >= W bytes) is
 * zstd's dictionary, and a byte written at position p of h only replaces
 * one more than W behind the output at p.
 */
static char *h_slot(struct zstd_zc *z, size_t orig)
{
	char *end = z->h + z->hlen;

	if (z->prev_end == end && z->hlen + orig <= z->cap)
		return end;
	z->hlen = 0;
	return z->h;
}

int comp_zstd_zc__record(struct zstd_zc *z, const struct comp_rec *r, char *dst, const char **why)
{
	bool direct = r->orig <= z->direct;
	char *to = dst;
	size_t out;
	int err;

	if (direct) {
		z->direct -= r->orig;
	} else {
		z->direct = 0;
		to = h_slot(z, r->orig);
	}
	err = feed(z, r->payload, r->wire, to, r->orig, &out, why);
	if (err)
		return err;
	if (out != r->orig) {
		*why = "zstd record does not decode to orig_len bytes";
		return -EBADMSG;
	}
	if (!direct) {
		z->hlen = to - z->h + out;
		memcpy(dst, to, out);
	}
	return 0;
}
