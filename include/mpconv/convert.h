/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * RFC 8803 0-RTT TCP Convert Protocol: wire layout and codec API
 * (protocol.md §1). The codec is pure: no sockets, no allocation, so the
 * daemon and the unit tests drive it with byte strings.
 *
 * All lengths on the wire are in 32-bit words (protocol.md §1.3, §1.4); the
 * API speaks bytes.
 */
#ifndef MPCONV_CONVERT_H
#define MPCONV_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* §1.3 fixed header: Version(8) | Total Length(8, words) | Magic(16). */
#define MPC_CV_VERSION		1
#define MPC_CV_MAGIC		0x2263	/* = 8803 decimal */
#define MPC_CV_HDR_LEN		4
#define MPC_CV_MAX_LEN		(255 * 4)	/* Total Length is 8 bits of words */

struct mpc_cv_hdr {
	uint8_t version;
	uint8_t total_len;	/* 32-bit words, header included */
	uint16_t magic;		/* network order */
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cv_hdr) == 4, "Convert fixed header is 4 bytes");

/* §1.4 generic TLV header: Type(8) | Length(8, words, whole TLV). */
struct mpc_cv_tlv {
	uint8_t type;
	uint8_t len;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cv_tlv) == 2, "TLV header is 2 bytes");

/* §1.4 TLV types. */
enum mpc_cv_type {
	MPC_CV_T_INFO = 0x01,
	MPC_CV_T_CONNECT = 0x0a,
	MPC_CV_T_EXT_TCP_HDR = 0x14,
	MPC_CV_T_SUPP_EXT = 0x15,
	MPC_CV_T_COOKIE = 0x16,
	MPC_CV_T_ERROR = 0x1e,
};

/* §1.5 Connect TLV, base form (Length 5 = 20 bytes); the extended form
 * appends TCP options, zero-padded. IPv4 travels IPv4-mapped. */
struct mpc_cv_connect_wire {
	uint8_t type;
	uint8_t len;
	uint16_t port;		/* network order */
	uint8_t addr[16];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cv_connect_wire) == 20, "base Connect is 20 bytes");

/* §1.6 error codes. */
enum mpc_cv_error {
	MPC_CV_E_UNSUPP_VERSION = 0,
	MPC_CV_E_MALFORMED = 1,
	MPC_CV_E_UNSUPP_MSG = 2,
	MPC_CV_E_MISSING_COOKIE = 3,
	MPC_CV_E_NOT_AUTHORIZED = 32,
	MPC_CV_E_UNSUPP_TCP_OPT = 33,
	MPC_CV_E_RESOURCE = 64,
	MPC_CV_E_NETWORK = 65,
	MPC_CV_E_CONN_RESET = 96,
	MPC_CV_E_DEST_UNREACH = 97,
};

/* Size limits of decoded fields (each bounded by the 1020-byte message). */
#define MPC_CV_OPTS_MAX		40	/* TCP option space */
#define MPC_CV_KINDS_MAX	64
#define MPC_CV_COOKIE_MAX	64
#define MPC_CV_ERRVAL_MAX	MPC_CV_MAX_LEN

/* A decoded Convert message. `present` has bit (1 << type) set for each
 * known TLV seen (types are < 64). */
struct mpc_cv_msg {
	uint8_t version;
	uint16_t total_len;		/* bytes, header included */
	uint64_t present;

	struct {
		uint16_t port;		/* host order */
		struct in6_addr addr;	/* IPv4-mapped for IPv4 */
		bool extended;		/* Length > 5 */
		uint8_t opts[MPC_CV_OPTS_MAX];
		uint8_t opts_len;	/* bytes of options, padding excluded */
	} connect;

	struct {
		uint8_t opts[MPC_CV_OPTS_MAX];
		uint8_t opts_len;	/* trailing zero padding excluded */
	} ext_tcp_hdr;

	struct {
		uint8_t kinds[MPC_CV_KINDS_MAX];
		uint8_t n_kinds;	/* zero padding excluded */
	} supp_ext;

	struct {
		uint8_t data[MPC_CV_COOKIE_MAX];
		uint8_t len;		/* bytes as received (padding kept) */
	} cookie;

	struct {
		uint8_t code;		/* enum mpc_cv_error */
		uint8_t value[MPC_CV_ERRVAL_MAX];
		uint16_t value_len;	/* bytes after the code octet */
	} error;
};

/*
 * Outcome of decoding. When decoding fails the caller (a converter) replies
 * with Error `reply_code`; `reset` means the RFC asks for a reset instead
 * (Total Length 0, §1.3). `detail` is a static string for logs and counters.
 */
struct mpc_cv_status {
	int reply_code;		/* enum mpc_cv_error, or -1 when none */
	bool reset;
	const char *detail;
};

/* Who is decoding: the rules differ (§1.4: a client resets on duplicate or
 * type-0 TLVs, a converter answers Error 1 or 2). */
enum mpc_cv_side {
	MPC_CV_SIDE_CONVERTER,	/* decoding a client's message */
	MPC_CV_SIDE_CLIENT,	/* decoding a converter's reply */
};

/*
 * Peek at the fixed header. Returns the full message length in bytes
 * (header included) when `len` >= 4 and the header is acceptable, 0 when
 * fewer than 4 bytes are available, or -1 with `st` set (bad version,
 * bad magic, Total Length 0).
 */
int mpc_cv_msg_len(const uint8_t *buf, size_t len, struct mpc_cv_status *st);

/*
 * Decode one complete message of exactly `len` bytes (the value returned by
 * mpc_cv_msg_len). Returns 0 and fills `msg`, or -1 with `st` set. Checks
 * every MUST of protocol.md §1: framing inside Total Length, zero-length
 * TLVs, duplicates, type 0, unknown types, Connect address class
 * (multicast, loopback, broadcast, unspecified), reserved fields, and the
 * option kinds a Connect or Supported TCP Extensions may carry.
 */
int mpc_cv_decode(const uint8_t *buf, size_t len, enum mpc_cv_side side,
		  struct mpc_cv_msg *msg, struct mpc_cv_status *st);

/*
 * Encoders write into `buf` (capacity `cap`) and return the bytes written,
 * or -1 if `cap` is too small or an argument is invalid. An encoded message
 * is a header followed by TLVs; build it with mpc_cv_begin(), the tlv
 * helpers, then mpc_cv_finish() which fills Total Length.
 */
struct mpc_cv_buf {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void mpc_cv_begin(struct mpc_cv_buf *b, uint8_t *buf, size_t cap);
void mpc_cv_put_info(struct mpc_cv_buf *b);
/* `opts` may be NULL/0 for a base Connect. */
void mpc_cv_put_connect(struct mpc_cv_buf *b, const struct in6_addr *addr, uint16_t port,
			const uint8_t *opts, size_t opts_len);
void mpc_cv_put_ext_tcp_hdr(struct mpc_cv_buf *b, const uint8_t *opts, size_t opts_len);
void mpc_cv_put_supp_ext(struct mpc_cv_buf *b, const uint8_t *kinds, size_t n);
void mpc_cv_put_cookie(struct mpc_cv_buf *b, const uint8_t *cookie, size_t len);
/* Error with a value (codes 0, 3, 32, 33, 64, 65, 96, 97): `value` is
 * written after the code octet and zero-padded. For codes 1 and 2 use
 * mpc_cv_put_error_echo(), which writes a zero octet then the echo. */
void mpc_cv_put_error(struct mpc_cv_buf *b, uint8_t code, const uint8_t *value, size_t vlen);
void mpc_cv_put_error_echo(struct mpc_cv_buf *b, uint8_t code, const uint8_t *msg, size_t mlen);
/* Returns total bytes, or -1 on overflow (or a message over 1020 bytes). */
int mpc_cv_finish(struct mpc_cv_buf *b);

/* Address helpers: IPv4 <-> IPv4-mapped. */
void mpc_cv_addr_from_v4(struct in6_addr *out, uint32_t v4_be);
bool mpc_cv_addr_is_v4(const struct in6_addr *a);
/* True for the classes a Connect TLV MUST NOT carry (§1.5): multicast,
 * broadcast, loopback, unspecified (v4 and v6, v4-mapped included). */
bool mpc_cv_addr_forbidden(const struct in6_addr *a);

const char *mpc_cv_error_name(int code);

#endif /* MPCONV_CONVERT_H */
