// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Guest test: records built by hand that break uapi.h's rules end the
 * connection with EBADMSG — bad header fields, lengths over the bounds,
 * payloads that do not decode or decode to another length, checksum
 * mismatches, a stream that stops inside a record — after the valid data
 * before them has been delivered, and the error stays.  In record format 1
 * and 2; format 2 also: records without their XXH3 or whose check, header
 * or payload was changed, and streams of valid format-2 records with random
 * bytes changed, which must never read as other bytes than were sent.
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
	int check = guest_format == TCP_COMP_VERSION_2 ? URC_FORMAT2 : URC_NONE;
	struct urec *u = urec_new(TCP_COMP_ALGO_NONE, TCP_COMP_MODE_BLOCK, 0, check);
	uint8_t good[TCP_COMP_REC_HDR_LEN + TCP_COMP_REC_XXH3_LEN + 5], buf[64];
	struct tcp_comp_stats st;
	struct pollfd pfd;
	int cli, srv;
	ssize_t n;

	guest_tcp_pair(AF_INET, &cli, &srv);
	guest_ulp(srv);
	guest_comp(srv, TCP_COMP_RX, &p);

	/* a valid record first: its data must still arrive */
	guest_write_all(cli, good, urec_encode(u, "valid", 5, good));
	urec_free(u);
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
	printf("ok EBADMSG (format %d): %s\n", guest_format, b->what);
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

/* A format-2 record of @len bytes of @src, encoded by urec. */
static struct bad format2_record(const char *what, int algo, int mode, const void *src, size_t len)
{
	struct urec *u = urec_new(algo, mode, 0, URC_FORMAT2);
	struct bad b = { .what = what };
	uint8_t *rec = malloc(urec_bound(len));

	CHECK(rec, "malloc");
	b.len = urec_encode(u, src, len, rec);
	CHECK(b.len <= sizeof(b.bytes), "record of %zu bytes", b.len);
	memcpy(b.bytes, rec, b.len);
	urec_free(u);
	free(rec);
	return b;
}

static void format2_cases(const char *text, size_t text_len)
{
	const size_t check_at = TCP_COMP_REC_HDR_LEN, payload_at = check_at + 8;
	struct bad b;

	guest_format = TCP_COMP_VERSION_2;
	/* a valid format-1 record is not one of format 2 */
	expect_ebadmsg((b = with_payload("format 1 record (no XXH3)", 0, TCP_COMP_REC_F_RAW, 4,
					 "data", 4), &b));
	b = format2_record("format 1's F_CHECKSUM", 0, 0, "data", 4);
	b.bytes[3] |= TCP_COMP_REC_F_CHECKSUM;
	expect_ebadmsg(&b);
	b = format2_record("XXH3 of another payload", TCP_COMP_ALGO_ZSTD, 0, text, text_len);
	b.bytes[payload_at + 5] ^= 0x40;
	expect_ebadmsg(&b);
	b = format2_record("check bytes changed", TCP_COMP_ALGO_LZ4, 0, text, text_len);
	b.bytes[check_at + 7] ^= 1;
	expect_ebadmsg(&b);
	/* a header change a decoder alone would not see: raw lengths agree */
	b = format2_record("header changed under its check", 0, TCP_COMP_MODE_STREAM, "data", 4);
	b.bytes[3] &= ~TCP_COMP_REC_F_STREAM;
	expect_ebadmsg(&b);
	/* the check passes, the decoder still refuses */
	{
		uint64_t x;
		int i;

		b = with_payload("zstd garbage with a valid XXH3", TCP_COMP_ALGO_ZSTD,
				 TCP_COMP_REC_F_XXH3, 100, "\0\0\0\0\0\0\0\0garbage!", 16);
		b.bytes[11] = 8;	/* wire_len excludes the check */
		x = urec_xxh3(b.bytes, b.bytes + payload_at);
		for (i = 7; i >= 0; i--, x >>= 8)
			b.bytes[check_at + i] = (uint8_t)x;
		expect_ebadmsg(&b);
	}
}

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/*
 * The hostile peer: valid format-2 streams (4 records, every
 * algorithm and mode, text-like or random) with 1..8 random bytes changed.
 * The reader gets a prefix of what was sent, then EBADMSG: never other
 * bytes, never a clean end.
 */
static void format2_mutations(int trials)
{
	struct tcp_comp_params p;
	static uint8_t data[4 * 6000], wire[4 * 6100], got[sizeof(data)];
	int t;

	for (t = 0; t < trials; t++) {
		int algo = t % 3, mode = (t / 3) % 2, i, cli, srv, nmut = 1 + rnd(8);
		struct urec *u = urec_new(algo, mode, 0, URC_FORMAT2);
		size_t len = 0, wlen = 0, off = 0;
		ssize_t n;

		guest_fill(data, sizeof(data), t % 7 != 6, t);
		for (i = 0; i < 4; i++) {
			size_t rl = 1 + rnd(6000);

			wlen += urec_encode(u, data + len, rl, wire + wlen);
			len += rl;
		}
		urec_free(u);
		for (i = 0; i < nmut; i++)
			wire[rnd(wlen)] ^= 1 + rnd(255);

		guest_format = TCP_COMP_VERSION_2;
		p = guest_params(algo, mode, 0, 0, 0);
		guest_tcp_pair(AF_INET, &cli, &srv);
		guest_ulp(srv);
		guest_comp(srv, TCP_COMP_RX, &p);
		guest_write_all(cli, wire, wlen);
		close(cli);
		while ((n = recv(srv, got + off, sizeof(got) - off, 0)) > 0)
			off += n;
		CHECK(n == -1 && errno == EBADMSG, "trial %d (%d bytes changed): %zd, %m", t, nmut, n);
		CHECK(off < len && !memcmp(got, data, off), "trial %d: %zu wrong bytes read", t, off);
		close(srv);
	}
	printf("ok format 2: %d streams with 1-8 random bytes changed: each read a prefix, then EBADMSG\n",
	       trials);
}

int main(void)
{
	static const char text[] = "abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc";
	uint8_t z[256], l[256];
	size_t zn, ln;
	struct bad b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* the hand-built records below are format 1's */
	guest_format = TCP_COMP_VERSION_1;
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

	format2_cases(text, sizeof(text));
	format2_mutations(300);
	return 0;
}
