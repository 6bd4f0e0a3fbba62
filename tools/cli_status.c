// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ebpfaccel status | features */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ebpfaccel/ebpfaccel.h>

#include "cli.h"

static struct ebpfaccel_probe *probe_or_report(int *rc)
{
	struct ebpfaccel_probe *p = ebpfaccel_probe__new(NULL);

	if (!p)
		*rc = cli_error(-errno, "probing the system failed: %s", strerror(errno));
	return p;
}

static struct json_object *features_json(const struct ebpfaccel_probe *p)
{
	struct json_object *arr = json_object_new_array();

	for (int f = 0; f < __EBPFACCEL_FEAT_MAX; f++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(ebpfaccel_feature__name(f)));
		json_object_object_add(o, "supported",
				       json_object_new_boolean(ebpfaccel_probe__supported(p, f) == 1));
		json_object_object_add(o, "detail", json_object_new_string(ebpfaccel_probe__reason(p, f)));
		json_object_array_add(arr, o);
	}
	return arr;
}

static void features_text(const struct ebpfaccel_probe *p)
{
	for (int f = 0; f < __EBPFACCEL_FEAT_MAX; f++)
		printf("  %-14s %-3s  %s\n", ebpfaccel_feature__name(f),
		       ebpfaccel_probe__supported(p, f) == 1 ? "yes" : "no",
		       ebpfaccel_probe__reason(p, f));
}

static int cmd_features(struct cli_ctx *ctx)
{
	struct ebpfaccel_probe *p;
	int rc = CLI_OK;

	if (ctx->argc)
		return cli_error(-EINVAL, "'features' takes no arguments");
	p = probe_or_report(&rc);
	if (!p)
		return rc;
	if (ctx->json)
		cli_print_json(features_json(p));
	else
		features_text(p);
	ebpfaccel_probe__free(p);
	return rc;
}

static bool is_dir(const char *path, struct stat *st)
{
	return !stat(path, st) && S_ISDIR(st->st_mode);
}

/* Entries of @dir that name attachments (not '.', nor '~tmp-' ones). */
static bool attachment_entry(const struct dirent *de)
{
	return de->d_name[0] != '.' && de->d_name[0] != '~';
}

static struct json_object *attachment_json(const char *feature, const char *name, const char *path,
					   const struct stat *st)
{
	struct json_object *o = NULL;
	char since[32];

	if (!strcmp(feature, "comp"))
		o = cli_comp_status(name);
	if (!o) {
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_object_add(o, "pinned", json_object_new_string(path));
	}
	/* The directory's objects are pinned right before it is renamed into
	 * place: its mtime is when the attachment was made. */
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", gmtime(&st->st_mtime));
	json_object_object_add(o, "feature", json_object_new_string(feature));
	json_object_object_add(o, "since", json_object_new_string(since));
	return o;
}

static void add_feature(struct json_object *arr, const char *feature)
{
	char dir[512], path[1024];
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", CLI_PIN_ROOT, feature);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (attachment_entry(de) && is_dir(path, &st))
			json_object_array_add(arr, attachment_json(feature, de->d_name, path, &st));
	}
	closedir(d);
}

/* One entry per CLI_PIN_ROOT/<feature>/<name>/ directory, and per holder
 * process of a Redis cache. */
static struct json_object *attachments_json(void)
{
	struct json_object *arr = cli_redis_attachments();
	struct dirent *de;
	DIR *d = opendir(CLI_PIN_ROOT);

	if (!d)
		return arr;
	while ((de = readdir(d)))
		if (attachment_entry(de))
			add_feature(arr, de->d_name);
	closedir(d);
	return arr;
}

static const char *attachments_none_text(const struct ebpfaccel_probe *p)
{
	if (ebpfaccel_probe__supported(p, EBPFACCEL_FEAT_BPFFS) != 1)
		return "none (bpffs is not mounted; attaching mounts it)";
	if (access(CLI_PIN_ROOT, R_OK | X_OK) && errno == EACCES)
		return "unknown (" CLI_PIN_ROOT " is readable by root only)";
	return "none";
}

static int cmd_status(struct cli_ctx *ctx)
{
	struct json_object *st, *att;
	struct ebpfaccel_probe *p;
	int rc = CLI_OK;
	size_t n;

	if (ctx->argc)
		return cli_error(-EINVAL, "'status' takes no arguments");
	p = probe_or_report(&rc);
	if (!p)
		return rc;
	att = attachments_json();
	n = json_object_array_length(att);
	if (ctx->json) {
		st = json_object_new_object();
		json_object_object_add(st, "version", json_object_new_string(ebpfaccel_version()));
		json_object_object_add(st, "kernel", json_object_new_string(ebpfaccel_probe__kernel_release(p)));
		json_object_object_add(st, "attachments", att);
		json_object_object_add(st, "features", features_json(p));
		cli_print_json(st);
	} else {
		printf("libebpfaccel %s on Linux %s\n", ebpfaccel_version(), ebpfaccel_probe__kernel_release(p));
		printf("tcp_comp module: %s\n", ebpfaccel_probe__reason(p, EBPFACCEL_FEAT_TCP_COMP_KMOD));
		if (!n)
			printf("attachments: %s\n", attachments_none_text(p));
		for (size_t i = 0; i < n; i++) {
			struct json_object *a = json_object_array_get_idx(att, i);

			printf("attached: %s %s on cgroup %s since %s (%s)\n",
			       json_object_get_string(json_object_object_get(a, "feature")),
			       json_object_get_string(json_object_object_get(a, "name")), cli_cgroup_text(a),
			       json_object_get_string(json_object_object_get(a, "since")),
			       json_object_get_string(json_object_object_get(a, "pinned") ?:
						      json_object_object_get(a, "holder")));
		}
		printf("features:\n");
		features_text(p);
		json_object_put(att);
	}
	ebpfaccel_probe__free(p);
	return rc;
}

const struct cli_cmd cli_status_cmds[] = {
	{ "status", "[--json]", "what is attached, since when; kernel, features, tcp_comp module",
	  cmd_status, true },
	{ "features", "[--json]", "every feature the library probes for, with the reason when missing",
	  cmd_features, true },
	{}
};
