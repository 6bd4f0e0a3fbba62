// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kmod/xxh3.h, the module's XXH3-64 (record format 2), against libxxhash's
 * XXH3_64bits_withSeed: every length 0..4096 (each size class and every
 * stripe/block boundary of the long path) and random lengths up to the
 * largest record payload, random seeds, unaligned inputs.
 */
#include <check.h>
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include <ebpfaccel/uapi.h>

#define XXH3_U8 uint8_t
#define XXH3_U32 uint32_t
#define XXH3_U64 uint64_t
#define XXH3_SIZE size_t
static inline uint32_t read32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t read64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}
#define XXH3_READ32(p) read32(p)
#define XXH3_READ64(p) read64(p)
#include "../kmod/xxh3.h"
#include "fixtures.h"

/* +1: inputs also start at an odd address */
#define BUF_LEN (TCP_COMP_MAX_WIRE + 1)

static uint8_t *buf;
static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t next_rand(void)
{
	/* xorshift64*: reproducible from the fixed start */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static void setup(void)
{
	size_t i;

	buf = malloc(BUF_LEN);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < BUF_LEN; i++)
		buf[i] = (uint8_t)next_rand();
}

static void teardown(void)
{
	free(buf);
}

static void check_one(const uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t want = XXH3_64bits_withSeed(p, len, seed);
	uint64_t got = xxh3_64_seed(p, len, seed);

	ck_assert_msg(got == want, "len %zu seed %#llx: %#llx, libxxhash %#llx", len,
		      (unsigned long long)seed, (unsigned long long)got, (unsigned long long)want);
}

/* every length of the short, middle and first long-path blocks */
START_TEST(every_length_to_4096)
{
	static const uint64_t seeds[] = { 0, 1, 0xffffffffffffffffULL, 0x0102030405060708ULL };
	size_t len, s;

	for (len = 0; len <= 4096; len++) {
		for (s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++)
			check_one(buf, len, seeds[s]);
		check_one(buf + 1, len, next_rand());
	}
}
END_TEST

START_TEST(random_lengths_to_max_wire)
{
	int i;

	for (i = 0; i < 2000; i++) {
		size_t len = next_rand() % (TCP_COMP_MAX_WIRE + 1);

		check_one(buf + (i & 1), len, next_rand());
	}
	check_one(buf, TCP_COMP_MAX_WIRE, next_rand());
	check_one(buf, TCP_COMP_MAX_RECORD, next_rand());
}
END_TEST

/* the record seed packs header fields: high bits set in every byte */
START_TEST(record_seeds)
{
	static const size_t lens[] = { 1, 5, 12, 100, 200, 65536, TCP_COMP_MAX_WIRE };
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint64_t seed = (uint64_t)TCP_COMP_ALGO_LZ4 << 56 |
				(uint64_t)(TCP_COMP_REC_F_XXH3 | TCP_COMP_REC_F_STREAM) << 48 |
				(uint64_t)TCP_COMP_MAX_RECORD << 24 | lens[i];

		check_one(buf, lens[i], seed);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("xxh3");
	TCase *tc = tcase_create("xxh3");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_length_to_4096);
	tcase_add_test(tc, random_lengths_to_max_wire);
	tcase_add_test(tc, record_seeds);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
