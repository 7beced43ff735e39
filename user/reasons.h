/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Names of the mpc_stats reason codes (enum mpc_reason, mpconv/maps.h). */
#ifndef MPC_REASONS_H
#define MPC_REASONS_H

/* Short snake_case name of reason r ("lan_steer"), or NULL when r is not a
 * reason this build knows (an older binary reading a newer map). */
const char *mpc_reason_name(unsigned int r);

#endif /* MPC_REASONS_H */
