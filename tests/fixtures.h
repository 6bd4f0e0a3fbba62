/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Test fixtures: private network namespaces, veth pairs, cgroup v2 child
 * cgroups and private redis-server instances.  Everything a fixture creates
 * carries this process's pid in its name and is removed by its *_free()
 * or, if a test dies on an assertion, by an atexit() handler.
 *
 * Addresses: veth pair N gets 198.18.N.1/24 + 2001:2:0:N::1/64 on side a
 * and .2 / ::2 on side b (RFC 2544 / RFC 5180 benchmarking ranges, only
 * ever inside namespaces the test made).
 */
#ifndef EBPFACCEL_TEST_FIXTURES_H
#define EBPFACCEL_TEST_FIXTURES_H

#include <stdbool.h>
#include <sys/types.h>

#define FX_SKIP 77

/* exit(77) saying why, unless running with the privileges the privileged
 * tests need (root: CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_BPF). */
void fx_require_root(void);

/* exit(77) naming @what unless @path exists and is executable. */
void fx_require_program(const char *path, const char *what);

/* Same message format for any other missing capability. */
__attribute__((noreturn)) void fx_skip(const char *fmt, ...);

/* Run every case of @s (forked, as Check does by default), free it, and
 * return the test program's exit status: 0 all passed, 1 otherwise. */
typedef struct Suite Suite;
int fx_run_suite(Suite *s);

struct fx_netns;
struct fx_netns *fx_netns_new(void);
const char *fx_netns_name(const struct fx_netns *ns);
int fx_netns_fd(const struct fx_netns *ns);
/* Move the calling thread into @ns; returns an fd of the previous netns
 * for fx_netns_return(), or -errno. */
int fx_netns_enter(const struct fx_netns *ns);
int fx_netns_return(int prev_fd);
void fx_netns_free(struct fx_netns *ns);

struct fx_veth {
	int index;			/* N in the addresses above */
	char name_a[16], name_b[16];	/* interface names in a and b */
	char ip4_a[16], ip4_b[16];	/* "198.18.N.1", "198.18.N.2" */
	char ip6_a[40], ip6_b[40];	/* "2001:2:0:N::1", "2001:2:0:N::2" */
};
int fx_veth_new(struct fx_netns *a, struct fx_netns *b, struct fx_veth *out);

struct fx_cgroup;
struct fx_cgroup *fx_cgroup_new(void);
int fx_cgroup_fd(const struct fx_cgroup *cg);
const char *fx_cgroup_path(const struct fx_cgroup *cg);
int fx_cgroup_add_pid(const struct fx_cgroup *cg, pid_t pid);
void fx_cgroup_free(struct fx_cgroup *cg);

struct fx_redis;
/* redis-server on a free TCP port in @ns (NULL: the current netns) and
 * optionally in cgroup @cg, with a private unix socket and data dir, no
 * persistence; @extra_conf is a NULL-terminated list of "directive value"
 * lines (may be NULL).  Waits until it answers PING (or NOAUTH). */
struct fx_redis *fx_redis_start(struct fx_netns *ns, const char *const *extra_conf);
struct fx_redis *fx_redis_start_cg(struct fx_netns *ns, struct fx_cgroup *cg,
				   const char *const *extra_conf);
int fx_redis_port(const struct fx_redis *r);
pid_t fx_redis_pid(const struct fx_redis *r);
const char *fx_redis_unixsock(const struct fx_redis *r);
const char *fx_redis_logfile(const struct fx_redis *r);
void fx_redis_stop(struct fx_redis *r);
/* Redis' own count of calls of @cmd (lower case, e.g. "get") from INFO
 * commandstats, asked over @r's unix socket (which no cache sees); 0 before
 * the first call. Fails the test if Redis does not answer. */
long fx_redis_calls(const struct fx_redis *r, const char *cmd);

/* Sleeps @ms milliseconds. */
void fx_sleep_ms(int ms);

/* Run "/bin/sh -c <cmd>" in @ns (NULL: current), stdout into a malloc'd
 * NUL-terminated *out (if @out), stderr passed through.  Returns the exit
 * status, 128+signal, or -errno. */
__attribute__((format(printf, 3, 4)))
int fx_run(struct fx_netns *ns, char **out, const char *fmt, ...);

/* A TCP socket created inside @ns (then usable from anywhere). */
int fx_socket_in(struct fx_netns *ns, int family, int type);

/* max_entries of the BPF map named @name among this process' file
 * descriptors (other processes' maps of the same name do not count);
 * -1 if it holds none. */
long fx_own_map_max_entries(const char *name);

/* Fails the test unless this process' Redis cache object (either kind)
 * holds value caches of @small and @large entries and confirmations of
 * @small + @large. */
void fx_assert_cache_maps(long small, long large);

#endif
