/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EBPFACCEL_TESTS_TCP_SEGS_H
#define EBPFACCEL_TESTS_TCP_SEGS_H

/* Data segments @fd received (TCP_INFO tcpi_data_segs_in), -1 on error. */
long tcp_data_segs_in(int fd);

#endif
