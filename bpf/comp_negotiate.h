/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Structures shared by bpf/comp_negotiate.bpf.c and lib/comp_policy.c (this file: bpf/comp_negotiate.h).
 * Not installed: the public view is include/ebpfaccel/comp.h.
 */
#ifndef EBPFACCEL_BPF_COMP_NEGOTIATE_H
#define EBPFACCEL_BPF_COMP_NEGOTIATE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Policy key: an LPM trie over (server port, server address) so that one
 * lookup finds the most specific rule.  A port-only rule has prefixlen 16;
 * an address rule has 16 + 128-bit prefix, IPv4 written as ::ffff:a.b.c.d. */
struct comp_policy_key {
	__u32	prefixlen;
	__u8	port[2];	/* server port, big endian */
	__u8	addr[16];	/* server address, IPv6 or v4-mapped */
};

#define COMP_KEY_PORT_BITS	16
#define COMP_KEY_MAX_BITS	(COMP_KEY_PORT_BITS + 128)

enum comp_action {
	COMP_ACTION_OFF		= 0,
	COMP_ACTION_ON		= 1,
	COMP_ACTION_AUTO	= 2,	/* negotiated like ON; the library may probe */
};

/* Directions seen from the host that owns the policy. */
#define COMP_DIR_TX	(1U << 0)	/* compress what this host sends */
#define COMP_DIR_RX	(1U << 1)	/* accept compressed data from the peer */

struct comp_policy_val {
	__u8	action;		/* enum comp_action */
	__u8	algo;		/* enum tcp_comp_algo this host prefers to send */
	__u8	mode;		/* enum tcp_comp_mode */
	__u8	dir;		/* COMP_DIR_* */
	__s32	level;
	__u32	record_size;
	__u32	flags;		/* TCP_COMP_F_* */
};

enum comp_sk_phase {
	COMP_PHASE_NONE		= 0,
	COMP_PHASE_SYN_SENT	= 1,	/* client: option sent in the SYN */
	COMP_PHASE_CONFIRMING	= 2,	/* client: agreed, still repeating the confirmation */
	COMP_PHASE_ON		= 3,	/* agreed and known to both ends */
	COMP_PHASE_OFF		= 4,	/* negotiated off (no answer, refused or stripped) */
};

#define COMP_ROLE_CLIENT	1
#define COMP_ROLE_SERVER	2

/* Per-socket result in BPF_MAP_TYPE_SK_STORAGE. */
struct comp_sk_state {
	__u8	phase;		/* enum comp_sk_phase */
	__u8	role;		/* COMP_ROLE_* */
	__u8	tx_algo;	/* what this socket sends; 0 = off */
	__u8	rx_algo;	/* what this socket receives; 0 = off */
	__u8	mode;		/* enum tcp_comp_mode */
	__u8	action;		/* local policy action */
	__u8	wish_tx;	/* client: its SYN option */
	__u8	wish_rx;
	__u8	wish_flags;
	__u8	format;		/* record format agreed: TCP_COMP_VERSION_*; 0 = 1 */
	__u8	pad[2];
	__s32	level;		/* local encoder settings from the policy */
	__u32	record_size;
	__u32	flags;
};

/* Events counted by the program, readable through the skeleton's .bss. */
enum comp_counter {
	COMP_CNT_SYN_OPT,		/* client SYN carrying our option */
	COMP_CNT_SYNACK_OPT,		/* server SYN-ACK answering with our option */
	COMP_CNT_CLIENT_ON,		/* client accepted a SYN-ACK answer */
	COMP_CNT_CLIENT_NO_ANSWER,	/* client: SYN-ACK without (valid) option */
	COMP_CNT_SERVER_ON,		/* server got the confirmation */
	COMP_CNT_SERVER_NO_CONFIRM,	/* server with policy, handshake ended without it */
	COMP_CNT_CONFIRM_DONE,		/* client stopped repeating the confirmation */
	__COMP_CNT_MAX,
};

#endif /* EBPFACCEL_BPF_COMP_NEGOTIATE_H */
