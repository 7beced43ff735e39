// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpc_peer: the test server (and simple client) behind mpconv.
 *
 * It stands in for "the server" in integration tests, the demo and the
 * bench: one process, one epoll loop, non-blocking sockets, no thread per
 * connection, so a test can run hundreds of connections through it and
 * still reason about a single PID and its descriptors.
 *
 * Server:  mpc_peer --listen ADDR:PORT [--listen ...] [--mptcp|--tcp] MODE [OPTIONS]
 *   MODE is one of
 *     --echo                 echo everything; half-close once the peer has
 *                            half-closed and everything was echoed
 *     --sink FILE            write received bytes to FILE (FILE.N, N = 1, 2, ...
 *                            in accept order, unless --count 1); the write
 *                            side is half-closed when the peer's is
 *     --source FILE          send FILE's content then half-close
 *     --source-bytes N       send N bytes of the --seed stream then half-close
 *     (--sink and one --source* may be combined)
 *     --http                 minimal HTTP/1.0/1.1 server: GET or HEAD of /N or
 *                            /bytes/N answers N bytes of the --seed stream with
 *                            Content-Length and "Connection: close"
 *   --mptcp (default for servers): IPPROTO_MPTCP listener; plain TCP clients
 *   are accepted too (the kernel falls back). --tcp: a plain TCP listener.
 *
 * Client:  mpc_peer --connect ADDR:PORT [--mptcp|--tcp] [--send FILE|--send-bytes N]
 *                   [--recv FILE] [--echo] [--expect-bytes N] [--parallel N]
 *                   [--bind ADDR] [--rst]
 *   Connects (plain connect(): no Convert), sends, half-closes and receives
 *   until EOF. Default --tcp. Connection k (1..N) of --send-bytes sends the
 *   stream of seed S+k-1. --echo verifies that every received byte equals the
 *   byte sent at that offset (the server runs --echo). --recv FILE writes what
 *   arrives (FILE.k when --parallel > 1). --rst aborts with a RST instead of a
 *   FIN once everything was sent. Exit status 0 only when every connection
 *   completed and verified.
 *
 * Common: --sha (sha256 of each direction in the log), --seed S (default 1),
 *   --count N (server: exit after N connections; status 0 if all were ok),
 *   --ready-file F (written once listening: one "listen ADDR:PORT" line per
 *   listener, renamed into place so it appears complete), --log FILE|-
 *   (appended; default -, stdout), --timeout SEC (whole run; open connections
 *   end as result=timeout and the exit status is 2), -q (no warnings on
 *   stderr).
 *   Without --count a server runs until SIGTERM/SIGINT, then exits 0.
 *
 * Stream: mpc_peer --gen N [--seed S] writes N bytes of the seed-S stream to
 *   stdout (to compute expected hashes in tests). The stream is random
 *   access: 8-byte block k is splitmix64(splitmix64(S) + k), little endian.
 *
 * Log format (one line per connection, written when it ends, flushed):
 *   conn peer=ADDR:PORT local=ADDR:PORT mptcp=0|1 subflows=N rx=BYTES tx=BYTES
 *        [rx_sha=HEX tx_sha=HEX] ms=MS id=N role=server|client result=RESULT
 *   (on one line). Addresses print as a.b.c.d:p or [v6]:p; local is
 *   getsockname(), i.e. the original destination for a transparent socket.
 *   mptcp=1 when getsockopt(SOL_MPTCP, MPTCP_INFO) succeeds with the fallback
 *   flag clear (protocol.md section 9); subflows is the most seen at once
 *   (mptcpi_subflows counts the additional ones, so +1), 1 for TCP.
 *   RESULT is ok or one token: an errno name (ECONNRESET, ...), rst (sent by
 *   --rst), mismatch@OFFSET, short, long, sink:ERRNO, http_noreq, timeout,
 *   aborted (signal).
 *   At exit: done conns=N ok=N failed=N fds_leaked=N (descriptors open at exit
 *   that were not open when the run started; non-zero fails the run).
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/mptcp.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define MAX_LISTEN 16
#define BUF_SZ (128 * 1024) /* per-connection staging (echo, generated data) */
#define SCRATCH_SZ (256 * 1024) /* shared receive buffer for sink/discard */
#define HTTP_REQ_MAX 8192
#define ACCEPT_BATCH 64
#define READ_BATCH 16 /* reads per wakeup, so one connection cannot starve others */
#define WRITE_BATCH 16 /* sends per wakeup, likewise */
#define MPTCP_SAMPLE_MS 10
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

enum ev_type { EV_LISTEN, EV_CONN, EV_SIGNAL };

enum tx_kind {
	TX_NONE, /* nothing to send */
	TX_ECHO, /* what was received */
	TX_MAP, /* a mapped file */
	TX_GEN, /* the seed stream */
	TX_HTTP_WAIT, /* HTTP: response not known until the request is complete */
};

struct listener {
	int type; /* EV_LISTEN: first, epoll data points at it */
	int fd;
	struct sockaddr_storage addr;
};

struct conn {
	int type; /* EV_CONN */
	int fd;
	unsigned int id;
	bool client, connecting, rst;
	bool dead; /* finished; freed after the current epoll batch */
	bool want_out; /* a send could not complete: wait for EPOLLOUT */
	struct sockaddr_storage peer, local;
	struct timespec t0;
	uint32_t events; /* registered epoll mask */

	/* receive side */
	uint64_t rx;
	bool rd_eof;
	int sink_fd;

	/* transmit side: staging buf[boff, blen) goes first, then the source */
	enum tx_kind tx_kind;
	uint64_t tx; /* bytes sent */
	uint64_t src_len; /* TX_MAP/TX_GEN: length of the source */
	uint64_t src_off; /* TX_MAP/TX_GEN: bytes of the source consumed */
	uint64_t seed; /* TX_GEN */
	uint8_t *buf;
	size_t boff, blen;
	bool wr_shut;

	/* client --echo verification: the source as it was sent */
	bool verify;

	/* HTTP request accumulation */
	char *req;
	size_t req_len;

	EVP_MD_CTX *rx_sha, *tx_sha;

	/* MPTCP_INFO samples */
	bool sample_mptcp;
	int mptcp, subflows;
	uint64_t last_sample_ms;

	const char *result; /* NULL while fine */
	char resbuf[40];
	struct conn *prev, *next;
};

static struct {
	bool client, mptcp, proto_set, echo, http, sha, rst, quiet;
	const char *sink, *source, *send, *recv, *ready_file, *log_path;
	uint64_t source_bytes, send_bytes, expect_bytes, gen_bytes, seed;
	bool source_bytes_set, send_bytes_set, expect_bytes_set, gen;
	unsigned int count, parallel;
	unsigned int timeout_s;
	struct sockaddr_storage listen[MAX_LISTEN];
	socklen_t listen_len[MAX_LISTEN];
	int n_listen;
	struct sockaddr_storage connect, bind;
	socklen_t connect_len, bind_len;
	bool bind_set;
} opt = { .seed = 1, .parallel = 1 };

static int epfd = -1, sigfd = -1;
static FILE *log_fp;
static struct listener listeners[MAX_LISTEN];
static struct conn *conns, *graveyard;
static unsigned int n_open, n_done, n_ok, n_failed, next_id = 1;
static const uint8_t *src_map; /* --source / --send file contents */
static uint64_t src_map_len;
static uint8_t scratch[SCRATCH_SZ], vscratch[SCRATCH_SZ];
static uint64_t paused_until_ms, backoff_ms;
static bool stopping, accept_done;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	if (opt.quiet)
		return;
	va_start(ap, fmt);
	fputs("mpc_peer: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "EUNKNOWN";
}

/* ---- the deterministic stream ---------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Bytes [off, off+len) of the seed stream. Random access, so a verifier
 * can check any received chunk without replaying the stream. */
static void gen_fill(uint64_t seed, uint64_t off, uint8_t *out, size_t len)
{
	uint64_t key = splitmix64(seed), blk = off / 8, v;
	unsigned int i = off % 8;

	if (i) {
		/* the tail of a block the previous chunk started */
		v = splitmix64(key + blk++);
		for (; i < 8 && len; i++, len--)
			*out++ = (uint8_t)(v >> (8 * i));
	}
	for (; len >= 8; len -= 8, out += 8) {
		v = htole64(splitmix64(key + blk++));
		memcpy(out, &v, 8);
	}
	if (len) {
		v = splitmix64(key + blk);
		for (i = 0; i < len; i++)
			out[i] = (uint8_t)(v >> (8 * i));
	}
}

/* ---- helpers ----------------------------------------------------------- */

static EVP_MD_CTX *sha_new(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void sha_hex(EVP_MD_CTX *ctx, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_DigestFinal_ex(ctx, md, &n);
	for (i = 0; i < n && i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[2 * i] = '\0';
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

static int parse_u64(const char *s, uint64_t *v)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return -EINVAL;
	*v = x;
	return 0;
}

/* mmap a whole file read-only (shared by every connection). */
static int map_file(const char *path, const uint8_t **map, uint64_t *len)
{
	struct stat st;
	void *p;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	*len = st.st_size;
	*map = NULL;
	if (st.st_size > 0) {
		p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			int err = -errno;

			close(fd);
			return err;
		}
		*map = p;
	}
	close(fd);
	return 0;
}

static void set_result(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_result(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->result)
		return; /* the first cause is the interesting one */
	va_start(ap, fmt);
	vsnprintf(c->resbuf, sizeof(c->resbuf), fmt, ap);
	va_end(ap);
	c->result = c->resbuf;
}

/* ---- MPTCP state ------------------------------------------------------- */

/* protocol.md section 9: MPTCP_INFO fails on a plain TCP socket and on a
 * fallen-back MPTCP one (or reports FLAG_FALLBACK on older kernels). */
static void sample_mptcp(struct conn *c)
{
	struct mptcp_info mi;
	socklen_t len = sizeof(mi);

	if (!c->sample_mptcp)
		return;
	c->last_sample_ms = now_ms();
	memset(&mi, 0, sizeof(mi));
	if (getsockopt(c->fd, SOL_MPTCP, MPTCP_INFO, &mi, &len) < 0 ||
	    len < offsetof(struct mptcp_info, mptcpi_token) ||
	    (mi.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK)) {
		/* fallback is final: stop asking */
		c->mptcp = 0;
		c->sample_mptcp = false;
		return;
	}
	c->mptcp = 1;
	if (mi.mptcpi_subflows + 1 > c->subflows)
		c->subflows = mi.mptcpi_subflows + 1;
}

static void maybe_sample_mptcp(struct conn *c)
{
	if (c->sample_mptcp && now_ms() - c->last_sample_ms >= MPTCP_SAMPLE_MS)
		sample_mptcp(c);
}

/* ---- connection lifecycle --------------------------------------------- */

static int open_sink(const char *path, unsigned int id, bool numbered)
{
	char name[PATH_MAX];

	if (!numbered)
		snprintf(name, sizeof(name), "%s", path);
	else
		snprintf(name, sizeof(name), "%s.%u", path, id);
	return open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static struct conn *conn_new(int fd, bool client)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->type = EV_CONN;
	c->fd = fd;
	c->client = client;
	c->sink_fd = -1;
	c->id = next_id++;
	c->subflows = 1;
	c->sample_mptcp = true;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	n_open++;
	return c;
}

/* Close a finished connection now and free it after the current epoll
 * batch: events for it may still be in the batch, and its descriptor
 * number may already belong to a new connection. */
static void conn_bury(struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->fd >= 0)
		close(c->fd); /* also drops the epoll registration */
	if (c->sink_fd >= 0)
		close(c->sink_fd);
	c->fd = c->sink_fd = -1;
	c->dead = true;
	c->prev = NULL;
	c->next = graveyard;
	graveyard = c;
	n_open--;
}

static void free_graveyard(void)
{
	while (graveyard) {
		struct conn *c = graveyard;

		graveyard = c->next;
		EVP_MD_CTX_free(c->rx_sha);
		EVP_MD_CTX_free(c->tx_sha);
		free(c->buf);
		free(c->req);
		free(c);
	}
}

static void conn_log(struct conn *c)
{
	char peer[MPC_ADDRSTRLEN] = "-", local[MPC_ADDRSTRLEN] = "-";
	char rs[65], ts[65];
	struct timespec t1;
	uint64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - c->t0.tv_sec) * 1000 + (t1.tv_nsec - c->t0.tv_nsec) / 1000000;
	if (c->peer.ss_family)
		mpc_sa_str(&c->peer, peer);
	if (c->local.ss_family)
		mpc_sa_str(&c->local, local);
	fprintf(log_fp, "conn peer=%s local=%s mptcp=%d subflows=%d rx=%" PRIu64 " tx=%" PRIu64,
		peer, local, c->mptcp, c->mptcp ? c->subflows : 1, c->rx, c->tx);
	if (c->rx_sha && c->tx_sha) {
		sha_hex(c->rx_sha, rs);
		sha_hex(c->tx_sha, ts);
		fprintf(log_fp, " rx_sha=%s tx_sha=%s", rs, ts);
	}
	fprintf(log_fp, " ms=%" PRIu64 " id=%u role=%s result=%s\n", ms, c->id,
		c->client ? "client" : "server", c->result ? c->result : "ok");
	fflush(log_fp);
}

static void conn_finish(struct conn *c)
{
	if (!c->result) {
		/* a clean end: check what the client was told to expect */
		if (c->verify && c->rx < c->src_len)
			set_result(c, "short");
		if (opt.expect_bytes_set && c->client && c->rx != opt.expect_bytes)
			set_result(c, c->rx < opt.expect_bytes ? "short" : "long");
	}
	if (c->fd >= 0 && !c->connecting)
		sample_mptcp(c);
	conn_log(c);
	/* --rst asked for the abort: that is this connection's success */
	if (c->result && !(c->rst && !strcmp(c->result, "rst")))
		n_failed++;
	else
		n_ok++;
	n_done++;
	conn_bury(c);
}

/* Abort with a RST: SO_LINGER 0 makes close() reset instead of FIN. */
static void conn_abort(struct conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	conn_finish(c);
}

/* Is every byte of the transmit source sent (so the FIN can go)? */
static bool tx_source_done(const struct conn *c)
{
	if (c->boff < c->blen)
		return false;
	switch (c->tx_kind) {
	case TX_NONE:
		/* a sink-only server mirrors the peer's half-close */
		return c->client || c->rd_eof;
	case TX_ECHO:
		return c->rd_eof;
	case TX_MAP:
	case TX_GEN:
		return c->src_off == c->src_len;
	case TX_HTTP_WAIT:
		return false;
	}
	return false;
}

static void tx_account(struct conn *c, const uint8_t *p, size_t n)
{
	c->tx += n;
	if (c->tx_sha)
		EVP_DigestUpdate(c->tx_sha, p, n);
}

/* Send what can be sent; 0, or -1 when the connection failed. */
static int do_write(struct conn *c)
{
	int sends = 0;

	for (;;) {
		const uint8_t *p;
		bool staged = false;
		ssize_t w;
		size_t n;

		if (c->wr_shut)
			return 0;
		if (c->boff < c->blen) {
			p = c->buf + c->boff;
			n = c->blen - c->boff;
			staged = true;
		} else if (c->tx_kind == TX_MAP && c->src_off < c->src_len) {
			p = src_map + c->src_off;
			n = c->src_len - c->src_off;
			if (n > 4 * 1024 * 1024)
				n = 4 * 1024 * 1024;
		} else if (c->tx_kind == TX_GEN && c->src_off < c->src_len) {
			n = c->src_len - c->src_off;
			if (n > BUF_SZ)
				n = BUF_SZ;
			gen_fill(c->seed, c->src_off, c->buf, n);
			c->src_off += n;
			c->boff = 0;
			c->blen = n;
			continue;
		} else {
			break;
		}
		if (sends++ == WRITE_BATCH) {
			/* fairness: let the other connections run, come back on EPOLLOUT */
			c->want_out = true;
			return 0;
		}
		w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->want_out = true;
				return 0;
			}
			set_result(c, "%s", errname(errno));
			return -1;
		}
		tx_account(c, p, w);
		if (staged) {
			c->boff += w;
			if (c->boff == c->blen)
				c->boff = c->blen = 0;
		} else {
			c->src_off += w;
		}
		if ((size_t)w < n) {
			c->want_out = true;
			return 0;
		}
	}
	if (tx_source_done(c)) {
		if (c->client && c->rst) {
			set_result(c, "rst");
			return -1;
		}
		if (shutdown(c->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
			set_result(c, "%s", errname(errno));
			return -1;
		}
		c->wr_shut = true;
	}
	return 0;
}

/* Client --echo: the bytes at [off, off+n) must be what we sent there. */
static int verify_chunk(struct conn *c, const uint8_t *p, size_t n)
{
	uint64_t off = c->rx;
	size_t done = 0;

	if (off + n > c->src_len) {
		set_result(c, "long");
		return -1;
	}
	while (done < n) {
		size_t k = n - done, i;
		const uint8_t *exp;

		if (c->tx_kind == TX_MAP) {
			exp = src_map + off + done;
		} else {
			if (k > sizeof(vscratch))
				k = sizeof(vscratch);
			gen_fill(c->seed, off + done, vscratch, k);
			exp = vscratch;
		}
		if (memcmp(p + done, exp, k)) {
			for (i = 0; i < k && p[done + i] == exp[i]; i++)
				;
			set_result(c, "mismatch@%" PRIu64, off + done + i);
			return -1;
		}
		done += k;
	}
	return 0;
}

static int sink_write(struct conn *c, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(c->sink_fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			set_result(c, "sink:%s", errname(errno));
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

static void http_respond(struct conn *c, int code, const char *reason, bool minor0, bool head,
			 uint64_t body_len, bool gen_body)
{
	const char *msg = gen_body ? "" : reason;
	int n;

	if (!gen_body)
		body_len = strlen(msg) + 1;
	n = snprintf((char *)c->buf, BUF_SZ,
		     "HTTP/1.%d %d %s\r\n"
		     "Server: mpc_peer\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %" PRIu64 "\r\n"
		     "Connection: close\r\n"
		     "\r\n",
		     minor0 ? 0 : 1, code, reason,
		     gen_body ? "application/octet-stream" : "text/plain", body_len);
	if (!gen_body && !head)
		n += snprintf((char *)c->buf + n, BUF_SZ - n, "%s\n", msg);
	c->boff = 0;
	c->blen = n;
	c->tx_kind = TX_GEN;
	c->src_off = 0;
	c->src_len = gen_body && !head ? body_len : 0;
}

/* Parse "METHOD TARGET HTTP/1.x" once the header block is complete. */
static void http_request(struct conn *c)
{
	char method[16], target[256], version[16];
	bool head, minor0;
	const char *num;
	uint64_t len;

	if (sscanf(c->req, "%15s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7)) {
		http_respond(c, 400, "Bad Request", false, false, 0, false);
		return;
	}
	minor0 = !strcmp(version, "HTTP/1.0");
	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET")) {
		http_respond(c, 501, "Not Implemented", minor0, false, 0, false);
		return;
	}
	num = target;
	if (!strncmp(num, "/bytes/", 7))
		num += 7;
	else if (*num == '/')
		num++;
	/* /N only: decimal digits, bounded so a typo cannot ask for exabytes */
	if (!*num || strspn(num, "0123456789") != strlen(num) || strlen(num) > 15 ||
	    parse_u64(num, &len)) {
		http_respond(c, 404, "Not Found", minor0, head, 0, false);
		return;
	}
	http_respond(c, 200, "OK", minor0, head, len, true);
}

static int http_feed(struct conn *c, const uint8_t *p, size_t n)
{
	size_t k;

	if (c->tx_kind != TX_HTTP_WAIT)
		return 0; /* request handled; what follows is ignored */
	k = HTTP_REQ_MAX - 1 - c->req_len;
	if (n < k)
		k = n;
	memcpy(c->req + c->req_len, p, k);
	c->req_len += k;
	c->req[c->req_len] = '\0';
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
		http_request(c);
	else if (c->req_len == HTTP_REQ_MAX - 1)
		http_respond(c, 431, "Request Header Fields Too Large", false, false, 0, false);
	return 0;
}

/* Read what is there; 0, or -1 when the connection failed. */
static int do_read(struct conn *c)
{
	int i;

	for (i = 0; i < READ_BATCH && !c->rd_eof; i++) {
		uint8_t *dst = scratch;
		size_t cap = sizeof(scratch);
		ssize_t r;

		if (c->tx_kind == TX_ECHO) {
			if (c->blen == BUF_SZ && c->boff > 0) {
				memmove(c->buf, c->buf + c->boff, c->blen - c->boff);
				c->blen -= c->boff;
				c->boff = 0;
			}
			if (c->blen == BUF_SZ)
				return 0; /* flow control: wait for the peer to read */
			dst = c->buf + c->blen;
			cap = BUF_SZ - c->blen;
		}
		r = recv(c->fd, dst, cap, MSG_DONTWAIT);
		if (r == 0) {
			c->rd_eof = true;
			if (c->tx_kind == TX_HTTP_WAIT) {
				set_result(c, "http_noreq");
				return -1;
			}
			break;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			set_result(c, "%s", errname(errno));
			return -1;
		}
		if (c->verify && verify_chunk(c, dst, r))
			return -1;
		c->rx += r;
		if (c->rx_sha)
			EVP_DigestUpdate(c->rx_sha, dst, r);
		if (c->sink_fd >= 0 && sink_write(c, dst, r))
			return -1;
		if (c->tx_kind == TX_ECHO)
			c->blen += r;
		else if (c->req)
			http_feed(c, dst, r);
		if ((size_t)r < cap)
			break; /* drained */
	}
	return 0;
}

/* Re-arm epoll for what the connection waits on; finish it when done. */
static void conn_update(struct conn *c)
{
	bool want_out = c->want_out;
	uint32_t ev = 0;

	c->want_out = false;
	if (c->rd_eof && c->wr_shut) {
		conn_finish(c);
		return;
	}
	if (c->connecting) {
		ev = EPOLLOUT;
	} else {
		if (!c->rd_eof && !(c->tx_kind == TX_ECHO && c->blen == BUF_SZ && c->boff == 0))
			ev |= EPOLLIN;
		if (want_out && !c->wr_shut)
			ev |= EPOLLOUT;
	}
	if (ev != c->events) {
		struct epoll_event e = { .events = ev, .data.ptr = c };

		if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0) {
			set_result(c, "epoll:%s", errname(errno));
			conn_finish(c);
			return;
		}
		c->events = ev;
	}
}

/* Mode-dependent setup once the connection is established. */
static int conn_start(struct conn *c)
{
	socklen_t len = sizeof(c->local);
	bool many = c->client ? opt.parallel > 1 : opt.count != 1;

	getsockname(c->fd, (struct sockaddr *)&c->local, &len);
	if (opt.sha) {
		c->rx_sha = sha_new();
		c->tx_sha = sha_new();
		if (!c->rx_sha || !c->tx_sha) {
			set_result(c, "sha_init");
			return -1;
		}
	}
	if (opt.echo && !c->client) {
		c->tx_kind = TX_ECHO;
	} else if (opt.http) {
		c->tx_kind = TX_HTTP_WAIT;
		c->seed = opt.seed;
		c->req = malloc(HTTP_REQ_MAX);
		if (!c->req) {
			set_result(c, "ENOMEM");
			return -1;
		}
	} else if ((c->client && opt.send) || (!c->client && opt.source)) {
		c->tx_kind = TX_MAP;
		c->src_len = src_map_len;
	} else if (c->client && opt.send_bytes_set) {
		c->tx_kind = TX_GEN;
		c->src_len = opt.send_bytes;
		c->seed = opt.seed + c->id - 1; /* connection k: seed S+k-1 */
	} else if (!c->client && opt.source_bytes_set) {
		c->tx_kind = TX_GEN;
		c->src_len = opt.source_bytes;
		c->seed = opt.seed;
	}
	if (c->tx_kind == TX_ECHO || c->tx_kind == TX_GEN || c->tx_kind == TX_HTTP_WAIT) {
		c->buf = malloc(BUF_SZ);
		if (!c->buf) {
			set_result(c, "ENOMEM");
			return -1;
		}
	}
	c->verify = c->client && opt.echo;
	if (c->client ? !!opt.recv : !!opt.sink) {
		c->sink_fd = open_sink(c->client ? opt.recv : opt.sink, c->id, many);
		if (c->sink_fd < 0) {
			set_result(c, "sink:%s", errname(errno));
			return -1;
		}
	}
	sample_mptcp(c);
	return 0;
}

static void conn_event(struct conn *c, uint32_t ev)
{
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			set_result(c, "%s", errname(err));
			conn_finish(c);
			return;
		}
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		c->connecting = false;
		if (conn_start(c) < 0) {
			conn_finish(c);
			return;
		}
		ev |= EPOLLIN;
	}
	if (ev & EPOLLERR) {
		int err = 0;
		socklen_t len = sizeof(err);

		/* a pending error (RST, ICMP) ends the connection even when we
		 * are not reading right now (echo buffer full) */
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
			set_result(c, "%s", errname(err));
			conn_finish(c);
			return;
		}
	}
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && do_read(c) < 0) {
		conn_finish(c);
		return;
	}
	if (do_write(c) < 0) {
		if (c->rst && c->result && !strcmp(c->result, "rst"))
			conn_abort(c);
		else
			conn_finish(c);
		return;
	}
	maybe_sample_mptcp(c);
	conn_update(c);
}

/* ---- sockets ----------------------------------------------------------- */

static int tcp_socket(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			opt.mptcp ? IPPROTO_MPTCP : IPPROTO_TCP);

	if (fd < 0)
		return -errno;
	return fd;
}

static int listen_on(int i)
{
	struct listener *l = &listeners[i];
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = l };
	char a[MPC_ADDRSTRLEN];
	socklen_t len;
	int one = 1, fd, err;

	l->type = EV_LISTEN;
	fd = tcp_socket(opt.listen[i].ss_family);
	if (fd < 0) {
		fprintf(stderr, "mpc_peer: socket(%s): %s%s\n", opt.mptcp ? "MPTCP" : "TCP",
			strerror(-fd),
			opt.mptcp ? " (is net.mptcp.enabled=1 in this namespace?)" : "");
		return fd;
	}
	l->fd = fd;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::]:P and 0.0.0.0:P can then both be listened on */
	if (opt.listen[i].ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&opt.listen[i], opt.listen_len[i]) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		err = -errno;
		fprintf(stderr, "mpc_peer: listen %s: %s\n", mpc_sa_str(&opt.listen[i], a),
			strerror(-err));
		return err;
	}
	len = sizeof(l->addr);
	getsockname(fd, (struct sockaddr *)&l->addr, &len);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0)
		return -errno;
	return 0;
}

static void listeners_arm(uint32_t ev)
{
	int i;

	for (i = 0; i < opt.n_listen; i++) {
		struct epoll_event e = { .events = ev, .data.ptr = &listeners[i] };

		epoll_ctl(epfd, EPOLL_CTL_MOD, listeners[i].fd, &e);
	}
}

static void accept_ready(struct listener *l)
{
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		struct epoll_event e;
		struct conn *c;
		int fd;

		if (opt.count && n_done + n_open >= opt.count) {
			/* the rest stay in the backlog; we exit once these end */
			accept_done = true;
			listeners_arm(0);
			return;
		}
		fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
			case EINTR:
				return;
			case ECONNABORTED:
			case EPROTO:
			case EPERM:
				continue; /* that one connection is gone */
			default:
				/* EMFILE, ENFILE, ENOBUFS, ENOMEM: stop accepting for a
				 * while (the level-triggered listener would spin), with a
				 * bounded exponential back-off; connections wait in the
				 * backlog meanwhile */
				backoff_ms = backoff_ms ? backoff_ms * 2 : BACKOFF_MIN_MS;
				if (backoff_ms > BACKOFF_MAX_MS)
					backoff_ms = BACKOFF_MAX_MS;
				note("accept: %s; pausing accepts for %" PRIu64 " ms (%u open)\n",
				     strerror(errno), backoff_ms, n_open);
				paused_until_ms = now_ms() + backoff_ms;
				listeners_arm(0);
				return;
			}
		}
		backoff_ms = 0;
		c = conn_new(fd, false);
		if (!c) {
			close(fd);
			note("accept: out of memory, connection dropped\n");
			continue;
		}
		c->peer = peer;
		if (conn_start(c) < 0) {
			conn_finish(c);
			continue;
		}
		e.events = EPOLLIN;
		e.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			set_result(c, "epoll:%s", errname(errno));
			conn_finish(c);
			continue;
		}
		c->events = EPOLLIN;
		/* source modes start sending at once */
		conn_event(c, 0);
	}
}

static int client_start(void)
{
	unsigned int k;
	int one = 1;

	for (k = 0; k < opt.parallel; k++) {
		struct epoll_event e;
		struct conn *c;
		int fd = tcp_socket(opt.connect.ss_family);

		c = conn_new(fd, true);
		if (!c) {
			if (fd >= 0)
				close(fd);
			return -ENOMEM;
		}
		c->peer = opt.connect;
		if (fd < 0) {
			/* EMFILE with a large --parallel, ENOPROTOOPT without MPTCP:
			 * that connection fails, the others go on */
			c->fd = -1;
			set_result(c, "socket:%s", errname(-fd));
			conn_finish(c);
			continue;
		}
		if (opt.bind_set) {
			/* many connections from one address: let connect() pick the
			 * port per 4-tuple */
			setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&opt.bind, opt.bind_len) < 0) {
				set_result(c, "bind:%s", errname(errno));
				conn_finish(c);
				continue;
			}
		}
		c->rst = opt.rst;
		if (connect(fd, (struct sockaddr *)&opt.connect, opt.connect_len) < 0 &&
		    errno != EINPROGRESS) {
			set_result(c, "%s", errname(errno));
			conn_finish(c);
			continue;
		}
		c->connecting = true;
		e.events = EPOLLOUT;
		e.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			set_result(c, "epoll:%s", errname(errno));
			conn_finish(c);
			continue;
		}
		c->events = EPOLLOUT;
	}
	return 0;
}

static int write_ready_file(void)
{
	char tmp[PATH_MAX], a[MPC_ADDRSTRLEN];
	FILE *f;
	int i;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", opt.ready_file, getpid());
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	for (i = 0; i < opt.n_listen; i++)
		fprintf(f, "listen %s\n", mpc_sa_str(&listeners[i].addr, a));
	if (fclose(f) || rename(tmp, opt.ready_file) < 0) {
		unlink(tmp);
		return -errno;
	}
	return 0;
}

/* ---- command line ------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mpc_peer --listen ADDR:PORT [--listen ...] [--mptcp|--tcp] MODE [OPTIONS]\n"
		"         MODE: --echo | --http | [--sink FILE] [--source FILE|--source-bytes N]\n"
		"       mpc_peer --connect ADDR:PORT [--mptcp|--tcp] [--send FILE|--send-bytes N]\n"
		"                [--recv FILE] [--echo] [--expect-bytes N] [--parallel N]\n"
		"                [--bind ADDR] [--rst]\n"
		"       mpc_peer --gen N [--seed S]\n"
		"Options: --sha --seed S --count N --ready-file F --log FILE|- --timeout SEC -q\n"
		"ADDR is a.b.c.d or [v6]. See the comment at the top of mpc_peer.c for the\n"
		"log format and the exit status.\n");
}

enum {
	O_LISTEN = 256,
	O_CONNECT,
	O_MPTCP,
	O_TCP,
	O_ECHO,
	O_SINK,
	O_SOURCE,
	O_SOURCE_BYTES,
	O_HTTP,
	O_SHA,
	O_SEED,
	O_COUNT,
	O_READY,
	O_LOG,
	O_SEND,
	O_SEND_BYTES,
	O_RECV,
	O_PARALLEL,
	O_EXPECT,
	O_BIND,
	O_RST,
	O_TIMEOUT,
	O_GEN,
};

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "connect", required_argument, NULL, O_CONNECT },
	{ "mptcp", no_argument, NULL, O_MPTCP },
	{ "tcp", no_argument, NULL, O_TCP },
	{ "echo", no_argument, NULL, O_ECHO },
	{ "sink", required_argument, NULL, O_SINK },
	{ "source", required_argument, NULL, O_SOURCE },
	{ "source-bytes", required_argument, NULL, O_SOURCE_BYTES },
	{ "http", no_argument, NULL, O_HTTP },
	{ "sha", no_argument, NULL, O_SHA },
	{ "seed", required_argument, NULL, O_SEED },
	{ "count", required_argument, NULL, O_COUNT },
	{ "ready-file", required_argument, NULL, O_READY },
	{ "log", required_argument, NULL, O_LOG },
	{ "send", required_argument, NULL, O_SEND },
	{ "send-bytes", required_argument, NULL, O_SEND_BYTES },
	{ "recv", required_argument, NULL, O_RECV },
	{ "parallel", required_argument, NULL, O_PARALLEL },
	{ "expect-bytes", required_argument, NULL, O_EXPECT },
	{ "bind", required_argument, NULL, O_BIND },
	{ "rst", no_argument, NULL, O_RST },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "gen", required_argument, NULL, O_GEN },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("mpc_peer: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	usage(stderr);
	return -EINVAL;
}

static int parse_uint(const char *s, const char *what, unsigned int *v)
{
	uint64_t x;

	if (parse_u64(s, &x) || x > UINT_MAX)
		return bad("bad %s '%s'", what, s);
	*v = x;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	bool connect_set = false;
	uint64_t x;
	int c;

	while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			if (opt.n_listen == MAX_LISTEN)
				return bad("at most %d --listen", MAX_LISTEN);
			if (mpc_parse_sockaddr(optarg, &opt.listen[opt.n_listen],
					       &opt.listen_len[opt.n_listen], true))
				return bad("bad address '%s' (ADDR:PORT or [V6]:PORT)", optarg);
			opt.n_listen++;
			break;
		case O_CONNECT:
			if (mpc_parse_sockaddr(optarg, &opt.connect, &opt.connect_len, true))
				return bad("bad address '%s' (ADDR:PORT or [V6]:PORT)", optarg);
			connect_set = true;
			break;
		case O_BIND:
			if (mpc_parse_sockaddr(optarg, &opt.bind, &opt.bind_len, false))
				return bad("bad address '%s'", optarg);
			opt.bind_set = true;
			break;
		case O_MPTCP:
		case O_TCP:
			opt.mptcp = c == O_MPTCP;
			opt.proto_set = true;
			break;
		case O_ECHO:
			opt.echo = true;
			break;
		case O_HTTP:
			opt.http = true;
			break;
		case O_SINK:
			opt.sink = optarg;
			break;
		case O_SOURCE:
			opt.source = optarg;
			break;
		case O_SEND:
			opt.send = optarg;
			break;
		case O_RECV:
			opt.recv = optarg;
			break;
		case O_SOURCE_BYTES:
		case O_SEND_BYTES:
		case O_EXPECT:
		case O_GEN:
		case O_SEED:
			if (parse_u64(optarg, &x))
				return bad("bad number '%s'", optarg);
			if (c == O_SOURCE_BYTES) {
				opt.source_bytes = x;
				opt.source_bytes_set = true;
			} else if (c == O_SEND_BYTES) {
				opt.send_bytes = x;
				opt.send_bytes_set = true;
			} else if (c == O_EXPECT) {
				opt.expect_bytes = x;
				opt.expect_bytes_set = true;
			} else if (c == O_GEN) {
				opt.gen_bytes = x;
				opt.gen = true;
			} else {
				opt.seed = x;
			}
			break;
		case O_SHA:
			opt.sha = true;
			break;
		case O_COUNT:
			if (parse_uint(optarg, "--count", &opt.count))
				return -EINVAL;
			break;
		case O_PARALLEL:
			if (parse_uint(optarg, "--parallel", &opt.parallel) || !opt.parallel)
				return bad("--parallel needs N >= 1");
			break;
		case O_TIMEOUT:
			if (parse_uint(optarg, "--timeout", &opt.timeout_s))
				return -EINVAL;
			break;
		case O_READY:
			opt.ready_file = optarg;
			break;
		case O_LOG:
			opt.log_path = optarg;
			break;
		case O_RST:
			opt.rst = true;
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (opt.gen)
		return 0;
	if (!!opt.n_listen + connect_set != 1)
		return bad("need exactly one of --listen (server) or --connect (client)");
	opt.client = connect_set;
	if (!opt.proto_set)
		opt.mptcp = !opt.client; /* an MPTCP listener also accepts TCP */
	if (opt.client) {
		if (opt.http || opt.sink || opt.source || opt.source_bytes_set || opt.count ||
		    opt.ready_file)
			return bad("server options given with --connect");
		if (opt.send && opt.send_bytes_set)
			return bad("--send and --send-bytes exclude each other");
		if (opt.echo && !opt.send && !opt.send_bytes_set)
			return bad(
				"client --echo verifies what is sent: give --send or --send-bytes");
		if (opt.echo && opt.rst)
			return bad("--echo and --rst exclude each other");
	} else {
		int modes = opt.echo + opt.http + (opt.sink || opt.source || opt.source_bytes_set);

		if (opt.send || opt.send_bytes_set || opt.recv || opt.parallel > 1 ||
		    opt.expect_bytes_set || opt.bind_set || opt.rst)
			return bad("client options given with --listen");
		if (modes != 1)
			return bad("give one mode: --echo, --http, or --sink/--source");
		if (opt.source && opt.source_bytes_set)
			return bad("--source and --source-bytes exclude each other");
	}
	return 0;
}

static int gen_stdout(void)
{
	uint64_t off = 0;

	while (off < opt.gen_bytes) {
		size_t n = opt.gen_bytes - off < sizeof(scratch) ? opt.gen_bytes - off :
								   sizeof(scratch);
		size_t done = 0;

		gen_fill(opt.seed, off, scratch, n);
		while (done < n) {
			ssize_t w = write(1, scratch + done, n - done);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				return 1;
			}
			done += w;
		}
		off += n;
	}
	return 0;
}

/* ---- main loop ---------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct epoll_event evs[64];
	uint64_t deadline = 0;
	int base_fds, leaked, i, err;
	bool timed_out = false;
	sigset_t mask;

	if (parse_args(argc, argv))
		return 64;
	if (opt.gen)
		return gen_stdout();

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	if (!opt.log_path || !strcmp(opt.log_path, "-")) {
		log_fp = stdout;
	} else {
		log_fp = fopen(opt.log_path, "ae");
		if (!log_fp) {
			fprintf(stderr, "mpc_peer: %s: %s\n", opt.log_path, strerror(errno));
			return 1;
		}
	}
	if (opt.source || opt.send) {
		const char *path = opt.source ? opt.source : opt.send;

		err = map_file(path, &src_map, &src_map_len);
		if (err) {
			fprintf(stderr, "mpc_peer: %s: %s\n", path, strerror(-err));
			return 1;
		}
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (epfd < 0 || sigfd < 0) {
		perror("mpc_peer: epoll/signalfd");
		return 1;
	}
	{
		static int sig_type = EV_SIGNAL;
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &sig_type };

		epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &e);
	}
	if (opt.client) {
		base_fds = count_fds();
		if (client_start() < 0)
			return 1;
	} else {
		for (i = 0; i < opt.n_listen; i++)
			if (listen_on(i) < 0)
				return 1;
		base_fds = count_fds();
		if (opt.ready_file && (err = write_ready_file())) {
			fprintf(stderr, "mpc_peer: %s: %s\n", opt.ready_file, strerror(-err));
			return 1;
		}
	}
	if (opt.timeout_s)
		deadline = now_ms() + opt.timeout_s * 1000ULL;

	while (!stopping) {
		uint64_t now = now_ms();
		int timeout = -1, n;

		if (opt.client && !n_open)
			break;
		if (!opt.client && opt.count && n_done >= opt.count)
			break;
		if (paused_until_ms) {
			if (now >= paused_until_ms) {
				paused_until_ms = 0;
				if (!accept_done)
					listeners_arm(EPOLLIN);
			} else {
				timeout = paused_until_ms - now;
			}
		}
		if (deadline) {
			if (now >= deadline) {
				timed_out = true;
				break;
			}
			if (timeout < 0 || deadline - now < (uint64_t)timeout)
				timeout = deadline - now;
		}
		n = epoll_wait(epfd, evs, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("mpc_peer: epoll_wait");
			return 1;
		}
		for (i = 0; i < n && !stopping; i++) {
			int type = *(int *)evs[i].data.ptr;

			if (type == EV_SIGNAL) {
				stopping = true;
			} else if (type == EV_LISTEN) {
				accept_ready(evs[i].data.ptr);
			} else {
				struct conn *c = evs[i].data.ptr;

				if (!c->dead)
					conn_event(c, evs[i].events);
			}
		}
		free_graveyard();
	}

	while (conns) {
		set_result(conns, timed_out ? "timeout" : "aborted");
		conn_finish(conns);
	}
	free_graveyard();
	for (i = 0; i < opt.n_listen; i++)
		if (listeners[i].fd > 0)
			close(listeners[i].fd);
	leaked = count_fds() - base_fds + (opt.client ? 0 : opt.n_listen);
	fprintf(log_fp, "done conns=%u ok=%u failed=%u fds_leaked=%d\n", n_done, n_ok, n_failed,
		leaked);
	fflush(log_fp);
	if (leaked)
		return 1;
	if (timed_out)
		return 2;
	if (opt.client || opt.count)
		return n_failed ? 1 : 0;
	return 0;
}
