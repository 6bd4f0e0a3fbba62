/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * XXH3-64 with a seed, written from the XXH3 specification (xxHash's
 * doc/xxhash_spec.md), for record format 2 (include/ebpfaccel/uapi.h).
 * The kernel's lib/xxhash has XXH32 and XXH64 only.
 *
 * Plain C without headers, so that the module and user-space tests build
 * the same text.  The includer defines, before including it:
 *   XXH3_U8, XXH3_U32, XXH3_U64  unsigned types of exactly that width
 *   XXH3_SIZE                    the type of a length (size_t)
 *   XXH3_READ32(p), XXH3_READ64(p)
 *                                little-endian loads from any alignment
 * and gets one function, xxh3_64_seed() (static: one copy per includer).
 *
 * Scalar only: the module may not touch vector registers outside
 * kernel_fpu_begin(), and a record is at most TCP_COMP_MAX_WIRE bytes.
 */
#ifndef EBPFACCEL_XXH3_H
#define EBPFACCEL_XXH3_H

#define XXH3_P32_1 0x9E3779B1U
#define XXH3_P32_2 0x85EBCA77U
#define XXH3_P32_3 0xC2B2AE3DU
#define XXH3_P64_1 0x9E3779B185EBCA87ULL
#define XXH3_P64_2 0xC2B2AE3D27D4EB4FULL
#define XXH3_P64_3 0x165667B19E3779F9ULL
#define XXH3_P64_4 0x85EBCA77C2B2AE63ULL
#define XXH3_P64_5 0x27D4EB2F165667C5ULL
#define XXH3_MX1 0x165667919E3779F9ULL
#define XXH3_MX2 0x9FB21C651E98DF25ULL

#define XXH3_SECRET_LEN 192
#define XXH3_STRIPE_LEN 64
/* stripes per block: the secret advances 8 bytes per stripe */
#define XXH3_STRIPES ((XXH3_SECRET_LEN - XXH3_STRIPE_LEN) / 8)
#define XXH3_BLOCK_LEN (XXH3_STRIPE_LEN * XXH3_STRIPES)

/* The specification's default secret (kSecret). */
static const XXH3_U8 xxh3_secret[XXH3_SECRET_LEN] = {
	0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
	0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
	0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
	0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
	0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
	0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
	0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
	0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
	0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
	0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
	0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
	0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
};

static inline XXH3_U64 xxh3_rotl64(XXH3_U64 v, unsigned int r)
{
	return (v << r) | (v >> (64 - r));
}

static inline XXH3_U32 xxh3_swap32(XXH3_U32 v)
{
	return (v << 24) | ((v << 8) & 0xff0000U) | ((v >> 8) & 0xff00U) | (v >> 24);
}

static inline XXH3_U64 xxh3_swap64(XXH3_U64 v)
{
	return (XXH3_U64)xxh3_swap32((XXH3_U32)v) << 32 | xxh3_swap32((XXH3_U32)(v >> 32));
}

/* The 128-bit product of a and b, folded: low half XOR high half. */
static inline XXH3_U64 xxh3_mul_fold(XXH3_U64 a, XXH3_U64 b)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 p = (unsigned __int128)a * b;

	return (XXH3_U64)p ^ (XXH3_U64)(p >> 64);
#else
	XXH3_U64 lo_lo = (a & 0xffffffffU) * (b & 0xffffffffU);
	XXH3_U64 hi_lo = (a >> 32) * (b & 0xffffffffU);
	XXH3_U64 lo_hi = (a & 0xffffffffU) * (b >> 32);
	XXH3_U64 hi_hi = (a >> 32) * (b >> 32);
	XXH3_U64 cross = (lo_lo >> 32) + (hi_lo & 0xffffffffU) + lo_hi;
	XXH3_U64 hi = (hi_lo >> 32) + (cross >> 32) + hi_hi;
	XXH3_U64 lo = (cross << 32) | (lo_lo & 0xffffffffU);

	return lo ^ hi;
#endif
}

static inline XXH3_U64 xxh3_xxh64_avalanche(XXH3_U64 h)
{
	h ^= h >> 33;
	h *= XXH3_P64_2;
	h ^= h >> 29;
	h *= XXH3_P64_3;
	return h ^ (h >> 32);
}

static inline XXH3_U64 xxh3_avalanche(XXH3_U64 h)
{
	h ^= h >> 37;
	h *= XXH3_MX1;
	return h ^ (h >> 32);
}

static inline XXH3_U64 xxh3_rrmxmx(XXH3_U64 h, XXH3_U64 len)
{
	h ^= xxh3_rotl64(h, 49) ^ xxh3_rotl64(h, 24);
	h *= XXH3_MX2;
	h ^= (h >> 35) + len;
	h *= XXH3_MX2;
	return h ^ (h >> 28);
}

static inline XXH3_U64 xxh3_mix16(const XXH3_U8 *in, const XXH3_U8 *sec, XXH3_U64 seed)
{
	return xxh3_mul_fold(XXH3_READ64(in) ^ (XXH3_READ64(sec) + seed),
			     XXH3_READ64(in + 8) ^ (XXH3_READ64(sec + 8) - seed));
}

static XXH3_U64 xxh3_len_0to3(const XXH3_U8 *in, XXH3_SIZE len, XXH3_U64 seed)
{
	XXH3_U32 combined;

	if (!len)
		return xxh3_xxh64_avalanche(seed ^ XXH3_READ64(xxh3_secret + 56) ^
					    XXH3_READ64(xxh3_secret + 64));
	combined = (XXH3_U32)in[0] << 16 | (XXH3_U32)in[len >> 1] << 24 | in[len - 1] |
		   (XXH3_U32)len << 8;
	return xxh3_xxh64_avalanche(combined ^ ((XXH3_U64)(XXH3_READ32(xxh3_secret) ^
							     XXH3_READ32(xxh3_secret + 4)) + seed));
}

static XXH3_U64 xxh3_len_4to8(const XXH3_U8 *in, XXH3_SIZE len, XXH3_U64 seed)
{
	XXH3_U64 flip, v;

	seed ^= (XXH3_U64)xxh3_swap32((XXH3_U32)seed) << 32;
	flip = (XXH3_READ64(xxh3_secret + 8) ^ XXH3_READ64(xxh3_secret + 16)) - seed;
	v = XXH3_READ32(in + len - 4) + ((XXH3_U64)XXH3_READ32(in) << 32);
	return xxh3_rrmxmx(v ^ flip, len);
}

static XXH3_U64 xxh3_len_9to16(const XXH3_U8 *in, XXH3_SIZE len, XXH3_U64 seed)
{
	XXH3_U64 lo = XXH3_READ64(in) ^
		      ((XXH3_READ64(xxh3_secret + 24) ^ XXH3_READ64(xxh3_secret + 32)) + seed);
	XXH3_U64 hi = XXH3_READ64(in + len - 8) ^
		      ((XXH3_READ64(xxh3_secret + 40) ^ XXH3_READ64(xxh3_secret + 48)) - seed);

	return xxh3_avalanche(len + xxh3_swap64(lo) + hi + xxh3_mul_fold(lo, hi));
}

/* 17..128 bytes: pairs of 16-byte lanes from both ends toward the middle */
static XXH3_U64 xxh3_len_17to128(const XXH3_U8 *in, XXH3_SIZE len, XXH3_U64 seed)
{
	XXH3_U64 acc = len * XXH3_P64_1;
	XXH3_SIZE pairs = (len - 1) / 32, i;

	for (i = 0; i <= pairs; i++) {
		acc += xxh3_mix16(in + 16 * i, xxh3_secret + 32 * i, seed);
		acc += xxh3_mix16(in + len - 16 * (i + 1), xxh3_secret + 32 * i + 16, seed);
	}
	return xxh3_avalanche(acc);
}

static XXH3_U64 xxh3_len_129to240(const XXH3_U8 *in, XXH3_SIZE len, XXH3_U64 seed)
{
	XXH3_U64 acc = len * XXH3_P64_1;
	XXH3_SIZE i;

	for (i = 0; i < 8; i++)
		acc += xxh3_mix16(in + 16 * i, xxh3_secret + 16 * i, seed);
	acc = xxh3_avalanche(acc);
	/* later lanes reuse the secret from offset 3; the last lane, from the
	 * input's end, takes the secret at 136 - 17 */
	for (i = 8; i < len / 16; i++)
		acc += xxh3_mix16(in + 16 * i, xxh3_secret + 16 * (i - 8) + 3, seed);
	acc += xxh3_mix16(in + len - 16, xxh3_secret + 136 - 17, seed);
	return xxh3_avalanche(acc);
}

static inline void xxh3_accumulate(XXH3_U64 *acc, const XXH3_U8 *in, const XXH3_U8 *sec)
{
	int i;

	for (i = 0; i < 8; i++) {
		XXH3_U64 v = XXH3_READ64(in + 8 * i);
		XXH3_U64 k = v ^ XXH3_READ64(sec + 8 * i);

		acc[i ^ 1] += v;
		acc[i] += (k & 0xffffffffU) * (k >> 32);
	}
}

static inline void xxh3_scramble(XXH3_U64 *acc, const XXH3_U8 *sec)
{
	int i;

	for (i = 0; i < 8; i++) {
		XXH3_U64 a = acc[i];

		a ^= a >> 47;
		a ^= XXH3_READ64(sec + 8 * i);
		acc[i] = a * XXH3_P32_1;
	}
}

/* More than 240 bytes: 8 accumulators over 64-byte stripes, with a secret
 * derived from the seed. */
static XXH3_U64 xxh3_long(const XXH3_U8 *in, XXH3_SIZE len, XXH3_U64 seed)
{
	XXH3_U64 acc[8] = { XXH3_P32_3, XXH3_P64_1, XXH3_P64_2, XXH3_P64_3,
			    XXH3_P64_4, XXH3_P32_2, XXH3_P64_5, XXH3_P32_1 };
	XXH3_U64 sec64[XXH3_SECRET_LEN / 8];
	const XXH3_U8 *sec = (const XXH3_U8 *)sec64;
	XXH3_SIZE blocks = (len - 1) / XXH3_BLOCK_LEN, b, s, stripes;
	XXH3_U64 result = len * XXH3_P64_1;
	int i;

	/* the derived secret is used through XXH3_READ64 like the input:
	 * store it in the same (little-endian) byte order */
	for (i = 0; i < XXH3_SECRET_LEN / 8; i++) {
		XXH3_U64 v = XXH3_READ64(xxh3_secret + 8 * i) + ((i & 1) ? 0 - seed : seed);
		int j;

		for (j = 0; j < 8; j++)
			((XXH3_U8 *)sec64)[8 * i + j] = (XXH3_U8)(v >> (8 * j));
	}
	for (b = 0; b < blocks; b++) {
		for (s = 0; s < XXH3_STRIPES; s++)
			xxh3_accumulate(acc, in + b * XXH3_BLOCK_LEN + s * XXH3_STRIPE_LEN,
					sec + 8 * s);
		xxh3_scramble(acc, sec + XXH3_SECRET_LEN - XXH3_STRIPE_LEN);
	}
	stripes = (len - 1 - blocks * XXH3_BLOCK_LEN) / XXH3_STRIPE_LEN;
	for (s = 0; s < stripes; s++)
		xxh3_accumulate(acc, in + blocks * XXH3_BLOCK_LEN + s * XXH3_STRIPE_LEN, sec + 8 * s);
	/* the last stripe ends at the input's end, overlapping the previous */
	xxh3_accumulate(acc, in + len - XXH3_STRIPE_LEN, sec + XXH3_SECRET_LEN - XXH3_STRIPE_LEN - 7);

	for (i = 0; i < 4; i++)
		result += xxh3_mul_fold(acc[2 * i] ^ XXH3_READ64(sec + 11 + 16 * i),
					acc[2 * i + 1] ^ XXH3_READ64(sec + 11 + 16 * i + 8));
	return xxh3_avalanche(result);
}

/* XXH3_64bits_withSeed(input, len, seed) of the specification. */
static XXH3_U64 xxh3_64_seed(const void *input, XXH3_SIZE len, XXH3_U64 seed)
{
	const XXH3_U8 *in = (const XXH3_U8 *)input;

	if (len <= 3)
		return xxh3_len_0to3(in, len, seed);
	if (len <= 8)
		return xxh3_len_4to8(in, len, seed);
	if (len <= 16)
		return xxh3_len_9to16(in, len, seed);
	if (len <= 128)
		return xxh3_len_17to128(in, len, seed);
	if (len <= 240)
		return xxh3_len_129to240(in, len, seed);
	return xxh3_long(in, len, seed);
}

#endif /* EBPFACCEL_XXH3_H */
