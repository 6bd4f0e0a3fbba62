// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ebpfaccel redis attach|detach|stats|flush
 * ebpfaccel redis near attach|detach|stats|flush
 *
 * The cache cannot be pinned like the compression policy: it stays coherent
 * only while the library's coherence connection to Redis (CLIENT TRACKING)
 * lives, and that is a thread of the process that attached.  So 'attach'
 * leaves a holder process behind that owns the cache, and the other commands
 * talk to it on a unix socket, CLI_RUN_DIR/redis/<name>.sock.  When the
 * holder dies, the kernel drops the programs with its descriptors: nothing
 * stays attached without coherence.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <ebpfaccel/ebpfaccel.h>

#include "cli.h"

#define REDIS_RUN	CLI_RUN_DIR "/redis"
#define MAX_PORTS	16
#define MAX_LIST	8	/* --server, --prefix */

struct redis_args {
	const char *name, *cgroup, *host, *user, *password, *netns, *dev;
	int mode;		/* enum ebpfaccel_redis_cache_mode */
	__u16 ports[MAX_PORTS];
	size_t nr_ports;
	int tracking;		/* enum ebpfaccel_redis_tracking */
	int pid;		/* --pid: redis-server's process */
	bool prometheus;	/* stats --prometheus */
	bool entries;		/* stats --entries */
	bool foreground;	/* attach --foreground: hold in this process */
	bool found_cgroup;	/* no --cgroup: found from the listener */
	/* a near cache (the clients' host) instead of the server-side one */
	bool near;
	const char *servers[MAX_LIST], *prefixes[MAX_LIST];
	size_t nr_servers, nr_prefixes;
	__u32 max_staleness_ms;
	char chosen[NAME_MAX + 1];	/* --name, or the one cache attached */
};

static int parse_port_list(const char *s, struct redis_args *a)
{
	char *copy = strdup(s), *tok, *save, *end;
	int rc = 0;

	for (tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
		long v = strtol(tok, &end, 10);

		if (*end || end == tok || v < 1 || v > 65535)
			rc = cli_error(-EINVAL, "bad port '%s': a TCP port is a number from 1 to 65535", tok);
		else if (a->nr_ports == MAX_PORTS)
			rc = cli_error(-EINVAL, "at most %d ports", MAX_PORTS);
		else
			a->ports[a->nr_ports++] = v;
	}
	free(copy);
	return rc;
}

static int parse_mode(const char *s, struct redis_args *a)
{
	static const char *const names[] = {
		[EBPFACCEL_REDIS_CACHE_SOCKMAP] = "sockmap",
		[EBPFACCEL_REDIS_CACHE_XDP] = "xdp",
		[EBPFACCEL_REDIS_CACHE_AUTO] = "auto",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			a->mode = i;
			return 0;
		}
	return cli_error(-EINVAL, "bad mode '%s': sockmap, xdp or auto", s);
}

static int add_to_list(const char **list, size_t *nr, const char *arg, const char *what)
{
	if (*nr == MAX_LIST)
		return cli_error(-EINVAL, "at most %d %s", MAX_LIST, what);
	list[(*nr)++] = arg;
	return 0;
}

static int parse_staleness(const char *s, __u32 *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || end == s || v < 1 || v > 3600000)
		return cli_error(-EINVAL, "bad --max-staleness-ms '%s': a number of milliseconds "
				 "from 1 to 3600000", s);
	*out = v;
	return 0;
}

struct redis_parse {
	const char *cmd;
	struct redis_args *a;
};

static int redis_opt(int c, const char *arg, void *data)
{
	struct redis_parse *p = data;
	struct redis_args *a = p->a;

	switch (c) {
	case 1:
		return cli_error(-EINVAL, "'%s': unexpected argument '%s' (see 'ebpfaccel --help')", p->cmd, arg);
	case 'n': a->name = arg; break;
	case 'c': a->cgroup = arg; break;
	case 'H': a->host = arg; break;
	case 'u': a->user = arg; break;
	case 'P': a->password = arg; break;
	case 'N': a->netns = arg; break;
	case 'T':
		if (!strcmp(arg, "all"))
			a->tracking = EBPFACCEL_REDIS_TRACK_BCAST;
		else if (!strcmp(arg, "keys"))
			a->tracking = EBPFACCEL_REDIS_TRACK_KEYS;
		else if (!strcmp(arg, "auto"))
			a->tracking = EBPFACCEL_REDIS_TRACK_AUTO;
		else
			return cli_error(-EINVAL, "bad --track '%s': 'all', 'keys' or 'auto'", arg);
		break;
	case 'D': a->dev = arg; break;
	case 'm': return parse_mode(arg, a);
	case 'p': return parse_port_list(arg, a);
	case 's': return add_to_list(a->servers, &a->nr_servers, arg, "--server addresses");
	case 'x': return add_to_list(a->prefixes, &a->nr_prefixes, arg, "--prefix options");
	case 'S': return parse_staleness(arg, &a->max_staleness_ms);
	case 'M': a->prometheus = true; break;
	case 'E': a->entries = true; break;
	case 'F': a->foreground = true; break;
	case 'i':
		a->pid = atoi(arg);
		if (a->pid <= 0 || (kill(a->pid, 0) && errno == ESRCH))
			return cli_error(-EINVAL, "bad --pid '%s': no such process", arg);
		break;
	}
	return 0;
}

static int parse_args(struct cli_ctx *ctx, const char *cmd, const char *allowed, struct redis_args *a)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'P' },
		{ "netns", required_argument, NULL, 'N' },
		{ "track", required_argument, NULL, 'T' },
		{ "pid", required_argument, NULL, 'i' },
		{ "prometheus", no_argument, NULL, 'M' },
		{ "entries", no_argument, NULL, 'E' },
		{ "mode", required_argument, NULL, 'm' },
		{ "dev", required_argument, NULL, 'D' },
		{ "foreground", no_argument, NULL, 'F' },
		{ "server", required_argument, NULL, 's' },
		{ "prefix", required_argument, NULL, 'x' },
		{ "max-staleness-ms", required_argument, NULL, 'S' },
		{}
	};
	struct redis_parse p = { cmd, a };

	*a = (struct redis_args){};
	return cli_getopt(ctx, cmd, opts, allowed, redis_opt, &p);
}

static int sock_path(const char *name, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (!*name || strpbrk(name, "/.") || name[0] == '~')
		return cli_error(-EINVAL, "bad cache name '%s': names have no '/', '.' or leading '~'", name);
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s.sock", REDIS_RUN, name);
	return 0;
}

/* --name, or the one cache that is attached. */
static int choose_name(const char *given, char *name, size_t len)
{
	char first[NAME_MAX + 1] = "";
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (given) {
		snprintf(name, len, "%s", given);
		return 0;
	}
	if (geteuid())
		return cli_error(-EPERM, "reading the attached caches needs privileges: " CLI_ROOT_HINT);
	d = opendir(REDIS_RUN);
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l > 5 && !strcmp(de->d_name + l - 5, ".sock") && n++ == 0)
			snprintf(first, sizeof(first), "%.*s", (int)(l - 5), de->d_name);
	}
	if (d)
		closedir(d);
	if (!n)
		return cli_error(-ENOENT, "no Redis cache is attached: attach one with "
				 "'ebpfaccel redis attach --cgroup PATH --port PORT'");
	if (n > 1)
		return cli_error(-EINVAL, "%d Redis caches are attached: choose one with --name "
				 "(see 'ebpfaccel status')", n);
	snprintf(name, len, "%s", first);
	return 0;
}

/* One request to the holder, its one-line (or JSON) answer in @reply. */
static int ask_holder(const char *given, const char *request, char *reply, size_t len)
{
	struct sockaddr_un sa;
	char name[NAME_MAX + 1];
	ssize_t n, got = 0;
	int fd, rc;

	rc = choose_name(given, name, sizeof(name));
	if (rc || (rc = sock_path(name, &sa)))
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		if (err == ENOENT || err == ECONNREFUSED) {
			/* A holder that died leaves its socket file: tidy it. */
			if (err == ECONNREFUSED)
				unlink(sa.sun_path);
			return cli_error(-ENOENT, "no Redis cache '%s' is attached (see 'ebpfaccel status'; "
					 "attach with 'ebpfaccel redis attach --cgroup PATH --port PORT')", name);
		}
		return cli_error(-err, "cannot reach the holder of cache '%s' (%s): %s%s", name, sa.sun_path,
				 strerror(err), cli_perm_hint(-err));
	}
	if (write(fd, request, strlen(request)) < 0 || shutdown(fd, SHUT_WR)) {
		close(fd);
		return cli_error(-errno, "talking to the holder of cache '%s' failed: %s", name, strerror(errno));
	}
	while (got < (ssize_t)len - 1 && (n = read(fd, reply + got, len - 1 - got)) > 0)
		got += n;
	close(fd);
	reply[got] = 0;
	return 0;
}

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

/* What a holder holds: the server-side cache or a near cache. */
struct held {
	struct ebpfaccel_redis_cache *rc;
	struct ebpfaccel_near_cache *nc;
};

static const char *held_kind(const struct held *h)
{
	return h->nc ? "near" : "server";
}

static struct json_object *held_stats_json(const struct held *h, const struct redis_args *a,
					   bool entries)
{
	struct json_object *o = h->nc ? near_stats_json(h->nc, a) : stats_json(h->rc, a, entries);

	json_object_object_add(o, "kind", json_object_new_string(held_kind(h)));
	return o;
}

static void held_destroy(struct held *h)
{
	ebpfaccel_redis_cache__destroy(h->rc);
	ebpfaccel_near_cache__destroy(h->nc);
	*h = (struct held){};
}

static volatile sig_atomic_t stop;

/* The asker may be gone already: nothing to do about a failed answer. */
static void answer(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0)
		return;
}

static void on_term(int sig)
{
	stop = 1;
}

/* 'flush' or 'detach' from 'redis ...', "near flush" or "near detach" from
 * 'redis near ...': each acts only on its kind of cache, so that a command
 * for one never detaches the other.  The answer: "ok", or why not. */
static const char *held_request(struct held *h, const char *req)
{
	bool near = !strncmp(req, "near ", 5);
	int err;

	req += near ? 5 : 0;
	if (near != !!h->nc)
		return h->nc ? "this is a near cache: use 'ebpfaccel redis near ...'"
			     : "this is a server-side cache: use 'ebpfaccel redis ...' (not 'redis near')";
	if (!strcmp(req, "detach")) {
		stop = 1;
		return "ok";
	}
	if (strcmp(req, "flush"))
		return strerror(EINVAL);
	err = h->nc ? ebpfaccel_near_cache__flush(h->nc) : ebpfaccel_redis_cache__flush(h->rc);
	return err ? strerror(-err) : "ok";
}

/* Answers the other commands until 'detach' or SIGTERM. */
static void serve(int lfd, struct held *h, const struct redis_args *a)
{
	while (!stop) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		char req[32] = "";
		ssize_t n;

		if (fd < 0)
			continue;
		n = read(fd, req, sizeof(req) - 1);
		req[n > 0 ? n : 0] = 0;
		/* "stats entries": also count what the maps hold (a walk) */
		if (!strcmp(req, "stats") || !strcmp(req, "stats entries")) {
			struct json_object *o = held_stats_json(h, a, req[5] == ' ');

			answer(fd, json_object_to_json_string(o));
			json_object_put(o);
		} else {
			answer(fd, held_request(h, req));
		}
		close(fd);
	}
}

static int holder_listen(const char *name, struct sockaddr_un *sa)
{
	int fd;

	if (mkdir(CLI_RUN_DIR, 0700) && errno != EEXIST)
		return -errno;
	if (mkdir(REDIS_RUN, 0700) && errno != EEXIST)
		return -errno;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) || listen(fd, 8)) {
		int err = -errno;

		close(fd);
		return err;
	}
	chmod(sa->sun_path, 0600);
	return fd;
}

/* The holder outlives the command: its output goes to a log of its own, so
 * that whoever reads the command's output sees it end. */
static void detach_stdio(const char *name)
{
	char log[PATH_MAX];
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), fd;

	snprintf(log, sizeof(log), "%s/%s.log", REDIS_RUN, name);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (null >= 0)
		dup2(null, STDIN_FILENO);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	if (null >= 0)
		close(null);
}

/* The coherence connection is made from the holder's network namespace:
 * only that one is switched ('ip netns exec' would also hide /sys/fs/cgroup). */
static int enter_netns(const char *netns)
{
	char path[PATH_MAX];
	int fd, err = 0;

	if (!netns)
		return 0;
	snprintf(path, sizeof(path), strchr(netns, '/') ? "%s" : "/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

static void remove_log(const char *name)
{
	char log[PATH_MAX];

	snprintf(log, sizeof(log), "%s/%s.log", REDIS_RUN, name);
	unlink(log);
}

static void print_attached(const struct redis_args *a, pid_t pid, const char *sock)
{
	if (a->near) {
		printf("near cache attached to %s for", a->cgroup);
		for (size_t i = 0; i < a->nr_servers; i++)
			printf("%s%s", i ? ", " : " ", a->servers[i]);
	} else {
		printf("attached to %s, ports", a->cgroup);
		for (size_t i = 0; i < a->nr_ports; i++)
			printf("%s%u", i ? "," : " ", a->ports[i]);
	}
	printf("; held by process %d (%s)\n", (int)pid, sock);
	fflush(stdout);
}

/* What the holder tells 'redis attach' once it attached, or why not. */
struct attach_report {
	int err;
	struct ebpfaccel_load_error why;	/* a BPF load that failed */
	char warning[512];			/* the library's last warning */
};

static char holder_warning[512];
static bool holder_debug;

/* While attaching, the library's last warning is kept for the command's
 * one line; --debug shows every message as it comes. */
static int attach_print(enum ebpfaccel_print_level level, const char *fmt, va_list ap)
{
	if (level == EBPFACCEL_WARN) {
		va_list copy;

		va_copy(copy, ap);
		vsnprintf(holder_warning, sizeof(holder_warning), fmt, copy);
		va_end(copy);
	}
	return holder_debug ? vfprintf(stderr, fmt, ap) : 0;
}

static struct ebpfaccel_redis_cache *attach_cache(const struct redis_args *a, struct attach_report *r)
{
	struct ebpfaccel_redis_cache_opts o = {
		.sz = sizeof(o), .ports = a->ports, .nr_ports = a->nr_ports,
		.cgroup_path = a->found_cgroup ? NULL : a->cgroup,
		.redis_host = a->host, .redis_user = a->user, .redis_password = a->password,
		.tracking = a->tracking,
		.load_error = &r->why,
		.mode = a->mode, .ifname = a->dev,
		/* the library finds it again (and follows a restarted server) */
		.discover_cgroup = a->found_cgroup, .pid = a->pid,
	};
	struct ebpfaccel_redis_cache *rc;

	rc = ebpfaccel_redis_cache__open(&o);
	r->err = rc ? ebpfaccel_redis_cache__attach(rc) : -errno;
	if (r->err) {
		ebpfaccel_redis_cache__destroy(rc);
		return NULL;
	}
	return rc;
}

static struct ebpfaccel_near_cache *attach_near(const struct redis_args *a, struct attach_report *r)
{
	struct ebpfaccel_near_cache_opts o = {
		.sz = sizeof(o), .cgroup_path = a->cgroup,
		.servers = a->servers, .nr_servers = a->nr_servers,
		.prefixes = a->prefixes, .nr_prefixes = a->nr_prefixes,
		.max_staleness_ms = a->max_staleness_ms,
		.redis_user = a->user, .redis_password = a->password,
	};
	struct ebpfaccel_near_cache *nc;

	nc = ebpfaccel_near_cache__open(&o);
	r->err = nc ? ebpfaccel_near_cache__attach(nc) : -errno;
	if (r->err) {
		ebpfaccel_near_cache__destroy(nc);
		return NULL;
	}
	return nc;
}

/* Attaches the cache @a describes into @h; r->err says whether it did. */
static void held_attach(struct held *h, const struct redis_args *a, struct attach_report *r)
{
	ebpfaccel_print_fn_t prev = ebpfaccel_set_print(attach_print);

	r->why.sz = sizeof(r->why);
	if (a->near)
		h->nc = attach_near(a, r);
	else
		h->rc = attach_cache(a, r);
	ebpfaccel_set_print(prev);
	snprintf(r->warning, sizeof(r->warning), "%s", holder_warning);
}

static int attach_failed(const struct redis_args *a, const struct attach_report *r);

/* The holder process: attaches, reports on @report (-1: in the foreground,
 * on stdout, for a service manager), then serves until detached or SIGTERM.
 * Returns its exit status. */
static int hold(const struct redis_args *a, const struct sockaddr_un *sa, int report)
{
	struct sigaction act = { .sa_handler = on_term };
	struct attach_report r = { 0 };
	struct sockaddr_un here = *sa;
	struct held h = {};
	int lfd;

	lfd = holder_listen(a->name, &here);
	r.err = lfd < 0 ? lfd : enter_netns(a->netns);
	if (!r.err)
		held_attach(&h, a, &r);
	if (r.err) {
		if (lfd >= 0) {
			close(lfd);
			unlink(here.sun_path);
		}
		if (report < 0)
			return attach_failed(a, &r);
		/* Nobody to tell if the command is gone. */
		if (write(report, &r, sizeof(r)) < 0)
			r.err = -EPIPE;
		return 1;
	}
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	if (report < 0) {
		/* --foreground: a service manager keeps the logs and the process */
		print_attached(a, getpid(), here.sun_path);
	} else {
		if (write(report, &r, sizeof(r)) != sizeof(r))
			stop = 1;
		close(report);
		detach_stdio(a->name);
	}
	serve(lfd, &h, a);
	close(lfd);
	held_destroy(&h);
	remove_log(a->name);
	/* Last: 'redis detach' waits for the socket to go. */
	unlink(here.sun_path);
	return 0;
}

/* The cgroup of the server listening on the first port: in its netns
 * (--netns, or that of --pid), which the holder inherits. */
static int find_cgroup(struct redis_args *a, char *cgroup, size_t sz)
{
	static char pid_ns[64];
	int err;

	if (!a->netns && a->pid) {
		snprintf(pid_ns, sizeof(pid_ns), "/proc/%d/ns/net", a->pid);
		a->netns = pid_ns;
	}
	err = enter_netns(a->netns);
	if (err)
		return cli_error(err, "network namespace %s: %s", a->netns, strerror(-err));
	err = ebpfaccel_redis_cache__find_cgroup(a->ports[0], a->pid, cgroup, sz);
	if (err)
		return cli_error(err, "finding the cgroup of the server on port %u%s: %s%s", a->ports[0],
				 a->pid ? " held by that process" : "", strerror(-err),
				 err == -ENOENT ? "; is redis-server listening there (--netns)?" :
				 err == -EOPNOTSUPP ? "; this kernel does not report it (Linux < 5.7): "
						      "give --cgroup" : "");
	a->cgroup = cgroup;
	a->found_cgroup = true;
	return 0;
}

/* The one line saying why attaching failed: the failed BPF load, else the
 * library's warning (or the error) with what to check. */
static int attach_failed(const struct redis_args *a, const struct attach_report *r)
{
	const char *warning = r->warning, *prefix = "libebpfaccel: ";
	const char *cmd = a->near ? "redis near attach" : "redis attach";
	int err = r->err;
	char msg[128];

	if (r->why.reason[0])
		return cli_error(err, "%s: %s%s", cmd, r->why.reason,
				 r->why.verifier ? " (run with --debug for the full log)" : "");
	if (!strncmp(warning, prefix, strlen(prefix)))
		warning += strlen(prefix);
	ebpfaccel_strerror(err, msg, sizeof(msg));
	return cli_error(err, "%s: %.*s%s", cmd,
			 warning[0] ? (int)strcspn(warning, "\n") : (int)strlen(msg),
			 warning[0] ? warning : msg,
			 err == -EPERM || err == -EACCES ? cli_perm_hint(err) :
			 err == -ECONNREFUSED && a->near ? "; is redis-server listening at the first "
							   "--server address, in that network namespace "
							   "(--netns)?" :
			 err == -ECONNREFUSED ? "; is redis-server listening on that port and address "
						"(--host), in that network namespace (--netns)?" :
			 err == -ENOTCONN ? "; is redis-server in that cgroup, on that port?" : "");
}

/* Starts the holder of the cache @a describes (in this process with
 * --foreground); returns the command's exit code. */
static int start_holder(struct cli_ctx *ctx, struct redis_args *a)
{
	struct attach_report r = { .err = -EPIPE };
	struct sockaddr_un sa;
	int rc, pipefd[2], s;
	pid_t pid;

	if ((rc = sock_path(a->name, &sa)))
		return rc;
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
	    !connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		close(s);
		return cli_error(-EEXIST, "a Redis cache named '%s' is attached: detach it with "
				 "'ebpfaccel redis%s detach --name %s', or choose another --name",
				 a->name, a->near ? " near" : "", a->name);
	}
	if (s >= 0)
		close(s);
	unlink(sa.sun_path);	/* left by a holder that died */
	if (a->foreground) {
		holder_debug = ctx->debug;
		return hold(a, &sa, -1);
	}
	if (pipe2(pipefd, O_CLOEXEC))
		return cli_error(-errno, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return cli_error(-errno, "fork: %s", strerror(errno));
	if (!pid) {
		close(pipefd[0]);
		setsid();
		holder_debug = ctx->debug;
		_exit(hold(a, &sa, pipefd[1]));
	}
	close(pipefd[1]);
	if (read(pipefd[0], &r, sizeof(r)) != sizeof(r))
		r.err = -EPIPE;
	close(pipefd[0]);
	if (r.err)
		return attach_failed(a, &r);
	print_attached(a, pid, sa.sun_path);
	return CLI_OK;
}

static int cmd_attach(struct cli_ctx *ctx)
{
	char cgroup[PATH_MAX];
	struct redis_args a;
	int rc;

	rc = parse_args(ctx, "redis attach", "ncpHuPNTimDF", &a);
	if (rc)
		return rc;
	if (!a.nr_ports)
		return cli_error(-EINVAL, "'redis attach' needs --port PORT[,PORT...]");
	if (a.mode == EBPFACCEL_REDIS_CACHE_XDP && !a.dev)
		return cli_error(-EINVAL, "'--mode xdp' needs --dev IFNAME: the interface clients reach "
				 "redis-server through (in --netns NS)");
	if (a.dev && a.mode == EBPFACCEL_REDIS_CACHE_SOCKMAP)
		return cli_error(-EINVAL, "--dev is for '--mode xdp' or '--mode auto'");
	if (!a.cgroup && (rc = find_cgroup(&a, cgroup, sizeof(cgroup))))
		return rc;
	if (!a.name)
		a.name = "redis";
	return start_holder(ctx, &a);
}

static int cmd_near_attach(struct cli_ctx *ctx)
{
	struct redis_args a;
	int rc;

	rc = parse_args(ctx, "redis near attach", "ncsxSuPNF", &a);
	if (rc)
		return rc;
	if (!a.cgroup || !a.nr_servers)
		return cli_error(-EINVAL, "'redis near attach' needs --cgroup PATH (the clients' cgroup v2) "
				 "and --server IPV4:PORT or [IPV6]:PORT (the Redis server as the clients "
				 "connect to it)");
	a.near = true;
	if (!a.name)
		a.name = "near";
	return start_holder(ctx, &a);
}

/* Sends @request to the holder; 0 when it answered "ok", else an exit code.
 * @dflt: the name without --name (NULL: the one cache attached). */
static int simple_request(struct cli_ctx *ctx, const char *cmd, const char *request,
			  const char *dflt, struct redis_args *a)
{
	char reply[256];
	int rc;

	rc = parse_args(ctx, cmd, "n", a);
	if (rc || (rc = choose_name(a->name ?: dflt, a->chosen, sizeof(a->chosen))))
		return rc;
	a->name = a->chosen;
	if ((rc = ask_holder(a->name, request, reply, sizeof(reply))))
		return rc;
	if (strcmp(reply, "ok"))
		return cli_error(-EIO, "'%s' failed: %s", cmd, reply[0] ? reply : "the holder did not answer");
	return 0;
}

/* The holder removes its socket once the cache is destroyed. */
static int wait_detached(const char *given)
{
	char name[NAME_MAX + 1];
	struct sockaddr_un sa;

	if (choose_name(given, name, sizeof(name)) || sock_path(name, &sa))
		return CLI_FAILED;
	for (int i = 0; i < 100; i++) {
		if (access(sa.sun_path, F_OK))
			return CLI_OK;
		usleep(50000);
	}
	return cli_error(-ETIMEDOUT, "the holder of cache '%s' did not finish detaching within 5 s "
			 "(see %s/%s.log)", name, REDIS_RUN, name);
}

static int detach(struct cli_ctx *ctx, const char *cmd, const char *request, const char *dflt)
{
	struct redis_args a;
	int rc = simple_request(ctx, cmd, request, dflt, &a);

	if (!rc)
		rc = wait_detached(a.name);
	if (!rc)
		printf("detached; Redis and its clients keep running\n");
	return rc;
}

static int flush(struct cli_ctx *ctx, const char *cmd, const char *request, const char *dflt)
{
	struct redis_args a;
	int rc = simple_request(ctx, cmd, request, dflt, &a);

	if (!rc)
		printf("flushed: every cached value is invalid\n");
	return rc;
}

static int cmd_detach(struct cli_ctx *ctx) { return detach(ctx, "redis detach", "detach", NULL); }
static int cmd_flush(struct cli_ctx *ctx) { return flush(ctx, "redis flush", "flush", NULL); }
static int cmd_near_detach(struct cli_ctx *ctx)
{
	return detach(ctx, "redis near detach", "near detach", "near");
}
static int cmd_near_flush(struct cli_ctx *ctx)
{
	return flush(ctx, "redis near flush", "near flush", "near");
}

/* Prometheus metric families of the counters: one family per metric name,
 * the bypass reasons and invalidation sources as labels of one family. */
static const struct {
	const char *counter, *metric, *label, *help;
} prom[] = {
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

static void print_sample(const char *metric, const char *name, const char *label, const char *value)
{
	printf("ebpfaccel_redis_cache_%s{cache=\"", metric);
	print_label_value(name);
	printf("\"%s%s} %s\n", label ? "," : "", label ? label : "", value);
}

static void print_family(const char *metric, const char *type, const char *help)
{
	printf("# HELP ebpfaccel_redis_cache_%s %s\n# TYPE ebpfaccel_redis_cache_%s %s\n",
	       metric, help, metric, type);
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
			print_family(prom_info[i].metric, prom_info[i].type, prom_info[i].help);
		/* numbers as they are, booleans as 1 or 0 */
		snprintf(value, sizeof(value), "%" PRIu64,
			 json_object_get_uint64(json_object_object_get(in, prom_info[i].key)));
		print_sample(prom_info[i].metric, name, prom_info[i].label, value);
	}
	print_family("info", "gauge", "Always 1: the cgroup the cache is attached to now and how Redis "
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
	struct json_object *cnt = json_object_object_get(o, "counters");
	const char *name = json_object_get_string(json_object_object_get(o, "name"));

	for (size_t i = 0; i < sizeof(prom) / sizeof(prom[0]); i++) {
		if (prom[i].help)
			print_family(prom[i].metric, "counter", prom[i].help);
		print_sample(prom[i].metric, name, prom[i].label,
			     json_object_get_string(json_object_object_get(cnt, prom[i].counter)));
	}
	print_family("serving", "gauge", "Whether the kernel answers GETs now (1) or not (0).");
	print_sample("serving", name, NULL,
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
static const struct {
	const char *counter, *metric, *label, *help;
} near_prom[] = {
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

static void print_near_sample(const char *metric, const char *name, const char *label, const char *value)
{
	printf("ebpfaccel_redis_near_cache_%s{cache=\"", metric);
	print_label_value(name);
	printf("\"%s%s} %s\n", label ? "," : "", label ? label : "", value);
}

static void print_near_prometheus(struct json_object *o)
{
	struct json_object *cnt = json_object_object_get(o, "counters");
	const char *name = json_object_get_string(json_object_object_get(o, "name"));

	for (size_t i = 0; i < sizeof(near_prom) / sizeof(near_prom[0]); i++) {
		if (near_prom[i].help)
			printf("# HELP ebpfaccel_redis_near_cache_%s %s\n"
			       "# TYPE ebpfaccel_redis_near_cache_%s counter\n",
			       near_prom[i].metric, near_prom[i].help, near_prom[i].metric);
		print_near_sample(near_prom[i].metric, name, near_prom[i].label,
				  json_object_get_string(json_object_object_get(cnt, near_prom[i].counter)));
	}
	printf("# HELP ebpfaccel_redis_near_cache_serving Whether GETs are answered on this host now "
	       "(1) or not (0).\n# TYPE ebpfaccel_redis_near_cache_serving gauge\n");
	print_near_sample("serving", name, NULL,
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

	rc = parse_args(ctx, cmd, allowed, &a);
	if (!rc && a.prometheus && ctx->json)
		return cli_error(-EINVAL, "'%s': --json or --prometheus, not both", cmd);
	if (rc || (rc = ask_holder(a.name ?: dflt, a.prometheus || a.entries ? "stats entries" : "stats",
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

static int cmd_stats(struct cli_ctx *ctx) { return show_stats(ctx, "redis stats", NULL, "nME"); }
static int cmd_near_stats(struct cli_ctx *ctx) { return show_stats(ctx, "redis near stats", "near", "nM"); }

/* cgroup, pid and serving from the holder, when it answers. */
static struct json_object *holder_status(const char *name)
{
	struct json_object *o = json_object_new_object(), *st;
	const char *keys[] = { "kind", "cgroup", "pid", "serving" };
	char reply[8192];
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);

	/* A holder that died is shown without details, not as an error. */
	dup2(null, STDERR_FILENO);
	st = ask_holder(name, "stats", reply, sizeof(reply)) ? NULL : json_tokener_parse(reply);
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

const struct cli_cmd cli_redis_cmds[] = {
	{ "redis attach", "--port PORT[,PORT...] [--cgroup PATH] [--pid PID] [--netns NS] [--host ADDR] "
	  "[--user U] [--password P] [--name NAME] [--track all|keys|auto] [--mode sockmap|xdp|auto] [--dev IFNAME] "
	  "[--foreground]",
	  "attach the in-kernel GET cache to the redis-server listening on PORT (reached at ADDR, default "
	  "127.0.0.1, in network namespace NS, default that of PID); its connections' cgroup is found from "
	  "the listening socket (held by PID if given) unless --cgroup PATH says it; a holder process keeps "
	  "it coherent until 'redis detach' (--foreground: this process holds it, logging to stderr, until "
	  "SIGTERM or 'redis detach': for a service manager); "
	  "--track auto (default): Redis tracks only cached keys while no write path the cache does not "
	  "see exists (writes at plain cost), else every write ('redis stats' says which and why); "
	  "--track all: Redis pushes every write, always; --track keys: only cached keys, always (a write "
	  "the cache does not see can leave the replaced value answerable for microseconds, "
	  "docs/redis-cache.md); "
	  "--mode xdp also answers GET hits in XDP on IFNAME, before the TCP stack (auto: when it can, "
	  "else sockmap); 'redis detach' then resets the client connections XDP answered on",
	  cmd_attach, false },
	{ "redis detach", "[--name NAME]", "detach the cache; Redis and its clients keep running "
	  "(in XDP mode, connections XDP answered on are reset: their clients reconnect)",
	  cmd_detach, false },
	{ "redis stats", "[--name NAME] [--json|--prometheus] [--entries]", "hits, misses, hit rate, "
	  "invalidations, bypass reasons, capacity and kernel memory, coherence state, the cgroup the "
	  "cache is in now and the redis-server process it follows; --entries: also count the entries "
	  "(a walk of the maps, ~25 ms of CPU when full); --prometheus: in Prometheus' text exposition "
	  "format, entries included",
	  cmd_stats, true },
	{ "redis flush", "[--name NAME]", "invalidate every cached value", cmd_flush, false },
	{ "redis near attach", "--cgroup PATH --server ADDR:PORT [--server ...] [--prefix P ...] "
	  "[--max-staleness-ms N] [--netns NS] [--user U] [--password P] [--name NAME] [--foreground]",
	  "answer the GET hits of the Redis clients in cgroup PATH on their own host: a near cache for "
	  "the one redis-server the clients reach at ADDR:PORT (IPv4 literal, or [IPV6]:PORT; up to 8 "
	  "addresses of that server); only keys starting with a --prefix P (up to 8) are cached; a value "
	  "is answered at most N ms (default 1000) after the reply it was filled from; the library's "
	  "connections go to the first ADDR from network namespace NS; a holder process keeps it "
	  "coherent until 'redis near detach' (--foreground: this process holds it, as for 'redis attach')",
	  cmd_near_attach, false },
	{ "redis near detach", "[--name NAME]", "detach the near cache (default name: near); the clients "
	  "keep their connections", cmd_near_detach, false },
	{ "redis near stats", "[--name NAME] [--json|--prometheus]", "the near cache's hits, misses, "
	  "fills, invalidations, expired entries, bypass reasons", cmd_near_stats, true },
	{ "redis near flush", "[--name NAME]", "invalidate every value of the near cache",
	  cmd_near_flush, false },
	{}
};
