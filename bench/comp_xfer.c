// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Benchmark helper for bench/comp_link.sh (not a test):
 *   comp_xfer recv ADDR PORT ALGO MODE          listen, receive one connection, discard
 *   comp_xfer send ADDR PORT ALGO MODE FILE [MIN_SECONDS]
 *                                               connect, send FILE through the engine (again
 *                                               until MIN_SECONDS have passed)
 *   comp_xfer autoctl IFNAME PORT SERVER_CG CLIENT_CG ALGO MODE TICK_MS
 *                                               auto policy driving the negotiation (below);
 *                                               ALGO "choose": the goodput model picks
 *                                               algorithm, level and mode
 * ALGO is none|zstd|lz4 with an optional :LEVEL, MODE block|stream; for send and recv, ALGO
 * "neg" uses what the handshake negotiated.  Prints key=value lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <ebpfaccel/ebpfaccel.h>

#define NEGOTIATED "neg"

__attribute__((noreturn)) static void die(const char *what, int err)
{
	fprintf(stderr, "comp_xfer: %s: %s\n", what, strerror(err));
	exit(1);
}

static struct tcp_comp_params parse_params(const char *algo, const char *mode)
{
	struct tcp_comp_params p = { .version = TCP_COMP_VERSION };

	const char *level = strchr(algo, ':');

	if (level)
		p.level = atoi(level + 1);
	if (!strncmp(algo, "zstd", 4))
		p.algo = TCP_COMP_ALGO_ZSTD;
	else if (!strncmp(algo, "lz4", 3))
		p.algo = TCP_COMP_ALGO_LZ4;
	p.mode = !strcmp(mode, "stream") ? TCP_COMP_MODE_STREAM : TCP_COMP_MODE_BLOCK;
	return p;
}

static double now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static struct addrinfo *resolve(const char *addr, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;

	if (getaddrinfo(addr, port, &hints, &ai)) {
		fprintf(stderr, "comp_xfer: bad address %s\n", addr);
		exit(2);
	}
	return ai;
}

/* A NULL @tx and @rx take the socket's negotiated state. */
static struct ebpfaccel_comp_conn *wrap(int fd, const struct tcp_comp_params *tx,
					const struct tcp_comp_params *rx)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, o, .tx = tx, .rx = rx);
	struct ebpfaccel_comp_conn *c = ebpfaccel_comp_conn__new(fd, &o);

	if (!c)
		die("ebpfaccel_comp_conn__new", errno);
	return c;
}

static int do_recv(const char *addr, const char *port, const char *algo, const char *mode)
{
	struct tcp_comp_params p = parse_params(algo, mode);
	bool neg = !strcmp(algo, NEGOTIATED);
	struct tcp_comp_params plain = { .version = TCP_COMP_VERSION };
	struct addrinfo *ai = resolve(addr, port);
	int one = 1, lfd = socket(ai->ai_family, SOCK_STREAM, 0), fd;
	size_t cap = 1 << 20, total = 0;
	char *buf = malloc(cap);
	struct ebpfaccel_comp_conn *c;
	ssize_t n;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, ai->ai_addr, ai->ai_addrlen) || listen(lfd, 1))
		die("listen", errno);
	printf("ready\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	c = neg ? wrap(fd, NULL, NULL) : wrap(fd, &plain, &p);
	while ((n = ebpfaccel_comp_conn__recv(c, buf, cap)) > 0)
		total += n;
	if (n < 0)
		die("recv", -n);
	printf("received=%zu cpu_recv=%.3f\n", total, cpu_self());
	ebpfaccel_comp_conn__free(c);
	close(fd);
	return 0;
}

/* Sends the whole file, again and again until @min_seconds have passed (a
 * warm-up that keeps a steady stream in front of a probe). */
static long long send_file(struct ebpfaccel_comp_conn *c, int in, off_t size, double min_seconds)
{
	double t0 = now(CLOCK_MONOTONIC);
	long long passes = 0;

	do {
		off_t off = 0;

		while (off < size) {
			ssize_t n = ebpfaccel_comp_conn__sendfile(c, in, &off, size - off);

			if (n <= 0)
				die("sendfile", n ? -n : EIO);
		}
		passes++;
	} while (now(CLOCK_MONOTONIC) - t0 < min_seconds);
	return passes * size;
}

static int do_send(const char *addr, const char *port, const char *algo, const char *mode,
		   const char *file, double min_seconds)
{
	struct tcp_comp_params p = parse_params(algo, mode), tx;
	struct tcp_comp_params plain = { .version = TCP_COMP_VERSION };
	struct addrinfo *ai = resolve(addr, port);
	int fd = socket(ai->ai_family, SOCK_STREAM, 0), in = open(file, O_RDONLY);
	struct ebpfaccel_comp_conn *c;
	struct tcp_comp_stats st;
	struct stat sb;
	double t0, t1;
	long long sent;
	char sink;

	if (in < 0 || fstat(in, &sb) || connect(fd, ai->ai_addr, ai->ai_addrlen))
		die(file, errno);
	c = strcmp(algo, NEGOTIATED) ? wrap(fd, &p, &plain) : wrap(fd, NULL, NULL);
	ebpfaccel_comp_conn__params(c, &tx, NULL);
	t0 = now(CLOCK_MONOTONIC);
	sent = send_file(c, in, sb.st_size, min_seconds);
	/* The transfer ends when the receiver has read everything and closed. */
	shutdown(fd, SHUT_WR);
	while (recv(fd, &sink, 1, 0) > 0)
		;
	t1 = now(CLOCK_MONOTONIC);
	ebpfaccel_comp_conn__stats(c, &st);
	printf("bytes=%lld wire=%llu seconds=%.3f cpu_send=%.3f tx_algo=%d tx_level=%d tx_mode=%d\n",
	       sent, (unsigned long long)st.tx_bytes_out, t1 - t0, cpu_self(), tx.algo, tx.level, tx.mode);
	ebpfaccel_comp_conn__free(c);
	return 0;
}

/* ---- autoctl: the auto policy deciding what the next connection negotiates ----
 *
 * Loads a negotiation policy on the server's and on the client's cgroup, a
 * traffic probe on IFNAME (in this process's netns) and an auto policy that
 * writes its decisions into the server's rule for PORT.  The client's rule
 * always asks for ALGO/MODE; the server's starts OFF, not AUTO (which
 * negotiates like ON), so the warm-up traffic crosses the probe
 * uncompressed.  Every TICK_MS the policy judges the port; once its decision
 * is settled (hold agreeing intervals, or the flip to on) it prints
 * "settled ..." and stops judging: the engine's records would sample as
 * random and this benchmark does not feed the engine ratio back.  The probe
 * stays attached and drained every TICK_MS until SIGTERM, then "cpu_ctl="
 * is printed.
 *
 * ALGO "choose": the goodput model (opts.choose) measures its candidates on
 * the probe's sample and picks algorithm, level and mode.  The sender picks
 * the algorithm and level of what it sends and the server's rule the mode
 * (docs/compression-format.md), so a decision sets the client's rule to
 * the choice and the server's to ON in the chosen mode (OFF while off).
 */

/* Intervals that must agree before a decision flips (the library's default). */
#define AUTO_HOLD 3

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

static struct ebpfaccel_comp_policy *policy_on(const char *cgroup)
{
	struct ebpfaccel_comp_policy *pol = ebpfaccel_comp_policy__open(NULL);
	int cg = open(cgroup, O_RDONLY | O_DIRECTORY), err;

	if (!pol || cg < 0)
		die(pol ? cgroup : "ebpfaccel_comp_policy__open", errno);
	err = ebpfaccel_comp_policy__attach(pol, cg);
	if (err)
		die("ebpfaccel_comp_policy__attach", -err);
	close(cg);
	return pol;
}

static struct ebpfaccel_comp_rule_opts rule_of(const char *algo, const char *mode,
					       enum ebpfaccel_comp_action action)
{
	struct tcp_comp_params p = parse_params(algo, mode);
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, r, .action = action, .algo = p.algo,
			  .mode = p.mode, .level = p.level);

	return r;
}

/* hold intervals agree with the decision in force (a decision that flips
 * has just been asked for hold times), and the goodput model has all the
 * port's stretches: while it waits for them, hold intervals may ask for
 * on with the flip still to come, or agree with off on a verdict the rest
 * may change, and the decision's text starts with "waiting". */
static bool settled(const struct ebpfaccel_auto_decision *d, unsigned int hold)
{
	return d->latest != EBPFACCEL_AUTO_NO_DATA && d->agreeing >= hold && d->reason == d->latest &&
	       strncmp(d->text, "waiting", 7);
}

struct both_policies {
	struct ebpfaccel_comp_policy *client, *server;
};

/* choose: the client (sender) sends with the choice, the server accepts it
 * in the chosen mode. */
static int apply_both(const struct ebpfaccel_auto_decision *d, void *ctx)
{
	struct both_policies *b = ctx;
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, c, .action = EBPFACCEL_COMP_ON,
			  .algo = d->choice.algo, .level = d->choice.level, .mode = d->choice.mode);
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, s, .mode = d->choice.mode,
			  .action = d->compress ? EBPFACCEL_COMP_ON : EBPFACCEL_COMP_OFF);

	if (!d->compress)
		return ebpfaccel_comp_policy__set_port(b->server, d->port, &s);
	return ebpfaccel_comp_policy__set_port(b->client, d->port, &c) ?:
	       ebpfaccel_comp_policy__set_port(b->server, d->port, &s);
}

/* Judges every tick until the port's decision settles; returns once it has
 * (after printing it) or on SIGTERM. */
static void judge_until_settled(struct ebpfaccel_auto_policy *ap, uint16_t port, int tick_ms)
{
	struct ebpfaccel_auto_decision d;
	int ticks = 0, err;

	while (!stop) {
		usleep(tick_ms * 1000);
		ticks++;
		err = ebpfaccel_auto_policy__update(ap);
		if (err < 0)
			die("ebpfaccel_auto_policy__update", -err);
		if (ebpfaccel_auto_policy__decision(ap, port, &d) || !settled(&d, AUTO_HOLD))
			continue;
		printf("settled compress=%d reason=%s ticks=%d speed_mbs=%.0f choice=%s:%d/%s "
		       "link_mbs=%.1f goodput_mbs=%.1f text=\"%s\"\n",
		       d.compress, ebpfaccel_auto_reason__name(d.reason), ticks,
		       ebpfaccel_auto_policy__comp_speed(ap) / 1e6,
		       d.choice.algo == TCP_COMP_ALGO_LZ4 ? "lz4" : d.choice.algo ? "zstd" : "none",
		       d.choice.level, d.choice.mode == TCP_COMP_MODE_STREAM ? "stream" : "block",
		       d.link_rate / 1e6, d.goodput / 1e6, d.text);
		fflush(stdout);
		return;
	}
}

/* The policy's model lines (every candidate's expected goodput at each
 * judgement, debug level) on stdout as "model ...": the benchmark prints
 * the settled judgement's beside the configurations' own transfers. */
static int print_model(enum ebpfaccel_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	const char *m;

	if (!strstr(fmt, ": model "))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	m = strstr(line, ": model ");
	return m ? printf("model%s", m + 7) : 0;
}

static int do_autoctl(char **arg)
{
	bool choose = !strcmp(arg[4], "choose");
	struct ebpfaccel_comp_rule_opts want = rule_of(choose ? "zstd" : arg[4], arg[5], EBPFACCEL_COMP_ON);
	struct ebpfaccel_comp_rule_opts off = rule_of(choose ? "zstd" : arg[4], arg[5], EBPFACCEL_COMP_OFF);
	uint16_t port = atoi(arg[1]);
	int tick_ms = atoi(arg[6]), err;
	struct ebpfaccel_comp_policy *pol_s = policy_on(arg[2]), *pol_c = policy_on(arg[3]);
	struct ebpfaccel_traffic_probe *tp = ebpfaccel_traffic_probe__open(NULL);
	struct both_policies both = { pol_c, pol_s };
	struct ebpfaccel_auto_policy *ap;

	if (!tp)
		die("ebpfaccel_traffic_probe__open", errno);
	err = ebpfaccel_comp_policy__set_port(pol_c, port, &want) ?:
	      ebpfaccel_comp_policy__set_port(pol_s, port, &off) ?:
	      ebpfaccel_traffic_probe__attach_ifname(tp, arg[0]);
	if (err)
		die("set up", -err);
	{
		LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, o, .algo = want.algo,
				  .level = want.level ?: 1, .hold = AUTO_HOLD, .comp_policy = pol_s,
				  .comp_rule = &want);

		if (choose) {
			o.choose = true;
			o.comp_policy = NULL;
			o.apply = apply_both;
			o.apply_ctx = &both;
		}
		ap = ebpfaccel_auto_policy__new(tp, &o);
		if (!ap)
			die("ebpfaccel_auto_policy__new", errno);
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	ebpfaccel_set_print(print_model);
	printf("ready\n");
	fflush(stdout);
	judge_until_settled(ap, port, tick_ms);
	/* Drained once a tick, as a controller that judges (and `ebpfaccel
	 * traffic watch`) does: waiting in the ring's poll would wake this
	 * thread for every sample, thousands of times a second at 10 Gbit/s,
	 * on the receiver's CPU. */
	while (!stop) {
		usleep(tick_ms * 1000);
		ebpfaccel_traffic_probe__poll(tp, 0);
	}
	printf("cpu_ctl=%.3f samples_dropped=%llu\n", cpu_self(),
	       (unsigned long long)ebpfaccel_traffic_probe__samples_dropped(tp));
	ebpfaccel_auto_policy__free(ap);
	ebpfaccel_traffic_probe__destroy(tp);
	ebpfaccel_comp_policy__destroy(pol_c);
	ebpfaccel_comp_policy__destroy(pol_s);
	return 0;
}

int main(int argc, char **argv)
{
	ebpfaccel_set_print(NULL);
	if (argc == 6 && !strcmp(argv[1], "recv"))
		return do_recv(argv[2], argv[3], argv[4], argv[5]);
	if ((argc == 7 || argc == 8) && !strcmp(argv[1], "send"))
		return do_send(argv[2], argv[3], argv[4], argv[5], argv[6], argc == 8 ? atof(argv[7]) : 0);
	if (argc == 9 && !strcmp(argv[1], "autoctl"))
		return do_autoctl(argv + 2);
	fprintf(stderr, "usage: comp_xfer recv|send|autoctl ... (see the source)\n");
	return 2;
}
