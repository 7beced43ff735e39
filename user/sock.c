// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "sock.h"

int mpc_stream_socket(int family, bool mptcp)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			mptcp ? IPPROTO_MPTCP : IPPROTO_TCP);

	return fd < 0 ? -errno : fd;
}

int mpc_listen(const struct sockaddr_storage *ss, socklen_t len, const struct mpc_listen_opts *o)
{
	char a[MPC_ADDRSTRLEN];
	int one = 1, qlen = 4096, fd, err;

	mpc_sa_str(ss, a);
	fd = mpc_stream_socket(ss->ss_family, o->mptcp);
	if (fd < 0) {
		err = fd;
		if (o->mptcp && (err == -EPROTONOSUPPORT || err == -EINVAL))
			pr_warn("listen %s: this kernel has no MPTCP (CONFIG_MPTCP)\n", a);
		else if (o->mptcp && err == -ENOPROTOOPT)
			pr_warn("listen %s: MPTCP is disabled (sysctl net.mptcp.enabled=0)\n", a);
		else
			pr_warn("listen %s: socket: %s\n", a, strerror(-err));
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (o->transparent) {
		/* before bind: the listener must accept connections for any
		 * destination steered to it by bpf_sk_assign (recipes.md) */
		if (setsockopt(fd, ss->ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
			       ss->ss_family == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one,
			       sizeof(one))) {
			err = -errno;
			pr_warn("listen %s: IP_TRANSPARENT: %s (needs CAP_NET_ADMIN)\n", a,
				strerror(errno));
			goto fail;
		}
	}
	if (o->tfo_no_cookie) {
		if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)) ||
		    setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one))) {
			err = -errno;
			pr_warn("listen %s: TCP Fast Open without cookie unavailable: %s\n", a,
				strerror(errno));
			goto fail;
		}
	}
	if (bind(fd, (const struct sockaddr *)ss, len)) {
		err = -errno;
		pr_warn("listen %s: bind: %s\n", a, strerror(errno));
		goto fail;
	}
	if (listen(fd, o->backlog ? o->backlog : 4096)) {
		err = -errno;
		pr_warn("listen %s: %s\n", a, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int mpc_listen_loopback(int family, uint16_t port, const struct mpc_listen_opts *o)
{
	static const uint8_t lo4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 };
	struct sockaddr_storage ss;
	socklen_t len;

	len = mpc_16_to_sa(family == AF_INET ? lo4 : in6addr_loopback.s6_addr, port, &ss);
	return mpc_listen(&ss, len, o);
}

long mpc_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}
