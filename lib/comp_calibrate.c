// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The engine's speed and ratio on a piece of data, measured through its
 * public connection API (ebpfaccel_comp_conn__*) over a local socket pair:
 * the figures include what a real connection pays (record framing, copies,
 * the socket calls), not only the compression library's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ebpfaccel/comp.h"
#include "ebpfaccel/uapi.h"
#include "internal.h"
#include "traffic.h"

/* Enough CPU time per configuration that the clock's granularity and a
 * cold cache do not dominate; a pass is one @len of data. */
#define CALIB_MIN_NS	3000000ULL
#define CALIB_MAX_PASSES 32

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

struct calib_pair {
	int fd[2];
	struct ebpfaccel_comp_conn *tx, *rx;
};

static void pair_close(struct calib_pair *cp)
{
	ebpfaccel_comp_conn__free(cp->tx);
	ebpfaccel_comp_conn__free(cp->rx);
	close(cp->fd[0]);
	close(cp->fd[1]);
}

/* A sender and a receiver connection for @p: a fresh pair per pass, so
 * that stream mode never finds the previous pass in its history. */
static int pair_open(struct calib_pair *cp, const struct tcp_comp_params *p, size_t len)
{
	const struct tcp_comp_params none = { .version = TCP_COMP_VERSION };
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, txo, .tx = p, .rx = &none, .no_kernel = true);
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, rxo, .tx = &none, .rx = p, .no_kernel = true);
	int buf = (int)(2 * len + 65536);

	memset(cp, 0, sizeof(*cp));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cp->fd))
		return -errno;
	/* One pass fits in the socket: the sender never waits for the receiver. */
	setsockopt(cp->fd[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(cp->fd[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	cp->tx = ebpfaccel_comp_conn__new(cp->fd[0], &txo);
	cp->rx = cp->tx ? ebpfaccel_comp_conn__new(cp->fd[1], &rxo) : NULL;
	if (!cp->rx) {
		int err = -errno;

		pair_close(cp);
		return err;
	}
	return 0;
}

static int recv_all(struct ebpfaccel_comp_conn *c, uint8_t *dst, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = ebpfaccel_comp_conn__recv(c, dst + got, len - got);

		if (n <= 0)
			return n ? (int)n : -EPIPE;
		got += n;
	}
	return 0;
}

static int send_all(struct ebpfaccel_comp_conn *c, const uint8_t *buf, size_t len)
{
	ssize_t n = ebpfaccel_comp_conn__send(c, buf, len);

	if (n != (ssize_t)len)
		return n < 0 ? (int)n : -EIO;
	return ebpfaccel_comp_conn__flush(c);
}

/* One record of one byte through both sides first: contexts are created
 * on first use, and a connection pays that once, not per 64 KiB. */
static int prime(struct calib_pair *cp)
{
	uint8_t b = 'x';
	int err = send_all(cp->tx, &b, 1);

	return err ? err : recv_all(cp->rx, &b, 1);
}

/* One pass: @buf through a fresh pair; adds the CPU time of each side. */
static int one_pass(const struct tcp_comp_params *p, const uint8_t *buf, size_t len, uint8_t *out,
		    uint64_t *comp_ns, uint64_t *decomp_ns, double *ratio)
{
	struct tcp_comp_stats st0, st;
	struct calib_pair cp;
	uint64_t t0, t1;
	int err;

	err = pair_open(&cp, p, len);
	if (!err)
		err = prime(&cp) ?: ebpfaccel_comp_conn__stats(cp.tx, &st0);
	if (err) {
		pair_close(&cp);
		return err;
	}
	t0 = thread_cpu_ns();
	err = send_all(cp.tx, buf, len);
	t1 = thread_cpu_ns();
	if (!err)
		err = recv_all(cp.rx, out, len);
	*comp_ns += t1 - t0;
	*decomp_ns += thread_cpu_ns() - t1;
	if (!err && memcmp(out, buf, len))
		err = -EBADMSG;
	if (!err && !ebpfaccel_comp_conn__stats(cp.tx, &st) && st.tx_bytes_out > st0.tx_bytes_out)
		*ratio = (double)(st.tx_bytes_in - st0.tx_bytes_in) / (st.tx_bytes_out - st0.tx_bytes_out);
	pair_close(&cp);
	return err;
}

int ebpfaccel__comp_calibrate(const struct tcp_comp_params *p, const uint8_t *buf, size_t len,
			      struct ebpfaccel__comp_calibration *out)
{
	uint64_t comp_ns = 0, decomp_ns = 0, wall0, cpu0;
	double ratio = 0;
	uint8_t *scratch;
	int passes, err = 0;

	if (!p || !buf || !len || !out)
		return -EINVAL;
	scratch = malloc(len);
	if (!scratch)
		return -ENOMEM;
	wall0 = clock_ns(CLOCK_MONOTONIC);
	cpu0 = thread_cpu_ns();
	for (passes = 0; passes < CALIB_MAX_PASSES && !err &&
			 (comp_ns < CALIB_MIN_NS || decomp_ns < CALIB_MIN_NS / 4); passes++)
		err = one_pass(p, buf, len, scratch, &comp_ns, &decomp_ns, &ratio);
	out->cpu_ns = thread_cpu_ns() - cpu0;
	out->wall_ns = clock_ns(CLOCK_MONOTONIC) - wall0;
	free(scratch);
	if (err)
		return err;
	out->comp_speed = comp_ns ? (uint64_t)((double)len * passes * 1e9 / comp_ns) : 0;
	out->decomp_speed = decomp_ns ? (uint64_t)((double)len * passes * 1e9 / decomp_ns) : 0;
	out->ratio = ratio;
	return out->comp_speed && out->decomp_speed && ratio > 0 ? 0 : -EIO;
}
