// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpc_testcli: an RFC 8803 Convert client that the integration tests use in
 * place of a CPE (protocol.md §1). It opens an MPTCP (or, with --tcp, TCP)
 * connection to a converter with the Convert message in the SYN (TCP Fast
 * Open without a cookie: TCP_FASTOPEN_NO_COOKIE + sendto(MSG_FASTOPEN)),
 * reads and decodes the converter's reply, then optionally moves data.
 *
 * Output, one line each on stdout, stable for tests to grep (with --json a
 * single JSON object instead):
 *   sent: convert=N syn_payload=N proto=mptcp|tcp
 *   tfo: syn_data_acked=yes|no|unknown
 *   reply: ok[ ext_tcp_hdr=HEX][ supp_ext=HEX]
 *   reply: error code=N name=NAME value=HEX   (value: bytes after the code
 *                                               octet, padding included)
 *   reply: invalid detail=TEXT bytes=HEX     (not a valid Convert reply)
 *   reply: none received=N                   (EOF before a whole reply)
 *   mptcp: yes subflows=N | fallback | no     (N: MPTCP_INFO's count of
 *                                               subflows beyond the first)
 *   data: sent=N received=N
 *   parallel: conns=N ok=N failed=N bytes=N mptcp=N fallback=N
 *   conn: idx=N failed=REASON                (parallel mode, first 20)
 * Warnings go to stderr as "mpc_testcli: warning: ...".
 *
 * Exit status: 0 success; 1 usage or local error; 2 connect or I/O error,
 * or the --timeout expired; 3 the reply was an Error TLV (the connection
 * is then reset, RFC 8803 §1.5: "client MUST reset on receipt"); 4 no valid
 * reply (the connection is reset); 5 parallel mode: a connection failed.
 *
 * Pseudo-random data (--send-bytes, --parallel): byte i of connection k is
 * byte (i % 8) (least significant first) of splitmix64((k << 40) ^ (i / 8));
 * --send-bytes uses k = 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <linux/mptcp.h>

#include <mpconv/convert.h>

#include "addr.h"

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef TCP_FASTOPEN_NO_COOKIE
#define TCP_FASTOPEN_NO_COOKIE 34
#endif
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

#define EX_OK 0
#define EX_USAGE 1
#define EX_IO 2
#define EX_ERROR_TLV 3
#define EX_BAD_REPLY 4
#define EX_PARALLEL 5

#define SYN_DATA_MAX 512 /* --syn-data: bytes of data appended to the SYN */
#define CHUNK 16384

static struct {
	struct sockaddr_storage conc, src;
	socklen_t conc_len, src_len;
	bool has_conc, has_src, has_target, info, tcp, json, shut_wr, syn_data;
	struct in6_addr target;
	uint16_t tport;
	uint8_t ext[256], cookie[MPC_CV_COOKIE_MAX];
	size_t ext_len, cookie_len;
	uint8_t *raw;
	size_t raw_len;
	const char *send_file, *recv_file;
	long long send_bytes;
	int parallel;
	long long bytes;
	int timeout, rcvbuf;
} o = { .shut_wr = true, .send_bytes = -1, .timeout = 30, .bytes = 65536 };

enum cstate { CS_CONNECTING, CS_REPLY, CS_DATA, CS_DONE, CS_FAILED };
enum rkind { RK_NONE, RK_OK, RK_ERROR, RK_INVALID };
static const char *const rkind_name[] = { "none", "ok", "error", "invalid" };

struct conn {
	int fd;
	uint32_t idx;
	enum cstate st;
	int fail_exit; /* exit status for a failure in single mode */
	char why[96];
	/* SYN payload: the Convert message (+ --syn-data bytes); synoff of
	 * them were accepted by the kernel so far */
	const uint8_t *syn;
	size_t synlen, synoff, syn_accepted, syn_extra;
	/* the reply */
	uint8_t reply[MPC_CV_MAX_LEN];
	size_t rlen;
	int mlen;
	struct mpc_cv_msg *msg;
	struct mpc_cv_status rst;
	enum rkind rkind;
	/* after the reply */
	const char *mptcp;
	int subflows;
	const char *tfo;
	/* data: from a file (src_fd >= 0) or generated (tx_total bytes) */
	int src_fd, sink_fd;
	bool gen_tx, verify, data_phase;
	uint64_t tx_total, tx_done, rx_done;
	uint8_t txbuf[CHUNK];
	size_t txlen, txoff;
	bool tx_eof, shut, rx_eof;
};

static int epfd = -1;
static struct timespec t_end;

static void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warnx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mpc_testcli: warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mpc_testcli --conc ADDR:PORT [--target ADDR:PORT] [OPTIONS]\n"
		"  --conc ADDR:PORT        converter address ([v6]:port accepted)\n"
		"  --target ADDR:PORT      server to reach (Connect TLV); may be omitted with --info\n"
		"  --info                  send an Info TLV (alone or with Connect)\n"
		"  --ext-opt KIND[:HEX]    Extended Connect carrying TCP option KIND with value HEX\n"
		"                          (repeatable; no value = the option without content)\n"
		"  --cookie HEX            add a Cookie TLV\n"
		"  --raw-hex HEX           send these exact bytes as the SYN payload\n"
		"  --raw-file FILE         same, bytes from FILE\n"
		"  --tcp                   plain TCP instead of MPTCP\n"
		"  --src ADDR              bind this source address\n"
		"  --rcvbuf BYTES          SO_RCVBUF\n"
		"  --send FILE|-           after the reply, send this data\n"
		"  --send-bytes N          after the reply, send N pseudo-random bytes\n"
		"  --syn-data              put the first bytes of the data in the SYN, after the\n"
		"                          Convert message (RFC 8803 §6)\n"
		"  --recv FILE             write everything received after the reply to FILE\n"
		"  --shut-wr               half-close when the data is sent (the default)\n"
		"  --no-shut-wr            keep the write side open; read until EOF\n"
		"  --parallel N            N concurrent connections, each sending --bytes of\n"
		"                          pseudo-random data to an echo server and verifying it\n"
		"  --bytes N               bytes per connection with --parallel (default 65536)\n"
		"  --timeout SEC           overall bound (default 30)\n"
		"  --json                  print one JSON object instead of text lines\n"
		"Exit: 0 ok, 1 usage, 2 connect/IO/timeout, 3 Error TLV, 4 no valid reply,\n"
		"      5 a parallel connection failed.\n");
}

/* ---- small helpers ----------------------------------------------------- */

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
		else if (*s == ' ' || *s == ':' || *s == '|' || *s == '\n')
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

static void hex(char *out, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The documented stream: random access, so sender and verifier need no
 * shared state. */
static void gen_fill(uint32_t k, uint64_t off, uint8_t *buf, size_t len)
{
	while (len) {
		uint64_t w = splitmix64(((uint64_t)k << 40) ^ (off >> 3));
		unsigned int s;

		for (s = off & 7; s < 8 && len; s++, off++, len--)
			*buf++ = (uint8_t)(w >> (8 * s));
	}
}

static long long parse_num(const char *s, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0' || v < 0 || v > max)
		return -1;
	return v;
}

static int remaining_ms(void)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (t_end.tv_sec - now.tv_sec) * 1000LL + (t_end.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 1000000 ? 1000000 : (int)ms;
}

/* RFC 8803 needs the SYN to carry data: TFO client bit 0x1 (recipes.md). */
static void check_tfo_sysctl(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "r");
	int v;

	if (!f) {
		warnx("cannot read /proc/sys/net/ipv4/tcp_fastopen: %s", strerror(errno));
		return;
	}
	if (fscanf(f, "%i", &v) == 1 && !(v & 1))
		warnx("net.ipv4.tcp_fastopen=%#x lacks bit 0x1 (client): the Convert message "
		      "will not ride in the SYN (sent after the handshake instead)",
		      v);
	fclose(f);
}

static int add_ext_opt(const char *arg)
{
	char *colon = strchr(arg, ':'), kbuf[16];
	long long kind;
	int vlen = 0;
	uint8_t *p;

	if (colon && (size_t)(colon - arg) < sizeof(kbuf)) {
		memcpy(kbuf, arg, colon - arg);
		kbuf[colon - arg] = '\0';
		kind = parse_num(kbuf, 255);
	} else {
		kind = parse_num(arg, 255);
	}
	if (kind < 0 || o.ext_len + 2 > sizeof(o.ext))
		return -1;
	p = o.ext + o.ext_len;
	if (colon) {
		vlen = unhex(colon + 1, p + 2, sizeof(o.ext) - o.ext_len - 2);
		if (vlen < 0 || vlen > 253)
			return -1;
	}
	p[0] = (uint8_t)kind;
	p[1] = (uint8_t)(2 + vlen);
	o.ext_len += 2 + vlen;
	return 0;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	size_t cap = 4096;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*buf = malloc(cap);
	*len = 0;
	while ((n = read(fd, *buf + *len, cap - *len)) > 0) {
		*len += n;
		if (*len == cap)
			*buf = realloc(*buf, cap *= 2);
	}
	close(fd);
	return n < 0 ? -errno : 0;
}

static int parse_args(int argc, char **argv)
{
	enum {
		O_CONC = 256,
		O_TARGET,
		O_INFO,
		O_EXT,
		O_COOKIE,
		O_RAWHEX,
		O_RAWFILE,
		O_TCP,
		O_SRC,
		O_RCVBUF,
		O_SEND,
		O_SENDB,
		O_SYNDATA,
		O_RECV,
		O_SHUT,
		O_NOSHUT,
		O_PAR,
		O_BYTES,
		O_TIMEOUT,
		O_JSON,
		O_HELP,
	};
	static const struct option lo[] = {
		{ "conc", 1, 0, O_CONC },	 { "target", 1, 0, O_TARGET },
		{ "info", 0, 0, O_INFO },	 { "ext-opt", 1, 0, O_EXT },
		{ "cookie", 1, 0, O_COOKIE },	 { "raw-hex", 1, 0, O_RAWHEX },
		{ "raw-file", 1, 0, O_RAWFILE }, { "tcp", 0, 0, O_TCP },
		{ "src", 1, 0, O_SRC },		 { "rcvbuf", 1, 0, O_RCVBUF },
		{ "send", 1, 0, O_SEND },	 { "send-bytes", 1, 0, O_SENDB },
		{ "syn-data", 0, 0, O_SYNDATA }, { "recv", 1, 0, O_RECV },
		{ "shut-wr", 0, 0, O_SHUT },	 { "no-shut-wr", 0, 0, O_NOSHUT },
		{ "parallel", 1, 0, O_PAR },	 { "bytes", 1, 0, O_BYTES },
		{ "timeout", 1, 0, O_TIMEOUT },	 { "json", 0, 0, O_JSON },
		{ "help", 0, 0, O_HELP },	 {},
	};
	struct sockaddr_storage ss;
	socklen_t sl;
	long long v;
	int c, n;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_CONC:
			if (mpc_parse_sockaddr(optarg, &o.conc, &o.conc_len, true))
				goto bad;
			o.has_conc = true;
			break;
		case O_TARGET:
			if (mpc_parse_sockaddr(optarg, &ss, &sl, true))
				goto bad;
			mpc_sa_to16(&ss, o.target.s6_addr, &o.tport);
			o.has_target = true;
			break;
		case O_INFO:
			o.info = true;
			break;
		case O_EXT:
			if (add_ext_opt(optarg))
				goto bad;
			break;
		case O_COOKIE:
			n = unhex(optarg, o.cookie, sizeof(o.cookie));
			if (n <= 0)
				goto bad;
			o.cookie_len = n;
			break;
		case O_RAWHEX:
			free(o.raw);
			o.raw = malloc(strlen(optarg) / 2 + 1);
			n = unhex(optarg, o.raw, strlen(optarg) / 2 + 1);
			if (n < 0)
				goto bad;
			o.raw_len = n;
			break;
		case O_RAWFILE:
			free(o.raw);
			if (read_file(optarg, &o.raw, &o.raw_len))
				goto bad;
			break;
		case O_TCP:
			o.tcp = true;
			break;
		case O_SRC:
			if (mpc_parse_sockaddr(optarg, &o.src, &o.src_len, false))
				goto bad;
			o.has_src = true;
			break;
		case O_RCVBUF:
			if ((v = parse_num(optarg, 1 << 30)) < 0)
				goto bad;
			o.rcvbuf = v;
			break;
		case O_SEND:
			o.send_file = optarg;
			break;
		case O_SENDB:
			if ((o.send_bytes = parse_num(optarg, 1LL << 50)) < 0)
				goto bad;
			break;
		case O_SYNDATA:
			o.syn_data = true;
			break;
		case O_RECV:
			o.recv_file = optarg;
			break;
		case O_SHUT:
			o.shut_wr = true;
			break;
		case O_NOSHUT:
			o.shut_wr = false;
			break;
		case O_PAR:
			if ((v = parse_num(optarg, 10000)) < 1)
				goto bad;
			o.parallel = v;
			break;
		case O_BYTES:
			if ((o.bytes = parse_num(optarg, 1LL << 50)) < 0)
				goto bad;
			break;
		case O_TIMEOUT:
			if ((v = parse_num(optarg, 86400)) < 1)
				goto bad;
			o.timeout = v;
			break;
		case O_JSON:
			o.json = true;
			break;
		case O_HELP:
		case 'h':
			usage(stdout);
			exit(EX_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || !o.has_conc) {
		fprintf(stderr, "mpc_testcli: --conc is required\n");
		usage(stderr);
		return -1;
	}
	if (!o.raw && !o.has_target && !o.info) {
		fprintf(stderr, "mpc_testcli: need --target, --info or --raw-hex/--raw-file\n");
		return -1;
	}
	if (o.ext_len && !o.has_target) {
		fprintf(stderr, "mpc_testcli: --ext-opt needs --target\n");
		return -1;
	}
	if (o.send_file && o.send_bytes >= 0) {
		fprintf(stderr, "mpc_testcli: --send and --send-bytes are exclusive\n");
		return -1;
	}
	if (o.parallel && (o.send_file || o.send_bytes >= 0 || o.recv_file || o.syn_data)) {
		fprintf(stderr, "mpc_testcli: --parallel generates its own data\n");
		return -1;
	}
	if (o.has_src && o.src.ss_family != o.conc.ss_family) {
		fprintf(stderr, "mpc_testcli: --src and --conc address families differ\n");
		return -1;
	}
	return 0;
bad:
	for (n = 0; lo[n].name && lo[n].val != c; n++)
		;
	fprintf(stderr, "mpc_testcli: bad value for --%s: '%s'\n", lo[n].name, optarg);
	return -1;
}

static int build_msg(uint8_t *out, size_t cap)
{
	struct mpc_cv_buf b;

	if (o.raw) {
		if (o.raw_len > cap)
			return -1;
		memcpy(out, o.raw, o.raw_len);
		return o.raw_len;
	}
	mpc_cv_begin(&b, out, cap);
	if (o.info)
		mpc_cv_put_info(&b);
	if (o.has_target)
		mpc_cv_put_connect(&b, &o.target, o.tport, o.ext_len ? o.ext : NULL, o.ext_len);
	if (o.cookie_len)
		mpc_cv_put_cookie(&b, o.cookie, o.cookie_len);
	return mpc_cv_finish(&b);
}

/* ---- one connection ---------------------------------------------------- */

static void conn_fail(struct conn *c, int ex, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void conn_fail(struct conn *c, int ex, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	c->st = CS_FAILED;
	c->fail_exit = ex;
}

/* RFC 8803 §1.5: a client that got an Error (or an invalid reply) resets. */
static void conn_reset(struct conn *c)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (c->fd < 0)
		return;
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(c->fd);
	c->fd = -1;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void set_events(struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	switch (c->st) {
	case CS_CONNECTING:
		ev.events = EPOLLOUT;
		break;
	case CS_REPLY:
		ev.events = EPOLLIN;
		break;
	case CS_DATA:
		ev.events = (c->rx_eof ? 0 : EPOLLIN) | (c->shut ? 0 : EPOLLOUT);
		break;
	default:
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		return;
	}
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static int new_socket(void)
{
	int fd, one = 1;

	fd = socket(o.conc.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    o.tcp ? IPPROTO_TCP : IPPROTO_MPTCP);
	if (fd < 0) {
		fprintf(stderr, "mpc_testcli: socket(%s): %s%s\n", o.tcp ? "TCP" : "MPTCP",
			strerror(errno), o.tcp ? "" : " (is net.mptcp.enabled=1?)");
		return -1;
	}
	/* data in the SYN without a TFO cookie round trip */
	if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one)))
		warnx("TCP_FASTOPEN_NO_COOKIE: %s", strerror(errno));
	if (o.rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof(o.rcvbuf)))
		warnx("SO_RCVBUF: %s", strerror(errno));
	if (o.has_src && bind(fd, (struct sockaddr *)&o.src, o.src_len)) {
		fprintf(stderr, "mpc_testcli: bind: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int conn_open(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	static bool warned;
	ssize_t n;

	c->fd = new_socket();
	if (c->fd < 0)
		return -1;
	if (c->synlen)
		n = sendto(c->fd, c->syn, c->synlen, MSG_FASTOPEN | MSG_NOSIGNAL,
			   (struct sockaddr *)&o.conc, o.conc_len);
	else /* --raw-hex "": no payload, a plain connect */
		n = connect(c->fd, (struct sockaddr *)&o.conc, o.conc_len);
	if (n < 0 && errno == EOPNOTSUPP) {
		/* TFO client disabled (tcp_fastopen bit 0x1): connect, and
		 * send the message once connected */
		if (!warned)
			warnx("sendto(MSG_FASTOPEN): %s; sending after the handshake",
			      strerror(errno));
		warned = true;
		close(c->fd);
		c->fd = new_socket();
		if (c->fd < 0)
			return -1;
		n = connect(c->fd, (struct sockaddr *)&o.conc, o.conc_len);
		if (n == 0)
			errno = EINPROGRESS;
		n = -1;
	}
	if (n < 0) {
		if (errno != EINPROGRESS) {
			conn_fail(c, EX_IO, "connect: %s", strerror(errno));
			return 0;
		}
		n = 0;
	}
	c->syn_accepted = c->synoff = n;
	c->st = CS_CONNECTING;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev)) {
		conn_fail(c, EX_IO, "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void query_state(struct conn *c)
{
	struct mptcp_info mi;
	struct tcp_info ti;
	socklen_t l;

	c->tfo = "unknown";
	memset(&ti, 0, sizeof(ti));
	l = sizeof(ti);
	if (!getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &l) && l >= 8)
		c->tfo = ti.tcpi_options & TCPI_OPT_SYN_DATA ? "yes" : "no";

	if (o.tcp) {
		c->mptcp = "no";
		return;
	}
	memset(&mi, 0, sizeof(mi));
	l = sizeof(mi);
	if (getsockopt(c->fd, SOL_MPTCP, MPTCP_INFO, &mi, &l)) {
		/* EOPNOTSUPP: the MPTCP socket fell back to TCP */
		c->mptcp = errno == EOPNOTSUPP ? "fallback" : "unknown";
		return;
	}
	c->mptcp = mi.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK ? "fallback" : "yes";
	c->subflows = mi.mptcpi_subflows;
}

/* Read the reply: the 4-byte header, then Total Length*4 bytes, exactly, so
 * no data after it is consumed here. */
static void on_reply(struct conn *c)
{
	size_t need = c->rlen < MPC_CV_HDR_LEN ? MPC_CV_HDR_LEN : (size_t)c->mlen;
	ssize_t n;

	n = read(c->fd, c->reply + c->rlen, need - c->rlen);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(c, EX_IO, "read reply: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		/* (was the SYN data acked? a hint of payload stripping, §1.8) */
		query_state(c);
		conn_fail(c, EX_BAD_REPLY, "no reply (EOF after %zu bytes)", c->rlen);
		return;
	}
	c->rlen += n;
	if (c->rlen < need)
		return;
	if (c->rlen == MPC_CV_HDR_LEN) {
		c->mlen = mpc_cv_msg_len(c->reply, c->rlen, &c->rst);
		if (c->mlen < 0) {
			/* whatever the header says, a client resets */
			query_state(c);
			c->rkind = RK_INVALID;
			conn_fail(c, EX_BAD_REPLY, "invalid reply: %s", c->rst.detail);
			return;
		}
		if ((size_t)c->mlen > c->rlen)
			return;
	}
	query_state(c);
	if (mpc_cv_decode(c->reply, c->rlen, MPC_CV_SIDE_CLIENT, c->msg, &c->rst)) {
		c->rkind = RK_INVALID;
		conn_fail(c, EX_BAD_REPLY, "invalid reply: %s", c->rst.detail);
		return;
	}
	if (c->msg->present & MPC_CV_TLV_BIT(MPC_CV_T_ERROR)) {
		c->rkind = RK_ERROR;
		conn_fail(c, EX_ERROR_TLV, "error reply code=%u (%s)", c->msg->error.code,
			  mpc_cv_error_name(c->msg->error.code));
		return;
	}
	c->rkind = RK_OK;
	if (!c->data_phase) {
		c->st = CS_DONE;
		return;
	}
	c->st = CS_DATA;
	/* nothing to send (only --recv): half-close right away */
	if (!c->gen_tx && c->src_fd < 0) {
		c->tx_eof = true;
		if (o.shut_wr)
			shutdown(c->fd, SHUT_WR);
		c->shut = true;
	}
}

static int conn_check_done(struct conn *c)
{
	if (!c->rx_eof || !c->shut)
		return 0;
	if (c->verify && c->rx_done != c->tx_total) {
		conn_fail(c, EX_PARALLEL, "short echo: %" PRIu64 " of %" PRIu64 " bytes",
			  c->rx_done, c->tx_total);
		return 1;
	}
	c->st = CS_DONE;
	return 1;
}

static void on_data_in(struct conn *c)
{
	uint8_t buf[CHUNK], want[CHUNK];
	ssize_t n;
	size_t i;

	n = read(c->fd, buf, sizeof(buf));
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(c, EX_IO, "read: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		/* the peer half-closed; keep sending what is left */
		c->rx_eof = true;
		conn_check_done(c);
		return;
	}
	if (c->verify) {
		if (c->rx_done + n > c->tx_total) {
			conn_fail(c, EX_PARALLEL, "echo longer than sent (%" PRIu64 " bytes)",
				  c->rx_done + n);
			return;
		}
		gen_fill(c->idx, c->rx_done, want, n);
		if (memcmp(buf, want, n)) {
			for (i = 0; buf[i] == want[i]; i++)
				;
			conn_fail(c, EX_PARALLEL, "mismatch at byte %" PRIu64, c->rx_done + i);
			return;
		}
	}
	if (c->sink_fd >= 0) {
		size_t off = 0;

		while (off < (size_t)n) {
			ssize_t w = write(c->sink_fd, buf + off, n - off);

			if (w < 0) {
				conn_fail(c, EX_USAGE, "write --recv file: %s", strerror(errno));
				return;
			}
			off += w;
		}
	}
	c->rx_done += n;
}

static void on_data_out(struct conn *c)
{
	ssize_t n;

	if (c->txoff == c->txlen && !c->tx_eof) {
		c->txoff = c->txlen = 0;
		if (c->gen_tx) {
			uint64_t left = c->tx_total - c->tx_done;

			c->txlen = left < CHUNK ? left : CHUNK;
			gen_fill(c->idx, c->tx_done, c->txbuf, c->txlen);
		} else {
			n = read(c->src_fd, c->txbuf, CHUNK);
			if (n < 0) {
				conn_fail(c, EX_USAGE, "read --send file: %s", strerror(errno));
				return;
			}
			c->txlen = n;
		}
		if (c->txlen == 0)
			c->tx_eof = true;
	}
	if (c->txoff < c->txlen) {
		n = send(c->fd, c->txbuf + c->txoff, c->txlen - c->txoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_fail(c, EX_IO, "send: %s", strerror(errno));
			return;
		}
		c->txoff += n;
		c->tx_done += n;
		if (c->gen_tx && c->tx_done == c->tx_total)
			c->tx_eof = true;
	}
	if (c->tx_eof && c->txoff == c->txlen) {
		if (o.shut_wr || o.parallel)
			shutdown(c->fd, SHUT_WR);
		c->shut = true;
		conn_check_done(c);
	}
}

static void on_event(struct conn *c, uint32_t ev)
{
	int err = 0;
	socklen_t l = sizeof(err);
	ssize_t n;

	switch (c->st) {
	case CS_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err) {
			conn_fail(c, EX_IO, "connect: %s", strerror(err));
			break;
		}
		/* the part of the SYN payload that did not fit in the SYN */
		while (c->synoff < c->synlen) {
			n = send(c->fd, c->syn + c->synoff, c->synlen - c->synoff, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN)
					return;
				conn_fail(c, EX_IO, "send: %s", strerror(errno));
				break;
			}
			c->synoff += n;
		}
		if (c->st == CS_CONNECTING)
			c->st = CS_REPLY;
		break;
	case CS_REPLY:
		on_reply(c);
		break;
	case CS_DATA:
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
			on_data_in(c);
		if (c->st == CS_DATA && !c->shut && (ev & (EPOLLOUT | EPOLLERR)))
			on_data_out(c);
		break;
	default:
		break;
	}
	if (c->st == CS_FAILED || c->st == CS_DONE) {
		if (c->fd >= 0)
			epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		return;
	}
	set_events(c);
}

/* Drive every connection until each is done or failed, or the deadline. */
static void run(struct conn *cs, int n)
{
	struct epoll_event evs[64];
	int live, i, k;

	for (;;) {
		for (live = 0, i = 0; i < n; i++)
			live += cs[i].st != CS_DONE && cs[i].st != CS_FAILED;
		if (!live)
			return;
		k = epoll_wait(epfd, evs, 64, remaining_ms());
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		for (i = 0; i < k; i++)
			on_event(evs[i].data.ptr, evs[i].events);
	}
	for (i = 0; i < n; i++)
		if (cs[i].st != CS_DONE && cs[i].st != CS_FAILED)
			conn_fail(&cs[i], EX_IO, "timeout after %ds in state %d", o.timeout,
				  cs[i].st);
}

/* ---- output ------------------------------------------------------------ */

static void json_str(const char *k, const char *v, bool comma)
{
	printf("\"%s\":\"", k);
	for (; *v; v++)
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v >= 0x20)
			putchar(*v);
	printf("\"%s", comma ? "," : "");
}

static int report_single(struct conn *c, size_t convert_len, int ex)
{
	static char h1[2 * MPC_CV_MAX_LEN + 1], h2[2 * MPC_CV_MAX_LEN + 1];
	const struct mpc_cv_msg *m = c->msg;
	const char *reply = rkind_name[c->rkind];

	if (o.json) {
		printf("{");
		printf("\"proto\":\"%s\",\"convert_bytes\":%zu,\"syn_payload\":%zu,",
		       o.tcp ? "tcp" : "mptcp", convert_len, c->syn_accepted);
		json_str("reply", reply, true);
		if (!strcmp(reply, "error")) {
			hex(h1, m->error.value, m->error.value_len);
			printf("\"error_code\":%u,", m->error.code);
			json_str("error_name", mpc_cv_error_name(m->error.code), true);
			json_str("error_value", h1, true);
		} else if (!strcmp(reply, "ok")) {
			if (m->present & MPC_CV_TLV_BIT(MPC_CV_T_EXT_TCP_HDR)) {
				hex(h1, m->ext_tcp_hdr.opts, m->ext_tcp_hdr.opts_len);
				json_str("ext_tcp_hdr", h1, true);
			}
			if (m->present & MPC_CV_TLV_BIT(MPC_CV_T_SUPP_EXT)) {
				hex(h1, m->supp_ext.kinds, m->supp_ext.n_kinds);
				json_str("supp_ext", h1, true);
			}
		} else if (!strcmp(reply, "invalid")) {
			hex(h1, c->reply, c->rlen);
			json_str("detail", c->rst.detail, true);
			json_str("reply_bytes", h1, true);
		}
		if (c->mptcp) {
			json_str("mptcp", c->mptcp, true);
			printf("\"subflows\":%d,", c->subflows);
			json_str("syn_data_acked", c->tfo, true);
		}
		printf("\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",", c->tx_done, c->rx_done);
		if (ex)
			json_str("failure", c->why, true);
		printf("\"exit\":%d}\n", ex);
		return ex;
	}

	printf("sent: convert=%zu syn_payload=%zu proto=%s\n", convert_len, c->syn_accepted,
	       o.tcp ? "tcp" : "mptcp");
	if (c->tfo)
		printf("tfo: syn_data_acked=%s\n", c->tfo);
	if (!strcmp(reply, "error")) {
		hex(h1, m->error.value, m->error.value_len);
		printf("reply: error code=%u name=%s value=%s\n", m->error.code,
		       mpc_cv_error_name(m->error.code), h1);
	} else if (!strcmp(reply, "ok")) {
		h1[0] = h2[0] = '\0';
		if (m->present & MPC_CV_TLV_BIT(MPC_CV_T_EXT_TCP_HDR))
			hex(h1, m->ext_tcp_hdr.opts, m->ext_tcp_hdr.opts_len);
		if (m->present & MPC_CV_TLV_BIT(MPC_CV_T_SUPP_EXT))
			hex(h2, m->supp_ext.kinds, m->supp_ext.n_kinds);
		printf("reply: ok%s%s%s%s\n",
		       m->present & MPC_CV_TLV_BIT(MPC_CV_T_EXT_TCP_HDR) ? " ext_tcp_hdr=" : "", h1,
		       m->present & MPC_CV_TLV_BIT(MPC_CV_T_SUPP_EXT) ? " supp_ext=" : "", h2);
	} else if (!strcmp(reply, "invalid")) {
		hex(h1, c->reply, c->rlen);
		printf("reply: invalid detail=\"%s\" bytes=%s\n", c->rst.detail, h1);
	} else {
		printf("reply: %s received=%zu\n", reply, c->rlen);
	}
	if (c->mptcp) {
		if (!strcmp(c->mptcp, "yes"))
			printf("mptcp: yes subflows=%d\n", c->subflows);
		else
			printf("mptcp: %s\n", c->mptcp);
	}
	if (c->data_phase)
		printf("data: sent=%" PRIu64 " received=%" PRIu64 "\n", c->tx_done, c->rx_done);
	if (ex)
		fprintf(stderr, "mpc_testcli: %s\n", c->why);
	return ex;
}

/* ---- main -------------------------------------------------------------- */

static int run_single(const uint8_t *msg, size_t mlen)
{
	static uint8_t syn[MPC_CV_MAX_LEN * 4 + SYN_DATA_MAX];
	struct conn *c = calloc(1, sizeof(*c));
	int ex;

	c->msg = calloc(1, sizeof(*c->msg));
	c->src_fd = c->sink_fd = -1;
	memcpy(syn, msg, mlen);
	c->syn = syn;
	c->synlen = mlen;
	c->data_phase = o.send_file || o.send_bytes >= 0 || o.recv_file;
	if (o.send_bytes >= 0) {
		c->gen_tx = true;
		c->tx_total = o.send_bytes;
	} else if (o.send_file) {
		c->src_fd = strcmp(o.send_file, "-") ? open(o.send_file, O_RDONLY | O_CLOEXEC) : 0;
		if (c->src_fd < 0) {
			fprintf(stderr, "mpc_testcli: %s: %s\n", o.send_file, strerror(errno));
			return EX_USAGE;
		}
	}
	if (o.recv_file) {
		c->sink_fd = open(o.recv_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->sink_fd < 0) {
			fprintf(stderr, "mpc_testcli: %s: %s\n", o.recv_file, strerror(errno));
			return EX_USAGE;
		}
	}
	/* --syn-data: the first data bytes ride in the SYN after the message */
	if (o.syn_data && (c->gen_tx || c->src_fd >= 0)) {
		size_t k = SYN_DATA_MAX;

		if (c->gen_tx) {
			k = c->tx_total < k ? c->tx_total : k;
			gen_fill(0, 0, syn + mlen, k);
			if (k == c->tx_total)
				c->tx_eof = true;
		} else {
			ssize_t n = read(c->src_fd, syn + mlen, k);

			k = n > 0 ? n : 0;
		}
		c->synlen += k;
		c->syn_extra = k;
		c->tx_done = k;
	}

	if (conn_open(c) < 0)
		return EX_IO;
	if (c->st != CS_FAILED)
		run(c, 1);

	if (c->st == CS_DONE) {
		ex = EX_OK;
		conn_close(c);
	} else {
		ex = c->fail_exit ? c->fail_exit : EX_IO;
		/* Error TLV or invalid reply: MUST reset (RFC 8803 §1.5) */
		if (ex == EX_ERROR_TLV || ex == EX_BAD_REPLY || ex == EX_PARALLEL)
			conn_reset(c);
		else
			conn_close(c);
	}
	if (c->sink_fd >= 0)
		close(c->sink_fd);
	return report_single(c, mlen, ex);
}

static int run_parallel(const uint8_t *msg, size_t mlen)
{
	struct conn *cs = calloc(o.parallel, sizeof(*cs));
	int i, ok = 0, failed = 0, mp = 0, fb = 0, shown = 0;
	uint64_t bytes = 0;

	if (!cs)
		return EX_USAGE;
	for (i = 0; i < o.parallel; i++) {
		struct conn *c = &cs[i];

		c->idx = i;
		c->msg = calloc(1, sizeof(*c->msg));
		c->src_fd = c->sink_fd = -1;
		c->syn = msg;
		c->synlen = mlen;
		c->data_phase = c->gen_tx = c->verify = true;
		c->tx_total = o.bytes;
		if (!c->msg || conn_open(c) < 0) {
			conn_fail(c, EX_IO, "socket");
			if (c->fd >= 0)
				close(c->fd);
			c->fd = -1;
		}
	}
	run(cs, o.parallel);
	for (i = 0; i < o.parallel; i++) {
		struct conn *c = &cs[i];

		if (c->mptcp && !strcmp(c->mptcp, "yes"))
			mp++;
		else if (c->mptcp && !strcmp(c->mptcp, "fallback"))
			fb++;
		bytes += c->rx_done;
		if (c->st == CS_DONE) {
			ok++;
			conn_close(c);
			continue;
		}
		failed++;
		if (shown++ < 20 && !o.json)
			printf("conn: idx=%d failed=%s\n", i, c->why);
		if (c->fail_exit == EX_ERROR_TLV || c->fail_exit == EX_BAD_REPLY ||
		    c->fail_exit == EX_PARALLEL)
			conn_reset(c);
		else
			conn_close(c);
	}
	if (o.json)
		printf("{\"proto\":\"%s\",\"conns\":%d,\"ok\":%d,\"failed\":%d,\"bytes\":%" PRIu64
		       ",\"mptcp\":%d,\"fallback\":%d,\"exit\":%d}\n",
		       o.tcp ? "tcp" : "mptcp", o.parallel, ok, failed, bytes, mp, fb,
		       failed ? EX_PARALLEL : EX_OK);
	else
		printf("parallel: conns=%d ok=%d failed=%d bytes=%" PRIu64
		       " mptcp=%d fallback=%d\n",
		       o.parallel, ok, failed, bytes, mp, fb);
	return failed ? EX_PARALLEL : EX_OK;
}

int main(int argc, char **argv)
{
	static uint8_t msg[MPC_CV_MAX_LEN * 4];
	int mlen;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv))
		return EX_USAGE;
	mlen = build_msg(msg, sizeof(msg));
	if (mlen < 0) {
		fprintf(stderr, "mpc_testcli: the Convert message does not fit (%d bytes max)\n",
			MPC_CV_MAX_LEN);
		return EX_USAGE;
	}
	check_tfo_sysctl();
	clock_gettime(CLOCK_MONOTONIC, &t_end);
	t_end.tv_sec += o.timeout;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		perror("mpc_testcli: epoll_create1");
		return EX_USAGE;
	}
	return o.parallel ? run_parallel(msg, mlen) : run_single(msg, mlen);
}
