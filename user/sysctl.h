/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Per-netns sysctls the daemons depend on, set at start-up and restored
 * on exit (a clean detach leaves the box as it was).
 */
#ifndef MPC_SYSCTL_H
#define MPC_SYSCTL_H

#include <stdbool.h>

/* Read an integer sysctl ("net/ipv4/tcp_fastopen"). -errno if absent. */
int mpc_sysctl_get(const char *name, long *val);
/* Set it, remembering the old value for mpc_sysctl_restore_all(). */
int mpc_sysctl_set(const char *name, long val);
/* Make sure every bit of `bits` is set; returns 1 if it changed it. */
int mpc_sysctl_set_bits(const char *name, long bits);
void mpc_sysctl_restore_all(void);

#endif /* MPC_SYSCTL_H */
