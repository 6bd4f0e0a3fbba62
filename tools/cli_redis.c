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
	const char *name, *cgroup, *host, *user, *password, *netns;
	__u16 ports[MAX_PORTS];
	size_t nr_ports;
	/* the near cache (client host) instead of the server-side one */
	bool near;
	const char *servers[MAX_LIST], *prefixes[MAX_LIST];
	size_t nr_servers, nr_prefixes;
	__u32 max_staleness_ms;
	char chosen[NAME_MAX + 1];	/* --name, or the one cache attached */
};

static int add_to_list(const char **list, size_t *nr, const char *arg, const char *what)
{
	if (*nr == MAX_LIST)
		return cli_error(-EINVAL, "at most %d %s", MAX_LIST, what);
	list[(*nr)++] = arg;
	return 0;
}

static int parse_ms(const char *s, __u32 *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || end == s || v < 1 || v > 3600000)
		return cli_error(-EINVAL, "bad --max-staleness-ms '%s': a number of milliseconds "
				 "from 1 to 3600000", s);
	*out = v;
	return 0;
}

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
	case 'p': return parse_port_list(arg, a);
	case 's': return add_to_list(a->servers, &a->nr_servers, arg, "--server addresses");
	case 'x': return add_to_list(a->prefixes, &a->nr_prefixes, arg, "--prefix options");
	case 'm': return parse_ms(arg, &a->max_staleness_ms);
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
		{ "server", required_argument, NULL, 's' },
		{ "prefix", required_argument, NULL, 'x' },
		{ "max-staleness-ms", required_argument, NULL, 'm' },
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

struct counter {
	const char *key;
	size_t off;
};

static const struct counter counters[] = {
#define C(f) { #f, offsetof(struct ebpfaccel_redis_cache_stats, f) }
	C(hits), C(hit_batches), C(misses), C(fills), C(fill_races), C(invalidations),
	C(push_invalidations), C(flushes), C(bypass_state), C(bypass_mixed), C(bypass_size),
	C(bypass_bad), C(requests), C(replies), C(sets), C(confirms),
#undef C
	{}
};

static const struct counter near_counters[] = {
#define C(f) { #f, offsetof(struct ebpfaccel_near_cache_stats, f) }
	C(hits), C(misses), C(fills), C(fill_races), C(invalidations), C(flushes), C(expired),
	C(bypass_state), C(bypass_size), C(bypass_bad), C(requests), C(replies), C(connections),
	C(confirms),
#undef C
	{}
};

/* What a holder holds: the server-side cache or a near cache. */
struct held {
	struct ebpfaccel_redis_cache *rc;
	struct ebpfaccel_near_cache *nc;
};

static int held_open(struct held *h, const struct redis_args *a)
{
	struct ebpfaccel_redis_cache_opts o = {
		.sz = sizeof(o), .ports = a->ports, .nr_ports = a->nr_ports, .cgroup_path = a->cgroup,
		.redis_host = a->host, .redis_user = a->user, .redis_password = a->password,
	};
	struct ebpfaccel_near_cache_opts n = {
		.sz = sizeof(n), .cgroup_path = a->cgroup, .servers = a->servers,
		.nr_servers = a->nr_servers, .prefixes = a->prefixes, .nr_prefixes = a->nr_prefixes,
		.max_staleness_ms = a->max_staleness_ms, .redis_user = a->user,
		.redis_password = a->password,
	};

	if (a->near) {
		h->nc = ebpfaccel_near_cache__open(&n);
		return h->nc ? ebpfaccel_near_cache__attach(h->nc) : -errno;
	}
	h->rc = ebpfaccel_redis_cache__open(&o);
	return h->rc ? ebpfaccel_redis_cache__attach(h->rc) : -errno;
}

static void held_destroy(struct held *h)
{
	ebpfaccel_redis_cache__destroy(h->rc);
	ebpfaccel_near_cache__destroy(h->nc);
	*h = (struct held){};
}

static int held_flush(struct held *h)
{
	return h->nc ? ebpfaccel_near_cache__flush(h->nc) : ebpfaccel_redis_cache__flush(h->rc);
}

static bool held_serving(const struct held *h)
{
	return (h->nc ? ebpfaccel_near_cache__serving(h->nc)
		      : ebpfaccel_redis_cache__serving(h->rc)) == 1;
}

/* The counters as a JSON object; *hits and *misses for the hit rate. */
static struct json_object *held_counters(const struct held *h, __u64 *hits, __u64 *misses)
{
	struct ebpfaccel_redis_cache_stats rs = {};
	struct ebpfaccel_near_cache_stats ns = {};
	const struct counter *c = h->nc ? near_counters : counters;
	const char *base = h->nc ? (const char *)&ns : (const char *)&rs;
	struct json_object *cnt = json_object_new_object();

	if (h->nc)
		ebpfaccel_near_cache__stats(h->nc, &ns, sizeof(ns));
	else
		ebpfaccel_redis_cache__stats(h->rc, &rs, sizeof(rs));
	*hits = h->nc ? ns.hits : rs.hits;
	*misses = h->nc ? ns.misses : rs.misses;
	for (; c->key; c++)
		json_object_object_add(cnt, c->key, json_object_new_uint64(*(const __u64 *)(base + c->off)));
	return cnt;
}

static struct json_object *string_array(const char *const *list, size_t n)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(list[i]));
	return arr;
}

static struct json_object *stats_json(const struct held *h, const struct redis_args *a)
{
	struct json_object *o = json_object_new_object(), *cnt;
	struct json_object *ports = json_object_new_array();
	__u64 hits, misses;

	cnt = held_counters(h, &hits, &misses);
	for (size_t i = 0; i < a->nr_ports; i++)
		json_object_array_add(ports, json_object_new_int(a->ports[i]));
	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "kind", json_object_new_string(a->near ? "near" : "server"));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "cgroup", json_object_new_string(a->cgroup));
	if (a->near) {
		json_object_put(ports);
		json_object_object_add(o, "servers", string_array(a->servers, a->nr_servers));
		json_object_object_add(o, "prefixes", string_array(a->prefixes, a->nr_prefixes));
	} else {
		json_object_object_add(o, "ports", ports);
	}
	json_object_object_add(o, "serving", json_object_new_boolean(held_serving(h)));
	json_object_object_add(o, "hit_rate", json_object_new_double(hits + misses
						? (double)hits / (hits + misses) : 0));
	json_object_object_add(o, "counters", cnt);
	return o;
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
		if (!strcmp(req, "stats")) {
			struct json_object *o = stats_json(h, a);

			answer(fd, json_object_to_json_string(o));
			json_object_put(o);
		} else {
			int err = !strcmp(req, "flush") ? held_flush(h)
				: !strcmp(req, "detach") ? 0 : -EINVAL;

			answer(fd, err ? strerror(-err) : "ok");
			if (!err && !strcmp(req, "detach"))
				stop = 1;
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

/* The holder process: attaches, reports on @report, then serves. */
static int hold(const struct redis_args *a, const struct sockaddr_un *sa, int report)
{
	struct sigaction act = { .sa_handler = on_term };
	struct held h = {};
	struct sockaddr_un here = *sa;
	int err, lfd;

	lfd = holder_listen(a->name, &here);
	if (lfd < 0)
		return lfd;
	err = enter_netns(a->netns);
	if (err) {
		unlink(here.sun_path);
		return err;
	}
	err = held_open(&h, a);
	if (err) {
		held_destroy(&h);
		unlink(here.sun_path);
		return err;
	}
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	if (write(report, &err, sizeof(err)) != sizeof(err))
		stop = 1;
	close(report);
	detach_stdio(a->name);
	serve(lfd, &h, a);
	close(lfd);
	held_destroy(&h);
	remove_log(a->name);
	/* Last: 'redis detach' waits for the socket to go. */
	unlink(here.sun_path);
	return 0;
}

/* Forks the holder of the cache @a describes; 0 once it is attached. */
static int start_holder(struct redis_args *a, pid_t *holder, struct sockaddr_un *sa)
{
	int rc, pipefd[2], err = -EPIPE, s;
	pid_t pid;

	if ((rc = sock_path(a->name, sa)))
		return rc;
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
	    !connect(s, (struct sockaddr *)sa, sizeof(*sa))) {
		close(s);
		return cli_error(-EEXIST, "a Redis cache named '%s' is attached: detach it with "
				 "'ebpfaccel redis%s detach --name %s', or choose another --name",
				 a->name, a->near ? " near" : "", a->name);
	}
	if (s >= 0)
		close(s);
	unlink(sa->sun_path);	/* left by a holder that died */
	if (pipe2(pipefd, O_CLOEXEC))
		return cli_error(-errno, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return cli_error(-errno, "fork: %s", strerror(errno));
	if (!pid) {
		close(pipefd[0]);
		setsid();
		err = hold(a, sa, pipefd[1]);
		if (err && write(pipefd[1], &err, sizeof(err)) < 0)
			_exit(1);
		_exit(err ? 1 : 0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &err, sizeof(err)) != sizeof(err))
		err = -EPIPE;
	close(pipefd[0]);
	*holder = pid;
	return err;
}

static int cmd_attach(struct cli_ctx *ctx)
{
	struct redis_args a;
	struct sockaddr_un sa;
	pid_t pid;
	int rc, err;

	rc = parse_args(ctx, "redis attach", "ncpHuPN", &a);
	if (rc)
		return rc;
	if (!a.cgroup || !a.nr_ports)
		return cli_error(-EINVAL, "'redis attach' needs --cgroup PATH (redis-server's cgroup v2) "
				 "and --port PORT[,PORT...]");
	if (!a.name)
		a.name = "redis";
	err = start_holder(&a, &pid, &sa);
	if (err > 0)
		return err;
	if (err)
		return cli_error(err, "attaching the Redis cache failed: %s%s", strerror(-err),
				 err == -EPERM || err == -EACCES ? cli_perm_hint(err) :
				 err == -ECONNREFUSED ? "; is redis-server listening on that port and address "
							"(--host), in that network namespace (--netns)?" :
				 err == -ENOTCONN ? "; is redis-server in that cgroup, on that port?" : "");
	printf("attached to %s, ports", a.cgroup);
	for (size_t i = 0; i < a.nr_ports; i++)
		printf("%s%u", i ? "," : " ", a.ports[i]);
	printf("; held by process %d (%s)\n", (int)pid, sa.sun_path);
	return CLI_OK;
}

static int cmd_near_attach(struct cli_ctx *ctx)
{
	struct redis_args a;
	struct sockaddr_un sa;
	pid_t pid;
	int rc, err;

	rc = parse_args(ctx, "redis near attach", "ncsxmuPN", &a);
	if (rc)
		return rc;
	if (!a.cgroup || !a.nr_servers)
		return cli_error(-EINVAL, "'redis near attach' needs --cgroup PATH (the clients' cgroup v2) "
				 "and --server HOST:PORT (an IP literal; [IPV6]:PORT)");
	a.near = true;
	if (!a.name)
		a.name = "near";
	err = start_holder(&a, &pid, &sa);
	if (err > 0)
		return err;
	if (err)
		return cli_error(err, "attaching the near cache failed: %s%s", strerror(-err),
				 err == -EPERM ? cli_perm_hint(err) :
				 err == -EACCES ? "; Redis refused the library's connection (see the message "
						  "above: --user/--password, protected mode, ACLs?)" :
				 err == -EINVAL ? " (see the holder's message above)" :
				 err == -ECONNREFUSED || err == -ETIMEDOUT || err == -ENETUNREACH ?
				 "; is redis-server reachable at that address from this network namespace "
				 "(--netns)?" : "");
	printf("near cache attached to %s for", a.cgroup);
	for (size_t i = 0; i < a.nr_servers; i++)
		printf("%s%s", i ? ", " : " ", a.servers[i]);
	printf("; held by process %d (%s)\n", (int)pid, sa.sun_path);
	return CLI_OK;
}

/* Sends @request to the holder; 0 when it answered "ok", else an exit code. */
static int simple_request(struct cli_ctx *ctx, const char *cmd, const char *request,
			  const char *dflt, struct redis_args *a)
{
	char reply[256];
	int rc;

	rc = parse_args(ctx, cmd, "n", a);
	if (!rc && !a->name)
		a->name = dflt;
	if (rc || (rc = choose_name(a->name, a->chosen, sizeof(a->chosen))))
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

/* @dflt: the name when --name is not given (NULL: the one attached). */
static int detach(struct cli_ctx *ctx, const char *cmd, const char *dflt)
{
	struct redis_args a;
	int rc = simple_request(ctx, cmd, "detach", dflt, &a);

	if (!rc)
		rc = wait_detached(a.name);
	if (!rc)
		printf("detached; Redis and its clients keep running\n");
	return rc;
}

static int flush(struct cli_ctx *ctx, const char *cmd, const char *dflt)
{
	struct redis_args a;
	int rc = simple_request(ctx, cmd, "flush", dflt, &a);

	if (!rc)
		printf("flushed: every cached value is invalid\n");
	return rc;
}

static int stats(struct cli_ctx *ctx, const char *cmd, const char *dflt)
{
	struct json_object *o, *cnt;
	struct redis_args a;
	char reply[8192];
	int rc;

	rc = parse_args(ctx, cmd, "n", &a);
	if (rc || (rc = ask_holder(a.name ? a.name : dflt, "stats", reply, sizeof(reply))))
		return rc;
	o = json_tokener_parse(reply);
	if (!o)
		return cli_error(-EIO, "the holder's answer is not JSON: %s", reply);
	if (ctx->json) {
		cli_print_json(o);
		return CLI_OK;
	}
	printf("%s %s on %s (held by process %s), %s, hit rate %.1f%%\n",
	       strcmp(json_object_get_string(json_object_object_get(o, "kind")) ?: "", "near")
	       ? "cache" : "near cache",
	       json_object_get_string(json_object_object_get(o, "name")),
	       json_object_get_string(json_object_object_get(o, "cgroup")),
	       json_object_get_string(json_object_object_get(o, "pid")),
	       json_object_get_boolean(json_object_object_get(o, "serving")) ? "serving" : "NOT serving",
	       100 * json_object_get_double(json_object_object_get(o, "hit_rate")));
	cnt = json_object_object_get(o, "counters");
	json_object_object_foreach(cnt, key, val)
		printf("%12s  %s\n", json_object_get_string(val), key);
	json_object_put(o);
	return CLI_OK;
}

static int cmd_detach(struct cli_ctx *ctx) { return detach(ctx, "redis detach", NULL); }
static int cmd_flush(struct cli_ctx *ctx) { return flush(ctx, "redis flush", NULL); }
static int cmd_stats(struct cli_ctx *ctx) { return stats(ctx, "redis stats", NULL); }
static int cmd_near_detach(struct cli_ctx *ctx) { return detach(ctx, "redis near detach", "near"); }
static int cmd_near_flush(struct cli_ctx *ctx) { return flush(ctx, "redis near flush", "near"); }
static int cmd_near_stats(struct cli_ctx *ctx) { return stats(ctx, "redis near stats", "near"); }

/* cgroup, pid and serving from the holder, when it answers. */
static struct json_object *holder_status(const char *name)
{
	struct json_object *o = json_object_new_object(), *st;
	const char *keys[] = { "cgroup", "pid", "serving" };
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
	{ "redis attach", "--cgroup PATH --port PORT[,PORT...] [--netns NS] [--host ADDR] [--user U] "
	  "[--password P] [--name NAME]",
	  "attach the in-kernel GET cache to the redis-server in cgroup PATH (reached at ADDR, default "
	  "127.0.0.1, in network namespace NS); a holder process keeps it coherent until 'redis detach'",
	  cmd_attach, false },
	{ "redis detach", "[--name NAME]", "detach the cache; Redis and its clients keep running",
	  cmd_detach, false },
	{ "redis stats", "[--name NAME] [--json]", "hits, misses, hit rate, invalidations, bypass reasons",
	  cmd_stats, true },
	{ "redis flush", "[--name NAME]", "invalidate every cached value", cmd_flush, false },
	{ "redis near attach", "--cgroup PATH --server ADDR:PORT [--server ...] [--prefix P ...] "
	  "[--max-staleness-ms N] [--netns NS] [--user U] [--password P] [--name NAME]",
	  "answer GET hits of the clients in cgroup PATH on their own host (a near cache for the one "
	  "Redis server at ADDR:PORT, IP literals, [IPV6]:PORT); entries are answered at most N ms "
	  "(default 1000) after their fill; a holder process keeps it coherent until 'redis near detach'",
	  cmd_near_attach, false },
	{ "redis near detach", "[--name NAME]", "detach the near cache (default name: near)",
	  cmd_near_detach, false },
	{ "redis near stats", "[--name NAME] [--json]", "the near cache's hits, misses, fills, "
	  "invalidations, bypass reasons", cmd_near_stats, true },
	{ "redis near flush", "[--name NAME]", "invalidate every value of the near cache",
	  cmd_near_flush, false },
	{}
};
