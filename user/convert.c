// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * RFC 8803 Convert message codec (protocol.md §1). Pure functions over
 * byte strings: the concentrator, the CPE and the test tools share it, and
 * tests/unit/convert.c drives every path with crafted messages.
 *
 * The decoder frames the whole message before looking at any TLV, so a
 * message that is both badly framed and semantically wrong always gets
 * Malformed Message (§1.3: "MUST check TLVs are properly framed").
 */
#include <arpa/inet.h>
#include <string.h>

#include <mpconv/convert.h>

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WS 3
#define TCPOPT_SACK 5
#define TCPOPT_AO 29

static size_t round4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void set_st(struct mpc_cv_status *st, int code, bool reset, const char *detail)
{
	if (!st)
		return;
	st->reply_code = code;
	st->reset = reset;
	st->detail = detail;
}

/* A validation failure: the converter answers `code`, a client resets. */
static int fail(struct mpc_cv_status *st, enum mpc_cv_side side, int code, const char *detail)
{
	if (side == MPC_CV_SIDE_CLIENT)
		set_st(st, -1, true, detail);
	else
		set_st(st, code, false, detail);
	return -1;
}

int mpc_cv_msg_len(const uint8_t *buf, size_t len, struct mpc_cv_status *st)
{
	if (len < MPC_CV_HDR_LEN) {
		set_st(st, -1, false, "incomplete header");
		return 0;
	}
	/* Magic first: without it this is not a Convert message of any
	 * version, so Unsupported Version would be meaningless. */
	if (((buf[2] << 8) | buf[3]) != MPC_CV_MAGIC) {
		set_st(st, MPC_CV_E_MALFORMED, false, "bad magic");
		return -1;
	}
	if (buf[0] != MPC_CV_VERSION) {
		set_st(st, MPC_CV_E_UNSUPP_VERSION, false, "unsupported version");
		return -1;
	}
	if (buf[1] == 0) {
		/* §1.3: Total Length 0 -> the connection MUST be reset */
		set_st(st, -1, true, "total length 0");
		return -1;
	}
	set_st(st, -1, false, "ok");
	return buf[1] * 4;
}

static bool side_accepts(enum mpc_cv_side side, uint8_t type)
{
	switch (type) {
	case MPC_CV_T_INFO:
	case MPC_CV_T_CONNECT:
	case MPC_CV_T_COOKIE:
		return side == MPC_CV_SIDE_CONVERTER;
	case MPC_CV_T_EXT_TCP_HDR:
	case MPC_CV_T_SUPP_EXT:
	case MPC_CV_T_ERROR:
		return side == MPC_CV_SIDE_CLIENT;
	}
	return false;
}

static bool is_known_type(uint8_t type)
{
	return side_accepts(MPC_CV_SIDE_CONVERTER, type) || side_accepts(MPC_CV_SIDE_CLIENT, type);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* §1.5 Connect; `v` is the TLV, `tl` its length in bytes (>= 4). */
static const char *parse_connect(const uint8_t *v, size_t tl, struct mpc_cv_msg *msg)
{
	size_t p;

	if (tl < sizeof(struct mpc_cv_connect_wire))
		return "connect shorter than 20 bytes";
	msg->connect.port = (v[2] << 8) | v[3];
	memcpy(&msg->connect.addr, v + 4, 16);
	msg->connect.extended = tl > sizeof(struct mpc_cv_connect_wire);
	if (msg->connect.port == 0)
		return "connect port 0";
	if (mpc_cv_addr_forbidden(&msg->connect.addr))
		return "connect address forbidden";

	for (p = sizeof(struct mpc_cv_connect_wire); p < tl;) {
		uint8_t kind = v[p], olen;

		if (kind == TCPOPT_EOL) {
			/* Only the zero padding to the next word may follow
			 * the last option; any other zero is a Kind 0. */
			if (tl - p < 4 && all_zero(v + p, tl - p))
				break;
			return "connect option kind 0";
		}
		if (kind == TCPOPT_NOP)
			return "connect option kind 1";
		if (tl - p < 2)
			return "connect option truncated";
		olen = v[p + 1];
		if (olen < 2)
			return "connect option length < 2";
		if (olen > tl - p)
			return "connect option overruns TLV";
		/* §1.5: MSS, WS and SACK MUST be ignored in a Connect */
		if (kind != TCPOPT_MSS && kind != TCPOPT_WS && kind != TCPOPT_SACK) {
			if (msg->connect.opts_len + olen > MPC_CV_OPTS_MAX)
				return "connect options exceed 40 bytes";
			memcpy(msg->connect.opts + msg->connect.opts_len, v + p, olen);
			msg->connect.opts_len += olen;
		}
		p += olen;
	}
	return NULL;
}

/* §1.5 Extended TCP Header: a copy of the server's SYN-ACK options. */
static const char *parse_ext_tcp_hdr(const uint8_t *v, size_t tl, struct mpc_cv_msg *msg)
{
	size_t p = 4, olen;

	while (p < tl) {
		if (v[p] == TCPOPT_EOL)
			break;
		if (v[p] == TCPOPT_NOP) {
			olen = 1;
		} else {
			if (tl - p < 2)
				return "ext tcp header option truncated";
			olen = v[p + 1];
			if (olen < 2 || olen > tl - p)
				return "ext tcp header option overruns TLV";
		}
		p += olen;
	}
	if (p - 4 > MPC_CV_OPTS_MAX)
		return "ext tcp header options exceed 40 bytes";
	memcpy(msg->ext_tcp_hdr.opts, v + 4, p - 4);
	msg->ext_tcp_hdr.opts_len = p - 4;
	return NULL;
}

/* §1.5 Supported TCP Extensions: one kind per octet, zero-padded. */
static const char *parse_supp_ext(const uint8_t *v, size_t tl, struct mpc_cv_msg *msg)
{
	size_t p;

	for (p = 4; p < tl && v[p]; p++) {
		uint8_t k = v[p];

		/* §1.5/§7: 1, 2 MUST NOT appear, nor 3, 5; TCP-AO MUST NOT */
		if (k == TCPOPT_NOP || k == TCPOPT_MSS || k == TCPOPT_WS || k == TCPOPT_SACK ||
		    k == TCPOPT_AO)
			return "supported ext lists a forbidden kind";
		if (msg->supp_ext.n_kinds == MPC_CV_KINDS_MAX)
			return "supported ext lists too many kinds";
		msg->supp_ext.kinds[msg->supp_ext.n_kinds++] = k;
	}
	if (!all_zero(v + p, tl - p))
		return "supported ext kind 0";
	return NULL;
}

static const char *parse_tlv(const uint8_t *v, size_t tl, struct mpc_cv_msg *msg)
{
	switch (v[0]) {
	case MPC_CV_T_INFO:
		if (tl != 4 || v[2] || v[3])
			return "info not 01 01 00 00";
		return NULL;
	case MPC_CV_T_CONNECT:
		return parse_connect(v, tl, msg);
	case MPC_CV_T_COOKIE:
		if (tl < 8)
			return "cookie empty";
		if (v[2] || v[3])
			return "cookie zero field not zero";
		if (tl - 4 > MPC_CV_COOKIE_MAX)
			return "cookie longer than 64 bytes";
		msg->cookie.len = tl - 4;
		memcpy(msg->cookie.data, v + 4, tl - 4);
		return NULL;
	case MPC_CV_T_EXT_TCP_HDR:
		return parse_ext_tcp_hdr(v, tl, msg);
	case MPC_CV_T_SUPP_EXT:
		return parse_supp_ext(v, tl, msg);
	case MPC_CV_T_ERROR:
		msg->error.code = v[2];
		msg->error.value_len = tl - 3;
		memcpy(msg->error.value, v + 3, tl - 3);
		return NULL;
	}
	return "unknown TLV type"; /* not reached: types are checked first */
}

int mpc_cv_decode(const uint8_t *buf, size_t len, enum mpc_cv_side side, struct mpc_cv_msg *msg,
		  struct mpc_cv_status *st)
{
	const char *why;
	size_t off, tl;
	int n;

	memset(msg, 0, offsetof(struct mpc_cv_msg, error.value));
	msg->error.value_len = 0;

	n = mpc_cv_msg_len(buf, len, st);
	if (n == 0)
		return fail(st, side, MPC_CV_E_MALFORMED, "message shorter than its header");
	if (n < 0) {
		if (side == MPC_CV_SIDE_CLIENT && st)
			set_st(st, -1, true, st->detail);
		return -1;
	}
	if ((size_t)n > len)
		return fail(st, side, MPC_CV_E_MALFORMED, "message shorter than total length");
	msg->version = buf[0];
	msg->total_len = n;

	/* Pass 1: framing. Each TLV holds at least its 2-byte head, so a
	 * Length of 0 words cannot be framed. */
	for (off = MPC_CV_HDR_LEN; off < (size_t)n; off += tl) {
		tl = buf[off + 1] * 4;
		if (tl == 0)
			return fail(st, side, MPC_CV_E_MALFORMED, "TLV length 0");
		if (tl > n - off)
			return fail(st, side, MPC_CV_E_MALFORMED, "TLV overruns total length");
	}

	/* Pass 2: each TLV, in order. */
	for (off = MPC_CV_HDR_LEN; off < (size_t)n; off += tl) {
		uint8_t type = buf[off];

		tl = buf[off + 1] * 4;
		if (type == 0)
			return fail(st, side, MPC_CV_E_UNSUPP_MSG, "TLV type 0");
		if (!is_known_type(type))
			return fail(st, side, MPC_CV_E_UNSUPP_MSG, "unknown TLV type");
		if (!side_accepts(side, type))
			return fail(st, side, MPC_CV_E_UNSUPP_MSG,
				    "TLV not accepted from this peer");
		if (msg->present & MPC_CV_TLV_BIT(type))
			return fail(st, side, MPC_CV_E_MALFORMED, "duplicate TLV");
		msg->present |= MPC_CV_TLV_BIT(type);
		why = parse_tlv(buf + off, tl, msg);
		if (why)
			return fail(st, side, MPC_CV_E_MALFORMED, why);
	}
	set_st(st, -1, false, "ok");
	return 0;
}

/* ---- encoders ---------------------------------------------------------- */

static size_t buf_limit(const struct mpc_cv_buf *b)
{
	return b->cap < MPC_CV_MAX_LEN ? b->cap : MPC_CV_MAX_LEN;
}

void mpc_cv_begin(struct mpc_cv_buf *b, uint8_t *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->overflow = !buf || cap < MPC_CV_HDR_LEN;
	if (b->overflow)
		return;
	buf[0] = MPC_CV_VERSION;
	buf[1] = 0; /* filled by mpc_cv_finish() */
	buf[2] = MPC_CV_MAGIC >> 8;
	buf[3] = MPC_CV_MAGIC & 0xff;
	b->len = MPC_CV_HDR_LEN;
}

/* Reserve a zeroed TLV with `body` bytes after Type and Length; returns a
 * pointer to the TLV or NULL (overflow set). */
static uint8_t *put_tlv(struct mpc_cv_buf *b, uint8_t type, size_t body)
{
	size_t tl = round4(2 + body);
	uint8_t *t;

	if (b->overflow || tl > buf_limit(b) || b->len > buf_limit(b) - tl) {
		b->overflow = true;
		return NULL;
	}
	t = b->buf + b->len;
	memset(t, 0, tl);
	t[0] = type;
	t[1] = tl / 4;
	b->len += tl;
	return t;
}

void mpc_cv_put_info(struct mpc_cv_buf *b)
{
	put_tlv(b, MPC_CV_T_INFO, 2);
}

void mpc_cv_put_connect(struct mpc_cv_buf *b, const struct in6_addr *addr, uint16_t port,
			const uint8_t *opts, size_t opts_len)
{
	uint8_t *t;

	if (!addr || (opts_len && !opts)) {
		b->overflow = true;
		return;
	}
	t = put_tlv(b, MPC_CV_T_CONNECT, 18 + opts_len);
	if (!t)
		return;
	t[2] = port >> 8;
	t[3] = port & 0xff;
	memcpy(t + 4, addr, 16);
	if (opts_len)
		memcpy(t + 20, opts, opts_len);
}

void mpc_cv_put_ext_tcp_hdr(struct mpc_cv_buf *b, const uint8_t *opts, size_t opts_len)
{
	uint8_t *t;

	if (opts_len && !opts) {
		b->overflow = true;
		return;
	}
	t = put_tlv(b, MPC_CV_T_EXT_TCP_HDR, 2 + opts_len);
	if (t && opts_len)
		memcpy(t + 4, opts, opts_len);
}

void mpc_cv_put_supp_ext(struct mpc_cv_buf *b, const uint8_t *kinds, size_t n)
{
	uint8_t *t;

	if (n && !kinds) {
		b->overflow = true;
		return;
	}
	t = put_tlv(b, MPC_CV_T_SUPP_EXT, 2 + n);
	if (t && n)
		memcpy(t + 4, kinds, n);
}

void mpc_cv_put_cookie(struct mpc_cv_buf *b, const uint8_t *cookie, size_t len)
{
	uint8_t *t;

	if (!len || !cookie) {
		b->overflow = true;
		return;
	}
	t = put_tlv(b, MPC_CV_T_COOKIE, 2 + len);
	if (t)
		memcpy(t + 4, cookie, len);
}

void mpc_cv_put_error(struct mpc_cv_buf *b, uint8_t code, const uint8_t *value, size_t vlen)
{
	uint8_t *t;

	if (vlen && !value) {
		b->overflow = true;
		return;
	}
	t = put_tlv(b, MPC_CV_T_ERROR, 1 + (vlen ? vlen : 1));
	if (!t)
		return;
	t[2] = code;
	if (vlen)
		memcpy(t + 3, value, vlen);
}

void mpc_cv_put_error_echo(struct mpc_cv_buf *b, uint8_t code, const uint8_t *msg, size_t mlen)
{
	size_t limit = buf_limit(b), room;
	uint8_t *t;

	if (mlen && !msg) {
		b->overflow = true;
		return;
	}
	/* Type, Length, code, zero octet, then the echo: truncate the echo
	 * to the whole words left after that 4-byte head. */
	if (!b->overflow && b->len + 4 <= limit) {
		room = (limit - b->len - 4) & ~(size_t)3;
		if (mlen > room)
			mlen = room;
	}
	t = put_tlv(b, MPC_CV_T_ERROR, 2 + mlen);
	if (!t)
		return;
	t[2] = code;
	if (mlen)
		memcpy(t + 4, msg, mlen);
}

int mpc_cv_finish(struct mpc_cv_buf *b)
{
	if (b->overflow || b->len < MPC_CV_HDR_LEN || b->len > MPC_CV_MAX_LEN || b->len % 4)
		return -1;
	b->buf[1] = b->len / 4;
	return b->len;
}

int mpc_cv_build_error(uint8_t *out, size_t cap, uint8_t code, const uint8_t *value, size_t vlen)
{
	struct mpc_cv_buf b;

	mpc_cv_begin(&b, out, cap);
	mpc_cv_put_error(&b, code, value, vlen);
	return mpc_cv_finish(&b);
}

int mpc_cv_build_error_reply(uint8_t *out, size_t cap, const uint8_t *rx, size_t rxlen,
			     const struct mpc_cv_status *st)
{
	static const uint8_t versions[] = { MPC_CV_VERSION };
	struct mpc_cv_buf b;
	int n;

	if (!st || st->reset || st->reply_code < 0 || st->reply_code > 255)
		return -1;
	if (st->reply_code == MPC_CV_E_UNSUPP_VERSION)
		return mpc_cv_build_error(out, cap, MPC_CV_E_UNSUPP_VERSION, versions,
					  sizeof(versions));
	if (st->reply_code != MPC_CV_E_MALFORMED && st->reply_code != MPC_CV_E_UNSUPP_MSG)
		return mpc_cv_build_error(out, cap, st->reply_code, NULL, 0);

	/* Echo the message only, not the SYN data that follows it. */
	n = mpc_cv_msg_len(rx, rxlen, NULL);
	if (n > 0 && (size_t)n < rxlen)
		rxlen = n;
	mpc_cv_begin(&b, out, cap);
	mpc_cv_put_error_echo(&b, st->reply_code, rx, rxlen);
	return mpc_cv_finish(&b);
}

/* ---- addresses and names ----------------------------------------------- */

void mpc_cv_addr_from_v4(struct in6_addr *out, uint32_t v4_be)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = 0xff;
	out->s6_addr[11] = 0xff;
	memcpy(out->s6_addr + 12, &v4_be, 4);
}

bool mpc_cv_addr_is_v4(const struct in6_addr *a)
{
	return IN6_IS_ADDR_V4MAPPED(a);
}

bool mpc_cv_addr_forbidden(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;

	if (mpc_cv_addr_is_v4(a)) {
		const uint8_t *v4 = b + 12;

		return v4[0] == 0 ||				/* 0/8: unspecified, this network */
		       v4[0] == 127 ||				/* loopback */
		       (v4[0] & 0xf0) == 0xe0 ||		/* 224/4 multicast */
		       (v4[0] & v4[1] & v4[2] & v4[3]) == 0xff; /* limited broadcast */
	}
	return b[0] == 0xff || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a);
}

const char *mpc_cv_error_name(int code)
{
	switch (code) {
	case MPC_CV_E_UNSUPP_VERSION:
		return "unsupported-version";
	case MPC_CV_E_MALFORMED:
		return "malformed-message";
	case MPC_CV_E_UNSUPP_MSG:
		return "unsupported-message";
	case MPC_CV_E_MISSING_COOKIE:
		return "missing-cookie";
	case MPC_CV_E_NOT_AUTHORIZED:
		return "not-authorized";
	case MPC_CV_E_UNSUPP_TCP_OPT:
		return "unsupported-tcp-option";
	case MPC_CV_E_RESOURCE:
		return "resource-exceeded";
	case MPC_CV_E_NETWORK:
		return "network-failure";
	case MPC_CV_E_CONN_RESET:
		return "connection-reset";
	case MPC_CV_E_DEST_UNREACH:
		return "destination-unreachable";
	}
	return "unknown";
}

const char *mpc_cv_tlv_name(int type)
{
	switch (type) {
	case MPC_CV_T_INFO:
		return "info";
	case MPC_CV_T_CONNECT:
		return "connect";
	case MPC_CV_T_EXT_TCP_HDR:
		return "ext-tcp-header";
	case MPC_CV_T_SUPP_EXT:
		return "supported-tcp-ext";
	case MPC_CV_T_COOKIE:
		return "cookie";
	case MPC_CV_T_ERROR:
		return "error";
	}
	return "unknown";
}
