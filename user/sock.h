/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Socket set-up shared by the daemons. */
#ifndef MPC_SOCK_H
#define MPC_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef TCP_FASTOPEN_NO_COOKIE
#define TCP_FASTOPEN_NO_COOKIE 34
#endif
#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif

struct mpc_listen_opts {
	bool mptcp;	    /* IPPROTO_MPTCP (accepts plain TCP too) */
	bool transparent;   /* IP_TRANSPARENT: accept for any address */
	bool tfo_no_cookie; /* data in the SYN without a cookie */
	int backlog;
};

/* Create a non-blocking listener. Returns the fd or -errno, logging why
 * (with advice for the errnos that mean a kernel without MPTCP). */
int mpc_listen(const struct sockaddr_storage *ss, socklen_t len, const struct mpc_listen_opts *o);

/* A listener on the loopback address of `family` (127.0.0.1 or ::1):
 * where the daemons bind the transparent listeners that bpf_sk_assign()
 * feeds, so nothing can reach them by address from outside. */
int mpc_listen_loopback(int family, uint16_t port, const struct mpc_listen_opts *o);

/* A non-blocking stream socket for `family`, MPTCP when `mptcp`. */
int mpc_stream_socket(int family, bool mptcp);

/* Raise RLIMIT_NOFILE to its hard limit; returns the new soft limit. */
long mpc_raise_nofile(void);

#endif /* MPC_SOCK_H */
