/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF helpers every Redis cache object that keeps its own copy of struct
 * rc_shared uses (redis_cache.bpf.c, near.bpf.c): the generation and
 * invalidation rules and the command classification. Include after the maps
 * rc_cache_small, rc_cache_large, rc_cmds and the globals rc_gen_all and
 * rc_gen_bucket[] are defined. The RESP pieces written or matched (rc_get_header(),
 * rc_bulk_header()) and the READ_ONCE/WRITE_ONCE/barrier/GLOBAL macros live
 * in redis_cache.h, which the XDP object shares too.
 */
#ifndef EBPFACCEL_REDIS_RC_BPF_H
#define EBPFACCEL_REDIS_RC_BPF_H

GLOBAL __u32 key_bucket(const struct rc_key *k)
{
	return k ? rc_key_hash(k) : 0;
}

#define RC_ENOENT 2

/* Whether a delete left no entry behind: done, or there was none. */
static __always_inline int rc_gone(long err)
{
	return !err || err == -RC_ENOENT;
}

/* Generation first, then delete: a fill that raced with us either sees the
 * new generation and removes itself, or is removed by the delete. A delete
 * can fail with the key present (the bucket lock: -EBUSY when it is taken
 * on this CPU before 6.15, -EDEADLK/-ETIMEDOUT from the resilient lock
 * since); the entry would then outlive its invalidation with its global
 * generation and its confirmation intact, so everything goes instead.
 * Returns 1 when it had to flush. Static: @k stays a pointer to the
 * caller's stack, which every kernel takes as a map key (a global function
 * would need a copy, and 6.1 allows 512 bytes of stack along a whole call
 * chain). */
static __noinline int invalidate_key(const struct rc_key *k)
{
	__u32 b = key_bucket(k);
	long small, large;

	__sync_fetch_and_add(&rc_gen_bucket[b & (RC_BUCKETS - 1)], 1);
	small = bpf_map_delete_elem(&rc_cache_small, k);
	large = bpf_map_delete_elem(&rc_cache_large, k);
	if (rc_gone(small) && rc_gone(large))
		return 0;
	__sync_fetch_and_add(&rc_gen_all, 1);
	return 1;
}

static __always_inline void key_from_req(struct rc_key *k,
					 const struct resp_req *r)
{
	k->len = r->key_len;
	__builtin_memcpy(k->data, r->key, RESP_KEY_MAX);
}

static __always_inline int key_is(const struct resp_req *r, const char *w,
				  __u32 n)
{
	if (r->key_len != n)
		return 0;
	for (int i = 0; i < 16; i++) {
		if (i >= n)
			break;
		if (resp_upper(r->key[i]) != w[i])
			return 0;
	}
	return 1;
}

static __always_inline __u32 parse_db(const struct resp_req *r)
{
	__u32 db = 0;

	if (!r->key_len || r->key_len > 9)
		return ~0u;
	for (int i = 0; i < 9; i++) {
		__u8 c = r->key[i];

		if (i >= r->key_len)
			break;
		if (c < '0' || c > '9')
			return ~0u;
		db = db * 10 + (c - '0');
	}
	return db;
}

/* What the request's command does to the cache (enum rc_cmd_class). */
static __always_inline __u32 classify(const struct resp_req *r)
{
	char cmd[RESP_CMD_MAX];
	__u32 *cls, w;

	if (r->flags & RESP_REQ_CMD_LONG)
		return RC_CMD_UNKNOWN;
	/* GET, the hot path, without a hash of the command name */
	__builtin_memcpy(&w, r->cmd, 4);
	if (r->cmd_len == 3 && w == ('G' | 'E' << 8 | 'T' << 16))
		return RC_CMD_GET;
	/* a key on the stack: kernels before 6.2 take no other memory as a
	 * map key, and the scanner's state is plain memory in global
	 * functions */
	__builtin_memcpy(cmd, r->cmd, RESP_CMD_MAX);
	cls = bpf_map_lookup_elem(&rc_cmds, cmd);
	return cls ? *cls : RC_CMD_UNKNOWN;
}

#endif /* EBPFACCEL_REDIS_RC_BPF_H */
