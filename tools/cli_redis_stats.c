// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What 'ebpfaccel redis stats' and 'ebpfaccel status' show of an attached
 * cache: the holder's JSON answer (built here, in the holder), its text
 * form and the Prometheus text exposition format.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli_redis.h"

static const struct {
	const char *key;
	size_t off;
} counters[] = {
#define C(f) { #f, offsetof(struct ebpfaccel_redis_cache_stats, f) }
	C(hits), C(hit_batches), C(misses), C(fills), C(fill_races), C(invalidations),
	C(push_invalidations), C(flushes), C(bypass_state), C(bypass_mixed), C(bypass_size),
	C(bypass_bad), C(requests), C(replies), C(sets), C(confirms), C(readmits), C(xdp_hits),
	C(xdp_retransmits), C(xdp_ack_passes), C(xdp_drops), C(xdp_conns),
#undef C
};


/* The tracking in effect and why (automatic tracking changes it). */
static void add_tracking(struct json_object *o, const struct ebpfaccel_redis_cache *rc)
{
	char why[256];
	int t = ebpfaccel_redis_cache__tracking(rc, why, sizeof(why));

	if (t < 0)
		return;
	json_object_object_add(o, "tracking", json_object_new_string(
		t == EBPFACCEL_REDIS_TRACK_KEYS ? "keys" : "all"));
	json_object_object_add(o, "tracking_why", json_object_new_string(why));
}
/* The maps' capacity and memory and the coherence state; with @entries
 * also what the maps hold, counted now (a walk of the maps, see
 * ebpfaccel_redis_cache__info(): only where asked). The redis-server
 * process on the port the cache follows goes to @pid (0: none listens,
 * Redis restarting). */
static struct json_object *info_json(struct ebpfaccel_redis_cache *rc, int *pid, bool entries)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_redis_cache_info_opts, opts, .entries = entries);
	struct ebpfaccel_redis_cache_info in = {};
	struct json_object *o = json_object_new_object();

	*pid = 0;
	if (ebpfaccel_redis_cache__info_opts(rc, &in, sizeof(in), &opts)) {
		json_object_put(o);
		return NULL;
	}
#define U(f) json_object_object_add(o, #f, json_object_new_uint64(in.f))
	if (entries) {
		U(entries_small); U(entries_large); U(entries_stale);
	}
	U(capacity_small); U(capacity_large); U(memory_bytes); U(reconnects);
#undef U
	json_object_object_add(o, "tracking", json_object_new_string(
		in.tracking == EBPFACCEL_REDIS_TRACK_KEYS ? "keys" : "all"));
	json_object_object_add(o, "tracking_ok", json_object_new_boolean(in.tracking_ok));
	*pid = in.server_pid;
	return o;
}

static struct json_object *stats_json(struct ebpfaccel_redis_cache *rc, const struct redis_args *a,
				      bool entries)
{
	struct ebpfaccel_redis_cache_stats st = {};
	struct json_object *o = json_object_new_object(), *cnt = json_object_new_object();
	struct json_object *ports = json_object_new_array();
	char cgroup[PATH_MAX];
	int pid;
	struct json_object *info = info_json(rc, &pid, entries);

	ebpfaccel_redis_cache__stats(rc, &st, sizeof(st));
	/* where the programs are now: a restarted server may have moved them */
	if (ebpfaccel_redis_cache__cgroup(rc, cgroup, sizeof(cgroup)))
		snprintf(cgroup, sizeof(cgroup), "%s", a->cgroup);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		json_object_object_add(cnt, counters[i].key,
				       json_object_new_uint64(*(__u64 *)((char *)&st + counters[i].off)));
	for (size_t i = 0; i < a->nr_ports; i++)
		json_object_array_add(ports, json_object_new_int(a->ports[i]));
	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "cgroup", json_object_new_string(cgroup));
	json_object_object_add(o, "ports", ports);
	/* found from the listener: a restart into another cgroup is followed */
	json_object_object_add(o, "follows_listener", json_object_new_boolean(a->found_cgroup));
	json_object_object_add(o, "server_pid", pid ? json_object_new_int(pid) : NULL);
	json_object_object_add(o, "cache", info);
	json_object_object_add(o, "serving", json_object_new_boolean(ebpfaccel_redis_cache__serving(rc) == 1));
	add_tracking(o, rc);
	json_object_object_add(o, "hit_rate", json_object_new_double(st.hits + st.misses
						? (double)st.hits / (st.hits + st.misses) : 0));
	json_object_object_add(o, "counters", cnt);
	return o;
}

static const struct {
	const char *key;
	size_t off;
} near_counters[] = {
#define C(f) { #f, offsetof(struct ebpfaccel_near_cache_stats, f) }
	C(hits), C(misses), C(fills), C(fill_races), C(invalidations), C(flushes), C(expired),
	C(bypass_state), C(bypass_size), C(bypass_bad), C(requests), C(replies), C(connections),
	C(confirms),
#undef C
};

static struct json_object *string_array(const char *const *list, size_t n)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(list[i]));
	return arr;
}

static struct json_object *near_stats_json(struct ebpfaccel_near_cache *nc, const struct redis_args *a)
{
	struct ebpfaccel_near_cache_stats st = {};
	struct json_object *o = json_object_new_object(), *cnt = json_object_new_object();

	ebpfaccel_near_cache__stats(nc, &st, sizeof(st));
	for (size_t i = 0; i < sizeof(near_counters) / sizeof(near_counters[0]); i++)
		json_object_object_add(cnt, near_counters[i].key,
				       json_object_new_uint64(*(__u64 *)((char *)&st + near_counters[i].off)));
	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "cgroup", json_object_new_string(a->cgroup));
	json_object_object_add(o, "servers", string_array(a->servers, a->nr_servers));
	json_object_object_add(o, "prefixes", string_array(a->prefixes, a->nr_prefixes));
	json_object_object_add(o, "max_staleness_ms", json_object_new_int(a->max_staleness_ms ?: 1000));
	json_object_object_add(o, "serving", json_object_new_boolean(ebpfaccel_near_cache__serving(nc) == 1));
	json_object_object_add(o, "hit_rate", json_object_new_double(st.hits + st.misses
						? (double)st.hits / (st.hits + st.misses) : 0));
	json_object_object_add(o, "counters", cnt);
	return o;
}

static const char *held_kind(const struct held *h)
{
	return h->nc ? "near" : "server";
}

struct json_object *redis_held_stats_json(const struct held *h, const struct redis_args *a,
					  bool entries)
{
	struct json_object *o = h->nc ? near_stats_json(h->nc, a) : stats_json(h->rc, a, entries);

	json_object_object_add(o, "kind", json_object_new_string(held_kind(h)));
	return o;
}

/* A counter of the holder's JSON as a Prometheus sample: one family per
 * metric name (help on its first sample), reasons and sources as labels. */
struct prom_counter {
	const char *counter, *metric, *label, *help;
};

#define PROM_SERVER	"ebpfaccel_redis_cache_"
#define PROM_NEAR	"ebpfaccel_redis_near_cache_"

/* The server cache's counters: the bypass reasons and invalidation
 * sources as labels of one family. */
static const struct prom_counter prom[] = {
	{ "hits", "hits_total", NULL, "GETs answered by the kernel." },
	{ "hit_batches", "hit_batches_total", NULL, "Segments answered by the kernel." },
	{ "misses", "misses_total", NULL, "GETs passed to Redis with a fill expected." },
	{ "fills", "fills_total", NULL, "Values stored from Redis' GET replies." },
	{ "fill_races", "fill_races_total", NULL, "Fills dropped because the key changed meanwhile." },
	{ "invalidations", "invalidations_total", "source=\"write\"",
	  "Keys invalidated, by writes the programs saw or by Redis' tracking pushes." },
	{ "push_invalidations", "invalidations_total", "source=\"tracking\"", NULL },
	{ "flushes", "flushes_total", NULL, "Whole-cache invalidations." },
	{ "bypass_state", "bypassed_total", "reason=\"state\"",
	  "GETs passed to Redis: replies owed, MULTI, auth, SELECT (state); in a segment with other "
	  "commands (mixed); values too large (size); streams not understood (bad)." },
	{ "bypass_mixed", "bypassed_total", "reason=\"mixed\"", NULL },
	{ "bypass_size", "bypassed_total", "reason=\"size\"", NULL },
	{ "bypass_bad", "bypassed_total", "reason=\"bad\"", NULL },
	{ "requests", "requests_total", NULL, "Requests passed to Redis." },
	{ "replies", "replies_total", NULL, "Replies Redis wrote." },
	{ "sets", "set_readbacks_total", NULL, "SETs of keys read from the cache, read back after +OK." },
	{ "confirms", "confirms_total", NULL, "Fills confirmed as current and without a TTL." },
	{ "readmits", "readmits_total", NULL,
	  "Sends of replies that failed half-way after which the connection stayed in step." },
	{ "xdp_hits", "xdp_hits_total", NULL, "XDP mode: GETs answered in XDP (also in hits_total)." },
	{ "xdp_retransmits", "xdp_retransmits_total", NULL,
	  "XDP mode: answers sent again for a client's retransmitted request." },
	{ "xdp_ack_passes", "xdp_ack_passes_total", NULL,
	  "XDP mode: hits passed to Redis to carry an ACK kept from it." },
	{ "xdp_drops", "xdp_drops_total", NULL,
	  "XDP mode: segments dropped as not translatable (the client sends them again)." },
	{ "xdp_conns", "xdp_connections_total", NULL, "XDP mode: connections taken in." },
};

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void print_label_value(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			putchar('\\');
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void print_sample(const char *prefix, const char *metric, const char *name, const char *label,
			 const char *value)
{
	printf("%s%s{cache=\"", prefix, metric);
	print_label_value(name);
	printf("\"%s%s} %s\n", label ? "," : "", label ? label : "", value);
}

static void print_family(const char *prefix, const char *metric, const char *type, const char *help)
{
	printf("# HELP %s%s %s\n# TYPE %s%s %s\n", prefix, metric, help, prefix, metric, type);
}

/* @n counters of table @t from the holder's JSON @o, as families @prefix*. */
static void print_counters(const char *prefix, const struct prom_counter *t, size_t n,
			   struct json_object *o)
{
	struct json_object *cnt = json_object_object_get(o, "counters");
	const char *name = json_object_get_string(json_object_object_get(o, "name"));

	for (size_t i = 0; i < n; i++) {
		if (t[i].help)
			print_family(prefix, t[i].metric, "counter", t[i].help);
		print_sample(prefix, t[i].metric, name, t[i].label,
			     json_object_get_string(json_object_object_get(cnt, t[i].counter)));
	}
}

/* Families of the holder's "cache" object (counted at scrape time): key,
 * metric, type, label; help on a family's first sample. */
static const struct {
	const char *key, *metric, *type, *label, *help;
} prom_info[] = {
	{ "entries_small", "entries", "gauge", "class=\"small\"", "Values the cache holds of the "
	  "current generation, by size class (small: up to 128 bytes, large: up to 4096)." },
	{ "entries_large", "entries", "gauge", "class=\"large\"", NULL },
	{ "entries_stale", "stale_entries", "gauge", NULL, "Entries of older generations (after a "
	  "flush or a lost tracking stream): never served, their slots reused." },
	{ "capacity_small", "capacity_entries", "gauge", "class=\"small\"",
	  "Entries each size class can hold." },
	{ "capacity_large", "capacity_entries", "gauge", "class=\"large\"", NULL },
	{ "memory_bytes", "memory_bytes", "gauge", NULL, "Kernel memory of the cache's maps, "
	  "allocated in full when the cache is loaded (preallocated LRU maps): held and may hold "
	  "are the same." },
	{ "tracking_ok", "tracking_ok", "gauge", NULL,
	  "Whether Redis' invalidation stream is live (1) or lost (0)." },
	{ "reconnects", "reconnects_total", "counter", NULL, "Times coherence with Redis was "
	  "regained after a loss (Redis restarted, a connection killed); each flushed the cache." },
};

/* Those families, and an info metric whose labels say where the cache is
 * and how it hears of writes. */
static void print_prometheus_info(struct json_object *o, const char *name)
{
	struct json_object *in = json_object_object_get(o, "cache");
	const char *cgroup = json_object_get_string(json_object_object_get(o, "cgroup"));
	char value[32];

	if (!in)
		return;
	for (size_t i = 0; i < sizeof(prom_info) / sizeof(prom_info[0]); i++) {
		if (prom_info[i].help)
			print_family(PROM_SERVER, prom_info[i].metric, prom_info[i].type, prom_info[i].help);
		/* numbers as they are, booleans as 1 or 0 */
		snprintf(value, sizeof(value), "%" PRIu64,
			 json_object_get_uint64(json_object_object_get(in, prom_info[i].key)));
		print_sample(PROM_SERVER, prom_info[i].metric, name, prom_info[i].label, value);
	}
	print_family(PROM_SERVER, "info", "gauge", "Always 1: the cgroup the cache is attached to now and how Redis "
		     "reports writes to it (tracking all or keys).");
	printf("ebpfaccel_redis_cache_info{cache=\"");
	print_label_value(name);
	printf("\",cgroup=\"");
	print_label_value(cgroup ? cgroup : "");
	printf("\",tracking=\"%s\"} 1\n",
	       json_object_get_string(json_object_object_get(in, "tracking")));
}

/* The Prometheus text exposition format (version 0.0.4). */
static void print_prometheus(struct json_object *o)
{
	const char *name = json_object_get_string(json_object_object_get(o, "name"));

	print_counters(PROM_SERVER, prom, sizeof(prom) / sizeof(prom[0]), o);
	print_family(PROM_SERVER, "serving", "gauge", "Whether the kernel answers GETs now (1) or not (0).");
	print_sample(PROM_SERVER, "serving", name, NULL,
		     json_object_get_boolean(json_object_object_get(o, "serving")) ? "1" : "0");
	print_prometheus_info(o, name);
}

/* The text form's lines after the first: what the cache follows, what it
 * holds, how it hears of writes. */
static void print_following(struct json_object *o)
{
	struct json_object *in = json_object_object_get(o, "cache");
	struct json_object *pid = json_object_object_get(o, "server_pid");
	const char *port = json_object_get_string(json_object_array_get_idx(
					json_object_object_get(o, "ports"), 0));
#define V(k) json_object_get_string(json_object_object_get(in, k))

	if (pid)
		printf("redis-server on port %s: process %s", port, json_object_get_string(pid));
	else
		printf("redis-server on port %s: none listening now", port);
	printf("%s\n", json_object_get_boolean(json_object_object_get(o, "follows_listener"))
	       ? " (followed across restarts, also into another cgroup)" : "");
	if (!in)
		return;
	if (json_object_object_get(in, "entries_small"))
		printf("entries %s small of %s, %s large of %s, %s stale; %s bytes of kernel memory\n",
		       V("entries_small"), V("capacity_small"), V("entries_large"), V("capacity_large"),
		       V("entries_stale"), V("memory_bytes"));
	else
		printf("capacity %s small, %s large; %s bytes of kernel memory (entries: --entries)\n",
		       V("capacity_small"), V("capacity_large"), V("memory_bytes"));
	printf("tracking %s, %s, %s reconnects\n", V("tracking"),
	       json_object_get_boolean(json_object_object_get(in, "tracking_ok")) ? "live" : "LOST",
	       V("reconnects"));
#undef V
}

/* The near cache's families: ebpfaccel_redis_near_cache_*, bypass
 * reasons as labels of one family, like the server cache's. */
static const struct prom_counter near_prom[] = {
	{ "hits", "hits_total", NULL, "GETs answered on the clients' host." },
	{ "misses", "misses_total", NULL, "GETs passed to Redis with a fill expected." },
	{ "fills", "fills_total", NULL, "Values stored from Redis' GET replies." },
	{ "fill_races", "fill_races_total", NULL, "Fills dropped because the key changed meanwhile." },
	{ "invalidations", "invalidations_total", NULL, "Keys invalidated by this host's writes." },
	{ "flushes", "flushes_total", NULL, "Whole-cache invalidations." },
	{ "expired", "expired_total", NULL, "GETs passed to Redis: the entry was older than the "
	  "staleness bound." },
	{ "bypass_state", "bypassed_total", "reason=\"state\"",
	  "GETs passed to Redis: replies owed, MULTI, auth, SELECT (state); values too large (size); "
	  "streams not understood (bad)." },
	{ "bypass_size", "bypassed_total", "reason=\"size\"", NULL },
	{ "bypass_bad", "bypassed_total", "reason=\"bad\"", NULL },
	{ "requests", "requests_total", NULL, "Requests passed to Redis." },
	{ "replies", "replies_total", NULL, "Replies from Redis." },
	{ "connections", "connections_total", NULL, "Client connections taken in." },
	{ "confirms", "confirms_total", NULL, "Fills confirmed as current and without a TTL." },
};

static void print_near_prometheus(struct json_object *o)
{
	const char *name = json_object_get_string(json_object_object_get(o, "name"));

	print_counters(PROM_NEAR, near_prom, sizeof(near_prom) / sizeof(near_prom[0]), o);
	print_family(PROM_NEAR, "serving", "gauge", "Whether GETs are answered on this host now (1) or not (0).");
	print_sample(PROM_NEAR, "serving", name, NULL,
		     json_object_get_boolean(json_object_object_get(o, "serving")) ? "1" : "0");
}

static bool is_near(struct json_object *o)
{
	const char *kind = json_object_get_string(json_object_object_get(o, "kind"));

	return kind && !strcmp(kind, "near");
}

/* @dflt: the name without --name (NULL: the one cache attached). The
 * entries are counted (a walk of the maps) for a Prometheus scrape and for
 * --entries only. */
static int show_stats(struct cli_ctx *ctx, const char *cmd, const char *dflt, const char *allowed)
{
	struct json_object *o, *cnt;
	struct redis_args a;
	char reply[8192];
	int rc;

	rc = redis_parse_args(ctx, cmd, allowed, &a);
	if (!rc && a.prometheus && ctx->json)
		return cli_error(-EINVAL, "'%s': --json or --prometheus, not both", cmd);
	if (rc || (rc = redis_ask_holder(a.name ?: dflt,
					 a.prometheus || a.entries ? "stats entries" : "stats",
					 reply, sizeof(reply))))
		return rc;
	o = json_tokener_parse(reply);
	if (!o)
		return cli_error(-EIO, "the holder's answer is not JSON: %s", reply);
	if (ctx->json || a.prometheus) {
		if (!a.prometheus) {
			cli_print_json(o);	/* consumes o */
			return CLI_OK;
		}
		if (is_near(o))
			print_near_prometheus(o);
		else
			print_prometheus(o);
		json_object_put(o);
		return CLI_OK;
	}
	printf("%s %s on %s (held by process %s), %s, hit rate %.1f%%\n",
	       is_near(o) ? "near cache" : "cache",
	       json_object_get_string(json_object_object_get(o, "name")),
	       json_object_get_string(json_object_object_get(o, "cgroup")),
	       json_object_get_string(json_object_object_get(o, "pid")),
	       json_object_get_boolean(json_object_object_get(o, "serving")) ? "serving" : "NOT serving",
	       100 * json_object_get_double(json_object_object_get(o, "hit_rate")));
	if (json_object_object_get(o, "tracking"))
		printf("tracking: %s (%s)\n",
		       json_object_get_string(json_object_object_get(o, "tracking")),
		       json_object_get_string(json_object_object_get(o, "tracking_why")));
	if (!is_near(o))	/* a near cache follows no listener */
		print_following(o);
	cnt = json_object_object_get(o, "counters");
	json_object_object_foreach(cnt, key, val)
		printf("%12s  %s\n", json_object_get_string(val), key);
	json_object_put(o);
	return CLI_OK;
}

int redis_cmd_stats(struct cli_ctx *ctx) { return show_stats(ctx, "redis stats", NULL, "nME"); }
int redis_cmd_near_stats(struct cli_ctx *ctx) { return show_stats(ctx, "redis near stats", "near", "nM"); }

/* cgroup, pid and serving from the holder, when it answers. */
static struct json_object *holder_status(const char *name)
{
	struct json_object *o = json_object_new_object(), *st;
	const char *keys[] = { "kind", "cgroup", "pid", "serving" };
	char reply[8192];
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);

	/* A holder that died is shown without details, not as an error. */
	dup2(null, STDERR_FILENO);
	st = redis_ask_holder(name, "stats", reply, sizeof(reply)) ? NULL : json_tokener_parse(reply);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	for (size_t i = 0; st && i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_object_add(o, keys[i], json_object_get(json_object_object_get(st, keys[i])));
	json_object_put(st);
	return o;
}

struct json_object *cli_redis_attachments(void)
{
	struct json_object *arr = json_object_new_array();
	struct dirent *de;
	DIR *d = opendir(REDIS_RUN);

	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char path[PATH_MAX], since[32], name[NAME_MAX + 1];
		struct json_object *o;
		struct stat st;

		if (l <= 5 || strcmp(de->d_name + l - 5, ".sock"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", REDIS_RUN, de->d_name);
		if (stat(path, &st))
			continue;
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", gmtime(&st.st_mtime));
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), de->d_name);
		o = holder_status(name);
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "holder", json_object_new_string(path));
		json_object_object_add(o, "feature", json_object_new_string("redis"));
		json_object_object_add(o, "since", json_object_new_string(since));
		json_object_array_add(arr, o);
	}
	if (d)
		closedir(d);
	return arr;
}