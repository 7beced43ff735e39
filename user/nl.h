/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Netlink configuration of the kernel for the daemons: the in-kernel MPTCP
 * path manager (generic netlink family "mptcp_pm" v1, protocol.md §9),
 * per-WAN-link source routing and the local-delivery routing used by
 * transparent interception (recipes.md "Steering a connection"). Everything
 * goes through libmnl; nothing here runs `ip`.
 *
 * A struct mpc_nl works in the network namespace that was current when it
 * was opened (netlink sockets are bound to it for life). It is not
 * thread-safe: one context per thread.
 *
 * The undo journal. Every object added through this API with a record tag
 * other than MPC_NL_REC_NONE (route, rule, MPTCP endpoint, limit change) is
 * recorded; mpc_nl_undo_all() removes exactly those, newest first, and
 * restores the MPTCP limits that were there before. An object that already
 * existed (the kernel answered EEXIST, or a lookup found it) is neither
 * recorded nor removed, so a daemon never takes away configuration it did
 * not create. Undo keeps going after a failed removal and reports the first
 * error; objects someone else already removed count as removed. Removal
 * checks that an object is still ours: an endpoint id now naming another
 * address is left alone, and limits someone changed after us are kept.
 * Undo talks netlink: call it from the main loop after a signal, never from
 * the signal handler. A crashed daemon leaves its objects in place; they
 * carry protocol MPC_NL_RTPROT (`ip rule show proto 109`) and a restart
 * treats them as pre-existing.
 *
 * Return values: 0 or a positive count on success, -errno on failure. On
 * failure mpc_nl_errmsg() holds one line naming the object and interface,
 * with the kernel's extended-ack text when it sent one, e.g.
 *   "wan0: no IPv4 or global IPv6 address"
 *   "mptcp_pm genetlink family not found: kernel without MPTCP?"
 *
 * Private numbers (documented so an operator recognises them):
 *   MPC_NL_TABLE_BASE + i   routing table of WAN link i (0x6d70 = 28016, "mp")
 *   MPC_NL_PRIO_BASE + i    priority of the `from ADDR` rules of WAN link i
 *   MPC_NL_TABLE_LOCAL      suggested table for local-delivery routing
 *   MPC_NL_PRIO_LOCAL       suggested priority of the fwmark rule; lower than
 *                           the source rules so intercepted packets are
 *                           delivered locally whatever their source
 *   MPC_NL_RTPROT           rtm_protocol / FRA_PROTOCOL of everything we add
 *                           (`ip route show table all proto 109` lists it)
 * All priorities sit below 32766 (main), so they apply before the main table.
 */
#ifndef MPC_NL_H
#define MPC_NL_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#define MPC_NL_TABLE_BASE 0x6d70u  /* 28016..28031: WAN link tables */
#define MPC_NL_PRIO_BASE 0x6d70u   /* 28016..28031: WAN source rules */
#define MPC_NL_TABLE_LOCAL 0x6d6fu /* 28015 */
#define MPC_NL_PRIO_LOCAL 0x6d60u  /* 28000 */
#define MPC_NL_RTPROT 109	   /* 'm'; unused by iproute2's rt_protos */
#define MPC_NL_MAX_LINKS 16
#define MPC_NL_LINK_MAX_ADDRS 4 /* 1 IPv4 + up to 3 global IPv6 per link */
#define MPC_NL_PM_LIMIT_MAX 8	/* kernel MPTCP_PM_ADDR_MAX (pm_kernel.c) */

/* MPTCP endpoint flags (uapi linux/mptcp.h, protocol.md §9). */
#define MPC_PM_SIGNAL (1u << 0)
#define MPC_PM_SUBFLOW (1u << 1)
#define MPC_PM_BACKUP (1u << 2)
#define MPC_PM_FULLMESH (1u << 3)
#define MPC_PM_IMPLICIT (1u << 4)

struct mpc_nl;

/* Record tags: which journal group an added object belongs to. */
enum mpc_nl_rec {
	MPC_NL_REC_NONE = 0, /* do not record: the caller owns the object */
	MPC_NL_REC_USER,     /* recorded, generic */
	MPC_NL_REC_WAN,	     /* mpc_nl_setup_wan_links() */
	MPC_NL_REC_LOCAL,    /* mpc_nl_setup_local_routing() */
	MPC_NL_REC_LIMITS,   /* mpc_nl_pm_raise_limits() */
};

union mpc_nl_in {
	struct in_addr v4;
	struct in6_addr v6;
	uint8_t b[16];
};

struct mpc_nl_link {
	int ifindex;
	char name[IF_NAMESIZE];
	unsigned int flags;	     /* IFF_* */
	uint64_t rx_bytes, tx_bytes; /* IFLA_STATS64, 0 when absent */
};

struct mpc_nl_ifaddr {
	int family; /* AF_INET or AF_INET6 */
	int ifindex;
	union mpc_nl_in addr; /* IFA_LOCAL for IPv4, IFA_ADDRESS for IPv6 */
	uint8_t plen;
	uint8_t scope;	/* RT_SCOPE_* */
	uint32_t flags; /* IFA_F_* (full 32 bits from IFA_FLAGS) */
};

struct mpc_nl_route {
	int family;
	uint32_t table;	  /* RT_TABLE_MAIN = 254, or any id */
	uint8_t type;	  /* RTN_UNICAST, RTN_LOCAL ...; 0 = unicast */
	uint8_t scope;	  /* RT_SCOPE_*; adds derive it when 0 */
	uint8_t protocol; /* RTPROT_*; adds use MPC_NL_RTPROT when 0 */
	uint8_t dst_len;
	union mpc_nl_in dst;
	bool has_gw;
	union mpc_nl_in gw;
	int oif;	 /* 0 = none */
	uint32_t metric; /* RTA_PRIORITY; 0 = kernel default */
	bool has_prefsrc;
	union mpc_nl_in prefsrc;
	uint32_t flags; /* RTNH_F_ONLINK is kept when copying */
	bool multipath; /* listing: one nexthop of a multipath route */
};

struct mpc_nl_rule {
	int family;
	uint32_t prio; /* FRA_PRIORITY */
	bool has_prio; /* adds: false lets the kernel choose */
	uint32_t table;
	uint8_t action;	  /* FR_ACT_*; 0 = FR_ACT_TO_TBL */
	uint8_t protocol; /* adds use MPC_NL_RTPROT when 0 */
	uint8_t src_len, dst_len;
	union mpc_nl_in src, dst;
	bool has_fwmark;
	uint32_t fwmark, fwmask; /* fwmask 0 with has_fwmark = 0xffffffff */
	char iifname[IF_NAMESIZE];
	char oifname[IF_NAMESIZE];
	uint32_t flags; /* FIB_RULE_INVERT ... */
};

struct mpc_nl_endpoint {
	uint8_t id; /* 0 on add = kernel picks */
	int family;
	union mpc_nl_in addr;
	uint16_t port;	/* host order; 0 = none (port needs SIGNAL) */
	uint32_t flags; /* MPC_PM_* */
	int ifindex;	/* 0 = none */
};

struct mpc_nl_limits {
	uint32_t subflows;
	uint32_t add_addr_accepted;
};

/* ---- context ---------------------------------------------------------- */

/* Open both sockets in the current netns and resolve "mptcp_pm". A kernel
 * without MPTCP still gets a context (routing works); PM calls then fail
 * with -EPROTONOSUPPORT. Errors are logged with pr_warn. */
int mpc_nl_open(struct mpc_nl **nlp);
/* Close the sockets and free the journal. Does NOT undo anything. */
void mpc_nl_close(struct mpc_nl *nl);
/* Message of the last failure (never NULL, "" when none). */
const char *mpc_nl_errmsg(const struct mpc_nl *nl);
bool mpc_nl_has_pm(const struct mpc_nl *nl);

/* ---- journal ---------------------------------------------------------- */

int mpc_nl_journal_len(const struct mpc_nl *nl);
/* Undo everything recorded (all tags), newest first; empties the journal.
 * Returns 0 or the first error (undo continues past errors). */
int mpc_nl_undo_all(struct mpc_nl *nl);
/* Undo only the objects recorded with this tag, newest first. */
int mpc_nl_undo_tag(struct mpc_nl *nl, enum mpc_nl_rec tag);
/* Undo back to a journal length taken earlier with mpc_nl_journal_len(). */
int mpc_nl_undo_to(struct mpc_nl *nl, int mark);
/* Forget the journal without removing anything (e.g. a --keep option). */
void mpc_nl_journal_forget(struct mpc_nl *nl);

/* ---- MPTCP path manager (in-kernel PM) -------------------------------- */

int mpc_nl_pm_get_limits(struct mpc_nl *nl, struct mpc_nl_limits *lim);
/* Set both limits (each at most MPC_NL_PM_LIMIT_MAX); the previous values
 * are recorded under rec. */
int mpc_nl_pm_set_limits(struct mpc_nl *nl, const struct mpc_nl_limits *lim, enum mpc_nl_rec rec);
/* Raise each limit to at least the given value (clamped to the kernel
 * maximum with a warning); lowers nothing. Records only when it changed
 * something. lim_out (may be NULL) receives the resulting limits. */
int mpc_nl_pm_raise_limits(struct mpc_nl *nl, uint32_t subflows, uint32_t add_addr_accepted,
			   enum mpc_nl_rec rec, struct mpc_nl_limits *lim_out);
/* Add an endpoint; ep->id 0 lets the kernel pick one. On success ep->id is
 * the id the kernel uses. -EEXIST when the address is already an endpoint
 * (nothing recorded). */
int mpc_nl_pm_add_endpoint(struct mpc_nl *nl, struct mpc_nl_endpoint *ep, enum mpc_nl_rec rec);
int mpc_nl_pm_del_endpoint(struct mpc_nl *nl, uint8_t id);
int mpc_nl_pm_get_endpoint(struct mpc_nl *nl, uint8_t id, struct mpc_nl_endpoint *ep);
/* All endpoints; *eps is malloc()ed (free it), returns the count. */
int mpc_nl_pm_list_endpoints(struct mpc_nl *nl, struct mpc_nl_endpoint **eps);
/* Endpoint with this address (port 0 = any port), or -ENOENT. */
int mpc_nl_pm_find_endpoint(struct mpc_nl *nl, int family, const union mpc_nl_in *addr,
			    struct mpc_nl_endpoint *ep);
/* Remove every endpoint (not recorded: an administrative reset). */
int mpc_nl_pm_flush_endpoints(struct mpc_nl *nl);
/* Set the changeable flags (BACKUP, FULLMESH) of endpoint id to flags. */
int mpc_nl_pm_set_endpoint_flags(struct mpc_nl *nl, uint8_t id, uint32_t flags);
/* Turn BACKUP on or off, keeping FULLMESH as it is. */
int mpc_nl_pm_set_backup(struct mpc_nl *nl, uint8_t id, bool backup);

/* ---- links, addresses, routes, rules ---------------------------------- */

/* ifindex by name; -ENODEV with "NAME: no such interface". */
int mpc_nl_ifindex(struct mpc_nl *nl, const char *name, int *ifindex);
int mpc_nl_link_get(struct mpc_nl *nl, int ifindex, const char *name, struct mpc_nl_link *link);
/* Name of ifindex into buf (IF_NAMESIZE), or "if<N>" when unknown. */
const char *mpc_nl_ifname(struct mpc_nl *nl, int ifindex, char *buf);

/* Addresses of ifindex (0 = all) in family (AF_UNSPEC = both): IPv4 (IFA_LOCAL,
 * so the local end of a point-to-point link), and IPv6 of global scope that
 * are not tentative (unless optimistic), DAD-failed, deprecated or temporary.
 * Primary IPv4 first, then secondary IPv4, then IPv6. *out is malloc()ed;
 * returns the count. */
int mpc_nl_addr_list(struct mpc_nl *nl, int ifindex, int family, struct mpc_nl_ifaddr **out);

/* Routes of table (0 = all) in family with output interface oif (0 = any);
 * multipath routes appear once per matching nexthop. */
int mpc_nl_route_list(struct mpc_nl *nl, int family, uint32_t table, int oif,
		      struct mpc_nl_route **out);
/* Add with NLM_F_EXCL: -EEXIST (not recorded) when the same route exists. */
int mpc_nl_route_add(struct mpc_nl *nl, const struct mpc_nl_route *r, enum mpc_nl_rec rec);
/* Delete the matching route; protocol 0 means MPC_NL_RTPROT (ours only). */
int mpc_nl_route_del(struct mpc_nl *nl, const struct mpc_nl_route *r);

int mpc_nl_rule_list(struct mpc_nl *nl, int family, struct mpc_nl_rule **out);
/* Add with NLM_F_EXCL: -EEXIST (not recorded) for an identical rule. */
int mpc_nl_rule_add(struct mpc_nl *nl, const struct mpc_nl_rule *r, enum mpc_nl_rec rec);
/* Delete the matching rule; protocol 0 means MPC_NL_RTPROT (ours only). */
int mpc_nl_rule_del(struct mpc_nl *nl, const struct mpc_nl_rule *r);
/* Is there a rule sending all traffic from addr to some table (a `from`
 * selector covering addr, no fwmark/iif/oif, not inverted)? 1, 0, -errno. */
int mpc_nl_rule_from_exists(struct mpc_nl *nl, int family, const union mpc_nl_in *addr);

/* ---- high-level helpers for the daemons ------------------------------- */

enum mpc_nl_state {
	MPC_NL_NONE = 0, /* not configured */
	MPC_NL_ADDED,	 /* added by us (recorded) */
	MPC_NL_EXISTED,	 /* was already there; left alone */
};

struct mpc_nl_wan_addr {
	int family;
	union mpc_nl_in addr;
	uint8_t plen;
	union mpc_nl_in gw;	/* gateway of the family's default route */
	bool has_gw;		/* false: `default dev IF` (point-to-point) */
	enum mpc_nl_state rule; /* `from addr lookup table` */
	enum mpc_nl_state endpoint;
	uint8_t endpoint_id;
	uint32_t endpoint_flags;
};

struct mpc_nl_wan_link {
	int ifindex;
	char name[IF_NAMESIZE];
	uint32_t table;
	uint32_t prio;
	int n_routes_added; /* routes added into table */
	int n_addrs;
	struct mpc_nl_wan_addr addrs[MPC_NL_LINK_MAX_ADDRS];
};

struct mpc_nl_wan_opts {
	bool fullmesh;	      /* SUBFLOW|FULLMESH endpoints (implicit mode) */
	uint32_t backup_mask; /* bit i: link i is a backup link */
	bool ipv4_only, ipv6_only;
	uint32_t subflows;	    /* limit at least this; 0 = n_links - 1 */
	uint32_t add_addr_accepted; /* limit at least this */
	uint32_t table_base;	    /* 0 = MPC_NL_TABLE_BASE */
	uint32_t prio_base;	    /* 0 = MPC_NL_PRIO_BASE */
	/* a link that is down, or has no address or default route yet, is
	 * set up with nothing (n_addrs 0, a warning) instead of failing the
	 * call, for mpc_nl_wan_link_sync() to bring in later; an unknown
	 * interface is still an error */
	bool allow_down;
};

struct mpc_nl_wan_result {
	int n_links;
	struct mpc_nl_wan_link links[MPC_NL_MAX_LINKS];
	struct mpc_nl_limits limits_before, limits_after;
};

/*
 * For each WAN interface: find its primary IPv4 and global IPv6 addresses
 * and the lowest-metric default route of each family that leaves through
 * it in the main table; for each address without a `from` rule, fill table
 * table_base+i with the link's connected prefixes and that default route
 * and add `from ADDR lookup table_base+i prio prio_base+i`; add an MPTCP
 * endpoint (SUBFLOW, or SUBFLOW|FULLMESH; BACKUP per backup_mask; dev IF)
 * for each address that has none; raise the PM limits to at least
 * max(n-1, opts->subflows) subflows and opts->add_addr_accepted.
 *
 * A family with addresses but no default route through the link is skipped
 * with a warning; a link with nothing usable is an error. Everything is
 * recorded under MPC_NL_REC_WAN; on failure what this call added is removed
 * again before returning. res (may be NULL) describes the outcome.
 */
int mpc_nl_setup_wan_links(struct mpc_nl *nl, const int *ifindexes, int n,
			   const struct mpc_nl_wan_opts *opts, struct mpc_nl_wan_result *res);

/*
 * Bring WAN link i (set up by mpc_nl_setup_wan_links(), described by L) in
 * line with what the kernel has now. A link is usable when it is up with
 * carrier (IFF_UP and IFF_RUNNING), has an address and a default route in
 * the main table, as at start-up.
 *
 * Not usable: the endpoints this daemon added for the link are withdrawn
 * (deleted), so the in-kernel PM closes their subflows on every
 * connection at once instead of leaving data on a dead path until its
 * retransmission timer gives up. Endpoints that existed before us are
 * left alone. Returns 0.
 *
 * Usable: the link's table is refilled (the kernel deletes a link's routes
 * when it goes administratively down), source rules and endpoints are
 * added for addresses that lack them, and the endpoint and rule of an
 * address the link no longer has are removed. Adding an endpoint makes
 * the in-kernel PM open a subflow from it on every established
 * connection, so the connections a link outage left on one path get their
 * second path back. Returns 1.
 *
 * *changed (may be NULL) is set when an endpoint was withdrawn or added.
 * Additions are recorded under MPC_NL_REC_WAN like the start-up set-up.
 */
int mpc_nl_wan_link_sync(struct mpc_nl *nl, int i, const struct mpc_nl_wan_opts *opts,
			 struct mpc_nl_wan_link *L, bool *changed);

/*
 * Change notifications (nl_monitor.c): a non-blocking NETLINK_ROUTE socket
 * subscribed to link, address and route changes of both families, or
 * -errno. mpc_nl_monitor_read() drains it and calls cb once per message
 * naming an interface (ifindex > 0), with -1 for "any interface" (a
 * multipath default route, or notifications lost to a full buffer).
 * Returns the number of messages read, or -errno.
 */
int mpc_nl_monitor_open(void);
int mpc_nl_monitor_read(int fd, void (*cb)(int ifindex, void *arg), void *arg);

/*
 * Local delivery of marked packets, both families (recipes.md):
 *   ip rule add fwmark MARK/MASK lookup TABLE prio PRIO
 *   ip route add local 0.0.0.0/0 dev lo table TABLE   (and ::/0)
 * mask 0 means 0xffffffff. Recorded under MPC_NL_REC_LOCAL; a kernel
 * without IPv6, or with IPv6 disabled on lo, gets the IPv4 half only (with a
 * warning). Halves that already exist are left alone and not recorded.
 */
int mpc_nl_setup_local_routing(struct mpc_nl *nl, uint32_t mark, uint32_t mask, uint32_t table,
			       uint32_t prio);
int mpc_nl_undo_local_routing(struct mpc_nl *nl);

/* "a.b.c.d" or IPv6 text into buf (INET6_ADDRSTRLEN). */
const char *mpc_nl_addr_str(int family, const union mpc_nl_in *a, char *buf);
/* Parse IPv4 or IPv6 text into family + address: 0 or -EINVAL. */
int mpc_nl_addr_parse(const char *s, int *family, union mpc_nl_in *a);

#endif /* MPC_NL_H */
