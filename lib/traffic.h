/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Between the traffic probe, its estimators and the auto policy.  Not installed. */
#ifndef EBPFACCEL_LIB_TRAFFIC_H
#define EBPFACCEL_LIB_TRAFFIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebpfaccel/traffic_probe.h"

/* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns(), in ns. */
uint64_t ebpfaccel__monotonic_ns(void);

/* Order-0 entropy in bits per byte; -1 for an empty buffer. */
double ebpfaccel__entropy(const uint8_t *buf, size_t len);

/* original/compressed with @algo (enum tcp_comp_algo) at @level; 0 when
 * @len is 0, -errno when the compressor fails. */
double ebpfaccel__comp_ratio(int algo, int level, const uint8_t *buf, size_t len);

/* Bytes/s one core compresses @buf with @algo at @level, timed in thread
 * CPU time over at least 20 ms of repeated runs; -errno on failure. */
int64_t ebpfaccel__comp_speed(int algo, int level, const uint8_t *buf, size_t len);

/* The probe's held sample of @port in direction @dir, copied into a
 * malloc'd *buf (oldest byte first).  0, -ENOENT (no sample), -ENOMEM. */
int ebpfaccel__traffic_probe_sample(struct ebpfaccel_traffic_probe *probe, uint16_t port,
				    int dir, uint8_t **buf, size_t *len);

/* cls_bpf filters on an interface's clsact hooks, added through libnl-route
 * and removed exactly.  The netlink socket stays open (and in the netns of
 * the attaching thread) until detach. */
struct ebpfaccel__tc_hooks {
	struct nl_sock *sk;
	int ifindex;
	uint16_t prio;
	bool qdisc_created;
	bool hooked[2];		/* by enum ebpfaccel_traffic_dir: egress, ingress */
};

/* Direct-action filters at @prio, handle 1, one per direction (-1 fd:
 * none), on an Ethernet-framed interface (-EOPNOTSUPP otherwise, -ENODEV
 * if there is none).  Creates the clsact qdisc if missing.  0 or -errno,
 * and then nothing is left behind. */
int ebpfaccel__tc_hooks_attach(struct ebpfaccel__tc_hooks *h, int ifindex, uint16_t prio,
			       const int prog_fd[2], const char *const prog_name[2]);

/* Removes the filters, and the qdisc if attach created it and it holds no
 * other filter.  0 or the first -errno; always releases the socket. */
int ebpfaccel__tc_hooks_detach(struct ebpfaccel__tc_hooks *h);

#endif
