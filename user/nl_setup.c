// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What the daemons ask of the kernel at start-up, built from nl_route.c and
 * nl_mptcp.c:
 *
 * - WAN links (CPE): one MPTCP subflow per link needs (a) an in-kernel PM
 *   endpoint per WAN address with the SUBFLOW flag, (b) a `subflows` limit
 *   of at least links-1, and (c) source-address routing so a subflow bound
 *   to a link's address leaves through that link and its replies come back
 *   the same way (recipes.md, "Two-path aggregation").
 * - Local delivery (both daemons): packets the tc program marks must be
 *   routed to the local stack or they are forwarded (recipes.md,
 *   "sk_assign alone is not enough").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "nl_priv.h"

static const int families[2] = { AF_INET, AF_INET6 };

/* The in-kernel PM endpoints do nothing when MPTCP is off or another path
 * manager is selected; say so instead of failing silently later. */
static void check_pm_sysctls(void)
{
	char buf[32] = "";
	FILE *f;

	f = fopen("/proc/sys/net/mptcp/enabled", "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && atoi(buf) == 0)
			pr_warn("net.mptcp.enabled is 0 in this namespace: no MPTCP connection "
				"will use the WAN links\n");
		fclose(f);
	}
	f = fopen("/proc/sys/net/mptcp/path_manager", "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && strncmp(buf, "kernel", 6) != 0)
			pr_warn("net.mptcp.path_manager is '%.*s', not 'kernel': endpoints are "
				"ignored\n",
				(int)strcspn(buf, "\n"), buf);
		fclose(f);
		return;
	}
	/* kernels before 6.15 (e.g. 6.12) have no path_manager, only the
	 * numeric net.mptcp.pm_type: 0 in-kernel, 1 userspace */
	f = fopen("/proc/sys/net/mptcp/pm_type", "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && atoi(buf) != 0)
			pr_warn("net.mptcp.pm_type is %d, not 0 (in-kernel): endpoints are ignored\n",
				atoi(buf));
		fclose(f);
	}
}

/* Every failure about a link starts with the link's name. */
static void name_err(struct mpc_nl *nl, const char *name)
{
	size_t len = strlen(name);

	if (!len || (!strncmp(nl->err, name, len) && nl->err[len] == ':'))
		return;
	nl_prefix(nl, name);
}

static bool v6_linklocal(const union mpc_nl_in *a)
{
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

struct link_work {
	struct mpc_nl_route *routes[2];
	int n_routes[2];
	int def[2]; /* index of the default route used, -1 = none */
};

/* Phase 1: read what the link has; changes nothing. */
static int discover_link(struct mpc_nl *nl, int i, int ifindex, const struct mpc_nl_wan_opts *o,
			 struct mpc_nl_wan_link *L, struct link_work *w)
{
	struct mpc_nl_link link;
	struct mpc_nl_ifaddr *addrs = NULL;
	int n_addrs, f, k, err, any_addr = 0;

	err = mpc_nl_link_get(nl, ifindex, NULL, &link);
	if (err)
		return err;
	memset(L, 0, sizeof(*L));
	L->ifindex = ifindex;
	snprintf(L->name, sizeof(L->name), "%s", link.name);
	L->table = (o->table_base ? o->table_base : MPC_NL_TABLE_BASE) + i;
	L->prio = (o->prio_base ? o->prio_base : MPC_NL_PRIO_BASE) + i;

	n_addrs = mpc_nl_addr_list(nl, ifindex, AF_UNSPEC, &addrs);
	if (n_addrs < 0)
		return n_addrs;

	for (f = 0; f < 2; f++) {
		int fam = families[f], n_fam = 0, alen = nl_addr_len(fam);
		struct mpc_nl_route *rt;

		w->def[f] = -1;
		if ((fam == AF_INET && o->ipv6_only) || (fam == AF_INET6 && o->ipv4_only))
			continue;
		for (k = 0; k < n_addrs; k++)
			if (addrs[k].family == fam)
				n_fam++;
		if (!n_fam)
			continue;
		any_addr = 1;
		err = mpc_nl_route_list(nl, fam, RT_TABLE_MAIN, ifindex, &w->routes[f]);
		if (err < 0)
			goto out;
		w->n_routes[f] = err;
		rt = w->routes[f];
		for (k = 0; k < w->n_routes[f]; k++) {
			if (rt[k].dst_len || rt[k].type != RTN_UNICAST)
				continue;
			if (w->def[f] < 0 || rt[k].metric < rt[w->def[f]].metric)
				w->def[f] = k;
		}
		if (w->def[f] < 0) {
			pr_warn("%s: addresses but no %s default route through %s in the main table: "
				"no %s subflows on this link\n",
				L->name, fam == AF_INET ? "IPv4" : "IPv6", L->name,
				fam == AF_INET ? "IPv4" : "IPv6");
			continue;
		}
		for (k = 0; k < n_addrs && L->n_addrs < MPC_NL_LINK_MAX_ADDRS; k++) {
			struct mpc_nl_wan_addr *A;

			if (addrs[k].family != fam)
				continue;
			/* one IPv4 address per link: the primary (listed
			 * first); secondaries are aliases, not paths */
			if (fam == AF_INET && (addrs[k].flags & IFA_F_SECONDARY))
				continue;
			A = &L->addrs[L->n_addrs++];
			A->family = fam;
			memcpy(&A->addr, &addrs[k].addr, alen);
			A->plen = addrs[k].plen;
			A->has_gw = rt[w->def[f]].has_gw;
			A->gw = rt[w->def[f]].gw;
			if (fam == AF_INET)
				break;
		}
	}
	if (!any_addr)
		err = nl_say(nl, -EADDRNOTAVAIL, "%s: no IPv4 or global IPv6 address", L->name);
	else if (!L->n_addrs)
		err = nl_say(nl, -ENETUNREACH,
			     "%s: no default route through %s in the main table (need "
			     "'default via GATEWAY dev %s')",
			     L->name, L->name, L->name);
	else
		err = 0;
out:
	free(addrs);
	return err;
}

/* The link's table: its connected prefixes and its default route. */
static int fill_table(struct mpc_nl *nl, struct mpc_nl_wan_link *L, struct link_work *w, int f)
{
	const struct mpc_nl_route *rt = w->routes[f];
	int k, err;

	for (k = 0; k < w->n_routes[f]; k++) {
		struct mpc_nl_route r = { 0 };

		if (rt[k].type != RTN_UNICAST)
			continue;
		if (k != w->def[f]) {
			/* connected prefixes only: no gateway, not the
			 * IPv6 link-local prefix (gateways are reached by
			 * dev, not through that route) */
			if (rt[k].has_gw || !rt[k].dst_len ||
			    (rt[k].family == AF_INET6 && v6_linklocal(&rt[k].dst)))
				continue;
		}
		r.family = rt[k].family;
		r.table = L->table;
		r.type = RTN_UNICAST;
		r.scope = rt[k].scope;
		r.dst_len = rt[k].dst_len;
		r.dst = rt[k].dst;
		r.has_gw = rt[k].has_gw;
		r.gw = rt[k].gw;
		r.oif = L->ifindex;
		r.flags = rt[k].flags;
		r.has_prefsrc = rt[k].has_prefsrc;
		r.prefsrc = rt[k].prefsrc;
		err = mpc_nl_route_add(nl, &r, MPC_NL_REC_WAN);
		if (err == -EEXIST)
			continue;
		if (err)
			return err;
		L->n_routes_added++;
	}
	return 0;
}

/* refill: fill the link's table even where every source rule exists
 * already (a link that went administratively down lost its routes) */
static int setup_link(struct mpc_nl *nl, int i, const struct mpc_nl_wan_opts *o,
		      struct mpc_nl_wan_link *L, struct link_work *w, bool refill)
{
	char a[INET6_ADDRSTRLEN];
	int f, k, err;

	for (f = 0; f < 2; f++) {
		int fam = families[f], need = 0;

		for (k = 0; k < L->n_addrs; k++) {
			struct mpc_nl_wan_addr *A = &L->addrs[k];

			if (A->family != fam)
				continue;
			err = mpc_nl_rule_from_exists(nl, fam, &A->addr);
			if (err < 0)
				return err;
			A->rule = err ? MPC_NL_EXISTED : MPC_NL_NONE;
			need += !err;
		}
		if (!need && !(refill && w->def[f] >= 0))
			continue;
		err = fill_table(nl, L, w, f);
		if (err)
			return err;
		for (k = 0; k < L->n_addrs; k++) {
			struct mpc_nl_wan_addr *A = &L->addrs[k];
			struct mpc_nl_rule r = { 0 };

			if (A->family != fam || A->rule != MPC_NL_NONE)
				continue;
			r.family = fam;
			r.prio = L->prio;
			r.has_prio = true;
			r.table = L->table;
			r.src_len = fam == AF_INET ? 32 : 128;
			r.src = A->addr;
			err = mpc_nl_rule_add(nl, &r, MPC_NL_REC_WAN);
			if (err && err != -EEXIST)
				return err;
			A->rule = err ? MPC_NL_EXISTED : MPC_NL_ADDED;
		}
	}

	for (k = 0; k < L->n_addrs; k++) {
		struct mpc_nl_wan_addr *A = &L->addrs[k];
		struct mpc_nl_endpoint ep = { 0 };

		ep.family = A->family;
		ep.addr = A->addr;
		ep.ifindex = L->ifindex;
		ep.flags = MPC_PM_SUBFLOW;
		if (o->fullmesh)
			ep.flags |= MPC_PM_FULLMESH;
		if (i < 32 && (o->backup_mask & (1u << i)))
			ep.flags |= MPC_PM_BACKUP;
		err = mpc_nl_pm_add_endpoint(nl, &ep, MPC_NL_REC_WAN);
		if (err == -EEXIST) {
			err = mpc_nl_pm_find_endpoint(nl, ep.family, &ep.addr, &ep);
			if (err)
				return err;
			A->endpoint = MPC_NL_EXISTED;
			if (!(ep.flags & MPC_PM_SUBFLOW))
				pr_warn("%s: MPTCP endpoint %s exists without the subflow flag: "
					"left as is, no subflow will start from it\n",
					L->name, mpc_nl_addr_str(ep.family, &ep.addr, a));
		} else if (err) {
			return err;
		} else {
			A->endpoint = MPC_NL_ADDED;
		}
		A->endpoint_id = ep.id;
		A->endpoint_flags = ep.flags;
	}
	return 0;
}

int mpc_nl_setup_wan_links(struct mpc_nl *nl, const int *ifindexes, int n,
			   const struct mpc_nl_wan_opts *opts, struct mpc_nl_wan_result *res)
{
	static const struct mpc_nl_wan_opts no_opts;
	const struct mpc_nl_wan_opts *o = opts ? opts : &no_opts;
	struct link_work w[MPC_NL_MAX_LINKS] = { 0 };
	struct mpc_nl_wan_result *R;
	int mark = nl->j_len, i, j, err;
	uint32_t subflows;

	R = calloc(1, sizeof(*R));
	if (!R)
		return -ENOMEM;
	if (n < 1 || n > MPC_NL_MAX_LINKS) {
		err = nl_say(nl, -EINVAL, "WAN links: %d given, 1 to %d supported", n,
			     MPC_NL_MAX_LINKS);
		goto out;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (ifindexes[i] == ifindexes[j]) {
				char ifn[IF_NAMESIZE];

				err = nl_say(nl, -EINVAL, "%s: WAN interface given twice",
					     mpc_nl_ifname(nl, ifindexes[i], ifn));
				goto out;
			}
	err = mpc_nl_pm_get_limits(nl, &R->limits_before);
	if (err)
		goto out;
	check_pm_sysctls();

	R->n_links = n;
	for (i = 0; i < n; i++) {
		struct mpc_nl_link link;

		err = discover_link(nl, i, ifindexes[i], o, &R->links[i], &w[i]);
		if (!err && o->allow_down &&
		    (mpc_nl_link_get(nl, ifindexes[i], NULL, &link) || !(link.flags & IFF_UP) ||
		     !(link.flags & IFF_RUNNING)))
			err = nl_say(nl, -ENETDOWN, "%s: down or without carrier",
				     R->links[i].name);
		if (err && o->allow_down &&
		    (err == -EADDRNOTAVAIL || err == -ENETUNREACH || err == -ENETDOWN)) {
			pr_warn("%s; starting without it, it joins when usable\n",
				mpc_nl_errmsg(nl));
			R->links[i].n_addrs = 0;
			free(w[i].routes[0]);
			free(w[i].routes[1]);
			memset(&w[i], 0, sizeof(w[i]));
			err = 0;
			continue;
		}
		if (err) {
			name_err(nl, R->links[i].name);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		err = setup_link(nl, i, o, &R->links[i], &w[i], false);
		if (err) {
			name_err(nl, R->links[i].name);
			goto out;
		}
	}
	/* one initial subflow plus one per other link (protocol.md §9) */
	subflows = o->subflows ? o->subflows : (uint32_t)(n - 1);
	err = mpc_nl_pm_raise_limits(nl, subflows, o->add_addr_accepted, MPC_NL_REC_WAN,
				     &R->limits_after);
out:
	if (err && nl->j_len > mark) {
		/* leave the kernel as it was: remove what this call added,
		 * keeping the message of the failure that stopped us */
		char saved[sizeof(nl->err)];

		memcpy(saved, nl->err, sizeof(saved));
		mpc_nl_undo_to(nl, mark);
		memcpy(nl->err, saved, sizeof(saved));
	}
	for (i = 0; i < MPC_NL_MAX_LINKS; i++) {
		free(w[i].routes[0]);
		free(w[i].routes[1]);
	}
	if (res)
		*res = *R;
	free(R);
	return err;
}

/* ---- after start-up: the WAN link watcher ----------------------------- */

static bool same_addr(const struct mpc_nl_wan_addr *a, const struct mpc_nl_wan_addr *b)
{
	return a->family == b->family && !memcmp(&a->addr, &b->addr, nl_addr_len(a->family));
}

/* Take our endpoint of A away (and with drop_rule our source rule): the
 * endpoint only if its id still names A's address, as undo does. */
static void withdraw_addr(struct mpc_nl *nl, struct mpc_nl_wan_link *L, struct mpc_nl_wan_addr *A,
			  bool drop_rule, bool *changed)
{
	char a[INET6_ADDRSTRLEN];
	struct mpc_nl_endpoint ep;
	int err;

	if (A->endpoint == MPC_NL_ADDED) {
		err = mpc_nl_pm_get_endpoint(nl, A->endpoint_id, &ep);
		if (!err && ep.family == A->family &&
		    !memcmp(&ep.addr, &A->addr, nl_addr_len(A->family)))
			err = mpc_nl_pm_del_endpoint(nl, A->endpoint_id);
		if (err && err != -ENOENT)
			pr_warn("%s: withdrawing MPTCP endpoint %s: %s\n", L->name,
				mpc_nl_addr_str(A->family, &A->addr, a), mpc_nl_errmsg(nl));
		A->endpoint = MPC_NL_NONE;
		*changed = true;
	}
	if (drop_rule && A->rule == MPC_NL_ADDED) {
		struct mpc_nl_rule r = { 0 };

		r.family = A->family;
		r.prio = L->prio;
		r.has_prio = true;
		r.table = L->table;
		r.src_len = A->family == AF_INET ? 32 : 128;
		r.src = A->addr;
		err = mpc_nl_rule_del(nl, &r);
		if (err && err != -ENOENT)
			pr_warn("%s: removing the source rule of %s: %s\n", L->name,
				mpc_nl_addr_str(A->family, &A->addr, a), mpc_nl_errmsg(nl));
		A->rule = MPC_NL_NONE;
	}
}

int mpc_nl_wan_link_sync(struct mpc_nl *nl, int i, const struct mpc_nl_wan_opts *opts,
			 struct mpc_nl_wan_link *L, bool *changed)
{
	static const struct mpc_nl_wan_opts no_opts;
	const struct mpc_nl_wan_opts *o = opts ? opts : &no_opts;
	struct mpc_nl_wan_link *N;
	struct link_work w = { 0 };
	struct mpc_nl_link link;
	bool chg = false, usable;
	int j, k, err;

	N = calloc(1, sizeof(*N));
	if (!N)
		return -ENOMEM;
	/* IFF_RUNNING is the operational state: carrier, and for PPP or a
	 * modem's interface the link protocol being up */
	err = mpc_nl_link_get(nl, L->ifindex, NULL, &link);
	usable = !err && (link.flags & IFF_UP) && (link.flags & IFF_RUNNING);
	/* no address or no default route yet (a DHCP or PPP client puts
	 * them back one at a time): not usable, and not an error */
	if (usable && discover_link(nl, i, L->ifindex, o, N, &w))
		usable = false;

	if (!usable) {
		for (k = 0; k < L->n_addrs; k++)
			withdraw_addr(nl, L, &L->addrs[k], false, &chg);
		nl->err[0] = 0;
		err = 0;
		goto out;
	}

	/* addresses the link lost: their endpoints and rules go */
	for (k = 0; k < L->n_addrs; k++) {
		for (j = 0; j < N->n_addrs && !same_addr(&L->addrs[k], &N->addrs[j]); j++)
			;
		if (j == N->n_addrs)
			withdraw_addr(nl, L, &L->addrs[k], true, &chg);
	}
	err = setup_link(nl, i, o, N, &w, true);
	if (err)
		name_err(nl, L->name);
	/* what we added before stays ours (setup_link sees our own rule or
	 * endpoint as existing), so undo at exit still removes it */
	for (j = 0; j < N->n_addrs; j++) {
		struct mpc_nl_wan_addr *B = &N->addrs[j];
		bool was_ours = false;

		for (k = 0; k < L->n_addrs; k++) {
			struct mpc_nl_wan_addr *A = &L->addrs[k];

			if (!same_addr(A, B))
				continue;
			if (A->rule == MPC_NL_ADDED && B->rule == MPC_NL_EXISTED)
				B->rule = MPC_NL_ADDED;
			if (A->endpoint == MPC_NL_ADDED && B->endpoint == MPC_NL_EXISTED &&
			    A->endpoint_id == B->endpoint_id)
				B->endpoint = MPC_NL_ADDED;
			was_ours = A->endpoint == MPC_NL_ADDED;
		}
		if (B->endpoint == MPC_NL_ADDED && !was_ours)
			chg = true;
	}
	N->n_routes_added += L->n_routes_added;
	*L = *N;
	err = err ? err : 1;
out:
	free(w.routes[0]);
	free(w.routes[1]);
	free(N);
	if (changed)
		*changed = chg;
	return err;
}

int mpc_nl_setup_local_routing(struct mpc_nl *nl, uint32_t mark, uint32_t mask, uint32_t table,
			       uint32_t prio)
{
	int jmark = nl->j_len, lo, f, err;

	err = mpc_nl_ifindex(nl, "lo", &lo);
	if (err)
		return err;
	for (f = 0; f < 2; f++) {
		struct mpc_nl_route r = { 0 };
		struct mpc_nl_rule rule = { 0 };

		r.family = families[f];
		r.table = table;
		r.type = RTN_LOCAL;
		r.oif = lo;
		err = mpc_nl_route_add(nl, &r, MPC_NL_REC_LOCAL);
		/* no IPv6 in the kernel (EAFNOSUPPORT) or disabled on lo
		 * (EACCES): an IPv4-only box still works */
		if ((err == -EAFNOSUPPORT || err == -EACCES) && families[f] == AF_INET6) {
			pr_warn("IPv6 unavailable (%s): local delivery routing for IPv4 only\n",
				mpc_nl_errmsg(nl));
			err = 0;
			break;
		}
		if (err && err != -EEXIST)
			goto fail;
		rule.family = families[f];
		rule.prio = prio;
		rule.has_prio = true;
		rule.table = table;
		rule.has_fwmark = true;
		rule.fwmark = mark;
		rule.fwmask = mask ? mask : 0xffffffff;
		err = mpc_nl_rule_add(nl, &rule, MPC_NL_REC_LOCAL);
		if (err && err != -EEXIST)
			goto fail;
	}
	return 0;
fail:
	if (nl->j_len > jmark) {
		char saved[sizeof(nl->err)];

		memcpy(saved, nl->err, sizeof(saved));
		mpc_nl_undo_to(nl, jmark);
		memcpy(nl->err, saved, sizeof(saved));
	}
	return err;
}

int mpc_nl_undo_local_routing(struct mpc_nl *nl)
{
	return mpc_nl_undo_tag(nl, MPC_NL_REC_LOCAL);
}
