// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ebpfaccel traffic watch: the traffic probe and the auto policy's decisions. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ebpfaccel/ebpfaccel.h>

#include "cli.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct watch {
	struct ebpfaccel_auto_policy *policy;
	struct json_object *ports;	/* --json: filled at the end */
};

static struct json_object *counters_json(const struct ebpfaccel_traffic_counters *c)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "bytes", json_object_new_uint64(c->bytes));
	json_object_object_add(o, "packets", json_object_new_uint64(c->packets));
	json_object_object_add(o, "payload_bytes", json_object_new_uint64(c->payload_bytes));
	json_object_object_add(o, "rate", json_object_new_uint64(c->rate));
	json_object_object_add(o, "peak_rate", json_object_new_uint64(c->peak_rate));
	return o;
}

static const char *algo_str(int algo)
{
	return algo == TCP_COMP_ALGO_LZ4 ? "lz4" : algo == TCP_COMP_ALGO_ZSTD ? "zstd" : "none";
}

static const char *mode_str(int mode)
{
	return mode == TCP_COMP_MODE_STREAM ? "stream" : "block";
}

/* The configuration in force with the engine's figures; null while off. */
static struct json_object *choice_json(const struct ebpfaccel_auto_decision *d)
{
	struct json_object *o;

	if (d->choice.algo == TCP_COMP_ALGO_NONE)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "algo", json_object_new_string(algo_str(d->choice.algo)));
	json_object_object_add(o, "level", json_object_new_int(d->choice.level));
	json_object_object_add(o, "mode", json_object_new_string(mode_str(d->choice.mode)));
	json_object_object_add(o, "comp_speed", json_object_new_uint64(d->choice.comp_speed));
	json_object_object_add(o, "decomp_speed", json_object_new_uint64(d->choice.decomp_speed));
	json_object_object_add(o, "ratio", json_object_new_double(d->choice.ratio));
	return o;
}

static struct json_object *port_json(const struct ebpfaccel_port_stats *st,
				     const struct ebpfaccel_auto_decision *d, bool decided)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "port", json_object_new_int(st->port));
	json_object_object_add(o, "flows", json_object_new_uint64(st->flows));
	json_object_object_add(o, "turns", json_object_new_uint64(st->turns));
	json_object_object_add(o, "tx", counters_json(&st->dir[EBPFACCEL_TRAFFIC_TX]));
	json_object_object_add(o, "rx", counters_json(&st->dir[EBPFACCEL_TRAFFIC_RX]));
	json_object_object_add(o, "rx_sample_ratio", json_object_new_double(st->sample_ratio[EBPFACCEL_TRAFFIC_RX]));
	json_object_object_add(o, "tx_sample_ratio", json_object_new_double(st->sample_ratio[EBPFACCEL_TRAFFIC_TX]));
	json_object_object_add(o, "compress", json_object_new_boolean(decided && d->compress));
	json_object_object_add(o, "reason", json_object_new_string(
		ebpfaccel_auto_reason__name(decided ? d->reason : EBPFACCEL_AUTO_NO_DATA)));
	json_object_object_add(o, "detail", json_object_new_string(decided ? d->text : ""));
	json_object_object_add(o, "latest", json_object_new_string(
		ebpfaccel_auto_reason__name(decided ? d->latest : EBPFACCEL_AUTO_NO_DATA)));
	json_object_object_add(o, "agreeing", json_object_new_int(decided ? (int)d->agreeing : 0));
	json_object_object_add(o, "choice", decided ? choice_json(d) : NULL);
	json_object_object_add(o, "link_rate", json_object_new_uint64(decided ? d->link_rate : 0));
	json_object_object_add(o, "goodput", json_object_new_uint64(decided ? d->goodput : 0));
	return o;
}

static void port_text(const struct ebpfaccel_port_stats *st, const struct ebpfaccel_auto_decision *d,
		      bool decided)
{
	const struct ebpfaccel_traffic_counters *rx = &st->dir[EBPFACCEL_TRAFFIC_RX];
	const struct ebpfaccel_traffic_counters *tx = &st->dir[EBPFACCEL_TRAFFIC_TX];

	char choice[48] = "off";

	if (decided && d->compress)
		snprintf(choice, sizeof(choice), "%s-%d %s", algo_str(d->choice.algo), d->choice.level,
			 mode_str(d->choice.mode));
	printf("port %5u  rx %8.1f MB/s  tx %8.1f MB/s  turns %-8llu  ratio rx %.2f tx %.2f  %s %s: %s",
	       st->port, rx->rate / 1e6, tx->rate / 1e6, (unsigned long long)st->turns,
	       st->sample_ratio[EBPFACCEL_TRAFFIC_RX], st->sample_ratio[EBPFACCEL_TRAFFIC_TX], choice,
	       ebpfaccel_auto_reason__name(decided ? d->reason : EBPFACCEL_AUTO_NO_DATA),
	       decided ? d->text : "not judged yet");
	/* The hysteresis is holding the decision against the latest verdict. */
	if (decided && d->latest != d->reason)
		printf(" [latest: %s, %u in a row]", ebpfaccel_auto_reason__name(d->latest), d->agreeing);
	putchar('\n');
}

static int show_port(const struct ebpfaccel_port_stats *st, void *ctx)
{
	struct watch *w = ctx;
	struct ebpfaccel_auto_decision d;
	bool decided = !ebpfaccel_auto_policy__decision(w->policy, st->port, &d);

	if (w->ports)
		json_object_array_add(w->ports, port_json(st, &d, decided));
	else
		port_text(st, &d, decided);
	return 0;
}

/* Argument @i as a positive integer, @fallback if absent, -1 if bad. */
static long positive_arg(struct cli_ctx *ctx, int i, long fallback)
{
	char *end;
	long v;

	if (i >= ctx->argc)
		return fallback;
	v = strtol(ctx->argv[i], &end, 10);
	return *end || v <= 0 ? -1 : v;
}

static int watch_loop(struct ebpfaccel_traffic_probe *tp, struct watch *w, long seconds, long interval_ms)
{
	long ticks = seconds * 1000 / interval_ms;
	int err;

	for (long i = 0; i < ticks && !stop; i++) {
		usleep(interval_ms * 1000);
		err = ebpfaccel_auto_policy__update(w->policy);
		if (err < 0)
			return cli_error(err, "judging the traffic failed: %s", strerror(-err));
		if (!w->ports) {
			printf("--- %.1f s\n", (i + 1) * interval_ms / 1000.0);
			ebpfaccel_traffic_probe__for_each_port(tp, show_port, w);
			fflush(stdout);
		}
	}
	if (w->ports)
		ebpfaccel_traffic_probe__for_each_port(tp, show_port, w);
	return CLI_OK;
}

static int cmd_watch(struct cli_ctx *ctx)
{
	long seconds = positive_arg(ctx, 1, 10), interval_ms = positive_arg(ctx, 2, 1000);
	struct watch w = { 0 };
	struct ebpfaccel_traffic_probe *tp;
	int err, rc;

	if (ctx->argc < 1 || ctx->argc > 3 || seconds < 0 || interval_ms < 0)
		return cli_error(-EINVAL, "usage: traffic watch IFNAME [SECONDS] [INTERVAL_MS]");
	tp = ebpfaccel_traffic_probe__open(NULL);
	if (!tp)
		return cli_error(-errno, "loading the traffic probe failed: %s", strerror(errno));
	err = ebpfaccel_traffic_probe__attach_ifname(tp, ctx->argv[0]);
	if (err) {
		ebpfaccel_traffic_probe__destroy(tp);
		return cli_error(err == -ENODEV ? -ENOENT : err, "attaching to %s failed: %s",
				 ctx->argv[0], strerror(-err));
	}
	{
		LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, o, .choose = true);

		w.policy = ebpfaccel_auto_policy__new(tp, &o);
	}
	if (ctx->json)
		w.ports = json_object_new_array();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = w.policy ? watch_loop(tp, &w, seconds, interval_ms)
		      : cli_error(-errno, "auto policy: %s", strerror(errno));
	err = ebpfaccel_traffic_probe__detach(tp);
	if (err && rc == CLI_OK)
		rc = cli_error(err, "detaching from %s failed: %s", ctx->argv[0], strerror(-err));
	if (w.ports && rc == CLI_OK)
		cli_print_json(w.ports);
	else if (w.ports)
		json_object_put(w.ports);
	ebpfaccel_auto_policy__free(w.policy);
	ebpfaccel_traffic_probe__destroy(tp);
	return rc;
}

const struct cli_cmd cli_traffic_cmds[] = {
	{ "traffic watch", "IFNAME [SECONDS] [INTERVAL_MS] [--json]",
	  "probe TCP traffic on IFNAME for SECONDS (10), judging every INTERVAL_MS (1000): per server port "
	  "rates, turns, sampled compressibility and the auto policy's decision (the configuration of "
	  "highest expected goodput) with its reason; "
	  "detaches at the end (or on Ctrl-C)",
	  cmd_watch, true },
	{}
};
