// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The share of a core the auto policy weighs compressor speeds with
 * (lib/cpu_load.c), from synthetic scheduler counters and from this
 * thread's real ones.  The library's objects are hidden from its ABI, so
 * the file is compiled into this test.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <time.h>

#include "traffic.h"
#include "fixtures.h"

#define MS 1000000ULL

static double add(struct ebpfaccel__sched_share *s, uint64_t run_ms, uint64_t wait_ms, uint64_t slices)
{
	struct ebpfaccel__schedstat st = { run_ms * MS, wait_ms * MS, slices };

	return ebpfaccel__sched_share_add(s, &st);
}

/* run / (run + wait) over a stretch of at least 8 slices; nothing before. */
START_TEST(share_is_run_over_runnable)
{
	struct ebpfaccel__sched_share s = { 0 };

	ck_assert(add(&s, 100, 50, 10) == 0);		/* the base */
	ck_assert(add(&s, 103, 57, 14) == 0);		/* 4 slices: too few */
	ck_assert(fabs(add(&s, 130, 120, 18) - 0.3) < 1e-9);	/* 30 ms ran, 70 waited */
	ck_assert(fabs(add(&s, 131, 120, 19) - 0.3) < 1e-9);	/* kept until the next stretch */
	ck_assert(fabs(add(&s, 170, 130, 30) - 0.8) < 1e-9);	/* 40 ran, 10 waited */
	/* A thread that never waited had a whole core. */
	ck_assert(fabs(add(&s, 200, 130, 40) - 1.0) < 1e-9);
}
END_TEST

/* Counters of another thread (smaller than the base) start a new stretch. */
START_TEST(counters_going_back_rebase)
{
	struct ebpfaccel__sched_share s = { 0 };

	add(&s, 100, 100, 100);
	ck_assert(fabs(add(&s, 150, 150, 110) - 0.5) < 1e-9);
	ck_assert(fabs(add(&s, 10, 0, 5) - 0.5) < 1e-9);
	ck_assert(fabs(add(&s, 20, 40, 15) - 0.2) < 1e-9);	/* 10 ran, 40 waited */
}
END_TEST

/* CPUs over the mean count of runnable threads over 8 samples: 2 CPUs
 * and 4 runnable (the caller among them) leave half a core; 1 or 2 a
 * whole one. */
START_TEST(share_of_runnable_threads)
{
	struct ebpfaccel__sched_share s = { 0 };

	for (int i = 0; i < 7; i++)
		ck_assert(ebpfaccel__runnable_add(&s, i % 2 ? 3 : 5, 2) == 0);
	ck_assert(fabs(ebpfaccel__runnable_add(&s, 3, 2) - 0.5) < 1e-9);	/* 32 in 8 samples */
	for (int i = 0; i < 8; i++)
		ebpfaccel__runnable_add(&s, 1 + i % 2, 2);
	ck_assert(s.runnable_share == 1);
	/* Unknown CPUs change nothing. */
	ck_assert(ebpfaccel__runnable_add(&s, 40, 0) == 1);
}
END_TEST

/* Without schedstat the load average stands in: c / (load + 1), at most 1. */
START_TEST(share_of_load)
{
	ck_assert(ebpfaccel__cpu_share_of_load(0.5, 2) == 1);
	ck_assert(fabs(ebpfaccel__cpu_share_of_load(9, 2) - 0.2) < 1e-9);
	ck_assert(ebpfaccel__cpu_share_of_load(NAN, 2) == 1);
	ck_assert(ebpfaccel__cpu_share_of_load(3, 0) == 1);
}
END_TEST

/* This thread's own counters, after spinning: a share in (0, 1]. */
START_TEST(share_of_this_thread)
{
	struct ebpfaccel__sched_share s = { 0 };
	struct ebpfaccel__schedstat st;
	double share = 0;
	int err = ebpfaccel__thread_schedstat(&st);

	if (err == -ENOENT) {
		/* A kernel without CONFIG_SCHED_INFO: the load average's. */
		share = ebpfaccel__cpu_share_now(&s);
		ck_assert(share > 0 && share <= 1);
		return;
	}
	ck_assert_int_eq(err, 0);
	ebpfaccel__cpu_share_now(&s);
	for (int i = 0; i < 40 && !s.share; i++) {
		struct timespec ts = { 0, 2 * MS };

		nanosleep(&ts, NULL);	/* a new slice per wake-up */
		share = ebpfaccel__cpu_share_now(&s);
	}
	ck_assert_msg(s.share > 0 && s.share <= 1, "share %f", s.share);
	ck_assert(share > 0 && share <= s.share);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cpu_share");
	TCase *tc = tcase_create("share");

	tcase_add_test(tc, share_is_run_over_runnable);
	tcase_add_test(tc, counters_going_back_rebase);
	tcase_add_test(tc, share_of_runnable_threads);
	tcase_add_test(tc, share_of_load);
	tcase_add_test(tc, share_of_this_thread);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return fx_run_suite(suite());
}
