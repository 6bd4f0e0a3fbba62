/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces tcp_comp uses changed between the kernels it
 * supports (6.1 to 7.3): every version check lives here.
 */
#ifndef TCP_COMP_COMPAT_H
#define TCP_COMP_COMPAT_H

#include <linux/version.h>

/*
 * Up to 6.4 sendfile() and splice() hand pages to proto::sendpage, with
 * MSG_SENDPAGE_NOTLAST while more follow.  6.5 removed both (commit
 * dc97391e6610): the pages reach proto::sendmsg as a bvec iterator with
 * MSG_SPLICE_PAGES, and MSG_MORE while more follow.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define COMP_HAVE_SENDPAGE 1
#endif

/*
 * 7.1 dropped proto::recvmsg's addr_len: a protocol that reports a peer
 * address now sets msg_namelen itself.  TCP reports none, but up to 7.0 its
 * error queue (MSG_ERRQUEUE, handed to TCP) still goes through addr_len.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 1, 0)
#define COMP_RECVMSG_PARAMS	struct sock *sk, struct msghdr *msg, size_t len, int flags
#define COMP_RECVMSG_ARGS	sk, msg, len, flags
#else
#define COMP_RECVMSG_PARAMS	struct sock *sk, struct msghdr *msg, size_t len, int flags, \
				int *addr_len
#define COMP_RECVMSG_ARGS	sk, msg, len, flags, addr_len
#endif

/*
 * 6.12 moved <asm/unaligned.h> to <linux/unaligned.h> (commit 5f60d5f6bbc1);
 * the record check reads the payload at any alignment.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#endif /* TCP_COMP_COMPAT_H */
