// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Test environment helpers; see tenv.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/ethtool.h>
#include <linux/fib_rules.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/if_tun.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/tenv.h"

#define BPFFS "/sys/fs/bpf"

int tenv_pin_dir_make(char *path, size_t cap)
{
	struct statfs st;

	if (cap < sizeof(BPFFS "/mpc-unit-XXXXXX"))
		return -EINVAL;
	if (statfs(BPFFS, &st) || st.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", BPFFS, "bpf", 0, "mode=0700"))
			return -errno;
	}
	snprintf(path, cap, BPFFS "/mpc-unit-XXXXXX");
	if (!mkdtemp(path))
		return -errno;
	return 0;
}

void tenv_pin_dir_remove(const char *path)
{
	struct dirent *de;
	char p[512];
	DIR *d;

	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(path);
}

int tenv_netns_enter(struct tenv_netns *ns)
{
	int err;

	ns->active = false;
	ns->orig_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns->orig_fd < 0)
		return -errno;
	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		close(ns->orig_fd);
		return err;
	}
	ns->active = true;
	return tenv_link_up("lo", 0);
}

int tenv_netns_leave(struct tenv_netns *ns)
{
	int err = 0;

	if (!ns->active)
		return 0;
	if (setns(ns->orig_fd, CLONE_NEWNET))
		err = -errno;
	close(ns->orig_fd);
	ns->active = false;
	return err;
}

static int ifreq_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(fd, req, ifr))
		err = -errno;
	close(fd);
	return err;
}

int tenv_link_up(const char *ifname, unsigned int extra_flags)
{
	struct ifreq ifr = {};
	int err;

	err = ifreq_ioctl(ifname, SIOCGIFFLAGS, &ifr);
	if (err)
		return err;
	ifr.ifr_flags |= IFF_UP | extra_flags;
	return ifreq_ioctl(ifname, SIOCSIFFLAGS, &ifr);
}

int tenv_if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {};
	int err;

	err = ifreq_ioctl(ifname, SIOCGIFHWADDR, &ifr);
	if (!err)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return err;
}

int tenv_gro_off(const char *ifname)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_SGRO, .data = 0 };
	struct ifreq ifr = {};

	ifr.ifr_data = (void *)&ev;
	return ifreq_ioctl(ifname, SIOCETHTOOL, &ifr);
}

int tenv_tap_open(const char *ifname, int extra_flags)
{
	struct ifreq ifr = {};
	int fd, err;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | extra_flags;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Send one rtnetlink request and wait for its acknowledgement. */
static int nl_request(struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned int portid;
	int ret, err = 0;
	ssize_t n;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0) {
		err = -errno;
		goto out;
	}
	ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, NULL, NULL);
	if (ret < 0)
		err = -errno;
out:
	mnl_socket_close(nl);
	return err;
}

int tenv_addr_add(const char *ifname, const char *addr, int plen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	uint8_t a[16];
	int family, alen;
	unsigned int idx;

	if (inet_pton(AF_INET, addr, a) == 1) {
		family = AF_INET;
		alen = 4;
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		family = AF_INET6;
		alen = 16;
	} else {
		return -EINVAL;
	}
	idx = if_nametoindex(ifname);
	if (!idx)
		return -ENODEV;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)plen;
	ifa->ifa_index = idx;
	mnl_attr_put(nlh, IFA_LOCAL, (size_t)alen, a);
	mnl_attr_put(nlh, IFA_ADDRESS, (size_t)alen, a);
	if (family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return nl_request(nlh);
}

int tenv_rule_fwmark(int family, uint32_t mark, uint32_t table)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct fib_rule_hdr *frh;
	struct nlmsghdr *nlh;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWRULE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)family;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, 100);
	mnl_attr_put_u32(nlh, FRA_FWMARK, mark);
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	return nl_request(nlh);
}

int tenv_route_local_default(int family, uint32_t table)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	unsigned int lo;

	lo = if_nametoindex("lo");
	if (!lo)
		return -ENODEV;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_table = RT_TABLE_UNSPEC;	/* RTA_TABLE below: tables > 255 */
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_HOST;
	rtm->rtm_type = RTN_LOCAL;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	mnl_attr_put_u32(nlh, RTA_OIF, lo);
	return nl_request(nlh);
}

int tenv_stats_read(int map_fd, struct mpc_stat *out, unsigned int n)
{
	int ncpu = libbpf_num_possible_cpus();
	struct mpc_stat *v;
	unsigned int r;
	int c, err = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (r = 0; r < n; r++) {
		__u32 key = r;

		out[r].packets = out[r].bytes = 0;
		if (bpf_map_lookup_elem(map_fd, &key, v)) {
			err = -errno;
			break;
		}
		for (c = 0; c < ncpu; c++) {
			out[r].packets += v[c].packets;
			out[r].bytes += v[c].bytes;
		}
	}
	free(v);
	return err;
}

uint64_t tenv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
