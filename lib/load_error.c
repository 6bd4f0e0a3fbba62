// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Why a BPF object did not load, in one line.
 *
 * libbpf explains a refused program on its print callback: which program,
 * the kernel's error and the whole verifier log (tens of thousands of lines
 * for a complex program).  While the library loads an object, those
 * messages are watched on the loading thread: the program's name and the
 * verifier's last meaningful line are kept, and everything libbpf says goes
 * to DEBUG.  The caller then gets one WARN line and a struct
 * ebpfaccel_load_error saying the same.  libbpf's own growing log buffer is
 * used (a log buffer of ours would have a size, and a log that overflows it
 * turns the kernel's error into ENOSPC).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define LOG_BEGIN "-- BEGIN PROG LOAD LOG --"
#define LOG_END "-- END PROG LOAD LOG --"

struct load_watch {
	bool active;
	char prog[64];
	char verifier[256];	/* the log's last meaningful line */
	char first_warn[256];	/* libbpf's first complaint: the most specific */
};

/* libbpf calls back on the thread that loads. */
static __thread struct load_watch watch;

void ebpfaccel__load_begin(void)
{
	memset(&watch, 0, sizeof(watch));
	watch.active = true;
}

bool ebpfaccel__load_watching(void)
{
	return watch.active;
}

/* Lines the verifier prints after its verdict, about its own work. */
static bool is_stats_line(const char *line, size_t len)
{
	static const char *const prefixes[] = {
		"processed ", "verification time ", "stack depth ", "peak_states ",
	};

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i]);

		if (len >= n && !strncmp(line, prefixes[i], n))
			return true;
	}
	return false;
}

/* Instruction dumps ("664: (55) if r1 ...") and source annotations ("; ...")
 * say where, not why. */
static bool is_trace_line(const char *line, size_t len)
{
	size_t i = 0;

	if (len && line[0] == ';')
		return true;
	while (i < len && line[i] >= '0' && line[i] <= '9')
		i++;
	return i && i < len && line[i] == ':';
}

/* The last line of @log (up to @end) that states a reason. */
static void last_meaningful_line(const char *log, const char *end, char *out, size_t size)
{
	while (end > log) {
		const char *eol = end, *bol;
		size_t len;

		while (eol > log && (eol[-1] == '\n' || eol[-1] == ' '))
			eol--;
		bol = eol;
		while (bol > log && bol[-1] != '\n')
			bol--;
		len = eol - bol;
		end = bol;
		if (!len || is_stats_line(bol, len) || is_trace_line(bol, len))
			continue;
		if (bol[len - 1] == '.')
			len--;
		snprintf(out, size, "%.*s", (int)len, bol);
		return;
	}
}

/* "prog 'NAME': ..." -> NAME */
static void note_prog(const char *msg)
{
	const char *p = strstr(msg, "prog '"), *q;

	if (!p)
		return;
	p += strlen("prog '");
	q = strchr(p, '\'');
	if (q)
		snprintf(watch.prog, sizeof(watch.prog), "%.*s", (int)(q - p), p);
}

static void note_first_warn(const char *msg)
{
	size_t len;

	if (watch.first_warn[0])
		return;
	if (!strncmp(msg, "libbpf: ", 8))
		msg += 8;
	len = strcspn(msg, "\n");
	snprintf(watch.first_warn, sizeof(watch.first_warn), "%.*s", (int)len, msg);
}

void ebpfaccel__load_note(bool warning, const char *fmt, va_list ap)
{
	const char *log, *end;
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	log = strstr(msg, LOG_BEGIN);
	end = log ? strstr(log, LOG_END) : NULL;
	if (log && end) {
		note_prog(msg);
		last_meaningful_line(log + strlen(LOG_BEGIN), end, watch.verifier,
				     sizeof(watch.verifier));
	} else if (strstr(msg, "BPF program load failed")) {
		note_prog(msg);
		note_first_warn(msg);
	} else if (warning) {
		note_first_warn(msg);
	}
	free(msg);
}

/* Copies @src into the caller's struct, as much of it as its sz covers. */
static void fill_out(struct ebpfaccel_load_error *out, const struct ebpfaccel_load_error *src)
{
	size_t n;

	if (!out || out->sz < offsetofend(struct ebpfaccel_load_error, err))
		return;
	n = out->sz < sizeof(*src) ? out->sz : sizeof(*src);
	memcpy((char *)out + sizeof(size_t), (const char *)src + sizeof(size_t),
	       n - sizeof(size_t));
}

void ebpfaccel__load_error_clear(struct ebpfaccel_load_error *out, int err)
{
	struct ebpfaccel_load_error none = { .sz = sizeof(none), .err = err };

	fill_out(out, &none);
}

int ebpfaccel__load_end(int err, const char *what, struct ebpfaccel_load_error *out)
{
	struct ebpfaccel_load_error e = { .sz = sizeof(e) };
	char msg[128];

	watch.active = false;
	if (!err) {
		fill_out(out, &e);
		return 0;
	}
	snprintf(e.prog, sizeof(e.prog), "%s", watch.prog);
	ebpfaccel_strerror(err, msg, sizeof(msg));
	if (watch.prog[0] && watch.verifier[0]) {
		e.verifier = true;
		err = -EBPFACCEL_ERR_VERIFY;
		snprintf(e.reason, sizeof(e.reason), "BPF program %s refused by the kernel's verifier: %.200s",
			 watch.prog, watch.verifier);
	} else if (watch.prog[0]) {
		snprintf(e.reason, sizeof(e.reason), "BPF program %s refused by the kernel: %s",
			 watch.prog, msg);
	} else if (watch.first_warn[0]) {
		snprintf(e.reason, sizeof(e.reason), "BPF object not loaded: %s", watch.first_warn);
	} else {
		snprintf(e.reason, sizeof(e.reason), "BPF object not loaded: %s", msg);
	}
	e.err = err;
	fill_out(out, &e);
	/* A probe expecting failures reports them in its results. */
	ebpfaccel__pr(ebpfaccel__libbpf_quieted() ? EBPFACCEL_DEBUG : EBPFACCEL_WARN,
		      "libebpfaccel: %s: %s%s\n", what, e.reason,
		      e.verifier ? " (the verifier's full log is logged at debug level)" : "");
	return err;
}
