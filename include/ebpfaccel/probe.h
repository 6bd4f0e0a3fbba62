/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/**
 * @file probe.h
 * @brief What the running system supports, and why not when it does not.
 *
 * A probe loads small BPF programs (embedded in the library) and inspects
 * the system once; the result is a snapshot that can be queried per feature.
 *
 * @code
 * struct ebpfaccel_probe *p = ebpfaccel_probe__new(NULL);
 * if (!p) err(1, "probe");
 * if (ebpfaccel_probe__supported(p, EBPFACCEL_FEAT_SOCKMAP) != 1)
 *         printf("no sockmap: %s\n", ebpfaccel_probe__reason(p, EBPFACCEL_FEAT_SOCKMAP));
 * ebpfaccel_probe__free(p);
 * @endcode
 */
#ifndef EBPFACCEL_PROBE_H
#define EBPFACCEL_PROBE_H

#include <stdbool.h>
#include <ebpfaccel/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Features the library can probe for. Values are stable ABI. */
enum ebpfaccel_feature {
	/** bpf(2) is usable by this process (BPF_PROG_LOAD of a trivial program). */
	EBPFACCEL_FEAT_BPF_SYSCALL	= 0,
	/** Kernel BTF at /sys/kernel/btf/vmlinux, needed for CO-RE relocations. */
	EBPFACCEL_FEAT_BTF		= 1,
	/** SOCKHASH maps with sk_skb verdict and sk_msg programs (Redis cache). */
	EBPFACCEL_FEAT_SOCKMAP		= 2,
	/** BPF_MAP_TYPE_SK_STORAGE (per-socket state). */
	EBPFACCEL_FEAT_SK_STORAGE	= 3,
	/** sock_ops TCP header-option callbacks (compression negotiation). */
	EBPFACCEL_FEAT_TCP_HDR_OPT	= 4,
	/** cls_bpf (SCHED_CLS) programs (traffic probe). */
	EBPFACCEL_FEAT_CLS_BPF		= 5,
	/** A mounted cgroup v2 hierarchy (sock_ops attach point). */
	EBPFACCEL_FEAT_CGROUP2		= 6,
	/** A mounted BPF filesystem (persistent attachments). */
	EBPFACCEL_FEAT_BPFFS		= 7,
	/** The tcp_comp kernel module ("comp" TCP ULP): loaded or loadable. */
	EBPFACCEL_FEAT_TCP_COMP_KMOD	= 8,
	/** CAP_BPF (or CAP_SYS_ADMIN on kernels without CAP_BPF). */
	EBPFACCEL_FEAT_CAP_BPF		= 9,
	/** CAP_NET_ADMIN. */
	EBPFACCEL_FEAT_CAP_NET_ADMIN	= 10,
	/** CAP_SYS_ADMIN (cgroup attach, bpffs mount). */
	EBPFACCEL_FEAT_CAP_SYS_ADMIN	= 11,
	/** The Redis cache's BPF object loads (the verifier accepts every
	 *  program); the reason names the program and the verifier's line
	 *  when it does not. */
	EBPFACCEL_FEAT_REDIS_CACHE	= 12,
	/** The compression negotiation's BPF object loads. */
	EBPFACCEL_FEAT_COMP_NEGOTIATE	= 13,
	/** The traffic probe's BPF object loads. */
	EBPFACCEL_FEAT_TRAFFIC_PROBE	= 14,
	/** The Redis near cache's BPF object loads (the client-host cache of
	 *  include/ebpfaccel/near_cache.h). */
	EBPFACCEL_FEAT_NEAR_CACHE	= 15,
	__EBPFACCEL_FEAT_MAX,
};

/** Options for ebpfaccel_probe__new(). */
struct ebpfaccel_probe_opts {
	/** sizeof(struct ebpfaccel_probe_opts); use LIBEBPFACCEL_OPTS(). */
	size_t sz;
	/** Skip the probes that load BPF programs (cheap, unprivileged). */
	bool skip_bpf;
	size_t :0;
};
#define ebpfaccel_probe_opts__last_field skip_bpf

struct ebpfaccel_probe;

/**
 * @brief Probe the running system.
 *
 * Never fails because a feature is missing: missing features are part of
 * the result.  Runs unprivileged too; then the BPF probes report which
 * capability they lack.  The object features (EBPFACCEL_FEAT_REDIS_CACHE
 * ...) load the library's own BPF objects and unload them, attaching
 * nothing: this takes as long as the verifier does (seconds on a slow
 * machine).
 *
 * @param opts options, or NULL for defaults.
 * @return A probe result to query and free with ebpfaccel_probe__free(), or
 *         NULL with errno set: EINVAL for bad @p opts, ENOMEM.
 */
EBPFACCEL_API struct ebpfaccel_probe *
ebpfaccel_probe__new(const struct ebpfaccel_probe_opts *opts);

/**
 * @brief Whether a feature is supported.
 * @return 1 supported, 0 not supported (see ebpfaccel_probe__reason()),
 *         -EINVAL for a NULL @p probe or an unknown @p feature.
 */
EBPFACCEL_API int ebpfaccel_probe__supported(const struct ebpfaccel_probe *probe,
					     enum ebpfaccel_feature feature);

/**
 * @brief Human-readable detail for a feature: why it is missing, or how it
 *        was found (e.g. the cgroup2 mount point).
 * @return A string owned by @p probe (valid until ebpfaccel_probe__free());
 *         NULL with errno EINVAL for a NULL @p probe or an unknown @p feature.
 */
EBPFACCEL_API const char *ebpfaccel_probe__reason(const struct ebpfaccel_probe *probe,
						  enum ebpfaccel_feature feature);

/** @brief Free a probe result; NULL is ignored. */
EBPFACCEL_API void ebpfaccel_probe__free(struct ebpfaccel_probe *probe);

/**
 * @brief Short stable name of a feature ("sockmap", "cap_bpf", ...).
 * @return A static string, or NULL with errno EINVAL for an unknown feature.
 */
EBPFACCEL_API const char *ebpfaccel_feature__name(enum ebpfaccel_feature feature);

/**
 * @brief Release of the running kernel, as uname(2) reports it.
 * @return A string owned by @p probe, or NULL with errno EINVAL.
 */
EBPFACCEL_API const char *ebpfaccel_probe__kernel_release(const struct ebpfaccel_probe *probe);

#ifdef __cplusplus
}
#endif

#endif /* EBPFACCEL_PROBE_H */
