// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Capability checks that say which capability is missing, instead of
 * letting the kernel answer a bare EPERM from deep inside bpf(2). */
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif

int ebpfaccel__has_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

	if (cap < 0 || cap >= 32 * _LINUX_CAPABILITY_U32S_3)
		return 0;
	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return !!(data[cap / 32].effective & (1U << (cap % 32)));
}

const char *ebpfaccel__cap_name(int cap)
{
	switch (cap) {
	case CAP_BPF:		return "CAP_BPF";
	case CAP_NET_ADMIN:	return "CAP_NET_ADMIN";
	case CAP_SYS_ADMIN:	return "CAP_SYS_ADMIN";
	case CAP_PERFMON:	return "CAP_PERFMON";
	case CAP_NET_RAW:	return "CAP_NET_RAW";
	default:		return "a capability";
	}
}

static bool cap_satisfied(int cap)
{
	if (ebpfaccel__has_cap(cap))
		return true;
	/* CAP_SYS_ADMIN still grants everything CAP_BPF does. */
	return cap == CAP_BPF && ebpfaccel__has_cap(CAP_SYS_ADMIN);
}

int ebpfaccel__missing_cap(uint64_t capmask)
{
	for (int cap = 0; cap < 64; cap++)
		if ((capmask & CAPMASK(cap)) && !cap_satisfied(cap))
			return cap;
	return -1;
}

int ebpfaccel__need_caps(const char *what, uint64_t capmask)
{
	int cap = ebpfaccel__missing_cap(capmask);

	if (cap < 0)
		return 0;
	pr_warn("%s needs %s: run as root or grant it (e.g. setcap %s+ep, or systemd AmbientCapabilities=)\n",
		what, ebpfaccel__cap_name(cap), ebpfaccel__cap_name(cap));
	return -EPERM;
}
