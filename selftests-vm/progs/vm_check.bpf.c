// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Programs for selftests-vm/tests/vm-features.sh: prove that the guest
 * kernel loads, attaches and runs tc and XDP programs on veth, and that a
 * verdict really acts on packets (not only that attaching succeeds).
 *
 * mpc_vm_tc (tc, direct action): counts every packet in slot 0; when
 * mpc_vm_cfg[0] is non-zero it drops IPv4 ICMP echo requests and counts
 * them in slot 1. mpc_vm_xdp counts every packet in slot 2 and passes it.
 * Built on the host by selftests-vm/run before the boot.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* linux/icmp.h drags in libc headers (not for -target bpf): only the
 * type byte is needed (RFC 792). */
#define ICMP_ECHO 8

enum { CNT_TC_SEEN, CNT_TC_DROP, CNT_XDP_SEEN, CNT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} mpc_vm_cnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} mpc_vm_cfg SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&mpc_vm_cnt, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline int is_icmp4_echo(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u8 *icmp_type;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	if (ip->protocol != IPPROTO_ICMP || ip->ihl < 5)
		return 0;
	icmp_type = (void *)ip + ip->ihl * 4;
	if ((void *)(icmp_type + 1) > data_end)
		return 0;
	return *icmp_type == ICMP_ECHO;
}

SEC("tc")
int mpc_vm_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 zero = 0, *armed;

	count(CNT_TC_SEEN);
	armed = bpf_map_lookup_elem(&mpc_vm_cfg, &zero);
	if (armed && *armed && is_icmp4_echo(data, data_end)) {
		count(CNT_TC_DROP);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

SEC("xdp")
int mpc_vm_xdp(struct xdp_md *ctx)
{
	count(CNT_XDP_SEEN);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
