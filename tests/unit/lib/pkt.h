/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Packet builder for BPF unit tests.
 *
 * Describe a frame with a designated initializer, build it, run a program
 * on it with BPF_PROG_TEST_RUN, and check what came out:
 *
 *	static const struct pkt_desc syn = {
 *		.src = "192.0.2.2", .dst = "198.51.100.1",
 *		.sport = 40000, .dport = 80, .tcp_flags = PKT_TCP_SYN,
 *		PKT_OPTS(PKT_OPT_MSS(1460), PKT_OPT_MPC_SYN),
 *	};
 *	uint8_t in[PKT_MAX], out[PKT_MAX];
 *	struct __sk_buff skb = { .mark = 1 };
 *	int len = pkt_build(&syn, in, sizeof(in));
 *	struct pkt_run r = { .prog_fd = fd, .in = in, .in_len = len,
 *			     .out = out, .out_cap = sizeof(out),
 *			     .ctx = &skb, .ctx_size = sizeof(skb) };
 *	err = pkt_run(&r);	// r.retval, r.out_len, skb.mark (ctx_out)
 *
 * By default every length and checksum is right: IPv4 header checksum,
 * TCP/UDP/ICMP checksums with the v4/v6 pseudo-header, IPv4 tot_len and
 * IHL, IPv6 payload_len, TCP data offset. Any of them can be forced to a
 * wrong value (PKT_SET, PKT_F_BAD_*) to build the malformed packets a
 * parser must survive; `truncate` cuts the finished frame.
 *
 * Layout built (every part optional except Ethernet):
 *	Ethernet [VLAN tags] IPv4 [options] | IPv6 [extension headers]
 *	TCP [options] | UDP | ICMP echo | ICMPv6 echo | raw, then payload
 * or, with eth_type = ETH_P_ARP, an ARP request; with any other
 * non-IP eth_type, the payload right after the Ethernet header.
 *
 * All integers in struct pkt_desc are host order; the builder writes
 * network order. Functions return a length or 0 on success, -errno on
 * error; they never abort.
 */
#ifndef MPC_TEST_PKT_H
#define MPC_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest frame pkt_build() writes; a convenient buffer size. */
#define PKT_MAX 2048
#define PKT_VLAN_MAX 2
#define PKT_EXT_MAX 6
/* TCP option bytes a descriptor can carry (a forced doff of 15 holds 40;
 * more bytes make sense only as a deliberately overrunning header). */
#define PKT_OPTS_MAX 60

/*
 * Length fields (ihl, tot_len, payload_len, doff) are computed when left
 * 0. PKT_SET(v) forces the raw field value v, including 0. ihl and doff
 * are in 4-byte words, as on the wire; tot_len/payload_len in bytes.
 */
#define PKT_FORCED 0x40000000
#define PKT_SET(v) ((int)(PKT_FORCED | ((unsigned int)(v) & 0xffffu)))

/* TCP flags (tcp_flags), the wire bit positions. */
#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10
#define PKT_TCP_URG 0x20

/* IPv4 frag_off (host order): flags and offset in 8-byte units. */
#define PKT_IP_DF 0x4000
#define PKT_IP_MF 0x2000

/* IPv6 fragment header `frag` field: offset in 8-byte units << 3, M bit. */
#define PKT_V6_FRAG(off8, more) ((uint16_t)(((off8) << 3) | ((more) ? 1 : 0)))

/* Option byte sequences, for PKT_OPTS(...) or your own arrays. */
#define PKT_OPT_EOL 0
#define PKT_OPT_NOP 1
#define PKT_OPT_MSS(m) 2, 4, (((m) >> 8) & 0xff), ((m) & 0xff)
#define PKT_OPT_WS(s) 3, 3, (s)
#define PKT_OPT_SACKP 4, 2
#define PKT_OPT_TS(v, e)                                                              \
	8, 10, (((v) >> 24) & 0xff), (((v) >> 16) & 0xff), (((v) >> 8) & 0xff),       \
		((v) & 0xff), (((e) >> 24) & 0xff), (((e) >> 16) & 0xff),              \
		(((e) >> 8) & 0xff), ((e) & 0xff)
/* MP_CAPABLE in a SYN, MPTCP v1 (RFC 8684 §3.1): length 4, version 1,
 * flag H (HMAC-SHA256), as Linux sends it. */
#define PKT_OPT_MPC_SYN 30, 4, 0x01, 0x01
/* MP_JOIN in a SYN (RFC 8684 §3.2): 12 bytes, backup bit b, address id,
 * receiver's token and sender's random number (32-bit, big endian). */
#define PKT_OPT_MPJ_SYN(b, id, tok, rnd)                                              \
	30, 12, (0x10 | ((b) ? 1 : 0)), (id), (((tok) >> 24) & 0xff),                  \
		(((tok) >> 16) & 0xff), (((tok) >> 8) & 0xff), ((tok) & 0xff),         \
		(((rnd) >> 24) & 0xff), (((rnd) >> 16) & 0xff), (((rnd) >> 8) & 0xff), \
		((rnd) & 0xff)
/* MP_PREFER_PROXY (include/mpconv/wire.h): 4 bytes, subtype `sub`. */
#define PKT_OPT_PREFER(sub) 30, 4, (((sub) & 0xf) << 4), 0

/* The usual Linux SYN options: MSS, SACK-permitted + timestamps, NOP +
 * window scale (20 bytes). */
#define PKT_OPT_LINUX_SYN                                                             \
	PKT_OPT_MSS(1460), PKT_OPT_SACKP, PKT_OPT_TS(0x01020304, 0), PKT_OPT_NOP,      \
		PKT_OPT_WS(7)

/* Set .opts/.opts_len from a byte list: PKT_OPTS(PKT_OPT_MSS(1460), 1, 1). */
#define PKT_OPTS(...)                                                                 \
	.opts = (const uint8_t[]){ __VA_ARGS__ },                                      \
	.opts_len = sizeof((const uint8_t[]){ __VA_ARGS__ })
/* Same for the payload. */
#define PKT_DATA(...)                                                                 \
	.data = (const uint8_t[]){ __VA_ARGS__ },                                      \
	.data_len = sizeof((const uint8_t[]){ __VA_ARGS__ })

/* Flags for pkt_desc.flags. */
enum {
	PKT_F_V6 = 1 << 0,		/* IPv6 default addresses (src/dst NULL) */
	PKT_F_BAD_IP_CSUM = 1 << 1,	/* IPv4 header checksum off by one bit */
	PKT_F_BAD_L4_CSUM = 1 << 2,	/* L4 checksum off by one bit */
	PKT_F_NO_L4_CSUM = 1 << 3,	/* L4 checksum left 0 */
};

struct pkt_vlan {
	uint16_t tpid;			/* ETH_P_8021Q (0x8100) or ETH_P_8021AD (0x88a8) */
	uint16_t tci;			/* PCP | DEI | VID */
};

/*
 * One IPv6 extension header. HOPOPTS/DSTOPTS are filled with padding
 * options (Pad1/PadN), ROUTING is type 0 with segments left 0, FRAGMENT
 * is the 8-byte fragment header; any other type is written as a generic
 * (next header, length) header padded with zeros.
 */
struct pkt_v6ext {
	uint8_t type;			/* IPPROTO_HOPOPTS, _ROUTING, _DSTOPTS, ... */
	uint8_t len;			/* bytes, multiple of 8; 0 = 8; FRAGMENT: 8 */
	uint16_t frag;			/* FRAGMENT only: PKT_V6_FRAG(offset, more) */
	uint32_t frag_id;		/* FRAGMENT only: identification */
};

struct pkt_desc {
	/* Ethernet. All-zero MACs get 02:00:00:00:00:02 (dst) / :01 (src). */
	uint8_t eth_dst[6];
	uint8_t eth_src[6];
	uint16_t eth_type;		/* 0 = IPv4/IPv6 from the addresses */
	uint8_t n_vlan;			/* tags between the MACs and eth_type */
	struct pkt_vlan vlan[PKT_VLAN_MAX];

	/* IP. The family comes from the literal addresses ("a.b.c.d" or
	 * an IPv6 literal; both must agree). NULL takes 192.0.2.2 ->
	 * 198.51.100.1, or 2001:db8::2 -> 2001:db8:1::1 with PKT_F_V6. */
	const char *src;
	const char *dst;
	uint8_t proto;			/* 0 = IPPROTO_TCP */
	uint8_t ttl;			/* 0 = 64 (IPv6 hop limit too) */
	uint8_t tos;			/* IPv4 TOS / IPv6 traffic class */
	uint16_t ip_id;
	uint16_t frag_off;		/* IPv4: PKT_IP_MF | PKT_IP_DF | offset (8-byte units) */
	const uint8_t *ip_opts;		/* raw IPv4 option bytes, caller pads to 4 */
	uint8_t ip_opts_len;
	int ihl;			/* 0 = computed, PKT_SET(words) forces */
	int tot_len;			/* IPv4; 0 = computed, PKT_SET(bytes) forces */
	int payload_len;		/* IPv6; 0 = computed, PKT_SET(bytes) forces */
	uint32_t flow_label;		/* IPv6 */
	uint8_t n_ext;			/* IPv6 extension headers, in order */
	struct pkt_v6ext ext[PKT_EXT_MAX];

	/* TCP (also sport/dport of UDP). */
	uint16_t sport;			/* 0 = 40000 */
	uint16_t dport;			/* 0 = 80 */
	uint32_t seq;
	uint32_t ack;
	uint8_t tcp_flags;		/* PKT_TCP_* */
	uint16_t window;		/* 0 = 65535 */
	uint16_t urg_ptr;
	/* Raw option bytes, written as given and padded with EOL (0) up to a
	 * multiple of 4; nothing is validated, so truncated or overrunning
	 * options are built just as easily as good ones. */
	const uint8_t *opts;
	uint8_t opts_len;
	int doff;			/* 0 = computed, PKT_SET(words) forces */

	/* Payload after the L4 header (after Ethernet for a raw eth_type).
	 * data NULL with data_len > 0: bytes 0, 1, 2, ... */
	const void *data;
	uint16_t data_len;

	uint32_t flags;			/* PKT_F_* */
	uint16_t truncate;		/* cut the finished frame to this many bytes; 0 = no */
};

/* Build the frame into buf. Returns its length, or -EINVAL (bad address,
 * too many options for a computed doff, ...) or -ENOSPC (cap too small). */
int pkt_build(const struct pkt_desc *d, void *buf, size_t cap);

/*
 * Where the headers of a frame are, as a receiver reads it: VLAN tags
 * skipped, IPv6 extension headers walked (up to PKT_EXT_MAX, stopping at
 * a fragment header). Lengths come from the IP header, clamped to the
 * frame. Returns 0, or -EINVAL when the frame has no complete IP header.
 */
struct pkt_info {
	int family;			/* AF_INET or AF_INET6 */
	uint16_t eth_type;		/* after VLAN tags */
	uint32_t l3_off;		/* IP header */
	uint32_t l4_off;		/* L4 header (after IPv4 options / v6 ext headers) */
	uint32_t l4_len;		/* L4 bytes per the IP header, clamped to the frame */
	uint8_t proto;			/* final protocol / next header */
	bool frag;			/* IPv4 MF/offset set, or v6 fragment header seen */
};
int pkt_parse(const void *frame, size_t len, struct pkt_info *pi);

/* True when the IPv4 header checksum of the frame verifies. False for
 * IPv6 and for frames without a complete IPv4 header. */
bool pkt_ip4_csum_ok(const void *frame, size_t len);
/* True when the TCP, UDP, ICMP or ICMPv6 checksum verifies over the
 * L4 bytes the IP header announces (v4/v6 pseudo-header as fits). */
bool pkt_l4_csum_ok(const void *frame, size_t len);

/* Offset in the frame of the first TCP option of this kind (and, for
 * kind 30, of this MPTCP subtype; subtype < 0 = any), -ENOENT if absent,
 * -EINVAL if the frame has no TCP header. */
int pkt_tcp_opt_find(const void *frame, size_t len, uint8_t kind, int subtype);

/* The 16-bit ones' complement sum used by IP checksums, folded. Chain
 * partial sums by passing the previous result (unfolded ok) as `sum`. */
uint32_t pkt_csum_add(uint32_t sum, const void *buf, size_t len);
uint16_t pkt_csum_fold(uint32_t sum);

/*
 * Run a program once (or `repeat` times) with BPF_PROG_TEST_RUN.
 * ctx is optional and used both ways: struct __sk_buff for tc programs
 * (mark, priority, cb[], ifindex, ... in; what the program left out),
 * struct xdp_md for XDP. out is optional: the packet as the program left
 * it, out_len bytes (-ENOSPC if it did not fit in out_cap).
 */
struct pkt_run {
	int prog_fd;
	const void *in;
	uint32_t in_len;
	void *out;			/* optional */
	uint32_t out_cap;
	void *ctx;			/* optional, in and out */
	uint32_t ctx_size;
	uint32_t repeat;		/* 0 = once */
	/* results */
	uint32_t out_len;
	uint32_t retval;		/* the program's return value */
	uint32_t duration;		/* ns per run, averaged by the kernel */
};
int pkt_run(struct pkt_run *r);

/* Format a frame in one line ("v4 TCP 192.0.2.2:40000 > ... [S] optlen 4")
 * for diagnostics. Returns buf. */
const char *pkt_str(const void *frame, size_t len, char *buf, size_t cap);

#endif /* MPC_TEST_PKT_H */
