// SPDX-License-Identifier: GPL-2.0
/*
 * tcp_comp: ULP registration, protocol overrides and socket options.
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/sockptr.h>
#include <net/tcp.h>
#include <net/inet_common.h>

#include "comp.h"

enum { COMP_IPV4, COMP_IPV6, COMP_NUM_IP };

static struct proto comp_prots[COMP_NUM_IP] __read_mostly;
static struct proto_ops comp_proto_ops[COMP_NUM_IP] __read_mostly;
/* tcpv6_prot is not exported: the IPv6 overrides are built from the first
 * IPv6 socket that asks for the ULP. */
static const struct proto *comp_base_v6 __read_mostly;
static DEFINE_MUTEX(comp_v6_mutex);

/*
 * The newest record format this module speaks.  The library reads it from
 * /sys/module/tcp_comp/parameters/max_format to decide which format to
 * offer in the handshake where this module will carry the data; loading
 * with max_format=1 makes the host behave like one from before format 2.
 */
static unsigned int max_format = TCP_COMP_VERSION_2;
module_param(max_format, uint, 0444);
MODULE_PARM_DESC(max_format, "newest record format spoken and announced (1 or 2, default 2)");

const struct comp_algo *comp_algo_get(u8 id)
{
	switch (id) {
	case TCP_COMP_ALGO_ZSTD:
		return &comp_algo_zstd;
	case TCP_COMP_ALGO_LZ4:
		return &comp_algo_lz4;
	default:
		return NULL;
	}
}

int comp_params_check(const struct tcp_comp_params *p)
{
	const struct comp_algo *algo;

	if (p->version < TCP_COMP_VERSION_1 || p->version > max_format)
		return -EINVAL;
	if (p->algo >= __TCP_COMP_ALGO_MAX || p->mode >= __TCP_COMP_MODE_MAX)
		return -EINVAL;
	/* F_CHECKSUM is format 1's optional check; format 2 checks every
	 * record anyway and accepts it, as the user-space engine does */
	if (p->flags & ~TCP_COMP_F_CHECKSUM)
		return -EINVAL;
	if (p->record_size > TCP_COMP_MAX_RECORD)
		return -EINVAL;
	algo = comp_algo_get(p->algo);
	if (algo)
		return algo->check_level(p->level);
	return p->level ? -EINVAL : 0;
}

static int comp_setsockopt_params(struct sock *sk, int optname, sockptr_t optval,
				  unsigned int optlen)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);
	struct tcp_comp_params p;
	int err;

	if (optlen != sizeof(p))
		return -EINVAL;
	if (copy_from_sockptr(&p, optval, sizeof(p)))
		return -EFAULT;
	err = comp_params_check(&p);
	if (err)
		return err;

	lock_sock(sk);
	if (optname == TCP_COMP_TX)
		err = ctx->tx ? -EBUSY : comp_tx_enable(sk, ctx, &p);
	else
		err = ctx->rx ? -EBUSY : comp_rx_enable(sk, ctx, &p);
	release_sock(sk);
	return err;
}

static int comp_setsockopt(struct sock *sk, int level, int optname, sockptr_t optval,
			   unsigned int optlen)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);

	if (level != SOL_TCP_COMP)
		return ctx->sk_proto->setsockopt(sk, level, optname, optval, optlen);

	switch (optname) {
	case TCP_COMP_TX:
	case TCP_COMP_RX:
		return comp_setsockopt_params(sk, optname, optval, optlen);
	default:
		return -ENOPROTOOPT;
	}
}

static int comp_copy_out(const void *val, unsigned int size, char __user *optval,
			 int __user *optlen)
{
	int len;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0 || (unsigned int)len < size)
		return -EINVAL;
	if (put_user(size, optlen))
		return -EFAULT;
	if (copy_to_user(optval, val, size))
		return -EFAULT;
	return 0;
}

static int comp_getsockopt(struct sock *sk, int level, int optname, char __user *optval,
			   int __user *optlen)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);
	struct tcp_comp_params p = {};
	struct tcp_comp_stats st;

	if (level != SOL_TCP_COMP)
		return ctx->sk_proto->getsockopt(sk, level, optname, optval, optlen);

	lock_sock(sk);
	switch (optname) {
	case TCP_COMP_TX:
		if (ctx->tx)
			p = ctx->tx->params;
		break;
	case TCP_COMP_RX:
		if (ctx->rx)
			p = ctx->rx->params;
		break;
	case TCP_COMP_STATS:
		st = ctx->stats;
		break;
	default:
		release_sock(sk);
		return -ENOPROTOOPT;
	}
	release_sock(sk);

	if (optname == TCP_COMP_STATS)
		return comp_copy_out(&st, sizeof(st), optval, optlen);
	/* version 0 tells the caller the direction is not switched on */
	return comp_copy_out(&p, sizeof(p), optval, optlen);
}

static void comp_ctx_free(struct comp_ctx *ctx)
{
	comp_tx_free(ctx);
	comp_rx_free(ctx);
	kfree(ctx);
}

static void comp_close(struct sock *sk, long timeout)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);
	struct proto *base = ctx->sk_proto;

	if (ctx->tx)
		mutex_lock(&ctx->tx->lock);
	lock_sock(sk);
	ctx->closing = true;
	if (ctx->tx)
		comp_tx_flush_final(sk, ctx);
	if (ctx->rx)
		comp_rx_stop(ctx);

	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, NULL);
	WRITE_ONCE(sk->sk_prot, base);
	sk->sk_data_ready = ctx->saved_data_ready;
	sk->sk_write_space = ctx->saved_write_space;
	write_unlock_bh(&sk->sk_callback_lock);
	release_sock(sk);
	if (ctx->tx)
		mutex_unlock(&ctx->tx->lock);

	/* the tx work and the parser's work take the socket lock: wait for
	 * them only after dropping it */
	if (ctx->tx)
		cancel_work_sync(&ctx->tx->work);
	if (ctx->rx)
		strp_done(&ctx->rx->strp);
	comp_ctx_free(ctx);
	base->close(sk, timeout);
}

/*
 * inet_shutdown() holds the socket lock and has already set SEND_SHUTDOWN,
 * which makes TCP refuse new data: the records we hold (MSG_MORE data, a
 * record a non-blocking write left) are queued with it lifted, the way TCP
 * itself still sends what it queued before the call.
 */
static void comp_shutdown(struct sock *sk, int how)
{
	struct comp_ctx *ctx = comp_get_ctx(sk);
	u8 shut = sk->sk_shutdown;

	/* a writer of another thread sleeping in TCP owns the records and
	 * sends them itself; the mutex comes before the socket lock, which
	 * is held here, so it is only tried */
	if (ctx->tx && (how & SEND_SHUTDOWN) && mutex_trylock(&ctx->tx->lock)) {
		WRITE_ONCE(sk->sk_shutdown, shut & ~SEND_SHUTDOWN);
		comp_tx_flush_final(sk, ctx);
		WRITE_ONCE(sk->sk_shutdown, shut);
		mutex_unlock(&ctx->tx->lock);
	}
	ctx->sk_proto->shutdown(sk, how);
}

static void comp_build_proto(struct proto *prot, struct proto_ops *ops,
			     const struct proto *base, const struct proto_ops *base_ops)
{
	*prot = *base;
	prot->setsockopt = comp_setsockopt;
	prot->getsockopt = comp_getsockopt;
	prot->close = comp_close;
	prot->shutdown = comp_shutdown;
	prot->sendmsg = comp_sendmsg;
#ifdef COMP_HAVE_SENDPAGE
	prot->sendpage = comp_sendpage;
#endif
	prot->splice_eof = comp_splice_eof;
	prot->recvmsg = comp_recvmsg;
	prot->sock_is_readable = comp_sock_is_readable;

	*ops = *base_ops;
	ops->splice_read = comp_splice_read;
	ops->poll = comp_poll;
}

static int comp_select_proto(struct sock *sk)
{
	const struct proto *v6;

	if (sk->sk_family == AF_INET)
		return sk->sk_prot == &tcp_prot ? COMP_IPV4 : -EOPNOTSUPP;
	if (sk->sk_family != AF_INET6)
		return -EOPNOTSUPP;

	v6 = smp_load_acquire(&comp_base_v6);
	if (likely(v6))
		return sk->sk_prot == v6 ? COMP_IPV6 : -EOPNOTSUPP;

	mutex_lock(&comp_v6_mutex);
	if (!comp_base_v6) {
		comp_build_proto(&comp_prots[COMP_IPV6], &comp_proto_ops[COMP_IPV6],
				 sk->sk_prot, sk->sk_socket->ops);
		smp_store_release(&comp_base_v6, sk->sk_prot);
	}
	mutex_unlock(&comp_v6_mutex);
	return sk->sk_prot == comp_base_v6 ? COMP_IPV6 : -EOPNOTSUPP;
}

static int comp_init(struct sock *sk)
{
	struct comp_ctx *ctx;
	int ip;

	/* records need both ends: only connected sockets, and nothing that
	 * other layers (sockmap, another ULP) already replaced */
	if (sk->sk_state != TCP_ESTABLISHED || !sk->sk_socket)
		return -ENOTCONN;
	ip = comp_select_proto(sk);
	if (ip < 0)
		return ip;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->sk = sk;
	ctx->sk_proto = sk->sk_prot;
	ctx->sk_ops = sk->sk_socket->ops;
	ctx->saved_data_ready = sk->sk_data_ready;
	ctx->saved_write_space = sk->sk_write_space;

	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, ctx);
	WRITE_ONCE(sk->sk_prot, &comp_prots[ip]);
	sk->sk_socket->ops = &comp_proto_ops[ip];
	write_unlock_bh(&sk->sk_callback_lock);
	return 0;
}

/* No .release: every socket that got the ULP is a user's socket, whose
 * close() runs comp_close() before TCP destroys it, and destruction may
 * happen in a timer where the parser could not be waited for. */
static struct tcp_ulp_ops comp_ulp_ops __read_mostly = {
	.name		= TCP_COMP_ULP_NAME,
	.owner		= THIS_MODULE,
	.init		= comp_init,
};

static int __init tcp_comp_init(void)
{
	if (max_format < TCP_COMP_VERSION_1 || max_format > TCP_COMP_VERSION_2)
		return -EINVAL;
	comp_build_proto(&comp_prots[COMP_IPV4], &comp_proto_ops[COMP_IPV4],
			 &tcp_prot, &inet_stream_ops);
	return tcp_register_ulp(&comp_ulp_ops);
}

static void __exit tcp_comp_exit(void)
{
	tcp_unregister_ulp(&comp_ulp_ops);
}

module_init(tcp_comp_init);
module_exit(tcp_comp_exit);

MODULE_DESCRIPTION("TCP compression upper layer protocol (libebpfaccel record format)");
MODULE_LICENSE("GPL");
MODULE_ALIAS_TCP_ULP("comp");
