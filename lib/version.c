// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "config.h"
#include "internal.h"

EBPFACCEL_API const char *ebpfaccel_version(void)
{
	return PACKAGE_VERSION;
}

EBPFACCEL_API unsigned int ebpfaccel_major_version(void)
{
	return LIBEBPFACCEL_MAJOR_VERSION;
}

EBPFACCEL_API unsigned int ebpfaccel_minor_version(void)
{
	return LIBEBPFACCEL_MINOR_VERSION;
}
