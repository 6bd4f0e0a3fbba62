/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The ebpfaccel command-line tool: shared definitions for its commands. */
#ifndef EBPFACCEL_CLI_H
#define EBPFACCEL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/* Exit codes, also listed in --help and the man page. */
enum cli_exit {
	CLI_OK		= 0,
	CLI_FAILED	= 1,	/* the operation failed; the message says why */
	CLI_USAGE	= 2,	/* bad command line */
	CLI_NOPERM	= 3,	/* missing privileges */
	CLI_NOTFOUND	= 4,	/* nothing attached / no such object */
	CLI_UNSUPPORTED	= 5,	/* the kernel lacks a feature */
};

struct cli_ctx {
	bool json;
	bool debug;		/* --debug: the library's messages as they come */
	int argc;		/* arguments after the command words */
	char **argv;
};

struct cli_cmd {
	const char *words;	/* "status", "redis attach", ... */
	const char *args;	/* synopsis of the arguments, or "" */
	const char *help;	/* one line */
	int (*run)(struct cli_ctx *ctx);
	bool read_only;		/* takes --json */
};

/* Print @obj (consumed) as JSON on stdout. */
void cli_print_json(struct json_object *obj);
struct option;
/* getopt_long over the command's arguments: @opt gets each option whose
 * letter is in @allowed, and each positional argument as c == 1; a non-zero
 * return stops and is returned.  Unknown or misplaced options and missing
 * values are reported.  Returns 0 or an exit code. */
int cli_getopt(struct cli_ctx *ctx, const char *cmd, const struct option *opts, const char *allowed,
	       int (*opt)(int c, const char *arg, void *data), void *data);

#define CLI_ROOT_HINT "run it as root (it needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN)"

/* What to add to a message about an EPERM/EACCES failure (@err, negative):
 * how to get the privileges, or for root, that the kernel refused the
 * programs (the verifier's log is behind --debug); "" for other errors. */
const char *cli_perm_hint(int err);

/* Report an error: "ebpfaccel: <msg>" on stderr; returns the exit code
 * that fits the negative errno @err. */
__attribute__((format(printf, 2, 3)))
int cli_error(int err, const char *fmt, ...);

/* Persistent attachments: <root>/<feature>/<name>/ (see lib/pin.h). */
#define CLI_PIN_ROOT "/sys/fs/bpf/ebpfaccel"
/* Holder processes' sockets and logs: <dir>/<feature>/<name>.sock|.log */
#define CLI_RUN_DIR "/run/ebpfaccel"

/* Mount point of cgroup v2; 0 or -errno. */
int cli_cgroup2_mount(char *buf, size_t len);
/* Path of the cgroup v2 directory whose id (inode) is @id; 0 or -ENOENT. */
int cli_cgroup_path(uint64_t id, char *buf, size_t len);

/* How to show the "cgroup" of an attachment's JSON: its path, or why not. */
const char *cli_cgroup_text(struct json_object *attachment);

/* What 'status' shows of the pinned policy @name: name, pinned, cgroup_id,
 * cgroup; NULL when it cannot be opened (no privileges). */
struct json_object *cli_comp_status(const char *name);

/* 'status' entries of the Redis caches' holders (feature, name, holder,
 * since, and cgroup, pid, serving when the holder answers). */
struct json_object *cli_redis_attachments(void);

/* Command tables, one per concern. */
extern const struct cli_cmd cli_status_cmds[];
extern const struct cli_cmd cli_comp_cmds[];
extern const struct cli_cmd cli_redis_cmds[];
extern const struct cli_cmd cli_traffic_cmds[];

#endif
