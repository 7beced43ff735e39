// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Empty tc and XDP programs: the baseline of the BPF cost bench
 * (bench/run, mpc_bpfbench). BPF_PROG_TEST_RUN's own per-run overhead is
 * in every figure; a program that does nothing measures it, and each real
 * program is reported beside the empty one of its type.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int mpc_empty_tc(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("xdp")
int mpc_empty_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
