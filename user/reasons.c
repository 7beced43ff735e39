// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reason names for `mpconv stats`. The table is indexed by enum mpc_reason;
 * adding a reason without a name here fails the _Static_assert below, and
 * tests/unit/reasons.c checks that no entry is missing or repeated.
 */
#include <stddef.h>

#include <mpconv/maps.h>

#include "reasons.h"

static const char *const names[] = {
	[MPC_R_UNSPEC] = "unspec",

	[MPC_R_NOT_IP] = "not_ip",
	[MPC_R_VLAN] = "vlan",
	[MPC_R_L3_TRUNC] = "l3_trunc",
	[MPC_R_FRAG] = "frag",
	[MPC_R_V6_EXTHDR] = "v6_exthdr",
	[MPC_R_NOT_TCP] = "not_tcp",
	[MPC_R_L4_TRUNC] = "l4_trunc",
	[MPC_R_OPT_MALFORMED] = "opt_malformed",

	[MPC_R_LAN_STEER] = "lan_steer",
	[MPC_R_LAN_FLOW] = "lan_flow",
	[MPC_R_LAN_NO_FLOW] = "lan_no_flow",
	[MPC_R_LAN_NATIVE] = "lan_native",
	[MPC_R_LAN_BYPASS] = "lan_bypass",
	[MPC_R_LAN_POLICY] = "lan_policy",
	[MPC_R_LAN_CACHE] = "lan_cache",
	[MPC_R_LAN_NO_LISTENER] = "lan_no_listener",
	[MPC_R_LAN_ASSIGN_ERR] = "lan_assign_err",

	[MPC_R_STAMP_OK] = "stamp_ok",
	[MPC_R_STAMP_NO_SPACE] = "stamp_no_space",
	[MPC_R_STAMP_UNMARKED] = "stamp_unmarked",
	[MPC_R_STAMP_NOT_SYN] = "stamp_not_syn",
	[MPC_R_STAMP_JOIN] = "stamp_join",
	[MPC_R_STAMP_NO_MPC] = "stamp_no_mpc",
	[MPC_R_STAMP_PRESENT] = "stamp_present",
	[MPC_R_STAMP_DATA] = "stamp_data",
	[MPC_R_STAMP_ERR] = "stamp_err",

	[MPC_R_PICK_SYN] = "pick_syn",
	[MPC_R_PICK_JOIN] = "pick_join",
	[MPC_R_PICK_FLOW] = "pick_flow",
	[MPC_R_PICK_NATIVE] = "pick_native",
	[MPC_R_PICK_PLAIN] = "pick_plain",
	[MPC_R_PICK_JOIN_UNKNOWN] = "pick_join_unknown",
	[MPC_R_PICK_NO_LISTENER] = "pick_no_listener",
	[MPC_R_PICK_ASSIGN_ERR] = "pick_assign_err",

	[MPC_R_XDP_PASS] = "xdp_pass",
	[MPC_R_XDP_UNAUTH_STAMP] = "xdp_unauth_stamp",
	[MPC_R_XDP_UNAUTH_CONV] = "xdp_unauth_conv",
	[MPC_R_XDP_META_ERR] = "xdp_meta_err",
};

/* The last reason must have a name: a reason appended to the enum without
 * one makes the table one entry short. (A name given to a gap in the middle
 * is caught by the unit test: every entry must be non-NULL.) */
_Static_assert(sizeof(names) / sizeof(names[0]) == MPC_R_MAX,
	       "every enum mpc_reason needs a name in user/reasons.c");

const char *mpc_reason_name(unsigned int r)
{
	return r < MPC_R_MAX ? names[r] : NULL;
}
