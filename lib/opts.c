// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Forward and backward compatible options structs. */
#include "internal.h"

bool ebpfaccel__validate_opts(const char *opts, size_t opts_sz, size_t user_sz,
			      const char *type_name)
{
	size_t i;

	if (user_sz < sizeof(size_t)) {
		pr_warn("%s: size (%zu) is too small; use LIBEBPFACCEL_OPTS()\n",
			type_name, user_sz);
		return false;
	}
	/* A newer caller may pass a bigger struct; that is fine as long as
	 * it does not ask for anything this library does not know. */
	for (i = opts_sz; i < user_sz; i++) {
		if (opts[i]) {
			pr_warn("%s has non-zero extra bytes (field at offset %zu is unknown to libebpfaccel %s)\n",
				type_name, i, ebpfaccel_version());
			return false;
		}
	}
	return true;
}
