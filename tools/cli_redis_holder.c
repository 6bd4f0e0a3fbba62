// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The holder process of 'ebpfaccel redis attach': it attaches the cache,
 * keeps it (and with it the library's coherence connection to Redis) alive,
 * and answers the other commands on CLI_RUN_DIR/redis/<name>.sock until
 * 'redis detach' or SIGTERM.  When it dies, the kernel drops the programs
 * with its descriptors: nothing stays attached without coherence.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cli_redis.h"

int redis_sock_path(const char *name, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (!*name || strpbrk(name, "/.") || name[0] == '~')
		return cli_error(-EINVAL, "bad cache name '%s': names have no '/', '.' or leading '~'", name);
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s.sock", REDIS_RUN, name);
	return 0;
}

/* --name, or the one cache that is attached. */
int redis_choose_name(const char *given, char *name, size_t len)
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
int redis_ask_holder(const char *given, const char *request, char *reply, size_t len)
{
	struct sockaddr_un sa;
	char name[NAME_MAX + 1];
	ssize_t n, got = 0;
	int fd, rc;

	rc = redis_choose_name(given, name, sizeof(name));
	if (rc || (rc = redis_sock_path(name, &sa)))
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
			struct json_object *o = redis_held_stats_json(h, a, req[5] == ' ');

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
int redis_enter_netns(const char *netns)
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
		.load_error = &r->why,
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
	r.err = lfd < 0 ? lfd : redis_enter_netns(a->netns);
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

int redis_start_holder(struct cli_ctx *ctx, struct redis_args *a)
{
	struct attach_report r = { .err = -EPIPE };
	struct sockaddr_un sa;
	int rc, pipefd[2], s;
	pid_t pid;

	if ((rc = redis_sock_path(a->name, &sa)))
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