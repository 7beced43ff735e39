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
#define MPC_CV_VERSION 1
#define MPC_CV_MAGIC 0x2263 /* = 8803 decimal */
#define MPC_CV_HDR_LEN 4
#define MPC_CV_MAX_LEN (255 * 4) /* Total Length is 8 bits of words */

struct mpc_cv_hdr {
	uint8_t version;
	uint8_t total_len; /* 32-bit words, header included */
	uint16_t magic;	   /* network order */
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
	uint16_t port; /* network order */
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
#define MPC_CV_OPTS_MAX 40 /* TCP option space */
#define MPC_CV_KINDS_MAX 64
#define MPC_CV_COOKIE_MAX 64
#define MPC_CV_ERRVAL_MAX MPC_CV_MAX_LEN

/* Bit of `present` for TLV type t (every type of enum mpc_cv_type is < 64). */
#define MPC_CV_TLV_BIT(t) (1ULL << (t))

/*
 * A decoded Convert message. `present` has MPC_CV_TLV_BIT(type) set for each
 * TLV seen; only the members of present TLVs are meaningful.
 */
struct mpc_cv_msg {
	uint8_t version;
	uint16_t total_len; /* bytes, header included */
	uint64_t present;

	struct {
		uint16_t port;	      /* host order, never 0 */
		struct in6_addr addr; /* IPv4-mapped for IPv4 */
		bool extended;	      /* Length > 5 on the wire */
		/* Options to act on: kinds 2, 3, 5 removed (MUST be ignored,
		 * §1.5), padding removed; each is {kind, len, value}. */
		uint8_t opts[MPC_CV_OPTS_MAX];
		uint8_t opts_len;
	} connect;

	struct {
		/* The server's SYN-ACK options, up to (excluding) an EOL or the
		 * end of the TLV: trailing padding removed, NOPs kept. */
		uint8_t opts[MPC_CV_OPTS_MAX];
		uint8_t opts_len;
	} ext_tcp_hdr;

	struct {
		uint8_t kinds[MPC_CV_KINDS_MAX];
		uint8_t n_kinds; /* zero padding excluded */
	} supp_ext;

	struct {
		uint8_t data[MPC_CV_COOKIE_MAX];
		uint8_t len; /* bytes as received (padding kept) */
	} cookie;

	struct {
		uint8_t code; /* enum mpc_cv_error */
		/* Bytes after the code octet, padding included. For codes 1
		 * and 2 value[0] is the zero octet and the echo starts at
		 * value[1]. */
		uint8_t value[MPC_CV_ERRVAL_MAX];
		uint16_t value_len;
	} error;
};

/*
 * Outcome of decoding. `detail` is always a static string (for logs and
 * counters), "ok" on success.
 *
 * Converter side (decoding a client's message): on failure either
 * `reply_code` is the Error code to answer with (then close, §1.2), or
 * `reset` is true and reply_code is -1 (Total Length 0, §1.3).
 *
 * Client side (decoding a converter's reply): a client never sends Error
 * TLVs, so every failure sets `reset` (and reply_code -1): the client MUST
 * reset the connection (§1.4 duplicate/type 0; we extend that to every
 * malformed reply). mpc_cv_msg_len() has no side: a client treats any
 * failure it reports as a reset.
 *
 * On success reply_code is -1 and reset is false.
 */
struct mpc_cv_status {
	int reply_code; /* enum mpc_cv_error, or -1 when none */
	bool reset;
	const char *detail;
};

/* Who is decoding: the rules differ (§1.4: a client resets on duplicate or
 * type-0 TLVs, a converter answers Error 1 or 2), and so do the TLVs each
 * side may receive (table in §1.4):
 *   converter accepts Info, Connect, Cookie;
 *   client accepts Extended TCP Header, Supported TCP Extensions, Error.
 * A TLV of a known type sent by the wrong side is treated like an unknown
 * type: Unsupported Message (2) at the converter, a reset at the client.
 * (A converter-sent Connect for incoming connections, §1.1, is not
 * supported: this project converts outgoing connections only.) */
enum mpc_cv_side {
	MPC_CV_SIDE_CONVERTER, /* decoding a client's message */
	MPC_CV_SIDE_CLIENT,    /* decoding a converter's reply */
};

/*
 * Peek at the fixed header. Returns the full message length in bytes
 * (header included, a multiple of 4 in 4..1020) when `len` >= 4 and the
 * header is acceptable, 0 when fewer than 4 bytes are available, or -1
 * with `st` set. Checks in this order: magic (not 0x2263 -> Malformed, 1:
 * not a Convert message of any version), version (not 1 -> Unsupported
 * Version, 0), Total Length 0 (-> reset). `st` may be NULL.
 */
int mpc_cv_msg_len(const uint8_t *buf, size_t len, struct mpc_cv_status *st);

/*
 * Decode the message at the start of `buf`; `len` is the number of bytes
 * available. Fewer than Total Length bytes -> Malformed. Bytes past Total
 * Length are SYN/application data (§1.2) and are not examined. Returns 0
 * and fills `msg`, or -1 with `st` set (`st` may be NULL).
 *
 * Checks every MUST of protocol.md §1, framing first over the whole message
 * (a TLV of Length 0 or running past Total Length -> Malformed), then each
 * TLV in order, stopping at the first failure:
 *   type 0 -> Unsupported Message; unknown type or a type this side must
 *   not receive -> Unsupported Message; duplicate -> Malformed;
 *   Info not exactly `01 01 00 00` -> Malformed;
 *   Connect shorter than 20 bytes, port 0, forbidden address class
 *   (mpc_cv_addr_forbidden) -> Malformed; Extended Connect options: kind
 *   0/1, option length < 2 or past the TLV, a zero run that is not just
 *   the (< 4 byte) padding, or more than 40 bytes of kept options ->
 *   Malformed; kinds 2, 3, 5 are dropped from msg->connect.opts;
 *   Cookie: Length 1 (no cookie), non-zero Zero field, or more than 64
 *   bytes -> Malformed;
 *   Supported TCP Extensions: kinds 1, 2, 3, 5, 29 or a zero followed by a
 *   non-zero kind, more than 64 kinds -> malformed (reset);
 *   Extended TCP Header: an option past the TLV or more than 40 bytes of
 *   options -> malformed (reset).
 * Leniency (documented choices): the Unassigned 16 bits of Supported TCP
 * Extensions and Extended TCP Header are ignored on receipt (MUST be 0
 * when sent; ignoring them keeps a future assignment compatible); an
 * Error TLV may carry any code; the zero octet of an echo is not checked.
 * A message with no TLV at all decodes fine: whether a Connect or Info is
 * required is the caller's policy (check msg->present).
 */
int mpc_cv_decode(const uint8_t *buf, size_t len, enum mpc_cv_side side, struct mpc_cv_msg *msg,
		  struct mpc_cv_status *st);

/*
 * Encoders write into `buf` (capacity `cap`). An encoded message is a
 * header followed by TLVs; build it with mpc_cv_begin(), the put helpers,
 * then mpc_cv_finish() which fills Total Length. A put that would not fit
 * in `cap` or in the 1020-byte message limit, or has an invalid argument,
 * sets `overflow` and writes nothing; finish() then fails. Every value is
 * zero-padded to 32 bits. The encoders do not police contents (tests use
 * them to build invalid messages too).
 */
struct mpc_cv_buf {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void mpc_cv_begin(struct mpc_cv_buf *b, uint8_t *buf, size_t cap);
void mpc_cv_put_info(struct mpc_cv_buf *b);
/* `opts` may be NULL/0 for a base Connect; else an Extended Connect. */
void mpc_cv_put_connect(struct mpc_cv_buf *b, const struct in6_addr *addr, uint16_t port,
			const uint8_t *opts, size_t opts_len);
void mpc_cv_put_ext_tcp_hdr(struct mpc_cv_buf *b, const uint8_t *opts, size_t opts_len);
void mpc_cv_put_supp_ext(struct mpc_cv_buf *b, const uint8_t *kinds, size_t n);
/* `len` must be > 0. */
void mpc_cv_put_cookie(struct mpc_cv_buf *b, const uint8_t *cookie, size_t len);
/* Error with a value (codes 0, 3, 32, 33, 64, 65, 96, 97): `value` is
 * written after the code octet and zero-padded; vlen 0 gives a single zero
 * value octet ("Value MUST be 0"). For codes 1 and 2 use
 * mpc_cv_put_error_echo(), which writes a zero octet then the echo. */
void mpc_cv_put_error(struct mpc_cv_buf *b, uint8_t code, const uint8_t *value, size_t vlen);
/* The echo is truncated to what fits in min(cap, 1020) bytes: the RFC asks
 * for the received message, but a reply cannot exceed 255 words; the first
 * bytes (header, first TLVs) are the useful part. Overflows only if not even
 * the 4-byte TLV head fits. */
void mpc_cv_put_error_echo(struct mpc_cv_buf *b, uint8_t code, const uint8_t *msg, size_t mlen);
/* Returns total bytes, or -1 on overflow (or a message over 1020 bytes). */
int mpc_cv_finish(struct mpc_cv_buf *b);

/*
 * Build a whole Error message (header + one Error TLV with `value`) into
 * `out`. Returns its length or -1 when it does not fit.
 */
int mpc_cv_build_error(uint8_t *out, size_t cap, uint8_t code, const uint8_t *value, size_t vlen);

/*
 * Build the converter's canonical reply to a failed decode: `rx`/`rxlen` are
 * the bytes received (the SYN payload or the start of the stream), `st` the
 * status from mpc_cv_msg_len() or mpc_cv_decode(). Value per §1.6:
 *   0 Unsupported Version -> the supported version list (one octet, 1);
 *   1/2 Malformed / Unsupported Message -> zero octet + echo of the received
 *     message: its Total Length bytes when the header is valid (never the
 *     SYN data after it), else all of rx; truncated to fit 1020 bytes;
 *   any other code -> a zero value octet.
 * Returns the length written, or -1 when there is nothing to send
 * (st->reset, reply_code < 0) or `cap` is too small (8 bytes always fit
 * codes other than 1/2).
 */
int mpc_cv_build_error_reply(uint8_t *out, size_t cap, const uint8_t *rx, size_t rxlen,
			     const struct mpc_cv_status *st);

/* Address helpers: IPv4 <-> IPv4-mapped. */
void mpc_cv_addr_from_v4(struct in6_addr *out, uint32_t v4_be);
bool mpc_cv_addr_is_v4(const struct in6_addr *a);
/* True for the classes a Connect TLV MUST NOT carry (§1.5, RFC 6890):
 * multicast (224/4, ff00::/8), limited broadcast (255.255.255.255),
 * loopback (127/8, ::1), unspecified (0.0.0.0/8 "this network" and ::).
 * IPv4 classes apply to IPv4-mapped addresses. */
bool mpc_cv_addr_forbidden(const struct in6_addr *a);

/* Stable lowercase names for logs and test output: "malformed-message",
 * "destination-unreachable", ...; "unknown" for unassigned codes. */
const char *mpc_cv_error_name(int code);
/* "info", "connect", ...; "unknown" otherwise. */
const char *mpc_cv_tlv_name(int type);

#endif /* MPCONV_CONVERT_H */
