/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Map definitions of the sockmap object (redis_cache.bpf.c) that the XDP
 * object (xdp.bpf.c) reuses by fd: defined here once, so that the two can
 * never disagree on a key, value or size (libbpf refuses to reuse a map
 * whose definition differs, at attach). BPF only; include after
 * redis_cache.h.
 */
#ifndef EBPFACCEL_REDIS_RC_MAPS_H
#define EBPFACCEL_REDIS_RC_MAPS_H

/* Redis' listening ports (host order) whose connections are taken in */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RC_PORTS_MAX);
	__type(key, __u16);
	__type(value, __u8);
} rc_ports SEC(".maps");

/* enum rc_stat counters, per CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RC_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} rc_stats SEC(".maps");

#endif
