// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * user/reasons.c: every reason code has a name, names are unique, short
 * snake_case (they are printed as JSON keys and table rows), and codes
 * this build does not know read "unknown".
 */
#include <ctype.h>

#include <mpconv/maps.h>

#include "test.h"
#include "reasons.h"

void test_reasons(void)
{
	unsigned int r, q;

	if (test__start_subtest("every_reason_named")) {
		for (r = 0; r < MPC_R_MAX; r++)
			if (!mpc_reason_name(r) || !strcmp(mpc_reason_name(r), "unknown"))
				test__fail(__FILE__, __LINE__, "reason %u has no name", r);
	}
	if (test__start_subtest("names_unique_snake_case")) {
		for (r = 0; r < MPC_R_MAX; r++) {
			const char *n = mpc_reason_name(r), *p;

			if (!n)
				continue;
			ASSERT_TRUE(strlen(n) > 0 && strlen(n) <= 24, n);
			for (p = n; *p; p++)
				if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
				      *p == '_'))
					test__fail(__FILE__, __LINE__, "'%s' is not snake_case", n);
			for (q = 0; q < r; q++)
				if (mpc_reason_name(q) && !strcmp(mpc_reason_name(q), n))
					test__fail(__FILE__, __LINE__, "'%s' used for %u and %u", n,
						   q, r);
		}
	}
	if (test__start_subtest("known_names")) {
		ASSERT_TRUE(!strcmp(mpc_reason_name(MPC_R_UNSPEC), "unspec"), "unspec");
		ASSERT_TRUE(!strcmp(mpc_reason_name(MPC_R_LAN_STEER), "lan_steer"), "lan_steer");
		ASSERT_TRUE(!strcmp(mpc_reason_name(MPC_R_OPT_MALFORMED), "opt_malformed"),
			    "opt_malformed");
		/* read by tests/integration/30-cpe.sh and 31-implicit.sh */
		ASSERT_TRUE(!strcmp(mpc_reason_name(MPC_R_LAN_NATIVE), "lan_native_mptcp"),
			    "lan_native_mptcp");
		ASSERT_TRUE(!strcmp(mpc_reason_name(MPC_R_PICK_NATIVE), "pick_native_mptcp"),
			    "pick_native_mptcp");
		ASSERT_TRUE(!strcmp(mpc_reason_name(MPC_R_XDP_UNAUTH_STAMP), "xdp_drop_unauth_stamp"),
			    "xdp_drop_unauth_stamp");
	}
	if (test__start_subtest("out_of_range")) {
		ASSERT_TRUE(!strcmp(mpc_reason_name(MPC_R_MAX), "unknown"), "MPC_R_MAX");
		ASSERT_TRUE(!strcmp(mpc_reason_name(~0u), "unknown"), "~0");
	}
}
