// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Helpers over BPF maps shared by the library's objects (lib/internal.h). */
#include <errno.h>
#include <stdlib.h>

#include <bpf/libbpf.h>

#include "internal.h"

int ebpfaccel__sum_percpu(const struct bpf_map *map, uint32_t n, uint64_t *sums)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	int err = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t i = 0; i < n && !err; i++) {
		err = bpf_map__lookup_elem(map, &i, sizeof(i), vals,
					   ncpu * sizeof(*vals), 0);
		sums[i] = 0;
		for (int cpu = 0; cpu < ncpu && !err; cpu++)
			sums[i] += vals[cpu];
	}
	free(vals);
	return err;
}
