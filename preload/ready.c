// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Readiness: decoded bytes that wait in the shim are invisible to the
 * kernel, so poll(), ppoll(), select(), pselect() and epoll_wait(),
 * epoll_pwait() and epoll_pwait2() report those sockets readable
 * themselves (and do not sleep while any is).  They also push
 * record bytes that a non-blocking write left behind, waking up every
 * FLUSH_RETRY_MS while some remain.
 *
 * An epoll instance learns of the shim's bytes only for sockets added to
 * it through this process's epoll_ctl(), one instance per socket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

static bool has_buffered_input(int fd)
{
	struct shim_sock *s = shim_wrapped(fd);

	return s && shim_rx_pending(s);
}

/* Shortens a wait when record bytes still wait to be pushed out. */
static int flush_timeout_ms(int timeout)
{
	if (shim_flush_all() && (timeout < 0 || timeout > FLUSH_RETRY_MS))
		return FLUSH_RETRY_MS;
	return timeout;
}

/* How many of @fds ask for input that waits in the shim. */
static int buffered_pollin(const struct pollfd *fds, nfds_t n)
{
	int ready = 0;

	for (nfds_t i = 0; i < n; i++)
		if ((fds[i].events & POLLIN) && has_buffered_input(fds[i].fd))
			ready++;
	return ready;
}

/* Adds POLLIN for the entries whose input waits in the shim to what the
 * kernel reported in @ret. */
static int merge_pollin(int ret, struct pollfd *fds, nfds_t n, int buffered)
{
	if (ret < 0 || !buffered)
		return ret;
	ret = 0;
	for (nfds_t i = 0; i < n; i++) {
		if ((fds[i].events & POLLIN) && has_buffered_input(fds[i].fd))
			fds[i].revents |= POLLIN;
		ret += fds[i].revents != 0;
	}
	return ret;
}

static bool shorter_than(const struct timespec *ts, int ms)
{
	return ts && (ts->tv_sec == 0 && ts->tv_nsec < ms * 1000000L);
}

/* The wait of a timespec-based call: nothing when input waits in the shim,
 * at most FLUSH_RETRY_MS when record bytes wait to be sent, else @ts
 * (NULL: no limit). */
static const struct timespec *shim_wait(bool buffered, const struct timespec *ts)
{
	static const struct timespec zero, retry = { 0, FLUSH_RETRY_MS * 1000000L };

	if (buffered)
		return &zero;
	if (shim_flush_all() && !shorter_than(ts, FLUSH_RETRY_MS))
		return &retry;
	return ts;
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	int buffered;

	if (shim_busy)
		return real_poll(fds, n, timeout);
	timeout = flush_timeout_ms(timeout);
	buffered = buffered_pollin(fds, n);
	return merge_pollin(real_poll(fds, n, buffered ? 0 : timeout), fds, n, buffered);
}

/* glibc 2.36 declares ppoll()'s @fds write-only (an access attribute it
 * dropped later): reading the caller's events is what ppoll() does. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	int buffered;

	if (shim_busy)
		return real_ppoll(fds, n, ts, mask);
	buffered = buffered_pollin(fds, n);
	ts = shim_wait(buffered, ts);
	return merge_pollin(real_ppoll(fds, n, ts, mask), fds, n, buffered);
}

#pragma GCC diagnostic pop

/* Fortified builds call these when the array's size is known. */
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return poll(fds, n, timeout);
}

int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		const sigset_t *mask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return ppoll(fds, n, ts, mask);
}

/* Moves the descriptors of @rd whose bytes wait in the shim to @buffered;
 * returns how many. */
static int take_buffered(int nfds, fd_set *rd, fd_set *buffered)
{
	int n = 0;

	FD_ZERO(buffered);
	if (!rd)
		return 0;
	for (int fd = 0; fd < nfds && fd <= shim_max_fd; fd++)
		if (FD_ISSET(fd, rd) && has_buffered_input(fd)) {
			FD_SET(fd, buffered);
			n++;
		}
	return n;
}

/* Adds the buffered descriptors to what the kernel found ready. */
static int merge_buffered(int ret, int nfds, fd_set *rd, const fd_set *buffered)
{
	if (ret < 0)
		return ret;
	for (int fd = 0; fd < nfds && fd <= shim_max_fd; fd++)
		if (FD_ISSET(fd, buffered) && !FD_ISSET(fd, rd)) {
			FD_SET(fd, rd);
			ret++;
		}
	return ret;
}

/* What select() and pselect() share: the wait given as a timespec (NULL
 * for none), shortened by shim_wait(); a wait it did not shorten comes
 * back as @tmp, a copy select() may write the time left to. */
static const struct timespec *select_wait(int nfds, fd_set *rd, fd_set *buffered,
					  const struct timespec *ts, struct timespec *tmp)
{
	const struct timespec *wait = shim_wait(take_buffered(nfds, rd, buffered) > 0, ts);

	if (!wait || wait != ts)
		return wait;
	*tmp = *ts;
	return tmp;
}

int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts,
	    const sigset_t *mask)
{
	struct timespec tmp;
	fd_set buffered;

	if (shim_busy || nfds <= 0)
		return real_pselect(nfds, rd, wr, ex, ts, mask);
	ts = select_wait(nfds, rd, &buffered, ts, &tmp);
	return merge_buffered(real_pselect(nfds, rd, wr, ex, ts, mask), nfds, rd, &buffered);
}

/* Linux's select() leaves the time not slept in *@tv; so does this one,
 * approximately, when it did not shorten the wait. */
int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
	struct timespec tmp, given;
	const struct timespec *ts;
	fd_set buffered;
	struct timeval tv0;
	int ret;

	if (shim_busy || nfds <= 0)
		return real_select(nfds, rd, wr, ex, tv);
	if (tv) {
		given.tv_sec = tv->tv_sec;
		given.tv_nsec = tv->tv_usec * 1000L;
	}
	ts = select_wait(nfds, rd, &buffered, tv ? &given : NULL, &tmp);
	if (!ts) {
		ret = real_select(nfds, rd, wr, ex, NULL);
	} else {
		tv0 = (struct timeval){ ts->tv_sec, ts->tv_nsec / 1000 };
		ret = real_select(nfds, rd, wr, ex, &tv0);
		if (tv && ts == &tmp)
			*tv = tv0;
	}
	return merge_buffered(ret, nfds, rd, &buffered);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int ret = real_epoll_ctl(epfd, op, fd, ev);
	struct shim_sock *s;

	if (ret || !(s = shim_lookup(fd)))
		return ret;
	s->epfd = op == EPOLL_CTL_DEL ? -1 : epfd;
	if (ev && op != EPOLL_CTL_DEL)
		s->ev = *ev;
	return ret;
}

/* Adds EPOLLIN for sockets of @epfd whose decoded bytes wait in the shim. */
static int add_buffered_events(int epfd, struct epoll_event *events, int n, int max)
{
	for (int fd = 0; fd <= shim_max_fd && n < max; fd++) {
		struct shim_sock *s = shim_wrapped(fd);
		int i;

		if (!s || s->epfd != epfd || !(s->ev.events & EPOLLIN) || !shim_rx_pending(s))
			continue;
		for (i = 0; i < n && events[i].data.u64 != s->ev.data.u64; i++)
			;
		if (i == n)
			events[i].events = 0;
		events[i].events |= EPOLLIN;
		events[i].data = s->ev.data;
		if (i == n)
			n++;
	}
	return n;
}

static bool epoll_has_buffered(int epfd)
{
	struct epoll_event probe;

	return add_buffered_events(epfd, &probe, 0, 1) > 0;
}

/* The wait of an epoll call, in ms: none when input waits in the shim. */
static int epoll_timeout(int epfd, int timeout)
{
	timeout = flush_timeout_ms(timeout);
	return epoll_has_buffered(epfd) ? 0 : timeout;
}

int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout)
{
	int n;

	if (shim_busy)
		return real_epoll_wait(epfd, events, max, timeout);
	n = real_epoll_wait(epfd, events, max, epoll_timeout(epfd, timeout));
	return n < 0 ? n : add_buffered_events(epfd, events, n, max);
}

int epoll_pwait(int epfd, struct epoll_event *events, int max, int timeout,
		const sigset_t *mask)
{
	int n;

	if (shim_busy)
		return real_epoll_pwait(epfd, events, max, timeout, mask);
	n = real_epoll_pwait(epfd, events, max, epoll_timeout(epfd, timeout), mask);
	return n < 0 ? n : add_buffered_events(epfd, events, n, max);
}

int epoll_pwait2(int epfd, struct epoll_event *events, int max, const struct timespec *ts,
		 const sigset_t *mask)
{
	int n;

	if (!real_epoll_pwait2) {	/* a libc without it: as the syscall would */
		errno = ENOSYS;
		return -1;
	}
	if (shim_busy)
		return real_epoll_pwait2(epfd, events, max, ts, mask);
	n = real_epoll_pwait2(epfd, events, max, shim_wait(epoll_has_buffered(epfd), ts), mask);
	return n < 0 ? n : add_buffered_events(epfd, events, n, max);
}
