// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Persistent compression policies: pinned by one process, reopened by
 * another, steered from there with effect on real negotiated connections
 * between two network namespaces; detach leaves nothing pinned or attached;
 * a process that dies while pinning leaves nothing attached behind.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixtures.h"
#include "comp_testlib.h"
#include "comp_pair.h"
#include "comp_negotiate.skel.h"

#define PORT		7002
#define DATA_LEN	(200 * 1024)
#define COMP_PINS	"/sys/fs/bpf/ebpfaccel/comp"

static struct comp_pair env;
static struct ebpfaccel_comp_policy *pol_s;
static char pin_name[64];

static void setup(void)
{
	comp_pair_setup(&env);
	pol_s = ebpfaccel_comp_policy__open(NULL);
	ck_assert_ptr_nonnull(pol_s);
	ck_assert_int_eq(ebpfaccel_comp_policy__attach(pol_s, fx_cgroup_fd(env.cg_s)), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(pol_s, PORT, NULL), 0);
	snprintf(pin_name, sizeof(pin_name), "test-pin-%d", (int)getpid());
}

static void teardown(void)
{
	char dir[512];
	struct ebpfaccel_comp_policy *p = ebpfaccel_comp_policy__open_pinned(pin_name);

	/* A failed case may leave its pin: detach it, never someone else's. */
	if (p)
		ebpfaccel_comp_policy__detach(p);
	ebpfaccel_comp_policy__destroy(p);
	snprintf(dir, sizeof(dir), "%s/%s", COMP_PINS, pin_name);
	ck_assert_int_ne(access(dir, F_OK), 0);
	ebpfaccel_comp_policy__destroy(pol_s);
	comp_pair_teardown(&env);
}

/* Programs attached to @cg for sock_ops. */
static unsigned int sockops_progs(struct fx_cgroup *cg)
{
	__u32 ids[8], cnt = 8;

	ck_assert_int_eq(bpf_prog_query(fx_cgroup_fd(cg), BPF_CGROUP_SOCK_OPS, 0, NULL, ids, &cnt), 0);
	return cnt;
}

/* Like another program would: a process of its own pins and exits. */
static void attach_pinned_in_child(const char *name)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (!pid) {
		LIBEBPFACCEL_OPTS(ebpfaccel_comp_policy_opts, o, .pin = true, .pin_name = name);
		struct ebpfaccel_comp_policy *p = ebpfaccel_comp_policy__open(&o);

		_exit(!p || ebpfaccel_comp_policy__attach(p, fx_cgroup_fd(env.cg_c)) ? 1 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void assert_mode(const char *dir, const char *file, mode_t mode)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, mode);
}

static struct comp_fds connect_pair(void)
{
	return comp_pair_connect(&env, AF_INET, PORT, env.cg_c, env.cg_s);
}

struct receiver {
	int fd, err;
	char *buf;
};

static void *receive(void *arg)
{
	struct receiver *r = arg;
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .policy = pol_s);
	struct ebpfaccel_comp_conn *c = ebpfaccel_comp_conn__new(r->fd, &o);

	r->err = c ? comp_recv_all(c, r->fd, r->buf, DATA_LEN) : -errno;
	ebpfaccel_comp_conn__free(c);
	return NULL;
}

/* Sends text from client to server; returns the client's wire bytes. */
static uint64_t send_text(const struct comp_fds *p, const struct ebpfaccel_comp_policy *pol_c)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .policy = pol_c);
	struct receiver r = { .fd = p->sfd, .buf = malloc(DATA_LEN) };
	char *data = malloc(DATA_LEN);
	struct ebpfaccel_comp_conn *c = ebpfaccel_comp_conn__new(p->cfd, &o);
	struct tcp_comp_stats st;
	pthread_t t;

	ck_assert_ptr_nonnull(c);
	comp_fill_text(data, DATA_LEN, 7);
	pthread_create(&t, NULL, receive, &r);
	ck_assert_int_eq(comp_send_all(c, p->cfd, data, DATA_LEN), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(r.err, 0);
	ck_assert(memcmp(r.buf, data, DATA_LEN) == 0);
	ck_assert_int_eq(ebpfaccel_comp_conn__stats(c, &st), 0);
	ck_assert_uint_eq(st.tx_bytes_in, DATA_LEN);
	ebpfaccel_comp_conn__free(c);
	free(data);
	free(r.buf);
	return st.tx_bytes_out;
}

START_TEST(pin_reopen_steer_detach)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, lz4, .algo = TCP_COMP_ALGO_LZ4,
			  .mode = TCP_COMP_MODE_STREAM);
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, got);
	struct ebpfaccel_comp_state cs = { .sz = sizeof(cs) };
	struct ebpfaccel_comp_policy_stats st;
	struct ebpfaccel_comp_policy *p, *p2;
	uint16_t ports[4];
	struct stat cg;
	struct comp_fds c;
	char dir[512];

	attach_pinned_in_child(pin_name);
	snprintf(dir, sizeof(dir), "%s/%s", COMP_PINS, pin_name);
	assert_mode(dir, ".", 0700);
	assert_mode(dir, "link", 0600);
	assert_mode(dir, "comp_policy", 0600);
	ck_assert_uint_eq(sockops_progs(env.cg_c), 1);

	p = ebpfaccel_comp_policy__open_pinned(pin_name);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(ebpfaccel_comp_policy__pin_path(p), dir);
	ck_assert_int_eq(fstat(fx_cgroup_fd(env.cg_c), &cg), 0);
	ck_assert_uint_eq(ebpfaccel_comp_policy__cgroup_id(p), cg.st_ino);

	/* No rule yet: the client's SYN carries nothing. */
	c = connect_pair();
	ck_assert_int_eq(ebpfaccel_comp_policy__state(p, c.cfd, &cs), -ENOENT);
	ck_assert_uint_eq(send_text(&c, p), DATA_LEN);
	close(c.cfd);
	close(c.sfd);

	ck_assert_int_eq(ebpfaccel_comp_policy__set_port(p, PORT, &lz4), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__ports(p, ports, 4), 1);
	ck_assert_uint_eq(ports[0], PORT);
	ck_assert_int_eq(ebpfaccel_comp_policy__get_port(p, PORT, &got), 0);
	ck_assert_int_eq(got.algo, TCP_COMP_ALGO_LZ4);
	ck_assert_int_eq(got.mode, TCP_COMP_MODE_STREAM);
	ck_assert_uint_eq(got.dir, EBPFACCEL_COMP_DIR_BOTH);
	c = connect_pair();
	ck_assert_int_eq(ebpfaccel_comp_policy__state(p, c.cfd, &cs), 0);
	ck_assert_int_eq(cs.tx.algo, TCP_COMP_ALGO_LZ4);
	ck_assert_uint_lt(send_text(&c, p), DATA_LEN / 2);
	close(c.cfd);
	close(c.sfd);

	/* A third process sees the same rules and counters. */
	p2 = ebpfaccel_comp_policy__open_pinned(dir);
	ck_assert_ptr_nonnull(p2);
	ck_assert_int_eq(ebpfaccel_comp_policy__stats(p2, &st), 0);
	ck_assert_uint_eq(st.syn_opt, 1);
	ck_assert_uint_eq(st.client_on, 1);
	ck_assert_int_eq(ebpfaccel_comp_policy__ports(p2, NULL, 0), 1);

	/* Detach through one handle detaches for the other one too. */
	ck_assert_int_eq(ebpfaccel_comp_policy__detach(p), 0);
	ck_assert_int_ne(access(dir, F_OK), 0);
	ck_assert_uint_eq(sockops_progs(env.cg_c), 0);
	ck_assert_ptr_null(ebpfaccel_comp_policy__pin_path(p));
	ck_assert_int_eq(ebpfaccel_comp_policy__detach(p), -ENOENT);
	ebpfaccel_comp_policy__destroy(p);
	ebpfaccel_comp_policy__destroy(p2);
	ck_assert_uint_eq(sockops_progs(env.cg_c), 0);
	c = connect_pair();
	ck_assert_int_eq(ebpfaccel_comp__state(c.cfd, &cs), -ENOENT);
	close(c.cfd);
	close(c.sfd);
}
END_TEST

/* A pinning process that dies before the rename leaves its temporary
 * directory; the next pinning process removes it, which detaches. */
START_TEST(dead_pinner_is_reaped)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_policy_opts, o, .pin = true, .pin_name = pin_name);
	struct ebpfaccel_comp_policy *p;
	char tmp[512], link[600];
	int status;
	pid_t pid;

	attach_pinned_in_child(pin_name);		/* makes the directories */
	p = ebpfaccel_comp_policy__open_pinned(pin_name);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ebpfaccel_comp_policy__detach(p), 0);
	ebpfaccel_comp_policy__destroy(p);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		struct comp_negotiate_bpf *skel = comp_negotiate_bpf__open_and_load();
		struct bpf_link *half = skel ? bpf_program__attach_cgroup(skel->progs.comp_negotiate,
									   fx_cgroup_fd(env.cg_c)) : NULL;

		if (!half)
			_exit(1);
		snprintf(tmp, sizeof(tmp), "%s/~tmp-%d-%s", COMP_PINS, (int)getpid(), pin_name);
		snprintf(link, sizeof(link), "%s/link", tmp);
		/* What pinning does up to the rename, then a crash. */
		if (mkdir(tmp, 0700) || bpf_obj_pin(bpf_link__fd(half), link))
			_exit(2);
		kill(getpid(), SIGKILL);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_uint_eq(sockops_progs(env.cg_c), 1);

	p = ebpfaccel_comp_policy__open(&o);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ebpfaccel_comp_policy__attach(p, fx_cgroup_fd(env.cg_s)), 0);
	snprintf(tmp, sizeof(tmp), "%s/~tmp-%d-%s", COMP_PINS, (int)pid, pin_name);
	ck_assert_int_ne(access(tmp, F_OK), 0);
	ck_assert_uint_eq(sockops_progs(env.cg_c), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__detach(p), 0);
	ebpfaccel_comp_policy__destroy(p);
}
END_TEST

START_TEST(pin_errors)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_policy_opts, o, .pin = true, .pin_name = pin_name);
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_policy_opts, bad, .pin = true, .pin_name = ".hidden");
	struct ebpfaccel_comp_policy *p;

	errno = 0;
	ck_assert_ptr_null(ebpfaccel_comp_policy__open_pinned(pin_name));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(ebpfaccel_comp_policy__open_pinned(".."));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(ebpfaccel_comp_policy__open_pinned(""));
	ck_assert_int_eq(errno, EINVAL);

	p = ebpfaccel_comp_policy__open(&bad);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ebpfaccel_comp_policy__attach(p, fx_cgroup_fd(env.cg_c)), -EINVAL);
	ck_assert_uint_eq(sockops_progs(env.cg_c), 0);
	ebpfaccel_comp_policy__destroy(p);

	/* The name is taken: the second one is not attached at all. */
	attach_pinned_in_child(pin_name);
	p = ebpfaccel_comp_policy__open(&o);
	ck_assert_int_eq(ebpfaccel_comp_policy__attach(p, fx_cgroup_fd(env.cg_n)), -EEXIST);
	ck_assert_uint_eq(sockops_progs(env.cg_n), 0);
	ck_assert_int_eq(ebpfaccel_comp_policy__detach(p), -ENOENT);
	ck_assert_ptr_null(ebpfaccel_comp_policy__pin_path(p));
	ebpfaccel_comp_policy__destroy(p);
	ck_assert_uint_eq(sockops_progs(env.cg_c), 1);
}
END_TEST

static Suite *pin_suite(void)
{
	Suite *s = suite_create("comp_pin");
	TCase *tc = tcase_create("pin");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pin_reopen_steer_detach);
	tcase_add_test(tc, dead_pinner_is_reaped);
	tcase_add_test(tc, pin_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	fx_require_root();
	return fx_run_suite(pin_suite());
}
