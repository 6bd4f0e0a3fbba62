// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The command table of lib/redis/commands.h. Conservative by construction:
 * a command is listed only with what it is known to do; anything else makes
 * the programs invalidate the whole cache.
 */
#include <string.h>

#include <bpf/libbpf.h>

#include "internal.h"
#include "redis/commands.h"
#include "redis/redis_cache.h"

struct rc_cmd {
	const char *name;
	enum rc_cmd_class cls;
};

/* Commands not listed invalidate the whole cache when seen. */
static const struct rc_cmd rc_cmds[] = {
	{ "GET", RC_CMD_GET },
	{ "SET", RC_CMD_SET },
	{ "DEL", RC_CMD_WRITEN }, { "UNLINK", RC_CMD_WRITEN },
	{ "SELECT", RC_CMD_SELECT }, { "AUTH", RC_CMD_AUTH },
	{ "HELLO", RC_CMD_HELLO }, { "MULTI", RC_CMD_MULTI },
	{ "EXEC", RC_CMD_EXEC }, { "DISCARD", RC_CMD_EXEC },
	{ "CLIENT", RC_CMD_CLIENT }, { "ACL", RC_CMD_ADMIN },
	{ "SUBSCRIBE", RC_CMD_PUSHY }, { "PSUBSCRIBE", RC_CMD_PUSHY },
	{ "SSUBSCRIBE", RC_CMD_PUSHY }, { "UNSUBSCRIBE", RC_CMD_PUSHY },
	{ "PUNSUBSCRIBE", RC_CMD_PUSHY }, { "SUNSUBSCRIBE", RC_CMD_PUSHY },
	{ "MONITOR", RC_CMD_PUSHY }, { "RESET", RC_CMD_PUSHY },
	{ "SYNC", RC_CMD_PUSHY }, { "PSYNC", RC_CMD_PUSHY },
	{ "REPLCONF", RC_CMD_PUSHY },
	/* may open a write path the programs do not see (per-key tracking
	 * is off until the library checked again) */
	{ "CONFIG", RC_CMD_RECONF }, { "REPLICAOF", RC_CMD_RECONF },
	{ "SLAVEOF", RC_CMD_RECONF }, { "MODULE", RC_CMD_RECONF },
	{ "FAILOVER", RC_CMD_RECONF }, { "DEBUG", RC_CMD_RECONF },
	/* change their first argument only */
	{ "SETNX", RC_CMD_WRITE1 }, { "SETEX", RC_CMD_WRITE1 },
	{ "PSETEX", RC_CMD_WRITE1 }, { "GETSET", RC_CMD_WRITE1 },
	{ "GETDEL", RC_CMD_WRITE1 }, { "GETEX", RC_CMD_WRITE1 },
	{ "APPEND", RC_CMD_WRITE1 }, { "INCR", RC_CMD_WRITE1 },
	{ "DECR", RC_CMD_WRITE1 }, { "INCRBY", RC_CMD_WRITE1 },
	{ "DECRBY", RC_CMD_WRITE1 }, { "INCRBYFLOAT", RC_CMD_WRITE1 },
	{ "SETRANGE", RC_CMD_WRITE1 }, { "SETBIT", RC_CMD_WRITE1 },
	{ "EXPIRE", RC_CMD_WRITE1 }, { "PEXPIRE", RC_CMD_WRITE1 },
	{ "EXPIREAT", RC_CMD_WRITE1 }, { "PEXPIREAT", RC_CMD_WRITE1 },
	{ "PERSIST", RC_CMD_WRITE1 }, { "HSET", RC_CMD_WRITE1 },
	{ "HSETNX", RC_CMD_WRITE1 }, { "HMSET", RC_CMD_WRITE1 },
	{ "HDEL", RC_CMD_WRITE1 }, { "HINCRBY", RC_CMD_WRITE1 },
	{ "HINCRBYFLOAT", RC_CMD_WRITE1 }, { "LPUSH", RC_CMD_WRITE1 },
	{ "RPUSH", RC_CMD_WRITE1 }, { "LPUSHX", RC_CMD_WRITE1 },
	{ "RPUSHX", RC_CMD_WRITE1 }, { "LPOP", RC_CMD_WRITE1 },
	{ "RPOP", RC_CMD_WRITE1 }, { "LSET", RC_CMD_WRITE1 },
	{ "LREM", RC_CMD_WRITE1 }, { "LTRIM", RC_CMD_WRITE1 },
	{ "LINSERT", RC_CMD_WRITE1 }, { "SADD", RC_CMD_WRITE1 },
	{ "SREM", RC_CMD_WRITE1 }, { "SPOP", RC_CMD_WRITE1 },
	{ "ZADD", RC_CMD_WRITE1 }, { "ZREM", RC_CMD_WRITE1 },
	{ "ZINCRBY", RC_CMD_WRITE1 }, { "ZPOPMIN", RC_CMD_WRITE1 },
	{ "ZPOPMAX", RC_CMD_WRITE1 }, { "ZREMRANGEBYSCORE", RC_CMD_WRITE1 },
	{ "ZREMRANGEBYRANK", RC_CMD_WRITE1 }, { "ZREMRANGEBYLEX", RC_CMD_WRITE1 },
	{ "XADD", RC_CMD_WRITE1 }, { "XDEL", RC_CMD_WRITE1 },
	{ "XTRIM", RC_CMD_WRITE1 }, { "XACK", RC_CMD_WRITE1 },
	{ "PFADD", RC_CMD_WRITE1 }, { "PFMERGE", RC_CMD_WRITE1 },
	{ "PFCOUNT", RC_CMD_WRITEN }, /* rewrites its cached cardinality */
	{ "GEOADD", RC_CMD_WRITE1 }, { "SUNIONSTORE", RC_CMD_WRITE1 },
	{ "SINTERSTORE", RC_CMD_WRITE1 }, { "SDIFFSTORE", RC_CMD_WRITE1 },
	{ "ZUNIONSTORE", RC_CMD_WRITE1 }, { "ZINTERSTORE", RC_CMD_WRITE1 },
	{ "ZDIFFSTORE", RC_CMD_WRITE1 }, { "ZRANGESTORE", RC_CMD_WRITE1 },
	/* change no key */
	{ "PTTL", RC_CMD_READ }, { "TTL", RC_CMD_READ },
	{ "EXPIRETIME", RC_CMD_READ }, { "PEXPIRETIME", RC_CMD_READ },
	{ "EXISTS", RC_CMD_READ }, { "TYPE", RC_CMD_READ },
	{ "STRLEN", RC_CMD_READ }, { "GETRANGE", RC_CMD_READ },
	{ "SUBSTR", RC_CMD_READ }, { "MGET", RC_CMD_READ },
	{ "PING", RC_CMD_READ }, { "ECHO", RC_CMD_READ },
	{ "INFO", RC_CMD_READ }, { "DBSIZE", RC_CMD_READ },
	{ "KEYS", RC_CMD_READ }, { "SCAN", RC_CMD_READ },
	{ "RANDOMKEY", RC_CMD_READ }, { "TIME", RC_CMD_READ },
	{ "LASTSAVE", RC_CMD_READ }, { "COMMAND", RC_CMD_READ },
	{ "QUIT", RC_CMD_READ },
	{ "HGET", RC_CMD_READ }, { "HGETALL", RC_CMD_READ },
	{ "HMGET", RC_CMD_READ }, { "HKEYS", RC_CMD_READ },
	{ "HVALS", RC_CMD_READ }, { "HLEN", RC_CMD_READ },
	{ "HEXISTS", RC_CMD_READ }, { "HSTRLEN", RC_CMD_READ },
	{ "HSCAN", RC_CMD_READ }, { "LRANGE", RC_CMD_READ },
	{ "LLEN", RC_CMD_READ }, { "LINDEX", RC_CMD_READ },
	{ "LPOS", RC_CMD_READ }, { "SMEMBERS", RC_CMD_READ },
	{ "SISMEMBER", RC_CMD_READ }, { "SMISMEMBER", RC_CMD_READ },
	{ "SCARD", RC_CMD_READ }, { "SSCAN", RC_CMD_READ },
	{ "SINTER", RC_CMD_READ }, { "SUNION", RC_CMD_READ },
	{ "SDIFF", RC_CMD_READ }, { "ZRANGE", RC_CMD_READ },
	{ "ZRANGEBYSCORE", RC_CMD_READ }, { "ZREVRANGE", RC_CMD_READ },
	{ "ZSCORE", RC_CMD_READ }, { "ZCARD", RC_CMD_READ },
	{ "ZCOUNT", RC_CMD_READ }, { "ZRANK", RC_CMD_READ },
	{ "ZREVRANK", RC_CMD_READ }, { "ZSCAN", RC_CMD_READ },
	{ "ZMSCORE", RC_CMD_READ }, { "BITCOUNT", RC_CMD_READ },
	{ "BITPOS", RC_CMD_READ }, { "GETBIT", RC_CMD_READ },
	{ "XRANGE", RC_CMD_READ }, { "XREVRANGE", RC_CMD_READ },
	{ "XLEN", RC_CMD_READ }, { "LCS", RC_CMD_READ },
	{ "DUMP", RC_CMD_READ }, { "TOUCH", RC_CMD_READ },
	{ "PUBLISH", RC_CMD_READ }, { "SPUBLISH", RC_CMD_READ },
	{ "PUBSUB", RC_CMD_READ }, { "WATCH", RC_CMD_READ },
	{ "UNWATCH", RC_CMD_READ }, { "ROLE", RC_CMD_READ },
	{ "SLOWLOG", RC_CMD_READ }, { "LATENCY", RC_CMD_READ },
	{ "WAIT", RC_CMD_READ }, { "READONLY", RC_CMD_READ },
	{ "READWRITE", RC_CMD_READ },
};

int rc_commands__fill(struct bpf_map *map)
{
	int err;

	for (size_t i = 0; i < ARRAY_SIZE(rc_cmds); i++) {
		char name[RESP_CMD_MAX] = { 0 };
		__u32 cls = rc_cmds[i].cls;

		memcpy(name, rc_cmds[i].name, strnlen(rc_cmds[i].name, sizeof(name)));
		err = bpf_map__update_elem(map, name, sizeof(name), &cls,
					   sizeof(cls), BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}
