// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The feature probe against independent ground truth: libbpf's own probes,
 * the mount table, and what an unprivileged process is really allowed.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/libbpf.h>
#include <ebpfaccel/ebpfaccel.h>

#include "fixtures.h"

static struct ebpfaccel_probe *probe;

static void setup(void)
{
	probe = ebpfaccel_probe__new(NULL);
	ck_assert_ptr_nonnull(probe);
}

static void teardown(void)
{
	ebpfaccel_probe__free(probe);
}

static int feat(enum ebpfaccel_feature f)
{
	int v = ebpfaccel_probe__supported(probe, f);

	ck_assert_msg(v == 0 || v == 1, "feature %d: %d", f, v);
	return v;
}

static bool libbpf_says(int ret)
{
	return ret == 1;
}

START_TEST(bpf_features_match_libbpf)
{
	bool sockmap = libbpf_says(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SOCKHASH, NULL)) &&
		       libbpf_says(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SK_SKB, NULL)) &&
		       libbpf_says(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SK_MSG, NULL));
	bool sk_storage = libbpf_says(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL));
	bool hdr_opt = libbpf_says(libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCK_OPS,
							   BPF_FUNC_reserve_hdr_opt, NULL));
	bool cls = libbpf_says(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL));

	ck_assert_msg(feat(EBPFACCEL_FEAT_SOCKMAP) == sockmap, "sockmap: %s",
		      ebpfaccel_probe__reason(probe, EBPFACCEL_FEAT_SOCKMAP));
	ck_assert_msg(feat(EBPFACCEL_FEAT_SK_STORAGE) == sk_storage, "sk_storage: %s",
		      ebpfaccel_probe__reason(probe, EBPFACCEL_FEAT_SK_STORAGE));
	ck_assert_msg(feat(EBPFACCEL_FEAT_TCP_HDR_OPT) == hdr_opt, "hdr_opt: %s",
		      ebpfaccel_probe__reason(probe, EBPFACCEL_FEAT_TCP_HDR_OPT));
	ck_assert_msg(feat(EBPFACCEL_FEAT_CLS_BPF) == cls, "cls_bpf: %s",
		      ebpfaccel_probe__reason(probe, EBPFACCEL_FEAT_CLS_BPF));
	/* libbpf loaded programs as root just now, so bpf(2) works. */
	ck_assert_msg(feat(EBPFACCEL_FEAT_BPF_SYSCALL) == 1, "bpf_syscall: %s",
		      ebpfaccel_probe__reason(probe, EBPFACCEL_FEAT_BPF_SYSCALL));
}
END_TEST

/* The open a probe stands for: the object, or NULL with @why filled. */
static void *open_object(enum ebpfaccel_feature f, struct ebpfaccel_load_error *why)
{
	static const char *const server[] = { "127.0.0.1:6379" };
	__u16 port = 6379;

	if (f == EBPFACCEL_FEAT_NEAR_CACHE) {
		LIBEBPFACCEL_OPTS(ebpfaccel_near_cache_opts, o, .servers = server, .nr_servers = 1,
				  .cgroup_path = "/", .load_error = why);
		return ebpfaccel_near_cache__open(&o);
	}
	LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_opts, o, .ports = &port, .nr_ports = 1,
			  .cgroup_path = "/", .load_error = why);
	return ebpfaccel_redis_cache__open(&o);
}

static void close_object(enum ebpfaccel_feature f, void *obj)
{
	if (f == EBPFACCEL_FEAT_NEAR_CACHE)
		ebpfaccel_near_cache__destroy(obj);
	else
		ebpfaccel_redis_cache__destroy(obj);
}

/* An application opening the object learns what the probe says, in the
 * same words, from the struct ebpfaccel_load_error it passed. */
START_TEST(object_features_agree_with_open)
{
	static const enum ebpfaccel_feature objects[] = {
		EBPFACCEL_FEAT_REDIS_CACHE, EBPFACCEL_FEAT_NEAR_CACHE,
	};

	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		enum ebpfaccel_feature f = objects[i];
		LIBEBPFACCEL_OPTS(ebpfaccel_load_error, why, .err = 1, .reason = "x");
		void *obj = open_object(f, &why);
		const char *name = ebpfaccel_feature__name(f);

		ck_assert_msg(feat(f) == (obj != NULL), "%s: probe %d, open %s (%s)", name, feat(f),
			      obj ? "loaded" : strerror(errno), why.reason);
		if (obj) {
			ck_assert_int_eq(why.err, 0);
			ck_assert_str_eq(why.reason, "");
			close_object(f, obj);
		} else {
			ck_assert_int_eq(why.err, -errno);
			ck_assert_str_eq(why.reason, ebpfaccel_probe__reason(probe, f));
		}
	}
}
END_TEST

/* A refusal before anything loads says so: no stale reason is left. */
START_TEST(near_cache_bad_options_clear_the_load_error)
{
	static const char *const bad[] = { "no-port" };
	LIBEBPFACCEL_OPTS(ebpfaccel_load_error, why, .err = 1, .reason = "x");
	LIBEBPFACCEL_OPTS(ebpfaccel_near_cache_opts, o, .servers = bad, .nr_servers = 1,
			  .cgroup_path = "/", .load_error = &why);

	ck_assert_ptr_null(ebpfaccel_near_cache__open(&o));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(why.err, -EINVAL);
	ck_assert_str_eq(why.reason, "");
}
END_TEST

START_TEST(system_features_match_mounts)
{
	char *out = NULL;
	struct statfs st;
	bool bpffs = !statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC;
	bool cgroup2;

	ck_assert_int_eq(fx_run(NULL, &out, "awk '$3 == \"cgroup2\" { print $2; exit }' /proc/mounts"), 0);
	cgroup2 = out[0] != '\0';
	ck_assert_int_eq(feat(EBPFACCEL_FEAT_CGROUP2), cgroup2);
	if (cgroup2) {
		out[strcspn(out, "\n")] = '\0';
		ck_assert_ptr_nonnull(strstr(ebpfaccel_probe__reason(probe, EBPFACCEL_FEAT_CGROUP2), out));
	}
	free(out);
	ck_assert_int_eq(feat(EBPFACCEL_FEAT_BPFFS), bpffs);
	ck_assert_int_eq(feat(EBPFACCEL_FEAT_BTF), access("/sys/kernel/btf/vmlinux", R_OK) == 0);
	ck_assert_str_ne(ebpfaccel_probe__kernel_release(probe), "");
}
END_TEST

START_TEST(kmod_state_is_explained)
{
	const char *why = ebpfaccel_probe__reason(probe, EBPFACCEL_FEAT_TCP_COMP_KMOD);
	char *ulps = NULL;
	bool registered;

	fx_run(NULL, &ulps, "cat /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null");
	registered = strstr(ulps, "comp") != NULL;
	free(ulps);
	if (registered) {
		ck_assert_int_eq(feat(EBPFACCEL_FEAT_TCP_COMP_KMOD), 1);
	} else if (access("/proc/modules", F_OK)) {
		ck_assert_int_eq(feat(EBPFACCEL_FEAT_TCP_COMP_KMOD), 0);
		ck_assert_msg(strstr(why, "cannot load modules") && strstr(why, "user-space"), "%s", why);
	} else {
		ck_assert_ptr_nonnull(strstr(why, ebpfaccel_probe__kernel_release(probe)));
	}
}
END_TEST

START_TEST(root_has_capabilities)
{
	ck_assert_int_eq(feat(EBPFACCEL_FEAT_CAP_BPF), 1);
	ck_assert_int_eq(feat(EBPFACCEL_FEAT_CAP_NET_ADMIN), 1);
	ck_assert_int_eq(feat(EBPFACCEL_FEAT_CAP_SYS_ADMIN), 1);
}
END_TEST

/* In a child that dropped to "nobody" (and so every capability), run the
 * probe and send "<feature> <0|1> <reason>" lines back. */
static char *probe_unprivileged(void)
{
	int pfd[2], status;
	char *buf = calloc(1, 8192);
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct ebpfaccel_probe *p;
		FILE *f = fdopen(pfd[1], "w");

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		ebpfaccel_set_print(NULL);
		p = ebpfaccel_probe__new(NULL);
		if (!p)
			_exit(3);
		for (int f_ = 0; f_ < __EBPFACCEL_FEAT_MAX; f_++)
			fprintf(f, "%s %d %s\n", ebpfaccel_feature__name(f_),
				ebpfaccel_probe__supported(p, f_), ebpfaccel_probe__reason(p, f_));
		fclose(f);
		_exit(0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + len, 8191 - len)) > 0)
		len += n;
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	return buf;
}

static const char *line_of(const char *report, const char *name)
{
	static char line[512];
	const char *p = report;
	size_t nlen = strlen(name);

	while (p && *p) {
		if (!strncmp(p, name, nlen) && p[nlen] == ' ') {
			snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
			return line;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	ck_abort_msg("no line for %s in:\n%s", name, report);
	return NULL;
}

START_TEST(unprivileged_caller_is_told_which_capability)
{
	char *report = probe_unprivileged();
	const char *l;

	l = line_of(report, "cap_bpf");
	ck_assert_msg(!strncmp(l, "cap_bpf 0 lacks CAP_BPF", 23), "%s", l);
	l = line_of(report, "cap_net_admin");
	ck_assert_msg(strstr(l, " 0 lacks CAP_NET_ADMIN"), "%s", l);
	/* sockmap needs CAP_BPF and CAP_NET_ADMIN whatever the unprivileged
	 * BPF sysctl says: the probe must fail and name the capability. */
	l = line_of(report, "sockmap");
	ck_assert_msg(strstr(l, "sockmap 0 ") && strstr(l, "CAP_BPF"), "%s", l);
	l = line_of(report, "tcp_hdr_opt");
	ck_assert_msg(strstr(l, "tcp_hdr_opt 0 ") && strstr(l, "CAP_BPF"), "%s", l);
	/* Non-BPF facts stay true without privileges. */
	l = line_of(report, "btf");
	ck_assert_msg(strstr(l, access("/sys/kernel/btf/vmlinux", R_OK) ? "btf 0" : "btf 1"), "%s", l);
	free(report);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("probe");

	fx_require_root();
	/* One probe for every case (forked from this process): a probe loads
	 * the library's objects, which takes the verifier seconds. */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	/* opening the objects takes the verifier seconds, more on a busy machine */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bpf_features_match_libbpf);
	tcase_add_test(tc, object_features_agree_with_open);
	tcase_add_test(tc, near_cache_bad_options_clear_the_load_error);
	tcase_add_test(tc, system_features_match_mounts);
	tcase_add_test(tc, kmod_state_is_explained);
	tcase_add_test(tc, root_has_capabilities);
	tcase_add_test(tc, unprivileged_caller_is_told_which_capability);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
