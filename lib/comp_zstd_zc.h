/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * zstd stream records decoded straight into the caller's buffer where the
 * window allows it (comp_zstd_zc.c).  Internal to the record codec.
 */
#ifndef EBPFACCEL_COMP_ZSTD_ZC_H
#define EBPFACCEL_COMP_ZSTD_ZC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

/* Frames with larger windows use zstd's own ring (level 1's is 512 KiB). */
#define ZSTD_ZC_WINDOW_MAX	(512U * 1024)

struct comp_rec;

/*
 * zstd's bufferless decoder keeps the output before the current contiguous
 * segment as ONE other segment (its extDict), so the window must lie whole
 * in the previous segment.  h holds the output that the next call needs;
 * seg mirrors the length of zstd's current segment (bytes of this frame).
 */
struct zstd_zc {
	ZSTD_DCtx *dctx;	/* the decoder's, in bufferless mode */
	char *h;		/* cap bytes: the output the next call may refer to */
	size_t cap;
	size_t hlen;		/* bytes in h, from its start */
	const char *prev_end;	/* where zstd's current segment ends; NULL: none */
	size_t seg;		/* its length, counted from the frame's start */
	size_t window;		/* the current frame's window */
	uint64_t frame_pos;	/* bytes the current frame has produced */
	bool in_frame;
	bool streaming;		/* a window above ZSTD_ZC_WINDOW_MAX seen: zstd's own ring */
	size_t direct;		/* bytes of this call that go straight to the caller */
};

/* 0 or -ENOMEM; fini() is safe after a failed init() and twice. */
int comp_zstd_zc__init(struct zstd_zc *z, ZSTD_DCtx *dctx);
void comp_zstd_zc__fini(struct zstd_zc *z);
/* True when zstd's current segment holds the window the next output may
 * refer to: a call may then start straight in the caller's buffer. */
bool comp_zstd_zc__history_ok(const struct zstd_zc *z);
/* The window of the frame that @payload starts, 0 if it starts none. */
size_t comp_zstd_zc__frame_window(const char *payload, size_t wire);
/* Decodes @r's payload into @dst (orig_len bytes), straight if z->direct
 * still covers it, else through h: 0, -EAGAIN (a frame whose window is
 * above ZSTD_ZC_WINDOW_MAX starts here: use zstd's streaming decoder from
 * now on; nothing consumed), -ENOMEM, or -EBADMSG with *why. */
int comp_zstd_zc__record(struct zstd_zc *z, const struct comp_rec *r, char *dst,
			 const char **why);

#endif
