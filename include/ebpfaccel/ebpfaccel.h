/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/**
 * @file ebpfaccel.h
 * @brief Umbrella header of libebpfaccel: include this one.
 *
 * Link with `pkg-config --cflags --libs ebpfaccel`.
 */
#ifndef EBPFACCEL_EBPFACCEL_H
#define EBPFACCEL_EBPFACCEL_H

#include <ebpfaccel/core.h>
#include <ebpfaccel/probe.h>
#include <ebpfaccel/traffic_probe.h>
#include <ebpfaccel/comp.h>
#include <ebpfaccel/redis_cache.h>
#include <ebpfaccel/near_cache.h>

#endif /* EBPFACCEL_EBPFACCEL_H */
