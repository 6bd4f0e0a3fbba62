// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <check.h>

#include "fixtures.h"

/* Objects are owned by the process that made them: Check forks a child per
 * test, and a child's exit must not tear down its parent's fixtures. */
enum fx_kind { FX_NETNS, FX_CGROUP, FX_REDIS };

struct fx_obj {
	enum fx_kind kind;
	pid_t owner;
	struct fx_obj *next;
};

static struct fx_obj *live;
static bool cleanup_registered;

static void fx_cleanup_all(void);

/* ------------------------------------------------------------ reaper
 * Check ends a failed test case with _exit(), and a crash or SIGKILL
 * skips atexit() too; fixtures would then leak namespaces, cgroups and
 * servers.  So every process that creates fixtures gets a reaper child that
 * hears of each object over a pipe and, when the pipe closes (its creator
 * is gone, however it went), removes what was not removed already.
 * The reaper runs in a session of its own: once a forked test case has
 * ended, Check SIGKILLs the case's whole process group, which would take
 * the reaper with it in the middle of its work (seen: netns and cgroups of
 * failed cases left behind). */
static int reaper_fd = -1;
static pid_t reaper_for;

struct reaper_item {
	char kind;		/* 'N' netns name, 'C' cgroup path, 'P' pid */
	char arg[PATH_MAX];
	bool live;
};

static void cgroup_empty_and_remove(const char *path, const char *root, bool kill_members);
static int write_pid(const char *dir, pid_t pid);

static void reaper_cleanup(struct reaper_item *items, size_t n)
{
	char cmd[PATH_MAX + 128];
	size_t i;

	for (i = 0; i < n; i++)
		if (items[i].live && items[i].kind == 'P')
			kill(atoi(items[i].arg), SIGKILL);
	for (i = 0; i < n; i++) {
		if (items[i].live && items[i].kind == 'C') {
			char *root = strchr(items[i].arg, ' ');

			if (root) {
				*root++ = '\0';
				cgroup_empty_and_remove(items[i].arg, root, true);
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (!items[i].live || items[i].kind != 'N')
			continue;
		snprintf(cmd, sizeof(cmd),
			 "for p in $(ip netns pids %s 2>/dev/null); do kill -9 $p; done; ip netns del %s 2>/dev/null",
			 items[i].arg, items[i].arg);
		if (system(cmd))
			continue;
	}
}

static void reaper_main(int rfd)
{
	struct reaper_item *items = NULL;
	size_t n = 0, cap = 0;
	char line[PATH_MAX + 8];
	FILE *in = fdopen(rfd, "r");

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	while (in && fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] >= 'A' && line[0] <= 'Z') {
			if (n == cap) {
				struct reaper_item *ni = realloc(items, (cap = cap ? 2 * cap : 16) * sizeof(*ni));

				if (!ni)
					continue;
				items = ni;
			}
			items[n].kind = line[0];
			snprintf(items[n].arg, sizeof(items[n].arg), "%s", line + 2);
			items[n++].live = true;
			continue;
		}
		/* lower case: that object was removed by its owner */
		for (size_t i = 0; i < n; i++) {
			size_t l = strlen(line + 2);

			/* exact match; cgroup items carry " <root>" after the path */
			if (items[i].live && items[i].kind == line[0] - 'a' + 'A' &&
			    !strncmp(items[i].arg, line + 2, l) &&
			    (items[i].arg[l] == '\0' || items[i].arg[l] == ' '))
				items[i].live = false;
		}
	}
	reaper_cleanup(items, n);
	_exit(0);
}

static void reaper_start(void)
{
	int pfd[2];
	pid_t pid;

	if (reaper_for == getpid())
		return;
	if (pipe2(pfd, O_CLOEXEC))
		return;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		setsid();
		/* Hold nothing but the read end, or the pipe never closes. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != pfd[0])
				close(fd);
		reaper_main(pfd[0]);
	}
	close(pfd[0]);
	reaper_fd = pfd[1];
	reaper_for = getpid();
}

/* One line per event; lines under PIPE_BUF are written atomically. */
__attribute__((format(printf, 1, 2)))
static void reaper_note(const char *fmt, ...)
{
	char line[PATH_MAX + 8];
	int len, saved_errno = errno;
	va_list ap;

	reaper_start();
	if (reaper_fd < 0)
		return;
	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len > 0 && len < (int)sizeof(line) - 1) {
		line[len++] = '\n';
		if (write(reaper_fd, line, len) != len)
			len = -1;
	}
	errno = saved_errno;
}

static void track(struct fx_obj *o, enum fx_kind kind)
{
	o->kind = kind;
	o->owner = getpid();
	o->next = live;
	live = o;
	if (!cleanup_registered) {
		atexit(fx_cleanup_all);
		cleanup_registered = true;
	}
}

static void untrack(struct fx_obj *o)
{
	for (struct fx_obj **pp = &live; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			return;
		}
	}
}

/* Leftovers of test programs that died before this fixture code had a
 * reaper (or were SIGKILLed with it): names carry the creator's pid. */
static bool creator_dead(const char *name, const char *prefix)
{
	int pid;

	if (strncmp(name, prefix, strlen(prefix)) || sscanf(name + strlen(prefix), "%d-", &pid) != 1)
		return false;
	return pid > 0 && kill(pid, 0) && errno == ESRCH;
}

static int cgroup2_root(char *buf, size_t len);

static void sweep_stale(void)
{
	static bool swept;
	char root[PATH_MAX / 2], path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (swept)
		return;
	swept = true;
	d = opendir("/run/netns");
	while (d && (de = readdir(d)))
		if (creator_dead(de->d_name, "eafx-"))
			fx_run(NULL, NULL, "ip netns del %s 2>/dev/null", de->d_name);
	if (d)
		closedir(d);
	if (cgroup2_root(root, sizeof(root)))
		return;
	d = opendir(root);
	while (d && (de = readdir(d))) {
		if (!creator_dead(de->d_name, "ebpfaccel-test-"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, de->d_name);
		cgroup_empty_and_remove(path, root, true);
	}
	if (d)
		closedir(d);
}

/* A name no other live or stale fixture has: pid, sequence, random. */
static unsigned int name_salt(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((unsigned int)ts.tv_nsec ^ ((unsigned int)getpid() << 8)) & 0xffff;
}

void fx_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("SKIP: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	exit(FX_SKIP);
}

void fx_require_root(void)
{
	if (geteuid() != 0)
		fx_skip("needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_BPF) for netns, cgroups and BPF; running as uid %u",
			(unsigned int)geteuid());
}

void fx_require_program(const char *path, const char *what)
{
	if (access(path, X_OK))
		fx_skip("%s not found at %s (%s); install it (see deps/debian-packages.txt)",
			what, path, strerror(errno));
}

int fx_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* ------------------------------------------------------------ run */

int fx_run(struct fx_netns *ns, char **out, const char *fmt, ...)
{
	char *cmd = NULL, *buf = NULL;
	size_t len = 0, cap = 0;
	int pfd[2], status;
	va_list ap;
	pid_t pid;
	ssize_t n;

	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (pipe2(pfd, O_CLOEXEC)) {
		free(cmd);
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		free(cmd);
		return -errno;
	}
	if (pid == 0) {
		if (ns && setns(fx_netns_fd(ns), CLONE_NEWNET))
			_exit(126);
		dup2(pfd[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	free(cmd);
	close(pfd[1]);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);

			if (!nb)
				break;
			buf = nb;
		}
		n = read(pfd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (buf)
		buf[len] = '\0';
	if (out)
		*out = buf ? buf : strdup("");
	else
		free(buf);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* ----------------------------------------------------------- netns */

struct fx_netns {
	struct fx_obj obj;
	char name[64];
	int fd;
};

static int netns_seq;

struct fx_netns *fx_netns_new(void)
{
	struct fx_netns *ns = calloc(1, sizeof(*ns));
	char path[128];

	if (!ns)
		return NULL;
	sweep_stale();
	snprintf(ns->name, sizeof(ns->name), "eafx-%d-%d-%04x", (int)getpid(), ++netns_seq, name_salt());
	/* Told before it exists: a creator killed in between leaves nothing. */
	reaper_note("N %s", ns->name);
	if (fx_run(NULL, NULL, "ip netns add %s && ip -n %s link set lo up", ns->name, ns->name)) {
		reaper_note("n %s", ns->name);
		fx_run(NULL, NULL, "ip netns del %s 2>/dev/null", ns->name);
		free(ns);
		errno = EIO;
		return NULL;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", ns->name);
	ns->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ns->fd < 0) {
		int err = errno;

		reaper_note("n %s", ns->name);
		fx_run(NULL, NULL, "ip netns del %s", ns->name);
		free(ns);
		errno = err;
		return NULL;
	}
	track(&ns->obj, FX_NETNS);
	return ns;
}

const char *fx_netns_name(const struct fx_netns *ns) { return ns->name; }
int fx_netns_fd(const struct fx_netns *ns) { return ns->fd; }

int fx_netns_enter(const struct fx_netns *ns)
{
	int prev = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (prev < 0)
		return -errno;
	if (setns(ns->fd, CLONE_NEWNET)) {
		int err = -errno;

		close(prev);
		return err;
	}
	return prev;
}

int fx_netns_return(int prev_fd)
{
	int err = setns(prev_fd, CLONE_NEWNET) ? -errno : 0;

	close(prev_fd);
	return err;
}

static void netns_destroy(struct fx_netns *ns)
{
	reaper_note("n %s", ns->name);
	/* Processes left in the namespace keep it alive; end them first. */
	fx_run(NULL, NULL, "for p in $(ip netns pids %s 2>/dev/null); do kill -9 $p; done; ip netns del %s",
	       ns->name, ns->name);
	close(ns->fd);
	free(ns);
}

void fx_netns_free(struct fx_netns *ns)
{
	if (!ns)
		return;
	untrack(&ns->obj);
	netns_destroy(ns);
}

int fx_socket_in(struct fx_netns *ns, int family, int type)
{
	int prev, fd, err;

	if (!ns)
		return socket(family, type | SOCK_CLOEXEC, 0);
	prev = fx_netns_enter(ns);
	if (prev < 0)
		return prev;
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	err = fd < 0 ? -errno : 0;
	fx_netns_return(prev);
	return fd < 0 ? err : fd;
}

/* ------------------------------------------------------------ veth */

static int veth_seq;

int fx_veth_new(struct fx_netns *a, struct fx_netns *b, struct fx_veth *v)
{
	int n = ++veth_seq;

	if (!a || !b || !v || n > 250)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->index = n;
	/* unsigned and bounded: the compiler sees that every name fits */
	snprintf(v->name_a, sizeof(v->name_a), "ea%05u%03ua", (unsigned)getpid() % 100000u,
		 (unsigned char)n);
	snprintf(v->name_b, sizeof(v->name_b), "ea%05u%03ub", (unsigned)getpid() % 100000u,
		 (unsigned char)n);
	snprintf(v->ip4_a, sizeof(v->ip4_a), "198.18.%u.1", (unsigned char)n);
	snprintf(v->ip4_b, sizeof(v->ip4_b), "198.18.%u.2", (unsigned char)n);
	snprintf(v->ip6_a, sizeof(v->ip6_a), "2001:2:0:%x::1", n);
	snprintf(v->ip6_b, sizeof(v->ip6_b), "2001:2:0:%x::2", n);
	/* nodad: the addresses are usable at once, not after DAD's ~1 s. */
	if (fx_run(NULL, NULL,
		   "ip link add %s netns %s type veth peer name %s netns %s && "
		   "ip -n %s addr add %s/24 dev %s && ip -n %s -6 addr add %s/64 dev %s nodad && "
		   "ip -n %s addr add %s/24 dev %s && ip -n %s -6 addr add %s/64 dev %s nodad && "
		   "ip -n %s link set %s up && ip -n %s link set %s up",
		   v->name_a, a->name, v->name_b, b->name,
		   a->name, v->ip4_a, v->name_a, a->name, v->ip6_a, v->name_a,
		   b->name, v->ip4_b, v->name_b, b->name, v->ip6_b, v->name_b,
		   a->name, v->name_a, b->name, v->name_b))
		return -EIO;
	return 0;
}

/* ---------------------------------------------------------- cgroup */

struct fx_cgroup {
	struct fx_obj obj;
	char root[PATH_MAX / 2];
	char path[PATH_MAX];
	int fd;
};

static int cgroup_seq;

static int cgroup2_root(char *buf, size_t len)
{
	struct mntent ent, *m;
	char strings[4096];
	FILE *f = setmntent("/proc/mounts", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent_r(f, &ent, strings, sizeof(strings)))) {
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(buf, len, "%s", m->mnt_dir);
			err = 0;
			break;
		}
	}
	endmntent(f);
	return err;
}

struct fx_cgroup *fx_cgroup_new(void)
{
	struct fx_cgroup *cg = calloc(1, sizeof(*cg));

	if (!cg)
		return NULL;
	if (cgroup2_root(cg->root, sizeof(cg->root))) {
		free(cg);
		errno = ENOENT;
		return NULL;
	}
	sweep_stale();
	snprintf(cg->path, sizeof(cg->path), "%s/ebpfaccel-test-%d-%d-%04x", cg->root,
		 (int)getpid(), ++cgroup_seq, name_salt());
	reaper_note("C %s %s", cg->path, cg->root);
	if (mkdir(cg->path, 0755)) {
		reaper_note("c %s", cg->path);
		free(cg);
		return NULL;
	}
	cg->fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->fd < 0) {
		reaper_note("c %s", cg->path);
		rmdir(cg->path);
		free(cg);
		return NULL;
	}
	track(&cg->obj, FX_CGROUP);
	return cg;
}

int fx_cgroup_fd(const struct fx_cgroup *cg) { return cg->fd; }
const char *fx_cgroup_path(const struct fx_cgroup *cg) { return cg->path; }

static int write_pid(const char *dir, pid_t pid)
{
	char path[PATH_MAX + 16];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	if (fprintf(f, "%d\n", (int)pid) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

int fx_cgroup_add_pid(const struct fx_cgroup *cg, pid_t pid)
{
	return write_pid(cg->path, pid);
}

/* rmdir needs an empty cgroup.  Its owner may have moved itself in, so
 * the owner hands members back to the root; once the owner is gone, what
 * is left in it are processes the test started there: they are ended. */
static void cgroup_empty_and_remove(const char *path, const char *root, bool kill_members)
{
	char procs[PATH_MAX + 16];
	int pid, tries;
	FILE *f;

	for (tries = 0; tries < 100 && rmdir(path) && errno == EBUSY; tries++) {
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
		f = fopen(procs, "re");
		if (f) {
			while (fscanf(f, "%d", &pid) == 1) {
				if (kill_members && pid != getpid())
					kill(pid, SIGKILL);
				else
					write_pid(root, pid);
			}
			fclose(f);
		}
		usleep(20000);
	}
}

static void cgroup_destroy(struct fx_cgroup *cg)
{
	reaper_note("c %s", cg->path);
	cgroup_empty_and_remove(cg->path, cg->root, false);
	close(cg->fd);
	free(cg);
}

void fx_cgroup_free(struct fx_cgroup *cg)
{
	if (!cg)
		return;
	untrack(&cg->obj);
	cgroup_destroy(cg);
}

/* ----------------------------------------------------------- redis */

struct fx_redis {
	struct fx_obj obj;
	pid_t pid;
	int port;
	char dir[64];
	char sock[128];
	char log[128];
};

static int free_port(struct fx_netns *ns)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = fx_socket_in(ns, AF_INET, SOCK_STREAM), port = -1;

	if (fd < 0)
		return fd;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!bind(fd, (struct sockaddr *)&sin, sizeof(sin)) &&
	    !getsockname(fd, (struct sockaddr *)&sin, &len))
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int write_conf(const struct fx_redis *r, const char *const *extra, char *conf, size_t len)
{
	FILE *f;

	snprintf(conf, len, "%s/redis.conf", r->dir);
	f = fopen(conf, "we");
	if (!f)
		return -errno;
	fprintf(f, "port %d\nbind * -::*\nprotected-mode no\ndaemonize no\n"
		   "unixsocket %s\nunixsocketperm 700\ndir %s\nlogfile %s\n"
		   "save \"\"\nappendonly no\n",
		r->port, r->sock, r->dir, r->log);
	for (; extra && *extra; extra++)
		fprintf(f, "%s\n", *extra);
	return fclose(f) ? -errno : 0;
}

/* PING over TCP from inside the namespace: "+PONG", or "-NOAUTH" when the
 * server wants a password, both mean it is serving. */
static bool redis_answers(struct fx_netns *ns, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct pollfd pfd;
	char buf[64] = "";
	bool ok = false;
	int fd = fx_socket_in(ns, AF_INET, SOCK_STREAM);

	if (fd < 0)
		return false;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!connect(fd, (struct sockaddr *)&sin, sizeof(sin)) &&
	    write(fd, "PING\r\n", 6) == 6) {
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 1000) == 1 && read(fd, buf, sizeof(buf) - 1) > 0)
			ok = !strncmp(buf, "+PONG", 5) || !strncmp(buf, "-NOAUTH", 7);
	}
	close(fd);
	return ok;
}

static void dump_log(const struct fx_redis *r)
{
	char *out = NULL;

	fx_run(NULL, &out, "tail -n 20 %s 2>/dev/null", r->log);
	fprintf(stderr, "redis-server log (%s):\n%s", r->log, out ? out : "");
	free(out);
}

static void redis_destroy(struct fx_redis *r)
{
	int status, i;

	if (r->pid > 0)
		reaper_note("p %d", (int)r->pid);
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		for (i = 0; i < 200 && waitpid(r->pid, &status, WNOHANG) == 0; i++)
			usleep(10000);
		if (i == 200) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &status, 0);
		}
	}
	fx_run(NULL, NULL, "rm -rf %s", r->dir);
	free(r);
}

struct fx_redis *fx_redis_start_cg(struct fx_netns *ns, struct fx_cgroup *cg,
				   const char *const *extra_conf)
{
	struct fx_redis *r = calloc(1, sizeof(*r));
	char conf[128];
	int i, status;

	if (!r)
		return NULL;
	snprintf(r->dir, sizeof(r->dir), "/tmp/eafx-redis-XXXXXX");
	if (!mkdtemp(r->dir)) {
		free(r);
		return NULL;
	}
	snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/redis.log", r->dir);
	r->port = free_port(ns);
	if (r->port <= 0 || write_conf(r, extra_conf, conf, sizeof(conf)))
		goto fail;

	fflush(NULL);
	r->pid = fork();
	if (r->pid < 0)
		goto fail;
	if (r->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		if ((ns && setns(fx_netns_fd(ns), CLONE_NEWNET)) ||
		    (cg && fx_cgroup_add_pid(cg, getpid())))
			_exit(126);
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		execlp("redis-server", "redis-server", conf, (char *)NULL);
		_exit(127);
	}
	track(&r->obj, FX_REDIS);
	reaper_note("P %d", (int)r->pid);
	for (i = 0; i < 500; i++) {
		if (redis_answers(ns, r->port))
			return r;
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			fprintf(stderr, "fx_redis_start: redis-server exited (status %d)\n", status);
			dump_log(r);
			r->pid = 0;
			untrack(&r->obj);
			redis_destroy(r);
			errno = ECHILD;
			return NULL;
		}
		usleep(20000);
	}
	fprintf(stderr, "fx_redis_start: redis-server did not answer PING on port %d in 10 s\n", r->port);
	dump_log(r);
	fx_redis_stop(r);
	errno = ETIMEDOUT;
	return NULL;
fail:
	fx_run(NULL, NULL, "rm -rf %s", r->dir);
	free(r);
	errno = EIO;
	return NULL;
}

struct fx_redis *fx_redis_start(struct fx_netns *ns, const char *const *extra_conf)
{
	return fx_redis_start_cg(ns, NULL, extra_conf);
}

int fx_redis_port(const struct fx_redis *r) { return r->port; }
pid_t fx_redis_pid(const struct fx_redis *r) { return r->pid; }
const char *fx_redis_unixsock(const struct fx_redis *r) { return r->sock; }
const char *fx_redis_logfile(const struct fx_redis *r) { return r->log; }

long fx_redis_calls(const struct fx_redis *r, const char *cmd)
{
	char *out = NULL, field[64];
	const char *p;
	long n = 0;

	ck_assert_int_eq(fx_run(NULL, &out, "redis-cli -s %s INFO commandstats", r->sock), 0);
	snprintf(field, sizeof(field), "cmdstat_%s:calls=", cmd);
	p = strstr(out, field);
	if (p)
		n = strtol(p + strlen(field), NULL, 10);
	free(out);
	return n;
}

void fx_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void fx_redis_stop(struct fx_redis *r)
{
	if (!r)
		return;
	untrack(&r->obj);
	redis_destroy(r);
}

/* ---------------------------------------------------------- atexit */

static void fx_cleanup_all(void)
{
	/* Servers first (they may live in the namespaces and cgroups). */
	static const enum fx_kind order[] = { FX_REDIS, FX_CGROUP, FX_NETNS };
	pid_t me = getpid();

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		struct fx_obj **pp = &live;

		while (*pp) {
			struct fx_obj *o = *pp;

			if (o->owner != me || o->kind != order[k]) {
				pp = &o->next;
				continue;
			}
			*pp = o->next;
			switch (o->kind) {
			case FX_REDIS:  redis_destroy((struct fx_redis *)o); break;
			case FX_CGROUP: cgroup_destroy((struct fx_cgroup *)o); break;
			case FX_NETNS:  netns_destroy((struct fx_netns *)o); break;
			}
		}
	}
}

long fx_own_map_max_entries(const char *name)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long max = -1;

	ck_assert_ptr_nonnull(d);
	while (max < 0 && (de = readdir(d))) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);
		char path[PATH_MAX], target[32];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		/* a program's info has another layout: maps only */
		if (strcmp(target, "anon_inode:bpf-map"))
			continue;
		if (!bpf_obj_get_info_by_fd(atoi(de->d_name), &info, &len) &&
		    !strcmp(info.name, name))
			max = info.max_entries;
	}
	closedir(d);
	return max;
}

void fx_assert_cache_maps(long small, long large)
{
	ck_assert_int_eq(fx_own_map_max_entries("rc_cache_small"), small);
	ck_assert_int_eq(fx_own_map_max_entries("rc_cache_large"), large);
	ck_assert_int_eq(fx_own_map_max_entries("rc_confirmed"), small + large);
}
