/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Helpers for the statically linked test programs that run inside the qemu
 * guest (tests/kmod/run-guest.sh): loopback socket pairs, the comp ULP,
 * checks that stop the program with a message.
 */
#ifndef EBPFACCEL_TESTS_KMOD_GUEST_H
#define EBPFACCEL_TESTS_KMOD_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <ebpfaccel/uapi.h>

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond))                                                    \
			guest_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
	} while (0)

/* errno as the expected value of a failing call */
#define CHECK_ERR(call, want)                                                   \
	do {                                                                    \
		errno = 0;                                                      \
		CHECK((call) == -1 && errno == (want), "%s: want errno %d got %d (%m)", \
		      #call, want, errno);                                      \
	} while (0)

void guest_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/* connected TCP pair over loopback, family AF_INET or AF_INET6 */
void guest_tcp_pair(int family, int *client, int *server);
void guest_ulp(int fd);
/* a pair whose client compresses what it sends with p and whose server
 * decodes it */
void guest_comp_pair(int family, const struct tcp_comp_params *p, int *client, int *server);
/* parameters of record format guest_format (TCP_COMP_VERSION_2 unless a
 * test switches it) */
struct tcp_comp_params guest_params(int algo, int mode, int level, uint32_t record_size,
				    uint32_t flags);
extern int guest_format;
/* the newest format the loaded module speaks (its max_format parameter) */
int guest_module_max_format(void);
void guest_comp(int fd, int dir, const struct tcp_comp_params *p);
struct tcp_comp_stats guest_stats(int fd);

/* deterministic test data: text-like (compresses) or random (does not) */
void guest_fill(uint8_t *buf, size_t len, int compressible, uint32_t seed);
void guest_write_all(int fd, const void *buf, size_t len);
/* reads exactly len bytes or fails */
void guest_read_all(int fd, void *buf, size_t len);
double guest_now(void);
/* The receiving end of a one-way transfer into the module: reads @len bytes
 * from @srv and checks them against @data ("<what>: data differs"), then
 * EOF, the module's rx counters and that @sender exited 0; closes @srv. */
void guest_expect_module_rx(int srv, const uint8_t *data, size_t len, int sender,
			    const char *what);

#endif
