// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reason names for `mpconv stats`. The names are an interface: scripts and
 * the integration tests read counters by them, so a name never changes once
 * released. The table is indexed by enum mpc_reason and left unsized, so a
 * reason appended to the enum without a name fails the _Static_assert
 * below; tests/unit/reasons.c checks that no entry in the middle is missing
 * and that names are unique snake_case.
 */
#include <stddef.h>

#include <mpconv/maps.h>

#include "reasons.h"

static const char *const reason_names[] = {
	[MPC_R_UNSPEC] = "unspec",

	/* parser outcomes */
	[MPC_R_NOT_IP] = "not_ip",
	[MPC_R_VLAN] = "vlan",
	[MPC_R_L3_TRUNC] = "l3_truncated",
	[MPC_R_FRAG] = "ip_fragment",
	[MPC_R_V6_EXTHDR] = "v6_ext_header",
	[MPC_R_NOT_TCP] = "not_tcp",
	[MPC_R_L4_TRUNC] = "l4_truncated",
	[MPC_R_OPT_MALFORMED] = "opt_malformed",

	/* tc_lan */
	[MPC_R_LAN_STEER] = "lan_steer",
	[MPC_R_LAN_FLOW] = "lan_flow",
	[MPC_R_LAN_NO_FLOW] = "lan_no_flow",
	[MPC_R_LAN_NATIVE] = "lan_native_mptcp",
	[MPC_R_LAN_BYPASS] = "lan_bypass",
	[MPC_R_LAN_POLICY] = "lan_policy",
	[MPC_R_LAN_CACHE] = "lan_cache_shortcut",
	[MPC_R_LAN_NO_LISTENER] = "lan_no_listener",
	[MPC_R_LAN_ASSIGN_ERR] = "lan_assign_error",

	/* tc_wan */
	[MPC_R_STAMP_OK] = "stamp_ok",
	[MPC_R_STAMP_NO_SPACE] = "stamp_no_space",
	[MPC_R_STAMP_UNMARKED] = "stamp_unmarked",
	[MPC_R_STAMP_NOT_SYN] = "stamp_not_syn",
	[MPC_R_STAMP_JOIN] = "stamp_join",
	[MPC_R_STAMP_NO_MPC] = "stamp_no_mp_capable",
	[MPC_R_STAMP_PRESENT] = "stamp_present",
	[MPC_R_STAMP_DATA] = "stamp_syn_data",
	[MPC_R_STAMP_ERR] = "stamp_error",

	/* tc_pickup */
	[MPC_R_PICK_SYN] = "pick_syn",
	[MPC_R_PICK_JOIN] = "pick_join",
	[MPC_R_PICK_FLOW] = "pick_flow",
	[MPC_R_PICK_NATIVE] = "pick_native_mptcp",
	[MPC_R_PICK_PLAIN] = "pick_plain",
	[MPC_R_PICK_JOIN_UNKNOWN] = "pick_join_unknown",
	[MPC_R_PICK_NO_LISTENER] = "pick_no_listener",
	[MPC_R_PICK_ASSIGN_ERR] = "pick_assign_error",

	/* xdp_guard */
	[MPC_R_XDP_PASS] = "xdp_pass",
	[MPC_R_XDP_UNAUTH_STAMP] = "xdp_drop_unauth_stamp",
	[MPC_R_XDP_UNAUTH_CONV] = "xdp_drop_unauth_convert",
	[MPC_R_XDP_META_ERR] = "xdp_meta_error",

	/* tc_pickup, appended */
	[MPC_R_PICK_JOIN_WAIT] = "pick_join_wait",
};

/* An explicitly sized table would always pass this; unsized, it is one
 * entry short when the last reason has no name. */
_Static_assert(sizeof(reason_names) / sizeof(reason_names[0]) == MPC_R_MAX,
	       "every enum mpc_reason needs a name in user/reasons.c");

const char *mpc_reason_name(unsigned int r)
{
	return r < MPC_R_MAX && reason_names[r] ? reason_names[r] : "unknown";
}
