// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * feature_report — print what this machine offers libebpfaccel.
 *
 * Build against an installed library:
 *   cc feature_report.c $(pkg-config --cflags --libs ebpfaccel) -o feature_report
 * Run as root for the full picture; unprivileged, it tells which
 * capabilities are missing.  Exit status: 0 if every feature the Redis
 * cache and compression negotiation need is there, 1 if not, 2 on error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ebpfaccel/ebpfaccel.h>

/* Features without which the accelerations cannot run: the kernel
 * features, and the objects built on them loading on this kernel. */
static const enum ebpfaccel_feature required[] = {
	EBPFACCEL_FEAT_BPF_SYSCALL, EBPFACCEL_FEAT_SOCKMAP, EBPFACCEL_FEAT_SK_STORAGE,
	EBPFACCEL_FEAT_TCP_HDR_OPT, EBPFACCEL_FEAT_CGROUP2,
	EBPFACCEL_FEAT_REDIS_CACHE, EBPFACCEL_FEAT_COMP_NEGOTIATE,
};

static int is_required(enum ebpfaccel_feature f)
{
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (required[i] == f)
			return 1;
	return 0;
}

int main(void)
{
	struct ebpfaccel_probe *probe;
	int missing = 0;

	/* Only warnings: the report itself says what failed and why. */
	probe = ebpfaccel_probe__new(NULL);
	if (!probe) {
		char msg[128];

		ebpfaccel_strerror(-errno, msg, sizeof(msg));
		fprintf(stderr, "feature_report: probe failed: %s\n", msg);
		return 2;
	}

	printf("libebpfaccel %s on Linux %s\n", ebpfaccel_version(),
	       ebpfaccel_probe__kernel_release(probe));
	for (int f = 0; f < __EBPFACCEL_FEAT_MAX; f++) {
		int ok = ebpfaccel_probe__supported(probe, f);

		printf("  %-14s %-3s  %s\n", ebpfaccel_feature__name(f), ok ? "yes" : "no",
		       ebpfaccel_probe__reason(probe, f));
		if (!ok && is_required(f))
			missing++;
	}
	if (missing)
		printf("%d required feature(s) missing: the accelerations cannot attach here\n", missing);
	ebpfaccel_probe__free(probe);
	return missing ? 1 : 0;
}
