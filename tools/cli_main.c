// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ebpfaccel — see and steer what libebpfaccel attaches, like bpftool, ip
 * and tc do for their objects.  The --help text is also the man page
 * (generated with help2man), so it is written for both.
 */
#include <errno.h>
#include <unistd.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ebpfaccel/ebpfaccel.h>

#include "cli.h"

static const struct cli_cmd *const tables[] = {
	cli_status_cmds,
	cli_comp_cmds,
	cli_redis_cmds,
	cli_traffic_cmds,
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ebpfaccel [OPTIONS] COMMAND [ARGS]\n"
		"Inspect and control libebpfaccel's eBPF accelerations.\n"
		"\n"
		"Options:\n"
		"  -j, --json     print read commands' results as JSON\n"
		"  -d, --debug    show the library's debug messages (verifier logs)\n"
		"  -h, --help     show this help and exit\n"
		"  -V, --version  show the version and exit\n"
		"\n"
		"Commands:\n");
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct cli_cmd *c = tables[t]; c->words; c++)
			fprintf(out, "  %s %s\n      %s\n", c->words, c->args, c->help);
	fprintf(out,
		"\n"
		"Exit status:\n"
		"  0  success\n"
		"  1  the operation failed (the message says why)\n"
		"  2  bad command line\n"
		"  3  missing privileges (the message names the capability)\n"
		"  4  nothing attached, or no such object\n"
		"  5  the running kernel lacks a needed feature\n"
		"\n"
		"Most commands need root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN).\n");
}

void cli_print_json(struct json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
						  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
}

const char *cli_perm_hint(int err)
{
	if (err != -EPERM && err != -EACCES)
		return "";
	if (geteuid() != 0)
		return "; " CLI_ROOT_HINT;
	return err == -EACCES ? "; the kernel refused the BPF programs (see the verifier's log "
				"with 'ebpfaccel --debug')" : "";
}

int cli_error(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("ebpfaccel: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	switch (err) {
	case -EPERM:
	case -EACCES:		return CLI_NOPERM;
	case -ENOENT:		return CLI_NOTFOUND;
	case -EOPNOTSUPP:
	case -EBPFACCEL_ERR_KERNEL:	return CLI_UNSUPPORTED;
	case -EINVAL:		return CLI_USAGE;
	default:		return CLI_FAILED;
	}
}

int cli_getopt(struct cli_ctx *ctx, const char *cmd, const struct option *opts, const char *allowed,
	       int (*opt)(int c, const char *arg, void *data), void *data)
{
	char *argv[ctx->argc + 2];
	int c, rc;

	argv[0] = (char *)cmd;
	memcpy(argv + 1, ctx->argv, ctx->argc * sizeof(char *));
	argv[ctx->argc + 1] = NULL;
	optind = 0;
	opterr = 0;
	/* '-': positional arguments in order, among the options. */
	while ((c = getopt_long(ctx->argc + 1, argv, "-:", opts, NULL)) != -1) {
		if (c == ':')
			return cli_error(-EINVAL, "'%s': the option '%s' needs a value", cmd, argv[optind - 1]);
		if (c != 1 && (c == '?' || !strchr(allowed, c)))
			return cli_error(-EINVAL, "'%s' does not take the option '%s' (see 'ebpfaccel --help')",
					 cmd, argv[optind - 1]);
		rc = opt(c, optarg, data);
		if (rc)
			return rc;
	}
	return 0;
}

/* Longest match of the command words against argv. */
static const struct cli_cmd *find_cmd(int argc, char **argv, int *used)
{
	const struct cli_cmd *best = NULL;
	int best_n = 0;

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct cli_cmd *c = tables[t]; c->words; c++) {
			char words[64], *w, *save;
			int n = 0;
			bool match = true;

			snprintf(words, sizeof(words), "%s", c->words);
			for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save), n++)
				if (n >= argc || strcmp(w, argv[n])) {
					match = false;
					break;
				}
			if (match && n > best_n) {
				best = c;
				best_n = n;
			}
		}
	}
	*used = best_n;
	return best;
}

/* "ebpfaccel redis [--help]": the commands of that group. Returns how many. */
static int group_usage(FILE *out, const char *group)
{
	size_t n = strlen(group);
	int found = 0;

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct cli_cmd *c = tables[t]; c->words; c++) {
			if (strncmp(c->words, group, n) || c->words[n] != ' ')
				continue;
			if (!found++)
				fprintf(out, "Usage:\n");
			fprintf(out, "  ebpfaccel %s %s\n      %s\n", c->words, c->args, c->help);
		}
	return found;
}

static int debug_print(enum ebpfaccel_print_level level, const char *fmt, va_list ap)
{
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	struct cli_ctx ctx = {};
	const struct cli_cmd *cmd;
	int c, used;

	/* '+': options end at the command, whose own arguments follow. */
	while ((c = getopt_long(argc, argv, "+jdhV", opts, NULL)) != -1) {
		switch (c) {
		case 'j': ctx.json = true; break;
		case 'd': ebpfaccel_set_print(debug_print); ctx.debug = true; break;
		case 'h': usage(stdout); return CLI_OK;
		case 'V': printf("ebpfaccel %s\n", ebpfaccel_version()); return CLI_OK;
		default:  usage(stderr); return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	cmd = find_cmd(argc - optind, argv + optind, &used);
	if (!cmd && optind + 1 < argc &&
	    (!strcmp(argv[optind + 1], "--help") || !strcmp(argv[optind + 1], "-h")) &&
	    group_usage(stdout, argv[optind]))
		return CLI_OK;
	if (!cmd && group_usage(stderr, argv[optind]))
		return cli_error(-EINVAL, "'%s' needs a subcommand (see above)", argv[optind]);
	if (!cmd)
		return cli_error(-EINVAL, "unknown command '%s' (see 'ebpfaccel --help')", argv[optind]);
	ctx.argc = argc - optind - used;
	ctx.argv = argv + optind + used;
	for (int i = 0; i < ctx.argc; i++)
		if (!strcmp(ctx.argv[i], "--help") || !strcmp(ctx.argv[i], "-h")) {
			printf("Usage: ebpfaccel %s %s\n  %s\n", cmd->words, cmd->args, cmd->help);
			return CLI_OK;
		}
	/* --json also accepted after the command, where people type it. */
	for (int i = 0; i < ctx.argc; i++) {
		if (!strcmp(ctx.argv[i], "--json") || !strcmp(ctx.argv[i], "-j")) {
			ctx.json = true;
			memmove(&ctx.argv[i], &ctx.argv[i + 1], (ctx.argc - i - 1) * sizeof(char *));
			ctx.argc--;
			i--;
		}
	}
	if (ctx.json && !cmd->read_only)
		return cli_error(-EINVAL, "'%s' does not print results; --json applies to read commands", cmd->words);
	return cmd->run(&ctx);
}
