/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tcp_comp record format (include/ebpfaccel/uapi.h) in memory: an
 * encoder that turns application bytes into records and a decoder that
 * turns records back into application bytes.  No sockets here: the
 * connection (comp_engine.c) moves the bytes, and bench/comp_engine_speed
 * times this code alone against the libraries it wraps.  Not installed;
 * built into a convenience library that both link.
 */
#ifndef EBPFACCEL_COMP_CODEC_H
#define EBPFACCEL_COMP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <lz4.h>
#include <zstd.h>

#include "ebpfaccel/uapi.h"
#include "comp_zstd_zc.h"

struct lz4_history {
	char *buf;		/* LZ4_HISTORY + one record */
	size_t cap;
	size_t len;
};

/* The current zstd frame's original bytes, handed to zstd as one stable
 * input buffer that only grows: [0, len) */
struct zstd_frame {
	char *buf;
	size_t cap, len;
};

struct comp_encoder {
	struct tcp_comp_params p;
	ZSTD_CCtx *zc;
	struct zstd_frame frame;	/* stream mode, fast levels */
	LZ4_stream_t *l4;	/* block mode too: each record's state, no allocation */
	struct lz4_history hist;
	bool lz4_in_place;	/* lz4 stream: this call compresses from its buffer */
	bool lz4_borrowed;	/* ... and lz4's dictionary is in that buffer now */
};

/* One record's header as read from the wire. */
struct comp_rec {
	struct tcp_comp_rec_hdr h;
	uint32_t orig, wire;
	uint64_t check;		/* XXH3 (format 2) or XXH32 (format 1, F_CHECKSUM) */
	size_t hlen;
	const char *payload;
};

struct comp_decoder {
	struct tcp_comp_params p;
	ZSTD_DCtx *zd;
	struct zstd_zc zc;		/* zstd stream: into the caller's buffer */
	struct lz4_history hist;	/* lz4 stream: the last 64 KiB decoded, and more */
	LZ4_streamDecode_t l4d;		/* where lz4's dictionary is right now */
	bool lz4_at_history;		/* ... the history's tail, not before the next record */
	char *out;		/* a decoded record larger than the caller's buffer */
	size_t out_cap;
	const char *pend;	/* decoded bytes not yet returned: [opos, olen), in out or hist */
	size_t opos, olen;
	int err;		/* sticky: the stream is unusable after a bad record */
	const char *why;	/* what was wrong with it, for the log */
};

/* Makes @buf hold at least @need bytes (content kept): 0 or -ENOMEM. */
int comp_grow(char **buf, size_t *cap, size_t need);

/* Format 2's check of the record with header @h (lengths in network
 * order) and wire_len payload bytes at @payload. */
uint64_t comp_rec_xxh3(const struct tcp_comp_rec_hdr *h, const void *payload);

/* Original bytes per record that @p's sender cuts. */
size_t comp_record_size(const struct tcp_comp_params *p);

/* 0 or -ENOMEM; @p must be valid and on (algo != NONE).  fini() is safe
 * after a failed init(). */
int comp_encoder__init(struct comp_encoder *e, const struct tcp_comp_params *p);
void comp_encoder__fini(struct comp_encoder *e);
/* Bytes of the largest record one comp_encoder__record() call writes. */
size_t comp_encoder__max_record(const struct comp_encoder *e);
/* Around the records of one caller buffer of @len bytes that stays put
 * until end(): lz4 stream mode then compresses in place. */
void comp_encoder__begin(struct comp_encoder *e, size_t len);
void comp_encoder__end(struct comp_encoder *e);
/* Encodes @n (1..record size) bytes at @src as one whole record (header,
 * check, payload) at @dst, which has comp_encoder__max_record() bytes of
 * room.  Record bytes or -errno; counts it in @st's tx fields. */
ssize_t comp_encoder__record(struct comp_encoder *e, const void *src, size_t n, char *dst,
			     struct tcp_comp_stats *st);

/* 0 or -ENOMEM; fini() is safe after a failed init(). */
int comp_decoder__init(struct comp_decoder *d, const struct tcp_comp_params *p);
void comp_decoder__fini(struct comp_decoder *d);
/* 1 = @in holds the whole record that starts it, now in *r; 0 = not yet: it
 * takes *need bytes; -EBADMSG = its header is bad. */
int comp_decoder__peek(const struct comp_decoder *d, const char *in, size_t avail,
		       struct comp_rec *r, size_t *need);
/* Decoded bytes of a record larger than the last caller's buffer, left over. */
bool comp_decoder__pending(const struct comp_decoder *d);
size_t comp_decoder__copy_out(struct comp_decoder *d, void *buf, size_t len);
/*
 * Decodes every whole record at the start of @in (@avail bytes) that fits
 * @buf (@len > 0 bytes) straight into it; the first one, if larger than
 * @buf, is decoded aside and returned in parts.  *used = input bytes
 * consumed.  Bytes decoded; 0 = no whole record at the start of @in;
 * -errno = the first record is bad.  A bad record after good ones is
 * consumed, its error kept in d->err and returned by the next call.
 */
ssize_t comp_decoder__decode(struct comp_decoder *d, const char *in, size_t avail, size_t *used,
			     char *buf, size_t len, struct tcp_comp_stats *st);

#endif
