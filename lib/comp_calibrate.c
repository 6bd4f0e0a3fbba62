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

/* Enough CPU time per configuration that the clock's granularity does not
 * dominate, and enough passes that the fastest is a warm one; a pass is
 * one @len of data. */
#define CALIB_MIN_NS	3000000ULL
#define CALIB_MIN_PASSES 4
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

/* A sender and a receiver connection for @p over a socket pair. */
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

/* Bytes that match nothing of a sample: xorshift64's. */
static void fill_noise(uint8_t *buf, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)(x >> 32);
	}
}

/* @len bytes of noise through both sides first (@scratch: @len bytes):
 * a connection creates its contexts and touches its buffers once, not per
 * 64 KiB, and a fresh pair's first record pays for both (page faults:
 * malloc hands a pair's buffers back to the kernel when it is freed, so
 * every pair's are fresh).  Noise, because a stream's next record may
 * match its history: it finds nothing in it, as in the first record of a
 * connection. */
static int prime(struct calib_pair *cp, uint8_t *scratch, size_t len)
{
	int err;

	fill_noise(scratch, len);
	err = send_all(cp->tx, scratch, len);
	return err ? err : recv_all(cp->rx, scratch, len);
}

/* The CPU time of each side's fastest pass, and the CPU time of all. */
struct pass_times {
	uint64_t comp_ns, decomp_ns;	/* fastest pass */
	uint64_t total_ns;
};

static void pass_add(struct pass_times *t, uint64_t comp_ns, uint64_t decomp_ns)
{
	if (!t->comp_ns || comp_ns < t->comp_ns)
		t->comp_ns = comp_ns ?: 1;
	if (!t->decomp_ns || decomp_ns < t->decomp_ns)
		t->decomp_ns = decomp_ns ?: 1;
	t->total_ns += comp_ns + decomp_ns;
}

/* @buf through @cp once, timed into @t; sets *ratio. */
static int timed_pass(struct calib_pair *cp, const uint8_t *buf, size_t len, uint8_t *out,
		      struct pass_times *t, double *ratio)
{
	struct tcp_comp_stats st0, st;
	uint64_t t0, t1;
	int err;

	err = ebpfaccel_comp_conn__stats(cp->tx, &st0);
	if (err)
		return err;
	t0 = thread_cpu_ns();
	err = send_all(cp->tx, buf, len);
	t1 = thread_cpu_ns();
	if (!err)
		err = recv_all(cp->rx, out, len);
	pass_add(t, t1 - t0, thread_cpu_ns() - t1);
	if (!err && memcmp(out, buf, len))
		err = -EBADMSG;
	if (!err && !ebpfaccel_comp_conn__stats(cp->tx, &st) && st.tx_bytes_out > st0.tx_bytes_out)
		*ratio = (double)(st.tx_bytes_in - st0.tx_bytes_in) / (st.tx_bytes_out - st0.tx_bytes_out);
	return err;
}

/* Timed passes of @buf until some milliseconds of CPU and CALIB_MIN_PASSES
 * passes are spent (at most CALIB_MAX_PASSES).  A connection runs for
 * seconds on warm buffers and caches, so its speed is the fastest pass's:
 * on the loaded development machine single passes of the same
 * configuration differed by 3-5x (thread CPU time, not wall).
 *
 * Stream mode: a fresh pair per pass, primed with noise, so that the pass
 * never finds the previous one in its history.  Block mode keeps one pair,
 * as a long connection does (records do not see each other): fresh pairs
 * timed zstd-1 blocks of a 64 KiB sample at 105-145 MB/s where a
 * connection compressed the stream they came from at 365-700 MB/s.
 * Returns the passes done, or -errno. */
static int timed_passes(const struct tcp_comp_params *p, const uint8_t *buf, size_t len, uint8_t *out,
			struct pass_times *t, double *ratio)
{
	bool stream = p->mode == TCP_COMP_MODE_STREAM;
	struct calib_pair cp;
	bool open = false;
	int passes, err = 0;

	for (passes = 0; passes < CALIB_MAX_PASSES && (passes < CALIB_MIN_PASSES || t->total_ns < CALIB_MIN_NS);
	     passes++) {
		if (!open) {
			err = pair_open(&cp, p, len);
			if (err)
				return err;
			open = true;
			err = prime(&cp, out, len);
		}
		if (!err)
			err = timed_pass(&cp, buf, len, out, t, ratio);
		if (err || stream) {
			pair_close(&cp);
			open = false;
		}
		if (err)
			return err;
	}
	if (open)
		pair_close(&cp);
	return passes;
}

int ebpfaccel__comp_calibrate(const struct tcp_comp_params *p, const uint8_t *buf, size_t len,
			      struct ebpfaccel__comp_calibration *out)
{
	struct pass_times t = { 0 };
	uint64_t wall0, cpu0;
	double ratio = 0;
	uint8_t *scratch;
	int passes, err;

	if (!p || !buf || !len || !out)
		return -EINVAL;
	scratch = malloc(len);
	if (!scratch)
		return -ENOMEM;
	wall0 = clock_ns(CLOCK_MONOTONIC);
	cpu0 = thread_cpu_ns();
	passes = timed_passes(p, buf, len, scratch, &t, &ratio);
	err = passes < 0 ? passes : 0;
	out->cpu_ns = thread_cpu_ns() - cpu0;
	out->wall_ns = clock_ns(CLOCK_MONOTONIC) - wall0;
	free(scratch);
	if (err)
		return err;
	out->comp_speed = t.comp_ns ? (uint64_t)((double)len * 1e9 / t.comp_ns) : 0;
	out->decomp_speed = t.decomp_ns ? (uint64_t)((double)len * 1e9 / t.decomp_ns) : 0;
	out->ratio = ratio;
	return out->comp_speed && out->decomp_speed && ratio > 0 ? 0 : -EIO;
}

/* A long buffer goes through a pair in chunks of a block-mode record (the
 * engine's default in user space), one socket's worth: each chunk is one
 * record, as in a connection whose sender writes faster than the link
 * drains, not the 64 KiB records a smaller chunk would cut. */
#define STRETCH_CHUNK	(256 * 1024)

/* One chunk through @cp, each side's CPU time added to @t. */
static int stretch_chunk(struct calib_pair *cp, const uint8_t *buf, size_t n, uint8_t *out,
			 struct pass_times *t)
{
	uint64_t t0 = thread_cpu_ns(), t1;
	int err = send_all(cp->tx, buf, n);

	t1 = thread_cpu_ns();
	if (!err)
		err = recv_all(cp->rx, out, n);
	t->comp_ns += t1 - t0;
	t->decomp_ns += thread_cpu_ns() - t1;
	if (!err && memcmp(out, buf, n))
		err = -EBADMSG;
	return err;
}

/* @buf through @cp once, after one chunk of noise (prime()): the
 * contexts and buffers a connection sets up once are not timed, and the
 * stretch finds nothing of itself in the stream's history.  Sets *ratio
 * from the sender's counters over the stretch alone. */
static int stretch_pass(struct calib_pair *cp, const uint8_t *buf, size_t len, uint8_t *out,
			struct pass_times *t, double *ratio)
{
	struct tcp_comp_stats st0, st;
	int err = prime(cp, out, STRETCH_CHUNK) ?: ebpfaccel_comp_conn__stats(cp->tx, &st0);

	for (size_t off = 0; !err && off < len; off += STRETCH_CHUNK)
		err = stretch_chunk(cp, buf + off, len - off < STRETCH_CHUNK ? len - off : STRETCH_CHUNK,
				    out, t);
	err = err ?: ebpfaccel_comp_conn__stats(cp->tx, &st);
	if (!err && st.tx_bytes_out <= st0.tx_bytes_out)
		err = -EIO;
	if (!err)
		*ratio = (double)(st.tx_bytes_in - st0.tx_bytes_in) / (st.tx_bytes_out - st0.tx_bytes_out);
	return err;
}

int ebpfaccel__comp_engine_stretch(const struct tcp_comp_params *p, const uint8_t *buf, size_t len,
				   struct ebpfaccel__comp_calibration *out)
{
	struct pass_times t = { 0 };
	struct calib_pair cp;
	uint64_t wall0, cpu0;
	uint8_t *scratch;
	int err;

	if (!p || !buf || !len || !out)
		return -EINVAL;
	scratch = malloc(STRETCH_CHUNK);
	if (!scratch)
		return -ENOMEM;
	wall0 = clock_ns(CLOCK_MONOTONIC);
	cpu0 = thread_cpu_ns();
	err = pair_open(&cp, p, STRETCH_CHUNK);
	if (!err) {
		err = stretch_pass(&cp, buf, len, scratch, &t, &out->ratio);
		pair_close(&cp);
	}
	free(scratch);
	out->cpu_ns = thread_cpu_ns() - cpu0;
	out->wall_ns = clock_ns(CLOCK_MONOTONIC) - wall0;
	if (err)
		return err;
	out->comp_speed = (uint64_t)((double)len * 1e9 / (t.comp_ns ?: 1));
	out->decomp_speed = (uint64_t)((double)len * 1e9 / (t.decomp_ns ?: 1));
	return 0;
}
