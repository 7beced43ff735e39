/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one packet parser of mpconv, shared by the XDP and tc programs.
 *
 * It takes a (data, data_end) window, so XDP passes ctx->data/data_end and
 * tc passes skb->data/data_end (pulling and parsing again when the headers
 * are not linear, see tc_lan). Every packet read is preceded by a bounds
 * check against data_end: the verifier demands it, and a truncated packet
 * must end in a reason code, never in a fault. TCP options are copied to a
 * per-CPU scratch map and walked there (mpc_parse_opts() says why).
 *
 * Verifier cost matters here: every program that includes this file pays
 * it. tc_lan, which parses twice, verifies in about 50K instructions.
 *
 * Result: MPC_R_UNSPEC (0) when the packet is TCP over IPv4/IPv6 and its
 * header and options parsed cleanly; otherwise the reason that ends
 * classification (not IP, fragment, truncated, malformed option, ...).
 */
#ifndef MPC_PARSE_BPF_H
#define MPC_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include <mpconv/maps.h>
#include <mpconv/wire.h>

/* MP_PREFER_PROXY subtype (wire.h explains the default). Load-time knob. */
const volatile __u8 mpc_prefer_subtype = MPC_PREFER_SUBTYPE_DEF;

/* IPv6 extension headers walked before giving up (hop-by-hop, routing,
 * destination options). Real SYNs carry none; the bound keeps the
 * verifier's state count small. */
#define MPC_V6_EXT_MAX 3

#define MPC_IP_MF 0x2000
#define MPC_IP_OFFSET 0x1fff

struct mpc_pkt {
	struct bpf_sock_tuple tuple; /* as the packet has it (network order) */
	__u32 tuple_len;	     /* sizeof tuple->ipv4 or ->ipv6 */
	__u8 saddr[16];		     /* IPv4-mapped for IPv4 */
	__u8 daddr[16];
	__u16 sport;  /* host order */
	__u16 dport;  /* host order */
	__u16 l3_off; /* from start of data */
	__u16 l4_off;
	__u16 l4_len;	   /* TCP header + payload, from the IP header */
	__u16 payload_len; /* TCP payload, from the IP header */
	__u8 thlen;	   /* TCP header length in bytes (doff * 4) */
	__u8 flags;	   /* MPC_PF_* */
	__u8 opt_used;	   /* option bytes up to the last non-NOP/EOL */
	__u8 prefer_off;   /* offset of MP_PREFER_PROXY in the TCP header */
	__u32 join_token;  /* MP_JOIN SYN receiver token, network order */
};

static __always_inline void mpc_map_v4(__u8 *dst, __be32 a)
{
	/* ::ffff:a.b.c.d, the same convention as RFC 8803 (protocol.md §1.5) */
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

/*
 * Scratch space for the option walk: the option bytes are copied here and
 * walked in this map value, not in the packet and not on the stack (see
 * mpc_parse_opts() for why). key 0 only; per CPU, and tc/XDP programs run
 * with bottom halves disabled, so no two walks on one CPU interleave
 * (BPF_PROG_TEST_RUN of an object that is also attached could: tests use
 * their own objects or write frames synchronously). Private to each object:
 * not pinned, nobody outside the program reads it. 72 bytes: indices are
 * masked with 0x3f and up to 4 bytes are read at once.
 */
struct mpc_optbuf {
	__u8 b[72];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mpc_optbuf);
} mpc_optbuf SEC(".maps");

/* mpc_opt_step() result when the options are over without a verdict. */
#define MPC_OPT_END (-1)

/*
 * One option at buf[*offp]: returns MPC_R_UNSPEC to go on, MPC_OPT_END when
 * the options are over, or the reason that ends the parse.
 */
static __always_inline int mpc_opt_step(const __u8 *buf, __u64 optlen, __u64 *offp,
					struct mpc_pkt *p)
{
	__u64 off = *offp, kind, len, next;
	__u8 sub;

	if (off >= optlen)
		return MPC_OPT_END;
	kind = buf[off & 0x3f];
	if (kind == TCPOPT_EOL_KIND)
		return MPC_OPT_END;
	if (kind == TCPOPT_NOP_KIND) {
		*offp = off + 1;
		return MPC_R_UNSPEC;
	}
	/* RFC 9293 §3.1: kind and length bytes both inside the header, the
	 * length covers them (>= 2), and the option may not run past the
	 * data offset. */
	if (off + 2 > optlen)
		return MPC_R_OPT_MALFORMED;
	len = buf[(off + 1) & 0x3f];
	next = off + len;
	if (len < 2 || next > optlen)
		return MPC_R_OPT_MALFORMED;
	*offp = next;
	p->opt_used = next;
	if (kind != TCPOPT_MPTCP_KIND)
		return MPC_R_UNSPEC;
	if (len < 3)
		return MPC_R_OPT_MALFORMED;
	sub = buf[(off + 2) & 0x3f] >> 4;
	if (sub == MPTCPOPT_MP_CAPABLE) {
		p->flags |= MPC_PF_MPC;
	} else if (sub == MPTCPOPT_MP_JOIN) {
		p->flags |= MPC_PF_JOIN;
		/* RFC 8684 §3.2: only the SYN form (12 bytes) carries the
		 * receiver's token. */
		if (len == MPC_MPJ_SYN_LEN)
			__builtin_memcpy(&p->join_token, &buf[(off + MPC_MPJ_TOKEN_OFF) & 0x3f], 4);
	} else if (sub == mpc_prefer_subtype && len == MPC_PREFER_PROXY_LEN) {
		/* plain-mode-10 §5: exactly 4 bytes; a longer option with the
		 * same subtype is someone else's experiment, not ours. */
		p->flags |= MPC_PF_PREFER;
		p->prefer_off = MPC_TCP_HDR_MIN + off;
	}
	return MPC_R_UNSPEC;
}

#define MPC_REP5(x) x x x x x
#define MPC_REP40(x) \
	MPC_REP5(x)  \
	MPC_REP5(x) MPC_REP5(x) MPC_REP5(x) MPC_REP5(x) MPC_REP5(x) MPC_REP5(x) MPC_REP5(x)

/*
 * Walk the TCP options of the header at `th` (p->thlen bytes): at most 40
 * steps, as each consumes one byte or more of the 40-byte option space (S9).
 *
 * The shape is forced by the verifier; the first two tries blew its
 * 1M-instruction limit or came close:
 *
 * - Walked in the packet, every option offset is a packet pointer whose
 *   checked range differs from path to path, so almost no states merge.
 * - Walked on the stack, a variable-offset stack read makes the offset a
 *   precise value, with the same effect; in a map value it stays an
 *   ordinary number, which states may differ in and still merge.
 * - As a loop (or a bpf_loop() callback), the verifier compares states of
 *   one loop by the ranges of every value, precise or not; unrolled, each
 *   step is its own code and compares only what matters. The unrolling is
 *   spelt out with a macro: clang's `#pragma unroll` gives up on this body,
 *   and it must work with every clang we build with.
 *
 * Result: about 50K verifier instructions for all of tc_lan (which parses
 * twice), against 200K-1M+ before, and straight-line code at run time.
 */
static __always_inline int mpc_parse_opts(void *data_end, struct tcphdr *th, struct mpc_pkt *p)
{
	__u8 *src = (__u8 *)(th + 1);
	/* 64-bit on purpose: with 32-bit types clang compares zero-extended
	 * copies, and the bounds the verifier learns never reach the
	 * variable it keeps. */
	__u64 optlen = p->thlen - MPC_TCP_HDR_MIN;
	struct mpc_optbuf *ob;
	__u64 off = 0;
	__u32 zero = 0;
	int i, r;

	/* The IP length already covers the header (mpc_parse_tcp); if the
	 * frame itself ends inside the option space, the header is cut. */
	if ((void *)(src + optlen) > data_end)
		return MPC_R_L4_TRUNC;
	ob = bpf_map_lookup_elem(&mpc_optbuf, &zero);
	if (!ob)
		return MPC_R_OPT_MALFORMED; /* cannot happen: key 0 exists */
					    /* optlen is a multiple of 4 (data offset in words) */
#pragma unroll
	for (i = 0; i < MPC_TCP_OPT_MAX / 4; i++) {
		/* the second test cannot fire after the check above, but the
		 * verifier does not relate src + 4 * i to src + optlen */
		if (4 * i >= optlen || (void *)(src + 4 * i + 4) > data_end)
			break;
		__builtin_memcpy(&ob->b[4 * i], src + 4 * i, 4);
	}

	MPC_REP40(r = mpc_opt_step(ob->b, optlen, &off, p); if (r) goto out;)
	return MPC_R_UNSPEC;
out:
	return r == MPC_OPT_END ? MPC_R_UNSPEC : r;
}

/* TCP header at p->l4_off, p->l4_len bytes long according to the IP header. */
static __always_inline int mpc_parse_tcp(void *data, void *data_end, struct mpc_pkt *p)
{
	struct tcphdr *th = data + p->l4_off;
	__u32 thlen;
	__u8 tf;

	if ((void *)(th + 1) > data_end)
		return MPC_R_L4_TRUNC;
	thlen = th->doff * 4;
	if (thlen < MPC_TCP_HDR_MIN || thlen > p->l4_len)
		return MPC_R_L4_TRUNC;
	p->thlen = thlen;
	p->payload_len = p->l4_len - thlen;
	p->sport = bpf_ntohs(th->source);
	p->dport = bpf_ntohs(th->dest);
	/* Branch-free on purpose: four `if (th->syn)` tests would split the
	 * verifier's walk into 16 paths whose flags are distinct constants,
	 * and the option walk would be verified once for each. */
	tf = ((__u8 *)th)[13]; /* CWR ECE URG ACK PSH RST SYN FIN */
	p->flags |= ((tf >> 1) & 1) * MPC_PF_SYN | ((tf >> 4) & 1) * MPC_PF_ACK |
		    ((tf >> 2) & 1) * MPC_PF_RST | (tf & 1) * MPC_PF_FIN;
	/* Every option any program acts on (MP_CAPABLE, MP_JOIN,
	 * MP_PREFER_PROXY) is read from a SYN without ACK only; on every
	 * other segment the walk would cost a per-CPU map copy and a dozen
	 * steps (timestamps) per packet for nothing, and a malformed option
	 * there is the endpoints' business, not a classifier's. */
	if (thlen == MPC_TCP_HDR_MIN || (tf & 0x12) != 0x02)
		return MPC_R_UNSPEC;
	return mpc_parse_opts(data_end, th, p);
}

/* IPv4 header at off: addresses, and where the TCP header is. */
static __always_inline int mpc_parse_v4(void *data, void *data_end, __u32 off, struct mpc_pkt *p)
{
	struct iphdr *iph = data + off;
	__u32 ihl, tot;

	if ((void *)(iph + 1) > data_end)
		return MPC_R_L3_TRUNC;
	ihl = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (iph->version != 4 || ihl < sizeof(*iph) || tot < ihl)
		return MPC_R_L3_TRUNC;
	if (data + off + ihl > data_end)
		return MPC_R_L3_TRUNC;
	/* Any fragment, first or later, passes: only a whole datagram has
	 * a TCP header we can trust. */
	if (iph->frag_off & bpf_htons(MPC_IP_MF | MPC_IP_OFFSET))
		return MPC_R_FRAG;
	if (iph->protocol != IPPROTO_TCP)
		return MPC_R_NOT_TCP;
	p->l3_off = off;
	p->l4_off = off + ihl;
	p->l4_len = tot - ihl;
	p->tuple.ipv4.saddr = iph->saddr;
	p->tuple.ipv4.daddr = iph->daddr;
	p->tuple_len = sizeof(p->tuple.ipv4);
	mpc_map_v4(p->saddr, iph->saddr);
	mpc_map_v4(p->daddr, iph->daddr);
	return MPC_R_UNSPEC;
}

/* IPv6 header at off, then up to MPC_V6_EXT_MAX extension headers. */
static __always_inline int mpc_parse_v6(void *data, void *data_end, __u32 off, struct mpc_pkt *p)
{
	struct ipv6hdr *ip6 = data + off;
	__u32 l4_off = off + sizeof(*ip6);
	__u32 plen, ext;
	__u8 nexthdr;
	int i;

	if ((void *)(ip6 + 1) > data_end)
		return MPC_R_L3_TRUNC;
	if (ip6->version != 6)
		return MPC_R_L3_TRUNC;
	plen = bpf_ntohs(ip6->payload_len);
	nexthdr = ip6->nexthdr;
	p->flags |= MPC_PF_V6;
	p->l3_off = off;

#pragma unroll
	for (i = 0; i < MPC_V6_EXT_MAX; i++) {
		struct ipv6_opt_hdr *eh;

		if (nexthdr == IPPROTO_TCP)
			break;
		if (nexthdr == IPPROTO_FRAGMENT)
			return MPC_R_FRAG;
		/* AH (RFC 4302) may sit in front of TCP too, but its length
		 * is counted in 4-byte units and the TCP header behind it is
		 * authenticated data we must not touch: unsupported. */
		if (nexthdr == IPPROTO_AH)
			return MPC_R_V6_EXTHDR;
		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS)
			return MPC_R_NOT_TCP;
		eh = data + l4_off;
		if ((void *)(eh + 1) > data_end)
			return MPC_R_L3_TRUNC;
		nexthdr = eh->nexthdr;
		l4_off += (eh->hdrlen + 1) * 8;
	}
	if (nexthdr != IPPROTO_TCP)
		return MPC_R_V6_EXTHDR;
	ext = l4_off - off - sizeof(*ip6);
	if (ext > plen)
		return MPC_R_L3_TRUNC;
	p->l4_off = l4_off;
	p->l4_len = plen - ext;
	__builtin_memcpy(p->tuple.ipv6.saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->tuple.ipv6.daddr, &ip6->daddr, 16);
	p->tuple_len = sizeof(p->tuple.ipv6);
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	return MPC_R_UNSPEC;
}

/* Parse an Ethernet frame. The TCP header is parsed once, after the
 * family-specific part, so the option walk exists once in the program. */
static __always_inline int mpc_parse(void *data, void *data_end, struct mpc_pkt *p)
{
	struct ethhdr *eth = data;
	int r;

	__builtin_memset(p, 0, sizeof(*p));
	if ((void *)(eth + 1) > data_end)
		return MPC_R_NOT_IP;
	switch (eth->h_proto) {
	case bpf_htons(ETH_P_IP):
		r = mpc_parse_v4(data, data_end, sizeof(*eth), p);
		break;
	case bpf_htons(ETH_P_IPV6):
		r = mpc_parse_v6(data, data_end, sizeof(*eth), p);
		break;
	case bpf_htons(ETH_P_8021Q):
	case bpf_htons(ETH_P_8021AD):
		/* In tc the stack has already moved a single tag to
		 * skb->vlan_tci; a tag still in the data means QinQ or a
		 * trunk we were not attached to handle. Leave it alone. */
		return MPC_R_VLAN;
	default:
		return MPC_R_NOT_IP;
	}
	if (r != MPC_R_UNSPEC)
		return r;
	r = mpc_parse_tcp(data, data_end, p);
	if (r != MPC_R_UNSPEC)
		return r;
	/* The ports sit at different places of the v4 and v6 tuples. Test
	 * tuple_len, not MPC_PF_V6: a branch on flags would make the
	 * verifier track their exact value through the option walk. */
	if (p->tuple_len == sizeof(p->tuple.ipv6)) {
		p->tuple.ipv6.sport = bpf_htons(p->sport);
		p->tuple.ipv6.dport = bpf_htons(p->dport);
	} else {
		p->tuple.ipv4.sport = bpf_htons(p->sport);
		p->tuple.ipv4.dport = bpf_htons(p->dport);
	}
	return MPC_R_UNSPEC;
}

#endif /* MPC_PARSE_BPF_H */
