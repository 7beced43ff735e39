// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tc_pickup (concentrator access ingress): BPF_PROG_TEST_RUN cases, then
 * real tc ingress on a TAP device.
 *
 * The program's socket lookups run in the caller's network namespace, so
 * the test enters one of its own (tests/unit/lib/tenv.h) and puts real
 * sockets there: the daemon's transparent MPTCP listener on LST_PORT, a
 * per-port listener on J_PORT (the daemon opens one for each port it has
 * picked a connection up on, so the connection's MP_JOINs meet a listener
 * on their own port), and one established plain TCP connection.
 *
 *   lo      192.0.2.129/32  2001:db8:ff::1/128   listeners
 *   mpcp0   198.51.100.1/24 2001:db8:11::1/64    access side (TAP, tc_pickup)
 *   fwmark LMARK -> table 100: local default route (recipes.md)
 *
 * test_run: bpf_sk_assign() only works on an skb at tc ingress, which a
 * test_run skb is not, so a found listener ends in PICK_ASSIGN_ERR there;
 * every other verdict, the mark and the frame are checked as they are.
 * TAP: frames written into the TAP arrive at tc ingress for real; a
 * stamped SYN must be answered by the listener with the original
 * destination as source (PICK_SYN), a join by the per-port listener
 * (PICK_JOIN; the kernel knows no such token and answers RST), and a join
 * with no listener on its port is dropped (PICK_JOIN_WAIT).
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <mpconv/maps.h>
#include <mpconv/wire.h>

#include "attach.h"
#include "reasons.h"
#include "test.h"
#include "lib/pkt.h"
#include "lib/tenv.h"
#include "tc_pickup.skel.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define TAP "mpcp0"
#define LST4 "192.0.2.129"
#define LST6 "2001:db8:ff::1"
#define LST_PORT 5125
#define NOLST_PORT 5126		/* nothing listens here */
#define J_PORT 8080		/* per-port listener for joins */
#define NOJ_PORT 9090		/* a port without one */
#define FLOW_PORT 6000		/* plain TCP server with one connection */
#define LMARK 0x1ca1
#define LTABLE 100
#define TOKEN 0x0a0b0c0d	/* a token the "sockops program" recorded */
#define WAIT_MS 2000

#define CLI4 "198.51.100.2"
#define SRV4 "203.0.113.2"
#define CLI6 "2001:db8:11::2"
#define SRV6 "2001:db8:2::2"

#define SYN .tcp_flags = PKT_TCP_SYN
#define MPC_PREFER PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPC_SYN, PKT_OPT_PREFER(0xf))
#define JOIN(tok) PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPJ_SYN(0, 1, (tok), 7))

static struct {
	struct tenv_netns ns;
	int fds[8];
	int n_fds;
	uint16_t flow_cport;	/* client port of the established flow */
	int tap;
	uint8_t tap_mac[6];
	struct tc_pickup_bpf *skel, *nolst, *tap_skel;
	struct mpc_attach att;
} env = { .tap = -1 };

struct pick_case {
	const char *name;
	struct pkt_desc d;
	int reason;
	bool marked;		/* expect skb->mark = LMARK */
	bool flow_tuple;	/* replace ports with the live flow's */
	bool shot;		/* expect TC_ACT_SHOT */
};

static const struct pick_case cases[] = {
	/* Steering to the listener: assignment refused outside tc ingress */
	{ "v4_stamped_syn", { .src = CLI4, .dst = SRV4, SYN, MPC_PREFER }, MPC_R_PICK_ASSIGN_ERR },
	{ "v6_stamped_syn", { .src = CLI6, .dst = SRV6, SYN, MPC_PREFER }, MPC_R_PICK_ASSIGN_ERR },
	{ "v4_join_known", { .src = CLI4, .dst = SRV4, .dport = J_PORT, SYN, JOIN(TOKEN) },
	  MPC_R_PICK_ASSIGN_ERR },
	{ "v6_join_known",
	  { .src = CLI6, .dst = SRV6, .dport = J_PORT, SYN,
	    PKT_OPTS(PKT_OPT_MPJ_SYN(1, 2, TOKEN, 7)) },
	  MPC_R_PICK_ASSIGN_ERR },
	/* our join, but its port's listener is not up (yet): dropped, the
	 * peer retransmits */
	{ "v4_join_wait", { .src = CLI4, .dst = SRV4, .dport = NOJ_PORT, SYN, JOIN(TOKEN) },
	  MPC_R_PICK_JOIN_WAIT, .shot = true },
	{ "v6_join_wait", { .src = CLI6, .dst = SRV6, .dport = NOJ_PORT, SYN, JOIN(TOKEN) },
	  MPC_R_PICK_JOIN_WAIT, .shot = true },
	/* a join to a local listener (an address the box announced) is
	 * delivered there, not steered */
	{ "v4_join_to_local_listener",
	  { .src = CLI4, .dst = LST4, .dport = FLOW_PORT, SYN, JOIN(TOKEN) }, MPC_R_PICK_JOIN,
	  true },
	{ "v4_join_unknown", { .src = CLI4, .dst = SRV4, .dport = J_PORT, SYN, JOIN(TOKEN + 1) },
	  MPC_R_PICK_JOIN_UNKNOWN },
	/* the token is read big endian: byte-swapped it is someone else's */
	{ "v4_join_swapped", { .src = CLI4, .dst = SRV4, .dport = J_PORT, SYN, JOIN(0x0d0c0b0a) },
	  MPC_R_PICK_JOIN_UNKNOWN },
	{ "v4_native_mpc", { .src = CLI4, .dst = SRV4, SYN,
			     PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPC_SYN) },
	  MPC_R_PICK_NATIVE },
	{ "v6_native_mpc", { .src = CLI6, .dst = SRV6, SYN, PKT_OPTS(PKT_OPT_MPC_SYN) },
	  MPC_R_PICK_NATIVE },
	/* a stamp without MP_CAPABLE is ignored (protocol.md §2.2) */
	{ "v4_stamp_no_mpc", { .src = CLI4, .dst = SRV4, SYN, PKT_OPTS(PKT_OPT_PREFER(0xf)) },
	  MPC_R_PICK_PLAIN },
	{ "v4_plain_syn", { .src = CLI4, .dst = SRV4, SYN, PKT_OPTS(PKT_OPT_LINUX_SYN) },
	  MPC_R_PICK_PLAIN },
	{ "v4_plain_ack", { .src = CLI4, .dst = SRV4, .tcp_flags = PKT_TCP_ACK },
	  MPC_R_PICK_PLAIN },
	/* a stamped SYN-ACK is not a SYN to pick up */
	{ "v4_stamped_synack",
	  { .src = CLI4, .dst = SRV4, .tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK, MPC_PREFER },
	  MPC_R_PICK_PLAIN },
	/* only a listener on the flow's port: not a flow */
	{ "v4_ack_to_listener",
	  { .src = CLI4, .dst = LST4, .dport = FLOW_PORT, .tcp_flags = PKT_TCP_ACK },
	  MPC_R_PICK_PLAIN },
	/* packets of a local connection (here a plain one between two local
	 * sockets, which the lookup cannot tell from a picked-up one) */
	{ "v4_flow_ack", { .src = LST4, .dst = LST4, .tcp_flags = PKT_TCP_ACK, .data_len = 100 },
	  MPC_R_PICK_FLOW, true, true },
	{ "v4_flow_fin", { .src = LST4, .dst = LST4, .tcp_flags = PKT_TCP_ACK | PKT_TCP_FIN },
	  MPC_R_PICK_FLOW, true, true },
	/* a retransmitted stamped SYN finds its connection, not the listener */
	{ "v4_flow_stamped_syn", { .src = LST4, .dst = LST4, SYN, MPC_PREFER }, MPC_R_PICK_FLOW,
	  true, true },
	/* and so does a retransmitted join */
	{ "v4_flow_join", { .src = LST4, .dst = LST4, SYN, JOIN(TOKEN) }, MPC_R_PICK_FLOW, true,
	  true },
	{ "udp", { .src = CLI4, .dst = SRV4, .proto = IPPROTO_UDP, .data_len = 8 }, MPC_R_NOT_TCP },
	{ "arp", { .eth_type = ETH_P_ARP }, MPC_R_NOT_IP },
	{ "vlan", { .src = CLI4, .dst = SRV4, SYN, MPC_PREFER, .n_vlan = 1,
		    .vlan = { { 0x8100, 7 } } },
	  MPC_R_VLAN },
	{ "v6_fragment", { .src = CLI6, .dst = SRV6, SYN, MPC_PREFER, .n_ext = 1,
			   .ext = { { .type = IPPROTO_FRAGMENT } } },
	  MPC_R_FRAG },
	{ "truncated", { .src = CLI4, .dst = SRV4, SYN, MPC_PREFER, .truncate = 14 + 20 + 8 },
	  MPC_R_L4_TRUNC },
};

static int sock_at(int proto, int family, const char *addr, uint16_t port, bool listen_)
{
	struct sockaddr_storage ss = {};
	socklen_t sl;
	int fd, one = 1;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* transparent, as the daemon's: it accepts for any destination */
	if (family == AF_INET) {
		struct sockaddr_in *a = (void *)&ss;

		setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, addr, &a->sin_addr);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (void *)&ss;

		setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one));
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		sl = sizeof(*a);
	}
	if (bind(fd, (void *)&ss, sl) || (listen_ && listen(fd, 16))) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (env.n_fds < (int)(sizeof(env.fds) / sizeof(env.fds[0])))
		env.fds[env.n_fds++] = fd;
	return fd;
}

static struct tc_pickup_bpf *open_load(uint16_t port)
{
	struct mpc_token_val v = { .created_ns = 1, .cookie = 2 };
	struct tc_pickup_bpf *skel;
	uint32_t tok = TOKEN;
	struct bpf_map *m;

	skel = tc_pickup_bpf__open();
	if (!ASSERT_OK_PTR(skel, "open"))
		return NULL;
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);
	skel->rodata->mpc_lst_port = port;
	inet_pton(AF_INET, LST4, (void *)&skel->rodata->mpc_lst_addr4);
	inet_pton(AF_INET6, LST6, (void *)skel->rodata->mpc_lst_addr6);
	skel->rodata->mpc_local_mark = LMARK;
	if (!ASSERT_OK(tc_pickup_bpf__load(skel), "load") ||
	    !ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.mpc_tokens), &tok, &v, 0),
		       "token")) {
		tc_pickup_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static bool env_up(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(FLOW_PORT) };
	socklen_t sl = sizeof(a);
	int cli, srv, acc, fam;

	if (!ASSERT_OK(tenv_netns_enter(&env.ns), "enter netns") ||
	    !ASSERT_OK(tenv_addr_add("lo", LST4, 32), "lo v4") ||
	    !ASSERT_OK(tenv_addr_add("lo", LST6, 128), "lo v6"))
		return false;
	for (fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0)
		if (!ASSERT_OK(tenv_rule_fwmark(fam, LMARK, LTABLE), "fwmark rule") ||
		    !ASSERT_OK(tenv_route_local_default(fam, LTABLE), "local route"))
			return false;
	if (!ASSERT_GE(sock_at(IPPROTO_MPTCP, AF_INET, LST4, LST_PORT, true), 0, "v4 listener") ||
	    !ASSERT_GE(sock_at(IPPROTO_MPTCP, AF_INET6, LST6, LST_PORT, true), 0, "v6 listener") ||
	    !ASSERT_GE(sock_at(IPPROTO_MPTCP, AF_INET, LST4, J_PORT, true), 0, "v4 port listener") ||
	    !ASSERT_GE(sock_at(IPPROTO_MPTCP, AF_INET6, LST6, J_PORT, true), 0, "v6 port listener"))
		return false;
	srv = sock_at(IPPROTO_TCP, AF_INET, LST4, FLOW_PORT, true);
	cli = sock_at(IPPROTO_TCP, AF_INET, LST4, 0, false);
	if (!ASSERT_GE(srv, 0, "flow server") || !ASSERT_GE(cli, 0, "flow client"))
		return false;
	inet_pton(AF_INET, LST4, &a.sin_addr);
	if (!ASSERT_OK(connect(cli, (void *)&a, sizeof(a)), "connect"))
		return false;
	acc = accept(srv, NULL, NULL);
	if (!ASSERT_GE(acc, 0, "accept"))
		return false;
	env.fds[env.n_fds++] = acc;
	if (!ASSERT_OK(getsockname(cli, (void *)&a, &sl), "getsockname"))
		return false;
	env.flow_cport = ntohs(a.sin_port);

	env.skel = open_load(LST_PORT);
	env.nolst = open_load(NOLST_PORT);
	return env.skel && env.nolst;
}

/* the TAP and the program attached to its ingress as the daemon does */
static bool tap_up(void)
{
	int idx;

	env.tap = tenv_tap_open(TAP, 0);
	if (!ASSERT_GE(env.tap, 0, "tap") || !ASSERT_OK(tenv_gro_off(TAP), "gro off") ||
	    !ASSERT_OK(tenv_link_up(TAP, IFF_NOARP), "tap up") ||
	    !ASSERT_OK(tenv_if_mac(TAP, env.tap_mac), "tap mac") ||
	    !ASSERT_OK(tenv_addr_add(TAP, "198.51.100.1", 24), "tap v4") ||
	    !ASSERT_OK(tenv_addr_add(TAP, "2001:db8:11::1", 64), "tap v6"))
		return false;
	env.tap_skel = open_load(LST_PORT);
	if (!env.tap_skel)
		return false;
	idx = (int)if_nametoindex(TAP);
	return ASSERT_OK(mpc_attach_tc(idx, bpf_program__fd(env.tap_skel->progs.mpc_tc_pickup),
				       true, &env.att),
			 "attach at ingress");
}

static void env_down(void)
{
	int i;

	if (env.att.kind != MPC_ATT_NONE)
		mpc_detach(&env.att);
	tc_pickup_bpf__destroy(env.tap_skel);
	tc_pickup_bpf__destroy(env.nolst);
	tc_pickup_bpf__destroy(env.skel);
	if (env.tap >= 0)
		close(env.tap);
	for (i = 0; i < env.n_fds; i++)
		close(env.fds[i]);
	if (env.ns.active)
		ASSERT_OK(tenv_netns_leave(&env.ns), "leave netns");
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

/* test_run d once; returns the mark the program left (or ~0 on error) */
static uint32_t run(struct tc_pickup_bpf *skel, const struct pkt_desc *d, int reason, bool shot)
{
	struct mpc_stat before[MPC_R_MAX], after[MPC_R_MAX];
	int stats = bpf_map__fd(skel->maps.mpc_stats);
	uint8_t in[PKT_MAX], out[PKT_MAX];
	struct __sk_buff ctx = {};
	struct pkt_run r;
	int len;

	len = pkt_build(d, in, sizeof(in));
	if (!ASSERT_GE(len, 14, "build"))
		return ~0u;
	r = (struct pkt_run){ .prog_fd = bpf_program__fd(skel->progs.mpc_tc_pickup), .in = in,
			      .in_len = len, .out = out, .out_cap = sizeof(out), .ctx = &ctx,
			      .ctx_size = sizeof(ctx) };
	if (!ASSERT_OK(tenv_stats_read(stats, before, MPC_R_MAX), "stats") ||
	    !ASSERT_OK(pkt_run(&r), "test_run") ||
	    !ASSERT_OK(tenv_stats_read(stats, after, MPC_R_MAX), "stats"))
		return ~0u;
	ASSERT_EQ(r.retval, shot ? TC_ACT_SHOT : TC_ACT_OK, "verdict");
	check_counted(before, after, reason, 1);
	if (ASSERT_EQ(r.out_len, len, "length unchanged"))
		ASSERT_MEMEQ(out, in, len, "frame unchanged");
	return ctx.mark;
}

/* ---- real ingress through the TAP ---------------------------------------- */

static bool wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Read frames leaving the TAP until a TCP segment src:sport -> dst:dport
 * with exactly these flags (of FIN..URG) shows up; copy it to buf. */
static int tap_expect(const char *src, uint16_t sport, const char *dst, uint16_t dport,
		      uint8_t flags, uint8_t *buf, size_t cap)
{
	uint64_t deadline = tenv_now_ns() + WAIT_MS * 1000000ull;
	int fam = strchr(src, ':') ? AF_INET6 : AF_INET, alen = fam == AF_INET ? 4 : 16;
	uint8_t want_s[16], want_d[16];

	inet_pton(fam, src, want_s);
	inet_pton(fam, dst, want_d);
	while (tenv_now_ns() < deadline) {
		const uint8_t *ip, *th;
		struct pkt_info pi;
		ssize_t n;

		if (!wait_fd(env.tap, 100))
			continue;
		n = read(env.tap, buf, cap);
		if (n <= 0 || pkt_parse(buf, (size_t)n, &pi) || pi.proto != IPPROTO_TCP ||
		    pi.l4_len < 20 || pi.family != fam)
			continue;
		ip = buf + pi.l3_off;
		th = buf + pi.l4_off;
		if (memcmp(ip + (fam == AF_INET ? 12 : 8), want_s, alen) ||
		    memcmp(ip + (fam == AF_INET ? 16 : 24), want_d, alen) ||
		    (th[0] << 8 | th[1]) != sport || (th[2] << 8 | th[3]) != dport ||
		    (th[13] & 0x3f) != flags)
			continue;
		return (int)n;
	}
	return -ETIMEDOUT;
}

/* Write d into the TAP; wait (bounded) until `reason` was counted once. */
static bool tap_inject(const struct pkt_desc *d, int reason)
{
	int stats = bpf_map__fd(env.tap_skel->maps.mpc_stats);
	struct mpc_stat before[MPC_R_MAX], after[MPC_R_MAX];
	uint8_t frame[PKT_MAX];
	struct pkt_desc dd = *d;
	int len, i;

	memcpy(dd.eth_dst, env.tap_mac, 6);
	len = pkt_build(&dd, frame, sizeof(frame));
	if (!ASSERT_GE(len, 14, "build") ||
	    !ASSERT_OK(tenv_stats_read(stats, before, MPC_R_MAX), "stats") ||
	    !ASSERT_EQ(write(env.tap, frame, len), len, "write into " TAP))
		return false;
	for (i = 0; i < WAIT_MS / 10; i++) {
		if (tenv_stats_read(stats, after, MPC_R_MAX))
			return false;
		if (after[reason].packets != before[reason].packets)
			break;
		usleep(10000);
	}
	return check_counted(before, after, reason, 1);
}

static void tap_stamped_syn(const char *cli, const char *srv, uint16_t sport)
{
	const struct pkt_desc d = { .src = cli, .dst = srv, .sport = sport, .dport = 80, SYN,
				    .seq = 1000, MPC_PREFER };
	uint8_t buf[PKT_MAX];
	int n;

	if (!tap_inject(&d, MPC_R_PICK_SYN))
		return;
	/* the listener answers as the original destination, with MPTCP */
	n = tap_expect(srv, 80, cli, sport, PKT_TCP_SYN | PKT_TCP_ACK, buf, sizeof(buf));
	if (ASSERT_GE(n, 0, "SYN-ACK from the original destination"))
		ASSERT_GE(pkt_tcp_opt_find(buf, n, TCPOPT_MPTCP_KIND, MPTCPOPT_MP_CAPABLE), 0,
			  "MP_CAPABLE in the SYN-ACK");
}

static void tap_join(const char *cli, const char *srv, uint16_t sport)
{
	const struct pkt_desc d = { .src = cli, .dst = srv, .sport = sport, .dport = J_PORT, SYN,
				    .seq = 2000, JOIN(TOKEN) };
	uint8_t buf[PKT_MAX];

	if (!tap_inject(&d, MPC_R_PICK_JOIN))
		return;
	/* the port's listener took it; no connection has TOKEN, so the
	 * kernel's MPTCP join code resets it (from the join's destination:
	 * the listener is transparent) */
	ASSERT_GE(tap_expect(srv, J_PORT, cli, sport, PKT_TCP_RST | PKT_TCP_ACK, buf, sizeof(buf)),
		  0, "RST from the join's destination");
}

static void tap_join_wait(void)
{
	const struct pkt_desc d = { .src = CLI4, .dst = SRV4, .sport = 41010, .dport = NOJ_PORT,
				    SYN, JOIN(TOKEN) };
	uint8_t buf[PKT_MAX];

	if (!tap_inject(&d, MPC_R_PICK_JOIN_WAIT))
		return;
	/* dropped: no answer of any kind */
	ASSERT_EQ(tap_expect(SRV4, NOJ_PORT, CLI4, 41010, PKT_TCP_RST | PKT_TCP_ACK, buf,
			     sizeof(buf)),
		  -ETIMEDOUT, "no RST for a dropped join");
}

/* ---- bench ---------------------------------------------------------------- */

static void bench(void)
{
	const struct pkt_desc syn = { .src = CLI4, .dst = SRV4, SYN, MPC_PREFER };
	const struct pkt_desc data = { .src = LST4, .dst = LST4, .sport = env.flow_cport,
				       .dport = FLOW_PORT, .tcp_flags = PKT_TCP_ACK,
				       PKT_OPTS(PKT_OPT_NOP, PKT_OPT_NOP, PKT_OPT_TS(1, 2)),
				       .data_len = 1400 };
	const struct pkt_desc fwd = { .src = CLI4, .dst = SRV4, .tcp_flags = PKT_TCP_ACK,
				      PKT_OPTS(PKT_OPT_NOP, PKT_OPT_NOP, PKT_OPT_TS(1, 2)),
				      .data_len = 1400 };
	const struct pkt_desc udp = { .src = CLI4, .dst = SRV4, .proto = IPPROTO_UDP,
				      .data_len = 100 };
	const struct {
		const char *what;
		const struct pkt_desc *d;
		int reason;
	} b[] = {
		{ "stamped SYN (2 lookups + assign)", &syn, MPC_R_PICK_ASSIGN_ERR },
		{ "data packet of a local flow", &data, MPC_R_PICK_FLOW },
		{ "forwarded data packet", &fwd, MPC_R_PICK_PLAIN },
		{ "non-TCP (UDP)", &udp, MPC_R_NOT_TCP },
	};
	int stats = bpf_map__fd(env.skel->maps.mpc_stats);
	struct mpc_stat before[MPC_R_MAX], after[MPC_R_MAX];
	uint8_t in[PKT_MAX];
	struct __sk_buff ctx;
	struct pkt_run r;
	size_t i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		ctx = (struct __sk_buff){};
		r = (struct pkt_run){ .prog_fd = bpf_program__fd(env.skel->progs.mpc_tc_pickup),
				      .in = in, .in_len = pkt_build(b[i].d, in, sizeof(in)),
				      .ctx = &ctx, .ctx_size = sizeof(ctx), .repeat = 100000 };
		tenv_stats_read(stats, before, MPC_R_MAX);
		if (ASSERT_OK(pkt_run(&r), b[i].what))
			printf("# bench tc_pickup: %s %u ns/pkt\n", b[i].what, r.duration);
		tenv_stats_read(stats, after, MPC_R_MAX);
		check_counted(before, after, b[i].reason, r.repeat);
	}
}

void test_tc_pickup(void)
{
	size_t i;

	if (!env_up())
		goto out;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pick_case *c = &cases[i];
		struct pkt_desc d = c->d;
		uint32_t mark;

		if (!test__start_subtest(c->name))
			continue;
		if (c->flow_tuple) {
			d.sport = env.flow_cport;
			d.dport = FLOW_PORT;
		}
		mark = run(env.skel, &d, c->reason, c->shot);
		ASSERT_EQ(mark, c->marked ? LMARK : 0, "skb mark");
	}
	if (test__start_subtest("v4_no_listener")) {
		const struct pkt_desc d = { .src = CLI4, .dst = SRV4, SYN, MPC_PREFER };

		ASSERT_EQ(run(env.nolst, &d, MPC_R_PICK_NO_LISTENER, false), 0, "skb mark");
	}
	if (test__start_subtest("v6_no_listener")) {
		const struct pkt_desc d = { .src = CLI6, .dst = SRV6, SYN, MPC_PREFER };

		ASSERT_EQ(run(env.nolst, &d, MPC_R_PICK_NO_LISTENER, false), 0, "skb mark");
	}
	/* the listener lookup must not take an established socket for it */
	if (test__start_subtest("listener_port_is_a_flow")) {
		struct tc_pickup_bpf *s2 = open_load(FLOW_PORT);

		if (s2) {
			const struct pkt_desc d = { .src = LST4, .dst = SRV4,
						    .sport = env.flow_cport, SYN, MPC_PREFER };

			/* source = the flow's client, "listener" LST4:FLOW_PORT:
			 * the established stage matches the accepted socket */
			ASSERT_EQ(run(s2, &d, MPC_R_PICK_NO_LISTENER, false), 0, "skb mark");
			tc_pickup_bpf__destroy(s2);
		}
	}

	if (!tap_up())
		goto out;
	if (test__start_subtest("tap_v4_stamped_syn_picked"))
		tap_stamped_syn(CLI4, SRV4, 41000);
	if (test__start_subtest("tap_v6_stamped_syn_picked"))
		tap_stamped_syn(CLI6, SRV6, 41001);
	if (test__start_subtest("tap_v4_join_to_port_listener"))
		tap_join(CLI4, SRV4, 41002);
	if (test__start_subtest("tap_v6_join_to_port_listener"))
		tap_join(CLI6, SRV6, 41003);
	if (test__start_subtest("tap_join_wait_dropped"))
		tap_join_wait();
	if (test__start_subtest("bench"))
		bench();
out:
	env_down();
}
