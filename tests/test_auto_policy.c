// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The auto compression policy on real traffic shapes through a real probe
 * (two netns, veth, the client's side limited with tbf so compression could
 * pay): bulk text turns on, random data stays off, small request/response
 * stays off, and a connection whose data turns random turns off again.  Its
 * hysteresis is also driven directly with intervals fed by the test.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <ebpfaccel/ebpfaccel.h>
#include <ebpfaccel/uapi.h>

#include "traffic_fixtures.h"

#define DATA_LEN	(4 * 1024 * 1024)
#define TICK_US		150000
#define LINK_MBIT	200

static struct tf_link link_;
static struct ebpfaccel_traffic_probe *probe;
static struct ebpfaccel_auto_policy *policy;
static struct tf_server *srv;
static int applied_on, applied_off;

static int count_apply(const struct ebpfaccel_auto_decision *d, void *ctx)
{
	(void)ctx;
	if (d->compress)
		applied_on++;
	else
		applied_off++;
	return 0;
}

static void start(const struct ebpfaccel_auto_policy_opts *opts, enum tf_server_mode mode,
		  size_t req, size_t resp, int family)
{
	int prev;

	tf_link_new(&link_);
	tf_link_limit(&link_, LINK_MBIT);
	probe = ebpfaccel_traffic_probe__open(NULL);
	ck_assert_msg(probe, "open: %s", strerror(errno));
	prev = fx_netns_enter(link_.srv);
	ck_assert_int_eq(ebpfaccel_traffic_probe__attach(probe, link_.srv_ifindex), 0);
	fx_netns_return(prev);
	policy = ebpfaccel_auto_policy__new(probe, opts);
	ck_assert_ptr_nonnull(policy);
	srv = tf_server_start(&link_, family, mode, req, resp);
	applied_on = applied_off = 0;
}

/* A sink server and one client sending @data (NULL: fresh random bytes). */
static struct tf_client *start_bulk_family(const struct ebpfaccel_auto_policy_opts *opts,
					    const uint8_t *data, int family)
{
	start(opts, TF_SINK, 0, 0, family);
	return tf_bulk_start(tf_connect(&link_, srv, family), data, data ? DATA_LEN : 0);
}

static struct tf_client *start_bulk(const struct ebpfaccel_auto_policy_opts *opts, const uint8_t *data)
{
	return start_bulk_family(opts, data, AF_INET);
}

static void teardown(void)
{
	tf_server_stop(srv);
	ebpfaccel_auto_policy__free(policy);
	ebpfaccel_traffic_probe__destroy(probe);
	tf_link_free(&link_);
	srv = NULL;
	policy = NULL;
	probe = NULL;
}

static const struct ebpfaccel_auto_policy_opts default_opts = {
	.sz = sizeof(default_opts), .apply = count_apply,
};

/* Updates every tick until the port's decision is @compress for @reason,
 * or @ticks pass; returns the last decision. */
static struct ebpfaccel_auto_decision wait_decision(bool compress, enum ebpfaccel_auto_reason reason,
						    int ticks)
{
	struct ebpfaccel_auto_decision d = { 0 };

	for (int i = 0; i < ticks; i++) {
		usleep(TICK_US);
		ck_assert_int_ge(ebpfaccel_auto_policy__update(policy), 0);
		if (ebpfaccel_auto_policy__decision(policy, tf_server_port(srv), &d))
			continue;
		if (d.compress == compress && d.reason == reason)
			break;
	}
	return d;
}

/* Judges @ticks more intervals (a decision must not flip on later
 * intervals either) and returns the decision then. */
static struct ebpfaccel_auto_decision keep_judging(int ticks)
{
	struct ebpfaccel_auto_decision d;

	for (int i = 0; i < ticks; i++) {
		usleep(TICK_US);
		ck_assert_int_ge(ebpfaccel_auto_policy__update(policy), 0);
	}
	ck_assert_int_eq(ebpfaccel_auto_policy__decision(policy, tf_server_port(srv), &d), 0);
	return d;
}

static void assert_decision(const struct ebpfaccel_auto_decision *d, bool compress,
			    enum ebpfaccel_auto_reason reason)
{
	ck_assert_msg(d->compress == compress && d->reason == reason,
		      "port %u: compress %d reason %s (latest %s): %s", d->port, d->compress,
		      ebpfaccel_auto_reason__name(d->reason), ebpfaccel_auto_reason__name(d->latest),
		      d->text);
}

/* Loop 0: IPv4, zstd; 1: IPv6, zstd; 2: IPv4, lz4. */
START_TEST(bulk_text_turns_on)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, lz4, .algo = TCP_COMP_ALGO_LZ4, .apply = count_apply);
	uint8_t *text = tf_text(DATA_LEN);
	struct ebpfaccel_auto_decision d;
	struct tf_client *c;

	c = start_bulk_family(_i == 2 ? &lz4 : &default_opts, text, _i == 1 ? AF_INET6 : AF_INET);
	d = wait_decision(true, EBPFACCEL_AUTO_BULK_COMPRESSIBLE, 40);
	tf_client_stop(c, NULL);
	assert_decision(&d, true, EBPFACCEL_AUTO_BULK_COMPRESSIBLE);
	ck_assert_int_eq(d.busy_dir, EBPFACCEL_TRAFFIC_RX);
	ck_assert_uint_eq(d.changes, 1);
	ck_assert_int_eq(applied_on, 1);
	/* Off while the hysteresis waited, then on. */
	ck_assert_int_eq(applied_off, 1);
	/* Measured on the sample, and faster than the link it judged. */
	ck_assert_uint_gt(ebpfaccel_auto_policy__comp_speed(policy), LINK_MBIT * 1000000ULL / 8);
	ck_assert_msg(strstr(d.text, _i == 2 ? "lz4-1" : "zstd-1"), "%s", d.text);
	free(text);
}
END_TEST

/* choose: the candidates' ratios come from a contiguous stretch of the
 * stream, byte for byte.  The data repeats a 256 KiB block of random bytes:
 * one connection's stream through zstd (a window of 512 KiB and more)
 * finds every repeat, so 2 MiB of it compress about 8:1, while lz4 (64 KiB
 * window) and block records find none.  A stretch with a gap, a reordered
 * or a foreign piece would lose repeats; the probe's 256-byte pieces 64
 * KiB apart would repeat every fourth piece and look far better. */
START_TEST(choose_ratios_come_from_a_stretch)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, opts, .choose = true, .apply = count_apply);
	const size_t period = 256 * 1024;
	uint8_t *block = tf_random(period), *data = malloc(DATA_LEN);
	struct ebpfaccel_auto_decision d;
	struct tf_client *c;

	ck_assert_ptr_nonnull(data);
	for (size_t off = 0; off < DATA_LEN; off += period)
		memcpy(data + off, block, period);
	c = start_bulk(&opts, data);
	d = wait_decision(true, EBPFACCEL_AUTO_BULK_COMPRESSIBLE, 60);
	tf_client_stop(c, NULL);
	assert_decision(&d, true, EBPFACCEL_AUTO_BULK_COMPRESSIBLE);
	ck_assert_msg(strstr(d.text, " stretches"), "%s", d.text);
	ck_assert_int_eq(d.choice.algo, TCP_COMP_ALGO_ZSTD);
	ck_assert_int_eq(d.choice.mode, TCP_COMP_MODE_STREAM);
	ck_assert_msg(d.choice.ratio > 7.0 && d.choice.ratio < 8.2, "stretch ratio %.2f: %s", d.choice.ratio,
		      d.text);
	free(block);
	free(data);
}
END_TEST

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/* choose, a flow in steps: one connection sends text STEP_LEN at a time,
 * and the policy judges each step once the sink has it, STEP_MIN_US or
 * more after the last judgement (the stretches are asked for 250 ms
 * apart): the test's intervals are the flow's steps, whatever the
 * machine's load makes of their time.  The candidates are measured once
 * the probe's sample holds 8 MiB of traffic (the third step), then one
 * stretch comes a step. */
#define STEP_LEN		(3 * 1024 * 1024)
#define STEP_MIN_US		260000
#define FLOW_STEPS		12
struct step_flow {
	int fd;
	uint8_t *text;		/* DATA_LEN, sent from off, wrapping */
	size_t off;
	uint64_t sent;
	uint64_t last_us;	/* the last judgement's start */
	uint64_t first_us;	/* the first judged (not no-data) step's start */
	int step;
};

static void step_flow_start(struct step_flow *f, const struct ebpfaccel_auto_policy_opts *opts)
{
	*f = (struct step_flow){ .text = tf_text(DATA_LEN) };
	start(opts, TF_SINK, 0, 0, AF_INET);
	f->fd = tf_connect(&link_, srv, AF_INET);
}

static void step_flow_end(struct step_flow *f)
{
	close(f->fd);
	free(f->text);
}

/* The next step: sent, received, judged; returns the decision. */
static struct ebpfaccel_auto_decision step_judged(struct step_flow *f)
{
	struct ebpfaccel_auto_decision d = { 0 };
	uint64_t before;

	for (size_t left = STEP_LEN, n; left; left -= n) {
		n = DATA_LEN - f->off < left ? DATA_LEN - f->off : left;
		tf_write_all(f->fd, f->text + f->off, n);
		f->off = (f->off + n) % DATA_LEN;
		f->sent += n;
	}
	while (tf_server_received(srv) < f->sent)
		usleep(10000);
	while (now_us() - f->last_us < STEP_MIN_US)
		usleep(10000);
	before = f->last_us = now_us();
	ck_assert_int_ge(ebpfaccel_auto_policy__update(policy), 0);
	f->step++;
	if (!ebpfaccel_auto_policy__decision(policy, tf_server_port(srv), &d) &&
	    d.latest != EBPFACCEL_AUTO_NO_DATA && !f->first_us)
		f->first_us = before;
	return d;
}

/* All four stretches judged, unless one was waited for up to the bound
 * (STRETCH_WAIT_NS, 2 s: a loaded machine's steps are long). */
static void assert_four_stretches(const struct step_flow *f, const struct ebpfaccel_auto_decision *d)
{
	if (now_us() - f->first_us < 2000000)
		ck_assert_msg(strstr(d->text, "on 4 stretches"), "step %d: %s", f->step, d->text);
}

/* A short flow is decided while it lasts: every step judged counts
 * towards the hold, so the port is on by the seventh step or so;
 * FLOW_STEPS leaves room for a stretch broken by a retransmission.
 * Before, each stretch took three steps, and the hold only counted once
 * the fourth was in: 3 + 3 x 4 + 2 steps.  Meanwhile the text says what
 * the decision waits for. */
START_TEST(short_flow_is_decided_while_it_lasts)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, opts, .choose = true, .apply = count_apply);
	struct ebpfaccel_auto_decision d = { 0 };
	struct step_flow f;

	step_flow_start(&f, &opts);
	while (f.step < FLOW_STEPS && !d.compress) {
		d = step_judged(&f);
		if (d.latest != EBPFACCEL_AUTO_NO_DATA && d.reason == EBPFACCEL_AUTO_NO_DATA)
			ck_assert_msg(!strncmp(d.text, "waiting", 7), "step %d, %u in a row: %s", f.step,
				      d.agreeing, d.text);
	}
	step_flow_end(&f);
	assert_decision(&d, true, EBPFACCEL_AUTO_BULK_COMPRESSIBLE);
	assert_four_stretches(&f, &d);
	ck_assert_int_eq(applied_on, 1);
	ck_assert_int_eq(applied_off, 1);
}
END_TEST

/* A verdict for "off" is the reason at once, on the figures so far, and
 * says that stretches are still to come (which may turn it): a link
 * given as 10 GB/s, where nothing beats plain. */
START_TEST(off_verdict_says_stretches_are_to_come)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, opts, .choose = true, .apply = count_apply,
			  .link_rate = 10000000000ULL);
	struct ebpfaccel_auto_decision d = { 0 };
	struct step_flow f;
	int waited = 0;

	step_flow_start(&f, &opts);
	while (f.step < FLOW_STEPS) {
		d = step_judged(&f);
		if (d.latest == EBPFACCEL_AUTO_NO_DATA)
			continue;
		assert_decision(&d, false, EBPFACCEL_AUTO_RATE_ABOVE_COMP_SPEED);
		if (strncmp(d.text, "waiting for stretch ", 20))
			break;
		waited++;
	}
	step_flow_end(&f);
	ck_assert_int_ge(waited, 1);
	ck_assert_msg(strstr(d.text, "plain 10000.0 MB/s"), "%s", d.text);
	assert_four_stretches(&f, &d);
	ck_assert_int_eq(applied_on, 0);
	ck_assert_int_eq(applied_off, 1);
}
END_TEST

START_TEST(random_data_stays_off)
{
	struct ebpfaccel_auto_decision d;
	struct tf_client *c;

	c = start_bulk(&default_opts, NULL);
	wait_decision(false, EBPFACCEL_AUTO_INCOMPRESSIBLE, 40);
	d = keep_judging(5);
	tf_client_stop(c, NULL);
	assert_decision(&d, false, EBPFACCEL_AUTO_INCOMPRESSIBLE);
	ck_assert_uint_eq(d.changes, 0);
	ck_assert_int_eq(applied_on, 0);
	ck_assert_int_eq(applied_off, 1);	/* the first verdict, applied once */
}
END_TEST

/* Text, so only the exchange pattern can keep it off. */
START_TEST(small_request_response_is_latency_bound)
{
	uint8_t *req = tf_text(64);
	struct ebpfaccel_auto_decision d;
	struct tf_client *c;
	uint64_t rounds;

	start(&default_opts, TF_ECHO, 64, 512, AF_INET);
	c = tf_pingpong_start(tf_connect(&link_, srv, AF_INET), req, 64, 512);
	wait_decision(false, EBPFACCEL_AUTO_LATENCY_BOUND, 40);
	d = keep_judging(5);
	tf_client_stop(c, &rounds);
	ck_assert_uint_gt(rounds, 100);
	assert_decision(&d, false, EBPFACCEL_AUTO_LATENCY_BOUND);
	ck_assert_uint_eq(d.changes, 0);
	free(req);
}
END_TEST

/* A client sending @text, once the policy has turned its port on. */
static struct tf_client *text_turned_on(const uint8_t *text)
{
	struct tf_client *c = start_bulk(&default_opts, text);
	struct ebpfaccel_auto_decision d = wait_decision(true, EBPFACCEL_AUTO_BULK_COMPRESSIBLE, 40);

	assert_decision(&d, true, EBPFACCEL_AUTO_BULK_COMPRESSIBLE);
	return c;
}

/* The same connection: on while it carries text, off once it carries
 * random data, each after the hysteresis. */
START_TEST(decision_follows_the_data)
{
	uint8_t *text = tf_text(DATA_LEN);
	struct ebpfaccel_auto_decision d;
	struct tf_client *c;

	c = text_turned_on(text);
	tf_bulk_switch(c, NULL, 0);
	d = wait_decision(false, EBPFACCEL_AUTO_INCOMPRESSIBLE, 60);
	assert_decision(&d, false, EBPFACCEL_AUTO_INCOMPRESSIBLE);
	tf_bulk_switch(c, text, DATA_LEN);
	d = wait_decision(true, EBPFACCEL_AUTO_BULK_COMPRESSIBLE, 60);
	tf_client_stop(c, NULL);
	assert_decision(&d, true, EBPFACCEL_AUTO_BULK_COMPRESSIBLE);
	ck_assert_uint_eq(d.changes, 3);
	ck_assert_int_eq(applied_on, 2);
	ck_assert_int_eq(applied_off, 2);
	free(text);
}
END_TEST

/* The compressor's speed is measured on the port's data and again when the
 * data changes: a 1 KiB block of text repeated compresses far faster than
 * varied text. */
START_TEST(speed_follows_the_data)
{
	uint8_t *text = tf_text(DATA_LEN), *repeated = malloc(DATA_LEN);
	struct ebpfaccel_auto_decision d;
	uint64_t text_speed;
	struct tf_client *c;

	ck_assert_ptr_nonnull(repeated);
	for (size_t off = 0; off < DATA_LEN; off += 1024)
		memcpy(repeated + off, text, 1024);
	c = text_turned_on(text);
	text_speed = ebpfaccel_auto_policy__comp_speed(policy);
	tf_bulk_switch(c, repeated, DATA_LEN);
	for (int i = 0; i < 60 && ebpfaccel_auto_policy__comp_speed(policy) < 2 * text_speed; i++)
		d = keep_judging(1);
	tf_client_stop(c, NULL);
	ck_assert_msg(ebpfaccel_auto_policy__comp_speed(policy) >= 2 * text_speed,
		      "text %llu B/s, repeated %llu B/s (%s)", (unsigned long long)text_speed,
		      (unsigned long long)ebpfaccel_auto_policy__comp_speed(policy), d.text);
	free(text);
	free(repeated);
}
END_TEST

/* While on, the wire carries what the engine made of the data: the
 * engine's ratio, not the probe's sample of the wire, decides.  Here the
 * wire still carries text (no engine in this test), and the engine reports
 * that it hardly compresses. */
START_TEST(engine_ratio_stands_in_while_on)
{
	uint8_t *text = tf_text(DATA_LEN);
	struct ebpfaccel_auto_decision d;
	struct tf_client *c;

	c = text_turned_on(text);
	ck_assert_int_eq(ebpfaccel_auto_policy__set_engine_ratio(policy, tf_server_port(srv), 1.05), 0);
	d = wait_decision(false, EBPFACCEL_AUTO_INCOMPRESSIBLE, 40);
	tf_client_stop(c, NULL);
	assert_decision(&d, false, EBPFACCEL_AUTO_INCOMPRESSIBLE);
	ck_assert_msg(strstr(d.text, "1.05:1"), "%s", d.text);
	ck_assert_int_eq(ebpfaccel_auto_policy__set_engine_ratio(policy, 1, -1), -EINVAL);
	free(text);
}
END_TEST

/* A compressor configured slower than the link: compressing would slow the
 * transfer down, so compressible bulk data stays off. */
START_TEST(rate_above_comp_speed_stays_off)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, opts,
			  .comp_speed = LINK_MBIT * 1000000ULL / 8 / 4, .apply = count_apply);
	uint8_t *text = tf_text(DATA_LEN);
	struct ebpfaccel_auto_decision d;
	struct tf_client *c;

	c = start_bulk(&opts, text);
	d = wait_decision(false, EBPFACCEL_AUTO_RATE_ABOVE_COMP_SPEED, 40);
	tf_client_stop(c, NULL);
	assert_decision(&d, false, EBPFACCEL_AUTO_RATE_ABOVE_COMP_SPEED);
	ck_assert_uint_eq(ebpfaccel_auto_policy__comp_speed(policy), LINK_MBIT * 1000000ULL / 8 / 4);
	free(text);
}
END_TEST

/* ------------------------------------------- hysteresis, fed directly */

static const struct ebpfaccel_auto_sample bulk_text = {
	.duration_ns = 100000000, .payload_bytes = { 0, 4 << 20 }, .turns = 0,
	.rate = 40 << 20, .sample_ratio = 3.0, .entropy = 4.8,
};
static const struct ebpfaccel_auto_sample bulk_random = {
	.duration_ns = 100000000, .payload_bytes = { 0, 4 << 20 }, .turns = 0,
	.rate = 40 << 20, .sample_ratio = 1.0, .entropy = 8.0,
};

static struct ebpfaccel_auto_policy *fed_policy(unsigned int hold)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, opts,
			  .comp_speed = 400 << 20, .hold = hold, .apply = count_apply);
	struct ebpfaccel_auto_policy *ap = ebpfaccel_auto_policy__new(NULL, &opts);

	ck_assert_ptr_nonnull(ap);
	applied_on = applied_off = 0;
	return ap;
}

static struct ebpfaccel_auto_decision decision_of(struct ebpfaccel_auto_policy *ap)
{
	struct ebpfaccel_auto_decision d;

	ck_assert_int_eq(ebpfaccel_auto_policy__decision(ap, 9000, &d), 0);
	return d;
}

START_TEST(alternating_data_does_not_flap)
{
	struct ebpfaccel_auto_policy *ap = fed_policy(3);

	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(ebpfaccel_auto_policy__feed(ap, 9000, i % 2 ? &bulk_random : &bulk_text), 0);
	ck_assert(!decision_of(ap).compress);
	ck_assert_int_eq(applied_on, 0);
	ck_assert_int_eq(applied_off, 1);
	ebpfaccel_auto_policy__free(ap);
}
END_TEST

START_TEST(flips_after_hold_intervals)
{
	struct ebpfaccel_auto_policy *ap = fed_policy(3);
	struct ebpfaccel_auto_sample borderline = bulk_text;

	ck_assert_int_eq(ebpfaccel_auto_policy__feed(ap, 9000, &bulk_text), 0);
	ck_assert_int_eq(ebpfaccel_auto_policy__feed(ap, 9000, &bulk_text), 0);
	ck_assert_int_eq(decision_of(ap).latest, EBPFACCEL_AUTO_BULK_COMPRESSIBLE);
	ck_assert_int_eq(decision_of(ap).agreeing, 2);
	ck_assert(!decision_of(ap).compress);
	ck_assert_int_eq(ebpfaccel_auto_policy__feed(ap, 9000, &bulk_text), 1);
	ck_assert(decision_of(ap).compress);
	ck_assert_int_eq(applied_on, 1);

	/* Between the thresholds: stays on (would not have turned on). */
	borderline.sample_ratio = 1.3;
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(ebpfaccel_auto_policy__feed(ap, 9000, &borderline), 0);
	ck_assert(decision_of(ap).compress);

	/* Idle intervals neither count nor reset. */
	{
		struct ebpfaccel_auto_sample idle = { .duration_ns = 100000000, .entropy = -1 };

		ck_assert_int_eq(ebpfaccel_auto_policy__feed(ap, 9000, &bulk_random), 0);
		ck_assert_int_eq(ebpfaccel_auto_policy__feed(ap, 9000, &idle), 0);
		ck_assert_int_eq(ebpfaccel_auto_policy__feed(ap, 9000, &bulk_random), 0);
		ck_assert_int_eq(ebpfaccel_auto_policy__feed(ap, 9000, &bulk_random), 1);
	}
	ck_assert(!decision_of(ap).compress);
	ck_assert_int_eq(decision_of(ap).reason, EBPFACCEL_AUTO_INCOMPRESSIBLE);
	ck_assert_uint_eq(decision_of(ap).changes, 2);
	ck_assert_int_eq(applied_off, 2);
	ebpfaccel_auto_policy__free(ap);
}
END_TEST

START_TEST(policy_refuses_bad_input)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, inverted, .on_ratio = 1.1, .off_ratio = 1.4);
	LIBEBPFACCEL_OPTS(ebpfaccel_auto_policy_opts, algo, .algo = 77);
	struct ebpfaccel_auto_policy *ap = fed_policy(1);
	struct ebpfaccel_auto_decision d;

	ck_assert_ptr_null(ebpfaccel_auto_policy__new(NULL, &inverted));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(ebpfaccel_auto_policy__new(NULL, &algo));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(ebpfaccel_auto_policy__update(ap), -EINVAL);
	ck_assert_int_eq(ebpfaccel_auto_policy__feed(ap, 1, NULL), -EINVAL);
	ck_assert_int_eq(ebpfaccel_auto_policy__decision(ap, 1, &d), -ENOENT);
	ck_assert_ptr_null(ebpfaccel_auto_reason__name(__EBPFACCEL_AUTO_REASON_MAX));
	ck_assert_str_eq(ebpfaccel_auto_reason__name(EBPFACCEL_AUTO_LATENCY_BOUND), "latency-bound");
	ebpfaccel_auto_policy__free(ap);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("auto_policy");
	TCase *traffic = tcase_create("traffic");
	TCase *fed = tcase_create("fed");

	tcase_add_checked_fixture(traffic, NULL, teardown);
	tcase_set_timeout(traffic, 90);
	tcase_add_loop_test(traffic, bulk_text_turns_on, 0, 3);
	tcase_add_test(traffic, random_data_stays_off);
	tcase_add_test(traffic, small_request_response_is_latency_bound);
	tcase_add_test(traffic, decision_follows_the_data);
	tcase_add_test(traffic, rate_above_comp_speed_stays_off);
	tcase_add_test(traffic, engine_ratio_stands_in_while_on);
	tcase_add_test(traffic, speed_follows_the_data);
	tcase_add_test(traffic, choose_ratios_come_from_a_stretch);
	tcase_add_test(traffic, short_flow_is_decided_while_it_lasts);
	tcase_add_test(traffic, off_verdict_says_stretches_are_to_come);
	suite_add_tcase(s, traffic);

	tcase_add_test(fed, alternating_data_does_not_flap);
	tcase_add_test(fed, flips_after_hold_intervals);
	tcase_add_test(fed, policy_refuses_bad_input);
	suite_add_tcase(s, fed);
	return s;
}

int main(void)
{
	fx_require_root();
	return fx_run_suite(suite());
}
