/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcp_comp: a TCP upper layer protocol that compresses what the application
 * sends into records and decodes received records before recvmsg, speaking
 * the record format of include/ebpfaccel/uapi.h.
 */
#ifndef TCP_COMP_H
#define TCP_COMP_H

#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <net/sock.h>
#include <net/strparser.h>
#include <net/inet_connection_sock.h>

#include <ebpfaccel/uapi.h>

#include "compat.h"

/* format 2's 8-byte check is the longest that follows a header */
#define COMP_HDR_MAX		(TCP_COMP_REC_HDR_LEN + TCP_COMP_REC_XXH3_LEN)
#define COMP_LZ4_HISTORY	(64U * 1024)
#define COMP_ZSTD_WINDOW_MAX	(1U << TCP_COMP_ZSTD_WINDOWLOG_MAX)

struct comp_codec;

/*
 * One compression library.  Encoders and decoders are created in process
 * context (setsockopt, recvmsg) and used under the socket lock.
 */
struct comp_algo {
	u8 id;
	int (*check_level)(int level);
	struct comp_codec *(*enc_new)(int level, bool stream, u32 record_size);
	/* > 0: payload bytes; 0: the result would not fit in cap; < 0: -errno */
	int (*encode)(struct comp_codec *c, const void *src, u32 len, void *dst, u32 cap);
	/* worst-case payload for len bytes, used to size buffers */
	u32 (*bound)(u32 len);
	struct comp_codec *(*dec_new)(bool stream);
	/* 0 when src decodes to exactly orig_len bytes, else -EBADMSG */
	int (*decode)(struct comp_codec *c, const void *src, u32 len, void *dst, u32 orig_len);
	/* a raw record of a stream joins the decoder's history (NULL: no history) */
	void (*history)(struct comp_codec *c, const void *data, u32 len);
	void (*free)(struct comp_codec *c);
};

extern const struct comp_algo comp_algo_zstd;
extern const struct comp_algo comp_algo_lz4;
const struct comp_algo *comp_algo_get(u8 id);

struct comp_tx {
	struct comp_ctx *ctx;
	/* TCP drops the socket lock while a write waits for memory; the
	 * records must not be touched by anyone else meanwhile.  Taken
	 * before the socket lock. */
	struct mutex lock;
	struct tcp_comp_params params;
	const struct comp_algo *algo;	/* NULL: raw records only */
	struct comp_codec *enc;
	u32 record_size;
	u8 *plain;			/* open record, record_size bytes */
	u32 plain_len;
	bool more;			/* the last write asked to keep the record open */
	u8 *wire;			/* sealed record, header included */
	u32 wire_cap;
	u32 pend_off, pend_len;		/* part of wire not yet queued on TCP */
	struct work_struct work;	/* flushes after a non-blocking write ran out of room */
};

struct comp_rx {
	struct tcp_comp_params params;
	struct strparser strp;
	struct sk_buff *rec;		/* complete record from the parser, not decoded yet */
	struct comp_codec *dec[__TCP_COMP_ALGO_MAX][__TCP_COMP_MODE_MAX];
	u8 *wire;			/* linear copy of the record being decoded */
	u8 *out;			/* decoded bytes not yet returned */
	u32 out_off, out_len;
	int err;			/* sticky protocol error, negative */
};

struct comp_ctx {
	struct proto *sk_proto;		/* TCP's proto, restored on close */
	const struct proto_ops *sk_ops;	/* the socket's own ops (splice_read) */
	void (*saved_data_ready)(struct sock *sk);
	void (*saved_write_space)(struct sock *sk);
	struct sock *sk;
	bool closing;
	struct comp_tx *tx;
	struct comp_rx *rx;
	struct tcp_comp_stats stats;
};

static inline struct comp_ctx *comp_get_ctx(const struct sock *sk)
{
	/* read under the socket lock or from callbacks the ULP installed */
	return (__force struct comp_ctx *)inet_csk(sk)->icsk_ulp_data;
}

int comp_params_check(const struct tcp_comp_params *p);

/* format 2: XXH3-64 of the record's payload, seeded with its header */
u64 comp_rec_xxh3(const struct tcp_comp_rec_hdr *hdr, const void *payload);

/* bytes of the check that follows a header with these flags */
static inline u32 comp_check_len(u8 rec_flags)
{
	if (rec_flags & TCP_COMP_REC_F_XXH3)
		return TCP_COMP_REC_XXH3_LEN;
	return rec_flags & TCP_COMP_REC_F_CHECKSUM ? TCP_COMP_REC_CSUM_LEN : 0;
}

int comp_tx_enable(struct sock *sk, struct comp_ctx *ctx, const struct tcp_comp_params *p);
void comp_tx_flush_final(struct sock *sk, struct comp_ctx *ctx);
void comp_tx_free(struct comp_ctx *ctx);
int comp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size);
#ifdef COMP_HAVE_SENDPAGE
int comp_sendpage(struct sock *sk, struct page *page, int offset, size_t size, int flags);
#endif
void comp_splice_eof(struct socket *sock);
void comp_write_space(struct sock *sk);

int comp_rx_enable(struct sock *sk, struct comp_ctx *ctx, const struct tcp_comp_params *p);
void comp_rx_stop(struct comp_ctx *ctx);
void comp_rx_free(struct comp_ctx *ctx);
int comp_recvmsg(COMP_RECVMSG_PARAMS);
bool comp_sock_is_readable(struct sock *sk);
__poll_t comp_poll(struct file *file, struct socket *sock, struct poll_table_struct *wait);
ssize_t comp_splice_read(struct socket *sock, loff_t *ppos, struct pipe_inode_info *pipe,
			 size_t len, unsigned int flags);

#endif /* TCP_COMP_H */
