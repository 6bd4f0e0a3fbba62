/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/**
 * @file core.h
 * @brief libebpfaccel basics: versions, logging, errors and options.
 *
 * Conventions used by every libebpfaccel function:
 *  - functions returning int return 0 (or a non-negative count) on success
 *    and a negative errno value on failure;
 *  - functions returning a pointer return NULL on failure and set errno;
 *  - the library never writes to stdout or stderr: messages go to the
 *    callback installed with ebpfaccel_set_print().
 */
#ifndef EBPFACCEL_CORE_H
#define EBPFACCEL_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef EBPFACCEL_API
#define EBPFACCEL_API __attribute__((visibility("default")))
#endif

#define LIBEBPFACCEL_MAJOR_VERSION 0
#define LIBEBPFACCEL_MINOR_VERSION 1

/**
 * Declare and zero-initialise an options struct, filling in its size.
 *
 * Every ebpfaccel_*_opts struct starts with `size_t sz` and ends with
 * `size_t :0`.  The library reads only the fields that fit in @c sz and
 * rejects (-EINVAL) a struct from a newer caller whose extra fields are not
 * zero, so fields can be added without breaking the ABI.
 *
 * @code
 * LIBEBPFACCEL_OPTS(ebpfaccel_probe_opts, opts, .flags = 0);
 * @endcode
 */
#define LIBEBPFACCEL_OPTS(TYPE, NAME, ...)					\
	struct TYPE NAME = ({							\
		memset(&NAME, 0, sizeof(struct TYPE));				\
		(struct TYPE) {							\
			.sz = sizeof(struct TYPE),				\
			__VA_ARGS__						\
		};								\
	})

/**
 * @brief Runtime version of the library.
 * @return A static string "MAJOR.MINOR.PATCH"; never NULL.
 */
EBPFACCEL_API const char *ebpfaccel_version(void);

/** @brief Major version of the library at run time. */
EBPFACCEL_API unsigned int ebpfaccel_major_version(void);
/** @brief Minor version of the library at run time. */
EBPFACCEL_API unsigned int ebpfaccel_minor_version(void);

/** Levels passed to the print callback, most severe first. */
enum ebpfaccel_print_level {
	EBPFACCEL_WARN,
	EBPFACCEL_INFO,
	EBPFACCEL_DEBUG,
};

/**
 * Print callback: @p level, a printf-style @p format and its arguments.
 * Returns what vfprintf would; the library ignores it.
 */
typedef int (*ebpfaccel_print_fn_t)(enum ebpfaccel_print_level level,
				    const char *format, va_list args);

/**
 * @brief Install the function that receives the library's messages.
 *
 * The default callback prints WARN and INFO messages to stderr, and DEBUG
 * messages too when the environment variable EBPFACCEL_DEBUG is set.  Pass
 * NULL to silence the library.  The callback may be called from any thread
 * that calls into the library and from the library's own helper threads.
 *
 * @param fn  new callback, or NULL.
 * @return The previous callback.
 */
EBPFACCEL_API ebpfaccel_print_fn_t ebpfaccel_set_print(ebpfaccel_print_fn_t fn);

/**
 * @brief Describe an error code returned by the library.
 *
 * Accepts either sign (-EPERM and EPERM give the same text).  Library
 * specific codes (EBPFACCEL_ERR_*) get their own text; other values are
 * described like strerror_r() does.
 *
 * @param err  error code.
 * @param buf  where to write the message; must not be NULL.
 * @param size size of @p buf; the message is truncated to fit.
 * @return 0 on success, -EINVAL if @p buf is NULL or @p size is 0.
 */
EBPFACCEL_API int ebpfaccel_strerror(int err, char *buf, size_t size);

/** Library-specific error codes, above the errno range (cf. libbpf). */
enum ebpfaccel_error {
	__EBPFACCEL_ERR_BASE	= 5000,
	/** The running kernel lacks a BPF feature the call needs. */
	EBPFACCEL_ERR_KERNEL	= 5001,
	/** A BPF program was rejected by the verifier. */
	EBPFACCEL_ERR_VERIFY	= 5002,
	/** The peer sent data that violates the protocol. */
	EBPFACCEL_ERR_PROTO	= 5003,
	__EBPFACCEL_ERR_MAX,
};

/**
 * Why an object's BPF programs and maps could not be loaded into the kernel,
 * filled by the open function whose options point at it (e.g.
 * ebpfaccel_redis_cache_opts.load_error) when that open fails.
 *
 * When the kernel's verifier refuses a program, the reason is the verifier's
 * last meaningful line; its full log goes to the print callback at
 * EBPFACCEL_DEBUG.  The same one line is logged at EBPFACCEL_WARN.
 *
 * @code
 * LIBEBPFACCEL_OPTS(ebpfaccel_load_error, why);
 * opts.load_error = &why;
 * if (!ebpfaccel_redis_cache__open(&opts) && why.reason[0])
 *         fprintf(stderr, "%s\n", why.reason);
 * @endcode
 */
struct ebpfaccel_load_error {
	/** sizeof(struct ebpfaccel_load_error); use LIBEBPFACCEL_OPTS().  The
	 *  library writes only the fields that fit. */
	size_t sz;
	/** The open's error as a negative errno: -EBPFACCEL_ERR_VERIFY when
	 *  the verifier refused a program; 0 when the open succeeded. */
	int err;
	/** The kernel's verifier refused @ref prog. */
	bool verifier;
	/** The BPF program the kernel refused; "" when no program was (a map,
	 *  the kernel's BTF, or a failure before anything was loaded). */
	char prog[64];
	/** One line for people: which program or part failed and why, e.g.
	 *  "BPF program rc_request refused by the kernel's verifier: The
	 *  sequence of 8193 jumps is too complex"; "" when the open failed
	 *  before loading (bad options, privileges: see the warning logged). */
	char reason[320];
	size_t :0;
};

#ifdef __cplusplus
}
#endif

#endif /* EBPFACCEL_CORE_H */
