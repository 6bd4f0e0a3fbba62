// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fixtures later tests stand on: they must really isolate and clean up. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"

static bool netns_exists(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	return access(path, F_OK) == 0;
}

/* Connect from @from to @to_addr:port where a listener in @to accepts, and
 * pass one byte through. */
static void tcp_across(struct fx_netns *from, struct fx_netns *to, int family, const char *to_addr)
{
	struct sockaddr_storage ss = {};
	socklen_t sl = sizeof(ss);
	int lfd = fx_socket_in(to, family, SOCK_STREAM);
	int cfd = fx_socket_in(from, family, SOCK_STREAM);
	int afd;
	char c = 0;

	ck_assert_int_ge(lfd, 0);
	ck_assert_int_ge(cfd, 0);
	ss.ss_family = family;
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&ss,
			      family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&ss, &sl), 0);
	if (family == AF_INET)
		ck_assert_int_eq(inet_pton(AF_INET, to_addr, &((struct sockaddr_in *)&ss)->sin_addr), 1);
	else
		ck_assert_int_eq(inet_pton(AF_INET6, to_addr, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
	ck_assert_msg(connect(cfd, (struct sockaddr *)&ss, sl) == 0, "connect %s: %s", to_addr, strerror(errno));
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	ck_assert_int_eq(write(cfd, "x", 1), 1);
	ck_assert_int_eq(read(afd, &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(afd);
	close(cfd);
	close(lfd);
}

START_TEST(netns_veth_connect_v4_v6)
{
	struct fx_netns *a = fx_netns_new(), *b = fx_netns_new();
	struct fx_veth v;
	char name_a[64];

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(fx_veth_new(a, b, &v), 0);
	tcp_across(a, b, AF_INET, v.ip4_b);
	tcp_across(b, a, AF_INET6, v.ip6_a);

	/* The link lives only in the namespaces: the host does not see it. */
	ck_assert_int_ne(fx_run(NULL, NULL, "ip link show %s >/dev/null 2>&1", v.name_a), 0);
	ck_assert_int_eq(fx_run(a, NULL, "ip link show %s >/dev/null 2>&1", v.name_a), 0);

	snprintf(name_a, sizeof(name_a), "%s", fx_netns_name(a));
	fx_netns_free(a);
	fx_netns_free(b);
	ck_assert(!netns_exists(name_a));
}
END_TEST

START_TEST(netns_enter_and_return)
{
	struct fx_netns *ns = fx_netns_new();
	char *before = NULL, *inside = NULL, *after = NULL;
	int prev;

	ck_assert_ptr_nonnull(ns);
	fx_run(NULL, &before, "readlink /proc/self/ns/net");
	prev = fx_netns_enter(ns);
	ck_assert_int_ge(prev, 0);
	/* fx_run's child inherits the namespace of the calling thread. */
	fx_run(NULL, &inside, "readlink /proc/self/ns/net");
	ck_assert_int_eq(fx_netns_return(prev), 0);
	fx_run(NULL, &after, "readlink /proc/self/ns/net");
	ck_assert_str_ne(before, inside);
	ck_assert_str_eq(before, after);
	free(before);
	free(inside);
	free(after);
	fx_netns_free(ns);
}
END_TEST

START_TEST(cgroup_holds_a_process)
{
	struct fx_cgroup *cg = fx_cgroup_new();
	char *out = NULL, path[4096];
	const char *rel;
	pid_t pid;

	ck_assert_ptr_nonnull(cg);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	ck_assert_int_eq(fx_cgroup_add_pid(cg, pid), 0);
	ck_assert_int_eq(fx_run(NULL, &out, "grep '^0::' /proc/%d/cgroup", (int)pid), 0);
	rel = strrchr(fx_cgroup_path(cg), '/');
	ck_assert_msg(strstr(out, rel), "%s not in %s", rel, out);
	free(out);

	/* Freeing a cgroup that still has a member hands it back and works. */
	snprintf(path, sizeof(path), "%s", fx_cgroup_path(cg));
	fx_cgroup_free(cg);
	ck_assert_int_ne(access(path, F_OK), 0);
	kill(pid, SIGKILL);
}
END_TEST

START_TEST(redis_in_netns_with_real_client)
{
	struct fx_netns *ns = fx_netns_new();
	struct fx_redis *r;
	char *out = NULL;

	ck_assert_ptr_nonnull(ns);
	r = fx_redis_start(ns, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(fx_run(ns, &out, "redis-cli -p %d SET k v && redis-cli -p %d GET k",
				fx_redis_port(r), fx_redis_port(r)), 0);
	ck_assert_str_eq(out, "OK\nv\n");
	free(out);
	/* The unix socket is the same server. */
	ck_assert_int_eq(fx_run(NULL, &out, "redis-cli -s %s GET k", fx_redis_unixsock(r)), 0);
	ck_assert_str_eq(out, "v\n");
	free(out);
	/* Not reachable from the host namespace. */
	ck_assert_int_ne(fx_run(NULL, NULL, "redis-cli -p %d PING >/dev/null 2>&1", fx_redis_port(r)), 0);
	fx_redis_stop(r);
	fx_netns_free(ns);
}
END_TEST

START_TEST(redis_extra_conf_and_cgroup)
{
	static const char *const conf[] = { "requirepass s3cret", NULL };
	struct fx_cgroup *cg = fx_cgroup_new();
	struct fx_netns *ns = fx_netns_new();
	struct fx_redis *r;
	char *out = NULL;

	ck_assert_ptr_nonnull(cg);
	r = fx_redis_start_cg(ns, cg, conf);
	ck_assert_ptr_nonnull(r);
	fx_run(ns, &out, "redis-cli -p %d GET k 2>&1", fx_redis_port(r));
	ck_assert_msg(strstr(out, "NOAUTH"), "%s", out);
	free(out);
	ck_assert_int_eq(fx_run(ns, &out, "redis-cli -p %d --no-auth-warning -a s3cret PING",
				fx_redis_port(r)), 0);
	ck_assert_str_eq(out, "PONG\n");
	free(out);
	ck_assert_int_eq(fx_run(NULL, &out, "cat %s/cgroup.procs", fx_cgroup_path(cg)), 0);
	ck_assert_int_eq(atoi(out), fx_redis_pid(r));
	free(out);
	fx_redis_stop(r);
	fx_cgroup_free(cg);
	fx_netns_free(ns);
}
END_TEST


/* Waits up to 10 s for the reaper, then asserts it removed them all. */
static void assert_reaped(const char *ns_path, const char *cg_path, pid_t redis_pid, const char *after)
{
	for (int i = 0; i < 500; i++) {
		if (access(ns_path, F_OK) && access(cg_path, F_OK) && kill(redis_pid, 0) && errno == ESRCH)
			break;
		usleep(20000);
	}
	ck_assert_msg(access(ns_path, F_OK) != 0, "%s survived %s", ns_path, after);
	ck_assert_msg(access(cg_path, F_OK) != 0, "%s survived %s", cg_path, after);
	ck_assert_msg(kill(redis_pid, 0) != 0, "redis-server %d survived %s", (int)redis_pid, after);
}

/* A test that dies without cleaning up (Check's _exit after a failed
 * assertion, a crash, SIGKILL) must still leave nothing behind. */
START_TEST(fixtures_of_a_killed_process_are_reaped)
{
	char ns_path[128], cg_path[4096];
	int pfd[2], status;
	pid_t child, redis_pid;
	FILE *f;

	ck_assert_int_eq(pipe(pfd), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct fx_netns *ns = fx_netns_new();
		struct fx_cgroup *cg = fx_cgroup_new();
		struct fx_redis *r = ns && cg ? fx_redis_start_cg(ns, cg, NULL) : NULL;

		if (!r)
			_exit(2);
		f = fdopen(pfd[1], "w");
		fprintf(f, "/run/netns/%s\n%s\n%d\n", fx_netns_name(ns), fx_cgroup_path(cg),
			(int)fx_redis_pid(r));
		fclose(f);
		raise(SIGKILL);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	ck_assert_int_eq(fscanf(f, "%127s\n%4095s\n%d", ns_path, cg_path, &redis_pid), 3);
	fclose(f);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFSIGNALED(status));
	assert_reaped(ns_path, cg_path, redis_pid, "its creator");
}
END_TEST

/* Check runs each case in a child of its own process group and SIGKILLs
 * that group once the case has ended: the path every failed assertion
 * takes.  A nested runner makes a case fail the same way, for real. */
static int failing_case_report = -1;

START_TEST(case_that_fails_with_fixtures_live)
{
	struct fx_netns *ns = fx_netns_new();
	struct fx_cgroup *cg = fx_cgroup_new();
	struct fx_redis *r = ns && cg ? fx_redis_start_cg(ns, cg, NULL) : NULL;

	ck_assert_ptr_nonnull(r);
	dprintf(failing_case_report, "/run/netns/%s\n%s\n%d\n", fx_netns_name(ns),
		fx_cgroup_path(cg), (int)fx_redis_pid(r));
	ck_abort_msg("failing on purpose with a netns, a cgroup and redis-server live");
}
END_TEST

START_TEST(fixtures_of_a_failed_case_are_reaped)
{
	/* Same suite and case names as the outer ones: CK_RUN_SUITE and
	 * CK_RUN_CASE filter nested runners too. */
	Suite *s = suite_create("fixtures");
	TCase *tc = tcase_create("fixtures");
	char ns_path[128], cg_path[4096];
	pid_t redis_pid;
	SRunner *sr;
	int pfd[2];
	FILE *f;

	ck_assert_int_eq(pipe(pfd), 0);
	failing_case_report = pfd[1];
	tcase_add_test(tc, case_that_fails_with_fixtures_live);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_SILENT);
	ck_assert_int_eq(srunner_ntests_failed(sr), 1);
	srunner_free(sr);
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	ck_assert_int_eq(fscanf(f, "%127s\n%4095s\n%d", ns_path, cg_path, &redis_pid), 3);
	fclose(f);
	assert_reaped(ns_path, cg_path, redis_pid, "a failed case");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fixtures");
	TCase *tc = tcase_create("fixtures");

	fx_require_root();
	fx_require_program("/usr/bin/redis-server", "redis-server (package redis-server)");
	fx_require_program("/usr/bin/redis-cli", "redis-cli (package redis-tools)");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, netns_veth_connect_v4_v6);
	tcase_add_test(tc, netns_enter_and_return);
	tcase_add_test(tc, cgroup_holds_a_process);
	tcase_add_test(tc, redis_in_netns_with_real_client);
	tcase_add_test(tc, redis_extra_conf_and_cgroup);
	tcase_add_test(tc, fixtures_of_a_killed_process_are_reaped);
	tcase_add_test(tc, fixtures_of_a_failed_case_are_reaped);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
