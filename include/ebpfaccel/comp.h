/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libebpfaccel — TCP compression: the per-port negotiation policy (a sock_ops
 * BPF program on a cgroup v2) and the connection API that compresses over a
 * negotiated socket, through the tcp_comp kernel ULP when it is available and
 * with the same wire format in user space otherwise.
 * Wire format and negotiation: docs/compression-format.md.
 */
#ifndef EBPFACCEL_COMP_H
#define EBPFACCEL_COMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ebpfaccel/core.h>
#include <ebpfaccel/uapi.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ebpfaccel_comp_policy;
struct ebpfaccel_comp_conn;

/* ON is 0 so that a zeroed rule means "compress". */
enum ebpfaccel_comp_action {
	EBPFACCEL_COMP_ON	= 0,
	EBPFACCEL_COMP_OFF	= 1,
	/* Negotiated like ON; reported in the state so a probe can decide. */
	EBPFACCEL_COMP_AUTO	= 2,
};

/* Directions seen from the host that owns the policy. */
#define EBPFACCEL_COMP_DIR_TX	(1U << 0)	/* compress what this host sends */
#define EBPFACCEL_COMP_DIR_RX	(1U << 1)	/* accept compressed data */
#define EBPFACCEL_COMP_DIR_BOTH	(EBPFACCEL_COMP_DIR_TX | EBPFACCEL_COMP_DIR_RX)

/** Options of a policy rule; zeroed fields take the documented default. */
struct ebpfaccel_comp_rule_opts {
	size_t sz;
	enum ebpfaccel_comp_action action;	/* default EBPFACCEL_COMP_ON */
	enum tcp_comp_algo algo;		/* default TCP_COMP_ALGO_ZSTD */
	enum tcp_comp_mode mode;		/* default TCP_COMP_MODE_BLOCK */
	unsigned int dir;			/* EBPFACCEL_COMP_DIR_*; 0 = both */
	int level;				/* 0 = algorithm default; lz4: <0 = acceleration */
	unsigned int record_size;		/* 0 = the sender's default: in user
						 * space 256 KiB in block mode, 128 KiB
						 * in stream mode; TCP_COMP_DEFAULT_RECORD
						 * in the kernel module */
	unsigned int flags;			/* TCP_COMP_F_* */
	size_t :0;
};
#define ebpfaccel_comp_rule_opts__last_field flags

/** Options of ebpfaccel_comp_policy__open(). */
struct ebpfaccel_comp_policy_opts {
	size_t sz;
	/* Make the attachment outlive the process: ..._attach() pins the
	 * program's link and maps in /sys/fs/bpf/ebpfaccel/comp/<pin_name>/
	 * (mounting bpffs there if needed), ..._destroy() then leaves it
	 * attached, and ..._open_pinned() finds it again. */
	bool pin;
	/* Name of that directory; NULL = the cgroup's id in decimal. */
	const char *pin_name;
	/* Filled when open fails: which BPF program the kernel refused and
	 * why (optional; see struct ebpfaccel_load_error). */
	struct ebpfaccel_load_error *load_error;
	size_t :0;
};
#define ebpfaccel_comp_policy_opts__last_field load_error

enum ebpfaccel_comp_phase {
	EBPFACCEL_COMP_PHASE_NONE	= 0,
	EBPFACCEL_COMP_PHASE_SYN_SENT	= 1,	/* handshake not finished */
	EBPFACCEL_COMP_PHASE_CONFIRMING	= 2,	/* client: agreed, confirmation in flight */
	EBPFACCEL_COMP_PHASE_ON		= 3,
	EBPFACCEL_COMP_PHASE_OFF	= 4,	/* refused, unanswered or stripped */
};

#define EBPFACCEL_COMP_ROLE_CLIENT	1
#define EBPFACCEL_COMP_ROLE_SERVER	2

/** Negotiated result of one socket.  Set @sz before the call. */
struct ebpfaccel_comp_state {
	size_t sz;
	int role;			/* EBPFACCEL_COMP_ROLE_* */
	int phase;			/* enum ebpfaccel_comp_phase */
	int action;			/* the local rule's enum ebpfaccel_comp_action */
	struct tcp_comp_params tx;	/* what this socket sends; algo NONE = off */
	struct tcp_comp_params rx;	/* what it receives; algo NONE = off */
	size_t :0;
};

/** Counters of the negotiation program (all sockets of the policy). */
struct ebpfaccel_comp_policy_stats {
	uint64_t syn_opt;		/* SYNs sent with the option */
	uint64_t synack_opt;		/* SYN-ACKs answered with the option */
	uint64_t client_on;		/* clients that accepted an answer */
	uint64_t client_no_answer;	/* clients whose SYN-ACK had no valid answer */
	uint64_t server_on;		/* servers that got the confirmation */
	uint64_t server_no_confirm;	/* policy servers whose handshake had none */
	uint64_t confirm_done;		/* clients that saw the server established */
};

/**
 * @brief Load the negotiation program and its maps (not attached yet).
 * @param opts NULL or options.
 * @return policy object, or NULL with errno set: EPERM (needs CAP_BPF and
 *	   CAP_NET_ADMIN), EINVAL (bad opts), EBPFACCEL_ERR_VERIFY (the
 *	   verifier refused the program) or the loader's error, explained in
 *	   one WARN line and in opts->load_error when set.
 */
EBPFACCEL_API struct ebpfaccel_comp_policy *
ebpfaccel_comp_policy__open(const struct ebpfaccel_comp_policy_opts *opts);

/**
 * @brief Attach the sock_ops program to a cgroup v2 directory.  Sockets
 *	  created by processes in that cgroup (and below) negotiate.
 * @param policy object from ebpfaccel_comp_policy__open().
 * @param cgroup_fd open fd of the cgroup directory (never the root cgroup
 *	  on a shared machine).
 * @return 0, -EBUSY if already attached, -EPERM (needs CAP_SYS_ADMIN,
 *	   CAP_BPF, CAP_NET_ADMIN), -EEXIST (opts.pin and that pin name is
 *	   taken: detach it first) or another -errno from the kernel.  When
 *	   pinning fails the policy is not attached.
 */
EBPFACCEL_API int ebpfaccel_comp_policy__attach(struct ebpfaccel_comp_policy *policy, int cgroup_fd);

/**
 * @brief Detach from the cgroup (connections keep their state).  A pinned
 *	  policy is detached for every process that holds it, and its pins
 *	  are removed.
 * @return 0, or -ENOENT if not attached.
 */
EBPFACCEL_API int ebpfaccel_comp_policy__detach(struct ebpfaccel_comp_policy *policy);

/**
 * @brief Set the rule for a server port, any address.
 * @param port server TCP port (host order), 1..65535.
 * @param rule NULL for all defaults (on, zstd, block, both directions).
 * @return 0, -EINVAL (port 0, unknown algo/mode/action/dir/flags, record
 *	   size above TCP_COMP_MAX_RECORD, or non-zero unknown opts bytes),
 *	   -E2BIG (map full).
 */
EBPFACCEL_API int ebpfaccel_comp_policy__set_port(struct ebpfaccel_comp_policy *policy, uint16_t port,
				    const struct ebpfaccel_comp_rule_opts *rule);

/**
 * @brief Set the rule for a server port on an address prefix.  The most
 *	  specific rule wins over port-only rules.
 * @param family AF_INET or AF_INET6.
 * @param addr struct in_addr or struct in6_addr of the server.
 * @param prefixlen 0..32 (IPv4) or 0..128 (IPv6).
 * @return as ebpfaccel_comp_policy__set_port(); -EAFNOSUPPORT for another family.
 */
EBPFACCEL_API int ebpfaccel_comp_policy__set_prefix(struct ebpfaccel_comp_policy *policy, int family,
				      const void *addr, unsigned int prefixlen, uint16_t port,
				      const struct ebpfaccel_comp_rule_opts *rule);

/**
 * @brief Remove the port-only rule of @port.
 * @return 0 or -ENOENT.
 */
EBPFACCEL_API int ebpfaccel_comp_policy__del_port(struct ebpfaccel_comp_policy *policy, uint16_t port);

/**
 * @brief Remove a rule set by ebpfaccel_comp_policy__set_prefix().
 * @return 0, -ENOENT, -EINVAL or -EAFNOSUPPORT.
 */
EBPFACCEL_API int ebpfaccel_comp_policy__del_prefix(struct ebpfaccel_comp_policy *policy, int family,
				      const void *addr, unsigned int prefixlen, uint16_t port);

/**
 * @brief Negotiated result of @sock_fd as recorded by this policy's program.
 * @param state out; set state->sz first.
 * @return 0, -ENOENT (the socket did not negotiate: no rule, or not a socket
 *	   of this policy's cgroup), -EINVAL.
 */
EBPFACCEL_API int ebpfaccel_comp_policy__state(const struct ebpfaccel_comp_policy *policy, int sock_fd,
				 struct ebpfaccel_comp_state *state);

/**
 * @brief Read the program's counters.
 * @return 0 or -EINVAL.
 */
EBPFACCEL_API int ebpfaccel_comp_policy__stats(const struct ebpfaccel_comp_policy *policy,
				 struct ebpfaccel_comp_policy_stats *stats);

/**
 * @brief Free the policy object.  Detaches it unless it is pinned (opened
 *	  with opts.pin, or by ..._open_pinned()): a pinned policy stays
 *	  attached until ebpfaccel_comp_policy__detach().  NULL is allowed.
 */
EBPFACCEL_API void ebpfaccel_comp_policy__destroy(struct ebpfaccel_comp_policy *policy);

/**
 * @brief Reopen a policy pinned by another process (or an earlier run):
 *	  its rules, state and counters are shared with that one.
 * @param name_or_path the pin name (directory below
 *	  /sys/fs/bpf/ebpfaccel/comp/) or the directory's path.
 * @return policy object (attached and pinned), or NULL with errno: ENOENT
 *	   (no such pinned policy, or bpffs not mounted), EINVAL (bad name),
 *	   EPERM (needs CAP_BPF and CAP_NET_ADMIN), or the loader's error
 *	   (e.g. pins of an incompatible library version).
 */
EBPFACCEL_API struct ebpfaccel_comp_policy *ebpfaccel_comp_policy__open_pinned(const char *name_or_path);

/**
 * @brief Directory where the policy is pinned.
 * @return the path (owned by the policy), or NULL if it is not pinned.
 */
EBPFACCEL_API const char *ebpfaccel_comp_policy__pin_path(const struct ebpfaccel_comp_policy *policy);

/**
 * @brief Id of the cgroup v2 the policy is attached to (the inode number
 *	  of its directory).
 * @return the id, or 0 if not attached (errno ENOENT) or on error (errno).
 */
EBPFACCEL_API uint64_t ebpfaccel_comp_policy__cgroup_id(const struct ebpfaccel_comp_policy *policy);

/**
 * @brief Ports that have a port-only rule, in ascending order.
 * @param ports out: up to @max ports.
 * @return the number of such rules (may exceed @max: call again with a
 *	   larger array), or -EINVAL.
 */
EBPFACCEL_API int ebpfaccel_comp_policy__ports(const struct ebpfaccel_comp_policy *policy, uint16_t *ports,
				 size_t max);

/**
 * @brief The port-only rule of @port.
 * @param rule out; set rule->sz first.  Every field is filled in
 *	   (defaults resolved).
 * @return 0, -ENOENT (no rule for that port), -EINVAL.
 */
EBPFACCEL_API int ebpfaccel_comp_policy__get_port(const struct ebpfaccel_comp_policy *policy, uint16_t port,
				    struct ebpfaccel_comp_rule_opts *rule);

/**
 * @brief Negotiated result of @sock_fd, from whichever loaded policy program
 *	  (of any process) recorded one.
 * @param state out; set state->sz first.
 * @return 0, -ENOENT (no negotiation recorded for this socket), -EPERM
 *	   (enumerating BPF maps needs CAP_SYS_ADMIN), -EINVAL.
 */
EBPFACCEL_API int ebpfaccel_comp__state(int sock_fd, struct ebpfaccel_comp_state *state);

/** Options of ebpfaccel_comp_conn__new(). */
struct ebpfaccel_comp_conn_opts {
	size_t sz;
	/* Where to read the negotiated state; NULL = ebpfaccel_comp__state(). */
	const struct ebpfaccel_comp_policy *policy;
	/* Explicit parameters instead of the negotiated state (both or none;
	 * algo NONE = that direction off). */
	const struct tcp_comp_params *tx;
	const struct tcp_comp_params *rx;
	/* Never switch to the tcp_comp kernel ULP. */
	bool no_kernel;
	size_t :0;
};
#define ebpfaccel_comp_conn_opts__last_field no_kernel

/**
 * @brief Wrap a connected TCP socket.  Uses the negotiated state (or the
 *	  explicit parameters); a socket that did not negotiate passes data
 *	  through unchanged.  When the tcp_comp ULP loads the socket is
 *	  switched to it, otherwise the user-space engine speaks the same format.
 * @param fd connected TCP socket, blocking or not; stays owned by the caller
 *	  and must only be used through the connection from now on.
 * @return connection, or NULL with errno: EINVAL, ENOMEM, ENOTCONN, or the
 *	   error of the state lookup other than ENOENT.
 */
EBPFACCEL_API struct ebpfaccel_comp_conn *
ebpfaccel_comp_conn__new(int fd, const struct ebpfaccel_comp_conn_opts *opts);

/**
 * @brief Send @len bytes.  Blocking socket: returns when all are on the
 *	  socket.  Non-blocking: returns how many bytes were accepted; they may
 *	  still sit in the connection's buffer (see ebpfaccel_comp_conn__flush()).
 * @return bytes accepted (>0; 0 only for @len 0), -EAGAIN (nothing accepted:
 *	   wait for POLLOUT and call again), -EPIPE and other socket errors.
 */
EBPFACCEL_API ssize_t ebpfaccel_comp_conn__send(struct ebpfaccel_comp_conn *conn, const void *buf, size_t len);

/**
 * @brief Receive up to @len decoded bytes.
 * @return bytes (>0), 0 at end of stream on a record boundary, -EAGAIN
 *	   (non-blocking, no complete record yet), -EBADMSG (corrupt,
 *	   truncated, oversized or wrongly checksummed record: the connection
 *	   is unusable from then on), other socket errors.
 */
EBPFACCEL_API ssize_t ebpfaccel_comp_conn__recv(struct ebpfaccel_comp_conn *conn, void *buf, size_t len);

/**
 * @brief Send @count bytes of @in_fd from *@offset (or the file position
 *	  when @offset is NULL); *@offset advances by what was accepted.
 * @return bytes accepted, 0 at end of file, or -errno as ..._send().
 */
EBPFACCEL_API ssize_t ebpfaccel_comp_conn__sendfile(struct ebpfaccel_comp_conn *conn, int in_fd, off_t *offset,
				      size_t count);

/**
 * @brief Push buffered record bytes to the socket.
 * @return 0 when nothing is left, -EAGAIN (wait for POLLOUT), or -errno.
 */
EBPFACCEL_API int ebpfaccel_comp_conn__flush(struct ebpfaccel_comp_conn *conn);

/**
 * @brief Whether ebpfaccel_comp_conn__recv() can return data (or an error)
 *	  without reading the socket: decoded bytes or a whole record are
 *	  buffered.  Event loops must check it before waiting for POLLIN, since
 *	  the kernel no longer sees those bytes.
 */
EBPFACCEL_API bool ebpfaccel_comp_conn__rx_pending(const struct ebpfaccel_comp_conn *conn);

/**
 * @brief Record bytes accepted by ..._send() but not yet on the socket;
 *	  call ebpfaccel_comp_conn__flush() when the socket is writable.
 */
EBPFACCEL_API size_t ebpfaccel_comp_conn__tx_pending(const struct ebpfaccel_comp_conn *conn);

/** @brief The parameters in use (algo NONE = direction not compressed). */
EBPFACCEL_API void ebpfaccel_comp_conn__params(const struct ebpfaccel_comp_conn *conn,
				 struct tcp_comp_params *tx, struct tcp_comp_params *rx);

/** @brief true when the tcp_comp kernel ULP carries the data. */
EBPFACCEL_API bool ebpfaccel_comp_conn__in_kernel(const struct ebpfaccel_comp_conn *conn);

/**
 * @brief Byte and record counters of the connection.
 * @return 0 or -errno from the kernel ULP's TCP_COMP_STATS.
 */
EBPFACCEL_API int ebpfaccel_comp_conn__stats(const struct ebpfaccel_comp_conn *conn, struct tcp_comp_stats *stats);

/** @brief Free the connection (the socket is not closed).  NULL is allowed. */
EBPFACCEL_API void ebpfaccel_comp_conn__free(struct ebpfaccel_comp_conn *conn);

#ifdef __cplusplus
}
#endif

#endif /* EBPFACCEL_COMP_H */
