/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF helpers of the Redis cache objects (bpf/redis/): the generation and
 * invalidation rules, the command classification and the RESP pieces they
 * write or match. Include after the maps of struct rc_shared (rc_cache_small,
 * rc_cache_large, rc_gen_bucket) and rc_cmds are defined.
 */
#ifndef EBPFACCEL_REDIS_RC_BPF_H
#define EBPFACCEL_REDIS_RC_BPF_H

#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))
#define barrier() asm volatile("" ::: "memory")
/* Verified once, not per call site; pointer arguments are plain memory,
 * which kernels before 6.2 refuse as map keys: keys are copied first. */
#define GLOBAL __attribute__((noinline))

GLOBAL __u32 key_bucket(const struct rc_key *k)
{
	return k ? rc_key_hash(k) : 0;
}

/* Generation first, then delete: a fill that raced with us either sees the
 * new generation and removes itself, or is removed by the delete. */
GLOBAL int invalidate_key(const struct rc_key *k)
{
	struct rc_key key;
	__u32 b;

	if (!k)
		return 0;
	__builtin_memcpy(&key, k, sizeof(key));
	b = key_bucket(k);
	__sync_fetch_and_add(&rc_gen_bucket[b & (RC_BUCKETS - 1)], 1);
	bpf_map_delete_elem(&rc_cache_small, &key);
	bpf_map_delete_elem(&rc_cache_large, &key);
	return 0;
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
	__builtin_memcpy(&w, r->cmd, 4);
	if (r->cmd_len == 3 && w == ('G' | 'E' << 8 | 'T' << 16))
		return RC_CMD_GET;
	/* the key on the stack: @r may be a global function's argument,
	 * which kernels before 6.2 refuse as a map key */
	__builtin_memcpy(cmd, r->cmd, RESP_CMD_MAX);
	cls = bpf_map_lookup_elem(&rc_cmds, cmd);
	return cls ? *cls : RC_CMD_UNKNOWN;
}

/* "*2\r\n$3\r\nGET\r\n$" with the command in any case, as words */
#define GET_W0	0x0a0d33240a0d322aull	/* "*2\r\n$3\r\n" */
#define GET_W1	0x0a0d544547u		/* "GET\r\n" (low 5 bytes) */

/* Length of the GET header "*2\r\n$3\r\nGET\r\n$<n>\r\n" at h[0..20) and
 * its key length in *n; 0 if h does not start with one. */
static __always_inline __u32 get_header(const __u8 *h, __u32 *n)
{
	__u64 w0, w1;

	__builtin_memcpy(&w0, h, 8);
	__builtin_memcpy(&w1, h + 8, 8);
	if (w0 != GET_W0 || ((w1 & ~0x202020ull) & 0xffffffffffull) != GET_W1 ||
	    h[13] != '$' || h[14] < '1' || h[14] > '9')
		return 0;
	*n = h[14] - '0';
	if (h[15] == '\r')
		return h[16] == '\n' ? 17 : 0;
	if (h[15] < '0' || h[15] > '9' || h[16] != '\r' || h[17] != '\n')
		return 0;
	*n = *n * 10 + h[15] - '0';
	return 18;
}

/* Writes "$<len>\r\n" (len <= 9999) into hdr[8]; returns its length. */
static __always_inline __u32 bulk_header(__u32 len, __u8 *hdr)
{
	__u8 d0 = '0' + len / 1000 % 10, d1 = '0' + len / 100 % 10;
	__u8 d2 = '0' + len / 10 % 10, d3 = '0' + len % 10;

	hdr[0] = '$';
	if (len >= 1000) {
		hdr[1] = d0; hdr[2] = d1; hdr[3] = d2; hdr[4] = d3;
		hdr[5] = '\r'; hdr[6] = '\n';
		return 7;
	}
	if (len >= 100) {
		hdr[1] = d1; hdr[2] = d2; hdr[3] = d3;
		hdr[4] = '\r'; hdr[5] = '\n';
		return 6;
	}
	if (len >= 10) {
		hdr[1] = d2; hdr[2] = d3;
		hdr[3] = '\r'; hdr[4] = '\n';
		return 5;
	}
	hdr[1] = d3;
	hdr[2] = '\r'; hdr[3] = '\n';
	return 4;
}

#endif /* EBPFACCEL_REDIS_RC_BPF_H */
