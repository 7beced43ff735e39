/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Internals shared by nl.c, nl_mptcp.c, nl_route.c and nl_setup.c. */
#ifndef MPC_NL_PRIV_H
#define MPC_NL_PRIV_H

#include <libmnl/libmnl.h>

#include "nl.h"

/* Large enough for one dump batch: the kernel sizes dump skbs up to 32 KiB
 * when the receive buffer allows it; a smaller buffer would truncate. */
#define NL_BUF_SIZE 32768

enum nl_jkind {
	NL_J_DONE = -1, /* undone; dropped from the journal */
	NL_J_ROUTE,
	NL_J_RULE,
	NL_J_ENDPOINT,
	NL_J_LIMITS,
};

struct nl_jent {
	enum nl_jkind kind;
	enum mpc_nl_rec rec;
	union {
		struct mpc_nl_route route;
		struct mpc_nl_rule rule;
		struct mpc_nl_endpoint ep;
		struct {
			struct mpc_nl_limits prev; /* restored on undo */
			struct mpc_nl_limits set;  /* what we wrote */
		} lim;
	};
};

struct mpc_nl {
	struct mnl_socket *rt;	/* NETLINK_ROUTE */
	struct mnl_socket *gen; /* NETLINK_GENERIC */
	uint16_t pm_family;	/* 0: mptcp_pm not available */
	uint32_t seq;
	char *buf;     /* NL_BUF_SIZE, requests and replies */
	char ext[256]; /* kernel extack text of the last reply */
	char err[512];
	struct nl_jent *j;
	int j_len, j_cap;
};

/* Growable array used by the list functions. */
struct nl_vec {
	void *v;
	int n, cap;
	size_t elsz;
};

void *nl_vec_push(struct nl_vec *vec);

/* Start a request in nl->buf. */
struct nlmsghdr *nl_req(struct mpc_nl *nl, uint16_t type, uint16_t flags);
/* Send and read replies until the ACK or NLMSG_DONE; cb (may be NULL) sees
 * every data message. Returns 0 or -errno; the kernel's extack text lands
 * in nl->ext. -EINTR means a dump was interrupted (retry it). */
int nl_talk(struct mpc_nl *nl, struct mnl_socket *sk, struct nlmsghdr *nlh, mnl_cb_t cb,
	    void *data);

/* Set nl->err to "<what>: <strerror(-err)>[ (kernel: <extack>)]"; returns err. */
int nl_fail(struct mpc_nl *nl, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Set nl->err to the formatted text as is; returns err. */
int nl_say(struct mpc_nl *nl, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepend "<prefix>: " to nl->err (to name the interface). */
void nl_prefix(struct mpc_nl *nl, const char *prefix);

int nl_record(struct mpc_nl *nl, const struct nl_jent *e);

/* Raw operations used by undo (no journal, no message on "already gone"). */
int nl_route_del_raw(struct mpc_nl *nl, const struct mpc_nl_route *r);
int nl_rule_del_raw(struct mpc_nl *nl, const struct mpc_nl_rule *r);
int nl_pm_undo_endpoint(struct mpc_nl *nl, const struct mpc_nl_endpoint *ep);
int nl_pm_undo_limits(struct mpc_nl *nl, const struct mpc_nl_limits *prev,
		      const struct mpc_nl_limits *set);

int nl_addr_len(int family);
void nl_route_str(const struct mpc_nl_route *r, char *buf, size_t len);
void nl_rule_str(const struct mpc_nl_rule *r, char *buf, size_t len);

#endif /* MPC_NL_PRIV_H */
