// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//go:build ebpfaccel_traffic_probe

/* The iteration callbacks: C calls these, they call Go with the handle. */
#include <stdint.h>

#include "traffic_probe_cb.h"
#include "_cgo_export.h"

static int port_cb(const struct ebpfaccel_port_stats *st, void *ctx)
{
	return goEbpfaccelPortStats((struct ebpfaccel_port_stats *)st, (uintptr_t)ctx);
}

static int flow_cb(const struct ebpfaccel_flow_stats *st, void *ctx)
{
	return goEbpfaccelFlowStats((struct ebpfaccel_flow_stats *)st, (uintptr_t)ctx);
}

int goebpfaccel_for_each_port(struct ebpfaccel_traffic_probe *probe, uintptr_t handle)
{
	return ebpfaccel_traffic_probe__for_each_port(probe, port_cb, (void *)handle);
}

int goebpfaccel_for_each_flow(struct ebpfaccel_traffic_probe *probe, uintptr_t handle)
{
	return ebpfaccel_traffic_probe__for_each_flow(probe, flow_cb, (void *)handle);
}
