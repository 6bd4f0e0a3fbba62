// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Guest test: libebpfaccel's user-space compression engine
 * (ebpfaccel_comp_conn with no_kernel) and the tcp_comp module talk to each
 * other in both directions, every algorithm and mode; and without
 * no_kernel the library finds the module and hands the socket to it.
 * Record formats 2 and 1 (with and without XXH32), sendfile into the
 * module included.  Last, the whole path: the library's BPF program
 * negotiates compression in the TCP handshake inside the guest, in the
 * newest format the module announces (max_format), and the library switches
 * both ends to the module; with --negotiate only that (comp-guest.sh runs it
 * again with the module loaded with max_format=1, and with the module
 * installed but not loaded, which the library then loads).
 * The library is linked in statically from its sources (tests/kmod/
 * in mk/kmod.am): the guest has no shared libraries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ebpfaccel/ebpfaccel.h>

#include "guest.h"

static const size_t lens[] = { 1, 700, 65536, 3000, 150000, 20, 65537, 9999 };

static struct ebpfaccel_comp_conn *engine(int fd, const struct tcp_comp_params *tx,
					  const struct tcp_comp_params *rx, bool no_kernel)
{
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, opts, .tx = tx, .rx = rx, .no_kernel = no_kernel);
	struct ebpfaccel_comp_conn *c = ebpfaccel_comp_conn__new(fd, &opts);

	CHECK(c, "ebpfaccel_comp_conn__new: %m");
	CHECK(ebpfaccel_comp_conn__in_kernel(c) == !no_kernel, "in_kernel %d",
	      ebpfaccel_comp_conn__in_kernel(c));
	return c;
}

static void engine_send_all(struct ebpfaccel_comp_conn *c, const uint8_t *data, size_t len)
{
	size_t off, i;

	for (off = 0, i = 0; off < len; i++) {
		size_t want = lens[i % 8] < len - off ? lens[i % 8] : len - off;
		size_t done = 0;

		while (done < want) {
			ssize_t n = ebpfaccel_comp_conn__send(c, data + off + done, want - done);

			CHECK(n > 0, "engine send: %zd", n);
			done += n;
		}
		off += want;
	}
	CHECK(!ebpfaccel_comp_conn__flush(c), "engine flush");
}

static size_t engine_recv_all(struct ebpfaccel_comp_conn *c, uint8_t *buf, size_t cap)
{
	size_t got = 0;

	for (;;) {
		ssize_t n = ebpfaccel_comp_conn__recv(c, buf + got, cap - got);

		CHECK(n >= 0, "engine recv: %zd", n);
		if (!n)
			return got;
		got += n;
		CHECK(got <= cap, "more than sent");
	}
}

/* sender: the engine (or the module through the library); receiver: the
 * module.  level 0 is the library's default. */
static void to_module(int algo, int mode, int level, size_t len, int checksum, bool no_kernel)
{
	struct tcp_comp_params p = guest_params(algo, mode, level, 0,
						checksum ? TCP_COMP_F_CHECKSUM : 0);
	struct tcp_comp_params off = guest_params(TCP_COMP_ALGO_NONE, mode, 0, 0, 0);
	uint8_t *data = malloc(len);
	char what[64];
	int cli, srv;
	pid_t pid;

	CHECK(data, "malloc");
	guest_fill(data, len, algo != TCP_COMP_ALGO_LZ4 || mode, 31 + algo);
	guest_tcp_pair(AF_INET, &cli, &srv);
	guest_ulp(srv);
	guest_comp(srv, TCP_COMP_RX, &p);
	pid = fork();
	CHECK(pid >= 0, "fork: %m");
	if (!pid) {
		struct ebpfaccel_comp_conn *c = engine(cli, &p, &off, no_kernel);

		close(srv);
		engine_send_all(c, data, len);
		ebpfaccel_comp_conn__free(c);
		close(cli);
		exit(0);
	}
	close(cli);
	snprintf(what, sizeof(what), "engine->module algo %d mode %d level %d format %d", algo, mode,
		 level, p.version);
	guest_expect_module_rx(srv, data, len, pid, what);
	free(data);
}

/* the module's sendfile() path (whole records from page-sized chunks) */
static void sendfile_all(int fd, const uint8_t *data, size_t len)
{
	int mfd = memfd_create("kmod_engine", 0);
	off_t off = 0;

	CHECK(mfd >= 0 && write(mfd, data, len) == (ssize_t)len, "memfd: %m");
	while ((size_t)off < len)
		CHECK(sendfile(fd, mfd, &off, len - off) > 0, "sendfile: %m");
	close(mfd);
}

/* sender: the module; receiver: the engine */
static void from_module(int algo, int mode, int checksum, bool use_sendfile)
{
	struct tcp_comp_params p = guest_params(algo, mode, 0, 0, checksum ? TCP_COMP_F_CHECKSUM : 0);
	struct tcp_comp_params off = guest_params(TCP_COMP_ALGO_NONE, mode, 0, 0, 0);
	size_t len = 1000000, sent, i;
	uint8_t *data = malloc(len), *got = malloc(len + 1);
	struct ebpfaccel_comp_conn *c;
	int cli, srv, status;
	pid_t pid;

	CHECK(data && got, "malloc");
	guest_fill(data, len, algo != TCP_COMP_ALGO_ZSTD || mode, 41 + algo);
	guest_tcp_pair(AF_INET6, &cli, &srv);
	guest_ulp(cli);
	guest_comp(cli, TCP_COMP_TX, &p);
	pid = fork();
	CHECK(pid >= 0, "fork: %m");
	if (!pid) {
		close(srv);
		if (use_sendfile)
			sendfile_all(cli, data, len);
		for (sent = 0, i = 0; sent < len && !use_sendfile; i++) {
			size_t n = lens[i % 8] < len - sent ? lens[i % 8] : len - sent;

			guest_write_all(cli, data + sent, n);
			sent += n;
		}
		close(cli);
		exit(0);
	}
	close(cli);
	/* the receiving direction needs the algorithm's mode; the engine
	 * checks records against it */
	c = engine(srv, &off, &p, true);
	CHECK(engine_recv_all(c, got, len + 1) == len, "length");
	CHECK(!memcmp(got, data, len), "module->engine algo %d mode %d format %d: data differs", algo,
	      mode, p.version);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status), "sender");
	ebpfaccel_comp_conn__free(c);
	close(srv);
	free(data);
	free(got);
}

/* a cgroup of our own under the guest's cgroup2 root, with us in it */
static int guest_cgroup(void)
{
	const char *dir = "/sys/fs/cgroup/kmod_engine";
	char pid[16];
	int fd;

	if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL))
		CHECK(errno == EBUSY, "mount cgroup2: %m");
	CHECK(!mkdir(dir, 0755) || errno == EEXIST, "mkdir %s: %m", dir);
	fd = open("/sys/fs/cgroup/kmod_engine/cgroup.procs", O_WRONLY);
	CHECK(fd >= 0, "cgroup.procs: %m");
	snprintf(pid, sizeof(pid), "%d", getpid());
	CHECK(write(fd, pid, strlen(pid)) > 0, "join cgroup: %m");
	close(fd);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0, "%s: %m", dir);
	return fd;
}

static void exchange(struct ebpfaccel_comp_conn *from, struct ebpfaccel_comp_conn *to, uint32_t seed)
{
	size_t len = 200000;
	uint8_t *data = malloc(len), *got = malloc(len);
	size_t off = 0;

	CHECK(data && got, "malloc");
	guest_fill(data, len, 1, seed);
	engine_send_all(from, data, len);
	while (off < len) {
		ssize_t n = ebpfaccel_comp_conn__recv(to, got + off, len - off);

		CHECK(n > 0, "recv: %zd", n);
		off += n;
	}
	CHECK(!memcmp(data, got, len), "negotiated exchange differs");
	free(data);
	free(got);
}

/* both ends negotiate the newest format the module announces */
static void test_negotiated(void)
{
	int want;
	LIBEBPFACCEL_OPTS(ebpfaccel_comp_rule_opts, rule, .algo = TCP_COMP_ALGO_LZ4,
			  .mode = TCP_COMP_MODE_STREAM);
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	struct ebpfaccel_comp_policy *policy;
	struct ebpfaccel_comp_conn *cc, *sc;
	struct tcp_comp_params tx, rx;
	struct tcp_comp_stats st;
	int cg = guest_cgroup(), lfd, cli, srv;

	policy = ebpfaccel_comp_policy__open(NULL);
	CHECK(policy, "policy open: %m");
	/* the policy asked the module (and had an installed one loaded) */
	want = guest_module_max_format();
	CHECK(!ebpfaccel_comp_policy__attach(policy, cg), "policy attach");
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(lfd >= 0 && !bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) && !listen(lfd, 1) &&
	      !getsockname(lfd, (struct sockaddr *)&addr, &alen), "listener: %m");
	CHECK(!ebpfaccel_comp_policy__set_port(policy, ntohs(addr.sin_port), &rule), "set_port");
	cli = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(cli >= 0 && !connect(cli, (struct sockaddr *)&addr, sizeof(addr)), "connect: %m");
	srv = accept(lfd, NULL, NULL);
	CHECK(srv >= 0, "accept: %m");

	{
		LIBEBPFACCEL_OPTS(ebpfaccel_comp_conn_opts, opts, .policy = policy);

		cc = ebpfaccel_comp_conn__new(cli, &opts);
		sc = ebpfaccel_comp_conn__new(srv, &opts);
	}
	CHECK(cc && sc, "conn: %m");
	ebpfaccel_comp_conn__params(cc, &tx, &rx);
	CHECK(tx.algo == TCP_COMP_ALGO_LZ4 && rx.algo == TCP_COMP_ALGO_LZ4 &&
	      tx.mode == TCP_COMP_MODE_STREAM, "negotiated tx %d rx %d mode %d", tx.algo, rx.algo, tx.mode);
	CHECK(tx.version == want && rx.version == want, "format %d/%d negotiated, module's max %d",
	      tx.version, rx.version, want);
	ebpfaccel_comp_conn__params(sc, &tx, &rx);
	CHECK(tx.version == want && rx.version == want, "server: format %d/%d, module's max %d",
	      tx.version, rx.version, want);
	CHECK(ebpfaccel_comp_conn__in_kernel(cc) && ebpfaccel_comp_conn__in_kernel(sc),
	      "negotiated sockets not in the module");
	exchange(cc, sc, 1);
	exchange(sc, cc, 2);
	st = guest_stats(srv);
	CHECK(st.rx_records && st.tx_records && !st.rx_errors, "module did not carry the data");
	ebpfaccel_comp_conn__free(cc);
	ebpfaccel_comp_conn__free(sc);
	close(cli);
	close(srv);
	close(lfd);
	ebpfaccel_comp_policy__destroy(policy);
	close(cg);
	printf("ok BPF handshake negotiation in the guest: format %d, both ends in the module\n", want);
}

int main(int argc, char **argv)
{
	int algo, mode, n = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "--negotiate")) {
		test_negotiated();
		return 0;
	}
	/* algo NONE means "direction off" to the library, raw records to the
	 * module: nothing to compare there */
	for (guest_format = TCP_COMP_VERSION_2; guest_format >= TCP_COMP_VERSION_1; guest_format--)
		for (algo = TCP_COMP_ALGO_ZSTD; algo < __TCP_COMP_ALGO_MAX; algo++)
			for (mode = 0; mode < __TCP_COMP_MODE_MAX; mode++, n++) {
				to_module(algo, mode, 0, 1000000, n & 1, true);
				from_module(algo, mode, !(n & 1), n % 3 == 0);
			}
	guest_format = TCP_COMP_VERSION_2;
	printf("ok libebpfaccel engine <-> tcp_comp module, formats 2 and 1: %d cases each way\n", n);
	/* zstd:1 stream: the engine ends a frame every few MiB of input (the
	 * frames are concatenated on the wire); the module must decode across
	 * several frame ends, checked and unchecked */
	to_module(TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM, 1, (9U << 20) + 4099, 0, true);
	to_module(TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM, 1, (9U << 20) + 4099, 1, true);
	printf("ok engine zstd:1 stream frames (9 MiB, several frame ends) -> module\n");
	to_module(TCP_COMP_ALGO_ZSTD, TCP_COMP_MODE_STREAM, 0, 1000000, 0, false);
	printf("ok libebpfaccel hands the socket to the module when it is loaded\n");
	test_negotiated();
	return 0;
}
