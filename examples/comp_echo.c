// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * comp_echo — a compressed echo server and client.
 *
 *   comp_echo server PORT [CGROUP]        echo every connection back
 *   comp_echo client ADDR PORT [CGROUP]   send stdin, print what comes back
 *
 * With CGROUP (a cgroup v2 directory, never the root one) the program loads
 * the negotiation policy for PORT (zstd, both directions), attaches it there
 * and moves itself into it, so its own sockets negotiate.  Without it, an
 * already attached policy (e.g. by another process) is used if there is one.
 * Both ends print what their handshake negotiated on stderr.
 *
 * Build against an installed library:
 *   cc comp_echo.c $(pkg-config --cflags --libs ebpfaccel) -o comp_echo
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <ebpfaccel/ebpfaccel.h>

static const char *const algo_names[] = { "none", "zstd", "lz4" };

static struct ebpfaccel_comp_policy *attach_policy(const char *cgroup, int port)
{
	struct ebpfaccel_comp_policy *p = ebpfaccel_comp_policy__open(NULL);
	char procs[4096];
	FILE *f;
	int cg = open(cgroup, O_RDONLY | O_DIRECTORY);

	if (!p || cg < 0 || ebpfaccel_comp_policy__attach(p, cg) ||
	    ebpfaccel_comp_policy__set_port(p, port, NULL)) {
		fprintf(stderr, "comp_echo: cannot set up the policy on %s: %s\n", cgroup,
			strerror(errno));
		exit(2);
	}
	close(cg);
	/* Sockets belong to the cgroup of the process that creates them. */
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup);
	f = fopen(procs, "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f)) {
		fprintf(stderr, "comp_echo: cannot join %s\n", cgroup);
		exit(2);
	}
	return p;
}

static void report(int fd, const char *who)
{
	struct ebpfaccel_comp_state st = { .sz = sizeof(st) };

	if (ebpfaccel_comp__state(fd, &st)) {
		fprintf(stderr, "%s: no negotiation on this connection (plain)\n", who);
		return;
	}
	fprintf(stderr, "%s: sends %s, receives %s, %s mode\n", who, algo_names[st.tx.algo],
		algo_names[st.rx.algo], st.tx.mode == TCP_COMP_MODE_STREAM ? "stream" : "block");
}

static struct ebpfaccel_comp_conn *wrap(int fd, const char *who)
{
	struct ebpfaccel_comp_conn *c;

	report(fd, who);
	c = ebpfaccel_comp_conn__new(fd, NULL);
	if (!c) {
		fprintf(stderr, "%s: %s\n", who, strerror(errno));
		exit(2);
	}
	return c;
}

static int send_all(struct ebpfaccel_comp_conn *c, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = ebpfaccel_comp_conn__send(c, buf, len);

		if (n < 0)
			return n;
		buf += n;
		len -= n;
	}
	return 0;
}

static void serve(struct ebpfaccel_comp_conn *c)
{
	char buf[65536];
	ssize_t n;

	while ((n = ebpfaccel_comp_conn__recv(c, buf, sizeof(buf))) > 0)
		if (send_all(c, buf, n))
			break;
	if (n < 0)
		fprintf(stderr, "server: %s\n", strerror(-n));
}

static int run_server(int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				  .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, lfd = socket(AF_INET6, SOCK_STREAM, 0), fd;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 16)) {
		perror("comp_echo: listen");
		return 2;
	}
	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		struct ebpfaccel_comp_conn *c = wrap(fd, "server");

		serve(c);
		ebpfaccel_comp_conn__free(c);
		close(fd);
	}
	return 0;
}

static int run_client(const char *addr, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	struct ebpfaccel_comp_conn *c;
	char buf[65536];
	ssize_t n;
	int fd;

	if (getaddrinfo(addr, port, &hints, &ai)) {
		fprintf(stderr, "comp_echo: cannot resolve %s\n", addr);
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		perror("comp_echo: connect");
		return 2;
	}
	freeaddrinfo(ai);
	c = wrap(fd, "client");
	/* Line by line, so the echo interleaves with what is typed. */
	while (fgets(buf, sizeof(buf), stdin)) {
		size_t len = strlen(buf), got = 0;

		if (send_all(c, buf, len))
			break;
		while (got < len && (n = ebpfaccel_comp_conn__recv(c, buf + got, len - got)) > 0)
			got += n;
		fwrite(buf, 1, got, stdout);
		fflush(stdout);
		if (got < len)
			break;
	}
	ebpfaccel_comp_conn__free(c);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct ebpfaccel_comp_policy *policy = NULL;
	int rc;

	if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "server")) {
		if (argc == 4)
			policy = attach_policy(argv[3], atoi(argv[2]));
		rc = run_server(atoi(argv[2]));
	} else if (argc >= 4 && argc <= 5 && !strcmp(argv[1], "client")) {
		if (argc == 5)
			policy = attach_policy(argv[4], atoi(argv[3]));
		rc = run_client(argv[2], argv[3]);
	} else {
		fprintf(stderr, "usage: comp_echo server PORT [CGROUP]\n"
				"       comp_echo client ADDR PORT [CGROUP]\n");
		return 2;
	}
	ebpfaccel_comp_policy__destroy(policy);
	return rc;
}
