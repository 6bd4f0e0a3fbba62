/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Between the traffic probe, its estimators and the auto policy.  Not installed. */
#ifndef EBPFACCEL_LIB_TRAFFIC_H
#define EBPFACCEL_LIB_TRAFFIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebpfaccel/traffic_probe.h"

/* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns(), in ns. */
uint64_t ebpfaccel__monotonic_ns(void);

/* Order-0 entropy in bits per byte; -1 for an empty buffer. */
double ebpfaccel__entropy(const uint8_t *buf, size_t len);

/* original/compressed with @algo (enum tcp_comp_algo) at @level; 0 when
 * @len is 0, -errno when the compressor fails. */
double ebpfaccel__comp_ratio(int algo, int level, const uint8_t *buf, size_t len);

/* Bytes/s one core compresses @buf with @algo at @level, timed in thread
 * CPU time over at least 20 ms of repeated runs; -errno on failure. */
int64_t ebpfaccel__comp_speed(int algo, int level, const uint8_t *buf, size_t len);

/* What the engine achieves on a piece of data with one configuration. */
struct ebpfaccel__comp_calibration {
	uint64_t comp_speed;	/* input bytes/s, one core (thread CPU time) */
	uint64_t decomp_speed;	/* output bytes/s, one core */
	double ratio;		/* original / record bytes */
	uint64_t cpu_ns, wall_ns; /* the measurement's CPU and wall-clock time */
};

struct tcp_comp_params;
/* Sends @buf through the engine's public connection API over a socket
 * pair with @p (sender and receiver in this thread), again until some
 * milliseconds of CPU were spent; speeds of the fastest pass.  0, or
 * -errno (-EBADMSG if the bytes did not come back exact). */
int ebpfaccel__comp_calibrate(const struct tcp_comp_params *p, const uint8_t *buf, size_t len,
			      struct ebpfaccel__comp_calibration *out);

/* What the engine achieves with @p on @buf, the stretch of a connection's
 * stream: @buf sent once through one connection, in 256 KiB writes a
 * socket holds, after a write of noise that sets the connection up; each
 * side's speed in thread CPU time over the whole stretch, the ratio the
 * stretch reaches in @p's mode (a stream's, with its history).  0, or
 * -errno (-EBADMSG if the bytes did not come back exact). */
int ebpfaccel__comp_engine_stretch(const struct tcp_comp_params *p, const uint8_t *buf, size_t len,
				   struct ebpfaccel__comp_calibration *out);

/* The goodput model (lib/auto_goodput.c). */
#define EBPFACCEL__MAX_CANDIDATES 16
extern const struct ebpfaccel_auto_candidate ebpfaccel__goodput_defaults[];
extern const size_t ebpfaccel__goodput_n_defaults;
/* All three figures are known. */
bool ebpfaccel__candidate_given(const struct ebpfaccel_auto_candidate *c);
/* The stream gain of @c where zstd-1 in stream mode gains @gain. */
double ebpfaccel__candidate_gain(const struct ebpfaccel_auto_candidate *c, double gain);
/* The ratio @c is expected to reach on a connection's stream. */
double ebpfaccel__stream_ratio(const struct ebpfaccel_auto_candidate *c, double gain);
/* What the model weighs a candidate's figures against. */
struct ebpfaccel__goodput_env {
	double link;	/* payload bytes/s plain TCP delivers */
	double gain;	/* stream ratio gain over the sample's, of zstd-1 stream */
	double share;	/* share of a core the connection's ends get, (0, 1] */
};
/* Application bytes/s @c delivers in @env; 0 for a candidate without figures. */
double ebpfaccel__goodput_of(const struct ebpfaccel_auto_candidate *c, const struct ebpfaccel__goodput_env *env);
/* Index of the candidate of highest goodput (*best), -1 if none has figures. */
int ebpfaccel__goodput_best(const struct ebpfaccel_auto_candidate *c, size_t n,
			    const struct ebpfaccel__goodput_env *env, double *best);
/* The link estimate of a port: the highest delivered rate over a window
 * of busy intervals, decaying, without a busy run's first interval. */
struct ebpfaccel__link_est {
	double rate;		/* highest window's rate (at at_ns); 0: no window yet */
	uint64_t at_ns;
	double last;		/* latest later interval's rate: until a window is full */
	double first;		/* latest run's first interval: until anything else is known */
	double win_bytes;	/* the window being filled */
	uint64_t win_ns;
	unsigned int run;	/* busy intervals in a row */
};
/* Folds a busy interval (@rate delivered over @dur_ns) in; returns the estimate. */
double ebpfaccel__link_add(struct ebpfaccel__link_est *e, double rate, uint64_t dur_ns, uint64_t now_ns);
/* The port was quiet for an interval: the next busy one starts a run. */
void ebpfaccel__link_quiet(struct ebpfaccel__link_est *e);
/* The estimate at @now_ns; 0 while nothing is known. */
double ebpfaccel__link_of(const struct ebpfaccel__link_est *e, uint64_t now_ns);
/* The port's stream gain (of zstd-1 stream) that an engine ratio of @c
 * shows; 0 if it cannot tell. */
double ebpfaccel__measured_gain(const struct ebpfaccel_auto_candidate *c, double engine_ratio);
/* One candidate's engine figures summed over the stretches of a port's
 * stream measured so far. */
struct ebpfaccel__stretch_sum {
	double in, out;			/* original and record bytes */
	double comp_ns, decomp_ns;	/* each side's thread CPU time */
	uint64_t cpu_ns, wall_ns;	/* the measurements' */
};

/* Measures @buf (a stretch) with @p into @sum: 0, or -errno. */
int ebpfaccel__stretch_add(struct ebpfaccel__stretch_sum *sum, const struct tcp_comp_params *p,
			   const uint8_t *buf, size_t len);
/* The ratio and speeds of @sum into @c (unchanged while @sum is empty). */
void ebpfaccel__stretch_figures(const struct ebpfaccel__stretch_sum *sum, struct ebpfaccel_auto_candidate *c);
/* The share of a core the measuring thread got over @n sums; @dflt if
 * none measured anything. */
double ebpfaccel__stretch_share(const struct ebpfaccel__stretch_sum *sum, size_t n, double dflt);
/* The share of a core a thread got: @cpu_ns of CPU time in @wall_ns, in
 * [0.01, 1]; 1 if either is 0. */
double ebpfaccel__cpu_share(uint64_t cpu_ns, uint64_t wall_ns);
/* Measures every candidate of @c without figures on @buf with the engine
 * (record size and flags from @tmpl), speeds per core in thread CPU time;
 * *share: the share of a core the measuring thread got.  The number
 * measured, or -EIO if none could be. */
int ebpfaccel__goodput_measure(struct ebpfaccel_auto_candidate *c, size_t n,
			       const struct tcp_comp_params *tmpl, const uint8_t *buf, size_t len,
			       double *share);
/* The share of a core a busy thread gets among @load runnable tasks on
 * @ncpu CPUs, and the same for this machine now (lib/cpu_load.c). */
double ebpfaccel__cpu_share_of_load(double load, long ncpu);
double ebpfaccel__cpu_load_share(void);
/* The share of a core the machine's runnable threads leave a busy one,
 * over the latest few judgements. */
struct ebpfaccel__cpu_share {
	double sum;		/* runnable threads summed over the samples */
	unsigned int n;		/* samples so far */
	double share;		/* CPUs / mean runnable of the latest 8; 0: none yet */
};
/* Adds a sample of @running runnable threads (the caller included) on
 * @ncpu CPUs; every 8 samples the share they leave a busy thread,
 * CPUs / their mean, at most 1.  Returns it (0 while none is known). */
double ebpfaccel__runnable_add(struct ebpfaccel__cpu_share *s, unsigned int running, long ncpu);
/* Samples the machine's runnable threads into @s; the share of a core a
 * busy thread gets lately, or the load average's while not known. */
double ebpfaccel__cpu_share_now(struct ebpfaccel__cpu_share *s);

/* The probe's held sample of @port in direction @dir, copied into a
 * malloc'd *buf (oldest byte first).  0, -ENOENT (no sample), -ENOMEM. */
int ebpfaccel__traffic_probe_sample(struct ebpfaccel_traffic_probe *probe, uint16_t port,
				    int dir, uint8_t **buf, size_t *len);
/* Asks the probe for a contiguous stretch of @port's payload in direction
 * @dir: the next flow of the port to carry payload that way copies its
 * next 2 MiB in order (bpf/traffic_probe.bpf.c).  A new request replaces
 * one in progress.  0, -EINVAL, -ENOMEM. */
int ebpfaccel__traffic_probe_want_stretch(struct ebpfaccel_traffic_probe *probe, uint16_t port, int dir);
/* The stretch the latest request asked for, once complete (*buf stays
 * the probe's until the next request); -EAGAIN while it is not. */
int ebpfaccel__traffic_probe_stretch(struct ebpfaccel_traffic_probe *probe, uint16_t port, int dir,
				     const uint8_t **buf, size_t *len);
/* Stretches the probe's programs ended short so far (a gap, a
 * retransmission, a full ring): a request taken by one will not complete. */
uint64_t ebpfaccel__traffic_probe_stretches_broken(const struct ebpfaccel_traffic_probe *probe);
/* The bytes a port's full sample holds (opts.sample_window). */
uint32_t ebpfaccel__traffic_probe_window(const struct ebpfaccel_traffic_probe *probe);

/* cls_bpf filters on an interface's clsact hooks, added through libnl-route
 * and removed exactly.  The netlink socket stays open (and in the netns of
 * the attaching thread) until detach. */
struct ebpfaccel__tc_hooks {
	struct nl_sock *sk;
	int ifindex;
	uint16_t prio;
	bool qdisc_created;
	bool hooked[2];		/* by enum ebpfaccel_traffic_dir: egress, ingress */
};

/* Direct-action filters at @prio, handle 1, one per direction (-1 fd:
 * none), on an Ethernet-framed interface (-EOPNOTSUPP otherwise, -ENODEV
 * if there is none).  Creates the clsact qdisc if missing.  0 or -errno,
 * and then nothing is left behind. */
int ebpfaccel__tc_hooks_attach(struct ebpfaccel__tc_hooks *h, int ifindex, uint16_t prio,
			       const int prog_fd[2], const char *const prog_name[2]);

/* Removes the filters, and the qdisc if attach created it and it holds no
 * other filter.  0 or the first -errno; always releases the socket. */
int ebpfaccel__tc_hooks_detach(struct ebpfaccel__tc_hooks *h);

#endif
