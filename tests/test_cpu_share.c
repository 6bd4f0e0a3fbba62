// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The share of a core the auto policy weighs compressor speeds with
 * (lib/cpu_load.c), from synthetic counts of runnable threads and from
 * this machine's.  The library's objects are hidden from its ABI, so
 * the file is compiled into this test.
 */
#include <check.h>
#include <math.h>

#include "traffic.h"
#include "fixtures.h"

/* CPUs over the mean count of runnable threads over 8 samples: 2 CPUs
 * and 4 runnable (the caller among them) leave half a core; 1 or 2 a
 * whole one. */
START_TEST(share_of_runnable_threads)
{
	struct ebpfaccel__cpu_share s = { 0 };

	for (int i = 0; i < 7; i++)
		ck_assert(ebpfaccel__runnable_add(&s, i % 2 ? 3 : 5, 2) == 0);
	ck_assert(fabs(ebpfaccel__runnable_add(&s, 3, 2) - 0.5) < 1e-9);	/* 32 in 8 samples */
	for (int i = 0; i < 8; i++)
		ebpfaccel__runnable_add(&s, 1 + i % 2, 2);
	ck_assert(s.share == 1);
	/* Unknown CPUs change nothing. */
	ck_assert(ebpfaccel__runnable_add(&s, 40, 0) == 1);
}
END_TEST

/* Until 8 samples are in, the load average stands in: c / (load + 1), at most 1. */
START_TEST(share_of_load)
{
	ck_assert(ebpfaccel__cpu_share_of_load(0.5, 2) == 1);
	ck_assert(fabs(ebpfaccel__cpu_share_of_load(9, 2) - 0.2) < 1e-9);
	ck_assert(ebpfaccel__cpu_share_of_load(NAN, 2) == 1);
	ck_assert(ebpfaccel__cpu_share_of_load(3, 0) == 1);
}
END_TEST

/* This machine's: a share in (0, 1] before and after 8 samples. */
START_TEST(share_of_this_machine)
{
	struct ebpfaccel__cpu_share s = { 0 };
	double share = ebpfaccel__cpu_share_now(&s);

	ck_assert(share > 0 && share <= 1);
	for (int i = 0; i < 8; i++)
		share = ebpfaccel__cpu_share_now(&s);
	ck_assert_msg(s.share > 0 && s.share <= 1 && share == s.share, "share %f", share);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cpu_share");
	TCase *tc = tcase_create("share");

	tcase_add_test(tc, share_of_runnable_threads);
	tcase_add_test(tc, share_of_load);
	tcase_add_test(tc, share_of_this_machine);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return fx_run_suite(suite());
}
