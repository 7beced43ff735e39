/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MPC_CONC_H
#define MPC_CONC_H

#include <stdbool.h>
#include <stdint.h>

struct mpc_prefix {
	uint8_t addr[16]; /* v4-mapped for IPv4 */
	uint32_t plen;	  /* over 128 bits */
};

bool mpc_prefixes_match(const struct mpc_prefix *p, int n, const uint8_t addr[16]);

#endif /* MPC_CONC_H */
