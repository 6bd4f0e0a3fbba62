// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The share of a core a busy thread can expect on this machine now: one
 * input of the auto policy's goodput model (lib/auto_goodput.c).
 *
 * A compressor timed for a few milliseconds right after its thread woke up
 * runs almost undisturbed (the scheduler owes a sleeper its lag), so its
 * CPU-time over wall-time says little about what a connection compressing
 * for seconds will get.  What the judging thread itself got over the
 * judged interval does: the kernel counts, per thread, the time it ran and
 * the time it was runnable but waited for a CPU (/proc/thread-self/
 * schedstat, CONFIG_SCHED_INFO), and run / (run + wait) is the share of a
 * core the scheduler gave it whenever it wanted one, measured now, not
 * averaged over the last minute as the load average is.  It is bounded by
 * what the machine's runnable threads, counted over the same stretch,
 * leave a busy thread (ebpfaccel__cpu_share_now()).  Until either is
 * known: c / (n + 1) of a core, n the one-minute load average on c CPUs,
 * which lags a changing load by tens of seconds.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "internal.h"
#include "traffic.h"

/* A share from fewer wake-ups than this is one scheduling accident. */
#define SCHED_MIN_SLICES 8

double ebpfaccel__cpu_share_of_load(double load, long ncpu)
{
	if (ncpu < 1 || !isfinite(load) || load < 0)
		return 1;
	return fmin(1, (double)ncpu / (load + 1));
}

double ebpfaccel__cpu_load_share(void)
{
	FILE *f = fopen("/proc/loadavg", "re");
	double load = 0;
	int n;

	if (!f)
		return 1;	/* no procfs: nothing known against a whole core */
	n = fscanf(f, "%lf", &load);
	fclose(f);
	return n == 1 ? ebpfaccel__cpu_share_of_load(load, sysconf(_SC_NPROCESSORS_ONLN)) : 1;
}

int ebpfaccel__thread_schedstat(struct ebpfaccel__schedstat *st)
{
	FILE *f = fopen("/proc/thread-self/schedstat", "re");
	unsigned long long run, wait, slices;
	int n;

	if (!f)
		return -ENOENT;
	n = fscanf(f, "%llu %llu %llu", &run, &wait, &slices);
	fclose(f);
	if (n != 3)
		return -EINVAL;
	*st = (struct ebpfaccel__schedstat){ run, wait, slices };
	return 0;
}

double ebpfaccel__sched_share_add(struct ebpfaccel__sched_share *s, const struct ebpfaccel__schedstat *now)
{
	uint64_t run, wait;

	if (!s->have_base || now->run_ns < s->base.run_ns || now->wait_ns < s->base.wait_ns ||
	    now->slices < s->base.slices) {
		s->base = *now;
		s->have_base = true;
		return s->share;
	}
	if (now->slices - s->base.slices < SCHED_MIN_SLICES)
		return s->share;
	run = now->run_ns - s->base.run_ns;
	wait = now->wait_ns - s->base.wait_ns;
	if (run + wait)
		s->share = fmax((double)run / (run + wait), 0.01);
	s->base = *now;
	return s->share;
}

double ebpfaccel__runnable_add(struct ebpfaccel__sched_share *s, unsigned int running, long ncpu)
{
	if (ncpu < 1)
		return s->runnable_share;
	s->runnable_sum += running ? running : 1;
	if (++s->runnable_n >= SCHED_MIN_SLICES) {
		s->runnable_share = fmin(1, (double)ncpu * s->runnable_n / s->runnable_sum);
		s->runnable_sum = 0;
		s->runnable_n = 0;
	}
	return s->runnable_share;
}

/* The machine's runnable threads now (/proc/loadavg's fourth field, the
 * reader included); 0 if unknown. */
static unsigned int running_now(void)
{
	FILE *f = fopen("/proc/loadavg", "re");
	unsigned int running = 0, total;
	double l1, l5, l15;

	if (!f)
		return 0;
	if (fscanf(f, "%lf %lf %lf %u/%u", &l1, &l5, &l15, &running, &total) != 5)
		running = 0;
	fclose(f);
	return running;
}

/* The smaller of two views, each over its latest stretch: what the
 * judging thread got (its own run and wait time), and what the machine's
 * runnable threads leave a busy one (CPUs / their mean count, sampled at
 * every call, the caller standing in for the busy thread).  The first
 * alone misses a CPU busier than the judge's (a sender pinned to a
 * crowded CPU: at load 23, 30 % for the judge where the sender's zstd-3
 * got about a tenth); the second alone counts threads, not what they
 * take.  Until either is known: the load average's. */
double ebpfaccel__cpu_share_now(struct ebpfaccel__sched_share *s)
{
	struct ebpfaccel__schedstat st;
	unsigned int running = running_now();
	double share = 1;
	bool known = false;

	if (!ebpfaccel__thread_schedstat(&st) && ebpfaccel__sched_share_add(s, &st) > 0) {
		share = s->share;
		known = true;
	}
	if (running && ebpfaccel__runnable_add(s, running, sysconf(_SC_NPROCESSORS_ONLN)) > 0) {
		share = fmin(share, s->runnable_share);
		known = true;
	}
	return known ? share : ebpfaccel__cpu_load_share();
}
