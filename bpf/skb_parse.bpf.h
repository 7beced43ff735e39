/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Run a tc program's parse (a global function around mpc_parse()) on the
 * linear part of the skb, and only if the headers are not all there pull
 * them in and parse again. Pulling up front would copy payload out of the
 * page frags of every GSO/GRO skb (their linear part is the headers) for
 * nothing.
 */
#ifndef MPC_SKB_PARSE_BPF_H
#define MPC_SKB_PARSE_BPF_H

/* Ethernet + IPv6 + extension headers + a full TCP header, generously. */
#define MPC_PULL_LEN 256

static __always_inline int mpc_parse_skb(struct __sk_buff *skb, struct mpc_pkt *p,
					 int (*parse)(struct __sk_buff *, struct mpc_pkt *))
{
	__u32 linear = skb->data_end - skb->data;
	int r;

	r = parse(skb, p);
	if ((r == MPC_R_L3_TRUNC || r == MPC_R_L4_TRUNC) && skb->len > linear &&
	    !bpf_skb_pull_data(skb, skb->len < MPC_PULL_LEN ? skb->len : MPC_PULL_LEN))
		r = parse(skb, p);
	return r;
}

#endif /* MPC_SKB_PARSE_BPF_H */
