/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TCP and MPTCP option layouts that mpconv reads or writes on the wire.
 * Shared by the BPF parser and stamper and by the unit tests that build
 * packets. References are to ../shared/protocol.md (and the RFCs it digests).
 */
#ifndef MPCONV_WIRE_H
#define MPCONV_WIRE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* TCP option kinds (RFC 9293, RFC 7323, RFC 2018, RFC 8684, RFC 7413). */
#define TCPOPT_EOL_KIND 0
#define TCPOPT_NOP_KIND 1
#define TCPOPT_MSS_KIND 2
#define TCPOPT_WS_KIND 3
#define TCPOPT_SACKP_KIND 4
#define TCPOPT_TS_KIND 8
#define TCPOPT_MPTCP_KIND 30
#define TCPOPT_TFO_KIND 34

/* The TCP header holds at most 60 bytes: 20 fixed + 40 of options. */
#define MPC_TCP_HDR_MIN 20
#define MPC_TCP_OPT_MAX 40

/* MPTCP option subtypes (RFC 8684 §3, protocol.md §6). The subtype is the
 * high nibble of the third option byte. */
#define MPTCPOPT_MP_CAPABLE 0x0
#define MPTCPOPT_MP_JOIN 0x1
#define MPTCPOPT_DSS 0x2
#define MPTCPOPT_ADD_ADDR 0x3
#define MPTCPOPT_RM_ADDR 0x4
#define MPTCPOPT_MP_PRIO 0x5
#define MPTCPOPT_MP_FAIL 0x6
#define MPTCPOPT_MP_FASTCLOSE 0x7
#define MPTCPOPT_MP_TCPRST 0x8
#define MPTCPOPT_EXPERIMENTAL 0xf

/* MP_JOIN in a SYN is 12 bytes: kind, len, subtype|B, addr id, receiver's
 * token (32 bits), sender's random (32 bits) (RFC 8684 §3.2). */
#define MPC_MPJ_SYN_LEN 12
#define MPC_MPJ_TOKEN_OFF 4

/*
 * MP_PREFER_PROXY (draft-boucadair-mptcp-plain-mode-10 §5, protocol.md §2.2):
 *
 *   +---------------+---------------+-------+-----------------------+
 *   |  Kind = 30    |  Length = 4   |Subtype|  Reserved (12 bits)   |
 *   +---------------+---------------+-------+-----------------------+
 *
 * IANA never assigned the subtype. The default is 0xF (MP_EXPERIMENTAL,
 * RFC 8684's private-use subtype) rather than the drafts' squatted 0xE, so
 * a stock MPTCP stack that meets it treats it as an unknown experimental
 * option and ignores it. It is a load-time setting (mpc_prefer_subtype).
 * Reserved bits MUST be zero when sent and are ignored when received.
 */
#define MPC_PREFER_PROXY_LEN 4
#define MPC_PREFER_SUBTYPE_DEF MPTCPOPT_EXPERIMENTAL

struct mpc_opt_prefer_proxy {
	__u8 kind;    /* TCPOPT_MPTCP_KIND */
	__u8 len;     /* MPC_PREFER_PROXY_LEN */
	__u8 sub_rsv; /* subtype << 4, low nibble reserved = 0 */
	__u8 rsv;     /* reserved = 0 */
};
_Static_assert(sizeof(struct mpc_opt_prefer_proxy) == 4, "MP_PREFER_PROXY is 4 bytes");

/* Flags of one packet's parse (struct mpc_pkt.flags, mpc_xdp_meta.flags). */
#define MPC_PF_SYN (1u << 0)	/* SYN set */
#define MPC_PF_ACK (1u << 1)	/* ACK set */
#define MPC_PF_MPC (1u << 2)	/* MP_CAPABLE present */
#define MPC_PF_JOIN (1u << 3)	/* MP_JOIN present */
#define MPC_PF_PREFER (1u << 4) /* MP_PREFER_PROXY present */
#define MPC_PF_V6 (1u << 5)	/* IPv6 */
#define MPC_PF_RST (1u << 6)	/* RST set */
#define MPC_PF_FIN (1u << 7)	/* FIN set */

#endif /* MPCONV_WIRE_H */
