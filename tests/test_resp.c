// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bpf/resp.h on the host: the same scanners the BPF programs run. */
#include <check.h>
#include "resp_drive.h"

#define S(x) (const unsigned char *)(x), sizeof(x) - 1
START_TEST(resp_placeholder) { } END_TEST

int main(void)
{
	Suite *s = suite_create("resp");
	TCase *tc = tcase_create("resp");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, resp_placeholder);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
