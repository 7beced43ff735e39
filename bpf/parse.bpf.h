/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one packet parser of mpconv, shared by the XDP and tc programs.
 *
 * It takes a (data, data_end) window, so XDP passes ctx->data/data_end and
 * tc passes skb->data/data_end after bpf_skb_pull_data(). Every read is
 * preceded by a bounds check against data_end: the verifier demands it,
 * and a truncated packet must end in a reason code, never in a fault.
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
	struct bpf_sock_tuple tuple;	/* as the packet has it (network order) */
	__u32 tuple_len;		/* sizeof tuple->ipv4 or ->ipv6 */
	__u8 saddr[16];			/* IPv4-mapped for IPv4 */
	__u8 daddr[16];
	__u16 sport;			/* host order */
	__u16 dport;			/* host order */
	__u16 l3_off;			/* from start of data */
	__u16 l4_off;
	__u16 l4_len;			/* TCP header + payload, from the IP header */
	__u16 payload_len;		/* TCP payload, from the IP header */
	__u8 thlen;			/* TCP header length in bytes (doff * 4) */
	__u8 flags;			/* MPC_PF_* */
	__u8 opt_used;			/* option bytes up to the last non-NOP/EOL */
	__u8 prefer_off;		/* offset of MP_PREFER_PROXY in the TCP header */
	__u32 join_token;		/* MP_JOIN SYN receiver token, network order */
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
 * Walk the TCP options of the header at `th` (thlen bytes).
 *
 * The loop has no iteration counter on purpose. Each step consumes at least
 * one byte and the walk stops at optlen <= 40, so it ends within 40 steps
 * (S9) and the verifier proves that by walking it. A counter compared with
 * a constant would be a precise register that differs at every iteration,
 * so the verifier could never prune one path's loop-head state against
 * another's; with the option kinds branching 7 ways per step that blew the
 * 1M-instruction limit. Without it, states that only differ in how they
 * reached the same option offset merge.
 */
static __always_inline int mpc_parse_opts(void *data_end, struct tcphdr *th, struct mpc_pkt *p)
{
	__u8 *opts = (__u8 *)(th + 1);
	/* 64-bit on purpose: with __u32, clang keeps 64-bit sums and
	 * compares zero-extended copies, so the bounds the verifier learns
	 * from a comparison never reach the offset it keeps. */
	__u64 optlen = p->thlen - MPC_TCP_HDR_MIN;
	__u64 off = 0;

	while (off < optlen) {
		__u64 kind, len, next;
		__u8 *o;

		/* off < optlen <= 40; the mask lets the verifier see it too */
		o = opts + (off & 0x3f);
		if ((void *)(o + 1) > data_end)
			return MPC_R_L4_TRUNC;
		kind = o[0];
		if (kind == TCPOPT_EOL_KIND)
			break;
		if (kind == TCPOPT_NOP_KIND) {
			off++;
			continue;
		}
		/* RFC 9293 §3.1: kind and length bytes both inside the
		 * header, length covers them (>= 2) and the option may not
		 * run past the data offset. */
		if (off + 2 > optlen)
			return MPC_R_OPT_MALFORMED;
		if ((void *)(o + 2) > data_end)
			return MPC_R_L4_TRUNC;
		len = o[1];
		next = off + len;
		if (len < 2 || next > optlen)
			return MPC_R_OPT_MALFORMED;
		if (kind == TCPOPT_MPTCP_KIND) {
			__u8 sub;

			if (len < 3)
				return MPC_R_OPT_MALFORMED;
			if ((void *)(o + 3) > data_end)
				return MPC_R_L4_TRUNC;
			sub = o[2] >> 4;
			if (sub == MPTCPOPT_MP_CAPABLE) {
				p->flags |= MPC_PF_MPC;
			} else if (sub == MPTCPOPT_MP_JOIN) {
				p->flags |= MPC_PF_JOIN;
				/* RFC 8684 §3.2: only the SYN form (12 bytes)
				 * carries the receiver's token. */
				if (len == MPC_MPJ_SYN_LEN) {
					if ((void *)(o + MPC_MPJ_SYN_LEN) > data_end)
						return MPC_R_L4_TRUNC;
					__builtin_memcpy(&p->join_token, o + MPC_MPJ_TOKEN_OFF, 4);
				}
			} else if (sub == mpc_prefer_subtype && len == MPC_PREFER_PROXY_LEN) {
				/* plain-mode-10 §5: exactly 4 bytes; a longer
				 * option with the same subtype is someone else's
				 * experiment, not ours. */
				p->flags |= MPC_PF_PREFER;
				p->prefer_off = MPC_TCP_HDR_MIN + off;
			}
		}
		off = next;
		p->opt_used = off;
	}
	return MPC_R_UNSPEC;
}

static __always_inline int mpc_parse_tcp(void *data, void *data_end, __u32 l4_off,
					 __u32 l4_len, struct mpc_pkt *p)
{
	struct tcphdr *th = data + l4_off;
	__u32 thlen;
	__u8 tf;

	if ((void *)(th + 1) > data_end)
		return MPC_R_L4_TRUNC;
	thlen = th->doff * 4;
	if (thlen < MPC_TCP_HDR_MIN || thlen > l4_len)
		return MPC_R_L4_TRUNC;
	p->l4_off = l4_off;
	p->l4_len = l4_len;
	p->thlen = thlen;
	p->payload_len = l4_len - thlen;
	p->sport = bpf_ntohs(th->source);
	p->dport = bpf_ntohs(th->dest);
	/* Branch-free on purpose: four `if (th->syn)` tests would split the
	 * verifier's walk into 16 paths whose flags are distinct constants,
	 * and the option loop below would be walked once for each. */
	tf = ((__u8 *)th)[13];	/* CWR ECE URG ACK PSH RST SYN FIN */
	p->flags |= ((tf >> 1) & 1) * MPC_PF_SYN | ((tf >> 4) & 1) * MPC_PF_ACK |
		    ((tf >> 2) & 1) * MPC_PF_RST | (tf & 1) * MPC_PF_FIN;
	if (thlen == MPC_TCP_HDR_MIN)
		return MPC_R_UNSPEC;
	return mpc_parse_opts(data_end, th, p);
}

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
	p->tuple.ipv4.saddr = iph->saddr;
	p->tuple.ipv4.daddr = iph->daddr;
	p->tuple_len = sizeof(p->tuple.ipv4);
	mpc_map_v4(p->saddr, iph->saddr);
	mpc_map_v4(p->daddr, iph->daddr);
	return mpc_parse_tcp(data, data_end, off + ihl, tot - ihl, p);
}

static __always_inline int mpc_parse_v6(void *data, void *data_end, __u32 off, struct mpc_pkt *p)
{
	struct ipv6hdr *ip6 = data + off;
	__u32 l4_off = off + sizeof(*ip6);
	__u32 plen;
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

	for (i = 0; i < MPC_V6_EXT_MAX; i++) {
		struct ipv6_opt_hdr *eh;
		__u32 elen;

		if (nexthdr == IPPROTO_TCP)
			break;
		if (nexthdr == IPPROTO_FRAGMENT)
			return MPC_R_FRAG;
		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS)
			return MPC_R_NOT_TCP;
		eh = data + l4_off;
		if ((void *)(eh + 1) > data_end)
			return MPC_R_L3_TRUNC;
		elen = (eh->hdrlen + 1) * 8;
		nexthdr = eh->nexthdr;
		l4_off += elen;
	}
	if (nexthdr != IPPROTO_TCP)
		return MPC_R_V6_EXTHDR;
	if (l4_off - off - sizeof(*ip6) > plen)
		return MPC_R_L3_TRUNC;
	__builtin_memcpy(p->tuple.ipv6.saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->tuple.ipv6.daddr, &ip6->daddr, 16);
	p->tuple_len = sizeof(p->tuple.ipv6);
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	return mpc_parse_tcp(data, data_end, l4_off,
			     plen - (l4_off - off - sizeof(*ip6)), p);
}

/* Parse an Ethernet frame. The tuple ports are filled here, after the
 * family-specific part, because they sit at the same place in both. */
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
	if (r == MPC_R_UNSPEC) {
		if (p->flags & MPC_PF_V6) {
			p->tuple.ipv6.sport = bpf_htons(p->sport);
			p->tuple.ipv6.dport = bpf_htons(p->dport);
		} else {
			p->tuple.ipv4.sport = bpf_htons(p->sport);
			p->tuple.ipv4.dport = bpf_htons(p->dport);
		}
	}
	return r;
}

#endif /* MPC_PARSE_BPF_H */
