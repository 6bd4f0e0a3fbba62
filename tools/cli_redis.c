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
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_redis.h"

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

int redis_parse_args(struct cli_ctx *ctx, const char *cmd, const char *allowed, struct redis_args *a)
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
	err = redis_enter_netns(a->netns);
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
static int cmd_attach(struct cli_ctx *ctx)
{
	char cgroup[PATH_MAX];
	struct redis_args a;
	int rc;

	rc = redis_parse_args(ctx, "redis attach", "ncpHuPNTimDF", &a);
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
	return redis_start_holder(ctx, &a);
}

static int cmd_near_attach(struct cli_ctx *ctx)
{
	struct redis_args a;
	int rc;

	rc = redis_parse_args(ctx, "redis near attach", "ncsxSuPNF", &a);
	if (rc)
		return rc;
	if (!a.cgroup || !a.nr_servers)
		return cli_error(-EINVAL, "'redis near attach' needs --cgroup PATH (the clients' cgroup v2) "
				 "and --server IPV4:PORT or [IPV6]:PORT (the Redis server as the clients "
				 "connect to it)");
	a.near = true;
	if (!a.name)
		a.name = "near";
	return redis_start_holder(ctx, &a);
}

/* Sends @request to the holder; 0 when it answered "ok", else an exit code.
 * @dflt: the name without --name (NULL: the one cache attached). */
static int simple_request(struct cli_ctx *ctx, const char *cmd, const char *request,
			  const char *dflt, struct redis_args *a)
{
	char reply[256];
	int rc;

	rc = redis_parse_args(ctx, cmd, "n", a);
	if (rc || (rc = redis_choose_name(a->name ?: dflt, a->chosen, sizeof(a->chosen))))
		return rc;
	a->name = a->chosen;
	if ((rc = redis_ask_holder(a->name, request, reply, sizeof(reply))))
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

	if (redis_choose_name(given, name, sizeof(name)) || redis_sock_path(name, &sa))
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
	  redis_cmd_stats, true },
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
	  "fills, invalidations, expired entries, bypass reasons", redis_cmd_near_stats, true },
	{ "redis near flush", "[--name NAME]", "invalidate every value of the near cache",
	  cmd_near_flush, false },
	{}
};
