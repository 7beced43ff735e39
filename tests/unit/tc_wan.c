// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tc_wan (MP_PREFER_PROXY stamper) under BPF_PROG_TEST_RUN.
 *
 * Each case runs one crafted frame through the program and checks the
 * verdict, the one reason counter that moved, and the frame that came
 * out: byte for byte against an expected frame built independently by the
 * packet builder (with the option already in place and every length and
 * checksum computed from scratch), plus the IPv4 header and TCP checksums
 * of the output verified on their own. test_run skbs are CHECKSUM_NONE;
 * the CHECKSUM_PARTIAL path is covered by tests/integration/20-stamper.sh.
 */
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <mpconv/maps.h>
#include <mpconv/wire.h>

#include "test.h"
#include "lib/pkt.h"
#include "lib/tenv.h"
#include "reasons.h"
#include "tc_wan.skel.h"

#define MARK 0x4d50

#define LINUX_MPC_SYN PKT_OPT_LINUX_SYN, PKT_OPT_MPC_SYN	/* 24 bytes */
#define PREFER PKT_OPT_PREFER(0xf)

/* expected options after stamping; absent = output equals input */
#define EXP(...) .exp_opts = (const uint8_t[]){ __VA_ARGS__ },                       \
		 .exp_len = sizeof((const uint8_t[]){ __VA_ARGS__ })

struct wan_case {
	const char *name;
	struct pkt_desc in;
	uint32_t mark;		/* skb->mark; 0 means MARK, ~0 means none */
	int reason;
	const uint8_t *exp_opts;
	uint8_t exp_len;
};

#define V6 .src = "2001:db8:11::2", .dst = "2001:db8:2::2"
#define SYN .tcp_flags = PKT_TCP_SYN

/* 36 option bytes: 4 short of full. 40: full. */
#define OPTS36 PKT_OPT_LINUX_SYN, PKT_OPT_MPC_SYN, PKT_OPT_NOP, PKT_OPT_NOP, PKT_OPT_TS(5, 6)
#define OPTS40 OPTS36, PKT_OPT_NOP, PKT_OPT_WS(7)

static const struct wan_case cases[] = {
	{ "v4_linux_syn", { SYN, PKT_OPTS(LINUX_MPC_SYN) }, 0, MPC_R_STAMP_OK,
	  EXP(LINUX_MPC_SYN, PREFER) },
	{ "v6_linux_syn", { V6, SYN, PKT_OPTS(LINUX_MPC_SYN) }, 0, MPC_R_STAMP_OK,
	  EXP(LINUX_MPC_SYN, PREFER) },
	{ "v4_mpc_only", { SYN, PKT_OPTS(PKT_OPT_MPC_SYN) }, 0, MPC_R_STAMP_OK,
	  EXP(PKT_OPT_MPC_SYN, PREFER) },
	{ "v4_fits_exactly", { SYN, PKT_OPTS(OPTS36) }, 0, MPC_R_STAMP_OK, EXP(OPTS36, PREFER) },
	{ "v6_fits_exactly", { V6, SYN, PKT_OPTS(OPTS36) }, 0, MPC_R_STAMP_OK,
	  EXP(OPTS36, PREFER) },
	{ "v4_full", { SYN, PKT_OPTS(OPTS40) }, 0, MPC_R_STAMP_NO_SPACE },
	{ "v6_full", { V6, SYN, PKT_OPTS(OPTS40) }, 0, MPC_R_STAMP_NO_SPACE },
	/* Options padded with EOL: the stamp goes right after the last real
	 * option, over the padding, never behind an EOL (the builder pads
	 * the expected options with EOL again). */
	{ "v4_eol_padding", { SYN, PKT_OPTS(PKT_OPT_MSS(1460), PKT_OPT_MPC_SYN, PKT_OPT_WS(7)) },
	  0, MPC_R_STAMP_OK, EXP(PKT_OPT_MSS(1460), PKT_OPT_MPC_SYN, PKT_OPT_WS(7), PREFER) },
	{ "v4_eol_word", { SYN, PKT_OPTS(PKT_OPT_MPC_SYN, PKT_OPT_EOL, 0, 0, 0) }, 0,
	  MPC_R_STAMP_OK, EXP(PKT_OPT_MPC_SYN, PREFER, 0, 0, 0, 0) },
	/* NOP padding behind the last option stays behind the stamp */
	{ "v4_nop_padding", { SYN, PKT_OPTS(PKT_OPT_MPC_SYN, PKT_OPT_MSS(1460), PKT_OPT_NOP,
					    PKT_OPT_NOP, PKT_OPT_NOP, PKT_OPT_NOP, PKT_OPT_NOP) },
	  0, MPC_R_STAMP_OK, EXP(PKT_OPT_MPC_SYN, PKT_OPT_MSS(1460), PREFER, PKT_OPT_NOP, 0, 0, 0,
				  0, 0, 0, 0) },
	{ "v6_odd_end", { V6, SYN, PKT_OPTS(PKT_OPT_MPC_SYN, PKT_OPT_WS(7), PKT_OPT_SACKP,
					    PKT_OPT_NOP, PKT_OPT_NOP, PKT_OPT_NOP) },
	  0, MPC_R_STAMP_OK, EXP(PKT_OPT_MPC_SYN, PKT_OPT_WS(7), PKT_OPT_SACKP, PREFER) },
	{ "v4_ip_options",
	  { SYN, PKT_OPTS(LINUX_MPC_SYN), .ip_opts = (const uint8_t[]){ 1, 1, 1, 0 },
	    .ip_opts_len = 4 },
	  0, MPC_R_STAMP_OK, EXP(LINUX_MPC_SYN, PREFER) },
	{ "v6_hopopts",
	  { V6, SYN, PKT_OPTS(LINUX_MPC_SYN), .n_ext = 1, .ext = { { .type = IPPROTO_HOPOPTS } } },
	  0, MPC_R_STAMP_OK, EXP(LINUX_MPC_SYN, PREFER) },
	{ "v4_ack", { .tcp_flags = PKT_TCP_ACK, PKT_OPTS(PKT_OPT_NOP, PKT_OPT_NOP,
							 PKT_OPT_TS(1, 2)) },
	  0, MPC_R_STAMP_NOT_SYN },
	{ "v4_synack", { .tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK, PKT_OPTS(LINUX_MPC_SYN) }, 0,
	  MPC_R_STAMP_NOT_SYN },
	{ "v4_join_syn", { SYN, PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPJ_SYN(0, 2, 0x11223344,
									  0x55667788)) },
	  0, MPC_R_STAMP_JOIN },
	{ "v6_join_syn", { V6, SYN, PKT_OPTS(PKT_OPT_MPJ_SYN(1, 3, 0xdeadbeef, 1)) }, 0,
	  MPC_R_STAMP_JOIN },
	{ "v4_unmarked", { SYN, PKT_OPTS(LINUX_MPC_SYN) }, ~0u, MPC_R_STAMP_UNMARKED },
	{ "v4_other_mark", { SYN, PKT_OPTS(LINUX_MPC_SYN) }, MARK + 1, MPC_R_STAMP_UNMARKED },
	{ "v4_no_mpc", { SYN, PKT_OPTS(PKT_OPT_LINUX_SYN) }, 0, MPC_R_STAMP_NO_MPC },
	{ "v4_present", { SYN, PKT_OPTS(LINUX_MPC_SYN, PREFER) }, 0, MPC_R_STAMP_PRESENT },
	{ "v6_present", { V6, SYN, PKT_OPTS(PREFER, PKT_OPT_MPC_SYN) }, 0, MPC_R_STAMP_PRESENT },
	{ "v4_syn_data", { SYN, PKT_OPTS(LINUX_MPC_SYN), .data_len = 20 }, 0, MPC_R_STAMP_DATA },
	{ "v6_syn_data", { V6, SYN, PKT_OPTS(LINUX_MPC_SYN), .data_len = 1 }, 0,
	  MPC_R_STAMP_DATA },
	{ "udp", { .proto = IPPROTO_UDP, .data_len = 8 }, 0, MPC_R_NOT_TCP },
	{ "arp", { .eth_type = ETH_P_ARP }, 0, MPC_R_NOT_IP },
	{ "truncated_tcp", { SYN, PKT_OPTS(LINUX_MPC_SYN), .truncate = 14 + 20 + 10 }, 0,
	  MPC_R_L4_TRUNC },
	{ "bad_option", { SYN, PKT_OPTS(PKT_OPT_MPC_SYN, 2, 0, 0, 0) }, 0,
	  MPC_R_OPT_MALFORMED },
	{ "v4_fragment", { SYN, PKT_OPTS(LINUX_MPC_SYN), .frag_off = PKT_IP_MF }, 0, MPC_R_FRAG },
};

static struct tc_wan_bpf *open_load(uint8_t subtype)
{
	struct tc_wan_bpf *skel;
	struct bpf_map *m;

	skel = tc_wan_bpf__open();
	if (!ASSERT_OK_PTR(skel, "open"))
		return NULL;
	/* private maps: unit tests never pin */
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);
	skel->rodata->mpc_stamp_mark = MARK;
	skel->rodata->mpc_prefer_subtype = subtype;
	if (!ASSERT_OK(tc_wan_bpf__load(skel), "load")) {
		tc_wan_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* packets counted per reason, summed over CPUs */
static bool check_counted(const struct mpc_stat *before, const struct mpc_stat *after, int r,
			  uint64_t n)
{
	bool ok = true;
	int k;

	for (k = 0; k < MPC_R_MAX; k++) {
		uint64_t d = after[k].packets - before[k].packets;

		if (d != (k == r ? n : 0)) {
			test__fail(__FILE__, __LINE__, "%s counted %llu times, expected %llu",
				   mpc_reason_name(k), (unsigned long long)d,
				   (unsigned long long)(k == r ? n : 0));
			ok = false;
		}
	}
	return ok;
}

static void run_case(struct tc_wan_bpf *skel, const struct wan_case *c)
{
	uint8_t in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	struct mpc_stat before[MPC_R_MAX], after[MPC_R_MAX];
	struct __sk_buff ctx = {};
	struct pkt_desc ed;
	int in_len, exp_len;
	struct pkt_run r;
	char s[160];

	in_len = pkt_build(&c->in, in, sizeof(in));
	if (!ASSERT_GE(in_len, 14, "build input"))
		return;
	if (c->exp_opts) {
		ed = c->in;
		ed.opts = c->exp_opts;
		ed.opts_len = c->exp_len;
		exp_len = pkt_build(&ed, exp, sizeof(exp));
	} else {
		memcpy(exp, in, in_len);
		exp_len = in_len;
	}
	if (!ASSERT_GE(exp_len, 14, "build expected"))
		return;

	ctx.mark = c->mark == ~0u ? 0 : c->mark ? c->mark : MARK;
	r = (struct pkt_run){ .prog_fd = bpf_program__fd(skel->progs.mpc_tc_wan), .in = in,
			      .in_len = in_len, .out = out, .out_cap = sizeof(out), .ctx = &ctx,
			      .ctx_size = sizeof(ctx) };
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	if (!ASSERT_OK(pkt_run(&r), "test_run"))
		return;
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);

	ASSERT_EQ(r.retval, TC_ACT_OK, "verdict");
	check_counted(before, after, c->reason, 1);
	if (!ASSERT_EQ(r.out_len, exp_len, "output length")) {
		printf("# in:  %s\n", pkt_str(in, in_len, s, sizeof(s)));
		printf("# out: %s\n", pkt_str(out, r.out_len, s, sizeof(s)));
		return;
	}
	ASSERT_MEMEQ(out, exp, exp_len, "output bytes");
	if (c->reason == MPC_R_STAMP_OK) {
		if (!(c->in.src && strchr(c->in.src, ':')))
			ASSERT_TRUE(pkt_ip4_csum_ok(out, r.out_len), "IPv4 header checksum");
		ASSERT_TRUE(pkt_l4_csum_ok(out, r.out_len), "TCP checksum");
		ASSERT_GE(pkt_tcp_opt_find(out, r.out_len, TCPOPT_MPTCP_KIND,
					   MPC_PREFER_SUBTYPE_DEF), 0, "MP_PREFER_PROXY found");
	}
}

static void subtype_knob(void)
{
	const struct pkt_desc d = { SYN, PKT_OPTS(LINUX_MPC_SYN) };
	/* a 0xF option is not ours once the knob says 0xE */
	const struct pkt_desc d_f = { SYN, PKT_OPTS(LINUX_MPC_SYN, PREFER) };
	uint8_t in[PKT_MAX], out[PKT_MAX];
	struct __sk_buff ctx = { .mark = MARK };
	struct tc_wan_bpf *skel;
	struct pkt_run r;
	int len, off;

	skel = open_load(0xe);
	if (!skel)
		return;
	len = pkt_build(&d, in, sizeof(in));
	r = (struct pkt_run){ .prog_fd = bpf_program__fd(skel->progs.mpc_tc_wan), .in = in,
			      .in_len = len, .out = out, .out_cap = sizeof(out), .ctx = &ctx,
			      .ctx_size = sizeof(ctx) };
	if (ASSERT_OK(pkt_run(&r), "test_run")) {
		off = pkt_tcp_opt_find(out, r.out_len, TCPOPT_MPTCP_KIND, 0xe);
		ASSERT_GE(off, 0, "subtype 0xE option");
		if (off >= 0)
			ASSERT_EQ(out[off + 2], 0xe0, "subtype nibble, reserved bits zero");
		ASSERT_EQ(pkt_tcp_opt_find(out, r.out_len, TCPOPT_MPTCP_KIND, 0xf), -ENOENT,
			  "no 0xF option");
	}
	len = pkt_build(&d_f, in, sizeof(in));
	r.in_len = len;
	ctx = (struct __sk_buff){ .mark = MARK };
	if (ASSERT_OK(pkt_run(&r), "test_run 0xF input"))
		ASSERT_EQ(r.out_len, len + 4, "0xF option does not count as present");
	tc_wan_bpf__destroy(skel);
}

/* ns per packet (repeat runs the program on one skb, so the stamping run
 * is measured one packet at a time: after one run the frame is stamped). */
static void bench(struct tc_wan_bpf *skel)
{
	const struct pkt_desc syn = { SYN, PKT_OPTS(LINUX_MPC_SYN) };
	const struct pkt_desc data = { .tcp_flags = PKT_TCP_ACK,
					      PKT_OPTS(PKT_OPT_NOP, PKT_OPT_NOP, PKT_OPT_TS(1, 2)),
					      .data_len = 1400 };
	const struct pkt_desc udp = { .proto = IPPROTO_UDP, .data_len = 100 };
	struct mpc_stat before[MPC_R_MAX], after[MPC_R_MAX];
	uint8_t in[PKT_MAX], out[PKT_MAX];
	struct __sk_buff ctx = { .mark = MARK };
	uint64_t total = 0;
	struct pkt_run r;
	int i, n = 20000;

	r = (struct pkt_run){ .prog_fd = bpf_program__fd(skel->progs.mpc_tc_wan), .in = in,
			      .out = out, .out_cap = sizeof(out), .ctx = &ctx,
			      .ctx_size = sizeof(ctx) };
	r.in_len = pkt_build(&syn, in, sizeof(in));
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	for (i = 0; i < n; i++) {
		ctx = (struct __sk_buff){ .mark = MARK };
		if (pkt_run(&r))
			break;
		total += r.duration;
	}
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);
	check_counted(before, after, MPC_R_STAMP_OK, n);
	printf("# bench tc_wan: marked SYN (stamped) %llu ns/pkt (%d single runs)\n",
	       (unsigned long long)(total / n), n);
	/* the same SYN unmarked, also one run at a time: what a single run
	 * costs besides the program (clock reads around one run) */
	for (i = 0, total = 0; i < n; i++) {
		ctx = (struct __sk_buff){ .mark = 0 };
		if (pkt_run(&r))
			break;
		total += r.duration;
	}
	printf("# bench tc_wan: unmarked SYN %llu ns/pkt (%d single runs, baseline)\n",
	       (unsigned long long)(total / n), n);

	r.repeat = 100000;
	r.in_len = pkt_build(&data, in, sizeof(in));
	ctx = (struct __sk_buff){ .mark = MARK };
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	if (ASSERT_OK(pkt_run(&r), "bench data"))
		printf("# bench tc_wan: marked data packet %u ns/pkt\n", r.duration);
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);
	check_counted(before, after, MPC_R_STAMP_NOT_SYN, r.repeat);

	/* test_run writes the skb back into ctx (wire_len...): start clean */
	ctx = (struct __sk_buff){ .mark = 0 };
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	if (ASSERT_OK(pkt_run(&r), "bench unmarked"))
		printf("# bench tc_wan: unmarked data packet %u ns/pkt\n", r.duration);
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);
	check_counted(before, after, MPC_R_STAMP_UNMARKED, r.repeat);

	ctx = (struct __sk_buff){ .mark = MARK };
	r.in_len = pkt_build(&udp, in, sizeof(in));
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	if (ASSERT_OK(pkt_run(&r), "bench udp"))
		printf("# bench tc_wan: marked non-TCP (UDP) %u ns/pkt\n", r.duration);
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);
	check_counted(before, after, MPC_R_NOT_TCP, r.repeat);
}

void test_tc_wan(void)
{
	struct tc_wan_bpf *skel;
	size_t i;

	skel = open_load(MPC_PREFER_SUBTYPE_DEF);
	if (!skel)
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!test__start_subtest(cases[i].name))
			continue;
		run_case(skel, &cases[i]);
	}
	if (test__start_subtest("subtype_knob"))
		subtype_knob();
	if (test__start_subtest("bench"))
		bench(skel);
	tc_wan_bpf__destroy(skel);
}
