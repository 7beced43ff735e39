// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpc_connbench: connection set-up latency, connection rate and idle
 * connection holding, for the bench (bench/run) and by hand.
 *
 * Server:  mpc_connbench --listen ADDR:PORT [--mptcp] [--ready-file F]
 *   Echoes every byte back and closes when the peer has closed. Runs until
 *   SIGTERM/SIGINT. One epoll loop; memory per idle connection is a few
 *   dozen bytes, so it can hold tens of thousands.
 *
 * Clients (plain connect(): through mpconv the CPE's classifier steers it):
 *   --connect ADDR:PORT --size N --latency COUNT
 *       COUNT connections one after the other: connect, send N bytes,
 *       receive the N echoed bytes, close. Prints one JSON object with the
 *       connect() time and the time to the first echoed byte, both counted
 *       from just before socket(): min, p10, median, p90, max in
 *       microseconds.
 *   --connect ADDR:PORT --size N --rate SECS [--concurrency K]
 *       The same exchange in a closed loop with K (default 16) connections
 *       in flight for SECS seconds; prints completed connections per second.
 *   --connect ADDR:PORT --hold N [--ready-file F]
 *       Opens N connections, each echoing one byte so that every hop of a
 *       proxied path is established, writes "held N" into F, then keeps
 *       them open until SIGTERM/SIGINT.
 *   Common: --bind ADDR (source address), --timeout SEC (whole run,
 *   default 60), --mptcp (IPPROTO_MPTCP sockets).
 *
 * Exit status: 0 when every connection completed, 1 when some failed (the
 * JSON says how many and the first error), 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define MAX_SIZE (1 << 20)
#define HOLD_INFLIGHT 256 /* handshakes at once while building up --hold */
#define MAX_EVENTS 256

enum phase { PH_CONNECT, PH_SEND, PH_RECV, PH_HELD };

struct conn {
	int fd;
	enum phase ph;
	uint32_t sent, rcvd;
	/* server: bytes read but not yet echoed */
	uint8_t *pend;
	uint32_t pend_off, pend_len;
};

static struct {
	struct sockaddr_storage addr, bind;
	socklen_t addr_len, bind_len;
	bool server, client, mptcp, bind_set;
	uint32_t size, latency, hold, concurrency;
	double rate_s;
	unsigned int timeout_s;
	const char *ready_file;
} opt = { .size = 1, .concurrency = 16, .timeout_s = 60 };

static uint8_t *txbuf, rxbuf[65536];
static int epfd = -1, sigfd = -1;
static unsigned long n_err;
static int first_err;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void note_err(int err)
{
	n_err++;
	if (!first_err)
		first_err = err;
}

static const char *errname(int err)
{
	const char *n = err ? strerrorname_np(err) : NULL;

	return n ? n : "none";
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int write_ready(const char *fmt, unsigned long v)
{
	char tmp[4096];
	FILE *f;

	if (!opt.ready_file)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", opt.ready_file);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, fmt, v);
	fclose(f);
	return rename(tmp, opt.ready_file) ? -errno : 0;
}

static int new_socket(bool nonblock)
{
	int fd = socket(opt.addr.ss_family,
			SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
			opt.mptcp ? IPPROTO_MPTCP : 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt.bind_set && bind(fd, (struct sockaddr *)&opt.bind, opt.bind_len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* ---- server ------------------------------------------------------------ */

static int ep_mod(int op, struct conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	return epoll_ctl(epfd, op, c->fd, &e) ? -errno : 0;
}

static void srv_close(struct conn *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->pend);
	free(c);
}

/* Echo what can be echoed; returns false once the connection is gone.
 * Bytes the socket would not take wait in a buffer of their own, freed as
 * soon as they are sent, so an idle connection costs only its struct. */
static bool srv_io(struct conn *c)
{
	ssize_t n, m;

	for (;;) {
		if (c->pend_len) {
			n = send(c->fd, c->pend + c->pend_off, c->pend_len, MSG_NOSIGNAL);
			if (n < 0 && errno == EAGAIN)
				return true;
			if (n < 0)
				goto gone;
			c->pend_off += n;
			c->pend_len -= n;
			if (c->pend_len)
				continue;
			free(c->pend);
			c->pend = NULL;
			if (ep_mod(EPOLL_CTL_MOD, c, EPOLLIN | EPOLLRDHUP))
				goto gone;
		}
		n = recv(c->fd, rxbuf, sizeof(rxbuf), 0);
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			goto gone;
		m = send(c->fd, rxbuf, n, MSG_NOSIGNAL);
		if (m < 0 && errno != EAGAIN)
			goto gone;
		if (m < 0)
			m = 0;
		if (m == n)
			continue;
		c->pend = malloc(n - m);
		if (!c->pend)
			goto gone;
		memcpy(c->pend, rxbuf + m, n - m);
		c->pend_off = 0;
		c->pend_len = n - m;
		if (ep_mod(EPOLL_CTL_MOD, c, EPOLLOUT))
			goto gone;
		return true;
	}
gone:
	srv_close(c);
	return false;
}

static int run_server(void)
{
	struct epoll_event evs[MAX_EVENTS];
	int lfd, one = 1;
	char buf[MPC_ADDRSTRLEN];

	lfd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		     opt.mptcp ? IPPROTO_MPTCP : 0);
	if (lfd < 0)
		return perror("socket"), 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&opt.addr, opt.addr_len) || listen(lfd, 4096))
		return perror("bind/listen"), 1;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd,
		  &(struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL });
	write_ready("listen %lu\n", 1);
	fprintf(stderr, "mpc_connbench: echo server on %s\n", mpc_sa_str(&opt.addr, buf));
	for (;;) {
		int n = epoll_wait(epfd, evs, MAX_EVENTS, -1), i;

		if (n < 0 && errno == EINTR)
			continue;
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == (void *)&sigfd)
				return 0;
			if (c) {
				srv_io(c);
				continue;
			}
			for (;;) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (fd < 0)
					break;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				c = calloc(1, sizeof(*c));
				if (!c) {
					close(fd);
					continue;
				}
				c->fd = fd;
				if (ep_mod(EPOLL_CTL_ADD, c, EPOLLIN | EPOLLRDHUP)) {
					close(fd);
					free(c);
				}
			}
		}
	}
}

/* ---- latency: one connection at a time ------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_dist(const char *name, double *v, uint32_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	if (!n) {
		printf("\"%s\":null", name);
		return;
	}
	printf("\"%s\":{\"min\":%.1f,\"p10\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"max\":%.1f}", name,
	       v[0], v[n / 10], v[n / 2], v[n * 9 / 10], v[n - 1]);
}

static int one_exchange(double *t_conn, double *t_first)
{
	struct timeval tv = { .tv_sec = opt.timeout_s };
	double t0 = now_us();
	uint32_t got = 0;
	int fd, err = 0;

	fd = new_socket(false);
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&opt.addr, opt.addr_len)) {
		err = -errno;
		goto out;
	}
	*t_conn = now_us() - t0;
	if (send(fd, txbuf, opt.size, MSG_NOSIGNAL) != (ssize_t)opt.size) {
		err = errno ? -errno : -EIO;
		goto out;
	}
	while (got < opt.size) {
		ssize_t n = recv(fd, rxbuf, sizeof(rxbuf), 0);

		if (n <= 0) {
			err = n ? -errno : -ECONNRESET;
			goto out;
		}
		if (!got)
			*t_first = now_us() - t0;
		got += n;
	}
out:
	close(fd);
	return err;
}

static int run_latency(void)
{
	double *tc = calloc(opt.latency, sizeof(double)), *tf = calloc(opt.latency, sizeof(double));
	double deadline = now_us() + opt.timeout_s * 1e6;
	uint32_t i, ok = 0;

	if (!tc || !tf)
		return 1;
	for (i = 0; i < opt.latency && now_us() < deadline; i++) {
		int err = one_exchange(&tc[ok], &tf[ok]);

		if (err)
			note_err(-err);
		else
			ok++;
	}
	printf("{\"mode\":\"latency\",\"size\":%u,\"count\":%u,\"ok\":%u,\"errors\":%lu,"
	       "\"first_error\":\"%s\",",
	       opt.size, i, ok, n_err, errname(first_err));
	print_dist("connect_us", tc, ok);
	putchar(',');
	print_dist("first_byte_us", tf, ok);
	puts("}");
	return n_err || ok < opt.latency ? 1 : 0;
}

/* ---- rate and hold: many connections in flight ------------------------ */

static int cli_start(struct conn *c)
{
	int fd = new_socket(true);

	c->sent = c->rcvd = 0;
	c->fd = -1;
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&opt.addr, opt.addr_len) && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	c->fd = fd;
	c->ph = PH_CONNECT;
	if (ep_mod(EPOLL_CTL_ADD, c, EPOLLOUT)) {
		close(fd);
		c->fd = -1;
		return -errno;
	}
	return 0;
}

static void cli_drop(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
}

/* Advance one client connection. Returns 1 when its exchange is complete,
 * 0 while in progress, -errno on failure. */
static int cli_step(struct conn *c, uint32_t size)
{
	int err = 0;
	socklen_t len = sizeof(err);
	ssize_t n;

	switch (c->ph) {
	case PH_CONNECT:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
			return -(err ? err : errno);
		c->ph = PH_SEND;
		/* fall through */
	case PH_SEND:
		n = send(c->fd, txbuf + c->sent, size - c->sent, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->sent += n;
		if (c->sent < size)
			return 0;
		c->ph = PH_RECV;
		ep_mod(EPOLL_CTL_MOD, c, EPOLLIN | EPOLLRDHUP);
		return 0;
	case PH_RECV:
		n = recv(c->fd, rxbuf, sizeof(rxbuf), 0);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return -ECONNRESET;
		c->rcvd += n;
		return c->rcvd >= size ? 1 : 0;
	case PH_HELD:
		/* a held connection only wakes up when it dies */
		n = recv(c->fd, rxbuf, sizeof(rxbuf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return 0;
		return n < 0 ? -errno : -ECONNRESET;
	}
	return 0;
}

static int run_rate(void)
{
	struct conn *cs = calloc(opt.concurrency, sizeof(*cs));
	struct epoll_event evs[MAX_EVENTS];
	double t0 = now_us(), t_end = t0 + opt.rate_s * 1e6;
	unsigned long done = 0;
	uint32_t i, live = 0;

	if (!cs)
		return 1;
	for (i = 0; i < opt.concurrency; i++) {
		int err = cli_start(&cs[i]);

		if (err)
			note_err(-err);
		else
			live++;
	}
	while (live) {
		int n = epoll_wait(epfd, evs, MAX_EVENTS, 100), k;
		double t = now_us();

		if (t > t0 + (opt.rate_s + opt.timeout_s) * 1e6)
			break;
		for (k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			int r;

			if (c == (void *)&sigfd)
				goto out;
			r = cli_step(c, opt.size);
			if (r == 0)
				continue;
			cli_drop(c);
			if (r > 0 && t <= t_end)
				done++;
			else if (r < 0)
				note_err(-r);
			live--;
			if (t > t_end)
				continue;
			r = cli_start(c);
			if (r)
				note_err(-r);
			else
				live++;
		}
	}
out:
	for (i = 0; i < opt.concurrency; i++)
		cli_drop(&cs[i]);
	/* only exchanges completed inside the window count, over its length */
	printf("{\"mode\":\"rate\",\"size\":%u,\"concurrency\":%u,\"secs\":%.3f,\"conns\":%lu,"
	       "\"cps\":%.1f,\"errors\":%lu,\"first_error\":\"%s\"}\n",
	       opt.size, opt.concurrency, opt.rate_s, done, done / opt.rate_s, n_err,
	       errname(first_err));
	return n_err ? 1 : 0;
}

static int run_hold(void)
{
	struct conn *cs = calloc(opt.hold, sizeof(*cs));
	struct epoll_event evs[MAX_EVENTS];
	double t0 = now_us(), deadline = t0 + opt.timeout_s * 1e6;
	uint32_t next = 0, inflight = 0, held = 0, i;

	if (!cs)
		return 1;
	for (i = 0; i < opt.hold; i++)
		cs[i].fd = -1;
	while ((next < opt.hold || inflight) && now_us() < deadline) {
		int n, k;

		while (next < opt.hold && inflight < HOLD_INFLIGHT) {
			int err = cli_start(&cs[next++]);

			if (err)
				note_err(-err);
			else
				inflight++;
		}
		n = epoll_wait(epfd, evs, MAX_EVENTS, 100);
		for (k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			int r;

			if (c == (void *)&sigfd)
				goto out;
			r = cli_step(c, 1);
			if (r == 0)
				continue;
			if (c->ph == PH_HELD) {
				/* died while held: no longer counted */
				held--;
				note_err(-r);
				cli_drop(c);
				continue;
			}
			inflight--;
			if (r < 0) {
				note_err(-r);
				cli_drop(c);
				continue;
			}
			c->ph = PH_HELD;
			ep_mod(EPOLL_CTL_MOD, c, EPOLLRDHUP);
			held++;
		}
	}
	fprintf(stderr, "mpc_connbench: holding %u connections (%.1f s to open)\n", held,
		(now_us() - t0) / 1e6);
	write_ready("held %lu\n", held);
	for (;;) {
		int n = epoll_wait(epfd, evs, MAX_EVENTS, -1), k;

		for (k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;

			if (c == (void *)&sigfd)
				goto out;
			if (c->fd >= 0 && cli_step(c, 1) < 0) {
				held--;
				note_err(ECONNRESET);
				cli_drop(c);
			}
		}
	}
out:
	printf("{\"mode\":\"hold\",\"wanted\":%u,\"held\":%u,\"errors\":%lu,\"first_error\":\"%s\"}\n",
	       opt.hold, held, n_err, errname(first_err));
	fflush(stdout);
	for (i = 0; i < opt.hold; i++)
		cli_drop(&cs[i]);
	return held == opt.hold ? 0 : 1;
}

/* ---- main -------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: mpc_connbench --listen ADDR:PORT [--mptcp] [--ready-file F]\n"
		"       mpc_connbench --connect ADDR:PORT [--size N] [--bind ADDR] [--mptcp]\n"
		"                     --latency COUNT | --rate SECS [--concurrency K] |\n"
		"                     --hold N [--ready-file F]      [--timeout SEC]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'c' },
		{ "bind", required_argument, NULL, 'b' },
		{ "mptcp", no_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "latency", required_argument, NULL, 'L' },
		{ "rate", required_argument, NULL, 'r' },
		{ "concurrency", required_argument, NULL, 'k' },
		{ "hold", required_argument, NULL, 'H' },
		{ "ready-file", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	sigset_t mask;
	int c, modes = 0;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
		case 'c':
			if (mpc_parse_sockaddr(optarg, &opt.addr, &opt.addr_len, true)) {
				fprintf(stderr, "bad address '%s'\n", optarg);
				return 2;
			}
			opt.server = c == 'l';
			opt.client = c == 'c';
			break;
		case 'b':
			if (mpc_parse_sockaddr(optarg, &opt.bind, &opt.bind_len, false)) {
				fprintf(stderr, "bad address '%s'\n", optarg);
				return 2;
			}
			opt.bind_set = true;
			break;
		case 'm':
			opt.mptcp = true;
			break;
		case 's':
			opt.size = strtoul(optarg, NULL, 0);
			break;
		case 'L':
			opt.latency = strtoul(optarg, NULL, 0);
			modes++;
			break;
		case 'r':
			opt.rate_s = strtod(optarg, NULL);
			modes++;
			break;
		case 'k':
			opt.concurrency = strtoul(optarg, NULL, 0);
			break;
		case 'H':
			opt.hold = strtoul(optarg, NULL, 0);
			modes++;
			break;
		case 'f':
			opt.ready_file = optarg;
			break;
		case 't':
			opt.timeout_s = strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (opt.server == opt.client || (opt.client && modes != 1) || !opt.size ||
	    opt.size > MAX_SIZE || !opt.concurrency || (opt.rate_s < 0)) {
		usage();
		return 2;
	}
	txbuf = malloc(opt.size);
	if (!txbuf)
		return 1;
	for (uint32_t i = 0; i < opt.size; i++)
		txbuf[i] = (uint8_t)(i * 7 + 1);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd,
		  &(struct epoll_event){ .events = EPOLLIN, .data.ptr = &sigfd });
	if (opt.server)
		return run_server();
	if (opt.latency)
		return run_latency();
	if (opt.rate_s > 0)
		return run_rate();
	return run_hold();
}
