// SPDX-License-Identifier: GPL-2.0
/*
 * Record format 2's check (include/ebpfaccel/uapi.h): XXH3-64 of the
 * payload, seeded with the header.  The hash itself is kmod/xxh3.h, which
 * tests/test_xxh3.c compares with libxxhash in user space.
 */
#include "comp.h"

#define XXH3_U8			u8
#define XXH3_U32		u32
#define XXH3_U64		u64
#define XXH3_SIZE		size_t
#define XXH3_READ32(p)		get_unaligned_le32(p)
#define XXH3_READ64(p)		get_unaligned_le64(p)
#include "xxh3.h"

/* Every header field a valid header can vary, without overlap (both lengths
 * are below 2^24): a damaged header fails the check like a damaged payload. */
u64 comp_rec_xxh3(const struct tcp_comp_rec_hdr *hdr, const void *payload)
{
	u32 wire = be32_to_cpu(hdr->wire_len);
	u64 seed = (u64)hdr->algo << 56 | (u64)hdr->flags << 48 |
		   (u64)be32_to_cpu(hdr->orig_len) << 24 | wire;

	return xxh3_64_seed(payload, wire, seed);
}
