// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bpf/redis/resp.h on the host: the same scanners the BPF programs run, fed in
 * every chunk size from 1 byte to RESP_CHUNK, must report the same events. */
#include <check.h>
#include <stdlib.h>
#include "fixtures.h"
#include "resp_drive.h"
#include "redis/resp_subcmd.h"

typedef void (*resp_driver)(const unsigned char *, size_t, size_t, struct resp_log *);

/* Events for @in must be @want at every chunk size. */
static void scan_is(resp_driver drive, const char *in, size_t len, const char *want)
{
	struct resp_log l;

	for (size_t chunk = 1; chunk <= RESP_CHUNK; chunk++) {
		drive((const unsigned char *)in, len, chunk, &l);
		l.text[l.len] = 0;
		ck_assert_msg(!strcmp(l.text, want), "chunk %zu: got '%s' want '%s'",
			      chunk, l.text, want);
	}
}

#define REQ(in, want) scan_is(resp_drive_req, in, sizeof(in) - 1, want)
#define REP(in, want) scan_is(resp_drive_rep, in, sizeof(in) - 1, want)

START_TEST(request_commands_and_captures)
{
	REQ("*2\r\n$3\r\nget\r\n$3\r\nkey\r\n", "REQ:GET:key::2|");
	REQ("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n", "REQ:SET:k:VALUE:3|");
	REQ("*1\r\n$4\r\nPING\r\n*2\r\n$6\r\nselect\r\n$1\r\n3\r\n",
	    "REQ:PING:::1|REQ:SELECT:3::2|");
	/* binary-safe key, later arguments skipped whatever they hold */
	REQ("*4\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n$2\r\nEX\r\n$6\r\n*1\r\n$0\r\n",
	    "REQ:SET:a\r\nb:EX:4|");
	REQ("*1\r\n$0\r\n\r\n", "REQ::::1|");
}
END_TEST

START_TEST(request_limits)
{
	char big[300];
	size_t n;
	struct resp_log l;

	/* a key longer than RESP_KEY_MAX is flagged, not overrun */
	n = snprintf(big, sizeof(big), "*2\r\n$3\r\nGET\r\n$100\r\n");
	memset(big + n, 'x', 100);
	memcpy(big + n + 100, "\r\n", 2);
	resp_drive_req((const unsigned char *)big, n + 102, 7, &l);
	ck_assert(!l.bad);
	{
		struct resp_req r;
		__u32 pos = 0;
		size_t off = 0;
		int ev = RESP_MORE;

		resp_req_reset(&r);
		while (off < n + 102 && ev != RESP_DONE) {
			__u32 len = n + 102 - off < RESP_CHUNK ? n + 102 - off : RESP_CHUNK;

			pos = 0;
			while (pos < len && (ev = resp_req_feed(&r, (const __u8 *)big + off, len, &pos)) == RESP_MORE)
				;
			off += pos;
		}
		ck_assert_int_eq(ev, RESP_DONE);
		ck_assert(r.flags & RESP_REQ_KEY_LONG);
		ck_assert_int_eq(r.key_len, RESP_KEY_MAX);
	}
}
END_TEST

START_TEST(request_malformed)
{
	REQ("GET k\r\n", "BAD:|");			/* inline: not tracked */
	REQ("*0\r\n", "BAD:|");			/* Redis answers nothing */
	REQ("*1\r\n$-1\r\n", "BAD:|");
	REQ("*1\r\n$x\r\n", "BAD:|");
	REQ("*1\r\n$1000000000\r\n", "BAD:|");	/* over RESP_NUM_MAX */
	REQ("*1\r\n$1\r\nab\r\n", "BAD:|");		/* payload longer than said */
	REQ("*\r\n", "BAD:|");
	REQ("*1\n", "BAD:|");
}
END_TEST

START_TEST(reply_boundaries)
{
	REP("+OK\r\n-ERR x\r\n:-1\r\n", "R+:|R-:|R::|");
	REP("$5\r\nhello\r\n$-1\r\n$0\r\n\r\n", "B5:|R$:|R$:|B0:|R$:|");
	REP("*2\r\n$1\r\na\r\n*1\r\n:1\r\n*0\r\n*-1\r\n", "R*:|R*:|R*:|");
	/* RESP3 */
	REP("%1\r\n+a\r\n_\r\n~2\r\n,1.5\r\n#t\r\n_\r\n(123\r\n=7\r\ntxt:abc\r\n",
	    "R%:|R~:|R_:|R(:|B7:|R=:|");
	/* values that look like RESP are skipped as payload */
	REP("$7\r\n+OK\r\n:1\r\n+OK\r\n", "B7:|R$:|R+:|");
}
END_TEST

START_TEST(reply_pushes)
{
	REP(">2\r\n$10\r\ninvalidate\r\n*2\r\n$1\r\na\r\n$4\r\nb\r\nc\r\n+OK\r\n",
	    "K:a|K:b\r\nc|P:|R+:|");
	REP(">2\r\n$10\r\ninvalidate\r\n_\r\n", "ALL:|P:|");
	REP(">2\r\n$10\r\ninvalidate\r\n*-1\r\n", "ALL:|P:|");
	/* other pushes are not replies and carry no keys */
	REP(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n:1\r\n", "P:|R::|");
	/* a push inside a reply is not RESP, at any depth */
	REP("*1\r\n>1\r\n+x\r\n", "BAD:|");
	REP("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n>1\r\n+x\r\n", "BAD:|");
	/* an attribute would move the push's name; a nested key list would
	 * hide keys: both are refused, never half-applied */
	REP(">2\r\n|1\r\n+a\r\n+b\r\n$10\r\ninvalidate\r\n_\r\n", "BAD:|");
	REP(">2\r\n$10\r\ninvalidate\r\n*1\r\n*1\r\n$1\r\na\r\n", "BAD:|");
	/* other pushes may hold anything, to any depth */
	REP(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n*1\r\n%1\r\n~1\r\n*2\r\n"
	    "*1\r\n*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n$1\r\nx\r\n+v\r\n"
	    ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n",
	    "P:|K:k|P:|");
}
END_TEST

/* "*1\r\n" @levels times around ":1\r\n", then "+OK\r\n", in @buf. */
static size_t nested(char *buf, size_t size, const char *open, int levels)
{
	size_t n = 0, o = strlen(open);

	for (int i = 0; i < levels; i++) {
		ck_assert(n + o + 16 < size);
		memcpy(buf + n, open, o);
		n += o;
	}
	memcpy(buf + n, ":1\r\n+OK\r\n", 9);
	return n + 9;
}

START_TEST(reply_any_depth)
{
	static char buf[16384];
	char want[16];
	struct resp_log l;

	/* around the stack's edge, where a closing element ends every level */
	for (int levels = 1; levels <= 3 * RESP_DEPTH; levels++) {
		size_t n = nested(buf, sizeof(buf), "*1\r\n", levels);

		for (size_t chunk = 1; chunk <= RESP_CHUNK; chunk++) {
			resp_drive_rep((const unsigned char *)buf, n, chunk, &l);
			l.text[l.len] = 0;
			ck_assert_msg(!strcmp(l.text, "R*:|R+:|"), "%d levels, chunk %zu: '%s'",
				      levels, chunk, l.text);
		}
	}
	/* far below it: maps, sets and attributes count like arrays */
	scan_is(resp_drive_rep, buf, nested(buf, sizeof(buf), "*1\r\n", 1000), "R*:|R+:|");
	scan_is(resp_drive_rep, buf, nested(buf, sizeof(buf), "%1\r\n+k\r\n", 500), "R%:|R+:|");
	scan_is(resp_drive_rep, buf, nested(buf, sizeof(buf), "~1\r\n", 1000), "R~:|R+:|");
	scan_is(resp_drive_rep, buf, nested(buf, sizeof(buf), "|1\r\n+a\r\n+b\r\n", 500), "R|:|R+:|");
	/* elements after a deep one at every stacked level are still counted */
	REP("*3\r\n*2\r\n*2\r\n*1\r\n*2\r\n*1\r\n:1\r\n$3\r\n*1:\r\n_\r\n*0\r\n"
	    "*-1\r\n%0\r\n~0\r\n+x\r\n:2\r\n",
	    "R*:|R~:|R+:|R::|");
	REP("*1\r\n*1\r\n*1\r\n*1\r\n*3\r\n*2\r\n:1\r\n*0\r\n*-1\r\n%1\r\n_\r\n"
	    "*1\r\n*1\r\n+v\r\n$2\r\nok\r\n",
	    "R*:|B2:|R$:|");
	/* an attribute at the top annotates the reply that follows */
	REP("|1\r\n+a\r\n+b\r\n+OK\r\n", "R|:|");
	REP("|0\r\n$1\r\nv\r\n:3\r\n", "R|:|R::|");
	/* a deep reply followed by an invalidation: the push is still read */
	snprintf(want, sizeof(want), "R*:|K:a|P:|");
	{
		size_t n = nested(buf, sizeof(buf), "*1\r\n", 64) - 5;
		const char *push = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n";

		memcpy(buf + n, push, strlen(push));
		scan_is(resp_drive_rep, buf, n + strlen(push), want);
	}
}
END_TEST

/* ---- generated replies: random shapes of any depth, whose events are known
 * from how they were built ---- */

struct gen {
	char buf[12288];
	size_t len;
	struct resp_log want;
	unsigned int seed;
};

static unsigned int gen_rand(struct gen *g, unsigned int n)
{
	g->seed = g->seed * 1103515245u + 12345u;
	return (g->seed >> 16) % n;
}

static void gen_put(struct gen *g, const char *s, size_t n)
{
	ck_assert(g->len + n < sizeof(g->buf));
	memcpy(g->buf + g->len, s, n);
	g->len += n;
}

static void gen_fmt(struct gen *g, char type, long n)
{
	char line[32];

	gen_put(g, line, snprintf(line, sizeof(line), "%c%ld\r\n", type, n));
}

/* A bulk-like payload that looks like RESP itself. */
static size_t gen_bulk(struct gen *g, char type)
{
	static const char junk[] = "*3\r\n>1\r\n$-1\r\n|";
	size_t n = gen_rand(g, sizeof(junk));

	gen_fmt(g, type, (long)n);
	gen_put(g, junk, n);
	gen_put(g, "\r\n", 2);
	return n;
}

/* One element whose subtree goes at most @depth levels further down. */
static void gen_elem(struct gen *g, int depth)
{
	static const char scalars[] = "+-:_,#(";
	static const char aggs[] = "*%~|";
	unsigned int n, k = gen_rand(g, depth > 0 ? 10 : 4);

	if (k < 3) {
		char c = scalars[gen_rand(g, sizeof(scalars) - 1)];

		gen_put(g, &c, 1);
		gen_put(g, c == '_' ? "\r\n" : "1\r\n", c == '_' ? 2 : 3);
		return;
	}
	if (k == 3) {
		gen_bulk(g, "$!="[gen_rand(g, 3)]);
		return;
	}
	/* mostly one element (a deep chain), sometimes none, a null or more */
	n = gen_rand(g, 8);
	n = n < 4 ? 1 : n - 4;
	k = gen_rand(g, sizeof(aggs) - 1);
	if (n == 3 && aggs[k] != '|') {
		gen_fmt(g, aggs[k], -1);
		return;
	}
	gen_fmt(g, aggs[k], n);
	for (unsigned int i = 0; i < (aggs[k] == '%' || aggs[k] == '|' ? 2 * n : n); i++)
		gen_elem(g, depth - 1);
	if (aggs[k] == '|')
		gen_elem(g, depth - 1);
}

/* A top-level reply or push of any depth, and the events it must give. */
static void gen_top(struct gen *g, int depth)
{
	char t[16];
	size_t at = g->len;

	switch (gen_rand(g, 6)) {
	case 0:
		snprintf(t, sizeof(t), "B%zu", gen_bulk(g, '$'));
		resp_log_add(&g->want, t, "", 0);
		resp_log_add(&g->want, "R$", "", 0);
		return;
	case 1:
		gen_put(g, ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n", 24);
		gen_elem(g, depth);
		resp_log_add(&g->want, "P", "", 0);
		return;
	case 2:
		gen_put(g, ">2\r\n$10\r\ninvalidate\r\n*2\r\n$1\r\nx\r\n$2\r\nyz\r\n", 40);
		resp_log_add(&g->want, "K", "x", 1);
		resp_log_add(&g->want, "K", "yz", 2);
		resp_log_add(&g->want, "P", "", 0);
		return;
	}
	gen_elem(g, depth);
	t[0] = 'R';
	t[1] = g->buf[at];
	t[2] = 0;
	if (t[1] == '$' || t[1] == '!' || t[1] == '=') {
		/* top-level bulks report their length first */
		int n = atoi(g->buf + at + 1);

		if (n >= 0) {
			snprintf(t, sizeof(t), "B%d", n);
			resp_log_add(&g->want, t, "", 0);
			t[0] = 'R';
			t[1] = g->buf[at];
			t[2] = 0;
		}
	}
	resp_log_add(&g->want, t, "", 0);
}

START_TEST(reply_generated)
{
	static struct gen g;
	struct resp_log l;

	for (unsigned int seed = 1; seed <= 200; seed++) {
		memset(&g, 0, sizeof(g));
		g.seed = seed;
		while (g.len < 1024 && g.want.len < sizeof(g.want.text) - 512)
			gen_top(&g, 1 + (int)gen_rand(&g, 4 * RESP_DEPTH));
		g.want.text[g.want.len] = 0;
		for (size_t chunk = 1; chunk <= RESP_CHUNK; chunk += seed % 7 + 1) {
			resp_drive_rep((unsigned char *)g.buf, g.len, chunk, &l);
			l.text[l.len] = 0;
			ck_assert_msg(!strcmp(l.text, g.want.text),
				      "seed %u chunk %zu: got '%s' want '%s'",
				      seed, chunk, l.text, g.want.text);
		}
		if (seed % 40)
			continue;
		/* cut at every byte: no false alarm, only events already due */
		for (size_t cut = 0; cut < g.len; cut++) {
			resp_drive_rep((unsigned char *)g.buf, cut, 1 + cut % RESP_CHUNK, &l);
			ck_assert_msg(!l.bad && l.len <= g.want.len &&
				      !memcmp(l.text, g.want.text, l.len),
				      "seed %u cut at %zu", seed, cut);
		}
	}
}
END_TEST

START_TEST(reply_malformed)
{
	REP("$?\r\n", "BAD:|");					/* streamed */
	REP("$-2\r\n", "BAD:|");
	REP("$1\r\nab\r\n", "B1:|BAD:|");
	REP("?\r\n", "BAD:|");
	REP("|-1\r\n", "BAD:|");
	/* deep inside, bad input is still found */
	REP("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n$-2\r\n", "BAD:|");
	REP("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*2\r\n$1\r\nab\r\n", "BAD:|");
	REP("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1000000000\r\n", "BAD:|");
}
END_TEST

/* The one request in @in, scanned whole. */
static struct resp_req one_request(const char *in)
{
	struct resp_buf c = { 0 };
	struct resp_req r;
	size_t n = strlen(in);

	ck_assert_uint_le(n, sizeof(c.data));
	resp_req_reset(&r);
	memcpy(c.data, in, n);
	c.len = n;
	while (c.pos < n)
		if (resp_req_feed_buf(&r, &c) == RESP_DONE)
			return r;
	ck_abort_msg("no complete request in %s", in);
	return r;
}

#define READS(fn, in, want) do { \
	struct resp_req req_ = one_request(in); \
	ck_assert_msg(fn(&req_) == (want), "%s(%s) should be %d", #fn, in, want); \
} while (0)

/* The server's and the near cache's programs share these: a read that is
 * taken for a change only costs a flush, a change taken for a read serves
 * stale answers. */
START_TEST(subcommands_that_read)
{
	READS(reconf_reads, "*3\r\n$6\r\nconfig\r\n$3\r\nget\r\n$6\r\nmaxmem\r\n", 1);
	READS(reconf_reads, "*2\r\n$6\r\nCONFIG\r\n$4\r\nHelp\r\n", 1);
	READS(reconf_reads, "*2\r\n$6\r\nMODULE\r\n$4\r\nLIST\r\n", 1);
	READS(reconf_reads, "*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n", 0);
	READS(reconf_reads, "*2\r\n$6\r\nCONFIG\r\n$9\r\nRESETSTAT\r\n", 0);
	READS(reconf_reads, "*2\r\n$6\r\nCONFIG\r\n$4\r\nGETX\r\n", 0);
	/* a host name, not a subcommand */
	READS(reconf_reads, "*3\r\n$9\r\nREPLICAOF\r\n$4\r\nlist\r\n$4\r\n6379\r\n", 0);
	READS(reconf_reads, "*3\r\n$7\r\nSLAVEOF\r\n$3\r\nGET\r\n$4\r\n6379\r\n", 0);
	READS(reconf_reads, "*2\r\n$5\r\nDEBUG\r\n$4\r\nHELP\r\n", 0);
	READS(admin_reads, "*2\r\n$3\r\nacl\r\n$6\r\nwhoami\r\n", 1);
	READS(admin_reads, "*3\r\n$3\r\nACL\r\n$7\r\nGETUSER\r\n$1\r\nu\r\n", 1);
	READS(admin_reads, "*3\r\n$3\r\nACL\r\n$7\r\nSETUSER\r\n$1\r\nu\r\n", 0);
	READS(admin_reads, "*2\r\n$3\r\nACL\r\n$4\r\nLOAD\r\n", 0);
	READS(admin_reads, "*2\r\n$6\r\nCONFIG\r\n$4\r\nLIST\r\n", 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("resp");
	TCase *tc = tcase_create("resp");

	/* the generated cases cut their streams at every byte */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, request_commands_and_captures);
	tcase_add_test(tc, request_limits);
	tcase_add_test(tc, request_malformed);
	tcase_add_test(tc, reply_boundaries);
	tcase_add_test(tc, reply_pushes);
	tcase_add_test(tc, reply_any_depth);
	tcase_add_test(tc, reply_generated);
	tcase_add_test(tc, reply_malformed);
	tcase_add_test(tc, subcommands_that_read);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
