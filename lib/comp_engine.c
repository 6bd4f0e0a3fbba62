// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Compressed connection over a TCP socket: the tcp_comp kernel ULP when it
 * loads, else the same record format (include/ebpfaccel/uapi.h) in user
 * space with libzstd / liblz4.
 *
 * Memory per direction is bounded by TCP_COMP_MAX_RECORD / TCP_COMP_MAX_WIRE
 * whatever the peer sends: a record claiming more is refused before anything
 * is allocated for it, and decoders are given exactly orig_len bytes of room.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <lz4.h>
#include <xxhash.h>
#define ZSTD_STATIC_LINKING_ONLY	/* ZSTD_c_stableInBuffer, stable since 1.4.6 */
#include <zstd.h>

#include "internal.h"
#include "ebpfaccel/ebpfaccel.h"

#define REC_HDR_MAX	(TCP_COMP_REC_HDR_LEN + TCP_COMP_REC_XXH3_LEN)
#define LZ4_HISTORY	(64U * 1024)
/* zstd stream mode keeps a frame's input itself (see zstd_frame_init) when
 * the level's window is at most ZSTD_FRAME_WINDOWLOG_MAX: frames of
 * ZSTD_FRAME_BYTES, four windows at level 1, which costs 0.3% of ratio at
 * each frame's cold start against 30% more instructions for zstd's own
 * ring buffer. */
#define ZSTD_FRAME_BYTES	(2U << 20)
#define ZSTD_FRAME_WINDOWLOG_MAX 20

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

struct comp_tx {
	struct tcp_comp_params p;
	ZSTD_CCtx *zc;
	struct zstd_frame frame;	/* stream mode, fast levels */
	LZ4_stream_t *l4;	/* block mode too: reset cheaply per record */
	struct lz4_history hist;
	bool lz4_in_place;	/* lz4 stream: this send() compresses from its buffer */
	bool lz4_borrowed;	/* ... and lz4's dictionary is in that buffer now */
	char *buf;		/* one encoded record waiting for the socket */
	size_t cap, pos, len;
};

struct comp_rx {
	struct tcp_comp_params p;
	ZSTD_DCtx *zd;
	struct lz4_history hist;	/* lz4 stream: the last 64 KiB decoded, and more */
	LZ4_streamDecode_t l4d;		/* where lz4's dictionary is right now */
	char *buf;		/* received bytes: [start, end) */
	size_t cap, start, end;
	char *out;		/* a decoded record larger than the caller's buffer */
	size_t out_cap;
	const char *pend;	/* decoded bytes not yet returned: [opos, olen), in out or hist */
	size_t opos, olen;
	bool eof;
};

struct ebpfaccel_comp_conn {
	int fd;
	bool kernel;
	int err;		/* sticky connection error (-errno) */
	struct comp_tx tx;
	struct comp_rx rx;
	struct tcp_comp_stats stats;
};

static bool dir_on(const struct tcp_comp_params *p)
{
	return p->algo != TCP_COMP_ALGO_NONE;
}

static int params_valid(const struct tcp_comp_params *p)
{
	if (dir_on(p) && p->version != TCP_COMP_VERSION_1 && p->version != TCP_COMP_VERSION_2)
		return false;
	return p->algo < __TCP_COMP_ALGO_MAX && p->mode < __TCP_COMP_MODE_MAX &&
	       p->record_size <= TCP_COMP_MAX_RECORD && !(p->flags & ~TCP_COMP_F_CHECKSUM);
}

/* x86 builds of the shared libxxhash choose SSE2, AVX2 or AVX-512 at run time
 * in their *_dispatch entry points (4x the SSE2 speed on an AVX-512 machine);
 * other builds (static archives, other architectures) lack them. */
XXH64_hash_t XXH3_64bits_withSeed_dispatch(const void *input, size_t len, XXH64_hash_t seed)
	__attribute__((weak));

/* Format 2 checks every record: XXH3 of the payload, seeded with the header
 * (include/ebpfaccel/uapi.h).  The payload is what travels, so the check
 * costs a fraction of the original bytes and runs before any decoder. */
static uint64_t rec_xxh3(const struct tcp_comp_rec_hdr *h, const void *payload)
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

static size_t record_size(const struct tcp_comp_params *p)
{
	return p->record_size ? p->record_size : TCP_COMP_DEFAULT_RECORD;
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

/* Makes @buf hold at least @need bytes (content kept). */
static int grow(char **buf, size_t *cap, size_t need)
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

static int lz4_accel(int level)
{
	return level < 0 ? -level : 1;
}

/* ---- transmit ---------------------------------------------------------- */

/*
 * For an input of one record zstd picks a smaller hash table and a shorter
 * minimum match than for a stream or a file.  The fast strategies' stream
 * values (level 1: minMatch 7, hashLog 14, as `zstd -b1` uses on a file) cost
 * 4% fewer instructions to compress 64 KiB text records and 7% fewer to
 * decode them, for 0.7% more bytes on the wire.
 */
static void zstd_block_params(struct comp_tx *tx)
{
	ZSTD_compressionParameters cp = ZSTD_getCParams(tx->p.level, 0, 0);

	if (cp.strategy > ZSTD_dfast)
		return;
	ZSTD_CCtx_setParameter(tx->zc, ZSTD_c_minMatch, cp.minMatch);
	ZSTD_CCtx_setParameter(tx->zc, ZSTD_c_hashLog, cp.hashLog);
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
static int zstd_frame_init(struct comp_tx *tx)
{
	ZSTD_compressionParameters cp = ZSTD_getCParams(tx->p.level, 0, 0);

	/* Slow levels: zstd's own buffer, no frame of several windows here.
	 * Growing a stable buffer's size is allowed from 1.5.4 on (tested). */
	if (tx->p.level > 19 || cp.windowLog > ZSTD_FRAME_WINDOWLOG_MAX ||
	    ZSTD_versionNumber() < 10504)
		return 0;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(tx->zc, ZSTD_c_stableInBuffer, 1)))
		return 0;
	tx->frame.cap = ZSTD_FRAME_BYTES;
	tx->frame.buf = malloc(tx->frame.cap);
	return tx->frame.buf ? 0 : -ENOMEM;
}

static int tx_init(struct comp_tx *tx)
{
	size_t rec = record_size(&tx->p);

	if (!dir_on(&tx->p))
		return 0;
	tx->cap = REC_HDR_MAX + (tx->p.algo == TCP_COMP_ALGO_ZSTD ? ZSTD_compressBound(rec) + 64
								   : (size_t)LZ4_compressBound(rec));
	tx->buf = malloc(tx->cap);
	if (!tx->buf)
		return -ENOMEM;
	if (tx->p.algo == TCP_COMP_ALGO_ZSTD) {
		tx->zc = ZSTD_createCCtx();
		if (!tx->zc)
			return -ENOMEM;
		ZSTD_CCtx_setParameter(tx->zc, ZSTD_c_compressionLevel, tx->p.level);
		if (tx->p.level > 19)
			ZSTD_CCtx_setParameter(tx->zc, ZSTD_c_windowLog, TCP_COMP_ZSTD_WINDOWLOG_MAX);
		if (tx->p.mode == TCP_COMP_MODE_STREAM)
			return zstd_frame_init(tx);
		zstd_block_params(tx);
		return 0;
	}
	tx->l4 = LZ4_createStream();
	if (!tx->l4)
		return -ENOMEM;
	if (tx->p.mode != TCP_COMP_MODE_STREAM)
		return 0;
	return history_init(&tx->hist, rec);
}

static void tx_fini(struct comp_tx *tx)
{
	ZSTD_freeCCtx(tx->zc);
	free(tx->frame.buf);
	LZ4_freeStream(tx->l4);
	free(tx->hist.buf);
	free(tx->buf);
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

static ssize_t zstd_stream_encode(struct comp_tx *tx, const void *src, size_t n, char *dst,
				  size_t cap)
{
	struct zstd_frame *f = &tx->frame;
	ZSTD_inBuffer in = { src, n, 0 };
	bool last;

	if (!f->buf)
		return zstd_compress_all(tx->zc, &in, dst, cap, ZSTD_e_flush);
	/* zstd has consumed all of [0, len) and expects to be handed it again. */
	memcpy(f->buf + f->len, src, n);
	in = (ZSTD_inBuffer){ f->buf, f->len + n, f->len };
	f->len += n;
	last = f->len + record_size(&tx->p) > f->cap;
	if (last)
		f->len = 0;
	return zstd_compress_all(tx->zc, &in, dst, cap, last ? ZSTD_e_end : ZSTD_e_flush);
}

/*
 * LZ4 stream: the input joins the history so the next record can refer to
 * it, either by a copy into the history or, for a send() of several records,
 * in the caller's buffer where lz4 continues from one record to the next.
 */
static ssize_t lz4_stream_encode(struct comp_tx *tx, const void *src, size_t n, char *dst,
				 size_t cap)
{
	struct lz4_history *h = &tx->hist;
	int ret;

	if (tx->lz4_in_place) {
		tx->lz4_borrowed = true;
		ret = LZ4_compress_fast_continue(tx->l4, src, dst, n, cap, lz4_accel(tx->p.level));
		return ret > 0 ? ret : -EIO;
	}
	/* saveDict moves the last 64 KiB to the front and tells the stream. */
	if (h->len + n > h->cap)
		h->len = LZ4_saveDict(tx->l4, h->buf, LZ4_HISTORY);
	memcpy(h->buf + h->len, src, n);
	ret = LZ4_compress_fast_continue(tx->l4, h->buf + h->len, dst, n, cap,
					 lz4_accel(tx->p.level));
	h->len += n;
	return ret > 0 ? ret : -EIO;
}

static ssize_t encode_payload(struct comp_tx *tx, const void *src, size_t n, char *dst, size_t cap)
{
	bool stream = tx->p.mode == TCP_COMP_MODE_STREAM;
	size_t z;
	int l;

	if (tx->p.algo == TCP_COMP_ALGO_ZSTD) {
		if (stream)
			return zstd_stream_encode(tx, src, n, dst, cap);
		z = ZSTD_compress2(tx->zc, dst, cap, src, n);
		return ZSTD_isError(z) ? -EIO : (ssize_t)z;
	}
	if (stream)
		return lz4_stream_encode(tx, src, n, dst, cap);
	/*
	 * LZ4_compress_fast() would clear a 16 KiB table per record; a fast
	 * reset of a kept stream with no dictionary gives the same block.
	 * Measured (callgrind, 64 KiB text records): the one-shot call's 16-bit
	 * table for inputs under 64 KiB + 11 takes 15% fewer instructions to
	 * compress, but its blocks are 3% larger and take 19% more to decode.
	 */
	LZ4_resetStream_fast(tx->l4);
	l = LZ4_compress_fast_continue(tx->l4, src, dst, n, cap, lz4_accel(tx->p.level));
	return l > 0 ? l : -EIO;
}

/* zstd stream mode never sends raw: the context has already seen the data. */
static bool may_send_raw(const struct comp_tx *tx)
{
	return !(tx->p.mode == TCP_COMP_MODE_STREAM && tx->p.algo == TCP_COMP_ALGO_ZSTD);
}

/* Header bytes before the payload for a record of @p's format. */
static size_t tx_header_len(const struct tcp_comp_params *p)
{
	if (p->version == TCP_COMP_VERSION_2)
		return TCP_COMP_REC_HDR_LEN + TCP_COMP_REC_XXH3_LEN;
	return TCP_COMP_REC_HDR_LEN + (p->flags & TCP_COMP_F_CHECKSUM ? TCP_COMP_REC_CSUM_LEN : 0);
}

/* Fills the header and the check field in front of the payload at tx->buf + hlen. */
static void seal_record(struct comp_tx *tx, struct tcp_comp_rec_hdr *hdr, const void *src,
			size_t n, size_t wire)
{
	char *check = tx->buf + TCP_COMP_REC_HDR_LEN;

	if (tx->p.mode == TCP_COMP_MODE_STREAM)
		hdr->flags |= TCP_COMP_REC_F_STREAM;
	if (tx->p.version == TCP_COMP_VERSION_2)
		hdr->flags |= TCP_COMP_REC_F_XXH3;
	else if (tx->p.flags & TCP_COMP_F_CHECKSUM)
		hdr->flags |= TCP_COMP_REC_F_CHECKSUM;
	hdr->orig_len = htonl(n);
	hdr->wire_len = htonl(wire);
	memcpy(tx->buf, hdr, sizeof(*hdr));
	if (hdr->flags & TCP_COMP_REC_F_XXH3) {
		put_be64(check, rec_xxh3(hdr, check + TCP_COMP_REC_XXH3_LEN));
	} else if (hdr->flags & TCP_COMP_REC_F_CHECKSUM) {
		uint32_t sum = htonl(XXH32(src, n, 0));

		memcpy(check, &sum, sizeof(sum));
	}
}

static int encode_record(struct ebpfaccel_comp_conn *c, const void *src, size_t n)
{
	struct comp_tx *tx = &c->tx;
	size_t hlen = tx_header_len(&tx->p);
	struct tcp_comp_rec_hdr hdr = { .magic = TCP_COMP_REC_MAGIC, .type = TCP_COMP_REC_DATA };
	ssize_t wire = encode_payload(tx, src, n, tx->buf + hlen, tx->cap - hlen);

	if (wire < 0) {
		pr_warn("comp: encoding a %zu byte record failed\n", n);
		return wire;
	}
	hdr.algo = tx->p.algo;
	if ((size_t)wire >= n && may_send_raw(tx)) {
		memcpy(tx->buf + hlen, src, n);
		wire = n;
		hdr.algo = TCP_COMP_ALGO_NONE;
		hdr.flags |= TCP_COMP_REC_F_RAW;
		c->stats.tx_raw_records++;
	}
	seal_record(tx, &hdr, src, n, wire);
	tx->pos = 0;
	tx->len = hlen + wire;
	c->stats.tx_bytes_in += n;
	c->stats.tx_bytes_out += tx->len;
	c->stats.tx_records++;
	return 0;
}

static int fail(struct ebpfaccel_comp_conn *c, int err)
{
	if (err != -EAGAIN)
		c->err = err;
	return err;
}

EBPFACCEL_API int ebpfaccel_comp_conn__flush(struct ebpfaccel_comp_conn *c)
{
	struct comp_tx *tx;

	if (!c)
		return -EINVAL;
	if (c->err)
		return c->err;
	tx = &c->tx;
	while (tx->pos < tx->len) {
		ssize_t n = send(c->fd, tx->buf + tx->pos, tx->len - tx->pos, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(c, -errno);
		tx->pos += n;
	}
	tx->pos = tx->len = 0;
	return 0;
}

static ssize_t send_plain(struct ebpfaccel_comp_conn *c, const void *buf, size_t len)
{
	ssize_t n;

	do {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	c->stats.tx_bytes_in += n;
	c->stats.tx_bytes_out += n;
	return n;
}

static ssize_t send_records(struct ebpfaccel_comp_conn *c, const char *buf, size_t len)
{
	size_t done = 0, rec = record_size(&c->tx.p);
	int err;

	while (done < len) {
		size_t n = len - done < rec ? len - done : rec;

		err = encode_record(c, buf + done, n);
		if (err)
			return fail(c, err);
		done += n;
		err = ebpfaccel_comp_conn__flush(c);
		if (err == -EAGAIN)
			break;
		if (err)
			return err;
	}
	return done;
}

EBPFACCEL_API ssize_t ebpfaccel_comp_conn__send(struct ebpfaccel_comp_conn *c, const void *buf,
						size_t len)
{
	struct comp_tx *tx;
	ssize_t ret;
	int err;

	if (!c || (!buf && len))
		return -EINVAL;
	if (c->err)
		return c->err;
	if (c->kernel || !dir_on(&c->tx.p))
		return send_plain(c, buf, len);
	err = ebpfaccel_comp_conn__flush(c);
	if (err)
		return err;
	tx = &c->tx;
	/* Copying into the history costs two copies per byte (in, and the
	 * move when it fills); in place, one 64 KiB copy per call. */
	tx->lz4_in_place = tx->l4 && tx->p.mode == TCP_COMP_MODE_STREAM &&
			   len >= 2 * record_size(&tx->p);
	ret = send_records(c, buf, len);
	if (tx->lz4_borrowed)	/* the caller may reuse its buffer now */
		tx->hist.len = LZ4_saveDict(tx->l4, tx->hist.buf, LZ4_HISTORY);
	tx->lz4_in_place = tx->lz4_borrowed = false;
	return ret;
}

EBPFACCEL_API ssize_t ebpfaccel_comp_conn__sendfile(struct ebpfaccel_comp_conn *c, int in_fd,
						    off_t *offset, size_t count)
{
	size_t done = 0, chunk;
	char *buf;

	if (!c || in_fd < 0)
		return -EINVAL;
	if (c->err)
		return c->err;
	if (c->kernel || !dir_on(&c->tx.p)) {
		ssize_t n = sendfile(c->fd, in_fd, offset, count);

		if (n < 0)
			return -errno;
		c->stats.tx_bytes_in += n;
		c->stats.tx_bytes_out += n;
		return n;
	}
	chunk = record_size(&c->tx.p);
	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	while (done < count) {
		size_t want = count - done < chunk ? count - done : chunk;
		ssize_t got = offset ? pread(in_fd, buf, want, *offset) : read(in_fd, buf, want);
		ssize_t sent;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got < 0 && !done)
				done = -errno;
			break;
		}
		/* One chunk is one record: send() takes all of it or nothing. */
		sent = ebpfaccel_comp_conn__send(c, buf, got);
		if (sent < 0) {
			if (!done)
				done = sent;
			if (!offset)
				lseek(in_fd, -got, SEEK_CUR);
			break;
		}
		if (offset)
			*offset += sent;
		done += sent;
		if (c->tx.len)
			break;
	}
	free(buf);
	return done;
}

/* ---- receive ----------------------------------------------------------- */

/* lz4's decoder reads its dictionary from where it is now: the history's tail. */
static void lz4_point_at_history(struct comp_rx *rx)
{
	struct lz4_history *h = &rx->hist;
	size_t dict = h->len < LZ4_HISTORY ? h->len : LZ4_HISTORY;

	LZ4_setStreamDecode(&rx->l4d, h->buf + h->len - dict, dict);
}

static int rx_init(struct comp_rx *rx)
{
	int err;

	if (!dir_on(&rx->p))
		return 0;
	/* Sized for default records with read-ahead; grows (up to the
	 * TCP_COMP_MAX_* bounds) only when the peer sends larger ones. */
	rx->cap = 2 * (REC_HDR_MAX + TCP_COMP_DEFAULT_RECORD + TCP_COMP_DEFAULT_RECORD / 128);
	rx->buf = malloc(rx->cap);
	if (!rx->buf)
		return -ENOMEM;
	if (rx->p.algo == TCP_COMP_ALGO_ZSTD) {
		rx->zd = ZSTD_createDCtx();
		if (!rx->zd)
			return -ENOMEM;
		ZSTD_DCtx_setParameter(rx->zd, ZSTD_d_windowLogMax, TCP_COMP_ZSTD_WINDOWLOG_MAX);
		return 0;
	}
	err = history_init(&rx->hist, TCP_COMP_DEFAULT_RECORD);
	if (!err)
		lz4_point_at_history(rx);
	return err;
}

static void rx_fini(struct comp_rx *rx)
{
	ZSTD_freeDCtx(rx->zd);
	free(rx->hist.buf);
	free(rx->buf);
	free(rx->out);
}

struct rec {
	struct tcp_comp_rec_hdr h;
	uint32_t orig, wire;
	uint64_t check;		/* XXH3 (format 2) or XXH32 (format 1, F_CHECKSUM) */
	size_t hlen;
	const char *payload;
};

static int bad(const char *why)
{
	pr_warn("comp: rejecting record: %s\n", why);
	return -EBADMSG;
}

/* NULL when the header is acceptable, else why not. */
static const char *header_problem(const struct comp_rx *rx, const char *p, struct rec *r)
{
	bool format2 = rx->p.version == TCP_COMP_VERSION_2;

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
	if (r->h.algo != TCP_COMP_ALGO_NONE && r->h.algo != rx->p.algo)
		return "algorithm not negotiated";
	/* Block records would reset a zstd stream context: modes never mix. */
	if (!!(r->h.flags & TCP_COMP_REC_F_STREAM) != (rx->p.mode == TCP_COMP_MODE_STREAM))
		return "mode not negotiated";
	return NULL;
}

static int zstd_stream_decode(struct comp_rx *rx, const struct rec *r, char *dst)
{
	ZSTD_outBuffer out = { dst, r->orig, 0 };
	ZSTD_inBuffer in = { r->payload, r->wire, 0 };
	char extra;

	while (in.pos < in.size || out.pos < out.size) {
		size_t before_in = in.pos, before_out = out.pos;
		size_t ret = ZSTD_decompressStream(rx->zd, &out, &in);

		if (ZSTD_isError(ret))
			return bad(ZSTD_getErrorName(ret));
		if (in.pos == before_in && out.pos == before_out)
			return bad("zstd record does not decode to orig_len bytes");
	}
	/* Data beyond orig_len would otherwise wait inside the context. */
	out = (ZSTD_outBuffer){ &extra, 1, 0 };
	in = (ZSTD_inBuffer){ NULL, 0, 0 };
	if (ZSTD_isError(ZSTD_decompressStream(rx->zd, &out, &in)) || out.pos)
		return bad("zstd record longer than orig_len");
	return 0;
}

/*
 * LZ4 stream: decodes at @dst with the dictionary rx->l4d points at, which
 * continues into @dst when @dst directly follows the previous record.  A raw
 * record's bytes are history too, but lz4 was not told: the caller points
 * the decoder at them (lz4_point_at_history) before the next record.
 */
static int lz4_stream_decode(struct comp_rx *rx, const struct rec *r, char *dst)
{
	int n;

	if (r->h.flags & TCP_COMP_REC_F_RAW) {
		memcpy(dst, r->payload, r->orig);
		return 0;
	}
	n = LZ4_decompress_safe_continue(&rx->l4d, r->payload, dst, r->wire, r->orig);
	if (n < 0 || (uint32_t)n != r->orig)
		return bad("lz4 record does not decode to orig_len bytes");
	return 0;
}

/* Decodes into @dst, which has room for orig_len bytes. */
static int decode_payload(struct comp_rx *rx, const struct rec *r, char *dst)
{
	bool stream = r->h.flags & TCP_COMP_REC_F_STREAM;
	size_t z;
	int n;

	if (stream && rx->p.algo == TCP_COMP_ALGO_LZ4)
		return lz4_stream_decode(rx, r, dst);
	if (r->h.flags & TCP_COMP_REC_F_RAW) {
		memcpy(dst, r->payload, r->orig);
		return 0;
	}
	if (stream)
		return zstd_stream_decode(rx, r, dst);
	if (r->h.algo == TCP_COMP_ALGO_ZSTD) {
		z = ZSTD_decompressDCtx(rx->zd, dst, r->orig, r->payload, r->wire);
		if (ZSTD_isError(z) || z != r->orig)
			return bad("zstd block does not decode to orig_len bytes");
		return 0;
	}
	n = LZ4_decompress_safe(r->payload, dst, r->wire, r->orig);
	if (n < 0 || (uint32_t)n != r->orig)
		return bad("lz4 block does not decode to orig_len bytes");
	return 0;
}

/* Makes room for a record of @need bytes starting at rx->start. */
static int rx_compact(struct comp_rx *rx, size_t need)
{
	if (rx->start + need <= rx->cap)
		return 0;
	memmove(rx->buf, rx->buf + rx->start, rx->end - rx->start);
	rx->end -= rx->start;
	rx->start = 0;
	return grow(&rx->buf, &rx->cap, need);
}

/* 1 = more bytes arrived, 0 = end of stream, <0 = -errno. */
static int rx_fill(struct ebpfaccel_comp_conn *c)
{
	struct comp_rx *rx = &c->rx;
	ssize_t n;

	do {
		n = recv(c->fd, rx->buf + rx->end, rx->cap - rx->end, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (!n)
		return 0;
	rx->end += n;
	c->stats.rx_bytes_in += n;
	return 1;
}

/* 1 = rx->buf holds a whole record, now in *r; 0 = not yet, it takes *need
 * bytes from rx->start; <0 = its header is bad. */
static int rx_peek_record(const struct comp_rx *rx, struct rec *r, size_t *need)
{
	const char *p = rx->buf + rx->start, *why;
	size_t avail = rx->end - rx->start;

	*need = TCP_COMP_REC_HDR_LEN;
	if (avail < TCP_COMP_REC_HDR_LEN)
		return 0;
	why = header_problem(rx, p, r);
	if (why)
		return bad(why);
	*need = r->hlen + r->wire;
	if (avail < *need)
		return 0;
	if (r->h.flags & TCP_COMP_REC_F_XXH3) {
		r->check = get_be64(p + TCP_COMP_REC_HDR_LEN);
	} else if (r->h.flags & TCP_COMP_REC_F_CHECKSUM) {
		uint32_t sum;

		memcpy(&sum, p + TCP_COMP_REC_HDR_LEN, sizeof(sum));
		r->check = ntohl(sum);
	}
	r->payload = p + r->hlen;
	return 1;
}

/* Waits for a whole record in rx->buf.  1 = *r is complete, 0 = clean end. */
static int rx_next_record(struct ebpfaccel_comp_conn *c, struct rec *r)
{
	struct comp_rx *rx = &c->rx;
	size_t need;
	int ret;

	while (!(ret = rx_peek_record(rx, r, &need))) {
		ret = rx_compact(rx, need);
		if (ret)
			return ret;
		ret = rx_fill(c);
		if (ret < 0)
			return ret;
		if (!ret) {
			if (rx->end == rx->start)
				return 0;
			return bad("connection closed inside a record");
		}
	}
	return ret;
}

/* Checks and decodes @r into @dst (room for orig_len) and consumes it. */
static int rx_decode(struct ebpfaccel_comp_conn *c, const struct rec *r, char *dst)
{
	int err = 0;

	if ((r->h.flags & TCP_COMP_REC_F_XXH3) && rec_xxh3(&r->h, r->payload) != r->check)
		err = bad("XXH3 check mismatch");
	if (!err)
		err = decode_payload(&c->rx, r, dst);
	if (!err && (r->h.flags & TCP_COMP_REC_F_CHECKSUM) && XXH32(dst, r->orig, 0) != r->check)
		err = bad("checksum mismatch");
	c->rx.start += r->hlen + r->wire;
	if (c->rx.start == c->rx.end)
		c->rx.start = c->rx.end = 0;
	if (err)
		return err;
	c->stats.rx_records++;
	c->stats.rx_bytes_out += r->orig;
	return 0;
}

static bool lz4_stream(const struct comp_rx *rx)
{
	return rx->p.algo == TCP_COMP_ALGO_LZ4 && rx->p.mode == TCP_COMP_MODE_STREAM;
}

/*
 * The last 64 KiB of lz4 stream output must outlive the caller's buffer:
 * @n bytes just decoded at @src join the history, once per call rather than
 * once per record.
 */
static int lz4_keep_history(struct comp_rx *rx, const char *src, size_t n)
{
	struct lz4_history *h = &rx->hist;

	if (n >= LZ4_HISTORY) {
		memcpy(h->buf, src + n - LZ4_HISTORY, LZ4_HISTORY);
		h->len = LZ4_HISTORY;
	} else if (n) {
		if (history_make_room(h, n))
			return -ENOMEM;
		memcpy(h->buf + h->len, src, n);
		h->len += n;
	}
	lz4_point_at_history(rx);
	return 0;
}

/* A record larger than the caller's buffer: decoded aside, returned in parts. */
static int rx_decode_aside(struct ebpfaccel_comp_conn *c, const struct rec *r)
{
	struct comp_rx *rx = &c->rx;
	struct lz4_history *h = &rx->hist;
	char *dst;
	int err;

	if (lz4_stream(rx)) {
		/* Decoded at the history's end, where it continues the dictionary. */
		err = history_make_room(h, r->orig);
		if (err)
			return err;
		lz4_point_at_history(rx);
		dst = h->buf + h->len;
	} else {
		err = grow(&rx->out, &rx->out_cap, r->orig);
		if (err)
			return err;
		dst = rx->out;
	}
	err = rx_decode(c, r, dst);
	if (err)
		return err;
	if (lz4_stream(rx)) {
		h->len += r->orig;
		lz4_point_at_history(rx);
	}
	rx->pend = dst;
	rx->opos = 0;
	rx->olen = r->orig;
	return 0;
}

static size_t copy_out(struct comp_rx *rx, void *buf, size_t len)
{
	size_t n = rx->olen - rx->opos < len ? rx->olen - rx->opos : len;

	memcpy(buf, rx->pend + rx->opos, n);
	rx->opos += n;
	return n;
}

/*
 * Decodes straight into @buf every whole record that fits: all those already
 * received, waiting only for the first.  Bytes, 0 at the end, or -errno; an
 * error after some bytes is returned by the next call.
 */
static ssize_t rx_decode_into(struct ebpfaccel_comp_conn *c, char *buf, size_t len)
{
	struct comp_rx *rx = &c->rx;
	size_t done = 0, run = 0;	/* run: lz4 stream bytes not in the history yet */
	struct rec r;
	size_t need;
	int ret;

	for (;;) {
		ret = done ? rx_peek_record(rx, &r, &need) : rx_next_record(c, &r);
		if (ret <= 0)
			break;
		if (r.orig > len - done) {
			if (!done && !(ret = rx_decode_aside(c, &r)))
				done = copy_out(rx, buf, len);
			break;
		}
		ret = rx_decode(c, &r, buf + done);
		if (ret)
			break;
		done += r.orig;
		run += r.orig;
		if ((r.h.flags & TCP_COMP_REC_F_RAW) && lz4_stream(rx)) {
			ret = lz4_keep_history(rx, buf + done - run, run);
			run = 0;
			if (ret)
				break;
		}
	}
	if (run && lz4_stream(rx) && ret >= 0)
		ret = lz4_keep_history(rx, buf + done - run, run);
	if (!ret && !done)
		rx->eof = true;
	if (ret < 0 && ret != -EAGAIN)
		c->stats.rx_errors++;
	if (ret < 0)
		fail(c, ret);
	return done ? (ssize_t)done : ret;
}

static ssize_t recv_plain(struct ebpfaccel_comp_conn *c, void *buf, size_t len)
{
	ssize_t n;

	do {
		n = recv(c->fd, buf, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	c->stats.rx_bytes_in += n;
	c->stats.rx_bytes_out += n;
	return n;
}

EBPFACCEL_API ssize_t ebpfaccel_comp_conn__recv(struct ebpfaccel_comp_conn *c, void *buf, size_t len)
{
	struct comp_rx *rx;

	if (!c || (!buf && len))
		return -EINVAL;
	if (c->err)
		return c->err;
	if (c->kernel || !dir_on(&c->rx.p))
		return recv_plain(c, buf, len);
	rx = &c->rx;
	if (rx->opos < rx->olen)
		return copy_out(rx, buf, len);
	if (!len || rx->eof)
		return 0;
	return rx_decode_into(c, buf, len);
}

EBPFACCEL_API bool ebpfaccel_comp_conn__rx_pending(const struct ebpfaccel_comp_conn *c)
{
	const struct comp_rx *rx;
	struct rec r;
	size_t avail;

	if (!c || c->kernel || !dir_on(&c->rx.p))
		return false;
	rx = &c->rx;
	if (c->err || rx->opos < rx->olen)
		return true;
	avail = rx->end - rx->start;
	if (avail < TCP_COMP_REC_HDR_LEN)
		return false;
	/* A bad header is "ready" too: recv() reports it without waiting. */
	if (header_problem(rx, rx->buf + rx->start, &r))
		return true;
	return avail >= r.hlen + r.wire;
}

EBPFACCEL_API size_t ebpfaccel_comp_conn__tx_pending(const struct ebpfaccel_comp_conn *c)
{
	return c ? c->tx.len - c->tx.pos : 0;
}

/* ---- connection -------------------------------------------------------- */

#define KMOD_MAX_FORMAT "/sys/module/tcp_comp/parameters/max_format"

/*
 * An installed module that nobody loaded yet would only say which format it
 * speaks after a socket is already committed to a path.  TCP_ULP on a
 * throwaway socket has the kernel load it (request_module, with
 * CAP_NET_ADMIN) before the ULP refuses the unconnected socket.  Once per
 * process: a host without the module does not pay a modprobe per
 * connection.
 */
static void kmod_autoload(void)
{
	static atomic_bool tried;
	int fd;

	if (atomic_exchange(&tried, true))
		return;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (setsockopt(fd, SOL_TCP, TCP_ULP, TCP_COMP_ULP_NAME, sizeof(TCP_COMP_ULP_NAME)))
		pr_debug("comp: loading the tcp_comp module: %s\n", strerror(errno));
	close(fd);
}

int ebpfaccel__comp_kernel_format(void)
{
	FILE *f;
	int v = TCP_COMP_VERSION_1;

	if (!ebpfaccel__ulp_registered(TCP_COMP_ULP_NAME))
		kmod_autoload();
	if (!ebpfaccel__ulp_registered(TCP_COMP_ULP_NAME))
		return 0;
	/* A module without the parameter predates format 2. */
	f = fopen(KMOD_MAX_FORMAT, "re");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = TCP_COMP_VERSION_1;
		fclose(f);
	}
	return v;
}

static bool kernel_speaks(const struct ebpfaccel_comp_conn *c)
{
	int need = TCP_COMP_VERSION_1;

	if (dir_on(&c->tx.p) && c->tx.p.version > need)
		need = c->tx.p.version;
	if (dir_on(&c->rx.p) && c->rx.p.version > need)
		need = c->rx.p.version;
	/* Format 1 needs no question: any module speaks it, and setsockopt()
	 * loads one that is installed. */
	return need == TCP_COMP_VERSION_1 || ebpfaccel__comp_kernel_format() >= need;
}

/* 0 = the ULP carries the socket now, 1 = not available, <0 = ULP half set up. */
static int try_kernel(struct ebpfaccel_comp_conn *c)
{
	/* Once set, a ULP cannot be taken off the socket again. */
	if (!kernel_speaks(c)) {
		pr_debug("comp: the tcp_comp module does not speak format %d, using the user-space engine\n",
			 TCP_COMP_VERSION_2);
		return 1;
	}
	if (setsockopt(c->fd, SOL_TCP, TCP_ULP, TCP_COMP_ULP_NAME, sizeof(TCP_COMP_ULP_NAME))) {
		pr_debug("comp: kernel ULP unavailable (%s), using the user-space engine\n",
			 strerror(errno));
		return 1;
	}
	if (dir_on(&c->tx.p) &&
	    setsockopt(c->fd, SOL_TCP_COMP, TCP_COMP_TX, &c->tx.p, sizeof(c->tx.p)))
		return -errno;
	if (dir_on(&c->rx.p) &&
	    setsockopt(c->fd, SOL_TCP_COMP, TCP_COMP_RX, &c->rx.p, sizeof(c->rx.p)))
		return -errno;
	return 0;
}

static int resolve_params(int fd, const struct ebpfaccel_comp_conn_opts *opts,
			  struct tcp_comp_params *tx, struct tcp_comp_params *rx)
{
	const struct ebpfaccel_comp_policy *policy = OPTS_GET(opts, policy, NULL);
	struct ebpfaccel_comp_state st = { .sz = sizeof(st) };
	const struct tcp_comp_params *otx = OPTS_GET(opts, tx, NULL);
	const struct tcp_comp_params *orx = OPTS_GET(opts, rx, NULL);
	int err;

	if (!!otx != !!orx)
		return -EINVAL;
	if (otx) {
		*tx = *otx;
		*rx = *orx;
		return params_valid(tx) && params_valid(rx) ? 0 : -EINVAL;
	}
	err = policy ? ebpfaccel_comp_policy__state(policy, fd, &st) : ebpfaccel_comp__state(fd, &st);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (st.phase == EBPFACCEL_COMP_PHASE_ON || st.phase == EBPFACCEL_COMP_PHASE_CONFIRMING) {
		*tx = st.tx;
		*rx = st.rx;
	}
	return 0;
}

EBPFACCEL_API struct ebpfaccel_comp_conn *
ebpfaccel_comp_conn__new(int fd, const struct ebpfaccel_comp_conn_opts *opts)
{
	struct ebpfaccel_comp_conn *c;
	struct sockaddr_storage peer;
	socklen_t alen = sizeof(peer);
	int err;

	if (fd < 0 || !OPTS_VALID(opts, ebpfaccel_comp_conn_opts)) {
		errno = EINVAL;
		return NULL;
	}
	if (getpeername(fd, (struct sockaddr *)&peer, &alen))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->fd = fd;
	err = resolve_params(fd, opts, &c->tx.p, &c->rx.p);
	if (err)
		goto err_out;
	if ((dir_on(&c->tx.p) || dir_on(&c->rx.p)) && !OPTS_GET(opts, no_kernel, false)) {
		err = try_kernel(c);
		if (err < 0) {
			pr_warn("comp: configuring the kernel ULP failed: %s\n", strerror(-err));
			goto err_out;
		}
		c->kernel = !err;
	}
	if (c->kernel)
		return c;
	err = tx_init(&c->tx);
	if (!err)
		err = rx_init(&c->rx);
	if (!err)
		return c;
err_out:
	ebpfaccel_comp_conn__free(c);
	errno = -err;
	return NULL;
}

EBPFACCEL_API void ebpfaccel_comp_conn__params(const struct ebpfaccel_comp_conn *c,
					       struct tcp_comp_params *tx,
					       struct tcp_comp_params *rx)
{
	if (tx)
		*tx = c->tx.p;
	if (rx)
		*rx = c->rx.p;
}

EBPFACCEL_API bool ebpfaccel_comp_conn__in_kernel(const struct ebpfaccel_comp_conn *c)
{
	return c && c->kernel;
}

EBPFACCEL_API int ebpfaccel_comp_conn__stats(const struct ebpfaccel_comp_conn *c,
					     struct tcp_comp_stats *s)
{
	socklen_t len = sizeof(*s);

	if (!c || !s)
		return -EINVAL;
	if (!c->kernel) {
		*s = c->stats;
		return 0;
	}
	return getsockopt(c->fd, SOL_TCP_COMP, TCP_COMP_STATS, s, &len) ? -errno : 0;
}

EBPFACCEL_API void ebpfaccel_comp_conn__free(struct ebpfaccel_comp_conn *c)
{
	if (!c)
		return;
	tx_fini(&c->tx);
	rx_fini(&c->rx);
	free(c);
}
