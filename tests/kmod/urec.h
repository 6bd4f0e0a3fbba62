/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * An independent user-space implementation of the record format of
 * include/ebpfaccel/uapi.h (libzstd, liblz4, libxxhash), written from the
 * header's description to check the kernel module against it.
 */
#ifndef EBPFACCEL_TESTS_KMOD_UREC_H
#define EBPFACCEL_TESTS_KMOD_UREC_H

#include <stddef.h>
#include <stdint.h>

struct urec;	/* one direction's encoder or decoder state */

/* check: what follows each header: URC_NONE, URC_XXH32 (format 1 with
 * F_CHECKSUM) or URC_FORMAT2 (format 2: XXH3 of the payload on every record,
 * and a reader that requires it) */
enum { URC_NONE, URC_XXH32, URC_FORMAT2 };
struct urec *urec_new(int algo, int mode, int level, int check);
void urec_free(struct urec *u);
/* encodes len (1..TCP_COMP_MAX_RECORD) bytes as one record into out
 * (room for urec_bound(len)); returns the record's length */
size_t urec_encode(struct urec *u, const void *src, size_t len, uint8_t *out);
size_t urec_bound(size_t len);
/* reads one record from fd and decodes it into out (TCP_COMP_MAX_RECORD
 * bytes); returns the decoded length, 0 at end of stream; fails the test
 * on any protocol error */
size_t urec_read(struct urec *u, int fd, uint8_t *out);

/* writes a record header (12 bytes) */
void urec_hdr(uint8_t *out, int algo, int flags, uint32_t orig_len, uint32_t wire_len);
/* format 2's check of a record: XXH3 of the payload seeded with the header */
uint64_t urec_xxh3(const uint8_t *hdr, const uint8_t *payload);

#endif
