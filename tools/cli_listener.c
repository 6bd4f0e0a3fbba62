// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which process holds the TCP socket listening on a port: what 'redis
 * stats' shows as the server a cache follows (a restarted redis-server is a
 * new process on the same port). The listener's inode comes from
 * /proc/self/net/tcp{,6} (the calling process' netns), its holder from the
 * processes' fd links.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define TCP_LISTEN_STATE	0x0A

/* Inode of the socket listening on @port in table @path; 0 if none. */
static unsigned long listener_inode(const char *path, uint16_t port)
{
	unsigned long ino = 0, found = 0;
	unsigned int lport, state;
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		/* sl local:port remote:port st tx:rx tr:when retr uid timeout inode */
		if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu",
			   &lport, &state, &ino) == 3 && lport == port && state == TCP_LISTEN_STATE)
			found = ino;
	fclose(f);
	return found;
}

/* Whether process @pid (a /proc entry) has socket inode @ino open. */
static bool holds_socket(const char *pid, unsigned long ino)
{
	char dir[64], want[64], link[64];
	struct dirent *de;
	bool holds = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	d = opendir(dir);
	while (d && !holds && (de = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);

		holds = n > 0 && (link[n] = 0, !strcmp(link, want));
	}
	if (d)
		closedir(d);
	return holds;
}

int cli_listener_pid(uint16_t port)
{
	unsigned long ino = listener_inode("/proc/self/net/tcp", port);
	struct dirent *de;
	int pid = -ENOENT;
	DIR *d;

	if (!ino)
		ino = listener_inode("/proc/self/net/tcp6", port);
	if (!ino)
		return -ENOENT;
	d = opendir("/proc");
	while (d && pid < 0 && (de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]) && holds_socket(de->d_name, ino))
			pid = atoi(de->d_name);
	if (d)
		closedir(d);
	return pid;
}
