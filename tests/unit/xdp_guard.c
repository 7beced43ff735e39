// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xdp_guard under BPF_PROG_TEST_RUN: the verdict, the one reason counter
 * that moved, and the metadata handed to tc (with an xdp_md context,
 * test_run returns the metadata in front of the frame and its length in
 * ctx.data). The frame itself must never change.
 */
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
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
#include "xdp_guard.skel.h"

#define CONV_PORT 5124

#define IN4 "198.51.100.2"	/* inside --allow 198.51.100.0/24 */
#define OUT4 "203.0.113.9"	/* outside */
#define IN6 "2001:db8:11::2"	/* inside --allow 2001:db8:10::/44 */
#define OUT6 "2001:db8:99::2"
#define SRV4 "203.0.113.2"
#define SRV6 "2001:db8:2::2"

#define SYN .tcp_flags = PKT_TCP_SYN
#define O_STAMPED PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPC_SYN, PKT_OPT_PREFER(0xf))
#define O_MPC PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPC_SYN)

enum { NO_META = -1 };

struct guard_case {
	const char *name;
	struct pkt_desc d;
	int action;		/* XDP_PASS / XDP_DROP */
	int reason;
	int meta_flags;		/* expected mpc_xdp_meta.flags, or NO_META */
	uint32_t token;		/* expected join_token (host order) */
};

#define F_SYN MPC_PF_SYN
#define F_ACK MPC_PF_ACK
#define F_MPC MPC_PF_MPC
#define F_PRF MPC_PF_PREFER
#define F_V6 MPC_PF_V6
#define F_JOIN MPC_PF_JOIN

static const struct guard_case cases[] = {
	{ "v4_stamped_allowed", { .src = IN4, .dst = SRV4, SYN, O_STAMPED }, XDP_PASS,
	  MPC_R_XDP_PASS, F_SYN | F_MPC | F_PRF },
	{ "v4_stamped_outside", { .src = OUT4, .dst = SRV4, SYN, O_STAMPED }, XDP_DROP,
	  MPC_R_XDP_UNAUTH_STAMP, NO_META },
	{ "v6_stamped_allowed", { .src = IN6, .dst = SRV6, SYN, O_STAMPED }, XDP_PASS,
	  MPC_R_XDP_PASS, F_SYN | F_MPC | F_PRF | F_V6 },
	{ "v6_stamped_outside", { .src = OUT6, .dst = SRV6, SYN, O_STAMPED }, XDP_DROP,
	  MPC_R_XDP_UNAUTH_STAMP, NO_META },
	/* the stamp alone is what is guarded, MP_CAPABLE or not */
	{ "v4_stamp_only_outside", { .src = OUT4, .dst = SRV4, SYN,
				     PKT_OPTS(PKT_OPT_PREFER(0xf)) },
	  XDP_DROP, MPC_R_XDP_UNAUTH_STAMP, NO_META },
	{ "v4_convert_allowed", { .src = IN4, .dst = SRV4, .dport = CONV_PORT, SYN, O_MPC },
	  XDP_PASS, MPC_R_XDP_PASS, F_SYN | F_MPC },
	{ "v4_convert_outside", { .src = OUT4, .dst = SRV4, .dport = CONV_PORT, SYN, O_MPC },
	  XDP_DROP, MPC_R_XDP_UNAUTH_CONV, NO_META },
	{ "v6_convert_outside", { .src = OUT6, .dst = SRV6, .dport = CONV_PORT, SYN },
	  XDP_DROP, MPC_R_XDP_UNAUTH_CONV, NO_META },
	{ "v4_stamped_convert_outside",
	  { .src = OUT4, .dst = SRV4, .dport = CONV_PORT, SYN, O_STAMPED }, XDP_DROP,
	  MPC_R_XDP_UNAUTH_STAMP, NO_META },
	/* other SYNs from outside pass: native MPTCP, plain TCP */
	{ "v4_native_outside", { .src = OUT4, .dst = SRV4, SYN, O_MPC }, XDP_PASS,
	  MPC_R_XDP_PASS, F_SYN | F_MPC },
	{ "v4_plain_syn_outside", { .src = OUT4, .dst = SRV4, SYN }, XDP_PASS, MPC_R_XDP_PASS,
	  F_SYN },
	/* a SYN-ACK is an answer, not a request: passes, with metadata
	 * (its options are not walked: nothing acts on a SYN-ACK's) */
	{ "v4_stamped_synack_outside",
	  { .src = OUT4, .dst = SRV4, .tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK, O_STAMPED },
	  XDP_PASS, MPC_R_XDP_PASS, F_SYN | F_ACK },
	{ "v4_convert_synack_outside",
	  { .src = OUT4, .dst = SRV4, .dport = CONV_PORT, .tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK },
	  XDP_PASS, MPC_R_XDP_PASS, F_SYN | F_ACK },
	{ "v4_join", { .src = OUT4, .dst = SRV4, SYN,
		       PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPJ_SYN(0, 3, 0xa1b2c3d4, 9)) },
	  XDP_PASS, MPC_R_XDP_PASS, F_SYN | F_JOIN, 0xa1b2c3d4 },
	{ "v6_join",
	  { .src = IN6, .dst = SRV6, SYN, PKT_OPTS(PKT_OPT_MPJ_SYN(1, 3, 0x01020304, 9)) },
	  XDP_PASS, MPC_R_XDP_PASS, F_SYN | F_JOIN | F_V6, 0x01020304 },
	{ "v4_ack", { .src = OUT4, .dst = SRV4, .tcp_flags = PKT_TCP_ACK, .data_len = 100 },
	  XDP_PASS, MPC_R_XDP_PASS, NO_META },
	{ "udp", { .src = OUT4, .dst = SRV4, .proto = IPPROTO_UDP, .dport = CONV_PORT,
		   .data_len = 8 },
	  XDP_PASS, MPC_R_XDP_PASS, NO_META },
	{ "arp", { .eth_type = ETH_P_ARP }, XDP_PASS, MPC_R_XDP_PASS, NO_META },
	{ "truncated", { .src = OUT4, .dst = SRV4, SYN, O_STAMPED, .truncate = 14 + 20 + 10 },
	  XDP_PASS, MPC_R_XDP_PASS, NO_META },
	/* TCP header beyond the 8-bit metadata offset: passed, tc parses */
	{ "v6_long_ext_headers",
	  { .src = OUT6, .dst = SRV6, SYN, O_MPC, .n_ext = 2,
	    .ext = { { .type = IPPROTO_HOPOPTS, .len = 200 },
		     { .type = IPPROTO_DSTOPTS, .len = 200 } } },
	  XDP_PASS, MPC_R_XDP_META_ERR, NO_META },
};

static struct xdp_guard_bpf *open_load(uint16_t conv_port)
{
	struct mpc_pol_val v = { .action = MPC_POL_CONVERT };
	struct mpc_lpm_key k4 = { .prefixlen = 96 + 24 }, k6 = { .prefixlen = 44 };
	struct xdp_guard_bpf *skel;
	struct bpf_map *m;
	int fd;

	skel = xdp_guard_bpf__open();
	if (!ASSERT_OK_PTR(skel, "open"))
		return NULL;
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);
	skel->rodata->mpc_convert_port = conv_port;
	if (!ASSERT_OK(xdp_guard_bpf__load(skel), "load"))
		goto err;
	k4.addr[10] = k4.addr[11] = 0xff;
	inet_pton(AF_INET, "198.51.100.0", k4.addr + 12);
	inet_pton(AF_INET6, "2001:db8:10::", k6.addr);
	fd = bpf_map__fd(skel->maps.mpc_allow);
	if (!ASSERT_OK(bpf_map_update_elem(fd, &k4, &v, 0), "allow v4") ||
	    !ASSERT_OK(bpf_map_update_elem(fd, &k6, &v, 0), "allow v6"))
		goto err;
	return skel;
err:
	xdp_guard_bpf__destroy(skel);
	return NULL;
}

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

static void run_case(struct xdp_guard_bpf *skel, const struct guard_case *c)
{
	struct mpc_stat before[MPC_R_MAX], after[MPC_R_MAX];
	uint8_t in[PKT_MAX], out[PKT_MAX + 64];
	struct mpc_xdp_meta meta;
	struct pkt_info pi;
	struct xdp_md ctx;
	struct pkt_run r;
	int len;

	len = pkt_build(&c->d, in, sizeof(in));
	if (!ASSERT_GE(len, 14, "build"))
		return;
	ctx = (struct xdp_md){ .data = 0, .data_end = len };
	r = (struct pkt_run){ .prog_fd = bpf_program__fd(skel->progs.mpc_xdp_guard), .in = in,
			      .in_len = len, .out = out, .out_cap = sizeof(out), .ctx = &ctx,
			      .ctx_size = sizeof(ctx) };
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	if (!ASSERT_OK(pkt_run(&r), "test_run"))
		return;
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);
	ASSERT_EQ(r.retval, c->action, "verdict");
	check_counted(before, after, c->reason, 1);

	/* ctx.data = bytes of metadata in front of the frame */
	if (c->meta_flags == NO_META) {
		ASSERT_EQ(ctx.data, 0, "no metadata");
	} else if (ASSERT_EQ(ctx.data, sizeof(meta), "metadata length")) {
		memcpy(&meta, out, sizeof(meta));
		ASSERT_EQ(meta.magic, MPC_META_MAGIC, "meta magic");
		ASSERT_EQ(meta.flags, c->meta_flags, "meta flags");
		if (!pkt_parse(in, len, &pi))
			ASSERT_EQ(meta.l4_off, pi.l4_off, "meta l4_off");
		ASSERT_EQ(ntohl(meta.join_token), c->token, "meta join token");
	}
	if (ASSERT_EQ(r.out_len - ctx.data, len, "frame length"))
		ASSERT_MEMEQ(out + ctx.data, in, len, "frame unchanged");
}

static void convert_port_off(void)
{
	const struct pkt_desc d = { .src = OUT4, .dst = SRV4, .dport = CONV_PORT, SYN };
	struct mpc_stat before[MPC_R_MAX], after[MPC_R_MAX];
	struct xdp_guard_bpf *skel;
	uint8_t in[PKT_MAX];
	struct pkt_run r;

	skel = open_load(0);
	if (!skel)
		return;
	r = (struct pkt_run){ .prog_fd = bpf_program__fd(skel->progs.mpc_xdp_guard), .in = in,
			      .in_len = pkt_build(&d, in, sizeof(in)) };
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	if (ASSERT_OK(pkt_run(&r), "test_run"))
		ASSERT_EQ(r.retval, XDP_PASS, "no Convert service: passed");
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);
	check_counted(before, after, MPC_R_XDP_PASS, 1);
	xdp_guard_bpf__destroy(skel);
}

/* ns per packet. The SYN run adds metadata, which repeat runs would pile
 * up on one buffer, so SYNs are timed one run at a time. */
static void bench(struct xdp_guard_bpf *skel)
{
	const struct pkt_desc syn = { .src = IN4, .dst = SRV4, SYN, O_STAMPED };
	const struct pkt_desc bad = { .src = OUT4, .dst = SRV4, SYN, O_STAMPED };
	const struct pkt_desc data = { .src = OUT4, .dst = SRV4, .tcp_flags = PKT_TCP_ACK,
				       PKT_OPTS(PKT_OPT_NOP, PKT_OPT_NOP, PKT_OPT_TS(1, 2)),
				       .data_len = 1400 };
	const struct pkt_desc udp = { .src = OUT4, .dst = SRV4, .proto = IPPROTO_UDP,
				      .data_len = 100 };
	struct mpc_stat before[MPC_R_MAX], after[MPC_R_MAX];
	uint64_t total = 0;
	int fd = bpf_program__fd(skel->progs.mpc_xdp_guard);
	uint8_t in[PKT_MAX];
	struct pkt_run r;
	int i, n = 20000;

	r = (struct pkt_run){ .prog_fd = fd, .in = in, .in_len = pkt_build(&syn, in, sizeof(in)) };
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	for (i = 0; i < n && !pkt_run(&r); i++)
		total += r.duration;
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);
	check_counted(before, after, MPC_R_XDP_PASS, n);
	printf("# bench xdp_guard: allowed stamped SYN (LPM + metadata) %llu ns/pkt "
	       "(%d single runs)\n", (unsigned long long)(total / n), n);
	/* a UDP packet one run at a time: the single-run overhead baseline */
	r.in_len = pkt_build(&udp, in, sizeof(in));
	for (i = 0, total = 0; i < n && !pkt_run(&r); i++)
		total += r.duration;
	printf("# bench xdp_guard: non-TCP (UDP) %llu ns/pkt (%d single runs, baseline)\n",
	       (unsigned long long)(total / n), n);

	r = (struct pkt_run){ .prog_fd = fd, .in = in, .in_len = pkt_build(&bad, in, sizeof(in)),
			      .repeat = 100000 };
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	if (ASSERT_OK(pkt_run(&r), "bench drop"))
		printf("# bench xdp_guard: dropped stamped SYN %u ns/pkt\n", r.duration);
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);
	check_counted(before, after, MPC_R_XDP_UNAUTH_STAMP, r.repeat);

	r = (struct pkt_run){ .prog_fd = fd, .in = in, .in_len = pkt_build(&data, in, sizeof(in)),
			      .repeat = 100000 };
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	if (ASSERT_OK(pkt_run(&r), "bench data"))
		printf("# bench xdp_guard: data packet %u ns/pkt\n", r.duration);
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);
	check_counted(before, after, MPC_R_XDP_PASS, r.repeat);

	r = (struct pkt_run){ .prog_fd = fd, .in = in, .in_len = pkt_build(&udp, in, sizeof(in)),
			      .repeat = 100000 };
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), before, MPC_R_MAX);
	if (ASSERT_OK(pkt_run(&r), "bench udp"))
		printf("# bench xdp_guard: non-TCP (UDP) %u ns/pkt\n", r.duration);
	tenv_stats_read(bpf_map__fd(skel->maps.mpc_stats), after, MPC_R_MAX);
	check_counted(before, after, MPC_R_XDP_PASS, r.repeat);
}

void test_xdp_guard(void)
{
	struct xdp_guard_bpf *skel;
	size_t i;

	skel = open_load(CONV_PORT);
	if (!skel)
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!test__start_subtest(cases[i].name))
			continue;
		run_case(skel, &cases[i]);
	}
	if (test__start_subtest("convert_port_off"))
		convert_port_off();
	if (test__start_subtest("bench"))
		bench(skel);
	xdp_guard_bpf__destroy(skel);
}
