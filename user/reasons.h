/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Names of the BPF reason codes (enum mpc_reason) and daemon counters. */
#ifndef MPC_REASONS_H
#define MPC_REASONS_H

/* Short snake_case name of reason r ("lan_steer"), printed by `mpconv
 * stats` as a table row and a JSON key; "unknown" for a code this build
 * does not know (an older binary reading a newer map). Never NULL. */
const char *mpc_reason_name(unsigned int r);
/* Name of daemon counter c (enum mpc_dcounter), defined in show.c. */
const char *mpc_dcounter_name(unsigned int c);

#endif /* MPC_REASONS_H */
