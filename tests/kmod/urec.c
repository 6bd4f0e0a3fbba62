// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "guest.h"
#include "urec.h"

#define LZ4_HISTORY (64 * 1024)

struct urec {
	int algo, mode, level, check;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	LZ4_stream_t *lz4;
	LZ4_streamDecode_t *lz4d;
	uint8_t *hist;		/* LZ4 stream: last 64 KiB of the direction */
	size_t hist_len;
	uint8_t *wire;
};

struct urec *urec_new(int algo, int mode, int level, int check)
{
	struct urec *u = calloc(1, sizeof(*u));

	CHECK(u, "calloc");
	u->algo = algo, u->mode = mode, u->level = level, u->check = check;
	u->cctx = ZSTD_createCCtx();
	u->dctx = ZSTD_createDCtx();
	u->lz4 = LZ4_createStream();
	u->hist = malloc(LZ4_HISTORY);
	u->wire = malloc(TCP_COMP_MAX_WIRE + 16);
	CHECK(u->cctx && u->dctx && u->lz4 && u->hist && u->wire, "alloc");
	ZSTD_CCtx_setParameter(u->cctx, ZSTD_c_compressionLevel, level ?: 3);
	ZSTD_CCtx_setParameter(u->cctx, ZSTD_c_windowLog, 20);
	ZSTD_DCtx_setParameter(u->dctx, ZSTD_d_windowLogMax, TCP_COMP_ZSTD_WINDOWLOG_MAX);
	return u;
}

void urec_free(struct urec *u)
{
	ZSTD_freeCCtx(u->cctx);
	ZSTD_freeDCtx(u->dctx);
	LZ4_freeStream(u->lz4);
	free(u->hist);
	free(u->wire);
	free(u);
}

size_t urec_bound(size_t len)
{
	return 16 + ZSTD_compressBound(len) + LZ4_compressBound(len);
}

void urec_hdr(uint8_t *out, int algo, int flags, uint32_t orig_len, uint32_t wire_len)
{
	uint32_t be;

	out[0] = TCP_COMP_REC_MAGIC;
	out[1] = TCP_COMP_REC_DATA;
	out[2] = algo;
	out[3] = flags;
	be = htonl(orig_len);
	memcpy(out + 4, &be, 4);
	be = htonl(wire_len);
	memcpy(out + 8, &be, 4);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

uint64_t urec_xxh3(const uint8_t *hdr, const uint8_t *payload)
{
	uint32_t wire = get_be32(hdr + 8);
	uint64_t seed = (uint64_t)hdr[2] << 56 | (uint64_t)hdr[3] << 48 |
			(uint64_t)get_be32(hdr + 4) << 24 | wire;

	return XXH3_64bits_withSeed(payload, wire, seed);
}

static size_t check_len(int flags)
{
	if (flags & TCP_COMP_REC_F_XXH3)
		return TCP_COMP_REC_XXH3_LEN;
	return flags & TCP_COMP_REC_F_CHECKSUM ? TCP_COMP_REC_CSUM_LEN : 0;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	while (n--) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

static void hist_add(struct urec *u, const uint8_t *p, size_t len)
{
	size_t keep;

	if (len >= LZ4_HISTORY) {
		memcpy(u->hist, p + len - LZ4_HISTORY, LZ4_HISTORY);
		u->hist_len = LZ4_HISTORY;
		return;
	}
	keep = u->hist_len < LZ4_HISTORY - len ? u->hist_len : LZ4_HISTORY - len;
	memmove(u->hist, u->hist + u->hist_len - keep, keep);
	memcpy(u->hist + keep, p, len);
	u->hist_len = keep + len;
}

/* 0 when the payload would not be smaller (send raw) */
static size_t encode_payload(struct urec *u, const void *src, size_t len, uint8_t *dst)
{
	int stream = u->mode == TCP_COMP_MODE_STREAM;
	size_t n;

	if (u->algo == TCP_COMP_ALGO_ZSTD && !stream) {
		n = ZSTD_compress2(u->cctx, dst, len - 1, src, len);
		return ZSTD_isError(n) ? 0 : n;
	}
	if (u->algo == TCP_COMP_ALGO_ZSTD) {
		ZSTD_inBuffer in = { src, len, 0 };
		ZSTD_outBuffer out = { dst, ZSTD_compressBound(len) + 64, 0 };

		n = ZSTD_compressStream2(u->cctx, &out, &in, ZSTD_e_flush);
		CHECK(!ZSTD_isError(n) && !n && in.pos == len, "zstd stream flush");
		return out.pos;
	}
	if (u->algo == TCP_COMP_ALGO_LZ4 && !stream)
		return LZ4_compress_default(src, (char *)dst, len, len - 1);
	if (u->algo == TCP_COMP_ALGO_LZ4) {
		/* the encoder refers to the history exactly as the receiver
		 * keeps it: the last 64 KiB of every record */
		LZ4_loadDict(u->lz4, (const char *)u->hist, u->hist_len);
		n = LZ4_compress_fast_continue(u->lz4, src, (char *)dst, len, len - 1, 1);
		hist_add(u, src, len);
		return n;
	}
	return 0;
}

size_t urec_encode(struct urec *u, const void *src, size_t len, uint8_t *out)
{
	int check = u->check == URC_FORMAT2 ? TCP_COMP_REC_F_XXH3 :
		    u->check == URC_XXH32 ? TCP_COMP_REC_F_CHECKSUM : 0;
	size_t hdr = TCP_COMP_REC_HDR_LEN + check_len(check);
	int flags = u->mode == TCP_COMP_MODE_STREAM ? TCP_COMP_REC_F_STREAM : 0;
	/* even 1 byte goes through the encoder: an LZ4 stream's history
	 * must hold it, as the receiver's does */
	size_t n = encode_payload(u, src, len, out + hdr);
	int algo = u->algo;

	if (!n) {
		memcpy(out + hdr, src, len);
		n = len;
		algo = TCP_COMP_ALGO_NONE;
		flags |= TCP_COMP_REC_F_RAW;
	}
	urec_hdr(out, algo, flags | check, len, n);
	if (check == TCP_COMP_REC_F_XXH3)
		put_be(out + TCP_COMP_REC_HDR_LEN, urec_xxh3(out, out + hdr), 8);
	else if (check)
		put_be(out + TCP_COMP_REC_HDR_LEN, XXH32(src, len, 0), 4);
	return hdr + n;
}

/* 0 at EOF before the first byte */
static size_t read_full(int fd, uint8_t *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		CHECK(n >= 0, "read: %m");
		if (!n) {
			CHECK(!got, "stream ends inside a record");
			return 0;
		}
		got += n;
	}
	return got;
}

static void decode_payload(struct urec *u, const uint8_t *hdr, const uint8_t *src, size_t wire,
			   uint8_t *out, size_t orig)
{
	int flags = hdr[3];
	size_t n;

	if (flags & TCP_COMP_REC_F_RAW) {
		memcpy(out, src, orig);
		hist_add(u, out, orig);
		return;
	}
	if (hdr[2] == TCP_COMP_ALGO_ZSTD && !(flags & TCP_COMP_REC_F_STREAM)) {
		n = ZSTD_decompressDCtx(u->dctx, out, orig, src, wire);
		CHECK(!ZSTD_isError(n) && n == orig, "zstd block");
	} else if (hdr[2] == TCP_COMP_ALGO_ZSTD) {
		ZSTD_inBuffer in = { src, wire, 0 };
		ZSTD_outBuffer ob = { out, orig, 0 };

		while (in.pos < in.size) {
			n = ZSTD_decompressStream(u->dctx, &ob, &in);
			CHECK(!ZSTD_isError(n), "zstd stream: %s", ZSTD_getErrorName(n));
		}
		CHECK(ob.pos == orig, "zstd stream record decodes to %zu, not %zu", ob.pos, orig);
	} else if (flags & TCP_COMP_REC_F_STREAM) {
		int r = LZ4_decompress_safe_usingDict((const char *)src, (char *)out, wire, orig,
						      (const char *)u->hist, u->hist_len);

		CHECK(r == (int)orig, "lz4 stream record: %d", r);
	} else {
		CHECK(LZ4_decompress_safe((const char *)src, (char *)out, wire, orig) == (int)orig,
		      "lz4 block");
	}
	hist_add(u, out, orig);
}

size_t urec_read(struct urec *u, int fd, uint8_t *out)
{
	uint8_t hdr[TCP_COMP_REC_HDR_LEN], csum[TCP_COMP_REC_XXH3_LEN];
	uint32_t orig, wire;
	size_t clen;

	if (!read_full(fd, hdr, sizeof(hdr)))
		return 0;
	memcpy(&orig, hdr + 4, 4);
	memcpy(&wire, hdr + 8, 4);
	orig = ntohl(orig);
	wire = ntohl(wire);
	CHECK(hdr[0] == TCP_COMP_REC_MAGIC && hdr[1] == TCP_COMP_REC_DATA, "bad magic/type");
	if (u->check == URC_FORMAT2)
		CHECK(!(hdr[3] & ~TCP_COMP_REC_F_KNOWN_2) && (hdr[3] & TCP_COMP_REC_F_XXH3),
		      "format 2 flags %#x", hdr[3]);
	else
		CHECK(!(hdr[3] & ~TCP_COMP_REC_F_KNOWN), "unknown flags %#x", hdr[3]);
	CHECK(orig && orig <= TCP_COMP_MAX_RECORD && wire && wire <= TCP_COMP_MAX_WIRE,
	      "lengths %u %u", orig, wire);
	CHECK(!(hdr[3] & TCP_COMP_REC_F_RAW) || (hdr[2] == TCP_COMP_ALGO_NONE && wire == orig),
	      "raw record with algo %d, %u/%u", hdr[2], orig, wire);
	clen = check_len(hdr[3]);
	if (clen)
		CHECK(read_full(fd, csum, clen), "check");
	CHECK(read_full(fd, u->wire, wire), "payload");
	if (hdr[3] & TCP_COMP_REC_F_XXH3) {
		uint8_t be[8];

		put_be(be, urec_xxh3(hdr, u->wire), 8);
		CHECK(!memcmp(be, csum, 8), "XXH3 mismatch");
	}
	decode_payload(u, hdr, u->wire, wire, out, orig);
	if (hdr[3] & TCP_COMP_REC_F_CHECKSUM) {
		uint32_t be = htonl(XXH32(out, orig, 0));

		CHECK(!memcmp(&be, csum, 4), "checksum mismatch");
	}
	return orig;
}
