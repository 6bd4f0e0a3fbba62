// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Versions, logging, error strings and options-struct compatibility. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ebpfaccel/ebpfaccel.h>

#include "fixtures.h"

static char last_msg[512];
static int n_msgs;

static int capture_print(enum ebpfaccel_print_level level, const char *fmt, va_list ap)
{
	n_msgs++;
	return vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
}

START_TEST(version_matches_package)
{
	char expect[32];

	snprintf(expect, sizeof(expect), "%u.%u.", ebpfaccel_major_version(), ebpfaccel_minor_version());
	ck_assert_str_eq(ebpfaccel_version(), PACKAGE_VERSION);
	ck_assert_msg(!strncmp(ebpfaccel_version(), expect, strlen(expect)),
		      "version %s does not start with %s", ebpfaccel_version(), expect);
}
END_TEST

START_TEST(strerror_both_signs_and_library_codes)
{
	char a[128], b[128];

	ck_assert_int_eq(ebpfaccel_strerror(-EPERM, a, sizeof(a)), 0);
	ck_assert_int_eq(ebpfaccel_strerror(EPERM, b, sizeof(b)), 0);
	ck_assert_str_eq(a, b);
	ck_assert_str_eq(a, strerror(EPERM));

	ck_assert_int_eq(ebpfaccel_strerror(-EBPFACCEL_ERR_VERIFY, a, sizeof(a)), 0);
	ck_assert_ptr_nonnull(strstr(a, "verifier"));
	ck_assert_int_eq(ebpfaccel_strerror(-EBPFACCEL_ERR_KERNEL, a, sizeof(a)), 0);
	ck_assert_ptr_nonnull(strstr(a, "kernel"));

	/* Truncation keeps a terminated string. */
	ck_assert_int_eq(ebpfaccel_strerror(-ENOENT, a, 5), 0);
	ck_assert_uint_eq(strlen(a), 4);
}
END_TEST

START_TEST(strerror_rejects_bad_buffer)
{
	char a[8];

	ck_assert_int_eq(ebpfaccel_strerror(EPERM, NULL, 10), -EINVAL);
	ck_assert_int_eq(ebpfaccel_strerror(EPERM, a, 0), -EINVAL);
}
END_TEST

START_TEST(set_print_returns_previous_and_silences)
{
	ebpfaccel_print_fn_t old = ebpfaccel_set_print(capture_print);
	LIBEBPFACCEL_OPTS(ebpfaccel_probe_opts, opts, .skip_bpf = true);
	struct ebpfaccel_probe *p;

	ck_assert_ptr_nonnull(old);
	ck_assert_ptr_eq(ebpfaccel_set_print(capture_print), capture_print);

	/* A bad opts struct must be reported through the callback... */
	n_msgs = 0;
	opts.sz = 1;
	errno = 0;
	ck_assert_ptr_null(ebpfaccel_probe__new(&opts));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_ge(n_msgs, 1);
	ck_assert_ptr_nonnull(strstr(last_msg, "ebpfaccel_probe_opts"));

	/* ...and nowhere once printing is off. */
	ck_assert_ptr_eq(ebpfaccel_set_print(NULL), capture_print);
	n_msgs = 0;
	ck_assert_ptr_null(ebpfaccel_probe__new(&opts));
	ck_assert_int_eq(n_msgs, 0);

	p = ebpfaccel_probe__new(NULL);
	ck_assert_ptr_nonnull(p);
	ebpfaccel_probe__free(p);
	ebpfaccel_set_print(old);
}
END_TEST

/* A caller compiled against a newer header passes a bigger struct. */
struct probe_opts_v2 {
	struct ebpfaccel_probe_opts base;
	long future_field;
};

START_TEST(opts_forward_compat)
{
	struct probe_opts_v2 o = { .base = { .sz = sizeof(o), .skip_bpf = true } };
	struct ebpfaccel_probe *p;

	ebpfaccel_set_print(capture_print);
	p = ebpfaccel_probe__new(&o.base);
	ck_assert_ptr_nonnull(p);
	ebpfaccel_probe__free(p);

	o.future_field = 1;
	errno = 0;
	ck_assert_ptr_null(ebpfaccel_probe__new(&o.base));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(last_msg, "non-zero"));
}
END_TEST

START_TEST(null_and_invalid_arguments)
{
	struct ebpfaccel_probe *p;

	ebpfaccel_set_print(NULL);
	ck_assert_int_eq(ebpfaccel_probe__supported(NULL, EBPFACCEL_FEAT_BTF), -EINVAL);
	errno = 0;
	ck_assert_ptr_null(ebpfaccel_probe__reason(NULL, EBPFACCEL_FEAT_BTF));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(ebpfaccel_probe__kernel_release(NULL));
	ebpfaccel_probe__free(NULL);

	p = ebpfaccel_probe__new(&(struct ebpfaccel_probe_opts){ .sz = sizeof(struct ebpfaccel_probe_opts),
								   .skip_bpf = true });
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ebpfaccel_probe__supported(p, __EBPFACCEL_FEAT_MAX), -EINVAL);
	ck_assert_int_eq(ebpfaccel_probe__supported(p, (enum ebpfaccel_feature)-1), -EINVAL);
	errno = 0;
	ck_assert_ptr_null(ebpfaccel_probe__reason(p, 1000));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(ebpfaccel_feature__name(__EBPFACCEL_FEAT_MAX));
	ebpfaccel_probe__free(p);
}
END_TEST

START_TEST(feature_names_unique)
{
	for (int i = 0; i < __EBPFACCEL_FEAT_MAX; i++) {
		ck_assert_ptr_nonnull(ebpfaccel_feature__name(i));
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(ebpfaccel_feature__name(i), ebpfaccel_feature__name(j));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, version_matches_package);
	tcase_add_test(tc, strerror_both_signs_and_library_codes);
	tcase_add_test(tc, strerror_rejects_bad_buffer);
	tcase_add_test(tc, set_print_returns_previous_and_silences);
	tcase_add_test(tc, opts_forward_compat);
	tcase_add_test(tc, null_and_invalid_arguments);
	tcase_add_test(tc, feature_names_unique);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
