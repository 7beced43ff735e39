// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * An empty tc program: the baseline for measuring what a classifier costs
 * per packet under BPF_PROG_TEST_RUN, and a harmless program for testing
 * the test helpers themselves (tests/unit/pkt_lib.c).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int mpc_tc_empty(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
