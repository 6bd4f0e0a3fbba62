/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The ebpfaccel command-line tool: shared definitions for its commands. */
#ifndef EBPFACCEL_CLI_H
#define EBPFACCEL_CLI_H

#include <stdbool.h>
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
/* Report an error: "ebpfaccel: <msg>" on stderr; returns the exit code
 * that fits the negative errno @err. */
__attribute__((format(printf, 2, 3)))
int cli_error(int err, const char *fmt, ...);

/* Command tables, one per concern. */
extern const struct cli_cmd cli_status_cmds[];
extern const struct cli_cmd cli_traffic_cmds[];

#endif
