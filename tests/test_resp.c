// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* bpf/redis/resp.h on the host: the same scanners the BPF programs run, fed in
 * every chunk size from 1 byte to RESP_CHUNK, must report the same events. */
#include <check.h>
#include <stdlib.h>
#include "resp_drive.h"

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
	/* a push inside a reply is not RESP */
	REP("*1\r\n>1\r\n+x\r\n", "BAD:|");
}
END_TEST

START_TEST(reply_malformed)
{
	REP("|1\r\n+a\r\n+b\r\n+OK\r\n", "BAD:|");		/* attributes */
	REP("$?\r\n", "BAD:|");					/* streamed */
	REP("$-2\r\n", "BAD:|");
	REP("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "BAD:|");
	REP("$1\r\nab\r\n", "B1:|BAD:|");
	REP("?\r\n", "BAD:|");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("resp");
	TCase *tc = tcase_create("resp");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, request_commands_and_captures);
	tcase_add_test(tc, request_limits);
	tcase_add_test(tc, request_malformed);
	tcase_add_test(tc, reply_boundaries);
	tcase_add_test(tc, reply_pushes);
	tcase_add_test(tc, reply_malformed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
