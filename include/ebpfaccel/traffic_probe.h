/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/**
 * @file traffic_probe.h
 * @brief Measure TCP traffic on an interface, and decide where compression pays.
 *
 * A traffic probe is a pair of cls_bpf programs on an interface's clsact
 * qdisc (ingress and egress).  It counts, per TCP connection and per server
 * port, bytes and packets per direction, a sliding-window rate, how often
 * the payload changes direction (request/response turns), and samples
 * payload bytes from which the library estimates compressibility.
 * Directions are seen from the probing host: TX leaves through the
 * interface, RX arrives on it.
 *
 * The auto policy reads a probe and decides per server port whether
 * compression should be on: on for bandwidth-bound compressible traffic;
 * off for incompressible data, latency-bound request/response exchanges and
 * rates a compressor core cannot keep up with; with hysteresis.
 *
 * A probe or policy object is used by one thread at a time; the BPF side
 * runs on every CPU and needs no locking from callers.
 *
 * @code
 * struct ebpfaccel_traffic_probe *tp = ebpfaccel_traffic_probe__open(NULL);
 * ebpfaccel_traffic_probe__attach(tp, if_nametoindex("eth1"));
 * struct ebpfaccel_auto_policy *ap = ebpfaccel_auto_policy__new(tp, NULL);
 * for (;;) {
 *         sleep(1);
 *         ebpfaccel_auto_policy__update(ap);    // calls opts.apply on changes
 * }
 * @endcode
 */
#ifndef EBPFACCEL_TRAFFIC_PROBE_H
#define EBPFACCEL_TRAFFIC_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <ebpfaccel/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Directions, seen from the host the probe runs on. */
enum ebpfaccel_traffic_dir {
	EBPFACCEL_TRAFFIC_TX = 0,	/**< leaving through the interface (egress) */
	EBPFACCEL_TRAFFIC_RX = 1,	/**< arriving on the interface (ingress) */
};

/** Options for ebpfaccel_traffic_probe__open(). Zero means the default. */
struct ebpfaccel_traffic_probe_opts {
	/** sizeof(struct ebpfaccel_traffic_probe_opts); use LIBEBPFACCEL_OPTS(). */
	size_t sz;
	/** Connections tracked at once (LRU; default 16384). */
	uint32_t max_flows;
	/** Server ports tracked at once (LRU; default 1024). */
	uint32_t max_ports;
	/** Length of one rate window in milliseconds (default 100). */
	uint32_t window_ms;
	/** One payload sample per this many payload bytes of a flow
	 *  (default 65536); the first payload of each direction is always
	 *  sampled. */
	uint32_t sample_every_bytes;
	/** Sampled bytes kept per port and direction for the compressibility
	 *  estimate (default 65536, at most 1 MiB). */
	uint32_t sample_window;
	/** tc filter priority used on both hooks (default 0xEA01). */
	uint16_t priority;
	/** Filled when open fails: which BPF program the kernel refused and
	 *  why (optional; see struct ebpfaccel_load_error). */
	struct ebpfaccel_load_error *load_error;
	size_t :0;
};
#define ebpfaccel_traffic_probe_opts__last_field load_error

/** Counters of one direction. */
struct ebpfaccel_traffic_counters {
	uint64_t bytes;		/**< IP bytes, headers included */
	uint64_t packets;	/**< packets on the wire (GSO segments counted) */
	uint64_t payload_bytes;	/**< TCP payload bytes */
	uint64_t payload_segs;	/**< packets (as the stack handed them over) with payload */
	uint64_t rate;		/**< payload bytes/s over the last sliding window */
	/** Highest payload bytes/s of any window; the current one counts
	 *  with the bytes it has so far. */
	uint64_t peak_rate;
};

/** What the probe measured for one server port. */
struct ebpfaccel_port_stats {
	uint16_t port;		/**< server port (destination of the SYN) */
	uint64_t flows;		/**< connections seen under this port */
	uint64_t turns;		/**< payload direction changes, summed over flows */
	uint64_t age_ns;	/**< time since the first packet */
	uint64_t idle_ns;	/**< time since the last packet */
	struct ebpfaccel_traffic_counters dir[2];	/**< by enum ebpfaccel_traffic_dir */
	/** Sampled payload bytes currently held, per direction. */
	uint32_t sample_bytes[2];
	/** Order-0 entropy of the held sample in bits per byte (0..8); 8 for
	 *  random data, about 4.5..5.5 for text; -1 without a sample. */
	double entropy[2];
	/** Size ratio (original/compressed) of the held sample with zstd
	 *  level 1; a lower bound for a real stream, whose compressor also
	 *  sees the bytes between the samples; 0 without a sample. */
	double sample_ratio[2];
};

/** What the probe measured for one TCP connection. */
struct ebpfaccel_flow_stats {
	int family;			/**< AF_INET or AF_INET6 */
	uint8_t local_addr[16];		/**< IPv4: first 4 bytes */
	uint8_t remote_addr[16];
	uint16_t local_port;
	uint16_t remote_port;
	uint16_t server_port;		/**< port the flow counts under */
	int local_is_server;		/**< 1, 0, or -1 if the SYN was not seen */
	uint64_t turns;			/**< payload direction changes */
	uint64_t age_ns;
	uint64_t idle_ns;
	struct ebpfaccel_traffic_counters dir[2];
};

struct ebpfaccel_traffic_probe;

/**
 * @brief Load the probe's BPF programs and maps (not attached yet).
 *
 * @param opts options, or NULL for defaults.
 * @return A probe, or NULL with errno set: EINVAL for bad @p opts, EPERM
 *         without CAP_BPF (or CAP_SYS_ADMIN), ENOMEM,
 *         EBPFACCEL_ERR_VERIFY (the verifier refused a program) or another
 *         load error, explained in one WARN line and in opts->load_error
 *         when set.
 * Privileges: CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN).
 */
EBPFACCEL_API struct ebpfaccel_traffic_probe *
ebpfaccel_traffic_probe__open(const struct ebpfaccel_traffic_probe_opts *opts);

/**
 * @brief Attach the probe to an interface of the calling thread's netns.
 *
 * Adds a clsact qdisc unless the interface has one, and one cls_bpf filter
 * (direct-action, at opts.priority, handle 1) on its ingress and egress
 * hooks.  The filters never change or drop packets.  A probe attaches to one
 * interface; the netlink socket keeps the interface's netns, so detaching
 * works from any thread.
 *
 * @param probe  a probe from ebpfaccel_traffic_probe__open().
 * @param ifindex interface index.
 * @return 0, or -EINVAL (NULL probe, ifindex <= 0), -EBUSY (already
 *         attached), -ENODEV (no such interface), -EOPNOTSUPP (not an
 *         Ethernet or loopback device: the programs parse from an Ethernet
 *         header), -EEXIST (a filter at our priority exists), -EPERM (no
 *         CAP_NET_ADMIN), other -errno.
 * Privileges: CAP_NET_ADMIN.
 */
EBPFACCEL_API int ebpfaccel_traffic_probe__attach(struct ebpfaccel_traffic_probe *probe,
						  int ifindex);

/**
 * @brief Same as ebpfaccel_traffic_probe__attach() with an interface name.
 * @return As ebpfaccel_traffic_probe__attach(); -ENODEV for an unknown name.
 */
EBPFACCEL_API int ebpfaccel_traffic_probe__attach_ifname(struct ebpfaccel_traffic_probe *probe,
							 const char *ifname);

/**
 * @brief Remove exactly what ebpfaccel_traffic_probe__attach() added.
 *
 * Deletes the two filters, and the clsact qdisc only if attach created it
 * and no other filter has been added to it since.  Counters stay readable.
 *
 * @return 0, -EINVAL for NULL, -ENOENT if not attached, or the first
 *         netlink error (the other removals are still tried).
 * Privileges: CAP_NET_ADMIN.
 */
EBPFACCEL_API int ebpfaccel_traffic_probe__detach(struct ebpfaccel_traffic_probe *probe);

/**
 * @brief Take the payload samples the programs queued; cheap when none.
 *
 * The stats calls do this too; call it often enough (about once a second at
 * 10 Gbit/s) when stats are read rarely, or the oldest samples are dropped.
 *
 * @param timeout_ms how long to wait for the first sample; 0 does not wait.
 * @return Number of samples taken, or -errno.
 */
EBPFACCEL_API int ebpfaccel_traffic_probe__poll(struct ebpfaccel_traffic_probe *probe,
						int timeout_ms);

/**
 * @brief Statistics of one server port.
 *
 * @param probe a probe.
 * @param port  server port.
 * @param st    filled on success.
 * @return 0, -ENOENT if the port has not been seen, -EINVAL for NULL
 *         arguments, other -errno from the map lookup.
 */
EBPFACCEL_API int ebpfaccel_traffic_probe__port_stats(struct ebpfaccel_traffic_probe *probe,
						      uint16_t port,
						      struct ebpfaccel_port_stats *st);

/** Called once per port or flow; a non-zero return stops the iteration. */
typedef int (*ebpfaccel_port_stats_fn)(const struct ebpfaccel_port_stats *st, void *ctx);
/** @copydoc ebpfaccel_port_stats_fn */
typedef int (*ebpfaccel_flow_stats_fn)(const struct ebpfaccel_flow_stats *st, void *ctx);

/**
 * @brief Call @p fn for every port the probe tracks.
 * @return The first non-zero value @p fn returned, 0 after all ports,
 *         -EINVAL for NULL arguments, or -errno.
 */
EBPFACCEL_API int ebpfaccel_traffic_probe__for_each_port(struct ebpfaccel_traffic_probe *probe,
							 ebpfaccel_port_stats_fn fn, void *ctx);

/**
 * @brief Call @p fn for every connection the probe tracks.
 * @return The first non-zero value @p fn returned, 0 after all flows,
 *         -EINVAL for NULL arguments, or -errno.
 */
EBPFACCEL_API int ebpfaccel_traffic_probe__for_each_flow(struct ebpfaccel_traffic_probe *probe,
							 ebpfaccel_flow_stats_fn fn, void *ctx);

/**
 * @brief Payload samples the kernel could not queue because user space did
 *        not take them in time.
 * @return The count, 0 for NULL.
 */
EBPFACCEL_API uint64_t ebpfaccel_traffic_probe__samples_dropped(const struct ebpfaccel_traffic_probe *probe);

/** @brief Detach (if attached) and free the probe; NULL is ignored. */
EBPFACCEL_API void ebpfaccel_traffic_probe__destroy(struct ebpfaccel_traffic_probe *probe);

/* ------------------------------------------------------------ auto policy */

/** Why the auto policy decided as it did. Values are stable ABI. */
enum ebpfaccel_auto_reason {
	/** Too little traffic since the last update to judge; nothing changed. */
	EBPFACCEL_AUTO_NO_DATA		= 0,
	/** On: one-way bulk runs of data that compresses. */
	EBPFACCEL_AUTO_BULK_COMPRESSIBLE = 1,
	/** Off: the sampled data does not compress. */
	EBPFACCEL_AUTO_INCOMPRESSIBLE	= 2,
	/** Off: small request/response turns; round trips, not bandwidth, bound them. */
	EBPFACCEL_AUTO_LATENCY_BOUND	= 3,
	/** Off: the rate is above what one core compresses per second. */
	EBPFACCEL_AUTO_RATE_ABOVE_COMP_SPEED = 4,
	__EBPFACCEL_AUTO_REASON_MAX,
};

/**
 * One interval of one port's traffic, as the policy judges it.
 * ebpfaccel_auto_policy__update() builds these from the probe.
 */
struct ebpfaccel_auto_sample {
	uint64_t duration_ns;		/**< length of the interval */
	uint64_t payload_bytes[2];	/**< by enum ebpfaccel_traffic_dir */
	uint64_t turns;			/**< payload direction changes */
	uint64_t rate;			/**< highest payload bytes/s seen in the interval */
	double sample_ratio;		/**< compressibility of the busier direction; 0 unknown */
	double entropy;			/**< its order-0 entropy, bits/byte; -1 unknown or
					     not from a sample (e.g. an engine's ratio) */
};

/**
 * One compression configuration the goodput model weighs (opts.choose),
 * with the engine's figures for it on a port's data.
 */
struct ebpfaccel_auto_candidate {
	int algo;		/**< enum tcp_comp_algo (<ebpfaccel/uapi.h>) */
	int level;		/**< the algorithm's level (lz4: negative = acceleration) */
	int mode;		/**< enum tcp_comp_mode: block or stream */
	uint64_t comp_speed;	/**< input bytes/s one core compresses */
	uint64_t decomp_speed;	/**< output bytes/s one core decompresses */
	double ratio;		/**< original / wire bytes on the port's sample */
};

/** A port's current decision. */
struct ebpfaccel_auto_decision {
	uint16_t port;
	bool compress;				/**< the decision in force */
	enum ebpfaccel_auto_reason reason;	/**< why it is in force */
	/** What the last interval alone says; differs from @c reason while
	 *  the hysteresis holds the decision. */
	enum ebpfaccel_auto_reason latest;
	/** Direction that carried most payload in the last judged interval. */
	enum ebpfaccel_traffic_dir busy_dir;
	unsigned int agreeing;		/**< consecutive intervals agreeing with @c latest */
	uint64_t changes;		/**< times the decision flipped */
	/** The configuration in force with its figures (algo
	 *  TCP_COMP_ALGO_NONE while off).  Without opts.choose: the configured
	 *  algorithm and level, figures as far as measured. */
	struct ebpfaccel_auto_candidate choice;
	/** Estimated link rate in payload bytes/s: what plain TCP delivers. */
	uint64_t link_rate;
	/** Application bytes/s the model expects from @c choice (the link
	 *  rate while off); 0 without opts.choose. */
	uint64_t goodput;
	/** One line with the figures behind @c reason.  Until a verdict has
	 *  decided the port, and while the goodput model waits for more of
	 *  the port's stream, it starts with "waiting" and says for what
	 *  ("waiting, 2/3 in a row: ...", "waiting for stretch 3/4: ..."). */
	char text[160];
};

/** Called when a port's decision in force differs from the one last
 *  applied: after its first judged interval (usually "off" while the
 *  hysteresis waits), and on every flip. */
typedef int (*ebpfaccel_auto_apply_fn)(const struct ebpfaccel_auto_decision *d, void *ctx);

struct ebpfaccel_comp_policy;
struct ebpfaccel_comp_rule_opts;

/** Options of ebpfaccel_auto_policy__new(). Zero means the default. */
struct ebpfaccel_auto_policy_opts {
	/** sizeof(struct ebpfaccel_auto_policy_opts); use LIBEBPFACCEL_OPTS(). */
	size_t sz;
	/** Compressor whose speed bounds the rate: enum tcp_comp_algo from
	 *  <ebpfaccel/uapi.h> (default zstd). */
	int algo;
	/** Its level (default 1; for lz4, a negative level is an acceleration). */
	int level;
	/** Compression speed in bytes/s; 0 measures it per port, in thread
	 *  CPU time on the port's sample once that is worth compressing, and
	 *  again (at most every 2 s) when the sample's ratio moves by more
	 *  than a quarter (the speed follows the data). */
	uint64_t comp_speed;
	/** Sample ratio at or above which compression turns on (default 1.5). */
	double on_ratio;
	/** Sample ratio below which it turns off again (default 1.2). */
	double off_ratio;
	/** Mean payload bytes per one-way run below which traffic is
	 *  latency-bound (default 32768). */
	uint64_t min_run_bytes;
	/** Payload bytes an interval needs to be judged (default 65536). */
	uint64_t min_bytes;
	/** Consecutive agreeing intervals before a decision flips (default 3). */
	unsigned int hold;
	/** Called with each decision to apply (see ebpfaccel_auto_apply_fn),
	 *  after @c comp_policy has been updated. */
	ebpfaccel_auto_apply_fn apply;
	void *apply_ctx;
	/** A compression policy (<ebpfaccel/comp.h>) whose port rules follow
	 *  the decisions: on a decision, the port's rule is set to @c comp_rule
	 *  with action ON or OFF and, unless @c comp_rule names directions, the
	 *  direction that carries the bulk (this host's TX or RX).  New
	 *  connections of the port negotiate by it; open ones keep theirs.
	 *  NULL: decisions go to @c apply only.  Not owned by the policy. */
	struct ebpfaccel_comp_policy *comp_policy;
	/** Algorithm, mode, level, ... of the rules written to @c comp_policy
	 *  (copied at creation); NULL for the compression defaults. */
	const struct ebpfaccel_comp_rule_opts *comp_rule;
	/** Choose algorithm, level and mode per port by the goodput they are
	 *  expected to deliver (docs/traffic-probe.md) rather than only turn
	 *  @c algo at @c level on and off.  The rules written to
	 *  @c comp_policy then carry the choice. */
	bool choose;
	/** Configurations weighed when @c choose; NULL: lz4 and zstd 1 in
	 *  block and stream mode, zstd 3, 6 and 9 in stream mode.  A candidate
	 *  whose three figures are non-zero is taken as given; the others are
	 *  measured through the engine on each port's sample.  Copied. */
	const struct ebpfaccel_auto_candidate *candidates;
	size_t n_candidates;		/**< entries of @c candidates (at most 16) */
	/** How many times better (in its compressible part) a connection's
	 *  stream compresses with zstd-1 in stream mode than the probe's
	 *  sample of 256-byte pieces (default 2.2); the other candidates get
	 *  their measured share of it (docs/traffic-probe.md).  Replaced per
	 *  port by the factor measured once the engine's ratio is reported
	 *  (ebpfaccel_auto_policy__set_engine_ratio()). */
	double stream_gain;
	/** Link rate in payload bytes/s; 0 estimates it per port from the
	 *  delivered rate (highest seen, halving every 10 s without a new
	 *  high). */
	uint64_t link_rate;
	/** Share of one core (0 to 1] that each end of a compressing
	 *  connection gets, scaling the candidates' speeds; 0 estimates it
	 *  at every judgement: the smaller of what the thread measuring the
	 *  candidates got and what the machine's one-minute load average
	 *  leaves a busy thread (online CPUs / (load + 1)). */
	double cpu_share;
	size_t :0;
};
#define ebpfaccel_auto_policy_opts__last_field cpu_share

struct ebpfaccel_auto_policy;

/**
 * @brief Create an auto policy reading @p probe (which it does not own).
 * @param probe the probe; NULL makes a policy that is only fed through
 *              ebpfaccel_auto_policy__feed().
 * @param opts  options or NULL.
 * @return A policy, or NULL with errno EINVAL (bad @p opts: on_ratio <
 *         off_ratio, unknown algo, bad comp_rule) or ENOMEM.
 * Privileges: none beyond the probe's.
 */
EBPFACCEL_API struct ebpfaccel_auto_policy *
ebpfaccel_auto_policy__new(struct ebpfaccel_traffic_probe *probe,
			   const struct ebpfaccel_auto_policy_opts *opts);

/**
 * @brief Judge every port the probe saw since the last call.
 *
 * For each port, the traffic since the previous update is one interval
 * (ebpfaccel_auto_policy__feed()).  Call it at a steady pace (0.1–1 s).
 *
 * @return Number of decisions that flipped, or -errno (-EINVAL without a
 *         probe).  An error from applying a decision (the compression
 *         policy's or the apply callback's) is returned after all ports
 *         are judged; that decision is applied again on the next update.
 */
EBPFACCEL_API int ebpfaccel_auto_policy__update(struct ebpfaccel_auto_policy *policy);

/**
 * @brief Judge one interval of a port's traffic measured by other means.
 * @return 1 if the decision flipped, 0 if not, -EINVAL, -ENOMEM, or the
 *         error of applying the decision.
 */
EBPFACCEL_API int ebpfaccel_auto_policy__feed(struct ebpfaccel_auto_policy *policy, uint16_t port,
					      const struct ebpfaccel_auto_sample *s);

/**
 * @brief What the compression engine achieves on @p port's connections.
 *
 * While a port's decision is on, its traffic on the wire is compressed
 * records, which sample as random: ebpfaccel_auto_policy__update() then
 * judges compressibility by this ratio (original bytes / wire bytes, e.g.
 * from the engine's tcp_comp_stats) instead of the probe's sample.  While
 * the decision is off, the probe's sample is used.
 *
 * @param ratio the engine's ratio; 0 forgets it.
 * @return 0, -EINVAL (NULL @p policy, negative or non-finite @p ratio),
 *         -ENOMEM.
 */
EBPFACCEL_API int ebpfaccel_auto_policy__set_engine_ratio(struct ebpfaccel_auto_policy *policy,
							  uint16_t port, double ratio);

/**
 * @brief The current decision for @p port.
 * @return 0, -ENOENT if the port has never been judged, -EINVAL.
 */
EBPFACCEL_API int ebpfaccel_auto_policy__decision(const struct ebpfaccel_auto_policy *policy,
						  uint16_t port, struct ebpfaccel_auto_decision *d);

/**
 * @brief Compression speed in bytes/s: the configured one, or the one last
 *        measured on any port; 0 while none was measured.
 */
EBPFACCEL_API uint64_t ebpfaccel_auto_policy__comp_speed(const struct ebpfaccel_auto_policy *policy);

/** @brief Free a policy (the probe stays); NULL is ignored. */
EBPFACCEL_API void ebpfaccel_auto_policy__free(struct ebpfaccel_auto_policy *policy);

/**
 * @brief Short stable name of a reason ("bulk-compressible", ...).
 * @return A static string, or NULL with errno EINVAL.
 */
EBPFACCEL_API const char *ebpfaccel_auto_reason__name(enum ebpfaccel_auto_reason reason);

#ifdef __cplusplus
}
#endif

#endif /* EBPFACCEL_TRAFFIC_PROBE_H */
