// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Compressed connection over a TCP socket: the tcp_comp kernel ULP when it
 * loads, else the same record format (include/ebpfaccel/uapi.h) in user
 * space: the codec (comp_codec.c) over this socket's bytes.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "comp_codec.h"
#include "internal.h"
#include "ebpfaccel/ebpfaccel.h"

#define REC_HDR_MAX	(TCP_COMP_REC_HDR_LEN + TCP_COMP_REC_XXH3_LEN)

struct comp_tx {
	struct comp_encoder enc;
	char *buf;		/* one encoded record waiting for the socket */
	size_t cap, pos, len;
};

struct comp_rx {
	struct comp_decoder dec;
	char *buf;		/* received bytes: [start, end) */
	size_t cap, start, end;
	bool eof;
};

struct ebpfaccel_comp_conn {
	int fd;
	bool kernel;
	int err;		/* sticky connection error (-errno) */
	struct tcp_comp_params txp, rxp;
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
/* ---- transmit ---------------------------------------------------------- */

static int tx_init(struct comp_tx *tx, const struct tcp_comp_params *p)
{
	int err;

	if (!dir_on(p))
		return 0;
	err = comp_encoder__init(&tx->enc, p);
	if (err)
		return err;
	tx->cap = comp_encoder__max_record(&tx->enc);
	tx->buf = malloc(tx->cap);
	return tx->buf ? 0 : -ENOMEM;
}

static void tx_fini(struct comp_tx *tx)
{
	comp_encoder__fini(&tx->enc);
	free(tx->buf);
}

static int encode_record(struct ebpfaccel_comp_conn *c, const void *src, size_t n)
{
	struct comp_tx *tx = &c->tx;
	ssize_t len = comp_encoder__record(&tx->enc, src, n, tx->buf, &c->stats);

	if (len < 0) {
		pr_warn("comp: encoding a %zu byte record failed\n", n);
		return len;
	}
	tx->pos = 0;
	tx->len = len;
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
	size_t done = 0, rec = comp_record_size(&c->txp);
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
	ssize_t ret;
	int err;

	if (!c || (!buf && len))
		return -EINVAL;
	if (c->err)
		return c->err;
	if (c->kernel || !dir_on(&c->txp))
		return send_plain(c, buf, len);
	err = ebpfaccel_comp_conn__flush(c);
	if (err)
		return err;
	comp_encoder__begin(&c->tx.enc, len);
	ret = send_records(c, buf, len);
	comp_encoder__end(&c->tx.enc);
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
	if (c->kernel || !dir_on(&c->txp)) {
		ssize_t n = sendfile(c->fd, in_fd, offset, count);

		if (n < 0)
			return -errno;
		c->stats.tx_bytes_in += n;
		c->stats.tx_bytes_out += n;
		return n;
	}
	chunk = comp_record_size(&c->txp);
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

static int rx_init(struct comp_rx *rx, const struct tcp_comp_params *p)
{
	if (!dir_on(p))
		return 0;
	/* Two of the module's default records, or one of the engine's
	 * 128 KiB stream records even when raw; grows (up to the
	 * TCP_COMP_MAX_* bounds) only when the peer sends larger ones, as the
	 * engine's 256 KiB block records. */
	rx->cap = 2 * (REC_HDR_MAX + TCP_COMP_DEFAULT_RECORD + TCP_COMP_DEFAULT_RECORD / 128);
	rx->buf = malloc(rx->cap);
	if (!rx->buf)
		return -ENOMEM;
	return comp_decoder__init(&rx->dec, p);
}

static void rx_fini(struct comp_rx *rx)
{
	comp_decoder__fini(&rx->dec);
	free(rx->buf);
}

/* Makes room for a record of @need bytes starting at rx->start. */
static int rx_compact(struct comp_rx *rx, size_t need)
{
	if (rx->start + need <= rx->cap)
		return 0;
	memmove(rx->buf, rx->buf + rx->start, rx->end - rx->start);
	rx->end -= rx->start;
	rx->start = 0;
	return comp_grow(&rx->buf, &rx->cap, need);
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

/* The decoder's verdict on the stream, logged once. */
static int rx_failed(struct ebpfaccel_comp_conn *c, int err)
{
	if (c->rx.dec.why)
		pr_warn("comp: rejecting record: %s\n", c->rx.dec.why);
	return fail(c, err);
}

/* Consumes @n received bytes. */
static void rx_consume(struct comp_rx *rx, size_t n)
{
	rx->start += n;
	if (rx->start == rx->end)
		rx->start = rx->end = 0;
}

/*
 * Decodes into @buf every whole record already received that fits, waiting
 * only for the first.  Bytes, 0 at the end, or -errno; an error after some
 * bytes is returned by the next call.
 */
static ssize_t rx_decode_into(struct ebpfaccel_comp_conn *c, char *buf, size_t len)
{
	struct comp_rx *rx = &c->rx;
	struct comp_rec r;
	size_t used, need;
	ssize_t n;
	int ret;

	for (;;) {
		n = comp_decoder__decode(&rx->dec, rx->buf + rx->start, rx->end - rx->start, &used,
					 buf, len, &c->stats);
		rx_consume(rx, used);
		if (rx->dec.err)
			rx_failed(c, rx->dec.err);
		if (n)
			return n;
		/* Not a whole record yet: wait for the rest of it. */
		comp_decoder__peek(&rx->dec, rx->buf + rx->start, rx->end - rx->start, &r, &need);
		ret = rx_compact(rx, need);
		if (!ret)
			ret = rx_fill(c);
		if (!ret && rx->end == rx->start) {
			rx->eof = true;
			return 0;
		}
		if (!ret) {
			pr_warn("comp: rejecting record: connection closed inside a record\n");
			c->stats.rx_errors++;
			return fail(c, -EBADMSG);
		}
		if (ret < 0) {
			if (ret != -EAGAIN)
				c->stats.rx_errors++;
			return fail(c, ret);
		}
	}
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
	if (c->kernel || !dir_on(&c->rxp))
		return recv_plain(c, buf, len);
	rx = &c->rx;
	if (comp_decoder__pending(&rx->dec))
		return comp_decoder__copy_out(&rx->dec, buf, len);
	if (!len || rx->eof)
		return 0;
	return rx_decode_into(c, buf, len);
}

EBPFACCEL_API bool ebpfaccel_comp_conn__rx_pending(const struct ebpfaccel_comp_conn *c)
{
	const struct comp_rx *rx;
	struct comp_rec r;
	size_t need;

	if (!c || c->kernel || !dir_on(&c->rxp))
		return false;
	rx = &c->rx;
	if (c->err || comp_decoder__pending(&rx->dec))
		return true;
	/* A bad header is "ready" too: recv() reports it without waiting. */
	return comp_decoder__peek(&rx->dec, rx->buf + rx->start, rx->end - rx->start, &r, &need);
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

	if (dir_on(&c->txp) && c->txp.version > need)
		need = c->txp.version;
	if (dir_on(&c->rxp) && c->rxp.version > need)
		need = c->rxp.version;
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
	if (dir_on(&c->txp) &&
	    setsockopt(c->fd, SOL_TCP_COMP, TCP_COMP_TX, &c->txp, sizeof(c->txp)))
		return -errno;
	if (dir_on(&c->rxp) &&
	    setsockopt(c->fd, SOL_TCP_COMP, TCP_COMP_RX, &c->rxp, sizeof(c->rxp)))
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
	err = resolve_params(fd, opts, &c->txp, &c->rxp);
	if (err)
		goto err_out;
	if ((dir_on(&c->txp) || dir_on(&c->rxp)) && !OPTS_GET(opts, no_kernel, false)) {
		err = try_kernel(c);
		if (err < 0) {
			pr_warn("comp: configuring the kernel ULP failed: %s\n", strerror(-err));
			goto err_out;
		}
		c->kernel = !err;
	}
	if (c->kernel)
		return c;
	err = tx_init(&c->tx, &c->txp);
	if (!err)
		err = rx_init(&c->rx, &c->rxp);
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
		*tx = c->txp;
	if (rx)
		*rx = c->rxp;
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
