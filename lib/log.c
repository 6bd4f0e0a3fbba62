// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The library's only way of saying anything: a replaceable callback. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <bpf/libbpf.h>

#include "internal.h"

static int default_print(enum ebpfaccel_print_level level, const char *fmt, va_list ap)
{
	if (level == EBPFACCEL_DEBUG && !getenv("EBPFACCEL_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static ebpfaccel_print_fn_t print_fn = default_print;

EBPFACCEL_API ebpfaccel_print_fn_t ebpfaccel_set_print(ebpfaccel_print_fn_t fn)
{
	return __atomic_exchange_n(&print_fn, fn, __ATOMIC_SEQ_CST);
}

void ebpfaccel__pr(enum ebpfaccel_print_level level, const char *fmt, ...)
{
	ebpfaccel_print_fn_t fn = __atomic_load_n(&print_fn, __ATOMIC_ACQUIRE);
	int saved_errno = errno;
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	fn(level, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

/* Per thread, because libbpf calls back on the thread that loads. */
static __thread int libbpf_quiet;

void ebpfaccel__libbpf_quiet(bool quiet)
{
	libbpf_quiet += quiet ? 1 : -1;
}

bool ebpfaccel__libbpf_quieted(void)
{
	return libbpf_quiet > 0;
}

/* libbpf explains verifier rejections and missing kernel features; those
 * messages belong to our user, at our levels. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	ebpfaccel_print_fn_t fn = __atomic_load_n(&print_fn, __ATOMIC_ACQUIRE);
	enum ebpfaccel_print_level ours;
	bool watched = ebpfaccel__load_watching();

	/* A load being watched gets a one-line summary at WARN instead
	 * (load_error.c), also for a silenced library; the verifier's log
	 * stays available at DEBUG. */
	if (watched) {
		va_list copy;

		va_copy(copy, ap);
		ebpfaccel__load_note(level == LIBBPF_WARN, fmt, copy);
		va_end(copy);
	}
	if (!fn)
		return 0;
	switch (level) {
	case LIBBPF_WARN: ours = EBPFACCEL_WARN; break;
	case LIBBPF_INFO: ours = EBPFACCEL_INFO; break;
	default:          ours = EBPFACCEL_DEBUG; break;
	}
	/* libbpf warns about every failed load; our probes expect failures
	 * and report them through their results instead. */
	if (ours == EBPFACCEL_WARN && (watched || libbpf_quiet > 0))
		ours = EBPFACCEL_DEBUG;
	return fn(ours, fmt, ap);
}

static pthread_once_t libbpf_print_once = PTHREAD_ONCE_INIT;

static void install_libbpf_print(void)
{
	libbpf_set_print(libbpf_print);
}

void ebpfaccel__route_libbpf_print(void)
{
	pthread_once(&libbpf_print_once, install_libbpf_print);
}
