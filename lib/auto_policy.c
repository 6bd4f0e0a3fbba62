// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The auto compression policy: judges each server port's traffic interval
 * by interval and turns compression on only where it pays.
 *
 * Order of the checks, each a reason to stay off:
 *   1. too little traffic to judge: nothing changes;
 *   2. small one-way runs (request/response ping-pong): round trips bound
 *      the exchange, compressing only adds latency;
 *   3. the sampled payload does not compress;
 *   4. the rate is above what one core compresses per second: compressing
 *      would make the transfer slower, not faster.
 * What passes all four is bulk compressible traffic: on.  Entering and
 * leaving "on" use different ratio and rate thresholds, and a decision flips
 * only after opts.hold consecutive intervals ask for it.
 *
 * The probe sees the wire: once a compressing engine is in the path, the
 * payload it samples is compressed records, so while a port is on, the ratio
 * the engine reports (ebpfaccel_auto_policy__set_engine_ratio()) stands in
 * for the sample.
 */
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebpfaccel/comp.h"
#include "ebpfaccel/uapi.h"
#include "internal.h"
#include "traffic.h"

#define NPORTS		65536
/* Leave "off" for rate only below this share of the compressor's speed. */
#define RATE_ON_SHARE	0.8
/* A port's compressor speed is measured again when its sample's ratio has
 * moved by more than this share: speed follows the data (zstd runs several
 * times faster on very redundant data than on text). */
#define SPEED_RATIO_DRIFT 0.25
/* ... but not more often than this per port: a sample's ratio can swing on
 * every update (iperf3's repeated random buffer: 1.3:1 to 18:1), and each
 * measurement costs 20 ms of CPU. */
#define SPEED_MIN_GAP_NS (2 * 1000000000ULL)
/* choose: a port's candidates are measured again on new data at most this
 * often (a measurement of all of them costs about 0.1-0.2 s of CPU). */
#define MEASURE_MIN_GAP_NS (5 * 1000000000ULL)
/* choose: candidates are measured on a sample of at least this many bytes
 * (or a full one, if the probe holds less): with the probe's default of a
 * 256-byte piece per 64 KiB that is 8 MiB of traffic.  The first pieces
 * describe a connection's first megabyte, not its stream: a corpus that
 * starts with JSON logs sampled 3.6:1 for lz4 after one 100 ms interval,
 * where the whole stream compresses 2:1. */
#define MEASURE_MIN_SAMPLE 32768
/* choose: how long a port's flip to on waits for the contiguous stretch
 * its measurement asked the probe for (2 MiB: 0.2 s at 100 Mbit/s) before
 * the figures so far decide (a connection that ended, a port whose
 * flows are shorter than a stretch). */
#define STRETCH_WAIT_NS (2 * 1000000000ULL)
/* choose: the candidates' figures are the engine's over this many
 * stretches of the port's stream, each asked for STRETCH_GAP_NS or more
 * after the last was (in the update that takes it, if that is later), so
 * at places of the stream far apart.  A stream's data changes over tens
 * of MiB, and with it what a configuration makes of it: zstd-3 stream
 * compresses the benchmark's text (a tar of /usr/include and
 * /usr/share/doc) 30-300:1 and 3x faster from 16 to 58 MiB, where a second
 * copy of headers lies within its 2 MiB window, and mostly 4-7:1
 * elsewhere (10.7:1 over the 100 MiB), while zstd-1 (512 KiB window) and
 * lz4 read there what they read over the whole (5.4:1 / 3.5:1).  One stretch at 14 MiB gave zstd-3
 * 13.9:1 at 650-780 MB/s, and the 1 Gbit/s link's decision took it over
 * lz4 block, where zstd-3's transfers of the whole corpus ran at 340-370
 * MB/s and lz4's at 450-500.  One stretch of the mixed corpus, which
 * cycles through 1 MiB of JSON logs, HTML and compressed files, holds two
 * of the three (zstd-1/3 stream compressed 2 MiB stretches of it
 * 1.90/1.89:1 at one place and 2.18/3.04:1 at another, where the whole
 * stream compresses 2.65/2.82:1).  The figures are sums over the
 * stretches (bytes over CPU time), so the slow places weigh as much as
 * they cost the sender.  Each stretch's measurement leaves its interval
 * out of the link estimate without cutting the busy run (learn()). */
#define STRETCHES	4
#define STRETCH_GAP_NS	(250 * 1000000ULL)
/* choose: ... but a flip to "on" waits for them no longer than this after
 * the first was asked for: then the stretches so far decide, and the rest
 * still come while the port stays off.  At 10 Gbit/s, comp_link's warm-up
 * (0.6 s transfers, 0.3 s pauses) took 7 transfers to collect four, and
 * once more than its limit of 12.  Meanwhile every interval is judged on
 * the figures so far and counts towards opts.hold (settle()): a flow of
 * 3 s at 200 Mbit/s (test_traffic_cli.sh) ended with the decision still
 * off when intervals only counted once the fourth stretch was in. */
#define STRETCHES_WAIT_NS (3 * 1000000000ULL)
/* choose: turning on needs this much more goodput than plain TCP, and
 * leaving a configuration in force for another at once (after hold
 * intervals) needs this much more than it delivers: a single estimate
 * this close may be noise. */
#define ON_GAIN		1.10
#define SWITCH_GAIN	1.10
/* choose: ... or this much more in every one of SWITCH_PERSIST judgements
 * in a row: the estimates move (the link's, the share of a core) by more
 * than this from one interval to the next, but not all the same way for a
 * second.  A choice 3-10 % short of the best stayed for good before
 * (comp_link: zstd-3 stream kept where zstd-1 stream was 12 % better). */
#define SWITCH_CLOSE	1.03
#define SWITCH_PERSIST	10
#define OFF		(-1)
#define NOT_APPLIED	(-2)

struct port_state {
	bool have_baseline;
	double engine_ratio;		/* 0: unknown, use the probe's sample */
	uint64_t comp_speed;		/* measured on this port's sample; 0 not yet */
	double speed_ratio;		/* the sample's ratio when it was measured */
	uint64_t speed_at_ns;		/* CLOCK_MONOTONIC of that measurement */
	/* Candidates: the configured algorithm (one), or those weighed by
	 * the goodput model (opts.choose), with this port's figures. */
	struct ebpfaccel_auto_candidate cand[EBPFACCEL__MAX_CANDIDATES];
	bool measured;			/* choose: figures measured on a sample */
	uint64_t stretch_asked_ns;	/* a stretch is awaited since; 0 none */
	uint64_t stretch_next_ns;	/* the next one is asked for then; 0 none */
	uint64_t stretch_sent_ns;	/* the probe was last asked then */
	uint64_t stretches_asked_ns;	/* the first of them was asked for then */
	uint64_t stretch_broken;	/* the probe's broken stretches when asked */
	bool contiguous;		/* ratios are a stretch's, not the pieces' */
	unsigned int stretches;		/* stretches measured since the pieces */
	struct ebpfaccel__stretch_sum sum[EBPFACCEL__MAX_CANDIDATES]; /* over them */
	double measured_ratio;		/* the sample's ratio then */
	uint64_t measured_at_ns;
	double link;			/* link estimate, payload bytes/s */
	struct ebpfaccel__link_est lk;	/* what it is made of */
	bool link_skip;			/* the next interval spans a measurement */
	double gain;			/* measured stream gain; 0 unknown */
	double measured_share;		/* of a core, while measuring; 1 before */
	double share;			/* the share judged with last */
	int cur;			/* candidate in force, OFF */
	unsigned int beaten;		/* judgements in a row another beat cur by SWITCH_CLOSE */
	int latest_want;		/* what the latest judged interval asked for */
	int applied;			/* candidate last applied, OFF, NOT_APPLIED */
	uint64_t payload[2];		/* cumulative counters at the last update */
	uint64_t turns;
	uint64_t age_ns;
	struct ebpfaccel_auto_decision d;
};

struct ebpfaccel_auto_policy {
	struct ebpfaccel_traffic_probe *probe;
	struct ebpfaccel_auto_policy_opts o;	/* defaults filled in */
	struct ebpfaccel_comp_rule_opts comp_rule; /* template of the rules written */
	uint64_t comp_speed;			/* configured, or the last measured */
	struct ebpfaccel__cpu_share cpu;	/* what the machine leaves a busy thread */
	struct ebpfaccel_auto_candidate cand[EBPFACCEL__MAX_CANDIDATES];
	size_t n_cand;
	struct port_state *ports[NPORTS];
};

static const char *const reason_names[__EBPFACCEL_AUTO_REASON_MAX] = {
	[EBPFACCEL_AUTO_NO_DATA]		= "no-data",
	[EBPFACCEL_AUTO_BULK_COMPRESSIBLE]	= "bulk-compressible",
	[EBPFACCEL_AUTO_INCOMPRESSIBLE]		= "incompressible",
	[EBPFACCEL_AUTO_LATENCY_BOUND]		= "latency-bound",
	[EBPFACCEL_AUTO_RATE_ABOVE_COMP_SPEED]	= "rate-above-comp-speed",
};

static const char *algo_name(int algo)
{
	return algo == TCP_COMP_ALGO_LZ4 ? "lz4" : "zstd";
}

EBPFACCEL_API const char *ebpfaccel_auto_reason__name(enum ebpfaccel_auto_reason reason)
{
	if ((unsigned int)reason >= __EBPFACCEL_AUTO_REASON_MAX)
		return ebpfaccel__err_ptr(-EINVAL);
	return reason_names[reason];
}

/* The caller's rule template, read as far as its sz says (as opts are). */
static int copy_comp_rule(struct ebpfaccel_comp_rule_opts *dst, const struct ebpfaccel_comp_rule_opts *src)
{
	*dst = (struct ebpfaccel_comp_rule_opts){ .sz = sizeof(*dst) };
	if (!src)
		return 0;
	if (!OPTS_VALID(src, ebpfaccel_comp_rule_opts))
		return -EINVAL;
	memcpy(dst, src, src->sz < sizeof(*dst) ? src->sz : sizeof(*dst));
	dst->sz = sizeof(*dst);
	return 0;
}

static bool candidate_valid(const struct ebpfaccel_auto_candidate *c)
{
	return (c->algo == TCP_COMP_ALGO_ZSTD || c->algo == TCP_COMP_ALGO_LZ4) &&
	       (c->mode == TCP_COMP_MODE_BLOCK || c->mode == TCP_COMP_MODE_STREAM) &&
	       isfinite(c->ratio) && c->ratio >= 0;
}

/* The configurations a port weighs: the caller's or the defaults with
 * opts.choose, else the configured algorithm in the template's mode. */
static int set_candidates(struct ebpfaccel_auto_policy *ap, const struct ebpfaccel_auto_candidate *c,
			  size_t n)
{
	if (!ap->o.choose) {
		ap->cand[0] = (struct ebpfaccel_auto_candidate){ .algo = ap->o.algo, .level = ap->o.level,
								 .mode = ap->comp_rule.mode };
		ap->n_cand = 1;
		return 0;
	}
	if (!c) {
		c = ebpfaccel__goodput_defaults;
		n = ebpfaccel__goodput_n_defaults;
	}
	if (!n || n > EBPFACCEL__MAX_CANDIDATES)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!candidate_valid(&c[i]))
			return -EINVAL;
	memcpy(ap->cand, c, n * sizeof(*c));
	ap->n_cand = n;
	return 0;
}

EBPFACCEL_API struct ebpfaccel_auto_policy *
ebpfaccel_auto_policy__new(struct ebpfaccel_traffic_probe *probe,
			   const struct ebpfaccel_auto_policy_opts *opts)
{
	struct ebpfaccel_auto_policy *ap;

	if (!OPTS_VALID(opts, ebpfaccel_auto_policy_opts))
		return ebpfaccel__err_ptr(-EINVAL);
	ap = calloc(1, sizeof(*ap));
	if (!ap)
		return ebpfaccel__err_ptr(-ENOMEM);
	ap->probe = probe;
	ap->o = (struct ebpfaccel_auto_policy_opts) {
		.sz = sizeof(ap->o),
		.algo = OPTS_GET(opts, algo, 0) ?: TCP_COMP_ALGO_ZSTD,
		.level = OPTS_GET(opts, level, 0) ?: 1,
		.comp_speed = OPTS_GET(opts, comp_speed, 0),
		.on_ratio = OPTS_GET(opts, on_ratio, 0) ?: 1.5,
		.off_ratio = OPTS_GET(opts, off_ratio, 0) ?: 1.2,
		.min_run_bytes = OPTS_GET(opts, min_run_bytes, 0) ?: 32768,
		.min_bytes = OPTS_GET(opts, min_bytes, 0) ?: 65536,
		.hold = OPTS_GET(opts, hold, 0) ?: 3,
		.apply = OPTS_GET(opts, apply, NULL),
		.apply_ctx = OPTS_GET(opts, apply_ctx, NULL),
		.comp_policy = OPTS_GET(opts, comp_policy, NULL),
		.choose = OPTS_GET(opts, choose, false),
		.stream_gain = OPTS_GET(opts, stream_gain, 0) ?: 2.2,
		.link_rate = OPTS_GET(opts, link_rate, 0),
		.cpu_share = OPTS_GET(opts, cpu_share, 0),
	};
	if (copy_comp_rule(&ap->comp_rule, OPTS_GET(opts, comp_rule, NULL))) {
		free(ap);
		return ebpfaccel__err_ptr(-EINVAL);
	}
	ap->comp_speed = ap->o.comp_speed;
	if ((ap->o.algo != TCP_COMP_ALGO_ZSTD && ap->o.algo != TCP_COMP_ALGO_LZ4) ||
	    ap->o.on_ratio < ap->o.off_ratio || ap->o.off_ratio < 1.0 ||
	    !isfinite(ap->o.stream_gain) || ap->o.stream_gain < 1.0 ||
	    !(ap->o.cpu_share >= 0 && ap->o.cpu_share <= 1) ||
	    set_candidates(ap, OPTS_GET(opts, candidates, NULL), OPTS_GET(opts, n_candidates, 0))) {
		pr_warn("auto policy: bad options (algo %d, on_ratio %.2f, off_ratio %.2f, "
			"stream_gain %.2f, cpu_share %.2f, %zu candidates)\n", ap->o.algo, ap->o.on_ratio,
			ap->o.off_ratio, ap->o.stream_gain, ap->o.cpu_share,
			(size_t)OPTS_GET(opts, n_candidates, 0));
		free(ap);
		return ebpfaccel__err_ptr(-EINVAL);
	}
	return ap;
}

EBPFACCEL_API void ebpfaccel_auto_policy__free(struct ebpfaccel_auto_policy *policy)
{
	if (!policy)
		return;
	for (size_t i = 0; i < NPORTS; i++)
		free(policy->ports[i]);
	free(policy);
}

EBPFACCEL_API uint64_t ebpfaccel_auto_policy__comp_speed(const struct ebpfaccel_auto_policy *policy)
{
	return policy ? policy->comp_speed : 0;
}

static struct port_state *port_get(struct ebpfaccel_auto_policy *ap, uint16_t port)
{
	struct port_state *ps = ap->ports[port];

	if (ps)
		return ps;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return NULL;
	ps->d.port = port;
	ps->cur = ps->latest_want = OFF;
	ps->applied = NOT_APPLIED;
	ps->measured_share = ps->share = 1;
	memcpy(ps->cand, ap->cand, sizeof(ps->cand));
	ps->d.reason = ps->d.latest = EBPFACCEL_AUTO_NO_DATA;
	snprintf(ps->d.text, sizeof(ps->d.text), "no traffic judged yet");
	ap->ports[port] = ps;
	return ps;
}

/* The compressor's speed on this port's data: configured, or measured on
 * the port's sample once it is worth compressing (random data would time
 * the compressor's shortcut for incompressible input, not its real work),
 * and again when the data has changed.  Only the probe's own sample of
 * uncompressed traffic will do, not the wire of a port already on. */
static void refresh_speed(struct ebpfaccel_auto_policy *ap, struct port_state *ps, uint16_t port,
			  const struct ebpfaccel_auto_sample *s)
{
	uint8_t *buf;
	size_t len;
	int64_t speed;

	if (ap->o.comp_speed || !ap->probe || s->entropy < 0 || s->sample_ratio < ap->o.off_ratio ||
	    s->payload_bytes[0] + s->payload_bytes[1] < ap->o.min_bytes)
		return;
	if (ps->comp_speed && (fabs(s->sample_ratio - ps->speed_ratio) <= SPEED_RATIO_DRIFT * ps->speed_ratio ||
			       ebpfaccel__monotonic_ns() - ps->speed_at_ns < SPEED_MIN_GAP_NS))
		return;
	if (ebpfaccel__traffic_probe_sample(ap->probe, port, ps->d.busy_dir, &buf, &len))
		return;
	speed = ebpfaccel__comp_speed(ap->o.algo, ap->o.level, buf, len);
	free(buf);
	if (speed <= 0)
		return;
	ps->comp_speed = ap->comp_speed = speed;
	ps->speed_ratio = s->sample_ratio;
	ps->speed_at_ns = ebpfaccel__monotonic_ns();
	pr_info("auto policy: %s level %d compresses %.1f MB/s on port %u's sample (%.2f:1)\n",
		algo_name(ap->o.algo), ap->o.level, speed / 1e6, port, s->sample_ratio);
}

static uint64_t speed_of(const struct ebpfaccel_auto_policy *ap, const struct port_state *ps)
{
	return ap->o.comp_speed ? ap->o.comp_speed : ps->comp_speed;
}

static enum ebpfaccel_auto_reason judge(struct ebpfaccel_auto_policy *ap, struct port_state *ps,
					const struct ebpfaccel_auto_sample *s, char *text, size_t len)
{
	bool on = ps->cur != OFF;
	uint64_t total = s->payload_bytes[0] + s->payload_bytes[1];
	uint64_t run = total / (s->turns + 1);
	double ratio_needed = on ? ap->o.off_ratio : ap->o.on_ratio;
	uint64_t speed = speed_of(ap, ps);
	double rate_limit = speed * (on ? 1.0 : RATE_ON_SHARE);

	if (total < ap->o.min_bytes) {
		snprintf(text, len, "too little traffic to judge: %llu payload bytes", (unsigned long long)total);
		return EBPFACCEL_AUTO_NO_DATA;
	}
	if (run < ap->o.min_run_bytes) {
		snprintf(text, len, "request/response: %llu bytes per one-way run over %llu turns",
			 (unsigned long long)run, (unsigned long long)s->turns);
		return EBPFACCEL_AUTO_LATENCY_BOUND;
	}
	if (s->sample_ratio <= 0) {
		snprintf(text, len, "no payload sample yet");
		return EBPFACCEL_AUTO_NO_DATA;
	}
	if (s->sample_ratio < ratio_needed) {
		/* Without entropy the ratio came from the engine, not a sample. */
		if (s->entropy >= 0)
			snprintf(text, len, "sampled payload compresses %.2f:1 (< %.2f), entropy %.2f bits/byte",
				 s->sample_ratio, ratio_needed, s->entropy);
		else
			snprintf(text, len, "data compresses %.2f:1 (< %.2f)", s->sample_ratio, ratio_needed);
		return EBPFACCEL_AUTO_INCOMPRESSIBLE;
	}
	if (speed && s->rate >= rate_limit) {
		snprintf(text, len, "rate %.1f MB/s is above %.0f%% of %s-%d speed %.1f MB/s",
			 s->rate / 1e6, 100.0 * rate_limit / speed, algo_name(ap->o.algo),
			 ap->o.level, speed / 1e6);
		return EBPFACCEL_AUTO_RATE_ABOVE_COMP_SPEED;
	}
	snprintf(text, len, "bulk runs of %llu bytes compress %.2f:1 at %.1f MB/s (%s-%d: %s)",
		 (unsigned long long)run, s->sample_ratio, s->rate / 1e6, algo_name(ap->o.algo),
		 ap->o.level, speed ? "fast enough" : "speed unknown");
	return EBPFACCEL_AUTO_BULK_COMPRESSIBLE;
}

/* choose: asks the probe for a stretch of the port's busier direction;
 * @since is when the decision started waiting for it.  False if the probe
 * cannot take the request. */
static bool ask_for_stretch(struct ebpfaccel_auto_policy *ap, struct port_state *ps, uint16_t port,
			    uint64_t since)
{
	ps->stretch_broken = ebpfaccel__traffic_probe_stretches_broken(ap->probe);
	if (ebpfaccel__traffic_probe_want_stretch(ap->probe, port, ps->d.busy_dir))
		return false;
	ps->stretch_asked_ns = since;
	ps->stretch_sent_ns = ebpfaccel__monotonic_ns();
	return true;
}

/* choose: measures the port's candidates on its sample of plain traffic,
 * when there are none yet or the data changed.  While the port is on, the
 * wire carries records and the figures measured before stay. */
static void measure_candidates(struct ebpfaccel_auto_policy *ap, struct port_state *ps, uint16_t port,
			       const struct ebpfaccel_auto_sample *s)
{
	struct tcp_comp_params tmpl = {
		.version = TCP_COMP_VERSION,
		.record_size = ap->comp_rule.record_size,
		.flags = ap->comp_rule.flags,
	};
	uint64_t now = ebpfaccel__monotonic_ns();
	uint8_t *buf;
	size_t len;

	if (!ap->probe || ps->cur != OFF || s->entropy < 0 || s->sample_ratio <= 0)
		return;
	if (ps->measured && (fabs(s->sample_ratio - ps->measured_ratio) <= SPEED_RATIO_DRIFT * ps->measured_ratio ||
			     now - ps->measured_at_ns < MEASURE_MIN_GAP_NS))
		return;
	if (ebpfaccel__traffic_probe_sample(ap->probe, port, ps->d.busy_dir, &buf, &len))
		return;
	if (len < MEASURE_MIN_SAMPLE && len < ebpfaccel__traffic_probe_window(ap->probe)) {
		free(buf);
		return;
	}
	memcpy(ps->cand, ap->cand, sizeof(ps->cand));
	if (ebpfaccel__goodput_measure(ps->cand, ap->n_cand, &tmpl, buf, len, &ps->measured_share) > 0) {
		ps->measured = true;
		ps->contiguous = false;
		ps->stretches = 0;
		ps->stretch_next_ns = 0;
		memset(ps->sum, 0, sizeof(ps->sum));
		if (!ask_for_stretch(ap, ps, port, now))
			ps->stretch_asked_ns = 0;
		ps->stretches_asked_ns = now;
		ps->measured_ratio = s->sample_ratio;
		ps->measured_at_ns = now;
		/* The next interval spans this measurement, which took
		 * 0.1-0.5 s of a CPU the port's traffic needs too: what it
		 * delivers meanwhile is no link rate (comp_link at 10 Gbit/s
		 * took a 90 MB/s link from it where plain carried 320). */
		ps->link_skip = true;
		pr_info("auto policy: port %u: %zu configurations measured on %zu sampled bytes (%.2f:1)\n",
			port, ap->n_cand, len, s->sample_ratio);
	}
	free(buf);
}

/* choose: a stretch the probe's programs ended short (a retransmission
 * or gap in the flow that took it, a full ring) will never complete:
 * asked for again at once, within the same STRETCH_WAIT_NS. */
static void retry_stretch(struct ebpfaccel_auto_policy *ap, struct port_state *ps, uint16_t port)
{
	if (ps->stretch_asked_ns && ps->cur == OFF &&
	    ebpfaccel__traffic_probe_stretches_broken(ap->probe) != ps->stretch_broken &&
	    !ask_for_stretch(ap, ps, port, ps->stretch_asked_ns))
		ps->stretch_asked_ns = 0;
}

/* choose: once the probe hands over a stretch of the port's stream that
 * its measurement asked for, every candidate's figures are the engine's on
 * the stretches so far (STRETCHES, asked for one after another), in the
 * candidate's mode with one connection: the ratio this data reaches with
 * each configuration, not the pieces' scaled by a table, and the speed at
 * which it compresses and decodes it.  The pieces' speeds were the
 * sample's, 64 KiB that stay in the cache and whose matches are all short:
 * on the benchmark's text they put lz4 at 1.3 GB/s and zstd-1 stream at
 * 310-630 MB/s where 2 MiB stretches of it ran at 610-690 and 430-530, as
 * the transfers over the 1 Gbit/s link did.  The share of a core is the
 * stretches' measurement's, too (the longer one). */
static void take_stretch(struct ebpfaccel_auto_policy *ap, struct port_state *ps, uint16_t port)
{
	struct ebpfaccel__stretch_sum sum[EBPFACCEL__MAX_CANDIDATES];
	const uint8_t *buf;
	size_t len;

	if (!ps->stretch_asked_ns || ps->cur != OFF)
		return;
	if (ebpfaccel__traffic_probe_stretch(ap->probe, port, ps->d.busy_dir, &buf, &len)) {
		retry_stretch(ap, ps, port);
		return;
	}
	ps->stretch_asked_ns = 0;
	memcpy(sum, ps->sum, sizeof(sum));
	for (size_t i = 0; i < ap->n_cand; i++) {
		struct tcp_comp_params p = {
			.version = TCP_COMP_VERSION,
			.record_size = ap->comp_rule.record_size,
			.flags = ap->comp_rule.flags,
			.algo = ps->cand[i].algo,
			.level = ps->cand[i].level,
			.mode = ps->cand[i].mode,
		};

		if (!ebpfaccel__candidate_given(&ap->cand[i]) &&
		    ebpfaccel__stretch_add(&sum[i], &p, buf, len))
			return;
	}
	memcpy(ps->sum, sum, sizeof(sum));
	for (size_t i = 0; i < ap->n_cand; i++)
		if (!ebpfaccel__candidate_given(&ap->cand[i]))
			ebpfaccel__stretch_figures(&ps->sum[i], &ps->cand[i]);
	ps->measured_share = ebpfaccel__stretch_share(ps->sum, ap->n_cand, ps->measured_share);
	ps->contiguous = true;
	ps->gain = 0;
	/* As for the pieces' measurement: the interval spans its CPU. */
	ps->link_skip = true;
	pr_info("auto policy: port %u: candidates measured on stretch %u of %u (%zu bytes)\n", port,
		ps->stretches + 1, STRETCHES, len);
	/* The next place: STRETCH_GAP_NS of the stream after this one's
	 * start, not after its measurement, which took up to a tick
	 * itself (at 250 ms ticks, three ticks a stretch before). */
	if (++ps->stretches < STRETCHES)
		ps->stretch_next_ns = ps->stretch_sent_ns + STRETCH_GAP_NS;
}

/* choose: the next stretch, once STRETCH_GAP_NS of the stream went by
 * after the start of the last one. */
static void next_stretch(struct ebpfaccel_auto_policy *ap, struct port_state *ps, uint16_t port)
{
	uint64_t now = ebpfaccel__monotonic_ns();

	if (!ps->stretch_next_ns || now < ps->stretch_next_ns)
		return;
	ps->stretch_next_ns = 0;
	if (ps->cur == OFF)
		ask_for_stretch(ap, ps, port, now);
}

/* The highest ratio a candidate reaches on the port's data. */
static double best_ratio(const struct port_state *ps, size_t n)
{
	double best = 0;

	for (size_t i = 0; i < n; i++)
		best = fmax(best, ps->cand[i].ratio);
	return best;
}

/* A stretch asked for and not yet here, while it may still come, or one
 * still to be asked for. */
static bool stretch_awaited(const struct port_state *ps)
{
	uint64_t now = ebpfaccel__monotonic_ns();

	if (ps->stretches && now - ps->stretches_asked_ns >= STRETCHES_WAIT_NS)
		return false;
	return ps->stretch_next_ns || (ps->stretch_asked_ns && now - ps->stretch_asked_ns < STRETCH_WAIT_NS);
}

/* The stream's gain over the ratios the candidates carry: none over a
 * stretch's (until the engine's ratio measures one), the configured prior
 * over the pieces'. */
static double gain_of(const struct ebpfaccel_auto_policy *ap, const struct port_state *ps)
{
	if (ps->gain > 0)
		return ps->gain;
	return ps->contiguous ? 1.0 : ap->o.stream_gain;
}

/* The model's view of the port now: the link, the stream gain and the
 * share of a core a connection's ends get (opts.cpu_share, else the
 * smaller of the measuring thread's and what the machine's runnable
 * threads leave a busy one lately, lib/cpu_load.c). */
static struct ebpfaccel__goodput_env env_of(struct ebpfaccel_auto_policy *ap, struct port_state *ps)
{
	if (ap->o.cpu_share)
		ps->share = ap->o.cpu_share;
	else
		ps->share = fmin(ps->measured_share, ebpfaccel__cpu_share_now(&ap->cpu));
	return (struct ebpfaccel__goodput_env){
		.link = ap->o.link_rate ? (double)ap->o.link_rate : ps->link,
		.gain = gain_of(ap, ps),
		.share = ps->share,
	};
}

/* Where the ratio in a decision's text comes from. */
static const char *ratio_source(const struct port_state *ps)
{
	static const char *const on[] = { "", " on a stretch", " on 2 stretches", " on 3 stretches",
					  " on 4 stretches" };

	if (!ps->contiguous)
		return "";
	return ps->stretches < sizeof(on) / sizeof(on[0]) ? on[ps->stretches] : " on stretches";
}

static void describe(char *text, size_t len, const struct ebpfaccel_auto_candidate *c)
{
	snprintf(text, len, "%s-%d %s", algo_name(c->algo), c->level,
		 c->mode == TCP_COMP_MODE_STREAM ? "stream" : "block");
}

/* choose: whether the configuration in force gives way to @best: at once
 * if it beats it by SWITCH_GAIN, or if it, or any other, has beaten it by
 * SWITCH_CLOSE for SWITCH_PERSIST judgements in a row. */
static int keep_or_switch(struct port_state *ps, int best, double best_g, double cur_g)
{
	if (ps->cur == OFF || best == ps->cur || best_g <= cur_g * SWITCH_CLOSE) {
		ps->beaten = 0;
		return ps->cur == OFF ? best : ps->cur;
	}
	if (ps->beaten < SWITCH_PERSIST)
		ps->beaten++;
	return best_g > cur_g * SWITCH_GAIN || ps->beaten >= SWITCH_PERSIST ? best : ps->cur;
}

/* choose: every candidate's expected goodput and its inputs at each
 * judgement, at debug level: what to hold against the configurations' own
 * transfers (bench/comp_link.sh prints both) to tell which input misled. */
static void log_model(const struct ebpfaccel_auto_policy *ap, const struct port_state *ps,
		      const struct ebpfaccel__goodput_env *env)
{
	char name[48];

	for (size_t i = 0; i < ap->n_cand; i++) {
		const struct ebpfaccel_auto_candidate *c = &ps->cand[i];

		describe(name, sizeof(name), c);
		pr_debug("auto policy: port %u: model %s: goodput %.1f MB/s (compress %.0f, decode %.0f MB/s, "
			"ratio %.2f:1%s, %.0f%% of a core, link %.1f MB/s)\n", ps->d.port, name,
			ebpfaccel__goodput_of(c, env) / 1e6, c->comp_speed / 1e6, c->decomp_speed / 1e6,
			ebpfaccel__stream_ratio(c, env->gain), ratio_source(ps), 100 * env->share,
			env->link / 1e6);
	}
}

/* choose: after the checks every policy makes (enough data, bulk runs,
 * compressible), the candidate of highest expected goodput, if it beats
 * plain TCP by ON_GAIN (or, while on, at all).  The configuration in
 * force stays unless another beats it clearly (keep_or_switch()).  While
 * the port's stretches are still to come, the figures so far judge, and
 * *wait tells settle() that the verdict may change with the rest: a flip
 * to "on" waits for them. */
static enum ebpfaccel_auto_reason judge_goodput(struct ebpfaccel_auto_policy *ap, struct port_state *ps,
						const struct ebpfaccel_auto_sample *s, char *text,
						size_t len, int *want, bool *wait)
{
	struct ebpfaccel_auto_sample seen = *s;
	enum ebpfaccel_auto_reason r;
	struct ebpfaccel__goodput_env env;
	double best_g, cur_g = 0, needed;
	const struct ebpfaccel_auto_candidate *c;
	char name[48];
	int best;

	*want = OFF;
	*wait = ps->cur == OFF && stretch_awaited(ps);
	/* Whether the data compresses at all, too, is the stretch's to say:
	 * repeats further apart than the pieces see are the stream's. */
	if (ps->contiguous && ps->cur == OFF && seen.entropy >= 0)
		seen.sample_ratio = best_ratio(ps, ap->n_cand);
	r = judge(ap, ps, &seen, text, len);
	if (r != EBPFACCEL_AUTO_BULK_COMPRESSIBLE)
		return r;
	env = env_of(ap, ps);
	log_model(ap, ps, &env);
	best = ebpfaccel__goodput_best(ps->cand, ap->n_cand, &env, &best_g);
	if (best < 0) {
		snprintf(text, len, "compressible, no configuration measured yet");
		return EBPFACCEL_AUTO_NO_DATA;
	}
	if (ps->cur != OFF)
		cur_g = ebpfaccel__goodput_of(&ps->cand[ps->cur], &env);
	needed = env.link * (ps->cur == OFF ? ON_GAIN : 1.0);
	c = &ps->cand[best];
	describe(name, sizeof(name), c);
	if (best_g < needed) {
		snprintf(text, len, "best %s would deliver %.1f MB/s, plain %.1f MB/s (ratio %.2f:1%s, "
			 "compresses %.0f MB/s x %.0f%% of a core)", name, best_g / 1e6, env.link / 1e6,
			 ebpfaccel__stream_ratio(c, env.gain), ratio_source(ps), c->comp_speed / 1e6,
			 100 * env.share);
		return EBPFACCEL_AUTO_RATE_ABOVE_COMP_SPEED;
	}
	*want = keep_or_switch(ps, best, best_g, cur_g);
	c = &ps->cand[*want];
	describe(name, sizeof(name), c);
	snprintf(text, len, "%s delivers %.1f MB/s vs plain %.1f MB/s (ratio %.2f:1%s, %.0f%% of a core "
		 "compressing %.0f, decoding %.0f MB/s)", name, ebpfaccel__goodput_of(c, &env) / 1e6,
		 env.link / 1e6, ebpfaccel__stream_ratio(c, env.gain), ratio_source(ps), 100 * env.share,
		 c->comp_speed / 1e6, c->decomp_speed / 1e6);
	return r;
}

/* Whether @want asks for what the previous interval asked: the same
 * configuration, or off; while off, any configuration asks for "on" (the
 * best one may differ from interval to interval as the estimates move). */
static bool same_ask(const struct port_state *ps, int want)
{
	if (ps->d.latest == EBPFACCEL_AUTO_NO_DATA)
		return false;
	if (ps->cur == OFF && want != OFF && ps->latest_want != OFF)
		return true;
	return ps->latest_want == want;
}

/* The decision's text while it waits for more agreeing intervals
 * (@in_a_row) or for the port's stretches: that, then what the latest
 * interval says.  It starts with "waiting" (bench/comp_xfer.c reads it). */
static void waiting_text(const struct ebpfaccel_auto_policy *ap, struct port_state *ps, bool in_a_row,
			 const char *text)
{
	struct ebpfaccel_auto_decision *d = &ps->d;
	int n;

	if (in_a_row)
		n = snprintf(d->text, sizeof(d->text), "waiting, %u/%u in a row: ", d->agreeing, ap->o.hold);
	else
		n = snprintf(d->text, sizeof(d->text), "waiting for stretch %u/%u: ", ps->stretches + 1,
			     STRETCHES);
	/* The verdict's end is cut where the line is full. */
	snprintf(d->text + n, sizeof(d->text) - n, "%s", text);
}

/* Hysteresis: the decision follows the latest verdict only after
 * opts.hold consecutive intervals ask for it (same_ask()), and, with
 * @wait, not before the port's stretches are in; it then takes the latest
 * interval's choice.  A verdict for the decision in force is its reason at
 * once, and says whether stretches are still to come.  The text of a port
 * no verdict has decided yet (its first decision, off for want of data,
 * in force) says what holds it.  Returns 1 on a change. */
static int settle(struct ebpfaccel_auto_policy *ap, struct port_state *ps,
		  enum ebpfaccel_auto_reason latest, int want, bool wait, const char *text)
{
	struct ebpfaccel_auto_decision *d = &ps->d;

	if (latest == EBPFACCEL_AUTO_NO_DATA) {
		if (d->latest == EBPFACCEL_AUTO_NO_DATA)
			snprintf(d->text, sizeof(d->text), "%s", text);
		return 0;
	}
	d->agreeing = same_ask(ps, want) ? d->agreeing + 1 : 1;
	d->latest = latest;
	ps->latest_want = want;
	if (want == ps->cur) {
		d->reason = latest;
		if (wait)
			waiting_text(ap, ps, false, text);
		else
			snprintf(d->text, sizeof(d->text), "%s", text);
		return 0;
	}
	if (d->agreeing < ap->o.hold || wait) {
		if (d->reason == EBPFACCEL_AUTO_NO_DATA)
			waiting_text(ap, ps, d->agreeing < ap->o.hold, text);
		return 0;
	}
	ps->cur = want;
	ps->beaten = 0;
	d->compress = want != OFF;
	d->reason = latest;
	d->changes++;
	snprintf(d->text, sizeof(d->text), "%s", text);
	pr_info("auto policy: port %u compression %s: %s\n", d->port, d->compress ? "on" : "off", text);
	return 1;
}

/* The figures behind the decision in force, for the caller. */
static void fill_choice(const struct ebpfaccel_auto_policy *ap, struct port_state *ps)
{
	struct ebpfaccel_auto_decision *d = &ps->d;
	double link = ap->o.link_rate ? (double)ap->o.link_rate : ps->link;

	d->link_rate = (uint64_t)link;
	d->choice = ps->cur == OFF ? (struct ebpfaccel_auto_candidate){ .algo = TCP_COMP_ALGO_NONE }
				   : ps->cand[ps->cur];
	if (!ap->o.choose) {
		d->goodput = 0;
		d->choice.comp_speed = ps->cur == OFF ? 0 : speed_of(ap, ps);
		return;
	}
	if (ps->cur == OFF) {
		d->goodput = d->link_rate;
	} else {
		struct ebpfaccel__goodput_env env = { link, gain_of(ap, ps), ps->share };

		d->goodput = (uint64_t)ebpfaccel__goodput_of(&ps->cand[ps->cur], &env);
	}
}

/* The one place decisions leave the policy: the compression policy's port
 * rule, then the caller's callback. */
static int apply_decision(struct ebpfaccel_auto_policy *ap, const struct ebpfaccel_auto_decision *d)
{
	struct ebpfaccel_comp_rule_opts rule = ap->comp_rule;
	int err = 0;

	if (ap->o.comp_policy) {
		rule.action = d->compress ? EBPFACCEL_COMP_ON : EBPFACCEL_COMP_OFF;
		if (ap->o.choose && d->compress) {
			rule.algo = d->choice.algo;
			rule.level = d->choice.level;
			rule.mode = d->choice.mode;
		}
		if (!rule.dir)
			rule.dir = d->busy_dir == EBPFACCEL_TRAFFIC_TX ? EBPFACCEL_COMP_DIR_TX
								       : EBPFACCEL_COMP_DIR_RX;
		err = ebpfaccel_comp_policy__set_port(ap->o.comp_policy, d->port, &rule);
	}
	if (!err && ap->o.apply)
		err = ap->o.apply(d, ap->o.apply_ctx);
	if (err)
		pr_warn("auto policy: applying port %u's decision failed: %d\n", d->port, err);
	return err;
}

/* The busier direction's average over the interval: a window's peak (the
 * sample's rate) overstates a link behind a queue, e.g. a probe on egress
 * that sees packets before the qdisc shapes them. */
static double delivered_rate(const struct port_state *ps, const struct ebpfaccel_auto_sample *s)
{
	if (!s->duration_ns)
		return (double)s->rate;
	return s->payload_bytes[ps->d.busy_dir] * 1e9 / s->duration_ns;
}

/* What the model learns from an interval before judging it: the link rate
 * (the busier direction's average rate; while on, the wire's; a quiet
 * interval ends a busy run) and, while
 * a configuration is in force, its stream gain from the engine's ratio. */
static void learn(struct ebpfaccel_auto_policy *ap, struct port_state *ps,
		  const struct ebpfaccel_auto_sample *s)
{
	double g;

	/* An interval that spans a measurement is left out whole, not even
	 * the first of a run that stands in while nothing else is known: on
	 * the loaded machine the measurements took seconds, a warm-up
	 * transfer ended inside one, and its 0.4 MB/s became the 1 Gbit/s
	 * link's estimate.  It does not end the busy run, though: the
	 * traffic went on, and with a run cut at every measurement of a
	 * stretch no interval was left to count (rounds at load 1.5-3.5
	 * judged the 1 Gbit/s link from stand-ins at 4.5-20 MB/s). */
	if (s->payload_bytes[0] + s->payload_bytes[1] < ap->o.min_bytes)
		ebpfaccel__link_quiet(&ps->lk);
	else if (!ps->link_skip)
		ps->link = ebpfaccel__link_add(&ps->lk, delivered_rate(ps, s), s->duration_ns,
					       ebpfaccel__monotonic_ns());
	ps->link_skip = false;
	if (ps->cur == OFF || !ap->o.choose)
		return;
	g = ebpfaccel__measured_gain(&ps->cand[ps->cur], ps->engine_ratio);
	if (g > 0)
		ps->gain = g;
}

static int feed(struct ebpfaccel_auto_policy *ap, uint16_t port, const struct ebpfaccel_auto_sample *s)
{
	struct port_state *ps = port_get(ap, port);
	enum ebpfaccel_auto_reason latest;
	char text[sizeof(ps->d.text)];
	int flipped, err, want;
	bool wait = false;

	if (!ps)
		return -ENOMEM;
	ps->d.busy_dir = s->payload_bytes[EBPFACCEL_TRAFFIC_RX] > s->payload_bytes[EBPFACCEL_TRAFFIC_TX] ?
			 EBPFACCEL_TRAFFIC_RX : EBPFACCEL_TRAFFIC_TX;
	learn(ap, ps, s);
	if (ap->o.choose) {
		measure_candidates(ap, ps, port, s);
		if (ap->probe) {
			take_stretch(ap, ps, port);
			next_stretch(ap, ps, port);
		}
		latest = judge_goodput(ap, ps, s, text, sizeof(text), &want, &wait);
	} else {
		refresh_speed(ap, ps, port, s);
		latest = judge(ap, ps, s, text, sizeof(text));
		want = latest == EBPFACCEL_AUTO_BULK_COMPRESSIBLE ? 0 : OFF;
	}
	flipped = settle(ap, ps, latest, want, wait, text);
	fill_choice(ap, ps);
	if (latest == EBPFACCEL_AUTO_NO_DATA || ps->applied == ps->cur)
		return flipped;
	err = apply_decision(ap, &ps->d);
	if (err)
		return err;
	ps->applied = ps->cur;
	return flipped;
}

EBPFACCEL_API int ebpfaccel_auto_policy__feed(struct ebpfaccel_auto_policy *policy, uint16_t port,
					      const struct ebpfaccel_auto_sample *s)
{
	if (!policy || !s)
		return -EINVAL;
	return feed(policy, port, s);
}

struct update_walk {
	struct ebpfaccel_auto_policy *ap;
	int flips;
	int err;
};

/* The interval since the last update, from the probe's cumulative counters. */
static void interval_of(struct port_state *ps, const struct ebpfaccel_port_stats *st,
			struct ebpfaccel_auto_sample *s)
{
	int busy;

	memset(s, 0, sizeof(*s));
	s->duration_ns = st->age_ns - ps->age_ns;
	for (int d = 0; d < 2; d++)
		s->payload_bytes[d] = st->dir[d].payload_bytes - ps->payload[d];
	s->turns = st->turns - ps->turns;
	busy = s->payload_bytes[EBPFACCEL_TRAFFIC_RX] > s->payload_bytes[EBPFACCEL_TRAFFIC_TX];
	s->rate = st->dir[busy].rate;
	if (s->duration_ns && s->payload_bytes[busy] * 1e9 / s->duration_ns > s->rate)
		s->rate = s->payload_bytes[busy] * 1e9 / s->duration_ns;
	s->sample_ratio = st->sample_ratio[busy];
	s->entropy = st->entropy[busy];
	if (ps->d.compress && ps->engine_ratio > 0) {
		s->sample_ratio = ps->engine_ratio;
		s->entropy = -1;
	}
}

static bool counters_went_back(const struct port_state *ps, const struct ebpfaccel_port_stats *st)
{
	return st->age_ns < ps->age_ns || st->turns < ps->turns ||
	       st->dir[0].payload_bytes < ps->payload[0] || st->dir[1].payload_bytes < ps->payload[1];
}

static int update_port(const struct ebpfaccel_port_stats *st, void *ctx)
{
	struct update_walk *w = ctx;
	struct port_state *ps = port_get(w->ap, st->port);
	struct ebpfaccel_auto_sample s;
	int ret;

	if (!ps)
		return -ENOMEM;
	/* The kernel's LRU map evicted and re-created the port: start over
	 * from its first packet. */
	if (!ps->have_baseline || counters_went_back(ps, st)) {
		memset(ps->payload, 0, sizeof(ps->payload));
		ps->turns = 0;
		ps->age_ns = 0;
		ps->have_baseline = false;
	}
	interval_of(ps, st, &s);
	if (s.payload_bytes[0] + s.payload_bytes[1] < w->ap->o.min_bytes && ps->have_baseline) {
		/* Keep accumulating until the interval has enough; the
		 * port's busy run (if any) ended. */
		ebpfaccel__link_quiet(&ps->lk);
		return 0;
	}
	ps->have_baseline = true;
	ps->payload[0] = st->dir[0].payload_bytes;
	ps->payload[1] = st->dir[1].payload_bytes;
	ps->turns = st->turns;
	ps->age_ns = st->age_ns;
	ret = feed(w->ap, st->port, &s);
	if (ret > 0)
		w->flips++;
	else if (ret < 0 && !w->err)
		w->err = ret;
	return 0;
}

EBPFACCEL_API int ebpfaccel_auto_policy__update(struct ebpfaccel_auto_policy *policy)
{
	struct update_walk w = { policy, 0, 0 };
	int err;

	if (!policy || !policy->probe)
		return -EINVAL;
	err = ebpfaccel_traffic_probe__for_each_port(policy->probe, update_port, &w);
	if (err < 0)
		return err;
	return w.err ? w.err : w.flips;
}

EBPFACCEL_API int ebpfaccel_auto_policy__set_engine_ratio(struct ebpfaccel_auto_policy *policy,
							  uint16_t port, double ratio)
{
	struct port_state *ps;

	if (!policy || !isfinite(ratio) || ratio < 0)
		return -EINVAL;
	ps = port_get(policy, port);
	if (!ps)
		return -ENOMEM;
	ps->engine_ratio = ratio;
	return 0;
}

EBPFACCEL_API int ebpfaccel_auto_policy__decision(const struct ebpfaccel_auto_policy *policy,
						  uint16_t port, struct ebpfaccel_auto_decision *d)
{
	if (!policy || !d)
		return -EINVAL;
	if (!policy->ports[port])
		return -ENOENT;
	*d = policy->ports[port]->d;
	return 0;
}
