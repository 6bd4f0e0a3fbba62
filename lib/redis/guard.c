// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A process holding a cache can die without detaching. Its descriptors go,
 * and with them the sock_ops link, so no new connection comes in and the
 * programs never see the tracking connection's server side close; but the
 * sockets already in the sockmap keep the verdict and sk_msg programs
 * (each psock holds its own references) and those go on answering from
 * maps nothing keeps coherent any more: measured, thousands of stale reads
 * per second under a soak (tests/test_redis_restart_soak.sh).
 *
 * So a small guard process waits on a pipe whose only write end is the
 * holder's: at the holder's death the pipe reads end-of-file and the guard
 * clears tracking_ok (and bumps the generation) through the .bss mapping it
 * shares with the holder, which every serving path checks. The guard keeps
 * no other descriptor (no link, no socket) and ignores every signal it may
 * be sent with the holder's group, so it outlives the holder just long
 * enough.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "redis/guard.h"

/* The guard, after fork() of a possibly threaded process: async-signal-safe
 * calls only. */
static void __attribute__((noreturn)) guard_run(int rfd, __u32 *tracking_ok, __u64 *gen_all)
{
	sigset_t all;
	char c;
	ssize_t n;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (dup2(rfd, STDIN_FILENO) < 0)
		_exit(1);
	close_range(STDERR_FILENO + 1, ~0U, 0);
	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	do
		n = read(STDIN_FILENO, &c, 1);
	while (n > 0 || (n < 0 && errno == EINTR));
	__atomic_store_n(tracking_ok, 0, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(gen_all, 1, __ATOMIC_SEQ_CST);
	_exit(0);
}

int rc_guard__start(struct rc_guard *g, const struct rc_shared *sh)
{
	int p[2];
	pid_t pid;

	g->pid = 0;
	g->fd = -1;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		return err;
	}
	if (!pid) {
		close(p[1]);
		guard_run(p[0], sh->tracking_ok, sh->gen_all);
	}
	close(p[0]);
	g->pid = pid;
	g->fd = p[1];
	return 0;
}

void rc_guard__stop(struct rc_guard *g)
{
	if (!g->pid)
		return;
	close(g->fd);
	while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
		;
	g->pid = 0;
	g->fd = -1;
}
