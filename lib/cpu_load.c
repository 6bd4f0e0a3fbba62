// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The share of a core a busy thread can expect on this machine now: one
 * input of the auto policy's goodput model (lib/auto_goodput.c).
 *
 * A compressor timed for a few milliseconds right after its thread woke up
 * runs almost undisturbed (the scheduler owes a sleeper its lag), so its
 * CPU-time over wall-time says little about what a connection compressing
 * for seconds will get.  That one competes with every other runnable
 * thread: with n of them spread over c CPUs it gets about c / (n + 1) of a
 * core.  n is the kernel's own one-minute average of runnable (and
 * uninterruptible) tasks, /proc/loadavg's first field.
 */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "internal.h"
#include "traffic.h"

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
