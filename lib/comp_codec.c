// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The record format in memory (comp_codec.h): what the user-space engine
 * does to the bytes, apart from moving them, with libzstd / liblz4.
 *
 * Memory per direction is bounded by TCP_COMP_MAX_RECORD / TCP_COMP_MAX_WIRE
 * whatever the peer sends: a record claiming more is refused before anything
 * is allocated for it, and decoders are given exactly orig_len bytes of room.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <xxhash.h>
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_c_stableInBuffer, stable since 1.4.6 */
#include <zstd.h>

#include "comp_codec.h"

#define REC_HDR_MAX	(TCP_COMP_REC_HDR_LEN + TCP_COMP_REC_XXH3_LEN)
#define LZ4_HISTORY	(64U * 1024)
/* Inputs from which LZ4_compress_fast() hashes into 32-bit positions
 * (lz4.c: LZ4_64Klimit). */
#define LZ4_ONESHOT_MIN	(64U * 1024 + 11)
/* zstd stream mode keeps a frame's input itself (see zstd_frame_init) when
 * the level's window is at most ZSTD_FRAME_WINDOWLOG_MAX: frames of
 * ZSTD_FRAME_BYTES, four windows at level 1, which costs 0.3% of ratio at
 * each frame's cold start against 30% more instructions for zstd's own
 * ring buffer. */
#define ZSTD_FRAME_BYTES	(2U << 20)
#define ZSTD_FRAME_WINDOWLOG_MAX 20

/* x86 builds of the shared libxxhash choose SSE2, AVX2 or AVX-512 at run time
 * in their *_dispatch entry points (4x the SSE2 speed on an AVX-512 machine);
 * other builds (static archives, other architectures) lack them. */
XXH64_hash_t XXH3_64bits_withSeed_dispatch(const void *input, size_t len, XXH64_hash_t seed)
	__attribute__((weak));

/* Format 2 checks every record: XXH3 of the payload, seeded with the header
 * (include/ebpfaccel/uapi.h).  The payload is what travels, so the check
 * costs a fraction of the original bytes. */
uint64_t comp_rec_xxh3(const struct tcp_comp_rec_hdr *h, const void *payload)
{
	uint32_t orig = ntohl(h->orig_len), wire = ntohl(h->wire_len);
	uint64_t seed = (uint64_t)h->algo << 56 | (uint64_t)h->flags << 48 |
			(uint64_t)orig << 24 | wire;

	if (XXH3_64bits_withSeed_dispatch)
		return XXH3_64bits_withSeed_dispatch(payload, wire, seed);
	return XXH3_64bits_withSeed(payload, wire, seed);
}

static uint64_t get_be64(const void *p)
{
	uint32_t w[2];

	memcpy(w, p, sizeof(w));
	return (uint64_t)ntohl(w[0]) << 32 | ntohl(w[1]);
}

static void put_be64(void *p, uint64_t v)
{
	uint32_t w[2] = { htonl(v >> 32), htonl(v) };

	memcpy(p, w, sizeof(w));
}

/*
 * Records of the engine when the configuration leaves the size open.
 * Stream mode: zstd's own block size (ZSTD_BLOCKSIZE_MAX), which it uses
 * over a file.  At 64 KiB (the kernel module's default) every zstd record
 * pays a block's headers and tables for half a block.  bench/
 * comp_engine_insns.sh, 8 MiB of text, instructions per byte against one
 * library call over the file, compress / decompress, 64 KiB -> 128 KiB:
 * zstd-1 stream 0.91/0.79 -> 0.94/0.84, lz4 stream 0.94/0.91 either way.
 * Block mode: the largest record any receiver takes (TCP_COMP_MAX_RECORD),
 * since every block-mode record starts from empty match and entropy tables,
 * which a file pays for once.  Instructions as above over 16 MiB, 128 KiB
 * -> 256 KiB: zstd-1 block 0.94/0.97 -> 0.96/0.98, lz4 block 0.93/0.97 ->
 * 0.96/0.97 (64 KiB -> 128 KiB was 0.88/0.88 -> 0.94/0.96 for zstd-1 over
 * 8 MiB); bench/comp_engine_speed, 128 -> 256 KiB, two loaded runs each:
 * zstd-1 block compress engine/library 0.87-0.89 -> 0.92, 2.9% fewer wire
 * bytes.  The cost is latency (a record is decoded once whole: 2 ms
 * at 1 Gbit/s) and one record of memory per direction.  No format change.
 */
#define ENGINE_STREAM_RECORD	(128U * 1024)
#define ENGINE_BLOCK_RECORD	TCP_COMP_MAX_RECORD

size_t comp_record_size(const struct tcp_comp_params *p)
{
	if (p->record_size)
		return p->record_size;
	return p->mode == TCP_COMP_MODE_STREAM ? ENGINE_STREAM_RECORD : ENGINE_BLOCK_RECORD;
}

static int history_init(struct lz4_history *h, size_t record)
{
	h->cap = LZ4_HISTORY + record;
	h->len = 0;
	h->buf = malloc(h->cap);
	return h->buf ? 0 : -ENOMEM;
}

/* Room for @need more bytes after the history, keeping its last 64 KiB;
 * grows only for a record larger than any before (receiver side). */
static int history_make_room(struct lz4_history *h, size_t need)
{
	char *bigger;

	if (h->len + need <= h->cap)
		return 0;
	if (h->len > LZ4_HISTORY) {
		memmove(h->buf, h->buf + h->len - LZ4_HISTORY, LZ4_HISTORY);
		h->len = LZ4_HISTORY;
	}
	if (h->len + need <= h->cap)
		return 0;
	bigger = realloc(h->buf, h->len + need);
	if (!bigger)
		return -ENOMEM;
	h->buf = bigger;
	h->cap = h->len + need;
	return 0;
}

static int lz4_accel(int level)
{
	return level < 0 ? -level : 1;
}

/* ---- encoder ----------------------------------------------------------- */

/*
 * For an input of one record zstd picks a smaller hash table and a shorter
 * minimum match than for a stream or a file.  The fast strategies' stream
 * values (level 1: minMatch 7, hashLog 14, as `zstd -b1` uses on a file) cost
 * 4% fewer instructions to compress 64 KiB text records and 7% fewer to
 * decode them, for 0.7% more bytes on the wire.
 */
static void zstd_block_params(struct comp_encoder *e)
{
	ZSTD_compressionParameters cp = ZSTD_getCParams(e->p.level, 0, 0);

	if (cp.strategy > ZSTD_dfast)
		return;
	ZSTD_CCtx_setParameter(e->zc, ZSTD_c_minMatch, cp.minMatch);
	ZSTD_CCtx_setParameter(e->zc, ZSTD_c_hashLog, cp.hashLog);
}

/*
 * zstd's streaming compressor copies its input into a ring buffer of one
 * window plus one block; once the ring wraps, most blocks are matched in its
 * slower two-segment (extDict) mode.  Given a stable input buffer it keeps no
 * copy and matches in one segment, as over a whole file.  The buffer may only
 * grow within a frame, so a frame ends (ZSTD_e_end) when the next record
 * might not fit and the next record starts a new one: decoders see
 * concatenated frames, which every zstd stream decoder reads.
 */
static int zstd_frame_init(struct comp_encoder *e)
{
	ZSTD_compressionParameters cp = ZSTD_getCParams(e->p.level, 0, 0);

	/* Slow levels: zstd's own buffer, no frame of several windows here.
	 * Growing a stable buffer's size is allowed from 1.5.4 on (tested). */
	if (e->p.level > 19 || cp.windowLog > ZSTD_FRAME_WINDOWLOG_MAX ||
	    ZSTD_versionNumber() < 10504)
		return 0;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(e->zc, ZSTD_c_stableInBuffer, 1)))
		return 0;
	e->frame.cap = ZSTD_FRAME_BYTES;
	e->frame.buf = malloc(e->frame.cap);
	return e->frame.buf ? 0 : -ENOMEM;
}

int comp_encoder__init(struct comp_encoder *e, const struct tcp_comp_params *p)
{
	memset(e, 0, sizeof(*e));
	e->p = *p;
	if (p->algo == TCP_COMP_ALGO_ZSTD) {
		e->zc = ZSTD_createCCtx();
		if (!e->zc)
			return -ENOMEM;
		ZSTD_CCtx_setParameter(e->zc, ZSTD_c_compressionLevel, p->level);
		if (p->level > 19)
			ZSTD_CCtx_setParameter(e->zc, ZSTD_c_windowLog, TCP_COMP_ZSTD_WINDOWLOG_MAX);
		if (p->mode == TCP_COMP_MODE_STREAM)
			return zstd_frame_init(e);
		zstd_block_params(e);
		return 0;
	}
	e->l4 = LZ4_createStream();
	if (!e->l4)
		return -ENOMEM;
	if (p->mode != TCP_COMP_MODE_STREAM)
		return 0;
	return history_init(&e->hist, comp_record_size(p));
}

void comp_encoder__fini(struct comp_encoder *e)
{
	ZSTD_freeCCtx(e->zc);
	free(e->frame.buf);
	LZ4_freeStream(e->l4);
	free(e->hist.buf);
}

size_t comp_encoder__max_record(const struct comp_encoder *e)
{
	size_t rec = comp_record_size(&e->p);

	return REC_HDR_MAX + (e->p.algo == TCP_COMP_ALGO_ZSTD ? ZSTD_compressBound(rec) + 64
							      : (size_t)LZ4_compressBound(rec));
}

/* Copying into the history costs two copies per byte (in, and the move when
 * it fills); in place, one 64 KiB copy per call. */
void comp_encoder__begin(struct comp_encoder *e, size_t len)
{
	e->lz4_in_place = e->l4 && e->p.mode == TCP_COMP_MODE_STREAM &&
			  len >= 2 * comp_record_size(&e->p);
}

void comp_encoder__end(struct comp_encoder *e)
{
	if (e->lz4_borrowed)	/* the caller may reuse its buffer now */
		e->hist.len = LZ4_saveDict(e->l4, e->hist.buf, LZ4_HISTORY);
	e->lz4_in_place = e->lz4_borrowed = false;
}

static ssize_t zstd_compress_all(ZSTD_CCtx *zc, ZSTD_inBuffer *in, char *dst, size_t cap,
				 ZSTD_EndDirective how)
{
	ZSTD_outBuffer out = { dst, cap, 0 };
	size_t left;

	do {
		left = ZSTD_compressStream2(zc, &out, in, how);
		if (ZSTD_isError(left))
			return -EIO;
	} while (left && out.pos < out.size);
	return left ? -EOVERFLOW : (ssize_t)out.pos;
}

static ssize_t zstd_stream_encode(struct comp_encoder *e, const void *src, size_t n, char *dst,
				  size_t cap)
{
	struct zstd_frame *f = &e->frame;
	ZSTD_inBuffer in = { src, n, 0 };
	bool last;

	if (!f->buf)
		return zstd_compress_all(e->zc, &in, dst, cap, ZSTD_e_flush);
	/* zstd has consumed all of [0, len) and expects to be handed it again. */
	memcpy(f->buf + f->len, src, n);
	in = (ZSTD_inBuffer){ f->buf, f->len + n, f->len };
	f->len += n;
	last = f->len + comp_record_size(&e->p) > f->cap;
	if (last)
		f->len = 0;
	return zstd_compress_all(e->zc, &in, dst, cap, last ? ZSTD_e_end : ZSTD_e_flush);
}

/*
 * LZ4 stream: the input joins the history so the next record can refer to
 * it, either by a copy into the history or, for a call of several records,
 * in the caller's buffer where lz4 continues from one record to the next.
 */
static ssize_t lz4_stream_encode(struct comp_encoder *e, const void *src, size_t n, char *dst,
				 size_t cap)
{
	struct lz4_history *h = &e->hist;
	int ret;

	if (e->lz4_in_place) {
		e->lz4_borrowed = true;
		ret = LZ4_compress_fast_continue(e->l4, src, dst, n, cap, lz4_accel(e->p.level));
		return ret > 0 ? ret : -EIO;
	}
	/* saveDict moves the last 64 KiB to the front and tells the stream. */
	if (h->len + n > h->cap)
		h->len = LZ4_saveDict(e->l4, h->buf, LZ4_HISTORY);
	memcpy(h->buf + h->len, src, n);
	ret = LZ4_compress_fast_continue(e->l4, h->buf + h->len, dst, n, cap,
					 lz4_accel(e->p.level));
	h->len += n;
	return ret > 0 ? ret : -EIO;
}

static ssize_t encode_payload(struct comp_encoder *e, const void *src, size_t n, char *dst,
			      size_t cap)
{
	bool stream = e->p.mode == TCP_COMP_MODE_STREAM;
	size_t z;
	int l;

	if (e->p.algo == TCP_COMP_ALGO_ZSTD) {
		if (stream)
			return zstd_stream_encode(e, src, n, dst, cap);
		z = ZSTD_compress2(e->zc, dst, cap, src, n);
		return ZSTD_isError(z) ? -EIO : (ssize_t)z;
	}
	if (stream)
		return lz4_stream_encode(e, src, n, dst, cap);
	/*
	 * One independent block in the kept stream (no allocation), two ways.
	 * From LZ4_ONESHOT_MIN on, as LZ4_compress_fast() over a file makes it:
	 * extState clears its 16 KiB table (a memset, well under 1% of
	 * compressing a 128 KiB record) and runs lz4's no-dictionary loop; a
	 * fast reset followed by _continue() keeps the table but runs the
	 * prefix-mode loop, which checks every match against a low limit
	 * (bench/comp_engine_speed, 128 KiB records: engine/library 0.89-0.90
	 * that way, 0.99-1.03 this way, wire size equal to 0.1%).  Below it the
	 * one-shot call switches to a 16-bit table whose blocks are 3% larger
	 * and take 19% more instructions to decode (callgrind, 64 KiB text
	 * records), so short records keep the fast reset.  The _fastReset()
	 * variant of extState is static-only API that shared liblz4 builds do
	 * not export.
	 */
	if (n >= LZ4_ONESHOT_MIN) {
		l = LZ4_compress_fast_extState(e->l4, src, dst, n, cap, lz4_accel(e->p.level));
	} else {
		LZ4_resetStream_fast(e->l4);
		l = LZ4_compress_fast_continue(e->l4, src, dst, n, cap, lz4_accel(e->p.level));
	}
	return l > 0 ? l : -EIO;
}

/* zstd stream mode never sends raw: the context has already seen the data. */
static bool may_send_raw(const struct comp_encoder *e)
{
	return !(e->p.mode == TCP_COMP_MODE_STREAM && e->p.algo == TCP_COMP_ALGO_ZSTD);
}

/* Header bytes before the payload for a record of @p's format. */
static size_t header_len(const struct tcp_comp_params *p)
{
	if (p->version == TCP_COMP_VERSION_2)
		return TCP_COMP_REC_HDR_LEN + TCP_COMP_REC_XXH3_LEN;
	return TCP_COMP_REC_HDR_LEN + (p->flags & TCP_COMP_F_CHECKSUM ? TCP_COMP_REC_CSUM_LEN : 0);
}

/* Fills the header and the check field in front of the payload at @rec + hlen. */
static void seal_record(const struct comp_encoder *e, struct tcp_comp_rec_hdr *hdr, char *rec,
			const void *src, size_t n, size_t wire)
{
	char *check = rec + TCP_COMP_REC_HDR_LEN;

	if (e->p.mode == TCP_COMP_MODE_STREAM)
		hdr->flags |= TCP_COMP_REC_F_STREAM;
	if (e->p.version == TCP_COMP_VERSION_2)
		hdr->flags |= TCP_COMP_REC_F_XXH3;
	else if (e->p.flags & TCP_COMP_F_CHECKSUM)
		hdr->flags |= TCP_COMP_REC_F_CHECKSUM;
	hdr->orig_len = htonl(n);
	hdr->wire_len = htonl(wire);
	memcpy(rec, hdr, sizeof(*hdr));
	if (hdr->flags & TCP_COMP_REC_F_XXH3) {
		put_be64(check, comp_rec_xxh3(hdr, check + TCP_COMP_REC_XXH3_LEN));
	} else if (hdr->flags & TCP_COMP_REC_F_CHECKSUM) {
		uint32_t sum = htonl(XXH32(src, n, 0));

		memcpy(check, &sum, sizeof(sum));
	}
}

ssize_t comp_encoder__record(struct comp_encoder *e, const void *src, size_t n, char *dst,
			     struct tcp_comp_stats *st)
{
	struct tcp_comp_rec_hdr hdr = { .magic = TCP_COMP_REC_MAGIC, .type = TCP_COMP_REC_DATA };
	size_t hlen = header_len(&e->p);
	ssize_t wire = encode_payload(e, src, n, dst + hlen, comp_encoder__max_record(e) - hlen);

	if (wire < 0)
		return wire;
	hdr.algo = e->p.algo;
	if ((size_t)wire >= n && may_send_raw(e)) {
		memcpy(dst + hlen, src, n);
		wire = n;
		hdr.algo = TCP_COMP_ALGO_NONE;
		hdr.flags |= TCP_COMP_REC_F_RAW;
		st->tx_raw_records++;
	}
	seal_record(e, &hdr, dst, src, n, wire);
	st->tx_bytes_in += n;
	st->tx_bytes_out += hlen + wire;
	st->tx_records++;
	return hlen + wire;
}

/* ---- decoder ----------------------------------------------------------- */

/* lz4's decoder reads its dictionary from where it is now: the history's tail. */
static void lz4_point_at_history(struct comp_decoder *d)
{
	struct lz4_history *h = &d->hist;
	size_t dict = h->len < LZ4_HISTORY ? h->len : LZ4_HISTORY;

	LZ4_setStreamDecode(&d->l4d, h->buf + h->len - dict, dict);
	d->lz4_at_history = true;
}

int comp_decoder__init(struct comp_decoder *d, const struct tcp_comp_params *p)
{
	memset(d, 0, sizeof(*d));
	d->p = *p;
	if (p->algo == TCP_COMP_ALGO_ZSTD) {
		d->zd = ZSTD_createDCtx();
		if (!d->zd)
			return -ENOMEM;
		ZSTD_DCtx_setParameter(d->zd, ZSTD_d_windowLogMax, TCP_COMP_ZSTD_WINDOWLOG_MAX);
		return p->mode == TCP_COMP_MODE_STREAM ? comp_zstd_zc__init(&d->zc, d->zd) : 0;
	}
	/* d->l4d zeroed is lz4's empty dictionary (LZ4_createStreamDecode's calloc). */
	return history_init(&d->hist, TCP_COMP_DEFAULT_RECORD);
}

void comp_decoder__fini(struct comp_decoder *d)
{
	ZSTD_freeDCtx(d->zd);
	comp_zstd_zc__fini(&d->zc);
	free(d->hist.buf);
	free(d->out);
}

static int bad(struct comp_decoder *d, const char *why)
{
	d->why = why;
	return -EBADMSG;
}

/* NULL when the header at @p is acceptable, else why not. */
static const char *header_problem(const struct comp_decoder *d, const char *p, struct comp_rec *r)
{
	bool format2 = d->p.version == TCP_COMP_VERSION_2;

	memcpy(&r->h, p, sizeof(r->h));
	r->orig = ntohl(r->h.orig_len);
	r->wire = ntohl(r->h.wire_len);
	r->hlen = TCP_COMP_REC_HDR_LEN +
		  (r->h.flags & TCP_COMP_REC_F_CHECKSUM ? TCP_COMP_REC_CSUM_LEN : 0) +
		  (r->h.flags & TCP_COMP_REC_F_XXH3 ? TCP_COMP_REC_XXH3_LEN : 0);
	if (r->h.magic != TCP_COMP_REC_MAGIC || r->h.type != TCP_COMP_REC_DATA)
		return "bad magic or type";
	if (r->h.flags & ~(format2 ? TCP_COMP_REC_F_KNOWN_2 : TCP_COMP_REC_F_KNOWN))
		return "unknown flags";
	/* Format 2 checks every record: a header without its check (a flag
	 * flipped on the way) is as wrong as a payload that fails it. */
	if (format2 && !(r->h.flags & TCP_COMP_REC_F_XXH3))
		return "format 2 record without its XXH3 check";
	if (!r->orig || r->orig > TCP_COMP_MAX_RECORD || !r->wire || r->wire > TCP_COMP_MAX_WIRE)
		return "length out of bounds";
	if (!!(r->h.flags & TCP_COMP_REC_F_RAW) != (r->h.algo == TCP_COMP_ALGO_NONE))
		return "raw flag and algorithm disagree";
	if ((r->h.flags & TCP_COMP_REC_F_RAW) && r->wire != r->orig)
		return "raw record with wire_len != orig_len";
	if (r->h.algo != TCP_COMP_ALGO_NONE && r->h.algo != d->p.algo)
		return "algorithm not negotiated";
	/* Block records would reset a zstd stream context: modes never mix. */
	if (!!(r->h.flags & TCP_COMP_REC_F_STREAM) != (d->p.mode == TCP_COMP_MODE_STREAM))
		return "mode not negotiated";
	return NULL;
}

/* comp_decoder__peek(), saying why a header is bad in *why. */
static int peek(const struct comp_decoder *d, const char *in, size_t avail, struct comp_rec *r,
		size_t *need, const char **why)
{
	*need = TCP_COMP_REC_HDR_LEN;
	if (avail < TCP_COMP_REC_HDR_LEN)
		return 0;
	*why = header_problem(d, in, r);
	if (*why)
		return -EBADMSG;
	*need = r->hlen + r->wire;
	if (avail < *need)
		return 0;
	if (r->h.flags & TCP_COMP_REC_F_XXH3) {
		r->check = get_be64(in + TCP_COMP_REC_HDR_LEN);
	} else if (r->h.flags & TCP_COMP_REC_F_CHECKSUM) {
		uint32_t sum;

		memcpy(&sum, in + TCP_COMP_REC_HDR_LEN, sizeof(sum));
		r->check = ntohl(sum);
	}
	r->payload = in + r->hlen;
	return 1;
}

int comp_decoder__peek(const struct comp_decoder *d, const char *in, size_t avail,
		       struct comp_rec *r, size_t *need)
{
	const char *why;

	return peek(d, in, avail, r, need, &why);
}

static int zstd_stream_decode(struct comp_decoder *d, const struct comp_rec *r, char *dst)
{
	ZSTD_outBuffer out = { dst, r->orig, 0 };
	ZSTD_inBuffer in = { r->payload, r->wire, 0 };
	char extra;

	while (in.pos < in.size || out.pos < out.size) {
		size_t before_in = in.pos, before_out = out.pos;
		size_t ret = ZSTD_decompressStream(d->zd, &out, &in);

		if (ZSTD_isError(ret))
			return bad(d, ZSTD_getErrorName(ret));
		if (in.pos == before_in && out.pos == before_out)
			return bad(d, "zstd record does not decode to orig_len bytes");
	}
	/* Data beyond orig_len would otherwise wait inside the context. */
	out = (ZSTD_outBuffer){ &extra, 1, 0 };
	in = (ZSTD_inBuffer){ NULL, 0, 0 };
	if (ZSTD_isError(ZSTD_decompressStream(d->zd, &out, &in)) || out.pos)
		return bad(d, "zstd record longer than orig_len");
	return 0;
}

/* zstd stream: in place where comp_zstd_zc.c can, else zstd's own ring. */
static int zstd_stream_record(struct comp_decoder *d, const struct comp_rec *r, char *dst)
{
	const char *why = NULL;
	int err;

	if (!d->zc.streaming) {
		err = comp_zstd_zc__record(&d->zc, r, dst, &why);
		if (err != -EAGAIN)
			return err == -EBADMSG ? bad(d, why) : err;
		comp_zstd_zc__fini(&d->zc);	/* zstd's own ring from now on */
		d->zc.streaming = true;
		ZSTD_DCtx_reset(d->zd, ZSTD_reset_session_only);
	}
	return zstd_stream_decode(d, r, dst);
}

/*
 * Before the records of one call (@avail input bytes at @in, @len bytes of
 * room): how many leading output bytes go straight to the caller
 * (comp_zstd_zc.c).  Reads the headers of the records that will fit.
 */
static void zstd_zc_plan(struct comp_decoder *d, const char *in, size_t avail, size_t len)
{
	struct zstd_zc *z = &d->zc;
	size_t w = z->in_frame ? z->window : 0, total = 0, off = 0, direct = 0, need, fw;
	const char *why;
	struct comp_rec r;

	z->direct = 0;
	if (z->streaming || !comp_zstd_zc__history_ok(z))
		return;
	while (peek(d, in + off, avail - off, &r, &need, &why) > 0 && r.orig <= len - total) {
		if (r.h.flags & TCP_COMP_REC_F_RAW)
			return;		/* not zstd's output: would split its segment */
		fw = comp_zstd_zc__frame_window(r.payload, r.wire);
		w = fw > w ? fw : w;
		total += r.orig;
		off += r.hlen + r.wire;
	}
	if (!w || w > ZSTD_ZC_WINDOW_MAX || total < 2 * w)
		return;
	for (off = 0; peek(d, in + off, avail - off, &r, &need, &why) > 0 &&
		      direct + r.orig <= total - w; off += r.hlen + r.wire)
		direct += r.orig;
	if (direct >= w)
		z->direct = direct;
}

/*
 * LZ4 stream: decodes at @dst with the dictionary d->l4d points at, which
 * continues into @dst when @dst directly follows the previous record.  A raw
 * record's bytes are history too, but lz4 was not told: the caller points
 * the decoder at them (lz4_point_at_history) before the next record.
 */
static int lz4_stream_decode(struct comp_decoder *d, const struct comp_rec *r, char *dst)
{
	int n;

	if (r->h.flags & TCP_COMP_REC_F_RAW) {
		memcpy(dst, r->payload, r->orig);
		return 0;
	}
	n = LZ4_decompress_safe_continue(&d->l4d, r->payload, dst, r->wire, r->orig);
	if (n < 0 || (uint32_t)n != r->orig)
		return bad(d, "lz4 record does not decode to orig_len bytes");
	d->lz4_at_history = false;	/* lz4 continues from @dst now */
	return 0;
}

/* Decodes into @dst, which has room for orig_len bytes. */
static int decode_payload(struct comp_decoder *d, const struct comp_rec *r, char *dst)
{
	bool stream = r->h.flags & TCP_COMP_REC_F_STREAM;
	size_t z;
	int n;

	if (stream && d->p.algo == TCP_COMP_ALGO_LZ4)
		return lz4_stream_decode(d, r, dst);
	if (r->h.flags & TCP_COMP_REC_F_RAW) {
		memcpy(dst, r->payload, r->orig);
		return 0;
	}
	if (stream)
		return zstd_stream_record(d, r, dst);
	if (r->h.algo == TCP_COMP_ALGO_ZSTD) {
		z = ZSTD_decompressDCtx(d->zd, dst, r->orig, r->payload, r->wire);
		if (ZSTD_isError(z) || z != r->orig)
			return bad(d, "zstd block does not decode to orig_len bytes");
		return 0;
	}
	n = LZ4_decompress_safe(r->payload, dst, r->wire, r->orig);
	if (n < 0 || (uint32_t)n != r->orig)
		return bad(d, "lz4 block does not decode to orig_len bytes");
	return 0;
}

/*
 * Decodes @r into @dst (room for orig_len) and checks it; the caller
 * consumes it.  A record that fails its check is an error whatever it
 * decoded to, and nothing of it is returned.  The XXH3 check runs after the
 * decoder: the decoder's reads of the payload overlap with its work and
 * leave the payload in cache for the hash, where a hash first would wait
 * for it alone (lz4 stream, 32 MiB of text: 10% of the decoding time
 * before, within noise after).  Both decoders are bounded by orig_len and
 * safe on any input.
 */
static int decode_record(struct comp_decoder *d, const struct comp_rec *r, char *dst,
			 struct tcp_comp_stats *st)
{
	int err = decode_payload(d, r, dst);

	if ((r->h.flags & TCP_COMP_REC_F_XXH3) && comp_rec_xxh3(&r->h, r->payload) != r->check)
		err = bad(d, "XXH3 check mismatch");
	if (!err && (r->h.flags & TCP_COMP_REC_F_CHECKSUM) && XXH32(dst, r->orig, 0) != r->check)
		err = bad(d, "checksum mismatch");
	if (err)
		return err;
	st->rx_records++;
	st->rx_bytes_out += r->orig;
	return 0;
}

static bool lz4_stream(const struct comp_decoder *d)
{
	return d->p.algo == TCP_COMP_ALGO_LZ4 && d->p.mode == TCP_COMP_MODE_STREAM;
}

/* Whether @r, next, is better decoded after the history than at its place. */
static bool lz4_after_history(const struct comp_decoder *d, const struct comp_rec *r)
{
	return lz4_stream(d) && d->lz4_at_history && !(r->h.flags & TCP_COMP_REC_F_RAW) &&
	       r->orig >= LZ4_HISTORY;
}

/*
 * An lz4 stream record whose dictionary is the history kept aside (the first
 * of a call): decoded right after the history, where lz4 continues its
 * prefix, and copied to @dst, where the next record continues from it (its
 * 64 KiB).  The history then ends with it: a call of this record alone
 * copies nothing more at its end (the next one moves the history's last
 * 64 KiB to the front of its buffer when the record would not fit after it).
 * At @dst directly, against the history elsewhere, lz4 would run its extDict
 * mode, which copies every match reaching into the dictionary with a
 * memmove() call (bench/comp_lz4_floor, 128 KiB records read 1 MiB at a
 * time: those first records alone 0.83-0.86x of one call, the history
 * copies alone 0.88-0.90x).  Paired against the extDict way, loaded: 2-6 %
 * faster by chunk bests with 128 KiB reads (a record each), less at 1 MiB;
 * within the noise by the rounds' medians (docs/compression.md, session 9).
 */
static int decode_after_history(struct comp_decoder *d, const struct comp_rec *r, char *dst,
				struct tcp_comp_stats *st)
{
	struct lz4_history *h = &d->hist;
	int err = history_make_room(h, r->orig);

	if (err)
		return err;
	lz4_point_at_history(d);	/* the room may have moved it */
	err = decode_record(d, r, h->buf + h->len, st);
	if (err)
		return err;
	memcpy(dst, h->buf + h->len, r->orig);
	h->len += r->orig;
	LZ4_setStreamDecode(&d->l4d, dst, r->orig);
	return 0;
}

/*
 * The last 64 KiB of lz4 stream output must outlive the caller's buffer:
 * @n bytes just decoded at @src join the history, once per call rather than
 * once per record.
 */
static int lz4_keep_history(struct comp_decoder *d, const char *src, size_t n)
{
	struct lz4_history *h = &d->hist;

	if (n >= LZ4_HISTORY) {
		memcpy(h->buf, src + n - LZ4_HISTORY, LZ4_HISTORY);
		h->len = LZ4_HISTORY;
	} else if (n) {
		if (history_make_room(h, n))
			return -ENOMEM;
		memcpy(h->buf + h->len, src, n);
		h->len += n;
	}
	lz4_point_at_history(d);
	return 0;
}

int comp_grow(char **buf, size_t *cap, size_t need)
{
	char *bigger;

	if (need <= *cap)
		return 0;
	bigger = realloc(*buf, need);
	if (!bigger)
		return -ENOMEM;
	*buf = bigger;
	*cap = need;
	return 0;
}

/* A record larger than the caller's buffer: decoded aside, returned in parts. */
static int decode_aside(struct comp_decoder *d, const struct comp_rec *r,
			struct tcp_comp_stats *st)
{
	struct lz4_history *h = &d->hist;
	char *dst;
	int err;

	if (lz4_stream(d)) {
		/* Decoded at the history's end, where it continues the dictionary. */
		err = history_make_room(h, r->orig);
		if (err)
			return err;
		lz4_point_at_history(d);
		dst = h->buf + h->len;
	} else {
		err = comp_grow(&d->out, &d->out_cap, r->orig);
		if (err)
			return err;
		dst = d->out;
	}
	err = decode_record(d, r, dst, st);
	if (err)
		return err;
	if (lz4_stream(d)) {
		h->len += r->orig;
		lz4_point_at_history(d);
	}
	d->pend = dst;
	d->opos = 0;
	d->olen = r->orig;
	return 0;
}

bool comp_decoder__pending(const struct comp_decoder *d)
{
	return d->opos < d->olen;
}

size_t comp_decoder__copy_out(struct comp_decoder *d, void *buf, size_t len)
{
	size_t n = d->olen - d->opos < len ? d->olen - d->opos : len;

	memcpy(buf, d->pend + d->opos, n);
	d->opos += n;
	return n;
}

ssize_t comp_decoder__decode(struct comp_decoder *d, const char *in, size_t avail, size_t *used,
			     char *buf, size_t len, struct tcp_comp_stats *st)
{
	size_t done = 0, run = 0;	/* run: lz4 stream bytes not in the history yet */
	bool after_history;
	struct comp_rec r;
	const char *why = NULL;
	size_t need;
	int ret;

	*used = 0;
	if (d->err)
		return d->err;
	if (d->zd && d->p.mode == TCP_COMP_MODE_STREAM)
		zstd_zc_plan(d, in, avail, len);
	while ((ret = peek(d, in + *used, avail - *used, &r, &need, &why)) > 0) {
		if (r.orig > len - done) {
			if (done)	/* for the next call */
				break;
			ret = decode_aside(d, &r, st);
			*used += r.hlen + r.wire;
			if (!ret)
				done = comp_decoder__copy_out(d, buf, len);
			break;
		}
		after_history = lz4_after_history(d, &r);
		ret = after_history ? decode_after_history(d, &r, buf + done, st)
				    : decode_record(d, &r, buf + done, st);
		*used += r.hlen + r.wire;
		if (ret)
			break;
		done += r.orig;
		/* A record decoded after the history is in it already. */
		run = after_history ? 0 : run + r.orig;
		if ((r.h.flags & TCP_COMP_REC_F_RAW) && lz4_stream(d)) {
			ret = lz4_keep_history(d, buf + done - run, run);
			run = 0;
			if (ret)
				break;
		}
	}
	if (ret == -EBADMSG && !d->why)		/* from peek(): the header */
		d->why = why;
	/* lz4 must not refer to the caller's buffer once the call returns. */
	if (lz4_stream(d) && ret >= 0 && done && !d->lz4_at_history)
		ret = lz4_keep_history(d, buf + done - run, run);
	if (ret < 0) {
		st->rx_errors++;
		d->err = ret;
	}
	return done ? (ssize_t)done : ret < 0 ? ret : 0;
}
