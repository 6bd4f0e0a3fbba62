// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The share of a core a busy thread can expect on this machine now: one
 * input of the auto policy's goodput model (lib/auto_goodput.c).
 *
 * A compressor timed for a few milliseconds right after its thread woke up
 * runs almost undisturbed (the scheduler owes a sleeper its lag), so its
 * CPU-time over wall-time says little about what a connection compressing
 * for seconds will get.  That one competes with every other runnable
 * thread: with n of them (itself included) on c CPUs it gets about c / n
 * of a core.  n is the mean count of runnable threads sampled at every
 * judgement (/proc/loadavg's fourth field), what the load average
 * estimates without its one-minute lag (ebpfaccel__cpu_share_now()); until
 * that is known, the one-minute load average's c / (load + 1).
 */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "internal.h"
#include "traffic.h"

/* Judgements a share is averaged over: one sample is an accident. */
#define RUNNABLE_SAMPLES 8

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

double ebpfaccel__runnable_add(struct ebpfaccel__cpu_share *s, unsigned int running, long ncpu)
{
	if (ncpu < 1)
		return s->share;
	s->sum += running ? running : 1;
	if (++s->n >= RUNNABLE_SAMPLES) {
		s->share = fmin(1, (double)ncpu * s->n / s->sum);
		s->sum = 0;
		s->n = 0;
	}
	return s->share;
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

/* What the machine's runnable threads leave a busy one: CPUs / their mean
 * count over the latest 8 judgements, the judge standing in for the busy
 * thread.  Not the judging thread's own run / (run + wait): it runs some
 * 0.1 ms per 100 ms tick, so its wait is its wake-up latency against that
 * sliver of work, and it read 1 % to 30 % of a core at load averages of
 * 11 to 23 where a pinned zstd-3 sender got about a tenth.  Until 8
 * judgements are in: the load average's. */
double ebpfaccel__cpu_share_now(struct ebpfaccel__cpu_share *s)
{
	unsigned int running = running_now();

	if (running && ebpfaccel__runnable_add(s, running, sysconf(_SC_NPROCESSORS_ONLN)) > 0)
		return s->share;
	return ebpfaccel__cpu_load_share();
}
