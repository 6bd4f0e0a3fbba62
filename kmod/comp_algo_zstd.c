// SPDX-License-Identifier: GPL-2.0
/*
 * zstd for tcp_comp.  Block mode: one zstd frame per record.  Stream mode:
 * one frame per direction for the whole connection, each record ending on
 * a flush boundary so it decodes completely given the previous ones.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/zstd.h>

#include "comp.h"

struct comp_codec {
	bool stream;
	int level;
	void *ws;
	union {
		zstd_cctx *cctx;
		zstd_cstream *cstream;
		zstd_dctx *dctx;
		zstd_dstream *dstream;
	};
};

static int zstd_check_level(int level)
{
	/* 0 is the library default; the top levels need hundreds of MiB of
	 * workspace and a window larger than receivers accept */
	if (level && (level < zstd_min_clevel() || level > 19))
		return -EINVAL;
	return 0;
}

static zstd_parameters zstd_params(int level, u32 src_size)
{
	zstd_parameters params = zstd_get_params(level ?: 3, src_size);

	params.cParams.windowLog = min_t(u32, params.cParams.windowLog, TCP_COMP_ZSTD_WINDOWLOG_MAX);
	return params;
}

static struct comp_codec *zstd_codec_alloc(bool stream, size_t ws_size)
{
	struct comp_codec *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return NULL;
	c->stream = stream;
	c->ws = kvmalloc(ws_size, GFP_KERNEL);
	if (!c->ws) {
		kfree(c);
		return NULL;
	}
	return c;
}

static void zstd_codec_free(struct comp_codec *c)
{
	kvfree(c->ws);
	kfree(c);
}

static struct comp_codec *zstd_enc_new(int level, bool stream, u32 record_size)
{
	zstd_parameters params = zstd_params(level, stream ? 0 : record_size);
	struct comp_codec *c;
	size_t ws_size;

	ws_size = stream ? zstd_cstream_workspace_bound(&params.cParams)
			 : zstd_cctx_workspace_bound(&params.cParams);
	c = zstd_codec_alloc(stream, ws_size);
	if (!c)
		return NULL;
	c->level = level;
	if (stream)
		c->cstream = zstd_init_cstream(&params, 0, c->ws, ws_size);
	else
		c->cctx = zstd_init_cctx(c->ws, ws_size);
	if (!c->cctx) {
		zstd_codec_free(c);
		return NULL;
	}
	return c;
}

static int zstd_encode_block(struct comp_codec *c, const void *src, u32 len, void *dst, u32 cap)
{
	zstd_parameters params = zstd_params(c->level, len);
	size_t n = zstd_compress_cctx(c->cctx, dst, cap, src, len, &params);

	/* any failure, "does not fit" included, means: send it raw */
	return zstd_is_error(n) ? 0 : n;
}

static int zstd_encode_stream(struct comp_codec *c, const void *src, u32 len, void *dst, u32 cap)
{
	zstd_in_buffer in = { .src = src, .size = len };
	zstd_out_buffer out = { .dst = dst, .size = cap };
	size_t left;

	while (in.pos < in.size) {
		if (zstd_is_error(zstd_compress_stream(c->cstream, &out, &in)) || out.pos == out.size)
			return -EIO;
	}
	do {
		left = zstd_flush_stream(c->cstream, &out);
		if (zstd_is_error(left) || (left && out.pos == out.size))
			return -EIO;
	} while (left);
	return out.pos;
}

static int zstd_encode(struct comp_codec *c, const void *src, u32 len, void *dst, u32 cap)
{
	return c->stream ? zstd_encode_stream(c, src, len, dst, cap)
			 : zstd_encode_block(c, src, len, dst, cap);
}

static u32 zstd_bound(u32 len)
{
	/* a flushed stream block may add block headers to the frame bound */
	return zstd_compress_bound(len) + 64;
}

static struct comp_codec *zstd_dec_new(bool stream)
{
	size_t ws_size = stream ? zstd_dstream_workspace_bound(COMP_ZSTD_WINDOW_MAX)
				: zstd_dctx_workspace_bound();
	struct comp_codec *c = zstd_codec_alloc(stream, ws_size);

	if (!c)
		return NULL;
	if (stream)
		c->dstream = zstd_init_dstream(COMP_ZSTD_WINDOW_MAX, c->ws, ws_size);
	else
		c->dctx = zstd_init_dctx(c->ws, ws_size);
	if (!c->dctx) {
		zstd_codec_free(c);
		return NULL;
	}
	return c;
}

static int zstd_decode_stream(struct comp_codec *c, const void *src, u32 len, void *dst,
			      u32 orig_len)
{
	zstd_in_buffer in = { .src = src, .size = len };
	zstd_out_buffer out = { .dst = dst, .size = orig_len };
	u8 extra;

	while (in.pos < in.size) {
		size_t before_in = in.pos, before_out = out.pos;

		if (zstd_is_error(zstd_decompress_stream(c->dstream, &out, &in)))
			return -EBADMSG;
		if (in.pos == before_in && out.pos == before_out)
			return -EBADMSG;
	}
	if (out.pos != orig_len)
		return -EBADMSG;
	/* the record must not decode to more than its header says */
	out = (zstd_out_buffer){ .dst = &extra, .size = 1 };
	if (zstd_is_error(zstd_decompress_stream(c->dstream, &out, &in)) || out.pos)
		return -EBADMSG;
	return 0;
}

static int zstd_decode(struct comp_codec *c, const void *src, u32 len, void *dst, u32 orig_len)
{
	size_t n;

	if (c->stream)
		return zstd_decode_stream(c, src, len, dst, orig_len);
	n = zstd_decompress_dctx(c->dctx, dst, orig_len, src, len);
	return !zstd_is_error(n) && n == orig_len ? 0 : -EBADMSG;
}

const struct comp_algo comp_algo_zstd = {
	.id		= TCP_COMP_ALGO_ZSTD,
	.check_level	= zstd_check_level,
	.enc_new	= zstd_enc_new,
	.encode		= zstd_encode,
	.bound		= zstd_bound,
	.dec_new	= zstd_dec_new,
	.decode		= zstd_decode,
	.free		= zstd_codec_free,
};
