/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Names of the BPF reason codes (enum mpc_reason) and daemon counters. */
#ifndef MPC_REASONS_H
#define MPC_REASONS_H

const char *mpc_reason_name(unsigned int r);
const char *mpc_dcounter_name(unsigned int c);

#endif /* MPC_REASONS_H */
