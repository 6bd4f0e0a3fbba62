// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Counting a cache's entries for metrics. BPF hash maps keep no element
 * count user space can read (6.6+ counts for BPF programs only), and a
 * counter kept by the programs would drift: an LRU map evicts silently. So
 * the maps are walked with BPF_MAP_LOOKUP_BATCH, a few thousand entries per
 * system call; each entry's generation tells a servable value from one a
 * flush left behind. Memory is the maps' own accounting (fdinfo "memlock"):
 * LRU hash maps preallocate every element, so it does not grow with use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "redis/occupancy.h"
#include "redis/redis_cache.h"

/* Bytes of keys and values per batch: bounds the walk's memory, not its
 * cost (a full default map is a few dozen calls either way). */
#define BATCH_BYTES	(1u << 20)

struct walk {
	__u64 gen;		/* current generation */
	__u64 *current;
	__u64 *stale;
};

/* Tallies @n values of @vsz bytes, each starting with a struct rc_hdr. */
static void tally(const struct walk *w, const char *vals, __u32 n, size_t vsz)
{
	for (__u32 i = 0; i < n; i++) {
		const struct rc_hdr *h = (const void *)(vals + i * vsz);

		if (h->gen == w->gen)
			(*w->current)++;
		else
			(*w->stale)++;
	}
}

static int walk_map(const struct bpf_map *map, const struct walk *w)
{
	size_t ksz = bpf_map__key_size(map), vsz = bpf_map__value_size(map);
	__u32 per = BATCH_BYTES / (ksz + vsz), n;
	char *keys = malloc(per * ksz), *vals = malloc(per * vsz);
	__u64 in = 0, out = 0;
	bool first = true;
	int err = -ENOMEM;

	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	while (keys && vals) {
		n = per;
		err = bpf_map_lookup_batch(bpf_map__fd(map), first ? NULL : &in, &out,
					   keys, vals, &n, &opts);
		err = err ? -errno : 0;
		if (err && err != -ENOENT)
			break;
		tally(w, vals, n, vsz);
		if (err)	/* -ENOENT: that was the last batch */
			break;
		in = out;
		first = false;
	}
	free(keys);
	free(vals);
	return err == -ENOENT ? 0 : err;
}

/* The map's "memlock:" line of /proc/self/fdinfo: what the kernel charged
 * for it. */
static __u64 map_memory(const struct bpf_map *map)
{
	char path[64], line[128];
	unsigned long long bytes = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", bpf_map__fd(map));
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &bytes) == 1)
			break;
	if (f)
		fclose(f);
	return bytes;
}

__u64 rc_occupancy__memory(const struct rc_shared *sh)
{
	return map_memory(sh->cache_small) + map_memory(sh->cache_large) +
	       map_memory(sh->confirmed);
}

int rc_occupancy__read(const struct rc_shared *sh, struct rc_occupancy *out)
{
	__u64 gen = __atomic_load_n(sh->gen_all, __ATOMIC_SEQ_CST);
	int err;

	*out = (struct rc_occupancy){ 0 };
	err = walk_map(sh->cache_small, &(struct walk){ gen, &out->small, &out->stale });
	if (!err)
		err = walk_map(sh->cache_large, &(struct walk){ gen, &out->large, &out->stale });
	if (err)
		return err;
	out->memory = rc_occupancy__memory(sh);
	return 0;
}
