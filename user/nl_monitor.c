// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rtnetlink change notifications for the WAN link watcher: which
 * interfaces changed (link state, addresses, routes), nothing more. The
 * watcher re-reads the interface it is told about with the ordinary
 * request functions; parsing the notifications themselves would need a
 * second copy of every attribute parser and would still miss the changes
 * lost to a receive-buffer overrun.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "nl.h"

int mpc_nl_monitor_open(void)
{
	/* links, both families' addresses and routes: a WAN link is usable
	 * once it is up, has an address and has a default route, and a
	 * DHCP or PPP client brings those back one message at a time */
	unsigned int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
				  RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE };
	int fd, i;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	for (i = 0; i < (int)(sizeof(groups) / sizeof(groups[0])); i++)
		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i],
			       sizeof(groups[i])) < 0)
			goto fail;
	/* NETLINK_NO_ENOBUFS stays off on purpose: an overrun must be
	 * reported so the caller rescans every link */
	return fd;
fail:
	i = -errno;
	close(fd);
	return i;
}

/* The interface a notification is about, 0 when it names none. */
static int msg_ifindex(const struct nlmsghdr *h)
{
	switch (h->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)))
			return ((const struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
		return 0;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
			return (int)((const struct ifaddrmsg *)NLMSG_DATA(h))->ifa_index;
		return 0;
	case RTM_NEWROUTE:
	case RTM_DELROUTE: {
		const struct rtmsg *rtm = NLMSG_DATA(h);
		const struct nlattr *a;
		uint32_t table;
		int oif = -1;

		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
			return 0;
		table = rtm->rtm_table;
		mnl_attr_for_each(a, h, sizeof(struct rtmsg)) {
			if (mnl_attr_get_payload_len(a) < sizeof(uint32_t))
				continue;
			if (mnl_attr_get_type(a) == RTA_OIF)
				oif = (int)mnl_attr_get_u32(a);
			else if (mnl_attr_get_type(a) == RTA_TABLE)
				table = mnl_attr_get_u32(a);
		}
		/* only main-table defaults decide whether a link is usable;
		 * anything else (our own per-link tables included, which
		 * the watcher itself fills) would wake it for nothing. A
		 * multipath default (no RTA_OIF) makes it look at every
		 * link. */
		if (rtm->rtm_dst_len != 0 || table != RT_TABLE_MAIN)
			return 0;
		return oif;
	}
	}
	return 0;
}

int mpc_nl_monitor_read(int fd, void (*cb)(int ifindex, void *arg), void *arg)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
	int n_msgs = 0;

	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		const struct nlmsghdr *h;
		int rest;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return n_msgs;
			if (errno == ENOBUFS) {
				/* notifications were lost: everything may
				 * have changed */
				cb(-1, arg);
				n_msgs++;
				continue;
			}
			return -errno;
		}
		rest = (int)len;
		for (h = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(h, rest);
		     h = mnl_nlmsg_next(h, &rest)) {
			int ifindex = msg_ifindex(h);

			n_msgs++;
			if (ifindex)
				cb(ifindex, arg);
		}
	}
}
