// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Readiness: decoded bytes that wait in the shim are invisible to the
 * kernel, so poll(), select() and epoll_wait() report those sockets
 * readable themselves (and do not sleep while any is).  They also push
 * record bytes that a non-blocking write left behind, waking up every
 * FLUSH_RETRY_MS while some remain.
 *
 * An epoll instance learns of the shim's bytes only for sockets added to
 * it through this process's epoll_ctl(), one instance per socket.
 */
#include <errno.h>
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

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	int ready = 0, ret;

	if (shim_busy)
		return real_poll(fds, n, timeout);
	timeout = flush_timeout_ms(timeout);
	for (nfds_t i = 0; i < n; i++)
		if ((fds[i].events & POLLIN) && has_buffered_input(fds[i].fd))
			ready++;
	ret = real_poll(fds, n, ready ? 0 : timeout);
	if (ret < 0 || !ready)
		return ret;
	ret = 0;
	for (nfds_t i = 0; i < n; i++) {
		if ((fds[i].events & POLLIN) && has_buffered_input(fds[i].fd))
			fds[i].revents |= POLLIN;
		ret += fds[i].revents != 0;
	}
	return ret;
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

static bool shorter_than(const struct timespec *ts, int ms)
{
	return ts && (ts->tv_sec == 0 && ts->tv_nsec < ms * 1000000L);
}

/* What select() and pselect() share: the wait given as a timespec (NULL
 * for none), shortened to nothing when bytes wait in the shim and to
 * FLUSH_RETRY_MS when record bytes wait to be sent. */
static const struct timespec *select_wait(int nfds, fd_set *rd, fd_set *buffered,
					  const struct timespec *ts, struct timespec *tmp)
{
	static const struct timespec zero, retry = { 0, FLUSH_RETRY_MS * 1000000L };

	if (take_buffered(nfds, rd, buffered))
		return &zero;
	if (shim_flush_all() && !shorter_than(ts, FLUSH_RETRY_MS))
		return &retry;
	if (!ts)
		return NULL;
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

int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout)
{
	int n;

	if (shim_busy)
		return real_epoll_wait(epfd, events, max, timeout);
	timeout = flush_timeout_ms(timeout);
	if (epoll_has_buffered(epfd))
		timeout = 0;
	n = real_epoll_wait(epfd, events, max, timeout);
	if (n < 0)
		return n;
	return add_buffered_events(epfd, events, n, max);
}
