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
 * averaged over the last minute as the load average is.  Without
 * schedstat: c / (n + 1) of a core, n the one-minute load average on c
 * CPUs, which lags a changing load by tens of seconds.
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

double ebpfaccel__cpu_share_now(struct ebpfaccel__sched_share *s)
{
	struct ebpfaccel__schedstat st;

	if (!ebpfaccel__thread_schedstat(&st))
		ebpfaccel__sched_share_add(s, &st);
	return s->share > 0 ? s->share : ebpfaccel__cpu_load_share();
}
