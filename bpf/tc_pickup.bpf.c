// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Concentrator access-side ingress pickup (implicit mode).
 *
 * An on-path concentrator sees the CPE's connections go by toward their
 * servers. Those whose MP_CAPABLE SYN carries MP_PREFER_PROXY (protocol.md
 * §2.2: "present -> MUST track") are delivered to the daemon's transparent
 * MPTCP listener whatever their destination; later subflows (MP_JOIN with
 * a token the sockops program recorded) follow them. Unstamped MP_CAPABLE
 * SYNs are a native MPTCP host's own business and MUST NOT be touched.
 *
 * Delivery to a local socket takes two things (recipes.md "Steering"):
 * bpf_sk_assign() of the listener for a SYN, and a mark that the daemon's
 * `ip rule fwmark` routes into a `local` table, for the SYN and for every
 * later packet of a picked-up flow (found by looking its own 4-tuple up).
 *
 * When xdp_guard runs on the same interface it has already parsed SYNs and
 * left struct mpc_xdp_meta in front of the frame; then the headers and
 * options are not walked again. The tuple is still needed for the socket
 * lookups, and it is cheap to take from fixed places (get_tuple()): the
 * parser only accepts IP right behind an untagged Ethernet header, so the
 * addresses sit at ETH_HLEN + 12 (IPv4) or + 8 (IPv6) and the ports at
 * meta.l4_off. One code path serves both cases.
 */
#include <stdbool.h>
#include <linux/pkt_cls.h>

#include "parse.bpf.h"
#include "maps.bpf.h"
#include "skb_parse.bpf.h"

/* The daemon's transparent MPTCP listener (network order addresses; 0 /
 * :: for a wildcard bind) and port (host order). */
const volatile __u16 mpc_lst_port = 0;
const volatile __be32 mpc_lst_addr4 = 0;
const volatile __be32 mpc_lst_addr6[4] = {};
/* skb->mark that the daemon's policy rule routes to the local table. */
const volatile __u32 mpc_local_mark = 0;

/* Packets classified from xdp_guard's metadata instead of a parse: lets
 * the tests prove the metadata path is taken (bpftool map dump .bss). */
__u64 mpc_pick_meta = 0;

/* a constant per branch, as the verifier wants for the helper's size */
static __always_inline __u32 tuple_len(const struct mpc_pkt *p)
{
	return (p->flags & MPC_PF_V6) ? sizeof(p->tuple.ipv6) : sizeof(p->tuple.ipv4);
}

static __always_inline void local_route(struct __sk_buff *skb)
{
	skb->mark = mpc_local_mark;
}

enum { OWN_NONE, OWN_FLOW, OWN_LISTENER };

/* What local socket does this packet's own 4-tuple find? A connection
 * (request, established, time wait: OWN_FLOW), or only a listener on the
 * destination (OWN_LISTENER: the port is open here, the flow is not). */
static __always_inline int own_sock(struct __sk_buff *skb, struct mpc_pkt *p)
{
	struct bpf_sock *sk;
	int r;

	sk = bpf_skc_lookup_tcp(skb, &p->tuple, tuple_len(p), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return OWN_NONE;
	r = sk->state == BPF_TCP_LISTEN ? OWN_LISTENER : OWN_FLOW;
	bpf_sk_release(sk);
	return r;
}

/* Hand a SYN to the daemon's transparent listener on port `port`
 * (network order): mpc_lst_port for a stamped MP_CAPABLE SYN, the
 * connection's own port for an MP_JOIN (see classify()). Returns the
 * reason. */
static __always_inline int steer(struct __sk_buff *skb, struct mpc_pkt *p, int ok, __be16 port)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	long err;

	/* The source stays the packet's, so the lookup's established stage
	 * cannot match anything but a connection to the listener itself. */
	if (p->flags & MPC_PF_V6) {
		__builtin_memcpy(t.ipv6.saddr, p->tuple.ipv6.saddr, 16);
		t.ipv6.sport = p->tuple.ipv6.sport;
		/* one volatile read per word: a memcpy would let clang fold the
		 * zero initialiser into the code */
		t.ipv6.daddr[0] = mpc_lst_addr6[0];
		t.ipv6.daddr[1] = mpc_lst_addr6[1];
		t.ipv6.daddr[2] = mpc_lst_addr6[2];
		t.ipv6.daddr[3] = mpc_lst_addr6[3];
		t.ipv6.dport = port;
	} else {
		t.ipv4.saddr = p->tuple.ipv4.saddr;
		t.ipv4.sport = p->tuple.ipv4.sport;
		t.ipv4.daddr = mpc_lst_addr4;
		t.ipv4.dport = port;
	}
	sk = bpf_skc_lookup_tcp(skb, &t, tuple_len(p), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return MPC_R_PICK_NO_LISTENER;
	if (sk->state != BPF_TCP_LISTEN) {
		bpf_sk_release(sk);
		return MPC_R_PICK_NO_LISTENER;
	}
	err = bpf_sk_assign(skb, sk, 0);
	bpf_sk_release(sk);
	if (err)
		return MPC_R_PICK_ASSIGN_ERR;
	local_route(skb);
	return ok;
}

/*
 * The 4-tuple from fixed places: the parser (and so the metadata) only
 * accepts IP right behind an untagged Ethernet header, so the addresses
 * are at ETH_HLEN + 12 (IPv4) or + 8 (IPv6); the ports open the TCP header
 * at l4_off. Returns 0, or -1 if the frame is shorter than that.
 */
static __always_inline int get_tuple(struct __sk_buff *skb, struct mpc_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct tcphdr *th = data + (p->l4_off & 0xff);

	if ((void *)(th + 1) > data_end)
		return -1;
	if (p->flags & MPC_PF_V6) {
		struct ipv6hdr *ip6 = data + ETH_HLEN;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		__builtin_memcpy(p->tuple.ipv6.saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->tuple.ipv6.daddr, &ip6->daddr, 16);
		p->tuple.ipv6.sport = th->source;
		p->tuple.ipv6.dport = th->dest;
	} else {
		struct iphdr *iph = data + ETH_HLEN;

		if ((void *)(iph + 1) > data_end)
			return -1;
		p->tuple.ipv4.saddr = iph->saddr;
		p->tuple.ipv4.daddr = iph->daddr;
		p->tuple.ipv4.sport = th->source;
		p->tuple.ipv4.dport = th->dest;
	}
	return 0;
}

/* xdp_guard's metadata, if it left some. Returns true when it did. */
static __always_inline bool from_meta(struct __sk_buff *skb, struct mpc_pkt *p)
{
	struct mpc_xdp_meta *m = (void *)(long)skb->data_meta;

	if ((void *)(m + 1) > (void *)(long)skb->data || m->magic != MPC_META_MAGIC)
		return false;
	p->flags = m->flags;
	p->l4_off = m->l4_off;
	p->join_token = m->join_token;
	return true;
}

/*
 * The parse runs in a global function: the verifier checks it once, on
 * its own, and the caller continues from one state in which the copied
 * fields are unknown values (inlined, every path through the option walk
 * would be verified again through the code below, past the 1M instruction
 * limit). Only what the classification needs is copied out; the tuple is
 * taken by get_tuple() for both the parse and the metadata path.
 */
__noinline int mpc_pick_parse(struct __sk_buff *skb, struct mpc_pkt *out)
{
	struct mpc_pkt p;
	int r;

	if (!out)
		return MPC_R_NOT_IP;
	r = mpc_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &p);
	out->flags = p.flags;
	out->l4_off = p.l4_off;
	out->join_token = p.join_token;
	return r;
}

static __always_inline int classify(struct __sk_buff *skb, struct mpc_pkt *p)
{
	if ((p->flags & (MPC_PF_SYN | MPC_PF_ACK)) == MPC_PF_SYN) {
		if (p->flags & MPC_PF_JOIN) {
			/* sockops keys mpc_tokens by the kernel's token, which
			 * is the wire value read big endian (RFC 8684 §3.2). */
			__u32 tok = bpf_ntohl(p->join_token);

			int own;

			if (!bpf_map_lookup_elem(&mpc_tokens, &tok))
				return MPC_R_PICK_JOIN_UNKNOWN;
			own = own_sock(skb, p);
			/* a retransmitted SYN finds its request socket */
			if (own == OWN_FLOW)
				goto flow;
			/*
			 * A join to a local listener: an address this box
			 * announced (ADD_ADDR with a port, served by the path
			 * manager's own listener). Deliver it there; the
			 * kernel accepts a join on a port other than the
			 * connection's only from a listener whose address
			 * and port the connection announced
			 * (mptcp_pm_sport_in_anno_list()), which is also why
			 * a join to the server's address must reach a listener
			 * bound to the connection's own port: the daemon opens
			 * one on its listener address for every port it has
			 * picked up a connection for (else the kernel refuses
			 * the join: MPTcpExtMismatchPortSynRx).
			 */
			if (own == OWN_LISTENER) {
				local_route(skb);
				return MPC_R_PICK_JOIN;
			}
			own = steer(skb, p, MPC_R_PICK_JOIN,
				    (p->flags & MPC_PF_V6) ? p->tuple.ipv6.dport :
							     p->tuple.ipv4.dport);
			/* The token is ours, so the server could only answer
			 * with a RST, and a refused join is never retried.
			 * The port's listener is created when the daemon
			 * accepts the connection, possibly just after this
			 * SYN: drop it, the peer's retransmission finds it. */
			return own == MPC_R_PICK_NO_LISTENER ? MPC_R_PICK_JOIN_WAIT : own;
		}
		if (p->flags & MPC_PF_MPC) {
			if (!(p->flags & MPC_PF_PREFER))
				return MPC_R_PICK_NATIVE;
			if (own_sock(skb, p) == OWN_FLOW)
				goto flow;
			return steer(skb, p, MPC_R_PICK_SYN, bpf_htons(mpc_lst_port));
		}
	}
	if (own_sock(skb, p) != OWN_FLOW)
		return MPC_R_PICK_PLAIN;
flow:
	local_route(skb);
	return MPC_R_PICK_FLOW;
}

SEC("tc")
int mpc_tc_pickup(struct __sk_buff *skb)
{
	struct mpc_pkt p = {};
	int r;

	if (from_meta(skb, &p)) {
		__sync_fetch_and_add(&mpc_pick_meta, 1);
	} else {
		r = mpc_parse_skb(skb, &p, mpc_pick_parse);
		if (r != MPC_R_UNSPEC) {
			mpc_count(r, skb->len);
			return TC_ACT_OK;
		}
	}
	if (get_tuple(skb, &p)) {
		/* only metadata that lies about l4_off gets here */
		mpc_count(MPC_R_L4_TRUNC, skb->len);
		return TC_ACT_OK;
	}
	r = classify(skb, &p);
	mpc_count(r, skb->len);
	return r == MPC_R_PICK_JOIN_WAIT ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
