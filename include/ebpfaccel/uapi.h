/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libebpfaccel — definitions shared by the library, the BPF programs and the
 * tcp_comp kernel module.  This header is the single source of truth for the
 * compression sockopts and the on-the-wire record format; it must stay
 * includable from user space (with <linux/types.h>) and from kernel code.
 *
 * Everything multi-byte on the wire is big endian (network order).
 */
#ifndef EBPFACCEL_UAPI_H
#define EBPFACCEL_UAPI_H

/* BPF programs get the same types from vmlinux.h. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---------------------------------------------------------------------------
 * Socket options of the "comp" TCP ULP (kernel module tcp_comp)
 *
 *   setsockopt(fd, SOL_TCP, TCP_ULP, "comp", sizeof("comp"));
 *   struct tcp_comp_params p = { .version = TCP_COMP_VERSION, ... };
 *   setsockopt(fd, SOL_TCP_COMP, TCP_COMP_TX, &p, sizeof(p));
 *   setsockopt(fd, SOL_TCP_COMP, TCP_COMP_RX, &p, sizeof(p));
 *
 * The level is deliberately far from the kernel's SOL_* range (which grows by
 * one per new protocol family, ~290 in 2026) so it never collides with one.
 * --------------------------------------------------------------------------*/
#define SOL_TCP_COMP		0x4541	/* 'E' 'A' */

#define TCP_COMP_ULP_NAME	"comp"

enum {
	TCP_COMP_TX		= 1,	/* struct tcp_comp_params: compress what we send */
	TCP_COMP_RX		= 2,	/* struct tcp_comp_params: decompress what we receive */
	TCP_COMP_STATS		= 3,	/* struct tcp_comp_stats, getsockopt only */
};

/* tcp_comp_params.version is the record format a direction speaks.  Format 2
 * checks every record (XXH3-64, below); format 1 checks a record only when
 * its encoder adds TCP_COMP_F_CHECKSUM.  The handshake picks 2 only when both
 * ends announce it (TCP_COMP_OPT_F_FORMAT2), so format-1 peers keep working. */
#define TCP_COMP_VERSION_1	1
#define TCP_COMP_VERSION_2	2
#define TCP_COMP_VERSION	TCP_COMP_VERSION_2	/* the newest */

enum tcp_comp_algo {
	TCP_COMP_ALGO_NONE	= 0,	/* raw records only */
	TCP_COMP_ALGO_ZSTD	= 1,
	TCP_COMP_ALGO_LZ4	= 2,
	__TCP_COMP_ALGO_MAX,
};

enum tcp_comp_mode {
	/* Every record is independent ("partial compression"): a record that
	 * does not shrink is sent raw, and any record can be decoded alone. */
	TCP_COMP_MODE_BLOCK	= 0,
	/* One compression context per direction for the life of the
	 * connection ("full compression"): better ratio on small writes;
	 * records must be decoded in order. */
	TCP_COMP_MODE_STREAM	= 1,
	__TCP_COMP_MODE_MAX,
};

/* tcp_comp_params.flags */
#define TCP_COMP_F_CHECKSUM	(1U << 0)	/* TX, format 1: add XXH32 of the original bytes
						 * (format 2 always checks: ignored there) */

/* Record payload limits.  A receiver refuses any record whose header claims
 * more than TCP_COMP_MAX_RECORD original bytes or more than
 * TCP_COMP_MAX_WIRE wire bytes; this is the decompression-bomb bound, and
 * it is what keeps a receiver's memory per connection O(1). */
#define TCP_COMP_DEFAULT_RECORD	(64U * 1024)
#define TCP_COMP_MAX_RECORD	(256U * 1024)
#define TCP_COMP_MAX_WIRE	(TCP_COMP_MAX_RECORD + TCP_COMP_MAX_RECORD / 128 + 64)

struct tcp_comp_params {
	__u16	version;	/* record format: TCP_COMP_VERSION_1 or _2 */
	__u8	algo;		/* enum tcp_comp_algo */
	__u8	mode;		/* enum tcp_comp_mode */
	__s32	level;		/* algorithm level; 0 = algorithm default */
	__u32	record_size;	/* TX: max original bytes per record; 0 = default */
	__u32	flags;		/* TCP_COMP_F_* */
};

struct tcp_comp_stats {
	__u64	tx_bytes_in;	/* application bytes handed to sendmsg/sendfile */
	__u64	tx_bytes_out;	/* record bytes (headers included) put on TCP */
	__u64	tx_records;
	__u64	tx_raw_records;	/* records sent raw because they did not shrink */
	__u64	rx_bytes_in;	/* record bytes taken from TCP */
	__u64	rx_bytes_out;	/* application bytes returned by recvmsg */
	__u64	rx_records;
	__u64	rx_errors;	/* records rejected (corrupt, oversized, bad checksum) */
};

/* ---------------------------------------------------------------------------
 * Wire format: the compressed byte stream is a sequence of records.
 *
 *   0      1      2      3      4              8             12        [16 | 20]
 *   +------+------+------+------+--------------+--------------+---------+-----
 *   |magic | type | algo |flags | orig_len(be) | wire_len(be) | [check] | payload
 *   +------+------+------+------+--------------+--------------+---------+-----
 *
 * magic     TCP_COMP_REC_MAGIC; anything else is a protocol error (EBADMSG).
 * type      TCP_COMP_REC_DATA (the only type).
 * algo      enum tcp_comp_algo used for this record's payload; NONE when
 *           the record is raw.
 * flags     TCP_COMP_REC_F_*.
 * orig_len  bytes the payload decodes to; 1..TCP_COMP_MAX_RECORD.
 * wire_len  payload bytes that follow the header; 1..TCP_COMP_MAX_WIRE;
 *           equal to orig_len for raw records.
 * check     format 2: always TCP_COMP_REC_F_XXH3, 8 bytes (be):
 *           XXH3_64bits_withSeed(payload, wire_len, seed) with seed =
 *           algo << 56 | flags << 48 | orig_len << 24 | wire_len (u64), so a
 *           corrupted header fails like a corrupted payload; no byte of a
 *           record that fails it reaches the application.
 *           format 1: only with TCP_COMP_REC_F_CHECKSUM, 4 bytes (be):
 *           XXH32(seed 0) of the original bytes.
 *
 * Stream mode: the payloads of one direction form a single zstd stream
 * (each record ends on a ZSTD_e_flush boundary) or a single LZ4 stream
 * (LZ4_compress_fast_continue with the previous 64 KiB as dictionary), so a
 * record decodes to exactly orig_len bytes given every previous record.  A
 * raw record in stream mode is also fed to the decoder's history (LZ4) or
 * not at all (zstd: raw records do not touch the context); see
 * docs/compression-format.md.
 * --------------------------------------------------------------------------*/
#define TCP_COMP_REC_MAGIC	0xEA
#define TCP_COMP_REC_DATA	1

#define TCP_COMP_REC_F_RAW	(1U << 0)	/* payload is the original bytes */
#define TCP_COMP_REC_F_CHECKSUM	(1U << 1)	/* 4-byte xxh32 follows the header */
#define TCP_COMP_REC_F_STREAM	(1U << 2)	/* payload continues the direction's stream */
#define TCP_COMP_REC_F_XXH3	(1U << 3)	/* format 2: 8-byte XXH3 follows the header */
/* Flags a format 1 / format 2 receiver knows; any other bit is EBADMSG. */
#define TCP_COMP_REC_F_KNOWN	(TCP_COMP_REC_F_RAW | TCP_COMP_REC_F_CHECKSUM | \
				 TCP_COMP_REC_F_STREAM)
#define TCP_COMP_REC_F_KNOWN_2	(TCP_COMP_REC_F_RAW | TCP_COMP_REC_F_STREAM | TCP_COMP_REC_F_XXH3)

struct tcp_comp_rec_hdr {
	__u8	magic;
	__u8	type;
	__u8	algo;
	__u8	flags;
	__be32	orig_len;
	__be32	wire_len;
} __attribute__((packed));

#define TCP_COMP_REC_HDR_LEN	12
#define TCP_COMP_REC_CSUM_LEN	4
#define TCP_COMP_REC_XXH3_LEN	8


/* ---------------------------------------------------------------------------
 * Handshake negotiation: experimental TCP option (RFC 6994)
 *
 *   kind 254 | len 8 | ExID (2, be) | ver_flags | algos | tx | rx
 *
 * ver_flags  high nibble: version (1); low nibble: TCP_COMP_OPT_F_*.
 * algos      bitmap (1 << enum tcp_comp_algo) of the algorithms the sender
 *            can encode and decode.
 * tx, rx     0 = off, otherwise an enum tcp_comp_algo, per direction:
 *            SYN      the client's wish, seen from the client (tx: it wants
 *                     to send compressed; rx: it accepts compressed data).
 *            SYN-ACK  (F_SYNACK) the server's answer, seen from the server.
 *            ACK      (F_CONFIRM) the client accepts the answer and repeats
 *                     it, seen from the client.  Sent in the third ACK and
 *                     in every segment until the client receives a segment
 *                     from the established server; the server turns
 *                     compression on only when the segment that completes
 *                     its handshake carries it.  This covers SYN cookies
 *                     (the server keeps nothing between SYN and ACK) and a
 *                     middlebox stripping the option in either direction
 *                     (no confirmation → both ends off).
 * F_STREAM   SYN: the client prefers stream mode; SYN-ACK: the server's
 *            decision for both directions; ACK: repeated.
 * F_FORMAT2  SYN: the client speaks record format 2; SYN-ACK: so does the
 *            server, both directions use it; ACK: repeated.  Peers that
 *            predate it ignore the bit and answer without it: format 1.
 * The encoder's level, record size and checksum flag are local choices and
 * are not negotiated: every record says how it is encoded.
 * --------------------------------------------------------------------------*/
#define TCP_COMP_OPT_KIND	254
#define TCP_COMP_OPT_EXID	0xEBCA
#define TCP_COMP_OPT_LEN	8
#define TCP_COMP_OPT_VERSION	1

#define TCP_COMP_OPT_F_SYNACK	(1U << 0)	/* option answers a SYN */
#define TCP_COMP_OPT_F_CONFIRM	(1U << 1)	/* client confirms the SYN-ACK's answer */
#define TCP_COMP_OPT_F_STREAM	(1U << 2)	/* stream mode (enum tcp_comp_mode) */
#define TCP_COMP_OPT_F_FORMAT2	(1U << 3)	/* record format 2 (TCP_COMP_VERSION_2) */

/* Largest zstd window a receiver accepts (bounds its memory in stream
 * mode); encoders must not use a larger one. */
#define TCP_COMP_ZSTD_WINDOWLOG_MAX	23

#endif /* EBPFACCEL_UAPI_H */
