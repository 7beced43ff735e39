// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * RFC 8803 Convert codec (user/convert.c) against crafted byte strings:
 * protocol.md §1.7 golden vectors decoded and re-encoded byte for byte,
 * every rejection with its exact Error code or reset and the reason, the
 * encoders' limits, and a randomized robustness pass.
 */
#include <arpa/inet.h>
#include <stdlib.h>

#include <mpconv/convert.h>

#include "test.h"

/* Parse hex digits, ignoring anything else ("01 06 22 63 | 0a ..."). */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = d;
			continue;
		}
		if (n == cap)
			abort(); /* a test table bug, not a codec result */
		out[n++] = (uint8_t)(hi << 4 | d);
		hi = -1;
	}
	if (hi >= 0)
		abort();
	return n;
}

/* Addresses in Connect TLVs (16 bytes; IPv4 as IPv4-mapped). */
#define M4(x) "00 00 00 00 00 00 00 00 00 00 ff ff " x " "
#define A4 M4("c0 00 02 0a") /* 192.0.2.10 */
#define A6 "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 " /* 2001:db8::1 */
#define CONN "0a 05 01 bb " A4 /* base Connect to 192.0.2.10:443 */
#define CONN_TO(a) "01 06 22 63 0a 05 01 bb " a
#define CONN6_TO(a) "01 06 22 63 0a 05 01 bb " a " "
#define INFO "01 01 00 00 "
#define X8 "aa aa aa aa aa aa aa aa "
#define K8 "1e 1e 1e 1e 1e 1e 1e 1e "
#define OPT40 "fd 28 " X8 X8 X8 X8 "aa aa aa aa aa aa " /* one 40-byte option */
#define OPT44 "fd 2c " X8 X8 X8 X8 X8 "aa aa "

#define CV MPC_CV_SIDE_CONVERTER
#define CL MPC_CV_SIDE_CLIENT
#define OK (-100) /* decode must succeed */
#define RST (-1) /* decode must fail with reset (and no reply code) */

struct dcase {
	const char *name;
	enum mpc_cv_side side;
	const char *hex;
	int want; /* OK, RST, or the Error code the converter replies */
	const char *why; /* substring of st.detail on failure */
	bool no_rt; /* valid, but the re-encoding is canonical, not identical */
};

static const struct dcase dcases[] = {
	/* ---- valid client messages (converter side) ---- */
	{ "golden_base_connect_v4", CV,
	  "01 06 22 63 | 0a 05 01 bb | 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 0a", OK },
	{ "golden_ext_connect_mptcp_tfo", CV, "01 07 22 63 | 0a 06 01 bb | " A4 "| 1e 02 22 02",
	  OK },
	{ "golden_info", CV, "01 02 22 63 | 01 01 00 00", OK },
	{ "info_then_connect", CV, "01 07 22 63 " INFO CONN, OK },
	{ "connect_then_info", CV, "01 07 22 63 " CONN INFO, OK },
	{ "connect_v6", CV, "01 06 22 63 0a 05 00 50 " A6, OK },
	{ "connect_port_65535", CV, "01 06 22 63 0a 05 ff ff " A4, OK },
	{ "connect_and_cookie", CV, "01 09 22 63 " CONN "16 03 00 00 01 02 03 04 05 06 07 08", OK },
	{ "cookie_connect_info", CV, "01 09 22 63 16 02 00 00 c0 0c 1e 00 " INFO CONN, OK },
	{ "cookie_64_bytes", CV, "01 12 22 63 16 11 00 00 " X8 X8 X8 X8 X8 X8 X8 X8, OK },
	{ "ext_connect_tfo_cookie_padded", CV,
	  "01 09 22 63 0a 08 01 bb " A4 "22 0a c1 c2 c3 c4 c5 c6 c7 c8 00 00", OK },
	{ "ext_connect_ts_no_value", CV, "01 07 22 63 0a 06 01 bb " A4 "08 02 1e 02", OK },
	{ "ext_connect_one_byte_padding", CV, "01 07 22 63 0a 06 01 bb " A4 "0c 03 00 00", OK },
	{ "ext_connect_drops_mss_ws_sack", CV,
	  "01 09 22 63 0a 08 01 bb " A4 "02 04 05 b4 03 03 07 05 02 1e 02 00", OK, NULL, true },
	{ "ext_connect_40_option_bytes", CV, "01 10 22 63 0a 0f 01 bb " A4 OPT40, OK },
	{ "ext_connect_dropped_not_counted", CV, "01 11 22 63 0a 10 01 bb " A4 OPT40 "02 04 05 b4",
	  OK, NULL, true },
	{ "header_only", CV, "01 01 22 63", OK },
	{ "syn_data_after_message", CV, "01 06 22 63 " CONN "47 45 54 20 2f 0d", OK },
	{ "addr_128.0.0.1_ok", CV, CONN_TO(M4("80 00 00 01")), OK },
	{ "addr_223.255.255.255_ok", CV, CONN_TO(M4("df ff ff ff")), OK },
	{ "addr_240.0.0.1_ok", CV, CONN_TO(M4("f0 00 00 01")), OK },
	{ "addr_255.255.255.254_ok", CV, CONN_TO(M4("ff ff ff fe")), OK },
	{ "addr_1.0.0.0_ok", CV, CONN_TO(M4("01 00 00 00")), OK },
	{ "addr_v6_::2_ok", CV, CONN6_TO("00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02"), OK },
	{ "addr_v6_fe80::1_ok", CV, CONN6_TO("fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01"),
	  OK },

	/* ---- valid converter replies (client side) ---- */
	{ "golden_supported_ext", CL, "01 03 22 63 | 15 02 00 00 | 1e 22 08 04", OK },
	{ "golden_error_conn_reset", CL, "01 02 22 63 | 1e 01 60 00", OK },
	{ "golden_success_reply", CL,
	  "01 07 22 63 | 14 06 00 00 | 02 04 05 b4 04 02 08 0a 00 01 02 03 00 00 00 00 01 03 03 07",
	  OK },
	{ "ext_hdr_empty", CL, "01 02 22 63 14 01 00 00", OK },
	{ "ext_hdr_and_supp_ext", CL, "01 05 22 63 14 02 00 00 02 04 05 b4 15 02 00 00 1e 22 00 00",
	  OK },
	{ "ext_hdr_40_bytes", CL, "01 0c 22 63 14 0b 00 00 " OPT40, OK },
	{ "ext_hdr_eol_then_padding", CL, "01 04 22 63 14 03 00 00 02 04 05 b4 00 00 00 00", OK,
	  NULL, true },
	{ "ext_hdr_reserved_ignored", CL, "01 03 22 63 14 02 ab cd 02 04 05 b4", OK, NULL, true },
	{ "supp_ext_reserved_ignored", CL, "01 03 22 63 15 02 12 34 1e 22 08 04", OK, NULL, true },
	{ "supp_ext_padded", CL, "01 04 22 63 15 03 00 00 1e 22 08 04 fd 00 00 00", OK },
	{ "supp_ext_64_kinds", CL, "01 12 22 63 15 11 00 00 " K8 K8 K8 K8 K8 K8 K8 K8, OK },
	{ "supp_ext_empty", CL, "01 02 22 63 15 01 00 00", OK },
	{ "error_97_icmp_code", CL, "01 02 22 63 1e 01 61 03", OK },
	{ "error_0_versions", CL, "01 02 22 63 1e 01 00 01", OK },
	{ "error_1_echo", CL, "01 04 22 63 1e 03 01 00 01 02 22 63 01 01 00 00", OK },
	{ "error_33_kinds", CL, "01 02 22 63 1e 01 21 1d", OK },
	{ "error_64_backoff", CL, "01 02 22 63 1e 01 40 1e", OK },
	{ "error_unassigned_code", CL, "01 02 22 63 1e 01 c8 00", OK },
	{ "error_with_ext_hdr", CL, "01 04 22 63 14 02 00 00 02 04 05 b4 1e 01 60 00", OK },

	/* ---- fixed header ---- */
	{ "bad_magic", CV, "01 06 22 64 " CONN, MPC_CV_E_MALFORMED, "magic" },
	{ "magic_byte_swapped", CV, "01 01 63 22", MPC_CV_E_MALFORMED, "magic" },
	{ "magic_8803_decimal_bytes", CV, "01 01 88 03", MPC_CV_E_MALFORMED, "magic" },
	{ "version_0", CV, "00 06 22 63 " CONN, MPC_CV_E_UNSUPP_VERSION, "version" },
	{ "version_2", CV, "02 06 22 63 " CONN, MPC_CV_E_UNSUPP_VERSION, "version" },
	{ "version_255", CV, "ff 01 22 63", MPC_CV_E_UNSUPP_VERSION, "version" },
	{ "bad_magic_beats_bad_version", CV, "00 06 00 00 " CONN, MPC_CV_E_MALFORMED, "magic" },
	{ "total_length_0", CV, "01 00 22 63 " CONN, RST, "total length 0" },
	{ "total_length_0_client", CL, "01 00 22 63", RST, "total length 0" },
	{ "bad_magic_client", CL, "01 02 22 62 1e 01 60 00", RST, "magic" },
	{ "version_2_client", CL, "02 02 22 63 1e 01 60 00", RST, "version" },
	{ "buffer_shorter_than_total", CV, "01 06 22 63 0a 05 01 bb", MPC_CV_E_MALFORMED,
	  "shorter" },
	{ "total_2_but_header_only", CV, "01 02 22 63", MPC_CV_E_MALFORMED, "shorter" },
	{ "buffer_shorter_client", CL, "01 03 22 63 15 02 00 00", RST, "shorter" },

	/* ---- framing ---- */
	{ "tlv_length_0", CV, "01 02 22 63 0a 00 00 00", MPC_CV_E_MALFORMED, "length 0" },
	{ "trailing_zero_word", CV, "01 07 22 63 " CONN "00 00 00 00", MPC_CV_E_MALFORMED,
	  "length 0" },
	{ "trailing_word_not_a_tlv", CV, "01 03 22 63 " INFO "01 00 00 00", MPC_CV_E_MALFORMED,
	  "length 0" },
	{ "tlv_past_total_length", CV, "01 06 22 63 0a 06 01 bb " A4, MPC_CV_E_MALFORMED,
	  "overruns" },
	{ "tlv_past_total_length_more_bytes", CV, "01 06 22 63 0a 06 01 bb " A4 "1e 02 00 00",
	  MPC_CV_E_MALFORMED, "overruns" },
	{ "tlv_255_words_in_short_msg", CV, "01 02 22 63 16 ff 00 00", MPC_CV_E_MALFORMED,
	  "overruns" },
	{ "framing_checked_before_types", CV, "01 03 22 63 00 01 00 00 0a 07 00 00",
	  MPC_CV_E_MALFORMED, "overruns" },
	{ "framing_client", CL, "01 02 22 63 1e 00 60 00", RST, "length 0" },
	{ "overrun_client", CL, "01 02 22 63 14 02 00 00", RST, "overruns" },

	/* ---- TLV types per side ---- */
	{ "type_0", CV, "01 02 22 63 00 01 00 00", MPC_CV_E_UNSUPP_MSG, "type 0" },
	{ "type_0_after_connect", CV, "01 07 22 63 " CONN "00 01 00 00", MPC_CV_E_UNSUPP_MSG,
	  "type 0" },
	{ "type_0_client", CL, "01 02 22 63 00 01 00 00", RST, "type 0" },
	{ "unknown_type_99", CV, "01 02 22 63 63 01 00 00", MPC_CV_E_UNSUPP_MSG, "unknown" },
	{ "unknown_private_type_c0", CV, "01 03 22 63 c0 02 00 00 01 02 03 04", MPC_CV_E_UNSUPP_MSG,
	  "unknown" },
	{ "unknown_type_after_connect", CV, "01 07 22 63 " CONN "02 01 00 00", MPC_CV_E_UNSUPP_MSG,
	  "unknown" },
	{ "unknown_type_client", CL, "01 02 22 63 1f 01 00 00", RST, "unknown" },
	{ "converter_gets_error", CV, "01 02 22 63 1e 01 60 00", MPC_CV_E_UNSUPP_MSG,
	  "not accepted" },
	{ "converter_gets_ext_hdr", CV, "01 02 22 63 14 01 00 00", MPC_CV_E_UNSUPP_MSG,
	  "not accepted" },
	{ "converter_gets_supp_ext", CV, "01 02 22 63 15 01 00 00", MPC_CV_E_UNSUPP_MSG,
	  "not accepted" },
	{ "client_gets_connect", CL, "01 06 22 63 " CONN, RST, "not accepted" },
	{ "client_gets_info", CL, "01 02 22 63 " INFO, RST, "not accepted" },
	{ "client_gets_cookie", CL, "01 03 22 63 16 02 00 00 01 02 03 04", RST, "not accepted" },

	/* ---- duplicates ---- */
	{ "dup_connect", CV, "01 0b 22 63 " CONN CONN, MPC_CV_E_MALFORMED, "duplicate" },
	{ "dup_info", CV, "01 03 22 63 " INFO INFO, MPC_CV_E_MALFORMED, "duplicate" },
	{ "dup_info_not_adjacent", CV, "01 08 22 63 " INFO CONN INFO, MPC_CV_E_MALFORMED,
	  "duplicate" },
	{ "dup_cookie", CV, "01 05 22 63 16 02 00 00 01 02 03 04 16 02 00 00 01 02 03 04",
	  MPC_CV_E_MALFORMED, "duplicate" },
	{ "dup_error_client", CL, "01 03 22 63 1e 01 60 00 1e 01 61 00", RST, "duplicate" },
	{ "dup_supp_ext_client", CL, "01 03 22 63 15 01 00 00 15 01 00 00", RST, "duplicate" },
	{ "dup_ext_hdr_client", CL, "01 03 22 63 14 01 00 00 14 01 00 00", RST, "duplicate" },

	/* ---- Info ---- */
	{ "info_length_2", CV, "01 03 22 63 01 02 00 00 00 00 00 00", MPC_CV_E_MALFORMED, "info" },
	{ "info_value_0001", CV, "01 02 22 63 01 01 00 01", MPC_CV_E_MALFORMED, "info" },
	{ "info_value_0100", CV, "01 02 22 63 01 01 01 00", MPC_CV_E_MALFORMED, "info" },

	/* ---- Connect ---- */
	{ "connect_length_1", CV, "01 02 22 63 0a 01 01 bb", MPC_CV_E_MALFORMED,
	  "shorter than 20" },
	{ "connect_length_4", CV, "01 05 22 63 0a 04 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff",
	  MPC_CV_E_MALFORMED, "shorter than 20" },
	{ "connect_port_0", CV, "01 06 22 63 0a 05 00 00 " A4, MPC_CV_E_MALFORMED, "port 0" },
	{ "addr_v4_loopback", CV, CONN_TO(M4("7f 00 00 01")), MPC_CV_E_MALFORMED, "forbidden" },
	{ "addr_v4_loopback_top", CV, CONN_TO(M4("7f ff ff fe")), MPC_CV_E_MALFORMED, "forbidden" },
	{ "addr_v4_multicast_low", CV, CONN_TO(M4("e0 00 00 01")), MPC_CV_E_MALFORMED,
	  "forbidden" },
	{ "addr_v4_multicast_high", CV, CONN_TO(M4("ef ff ff ff")), MPC_CV_E_MALFORMED,
	  "forbidden" },
	{ "addr_v4_broadcast", CV, CONN_TO(M4("ff ff ff ff")), MPC_CV_E_MALFORMED, "forbidden" },
	{ "addr_v4_unspecified", CV, CONN_TO(M4("00 00 00 00")), MPC_CV_E_MALFORMED, "forbidden" },
	{ "addr_v4_this_network", CV, CONN_TO(M4("00 01 02 03")), MPC_CV_E_MALFORMED, "forbidden" },
	{ "addr_v6_loopback", CV, CONN6_TO("00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01"),
	  MPC_CV_E_MALFORMED, "forbidden" },
	{ "addr_v6_unspecified", CV, CONN6_TO("00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
	  MPC_CV_E_MALFORMED, "forbidden" },
	{ "addr_v6_multicast_link", CV, CONN6_TO("ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 01"),
	  MPC_CV_E_MALFORMED, "forbidden" },
	{ "addr_v6_multicast_global", CV,
	  CONN6_TO("ff 0e 00 00 00 00 00 00 00 00 00 00 0d b8 00 01"), MPC_CV_E_MALFORMED,
	  "forbidden" },
	{ "opt_kind_1_nop", CV, "01 07 22 63 0a 06 01 bb " A4 "1e 02 01 00", MPC_CV_E_MALFORMED,
	  "kind 1" },
	{ "opt_kind_0_first", CV, "01 07 22 63 0a 06 01 bb " A4 "00 1e 02 00", MPC_CV_E_MALFORMED,
	  "kind 0" },
	{ "opt_zero_word_padding", CV, "01 08 22 63 0a 07 01 bb " A4 "1e 02 00 00 00 00 00 00",
	  MPC_CV_E_MALFORMED, "kind 0" },
	{ "opt_nonzero_after_padding", CV, "01 07 22 63 0a 06 01 bb " A4 "1e 02 00 05",
	  MPC_CV_E_MALFORMED, "kind 0" },
	{ "opt_empty_extension", CV, "01 07 22 63 0a 06 01 bb " A4 "00 00 00 00",
	  MPC_CV_E_MALFORMED, "kind 0" },
	{ "opt_length_1", CV, "01 07 22 63 0a 06 01 bb " A4 "1e 01 00 00", MPC_CV_E_MALFORMED,
	  "length < 2" },
	{ "opt_length_0", CV, "01 07 22 63 0a 06 01 bb " A4 "22 00 00 00", MPC_CV_E_MALFORMED,
	  "length < 2" },
	{ "opt_overruns_tlv", CV, "01 07 22 63 0a 06 01 bb " A4 "22 08 01 02", MPC_CV_E_MALFORMED,
	  "overruns" },
	{ "opt_dropped_kind_overruns", CV, "01 07 22 63 0a 06 01 bb " A4 "02 05 05 b4",
	  MPC_CV_E_MALFORMED, "overruns" },
	{ "opt_truncated_kind_only", CV, "01 07 22 63 0a 06 01 bb " A4 "0c 03 00 22",
	  MPC_CV_E_MALFORMED, "truncated" },
	{ "opt_over_40_bytes", CV, "01 11 22 63 0a 10 01 bb " A4 OPT40 "1e 02 00 00",
	  MPC_CV_E_MALFORMED, "40 bytes" },

	/* ---- Cookie ---- */
	{ "cookie_empty", CV, "01 02 22 63 16 01 00 00", MPC_CV_E_MALFORMED, "cookie empty" },
	{ "cookie_zero_field", CV, "01 03 22 63 16 02 00 01 aa bb cc dd", MPC_CV_E_MALFORMED,
	  "zero field" },
	{ "cookie_68_bytes", CV, "01 13 22 63 16 12 00 00 " X8 X8 X8 X8 X8 X8 X8 X8 "aa aa aa aa",
	  MPC_CV_E_MALFORMED, "longer than 64" },

	/* ---- Supported TCP Extensions (client resets) ---- */
	{ "supp_ext_kind_1", CL, "01 03 22 63 15 02 00 00 1e 01 00 00", RST, "forbidden kind" },
	{ "supp_ext_kind_2", CL, "01 03 22 63 15 02 00 00 02 1e 00 00", RST, "forbidden kind" },
	{ "supp_ext_kind_3", CL, "01 03 22 63 15 02 00 00 1e 03 00 00", RST, "forbidden kind" },
	{ "supp_ext_kind_5", CL, "01 03 22 63 15 02 00 00 05 00 00 00", RST, "forbidden kind" },
	{ "supp_ext_kind_29_tcp_ao", CL, "01 03 22 63 15 02 00 00 1e 1d 00 00", RST,
	  "forbidden kind" },
	{ "supp_ext_kind_0_inside", CL, "01 03 22 63 15 02 00 00 1e 00 22 00", RST, "kind 0" },
	{ "supp_ext_65_kinds", CL, "01 13 22 63 15 12 00 00 " K8 K8 K8 K8 K8 K8 K8 K8 "22 00 00 00",
	  RST, "too many" },

	/* ---- Extended TCP Header (client resets) ---- */
	{ "ext_hdr_opt_overruns", CL, "01 03 22 63 14 02 00 00 02 08 05 b4", RST, "overruns" },
	{ "ext_hdr_opt_length_1", CL, "01 03 22 63 14 02 00 00 02 01 05 b4", RST, "overruns" },
	{ "ext_hdr_opt_truncated", CL, "01 03 22 63 14 02 00 00 01 01 01 08", RST, "truncated" },
	{ "ext_hdr_over_40_bytes", CL, "01 0d 22 63 14 0c 00 00 " OPT44, RST, "40 bytes" },
};

/* Re-encode a decoded message with the encoders, TLVs in input order. */
static int reencode(const uint8_t *in, const struct mpc_cv_msg *m, uint8_t *out, size_t cap)
{
	struct mpc_cv_buf b;
	size_t off;

	mpc_cv_begin(&b, out, cap);
	for (off = 4; off < m->total_len; off += in[off + 1] * 4) {
		switch (in[off]) {
		case MPC_CV_T_INFO:
			mpc_cv_put_info(&b);
			break;
		case MPC_CV_T_CONNECT:
			mpc_cv_put_connect(&b, &m->connect.addr, m->connect.port, m->connect.opts,
					   m->connect.opts_len);
			break;
		case MPC_CV_T_COOKIE:
			mpc_cv_put_cookie(&b, m->cookie.data, m->cookie.len);
			break;
		case MPC_CV_T_EXT_TCP_HDR:
			mpc_cv_put_ext_tcp_hdr(&b, m->ext_tcp_hdr.opts, m->ext_tcp_hdr.opts_len);
			break;
		case MPC_CV_T_SUPP_EXT:
			mpc_cv_put_supp_ext(&b, m->supp_ext.kinds, m->supp_ext.n_kinds);
			break;
		case MPC_CV_T_ERROR:
			mpc_cv_put_error(&b, m->error.code, m->error.value, m->error.value_len);
			break;
		default:
			return -1;
		}
	}
	return mpc_cv_finish(&b);
}

static void run_dcase(const struct dcase *c)
{
	static struct mpc_cv_msg msg, msg2;
	uint8_t in[1100], out[1100];
	struct mpc_cv_status st = { 99, true, NULL };
	size_t n = unhex(c->hex, in, sizeof(in));
	int rc, n2;

	rc = mpc_cv_decode(in, n, c->side, &msg, &st);
	if (!ASSERT_OK_PTR(st.detail, "detail set"))
		return;
	if (c->want == OK) {
		if (!ASSERT_EQ(rc, 0, "decode")) {
			printf("#   detail: %s\n", st.detail);
			return;
		}
		ASSERT_EQ(st.reply_code, -1, "no reply code");
		ASSERT_FALSE(st.reset, "no reset");
		ASSERT_EQ(msg.total_len, in[1] * 4, "total_len in bytes");
		ASSERT_EQ(msg.version, 1, "version");
		n2 = reencode(in, &msg, out, sizeof(out));
		if (!ASSERT_GE(n2, 4, "re-encode"))
			return;
		if (!c->no_rt) {
			if (ASSERT_EQ(n2, msg.total_len, "re-encoded length"))
				ASSERT_MEMEQ(out, in, n2, "re-encoded bytes");
		} else {
			/* canonical form: decodes to the same content */
			if (ASSERT_OK(mpc_cv_decode(out, n2, c->side, &msg2, NULL),
				      "decode canonical")) {
				ASSERT_EQ(msg2.present, msg.present, "same TLVs");
				ASSERT_MEMEQ(&msg2.connect, &msg.connect, sizeof(msg.connect) - 1,
					     "same connect");
				ASSERT_EQ(msg2.ext_tcp_hdr.opts_len, msg.ext_tcp_hdr.opts_len,
					  "same opts");
				ASSERT_EQ(msg2.supp_ext.n_kinds, msg.supp_ext.n_kinds,
					  "same kinds");
			}
		}
		return;
	}

	ASSERT_EQ(rc, -1, "decode rejects");
	if (c->want == RST) {
		ASSERT_TRUE(st.reset, "reset");
		ASSERT_EQ(st.reply_code, -1, "no reply code with reset");
	} else {
		ASSERT_FALSE(st.reset, "no reset");
		ASSERT_EQ(st.reply_code, c->want, "reply code");
	}
	if (!ASSERT_TRUE(strstr(st.detail, c->why) != NULL, "reason"))
		printf("#   detail \"%s\", expected \"%s\"\n", st.detail, c->why);
}

/* Golden vectors built with the encoders (protocol.md §1.7). */
static void test_encode_golden(void)
{
	static const uint8_t ext_opts[] = { 0x1e, 0x02, 0x22, 0x02 };
	static const uint8_t kinds[] = { 0x1e, 0x22, 0x08, 0x04 };
	static const uint8_t synack[] = { 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08,
					  0x0a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
					  0x77, 0x88, 0x01, 0x03, 0x03, 0x07 };
	uint8_t out[64], want[64];
	struct mpc_cv_buf b;
	struct in6_addr a;
	size_t wn;
	int n;

	mpc_cv_addr_from_v4(&a, htonl(0xc000020a));

	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_connect(&b, &a, 443, NULL, 0);
	n = mpc_cv_finish(&b);
	wn = unhex("01 06 22 63 | 0a 05 01 bb | 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 0a",
		   want, sizeof(want));
	if (ASSERT_EQ(n, wn, "base connect length"))
		ASSERT_MEMEQ(out, want, wn, "base connect");

	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_connect(&b, &a, 443, ext_opts, sizeof(ext_opts));
	n = mpc_cv_finish(&b);
	wn = unhex("01 07 22 63 | 0a 06 01 bb | " A4 "| 1e 02 22 02", want, sizeof(want));
	if (ASSERT_EQ(n, wn, "ext connect length"))
		ASSERT_MEMEQ(out, want, wn, "ext connect");

	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_info(&b);
	n = mpc_cv_finish(&b);
	wn = unhex("01 02 22 63 | 01 01 00 00", want, sizeof(want));
	if (ASSERT_EQ(n, wn, "info length"))
		ASSERT_MEMEQ(out, want, wn, "info");

	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_supp_ext(&b, kinds, sizeof(kinds));
	n = mpc_cv_finish(&b);
	wn = unhex("01 03 22 63 | 15 02 00 00 | 1e 22 08 04", want, sizeof(want));
	if (ASSERT_EQ(n, wn, "supp ext length"))
		ASSERT_MEMEQ(out, want, wn, "supp ext");

	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_error(&b, MPC_CV_E_CONN_RESET, NULL, 0);
	n = mpc_cv_finish(&b);
	wn = unhex("01 02 22 63 | 1e 01 60 00", want, sizeof(want));
	if (ASSERT_EQ(n, wn, "error length"))
		ASSERT_MEMEQ(out, want, wn, "error connection reset");

	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_ext_tcp_hdr(&b, synack, sizeof(synack));
	n = mpc_cv_finish(&b);
	wn = unhex("01 07 22 63 | 14 06 00 00 | 02 04 05 b4 04 02 08 0a 11 22 33 44 55 66 77 88 "
		   "01 03 03 07",
		   want, sizeof(want));
	if (ASSERT_EQ(n, wn, "success reply length"))
		ASSERT_MEMEQ(out, want, wn, "success reply");

	/* v6 Connect + Cookie of 5 bytes (padded to 8) */
	inet_pton(AF_INET6, "2001:db8::1", &a);
	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_connect(&b, &a, 80, NULL, 0);
	mpc_cv_put_cookie(&b, (const uint8_t *)"\x01\x02\x03\x04\x05", 5);
	n = mpc_cv_finish(&b);
	wn = unhex("01 09 22 63 0a 05 00 50 " A6 "16 03 00 00 01 02 03 04 05 00 00 00", want,
		   sizeof(want));
	if (ASSERT_EQ(n, wn, "v6 connect + cookie length"))
		ASSERT_MEMEQ(out, want, wn, "v6 connect + cookie");
}

/* Decoded field values (host order, v4-mapped, options, kinds, values). */
static void test_decoded_fields(void)
{
	static struct mpc_cv_msg m;
	uint8_t in[256], want[64];
	struct mpc_cv_status st;
	struct in6_addr a;
	size_t n;

	n = unhex("01 0a 22 63 0a 09 1f 90 " A4 "02 04 05 b4 03 03 07 05 02 22 06 c1 c2 c3 c4 00",
		  in, sizeof(in));
	if (ASSERT_OK(mpc_cv_decode(in, n, CV, &m, &st), "ext connect")) {
		mpc_cv_addr_from_v4(&a, htonl(0xc000020a));
		ASSERT_EQ(m.connect.port, 8080, "port host order");
		ASSERT_MEMEQ(&m.connect.addr, &a, 16, "v4-mapped address");
		ASSERT_TRUE(mpc_cv_addr_is_v4(&m.connect.addr), "is v4");
		ASSERT_TRUE(m.connect.extended, "extended");
		ASSERT_EQ(m.present, MPC_CV_TLV_BIT(MPC_CV_T_CONNECT), "present");
		/* MSS, WS, SACK dropped; TFO cookie kept verbatim */
		n = unhex("22 06 c1 c2 c3 c4", want, sizeof(want));
		if (ASSERT_EQ(m.connect.opts_len, n, "kept options length"))
			ASSERT_MEMEQ(m.connect.opts, want, n, "kept options");
	}

	n = unhex("01 06 22 63 0a 05 01 bb " A4, in, sizeof(in));
	if (ASSERT_OK(mpc_cv_decode(in, n, CV, &m, &st), "base connect")) {
		ASSERT_FALSE(m.connect.extended, "base");
		ASSERT_EQ(m.connect.opts_len, 0, "no options");
	}

	n = unhex("01 09 22 63 16 02 00 00 c0 0c 1e 00 " INFO CONN, in, sizeof(in));
	if (ASSERT_OK(mpc_cv_decode(in, n, CV, &m, &st), "cookie+info+connect")) {
		ASSERT_EQ(m.present,
			  MPC_CV_TLV_BIT(MPC_CV_T_COOKIE) | MPC_CV_TLV_BIT(MPC_CV_T_INFO) |
				  MPC_CV_TLV_BIT(MPC_CV_T_CONNECT),
			  "present");
		ASSERT_EQ(m.cookie.len, 4, "cookie length");
		ASSERT_MEMEQ(m.cookie.data, "\xc0\x0c\x1e\x00", 4, "cookie");
	}

	n = unhex("01 04 22 63 15 03 00 00 1e 22 08 04 fd 00 00 00", in, sizeof(in));
	if (ASSERT_OK(mpc_cv_decode(in, n, CL, &m, &st), "supp ext")) {
		ASSERT_EQ(m.supp_ext.n_kinds, 5, "kinds");
		ASSERT_MEMEQ(m.supp_ext.kinds, "\x1e\x22\x08\x04\xfd", 5, "kind list");
	}

	n = unhex("01 04 22 63 14 03 00 00 01 01 02 04 05 b4 00 aa 00 00 00 00", in, sizeof(in));
	if (ASSERT_OK(mpc_cv_decode(in, n, CL, &m, &st), "ext hdr with EOL")) {
		ASSERT_EQ(m.ext_tcp_hdr.opts_len, 6, "options up to EOL, NOPs kept");
		ASSERT_MEMEQ(m.ext_tcp_hdr.opts, "\x01\x01\x02\x04\x05\xb4", 6, "options");
	}

	n = unhex("01 04 22 63 1e 03 01 00 01 02 22 63 01 01 00 00", in, sizeof(in));
	if (ASSERT_OK(mpc_cv_decode(in, n, CL, &m, &st), "error echo")) {
		ASSERT_EQ(m.error.code, MPC_CV_E_MALFORMED, "code");
		ASSERT_EQ(m.error.value_len, 9, "value length");
		ASSERT_EQ(m.error.value[0], 0, "zero octet");
		ASSERT_MEMEQ(m.error.value + 1, "\x01\x02\x22\x63\x01\x01\x00\x00", 8, "echo");
	}

	n = unhex("01 02 22 63 1e 01 61 03", in, sizeof(in));
	if (ASSERT_OK(mpc_cv_decode(in, n, CL, &m, &st), "error 97")) {
		ASSERT_EQ(m.error.code, MPC_CV_E_DEST_UNREACH, "code");
		ASSERT_EQ(m.error.value_len, 1, "value length");
		ASSERT_EQ(m.error.value[0], 3, "ICMP code");
	}
}

/* Every prefix of a valid message: incomplete header, then incomplete
 * body; and Total Length vs buffer length. */
static void test_truncated(void)
{
	static const struct {
		const char *hex;
		enum mpc_cv_side side;
	} msgs[] = {
		{ "01 07 22 63 0a 06 01 bb " A4 "1e 02 22 02", CV },
		{ "01 09 22 63 16 02 00 00 c0 0c 1e 00 " INFO CONN, CV },
		{ "01 07 22 63 14 06 00 00 02 04 05 b4 04 02 08 0a 00 01 02 03 00 00 00 00 01 03 03 07",
		  CL },
		{ "01 12 22 63 15 11 00 00 " K8 K8 K8 K8 K8 K8 K8 K8, CL },
	};
	static struct mpc_cv_msg m;
	uint8_t in[256];
	size_t i, n, l;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		n = unhex(msgs[i].hex, in, sizeof(in));
		for (l = 0; l <= n; l++) {
			struct mpc_cv_status st = {};
			/* a heap copy of exactly l bytes so valgrind sees any
			 * read past the end */
			uint8_t *p = malloc(l ? l : 1);
			int ml, rc;

			memcpy(p, in, l);
			ml = mpc_cv_msg_len(p, l, &st);
			rc = mpc_cv_decode(p, l, msgs[i].side, &m, &st);
			if (l < 4) {
				ASSERT_EQ(ml, 0, "msg_len on short header");
			} else {
				ASSERT_EQ(ml, n, "msg_len from header");
			}
			if (l < n) {
				ASSERT_EQ(rc, -1, "truncated rejected");
				if (msgs[i].side == CV) {
					ASSERT_EQ(st.reply_code, MPC_CV_E_MALFORMED, "malformed");
				} else {
					ASSERT_TRUE(st.reset, "client resets");
				}
			} else {
				ASSERT_EQ(rc, 0, "complete accepted");
			}
			free(p);
		}
	}
}

static void test_encode_limits(void)
{
	static struct mpc_cv_msg m;
	uint8_t out[2048], val[1100];
	struct mpc_cv_buf b;
	struct in6_addr a;
	int i, n;

	memset(val, 0x5a, sizeof(val));
	mpc_cv_addr_from_v4(&a, htonl(0xc000020a));

	mpc_cv_begin(&b, out, 3);
	ASSERT_TRUE(b.overflow, "cap 3 overflows");
	ASSERT_EQ(mpc_cv_finish(&b), -1, "cap 3 finish");

	mpc_cv_begin(&b, out, 0);
	mpc_cv_put_info(&b);
	ASSERT_EQ(mpc_cv_finish(&b), -1, "cap 0");

	mpc_cv_begin(&b, out, 4);
	ASSERT_EQ(mpc_cv_finish(&b), 4, "header only fits 4");
	ASSERT_EQ(out[1], 1, "total length 1 word");

	mpc_cv_begin(&b, out, 23);
	mpc_cv_put_connect(&b, &a, 443, NULL, 0);
	ASSERT_EQ(mpc_cv_finish(&b), -1, "connect in 23 bytes");

	mpc_cv_begin(&b, out, 24);
	mpc_cv_put_connect(&b, &a, 443, NULL, 0);
	ASSERT_EQ(mpc_cv_finish(&b), 24, "connect in exactly 24 bytes");

	/* a put after an overflow is a no-op, finish still fails */
	mpc_cv_begin(&b, out, 8);
	mpc_cv_put_cookie(&b, val, 8);
	mpc_cv_put_info(&b);
	ASSERT_EQ(b.len, 4, "nothing written after overflow");
	ASSERT_EQ(mpc_cv_finish(&b), -1, "overflow sticks");

	/* invalid arguments */
	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_cookie(&b, val, 0);
	ASSERT_EQ(mpc_cv_finish(&b), -1, "empty cookie");
	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_connect(&b, &a, 443, NULL, 4);
	ASSERT_EQ(mpc_cv_finish(&b), -1, "NULL options with length");
	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_error(&b, 33, NULL, 2);
	ASSERT_EQ(mpc_cv_finish(&b), -1, "NULL value with length");

	/* 1020-byte message limit even with a larger buffer */
	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_error(&b, 33, val, 1013);
	n = mpc_cv_finish(&b);
	if (ASSERT_EQ(n, 1020, "largest error fits 1020")) {
		ASSERT_EQ(out[1], 255, "total length 255 words");
		ASSERT_EQ(out[5], 254, "TLV length 254 words");
		if (ASSERT_OK(mpc_cv_decode(out, n, CL, &m, NULL), "1020-byte reply decodes"))
			ASSERT_EQ(m.error.value_len, 1013, "value length");
	}
	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_error(&b, 33, val, 1014);
	ASSERT_EQ(mpc_cv_finish(&b), -1, "1024-byte message overflows");

	mpc_cv_begin(&b, out, sizeof(out));
	for (i = 0; i < 254; i++)
		mpc_cv_put_info(&b);
	ASSERT_EQ(mpc_cv_finish(&b), 1020, "254 TLVs fit");
	mpc_cv_put_info(&b);
	ASSERT_EQ(mpc_cv_finish(&b), -1, "255th TLV overflows");

	/* a TLV whose own Length would exceed 255 words */
	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_ext_tcp_hdr(&b, val, 1100 - 4);
	ASSERT_EQ(mpc_cv_finish(&b), -1, "oversized TLV");
}

static void test_error_echo(void)
{
	static struct mpc_cv_msg m;
	uint8_t rx[2000], out[4096];
	struct mpc_cv_buf b;
	size_t i;
	int n;

	for (i = 0; i < sizeof(rx); i++)
		rx[i] = (uint8_t)(i * 7 + 1);

	/* echo truncated to the 1020-byte limit */
	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_error_echo(&b, MPC_CV_E_MALFORMED, rx, sizeof(rx));
	n = mpc_cv_finish(&b);
	if (ASSERT_EQ(n, 1020, "truncated to 1020") &&
	    ASSERT_OK(mpc_cv_decode(out, n, CL, &m, NULL), "echo decodes")) {
		ASSERT_EQ(m.error.code, MPC_CV_E_MALFORMED, "code");
		ASSERT_EQ(m.error.value_len, 1013, "value length");
		ASSERT_EQ(m.error.value[0], 0, "zero octet");
		ASSERT_MEMEQ(m.error.value + 1, rx, 1012, "echo prefix");
	}

	/* truncated to a small buffer, odd capacity rounded down */
	mpc_cv_begin(&b, out, 101);
	mpc_cv_put_error_echo(&b, MPC_CV_E_UNSUPP_MSG, rx, sizeof(rx));
	n = mpc_cv_finish(&b);
	if (ASSERT_EQ(n, 100, "truncated to cap") &&
	    ASSERT_OK(mpc_cv_decode(out, n, CL, &m, NULL), "small echo decodes")) {
		ASSERT_EQ(m.error.code, MPC_CV_E_UNSUPP_MSG, "code 2");
		ASSERT_MEMEQ(m.error.value + 1, rx, 92, "echo prefix");
	}

	/* short echo is padded, not truncated */
	mpc_cv_begin(&b, out, sizeof(out));
	mpc_cv_put_error_echo(&b, MPC_CV_E_MALFORMED, rx, 5);
	n = mpc_cv_finish(&b);
	if (ASSERT_EQ(n, 16, "5-byte echo padded")) {
		ASSERT_MEMEQ(out + 4, "\x1e\x03\x01\x00", 4, "error head");
		ASSERT_MEMEQ(out + 8, rx, 5, "echo");
		ASSERT_MEMEQ(out + 13, "\0\0\0", 3, "padding");
	}

	/* not even the head fits */
	mpc_cv_begin(&b, out, 7);
	mpc_cv_put_error_echo(&b, MPC_CV_E_MALFORMED, rx, 5);
	ASSERT_EQ(mpc_cv_finish(&b), -1, "no room for the head");

	/* exactly the head fits: empty echo */
	mpc_cv_begin(&b, out, 8);
	mpc_cv_put_error_echo(&b, MPC_CV_E_MALFORMED, rx, 5);
	ASSERT_EQ(mpc_cv_finish(&b), 8, "empty echo");
}

static void test_error_reply(void)
{
	uint8_t rx[1200], out[1100], want[64];
	struct mpc_cv_status st;
	static struct mpc_cv_msg m;
	size_t rn, wn;
	int n;

	/* unsupported version -> list of supported versions */
	rn = unhex("02 06 22 63 " CONN, rx, sizeof(rx));
	ASSERT_EQ(mpc_cv_msg_len(rx, rn, &st), -1, "version 2 rejected");
	n = mpc_cv_build_error_reply(out, sizeof(out), rx, rn, &st);
	wn = unhex("01 02 22 63 1e 01 00 01", want, sizeof(want));
	if (ASSERT_EQ(n, wn, "version reply length"))
		ASSERT_MEMEQ(out, want, wn, "version reply");

	/* malformed: echo the message, not the SYN data after it */
	rn = unhex("01 06 22 63 0a 05 00 00 " A4 "de ad be ef", rx, sizeof(rx));
	ASSERT_EQ(mpc_cv_decode(rx, rn, CV, &m, &st), -1, "port 0 rejected");
	n = mpc_cv_build_error_reply(out, sizeof(out), rx, rn, &st);
	if (ASSERT_EQ(n, 4 + 4 + 24, "echo of 24 bytes")) {
		ASSERT_MEMEQ(out, "\x01\x08\x22\x63\x1e\x07\x01\x00", 8, "echo head");
		ASSERT_MEMEQ(out + 8, rx, 24, "echoed message");
	}

	/* unsupported message: code 2 echo */
	rn = unhex("01 03 22 63 63 02 00 00 01 02 03 04", rx, sizeof(rx));
	ASSERT_EQ(mpc_cv_decode(rx, rn, CV, &m, &st), -1, "unknown type rejected");
	n = mpc_cv_build_error_reply(out, sizeof(out), rx, rn, &st);
	if (ASSERT_EQ(n, 20, "code 2 echo length")) {
		ASSERT_EQ(out[6], MPC_CV_E_UNSUPP_MSG, "code 2");
		ASSERT_MEMEQ(out + 8, rx, 12, "echoed");
	}

	/* bad magic: no framing to trust, echo what was received */
	rn = unhex("47 45 54 20 2f 20 48 54 54 50", rx, sizeof(rx));
	ASSERT_EQ(mpc_cv_msg_len(rx, rn, &st), -1, "HTTP is not Convert");
	n = mpc_cv_build_error_reply(out, sizeof(out), rx, rn, &st);
	if (ASSERT_EQ(n, 20, "echo of 10 bytes padded")) {
		ASSERT_EQ(out[6], MPC_CV_E_MALFORMED, "code 1");
		ASSERT_MEMEQ(out + 8, rx, rn, "echoed");
	}

	/* huge garbage: echo truncated to 1020 */
	memset(rx, 0x41, sizeof(rx));
	ASSERT_EQ(mpc_cv_msg_len(rx, sizeof(rx), &st), -1, "garbage rejected");
	ASSERT_EQ(mpc_cv_build_error_reply(out, sizeof(out), rx, sizeof(rx), &st), 1020,
		  "truncated echo");

	/* reset: nothing to send */
	rn = unhex("01 00 22 63", rx, sizeof(rx));
	ASSERT_EQ(mpc_cv_msg_len(rx, rn, &st), -1, "total length 0");
	ASSERT_EQ(mpc_cv_build_error_reply(out, sizeof(out), rx, rn, &st), -1, "no reply on reset");
	st = (struct mpc_cv_status){ -1, false, "ok" };
	ASSERT_EQ(mpc_cv_build_error_reply(out, sizeof(out), rx, rn, &st), -1, "no reply on ok");

	/* other codes get a zero value */
	st = (struct mpc_cv_status){ MPC_CV_E_NOT_AUTHORIZED, false, "policy" };
	n = mpc_cv_build_error_reply(out, sizeof(out), rx, rn, &st);
	wn = unhex("01 02 22 63 1e 01 20 00", want, sizeof(want));
	if (ASSERT_EQ(n, wn, "not authorized length"))
		ASSERT_MEMEQ(out, want, wn, "not authorized");
	ASSERT_EQ(mpc_cv_build_error_reply(out, 7, rx, rn, &st), -1, "cap too small");

	n = mpc_cv_build_error(out, sizeof(out), MPC_CV_E_DEST_UNREACH, (const uint8_t *)"\x01", 1);
	wn = unhex("01 02 22 63 1e 01 61 01", want, sizeof(want));
	if (ASSERT_EQ(n, wn, "build_error length"))
		ASSERT_MEMEQ(out, want, wn, "build_error");
}

static void test_names_and_addrs(void)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{ 0, "unsupported-version" },
		{ 1, "malformed-message" },
		{ 2, "unsupported-message" },
		{ 3, "missing-cookie" },
		{ 32, "not-authorized" },
		{ 33, "unsupported-tcp-option" },
		{ 64, "resource-exceeded" },
		{ 65, "network-failure" },
		{ 96, "connection-reset" },
		{ 97, "destination-unreachable" },
		{ 4, "unknown" },
		{ -1, "unknown" },
		{ 255, "unknown" },
	};
	struct in6_addr a;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ASSERT_TRUE(!strcmp(mpc_cv_error_name(names[i].code), names[i].name),
			    names[i].name);
	ASSERT_TRUE(!strcmp(mpc_cv_tlv_name(MPC_CV_T_CONNECT), "connect"), "tlv connect");
	ASSERT_TRUE(!strcmp(mpc_cv_tlv_name(MPC_CV_T_ERROR), "error"), "tlv error");
	ASSERT_TRUE(!strcmp(mpc_cv_tlv_name(0), "unknown"), "tlv 0");

	mpc_cv_addr_from_v4(&a, htonl(0xcb007102)); /* 203.0.113.2 */
	ASSERT_TRUE(mpc_cv_addr_is_v4(&a), "mapped is v4");
	ASSERT_MEMEQ(a.s6_addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xcb\x00\x71\x02", 16, "mapped bytes");
	ASSERT_FALSE(mpc_cv_addr_forbidden(&a), "documentation v4 allowed");
	inet_pton(AF_INET6, "2001:db8::2", &a);
	ASSERT_FALSE(mpc_cv_addr_is_v4(&a), "v6 not v4");
	ASSERT_FALSE(mpc_cv_addr_forbidden(&a), "documentation v6 allowed");
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &a);
	ASSERT_TRUE(mpc_cv_addr_forbidden(&a), "mapped loopback");
	inet_pton(AF_INET6, "::ffff:255.255.255.255", &a);
	ASSERT_TRUE(mpc_cv_addr_forbidden(&a), "mapped broadcast");
}

/* xorshift64*: deterministic, so a failure can be replayed. */
static uint64_t rng = 0x2263880320200707ULL;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32);
}

/*
 * Garbage and mutated messages of every length 0..1100. Properties:
 * msg_len is 0 below 4 bytes, else -1 with a status or a word multiple
 * matching the header; decode never reads past len (valgrind, heap copy
 * of exactly len bytes), agrees with msg_len, is deterministic, and an
 * accepted message re-encodes into one that decodes to the same content.
 */
static void test_fuzz(void)
{
	static const char *const seeds[] = {
		"01 07 22 63 0a 06 01 bb " A4 "1e 02 22 02",
		"01 09 22 63 16 02 00 00 c0 0c 1e 00 " INFO CONN,
		"01 05 22 63 14 02 00 00 02 04 05 b4 15 02 00 00 1e 22 00 00",
		"01 04 22 63 1e 03 01 00 01 02 22 63 01 01 00 00",
	};
	static struct mpc_cv_msg m, m2;
	uint8_t seedbuf[4][64], out[1100];
	size_t seedlen[4], len, i;
	unsigned long accepted = 0, rejected = 0, bad = 0;
	int round;

	for (i = 0; i < 4; i++)
		seedlen[i] = unhex(seeds[i], seedbuf[i], sizeof(seedbuf[i]));

	for (len = 0; len <= 1100; len++) {
		for (round = 0; round < 24; round++) {
			enum mpc_cv_side side = round & 1 ? CL : CV;
			struct mpc_cv_status st = {}, st2 = {};
			uint8_t *p = malloc(len ? len : 1);
			int ml, rc, rc2;

			for (i = 0; i < len; i++)
				p[i] = (uint8_t)rnd();
			if (round >= 4 && len >= 4) {
				/* a plausible header so the TLV parser runs */
				p[0] = 1;
				p[2] = 0x22;
				p[3] = 0x63;
				if (round & 2)
					p[1] = (uint8_t)((len / 4) ?
								 (len / 4 > 255 ? 255 : len / 4) :
								 1);
				/* plausible TLV heads: known types, short lengths */
				if (round >= 8) {
					static const uint8_t types[] = { 1,  10, 20, 21,
									 22, 30, 0,  99 };
					size_t off = 4;

					while (off + 2 <= len) {
						p[off] = types[rnd() % 8];
						p[off + 1] = (uint8_t)(1 + rnd() % 7);
						/* and an acceptable Connect address */
						if (round >= 16 && p[off] == 10 &&
						    off + 20 <= len) {
							memset(p + off + 4, 0, 10);
							p[off + 14] = p[off + 15] = 0xff;
							p[off + 16] = 0xc0;
						}
						off += p[off + 1] * 4;
					}
				}
			}
			if (round >= 20 && len >= 4) {
				/* a valid seed with a few flipped bytes */
				const uint8_t *s = seedbuf[round % 4];
				size_t sl = seedlen[round % 4];

				memcpy(p, s, sl < len ? sl : len);
				for (i = 0; i < 3; i++)
					p[rnd() % (sl < len ? sl : len)] ^=
						(uint8_t)(1 + rnd() % 255);
			}

			ml = mpc_cv_msg_len(p, len, &st);
			if (len < 4) {
				bad += ml != 0;
			} else if (ml < 0) {
				bad += !st.detail || (!st.reset && st.reply_code < 0);
			} else {
				bad += ml != p[1] * 4 || ml % 4 || ml < 4 || ml > 1020;
			}

			rc = mpc_cv_decode(p, len, side, &m, &st);
			rc2 = mpc_cv_decode(p, len, side, &m2, &st2);
			bad += rc != rc2 || st.reply_code != st2.reply_code ||
			       st.reset != st2.reset;
			bad += !st.detail;
			if (rc == 0) {
				accepted++;
				bad += ml <= 0 || (size_t)ml > len || m.total_len != ml;
				bad += st.reply_code != -1 || st.reset;
				/* re-encode, decode again: same TLV set */
				ml = reencode(p, &m, out, sizeof(out));
				if (ml < 0 || mpc_cv_decode(out, ml, side, &m2, NULL) ||
				    m2.present != m.present ||
				    m2.connect.opts_len != m.connect.opts_len ||
				    m2.supp_ext.n_kinds != m.supp_ext.n_kinds ||
				    m2.error.value_len != m.error.value_len)
					bad++;
			} else {
				rejected++;
				if (side == CL)
					bad += !st.reset || st.reply_code != -1;
				else
					bad += st.reset ? st.reply_code != -1 :
							  (st.reply_code < 0 || st.reply_code > 2);
				/* a rejected message always has a reply or a reset */
				if (side == CV && !st.reset)
					bad += mpc_cv_build_error_reply(out, sizeof(out), p, len,
									&st) < 8;
			}
			free(p);
		}
	}
	printf("# fuzz: %lu accepted, %lu rejected, %lu inconsistent\n", accepted, rejected, bad);
	ASSERT_EQ(bad, 0, "inconsistencies");
	ASSERT_GE(accepted, 100, "the generator reaches the accept path");
	ASSERT_GE(rejected, 1000, "and the reject paths");
}

void test_convert(void)
{
	size_t i;
	char name[96];

	for (i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		snprintf(name, sizeof(name), "decode_%s", dcases[i].name);
		if (test__start_subtest(name))
			run_dcase(&dcases[i]);
	}
	if (test__start_subtest("encode_golden"))
		test_encode_golden();
	if (test__start_subtest("decoded_fields"))
		test_decoded_fields();
	if (test__start_subtest("truncated_every_length"))
		test_truncated();
	if (test__start_subtest("encode_limits"))
		test_encode_limits();
	if (test__start_subtest("error_echo_truncation"))
		test_error_echo();
	if (test__start_subtest("error_reply_builder"))
		test_error_reply();
	if (test__start_subtest("names_and_addresses"))
		test_names_and_addrs();
	if (test__start_subtest("random_robustness"))
		test_fuzz();
}
