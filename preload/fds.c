// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Descriptor life: a number that is closed or reused forgets its socket;
 * duplicates (dup, dup2, dup3, fcntl F_DUPFD*) name the same compressed
 * socket as their original.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "shim.h"

int close(int fd)
{
	shim_forget(fd);
	return real_close(fd);
}

/* Descriptors closed by the range are forgotten first: the last record of
 * a socket must still reach it. */
int close_range(unsigned int first, unsigned int last, int flags)
{
	if (!(flags & CLOSE_RANGE_CLOEXEC))
		for (unsigned int fd = first; fd <= last && (int)fd <= shim_max_fd; fd++)
			shim_forget(fd);
	return real_close_range(first, last, flags);
}

int socket(int domain, int type, int proto)
{
	int fd = real_socket(domain, type, proto);

	shim_forget(fd);
	return fd;
}

int accept(int lfd, struct sockaddr *addr, socklen_t *alen)
{
	int fd = real_accept(lfd, addr, alen);

	shim_forget(fd);
	return fd;
}

int accept4(int lfd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	int fd = real_accept4(lfd, addr, alen, flags);

	shim_forget(fd);
	return fd;
}

static int new_alias(int old, int fd)
{
	if (fd >= 0) {
		shim_forget(fd);
		shim_alias(old, fd);
	}
	return fd;
}

int dup(int old)
{
	return new_alias(old, real_dup(old));
}

/* The target is closed by the kernel: forget it before, so that its last
 * record still goes out. */
int dup2(int old, int new)
{
	if (old == new)
		return real_dup2(old, new);
	shim_forget(new);
	return new_alias(old, real_dup2(old, new));
}

int dup3(int old, int new, int flags)
{
	if (old != new)
		shim_forget(new);
	return new_alias(old, real_dup3(old, new, flags));
}

/* Every fcntl argument is an int or a pointer, both passed in one register
 * by the calling conventions glibc supports (as glibc's own wrapper does). */
static int shim_fcntl(int fd, int cmd, va_list ap)
{
	void *arg = va_arg(ap, void *);

	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return new_alias(fd, real_fcntl(fd, cmd, arg));
	return real_fcntl(fd, cmd, arg);
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	int ret;

	va_start(ap, cmd);
	ret = shim_fcntl(fd, cmd, ap);
	va_end(ap);
	return ret;
}

/* glibc 2.28+ builds with 64-bit offsets call fcntl64: the same call on
 * the ABIs where the shim is built. */
int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));
