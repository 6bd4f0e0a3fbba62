// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Traffic probe: loads bpf/traffic_probe.bpf.c, hooks it on an interface,
 * turns its maps into per-port and per-flow statistics, and keeps the
 * payload samples it sends per port for the compressibility estimate.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/capability.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ebpfaccel/uapi.h"
#include "internal.h"
#include "traffic.h"
#include "traffic_probe.h"
#include "traffic_probe.skel.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define NPORTS			65536
#define MAX_SAMPLE_WINDOW	(1U << 20)
#define ESTIMATE_LEVEL		1

/* The last sample_window sampled payload bytes of one port and direction. */
struct sample_ring {
	uint8_t *buf;
	uint32_t head;		/* next write position */
	uint32_t fill;		/* valid bytes, up to the window */
	bool stale;		/* estimates below predate the last sample */
	double entropy;
	double ratio;
};

/* The contiguous stretch being filled, or the last one that completed. */
struct stretch {
	uint8_t *buf;		/* stretch_bytes, allocated on first request */
	uint32_t size;		/* stretch_bytes */
	uint32_t fill;
	uint16_t port;
	uint8_t dir;
	bool complete;		/* fill reached size */
	uint64_t gen;		/* the request it answers; 0 none */
};

struct ebpfaccel_traffic_probe {
	struct traffic_probe_bpf *skel;
	struct ring_buffer *rb;
	struct sample_ring *samples[NPORTS][2];	/* allocated on first sample */
	struct stretch stretch;
	uint32_t sample_window;
	uint64_t window_ns;
	uint16_t priority;
	struct ebpfaccel__tc_hooks hooks;
	bool attached;
};

/* ------------------------------------------------------------- samples */

static struct sample_ring *ring_get(struct ebpfaccel_traffic_probe *p, uint16_t port, int dir)
{
	struct sample_ring *r = p->samples[port][dir];

	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (r)
		r->buf = malloc(p->sample_window);
	if (!r || !r->buf) {
		free(r);
		return NULL;
	}
	p->samples[port][dir] = r;
	return r;
}

static void ring_put(struct sample_ring *r, uint32_t window, const uint8_t *data, uint32_t len)
{
	uint32_t first = len < window - r->head ? len : window - r->head;

	memcpy(r->buf + r->head, data, first);
	memcpy(r->buf, data + first, len - first);
	r->head = (r->head + len) % window;
	r->fill = r->fill + len < window ? r->fill + len : window;
	r->stale = true;
}

/* A piece of the stretch in progress: its first one starts it over (the
 * one before was cut short, or is replaced), the others follow in order
 * (the BPF side ends a stretch rather than leave a gap in it). */
static void on_stretch(struct ebpfaccel_traffic_probe *p, const struct tp_sample *s)
{
	struct stretch *st = &p->stretch;

	if (!st->buf)
		return;
	if (s->kind == TP_STRETCH_FIRST) {
		st->fill = 0;
		st->port = s->port;
		st->dir = s->dir;
		st->complete = false;
		st->gen = p->skel->bss->stretch_taken;
	} else if (st->complete || st->port != s->port || st->dir != s->dir) {
		return;
	}
	if (s->len > st->size - st->fill)
		return;
	memcpy(st->buf + st->fill, s->data, s->len);
	st->fill += s->len;
	st->complete = st->fill == st->size;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct ebpfaccel_traffic_probe *p = ctx;
	const struct tp_sample *s = data;
	struct sample_ring *r;

	if (size < sizeof(*s) || s->dir >= TP_NDIR || !s->len || s->len > TP_SAMPLE_MAX)
		return 0;
	if (s->kind != TP_PIECE) {
		on_stretch(p, s);
		return 0;
	}
	r = ring_get(p, s->port, s->dir);
	if (!r)
		return -ENOMEM;
	ring_put(r, p->sample_window, s->data, s->len);
	return 0;
}

/* Oldest byte first. */
static void ring_linearize(const struct sample_ring *r, uint32_t window, uint8_t *out)
{
	uint32_t start = r->fill < window ? 0 : r->head;

	memcpy(out, r->buf + start, r->fill - start);
	memcpy(out + r->fill - start, r->buf, start);
}

static void ring_estimate(struct sample_ring *r)
{
	double ratio;

	if (!r->stale)
		return;
	/* Order does not matter for either estimate: use the ring as it is. */
	r->entropy = ebpfaccel__entropy(r->buf, r->fill);
	ratio = ebpfaccel__comp_ratio(TCP_COMP_ALGO_ZSTD, ESTIMATE_LEVEL, r->buf, r->fill);
	r->ratio = ratio > 0 ? ratio : 0;
	r->stale = false;
}

int ebpfaccel__traffic_probe_sample(struct ebpfaccel_traffic_probe *p, uint16_t port,
				    int dir, uint8_t **buf, size_t *len)
{
	const struct sample_ring *r = p->samples[port][dir];

	if (!r || !r->fill)
		return -ENOENT;
	*buf = malloc(r->fill);
	if (!*buf)
		return -ENOMEM;
	ring_linearize(r, p->sample_window, *buf);
	*len = r->fill;
	return 0;
}

uint32_t ebpfaccel__traffic_probe_window(const struct ebpfaccel_traffic_probe *p)
{
	return p->sample_window;
}

int ebpfaccel__traffic_probe_want_stretch(struct ebpfaccel_traffic_probe *p, uint16_t port, int dir)
{
	struct stretch *st = &p->stretch;
	struct traffic_probe_bpf__bss *bss = p->skel->bss;

	if (dir < 0 || dir >= TP_NDIR)
		return -EINVAL;
	if (!st->buf) {
		st->size = p->skel->rodata->stretch_bytes;
		st->buf = malloc(st->size);
		if (!st->buf)
			return -ENOMEM;
	}
	/* Port and direction before the generation a flow takes it by. */
	bss->stretch_port = port;
	bss->stretch_dir = (uint8_t)dir;
	__atomic_store_n(&bss->stretch_gen, bss->stretch_gen + 1 ?: 1, __ATOMIC_RELEASE);
	st->complete = false;
	st->fill = 0;
	return 0;
}

int ebpfaccel__traffic_probe_stretch(struct ebpfaccel_traffic_probe *p, uint16_t port, int dir,
				     const uint8_t **buf, size_t *len)
{
	const struct stretch *st = &p->stretch;

	ebpfaccel_traffic_probe__poll(p, 0);
	if (!st->complete || st->port != port || st->dir != dir ||
	    st->gen != __atomic_load_n(&p->skel->bss->stretch_gen, __ATOMIC_RELAXED))
		return -EAGAIN;
	*buf = st->buf;
	*len = st->size;
	return 0;
}

uint64_t ebpfaccel__traffic_probe_stretches_broken(const struct ebpfaccel_traffic_probe *p)
{
	return __atomic_load_n(&p->skel->bss->stretches_broken, __ATOMIC_RELAXED);
}

EBPFACCEL_API int ebpfaccel_traffic_probe__poll(struct ebpfaccel_traffic_probe *probe, int timeout_ms)
{
	if (!probe)
		return -EINVAL;
	return timeout_ms > 0 ? ring_buffer__poll(probe->rb, timeout_ms) : ring_buffer__consume(probe->rb);
}

/* ---------------------------------------------------------------- open */

static int configure(struct traffic_probe_bpf *skel, const struct ebpfaccel_traffic_probe_opts *opts,
		     struct ebpfaccel_traffic_probe *p)
{
	uint32_t max_flows = OPTS_GET(opts, max_flows, 0) ?: 16384;
	uint32_t max_ports = OPTS_GET(opts, max_ports, 0) ?: 1024;
	uint32_t window_ms = OPTS_GET(opts, window_ms, 0) ?: 100;
	uint32_t every = OPTS_GET(opts, sample_every_bytes, 0) ?: 65536;
	int err;

	p->sample_window = OPTS_GET(opts, sample_window, 0) ?: 65536;
	p->priority = OPTS_GET(opts, priority, 0) ?: 0xEA01;
	if (p->sample_window > MAX_SAMPLE_WINDOW || p->sample_window < TP_SAMPLE_MAX) {
		pr_warn("traffic probe: sample_window %u is outside %u..%u\n",
			p->sample_window, TP_SAMPLE_MAX, MAX_SAMPLE_WINDOW);
		return -EINVAL;
	}
	p->window_ns = window_ms * 1000000ULL;
	skel->rodata->window_ns = p->window_ns;
	skel->rodata->sample_every_bytes = every;
	err = bpf_map__set_max_entries(skel->maps.tp_flows, max_flows);
	return err ?: bpf_map__set_max_entries(skel->maps.tp_ports, max_ports);
}

EBPFACCEL_API struct ebpfaccel_traffic_probe *
ebpfaccel_traffic_probe__open(const struct ebpfaccel_traffic_probe_opts *opts)
{
	struct ebpfaccel_traffic_probe *p;
	int err;

	if (!OPTS_VALID(opts, ebpfaccel_traffic_probe_opts))
		return ebpfaccel__err_ptr(-EINVAL);
	err = ebpfaccel__need_caps("loading the traffic probe", CAPMASK(CAP_BPF));
	if (err) {
		ebpfaccel__load_error_clear(OPTS_GET(opts, load_error, NULL), err);
		return ebpfaccel__err_ptr(err);
	}
	ebpfaccel__route_libbpf_print();
	ebpfaccel__bump_memlock();
	p = calloc(1, sizeof(*p));
	if (!p)
		return ebpfaccel__err_ptr(-ENOMEM);
	ebpfaccel__load_begin();
	p->skel = traffic_probe_bpf__open();
	err = p->skel ? configure(p->skel, opts, p) : -errno;
	if (!err)
		err = traffic_probe_bpf__load(p->skel);
	err = ebpfaccel__load_end(err, "traffic probe", OPTS_GET(opts, load_error, NULL));
	if (err)
		goto fail;
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.tp_samples), on_sample, p, NULL);
	if (!p->rb) {
		err = -errno;
		goto fail;
	}
	return p;
fail:
	ebpfaccel_traffic_probe__destroy(p);
	return ebpfaccel__err_ptr(err);
}

/* -------------------------------------------------------------- attach */

EBPFACCEL_API int ebpfaccel_traffic_probe__attach(struct ebpfaccel_traffic_probe *probe, int ifindex)
{
	int fds[2], err;
	const char *names[2];

	if (!probe || ifindex <= 0)
		return -EINVAL;
	if (probe->attached)
		return -EBUSY;
	err = ebpfaccel__need_caps("attaching the traffic probe", CAPMASK(CAP_NET_ADMIN));
	if (err)
		return err;
	fds[TP_TX] = bpf_program__fd(probe->skel->progs.tp_egress);
	fds[TP_RX] = bpf_program__fd(probe->skel->progs.tp_ingress);
	names[TP_TX] = bpf_program__name(probe->skel->progs.tp_egress);
	names[TP_RX] = bpf_program__name(probe->skel->progs.tp_ingress);
	err = ebpfaccel__tc_hooks_attach(&probe->hooks, ifindex, probe->priority, fds, names);
	if (err) {
		pr_warn("traffic probe: attaching to ifindex %d failed: %d\n", ifindex, err);
		return err;
	}
	probe->attached = true;
	return 0;
}

EBPFACCEL_API int ebpfaccel_traffic_probe__attach_ifname(struct ebpfaccel_traffic_probe *probe,
							 const char *ifname)
{
	unsigned int ifindex;

	if (!probe || !ifname)
		return -EINVAL;
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	return ebpfaccel_traffic_probe__attach(probe, (int)ifindex);
}

EBPFACCEL_API int ebpfaccel_traffic_probe__detach(struct ebpfaccel_traffic_probe *probe)
{
	if (!probe)
		return -EINVAL;
	if (!probe->attached)
		return -ENOENT;
	probe->attached = false;
	return ebpfaccel__tc_hooks_detach(&probe->hooks);
}

EBPFACCEL_API void ebpfaccel_traffic_probe__destroy(struct ebpfaccel_traffic_probe *probe)
{
	if (!probe)
		return;
	if (probe->attached)
		ebpfaccel_traffic_probe__detach(probe);
	free(probe->stretch.buf);
	ring_buffer__free(probe->rb);
	traffic_probe_bpf__destroy(probe->skel);
	for (size_t i = 0; i < NPORTS; i++)
		for (int d = 0; d < TP_NDIR; d++)
			if (probe->samples[i][d]) {
				free(probe->samples[i][d]->buf);
				free(probe->samples[i][d]);
			}
	free(probe);
}

/* --------------------------------------------------------------- stats */

/* Sliding window: the finished window weighted by how much of it still
 * lies within one window length of @now, plus the current one. */
static uint64_t sliding_rate(const struct tp_dir_stats *d, uint64_t window_ns, uint64_t now)
{
	uint64_t since = now > d->win_start_ns ? now - d->win_start_ns : 0;
	double bytes;

	if (since >= 2 * window_ns)
		return 0;
	if (since >= window_ns)
		bytes = d->win_bytes * (double)(2 * window_ns - since) / window_ns;
	else
		bytes = d->prev_win_bytes * (double)(window_ns - since) / window_ns + d->win_bytes;
	return (uint64_t)(bytes * 1e9 / window_ns);
}

static void counters_from(struct ebpfaccel_traffic_counters *c, const struct tp_dir_stats *d,
			  uint64_t window_ns, uint64_t now)
{
	/* The current window counts with what it has so far. */
	uint64_t peak = d->win_bytes > d->peak_win_bytes ? d->win_bytes : d->peak_win_bytes;

	c->bytes = d->bytes;
	c->packets = d->packets;
	c->payload_bytes = d->payload_bytes;
	c->payload_segs = d->payload_segs;
	c->rate = sliding_rate(d, window_ns, now);
	c->peak_rate = peak * 1000000000ULL / window_ns;
}

static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static void port_stats_from(struct ebpfaccel_traffic_probe *p, uint16_t port,
			    const struct tp_port *v, struct ebpfaccel_port_stats *st, uint64_t now)
{
	memset(st, 0, sizeof(*st));
	st->port = port;
	st->flows = v->flows;
	st->turns = v->turns;
	st->age_ns = since(now, v->first_ns);
	st->idle_ns = since(now, v->last_ns);
	for (int d = 0; d < TP_NDIR; d++) {
		struct sample_ring *r = p->samples[port][d];

		counters_from(&st->dir[d], &v->dir[d], p->window_ns, now);
		st->entropy[d] = -1;
		if (!r || !r->fill)
			continue;
		ring_estimate(r);
		st->sample_bytes[d] = r->fill;
		st->entropy[d] = r->entropy;
		st->sample_ratio[d] = r->ratio;
	}
}

EBPFACCEL_API int ebpfaccel_traffic_probe__port_stats(struct ebpfaccel_traffic_probe *probe,
						      uint16_t port,
						      struct ebpfaccel_port_stats *st)
{
	struct tp_port v;

	if (!probe || !st)
		return -EINVAL;
	ring_buffer__consume(probe->rb);
	if (bpf_map_lookup_elem(bpf_map__fd(probe->skel->maps.tp_ports), &port, &v))
		return -errno;
	port_stats_from(probe, port, &v, st, ebpfaccel__monotonic_ns());
	return 0;
}

/* Visits every key of @map_fd once per pass; an LRU map may evict the key
 * being visited, which restarts the walk at the beginning (bounded). */
static int for_each_key(int map_fd, void *key, size_t key_sz, uint32_t max_entries,
			int (*visit)(const void *key, void *ctx), void *ctx)
{
	uint8_t prev[sizeof(struct tp_flow_key)];
	uint64_t budget = 2ULL * max_entries + 16;
	bool first = true;
	int ret;

	while (budget--) {
		if (bpf_map_get_next_key(map_fd, first ? NULL : prev, key))
			return errno == ENOENT ? 0 : -errno;
		first = false;
		ret = visit(key, ctx);
		if (ret)
			return ret;
		memcpy(prev, key, key_sz);
	}
	return 0;
}

struct port_walk {
	struct ebpfaccel_traffic_probe *probe;
	ebpfaccel_port_stats_fn fn;
	void *ctx;
	uint64_t now;
	int map_fd;
};

static int visit_port(const void *key, void *ctx)
{
	struct port_walk *w = ctx;
	struct ebpfaccel_port_stats st;
	struct tp_port v;

	if (bpf_map_lookup_elem(w->map_fd, key, &v))
		return 0;	/* evicted meanwhile */
	port_stats_from(w->probe, *(const uint16_t *)key, &v, &st, w->now);
	return w->fn(&st, w->ctx);
}

EBPFACCEL_API int ebpfaccel_traffic_probe__for_each_port(struct ebpfaccel_traffic_probe *probe,
							 ebpfaccel_port_stats_fn fn, void *ctx)
{
	struct port_walk w = { probe, fn, ctx, ebpfaccel__monotonic_ns(), -1 };
	uint16_t key;

	if (!probe || !fn)
		return -EINVAL;
	ring_buffer__consume(probe->rb);
	w.map_fd = bpf_map__fd(probe->skel->maps.tp_ports);
	return for_each_key(w.map_fd, &key, sizeof(key),
			    bpf_map__max_entries(probe->skel->maps.tp_ports), visit_port, &w);
}

struct flow_walk {
	struct ebpfaccel_traffic_probe *probe;
	ebpfaccel_flow_stats_fn fn;
	void *ctx;
	uint64_t now;
	int map_fd;
};

static void flow_stats_from(const struct ebpfaccel_traffic_probe *p, const struct tp_flow_key *k,
			    const struct tp_flow *v, struct ebpfaccel_flow_stats *st, uint64_t now)
{
	memset(st, 0, sizeof(*st));
	st->family = k->family;	/* the kernel's AF_* values */
	memcpy(st->local_addr, k->local, sizeof(st->local_addr));
	memcpy(st->remote_addr, k->remote, sizeof(st->remote_addr));
	st->local_port = k->lport;
	st->remote_port = k->rport;
	st->server_port = v->server_port;
	st->local_is_server = v->local_is_server == 2 ? -1 : v->local_is_server;
	st->turns = v->turns;
	st->age_ns = since(now, v->first_ns);
	st->idle_ns = since(now, v->last_ns);
	for (int d = 0; d < TP_NDIR; d++)
		counters_from(&st->dir[d], &v->dir[d], p->window_ns, now);
}

static int visit_flow(const void *key, void *ctx)
{
	struct flow_walk *w = ctx;
	struct ebpfaccel_flow_stats st;
	struct tp_flow v;

	if (bpf_map_lookup_elem(w->map_fd, key, &v))
		return 0;
	flow_stats_from(w->probe, key, &v, &st, w->now);
	return w->fn(&st, w->ctx);
}

EBPFACCEL_API int ebpfaccel_traffic_probe__for_each_flow(struct ebpfaccel_traffic_probe *probe,
							 ebpfaccel_flow_stats_fn fn, void *ctx)
{
	struct flow_walk w = { probe, fn, ctx, ebpfaccel__monotonic_ns(), -1 };
	struct tp_flow_key key;

	if (!probe || !fn)
		return -EINVAL;
	w.map_fd = bpf_map__fd(probe->skel->maps.tp_flows);
	return for_each_key(w.map_fd, &key, sizeof(key),
			    bpf_map__max_entries(probe->skel->maps.tp_flows), visit_flow, &w);
}

EBPFACCEL_API uint64_t ebpfaccel_traffic_probe__samples_dropped(const struct ebpfaccel_traffic_probe *probe)
{
	return probe ? probe->skel->bss->samples_dropped : 0;
}
