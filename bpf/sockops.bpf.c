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

#include "maps.bpf.h"

/* sockops op code (enum in vmlinux.h too; named here for clarity) */
#define MPC_PASSIVE_ESTABLISHED BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB

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
