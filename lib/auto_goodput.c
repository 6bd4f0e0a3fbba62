// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The goodput model of the auto policy (opts.choose): which compression
 * configuration delivers the most application bytes per second on a port.
 *
 * Sender and receiver work as a pipeline (one core each) in front of the
 * link, so a configuration c delivers
 *
 *	G(c) = min(s * C(c), s * D(c), L * R(c))
 *
 * C and D: the engine's compression and decompression speed on one core
 * of this machine, measured through its public API on the port's sample
 * in thread CPU time; s: the share of a core each end gets, the smaller of
 * what the measuring thread got and what the machine's load leaves a busy
 * thread (lib/cpu_load.c): a shared machine gives a connection's
 * compressor no more;
 * L: the link rate (payload bytes/s plain TCP delivers), the highest
 * delivered rate over a window of busy intervals, a busy run's first
 * interval left out (ebpfaccel__link_add()); R: the ratio c reaches on a
 * connection's stream.  Plain TCP delivers L.
 *
 * R is the engine's ratio of c on a contiguous stretch of the port's
 * stream when the probe delivered one (lib/auto_policy.c, take_stretch():
 * the candidates' ratio fields hold it and gain is 1).  Without one:
 *
 * The probe's sample is made of 256-byte pieces 64 KiB apart, which lose
 * the matches that span pieces: a stream compresses better than its
 * sample.  Only the compressible part gains, so R = 1 + (r - 1) * g(c),
 * with r the ratio on the sample.  How much a configuration makes of the
 * matches the sample lacks is its own: the distances between 256 bytes and
 * 64 KiB are where block records end and zstd's window outreaches lz4's.
 * So g(c) = 1 + (gain - 1) * e(c): gain is the port's for zstd-1 in stream
 * mode (measured from the engine's ratio of the configuration in force, or
 * the configured prior), e(c) the share of its extra a configuration gets
 * (stream_extra()).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ebpfaccel/comp.h"
#include "ebpfaccel/uapi.h"
#include "internal.h"
#include "traffic.h"

/* The link estimate forgets an old high with this half-life. */
#define LINK_HALF_LIFE_NS (10 * 1000000000ULL)
/* A link rate is the delivered rate over at least this much busy time: a
 * 100 ms interval's bytes jitter by a GSO packet (64 KiB is 5% of 100 ms
 * at 100 Mbit/s), and the estimate keeps the highest. */
#define LINK_WINDOW_NS	(400 * 1000000ULL)

const struct ebpfaccel_auto_candidate ebpfaccel__goodput_defaults[] = {
	{ .algo = TCP_COMP_ALGO_LZ4, .level = 0, .mode = TCP_COMP_MODE_BLOCK },
	{ .algo = TCP_COMP_ALGO_LZ4, .level = 0, .mode = TCP_COMP_MODE_STREAM },
	{ .algo = TCP_COMP_ALGO_ZSTD, .level = 1, .mode = TCP_COMP_MODE_BLOCK },
	{ .algo = TCP_COMP_ALGO_ZSTD, .level = 1, .mode = TCP_COMP_MODE_STREAM },
	{ .algo = TCP_COMP_ALGO_ZSTD, .level = 3, .mode = TCP_COMP_MODE_STREAM },
	{ .algo = TCP_COMP_ALGO_ZSTD, .level = 6, .mode = TCP_COMP_MODE_STREAM },
	{ .algo = TCP_COMP_ALGO_ZSTD, .level = 9, .mode = TCP_COMP_MODE_STREAM },
};
const size_t ebpfaccel__goodput_n_defaults =
	sizeof(ebpfaccel__goodput_defaults) / sizeof(ebpfaccel__goodput_defaults[0]);

bool ebpfaccel__candidate_given(const struct ebpfaccel_auto_candidate *c)
{
	return c->comp_speed && c->decomp_speed && c->ratio > 0;
}

/*
 * e(c): what a configuration makes of the stream's extra over the sample,
 * against zstd-1 in stream mode, the median over four corpora of 24-100 MiB
 * (a tar of /usr/include and /usr/share/doc, the benchmark's mixed corpus,
 * a tar of /usr/lib/python3, one of /usr/bin and its libraries) sent
 * through the engine whole and as the probe samples it (gain = (stream
 * ratio - 1) / (sample ratio - 1); zstd-1 stream's was 2.09-2.53):
 *
 *	lz4 block 0.82 (0.62-0.96)	lz4 stream 0.84 (0.63-1.00)
 *	zstd-1 block 0.91 (0.78-0.94)	zstd-3 block 0.84 (0.69-0.90)
 *	zstd-3 stream 1.11 (1.00-2.17)	zstd-6 stream 1.22 (1.08-2.56)
 *	zstd-9 stream 1.35 (1.20-2.89)
 *
 * On the sample the modes look alike (its 64 KiB are one record either
 * way) and the levels nearly so (zstd-1 2.87:1, zstd-9 3.26:1 on the
 * tar of headers whose stream they compress 5.7:1 and 13.3:1).  The high
 * ends are that tar: duplicate headers further apart than zstd-1's 512 KiB
 * window, which a sample of pieces 64 KiB apart cannot show.
 */
static double stream_extra(const struct ebpfaccel_auto_candidate *c)
{
	bool stream = c->mode == TCP_COMP_MODE_STREAM;

	if (c->algo == TCP_COMP_ALGO_LZ4)
		return stream ? 0.84 : 0.82;
	if (!stream)
		return c->level > 1 ? 0.84 : 0.91;
	if (c->level >= 8)
		return 1.35;
	if (c->level >= 5)
		return 1.22;
	return c->level >= 2 || c->level == 0 ? 1.11 : 1.0;	/* 0: zstd's default, 3 */
}

double ebpfaccel__candidate_gain(const struct ebpfaccel_auto_candidate *c, double gain)
{
	return 1 + (gain - 1) * stream_extra(c);
}

double ebpfaccel__stream_ratio(const struct ebpfaccel_auto_candidate *c, double gain)
{
	return c->ratio > 1 ? 1 + (c->ratio - 1) * ebpfaccel__candidate_gain(c, gain) : c->ratio;
}

double ebpfaccel__goodput_of(const struct ebpfaccel_auto_candidate *c, const struct ebpfaccel__goodput_env *env)
{
	double g = env->link * ebpfaccel__stream_ratio(c, env->gain);

	if (!ebpfaccel__candidate_given(c))
		return 0;
	g = fmin(g, env->share * (double)c->comp_speed);
	return fmin(g, env->share * (double)c->decomp_speed);
}

int ebpfaccel__goodput_best(const struct ebpfaccel_auto_candidate *c, size_t n,
			    const struct ebpfaccel__goodput_env *env, double *best)
{
	int idx = -1;

	*best = 0;
	for (size_t i = 0; i < n; i++) {
		double g = ebpfaccel__goodput_of(&c[i], env);

		if (g > *best) {
			*best = g;
			idx = (int)i;
		}
	}
	return idx;
}

static double link_decayed(const struct ebpfaccel__link_est *e, uint64_t now_ns)
{
	if (!e->at_ns || now_ns <= e->at_ns)
		return e->rate;
	return e->rate * exp2(-(double)(now_ns - e->at_ns) / LINK_HALF_LIFE_NS);
}

double ebpfaccel__link_of(const struct ebpfaccel__link_est *e, uint64_t now_ns)
{
	if (e->rate > 0)
		return link_decayed(e, now_ns);
	return e->last > 0 ? e->last : e->first;
}

void ebpfaccel__link_quiet(struct ebpfaccel__link_est *e)
{
	e->run = 0;
	e->win_bytes = 0;
	e->win_ns = 0;
}

/* A busy run's first interval carries what the queue let through at once
 * after the pause (tbf's bucket refills while the port is quiet: 256 KB on
 * top of 1.2 MB in 100 ms at 100 Mbit/s) and TCP's slow start: it says
 * nothing about the rate the link sustains, so it only stands in while
 * nothing else is known.  Later intervals fill windows of LINK_WINDOW_NS;
 * the highest window's rate, decaying, is the link. */
double ebpfaccel__link_add(struct ebpfaccel__link_est *e, double rate, uint64_t dur_ns, uint64_t now_ns)
{
	if (!(rate > 0))
		return ebpfaccel__link_of(e, now_ns);
	if (e->run++ == 0) {
		e->first = rate;
		return ebpfaccel__link_of(e, now_ns);
	}
	e->last = rate;
	e->win_bytes += rate * dur_ns / 1e9;
	e->win_ns += dur_ns;
	if (!dur_ns || e->win_ns >= LINK_WINDOW_NS) {
		double w = e->win_ns ? e->win_bytes * 1e9 / e->win_ns : rate;

		e->rate = fmax(link_decayed(e, now_ns), w);
		e->at_ns = now_ns;
		e->win_bytes = 0;
		e->win_ns = 0;
	}
	return ebpfaccel__link_of(e, now_ns);
}

double ebpfaccel__measured_gain(const struct ebpfaccel_auto_candidate *c, double engine_ratio)
{
	/* Too little compression on the sample to say how much more the
	 * stream gets: no measure. */
	if (c->ratio < 1.05 || engine_ratio <= 0)
		return 0;
	/* @c's own gain, then the port's for zstd-1 stream that it implies. */
	return fmin(fmax(1 + ((engine_ratio - 1) / (c->ratio - 1) - 1) / stream_extra(c), 0.5), 20);
}

/* The share of a core the thread got while measuring: a connection's
 * compressor gets no more of its CPU-time speed per second. */
double ebpfaccel__cpu_share(uint64_t cpu_ns, uint64_t wall_ns)
{
	if (!cpu_ns || !wall_ns)
		return 1;
	return fmax(fmin((double)cpu_ns / wall_ns, 1), 0.01);
}

int ebpfaccel__goodput_measure(struct ebpfaccel_auto_candidate *c, size_t n,
			       const struct tcp_comp_params *tmpl, const uint8_t *buf, size_t len,
			       double *share)
{
	struct ebpfaccel__comp_calibration cal[EBPFACCEL__MAX_CANDIDATES];
	uint64_t cpu_ns = 0, wall_ns = 0;
	bool ok[EBPFACCEL__MAX_CANDIDATES] = { false };
	int measured = 0;

	for (size_t i = 0; i < n && i < EBPFACCEL__MAX_CANDIDATES; i++) {
		struct tcp_comp_params p = *tmpl;
		int err;

		if (ebpfaccel__candidate_given(&c[i]))
			continue;
		p.algo = c[i].algo;
		p.level = c[i].level;
		p.mode = c[i].mode;
		err = ebpfaccel__comp_calibrate(&p, buf, len, &cal[i]);
		if (err) {
			pr_warn("auto policy: calibrating %s level %d failed: %s\n",
				c[i].algo == TCP_COMP_ALGO_LZ4 ? "lz4" : "zstd", c[i].level, strerror(-err));
			continue;
		}
		cpu_ns += cal[i].cpu_ns;
		wall_ns += cal[i].wall_ns;
		ok[i] = true;
		measured++;
	}
	*share = ebpfaccel__cpu_share(cpu_ns, wall_ns);
	for (size_t i = 0; i < n && i < EBPFACCEL__MAX_CANDIDATES; i++) {
		if (!ok[i])
			continue;
		c[i].comp_speed = cal[i].comp_speed;
		c[i].decomp_speed = cal[i].decomp_speed;
		c[i].ratio = cal[i].ratio;
	}
	if (measured)
		pr_info("auto policy: measured with %.0f%% of a core\n", 100 * *share);
	return measured ? measured : -EIO;
}

int ebpfaccel__stretch_add(struct ebpfaccel__stretch_sum *sum, const struct tcp_comp_params *p,
			   const uint8_t *buf, size_t len)
{
	struct ebpfaccel__comp_calibration cal;
	int err = ebpfaccel__comp_engine_stretch(p, buf, len, &cal);

	if (err)
		return err;
	sum->in += len;
	sum->out += len / cal.ratio;
	sum->comp_ns += len * 1e9 / cal.comp_speed;
	sum->decomp_ns += len * 1e9 / cal.decomp_speed;
	sum->cpu_ns += cal.cpu_ns;
	sum->wall_ns += cal.wall_ns;
	return 0;
}

void ebpfaccel__stretch_figures(const struct ebpfaccel__stretch_sum *sum, struct ebpfaccel_auto_candidate *c)
{
	if (!(sum->in > 0 && sum->out > 0 && sum->comp_ns > 0 && sum->decomp_ns > 0))
		return;
	c->ratio = sum->in / sum->out;
	c->comp_speed = (uint64_t)(sum->in * 1e9 / sum->comp_ns);
	c->decomp_speed = (uint64_t)(sum->in * 1e9 / sum->decomp_ns);
}

double ebpfaccel__stretch_share(const struct ebpfaccel__stretch_sum *sum, size_t n, double dflt)
{
	uint64_t cpu_ns = 0, wall_ns = 0;

	for (size_t i = 0; i < n; i++) {
		cpu_ns += sum[i].cpu_ns;
		wall_ns += sum[i].wall_ns;
	}
	return wall_ns ? ebpfaccel__cpu_share(cpu_ns, wall_ns) : dflt;
}
