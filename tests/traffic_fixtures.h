/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Traffic for the probe's tests: a client and a server netns joined by a
 * veth pair, a TCP server thread in the server netns (sink or
 * request/response), and client threads that send bulk data (switchable
 * while running) or play ping-pong.
 */
#ifndef EBPFACCEL_TEST_TRAFFIC_FIXTURES_H
#define EBPFACCEL_TEST_TRAFFIC_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "fixtures.h"

struct tf_link {
	struct fx_netns *cli, *srv;
	struct fx_veth veth;		/* side a in cli, side b in srv */
	int srv_ifindex;		/* veth side b, inside srv */
};

/* Both namespaces and the veth; ck_assert()s on failure. */
void tf_link_new(struct tf_link *l);
void tf_link_free(struct tf_link *l);

/* Limit what the client sends to @mbit Mbit/s (tbf on its veth side; again: a new rate). */
void tf_link_limit(struct tf_link *l, int mbit);

enum tf_server_mode {
	TF_SINK,	/* read and discard */
	TF_ECHO,	/* read req_len bytes, answer resp_len bytes, repeat */
	/* read through ebpfaccel_comp_conn (what the handshake negotiated,
	 * plain otherwise) and note each connection's decoded bytes */
	TF_DECODE,
};

struct tf_server;
struct tf_server *tf_server_start(struct tf_link *l, int family, enum tf_server_mode mode,
				  size_t req_len, size_t resp_len);
uint16_t tf_server_port(const struct tf_server *s);
/* Payload bytes received over all connections so far. */
uint64_t tf_server_received(struct tf_server *s);
void tf_server_stop(struct tf_server *s);
/* TF_DECODE: what the last finished connection delivered; returns how
 * many connections have finished. */
struct tf_decoded {
	uint64_t len, hash;	/* decoded bytes and their tf_hash() */
	int rx_algo;		/* enum tcp_comp_algo the server decoded */
	int error;		/* -errno of the engine, 0 at a clean end */
};
uint64_t tf_server_last(struct tf_server *s, struct tf_decoded *d);
/* FNV-1a 64 of @buf, continuing from @h (start with TF_HASH_INIT). */
#define TF_HASH_INIT 0xcbf29ce484222325ULL
uint64_t tf_hash(uint64_t h, const uint8_t *buf, size_t len);

/* A connected TCP socket from the client netns to @s; ck_assert()s. */
int tf_connect(struct tf_link *l, const struct tf_server *s, int family);

struct tf_client;
/* Sends @data (len bytes) over and over on @fd until stopped; NULL data
 * sends fresh random bytes. */
struct tf_client *tf_bulk_start(int fd, const uint8_t *data, size_t len);
/* Sends from @data (NULL: fresh random bytes) from now on, same connection. */
void tf_bulk_switch(struct tf_client *c, const uint8_t *data, size_t len);
/* Request/response rounds of req_len/resp_len bytes until stopped. */
struct tf_client *tf_pingpong_start(int fd, const uint8_t *req, size_t req_len, size_t resp_len);
/* Stops the thread, closes the socket; returns payload bytes sent and, for
 * ping-pong, the completed rounds in *rounds (may be NULL). */
uint64_t tf_client_stop(struct tf_client *c, uint64_t *rounds);

/* Real text (C headers and licence texts of this system), @len bytes. */
uint8_t *tf_text(size_t len);
/* Bytes from getrandom(). */
uint8_t *tf_random(size_t len);

/* Blocking helpers on a socket; ck_assert() on error. */
void tf_write_all(int fd, const uint8_t *buf, size_t len);
void tf_read_all(int fd, uint8_t *buf, size_t len);

/* Payload bytes TCP retransmitted on @fd so far (TCP_INFO). */
uint64_t tf_bytes_retrans(int fd);

#endif
