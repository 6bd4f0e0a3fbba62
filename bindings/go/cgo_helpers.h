/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef GOEBPFACCEL_CGO_HELPERS_H
#define GOEBPFACCEL_CGO_HELPERS_H

#include <stdarg.h>
#include <ebpfaccel/ebpfaccel.h>

int goebpfaccel_print(enum ebpfaccel_print_level level, const char *fmt, va_list ap);
/* The last warning printed by the library on this OS thread. */
const char *goebpfaccel_last_warning(void);
void goebpfaccel_clear_warning(void);

#endif
