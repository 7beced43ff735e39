// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpc_testconv: a stand-in RFC 8803 converter for testing mpc_testcli (and
 * other clients) without the concentrator: it accepts MPTCP (or --tcp)
 * connections with TFO data in the SYN, reads the Convert message, logs it,
 * and answers with a canned reply (--reply-hex) or, by default, with what
 * the codec says a converter should answer (Error reply for a bad message,
 * Extended TCP Header / Supported TCP Extensions otherwise). It connects to
 * nothing downstream. Each connection is served by a forked child.
 *
 * Log lines on stdout (one write each):
 *   listening: ADDR proto=mptcp|tcp
 *   conn: n=N peer=ADDR mptcp=yes|fallback|no syn_data=yes|no|unknown
 *         rx=HEX extra=N decode=ok|error code=N|reset detail="..."   (one line)
 *   end: n=N how=fin|rst|timeout|error|closed|we-reset bytes=N
 *     (how the client ended the connection; bytes = data read after the
 *      Convert message, SYN data included, and echoed with --echo)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/mptcp.h>

#include <mpconv/convert.h>

#include "addr.h"

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef TCP_FASTOPEN_NO_COOKIE
#define TCP_FASTOPEN_NO_COOKIE 34
#endif

static struct {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool tcp, echo, no_reply;
	uint8_t reply[4096];
	int reply_len; /* -1: decide from the decoded message */
	long count;
	long long corrupt_at;
	int timeout, io_timeout;
} o = { .reply_len = -1, .corrupt_at = -1, .timeout = 60, .io_timeout = 10 };

static void logline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logline(const char *fmt, ...)
{
	char buf[2 * MPC_CV_MAX_LEN + 512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* one write per line: children share stdout */
	if (write(STDOUT_FILENO, buf, n) < 0)
		return;
}

static int unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else if (*s == ' ' || *s == ':' || *s == '|')
			continue;
		else
			return -1;
		if (hi < 0) {
			hi = d;
			continue;
		}
		if (n == cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | d);
		hi = -1;
	}
	return hi >= 0 ? -1 : (int)n;
}

static char *hex(char *out, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
	return out;
}

/* Wait for `ev` on fd up to the I/O timeout; 1 ready, 0 timeout. */
static int wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n;

	do
		n = poll(&p, 1, o.io_timeout * 1000);
	while (n < 0 && errno == EINTR);
	return n > 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= w;
	}
	return 0;
}

static const char *syn_data_state(int fd)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) || l < 8)
		return "unknown";
	return ti.tcpi_options & TCPI_OPT_SYN_DATA ? "yes" : "no";
}

static const char *mptcp_state(int fd)
{
	struct mptcp_info mi;
	socklen_t l = sizeof(mi);

	if (o.tcp)
		return "no";
	memset(&mi, 0, sizeof(mi));
	/* an MPTCP listener hands out plain TCP sockets to TCP clients */
	if (getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &mi, &l))
		return "fallback";
	return mi.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK ? "fallback" : "yes";
}

/* The reply a converter would send for a message that decoded fine. */
static int default_reply(const struct mpc_cv_msg *m, uint8_t *out, size_t cap)
{
	static const uint8_t kinds[] = { 30, 34 }; /* MPTCP, TFO */
	struct mpc_cv_buf b;

	mpc_cv_begin(&b, out, cap);
	if (m->present & MPC_CV_TLV_BIT(MPC_CV_T_CONNECT))
		mpc_cv_put_ext_tcp_hdr(&b, NULL, 0);
	if (m->present & MPC_CV_TLV_BIT(MPC_CV_T_INFO))
		mpc_cv_put_supp_ext(&b, kinds, sizeof(kinds));
	return mpc_cv_finish(&b);
}

static void reset_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void serve(int fd, long n, const struct sockaddr_storage *peer)
{
	static uint8_t rx[8192], out[MPC_CV_MAX_LEN];
	static char rxhex[2 * sizeof(rx) + 1], detail[160], peerstr[MPC_ADDRSTRLEN];
	static struct mpc_cv_msg msg;
	struct mpc_cv_status st;
	size_t have = 0, mlen, extra;
	long long done = 0;
	const char *how = "fin";
	bool reset = false;
	ssize_t r;
	int ml, rl;

	mpc_sa_str(peer, peerstr);
	/* the message: the header, then Total Length bytes (the SYN data
	 * normally holds it all already) */
	for (;;) {
		if (!wait_fd(fd, POLLIN)) {
			how = "timeout";
			break;
		}
		r = read(fd, rx + have, sizeof(rx) - have);
		if (r <= 0) {
			how = r ? "error" : "fin";
			break;
		}
		have += r;
		ml = mpc_cv_msg_len(rx, have, NULL);
		if (ml < 0 || (ml > 0 && have >= (size_t)ml) || have == sizeof(rx))
			break;
	}
	ml = mpc_cv_msg_len(rx, have, &st);
	mlen = ml > 0 && (size_t)ml <= have ? (size_t)ml : have;
	extra = have - mlen;
	if (mpc_cv_decode(rx, have, MPC_CV_SIDE_CONVERTER, &msg, &st) == 0)
		snprintf(detail, sizeof(detail), "decode=ok");
	else if (st.reset)
		snprintf(detail, sizeof(detail), "decode=reset detail=\"%s\"", st.detail);
	else
		snprintf(detail, sizeof(detail), "decode=error code=%d detail=\"%s\"",
			 st.reply_code, st.detail);
	logline("conn: n=%ld peer=%s mptcp=%s syn_data=%s rx=%s extra=%zu %s", n, peerstr,
		mptcp_state(fd), syn_data_state(fd), hex(rxhex, rx, mlen), extra, detail);

	if (o.no_reply) {
		logline("end: n=%ld how=closed bytes=0", n);
		close(fd);
		return;
	}
	if (o.reply_len >= 0) {
		rl = o.reply_len;
		memcpy(out, o.reply, rl);
	} else if (st.reset) {
		reset = true;
		rl = 0;
	} else if (st.reply_code >= 0) {
		rl = mpc_cv_build_error_reply(out, sizeof(out), rx, have, &st);
	} else {
		rl = default_reply(&msg, out, sizeof(out));
	}
	if (reset) {
		logline("end: n=%ld how=we-reset bytes=0", n);
		reset_close(fd);
		return;
	}
	if (rl > 0 && write_all(fd, out, rl)) {
		logline("end: n=%ld how=error bytes=0", n);
		close(fd);
		return;
	}

	/* after the reply: echo (SYN data first) or drain, until the client
	 * ends the connection */
	if (o.echo && extra) {
		if (o.corrupt_at >= 0 && (size_t)o.corrupt_at < extra)
			rx[mlen + o.corrupt_at] ^= 0x5a;
		if (write_all(fd, rx + mlen, extra))
			how = "error";
	}
	done = extra;
	while (!strcmp(how, "fin") && have) {
		static uint8_t buf[65536];

		if (!wait_fd(fd, POLLIN)) {
			how = "timeout";
			break;
		}
		r = read(fd, buf, sizeof(buf));
		if (r == 0)
			break;
		if (r < 0) {
			how = errno == ECONNRESET ? "rst" : "error";
			break;
		}
		if (o.echo) {
			if (o.corrupt_at >= done && o.corrupt_at < done + r)
				buf[o.corrupt_at - done] ^= 0x5a;
			if (write_all(fd, buf, r)) {
				how = errno == ECONNRESET || errno == EPIPE ? "rst" : "error";
				break;
			}
		}
		done += r;
	}
	logline("end: n=%ld how=%s bytes=%lld", n, how, done);
	if (o.echo)
		shutdown(fd, SHUT_WR);
	/* let the client read the echo and close first */
	if (o.echo && wait_fd(fd, POLLIN))
		while (read(fd, out, sizeof(out)) > 0 && wait_fd(fd, POLLIN))
			;
	close(fd);
}

static int listener(void)
{
	int fd, one = 1, qlen = 64;
	FILE *f;

	f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "r");
	if (f) {
		int v = 0;

		/* recipes.md: data in a SYN is accepted only with bit 0x2 */
		if (fscanf(f, "%i", &v) == 1 && !(v & 2))
			fprintf(stderr,
				"mpc_testconv: warning: net.ipv4.tcp_fastopen=%#x lacks "
				"bit 0x2 (server): SYN data will not be accepted\n",
				v);
		fclose(f);
	}
	fd = socket(o.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		    o.tcp ? IPPROTO_TCP : IPPROTO_MPTCP);
	if (fd < 0) {
		perror("mpc_testconv: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)))
		perror("mpc_testconv: warning: TCP_FASTOPEN");
	if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one)))
		perror("mpc_testconv: warning: TCP_FASTOPEN_NO_COOKIE");
	if (bind(fd, (struct sockaddr *)&o.addr, o.addr_len) || listen(fd, 128)) {
		perror("mpc_testconv: bind/listen");
		close(fd);
		return -1;
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: mpc_testconv --listen ADDR:PORT [--tcp] [--count N]\n"
		   "         [--reply-hex HEX | --no-reply] [--echo] [--corrupt-at N]\n"
		   "         [--timeout SEC] [--io-timeout SEC]\n"
		   "  --reply-hex HEX   send these bytes as the reply, whatever was received\n"
		   "  --no-reply        send nothing\n"
		   "  (default)         Error reply for an invalid message (codec rules),\n"
		   "                    else Extended TCP Header and/or Supported TCP Extensions\n"
		   "  --echo            after the reply, echo every byte until EOF\n"
		   "  --corrupt-at N    flip echoed byte N (to test a client's verification)\n"
		   "  --count N         exit after serving N connections\n"
		   "  --timeout SEC     exit after SEC seconds in any case (default 60)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", 1, 0, 'l' },
		{ "tcp", 0, 0, 't' },
		{ "count", 1, 0, 'c' },
		{ "reply-hex", 1, 0, 'r' },
		{ "no-reply", 0, 0, 'n' },
		{ "echo", 0, 0, 'e' },
		{ "corrupt-at", 1, 0, 'x' },
		{ "timeout", 1, 0, 'T' },
		{ "io-timeout", 1, 0, 'I' },
		{ "help", 0, 0, 'h' },
		{},
	};
	char buf[MPC_ADDRSTRLEN];
	struct sigaction sa = {};
	long served = 0;
	bool has_addr = false;
	int c, lfd;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (mpc_parse_sockaddr(optarg, &o.addr, &o.addr_len, true))
				goto bad;
			has_addr = true;
			break;
		case 't':
			o.tcp = true;
			break;
		case 'c':
			o.count = strtol(optarg, NULL, 0);
			break;
		case 'r':
			o.reply_len = unhex(optarg, o.reply, sizeof(o.reply));
			if (o.reply_len < 0)
				goto bad;
			break;
		case 'n':
			o.no_reply = true;
			break;
		case 'e':
			o.echo = true;
			break;
		case 'x':
			o.corrupt_at = strtoll(optarg, NULL, 0);
			break;
		case 'T':
			o.timeout = atoi(optarg);
			break;
		case 'I':
			o.io_timeout = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (!has_addr) {
		usage(stderr);
		return 1;
	}
	lfd = listener();
	if (lfd < 0)
		return 1;
	logline("listening: %s proto=%s", mpc_sa_str(&o.addr, buf), o.tcp ? "tcp" : "mptcp");

	/* children are reaped automatically; the overall bound is an alarm */
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	alarm(o.timeout);

	while (!o.count || served < o.count) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		pid_t pid;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			perror("mpc_testconv: accept");
			return 1;
		}
		served++;
		pid = fork();
		if (pid == 0) {
			/* die with the parent: tests stop the parent by PID */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(lfd);
			serve(fd, served, &peer);
			_exit(0);
		}
		close(fd);
		if (pid < 0)
			perror("mpc_testconv: fork");
	}
	close(lfd);
	/* wait for the last children (SA_NOCLDWAIT: wait returns ECHILD when
	 * all are gone) */
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return 0;
bad:
	fprintf(stderr, "mpc_testconv: bad value '%s'\n", optarg);
	return 1;
}
