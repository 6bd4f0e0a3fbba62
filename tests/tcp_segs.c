// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* TCP_INFO counters glibc's struct tcp_info leaves out; on its own because
 * <linux/tcp.h> and <netinet/tcp.h> cannot be included together. */
#include <stddef.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#include "tcp_segs.h"

long tcp_data_segs_in(int fd)
{
	struct tcp_info ti = { 0 };
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
	    len < offsetof(struct tcp_info, tcpi_data_segs_in) + sizeof(ti.tcpi_data_segs_in))
		return -1;
	return ti.tcpi_data_segs_in;
}
