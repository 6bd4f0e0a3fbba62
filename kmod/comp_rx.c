// SPDX-License-Identifier: GPL-2.0
/*
 * tcp_comp receive path: a strparser cuts the TCP byte stream into records
 * (header checks happen there, so a bad length never makes us buffer more
 * than one maximal record), pauses after each complete record, and recvmsg
 * decodes it into a per-socket buffer from which the application reads.
 * Memory per socket: one record in the parser, one wire copy, one decoded
 * record, plus the decoder contexts.
 */
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/xxhash.h>
#include <net/tcp.h>

#include "comp.h"

static struct comp_ctx *comp_strp_ctx(struct strparser *strp)
{
	return comp_get_ctx(strp->sk);
}

static int comp_hdr_check(const struct comp_rx *rx, const struct tcp_comp_rec_hdr *hdr,
			  u32 *rec_len)
{
	u32 orig = be32_to_cpu(hdr->orig_len), wire = be32_to_cpu(hdr->wire_len);
	bool raw = hdr->flags & TCP_COMP_REC_F_RAW;
	bool format2 = rx->params.version == TCP_COMP_VERSION_2;

	if (hdr->magic != TCP_COMP_REC_MAGIC || hdr->type != TCP_COMP_REC_DATA)
		return -EBADMSG;
	if (hdr->flags & ~(format2 ? TCP_COMP_REC_F_KNOWN_2 : TCP_COMP_REC_F_KNOWN))
		return -EBADMSG;
	/* format 2 checks every record: a header without its check (a flag
	 * flipped on the way) is as wrong as a payload that fails it */
	if (format2 && !(hdr->flags & TCP_COMP_REC_F_XXH3))
		return -EBADMSG;
	if (!orig || orig > TCP_COMP_MAX_RECORD || !wire || wire > TCP_COMP_MAX_WIRE)
		return -EBADMSG;
	if (raw ? (hdr->algo != TCP_COMP_ALGO_NONE || wire != orig) : !comp_algo_get(hdr->algo))
		return -EBADMSG;
	*rec_len = TCP_COMP_REC_HDR_LEN + comp_check_len(hdr->flags) + wire;
	return 0;
}

static int comp_parse_msg(struct strparser *strp, struct sk_buff *skb)
{
	struct strp_msg *rxm = strp_msg(skb);
	struct tcp_comp_rec_hdr hdr;
	u32 rec_len;
	int err;

	if (rxm->offset + TCP_COMP_REC_HDR_LEN > skb->len)
		return 0;
	if (skb_copy_bits(skb, rxm->offset, &hdr, sizeof(hdr)))
		return -EBADMSG;
	err = comp_hdr_check(container_of(strp, struct comp_rx, strp), &hdr, &rec_len);
	return err ?: rec_len;
}

static void comp_rcv_msg(struct strparser *strp, struct sk_buff *skb)
{
	struct comp_ctx *ctx = comp_strp_ctx(strp);

	ctx->rx->rec = skb;
	strp_pause(strp);
	ctx->saved_data_ready(strp->sk);
}

/* Once FIN is in, a parser run that ends without a record can still be
 * news for readers: the last bytes before FIN are gone from TCP's queue,
 * which is what end of stream waits for. */
static int comp_read_sock_done(struct strparser *strp, int err)
{
	struct sock *sk = strp->sk;

	if (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN)
		comp_strp_ctx(strp)->saved_data_ready(sk);
	return err;
}

static void comp_rx_fail(struct sock *sk, struct comp_ctx *ctx, int err)
{
	ctx->rx->err = err;
	ctx->stats.rx_errors++;
	WRITE_ONCE(sk->sk_err, -err);
	sk_error_report(sk);
}

static void comp_abort_parser(struct strparser *strp, int err)
{
	/* the parser's assembly timer follows SO_RCVTIMEO; a slow peer is
	 * not a protocol error */
	if (err == -ETIMEDOUT)
		return;
	strp_stop(strp);
	comp_rx_fail(strp->sk, comp_strp_ctx(strp), -EBADMSG);
}

/*
 * The parser refuses a message larger than sk_rcvbuf (-EMSGSIZE, which
 * would end the stream with EBADMSG), and the application may shrink the
 * buffer with SO_RCVBUF at any time (servers tune accepted sockets).  So
 * the floor of two maximal records is restored wherever the parser is
 * about to read: in data_ready (softirq or backlog) and in its work item,
 * which takes the socket lock through comp_strp_lock().
 */
#define COMP_RCVBUF_FLOOR	((int)(2 * (COMP_HDR_MAX + TCP_COMP_MAX_WIRE)))

static void comp_rx_keep_rcvbuf(struct sock *sk)
{
	if (READ_ONCE(sk->sk_rcvbuf) < COMP_RCVBUF_FLOOR)
		WRITE_ONCE(sk->sk_rcvbuf, COMP_RCVBUF_FLOOR);
}

static void comp_strp_lock(struct strparser *strp)
{
	lock_sock(strp->sk);
	comp_rx_keep_rcvbuf(strp->sk);
}

static void comp_strp_unlock(struct strparser *strp)
{
	release_sock(strp->sk);
}

static void comp_data_ready(struct sock *sk)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);

	comp_rx_keep_rcvbuf(sk);
	strp_data_ready(&ctx->rx->strp);
}

int comp_rx_enable(struct sock *sk, struct comp_ctx *ctx, const struct tcp_comp_params *p)
{
	static const struct strp_callbacks cb = {
		.parse_msg	= comp_parse_msg,
		.rcv_msg	= comp_rcv_msg,
		.read_sock_done	= comp_read_sock_done,
		.abort_parser	= comp_abort_parser,
		.lock		= comp_strp_lock,
		.unlock		= comp_strp_unlock,
	};
	struct comp_rx *rx;
	int err = -ENOMEM;

	rx = kzalloc(sizeof(*rx), GFP_KERNEL);
	if (!rx)
		return -ENOMEM;
	rx->params = *p;
	rx->wire = kvmalloc(COMP_HDR_MAX + TCP_COMP_MAX_WIRE, GFP_KERNEL);
	rx->out = kvmalloc(TCP_COMP_MAX_RECORD, GFP_KERNEL);
	if (!rx->wire || !rx->out)
		goto err_free;
	/* the raw records of an LZ4 stream extend its history: the decoder
	 * must see them from the first record on */
	if (p->algo == TCP_COMP_ALGO_LZ4 && p->mode == TCP_COMP_MODE_STREAM) {
		rx->dec[p->algo][p->mode] = comp_algo_lz4.dec_new(true);
		if (!rx->dec[p->algo][p->mode])
			goto err_free;
	}
	err = strp_init(&rx->strp, sk, &cb);
	if (err)
		goto err_free;

	comp_rx_keep_rcvbuf(sk);
	ctx->rx = rx;
	write_lock_bh(&sk->sk_callback_lock);
	sk->sk_data_ready = comp_data_ready;
	write_unlock_bh(&sk->sk_callback_lock);
	/* records that arrived before the switch are still queued on TCP */
	strp_check_rcv(&rx->strp);
	return 0;

err_free:
	if (rx->dec[TCP_COMP_ALGO_LZ4][TCP_COMP_MODE_STREAM])
		comp_algo_lz4.free(rx->dec[TCP_COMP_ALGO_LZ4][TCP_COMP_MODE_STREAM]);
	kvfree(rx->out);
	kvfree(rx->wire);
	kfree(rx);
	return err;
}

void comp_rx_stop(struct comp_ctx *ctx)
{
	strp_stop(&ctx->rx->strp);
}

void comp_rx_free(struct comp_ctx *ctx)
{
	struct comp_rx *rx = ctx->rx;
	int a, m;

	if (!rx)
		return;
	for (a = 0; a < __TCP_COMP_ALGO_MAX; a++)
		for (m = 0; m < __TCP_COMP_MODE_MAX; m++)
			if (rx->dec[a][m])
				comp_algo_get(a)->free(rx->dec[a][m]);
	kfree_skb(rx->rec);
	kvfree(rx->out);
	kvfree(rx->wire);
	kfree(rx);
	ctx->rx = NULL;
}

static struct comp_codec *comp_rx_decoder(struct comp_rx *rx, u8 algo_id, bool stream)
{
	struct comp_codec **dec = &rx->dec[algo_id][stream];

	if (!*dec)
		*dec = comp_algo_get(algo_id)->dec_new(stream);
	return *dec;
}

static int comp_rx_decode_payload(struct comp_rx *rx, const struct tcp_comp_rec_hdr *hdr,
				  const u8 *payload, u32 wire, u32 orig)
{
	bool stream = hdr->flags & TCP_COMP_REC_F_STREAM;
	struct comp_codec *dec;

	if (hdr->flags & TCP_COMP_REC_F_RAW) {
		memcpy(rx->out, payload, orig);
		dec = rx->dec[TCP_COMP_ALGO_LZ4][TCP_COMP_MODE_STREAM];
		if (dec)
			comp_algo_lz4.history(dec, rx->out, orig);
		return 0;
	}
	dec = comp_rx_decoder(rx, hdr->algo, stream);
	if (!dec)
		return -ENOMEM;
	return comp_algo_get(hdr->algo)->decode(dec, payload, wire, rx->out, orig);
}

/* Turns the parser's record into decoded bytes in rx->out. */
static int comp_rx_decode(struct sock *sk, struct comp_ctx *ctx)
{
	struct comp_rx *rx = ctx->rx;
	struct sk_buff *skb = rx->rec;
	struct strp_msg *rxm = strp_msg(skb);
	const struct tcp_comp_rec_hdr *hdr = (void *)rx->wire;
	u32 rec_len = rxm->full_len, orig, wire, hdr_len;
	int err;

	err = skb_copy_bits(skb, rxm->offset, rx->wire, rec_len);
	rx->rec = NULL;
	consume_skb(skb);
	if (err)
		return -EBADMSG;

	orig = be32_to_cpu(hdr->orig_len);
	wire = be32_to_cpu(hdr->wire_len);
	hdr_len = rec_len - wire;
	/* format 2: a damaged payload never reaches a decoder */
	if ((hdr->flags & TCP_COMP_REC_F_XXH3) &&
	    get_unaligned_be64(rx->wire + TCP_COMP_REC_HDR_LEN) !=
	    comp_rec_xxh3(hdr, rx->wire + hdr_len))
		return -EBADMSG;
	err = comp_rx_decode_payload(rx, hdr, rx->wire + hdr_len, wire, orig);
	if (err)
		return err == -ENOMEM ? err : -EBADMSG;
	if ((hdr->flags & TCP_COMP_REC_F_CHECKSUM) &&
	    get_unaligned_be32(rx->wire + TCP_COMP_REC_HDR_LEN) != xxh32(rx->out, orig, 0))
		return -EBADMSG;

	rx->out_off = 0;
	rx->out_len = orig;
	ctx->stats.rx_records++;
	ctx->stats.rx_bytes_in += rec_len;
	/* the parser cuts the next record from its work item once we drop
	 * the socket lock (__strp_unpause, the synchronous one, is gone by
	 * 7.2) */
	strp_unpause(&rx->strp);
	return 0;
}

static bool comp_rx_ready(const struct comp_rx *rx)
{
	return READ_ONCE(rx->rec) || READ_ONCE(rx->out_off) < READ_ONCE(rx->out_len) ||
	       READ_ONCE(rx->err);
}

bool comp_sock_is_readable(struct sock *sk)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);

	return ctx && ctx->rx && comp_rx_ready(ctx->rx);
}

/*
 * End of stream: FIN came and no record can come out of what is left.
 * tcp_inq() counts bytes, not the FIN's own skb; the parser leaves bytes
 * (and the FIN) queued while it waits for the rest of a record, and after
 * FIN that rest never comes (a record cut short is a protocol error).
 */
static bool comp_rx_eof(struct sock *sk, struct comp_rx *rx)
{
	int inq;

	if (!(READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) || READ_ONCE(rx->rec))
		return false;
	inq = tcp_inq(sk);
	return !inq || inq < READ_ONCE(rx->strp.need_bytes);
}

/*
 * TCP calls a socket readable as soon as any byte is queued, but bytes of
 * an incomplete record give recvmsg nothing to return: a level-triggered
 * event loop would spin on EAGAIN.  Only decoded or decodable data, end of
 * stream and errors make a compressed socket readable.
 */
__poll_t comp_poll(struct file *file, struct socket *sock, struct poll_table_struct *wait)
{
	__poll_t mask = tcp_poll(file, sock, wait);
	struct sock *sk = sock->sk;
	struct comp_ctx *ctx = comp_get_ctx(sk);

	if (!ctx || !ctx->rx || comp_rx_ready(ctx->rx) || READ_ONCE(sk->sk_err))
		return mask;
	/* after FIN, bytes still queued on TCP are records the parser has
	 * yet to cut: end of stream is not there yet */
	if (!comp_rx_eof(sk, ctx->rx))
		mask &= ~(EPOLLIN | EPOLLRDNORM);
	return mask;
}

static void comp_rx_wait(struct sock *sk, struct comp_ctx *ctx, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct comp_rx *rx = ctx->rx;

	add_wait_queue(sk_sleep(sk), &wait);
	sk_set_bit(SOCKWQ_ASYNC_WAITDATA, sk);
	sk_wait_event(sk, timeo, rx->rec || rx->err || sk->sk_err || comp_rx_eof(sk, rx),
		      &wait);
	sk_clear_bit(SOCKWQ_ASYNC_WAITDATA, sk);
	remove_wait_queue(sk_sleep(sk), &wait);
}

/* Copies decoded bytes; with MSG_PEEK only from the current record. */
static int comp_rx_copy(struct comp_ctx *ctx, struct msghdr *msg, size_t len, int flags)
{
	struct comp_rx *rx = ctx->rx;
	size_t n = min_t(size_t, len, rx->out_len - rx->out_off);

	if (copy_to_iter(rx->out + rx->out_off, n, &msg->msg_iter) != n)
		return -EFAULT;
	if (!(flags & MSG_PEEK)) {
		rx->out_off += n;
		ctx->stats.rx_bytes_out += n;
	}
	return n;
}

/* Why no more bytes can come now: 0 to wait, 1 for end of stream, -errno. */
static int comp_rx_stop_reason(struct sock *sk, struct comp_ctx *ctx, long timeo)
{
	struct comp_rx *rx = ctx->rx;

	if (rx->err)
		return rx->err;
	if (sk->sk_err)
		return -sock_error(sk);
	if (comp_rx_eof(sk, rx) && rx->strp.skb_head) {
		comp_rx_fail(sk, ctx, -EBADMSG);
		return -EBADMSG;
	}
	if (comp_rx_eof(sk, rx))
		return 1;
	if (!timeo)
		return -EAGAIN;
	if (signal_pending(current))
		return sock_intr_errno(timeo);
	return 0;
}

int comp_recvmsg(COMP_RECVMSG_PARAMS)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);
	struct comp_rx *rx = ctx->rx;
	size_t copied = 0;
	long timeo;
	int target, err = 0;

	if (!rx || (flags & MSG_ERRQUEUE))
		return ctx->sk_proto->recvmsg(COMP_RECVMSG_ARGS);
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;

	lock_sock(sk);
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	target = sock_rcvlowat(sk, flags & MSG_WAITALL, len);
	while (copied < len) {
		if (rx->out_off < rx->out_len) {
			err = comp_rx_copy(ctx, msg, len - copied, flags);
			if (err < 0)
				break;
			copied += err;
			err = 0;
			if (flags & MSG_PEEK)
				break;
			continue;
		}
		if (rx->rec && !rx->err) {
			err = comp_rx_decode(sk, ctx);
			if (err) {
				strp_stop(&rx->strp);
				comp_rx_fail(sk, ctx, err);
				break;
			}
			continue;
		}
		if (copied >= target)
			break;
		err = comp_rx_stop_reason(sk, ctx, timeo);
		if (err) {
			if (err == 1)
				err = 0;
			break;
		}
		comp_rx_wait(sk, ctx, &timeo);
	}
	release_sock(sk);
	if (copied)
		return copied;
	return err;
}

ssize_t comp_splice_read(struct socket *sock, loff_t *ppos, struct pipe_inode_info *pipe,
			 size_t len, unsigned int flags)
{
	struct comp_ctx *ctx = comp_get_ctx(sock->sk);

	/* TCP's splice would hand out records undecoded */
	if (ctx->rx)
		return -EOPNOTSUPP;
	/* TCP's own splice_read, not tcp_splice_read(): exported by 6.1,
	 * not by 6.12 */
	return ctx->sk_ops->splice_read(sock, ppos, pipe, len, flags);
}
