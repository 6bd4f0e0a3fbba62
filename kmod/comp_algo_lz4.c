// SPDX-License-Identifier: GPL-2.0
/*
 * LZ4 for tcp_comp.  Block mode: each record is one LZ4 block.  Stream
 * mode: each record is an LZ4 block that may refer to the previous 64 KiB
 * of the direction's original bytes, raw records included.
 */
#include <linux/lz4.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "comp.h"

struct comp_codec {
	bool stream;
	int accel;
	/* encoder: LZ4_stream_t (stream) or the block workspace */
	void *ws;
	/* stream encoder: last input kept where LZ4 can refer to it;
	 * decoder: the last COMP_LZ4_HISTORY decoded bytes */
	u8 *hist;
	u32 hist_len;
};

static int lz4_check_level(int level)
{
	/* level <= 0 selects the acceleration (0 = 1, LZ4's default);
	 * positive levels are LZ4HC's, which the kernel keeps elsewhere */
	return level > 0 ? -EINVAL : 0;
}

static void lz4_codec_free(struct comp_codec *c)
{
	kvfree(c->hist);
	kvfree(c->ws);
	kfree(c);
}

static struct comp_codec *lz4_codec_alloc(bool stream, size_t ws_size)
{
	struct comp_codec *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return NULL;
	c->stream = stream;
	if (ws_size)
		c->ws = kvzalloc(ws_size, GFP_KERNEL);
	if (stream)
		c->hist = kvmalloc(COMP_LZ4_HISTORY, GFP_KERNEL);
	if ((ws_size && !c->ws) || (stream && !c->hist)) {
		lz4_codec_free(c);
		return NULL;
	}
	return c;
}

static struct comp_codec *lz4_enc_new(int level, bool stream, u32 record_size)
{
	/* LZ4_stream_t and the block workspace are the same size */
	struct comp_codec *c = lz4_codec_alloc(stream, LZ4_MEM_COMPRESS);

	if (c)
		c->accel = level < 0 ? -level : 1;
	return c;
}

static int lz4_encode(struct comp_codec *c, const void *src, u32 len, void *dst, u32 cap)
{
	int n;

	if (!c->stream)
		return LZ4_compress_fast(src, dst, len, cap, c->accel, c->ws);
	/* on failure too, LZ4 has taken src as history: the record then goes
	 * raw, and the receiver adds raw records to its history the same way */
	n = LZ4_compress_fast_continue(c->ws, src, dst, len, cap, c->accel);
	LZ4_saveDict(c->ws, c->hist, COMP_LZ4_HISTORY);
	return n;
}

static u32 lz4_bound(u32 len)
{
	return LZ4_compressBound(len);
}

static struct comp_codec *lz4_dec_new(bool stream)
{
	return lz4_codec_alloc(stream, 0);
}

static void lz4_history(struct comp_codec *c, const void *data, u32 len)
{
	u32 keep;

	if (len >= COMP_LZ4_HISTORY) {
		memcpy(c->hist, data + len - COMP_LZ4_HISTORY, COMP_LZ4_HISTORY);
		c->hist_len = COMP_LZ4_HISTORY;
		return;
	}
	keep = min(c->hist_len, COMP_LZ4_HISTORY - len);
	memmove(c->hist, c->hist + c->hist_len - keep, keep);
	memcpy(c->hist + keep, data, len);
	c->hist_len = keep + len;
}

static int lz4_decode(struct comp_codec *c, const void *src, u32 len, void *dst, u32 orig_len)
{
	int n;

	if (!c->stream)
		n = LZ4_decompress_safe(src, dst, len, orig_len);
	else
		n = LZ4_decompress_safe_usingDict(src, dst, len, orig_len, c->hist, c->hist_len);
	if (n < 0 || (u32)n != orig_len)
		return -EBADMSG;
	if (c->stream)
		lz4_history(c, dst, orig_len);
	return 0;
}

const struct comp_algo comp_algo_lz4 = {
	.id		= TCP_COMP_ALGO_LZ4,
	.check_level	= lz4_check_level,
	.enc_new	= lz4_enc_new,
	.encode		= lz4_encode,
	.bound		= lz4_bound,
	.dec_new	= lz4_dec_new,
	.decode		= lz4_decode,
	.history	= lz4_history,
	.free		= lz4_codec_free,
};
