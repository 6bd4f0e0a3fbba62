/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ebpfaccel redis ...: what the command, its holder process and its
 * statistics share.  The commands (cli_redis.c) start a holder
 * (cli_redis_holder.c) that owns the attached cache and answers the other
 * commands on a unix socket; what they show of it is cli_redis_stats.c.
 */
#ifndef EBPFACCEL_CLI_REDIS_H
#define EBPFACCEL_CLI_REDIS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>
#include <linux/types.h>

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

/* What a holder holds: the server-side cache or a near cache. */
struct held {
	struct ebpfaccel_redis_cache *rc;
	struct ebpfaccel_near_cache *nc;
};

/* Parses the command's options (letters in @allowed) into @a; 0 or an
 * exit code. */
int redis_parse_args(struct cli_ctx *ctx, const char *cmd, const char *allowed, struct redis_args *a);

/* The holder's socket path of cache @name; 0, or an exit code for a bad name. */
int redis_sock_path(const char *name, struct sockaddr_un *sa);
/* @given, or the name of the one cache attached; 0 or an exit code. */
int redis_choose_name(const char *given, char *name, size_t len);
/* One request to the holder of @given (NULL: the one attached), its
 * one-line (or JSON) answer in @reply; 0 or an exit code. */
int redis_ask_holder(const char *given, const char *request, char *reply, size_t len);
/* Switches this process to network namespace @netns (a name under
 * /run/netns or a path; NULL: stay); 0 or -errno. */
int redis_enter_netns(const char *netns);
/* Starts the holder of the cache @a describes (in this process with
 * --foreground); returns the command's exit code. */
int redis_start_holder(struct cli_ctx *ctx, struct redis_args *a);

/* The holder's 'stats' answer: @h's counters and state as JSON (with
 * @entries, also what the maps hold: a walk). */
struct json_object *redis_held_stats_json(const struct held *h, const struct redis_args *a,
					  bool entries);
/* 'redis stats' and 'redis near stats'. */
int redis_cmd_stats(struct cli_ctx *ctx);
int redis_cmd_near_stats(struct cli_ctx *ctx);

#endif /* EBPFACCEL_CLI_REDIS_H */
