// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Go cannot take a va_list: format here, then hand Go the text. */
#include <stdio.h>
#include <string.h>

#include "cgo_helpers.h"
#include "_cgo_export.h"

static __thread char last_warning[1024];

int goebpfaccel_print(enum ebpfaccel_print_level level, const char *fmt, va_list ap)
{
	char msg[sizeof(last_warning)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (level == EBPFACCEL_WARN)
		memcpy(last_warning, msg, sizeof(msg));
	goEbpfaccelLog((int)level, msg);
	return 0;
}

const char *goebpfaccel_last_warning(void)
{
	return last_warning;
}

void goebpfaccel_clear_warning(void)
{
	last_warning[0] = '\0';
}
