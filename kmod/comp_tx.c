// SPDX-License-Identifier: GPL-2.0
/*
 * tcp_comp transmit path: application bytes gather in an open record of up
 * to record_size bytes; a full record, or the end of a write without
 * MSG_MORE, is sealed (compressed, header prepended) and queued on TCP.
 * Only one sealed record waits at a time, which bounds the memory.
 */
#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/xxhash.h>
#include <net/tcp.h>

#include "comp.h"

static void comp_tx_work(struct work_struct *work);

int comp_tx_enable(struct sock *sk, struct comp_ctx *ctx, const struct tcp_comp_params *p)
{
	const struct comp_algo *algo = comp_algo_get(p->algo);
	u32 record_size = p->record_size ?: TCP_COMP_DEFAULT_RECORD;
	struct comp_tx *tx;
	u32 payload_cap;

	tx = kzalloc(sizeof(*tx), GFP_KERNEL);
	if (!tx)
		return -ENOMEM;
	tx->ctx = ctx;
	tx->params = *p;
	tx->algo = algo;
	tx->record_size = record_size;
	payload_cap = algo ? max(algo->bound(record_size), record_size) : record_size;
	tx->wire_cap = COMP_HDR_MAX + payload_cap;
	tx->plain = kvmalloc(record_size, GFP_KERNEL);
	tx->wire = kvmalloc(tx->wire_cap, GFP_KERNEL);
	if (!tx->plain || !tx->wire)
		goto err_free;
	if (algo) {
		tx->enc = algo->enc_new(p->level, p->mode == TCP_COMP_MODE_STREAM, record_size);
		if (!tx->enc)
			goto err_free;
	}
	mutex_init(&tx->lock);
	INIT_WORK(&tx->work, comp_tx_work);
	ctx->tx = tx;

	write_lock_bh(&sk->sk_callback_lock);
	sk->sk_write_space = comp_write_space;
	write_unlock_bh(&sk->sk_callback_lock);
	return 0;

err_free:
	kvfree(tx->wire);
	kvfree(tx->plain);
	kfree(tx);
	return -ENOMEM;
}

void comp_tx_free(struct comp_ctx *ctx)
{
	struct comp_tx *tx = ctx->tx;

	if (!tx)
		return;
	if (tx->enc)
		tx->algo->free(tx->enc);
	kvfree(tx->wire);
	kvfree(tx->plain);
	kfree(tx);
	ctx->tx = NULL;
}

/* Tries the algorithm; returns the payload length and sets *flags. */
static int comp_tx_encode(struct comp_tx *tx, u8 *payload, u8 *algo_id, u8 *flags)
{
	bool stream = tx->params.mode == TCP_COMP_MODE_STREAM;
	u32 cap;
	int n;

	*flags = stream ? TCP_COMP_REC_F_STREAM : 0;
	if (tx->algo) {
		/* a stream whose context cannot be rewound (zstd) must always
		 * send what the encoder produced; everything else goes raw
		 * unless it shrinks */
		cap = stream && !tx->algo->history ? tx->wire_cap - COMP_HDR_MAX
						    : tx->plain_len - 1;
		/* even a 1-byte record goes through the encoder: an LZ4
		 * stream's history must hold it like the receiver's will */
		n = tx->algo->encode(tx->enc, tx->plain, tx->plain_len, payload, cap);
		if (n < 0)
			return n;
		if (n > 0) {
			*algo_id = tx->algo->id;
			return n;
		}
	}
	*algo_id = TCP_COMP_ALGO_NONE;
	*flags |= TCP_COMP_REC_F_RAW;
	memcpy(payload, tx->plain, tx->plain_len);
	return tx->plain_len;
}

/* Which check follows the header: format 2's XXH3 on every record, else
 * format 1's optional XXH32. */
static u8 comp_tx_check_flag(const struct comp_tx *tx)
{
	if (tx->params.version == TCP_COMP_VERSION_2)
		return TCP_COMP_REC_F_XXH3;
	return tx->params.flags & TCP_COMP_F_CHECKSUM ? TCP_COMP_REC_F_CHECKSUM : 0;
}

static int comp_tx_seal(struct comp_ctx *ctx)
{
	struct comp_tx *tx = ctx->tx;
	u8 check = comp_tx_check_flag(tx);
	u32 hdr_len = TCP_COMP_REC_HDR_LEN + comp_check_len(check);
	struct tcp_comp_rec_hdr *hdr = (void *)tx->wire;
	u8 *check_at = tx->wire + TCP_COMP_REC_HDR_LEN;
	u8 algo_id, flags;
	int n;

	n = comp_tx_encode(tx, tx->wire + hdr_len, &algo_id, &flags);
	if (n < 0) {
		/* the record is lost and a stream context with it */
		WRITE_ONCE(ctx->sk->sk_err, -n);
		sk_error_report(ctx->sk);
		return n;
	}
	hdr->magic = TCP_COMP_REC_MAGIC;
	hdr->type = TCP_COMP_REC_DATA;
	hdr->algo = algo_id;
	hdr->flags = flags | check;
	hdr->orig_len = cpu_to_be32(tx->plain_len);
	hdr->wire_len = cpu_to_be32(n);
	/* format 2 hashes the payload as it travels (and the header through
	 * the seed); format 1 the original bytes */
	if (check & TCP_COMP_REC_F_XXH3)
		put_unaligned_be64(comp_rec_xxh3(hdr, tx->wire + hdr_len), check_at);
	else if (check & TCP_COMP_REC_F_CHECKSUM)
		put_unaligned_be32(xxh32(tx->plain, tx->plain_len, 0), check_at);

	tx->pend_off = 0;
	tx->pend_len = hdr_len + n;
	tx->plain_len = 0;
	ctx->stats.tx_records++;
	ctx->stats.tx_raw_records += !!(flags & TCP_COMP_REC_F_RAW);
	ctx->stats.tx_bytes_out += tx->pend_len;
	return 0;
}

/* Queues the sealed record on TCP; 0 once all of it is there. */
static int comp_tx_push(struct sock *sk, struct comp_ctx *ctx, int flags)
{
	struct comp_tx *tx = ctx->tx;
	/* SIGPIPE is raised once, by the caller, for the application's write */
	struct msghdr msg = { .msg_flags = (flags & MSG_DONTWAIT) | MSG_NOSIGNAL };
	struct kvec iov;
	int n;

	while (tx->pend_len) {
		iov.iov_base = tx->wire + tx->pend_off;
		iov.iov_len = tx->pend_len;
		iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, &iov, 1, iov.iov_len);
		n = tcp_sendmsg_locked(sk, &msg, iov.iov_len);
		if (n <= 0)
			return n ?: -EAGAIN;
		tx->pend_off += n;
		tx->pend_len -= n;
	}
	return 0;
}

/* Queues the sealed record, then seals and queues the open one unless the
 * application asked to keep it open. */
static int comp_tx_flush(struct sock *sk, struct comp_ctx *ctx, int flags)
{
	struct comp_tx *tx = ctx->tx;
	int err;

	err = comp_tx_push(sk, ctx, flags);
	if (err || tx->more || !tx->plain_len)
		return err;
	err = comp_tx_seal(ctx);
	return err ?: comp_tx_push(sk, ctx, flags);
}

/* Moves bytes from iter into records; returns bytes accepted or -errno. */
static int comp_tx_write(struct sock *sk, struct comp_ctx *ctx, struct iov_iter *iter,
			 int flags, bool more)
{
	struct comp_tx *tx = ctx->tx;
	size_t copied = 0;
	int err = 0;

	while (iov_iter_count(iter)) {
		size_t n;

		if (tx->pend_len) {
			err = comp_tx_push(sk, ctx, flags);
			if (err)
				break;
		}
		n = min_t(size_t, iov_iter_count(iter), tx->record_size - tx->plain_len);
		if (copy_from_iter(tx->plain + tx->plain_len, n, iter) != n) {
			err = -EFAULT;
			break;
		}
		tx->plain_len += n;
		copied += n;
		if (tx->plain_len == tx->record_size) {
			err = comp_tx_seal(ctx);
			if (err)
				break;
		}
	}
	tx->more = more;
	if (!err)
		err = comp_tx_flush(sk, ctx, flags);

	ctx->stats.tx_bytes_in += copied;
	if (copied)
		return copied;
	return err;
}

static int comp_tx_errors(struct sock *sk)
{
	if (sk->sk_err)
		return -sock_error(sk);
	if (sk->sk_shutdown & SEND_SHUTDOWN)
		return -EPIPE;
	return 0;
}

static int comp_tx_sigpipe(int err, int flags)
{
	if (err == -EPIPE && !(flags & MSG_NOSIGNAL))
		send_sig(SIGPIPE, current, 0);
	return err;
}

/*
 * write(), send() and, from 6.5 on, sendfile() and splice(): those come with
 * MSG_SPLICE_PAGES and the file's pages in a bvec iterator.  The pages are
 * copied into the open record like any other bytes (the compressor reads
 * them anyway; nothing keeps a reference), MSG_MORE says more follow, and
 * the end of the transfer arrives as splice_eof.
 */
int comp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);
	int err;

	if (!ctx->tx)
		return ctx->sk_proto->sendmsg(sk, msg, size);
	if (msg->msg_flags & (MSG_OOB | MSG_FASTOPEN))
		return -EOPNOTSUPP;

	mutex_lock(&ctx->tx->lock);
	lock_sock(sk);
	err = comp_tx_errors(sk);
	if (!err)
		err = comp_tx_write(sk, ctx, &msg->msg_iter, msg->msg_flags,
				    msg->msg_flags & MSG_MORE);
	release_sock(sk);
	mutex_unlock(&ctx->tx->lock);
	return comp_tx_sigpipe(err, msg->msg_flags);
}

#ifdef COMP_HAVE_SENDPAGE
/* sendfile() and splice() up to 6.4 */
int comp_sendpage(struct sock *sk, struct page *page, int offset, size_t size, int flags)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);
	struct bio_vec bvec = { .bv_page = page, .bv_offset = offset, .bv_len = size };
	struct iov_iter iter;
	int err;

	if (!ctx->tx)
		return ctx->sk_proto->sendpage(sk, page, offset, size, flags);
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;

	iov_iter_bvec(&iter, ITER_SOURCE, &bvec, 1, size);
	mutex_lock(&ctx->tx->lock);
	lock_sock(sk);
	err = comp_tx_errors(sk);
	if (!err)
		err = comp_tx_write(sk, ctx, &iter, flags,
				    flags & (MSG_MORE | MSG_SENDPAGE_NOTLAST));
	release_sock(sk);
	mutex_unlock(&ctx->tx->lock);
	return comp_tx_sigpipe(err, flags);
}
#endif

/* splice told us no more pages follow: seal the open record */
void comp_splice_eof(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct comp_ctx *ctx = comp_get_ctx(sk);
	struct iov_iter empty;
	int flags = 0;

	if (!ctx->tx) {
		if (ctx->sk_proto->splice_eof)
			ctx->sk_proto->splice_eof(sock);
		return;
	}
	/* blocks like the writes before it unless the file is non-blocking */
	if (sock->file && (sock->file->f_flags & O_NONBLOCK))
		flags = MSG_DONTWAIT;
	iov_iter_kvec(&empty, ITER_SOURCE, NULL, 0, 0);
	mutex_lock(&ctx->tx->lock);
	lock_sock(sk);
	comp_tx_write(sk, ctx, &empty, flags, false);
	release_sock(sk);
	mutex_unlock(&ctx->tx->lock);
}

static void comp_tx_work(struct work_struct *work)
{
	struct comp_tx *tx = container_of(work, struct comp_tx, work);
	struct comp_ctx *ctx = tx->ctx;	/* comp_close cancels us before freeing it */
	struct sock *sk = ctx->sk;
	struct iov_iter empty;

	iov_iter_kvec(&empty, ITER_SOURCE, NULL, 0, 0);
	mutex_lock(&tx->lock);
	lock_sock(sk);
	if (!ctx->closing && !comp_tx_errors(sk))
		comp_tx_write(sk, ctx, &empty, MSG_DONTWAIT, tx->more);
	release_sock(sk);
	mutex_unlock(&tx->lock);
}

void comp_write_space(struct sock *sk)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);

	if (ctx->tx->pend_len || (ctx->tx->plain_len && !ctx->tx->more))
		schedule_work(&ctx->tx->work);
	ctx->saved_write_space(sk);
}

/*
 * Plain TCP's close() and shutdown() neither block nor drop what write()
 * accepted (MSG_MORE data included).  The records we still hold get the
 * same treatment: the send buffer grows by their size so TCP takes them at
 * once, ahead of the FIN.
 */
void comp_tx_flush_final(struct sock *sk, struct comp_ctx *ctx)
{
	struct tcp_sock *tp = tcp_sk(sk);
	u32 lowat = READ_ONCE(tp->notsent_lowat);
	struct comp_tx *tx = ctx->tx;
	struct iov_iter empty;
	u32 held = tx->pend_len + (tx->plain_len ? tx->wire_cap : 0);

	lockdep_assert_held(&tx->lock);
	if (!held || comp_tx_errors(sk))
		return;
	/* TCP lets sk_wmem_queued overshoot sk_sndbuf: grow from the larger */
	WRITE_ONCE(sk->sk_sndbuf, max(sk->sk_sndbuf, READ_ONCE(sk->sk_wmem_queued)) + 2 * held);
	/* TCP_NOTSENT_LOWAT (the socket's, else the sysctl's) refuses new data
	 * while that much is unsent, however large the buffer: lifted for this
	 * write, or the rest of a record half queued is lost and the peer
	 * reads a record cut short at the FIN */
	WRITE_ONCE(tp->notsent_lowat, UINT_MAX);
	iov_iter_kvec(&empty, ITER_SOURCE, NULL, 0, 0);
	comp_tx_write(sk, ctx, &empty, MSG_DONTWAIT | MSG_NOSIGNAL, false);
	WRITE_ONCE(tp->notsent_lowat, lowat);
}
