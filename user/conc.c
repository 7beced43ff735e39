// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpconv concentrator: the downstream MCP, an RFC 8803 Transport Converter
 * on MPTCP (protocol.md §1). Per connection:
 *
 *   accept (SYN data = Convert message, cookie-less TFO)
 *     -> authorize the source (--allow) -> read and decode the message
 *     -> connect to the Connect TLV's address, MPTCP first
 *     -> reply: Extended TCP Header (+ Supported Extensions if asked),
 *        or an Error TLV followed by a graceful close
 *     -> splice relay, binding in mpc_binds
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <mpconv/convert.h>
#include <mpconv/wire.h>

#include "addr.h"
#include "attach.h"
#include "cmds.h"
#include "conc.h"
#include "daemon.h"
#include "fbcache.h"
#include "log.h"
#include "loop.h"
#include "nl.h"
#include "onpath.h"
#include "relay.h"
#include "sock.h"
#include "state.h"
#include "sysctl.h"

#define CONC_MAX_LISTEN 8

struct conc_listener {
	struct mpc_ev ev;
	struct sockaddr_storage ss;
	socklen_t len;
};

struct conc {
	struct mpc_ev icmp4, icmp6; /* raw sockets: exact ICMP codes */
	struct mpc_loop loop;
	struct mpc_relay relay;
	struct mpc_state st;
	struct conc_listener lst[CONC_MAX_LISTEN];
	int n_lst;
	struct mpc_prefix *allow;
	int n_allow;
	struct mpc_tqueue q_read, q_connect;
	uint64_t fb_ttl_ns;
	bool mptcp_server;
	struct mpc_daemon dm;

	/* implicit mode (--on-path): MP_PREFER_PROXY pickup */
	const char *on_path[MPC_MAX_LINKS];
	int n_on_path;
	uint16_t pickup_port;
	uint32_t local_mark;
	uint8_t prefer_subtype;
	bool no_xdp;
	struct mpc_ev pick_lst[2];
	struct join_lst *joins; /* per-port MP_JOIN listeners */
	int n_joins;
	struct mpc_listen_opts pick_lo;
	struct mpc_nl *nl;
	struct mpc_pick pick;
	struct mpc_cg cg;
	uint64_t attach_mask;
};

/* A transparent listener on the pickup address and a picked-up port: the
 * kernel accepts an MP_JOIN only on a listener bound to the connection's
 * own port (or one it announced), so joins toward the server address are
 * steered here (tc_pickup). fd -1: the port could not be bound (a local
 * service holds it); its connections keep a single subflow. */
struct join_lst {
	struct mpc_ev ev;
	int family;
	uint16_t port;
};

enum conc_phase {
	PH_READ = 0, /* waiting for the complete Convert message */
	PH_CONNECT,  /* connecting to the server */
};

struct conc_hs {
	uint8_t phase;
	bool info; /* Info TLV asked for Supported Extensions */
	bool tried_mptcp;
	bool cached_tcp; /* fallback cache said: plain TCP */
	struct mpc_cv_msg msg;
	uint8_t buf[MPC_CV_MAX_LEN];
	uint16_t have;
	uint16_t lport;	   /* local port toward the server */
	bool implicit;	   /* picked up on-path: no Convert exchange */
	int16_t icmp_code; /* ICMP dest-unreach code seen, or -1 */
};

static struct conc *g_conc;

/* Kinds we list in Supported TCP Extensions (§1.5): MPTCP MUST be there
 * for a converter offering MPTCP; SACK-permitted and timestamps are what
 * this converter's own SYNs carry. */
static const uint8_t supported_kinds[] = { 30, 4, 8 };

/* ---- replies ------------------------------------------------------- */

static enum mpc_dcounter err_counter(uint8_t code)
{
	switch (code) {
	case MPC_CV_E_UNSUPP_VERSION:
		return MPC_D_ERR_TX_VERSION;
	case MPC_CV_E_MALFORMED:
		return MPC_D_ERR_TX_MALFORMED;
	case MPC_CV_E_UNSUPP_MSG:
		return MPC_D_ERR_TX_UNSUPP;
	case MPC_CV_E_NOT_AUTHORIZED:
		return MPC_D_ERR_TX_NOAUTH;
	case MPC_CV_E_UNSUPP_TCP_OPT:
		return MPC_D_ERR_TX_TCPOPT;
	case MPC_CV_E_RESOURCE:
		return MPC_D_ERR_TX_RESOURCE;
	case MPC_CV_E_CONN_RESET:
		return MPC_D_ERR_TX_CONNRESET;
	case MPC_CV_E_DEST_UNREACH:
		return MPC_D_ERR_TX_UNREACH;
	default:
		return MPC_D_ERR_TX_NETWORK;
	}
}

/* Send Error `code` and close gracefully (FIN, drain, close): the RFC
 * forbids an immediate RST so the Error TLV reaches the client. Codes 1
 * and 2 echo the received message (§1.6). */
static void reply_error(struct mpc_conn *c, uint8_t code, const uint8_t *val, size_t vlen)
{
	struct conc_hs *hs = c->priv;
	uint8_t out[MPC_CV_MAX_LEN];
	struct mpc_cv_buf b;
	int n;

	if (hs && hs->implicit) {
		/* a picked-up connection has no Convert channel: the client
		 * learns as a TCP client would, by a reset (MP_FASTCLOSE) */
		mpc_dcount(c->r, err_counter(code));
		mpc_conn_abort(c);
		return;
	}
	mpc_cv_begin(&b, out, sizeof(out));
	if (code == MPC_CV_E_MALFORMED || code == MPC_CV_E_UNSUPP_MSG)
		mpc_cv_put_error_echo(&b, code, val, vlen);
	else
		mpc_cv_put_error(&b, code, val, vlen);
	n = mpc_cv_finish(&b);
	mpc_dcount(c->r, err_counter(code));
	if (mpc_log_level >= MPC_LOG_DEBUG) {
		char a[MPC_ADDRSTRLEN];

		pr_debug("%s: Error %u (%s)\n", mpc_addr16_str(c->client, a), code,
			 mpc_cv_error_name(code));
	}
	if (n > 0 && mpc_write_all(c->a.ev.fd, out, n)) {
		mpc_conn_abort(c);
		return;
	}
	mpc_conn_linger(c);
}

static void reply_error0(struct mpc_conn *c, uint8_t code)
{
	uint8_t zero = 0;

	reply_error(c, code, &zero, 1);
}

/*
 * The server's SYN-ACK options, as far as the socket API reveals them
 * (RFC 8803 asks for a copy of them in the Extended TCP Header TLV):
 *  - SACK-permitted, timestamps and window scale come from tcpi_options
 *    and tcpi_snd_wscale; TSval/TSecr are not exposed and are sent as 0;
 *  - MSS is derived from tcpi_snd_mss plus the timestamp overhead, i.e.
 *    the server's MSS unless the path MTU lowered it;
 *  - MP_CAPABLE is reported (kind 30, length 4, version 1) when the
 *    server leg negotiated MPTCP; the server's key is never disclosed.
 * Option order follows the Linux SYN-ACK (MSS, SACKP, TS, NOP+WS).
 */
static size_t server_opts(int fd, bool mptcp, uint8_t *o)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	size_t n = 0;
	uint32_t mss;

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && len >= 8) {
		mss = ti.tcpi_snd_mss + ((ti.tcpi_options & TCPI_OPT_TIMESTAMPS) ? 12 : 0);
		if (mss > 0xffff)
			mss = 0xffff;
		o[n++] = 2, o[n++] = 4, o[n++] = mss >> 8, o[n++] = mss & 0xff;
		if (ti.tcpi_options & TCPI_OPT_SACK)
			o[n++] = 4, o[n++] = 2;
		if (ti.tcpi_options & TCPI_OPT_TIMESTAMPS) {
			o[n++] = 8, o[n++] = 10;
			memset(o + n, 0, 8);
			n += 8;
		}
		if (ti.tcpi_options & TCPI_OPT_WSCALE)
			o[n++] = 1, o[n++] = 3, o[n++] = 3, o[n++] = ti.tcpi_snd_wscale;
	}
	if (mptcp)
		o[n++] = 30, o[n++] = 4, o[n++] = 0x01, o[n++] = 0x01; /* MPC v1, H */
	return n;
}

/*
 * The server's SYN-ACK options exactly as they came, from the sockops
 * program (mpc_synack), minus the one thing that must not leave this box:
 * MP_CAPABLE carries the server's key for this connection, which would
 * let the client forge MPTCP signals on it, so it is cut to its 4-byte
 * keyless form (version and flags still tell the client the server speaks
 * MPTCP). Returns the option length, or -1 when no copy was recorded.
 */
static int server_opts_exact(int fd, const struct mpc_conn *c, uint8_t *o)
{
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	struct mpc_synack_key k = { 0 };
	struct mpc_synack v;
	int i = 0, n = 0;

	if (g_conc->st.synack_fd < 0 || getsockname(fd, (struct sockaddr *)&local, &llen))
		return -1;
	mpc_sa_to16(&local, (uint8_t[16]){ 0 }, &k.lport);
	memcpy(k.raddr, c->server, 16);
	k.rport = c->sport;
	if (bpf_map_lookup_and_delete_elem(g_conc->st.synack_fd, &k, &v))
		return -1;
	while (i < v.len && i < (int)sizeof(v.opts)) {
		uint8_t kind = v.opts[i], len;

		if (kind == TCPOPT_EOL_KIND)
			break;
		if (kind == TCPOPT_NOP_KIND) {
			o[n++] = kind;
			i++;
			continue;
		}
		if (i + 1 >= v.len)
			break;
		len = v.opts[i + 1];
		if (len < 2 || i + len > v.len)
			break;
		if (kind == TCPOPT_MPTCP_KIND && len >= 4 && (v.opts[i + 2] >> 4) == MPTCPOPT_MP_CAPABLE) {
			o[n++] = kind;
			o[n++] = 4;
			o[n++] = v.opts[i + 2];
			o[n++] = v.opts[i + 3];
		} else {
			memcpy(o + n, v.opts + i, len);
			n += len;
		}
		i += len;
	}
	return n;
}

/* ---- connecting ------------------------------------------------------ */

/* Error 97 carries the ICMP code (§1.6). The kernel turns ICMP errors
 * into errnos on MPTCP sockets (which refuse IP_RECVERR); map them back:
 * ICMPv4 dest-unreach codes 0 net, 1 host, 2 protocol, 4 frag-needed,
 * 5 source-route, 13 admin-prohibited; ICMPv6 codes 0 no-route,
 * 1 admin-prohibited, 3 address unreachable. EHOSTUNREACH is ambiguous
 * between host unreachable and filtered in v4: reported as host. */
static int icmp_code_of(int err, bool v6)
{
	switch (err) {
	case ENETUNREACH:
		return 0;
	case EHOSTUNREACH:
		return v6 ? 3 : 1;
	case ENOPROTOOPT:
		return v6 ? -1 : 2;
	case EMSGSIZE:
		return v6 ? -1 : 4;
	case EOPNOTSUPP:
		return v6 ? -1 : 5;
	case EACCES:
	case EPERM:
		return v6 ? 1 : 13;
	default:
		return -1;
	}
}

/*
 * Exact ICMP codes for Error 97. MPTCP sockets refuse IP_RECVERR, so the
 * code behind an EHOSTUNREACH is not visible on the socket. Raw ICMP
 * sockets filtered to destination-unreachable receive a copy of each such
 * message (before TCP acts on it); the quoted header names the pending
 * connection by its ports and server address.
 */
static void icmp_match(const uint8_t *daddr16, uint16_t dport, uint16_t sport, uint8_t code)
{
	struct mpc_list *pos, *tmp;

	mpc_list_for_each_safe(pos, tmp, &g_conc->q_connect.head)
	{
		struct mpc_conn *c = container_of(pos, struct mpc_conn, timer.node);
		struct conc_hs *hs = c->priv;

		if (hs && hs->phase == PH_CONNECT && c->sport == dport && hs->lport == sport &&
		    !memcmp(c->server, daddr16, 16)) {
			hs->icmp_code = code;
			return;
		}
	}
}

static void icmp_read(struct mpc_ev *ev, uint32_t events)
{
	uint8_t buf[512], a[16];
	bool v6 = ev == &g_conc->icmp6;
	int i;

	for (i = 0; i < 64; i++) {
		ssize_t n = recv(ev->fd, buf, sizeof(buf), MSG_DONTWAIT);
		const uint8_t *q;
		size_t off;

		if (n <= 0)
			return;
		if (!v6) {
			/* IPv4 raw: outer IP header, ICMP(8), quoted IP, TCP */
			size_t ihl = (buf[0] & 0x0f) * 4, qihl;

			if ((size_t)n < ihl + 8 + 20 || buf[ihl] != 3)
				continue;
			q = buf + ihl + 8;
			qihl = (q[0] & 0x0f) * 4;
			off = ihl + 8 + qihl;
			if (q[9] != IPPROTO_TCP || (size_t)n < off + 4)
				continue;
			memset(a, 0, 10);
			a[10] = a[11] = 0xff;
			memcpy(a + 12, q + 16, 4);
			icmp_match(a, (buf[off + 2] << 8) | buf[off + 3],
				   (buf[off] << 8) | buf[off + 1], buf[ihl + 1]);
		} else {
			/* ICMPv6 raw sockets start at the ICMPv6 header */
			if (n < 8 + 40 + 4 || buf[0] != 1)
				continue;
			q = buf + 8;
			if (q[6] != IPPROTO_TCP)
				continue;
			off = 8 + 40;
			icmp_match(q + 24, (buf[off + 2] << 8) | buf[off + 3],
				   (buf[off] << 8) | buf[off + 1], buf[1]);
		}
	}
}

static void icmp_open(struct conc *cc)
{
	struct icmp6_filter f6;
	uint32_t f4 = ~(1u << 3); /* ICMP_FILTER blocks the types set */

	cc->icmp4.fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (cc->icmp4.fd >= 0) {
		setsockopt(cc->icmp4.fd, SOL_RAW, 1 /* ICMP_FILTER */, &f4, sizeof(f4));
		cc->icmp4.cb = icmp_read;
		mpc_loop_add(&cc->loop, &cc->icmp4, EPOLLIN);
	}
	cc->icmp6.fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	if (cc->icmp6.fd >= 0) {
		ICMP6_FILTER_SETBLOCKALL(&f6);
		ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f6);
		setsockopt(cc->icmp6.fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f6, sizeof(f6));
		cc->icmp6.cb = icmp_read;
		mpc_loop_add(&cc->loop, &cc->icmp6, EPOLLIN);
	}
	if (cc->icmp4.fd < 0 || cc->icmp6.fd < 0)
		pr_info("no raw ICMP socket (%s): Error 97 codes derived from errno\n",
			strerror(errno));
}

static void conc_fail_connect(struct mpc_conn *c, int err)
{
	struct conc_hs *hs = c->priv;
	bool v6 = !mpc_addr16_is_v4(c->server);
	int code;

	/* the ICMP copy may still sit unread in this event batch */
	if (g_conc->icmp4.fd >= 0)
		icmp_read(&g_conc->icmp4, EPOLLIN);
	if (g_conc->icmp6.fd >= 0)
		icmp_read(&g_conc->icmp6, EPOLLIN);
	if (hs && hs->icmp_code >= 0) {
		uint8_t v = (uint8_t)hs->icmp_code;

		reply_error(c, MPC_CV_E_DEST_UNREACH, &v, 1);
		return;
	}
	if (err == ECONNREFUSED) {
		reply_error0(c, MPC_CV_E_CONN_RESET);
		return;
	}
	code = icmp_code_of(err, v6);
	if (code >= 0) {
		uint8_t v = (uint8_t)code;

		reply_error(c, MPC_CV_E_DEST_UNREACH, &v, 1);
		return;
	}
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		mpc_dcount(c->r, err == ENOMEM || err == ENOBUFS ? MPC_D_ENOMEM : MPC_D_EMFILE);
		reply_error0(c, MPC_CV_E_RESOURCE);
		return;
	}
	/* timeout, or anything else on the way: Network Failure */
	reply_error0(c, MPC_CV_E_NETWORK);
}

/* The sockops program recorded this connection's token (tc_pickup steers
 * MP_JOINs with it); forget it with the connection. */
static void conc_on_close(struct mpc_conn *c)
{
	if (c->token && g_conc->st.tokens_fd >= 0)
		bpf_map_delete_elem(g_conc->st.tokens_fd, &c->token);
}

static void conc_connected(struct mpc_conn *c)
{
	struct conc_hs *hs = c->priv;
	uint8_t out[MPC_CV_MAX_LEN], opts[MPC_CV_OPTS_MAX];
	struct mpc_cv_buf b;
	int down, up, n;
	size_t olen;

	down = mpc_sock_mptcp(c->b.ev.fd, NULL, NULL);
	up = mpc_sock_mptcp(c->a.ev.fd, &c->subflows, &c->token);
	if (down > 0) {
		c->bflags |= MPC_BF_DOWN_MPTCP;
		mpc_dcount(c->r, MPC_D_DOWN_MPTCP);
	} else {
		mpc_dcount(c->r, MPC_D_DOWN_TCP);
	}
	if (up > 0) {
		c->bflags |= MPC_BF_UP_MPTCP;
		c->on_close = conc_on_close;
	}
	if (hs->cached_tcp)
		c->bflags |= MPC_BF_DOWN_CACHED;
	c->bflags |= MPC_BF_ESTABLISHED;

	/* Fallback cache (protocol.md §3): MP_CAPABLE was offered and the
	 * connection ended up plain TCP. SYN retransmissions mean the
	 * MP_CAPABLE SYNs went unanswered and the kernel's plain retry
	 * worked; none means the server answered without MP_CAPABLE. */
	if (hs->tried_mptcp && down == 0 && g_conc->st.fb_fd >= 0) {
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);
		uint8_t reason = MPC_FB_NO_MPC;

		memset(&ti, 0, sizeof(ti));
		if (!getsockopt(c->b.ev.fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) &&
		    ti.tcpi_total_retrans > 0)
			reason = MPC_FB_SYN_DROPPED;
		if (!mpc_fb_insert(g_conc->st.fb_fd, c->server, reason))
			mpc_dcount(c->r, MPC_D_FB_INSERT);
	}

	if (!hs->implicit) {
		int exact = server_opts_exact(c->b.ev.fd, c, opts);

		olen = exact >= 0 ? (size_t)exact : server_opts(c->b.ev.fd, down > 0, opts);
		mpc_dcount(c->r, exact >= 0 ? MPC_D_SYNACK_EXACT : MPC_D_SYNACK_APPROX);
		mpc_cv_begin(&b, out, sizeof(out));
		mpc_cv_put_ext_tcp_hdr(&b, opts, olen);
		if (hs->info)
			mpc_cv_put_supp_ext(&b, supported_kinds, sizeof(supported_kinds));
		n = mpc_cv_finish(&b);
		if (n < 0 || mpc_write_all(c->a.ev.fd, out, n)) {
			mpc_conn_abort(c);
			return;
		}
	} else {
		c->bflags |= MPC_BF_IMPLICIT;
	}
	mpc_conn_priv_free(c);
	c->hs = NULL;
	c->cookie = mpc_sock_cookie(c->a.ev.fd);
	c->last_ns = mpc_now_ns();
	mpc_conn_bind(c);
	mpc_conn_start_relay(c, false);
}

static void conc_start_connect(struct mpc_conn *c)
{
	struct conc_hs *hs = c->priv;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err;

	len = mpc_16_to_sa(c->server, c->sport, &ss);
	/* MPTCP first (nam-01 §5.6.1: never strip MP_CAPABLE), unless the
	 * fallback cache knows this destination drops or ignores it. */
	hs->tried_mptcp = g_conc->mptcp_server;
	if (hs->tried_mptcp &&
	    mpc_fb_lookup(g_conc->st.fb_fd, c->server, g_conc->fb_ttl_ns, NULL) > 0) {
		hs->tried_mptcp = false;
		hs->cached_tcp = true;
		mpc_dcount(c->r, MPC_D_FB_HIT);
	}
	fd = mpc_stream_socket(ss.ss_family, hs->tried_mptcp);
	if (fd == -EPROTONOSUPPORT || fd == -ENOPROTOOPT || fd == -EINVAL) {
		hs->tried_mptcp = false;
		fd = mpc_stream_socket(ss.ss_family, false);
	}
	if (fd < 0) {
		conc_fail_connect(c, -fd);
		return;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		err = errno;
		close(fd);
		/* refused before leaving the box (no route here): a
		 * forwarding problem of the converter, §1.6 code 65 */
		if (err == ENETUNREACH || err == EHOSTUNREACH || err == EACCES || err == EPERM)
			reply_error0(c, MPC_CV_E_NETWORK);
		else
			conc_fail_connect(c, err);
		return;
	}
	if (mpc_conn_set_b(c, fd)) {
		close(fd);
		reply_error0(c, MPC_CV_E_RESOURCE);
		return;
	}
	{
		struct sockaddr_storage local;
		socklen_t llen = sizeof(local);

		if (!getsockname(fd, (struct sockaddr *)&local, &llen))
			mpc_sa_to16(&local, (uint8_t[16]){ 0 }, &hs->lport);
	}
	hs->phase = PH_CONNECT;
	mpc_timer_arm(&g_conc->loop, &g_conc->q_connect, &c->timer);
}

/* ---- reading the Convert message ----------------------------------- */

static int check_connect_opts(struct mpc_conn *c, const struct mpc_cv_msg *m)
{
	uint8_t bad[MPC_CV_OPTS_MAX];
	size_t nbad = 0, i = 0;

	/* Extended Connect (§1.5): options we cannot put in our SYN are
	 * refused with Error 33 listing their kinds. MPTCP without content,
	 * SACK-permitted and a value-less timestamp are what our SYN has;
	 * TFO would need a cookie API the kernel does not offer. */
	while (i + 1 < m->connect.opts_len) {
		uint8_t kind = m->connect.opts[i], len = m->connect.opts[i + 1];

		if (len < 2)
			break;
		if (!((kind == 30 && len == 2) || (kind == 4 && len == 2) || kind == 8))
			bad[nbad++] = kind;
		i += len;
	}
	if (nbad) {
		reply_error(c, MPC_CV_E_UNSUPP_TCP_OPT, bad, nbad);
		return -1;
	}
	return 0;
}

static void conc_got_message(struct mpc_conn *c)
{
	struct conc_hs *hs = c->priv;
	struct mpc_cv_status st;
	struct mpc_cv_msg *m = &hs->msg;

	if (mpc_cv_decode(hs->buf, hs->have, MPC_CV_SIDE_CONVERTER, m, &st)) {
		if (st.reset) {
			mpc_dcount(c->r, MPC_D_CV_RESET);
			mpc_conn_abort(c);
		} else if (st.reply_code == MPC_CV_E_UNSUPP_VERSION) {
			uint8_t v = MPC_CV_VERSION;

			reply_error(c, MPC_CV_E_UNSUPP_VERSION, &v, 1);
		} else {
			reply_error(c, st.reply_code < 0 ? MPC_CV_E_MALFORMED : st.reply_code,
				    hs->buf, hs->have);
		}
		return;
	}
	hs->info = m->present & (1ull << MPC_CV_T_INFO);
	if (!(m->present & (1ull << MPC_CV_T_CONNECT))) {
		if (hs->info) {
			uint8_t out[64];
			struct mpc_cv_buf b;
			int n;

			mpc_cv_begin(&b, out, sizeof(out));
			mpc_cv_put_supp_ext(&b, supported_kinds, sizeof(supported_kinds));
			n = mpc_cv_finish(&b);
			mpc_dcount(c->r, MPC_D_INFO);
			if (n < 0 || mpc_write_all(c->a.ev.fd, out, n))
				mpc_conn_abort(c);
			else
				mpc_conn_linger(c);
			return;
		}
		/* neither Info nor Connect: nothing a converter can act on */
		reply_error(c, MPC_CV_E_MALFORMED, hs->buf, hs->have);
		return;
	}
	if (m->connect.extended && check_connect_opts(c, m))
		return;
	memcpy(c->server, &m->connect.addr, 16);
	c->sport = m->connect.port;
	conc_start_connect(c);
}

static void conc_read(struct mpc_conn *c)
{
	struct conc_hs *hs = c->priv;
	struct mpc_cv_status st;
	ssize_t n;
	int need;

	/* Peek, so that the bytes after the message (the client's own data,
	 * §1.2) stay in the socket for the relay. */
	n = recv(c->a.ev.fd, hs->buf, sizeof(hs->buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		mpc_dcount(c->r, MPC_D_CV_TRUNC);
		mpc_conn_abort(c);
		return;
	}
	if (n == 0) {
		/* the client vanished mid-message */
		mpc_dcount(c->r, MPC_D_CV_TRUNC);
		mpc_conn_abort(c);
		return;
	}
	hs->have = n;
	need = mpc_cv_msg_len(hs->buf, n, &st);
	if (need < 0) {
		if (st.reset) {
			mpc_dcount(c->r, MPC_D_CV_RESET);
			mpc_conn_abort(c);
		} else if (st.reply_code == MPC_CV_E_UNSUPP_VERSION) {
			uint8_t v = MPC_CV_VERSION;

			recv(c->a.ev.fd, hs->buf, n, MSG_DONTWAIT);
			reply_error(c, MPC_CV_E_UNSUPP_VERSION, &v, 1);
		} else {
			recv(c->a.ev.fd, hs->buf, n, MSG_DONTWAIT);
			reply_error(c, MPC_CV_E_MALFORMED, hs->buf, n);
		}
		return;
	}
	if (need == 0 || n < need) {
		/* a peer that stops sending here is closed by the timer */
		if (n == sizeof(hs->buf))
			reply_error(c, MPC_CV_E_MALFORMED, hs->buf, n);
		return;
	}
	/* consume exactly the message */
	if (recv(c->a.ev.fd, hs->buf, need, MSG_DONTWAIT) != need) {
		mpc_conn_abort(c);
		return;
	}
	hs->have = need;
	mpc_timer_cancel(&c->timer);
	conc_got_message(c);
}

static void conc_hs_event(struct mpc_conn *c, struct mpc_side *s, uint32_t events)
{
	struct conc_hs *hs = c->priv;

	if (hs->phase == PH_READ) {
		if (s == &c->a)
			conc_read(c);
		return;
	}
	/* PH_CONNECT */
	if (s == &c->a) {
		/* client reset or closed before we could answer */
		if (events & (EPOLLERR | EPOLLHUP))
			mpc_conn_abort(c);
		return;
	}
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->b.ev.fd, SOL_SOCKET, SO_ERROR, &err, &len);
		mpc_timer_cancel(&c->timer);
		if (err)
			conc_fail_connect(c, err);
		else
			conc_connected(c);
	}
}

static void conc_timeout(struct mpc_timer *t)
{
	struct mpc_conn *c = container_of(t, struct mpc_conn, timer);
	struct conc_hs *hs = c->priv;

	if (hs->phase == PH_READ) {
		mpc_dcount(c->r, MPC_D_CV_TIMEOUT);
		mpc_conn_abort(c);
	} else {
		reply_error0(c, MPC_CV_E_NETWORK);
	}
}

/* ---- accepting ------------------------------------------------------ */

bool mpc_prefixes_match(const struct mpc_prefix *p, int n, const uint8_t addr[16])
{
	int i;

	for (i = 0; i < n; i++)
		if (mpc_prefix_match(addr, p[i].addr, p[i].plen))
			return true;
	return false;
}

/* fds ran out: use the reserve descriptor to accept, answer Error 64
 * (§1.6 Resource Exceeded) and close, so the client learns at once. */
static void accept_emfile(struct conc *cc, int lfd)
{
	static const uint8_t err64[] = { 1, 2, 0x22, 0x63, MPC_CV_T_ERROR, 1, 64, 0 };
	struct mpc_relay *r = &cc->relay;
	int fd;

	mpc_dcount(r, MPC_D_EMFILE);
	/* idle pooled pipes are descriptors too: give them back first */
	mpc_relay_trim_pool(r);
	if (r->reserve_fd < 0)
		return;
	close(r->reserve_fd);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		send(fd, err64, sizeof(err64), MSG_DONTWAIT | MSG_NOSIGNAL);
		mpc_dcount(r, MPC_D_ERR_TX_RESOURCE);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void conc_accept(struct mpc_ev *ev, uint32_t events)
{
	struct conc_listener *l = container_of(ev, struct conc_listener, ev);
	struct conc *cc = g_conc;
	int i;

	for (i = 0; i < 256; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct mpc_conn *c;
		struct conc_hs *hs;
		int fd;

		fd = accept4(l->ev.fd, (struct sockaddr *)&peer, &plen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				accept_emfile(cc, l->ev.fd);
			else if (errno == ENOBUFS || errno == ENOMEM)
				mpc_dcount(&cc->relay, MPC_D_ENOMEM);
			return;
		}
		mpc_dcount(&cc->relay, MPC_D_ACCEPTED);
		c = mpc_conn_new(&cc->relay, fd, conc_hs_event);
		hs = c ? calloc(1, sizeof(*hs)) : NULL;
		if (!hs) {
			if (c)
				mpc_conn_abort(c);
			else
				mpc_close_rst(fd);
			continue;
		}
		hs->icmp_code = -1;
		c->priv = hs;
		mpc_sa_to16(&peer, c->client, &c->cport);

		/* Authorization first (§1.8, §9.2): an unknown source learns
		 * nothing else. There is no default allow-all. */
		if (!mpc_prefixes_match(cc->allow, cc->n_allow, c->client)) {
			reply_error0(c, MPC_CV_E_NOT_AUTHORIZED);
			continue;
		}
		if (cc->relay.n_conns > cc->relay.max_conns) {
			mpc_dcount(&cc->relay, MPC_D_CONN_LIMIT);
			reply_error0(c, MPC_CV_E_RESOURCE);
			continue;
		}
		mpc_timer_arm(&cc->loop, &cc->q_read, &c->timer);
		conc_read(c); /* the message normally came in the SYN */
	}
}

static void conc_pick_accept(struct mpc_ev *ev, uint32_t events);

static void ensure_join_listener(struct conc *cc, int family, uint16_t port)
{
	struct join_lst *nj;
	int i, fd;

	if (port == cc->pickup_port)
		return;
	for (i = 0; i < cc->n_joins; i++)
		if (cc->joins[i].family == family && cc->joins[i].port == port)
			return;
	nj = realloc(cc->joins, (cc->n_joins + 1) * sizeof(*nj));
	if (!nj)
		return;
	cc->joins = nj;
	nj = &cc->joins[cc->n_joins];
	fd = mpc_listen_loopback(family, port, &cc->pick_lo);
	nj->family = family;
	nj->port = port;
	nj->ev.fd = fd < 0 ? -1 : fd;
	nj->ev.cb = conc_pick_accept;
	if (fd >= 0)
		mpc_loop_add(&cc->loop, &nj->ev, EPOLLIN);
	else
		pr_warn("port %u: no MP_JOIN listener (%s); picked-up connections to it keep one "
			"subflow\n",
			port, strerror(-fd));
	cc->n_joins++;
}

/* Implicit mode: a SYN stamped MP_PREFER_PROXY was steered here by
 * tc_pickup (protocol.md §2.2). The destination is the address the CPE
 * was talking to: getsockname() of the transparent socket. */
static void conc_pick_accept(struct mpc_ev *ev, uint32_t events)
{
	struct conc *cc = g_conc;
	int i;

	for (i = 0; i < 256; i++) {
		struct sockaddr_storage peer, local;
		socklen_t plen = sizeof(peer), llen = sizeof(local);
		struct mpc_conn *c;
		struct conc_hs *hs;
		int fd;

		fd = accept4(ev->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				mpc_dcount(&cc->relay, MPC_D_EMFILE);
			return;
		}
		mpc_dcount(&cc->relay, MPC_D_ACCEPTED);
		c = mpc_conn_new(&cc->relay, fd, conc_hs_event);
		hs = c ? calloc(1, sizeof(*hs)) : NULL;
		if (!hs) {
			if (c)
				mpc_conn_abort(c);
			else
				mpc_close_rst(fd);
			continue;
		}
		hs->icmp_code = -1;
		hs->implicit = true;
		c->priv = hs;
		getsockname(fd, (struct sockaddr *)&local, &llen);
		mpc_sa_to16(&peer, c->client, &c->cport);
		mpc_sa_to16(&local, c->server, &c->sport);
		/* xdp_guard drops stamped SYNs from outside --allow; this is
		 * the same rule for a box running without XDP */
		if (!mpc_prefixes_match(cc->allow, cc->n_allow, c->client) ||
		    cc->relay.n_conns > cc->relay.max_conns) {
			mpc_dcount(&cc->relay, cc->relay.n_conns > cc->relay.max_conns ?
						       MPC_D_CONN_LIMIT :
						       MPC_D_ERR_TX_NOAUTH);
			mpc_conn_abort(c);
			continue;
		}
		ensure_join_listener(cc, local.ss_family, c->sport);
		conc_start_connect(c);
	}
}

static int setup_on_path(struct conc *cc, struct mpc_listen_opts lo)
{
	struct mpc_pick_opts po = { 0 };
	int idx[MPC_MAX_LINKS], i, err, fd;

	for (i = 0; i < cc->n_on_path; i++) {
		idx[i] = mpc_ifindex(cc->on_path[i]);
		if (idx[i] < 0)
			return idx[i];
	}
	err = mpc_nl_open(&cc->nl);
	if (err)
		return err;
	err = mpc_nl_setup_local_routing(cc->nl, cc->local_mark, 0, MPC_NL_TABLE_LOCAL,
					 MPC_NL_PRIO_LOCAL);
	if (err < 0) {
		pr_warn("local routing: %s\n", mpc_nl_errmsg(cc->nl));
		return err;
	}
	/* transparent MPTCP listeners on loopback: bpf_sk_assign() hands
	 * them stamped SYNs for any destination (recipes.md) */
	lo.transparent = true;
	lo.tfo_no_cookie = false;
	cc->pick_lo = lo;
	for (i = 0; i < 2; i++) {
		fd = mpc_listen_loopback(i ? AF_INET6 : AF_INET, cc->pickup_port, &lo);
		if (fd < 0)
			return fd;
		cc->pick_lst[i].fd = fd;
		cc->pick_lst[i].cb = conc_pick_accept;
		mpc_loop_add(&cc->loop, &cc->pick_lst[i], EPOLLIN);
	}

	po.lst_addr4.s_addr = htonl(INADDR_LOOPBACK);
	po.lst_addr6 = in6addr_loopback;
	po.lst_port = cc->pickup_port;
	po.local_mark = cc->local_mark;
	po.prefer_subtype = cc->prefer_subtype;
	po.no_xdp = cc->no_xdp;
	if (cc->n_lst) {
		uint8_t a[16];

		mpc_sa_to16(&cc->lst[0].ss, a, &po.convert_port);
	}
	err = mpc_pick_attach(&cc->pick, cc->st.pin_dir, idx, cc->n_on_path, &po);
	if (err)
		return err;
	cc->attach_mask |= 1ull << MPC_P_TC_PICKUP;
	if (!cc->no_xdp)
		cc->attach_mask |= 1ull << MPC_P_XDP_GUARD;
	for (i = 0; i < cc->n_on_path; i++)
		pr_info("on-path pickup on %s (tc %s%s), listener port %u\n", cc->on_path[i],
			mpc_attach_kind_name(cc->pick.tc_att[i].kind), cc->no_xdp ? "" : " + xdp",
			cc->pickup_port);
	return 0;
}

static void conc_tick(void *arg)
{
	struct conc *cc = arg;

	mpc_relay_tick(&cc->relay);
}

static void conc_sweep(void *arg)
{
	struct conc *cc = arg;
	int n = mpc_fb_sweep(cc->st.fb_fd, cc->fb_ttl_ns);

	cc->relay.dstats[MPC_D_FB_EXPIRED] += n > 0 ? n : 0;
}

/* ---- command ------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mpconv [--pin-path DIR] concentrator --listen ADDR:PORT [--listen ...]\n"
		"              --allow PREFIX [--allow PREFIX]...\n"
		"              [--connect-timeout SEC] [--convert-timeout SEC] [--max-conns N]\n"
		"              [--cache-ttl SEC] [--no-mptcp-server] [--pipe-size BYTES]\n"
		"              [--on-path IF[,IF...] [--pickup-port PORT] [--mark MARK]\n"
		"               [--prefer-subtype N] [--no-xdp]]\n"
		"\n"
		"  --listen ADDR:PORT   MPTCP listener for RFC 8803 Convert clients ([v6]:port)\n"
		"  --allow PREFIX       source prefix allowed to use the converter (required;\n"
		"                       there is no default allow-all)\n"
		"  --connect-timeout    seconds to reach a server before Error 65 (default 10)\n"
		"  --convert-timeout    seconds to receive the Convert message (default 5)\n"
		"  --max-conns N        connections at once; beyond, Error 64 (default 65536)\n"
		"  --cache-ttl SEC      fallback-cache lifetime (default 86400)\n"
		"  --no-mptcp-server    connect to servers with plain TCP only\n"
		"  --on-path IF,...     implicit mode: pick up SYNs stamped MP_PREFER_PROXY\n"
		"                       arriving on these access interfaces (tc + XDP guard)\n"
		"  --pickup-port PORT   port of the transparent pickup listener (default 7302)\n"
		"  --prefer-subtype N   MP_PREFER_PROXY subtype (default 15, MP_EXPERIMENTAL)\n");
}

static void publish_info(struct conc *cc)
{
	struct mpc_info info = { 0 };
	uint32_t k = 0;

	info.pid = getpid();
	info.role = MPC_ROLE_CONC;
	info.start_ns = mpc_now_ns();
	info.attach_mask = cc->attach_mask;
	info.proxy_port = cc->n_on_path ? cc->pickup_port : 0;
	if (cc->n_lst)
		mpc_sa_to16(&cc->lst[0].ss, info.conc_addr, &info.conc_port);
	bpf_map_update_elem(cc->st.info_fd, &k, &info, BPF_ANY);
}

static void publish_allow(struct conc *cc)
{
	struct mpc_pol_val v = { .action = MPC_POL_CONVERT };
	int i;

	for (i = 0; i < cc->n_allow; i++) {
		struct mpc_lpm_key k = { .prefixlen = cc->allow[i].plen };

		memcpy(k.addr, cc->allow[i].addr, 16);
		bpf_map_update_elem(cc->st.allow_fd, &k, &v, BPF_ANY);
	}
}

int cmd_concentrator(int argc, char **argv)
{
	static const struct option opts[] = { { "listen", required_argument, NULL, 'l' },
					      { "allow", required_argument, NULL, 'a' },
					      { "connect-timeout", required_argument, NULL, 'c' },
					      { "convert-timeout", required_argument, NULL, 't' },
					      { "max-conns", required_argument, NULL, 'm' },
					      { "cache-ttl", required_argument, NULL, 'T' },
					      { "no-mptcp-server", no_argument, NULL, 'N' },
					      { "pipe-size", required_argument, NULL, 's' },
					      { "pin-path", required_argument, NULL, 'P' },
					      { "on-path", required_argument, NULL, 'O' },
					      { "pickup-port", required_argument, NULL, 'K' },
					      { "mark", required_argument, NULL, 'M' },
					      { "prefer-subtype", required_argument, NULL, 'S' },
					      { "no-xdp", no_argument, NULL, 'X' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	struct mpc_listen_opts lo = { .mptcp = true, .tfo_no_cookie = true };
	uint32_t v;
	uint32_t connect_to = 10, convert_to = 5, max_conns = 65536, ttl = MPC_FB_TTL_DEFAULT_S;
	uint32_t pipe_size = 1 << 20;
	struct mpc_state_opts so = { 0 };
	struct conc cc = { 0 };
	int c, i, err, rc = 1;
	long nofile;

	cc.mptcp_server = true;
	cc.pickup_port = 7302;
	cc.local_mark = 0x6d70;
	cc.prefer_subtype = MPC_PREFER_SUBTYPE_DEF;
	cc.pick_lst[0].fd = cc.pick_lst[1].fd = -1;
	cc.cg.fd = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (cc.n_lst == CONC_MAX_LISTEN) {
				mpc_err("at most %d --listen", CONC_MAX_LISTEN);
				return 2;
			}
			if (mpc_parse_sockaddr(optarg, &cc.lst[cc.n_lst].ss, &cc.lst[cc.n_lst].len,
					       true)) {
				mpc_err("--listen '%s': expected ADDR:PORT or [V6]:PORT", optarg);
				return 2;
			}
			cc.n_lst++;
			break;
		case 'a': {
			struct mpc_prefix *np = realloc(cc.allow, (cc.n_allow + 1) * sizeof(*np));

			if (!np)
				return 1;
			cc.allow = np;
			if (mpc_parse_prefix(optarg, np[cc.n_allow].addr, &np[cc.n_allow].plen)) {
				mpc_err("--allow '%s': expected PREFIX/LEN with host bits clear",
					optarg);
				free(cc.allow);
				return 2;
			}
			cc.n_allow++;
			break;
		}
		case 'c':
		case 't':
		case 'm':
		case 'T':
		case 's': {
			uint32_t *dst = c == 'c' ? &connect_to :
					c == 't' ? &convert_to :
					c == 'm' ? &max_conns :
					c == 'T' ? &ttl :
						   &pipe_size;

			if (mpc_parse_u32(optarg, dst, c == 'T' ? 0 : 1,
					  c == 's' ? 1 << 30 : 1 << 24)) {
				mpc_err("invalid value '%s' for --%s", optarg,
					c == 'c' ? "connect-timeout" :
					c == 't' ? "convert-timeout" :
					c == 'm' ? "max-conns" :
					c == 'T' ? "cache-ttl" :
						   "pipe-size");
				return 2;
			}
			break;
		}
		case 'N':
			cc.mptcp_server = false;
			break;
		case 'O': {
			char *str = optarg, *tok;

			while ((tok = strsep(&str, ","))) {
				if (!*tok)
					continue;
				if (cc.n_on_path == MPC_MAX_LINKS) {
					mpc_err("at most %d --on-path interfaces", MPC_MAX_LINKS);
					return 2;
				}
				cc.on_path[cc.n_on_path++] = tok;
			}
			break;
		}
		case 'K':
		case 'M':
		case 'S':
			if (mpc_parse_u32(optarg, &v, c == 'S' ? 1 : 1,
					  c == 'K' ? 65535 :
					  c == 'S' ? 15 :
						     0xffffffff)) {
				mpc_err("invalid value '%s'", optarg);
				return 2;
			}
			if (c == 'K')
				cc.pickup_port = v;
			else if (c == 'M')
				cc.local_mark = v;
			else
				cc.prefer_subtype = v;
			break;
		case 'X':
			cc.no_xdp = true;
			break;
		case 'P':
			mpc_g.pin_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		mpc_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if ((!cc.n_lst && !cc.n_on_path) || !cc.n_allow) {
		mpc_err("concentrator needs --listen ADDR:PORT or --on-path IF, and at least one "
			"--allow PREFIX (there is no default allow-all)");
		usage(stderr);
		free(cc.allow);
		return 2;
	}
	g_conc = &cc;
	mpc_daemon_block_signals(&cc.dm);
	cc.fb_ttl_ns = (uint64_t)ttl * 1000000000ull;
	nofile = mpc_raise_nofile();
	pr_debug("RLIMIT_NOFILE %ld\n", nofile);

	err = mpc_loop_init(&cc.loop);
	if (err)
		goto out_free;
	so.bind_max = max_conns;
	err = mpc_state_open(&cc.st, mpc_g.pin_path, &so);
	if (err)
		goto out_loop;
	mpc_relay_init(&cc.relay, &cc.loop, MPC_ROLE_CONC);
	cc.relay.binds_fd = cc.st.binds_fd;
	cc.relay.dstats_fd = cc.st.dstats_fd;
	cc.relay.max_conns = max_conns;
	cc.relay.pipe_size = pipe_size;
	mpc_tqueue_init(&cc.loop, &cc.q_read, convert_to * 1000, conc_timeout);
	mpc_tqueue_init(&cc.loop, &cc.q_connect, connect_to * 1000, conc_timeout);

	/* recipes.md: a listener takes data in the SYN only when its netns
	 * has net.ipv4.tcp_fastopen bit 0x2 (server); the per-socket
	 * no-cookie flag does the rest. */
	err = mpc_sysctl_set_bits("net/ipv4/tcp_fastopen", 0x2);
	if (err < 0)
		pr_warn("cannot enable TFO server (net.ipv4.tcp_fastopen |= 0x2): %s; the Convert "
			"message will cost a round trip\n",
			strerror(-err));
	else if (err > 0)
		pr_info("enabled TCP Fast Open server: net.ipv4.tcp_fastopen |= 0x2 (restored on "
			"exit)\n");
	/* The kernel's MPTCP blackhole detection would turn MPTCP off for
	 * every server after one failure (protocol.md §9); the per-
	 * destination fallback cache replaces it. */
	if (cc.mptcp_server && mpc_sysctl_set("net/mptcp/blackhole_timeout", 0) == 0)
		pr_info("net.mptcp.blackhole_timeout=0: per-destination fallback cache instead of "
			"the netns-wide blackhole switch\n");

	/* Before any socket: sockets belong to the cgroup of the task that
	 * creates them, and the sockops program (MP_JOIN tokens for
	 * implicit mode, the servers' SYN-ACK options for the Extended TCP
	 * Header) watches this daemon's own cgroup only. */
	err = mpc_cg_setup(&cc.cg, cc.st.pin_dir);
	if (err && cc.n_on_path) {
		pr_warn("--on-path needs the sockops token learner: %s\n", strerror(-err));
		goto out_close;
	} else if (err) {
		pr_warn("no sockops program (%s): Extended TCP Header rebuilt from TCP_INFO\n",
			strerror(-err));
	} else {
		cc.attach_mask |= 1ull << MPC_P_SOCKOPS;
	}
	for (i = 0; i < cc.n_lst; i++) {
		char a[MPC_ADDRSTRLEN];
		int fd = mpc_listen(&cc.lst[i].ss, cc.lst[i].len, &lo);

		if (fd < 0) {
			err = fd;
			goto out_close;
		}
		cc.lst[i].ev.fd = fd;
		cc.lst[i].ev.cb = conc_accept;
		mpc_loop_add(&cc.loop, &cc.lst[i].ev, EPOLLIN);
		pr_info("listening on %s (MPTCP, Convert in SYN data)\n",
			mpc_sa_str(&cc.lst[i].ss, a));
	}
	if (cc.n_on_path) {
		err = setup_on_path(&cc, lo);
		if (err)
			goto out_close;
	}
	icmp_open(&cc);
	publish_info(&cc);
	publish_allow(&cc);

	cc.dm.loop = &cc.loop;
	cc.dm.relay = &cc.relay;
	cc.dm.tick = conc_tick;
	cc.dm.sweep = conc_sweep;
	cc.dm.arg = &cc;
	err = mpc_daemon_run(&cc.dm);
	if (err)
		pr_warn("event loop: %s\n", strerror(-err));
	rc = 0;
out_close:
	for (i = 0; i < cc.n_lst; i++)
		if (cc.lst[i].ev.fd > 0)
			close(cc.lst[i].ev.fd);
	mpc_pick_detach(&cc.pick);
	for (i = 0; i < 2; i++)
		if (cc.pick_lst[i].fd >= 0)
			close(cc.pick_lst[i].fd);
	for (i = 0; i < cc.n_joins; i++)
		if (cc.joins[i].ev.fd >= 0)
			close(cc.joins[i].ev.fd);
	free(cc.joins);
	mpc_relay_fini(&cc.relay);
	mpc_cg_teardown(&cc.cg);
	if (cc.nl) {
		if (mpc_nl_undo_all(cc.nl) < 0)
			pr_warn("could not undo all netlink changes: %s\n", mpc_nl_errmsg(cc.nl));
		mpc_nl_close(cc.nl);
	}
	if (cc.icmp4.fd > 0)
		close(cc.icmp4.fd);
	if (cc.icmp6.fd > 0)
		close(cc.icmp6.fd);
	mpc_daemon_fini(&cc.dm);
	mpc_state_close(&cc.st);
	mpc_sysctl_restore_all();
out_loop:
	mpc_loop_fini(&cc.loop);
out_free:
	free(cc.allow);
	g_conc = NULL;
	return rc;
}
