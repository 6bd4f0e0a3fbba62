/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* libFuzzer target for bpf/redis/resp.h: any input, cut into chunks of any size,
 * must give the same events as the same input fed in one-byte chunks and in
 * full chunks, and any prefix of it a prefix of those events; nothing may
 * crash or read out of bounds, at any nesting depth.
 *   clang -g -O1 -fsanitize=fuzzer,address -Ibpf tests/fuzz_resp.c */
#include <stdint.h>
#include <stdlib.h>
#include "resp_drive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct resp_log a, b;
	size_t chunk;

	if (size < 1)
		return 0;
	chunk = 1 + data[0] % RESP_CHUNK;
	data++;
	size--;
	resp_drive_req(data, size, chunk, &a);
	resp_drive_req(data, size, RESP_CHUNK, &b);
	if (a.len != b.len || memcmp(a.text, b.text, a.len))
		abort();
	resp_drive_rep(data, size, chunk, &a);
	resp_drive_rep(data, size, 1, &b);
	if (a.len != b.len || memcmp(a.text, b.text, a.len))
		abort();
	/* cut short, the stream reports a prefix of the whole one's events */
	resp_drive_rep(data, size * (data[-1] >> 4) / 16, chunk, &b);
	if (b.len > a.len || memcmp(a.text, b.text, b.len))
		abort();
	return 0;
}
