// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The shim's descriptor table: which descriptors name a compressed socket,
 * decided once per descriptor on its first I/O call, and shared by its
 * duplicates.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include "shim.h"

#define CLOSE_FLUSH_MS	1000

enum { FD_UNKNOWN = 0, FD_PLAIN, FD_WRAPPED };

static unsigned char fd_class[SHIM_MAX_FD];
static struct shim_sock *socks[SHIM_MAX_FD];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
int shim_max_fd = -1;
__thread bool shim_busy;

#define SHIM_DEFINE_REAL(ret, name, ...) ret (*real_##name)(__VA_ARGS__);
SHIM_REALS(SHIM_DEFINE_REAL)

#define SHIM_RESOLVE(ret, name, ...) real_##name = dlsym(RTLD_NEXT, #name);

__attribute__((constructor)) static void shim_init(void)
{
	SHIM_REALS(SHIM_RESOLVE)
}

static bool fd_in_range(int fd)
{
	return fd >= 0 && fd < SHIM_MAX_FD;
}

ssize_t shim_errno(ssize_t ret)
{
	if (ret >= 0)
		return ret;
	errno = -ret;
	return -1;
}

/* The shim's own descriptor of the socket sits high, out of the way of
 * descriptors the application numbers itself (select() sets, dup2()
 * targets); any free number will do when the limit is low. */
static int private_dup(int fd)
{
	struct rlimit rl;
	int low = 0, dup_fd;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		low = rl.rlim_cur / 2;
	dup_fd = real_fcntl(fd, F_DUPFD_CLOEXEC, low);
	if (dup_fd < 0)
		dup_fd = real_fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return dup_fd;
}

static struct shim_sock *wrap(int fd)
{
	struct ebpfaccel_comp_state st = { .sz = sizeof(st) };
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .tx = &st.tx, .rx = &st.rx);
	struct shim_sock *s;

	if (ebpfaccel_comp__state(fd, &st) ||
	    (st.phase != EBPFACCEL_COMP_PHASE_ON && st.phase != EBPFACCEL_COMP_PHASE_CONFIRMING) ||
	    (st.tx.algo == TCP_COMP_ALGO_NONE && st.rx.algo == TCP_COMP_ALGO_NONE))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fd = private_dup(fd);
	if (s->fd < 0) {
		free(s);
		return NULL;
	}
	s->conn = ebpfaccel_comp_conn__new(s->fd, &o);
	if (!s->conn) {
		real_close(s->fd);
		free(s);
		return NULL;
	}
	s->aliases = 1;
	s->epfd = -1;
	pthread_mutex_init(&s->rx_lock, NULL);
	pthread_mutex_init(&s->tx_lock, NULL);
	return s;
}

static void note_wrapped(int fd, struct shim_sock *s)
{
	socks[fd] = s;
	fd_class[fd] = FD_WRAPPED;
	if (fd > shim_max_fd)
		shim_max_fd = fd;
}

/* Decides once per descriptor; a TCP socket not yet connected stays unknown. */
static void classify(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	struct shim_sock *s;
	int proto;

	fd_class[fd] = FD_PLAIN;
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) || proto != IPPROTO_TCP)
		return;
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len)) {
		fd_class[fd] = FD_UNKNOWN;
		return;
	}
	s = wrap(fd);
	if (s)
		note_wrapped(fd, s);
}

struct shim_sock *shim_lookup(int fd)
{
	struct shim_sock *s = NULL;
	int saved = errno;

	if (shim_busy || !fd_in_range(fd) || fd_class[fd] == FD_PLAIN)
		return NULL;
	pthread_mutex_lock(&table_lock);
	if (fd_class[fd] == FD_UNKNOWN) {
		shim_busy = true;
		classify(fd);
		shim_busy = false;
	}
	if (fd_class[fd] == FD_WRAPPED)
		s = socks[fd];
	pthread_mutex_unlock(&table_lock);
	errno = saved;
	return s;
}

struct shim_sock *shim_wrapped(int fd)
{
	if (shim_busy || !fd_in_range(fd) || fd_class[fd] != FD_WRAPPED)
		return NULL;
	return socks[fd];
}

void shim_alias(int old, int fd)
{
	struct shim_sock *s;

	if (shim_busy || !fd_in_range(fd))
		return;
	shim_lookup(old);	/* decides @old if it is undecided */
	pthread_mutex_lock(&table_lock);
	s = fd_in_range(old) && fd_class[old] == FD_WRAPPED ? socks[old] : NULL;
	if (s) {
		s->aliases++;
		note_wrapped(fd, s);
	} else {
		/* A duplicate of an undecided socket is decided on its own. */
		fd_class[fd] = fd_in_range(old) ? fd_class[old] : FD_UNKNOWN;
	}
	pthread_mutex_unlock(&table_lock);
}

void shim_flush(struct shim_sock *s)
{
	pthread_mutex_lock(&s->tx_lock);
	shim_busy = true;
	ebpfaccel_comp_conn__flush(s->conn);
	shim_busy = false;
	pthread_mutex_unlock(&s->tx_lock);
}

bool shim_flush_all(void)
{
	bool pending = false;

	for (int fd = 0; fd <= shim_max_fd; fd++) {
		struct shim_sock *s = shim_wrapped(fd);

		if (!s || !ebpfaccel_comp_conn__tx_pending(s->conn))
			continue;
		shim_flush(s);
		pending |= ebpfaccel_comp_conn__tx_pending(s->conn) > 0;
	}
	return pending;
}

bool shim_rx_pending(struct shim_sock *s)
{
	return s->peek_len || ebpfaccel_comp_conn__rx_pending(s->conn);
}

/* The last record must reach the socket before the descriptor goes. */
static void drain(struct shim_sock *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };

	for (int waited = 0; waited < CLOSE_FLUSH_MS && ebpfaccel_comp_conn__tx_pending(s->conn);
	     waited += FLUSH_RETRY_MS) {
		shim_flush(s);
		if (ebpfaccel_comp_conn__tx_pending(s->conn))
			real_poll(&p, 1, FLUSH_RETRY_MS);
	}
}

static void release(struct shim_sock *s)
{
	drain(s);
	ebpfaccel_comp_conn__free(s->conn);
	real_close(s->fd);
	pthread_mutex_destroy(&s->rx_lock);
	pthread_mutex_destroy(&s->tx_lock);
	free(s->peek);
	free(s);
}

void shim_forget(int fd)
{
	struct shim_sock *s;

	if (shim_busy || !fd_in_range(fd))
		return;
	pthread_mutex_lock(&table_lock);
	s = fd_class[fd] == FD_WRAPPED ? socks[fd] : NULL;
	socks[fd] = NULL;
	fd_class[fd] = FD_UNKNOWN;
	if (s && --s->aliases)
		s = NULL;
	pthread_mutex_unlock(&table_lock);
	if (s)
		release(s);
}
