/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by the compression tests. */
#ifndef EBPFACCEL_TESTS_COMP_TESTLIB_H
#define EBPFACCEL_TESTS_COMP_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ebpfaccel/ebpfaccel.h>

/* Check ends a failed case with _exit(), so fixtures of failed runs stay
 * behind, and their names (pid + sequence) can come back with a reused pid:
 * take the next name then. */
#define FIXTURE_NEW(ctor) ({					\
	typeof(ctor()) obj_ = NULL;				\
	for (int try_ = 0; try_ < 5 && !obj_; try_++)		\
		obj_ = ctor();					\
	obj_;							\
})

/* Fills @buf with text-like data that compresses about 4:1 (@seed varies it). */
void comp_fill_text(char *buf, size_t len, uint32_t seed);
/* Fills @buf with incompressible bytes. */
void comp_fill_random(char *buf, size_t len, uint32_t seed);

/* A connected TCP pair on 127.0.0.1 in the current netns. */
int comp_tcp_pair(int *client, int *server);
/* Moves this process into a fresh network namespace with lo up. */
int comp_private_netns(void);

/* Waits up to a second for @events (POLLIN / POLLOUT) on @fd. */
void comp_wait(int fd, short events);
/* Sends all of @len through @c (blocking or not, polling on EAGAIN). */
int comp_send_all(struct ebpfaccel_comp_conn *c, int fd, const void *buf, size_t len);
/* Receives exactly @len bytes (polling on EAGAIN); -EPIPE on early EOF. */
int comp_recv_all(struct ebpfaccel_comp_conn *c, int fd, void *buf, size_t len);

#endif
