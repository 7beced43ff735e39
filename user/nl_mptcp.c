// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * In-kernel MPTCP path manager over generic netlink: family "mptcp_pm"
 * version 1 (protocol.md §9). Endpoints are the kernel's "local address
 * list": with SUBFLOW the kernel opens an extra subflow from that address
 * on each new connection, within the `subflows` limit.
 *
 * Attribute encoding, as the kernel's pm netlink code reads and writes it:
 * ADDR4/ADDR6 in network order, PORT as a host-order u16, IF_IDX as s32.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/genetlink.h>
#include <linux/mptcp.h>

#include "log.h"
#include "nl_priv.h"

/* Linux 6.1's uapi header (Debian 12) has these; older ones may not. */
#ifndef MPTCP_PM_ADDR_FLAG_FULLMESH
#define MPTCP_PM_ADDR_FLAG_FULLMESH (1 << 3)
#endif
#ifndef MPTCP_PM_ADDR_FLAG_IMPLICIT
#define MPTCP_PM_ADDR_FLAG_IMPLICIT (1 << 4)
#endif

_Static_assert(MPC_PM_SIGNAL == MPTCP_PM_ADDR_FLAG_SIGNAL, "flag values follow the uapi");
_Static_assert(MPC_PM_SUBFLOW == MPTCP_PM_ADDR_FLAG_SUBFLOW, "flag values follow the uapi");
_Static_assert(MPC_PM_BACKUP == MPTCP_PM_ADDR_FLAG_BACKUP, "flag values follow the uapi");
_Static_assert(MPC_PM_FULLMESH == MPTCP_PM_ADDR_FLAG_FULLMESH, "flag values follow the uapi");
_Static_assert(MPC_PM_IMPLICIT == MPTCP_PM_ADDR_FLAG_IMPLICIT, "flag values follow the uapi");

static int pm_check(struct mpc_nl *nl)
{
	if (nl->pm_family)
		return 0;
	return nl_say(nl, -EPROTONOSUPPORT,
		      "mptcp_pm genetlink family not found: kernel without MPTCP?");
}

static struct nlmsghdr *pm_req(struct mpc_nl *nl, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = nl_req(nl, nl->pm_family, flags);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	g->cmd = cmd;
	g->version = MPTCP_PM_VER;
	return nlh;
}

static const char *ep_str(const struct mpc_nl_endpoint *ep, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ep->family)
		snprintf(buf, len, "MPTCP endpoint %s", mpc_nl_addr_str(ep->family, &ep->addr, a));
	else
		snprintf(buf, len, "MPTCP endpoint id %u", ep->id);
	return buf;
}

/* ---- limits ------------------------------------------------------------ */

static int limits_cb(const struct nlmsghdr *h, void *data)
{
	struct mpc_nl_limits *lim = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, h, sizeof(struct genlmsghdr)) {
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			continue;
		if (mnl_attr_get_type(a) == MPTCP_PM_ATTR_SUBFLOWS)
			lim->subflows = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == MPTCP_PM_ATTR_RCV_ADD_ADDRS)
			lim->add_addr_accepted = mnl_attr_get_u32(a);
	}
	return 0;
}

int mpc_nl_pm_get_limits(struct mpc_nl *nl, struct mpc_nl_limits *lim)
{
	int err = pm_check(nl);

	if (err)
		return err;
	memset(lim, 0, sizeof(*lim));
	err = nl_talk(nl, nl->gen, pm_req(nl, MPTCP_PM_CMD_GET_LIMITS, 0), limits_cb, lim);
	return err ? nl_fail(nl, err, "reading MPTCP limits") : 0;
}

static int set_limits_raw(struct mpc_nl *nl, const struct mpc_nl_limits *lim)
{
	struct nlmsghdr *nlh = pm_req(nl, MPTCP_PM_CMD_SET_LIMITS, 0);

	mnl_attr_put_u32(nlh, MPTCP_PM_ATTR_RCV_ADD_ADDRS, lim->add_addr_accepted);
	mnl_attr_put_u32(nlh, MPTCP_PM_ATTR_SUBFLOWS, lim->subflows);
	return nl_talk(nl, nl->gen, nlh, NULL, NULL);
}

int mpc_nl_pm_set_limits(struct mpc_nl *nl, const struct mpc_nl_limits *lim, enum mpc_nl_rec rec)
{
	struct nl_jent e = { .kind = NL_J_LIMITS, .rec = rec };
	int err;

	err = mpc_nl_pm_get_limits(nl, &e.lim.prev);
	if (err)
		return err;
	err = set_limits_raw(nl, lim);
	if (err)
		return nl_fail(nl, err, "setting MPTCP limits subflows %u add_addr_accepted %u",
			       lim->subflows, lim->add_addr_accepted);
	e.lim.set = *lim;
	if (memcmp(&e.lim.prev, &e.lim.set, sizeof(e.lim.set)) == 0)
		return 0;
	err = nl_record(nl, &e);
	if (err) {
		set_limits_raw(nl, &e.lim.prev);
		return nl_fail(nl, err, "recording MPTCP limits");
	}
	return 0;
}

int mpc_nl_pm_raise_limits(struct mpc_nl *nl, uint32_t subflows, uint32_t add_addr_accepted,
			   enum mpc_nl_rec rec, struct mpc_nl_limits *lim_out)
{
	struct mpc_nl_limits cur, want;
	int err;

	if (subflows > MPC_NL_PM_LIMIT_MAX || add_addr_accepted > MPC_NL_PM_LIMIT_MAX) {
		pr_warn("MPTCP limits capped at the kernel maximum %d (asked subflows %u "
			"add_addr_accepted %u)\n",
			MPC_NL_PM_LIMIT_MAX, subflows, add_addr_accepted);
		if (subflows > MPC_NL_PM_LIMIT_MAX)
			subflows = MPC_NL_PM_LIMIT_MAX;
		if (add_addr_accepted > MPC_NL_PM_LIMIT_MAX)
			add_addr_accepted = MPC_NL_PM_LIMIT_MAX;
	}
	err = mpc_nl_pm_get_limits(nl, &cur);
	if (err)
		return err;
	want.subflows = cur.subflows > subflows ? cur.subflows : subflows;
	want.add_addr_accepted = cur.add_addr_accepted > add_addr_accepted ? cur.add_addr_accepted :
									     add_addr_accepted;
	if (memcmp(&cur, &want, sizeof(cur))) {
		err = mpc_nl_pm_set_limits(nl, &want, rec);
		if (err)
			return err;
	}
	if (lim_out)
		*lim_out = want;
	return 0;
}

/* Restore the limits we changed, unless someone changed them after us: then
 * their values win and we only say so. */
int nl_pm_undo_limits(struct mpc_nl *nl, const struct mpc_nl_limits *prev,
		      const struct mpc_nl_limits *set)
{
	struct mpc_nl_limits cur;
	int err;

	err = mpc_nl_pm_get_limits(nl, &cur);
	if (err)
		return err;
	if (memcmp(&cur, set, sizeof(cur))) {
		pr_warn("MPTCP limits changed by someone else since we set them (now subflows %u "
			"add_addr_accepted %u): left as they are\n",
			cur.subflows, cur.add_addr_accepted);
		return 0;
	}
	return set_limits_raw(nl, prev);
}

/* ---- endpoints --------------------------------------------------------- */

static int ep_attr_cb(const struct nlattr *a, void *data)
{
	struct mpc_nl_endpoint *ep = data;

	switch (mnl_attr_get_type(a)) {
	case MPTCP_PM_ADDR_ATTR_FAMILY:
		if (mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			ep->family = mnl_attr_get_u16(a);
		break;
	case MPTCP_PM_ADDR_ATTR_ID:
		if (mnl_attr_validate(a, MNL_TYPE_U8) == 0)
			ep->id = mnl_attr_get_u8(a);
		break;
	case MPTCP_PM_ADDR_ATTR_ADDR4:
		if (mnl_attr_get_payload_len(a) == 4)
			memcpy(&ep->addr.v4, mnl_attr_get_payload(a), 4);
		break;
	case MPTCP_PM_ADDR_ATTR_ADDR6:
		if (mnl_attr_get_payload_len(a) == 16)
			memcpy(&ep->addr.v6, mnl_attr_get_payload(a), 16);
		break;
	case MPTCP_PM_ADDR_ATTR_PORT:
		if (mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			ep->port = mnl_attr_get_u16(a);
		break;
	case MPTCP_PM_ADDR_ATTR_FLAGS:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			ep->flags = mnl_attr_get_u32(a);
		break;
	case MPTCP_PM_ADDR_ATTR_IF_IDX:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			ep->ifindex = (int)mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int ep_parse(const struct nlmsghdr *h, struct mpc_nl_endpoint *ep)
{
	const struct nlattr *a;

	memset(ep, 0, sizeof(*ep));
	mnl_attr_for_each(a, h, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == MPTCP_PM_ATTR_ADDR) {
			mnl_attr_parse_nested(a, ep_attr_cb, ep);
			return 1;
		}
	}
	return 0;
}

static int ep_list_cb(const struct nlmsghdr *h, void *data)
{
	struct nl_vec *vec = data;
	struct mpc_nl_endpoint ep, *slot;

	if (!ep_parse(h, &ep))
		return 0;
	slot = nl_vec_push(vec);
	if (!slot)
		return -ENOMEM;
	*slot = ep;
	return 0;
}

static int ep_get_cb(const struct nlmsghdr *h, void *data)
{
	ep_parse(h, data);
	return 0;
}

static void put_ep(struct nlmsghdr *nlh, const struct mpc_nl_endpoint *ep, bool with_addr)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, MPTCP_PM_ATTR_ADDR);

	if (with_addr) {
		mnl_attr_put_u16(nlh, MPTCP_PM_ADDR_ATTR_FAMILY, (uint16_t)ep->family);
		if (ep->family == AF_INET)
			mnl_attr_put(nlh, MPTCP_PM_ADDR_ATTR_ADDR4, 4, &ep->addr.v4);
		else
			mnl_attr_put(nlh, MPTCP_PM_ADDR_ATTR_ADDR6, 16, &ep->addr.v6);
		if (ep->port)
			mnl_attr_put_u16(nlh, MPTCP_PM_ADDR_ATTR_PORT, ep->port);
		if (ep->ifindex)
			mnl_attr_put_u32(nlh, MPTCP_PM_ADDR_ATTR_IF_IDX, (uint32_t)ep->ifindex);
	}
	if (ep->id)
		mnl_attr_put_u8(nlh, MPTCP_PM_ADDR_ATTR_ID, ep->id);
	mnl_attr_put_u32(nlh, MPTCP_PM_ADDR_ATTR_FLAGS, ep->flags);
	mnl_attr_nest_end(nlh, nest);
}

int mpc_nl_pm_list_endpoints(struct mpc_nl *nl, struct mpc_nl_endpoint **eps)
{
	struct nl_vec vec = { .elsz = sizeof(**eps) };
	int err, tries = 0;

	*eps = NULL;
	err = pm_check(nl);
	if (err)
		return err;
	do {
		vec.n = 0;
		err = nl_talk(nl, nl->gen, pm_req(nl, MPTCP_PM_CMD_GET_ADDR, NLM_F_DUMP),
			      ep_list_cb, &vec);
	} while (err == -EINTR && ++tries < 5);
	if (err) {
		free(vec.v);
		return nl_fail(nl, err, "listing MPTCP endpoints");
	}
	*eps = vec.v;
	return vec.n;
}

int mpc_nl_pm_get_endpoint(struct mpc_nl *nl, uint8_t id, struct mpc_nl_endpoint *ep)
{
	struct mpc_nl_endpoint q = { .id = id };
	struct nlmsghdr *nlh;
	int err = pm_check(nl);

	if (err)
		return err;
	if (!id)
		return nl_say(nl, -EINVAL, "MPTCP endpoint id 0 cannot be looked up");
	nlh = pm_req(nl, MPTCP_PM_CMD_GET_ADDR, 0);
	put_ep(nlh, &q, false);
	memset(ep, 0, sizeof(*ep));
	err = nl_talk(nl, nl->gen, nlh, ep_get_cb, ep);
	/* the kernel answers a missing id with EINVAL "address not found" */
	if (err == -EINVAL && strstr(nl->ext, "not found"))
		err = -ENOENT;
	if (err)
		return nl_fail(nl, err, "MPTCP endpoint id %u", id);
	return ep->id == id ? 0 : nl_say(nl, -ENOENT, "MPTCP endpoint id %u: not found", id);
}

int mpc_nl_pm_find_endpoint(struct mpc_nl *nl, int family, const union mpc_nl_in *addr,
			    struct mpc_nl_endpoint *ep)
{
	struct mpc_nl_endpoint *eps;
	int n, i, alen = nl_addr_len(family);
	char a[INET6_ADDRSTRLEN];

	n = mpc_nl_pm_list_endpoints(nl, &eps);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (eps[i].family == family && !memcmp(&eps[i].addr, addr, alen)) {
			*ep = eps[i];
			free(eps);
			return 0;
		}
	}
	free(eps);
	return nl_say(nl, -ENOENT, "MPTCP endpoint %s: not found",
		      mpc_nl_addr_str(family, addr, a));
}

int mpc_nl_pm_add_endpoint(struct mpc_nl *nl, struct mpc_nl_endpoint *ep, enum mpc_nl_rec rec)
{
	struct nl_jent e = { .kind = NL_J_ENDPOINT, .rec = rec };
	struct mpc_nl_endpoint *eps;
	struct nlmsghdr *nlh;
	char what[80];
	int err, n, i, alen = nl_addr_len(ep->family);

	err = pm_check(nl);
	if (err)
		return err;
	ep_str(ep, what, sizeof(what));
	if (!alen)
		return nl_say(nl, -EAFNOSUPPORT, "%s: address family %d", what, ep->family);
	nlh = pm_req(nl, MPTCP_PM_CMD_ADD_ADDR, 0);
	put_ep(nlh, ep, true);
	err = nl_talk(nl, nl->gen, nlh, NULL, NULL);
	if (err)
		return nl_fail(nl, err, "adding %s", what);

	/* ADD_ADDR does not say which id the kernel chose: read it back.
	 * Addresses (with port) are unique in the kernel's list. */
	n = mpc_nl_pm_list_endpoints(nl, &eps);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (eps[i].family == ep->family && !memcmp(&eps[i].addr, &ep->addr, alen) &&
		    eps[i].port == ep->port && !(eps[i].flags & MPC_PM_IMPLICIT)) {
			ep->id = eps[i].id;
			break;
		}
	}
	free(eps);
	if (i == n)
		return nl_say(nl, -ENOENT, "%s: added but not listed by the kernel", what);
	e.ep = *ep;
	err = nl_record(nl, &e);
	if (err) {
		mpc_nl_pm_del_endpoint(nl, ep->id);
		return nl_fail(nl, err, "recording %s", what);
	}
	return 0;
}

int mpc_nl_pm_del_endpoint(struct mpc_nl *nl, uint8_t id)
{
	struct mpc_nl_endpoint q = { .id = id };
	struct nlmsghdr *nlh;
	int err = pm_check(nl);

	if (err)
		return err;
	nlh = pm_req(nl, MPTCP_PM_CMD_DEL_ADDR, 0);
	put_ep(nlh, &q, false);
	err = nl_talk(nl, nl->gen, nlh, NULL, NULL);
	if (err == -EINVAL && strstr(nl->ext, "not found"))
		err = -ENOENT;
	return err ? nl_fail(nl, err, "deleting MPTCP endpoint id %u", id) : 0;
}

/* Delete a recorded endpoint only if its id still names our address: ids
 * are reused, and another party's endpoint must not go with ours. */
int nl_pm_undo_endpoint(struct mpc_nl *nl, const struct mpc_nl_endpoint *ep)
{
	struct mpc_nl_endpoint cur;
	int err;

	err = mpc_nl_pm_get_endpoint(nl, ep->id, &cur);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (cur.family != ep->family || memcmp(&cur.addr, &ep->addr, nl_addr_len(ep->family)) ||
	    cur.port != ep->port) {
		pr_debug("netlink: endpoint id %u now names another address; left alone\n", ep->id);
		return 0;
	}
	err = mpc_nl_pm_del_endpoint(nl, ep->id);
	return err == -ENOENT ? 0 : err;
}

int mpc_nl_pm_flush_endpoints(struct mpc_nl *nl)
{
	int err = pm_check(nl);

	if (err)
		return err;
	err = nl_talk(nl, nl->gen, pm_req(nl, MPTCP_PM_CMD_FLUSH_ADDRS, 0), NULL, NULL);
	return err ? nl_fail(nl, err, "flushing MPTCP endpoints") : 0;
}

int mpc_nl_pm_set_endpoint_flags(struct mpc_nl *nl, uint8_t id, uint32_t flags)
{
	struct mpc_nl_endpoint q = { .id = id, .flags = flags };
	struct nlmsghdr *nlh;
	int err = pm_check(nl);

	if (err)
		return err;
	/* no address: the kernel then looks the endpoint up by id and
	 * changes only BACKUP and FULLMESH */
	nlh = pm_req(nl, MPTCP_PM_CMD_SET_FLAGS, 0);
	put_ep(nlh, &q, false);
	err = nl_talk(nl, nl->gen, nlh, NULL, NULL);
	return err ? nl_fail(nl, err, "setting flags 0x%x on MPTCP endpoint id %u", flags, id) : 0;
}

int mpc_nl_pm_set_backup(struct mpc_nl *nl, uint8_t id, bool backup)
{
	struct mpc_nl_endpoint cur;
	uint32_t flags;
	int err;

	err = mpc_nl_pm_get_endpoint(nl, id, &cur);
	if (err)
		return err;
	flags = cur.flags & MPC_PM_FULLMESH;
	if (backup)
		flags |= MPC_PM_BACKUP;
	return mpc_nl_pm_set_endpoint_flags(nl, id, flags);
}
