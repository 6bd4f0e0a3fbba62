/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Persistent attachments: each one is a directory of pinned BPF objects
 * below EBPFACCEL_PIN_ROOT/<feature>/<name> (directories 0700, objects 0600).
 * A directory appears complete or not at all: objects are pinned into a
 * temporary sibling that is renamed into place, and temporaries left by a
 * process that died are removed (which detaches what they held).
 */
#ifndef EBPFACCEL_PIN_H
#define EBPFACCEL_PIN_H

#include <stddef.h>

#define EBPFACCEL_BPFFS		"/sys/fs/bpf"
#define EBPFACCEL_PIN_ROOT	EBPFACCEL_BPFFS "/ebpfaccel"

struct pin_obj {
	const char *file;	/* name inside the attachment's directory */
	int fd;			/* BPF map, program or link */
};

/* Directory of attachment @name_or_path of @feature: @name_or_path is
 * either a path (contains '/') or a name below the feature's directory.
 * -EINVAL for an empty name, one with a dot (bpffs refuses them) or one
 * starting with '~' (temporaries). */
int ebpfaccel__pin_dir(const char *feature, const char *name_or_path, char *buf, size_t len);

/* Pins @objs as the attachment @name of @feature, all or nothing; mounts
 * bpffs at EBPFACCEL_BPFFS first if needed.  The directory is returned in
 * @dir.  -EEXIST if that attachment exists, -EPERM, or -errno. */
int ebpfaccel__pin_objs(const char *feature, const char *name, const struct pin_obj *objs,
			size_t n, char *dir, size_t dir_len);

/* Opens the object pinned as @file in @dir; -ENOENT when missing. */
int ebpfaccel__pin_get(const char *dir, const char *file);

/* Removes the attachment's directory and what is pinned in it. */
int ebpfaccel__unpin_dir(const char *dir);

#endif
