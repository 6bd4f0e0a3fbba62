/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The request side's record of what Redis owes: one slot per request
 * passed to Redis, pending writes by key bucket (a fill never stands over
 * a write Redis has not replied to), and what each kind of request passed
 * to Redis does to the cache (apply_*(): invalidation, SELECT, AUTH,
 * tracking changes, reconfiguration).
 *
 * Part of redis_cache.bpf.c, included by it alone after its maps and
 * globals (static functions of one BPF object; see that file).
 */
#ifndef EBPFACCEL_REDIS_CACHE_WRITE_H
#define EBPFACCEL_REDIS_CACHE_WRITE_H

static __always_inline struct rc_slot *slot_for(struct rc_conn *c, __u32 seq)
{
	return &c->slots[seq & (RC_SLOTS - 1)];
}

static __always_inline int slot_is_write(__u32 kind)
{
	return kind == SLOT_SET || kind == SLOT_WRITE || kind == SLOT_WRITE_ALL;
}

/* A write whose reply Redis has not written yet: only that reply (or the
 * connection's close) may release its slot. */
static __always_inline int slot_pending(const struct rc_slot *s, __u32 rep_seq)
{
	__u32 seq = READ_ONCE(s->seq);

	return seq && slot_is_write(READ_ONCE(s->kind)) && (__s32)(seq - 1 - rep_seq) >= 0;
}

/* Returns 0 when the slot still holds a pending write (16 requests in
 * flight): the request is then not remembered. @key (RESP_KEY_MAX bytes,
 * zero padded) and @key_len matter for fills and keyed writes only. */
static __always_inline int record(struct rc_conn *c, __u32 kind, __u32 db,
				  const char *key, __u32 key_len)
{
	struct rc_slot *s = slot_for(c, c->req_seq);
	__u32 seq = c->req_seq + 1;

	if (slot_pending(s, READ_ONCE(c->rep_seq)))
		return 0;
	WRITE_ONCE(s->seq, 0);
	barrier();
	s->kind = kind;
	s->db = db;
	if (key && (kind == SLOT_FILL || kind == SLOT_SET || kind == SLOT_WRITE)) {
		s->key.len = key_len;
		__builtin_memcpy(s->key.data, key, RESP_KEY_MAX);
		s->bucket = key_hash(&s->key);
		s->gen = READ_ONCE(rc_gen_all);
		s->bgen = READ_ONCE(rc_gen_bucket[s->bucket & (RC_BUCKETS - 1)]);
	}
	barrier();
	WRITE_ONCE(s->seq, seq);
	return 1;
}

static __always_inline void unseen_event(void)
{
	__sync_fetch_and_add(&rc_unseen, 1);
}

/* A write of @c may run with no reply to release it: per-key tracking can
 * no longer cover it (see rc_conn.unprovable). */
static __always_inline void unprovable(struct rc_conn *c)
{
	if (c->unprovable || c->tracker)
		return;
	c->unprovable = 1;
	unseen_event();
}

/* A write passed to Redis, before it invalidates: pending from now until
 * Redis writes its reply (rc_wpend). Inside MULTI, EXEC is that write.
 * Returns the slot it is pending in, NULL if it is not remembered. */
static __always_inline struct rc_slot *write_pending(struct rc_conn *c, __u32 kind,
						     const struct rc_key *k)
{
	struct rc_slot *s;

	if (c->in_multi)
		return NULL;
	if (c->pushy || !record(c, kind, READ_ONCE(c->db), k ? k->data : NULL,
				k ? k->len : 0)) {
		unprovable(c);
		return NULL;
	}
	s = slot_for(c, c->req_seq);
	if (kind == SLOT_WRITE_ALL)
		__sync_fetch_and_add(&rc_wpend_all, 1);
	else
		__sync_fetch_and_add(&rc_wpend[s->bucket & (RC_BUCKETS - 1)], 1);
	return s;
}

/* Redis wrote a pending write's reply (or its connection went): the
 * write's invalidation once more, then its key's fills may stand again. */
static __always_inline void write_done(__u32 kind, __u32 bucket)
{
	if (kind == SLOT_WRITE_ALL) {
		__sync_fetch_and_add(&rc_gen_all, 1);
		__sync_fetch_and_add(&rc_wpend_all, -1);
	} else if (kind == SLOT_SET || kind == SLOT_WRITE) {
		__sync_fetch_and_add(&rc_gen_bucket[bucket & (RC_BUCKETS - 1)], 1);
		__sync_fetch_and_add(&rc_wpend[bucket & (RC_BUCKETS - 1)], -1);
	}
}

/* An unknown write: everything is invalidated, and pending until its reply. */
static __always_inline void write_all(struct rc_conn *c)
{
	write_pending(c, SLOT_WRITE_ALL, NULL);
	invalidate_all();
}

/* Served only as the default user, once Redis let the connection in: it
 * accepted its AUTH or answered one of its GETs (neither NOAUTH nor NOPERM).
 * Whether a password is needed can change behind the programs' back
 * (CONFIG SET requirepass on the unix socket), so it is never assumed. */
static __always_inline int auth_ok(struct rc_conn *c)
{
	return READ_ONCE(c->authed) && !c->other_user;
}

static __noinline void apply_get(struct rc_conn *c, struct resp_req *r)
{
	if (r->argc != 2 || (r->flags & RESP_REQ_KEY_LONG) || c->pushy ||
	    c->in_multi || READ_ONCE(c->select_inflight) || c->other_user)
		return;
	stat_add(RC_STAT_MISSES, 1);
	record(c, SLOT_FILL, READ_ONCE(c->db), r->key, r->key_len);
}

/* The request's first argument, if the cache could hold it (keys longer
 * than RESP_KEY_MAX are never cached). */
static __always_inline int req_key(struct rc_key *k, const struct resp_req *r)
{
	if (r->argc < 2 || (r->flags & RESP_REQ_KEY_LONG))
		return 0;
	key_from_req(k, r);
	return 1;
}

/* Deletes @k, of hash @h, from @map; true if that removed an entry (its
 * rc_occupied count is then one lower). */
static __always_inline int drop_entry(void *map, const struct rc_key *k, __u32 h)
{
	if (bpf_map_delete_elem(map, k))
		return 0;
	__sync_fetch_and_add(&rc_occupied[rc_occ_index(h)], -1);
	return 1;
}

/* Invalidates @k, of hash @h (key_hash(), known to the caller), and
 * says whether its entry was answered from since it was filled. Generation
 * first, then delete what is there: a fill that raced with us either reads
 * the new generation and removes itself, or inserted before that read, and
 * then the lookups here see its entry. Both sides put a full barrier
 * between the two: x86's locked add (the generation here, rc_wpend in
 * fill()) and the engine's fence after its insert (the programs have no
 * fetching atomics: "verifier" in docs/redis-cache.md). Only a key that is there is
 * deleted: a delete takes the bucket's lock with interrupts off (a
 * paravirtual call in a guest), a lookup takes nothing, and most written
 * keys are not cached. Both maps are looked at: a fill that moves a key
 * between them inserts in one before it deletes from the other. @k stays
 * a pointer to the caller's stack (see invalidate_key()).
 *
 * A bucket whose rc_occupied reads 0 after the generation moved holds
 * nothing to look for: every insert raises it (a locked add, ordered
 * before the insert) before the inserter reads the generations, so an
 * entry this read missed is one whose fill then sees the new generation
 * and removes itself, as above. */
static __noinline int drop_key(const struct rc_key *k, __u32 h)
{
	struct rc_hdr *sm, *lg;
	int was_served = 0;

	__sync_fetch_and_add(&rc_gen_bucket[h & (RC_BUCKETS - 1)], 1);
	stat_add(RC_STAT_INVALIDATIONS, 1);
	if (!READ_ONCE(rc_occupied[rc_occ_index(h)]))
		return 0;
	sm = bpf_map_lookup_elem(&rc_cache_small, k);
	lg = bpf_map_lookup_elem(&rc_cache_large, k);
	if (sm) {
		was_served |= READ_ONCE(sm->served);
		drop_entry(&rc_cache_small, k, h);
	}
	if (lg) {
		was_served |= READ_ONCE(lg->served);
		drop_entry(&rc_cache_large, k, h);
	}
	return was_served;
}

/* A write of @k passed to Redis: pending, then invalidated. Returns the
 * slot it is pending in (NULL if none) and in *@was_served what
 * drop_key() said. */
static __always_inline struct rc_slot *write_key(struct rc_conn *c,
						 const struct rc_key *k,
						 int *was_served)
{
	struct rc_slot *s = write_pending(c, SLOT_WRITE, k);

	*was_served = drop_key(k, s ? s->bucket : key_hash(k));
	return s;
}

static __noinline void apply_write(struct rc_conn *c, struct resp_req *r,
				   __u32 cls)
{
	struct rc_key k;
	int was_served;

	if (cls == RC_CMD_WRITEN && r->argc != 2) {
		write_all(c);
		return;
	}
	/* a key too long to be cached: nothing to invalidate */
	if (!req_key(&k, r))
		return;
	write_key(c, &k, &was_served);
}

/* A SET of @k (@plain: no options) passed to Redis. A SET of a key read
 * from the cache asks for a read-back once Redis accepted it (its slot
 * becomes SLOT_SET: Redis cannot have read the request yet, so nothing
 * took the slot); keys only written cost nothing more. @k is on the
 * caller's stack (a map key). */
static __always_inline void set_key(struct rc_conn *c, const struct rc_key *k,
				    int plain)
{
	int was_served;
	struct rc_slot *s = write_key(c, k, &was_served);

	if (s && was_served && plain && !READ_ONCE(c->select_inflight) &&
	    auth_ok(c))
		WRITE_ONCE(s->kind, SLOT_SET);
}

/* Calls no other apply_*(): 6.1 allows 512 bytes of stack along a call
 * chain, each frame rounded up to 32. */
static __noinline void apply_set(struct rc_conn *c, struct resp_req *r)
{
	struct rc_key k;

	if (!req_key(&k, r))
		return;
	set_key(c, &k, r->argc == 3);
}

static __noinline void apply_client(struct rc_conn *c, struct resp_req *r)
{
	if (key_is(r, "TRACKING", 8) || key_is(r, "REPLY", 5) ||
	    key_is(r, "CACHING", 7))
		c->pushy = 1;
	/* Redis holds every client until the pause ends: so must the cache.
	 * Nothing can be refilled before Redis answers again. */
	if (key_is(r, "PAUSE", 5))
		invalidate_all();
}

/* ACL SETUSER and friends change who may read what: what the cache holds
 * was read under the old rules. */
static __noinline void apply_admin(struct rc_conn *c, struct resp_req *r)
{
	if (!admin_reads(r))
		invalidate_all();
}

/* CONFIG SET, REPLICAOF, MODULE LOAD, ...: answers stop at once while
 * per-key tracking is on, and the library re-checks once Redis replied
 * (rc_reconf) before it trusts per-key tracking again. Reads of the
 * configuration change nothing; the library's own connections are exempt. */
static __noinline void apply_reconf(struct rc_conn *c, struct resp_req *r)
{
	struct rc_reconf v = { .seq = c->req_seq };
	__u64 cookie = c->cookie;

	if (c->tracker || reconf_reads(r))
		return;
	invalidate_all();
	v.unprovable = c->in_multi || c->pushy;
	if (bpf_map_update_elem(&rc_reconf, &cookie, &v, BPF_ANY))
		WRITE_ONCE(rc_reconf_lost, 1);
	unseen_event();
}

/* Records what a request passed to Redis does to the cache. Inlined into
 * request_chunk(): one stack frame less on the deepest call chain. */
static __always_inline void apply(struct rc_conn *c, struct resp_req *r, __u32 cls)
{
	switch (cls) {
	case RC_CMD_GET:
		apply_get(c, r);
		break;
	case RC_CMD_READ:
		break;
	case RC_CMD_SET:
		apply_set(c, r);
		break;
	case RC_CMD_WRITE1:
	case RC_CMD_WRITEN:
		apply_write(c, r, cls);
		break;
	case RC_CMD_SELECT:
		if (c->pushy)
			break;
		__sync_fetch_and_add(&c->select_inflight, 1);
		record(c, SLOT_SELECT, parse_db(r), NULL, 0);
		break;
	case RC_CMD_AUTH:
		/* ACL users other than "default" may not read every key */
		if (c->pushy)
			break;
		if (!(r->argc == 2 ||
		      (r->argc == 3 && key_is(r, "DEFAULT", 7)))) {
			c->other_user = 1;
			break;
		}
		record(c, SLOT_AUTH, 0, NULL, 0);
		break;
	case RC_CMD_HELLO:
		/* HELLO <ver> AUTH|SETNAME ...: the user is not parsed, so the
		 * connection is never served nor fills */
		if (r->argc > 2)
			c->other_user = 1;
		break;
	case RC_CMD_ADMIN:
		apply_admin(c, r);
		break;
	case RC_CMD_MULTI:
		c->in_multi = 1;
		break;
	case RC_CMD_EXEC:
		c->in_multi = 0;
		write_all(c);
		break;
	case RC_CMD_PUSHY:
		c->pushy = 1;
		break;
	case RC_CMD_CLIENT:
		apply_client(c, r);
		break;
	case RC_CMD_RECONF:
		apply_reconf(c, r);
		break;
	default:
		write_all(c);
	}
	if (!c->pushy)
		c->req_seq++;
	stat_add(RC_STAT_REQUESTS, 1);
}

#endif
