// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const lib_errstr[] = {
	[EBPFACCEL_ERR_KERNEL - __EBPFACCEL_ERR_BASE] =
		"The running kernel lacks a BPF feature this operation needs",
	[EBPFACCEL_ERR_VERIFY - __EBPFACCEL_ERR_BASE] =
		"The kernel's BPF verifier rejected a program",
	[EBPFACCEL_ERR_PROTO - __EBPFACCEL_ERR_BASE] =
		"The peer violated the protocol",
};

EBPFACCEL_API int ebpfaccel_strerror(int err, char *buf, size_t size)
{
	int code = err < 0 ? -err : err;
	char tmp[128];

	if (!buf || !size)
		return -EINVAL;

	if (code > __EBPFACCEL_ERR_BASE && code < __EBPFACCEL_ERR_MAX) {
		snprintf(buf, size, "%s", lib_errstr[code - __EBPFACCEL_ERR_BASE]);
		return 0;
	}
	/* strerror_r's GNU variant may return a static string instead of
	 * filling its buffer; copy whichever it gives. */
	snprintf(buf, size, "%s", strerror_r(code, tmp, sizeof(tmp)));
	return 0;
}
