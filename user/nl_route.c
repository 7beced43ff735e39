// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rtnetlink: links, addresses, routes and policy rules, as `ip link|addr|
 * route|rule` would do them, for the WAN source routing and the local
 * delivery routing (nl.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "nl_priv.h"

/* ---- links ------------------------------------------------------------- */

static int link_cb(const struct nlmsghdr *h, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	struct mpc_nl_link *link = data;
	const struct nlattr *a;

	link->ifindex = ifi->ifi_index;
	link->flags = ifi->ifi_flags;
	mnl_attr_for_each(a, h, sizeof(*ifi)) {
		if (mnl_attr_get_type(a) == IFLA_IFNAME &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			snprintf(link->name, sizeof(link->name), "%s", mnl_attr_get_str(a));
		if (mnl_attr_get_type(a) == IFLA_STATS64 &&
		    mnl_attr_get_payload_len(a) >= sizeof(struct rtnl_link_stats64)) {
			struct rtnl_link_stats64 st;

			/* attribute payloads are only 4-byte aligned */
			memcpy(&st, mnl_attr_get_payload(a), sizeof(st));
			link->rx_bytes = st.rx_bytes;
			link->tx_bytes = st.tx_bytes;
		}
	}
	return 0;
}

int mpc_nl_link_get(struct mpc_nl *nl, int ifindex, const char *name, struct mpc_nl_link *link)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int err;

	memset(link, 0, sizeof(*link));
	if (name && strlen(name) >= IF_NAMESIZE)
		return nl_say(nl, -EINVAL, "%s: interface name too long", name);
	if (!name && ifindex <= 0)
		return nl_say(nl, -ENODEV, "interface index %d: no such interface", ifindex);
	nlh = nl_req(nl, RTM_GETLINK, 0);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = name ? 0 : ifindex;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	err = nl_talk(nl, nl->rt, nlh, link_cb, link);
	if (err == -ENODEV || (!err && !link->ifindex)) {
		if (name)
			return nl_say(nl, -ENODEV, "%s: no such interface", name);
		return nl_say(nl, -ENODEV, "interface index %d: no such interface", ifindex);
	}
	if (err)
		return nl_fail(nl, err, "interface %s", name ? name : "");
	return 0;
}

int mpc_nl_ifindex(struct mpc_nl *nl, const char *name, int *ifindex)
{
	struct mpc_nl_link link;
	int err = mpc_nl_link_get(nl, 0, name, &link);

	if (err)
		return err;
	*ifindex = link.ifindex;
	return 0;
}

const char *mpc_nl_ifname(struct mpc_nl *nl, int ifindex, char *buf)
{
	struct mpc_nl_link link;
	char saved[sizeof(nl->err)], ext[sizeof(nl->ext)];

	/* a name for a message must not overwrite the message (or the
	 * kernel's extack text) being built */
	memcpy(saved, nl->err, sizeof(saved));
	memcpy(ext, nl->ext, sizeof(ext));
	if (mpc_nl_link_get(nl, ifindex, NULL, &link) == 0)
		snprintf(buf, IF_NAMESIZE, "%s", link.name);
	else
		snprintf(buf, IF_NAMESIZE, "if%d", ifindex);
	memcpy(nl->err, saved, sizeof(saved));
	memcpy(nl->ext, ext, sizeof(ext));
	return buf;
}

/* ---- addresses --------------------------------------------------------- */

struct addr_q {
	struct nl_vec vec;
	int ifindex, family;
};

static int addr_cb(const struct nlmsghdr *h, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	struct addr_q *q = data;
	const struct nlattr *a;
	const void *local = NULL, *address = NULL;
	uint32_t flags = ifa->ifa_flags;
	struct mpc_nl_ifaddr *out;
	int alen = nl_addr_len(ifa->ifa_family);

	if (!alen || (q->family && ifa->ifa_family != q->family) ||
	    (q->ifindex && (int)ifa->ifa_index != q->ifindex))
		return 0;
	mnl_attr_for_each(a, h, sizeof(*ifa)) {
		switch (mnl_attr_get_type(a)) {
		case IFA_LOCAL:
			if (mnl_attr_get_payload_len(a) == (uint16_t)alen)
				local = mnl_attr_get_payload(a);
			break;
		case IFA_ADDRESS:
			if (mnl_attr_get_payload_len(a) == (uint16_t)alen)
				address = mnl_attr_get_payload(a);
			break;
		case IFA_FLAGS:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				flags = mnl_attr_get_u32(a);
			break;
		}
	}
	/* IPv4: IFA_LOCAL is ours, IFA_ADDRESS the peer on point-to-point */
	if (ifa->ifa_family == AF_INET && local)
		address = local;
	if (!address)
		return 0;
	if (ifa->ifa_family == AF_INET6) {
		/* only addresses a subflow can use as source for long:
		 * global, settled, and not a privacy address that rotates */
		if (ifa->ifa_scope != RT_SCOPE_UNIVERSE ||
		    (flags & (IFA_F_DADFAILED | IFA_F_DEPRECATED | IFA_F_TEMPORARY)) ||
		    ((flags & IFA_F_TENTATIVE) && !(flags & IFA_F_OPTIMISTIC)))
			return 0;
	} else if (ifa->ifa_scope >= RT_SCOPE_HOST) {
		return 0;
	}
	out = nl_vec_push(&q->vec);
	if (!out)
		return -ENOMEM;
	out->family = ifa->ifa_family;
	out->ifindex = (int)ifa->ifa_index;
	memcpy(&out->addr, address, alen);
	out->plen = ifa->ifa_prefixlen;
	out->scope = ifa->ifa_scope;
	out->flags = flags;
	return 0;
}

static int addr_rank(const struct mpc_nl_ifaddr *a)
{
	if (a->family == AF_INET)
		return (a->flags & IFA_F_SECONDARY) ? 1 : 0;
	return 2;
}

int mpc_nl_addr_list(struct mpc_nl *nl, int ifindex, int family, struct mpc_nl_ifaddr **out)
{
	struct addr_q q = { .vec.elsz = sizeof(**out), .ifindex = ifindex, .family = family };
	struct mpc_nl_ifaddr *v;
	int err, tries = 0, i, j;

	*out = NULL;
	do {
		struct nlmsghdr *nlh = nl_req(nl, RTM_GETADDR, NLM_F_DUMP);
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

		ifa->ifa_family = (uint8_t)family;
		q.vec.n = 0;
		err = nl_talk(nl, nl->rt, nlh, addr_cb, &q);
	} while (err == -EINTR && ++tries < 5);
	if (err) {
		free(q.vec.v);
		return nl_fail(nl, err, "listing addresses");
	}
	/* stable insertion sort: primary IPv4, secondary IPv4, IPv6 (the
	 * kernel's own order within each group) */
	v = q.vec.v;
	for (i = 1; i < q.vec.n; i++) {
		struct mpc_nl_ifaddr t = v[i];

		for (j = i; j > 0 && addr_rank(&v[j - 1]) > addr_rank(&t); j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
	*out = v;
	return q.vec.n;
}

/* ---- routes ------------------------------------------------------------ */

struct route_q {
	struct nl_vec vec;
	int family, oif;
	uint32_t table;
};

static int push_route(struct route_q *q, const struct mpc_nl_route *r)
{
	struct mpc_nl_route *slot;

	if (q->oif && r->oif != q->oif)
		return 0;
	slot = nl_vec_push(&q->vec);
	if (!slot)
		return -ENOMEM;
	*slot = *r;
	return 0;
}

static int route_cb(const struct nlmsghdr *h, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(h);
	struct route_q *q = data;
	const struct nlattr *a, *mp = NULL;
	struct mpc_nl_route r = { 0 };
	int alen = nl_addr_len(rtm->rtm_family);

	if (!alen || (q->family && rtm->rtm_family != q->family) || (rtm->rtm_flags & RTM_F_CLONED))
		return 0;
	r.family = rtm->rtm_family;
	r.table = rtm->rtm_table;
	r.type = rtm->rtm_type;
	r.scope = rtm->rtm_scope;
	r.protocol = rtm->rtm_protocol;
	r.dst_len = rtm->rtm_dst_len;
	r.flags = rtm->rtm_flags & RTNH_F_ONLINK;
	mnl_attr_for_each(a, h, sizeof(*rtm)) {
		switch (mnl_attr_get_type(a)) {
		case RTA_TABLE:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				r.table = mnl_attr_get_u32(a);
			break;
		case RTA_DST:
			if (mnl_attr_get_payload_len(a) == (uint16_t)alen)
				memcpy(&r.dst, mnl_attr_get_payload(a), alen);
			break;
		case RTA_GATEWAY:
			if (mnl_attr_get_payload_len(a) == (uint16_t)alen) {
				memcpy(&r.gw, mnl_attr_get_payload(a), alen);
				r.has_gw = true;
			}
			break;
		case RTA_PREFSRC:
			if (mnl_attr_get_payload_len(a) == (uint16_t)alen) {
				memcpy(&r.prefsrc, mnl_attr_get_payload(a), alen);
				r.has_prefsrc = true;
			}
			break;
		case RTA_OIF:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				r.oif = (int)mnl_attr_get_u32(a);
			break;
		case RTA_PRIORITY:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				r.metric = mnl_attr_get_u32(a);
			break;
		case RTA_MULTIPATH:
			mp = a;
			break;
		}
	}
	if (q->table && r.table != q->table)
		return 0;
	if (!mp)
		return push_route(q, &r);

	/* one entry per nexthop: a WAN link may be one leg of an ECMP default */
	{
		const struct rtnexthop *nh = mnl_attr_get_payload(mp);
		int rem = mnl_attr_get_payload_len(mp);

		while (rem >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) &&
		       nh->rtnh_len <= rem) {
			struct mpc_nl_route leg = r;
			const struct nlattr *na;
			int arem = nh->rtnh_len - (int)RTNH_LENGTH(0);
			int err;

			leg.multipath = true;
			leg.oif = nh->rtnh_ifindex;
			leg.flags = nh->rtnh_flags & RTNH_F_ONLINK;
			leg.has_gw = false;
			for (na = (const void *)RTNH_DATA(nh); mnl_attr_ok(na, arem);
			     arem -= MNL_ALIGN(na->nla_len), na = mnl_attr_next(na)) {
				if (mnl_attr_get_type(na) == RTA_GATEWAY &&
				    mnl_attr_get_payload_len(na) == (uint16_t)alen) {
					memcpy(&leg.gw, mnl_attr_get_payload(na), alen);
					leg.has_gw = true;
				}
			}
			err = push_route(q, &leg);
			if (err)
				return err;
			rem -= RTNH_ALIGN(nh->rtnh_len);
			nh = RTNH_NEXT(nh);
		}
	}
	return 0;
}

int mpc_nl_route_list(struct mpc_nl *nl, int family, uint32_t table, int oif,
		      struct mpc_nl_route **out)
{
	struct route_q q = {
		.vec.elsz = sizeof(**out), .family = family, .oif = oif, .table = table
	};
	int err, tries = 0;

	*out = NULL;
	do {
		struct nlmsghdr *nlh = nl_req(nl, RTM_GETROUTE, NLM_F_DUMP);
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

		rtm->rtm_family = (uint8_t)family;
		q.vec.n = 0;
		err = nl_talk(nl, nl->rt, nlh, route_cb, &q);
	} while (err == -EINTR && ++tries < 5);
	if (err) {
		free(q.vec.v);
		return nl_fail(nl, err, "listing routes");
	}
	*out = q.vec.v;
	return q.vec.n;
}

/* The values an add really uses, so a recorded route deletes exactly. */
static void route_effective(const struct mpc_nl_route *in, struct mpc_nl_route *r)
{
	*r = *in;
	if (!r->type)
		r->type = RTN_UNICAST;
	if (!r->protocol)
		r->protocol = MPC_NL_RTPROT;
	if (!r->scope) {
		if (r->type == RTN_LOCAL)
			r->scope = RT_SCOPE_HOST;
		else if (r->type == RTN_UNICAST && !r->has_gw && r->dst_len && r->oif)
			r->scope = RT_SCOPE_LINK;
		else
			r->scope = RT_SCOPE_UNIVERSE;
	}
	if (!r->table)
		r->table = RT_TABLE_MAIN;
}

static struct nlmsghdr *route_msg(struct mpc_nl *nl, uint16_t type, uint16_t flags,
				  const struct mpc_nl_route *r, bool del)
{
	struct nlmsghdr *nlh = nl_req(nl, type, flags);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	int alen = nl_addr_len(r->family);

	rtm->rtm_family = (uint8_t)r->family;
	rtm->rtm_dst_len = r->dst_len;
	rtm->rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = r->protocol;
	/* delete: NOWHERE matches any scope (fib_table_delete) */
	rtm->rtm_scope = del ? RT_SCOPE_NOWHERE : r->scope;
	rtm->rtm_type = r->type;
	rtm->rtm_flags = del ? 0 : r->flags;
	mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
	mnl_attr_put(nlh, RTA_DST, alen, &r->dst);
	if (r->has_gw)
		mnl_attr_put(nlh, RTA_GATEWAY, alen, &r->gw);
	if (r->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->oif);
	if (r->metric)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, r->metric);
	if (r->has_prefsrc && !del)
		mnl_attr_put(nlh, RTA_PREFSRC, alen, &r->prefsrc);
	return nlh;
}

int mpc_nl_route_add(struct mpc_nl *nl, const struct mpc_nl_route *in, enum mpc_nl_rec rec)
{
	struct nl_jent e = { .kind = NL_J_ROUTE, .rec = rec };
	char what[160], ifn[IF_NAMESIZE];
	int err;

	if (!nl_addr_len(in->family))
		return nl_say(nl, -EAFNOSUPPORT, "route: address family %d", in->family);
	route_effective(in, &e.route);
	err = nl_talk(nl, nl->rt,
		      route_msg(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &e.route, false), NULL,
		      NULL);
	if (err) {
		nl_route_str(&e.route, what, sizeof(what));
		if (e.route.oif)
			return nl_fail(nl, err, "%s: adding %s",
				       mpc_nl_ifname(nl, e.route.oif, ifn), what);
		return nl_fail(nl, err, "adding %s", what);
	}
	err = nl_record(nl, &e);
	if (err) {
		nl_route_del_raw(nl, &e.route);
		return nl_fail(nl, err, "recording a route");
	}
	return 0;
}

int nl_route_del_raw(struct mpc_nl *nl, const struct mpc_nl_route *r)
{
	return nl_talk(nl, nl->rt, route_msg(nl, RTM_DELROUTE, 0, r, true), NULL, NULL);
}

int mpc_nl_route_del(struct mpc_nl *nl, const struct mpc_nl_route *in)
{
	struct mpc_nl_route r;
	char what[160];
	int err;

	/* protocol 0 means ours (MPC_NL_RTPROT): deleting someone else's
	 * route by accident must take an explicit protocol */
	route_effective(in, &r);
	err = nl_route_del_raw(nl, &r);
	if (err) {
		nl_route_str(&r, what, sizeof(what));
		return nl_fail(nl, err, "deleting %s", what);
	}
	return 0;
}

/* ---- rules ------------------------------------------------------------- */

struct rule_q {
	struct nl_vec vec;
	int family;
};

static int rule_cb(const struct nlmsghdr *h, void *data)
{
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(h);
	struct rule_q *q = data;
	struct mpc_nl_rule *r;
	const struct nlattr *a;
	int alen = nl_addr_len(frh->family);
	bool mask_seen = false;

	if (!alen || (q->family && frh->family != q->family))
		return 0;
	r = nl_vec_push(&q->vec);
	if (!r)
		return -ENOMEM;
	r->family = frh->family;
	r->table = frh->table;
	r->action = frh->action;
	r->flags = frh->flags;
	r->src_len = frh->src_len;
	r->dst_len = frh->dst_len;
	mnl_attr_for_each(a, h, sizeof(*frh)) {
		switch (mnl_attr_get_type(a)) {
		case FRA_PRIORITY:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
				r->prio = mnl_attr_get_u32(a);
				r->has_prio = true;
			}
			break;
		case FRA_TABLE:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				r->table = mnl_attr_get_u32(a);
			break;
		case FRA_SRC:
			if (mnl_attr_get_payload_len(a) == (uint16_t)alen)
				memcpy(&r->src, mnl_attr_get_payload(a), alen);
			break;
		case FRA_DST:
			if (mnl_attr_get_payload_len(a) == (uint16_t)alen)
				memcpy(&r->dst, mnl_attr_get_payload(a), alen);
			break;
		case FRA_FWMARK:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
				r->fwmark = mnl_attr_get_u32(a);
				r->has_fwmark = true;
			}
			break;
		case FRA_FWMASK:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
				r->fwmask = mnl_attr_get_u32(a);
				mask_seen = true;
			}
			break;
		case FRA_IIFNAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(r->iifname, sizeof(r->iifname), "%s", mnl_attr_get_str(a));
			break;
		case FRA_OIFNAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(r->oifname, sizeof(r->oifname), "%s", mnl_attr_get_str(a));
			break;
		case FRA_PROTOCOL:
			if (mnl_attr_validate(a, MNL_TYPE_U8) == 0)
				r->protocol = mnl_attr_get_u8(a);
			break;
		}
	}
	/* The kernel sends FRA_FWMARK only for a non-zero mark, and
	 * FRA_FWMASK whenever mark or mask is set: "fwmark 0/0xff" comes
	 * with the mask alone. A mark without mask means all bits. */
	if (mask_seen)
		r->has_fwmark = true;
	else if (r->has_fwmark)
		r->fwmask = 0xffffffff;
	return 0;
}

int mpc_nl_rule_list(struct mpc_nl *nl, int family, struct mpc_nl_rule **out)
{
	struct rule_q q = { .vec.elsz = sizeof(**out), .family = family };
	int err, tries = 0;

	*out = NULL;
	do {
		struct nlmsghdr *nlh = nl_req(nl, RTM_GETRULE, NLM_F_DUMP);
		struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));

		frh->family = (uint8_t)family;
		q.vec.n = 0;
		err = nl_talk(nl, nl->rt, nlh, rule_cb, &q);
	} while (err == -EINTR && ++tries < 5);
	if (err) {
		free(q.vec.v);
		return nl_fail(nl, err, "listing rules");
	}
	*out = q.vec.v;
	return q.vec.n;
}

static void rule_effective(const struct mpc_nl_rule *in, struct mpc_nl_rule *r)
{
	*r = *in;
	if (!r->action)
		r->action = FR_ACT_TO_TBL;
	if (!r->protocol)
		r->protocol = MPC_NL_RTPROT;
	if (r->has_fwmark && !r->fwmask)
		r->fwmask = 0xffffffff;
}

static struct nlmsghdr *rule_msg(struct mpc_nl *nl, uint16_t type, uint16_t flags,
				 const struct mpc_nl_rule *r)
{
	struct nlmsghdr *nlh = nl_req(nl, type, flags);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	int alen = nl_addr_len(r->family);

	frh->family = (uint8_t)r->family;
	frh->src_len = r->src_len;
	frh->dst_len = r->dst_len;
	frh->action = r->action;
	frh->flags = r->flags;
	frh->table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	if (r->table)
		mnl_attr_put_u32(nlh, FRA_TABLE, r->table);
	if (r->has_prio)
		mnl_attr_put_u32(nlh, FRA_PRIORITY, r->prio);
	if (r->src_len)
		mnl_attr_put(nlh, FRA_SRC, alen, &r->src);
	if (r->dst_len)
		mnl_attr_put(nlh, FRA_DST, alen, &r->dst);
	if (r->has_fwmark) {
		mnl_attr_put_u32(nlh, FRA_FWMARK, r->fwmark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, r->fwmask);
	}
	if (r->iifname[0])
		mnl_attr_put_strz(nlh, FRA_IIFNAME, r->iifname);
	if (r->oifname[0])
		mnl_attr_put_strz(nlh, FRA_OIFNAME, r->oifname);
	mnl_attr_put_u8(nlh, FRA_PROTOCOL, r->protocol);
	return nlh;
}

static bool in_eq(const union mpc_nl_in *a, const union mpc_nl_in *b, int len)
{
	return !memcmp(a, b, len);
}

/* Same selectors, action and table; protocol ignored (a rule an operator
 * made by hand is the same rule for us). */
static bool rule_same(const struct mpc_nl_rule *a, const struct mpc_nl_rule *b)
{
	int alen = nl_addr_len(a->family);

	return a->family == b->family && a->action == b->action && a->table == b->table &&
	       (!b->has_prio || (a->has_prio && a->prio == b->prio)) && a->src_len == b->src_len &&
	       (!a->src_len || in_eq(&a->src, &b->src, alen)) && a->dst_len == b->dst_len &&
	       (!a->dst_len || in_eq(&a->dst, &b->dst, alen)) && a->has_fwmark == b->has_fwmark &&
	       (!a->has_fwmark || (a->fwmark == b->fwmark && a->fwmask == b->fwmask)) &&
	       !strcmp(a->iifname, b->iifname) && !strcmp(a->oifname, b->oifname) &&
	       (a->flags & FIB_RULE_INVERT) == (b->flags & FIB_RULE_INVERT);
}

int mpc_nl_rule_add(struct mpc_nl *nl, const struct mpc_nl_rule *in, enum mpc_nl_rec rec)
{
	struct nl_jent e = { .kind = NL_J_RULE, .rec = rec };
	struct mpc_nl_rule *rules;
	char what[160];
	int err, n, i;

	if (!nl_addr_len(in->family))
		return nl_say(nl, -EAFNOSUPPORT, "rule: address family %d", in->family);
	rule_effective(in, &e.rule);
	nl_rule_str(&e.rule, what, sizeof(what));
	/* The kernel's own EEXIST check (NLM_F_EXCL) also compares the
	 * protocol, so a hand-made copy would not stop a duplicate. */
	n = mpc_nl_rule_list(nl, e.rule.family, &rules);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		if (rule_same(&rules[i], &e.rule))
			break;
	free(rules);
	if (i < n)
		return nl_say(nl, -EEXIST, "adding %s: exists", what);
	err = nl_talk(nl, nl->rt, rule_msg(nl, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, &e.rule),
		      NULL, NULL);
	if (err)
		return nl_fail(nl, err, "adding %s", what);
	err = nl_record(nl, &e);
	if (err) {
		nl_rule_del_raw(nl, &e.rule);
		return nl_fail(nl, err, "recording %s", what);
	}
	return 0;
}

int nl_rule_del_raw(struct mpc_nl *nl, const struct mpc_nl_rule *r)
{
	return nl_talk(nl, nl->rt, rule_msg(nl, RTM_DELRULE, 0, r), NULL, NULL);
}

int mpc_nl_rule_del(struct mpc_nl *nl, const struct mpc_nl_rule *in)
{
	struct mpc_nl_rule r;
	char what[160];
	int err;

	rule_effective(in, &r);
	err = nl_rule_del_raw(nl, &r);
	if (err) {
		nl_rule_str(&r, what, sizeof(what));
		return nl_fail(nl, err, "deleting %s", what);
	}
	return 0;
}

static bool prefix_covers(const union mpc_nl_in *p, int plen, const union mpc_nl_in *a)
{
	int full = plen / 8, rest = plen % 8;

	if (memcmp(p, a, full))
		return false;
	if (!rest)
		return true;
	return ((p->b[full] ^ a->b[full]) & (0xff << (8 - rest))) == 0;
}

int mpc_nl_rule_from_exists(struct mpc_nl *nl, int family, const union mpc_nl_in *addr)
{
	struct mpc_nl_rule *rules;
	int n, i, found = 0;

	n = mpc_nl_rule_list(nl, family, &rules);
	if (n < 0)
		return n;
	for (i = 0; i < n && !found; i++) {
		const struct mpc_nl_rule *r = &rules[i];

		found = r->family == family && r->action == FR_ACT_TO_TBL && r->src_len &&
			!r->has_fwmark && !r->iifname[0] && !r->oifname[0] &&
			!(r->flags & FIB_RULE_INVERT) && prefix_covers(&r->src, r->src_len, addr);
	}
	free(rules);
	return found;
}
