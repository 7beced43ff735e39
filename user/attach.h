/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Attaching tc and XDP programs to interfaces, and detaching exactly what
 * was attached. tc uses tcx links where the kernel has them (probed by
 * trying, never by version): a link belongs to its fd, so even a daemon
 * killed with SIGKILL leaves no program behind. Older kernels get a clsact
 * qdisc and a cls_bpf filter through netlink; the qdisc is removed on
 * detach only if we created it.
 */
#ifndef MPC_ATTACH_H
#define MPC_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

enum mpc_attach_kind {
	MPC_ATT_NONE = 0,
	MPC_ATT_TCX,	    /* bpf_link, BPF_TCX_INGRESS/EGRESS */
	MPC_ATT_TC_NETLINK, /* clsact + cls_bpf direct-action */
	MPC_ATT_XDP,	    /* bpf_link (XDP), driver mode or generic */
};

struct mpc_attach {
	enum mpc_attach_kind kind;
	int ifindex;
	bool ingress;
	int link_fd;	   /* TCX / XDP link */
	bool hook_created; /* TC_NETLINK: we created the clsact qdisc */
	uint32_t handle, priority;
	char ifname[16];
};

/* Attach a SEC("tc") program. Returns 0 or -errno (message logged). */
int mpc_attach_tc(int ifindex, int prog_fd, bool ingress, struct mpc_attach *a);
/* Attach an XDP program (native mode, generic if the driver lacks it). */
int mpc_attach_xdp(int ifindex, int prog_fd, struct mpc_attach *a);
void mpc_detach(struct mpc_attach *a);
/* "tcx", "tc", "xdp": for status and logs. */
const char *mpc_attach_kind_name(enum mpc_attach_kind k);

/* Resolve an interface name; logs "unknown interface" on failure. */
int mpc_ifindex(const char *name);

#endif /* MPC_ATTACH_H */
