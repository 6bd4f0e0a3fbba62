// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * In-kernel Redis GET cache on an unmodified kernel (sockmap).
 *
 * rc_sockops   puts redis-server's accepted sockets on the chosen ports into
 *              a SOCKHASH (attached to the cgroup redis-server runs in).
 * rc_request   sk_skb verdict, no stream parser: scans every request with
 *              the shared RESP scanner, keeping its state per socket. A
 *              segment made only of GETs of cached keys, arriving while Redis
 *              owes no reply on the socket, is answered by the kernel: the
 *              replies are staged per socket, the segment keeps its length,
 *              is tagged in place and redirected to the socket's own egress.
 *              Everything else passes to Redis, after its effect on the cache
 *              (invalidation, SELECT, AUTH, expected fill) is recorded.
 * rc_reply     sk_msg: turns a tagged segment into the staged replies, and
 *              scans every reply Redis writes to count replies, apply the
 *              recorded effects, fill the cache from GET replies and apply
 *              client-tracking invalidation pushes synchronously.
 * See docs/redis-cache.md for the coherence argument.
 *
 * This file holds the object's maps and globals and its three programs; the
 * programs' parts are split by concern into headers it alone includes:
 * cache_write.h (what a request passed to Redis does to the cache),
 * cache_request.h (the verdict's scan and fast paths), cache_reply.h (the
 * reply scan, fills, resync), cache_answer.h (writing staged answers) and
 * cache_push.h (whole messages of invalidation pushes).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "redis_cache.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SK_DROP 0
#define SK_PASS 1
#define LOOP_BUDGET (1 << 17)	/* bytes scanned per segment or message */

struct rc_stage {
	__u32 len;
	__u32 nget;
	__u8 buf[RC_STAGE_MAX + RC_VAL_MAX + 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} rc_socks SEC(".maps");

/* sk_skb programs cannot use sk_storage: per-socket state is keyed by the
 * socket cookie, created by rc_sockops and deleted when the socket closes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct rc_conn);
} rc_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct rc_stage);
} rc_stages SEC(".maps");

/* zeroed templates for new entries (too large for the stack) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rc_conn);
} rc_conn_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rc_stage);
} rc_stage_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct rc_key);
	__type(value, struct rc_small);
} rc_cache_small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct rc_key);
	__type(value, struct rc_large);
} rc_cache_large SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536 + 4096);
	__type(key, struct rc_key);
	__type(value, __u64);
} rc_confirmed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, char[RESP_CMD_MAX]);
	__type(value, __u32);
} rc_cmds SEC(".maps");

#include "rc_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rc_large);
} rc_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rc_fills SEC(".maps");

/* Reconfiguring commands not yet known to be executed, for the library:
 * one per open connection at most (deleted when it closes) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct rc_reconf);
} rc_reconf SEC(".maps");

/* Set by the library. */
__u32 rc_enabled;		/* serve from the kernel */
__u32 rc_accepting;		/* take new connections in */
__u32 rc_tracking_ok;		/* the invalidation connection is live */
__u32 rc_tracker_port;		/* its local port, seen as remote port here */
__u32 rc_tracker_seen;		/* set here when that connection arrives */
__u32 rc_query_port;		/* the library's query connection's local port */
/* Redis may hold pushes back in its own buffer, behind writes that reply
 * to other clients (a write it cannot finish on the tracking connection, or
 * more than it writes per event-loop turn). Bumped here when the tracking
 * connection's last write suggests so; answers need it to equal
 * rc_track_synced, which the library sets after a round trip on that
 * connection (every push queued before its reply has passed this program). */
__u32 rc_track_backlog;
__u32 rc_track_synced;
#define RC_TRACK_BURST	16384	/* Redis' reply chunk (PROTO_REPLY_CHUNK_BYTES) */
__u32 rc_max_value = RC_VAL_MAX;
/* Per-key tracking is trusted only while nothing unseen can write: with
 * rc_track_keys set, answers need rc_unseen == rc_unseen_ok, and the
 * programs bump rc_unseen when they see something that may change that
 * (a reconfiguring command, a connection they failed to take in). */
__u32 rc_track_keys;
__u32 rc_unseen;
__u32 rc_unseen_ok;
__u32 rc_reconf_lost;		/* one could not be noted in rc_reconf */
/* Bumped by both sides: a value belongs to one global generation, and a
 * fill only stands if its key's bucket generation did not move. */
__u64 rc_gen_all;
__u64 rc_gen_bucket[RC_BUCKETS];
/* Writes passed to Redis whose reply Redis has not written yet, by key
 * bucket, and those that may change any key. A fill stands only while none
 * is pending for its key: Redis may run a write later than it arrives
 * (CLIENT PAUSE WRITE, behind a blocked client, deep in a pipeline), and a
 * GET it answers meanwhile reads the value the write replaces. With per-key
 * tracking the write's invalidation push then follows its reply (and the
 * replies of that event-loop turn); here the bucket's generation moves
 * once more before that reply leaves, and no fill stands in between. */
__u32 rc_wpend[RC_BUCKETS];
__u32 rc_wpend_all;
/* An upper bound of the entries each hash bucket (rc_occ_index()) holds in rc_cache_small and
 * rc_cache_large: raised before every insert (fill(), the engine's
 * read-back), lowered after a delete that removed one. LRU evictions and
 * replacing updates leave it high, never low, so 0 says the bucket holds no
 * entry and a write of one of its keys need not look (drop_key()): most
 * written keys are not cached, and each lookup is a cold walk of a large
 * hash table's buckets. 64 bits: what evictions leave behind only grows,
 * and a count that wrapped to 0 would hide an entry. */
__u64 rc_occupied[RC_OCC_BUCKETS];

#include "rc_bpf.h"

/* The key's whole hash (rc_key_hash32()); global: inlined, each caller
 * would pay the unrolled hash in instructions to verify. */
GLOBAL __u32 key_hash(const struct rc_key *k)
{
	return k ? rc_key_hash32(k) : 0;
}

/* The TCP socket behind a program's socket pointer (NULL if it is not). */
static __always_inline struct tcp_sock *tcp_of(struct bpf_sock *sk)
{
	return sk ? bpf_skc_to_tcp_sock(sk) : NULL;
}

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&rc_stats, &idx);

	if (v)
		*v += n;
}

static __always_inline void invalidate_all(void)
{
	__sync_fetch_and_add(&rc_gen_all, 1);
	stat_add(RC_STAT_FLUSHES, 1);
}

#include "cache_write.h"
#include "cache_request.h"

SEC("sk_skb")
int rc_request(struct __sk_buff *skb)
{
	struct vctx v = { .skb = skb, .s.len = skb->len };
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct rc_conn *c;

	c = bpf_map_lookup_elem(&rc_conns, &cookie);
	if (!c)
		return SK_PASS;
	if (c->broken) {
		invalidate_all();
		return SK_PASS;
	}
	v.c = c;
	if (can_serve(c)) {
		v.s.eligible = 1;
		if (!starts_with_set(skb)) {
			v.st = bpf_map_lookup_elem(&rc_stages, &cookie);
			v.s.serve = v.st != NULL;
			v.s.eligible = v.s.serve;
		}
	}
	/* a segment the fast path staged whole needs no scan: the scanner is
	 * at a request boundary before and after it */
	if (!v.s.serve || !fast_gets(&v)) {
		fast_sets(&v);
		if (v.s.off == v.s.len)
			goto scanned;
		bpf_loop(LOOP_BUDGET, request_step, &v, 0);
		if (v.s.off + v.s.b.len < v.s.len || v.s.b.pos < v.s.b.len)
			v.s.bad = 1;
		if (v.s.bad) {
			/* framing lost: every later write is unknown */
			c->broken = 1;
			unprovable(c);
			invalidate_all();
			stat_add(RC_STAT_BYPASS_BAD, 1);
			return SK_PASS;
		}
	}
scanned:
	if (v.s.serve && v.s.nhits && c->req.st == RQ_START && reflect(skb, &v))
		return SK_PASS;
	if (v.s.serve) {
		c->req_seq += v.s.nhits;
		stat_add(RC_STAT_REQUESTS, v.s.nhits);
	}
	return SK_PASS;
}

#include "cache_reply.h"
#include "cache_answer.h"
#include "cache_push.h"

SEC("sk_msg")
int rc_reply(struct sk_msg_md *msg)
{
	struct mctx m = { .msg = msg, .s.len = msg->size };
	struct tcp_sock *tp;
	struct rc_conn *c;
	__u64 cookie;
	__u32 start;
	__s32 seen;
	int verdict;

	tp = tcp_of(msg->sk);
	if (!tp)
		return SK_PASS;
	/* sk_msg has no socket-cookie helper: the cookie rc_sockops' helper
	 * stored in the socket (sock_gen_cookie()), read where it lies
	 * instead of from socket storage, a second lookup per message */
	cookie = ((struct sock *)tp)->__sk_common.skc_cookie.counter;
	c = bpf_map_lookup_elem(&rc_conns, &cookie);
	if (!c)
		return SK_PASS;
	if (c->tracker)
		tracker_backlog(msg, tp);
	/* nothing of this message is queued yet: it starts at write_seq */
	start = tp->write_seq;
	seen = c->seq_valid ? (__s32)(c->rep_end_seq - start) : 0;
	if (seen < 0) {		/* bytes went out unseen */
		if (c->rep_broken || reply_resync(c, -seen))
			return reply_lost(c);
		seen = 0;
	}
	if (READ_ONCE(c->reflect_pending) && !seen && c->rep.st == RP_TYPE &&
	    !c->rep.depth && tagged(msg)) {
		verdict = answer(msg, c);
		WRITE_ONCE(c->rep_end_seq, start + msg->size);
		WRITE_ONCE(c->seq_valid, 1);
		barrier();
		__sync_fetch_and_add(&c->reflect_pending, -1);
		return verdict;
	}
	if (c->rep_broken)
		return SK_PASS;
	bound_unseen(msg, tp);
	/* a send that failed half-way, or the rest of a message bound_unseen()
	 * cut: skip what was scanned already. Marked before replies are
	 * counted, see send_clear(). A message that starts in scanned bytes
	 * and goes past them is Redis writing again after such a failure: the
	 * connection stayed in step. */
	if (seen >= m.s.len)
		return SK_PASS;
	if (seen > 0)
		stat_add(RC_STAT_READMITS, 1);
	WRITE_ONCE(c->rep_end_seq, start + m.s.len);
	WRITE_ONCE(c->seq_valid, 1);
	barrier();
	if (!seen && ok_reply(msg, c))
		return SK_PASS;
	if (!seen && c->tracker && fast_pushes(msg, c))
		return SK_PASS;
	m.s.off = seen;
	m.c = c;
	bpf_loop(LOOP_BUDGET, reply_step, &m, 0);
	if (m.s.off + m.s.b.len < m.s.len || m.s.b.pos < m.s.b.len ||
	    c->rep.done_due)
		m.s.bad = 1;
	if (m.s.bad)
		return reply_lost(c);
	/* the rest of an invalidation push may come late: forget everything */
	if (c->rep.top == '>' && (c->rep.depth || c->rep.st != RP_TYPE))
		invalidate_all();
	return SK_PASS;
}

/* ---- connections -------------------------------------------------------- */

/* A connection going: the writes Redis has not answered are released (it
 * answers none of them now). */
GLOBAL int release_writes(struct rc_conn *c)
{
	__u32 rep, i;

	if (!c)
		return 0;
	rep = READ_ONCE(c->rep_seq);
	for (i = 0; i < RC_SLOTS; i++) {
		if (!slot_pending(&c->slots[i], rep))
			continue;
		WRITE_ONCE(c->slots[i].seq, 0);
		write_done(c->slots[i].kind, c->slots[i].bucket);
	}
	return 0;
}

/* @rport: the peer's port. Only the library's current connections cover
 * the cache: one it replaced (switching tracking modes) may close after
 * the new ones are up. */
static __always_inline void conn_close(__u64 cookie, __u32 rport)
{
	struct rc_conn *c = bpf_map_lookup_elem(&rc_conns, &cookie);

	if (!c)
		return;
	release_writes(c);
	if (c->tracker && (rport == READ_ONCE(rc_tracker_port) ||
			   rport == READ_ONCE(rc_query_port))) {
		rc_tracking_ok = 0;
		invalidate_all();
	}
	bpf_map_delete_elem(&rc_stages, &cookie);
	bpf_map_delete_elem(&rc_reconf, &cookie);
	bpf_map_delete_elem(&rc_conns, &cookie);
}

static __always_inline void conn_open(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	__u16 port = skops->local_port;
	__u32 rport;
	__u32 zero = 0;
	struct rc_conn *c;
	void *tmpl;

	if (!READ_ONCE(rc_accepting) || !bpf_map_lookup_elem(&rc_ports, &port))
		return;
	tmpl = bpf_map_lookup_elem(&rc_conn_zero, &zero);
	if (!tmpl || bpf_map_update_elem(&rc_conns, &cookie, tmpl, BPF_NOEXIST)) {
		unseen_event();		/* a connection whose writes pass unseen */
		return;
	}
	tmpl = bpf_map_lookup_elem(&rc_stage_zero, &zero);
	if (tmpl)
		bpf_map_update_elem(&rc_stages, &cookie, tmpl, BPF_NOEXIST);
	c = bpf_map_lookup_elem(&rc_conns, &cookie);
	if (!c)
		return;
	c->cookie = cookie;
	rport = bpf_ntohl(skops->remote_port) & 0xffff;
	if (rc_tracker_port && rport == rc_tracker_port) {
		c->tracker = 1;
		c->pushy = 1;
		rc_tracker_seen = 1;
	}
	/* Its GETs register keys for invalidation and check fills against
	 * Redis: never a fill, never answered here. Its keys are tracked only
	 * while it lives, so losing it loses coherence like the tracker. */
	if (rc_query_port && rport == rc_query_port) {
		c->tracker = 1;
		c->pushy = 1;
	}
	bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
	if (bpf_sock_hash_update(skops, &rc_socks, &cookie, BPF_NOEXIST)) {
		conn_close(cookie, rport);
		unseen_event();
	}
}

SEC("sockops")
int rc_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		conn_open(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		/* the tracker stops covering us as soon as it leaves */
		if (skops->args[1] == BPF_TCP_CLOSE ||
		    skops->args[1] == BPF_TCP_CLOSE_WAIT ||
		    skops->args[1] == BPF_TCP_FIN_WAIT1)
			conn_close(bpf_get_socket_cookie(skops),
				   bpf_ntohl(skops->remote_port) & 0xffff);
		break;
	}
	return 1;
}
