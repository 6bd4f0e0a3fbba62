/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Internal helpers shared by the library's source files.  Not installed. */
#ifndef EBPFACCEL_INTERNAL_H
#define EBPFACCEL_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebpfaccel/ebpfaccel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- logging */
__attribute__((format(printf, 2, 3)))
void ebpfaccel__pr(enum ebpfaccel_print_level level, const char *fmt, ...);

#define pr_warn(fmt, ...)  ebpfaccel__pr(EBPFACCEL_WARN, "libebpfaccel: " fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)  ebpfaccel__pr(EBPFACCEL_INFO, "libebpfaccel: " fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) ebpfaccel__pr(EBPFACCEL_DEBUG, "libebpfaccel: " fmt, ##__VA_ARGS__)

/* Send libbpf's own messages through our callback (idempotent). */
void ebpfaccel__route_libbpf_print(void);

/* Demote libbpf's warnings to debug on this thread while a failure is an
 * expected outcome (feature probes).  Calls nest. */
void ebpfaccel__libbpf_quiet(bool quiet);
bool ebpfaccel__libbpf_quieted(void);

/* ---------------------------------------------------- BPF load failures
 * Around a libbpf object load (lib/load_error.c): between begin and end,
 * libbpf's messages on this thread are read for the program the kernel
 * refused and the verifier's reason, and shown at DEBUG only.  end()
 * returns @err (-EBPFACCEL_ERR_VERIFY for a verifier refusal), logs one
 * WARN line "<what>: <reason>" and fills @out (may be NULL). */
struct ebpfaccel_load_error;
void ebpfaccel__load_begin(void);
int ebpfaccel__load_end(int err, const char *what, struct ebpfaccel_load_error *out);
/* Called by the libbpf print hook: true while a load is being watched. */
bool ebpfaccel__load_watching(void);
void ebpfaccel__load_note(bool warning, const char *fmt, va_list ap);
/* @out (may be NULL) for a failure before loading: @err, no reason. */
void ebpfaccel__load_error_clear(struct ebpfaccel_load_error *out, int err);

/* ---------------------------------------------------------- opts structs
 * Same contract as libbpf's OPTS_*: read only what the caller's struct
 * holds, refuse unknown non-zero trailing bytes. */
bool ebpfaccel__validate_opts(const char *opts, size_t opts_sz, size_t user_sz,
			      const char *type_name);

#define OPTS_VALID(opts, type)						\
	(!(opts) || ebpfaccel__validate_opts((const char *)(opts),	\
		offsetofend(struct type, type##__last_field),		\
		(opts)->sz, #type))
#define offsetofend(TYPE, FIELD) \
	(offsetof(TYPE, FIELD) + sizeof(((TYPE *)0)->FIELD))
#define OPTS_HAS(opts, field) \
	((opts) && (opts)->sz >= offsetofend(typeof(*(opts)), field))
#define OPTS_GET(opts, field, fallback_value) \
	(OPTS_HAS(opts, field) ? (opts)->field : fallback_value)

/* Pointer-returning API functions: set errno from a -errno and return NULL. */
static inline void *ebpfaccel__err_ptr(int err)
{
	errno = err < 0 ? -err : err;
	return NULL;
}

/* ------------------------------------------------------------ privileges */
#define CAPMASK(cap) (1ULL << (cap))

/* 1 if the calling thread has @cap in its effective set, 0 if not. */
int ebpfaccel__has_cap(int cap);

/* 0 if every capability in @capmask is effective, else -EPERM after
 * logging which one @what needs.  CAP_BPF is satisfied by CAP_SYS_ADMIN
 * (kernels before 5.8 know only the latter). */
int ebpfaccel__need_caps(const char *what, uint64_t capmask);

/* The first capability of @capmask this thread lacks (CAP_BPF as above),
 * or -1. */
int ebpfaccel__missing_cap(uint64_t capmask);

const char *ebpfaccel__cap_name(int cap);

/* ---------------------------------------------------------- system paths */
/* Mount point of the cgroup v2 hierarchy from /proc/mounts. */
int ebpfaccel__cgroup2_path(char *buf, size_t len);

/* 0 if a bpffs is mounted at @path, -ENOENT if not, -errno on error. */
int ebpfaccel__bpffs_at(const char *path);

/* Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. */
void ebpfaccel__bump_memlock(void);

/* Whether TCP upper layer protocol @name is registered (its module loaded). */
bool ebpfaccel__ulp_registered(const char *name);

/* Newest record format (TCP_COMP_VERSION_*) of the loaded tcp_comp module;
 * 0 when no module carries the "comp" ULP. */
int ebpfaccel__comp_kernel_format(void);

/* ------------------------------------------------------------- BPF maps */
struct bpf_map;
/* sums[i] = the sum over CPUs of entry i of a BPF_MAP_TYPE_PERCPU_ARRAY of
 * __u64 counters, for i < @n; 0 or -errno. */
int ebpfaccel__sum_percpu(const struct bpf_map *map, uint32_t n, uint64_t *sums);

#endif /* EBPFACCEL_INTERNAL_H */
