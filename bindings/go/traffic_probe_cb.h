/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
//go:build ebpfaccel_traffic_probe
#ifndef GOEBPFACCEL_TRAFFIC_PROBE_CB_H
#define GOEBPFACCEL_TRAFFIC_PROBE_CB_H

#include <stdint.h>
#include <ebpfaccel/ebpfaccel.h>

/* for_each_port/flow with a cgo.Handle of the Go function to call. */
int goebpfaccel_for_each_port(struct ebpfaccel_traffic_probe *probe, uintptr_t handle);
int goebpfaccel_for_each_flow(struct ebpfaccel_traffic_probe *probe, uintptr_t handle);

#endif
