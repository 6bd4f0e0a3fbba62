// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Guest test: the module and an independent user-space implementation of
 * the record format (urec.c: libzstd, liblz4, libxxhash) understand each
 * other in both directions, for every algorithm and mode, in record format
 * 2 (XXH3 on every record) and in format 1 with and without its checksum.
 *
 * The library's own user-space engine (branch comp) is not linked here
 * yet; urec.c stands in for it, written from uapi.h alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"
#include "urec.h"

/* record sizes vary so that stream histories span record boundaries */
static size_t next_len(size_t i, size_t left)
{
	static const size_t lens[] = { 1, 700, 65536, 3000, 150000, 20, 65537, 9999 };
	size_t n = lens[i % 8];

	return n < left ? n : left;
}

/* module parameters for urec's check: format 2, or format 1 with XXH32 or
 * without */
static struct tcp_comp_params params_for(int algo, int mode, int check)
{
	struct tcp_comp_params p;

	guest_format = check == URC_FORMAT2 ? TCP_COMP_VERSION_2 : TCP_COMP_VERSION_1;
	p = guest_params(algo, mode, 0, 0, check == URC_XXH32 ? TCP_COMP_F_CHECKSUM : 0);
	guest_format = TCP_COMP_VERSION_2;
	return p;
}

static void user_to_module(int algo, int mode, int check, int compressible)
{
	struct tcp_comp_params p = params_for(algo, mode, check);
	size_t len = 1200000, off, i;
	uint8_t *data = malloc(len), *rec = malloc(urec_bound(TCP_COMP_MAX_RECORD));
	char what[64];
	int cli, srv;
	pid_t pid;

	guest_fill(data, len, compressible, 11 + algo);
	guest_tcp_pair(AF_INET, &cli, &srv);
	guest_ulp(srv);
	guest_comp(srv, TCP_COMP_RX, &p);
	pid = fork();
	if (!pid) {
		struct urec *u = urec_new(algo, mode, 0, check);

		close(srv);
		for (off = 0, i = 0; off < len; i++) {
			size_t n = next_len(i, len - off);

			guest_write_all(cli, rec, urec_encode(u, data + off, n, rec));
			off += n;
		}
		urec_free(u);
		exit(0);
	}
	close(cli);
	snprintf(what, sizeof(what), "user->module algo %d mode %d check %d", algo, mode, check);
	guest_expect_module_rx(srv, data, len, pid, what);
	free(data);
	free(rec);
}

static void module_to_user(int algo, int mode, int check, int compressible)
{
	struct tcp_comp_params p = params_for(algo, mode, check);
	size_t len = 1200000, off, i;
	uint8_t *data = malloc(len), *got = malloc(len + TCP_COMP_MAX_RECORD);
	/* a format-1 reader takes records with or without the checksum */
	struct urec *u = urec_new(algo, mode, 0, check == URC_FORMAT2 ? URC_FORMAT2 : URC_NONE);
	int cli, srv, status;
	pid_t pid;

	guest_fill(data, len, compressible, 21 + algo);
	guest_tcp_pair(AF_INET6, &cli, &srv);
	guest_ulp(cli);
	guest_comp(cli, TCP_COMP_TX, &p);
	pid = fork();
	if (!pid) {
		close(srv);
		for (off = 0, i = 0; off < len; i++) {
			size_t n = next_len(i, len - off);

			guest_write_all(cli, data + off, n);
			off += n;
		}
		exit(0);
	}
	close(cli);
	for (off = 0;;) {
		size_t n = urec_read(u, srv, got + off);

		if (!n)
			break;
		off += n;
		CHECK(off <= len, "more than sent");
	}
	CHECK(off == len && !memcmp(got, data, len),
	      "module->user algo %d mode %d check %d: data differs", algo, mode, check);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status), "sender");
	close(srv);
	urec_free(u);
	free(data);
	free(got);
}

int main(void)
{
	int algo, mode, n = 0;
	const char *v = getenv("KMOD_VERBOSE");

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (algo = 0; algo < __TCP_COMP_ALGO_MAX; algo++)
		for (mode = 0; mode < __TCP_COMP_MODE_MAX; mode++) {
			if (v)
				fprintf(stderr, "algo %d mode %d\n", algo, mode);
			/* format 2 with both kinds of data; format 1 with
			 * and without XXH32 in turn */
			user_to_module(algo, mode, URC_FORMAT2, 1);
			user_to_module(algo, mode, URC_FORMAT2, 0);
			user_to_module(algo, mode, n & 1 ? URC_XXH32 : URC_NONE, n & 2);
			module_to_user(algo, mode, URC_FORMAT2, 1);
			module_to_user(algo, mode, URC_FORMAT2, 0);
			module_to_user(algo, mode, n & 1 ? URC_NONE : URC_XXH32, !(n & 2));
			n++;
		}
	printf("ok interop with the independent user-space codec: %d cases each way (format 2 and 1)\n",
	       3 * n);
	return 0;
}
