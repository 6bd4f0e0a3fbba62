/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What each Redis command does to a cache: the table the programs classify
 * requests by. Internal to lib/redis/. */
#ifndef EBPFACCEL_REDIS_COMMANDS_H
#define EBPFACCEL_REDIS_COMMANDS_H

struct bpf_map;

/* Fills a BPF hash map of char[RESP_CMD_MAX] command name -> __u32
 * enum rc_cmd_class. Commands not in it invalidate the whole cache. */
int rc_commands__fill(struct bpf_map *map);

#endif /* EBPFACCEL_REDIS_COMMANDS_H */
