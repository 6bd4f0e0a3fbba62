// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bpf_verify: what the verifier of the running kernel spends on every BPF
 * program the project embeds.  Each program is loaded alone (the others of
 * its object do not load) at log level 4, so its row shows its own cost:
 * processed instructions, peak and total states, verification time.
 *
 * It fails when a program does not load, or needs more than a quarter of
 * the verifier's 1M instruction budget (the budget moves between kernels:
 * docs/kernel-matrix.md), or when the kernel logged a verifier bug or a
 * WARN from kernel/bpf while it ran.  A failed load prints the tail of the
 * verifier's log.
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

static void print_row(const char *obj, const char *prog, const struct verifier_stats *st,
		      const char *verdict)
{
	char time[32] = "-";

	if (st->time_usec >= 0)
		snprintf(time, sizeof(time), "%ld", st->time_usec);
	printf("%-16s %-26s %9ld %7ld %8ld %10s  %s\n", obj, prog, st->insns, st->peak_states,
	       st->total_states, time, verdict);
}

/* One program: its row, and on failure why.  Returns true when it passed. */
static bool verify_program(const struct options *o, const struct embedded_object *eo, int idx,
			   const char *prog_name, char *stats_log, char *trace_log)
{
	struct verifier_stats st = { -1, -1, -1, -1 };
	char verdict[64];
	int err;

	forget_libbpf_warnings();
	err = load_alone(eo, idx, 4, stats_log, STATS_LOG_SIZE);
	parse_stats(stats_log, &st);
	if (!err && st.insns <= o->max_insns) {
		print_row(eo->name, prog_name, &st, "ok");
		return true;
	}
	if (err) {
		snprintf(verdict, sizeof(verdict), "FAIL (load: %s)", strerror(-err));
	} else {
		snprintf(verdict, sizeof(verdict), "FAIL (> %ld insns)", o->max_insns);
	}
	print_row(eo->name, prog_name, &st, verdict);
	print_libbpf_warnings();
	if (!err) {
		printf("    %ld insns is %.1f%% of the verifier's %d budget (allowed: %ld)\n",
		       st.insns, 100.0 * st.insns / VERIFIER_INSN_BUDGET, VERIFIER_INSN_BUDGET,
		       o->max_insns);
		return false;
	}
	/* level 4 has the verdict but not where: load again with the trace */
	printf("    verifier log (level 4):\n");
	print_tail(stats_log, o->tail_lines);
	if (load_alone(eo, idx, 1 | 4, trace_log, TRACE_LOG_SIZE) != 0 && trace_log[0]) {
		printf("    verifier log (level 1, last %d lines):\n", o->tail_lines);
		print_tail(trace_log, o->tail_lines);
	}
	return false;
}

static int verify_object(const struct options *o, const struct embedded_object *eo,
			 char *stats_log, char *trace_log, int *failed)
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
			if (!verify_program(o, eo, idx, name, stats_log, trace_log))
				(*failed)++;
		}
		idx++;
	}
	bpf_object__close(obj);
	return count;
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

/* The verifier's "verifier bug" and WARNs in kernel/bpf/; other subsystems'
 * warnings on a shared machine are not ours to judge. */
static int kmsg_verifier_complaints(int fd)
{
	char rec[8192];
	int found = 0;
	ssize_t n;

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

			printf("kernel: %s", msg ? msg + 1 : rec);
			found++;
		}
	}
	close(fd);
	return found;
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
	char *stats_log, *trace_log;
	int failed = 0, programs = 0, complaints, kmsg, ret;
	struct utsname u;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(keep_libbpf_warnings);
	ret = usable_or_skip();
	if (ret)
		return ret;
	stats_log = malloc(STATS_LOG_SIZE);
	trace_log = malloc(TRACE_LOG_SIZE);
	if (!stats_log || !trace_log) {
		fprintf(stderr, "bpf_verify: out of memory\n");
		return 1;
	}

	uname(&u);
	printf("# Linux %s: each program loaded alone, log level 4; limit %ld insns\n", u.release,
	       o.max_insns);
	printf("%-16s %-26s %9s %7s %8s %10s  %s\n", "object", "program", "insns", "peak",
	       "states", "time_us", "result");
	kmsg = kmsg_open_at_end();
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		programs += verify_object(&o, &objects[i], stats_log, trace_log, &failed);
	complaints = kmsg_verifier_complaints(kmsg);
	free(stats_log);
	free(trace_log);

	if (o.only && programs == 0) {
		printf("FAIL: no program matches %s\n", o.only);
		return 1;
	}
	if (complaints)
		printf("FAIL: the kernel logged %d verifier complaint(s) while loading\n", complaints);
	if (failed)
		printf("FAIL: %d of %d program(s)\n", failed, programs);
	if (failed || complaints)
		return 1;
	printf("# all %d programs loaded within %ld insns\n", programs, o.max_insns);
	return 0;
}
