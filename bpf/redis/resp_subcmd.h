/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a request's command name and first argument say about its effect,
 * for the commands whose effect depends on a subcommand: which CONFIG,
 * MODULE and ACL subcommands only read. Shared by every cache object that
 * classifies requests (redis_cache.bpf.c on the server's sockets, near.bpf.c
 * on the client's) and by the unit test, so the server and the near cache
 * cannot disagree about a command.
 *
 * The check names the command as well as the subcommand: REPLICAOF's first
 * argument is a host name, and `REPLICAOF list 6379` reconfigures.
 */
#ifndef EBPFACCEL_REDIS_RESP_SUBCMD_H
#define EBPFACCEL_REDIS_RESP_SUBCMD_H

#include "resp.h"

/* r->cmd is upper-cased by the scanner; r->key is as sent */
RESP_API int cmd_is(const struct resp_req *r, const char *w, __u32 n)
{
	if (r->cmd_len != n)
		return 0;
	for (int i = 0; i < RESP_CMD_MAX; i++) {
		if (i >= (int)n)
			break;
		if (r->cmd[i] != w[i])
			return 0;
	}
	return 1;
}

/* @w upper case: the first argument, compared without case */
RESP_API int key_is(const struct resp_req *r, const char *w, __u32 n)
{
	if (r->key_len != n)
		return 0;
	for (int i = 0; i < 16; i++) {
		if (i >= (int)n)
			break;
		if (resp_upper(r->key[i]) != w[i])
			return 0;
	}
	return 1;
}

/* CONFIG GET/HELP and MODULE LIST/HELP change nothing; every other
 * subcommand of a reconfiguring command (CONFIG SET/RESETSTAT/REWRITE,
 * MODULE LOAD, REPLICAOF, SLAVEOF, FAILOVER, DEBUG) may. */
RESP_API int reconf_reads(const struct resp_req *r)
{
	if (cmd_is(r, "CONFIG", 6))
		return key_is(r, "GET", 3) || key_is(r, "HELP", 4);
	if (cmd_is(r, "MODULE", 6))
		return key_is(r, "LIST", 4) || key_is(r, "HELP", 4);
	return 0;
}

/* ACL subcommands that only read; the others (SETUSER, DELUSER, LOAD, ...)
 * change who may read what. */
RESP_API int admin_reads(const struct resp_req *r)
{
	if (!cmd_is(r, "ACL", 3))
		return 0;
	return key_is(r, "WHOAMI", 6) || key_is(r, "CAT", 3) ||
	       key_is(r, "LIST", 4) || key_is(r, "USERS", 5) ||
	       key_is(r, "GETUSER", 7) || key_is(r, "LOG", 3) ||
	       key_is(r, "HELP", 4) || key_is(r, "GENPASS", 7) ||
	       key_is(r, "DRYRUN", 6);
}

#endif
