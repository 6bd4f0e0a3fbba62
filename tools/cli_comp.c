// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ebpfaccel comp attach|detach|policy set|policy del|policy list|stats
 *
 * Every command after 'attach' works on a pinned policy (the library's
 * ebpfaccel_comp_policy__open_pinned()), so it is one short-lived process
 * among others steering the same attachment.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include <ebpfaccel/ebpfaccel.h>

#include "cli.h"

#define COMP_PINS	CLI_PIN_ROOT "/comp"

struct comp_args {
	const char *name;	/* --name */
	const char *cgroup;	/* --cgroup */
	const char *port;	/* the positional PORT */
	struct ebpfaccel_comp_rule_opts rule;
};

static const char *const algo_names[] = {
	[TCP_COMP_ALGO_NONE] = "none", [TCP_COMP_ALGO_ZSTD] = "zstd", [TCP_COMP_ALGO_LZ4] = "lz4",
};
static const char *const mode_names[] = {
	[TCP_COMP_MODE_BLOCK] = "block", [TCP_COMP_MODE_STREAM] = "stream",
};
static const char *const action_names[] = {
	[EBPFACCEL_COMP_ON] = "on", [EBPFACCEL_COMP_OFF] = "off", [EBPFACCEL_COMP_AUTO] = "auto",
};
static const char *const dir_names[] = {
	[EBPFACCEL_COMP_DIR_TX] = "tx", [EBPFACCEL_COMP_DIR_RX] = "rx",
	[EBPFACCEL_COMP_DIR_BOTH] = "both",
};

static int lookup(const char *const *names, size_t n, const char *word)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], word))
			return i;
	return -1;
}

#define LOOKUP(names, word) lookup(names, sizeof(names) / sizeof(names[0]), word)
#define NAME_OF(names, i) ((unsigned int)(i) < sizeof(names) / sizeof(names[0]) && names[i] ? names[i] : "?")

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	errno = 0;
	v = s ? strtol(s, &end, 10) : 0;
	if (!s || errno || *end || end == s || v < 1 || v > 65535)
		return cli_error(-EINVAL, "bad port '%s': a TCP server port is a number from 1 to 65535",
				 s ? s : "");
	*port = v;
	return 0;
}

static int parse_level(const char *s, int *level)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < -65536 || v > 22)
		return cli_error(-EINVAL, "bad level '%s': zstd takes 1..22, lz4 a negative acceleration", s);
	*level = v;
	return 0;
}

struct comp_parse {
	const char *cmd, *allowed;
	struct comp_args *a;
};

static int comp_opt(int c, const char *arg, void *data)
{
	struct comp_parse *p = data;
	struct comp_args *a = p->a;
	int v;

	switch (c) {
	case 1:
		if (!strchr(p->allowed, 'P') || a->port)
			return cli_error(-EINVAL, "'%s': unexpected argument '%s' (see 'ebpfaccel --help')",
					 p->cmd, arg);
		a->port = arg;
		break;
	case 'n': a->name = arg; break;
	case 'c': a->cgroup = arg; break;
	case 'a':
		if ((v = LOOKUP(algo_names, arg)) <= TCP_COMP_ALGO_NONE)
			return cli_error(-EINVAL, "unknown algorithm '%s': choose zstd or lz4", arg);
		a->rule.algo = v;
		break;
	case 'm':
		if ((v = LOOKUP(mode_names, arg)) < 0)
			return cli_error(-EINVAL, "unknown mode '%s': choose block or stream", arg);
		a->rule.mode = v;
		break;
	case 'D':
		if ((v = LOOKUP(dir_names, arg)) < 0)
			return cli_error(-EINVAL, "unknown direction '%s': choose tx, rx or both", arg);
		a->rule.dir = v;
		break;
	case 'l':
		return parse_level(arg, &a->rule.level) ? CLI_USAGE : 0;
	case '1': a->rule.action = EBPFACCEL_COMP_ON; break;
	case '0': a->rule.action = EBPFACCEL_COMP_OFF; break;
	case 'A': a->rule.action = EBPFACCEL_COMP_AUTO; break;
	}
	return 0;
}

/* Options of every comp command; which ones a command allows is in @allowed
 * (option letters, 'P' for the positional PORT). */
static int parse_args(struct cli_ctx *ctx, const char *cmd, const char *allowed, struct comp_args *a)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "algo", required_argument, NULL, 'a' },
		{ "level", required_argument, NULL, 'l' },
		{ "mode", required_argument, NULL, 'm' },
		{ "dir", required_argument, NULL, 'D' },
		{ "on", no_argument, NULL, '1' },
		{ "off", no_argument, NULL, '0' },
		{ "auto", no_argument, NULL, 'A' },
		{}
	};
	struct comp_parse p = { cmd, allowed, a };
	int rc;

	*a = (struct comp_args){ .rule = { .sz = sizeof(a->rule) } };
	rc = cli_getopt(ctx, cmd, opts, allowed, comp_opt, &p);
	if (!rc && strchr(allowed, 'P') && !a->port)
		return cli_error(-EINVAL, "'%s' needs a PORT (see 'ebpfaccel --help')", cmd);
	return rc;
}

/* The pinned policies' names, in @names (up to @max); their count or -errno. */
static int pinned_names(char names[][NAME_MAX + 1], int max)
{
	struct dirent *de;
	DIR *d = opendir(COMP_PINS);
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		/* '.' entries and the library's half-made '~tmp-' directories. */
		if (de->d_name[0] == '.' || de->d_name[0] == '~')
			continue;
		if (n < max)
			snprintf(names[n], NAME_MAX + 1, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* --name, or the one policy that is pinned. */
static int choose_name(const char *given, char *name, size_t len)
{
	char names[2][NAME_MAX + 1];
	int n;

	if (given) {
		snprintf(name, len, "%s", given);
		return 0;
	}
	if (geteuid())
		return cli_error(-EPERM, "reading the attached policies needs privileges: " CLI_ROOT_HINT);
	n = pinned_names(names, 2);
	if (n < 0)
		return cli_error(n, "cannot read %s: %s", COMP_PINS, strerror(-n));
	if (!n)
		return cli_error(-ENOENT, "no compression policy is attached: "
				 "attach one with 'ebpfaccel comp attach --cgroup PATH'");
	if (n > 1)
		return cli_error(-EINVAL, "%d compression policies are attached (%s, %s%s): "
				 "choose one with --name (see 'ebpfaccel status')",
				 n, names[0], names[1], n > 2 ? ", ..." : "");
	snprintf(name, len, "%s", names[0]);
	return 0;
}

static struct ebpfaccel_comp_policy *open_policy(const char *given, int *rc)
{
	struct ebpfaccel_comp_policy *p;
	char name[NAME_MAX + 1];

	*rc = choose_name(given, name, sizeof(name));
	if (*rc)
		return NULL;
	p = ebpfaccel_comp_policy__open_pinned(name);
	if (p)
		return p;
	switch (errno) {
	case ENOENT:
		*rc = cli_error(-ENOENT, "no compression policy '%s' is attached (see 'ebpfaccel status')", name);
		break;
	case EPERM:
	case EACCES:
		*rc = cli_error(-EPERM, "opening policy '%s' needs privileges: " CLI_ROOT_HINT, name);
		break;
	case EINVAL:
		*rc = cli_error(-EINVAL, "bad policy name '%s': names have no '/', '.' or leading '~'", name);
		break;
	default:
		*rc = cli_error(-errno, "opening policy '%s' failed: %s", name, strerror(errno));
	}
	return NULL;
}

static int check_cgroup(const char *path)
{
	char mount[PATH_MAX], real[PATH_MAX];
	struct statfs fs;

	if (statfs(path, &fs))
		return cli_error(-EINVAL, "cannot use cgroup '%s': %s", path, strerror(errno));
	if (fs.f_type != CGROUP2_SUPER_MAGIC)
		return cli_error(-EINVAL, "'%s' is not a cgroup v2 directory (see 'mount -t cgroup2')", path);
	if (cli_cgroup2_mount(mount, sizeof(mount)) == 0 && realpath(path, real) &&
	    !strcmp(real, mount))
		return cli_error(-EINVAL, "refusing to attach to the root cgroup %s: it would change every "
				 "connection of the machine; create a child cgroup for the programs to "
				 "accelerate", path);
	return 0;
}

static int cmd_attach(struct cli_ctx *ctx)
{
	struct ebpfaccel_comp_policy_opts o = { .sz = sizeof(o), .pin = true };
	struct ebpfaccel_comp_policy *p;
	struct comp_args a;
	char id[32] = "";
	struct stat st;
	int fd, err, rc;

	rc = parse_args(ctx, "comp attach", "nc", &a);
	if (rc)
		return rc;
	if (!a.cgroup)
		return cli_error(-EINVAL, "'comp attach' needs --cgroup PATH (a cgroup v2 directory)");
	rc = check_cgroup(a.cgroup);
	if (rc)
		return rc;
	o.pin_name = a.name;
	p = ebpfaccel_comp_policy__open(&o);
	if (!p)
		return cli_error(-errno, "loading the negotiation program failed: %s%s", strerror(errno),
				 cli_perm_hint(-errno));
	fd = open(a.cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* The library names the pin after the cgroup's id by default. */
	if (fd >= 0 && !fstat(fd, &st))
		snprintf(id, sizeof(id), "%llu", (unsigned long long)st.st_ino);
	err = fd < 0 ? -errno : ebpfaccel_comp_policy__attach(p, fd);
	if (fd >= 0)
		close(fd);
	if (err == -EEXIST)
		rc = cli_error(err, "a policy named '%s' is already attached: detach it with "
			       "'ebpfaccel comp detach --name %s', or choose another --name",
			       a.name ? a.name : id, a.name ? a.name : id);
	else if (err)
		rc = cli_error(err, "attaching to %s failed: %s%s", a.cgroup, strerror(-err),
			       cli_perm_hint(err));
	else
		printf("attached to %s, pinned at %s\n"
		       "next: 'ebpfaccel comp policy set PORT' on both hosts\n",
		       a.cgroup, ebpfaccel_comp_policy__pin_path(p));
	ebpfaccel_comp_policy__destroy(p);
	return rc;
}

static int cmd_detach(struct cli_ctx *ctx)
{
	struct ebpfaccel_comp_policy *p;
	struct comp_args a;
	char dir[PATH_MAX];
	int err, rc;

	rc = parse_args(ctx, "comp detach", "n", &a);
	if (rc)
		return rc;
	p = open_policy(a.name, &rc);
	if (!p)
		return rc;
	snprintf(dir, sizeof(dir), "%s", ebpfaccel_comp_policy__pin_path(p));
	err = ebpfaccel_comp_policy__detach(p);
	if (err)
		rc = cli_error(err, "detaching %s failed: %s", dir, strerror(-err));
	else
		printf("detached; removed %s\n", dir);
	ebpfaccel_comp_policy__destroy(p);
	return rc;
}

static void print_rule(uint16_t port, const struct ebpfaccel_comp_rule_opts *r)
{
	printf("%-5u %-4s %-4s %5d  %-6s %-4s", port, NAME_OF(action_names, r->action),
	       NAME_OF(algo_names, r->algo), r->level, NAME_OF(mode_names, r->mode),
	       NAME_OF(dir_names, r->dir));
	printf(" %u%s\n", r->record_size ? r->record_size : TCP_COMP_DEFAULT_RECORD,
	       r->flags & TCP_COMP_F_CHECKSUM ? " checksum" : "");
}

static int cmd_policy_set(struct cli_ctx *ctx)
{
	struct ebpfaccel_comp_policy *p;
	struct comp_args a;
	uint16_t port;
	int err, rc;

	rc = parse_args(ctx, "comp policy set", "nPalmD10A", &a);
	if (rc || (rc = parse_port(a.port, &port)))
		return rc;
	p = open_policy(a.name, &rc);
	if (!p)
		return rc;
	err = ebpfaccel_comp_policy__set_port(p, port, &a.rule);
	if (!err)
		err = ebpfaccel_comp_policy__get_port(p, port, &a.rule);
	if (err)
		rc = cli_error(err, "setting the rule of port %u failed: %s", port, strerror(-err));
	else
		print_rule(port, &a.rule);
	ebpfaccel_comp_policy__destroy(p);
	return rc;
}

static int cmd_policy_del(struct cli_ctx *ctx)
{
	struct ebpfaccel_comp_policy *p;
	struct comp_args a;
	uint16_t port;
	int err, rc;

	rc = parse_args(ctx, "comp policy del", "nP", &a);
	if (rc || (rc = parse_port(a.port, &port)))
		return rc;
	p = open_policy(a.name, &rc);
	if (!p)
		return rc;
	err = ebpfaccel_comp_policy__del_port(p, port);
	if (err == -ENOENT)
		rc = cli_error(err, "port %u has no rule (see 'ebpfaccel comp policy list')", port);
	else if (err)
		rc = cli_error(err, "removing the rule of port %u failed: %s", port, strerror(-err));
	ebpfaccel_comp_policy__destroy(p);
	return rc;
}

static struct json_object *policy_json(const struct ebpfaccel_comp_policy *p)
{
	struct json_object *o = json_object_new_object();
	uint64_t id = ebpfaccel_comp_policy__cgroup_id(p);
	const char *dir = ebpfaccel_comp_policy__pin_path(p);
	char cg[PATH_MAX];

	json_object_object_add(o, "name", json_object_new_string(strrchr(dir, '/') + 1));
	json_object_object_add(o, "pinned", json_object_new_string(dir));
	json_object_object_add(o, "cgroup_id", json_object_new_uint64(id));
	json_object_object_add(o, "cgroup", id && !cli_cgroup_path(id, cg, sizeof(cg))
			       ? json_object_new_string(cg) : NULL);
	return o;
}

static struct json_object *rule_json(uint16_t port, const struct ebpfaccel_comp_rule_opts *r)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "port", json_object_new_int(port));
	json_object_object_add(o, "action", json_object_new_string(NAME_OF(action_names, r->action)));
	json_object_object_add(o, "algo", json_object_new_string(NAME_OF(algo_names, r->algo)));
	json_object_object_add(o, "level", json_object_new_int(r->level));
	json_object_object_add(o, "mode", json_object_new_string(NAME_OF(mode_names, r->mode)));
	json_object_object_add(o, "dir", json_object_new_string(NAME_OF(dir_names, r->dir)));
	json_object_object_add(o, "record_size", json_object_new_int(r->record_size ? r->record_size
									: TCP_COMP_DEFAULT_RECORD));
	json_object_object_add(o, "checksum", json_object_new_boolean(r->flags & TCP_COMP_F_CHECKSUM));
	return o;
}

static void print_policy_head(struct json_object *pol)
{
	printf("policy %s on cgroup %s (id %s), pinned at %s\n",
	       json_object_get_string(json_object_object_get(pol, "name")), cli_cgroup_text(pol),
	       json_object_get_string(json_object_object_get(pol, "cgroup_id")),
	       json_object_get_string(json_object_object_get(pol, "pinned")));
}

static int cmd_policy_list(struct cli_ctx *ctx)
{
	struct json_object *pol, *rules;
	struct ebpfaccel_comp_policy *p;
	uint16_t ports[1024];
	struct comp_args a;
	int n, rc;

	rc = parse_args(ctx, "comp policy list", "n", &a);
	if (rc)
		return rc;
	p = open_policy(a.name, &rc);
	if (!p)
		return rc;
	n = ebpfaccel_comp_policy__ports(p, ports, 1024);
	if (n > 1024)
		n = 1024;
	pol = policy_json(p);
	rules = json_object_new_array();
	for (int i = 0; i < n; i++) {
		LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, r);

		if (!ebpfaccel_comp_policy__get_port(p, ports[i], &r))
			json_object_array_add(rules, rule_json(ports[i], &r));
	}
	json_object_object_add(pol, "rules", rules);
	if (ctx->json) {
		cli_print_json(pol);
	} else {
		print_policy_head(pol);
		if (!json_object_array_length(rules))
			printf("no rules: add one with 'ebpfaccel comp policy set PORT'\n");
		else
			printf("port  act  algo level  mode   dir  record\n");
		for (int i = 0; i < n; i++) {
			LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, r);

			if (!ebpfaccel_comp_policy__get_port(p, ports[i], &r))
				print_rule(ports[i], &r);
		}
		json_object_put(pol);
	}
	ebpfaccel_comp_policy__destroy(p);
	return CLI_OK;
}

static const struct {
	const char *key, *what;
	size_t off;
} counters[] = {
#define C(field, what) { #field, what, offsetof(struct ebpfaccel_comp_policy_stats, field) }
	C(syn_opt, "client SYNs sent with the option"),
	C(synack_opt, "server SYN-ACKs answered with the option"),
	C(client_on, "client connections compressed"),
	C(client_no_answer, "client connections without a valid answer (peer without policy, or stripped)"),
	C(server_on, "server connections compressed"),
	C(server_no_confirm, "server connections whose client never confirmed"),
	C(confirm_done, "client confirmations completed"),
#undef C
};

static int cmd_stats(struct cli_ctx *ctx)
{
	struct ebpfaccel_comp_policy_stats st;
	struct ebpfaccel_comp_policy *p;
	struct json_object *pol, *cnt;
	struct comp_args a;
	int err, rc;

	rc = parse_args(ctx, "comp stats", "n", &a);
	if (rc)
		return rc;
	p = open_policy(a.name, &rc);
	if (!p)
		return rc;
	err = ebpfaccel_comp_policy__stats(p, &st);
	if (err) {
		ebpfaccel_comp_policy__destroy(p);
		return cli_error(err, "reading the counters failed: %s", strerror(-err));
	}
	pol = policy_json(p);
	cnt = json_object_new_object();
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		json_object_object_add(cnt, counters[i].key,
				       json_object_new_uint64(*(uint64_t *)((char *)&st + counters[i].off)));
	json_object_object_add(pol, "counters", cnt);
	if (ctx->json) {
		cli_print_json(pol);
	} else {
		print_policy_head(pol);
		for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
			printf("%10llu  %s\n", (unsigned long long)*(uint64_t *)((char *)&st + counters[i].off),
			       counters[i].what);
		json_object_put(pol);
	}
	ebpfaccel_comp_policy__destroy(p);
	return CLI_OK;
}

struct json_object *cli_comp_status(const char *name)
{
	struct ebpfaccel_comp_policy *p = ebpfaccel_comp_policy__open_pinned(name);
	struct json_object *o;

	if (!p)
		return NULL;
	o = policy_json(p);
	ebpfaccel_comp_policy__destroy(p);
	return o;
}

const struct cli_cmd cli_comp_cmds[] = {
	{ "comp attach", "--cgroup PATH [--name NAME]",
	  "load the compression negotiation program on a cgroup v2 and pin it (it stays until 'comp detach')",
	  cmd_attach, false },
	{ "comp detach", "[--name NAME]", "detach the pinned policy and remove its pins", cmd_detach, false },
	{ "comp policy set", "PORT [--algo zstd|lz4] [--level N] [--mode block|stream] [--dir tx|rx|both] "
	  "[--on|--off|--auto] [--name NAME]",
	  "set the rule of a server port (default: on, zstd, block, both directions)", cmd_policy_set, false },
	{ "comp policy del", "PORT [--name NAME]", "remove the rule of a server port", cmd_policy_del, false },
	{ "comp policy list", "[--name NAME] [--json]", "the port rules of the attached policy",
	  cmd_policy_list, true },
	{ "comp stats", "[--name NAME] [--json]",
	  "the negotiation counters of the attached policy (all its ports)", cmd_stats, true },
	{}
};
