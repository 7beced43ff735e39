// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Concentrator token learner (implicit mode).
 *
 * Attached to the daemon's own cgroup, so it sees the daemon's sockets and
 * the children of its listeners (a child inherits the listener's cgroup).
 * When a passively opened MPTCP subflow becomes established, it records
 * the connection's MPTCP token in mpc_tokens. tc_pickup looks MP_JOIN
 * SYNs up there to steer the later subflows of picked-up connections to
 * the listener, where the kernel's MPTCP join code finds the connection
 * by the same token.
 *
 * Why here and not in the daemon after accept(): this callback runs in
 * the softirq that completes the handshake, before the connection can be
 * accepted or any peer can know it is established, so the token is in the
 * map before the first MP_JOIN can possibly arrive. No race.
 *
 * Needs kernel types (struct mptcp_sock), hence vmlinux.h and CO-RE
 * (style.md S4). parse.bpf.h is not included: its UAPI headers clash with
 * vmlinux.h, and nothing here parses packets.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "maps.bpf.h"

/* sockops op codes (enum in vmlinux.h too; named here for clarity) */
#define MPC_PASSIVE_ESTABLISHED BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB
#define MPC_ACTIVE_ESTABLISHED BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB

/* For tests and bpftool: SYN-ACK option copies recorded. */
__u64 mpc_synack_added = 0;

/*
 * An outgoing connection of the daemon (the concentrator's server leg)
 * became established: skb_data is the server's SYN-ACK, at its TCP
 * header. Copy its options for the Extended TCP Header TLV (RFC 8803
 * §4.1/§6: "a copy of the TCP options of the server's SYN+ACK"), which the
 * socket API cannot give. For an MPTCP connection this is its first
 * subflow, whose ports are the connection's.
 */
static __always_inline int record_synack(struct bpf_sock_ops *skops)
{
	__u8 *data = (__u8 *)(long)skops->skb_data;
	__u8 *end = (__u8 *)(long)skops->skb_data_end;
	struct mpc_synack_key k = {};
	struct mpc_synack v = {};
	__u32 optlen, i;

	/* TCP header: byte 12 holds the data offset in its high nibble */
	if (data + 20 > end)
		return 1;
	optlen = (data[12] >> 4) * 4;
	if (optlen < 20)
		return 1;
	optlen -= 20;
	if (optlen > sizeof(v.opts))
		optlen = sizeof(v.opts);
	/* constant bound: the verifier walks 40 simple steps */
	for (i = 0; i < sizeof(v.opts); i++) {
		if (i >= optlen || data + 20 + i + 1 > end)
			break;
		v.opts[i] = data[20 + i];
	}
	v.len = i;
	v.at_ns = bpf_ktime_get_ns();
	if (skops->family == 2 /* AF_INET */) {
		k.raddr[10] = 0xff;
		k.raddr[11] = 0xff;
		__builtin_memcpy(&k.raddr[12], &skops->remote_ip4, 4);
	} else {
		__u32 a[4] = { skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2],
			       skops->remote_ip6[3] };

		__builtin_memcpy(k.raddr, a, 16);
	}
	/* remote_port is in network order in the upper 16 bits on old
	 * kernels, the lower on new ones: bpf_ntohl of the whole word, then
	 * take whichever half is set (a port is never 0) */
	k.rport = (__u16)bpf_ntohl(skops->remote_port);
	if (!k.rport)
		k.rport = (__u16)(bpf_ntohl(skops->remote_port) >> 16);
	k.lport = (__u16)skops->local_port;
	if (!bpf_map_update_elem(&mpc_synack, &k, &v, BPF_ANY))
		__sync_fetch_and_add(&mpc_synack_added, 1);
	return 1;
}

/* For tests and bpftool: tokens recorded / insert failures (map full). */
__u64 mpc_tok_added = 0;
__u64 mpc_tok_errors = 0;

SEC("sockops")
int mpc_sockops(struct bpf_sock_ops *skops)
{
	struct mpc_token_val v;
	struct mptcp_sock *msk;
	struct bpf_sock *sk;
	__u32 token;
	long err;

	if (skops->op == MPC_ACTIVE_ESTABLISHED)
		return record_synack(skops);
	if (skops->op != MPC_PASSIVE_ESTABLISHED)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	/* NULL unless sk is an MPTCP subflow (plain TCP, or a connection
	 * that fell back before becoming established) */
	msk = bpf_skc_to_mptcp_sock(sk);
	if (!msk)
		return 1;
	token = BPF_CORE_READ(msk, token);
	if (!token)
		return 1;
	v.created_ns = bpf_ktime_get_ns();
	v.cookie = bpf_get_socket_cookie(skops);
	/* NOEXIST: MP_JOIN subflows of the same connection pass here too;
	 * the first subflow's entry is the one to keep. */
	err = bpf_map_update_elem(&mpc_tokens, &token, &v, BPF_NOEXIST);
	if (!err)
		__sync_fetch_and_add(&mpc_tok_added, 1);
	else if (err != -17 /* EEXIST */)
		__sync_fetch_and_add(&mpc_tok_errors, 1);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
