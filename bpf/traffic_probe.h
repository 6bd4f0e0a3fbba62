/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Traffic probe: structs shared by bpf/traffic_probe.bpf.c and
 * lib/traffic_probe.c.  Directions are seen from the host the probe runs
 * on: TX is what leaves through the interface (egress), RX what arrives.
 */
#ifndef EBPFACCEL_TRAFFIC_PROBE_BPF_H
#define EBPFACCEL_TRAFFIC_PROBE_BPF_H

/* BPF programs get the types from vmlinux.h. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum tp_dir {
	TP_TX = 0,
	TP_RX = 1,
	TP_NDIR = 2,
};

/* Bytes copied from a sampled segment's payload.  Power of two: the BPF
 * side bounds the copy length with a mask. */
#define TP_SAMPLE_MAX	256

/* A TCP connection as seen from this host.  Addresses are IPv4 in the first
 * 4 bytes (rest zero) or IPv6; ports in host order. */
struct tp_flow_key {
	__u8	local[16];
	__u8	remote[16];
	__u16	lport;
	__u16	rport;
	__u8	family;		/* AF_INET or AF_INET6 */
	__u8	pad[3];
};

/* Counters for one direction.  The rate window is a pair of fixed windows
 * of window_ns each: user space interpolates between the finished one and
 * the current one to get a sliding-window rate. */
struct tp_dir_stats {
	__u64	bytes;		/* L3 bytes (IP header included) */
	__u64	packets;	/* wire packets: GSO segments counted */
	__u64	payload_bytes;	/* TCP payload bytes */
	__u64	payload_segs;	/* skbs carrying TCP payload */
	__u64	win_start_ns;	/* start of the current rate window */
	__u64	win_bytes;	/* payload bytes in the current window */
	__u64	prev_win_bytes;	/* payload bytes in the window before it */
	__u64	peak_win_bytes;	/* most payload bytes any finished window held */
};

struct tp_flow {
	struct tp_dir_stats dir[TP_NDIR];
	__u64	first_ns;
	__u64	last_ns;
	__u64	turns;		/* payload direction changes */
	__u64	sample_credit;	/* payload bytes since the last sample */
	__u16	server_port;	/* port the per-port stats are kept under */
	__u8	last_dir;	/* direction of the last payload, TP_NDIR = none */
	__u8	local_is_server;/* 1 if the SYN arrived here, 0 if it left, 2 unknown */
	__u32	stretch_left;	/* payload bytes of a stretch still to copy */
	__u32	stretch_seq;	/* the sequence number the stretch continues at */
	__u8	stretch_dir;	/* the direction it copies */
	__u8	pad[3];
};

struct tp_port {
	struct tp_dir_stats dir[TP_NDIR];
	__u64	first_ns;
	__u64	last_ns;
	__u64	turns;		/* sum of the turns of the port's flows */
	__u64	flows;		/* flows first seen under this port */
};

/* What a ring-buffer record carries (tp_sample.kind). */
enum tp_sample_kind {
	TP_PIECE = 0,		/* a sampled segment's payload prefix */
	TP_STRETCH_FIRST = 1,	/* the first piece of a contiguous stretch */
	TP_STRETCH = 2,		/* the next piece of the stretch in progress */
};

/* A contiguous stretch copies every payload byte of consecutive in-order
 * segments of one flow, TP_SAMPLE_MAX bytes a record, this many records a
 * segment at most (a 64 KiB GSO packet); a larger segment ends it. */
#define TP_STRETCH_PIECES	256

/* One sampled payload prefix, or a piece of a stretch, sent through the
 * ring buffer. */
struct tp_sample {
	__u16	port;
	__u8	dir;
	__u8	kind;		/* enum tp_sample_kind */
	__u32	len;		/* valid bytes in data, 1..TP_SAMPLE_MAX */
	__u8	data[TP_SAMPLE_MAX];
};

#endif /* EBPFACCEL_TRAFFIC_PROBE_BPF_H */
