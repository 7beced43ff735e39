/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MPC_LOG_H
#define MPC_LOG_H

enum mpc_log_level {
	MPC_LOG_WARN = 0,
	MPC_LOG_INFO = 1,
	MPC_LOG_DEBUG = 2,
	MPC_LOG_LIBBPF = 3, /* libbpf's own output, one level below debug */
};

extern int mpc_log_level;

void mpc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Route libbpf's messages through mpc_log at MPC_LOG_LIBBPF. */
void mpc_log_init_libbpf(void);

#define pr_warn(fmt, ...) mpc_log(MPC_LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) mpc_log(MPC_LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) mpc_log(MPC_LOG_DEBUG, fmt, ##__VA_ARGS__)

#endif /* MPC_LOG_H */
