/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What both daemons share around their event loop: signals, the main
 * loop with its periodic work, and command-line value parsing. */
#ifndef MPC_DAEMON_H
#define MPC_DAEMON_H

#include <signal.h>
#include <stdint.h>

#include "loop.h"
#include "relay.h"

struct mpc_daemon {
	struct mpc_loop *loop;
	struct mpc_relay *relay;
	struct mpc_ev sig_ev;
	sigset_t mask;
	void (*tick)(void *arg);  /* once a second */
	void (*sweep)(void *arg); /* every 10 seconds, may be NULL */
	void *arg;
};

/* Block SIGINT/SIGTERM now, so a signal during set-up is seen by the loop
 * and the undo path runs, instead of killing the process half set up. */
void mpc_daemon_block_signals(struct mpc_daemon *d);
/* Run until SIGINT/SIGTERM. Returns 0, or -errno if the loop failed. */
int mpc_daemon_run(struct mpc_daemon *d);
void mpc_daemon_fini(struct mpc_daemon *d);

/* Strict unsigned parsing for options: 0x prefix allowed, nothing else. */
int mpc_parse_u32(const char *s, uint32_t *v, uint32_t min, uint32_t max);

#endif /* MPC_DAEMON_H */
