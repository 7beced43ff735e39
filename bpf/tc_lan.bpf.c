// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tc_lan: the CPE's LAN ingress classifier (tc/clsact ingress on the LAN
 * interface).
 *
 * A TCP SYN from a LAN host that policy selects for conversion is handed to
 * the daemon's transparent MPTCP listener: bpf_skc_lookup_tcp() on the
 * listener's own address, bpf_sk_assign(), and skb->mark = mpc_local_mark so
 * the daemon's `ip rule fwmark M lookup T` + `local default dev lo table T`
 * route it to the local stack instead of forwarding it
 * (../shared/recipes.md, "Steering a connection to a proxy socket from tc").
 * Every later packet of such a connection only needs the mark: the normal
 * socket demux finds the request, established or time-wait socket.
 *
 * The program never drops or modifies a packet: every verdict is TC_ACT_OK,
 * and anything it does not understand, or any helper failure, leaves the
 * packet to be forwarded as if mpconv were not there (fail open). Every
 * packet is counted in mpc_stats under exactly one reason.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "parse.bpf.h"
#include "maps.bpf.h"

/* ---- Load-time knobs (.rodata, set by the daemon between open and load) */

/* SYNs that already carry MP_CAPABLE or MP_JOIN come from a host running
 * MPTCP itself. 0: leave them alone (its MPTCP reaches the server or falls
 * back end to end). 1: steer them like plain SYNs, so the daemon terminates
 * the host's MPTCP and converts (MPC_BF_LAN_MPTCP). */
const volatile __u8 mpc_native_proxy = 0;
/* 1: convert only ports present in mpc_ports with action CONVERT. */
const volatile __u8 mpc_ports_only = 0;
/* 1: convert only destinations whose mpc_dst_pol match is CONVERT. */
const volatile __u8 mpc_prefix_only = 0;
/* 1 (single-ended "direct" mode): a destination in mpc_fb_cache is known to
 * drop or ignore MP_CAPABLE, so converting buys nothing; pass its SYNs. */
const volatile __u8 mpc_fb_shortcut = 0;
/* Age after which a cache entry is ignored, counted from its first_ns (the
 * time the daemon learnt it), not from its last hit: a busy entry must
 * still be re-probed once per TTL, in case the server or path now carries
 * MPTCP (nam-01 §5.6.1 "flush"). 0 = never expires. */
const volatile __u64 mpc_fb_ttl_ns = 0;
/* The daemon's transparent MPTCP listener (port in host order). */
const volatile __u16 mpc_lst_port = 0;
const volatile __be32 mpc_lst_addr4 = 0;
const volatile __u8 mpc_lst_addr6[16] = {};
/* Mark that the daemon's policy routing delivers locally. */
const volatile __u32 mpc_local_mark = 0;

/* Times the headers were not in the linear part of the skb and had to be
 * pulled (rare: GRO'd or fragmented skbs). Read from .bss by the tests and
 * by `bpftool map dump`; written only on that slow path. */
__u64 mpc_lan_pulls = 0;

/* Headers the parser may need: Ethernet, IPv6 (the larger IP header),
 * up to 24 bytes of IPv6 extension headers, and a full TCP header. */
#define LAN_PULL_LEN (14 + 40 + 24 + 60)

/* Not inlined: it runs twice when the headers must be pulled, and one copy
 * of the parser's unrolled option walk (3000 instructions) is enough. A
 * static subprogram may take the context and a stack pointer; the verifier
 * checks it per call. */
static __noinline int lan_parse(struct __sk_buff *skb, struct mpc_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	return mpc_parse(data, data_end, p);
}

/* Destination and port policy. Returns 0 when the SYN is to be converted. */
static __always_inline int lan_policy(const struct mpc_pkt *p)
{
	struct mpc_lpm_key k = { .prefixlen = 128 };
	struct mpc_pol_val *dst, *port;
	__u16 dport = p->dport;

	__builtin_memcpy(k.addr, p->daddr, sizeof(k.addr));
	dst = bpf_map_lookup_elem(&mpc_dst_pol, &k);
	if (dst && dst->action == MPC_POL_BYPASS)
		return MPC_R_LAN_BYPASS;
	port = bpf_map_lookup_elem(&mpc_ports, &dport);
	if (port && port->action == MPC_POL_BYPASS)
		return MPC_R_LAN_BYPASS;
	if (mpc_ports_only && !(port && port->action == MPC_POL_CONVERT))
		return MPC_R_LAN_POLICY;
	if (mpc_prefix_only && !(dst && dst->action == MPC_POL_CONVERT))
		return MPC_R_LAN_POLICY;
	return 0;
}

/* Direct-mode shortcut: true when the destination has a live fallback-cache
 * entry, which is then stamped as used. */
static __always_inline bool lan_cache_hit(const struct mpc_pkt *p)
{
	struct mpc_fb_entry *e;
	__u64 now;

	e = bpf_map_lookup_elem(&mpc_fb_cache, p->daddr);
	if (!e)
		return false;
	now = bpf_ktime_get_ns();
	if (mpc_fb_ttl_ns && now - e->first_ns > mpc_fb_ttl_ns)
		return false; /* stale: the daemon ages it out, we just ignore it */
	/* last_ns is advisory (a plain 64-bit store cannot tear); hits is a
	 * count the daemon reports, so concurrent CPUs must not lose one. */
	e->last_ns = now;
	__sync_fetch_and_add(&e->hits, 1);
	return true;
}

/*
 * Look up a socket by the packet's own 4-tuple. The tuple size must be a
 * constant for the verifier (ARG_CONST_SIZE), hence one call per family.
 */
static __always_inline struct bpf_sock *lan_lookup_own(struct __sk_buff *skb, struct mpc_pkt *p)
{
	if (p->tuple_len == sizeof(p->tuple.ipv6))
		return bpf_skc_lookup_tcp(skb, &p->tuple, sizeof(p->tuple.ipv6),
					  BPF_F_CURRENT_NETNS, 0);
	return bpf_skc_lookup_tcp(skb, &p->tuple, sizeof(p->tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
}

/*
 * A packet belongs to a local connection when a socket other than a
 * listener has its tuple: a request socket (handshake in progress; the
 * reason for skc_ rather than sk_lookup, which would turn a request socket
 * into its listener), an established one, or a time-wait one (its last ACK
 * or a retransmitted FIN must reach the stack that closed, not the server).
 * A listener matches any source, so it says nothing about this flow: a
 * packet to a local listening port must not be pulled off its path.
 */
static __always_inline int lan_flow(struct __sk_buff *skb, struct mpc_pkt *p)
{
	struct bpf_sock *sk;
	int r = MPC_R_LAN_NO_FLOW;

	sk = lan_lookup_own(skb, p);
	if (!sk)
		return MPC_R_LAN_NO_FLOW;
	if (sk->state != BPF_TCP_LISTEN) {
		skb->mark = mpc_local_mark;
		r = MPC_R_LAN_FLOW;
	}
	bpf_sk_release(sk); /* the verifier insists: every lookup is released */
	return r;
}

/* Hand the SYN to the daemon's listener. */
static __always_inline int lan_steer(struct __sk_buff *skb, struct mpc_pkt *p)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u8 *a6 = (__u8 *)t.ipv6.daddr;
	long err;
	int i;

	/* Saddr/sport stay zero: no established socket matches, so the
	 * lookup falls through to the listening hash for (daddr, dport). */
	if (p->tuple_len == sizeof(p->tuple.ipv6)) {
		/* byte loads: a volatile array must be read through volatile
		 * accesses, or clang folds it to its zero initialiser */
		for (i = 0; i < 16; i++)
			a6[i] = mpc_lst_addr6[i];
		t.ipv6.dport = bpf_htons(mpc_lst_port);
		sk = bpf_skc_lookup_tcp(skb, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	} else {
		t.ipv4.daddr = mpc_lst_addr4;
		t.ipv4.dport = bpf_htons(mpc_lst_port);
		sk = bpf_skc_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	}
	if (!sk)
		return MPC_R_LAN_NO_LISTENER;
	if (sk->state != BPF_TCP_LISTEN) {
		bpf_sk_release(sk);
		return MPC_R_LAN_NO_LISTENER;
	}
	/* bpf_sk_assign() takes its own reference when it succeeds, so ours
	 * is dropped either way. It refuses outside tc ingress (-EOPNOTSUPP,
	 * e.g. BPF_PROG_TEST_RUN), across netns (-ENETUNREACH) and for an
	 * unhashed (closing) listener. */
	err = bpf_sk_assign(skb, sk, 0);
	bpf_sk_release(sk);
	if (err)
		return MPC_R_LAN_ASSIGN_ERR;
	skb->mark = mpc_local_mark;
	return MPC_R_LAN_STEER;
}

static __always_inline int lan_syn(struct __sk_buff *skb, struct mpc_pkt *p)
{
	int r;

	/* MP_JOIN goes with MP_CAPABLE: a join for a connection we left
	 * alone must reach the server that holds the token. */
	if ((p->flags & (MPC_PF_MPC | MPC_PF_JOIN)) && !mpc_native_proxy)
		return MPC_R_LAN_NATIVE;
	r = lan_policy(p);
	if (r)
		return r;
	if (mpc_fb_shortcut && lan_cache_hit(p))
		return MPC_R_LAN_CACHE;
	/* A retransmitted SYN of a connection we already hold must reach
	 * its request socket through the normal demux: assigned to the
	 * listener it would collide with that request and be dropped. */
	r = lan_flow(skb, p);
	if (r == MPC_R_LAN_FLOW)
		return r;
	return lan_steer(skb, p);
}

SEC("tc")
int mpc_tc_lan(struct __sk_buff *skb)
{
	struct mpc_pkt p;
	int r;

	r = lan_parse(skb, &p);
	/* A cut-short header in an skb whose data continues past the
	 * linear part is not truncated, just non-linear: pull the header
	 * bytes we may need (never more than the packet has) and parse
	 * again. A packet that really is short ends in the same reason. */
	if (r == MPC_R_L3_TRUNC || r == MPC_R_L4_TRUNC) {
		void *data = (void *)(long)skb->data;
		void *data_end = (void *)(long)skb->data_end;
		/* bounded, so the verifier accepts data + len */
		__u32 len = skb->len < LAN_PULL_LEN ? skb->len : LAN_PULL_LEN;

		if (data + len > data_end && !bpf_skb_pull_data(skb, len)) {
			__sync_fetch_and_add(&mpc_lan_pulls, 1);
			r = lan_parse(skb, &p);
		}
	}
	if (r != MPC_R_UNSPEC)
		goto out;

	/* A SYN without ACK (or RST) opens a connection; everything else,
	 * SYN-ACKs included, is a packet of some existing flow. */
	if ((p.flags & (MPC_PF_SYN | MPC_PF_ACK | MPC_PF_RST)) == MPC_PF_SYN)
		r = lan_syn(skb, &p);
	else
		r = lan_flow(skb, &p);
out:
	mpc_count(r, skb->len);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
