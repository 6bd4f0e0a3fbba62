/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The XDP mode's per-connection state, shared by bpf/redis/xdp.bpf.c and
 * lib/redis/xdp.c. */
#ifndef EBPFACCEL_REDIS_XDP_CONN_H
#define EBPFACCEL_REDIS_XDP_CONN_H

#include "redis_cache.h"

/* "$128\r\n" + value + "\r\n", rounded up to whole 32-bit words for the
 * checksum helper */
#define XR_REPLY_MAX	(((6 + RC_SMALL_MAX + 2) + 3) & ~3)
/* How long the ACK a consumed request carried may be kept from Redis'
 * socket before a request is passed to carry it (far below the minimum
 * RTO of 200 ms, see docs/redis-cache.md) */
#define XR_OWE_NS	(20ull * 1000 * 1000)

/* A TCP connection to redis-server, as the client sends it. Ports in
 * network order, IPv4 addresses in cli[0]/srv[0]. */
struct xr_flow {
	__u32 cli[4];
	__u32 srv[4];
	__u16 cli_port;
	__u16 srv_port;
	__u32 family;		/* 4 or 6 */
};

enum xr_flags {
	/* xr_srv.flags */
	XR_SRV_SEEN	= 1,	/* a segment of the server went out */
	XR_TS		= 2,	/* the server sends timestamps */
	/* either side's flags: FIN or RST seen, never answered again */
	XR_CLOSING	= 4,
	/* xr_cli.flags */
	XR_FWD_KNOWN	= 8,	/* fwd_ack is known */
};

/*
 * Cache lines. The map value starts wherever the hash map puts it (after
 * the kernel's element header and the key, an offset that differs between
 * kernels and is not a multiple of 64), so no alignment attribute can give
 * a field a line of its own. Instead every part one CPU writes per segment
 * is kept XR_LINE bytes away from every part another CPU touches: then
 * they cannot share a line wherever the value starts. Measured (session 5):
 * with rc_xdp on the client's CPU (veth) and rc_egress on the server's, a
 * line both write per segment cost ~1 us per program per request, ten
 * times their instructions.
 */
#define XR_LINE		64

/* What rc_xdp records of the client's segments. Only rc_xdp writes it
 * (lock-free while the connection is not shifted, under the lock after). */
struct xr_cli {
	union {
		__u64 pair;	/* both, updated together (cmpxchg) */
		struct {
			__u32 nxt;	/* client space: past the last byte seen */
			__u32 fwd_ack;	/* server space: highest ACK handed on */
		};
	};
	__u32 flags;
	__u32 pad;
};

/* What rc_egress records of the server's segments. Only rc_egress writes
 * it (lock-free while not shifted, under the lock after). */
struct xr_srv {
	union {
		__u64 pair;
		struct {
			__u32 nxt;	/* server space: past the last byte sent */
			__u32 ack;	/* server space: highest ACK it sent */
		};
	};
	__u32 tsval;		/* last TSval it sent (network order) */
	__u16 win;		/* last window it sent (network order) */
	__u16 pad;
	__u32 flags;
	__u32 pad2;
};

/*
 * Sequence spaces: "client" numbers are those on the wire between client
 * and XDP; "server" numbers are those redis-server's socket uses. Client
 * bytes at or after in_mark (server space) are shifted by in_delta, older
 * ones by old_in_delta; the same for the server's bytes and out_*.
 *
 * "shifted" is set (once, for good) by the first segment XDP may answer,
 * before it reads cli and srv under the lock. Until then the lock and
 * every field before gap0 are only read, and each program writes only its
 * own line lock-free, then reads "shifted" again (both with a full barrier
 * between write and read): a segment racing the first answer sees the flag
 * and records itself again under the lock, and the answer sees the
 * segments that did not. See docs/redis-cache.md, XDP mode.
 */
struct xr_conn {
	struct bpf_spin_lock lock;
	__u32 shifted;
	__u64 cookie;		/* socket cookie, for the sockmap's rc_conns */
	__u32 in_delta, old_in_delta, in_mark;
	__u32 out_delta, old_out_delta, out_mark;
	__u64 owed_since;	/* an ACK kept from the server since then */
	/* the answer the client has not ACKed yet (retransmitted on an
	 * exact retransmission of its request) */
	__u32 inj_pending;
	__u32 inj_req_seq;	/* client space */
	__u32 inj_req_len;
	__u32 inj_start;	/* client space of server bytes */
	__u32 inj_len;
	__u32 stash_id;		/* under the lock: id of the current answer */
	__u8 gap0[XR_LINE];
	struct xr_cli cli;
	__u8 gap1[XR_LINE];
	struct xr_srv srv;
	__u8 gap2[XR_LINE];
	/* written by answers only; outside the lock: begin id, bytes, end id */
	__u32 stash_begin;
	__u32 stash_len;
	__u8 stash[XR_REPLY_MAX];
	__u32 stash_end;
};

enum xr_stat {
	XR_STAT_HITS,		/* GETs answered in XDP */
	XR_STAT_RETRANS,	/* answers sent again for a retransmission */
	XR_STAT_OWED_PASS,	/* hits passed to carry an ACK to the server */
	XR_STAT_DROPS,		/* segments dropped (see xdp.bpf.c) */
	XR_STAT_CONNS,		/* connections taken in */
	XR_STAT_MAX,
};

#endif
