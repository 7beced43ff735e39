/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Loaders for the implicit (on-path) mode programs:
 *
 *   CPE:          tc_wan (egress stamper) on each WAN interface.
 *   concentrator: tc_pickup (ingress) + xdp_guard on each access-facing
 *                 interface, and sockops (token learner) on a cgroup v2
 *                 made for the daemon.
 *
 * Every object is opened with pin_root_path = the daemon's pin directory,
 * so its maps are the daemon's pinned maps (user/state.c creates them
 * first; map sizes are taken from the pins). All functions return 0 or
 * -errno, with the reason logged; a failed attach leaves nothing behind,
 * and the detach/teardown functions undo exactly what was done (they are
 * safe on a zeroed or half-set-up struct).
 */
#ifndef MPC_ONPATH_H
#define MPC_ONPATH_H

#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "attach.h"

struct tc_wan_bpf;
struct tc_pickup_bpf;
struct xdp_guard_bpf;
struct sockops_bpf;
struct bpf_link;

/* ---- CPE: MP_PREFER_PROXY stamper ---------------------------------- */

struct mpc_wan_opts {
	uint32_t stamp_mark;	/* SO_MARK of the implicit-mode sockets; != 0 */
	uint8_t prefer_subtype; /* MP_PREFER_PROXY subtype, 1..15; 0 = 0xF */
};

struct mpc_wan {
	struct tc_wan_bpf *skel;
	struct mpc_attach *att; /* one per interface, egress */
	int n;
};

/* Load tc_wan and attach it at egress of each of the n interfaces. */
int mpc_wan_attach(struct mpc_wan *w, const char *pin_dir, const int *ifindex, int n,
		   const struct mpc_wan_opts *o);
void mpc_wan_detach(struct mpc_wan *w);

/* ---- Concentrator: pickup and guard on access interfaces ------------ */

struct mpc_pick_opts {
	/* the daemon's transparent MPTCP listener; a zero address means a
	 * wildcard bind for that family */
	struct in_addr lst_addr4;
	struct in6_addr lst_addr6;
	uint16_t lst_port;	/* host order, != 0 */
	uint32_t local_mark;	/* mark routed to the local table, != 0 */
	uint16_t convert_port;	/* Convert service port guarded by XDP; 0 = none */
	uint8_t prefer_subtype; /* 0 = 0xF */
	bool no_xdp;		/* tc_pickup only (it then parses every SYN) */
};

struct mpc_pick {
	struct tc_pickup_bpf *tc;
	struct xdp_guard_bpf *xdp;
	struct mpc_attach *tc_att;  /* ingress, one per interface */
	struct mpc_attach *xdp_att; /* one per interface, unless no_xdp */
	int n;
};

/* Load tc_pickup (and xdp_guard) and attach them to each interface. */
int mpc_pick_attach(struct mpc_pick *p, const char *pin_dir, const int *ifindex, int n,
		    const struct mpc_pick_opts *o);
void mpc_pick_detach(struct mpc_pick *p);
/* Packets tc_pickup classified from xdp_guard's metadata (its .bss). */
uint64_t mpc_pick_meta_count(const struct mpc_pick *p);

/* ---- Concentrator: token learner on the daemon's own cgroup ---------- */

struct mpc_cg {
	char path[PATH_MAX]; /* <cgroup2 mount>/mpconv-<pid> */
	char orig[PATH_MAX]; /* cgroup the process came from */
	struct sockops_bpf *skel;
	struct bpf_link *link;
	int fd;
	bool moved;
};

/*
 * Create a cgroup v2 for this process (<cgroup2 mount>/mpconv-<pid>), move
 * the whole process into it and attach the sockops program there. Call it
 * before creating the listening sockets: a socket belongs to the cgroup
 * of the task that created it, and accepted sockets to their listener's.
 */
int mpc_cg_setup(struct mpc_cg *cg, const char *pin_dir);
/* Detach, move the process back where it came from, remove the cgroup. */
void mpc_cg_teardown(struct mpc_cg *cg);
/* Tokens recorded / failed inserts so far (the program's .bss). */
uint64_t mpc_cg_tokens_added(const struct mpc_cg *cg);
uint64_t mpc_cg_token_errors(const struct mpc_cg *cg);

/* The cgroup2 mount point (first in /proc/self/mounts). 0 or -ENOENT. */
int mpc_cgroup2_mount(char *buf, size_t len);

#endif /* MPC_ONPATH_H */
