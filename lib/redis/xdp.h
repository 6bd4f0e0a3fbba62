/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The XDP mode of the Redis cache: GET hits answered on the server's
 * ingress device, before the TCP stack, with per-connection sequence
 * translation (bpf/redis/xdp.bpf.c). It shares the sockmap object's maps,
 * which stays attached to the same sockets. Internal to lib/redis/.
 */
#ifndef EBPFACCEL_REDIS_XDP_H
#define EBPFACCEL_REDIS_XDP_H

#include <stddef.h>
#include <linux/types.h>

struct bpf_map;

/* What the XDP object takes over from the sockmap object. */
struct rc_xdp_share {
	struct bpf_map *cache_small;
	struct bpf_map *confirmed;
	struct bpf_map *conns;
	struct bpf_map *ports;
	struct bpf_map *stats;
	struct bpf_map *globals;	/* the sockmap object's .bss */
	size_t off_enabled;		/* offsets of its variables there */
	size_t off_tracking_ok;
	size_t off_gen_all;
	size_t off_track_backlog;
	size_t off_track_synced;
	size_t off_track_keys;		/* the per-key gate: can_serve()'s */
	size_t off_unseen;
	size_t off_unseen_ok;
};

struct rc_xdp;

/* Loads the programs sharing @sh's maps. 0 or -errno. */
int rc_xdp__open(struct rc_xdp **out, const struct rc_xdp_share *sh);

/* Attaches to the cgroup (connections accepted from now on) and to the
 * device @ifindex of the calling thread's netns: XDP (native, else
 * generic) and tc egress. 0 or -errno; nothing is left attached on error. */
int rc_xdp__attach(struct rc_xdp *x, int cgroup_fd, int ifindex);

/* Resets (RST to the client, via SOCK_DESTROY on redis-server's socket)
 * every connection whose sequence numbers XDP shifted: without the
 * programs they could never make progress again. Others are untouched.
 * Returns how many were reset, or -errno. */
int rc_xdp__reset_shifted(struct rc_xdp *x);

/* Resets the shifted connections (rc_xdp__reset_shifted()) while tc
 * egress still translates their RSTs, then detaches everything and frees.
 * Stop answering first (rc_enabled = 0) and let in-flight answers go. */
void rc_xdp__destroy(struct rc_xdp *x);

/* The XDP programs' counters (enum xr_stat), summed over CPUs, into
 * @out[XR_STAT_MAX]. 0 or -errno. */
int rc_xdp__stats(const struct rc_xdp *x, __u64 *out);

#endif
