/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Command entry points (one file each) and the global options. */
#ifndef MPC_CMDS_H
#define MPC_CMDS_H

#include <stdbool.h>

struct mpc_global {
	bool json;	      /* -j */
	bool pretty;	      /* -p */
	const char *pin_path; /* --pin-path, default MPC_PIN_DEFAULT */
};

extern struct mpc_global mpc_g;

/* Each command gets argv[0] = its own name; returns the process exit code. */
int cmd_concentrator(int argc, char **argv);
int cmd_cpe(int argc, char **argv);
int cmd_bindings(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_cache(int argc, char **argv);

/* Report an error: plain text, or {"error": "..."} under -j. */
void mpc_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* MPC_CMDS_H */
