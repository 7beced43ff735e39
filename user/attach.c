// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "log.h"

/* UAPI values from Linux 6.6 (tcx); Debian's 6.1 headers predate them. */
#define MPC_BPF_TCX_INGRESS 46
#define MPC_BPF_TCX_EGRESS 47
#ifndef BPF_XDP
#define BPF_XDP 37
#endif

const char *mpc_attach_kind_name(enum mpc_attach_kind k)
{
	switch (k) {
	case MPC_ATT_TCX:
		return "tcx";
	case MPC_ATT_TC_NETLINK:
		return "tc";
	case MPC_ATT_XDP:
		return "xdp";
	default:
		return "none";
	}
}

int mpc_ifindex(const char *name)
{
	unsigned int idx = if_nametoindex(name);

	if (!idx) {
		pr_warn("unknown interface '%s'\n", name);
		return -ENODEV;
	}
	return (int)idx;
}

static void fill_name(struct mpc_attach *a, int ifindex)
{
	if (!if_indextoname(ifindex, a->ifname))
		snprintf(a->ifname, sizeof(a->ifname), "if%d", ifindex);
}

static int attach_netlink(int ifindex, int prog_fd, bool ingress, struct mpc_attach *a)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_warn("%s: cannot create clsact qdisc: %s\n", a->ifname, strerror(-err));
		return err;
	}
	a->hook_created = !err;
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		pr_warn("%s: cannot attach tc %s program: %s\n", a->ifname,
			ingress ? "ingress" : "egress", strerror(-err));
		if (a->hook_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		return err;
	}
	a->kind = MPC_ATT_TC_NETLINK;
	a->handle = opts.handle;
	a->priority = opts.priority;
	return 0;
}

int mpc_attach_tc(int ifindex, int prog_fd, bool ingress, struct mpc_attach *a)
{
	int fd;

	memset(a, 0, sizeof(*a));
	a->ifindex = ifindex;
	a->ingress = ingress;
	a->link_fd = -1;
	fill_name(a, ifindex);
	/* libbpf 1.1 has no tcx API, but bpf_link_create() passes the
	 * ifindex in the same attribute slot the kernel reads for tcx. */
	fd = bpf_link_create(prog_fd, ifindex, ingress ? MPC_BPF_TCX_INGRESS : MPC_BPF_TCX_EGRESS,
			     NULL);
	if (fd >= 0) {
		a->kind = MPC_ATT_TCX;
		a->link_fd = fd;
		pr_debug("%s: tc %s program attached (tcx link)\n", a->ifname,
			 ingress ? "ingress" : "egress");
		return 0;
	}
	pr_debug("%s: tcx unavailable (%s), using clsact/cls_bpf\n", a->ifname, strerror(-fd));
	return attach_netlink(ifindex, prog_fd, ingress, a);
}

int mpc_attach_xdp(int ifindex, int prog_fd, struct mpc_attach *a)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	int fd;

	memset(a, 0, sizeof(*a));
	a->ifindex = ifindex;
	a->link_fd = -1;
	a->ingress = true;
	fill_name(a, ifindex);
	lo.flags = XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
	if (fd < 0) {
		pr_info("%s: native XDP unavailable (%s), using generic XDP\n", a->ifname,
			strerror(-fd));
		lo.flags = XDP_FLAGS_SKB_MODE;
		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
	}
	if (fd < 0) {
		pr_warn("%s: cannot attach XDP program: %s\n", a->ifname, strerror(-fd));
		return fd;
	}
	a->kind = MPC_ATT_XDP;
	a->link_fd = fd;
	return 0;
}

void mpc_detach(struct mpc_attach *a)
{
	switch (a->kind) {
	case MPC_ATT_TCX:
	case MPC_ATT_XDP:
		close(a->link_fd);
		break;
	case MPC_ATT_TC_NETLINK: {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
			    .attach_point = a->ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = a->handle, .priority = a->priority);

		bpf_tc_detach(&hook, &opts);
		if (a->hook_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		break;
	}
	default:
		break;
	}
	a->kind = MPC_ATT_NONE;
	a->link_fd = -1;
}
