// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Netlink context: sockets, request/reply loop with extended acks, error
 * messages and the undo journal. See nl.h for the contract.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/mptcp.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "nl_priv.h"

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

void *nl_vec_push(struct nl_vec *vec)
{
	char *p;

	if (vec->n == vec->cap) {
		int cap = vec->cap ? vec->cap * 2 : 8;
		void *v = realloc(vec->v, cap * vec->elsz);

		if (!v)
			return NULL;
		vec->v = v;
		vec->cap = cap;
	}
	p = (char *)vec->v + vec->n++ * vec->elsz;
	memset(p, 0, vec->elsz);
	return p;
}

int nl_addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

const char *mpc_nl_addr_str(int family, const union mpc_nl_in *a, char *buf)
{
	if (!inet_ntop(family, a, buf, INET6_ADDRSTRLEN))
		snprintf(buf, INET6_ADDRSTRLEN, "?");
	return buf;
}

int mpc_nl_addr_parse(const char *s, int *family, union mpc_nl_in *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->v4) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a->v6) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* ---- messages ---------------------------------------------------------- */

static int vsay(struct mpc_nl *nl, int err, bool with_errno, const char *fmt, va_list ap)
{
	size_t n;

	vsnprintf(nl->err, sizeof(nl->err), fmt, ap);
	n = strlen(nl->err);
	if (with_errno && n < sizeof(nl->err))
		snprintf(nl->err + n, sizeof(nl->err) - n, ": %s", strerror(-err));
	n = strlen(nl->err);
	if (with_errno && nl->ext[0] && n < sizeof(nl->err))
		snprintf(nl->err + n, sizeof(nl->err) - n, " (kernel: %s)", nl->ext);
	pr_debug("netlink: %s\n", nl->err);
	return err;
}

int nl_fail(struct mpc_nl *nl, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(nl, err, true, fmt, ap);
	va_end(ap);
	return err;
}

int nl_say(struct mpc_nl *nl, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(nl, err, false, fmt, ap);
	va_end(ap);
	return err;
}

void nl_prefix(struct mpc_nl *nl, const char *prefix)
{
	size_t pl = strlen(prefix) + 2, size = sizeof(nl->err);

	if (pl >= size)
		return;
	memmove(nl->err + pl, nl->err, size - pl - 1);
	nl->err[size - 1] = '\0';
	memcpy(nl->err, prefix, pl - 2);
	nl->err[pl - 2] = ':';
	nl->err[pl - 1] = ' ';
}

const char *mpc_nl_errmsg(const struct mpc_nl *nl)
{
	return nl ? nl->err : "";
}

bool mpc_nl_has_pm(const struct mpc_nl *nl)
{
	return nl->pm_family != 0;
}

/* ---- request / reply --------------------------------------------------- */

struct nlmsghdr *nl_req(struct mpc_nl *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	/* libmnl leaves attribute padding as it finds it: start clean so
	 * no stale reply bytes go to the kernel */
	memset(nl->buf, 0, NL_BUF_SIZE);
	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

static int ext_attr_cb(const struct nlattr *attr, void *data)
{
	struct mpc_nl *nl = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(nl->ext, sizeof(nl->ext), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* Extended ack TLVs sit after the error code and (unless capped) the
 * echoed request; NETLINK_CAP_ACK makes the kernel leave the echo out. */
static void parse_ext(struct mpc_nl *nl, const struct nlmsghdr *h, unsigned int off)
{
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS) || h->nlmsg_len < mnl_nlmsg_size(off))
		return;
	mnl_attr_parse(h, off, ext_attr_cb, nl);
}

int nl_talk(struct mpc_nl *nl, struct mnl_socket *sk, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t portid = mnl_socket_get_portid(sk);
	bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	bool intr = false;
	uint32_t seq;
	int err = 0;

	nl->ext[0] = '\0';
	seq = nlh->nlmsg_seq = ++nl->seq;
	if (!dump)
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	for (;;) {
		const struct nlmsghdr *h = (const void *)nl->buf;
		ssize_t got = mnl_socket_recvfrom(sk, nl->buf, NL_BUF_SIZE);
		int rem;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		rem = (int)got;
		for (; mnl_nlmsg_ok(h, rem); h = mnl_nlmsg_next(h, &rem)) {
			/* replies to an earlier request that failed halfway
			 * may still be queued: skip them */
			if (h->nlmsg_seq != seq || h->nlmsg_pid != portid)
				continue;
			if (h->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			switch (h->nlmsg_type) {
			case NLMSG_NOOP:
			case NLMSG_OVERRUN:
				break;
			case NLMSG_ERROR: {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
				unsigned int off = sizeof(*e);

				if (h->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
					return -EBADMSG;
				if (!(h->nlmsg_flags & NLM_F_CAPPED))
					off += e->msg.nlmsg_len - sizeof(e->msg);
				parse_ext(nl, h, off);
				if (e->error && !err)
					err = e->error;
				return err;
			}
			case NLMSG_DONE:
				if (h->nlmsg_len >= mnl_nlmsg_size(sizeof(int))) {
					int e = *(const int *)mnl_nlmsg_get_payload(h);

					parse_ext(nl, h, sizeof(int));
					if (e < 0 && !err)
						err = e;
				}
				if (!err && intr)
					err = -EINTR;
				return err;
			default:
				if (cb && !err) {
					int r = cb(h, data);

					/* keep reading to the end so the
					 * socket is clean for the next request */
					if (r < 0)
						err = r;
				}
				break;
			}
		}
	}
}

/* ---- generic netlink family -------------------------------------------- */

static int family_cb(const struct nlmsghdr *h, void *data)
{
	uint16_t *id = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, h, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
		    mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			*id = mnl_attr_get_u16(a);
	}
	return 0;
}

static int resolve_pm(struct mpc_nl *nl)
{
	struct nlmsghdr *nlh = nl_req(nl, GENL_ID_CTRL, 0);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	uint16_t id = 0;
	int err;

	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MPTCP_PM_NAME);
	err = nl_talk(nl, nl->gen, nlh, family_cb, &id);
	if (err == 0 && !id)
		err = -ENOENT;
	if (err)
		return err;
	nl->pm_family = id;
	return 0;
}

/* ---- open / close ------------------------------------------------------ */

static struct mnl_socket *open_sock(int proto)
{
	struct mnl_socket *sk = mnl_socket_open(proto);
	int one = 1;

	if (!sk)
		return NULL;
	if (mnl_socket_bind(sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		mnl_socket_close(sk);
		errno = e;
		return NULL;
	}
	/* best effort: older kernels answer without extack, that is fine */
	mnl_socket_setsockopt(sk, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(sk, NETLINK_EXT_ACK, &one, sizeof(one));
	return sk;
}

int mpc_nl_open(struct mpc_nl **nlp)
{
	struct mpc_nl *nl = calloc(1, sizeof(*nl));
	int err;

	*nlp = NULL;
	if (!nl)
		return -ENOMEM;
	nl->buf = malloc(NL_BUF_SIZE);
	if (!nl->buf) {
		free(nl);
		return -ENOMEM;
	}
	nl->seq = (uint32_t)rand();
	nl->rt = open_sock(NETLINK_ROUTE);
	if (!nl->rt) {
		err = -errno;
		pr_warn("netlink: cannot open rtnetlink socket: %s\n", strerror(errno));
		goto fail;
	}
	nl->gen = open_sock(NETLINK_GENERIC);
	if (!nl->gen) {
		err = -errno;
		pr_warn("netlink: cannot open generic netlink socket: %s\n", strerror(errno));
		goto fail;
	}
	err = resolve_pm(nl);
	if (err)
		/* routing still works; PM calls will say why they cannot */
		pr_debug("netlink: mptcp_pm family: %s\n", strerror(-err));
	*nlp = nl;
	return 0;
fail:
	mpc_nl_close(nl);
	return err;
}

void mpc_nl_close(struct mpc_nl *nl)
{
	if (!nl)
		return;
	if (nl->j_len)
		pr_debug("netlink: closing with %d recorded objects left in place\n", nl->j_len);
	if (nl->rt)
		mnl_socket_close(nl->rt);
	if (nl->gen)
		mnl_socket_close(nl->gen);
	free(nl->j);
	free(nl->buf);
	free(nl);
}

/* ---- journal ----------------------------------------------------------- */

int nl_record(struct mpc_nl *nl, const struct nl_jent *e)
{
	if (e->rec == MPC_NL_REC_NONE)
		return 0;
	if (nl->j_len == nl->j_cap) {
		int cap = nl->j_cap ? nl->j_cap * 2 : 16;
		struct nl_jent *j = realloc(nl->j, cap * sizeof(*j));

		if (!j)
			return -ENOMEM;
		nl->j = j;
		nl->j_cap = cap;
	}
	nl->j[nl->j_len++] = *e;
	return 0;
}

int mpc_nl_journal_len(const struct mpc_nl *nl)
{
	return nl->j_len;
}

void mpc_nl_journal_forget(struct mpc_nl *nl)
{
	nl->j_len = 0;
}

void nl_route_str(const struct mpc_nl_route *r, char *buf, size_t len)
{
	char d[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%sroute %s/%u%s%s table %u", r->type == RTN_LOCAL ? "local " : "",
		 mpc_nl_addr_str(r->family, &r->dst, d), r->dst_len, r->has_gw ? " via " : "",
		 r->has_gw ? mpc_nl_addr_str(r->family, &r->gw, g) : "", r->table);
}

void nl_rule_str(const struct mpc_nl_rule *r, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];
	size_t n;

	snprintf(buf, len, "%s rule prio %u", r->family == AF_INET6 ? "IPv6" : "IPv4", r->prio);
	n = strlen(buf);
	if (r->src_len && n < len)
		n += snprintf(buf + n, len - n, " from %s/%u",
			      mpc_nl_addr_str(r->family, &r->src, s), r->src_len);
	if (r->has_fwmark && n < len)
		n += snprintf(buf + n, len - n, " fwmark 0x%x/0x%x", r->fwmark, r->fwmask);
	if (n < len)
		snprintf(buf + n, len - n, " lookup %u", r->table);
}

/* Remove one recorded object. Objects that are already gone count as
 * removed: the goal is "not there any more", and an operator may have
 * cleaned up by hand. */
static int undo_one(struct mpc_nl *nl, const struct nl_jent *e)
{
	char what[160];
	int err = 0;

	switch (e->kind) {
	case NL_J_ROUTE:
		nl_route_str(&e->route, what, sizeof(what));
		err = nl_route_del_raw(nl, &e->route);
		if (err == -ESRCH || err == -ENOENT)
			err = 0;
		break;
	case NL_J_RULE:
		nl_rule_str(&e->rule, what, sizeof(what));
		err = nl_rule_del_raw(nl, &e->rule);
		if (err == -ENOENT)
			err = 0;
		break;
	case NL_J_ENDPOINT: {
		char a[INET6_ADDRSTRLEN];

		snprintf(what, sizeof(what), "MPTCP endpoint %s id %u",
			 mpc_nl_addr_str(e->ep.family, &e->ep.addr, a), e->ep.id);
		err = nl_pm_undo_endpoint(nl, &e->ep);
		break;
	}
	case NL_J_LIMITS:
		snprintf(what, sizeof(what),
			 "MPTCP limits (back to subflows %u add_addr_accepted %u)",
			 e->lim.prev.subflows, e->lim.prev.add_addr_accepted);
		err = nl_pm_undo_limits(nl, &e->lim.prev, &e->lim.set);
		break;
	default:
		return 0;
	}
	if (err) {
		nl_fail(nl, err, "removing %s", what);
		pr_warn("%s\n", nl->err);
	} else {
		pr_debug("netlink: removed %s\n", what);
	}
	return err;
}

static int undo(struct mpc_nl *nl, int mark, int tag)
{
	int i, k, first = 0;
	char saved[sizeof(nl->err)];

	if (mark < 0)
		mark = 0;
	saved[0] = '\0';
	for (i = nl->j_len - 1; i >= mark; i--) {
		int err;

		if (tag >= 0 && nl->j[i].rec != (enum mpc_nl_rec)tag)
			continue;
		err = undo_one(nl, &nl->j[i]);
		if (err && !first) {
			first = err;
			memcpy(saved, nl->err, sizeof(saved));
		}
		/* done with it either way: retrying later could remove
		 * something another party has added since */
		nl->j[i].kind = NL_J_DONE;
	}
	for (i = k = 0; i < nl->j_len; i++)
		if (nl->j[i].kind != NL_J_DONE)
			nl->j[k++] = nl->j[i];
	nl->j_len = k;
	if (first)
		memcpy(nl->err, saved, sizeof(saved));
	return first;
}

int mpc_nl_undo_all(struct mpc_nl *nl)
{
	return undo(nl, 0, -1);
}

int mpc_nl_undo_tag(struct mpc_nl *nl, enum mpc_nl_rec tag)
{
	return undo(nl, 0, tag);
}

int mpc_nl_undo_to(struct mpc_nl *nl, int mark)
{
	return undo(nl, mark, -1);
}
