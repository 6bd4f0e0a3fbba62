// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bpf_verify: what the verifier of the running kernel spends on every BPF
 * program the project embeds.  Each program is loaded alone (the others of
 * its object do not load) at log level 4, so its row shows its own cost:
 * processed instructions, peak and total states, verification time.
 *
 * A program fails when it does not load, or needs more than a quarter of
 * the verifier's 1M instruction budget (the budget moves between kernels:
 * docs/kernel-matrix.md), or when the kernel logs a verifier bug or a WARN
 * from kernel/bpf while it loads (/dev/kmsg).  A failure prints the
 * verifier's verdict and the end of a level 1 trace (up to the kernel's
 * complaint).
 *
 * The objects are the skeletons of the build ($(BPF_SKELS)); the list is
 * generated into bpf_verify_objects.h, so a new object is verified without
 * touching this file.
 *
 * usage: bpf_verify [--max-insns N] [--only OBJECT[/PROGRAM]] [--tail LINES]
 * exit: 0 every program passed, 1 a failure, 77 BPF cannot be used here
 *       (not root, or the kernel has no BPF syscall), 2 bad usage
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf_verify_objects.h"

#define VERIFIER_INSN_BUDGET 1000000
#define STATS_LOG_SIZE (64 * 1024)
/* a level 1 log of a big program is long; kernels from 6.4 keep its tail */
#define TRACE_LOG_SIZE (16 * 1024 * 1024)

struct embedded_object {
	const char *name;
	const void *(*elf_bytes)(size_t *sz);
};

#define BPF_VERIFY_OBJECT(n) { #n, n##_bpf__elf_bytes },
static const struct embedded_object objects[] = { BPF_VERIFY_OBJECTS };

struct verifier_stats {
	long insns;
	long peak_states;
	long total_states;
	long time_usec; /* -1: the kernel does not report it */
};

struct logs {
	char *stats;
	char *trace;
	int kmsg; /* /dev/kmsg, -1 when unreadable */
	char complaints[4096];
};

struct options {
	long max_insns;
	const char *only;
	int tail_lines;
};

/* libbpf's own messages: kept (the last few warnings) to explain a failure
 * that happens before the verifier runs, never printed otherwise */
#define LIBBPF_WARNINGS 4
static char libbpf_warnings[LIBBPF_WARNINGS][512];
static unsigned int libbpf_warning_next;

static int keep_libbpf_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *slot;

	if (level != LIBBPF_WARN)
		return 0;
	slot = libbpf_warnings[libbpf_warning_next++ % LIBBPF_WARNINGS];
	vsnprintf(slot, sizeof(libbpf_warnings[0]), fmt, ap);
	return 0;
}

static void forget_libbpf_warnings(void)
{
	memset(libbpf_warnings, 0, sizeof(libbpf_warnings));
	libbpf_warning_next = 0;
}

static void print_libbpf_warnings(void)
{
	for (unsigned int i = 0; i < LIBBPF_WARNINGS; i++) {
		const char *w = libbpf_warnings[(libbpf_warning_next + i) % LIBBPF_WARNINGS];

		/* the program's log is printed by us, with its tail */
		if (w[0] && !strstr(w, "-- BEGIN PROG LOAD LOG --"))
			fprintf(stdout, "    %s", w);
	}
}

static long stat_after(const char *log, const char *key)
{
	const char *p = strstr(log, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* The verifier's closing lines, e.g. (6.1):
 *   processed 1323 insns (limit 1000000) max_states_per_insn 4 total_states 97
 *   peak_states 97 mark_read 19
 *   verification time 1456 usec
 */
static bool parse_stats(const char *log, struct verifier_stats *st)
{
	st->insns = stat_after(log, "processed ");
	st->total_states = stat_after(log, "total_states ");
	st->peak_states = stat_after(log, "peak_states ");
	st->time_usec = stat_after(log, "verification time ");
	return st->insns >= 0;
}

static void print_tail(const char *log, int lines)
{
	const char *p = log + strlen(log);

	while (p > log && p[-1] == '\n')
		p--;
	while (p > log && lines > 0) {
		p--;
		if (*p == '\n')
			lines--;
	}
	if (*p == '\n')
		p++;
	while (*p) {
		const char *nl = strchrnul(p, '\n');

		printf("    | %.*s\n", (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
}

/* --- the kernel's own complaints while the programs load --------------- */

/* /dev/kmsg from now on, or -1 when the kernel log cannot be read */
static int kmsg_open_at_end(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The verifier's "verifier bug" and WARNs in kernel/bpf/ logged since the
 * last call, their lines kept in @text (@size bytes); other subsystems'
 * warnings on a shared machine are not ours to judge. */
static int kmsg_verifier_complaints(int fd, char *text, size_t size)
{
	size_t used = 0;
	char rec[8192];
	int found = 0;
	ssize_t n;

	text[0] = '\0';
	if (fd < 0)
		return 0;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* overwritten records: go on with the next */
		if (n <= 0)
			break;
		rec[n] = '\0';
		if (strstr(rec, "verifier bug") || strstr(rec, "REG INVARIANTS VIOLATION") ||
		    (strstr(rec, "WARNING:") && strstr(rec, "kernel/bpf/"))) {
			const char *msg = strchr(rec, ';');

			if (used < size)
				used += snprintf(text + used, size - used, "    kernel: %s",
						 msg ? msg + 1 : rec);
			found++;
		}
	}
	return found;
}

/* the lines of @log up to @after lines past the first line containing @what
 * (its tail when none does), at most @lines of them */
static void print_around(const char *log, const char *what, int after, int lines)
{
	const char *hit = strstr(log, what);
	const char *end;
	char *part;

	if (!hit) {
		print_tail(log, lines);
		return;
	}
	for (end = hit; *end && after >= 0; end++)
		if (*end == '\n')
			after--;
	part = strndup(log, end - log);
	if (part)
		print_tail(part, lines);
	free(part);
}

/* Opens a fresh copy of the object with only program index @want to load.
 * Returns the object (NULL + errno on failure) and the program in @prog. */
static struct bpf_object *open_alone(const struct embedded_object *eo, int want,
				     struct bpf_program **prog)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = eo->name);
	struct bpf_object *obj;
	struct bpf_program *p;
	const void *bytes;
	size_t size;
	int i = 0;

	bytes = eo->elf_bytes(&size);
	obj = bpf_object__open_mem(bytes, size, &opts);
	if (!obj)
		return NULL;
	*prog = NULL;
	bpf_object__for_each_program(p, obj) {
		bpf_program__set_autoload(p, i == want);
		if (i++ == want)
			*prog = p;
	}
	return obj;
}

/* Loads program @idx of @eo alone at @level into @log; 0 or -errno. */
static int load_alone(const struct embedded_object *eo, int idx, unsigned int level,
		      char *log, size_t log_size)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	int err;

	obj = open_alone(eo, idx, &prog);
	if (!obj)
		return -errno;
	log[0] = '\0';
	bpf_program__set_log_level(prog, level);
	bpf_program__set_log_buf(prog, log, log_size);
	err = bpf_object__load(obj);
	bpf_object__close(obj);
	return err;
}

static bool selected(const struct options *o, const char *obj, const char *prog)
{
	size_t n;

	if (!o->only)
		return true;
	n = strlen(obj);
	if (strncmp(o->only, obj, n) != 0)
		return false;
	return o->only[n] == '\0' || (o->only[n] == '/' && strcmp(o->only + n + 1, prog) == 0);
}

/* A row is begun before the load, so a verifier that takes the machine's
 * memory (the OOM killer ends us) still shows which program it was. */
static void begin_row(const char *obj, const char *prog)
{
	printf("%-16s %-26s", obj, prog);
	fflush(stdout);
}

static void end_row(const struct verifier_stats *st, const char *verdict)
{
	char time[32] = "-";

	if (st->time_usec >= 0)
		snprintf(time, sizeof(time), "%ld", st->time_usec);
	printf(" %9ld %7ld %8ld %10s  %s\n", st->insns, st->peak_states, st->total_states, time,
	       verdict);
}

/* One program: its row, and on failure why.  Returns true when it passed. */
static bool verify_program(const struct options *o, const struct embedded_object *eo, int idx,
			   const char *prog_name, struct logs *logs)
{
	struct verifier_stats st = { -1, -1, -1, -1 };
	char verdict[64];
	int err, complaints;

	forget_libbpf_warnings();
	begin_row(eo->name, prog_name);
	err = load_alone(eo, idx, 4, logs->stats, STATS_LOG_SIZE);
	complaints = kmsg_verifier_complaints(logs->kmsg, logs->complaints,
					      sizeof(logs->complaints));
	parse_stats(logs->stats, &st);
	if (!err && !complaints && st.insns <= o->max_insns) {
		end_row(&st, "ok");
		return true;
	}
	if (err)
		snprintf(verdict, sizeof(verdict), "FAIL (load: %s)", strerror(-err));
	else if (complaints)
		snprintf(verdict, sizeof(verdict), "FAIL (kernel complained)");
	else
		snprintf(verdict, sizeof(verdict), "FAIL (> %ld insns)", o->max_insns);
	end_row(&st, verdict);
	fputs(logs->complaints, stdout);
	print_libbpf_warnings();
	if (!err && !complaints) {
		printf("    %ld insns is %.1f%% of the verifier's %d budget (allowed: %ld)\n",
		       st.insns, 100.0 * st.insns / VERIFIER_INSN_BUDGET, VERIFIER_INSN_BUDGET,
		       o->max_insns);
		return false;
	}
	/* level 4 has the verdict but not where: load again with the trace */
	printf("    verifier log (level 4):\n");
	print_tail(logs->stats, o->tail_lines);
	load_alone(eo, idx, 1 | 4, logs->trace, TRACE_LOG_SIZE);
	/* the same complaint again */
	kmsg_verifier_complaints(logs->kmsg, logs->complaints, sizeof(logs->complaints));
	if (logs->trace[0]) {
		printf("    verifier log (level 1, %d lines up to the complaint or the end):\n",
		       o->tail_lines);
		print_around(logs->trace, "verifier bug", 2, o->tail_lines);
	}
	return false;
}

static int verify_object(const struct options *o, const struct embedded_object *eo,
			 struct logs *logs, int *failed)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = eo->name);
	struct bpf_program *p;
	struct bpf_object *obj;
	const void *bytes;
	size_t size;
	int idx = 0, count = 0;

	bytes = eo->elf_bytes(&size);
	obj = bpf_object__open_mem(bytes, size, &opts);
	if (!obj) {
		printf("%-16s FAIL (open: %s)\n", eo->name, strerror(errno));
		print_libbpf_warnings();
		(*failed)++;
		return 0;
	}
	bpf_object__for_each_program(p, obj) {
		const char *name = bpf_program__name(p);

		if (selected(o, eo->name, name)) {
			count++;
			if (!verify_program(o, eo, idx, name, logs))
				(*failed)++;
		}
		idx++;
	}
	bpf_object__close(obj);
	return count;
}

/* --- main ----------------------------------------------------------------- */

static int usable_or_skip(void)
{
	int ret;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: bpf_verify loads BPF programs: run it as root\n");
		return 77;
	}
	ret = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCKET_FILTER, NULL);
	if (ret != 1) {
		fprintf(stderr, "SKIP: this kernel loads no BPF program (%s)\n",
			ret < 0 ? strerror(-ret) : "socket filters not supported");
		return 77;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "max-insns", required_argument, NULL, 'm' },
		{ "only", required_argument, NULL, 'o' },
		{ "tail", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "m:o:t:", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->max_insns = strtol(optarg, &end, 10);
			if (*end || o->max_insns <= 0 || o->max_insns > VERIFIER_INSN_BUDGET)
				goto usage;
			break;
		case 'o':
			o->only = optarg;
			break;
		case 't':
			o->tail_lines = (int)strtol(optarg, &end, 10);
			if (*end || o->tail_lines <= 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (optind == argc)
		return 0;
usage:
	fprintf(stderr, "usage: %s [--max-insns N (1..%d)] [--only OBJECT[/PROGRAM]] "
			"[--tail LINES]\n", argv[0], VERIFIER_INSN_BUDGET);
	return 2;
}

int main(int argc, char **argv)
{
	struct options o = { .max_insns = VERIFIER_INSN_BUDGET / 4, .tail_lines = 40 };
	struct logs logs;
	int failed = 0, programs = 0, ret;
	struct utsname u;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(keep_libbpf_warnings);
	ret = usable_or_skip();
	if (ret)
		return ret;
	logs.stats = malloc(STATS_LOG_SIZE);
	logs.trace = malloc(TRACE_LOG_SIZE);
	if (!logs.stats || !logs.trace) {
		fprintf(stderr, "bpf_verify: out of memory\n");
		return 1;
	}
	logs.kmsg = kmsg_open_at_end();

	uname(&u);
	printf("# Linux %s: each program loaded alone, log level 4; limit %ld insns%s\n", u.release,
	       o.max_insns, logs.kmsg < 0 ? "; kernel log unreadable" : "");
	printf("%-16s %-26s %9s %7s %8s %10s  %s\n", "object", "program", "insns", "peak",
	       "states", "time_us", "result");
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		programs += verify_object(&o, &objects[i], &logs, &failed);
	free(logs.stats);
	free(logs.trace);
	if (logs.kmsg >= 0)
		close(logs.kmsg);

	if (o.only && programs == 0) {
		printf("FAIL: no program matches %s\n", o.only);
		return 1;
	}
	if (failed) {
		printf("FAIL: %d of %d program(s)\n", failed, programs);
		return 1;
	}
	printf("# all %d programs loaded within %ld insns\n", programs, o.max_insns);
	return 0;
}
