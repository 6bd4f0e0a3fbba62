// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Guest test: records built by hand that break uapi.h's rules end the
 * connection with EBADMSG — bad header fields, lengths over the bounds,
 * payloads that do not decode or decode to another length, checksum
 * mismatches, a stream that stops inside a record — after the valid data
 * before them has been delivered, and the error stays.
 */
#include <errno.h>
#include <lz4.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#include "guest.h"
#include "urec.h"

struct bad {
	const char *what;
	uint8_t bytes[512];
	size_t len;
	int close_after;	/* the peer closes right after the bytes */
};

static void expect_ebadmsg(const struct bad *b)
{
	struct tcp_comp_params p = guest_params(TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_BLOCK, 0, 0, 0);
	uint8_t good[TCP_COMP_REC_HDR_LEN + 5], buf[64];
	struct tcp_comp_stats st;
	struct pollfd pfd;
	int cli, srv;
	ssize_t n;

	guest_tcp_pair(AF_INET, &cli, &srv);
	guest_ulp(srv);
	guest_comp(srv, TCP_COMP_RX, &p);

	/* a valid record first: its data must still arrive */
	urec_hdr(good, TCP_COMP_ALGO_NONE, TCP_COMP_REC_F_RAW, 5, 5);
	memcpy(good + TCP_COMP_REC_HDR_LEN, "valid", 5);
	guest_write_all(cli, good, sizeof(good));
	guest_write_all(cli, b->bytes, b->len);
	if (b->close_after)
		close(cli);

	n = recv(srv, buf, sizeof(buf), 0);
	CHECK(n == 5 && !memcmp(buf, "valid", 5), "%s: valid data, recv %zd (%m)", b->what, n);
	pfd = (struct pollfd){ .fd = srv, .events = POLLIN };
	CHECK(poll(&pfd, 1, 10000) == 1 && (pfd.revents & (POLLERR | POLLIN)), "%s: poll %#x",
	      b->what, pfd.revents);
	errno = 0;
	CHECK(recv(srv, buf, sizeof(buf), 0) == -1 && errno == EBADMSG, "%s: want EBADMSG, got %m",
	      b->what);
	CHECK(recv(srv, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EBADMSG, "%s: error not sticky (%m)",
	      b->what);
	st = guest_stats(srv);
	CHECK(st.rx_errors == 1 && st.rx_records == 1, "%s: stats errors %llu records %llu", b->what,
	      (unsigned long long)st.rx_errors, (unsigned long long)st.rx_records);
	if (!b->close_after)
		close(cli);
	close(srv);
	printf("ok EBADMSG: %s\n", b->what);
}

static struct bad hdr_only(const char *what, int algo, int flags, uint32_t orig, uint32_t wire)
{
	struct bad b = { .what = what, .len = TCP_COMP_REC_HDR_LEN + 8 };

	urec_hdr(b.bytes, algo, flags, orig, wire);
	return b;
}

static struct bad with_payload(const char *what, int algo, int flags, uint32_t orig,
			       const void *payload, size_t wire)
{
	struct bad b = { .what = what, .len = TCP_COMP_REC_HDR_LEN + wire };

	urec_hdr(b.bytes, algo, flags, orig, wire);
	memcpy(b.bytes + TCP_COMP_REC_HDR_LEN, payload, wire);
	return b;
}

int main(void)
{
	static const char text[] = "abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc";
	uint8_t z[256], l[256];
	size_t zn, ln;
	struct bad b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	b = hdr_only("bad magic", 0, TCP_COMP_REC_F_RAW, 4, 4);
	b.bytes[0] = 0xEB;
	expect_ebadmsg(&b);
	b = hdr_only("bad type", 0, TCP_COMP_REC_F_RAW, 4, 4);
	b.bytes[1] = 2;
	expect_ebadmsg(&b);
	expect_ebadmsg((b = hdr_only("unknown flag", 0, TCP_COMP_REC_F_RAW | 0x80, 4, 4), &b));
	expect_ebadmsg((b = hdr_only("unknown algorithm", 3, 0, 4, 4), &b));
	expect_ebadmsg((b = hdr_only("orig_len 0", 0, TCP_COMP_REC_F_RAW, 0, 0), &b));
	expect_ebadmsg((b = hdr_only("orig_len over TCP_COMP_MAX_RECORD", TCP_COMP_ALGO_ZSTD, 0,
				     TCP_COMP_MAX_RECORD + 1, 10), &b));
	expect_ebadmsg((b = hdr_only("wire_len over TCP_COMP_MAX_WIRE", TCP_COMP_ALGO_ZSTD, 0, 100,
				     TCP_COMP_MAX_WIRE + 1), &b));
	expect_ebadmsg((b = hdr_only("wire_len 4 GiB", TCP_COMP_ALGO_ZSTD, 0, 100, 0xffffffffU), &b));
	expect_ebadmsg((b = hdr_only("raw record with wire_len != orig_len", 0, TCP_COMP_REC_F_RAW, 8, 4), &b));
	expect_ebadmsg((b = hdr_only("raw record naming an algorithm", TCP_COMP_ALGO_LZ4,
				     TCP_COMP_REC_F_RAW, 8, 8), &b));
	expect_ebadmsg((b = with_payload("zstd garbage", TCP_COMP_ALGO_ZSTD, 0, 100, text, 40), &b));
	expect_ebadmsg((b = with_payload("lz4 garbage", TCP_COMP_ALGO_LZ4, 0, 100, "\xff\xff\xff\xff\xff\xff", 6), &b));

	zn = ZSTD_compress(z, sizeof(z), text, sizeof(text), 3);
	ln = LZ4_compress_default(text, (char *)l, sizeof(text), sizeof(l));
	CHECK(!ZSTD_isError(zn) && ln > 0, "reference compression");
	expect_ebadmsg((b = with_payload("zstd decodes to more than orig_len", TCP_COMP_ALGO_ZSTD, 0,
					 sizeof(text) - 10, z, zn), &b));
	expect_ebadmsg((b = with_payload("zstd decodes to less than orig_len", TCP_COMP_ALGO_ZSTD, 0,
					 sizeof(text) + 10, z, zn), &b));
	expect_ebadmsg((b = with_payload("lz4 decodes to more than orig_len", TCP_COMP_ALGO_LZ4, 0,
					 sizeof(text) - 10, l, ln), &b));
	expect_ebadmsg((b = with_payload("zstd frame cut short", TCP_COMP_ALGO_ZSTD, 0,
					 sizeof(text), z, zn - 2), &b));
	/* an LZ4 stream record whose only matches are in history the stream
	 * never had (random bytes: nothing repeats inside the record) */
	{
		char dict[128], lzs[256], check[128];
		LZ4_stream_t *s = LZ4_createStream();
		int n;

		guest_fill((uint8_t *)dict, sizeof(dict), 0, 5);
		LZ4_loadDict(s, dict, sizeof(dict));
		n = LZ4_compress_fast_continue(s, dict, lzs, sizeof(dict), sizeof(lzs), 1);
		CHECK(n > 0 && n < 64, "lz4 stream reference: %d", n);
		CHECK(LZ4_decompress_safe(lzs, check, n, sizeof(check)) < 0, "record decodes alone");
		LZ4_freeStream(s);
		expect_ebadmsg((b = with_payload("lz4 stream without its history", TCP_COMP_ALGO_LZ4,
						 TCP_COMP_REC_F_STREAM, sizeof(dict), lzs, n), &b));
	}
	b = with_payload("checksum mismatch", 0, TCP_COMP_REC_F_RAW | TCP_COMP_REC_F_CHECKSUM, 4,
			 "\0\0\0\0data", 8);
	b.bytes[8 + 3] = 4;	/* wire_len excludes the checksum */
	b.len = TCP_COMP_REC_HDR_LEN + 4 + 4;
	expect_ebadmsg(&b);
	b = hdr_only("stream ends inside a record", 0, TCP_COMP_REC_F_RAW, 100, 100);
	b.close_after = 1;
	expect_ebadmsg(&b);
	return 0;
}
