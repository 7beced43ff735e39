// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpc_netprogs IFNAME: how many BPF programs are attached to an interface,
 * by hook, for tests that check a daemon left nothing behind. Debian's
 * bpftool 7.1 cannot list tcx attachments (recipes.md), so this asks the
 * kernel directly with BPF_PROG_QUERY.
 *
 * Output: "tcx_ingress=N tcx_egress=N xdp=N" (a hook the kernel does not
 * know is reported as 0). Exit 0, or 1 if the interface does not exist.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define TCX_INGRESS 46
#define TCX_EGRESS 47

static unsigned int count(int ifindex, int type)
{
	__u32 ids[64], cnt = 64, flags = 0;

	if (bpf_prog_query(ifindex, type, 0, &flags, ids, &cnt))
		return 0;
	return cnt;
}

int main(int argc, char **argv)
{
	unsigned int idx;
	__u32 xdp_id = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mpc_netprogs IFNAME\n");
		return 2;
	}
	idx = if_nametoindex(argv[1]);
	if (!idx) {
		fprintf(stderr, "mpc_netprogs: %s: no such interface\n", argv[1]);
		return 1;
	}
	bpf_xdp_query_id(idx, 0, &xdp_id);
	printf("tcx_ingress=%u tcx_egress=%u xdp=%u\n", count(idx, TCX_INGRESS),
	       count(idx, TCX_EGRESS), xdp_id ? 1 : 0);
	return 0;
}
