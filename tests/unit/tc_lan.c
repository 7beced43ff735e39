// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tc_lan (bpf/tc_lan.bpf.c), the CPE LAN ingress classifier.
 *
 * Table-driven: each case is a crafted frame, the load-time knobs, the
 * policy/cache map entries, and the expected verdict, reason counter and
 * skb->mark; it runs through BPF_PROG_TEST_RUN, in IPv4 and IPv6 where that
 * means something. The output frame must equal the input (tc_lan never
 * rewrites), and exactly one counter must move: the expected one, by one
 * packet and the frame's bytes.
 *
 * BPF_PROG_TEST_RUN cannot show a successful steer: its skb is not at tc
 * ingress, so bpf_sk_assign() refuses (-EOPNOTSUPP) and a SYN that found
 * the listener ends in MPC_R_LAN_ASSIGN_ERR there. The "ingress" subtests
 * attach the program to a TAP device instead, write real frames into it
 * and check that the daemon's listener accepts the connection with the
 * original destination as its local address.
 *
 * Lab, in a private network namespace entered by the test process:
 *
 *   LAN host (frames we write)      192.0.2.2        2001:db8::2
 *   [tap mpct0] CPE LAN, listener   192.0.2.254/24   2001:db8::fe/64
 *   servers, not local              198.51.100.1     2001:db8:1::1
 *   policy test network             203.0.113.0/24   2001:db8:2::/120
 *   lo: real local socket pairs     198.51.100.200 <- .201, 2001:db8:1::c8 <- ::c9
 *   (the IPv6 twin of a.b.c.x has x, in hex, as its last group)
 *   listener: MPTCP, IP_TRANSPARENT, port L on the tap addresses
 *   ip rule fwmark 0x4d50 lookup 4242; local default dev lo table 4242
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "lib/pkt.h"
#include "lib/tenv.h"
#include "reasons.h"
#include "tc_lan.skel.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define MARK_IN 0x11		/* skb->mark the frames arrive with */
#define LOCAL_MARK 0x4d50	/* mpc_local_mark */
#define LOCAL_TABLE 4242
#define TAP "mpct0"
#define TTL_NS 1000000000ull	/* mpc_fb_ttl_ns of the cache cases */
#define WAIT_MS 3000		/* bound of every wait on the kernel */

#define F4 1
#define F6 2
#define F46 (F4 | F6)

/* Cut the frame n bytes after the start of the L3 / L4 header. */
#define CUT_L3(n) ((1 << 16) | (n))
#define CUT_L4(n) ((2 << 16) | (n))

struct lan_cfg {
	uint8_t native_proxy;
	uint8_t ports_only;
	uint8_t prefix_only;
	uint8_t fb_shortcut;
	uint64_t fb_ttl_ns;
	bool no_listener;	/* mpc_lst_port names a port nobody listens on */
};

struct lan_pol {
	const char *prefix;	/* IPv4 notation; the IPv6 twin is derived */
	int plen;		/* IPv4 prefix length (IPv6: + 96) */
	uint8_t action;
};

struct lan_port {
	uint16_t port;
	uint8_t action;
};

enum lan_cache { C_NONE, C_FRESH, C_STALE, C_ANCIENT, C_OTHER };

/* Real sockets whose tuple a case's frame takes. */
enum lan_flow { FL_NONE, FL_EST, FL_REQ, FL_TW, FL_LISTENER, FL_MAX };

struct lan_case {
	const char *name;
	unsigned int fams;
	struct pkt_desc pkt;	/* IPv4 addresses; the IPv6 twin is derived */
	int cut;		/* CUT_L3/CUT_L4, 0 = whole frame */
	bool swap_eth;		/* IPv4 EtherType on an IPv6 header, and back */
	/* Write the frame into the TAP instead: BPF_PROG_TEST_RUN refuses
	 * frames whose IP header is incomplete. Default knobs only; the
	 * verdict and mark are not observable there, the counters are. */
	bool via_tap;
	struct lan_cfg cfg;
	struct lan_pol pol[2];
	struct lan_port ports[1];
	enum lan_cache cache;
	enum lan_flow flow;
	int reason;		/* expected enum mpc_reason */
	bool mark;		/* expect skb->mark = LOCAL_MARK, else MARK_IN */
};

#define SYN .tcp_flags = PKT_TCP_SYN
#define ACK .tcp_flags = PKT_TCP_ACK
#define LAN_HOST "192.0.2.2"
#define Z5 0, 0, 0, 0, 0
#define Z10 Z5, Z5
#define SERVER "198.51.100.1"

static const struct lan_case cases[] = {
	/* ---- not for us: passed untouched ---- */
	{ "arp", F4, { .eth_type = ETH_P_ARP }, .reason = MPC_R_NOT_IP },
	{ "ipx", F4, { .eth_type = 0x8137, .data_len = 40 }, .reason = MPC_R_NOT_IP },
	{ "vlan_8021q", F46, { .n_vlan = 1, .vlan = { { ETH_P_8021Q, 100 } }, SYN },
	  .reason = MPC_R_VLAN },
	{ "vlan_qinq", F46,
	  { .n_vlan = 2, .vlan = { { ETH_P_8021AD, 10 }, { ETH_P_8021Q, 100 } }, SYN },
	  .reason = MPC_R_VLAN },
	{ "udp", F46, { .proto = IPPROTO_UDP, .dport = 53, .data_len = 30 },
	  .reason = MPC_R_NOT_TCP },
	{ "icmp_echo", F46, { .proto = IPPROTO_ICMP, .data_len = 56 }, .reason = MPC_R_NOT_TCP },
	{ "v4_frag_first", F4, { .frag_off = PKT_IP_MF, SYN }, .reason = MPC_R_FRAG },
	{ "v4_frag_later", F4, { .frag_off = 100, .proto = IPPROTO_TCP, .data_len = 20 },
	  .reason = MPC_R_FRAG },
	{ "v6_frag_first", F6,
	  { .n_ext = 1, .ext = { { IPPROTO_FRAGMENT, .frag = PKT_V6_FRAG(0, 1) } }, SYN },
	  .reason = MPC_R_FRAG },
	{ "v6_frag_later", F6,
	  { .n_ext = 1, .ext = { { IPPROTO_FRAGMENT, .frag = PKT_V6_FRAG(100, 0) } },
	    .data_len = 20 },
	  .reason = MPC_R_FRAG },
	{ "v6_frag_after_hbh", F6,
	  { .n_ext = 2,
	    .ext = { { IPPROTO_HOPOPTS }, { IPPROTO_FRAGMENT, .frag = PKT_V6_FRAG(0, 1) } },
	    SYN },
	  .reason = MPC_R_FRAG },
	{ "v6_hbh_syn_classified", F6,
	  { .n_ext = 1, .ext = { { IPPROTO_HOPOPTS } }, SYN, PKT_OPTS(PKT_OPT_MSS(1440)) },
	  .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "v6_hbh_mpc_syn_native", F6,
	  { .n_ext = 1, .ext = { { IPPROTO_HOPOPTS, 24 } }, SYN,
	    PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPC_SYN) },
	  .reason = MPC_R_LAN_NATIVE },
	{ "v6_three_ext_hdrs_ack", F6,
	  { .n_ext = 3, .ext = { { IPPROTO_HOPOPTS }, { IPPROTO_DSTOPTS }, { IPPROTO_ROUTING } },
	    ACK },
	  .reason = MPC_R_LAN_NO_FLOW },
	{ "v6_hbh_ack_established", F6, { .n_ext = 1, .ext = { { IPPROTO_HOPOPTS } }, ACK },
	  .flow = FL_EST, .reason = MPC_R_LAN_FLOW, .mark = true },
	{ "v6_four_ext_hdrs", F6,
	  { .n_ext = 4,
	    .ext = { { IPPROTO_HOPOPTS }, { IPPROTO_DSTOPTS }, { IPPROTO_ROUTING },
		     { IPPROTO_DSTOPTS } },
	    SYN },
	  .reason = MPC_R_V6_EXTHDR },
	{ "v6_ah", F6, { .n_ext = 1, .ext = { { IPPROTO_AH, 16 } }, SYN },
	  .reason = MPC_R_V6_EXTHDR },
	{ "v6_no_next_header", F6, { .proto = IPPROTO_NONE }, .reason = MPC_R_NOT_TCP },

	/* ---- broken L3 ---- */
	{ "ip_hdr_cut", F46, { SYN }, .cut = CUT_L3(10), .via_tap = true,
	  .reason = MPC_R_L3_TRUNC },
	{ "ip_hdr_only_eth", F4, { SYN }, .cut = CUT_L3(0), .via_tap = true,
	  .reason = MPC_R_L3_TRUNC },
	{ "v4_ihl_4", F4, { .ihl = PKT_SET(4), SYN }, .reason = MPC_R_L3_TRUNC },
	{ "v4_ihl_15_short", F4, { .ihl = PKT_SET(15), SYN }, .reason = MPC_R_L3_TRUNC },
	{ "v4_ihl_15_frame_cut", F4, { .ihl = PKT_SET(15), .tot_len = PKT_SET(80), SYN },
	  .reason = MPC_R_L3_TRUNC },
	{ "v4_tot_len_lt_ihl", F4, { .tot_len = PKT_SET(16), SYN }, .reason = MPC_R_L3_TRUNC },
	{ "wrong_ip_version", F46, { SYN }, .swap_eth = true, .reason = MPC_R_L3_TRUNC },
	{ "v6_ext_hdr_cut", F6, { .n_ext = 1, .ext = { { IPPROTO_HOPOPTS, 16 } }, SYN },
	  .cut = CUT_L3(41), .reason = MPC_R_L3_TRUNC },
	{ "v6_ext_past_payload_len", F6,
	  { .n_ext = 1, .ext = { { IPPROTO_HOPOPTS, 16 } }, .payload_len = PKT_SET(8), SYN },
	  .reason = MPC_R_L3_TRUNC },
	{ "v4_ip_options_syn", F4,
	  { .ip_opts = (const uint8_t[]){ 1, 1, 1, 0 }, .ip_opts_len = 4, SYN },
	  .reason = MPC_R_LAN_ASSIGN_ERR },

	/* ---- broken TCP header ---- */
	{ "tcp_hdr_cut", F46, { SYN }, .cut = CUT_L4(10), .reason = MPC_R_L4_TRUNC },
	{ "ip_len_short_of_tcp_hdr", F46,
	  { .tot_len = PKT_SET(20 + 10), .payload_len = PKT_SET(10), SYN },
	  .reason = MPC_R_L4_TRUNC },
	{ "doff_4", F46, { .doff = PKT_SET(4), SYN }, .reason = MPC_R_L4_TRUNC },
	{ "doff_0", F4, { .doff = PKT_SET(0), ACK }, .reason = MPC_R_L4_TRUNC },
	{ "doff_15_past_ip_len", F46, { .doff = PKT_SET(15), SYN }, .reason = MPC_R_L4_TRUNC },
	{ "doff_15_past_frame", F46,
	  { .doff = PKT_SET(15), .tot_len = PKT_SET(20 + 60), .payload_len = PKT_SET(60), SYN },
	  .reason = MPC_R_L4_TRUNC },
	{ "options_cut", F46, { SYN, PKT_OPTS(PKT_OPT_LINUX_SYN) }, .cut = CUT_L4(30),
	  .reason = MPC_R_L4_TRUNC },

	/* ---- options ---- */
	{ "opt_past_doff", F46, { SYN, PKT_OPTS(2, 8, 5, 0xb4) }, .reason = MPC_R_OPT_MALFORMED },
	{ "opt_len_0", F46, { SYN, PKT_OPTS(2, 0, 5, 0xb4) }, .reason = MPC_R_OPT_MALFORMED },
	{ "opt_len_1", F46, { SYN, PKT_OPTS(3, 1, 1, 1) }, .reason = MPC_R_OPT_MALFORMED },
	/* options are walked on a SYN without ACK only (parse.bpf.h): a
	 * malformed one on a data segment is the endpoints' business, and
	 * the segment is classified by its tuple like any other */
	{ "opt_len_0_on_data_not_walked", F4, { ACK, PKT_OPTS(1, 1, 8, 0), .data_len = 10 },
	  .reason = MPC_R_LAN_NO_FLOW },
	{ "opt_kind_in_last_byte", F46, { SYN, PKT_OPTS(1, 1, 1, 2), .data_len = 8 },
	  .reason = MPC_R_OPT_MALFORMED },
	{ "opt_kind_in_last_byte_no_data", F4, { SYN, PKT_OPTS(1, 1, 1, 2) },
	  .reason = MPC_R_OPT_MALFORMED },
	{ "mptcp_opt_len_2", F46, { SYN, PKT_OPTS(30, 2, 1, 1) }, .reason = MPC_R_OPT_MALFORMED },
	{ "mpc_past_doff", F4, { SYN, PKT_OPTS(PKT_OPT_MSS(1460), 30, 12, 0x01, 0x01) },
	  .reason = MPC_R_OPT_MALFORMED },
	{ "full_40_mpc_last", F46,
	  { SYN, PKT_OPTS(PKT_OPT_LINUX_SYN, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			  PKT_OPT_MPC_SYN) },
	  .reason = MPC_R_LAN_NATIVE },
	{ "full_40_nops", F46,
	  { SYN, PKT_OPTS(PKT_OPT_MSS(1460), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1) },
	  .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "full_40_one_option", F4, { SYN, PKT_OPTS(253, 40, Z10, Z10, Z10, Z5, 0, 0, 0) },
	  .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "nop_eol_padding", F46, { SYN, PKT_OPTS(PKT_OPT_MSS(1460), 1, 1, 0, 0, 0, 0) },
	  .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "mpc_after_eol_ignored", F46, { SYN, PKT_OPTS(0, 0, 0, 0, PKT_OPT_MPC_SYN) },
	  .reason = MPC_R_LAN_ASSIGN_ERR },

	/* ---- SYNs: MPTCP already there ---- */
	{ "mpc_syn_native", F46, { SYN, PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPC_SYN) },
	  .reason = MPC_R_LAN_NATIVE },
	{ "mpc_syn_native_proxy", F46, { SYN, PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPC_SYN) },
	  .cfg = { .native_proxy = 1 }, .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "mpj_syn_native", F46,
	  { SYN, PKT_OPTS(PKT_OPT_MSS(1460), PKT_OPT_MPJ_SYN(0, 1, 0xdeadbeef, 0x1234)) },
	  .reason = MPC_R_LAN_NATIVE },
	{ "mpj_syn_native_proxy", F4,
	  { SYN, PKT_OPTS(PKT_OPT_MSS(1460), PKT_OPT_MPJ_SYN(0, 1, 0xdeadbeef, 0x1234)) },
	  .cfg = { .native_proxy = 1 }, .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "prefer_proxy_only", F4, { SYN, PKT_OPTS(PKT_OPT_PREFER(0xf)) },
	  .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "mptcp_dss_in_syn", F4, { SYN, PKT_OPTS(30, 4, 0x20, 0) },
	  .reason = MPC_R_LAN_ASSIGN_ERR },

	/* ---- policy ---- */
	{ "bypass_prefix", F46, { .dst = "203.0.113.7", SYN },
	  .pol = { { "203.0.113.0", 24, MPC_POL_BYPASS } }, .reason = MPC_R_LAN_BYPASS },
	{ "bypass_host", F46, { .dst = "203.0.113.7", SYN },
	  .pol = { { "203.0.113.7", 32, MPC_POL_BYPASS } }, .reason = MPC_R_LAN_BYPASS },
	{ "bypass_other_prefix", F4, { SYN }, .pol = { { "203.0.113.0", 24, MPC_POL_BYPASS } },
	  .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "lpm_convert_host_in_bypass_net", F46, { .dst = "203.0.113.7", SYN },
	  .pol = { { "203.0.113.0", 24, MPC_POL_BYPASS }, { "203.0.113.7", 32, MPC_POL_CONVERT } },
	  .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "lpm_bypass_host_in_convert_net", F46, { .dst = "203.0.113.7", SYN },
	  .pol = { { "203.0.113.0", 24, MPC_POL_CONVERT }, { "203.0.113.7", 32, MPC_POL_BYPASS } },
	  .reason = MPC_R_LAN_BYPASS },
	{ "bypass_port", F46, { .dport = 443, SYN }, .ports = { { 443, MPC_POL_BYPASS } },
	  .reason = MPC_R_LAN_BYPASS },
	{ "bypass_port_other", F4, { .dport = 80, SYN }, .ports = { { 443, MPC_POL_BYPASS } },
	  .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "ports_only_unlisted", F46, { SYN }, .cfg = { .ports_only = 1 },
	  .reason = MPC_R_LAN_POLICY },
	{ "ports_only_listed", F46, { SYN }, .cfg = { .ports_only = 1 },
	  .ports = { { 80, MPC_POL_CONVERT } }, .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "prefix_only_unlisted", F46, { SYN }, .cfg = { .prefix_only = 1 },
	  .reason = MPC_R_LAN_POLICY },
	{ "prefix_only_listed", F46, { SYN }, .cfg = { .prefix_only = 1 },
	  .pol = { { "198.51.100.0", 24, MPC_POL_CONVERT } }, .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "prefix_only_port_bypass_wins", F4, { SYN }, .cfg = { .prefix_only = 1 },
	  .pol = { { "198.51.100.0", 24, MPC_POL_CONVERT } },
	  .ports = { { 80, MPC_POL_BYPASS } }, .reason = MPC_R_LAN_BYPASS },
	{ "policy_ignores_non_syn", F4, { ACK }, .cfg = { .ports_only = 1, .prefix_only = 1 },
	  .pol = { { "198.51.100.0", 24, MPC_POL_BYPASS } }, .reason = MPC_R_LAN_NO_FLOW },

	/* ---- fallback-cache shortcut (direct mode) ---- */
	{ "cache_hit", F46, { SYN }, .cfg = { .fb_shortcut = 1, .fb_ttl_ns = TTL_NS },
	  .cache = C_FRESH, .reason = MPC_R_LAN_CACHE },
	{ "cache_stale_ignored", F46, { SYN }, .cfg = { .fb_shortcut = 1, .fb_ttl_ns = TTL_NS },
	  .cache = C_STALE, .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "cache_no_ttl", F4, { SYN }, .cfg = { .fb_shortcut = 1 }, .cache = C_ANCIENT,
	  .reason = MPC_R_LAN_CACHE },
	{ "cache_other_dst", F4, { SYN }, .cfg = { .fb_shortcut = 1 }, .cache = C_OTHER,
	  .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "cache_shortcut_off", F46, { SYN }, .cache = C_FRESH, .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "cache_bypass_first", F4, { SYN }, .cfg = { .fb_shortcut = 1 }, .cache = C_FRESH,
	  .pol = { { "198.51.100.1", 32, MPC_POL_BYPASS } }, .reason = MPC_R_LAN_BYPASS },

	/* ---- the listener ---- */
	{ "syn_listener_found", F46, { SYN, PKT_OPTS(PKT_OPT_LINUX_SYN) },
	  .reason = MPC_R_LAN_ASSIGN_ERR },
	{ "syn_no_listener", F46, { SYN }, .cfg = { .no_listener = true },
	  .reason = MPC_R_LAN_NO_LISTENER },

	/* ---- packets of flows ---- */
	{ "ack_no_socket", F46, { ACK }, .reason = MPC_R_LAN_NO_FLOW },
	{ "synack_no_socket", F4, { .tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK },
	  .reason = MPC_R_LAN_NO_FLOW },
	{ "syn_rst_no_socket", F4, { .tcp_flags = PKT_TCP_SYN | PKT_TCP_RST },
	  .reason = MPC_R_LAN_NO_FLOW },
	{ "ack_established", F46, { ACK }, .flow = FL_EST, .reason = MPC_R_LAN_FLOW, .mark = true },
	{ "data_established", F46,
	  { .tcp_flags = PKT_TCP_ACK | PKT_TCP_PSH, PKT_OPTS(PKT_OPT_NOP, PKT_OPT_NOP,
							    PKT_OPT_TS(1, 2)),
	    .data_len = 1000 },
	  .flow = FL_EST, .reason = MPC_R_LAN_FLOW, .mark = true },
	{ "fin_established", F46, { .tcp_flags = PKT_TCP_FIN | PKT_TCP_ACK }, .flow = FL_EST,
	  .reason = MPC_R_LAN_FLOW, .mark = true },
	{ "rst_established", F4, { .tcp_flags = PKT_TCP_RST }, .flow = FL_EST,
	  .reason = MPC_R_LAN_FLOW, .mark = true },
	{ "syn_established_tuple", F4, { SYN }, .flow = FL_EST, .reason = MPC_R_LAN_FLOW,
	  .mark = true },
	{ "ack_request_sock", F46, { ACK }, .flow = FL_REQ, .reason = MPC_R_LAN_FLOW,
	  .mark = true },
	{ "syn_retransmit_request_sock", F46, { SYN }, .flow = FL_REQ, .reason = MPC_R_LAN_FLOW,
	  .mark = true },
	{ "ack_time_wait", F46, { ACK }, .flow = FL_TW, .reason = MPC_R_LAN_FLOW, .mark = true },
	{ "ack_to_listener_only", F46, { ACK }, .flow = FL_LISTENER, .reason = MPC_R_LAN_NO_FLOW },
	{ "mpc_syn_to_established_native", F4,
	  { SYN, PKT_OPTS(PKT_OPT_MPC_SYN) }, .flow = FL_EST, .reason = MPC_R_LAN_NATIVE },
};

/* Every reason tc_lan can count; each must be seen by some passing case. */
static const int lan_reasons[] = {
	MPC_R_NOT_IP,	    MPC_R_VLAN,		MPC_R_L3_TRUNC,	  MPC_R_FRAG,
	MPC_R_V6_EXTHDR,    MPC_R_NOT_TCP,	MPC_R_L4_TRUNC,	  MPC_R_OPT_MALFORMED,
	MPC_R_LAN_STEER,    MPC_R_LAN_FLOW,	MPC_R_LAN_NO_FLOW, MPC_R_LAN_NATIVE,
	MPC_R_LAN_BYPASS,   MPC_R_LAN_POLICY,	MPC_R_LAN_CACHE,  MPC_R_LAN_NO_LISTENER,
	MPC_R_LAN_ASSIGN_ERR,
};

struct tuple {
	char src[INET6_ADDRSTRLEN];
	char dst[INET6_ADDRSTRLEN];
	uint16_t sport;
	uint16_t dport;
};

struct flow_socks {
	int lfd, cfd, afd;
	struct tuple t;
};

struct skel_slot {
	struct lan_cfg cfg;
	struct tc_lan_bpf *skel;
};

static struct {
	char pin[64];
	struct tenv_netns ns;
	int tap;
	uint8_t tap_mac[6];
	struct tc_lan_bpf *tap_skel;	/* attached to TAP ingress (default knobs) */
	struct bpf_tc_hook hook;
	struct bpf_tc_opts tc;
	int lst[2];		/* the daemon's listeners: [0] IPv4, [1] IPv6 */
	int hole[2];		/* bound, never listening: the no-listener port */
	uint16_t lst_port, hole_port;
	struct flow_socks flows[2][FL_MAX];
	struct skel_slot skels[12];
	int n_skels;
	bool seen[MPC_R_MAX];	/* reasons of passing cases */
	int n_run, n_total;
} env;

/* A lab address in family fam, written to buf: IPv4 as given, or its IPv6
 * twin: 192.0.2.x -> 2001:db8::x, 198.51.100.x -> 2001:db8:1::x,
 * 203.0.113.x -> 2001:db8:2::x (x in hex). */
static const char *lab_addr(const char *v4, int fam, char *buf, size_t cap)
{
	unsigned int a, b, c, d;

	if (!v4 || sscanf(v4, "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
		return NULL;
	if (fam == 4)
		snprintf(buf, cap, "%s", v4);
	else if (a == 192 && b == 0 && c == 2)
		snprintf(buf, cap, "2001:db8::%x", d);
	else if (a == 198 && b == 51 && c == 100)
		snprintf(buf, cap, "2001:db8:1::%x", d);
	else if (a == 203 && b == 0 && c == 113)
		snprintf(buf, cap, "2001:db8:2::%x", d);
	else
		return NULL;
	return buf;
}

static int lab_addr16(const char *v4, int fam, uint8_t out[16])
{
	char buf[INET6_ADDRSTRLEN];
	const char *s = lab_addr(v4, fam, buf, sizeof(buf));

	memset(out, 0, 16);
	if (!s)
		return -EINVAL;
	if (fam == 4) {
		out[10] = out[11] = 0xff;
		return inet_pton(AF_INET, s, out + 12) == 1 ? 0 : -EINVAL;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -EINVAL;
}

/* ---- sockets ------------------------------------------------------------ */

static socklen_t mk_sa(int fam, const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == 4) {
		struct sockaddr_in *s4 = (void *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (void *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	inet_pton(AF_INET6, addr, &s6->sin6_addr);
	return sizeof(*s6);
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
					      : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	return sa_port(&ss);
}

/* A TCP (or MPTCP) socket bound to addr:port (port 0: any), listening when
 * backlog > 0. */
static int sock_at(int fam, int proto, const char *addr, uint16_t port, bool transparent,
		   int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = mk_sa(fam, addr, port, &ss);
	int fd, one = 1;

	fd = socket(fam == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == 6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (transparent && fam == 4 && setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)))
		goto err;
	if (transparent && fam == 6 &&
	    setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)))
		goto err;
	if (bind(fd, (struct sockaddr *)&ss, len))
		goto err;
	if (backlog > 0 && listen(fd, backlog))
		goto err;
	return fd;
err:
	one = -errno;
	close(fd);
	return one;
}

static int connect_to(int fd, int fam, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = mk_sa(fam, addr, port, &ss);

	return connect(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
}

static bool wait_fd(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, ms) == 1 && (p.revents & events);
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -errno;
	return ti.tcpi_state;
}

/*
 * Real sockets whose 4-tuple a crafted frame borrows, all on lo:
 *   FL_EST:      an accepted, established connection
 *   FL_REQ:      a handshake held as a request socket (TCP_DEFER_ACCEPT
 *                keeps it there after the bare final ACK)
 *   FL_TW:       a connection the server side closed first: time-wait
 *   FL_LISTENER: no connection, the frame goes to the daemon's listener
 * Frames travel from the client (.201) to the server (.200).
 */
static int make_flow(int fam, enum lan_flow kind, struct flow_socks *f)
{
	char b1[INET6_ADDRSTRLEN], b2[INET6_ADDRSTRLEN];
	int defer = 10, i, one = 1;
	const char *sa, *ca;
	char c;

	f->lfd = f->cfd = f->afd = -1;
	if (kind == FL_LISTENER) {
		snprintf(f->t.src, sizeof(f->t.src), "%s", lab_addr(LAN_HOST, fam, b1, sizeof(b1)));
		snprintf(f->t.dst, sizeof(f->t.dst), "%s",
			 lab_addr("192.0.2.254", fam, b2, sizeof(b2)));
		f->t.sport = 40123;
		f->t.dport = env.lst_port;
		return 0;
	}
	sa = lab_addr("198.51.100.200", fam, b1, sizeof(b1));
	ca = lab_addr("198.51.100.201", fam, b2, sizeof(b2));
	f->lfd = sock_at(fam, IPPROTO_TCP, sa, 0, false, 4);
	if (f->lfd < 0)
		return f->lfd;
	if (kind == FL_REQ &&
	    setsockopt(f->lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer)))
		return -errno;
	f->cfd = sock_at(fam, IPPROTO_TCP, ca, 0, false, 0);
	if (f->cfd < 0)
		return f->cfd;
	setsockopt(f->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect_to(f->cfd, fam, sa, local_port(f->lfd)))
		return -errno;
	snprintf(f->t.src, sizeof(f->t.src), "%s", ca);
	snprintf(f->t.dst, sizeof(f->t.dst), "%s", sa);
	f->t.sport = local_port(f->cfd);
	f->t.dport = local_port(f->lfd);

	if (kind == FL_REQ) {
		/* the handshake must still be pending on the server side:
		 * nothing to accept */
		return wait_fd(f->lfd, POLLIN, 0) ? -EPROTO : 0;
	}
	if (!wait_fd(f->lfd, POLLIN, WAIT_MS))
		return -ETIMEDOUT;
	f->afd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (f->afd < 0)
		return -errno;
	if (kind == FL_EST)
		return 0;

	/* FL_TW: the server closes first; once the client has seen the EOF,
	 * sent its own FIN and had it acked (its state is CLOSE), the
	 * server's socket is in TIME_WAIT. */
	close(f->afd);
	f->afd = -1;
	if (!wait_fd(f->cfd, POLLIN, WAIT_MS) || read(f->cfd, &c, 1) != 0)
		return -EPROTO;
	shutdown(f->cfd, SHUT_WR);
	for (i = 0; i < WAIT_MS / 10; i++) {
		if (tcp_state(f->cfd) == TCP_CLOSE)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static void close_flow(struct flow_socks *f)
{
	if (f->afd >= 0)
		close(f->afd);
	if (f->cfd >= 0)
		close(f->cfd);
	if (f->lfd >= 0)
		close(f->lfd);
	f->lfd = f->cfd = f->afd = -1;
}

/* ---- skeletons and maps ------------------------------------------------- */

static bool cfg_eq(const struct lan_cfg *a, const struct lan_cfg *b)
{
	return a->native_proxy == b->native_proxy && a->ports_only == b->ports_only &&
	       a->prefix_only == b->prefix_only && a->fb_shortcut == b->fb_shortcut &&
	       a->fb_ttl_ns == b->fb_ttl_ns && a->no_listener == b->no_listener;
}

/* One loaded object per knob combination (rodata is frozen at load); all
 * share the maps pinned in env.pin. */
static struct tc_lan_bpf *lan_skel(const struct lan_cfg *cfg)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin);
	struct tc_lan_bpf *skel;
	int i;

	for (i = 0; i < env.n_skels; i++)
		if (cfg_eq(&env.skels[i].cfg, cfg))
			return env.skels[i].skel;
	if (env.n_skels == (int)(sizeof(env.skels) / sizeof(env.skels[0])))
		return NULL;
	skel = tc_lan_bpf__open_opts(&opts);
	if (!skel)
		return NULL;
	skel->rodata->mpc_native_proxy = cfg->native_proxy;
	skel->rodata->mpc_ports_only = cfg->ports_only;
	skel->rodata->mpc_prefix_only = cfg->prefix_only;
	skel->rodata->mpc_fb_shortcut = cfg->fb_shortcut;
	skel->rodata->mpc_fb_ttl_ns = cfg->fb_ttl_ns;
	skel->rodata->mpc_lst_port = cfg->no_listener ? env.hole_port : env.lst_port;
	inet_pton(AF_INET, "192.0.2.254", (void *)&skel->rodata->mpc_lst_addr4);
	inet_pton(AF_INET6, "2001:db8::fe", (void *)skel->rodata->mpc_lst_addr6);
	skel->rodata->mpc_local_mark = LOCAL_MARK;
	if (tc_lan_bpf__load(skel)) {
		tc_lan_bpf__destroy(skel);
		return NULL;
	}
	env.skels[env.n_skels].cfg = *cfg;
	env.skels[env.n_skels++].skel = skel;
	return skel;
}

/* Empty a hash or LPM map (keys up to 20 bytes). */
static int map_clear(int fd)
{
	uint8_t key[32], next[32];
	int n = 0;

	while (!bpf_map_get_next_key(fd, NULL, next)) {
		memcpy(key, next, sizeof(key));
		if (bpf_map_delete_elem(fd, key))
			return -errno;
		if (++n > 100000)
			return -ELOOP;
	}
	return 0;
}

static int setup_maps(struct tc_lan_bpf *skel, const struct lan_case *c, int fam)
{
	int pol = bpf_map__fd(skel->maps.mpc_dst_pol);
	int ports = bpf_map__fd(skel->maps.mpc_ports);
	int cache = bpf_map__fd(skel->maps.mpc_fb_cache);
	struct mpc_fb_entry e = { .reason = MPC_FB_SYN_DROPPED };
	struct mpc_fb_key k;
	uint64_t now = tenv_now_ns();
	unsigned int i;

	if (map_clear(pol) || map_clear(ports) || map_clear(cache))
		return -errno;
	for (i = 0; i < sizeof(c->pol) / sizeof(c->pol[0]) && c->pol[i].prefix; i++) {
		struct mpc_lpm_key lk = { .prefixlen = (uint32_t)c->pol[i].plen + 96 };
		struct mpc_pol_val v = { .action = c->pol[i].action };

		if (lab_addr16(c->pol[i].prefix, fam, lk.addr) ||
		    bpf_map_update_elem(pol, &lk, &v, BPF_NOEXIST))
			return -EINVAL;
	}
	for (i = 0; i < sizeof(c->ports) / sizeof(c->ports[0]) && c->ports[i].port; i++) {
		struct mpc_pol_val v = { .action = c->ports[i].action };

		if (bpf_map_update_elem(ports, &c->ports[i].port, &v, BPF_NOEXIST))
			return -errno;
	}
	if (c->cache == C_NONE)
		return 0;
	if (lab_addr16(c->cache == C_OTHER ? "198.51.100.9" : (c->pkt.dst ? c->pkt.dst : SERVER),
		       fam, k.addr))
		return -EINVAL;
	e.first_ns = c->cache == C_STALE ? now - 10 * TTL_NS : c->cache == C_ANCIENT ? 1 : now;
	e.last_ns = e.first_ns;
	return bpf_map_update_elem(cache, &k, &e, BPF_NOEXIST) ? -errno : 0;
}

/* ---- one case ----------------------------------------------------------- */

/* Write a frame into the TAP: it arrives on mpct0 as if from the LAN. With
 * split, the Ethernet header and the rest go in two pieces (see
 * subtest_ingress: with IFF_NAPI_FRAGS that is an skb whose IP and TCP
 * headers are outside its linear part). */
static int tap_send(const uint8_t *frame, int len, bool split)
{
	struct iovec iov[2] = {
		{ (void *)frame, split ? 14 : (size_t)len },
		{ (void *)(frame + 14), (size_t)len - 14 },
	};

	return writev(env.tap, iov, split ? 2 : 1) == len ? 0 : -EIO;
}

/* A frame written into the TAP is counted in softirq context, normally
 * before write() returns; wait (bounded) until some counter moved. */
static int wait_counted(int stats, const struct mpc_stat *before, struct mpc_stat *after)
{
	int i, r, err;

	for (i = 0; i < WAIT_MS / 10; i++) {
		err = tenv_stats_read(stats, after, MPC_R_MAX);
		if (err)
			return err;
		for (r = 0; r < MPC_R_MAX; r++)
			if (after[r].packets != before[r].packets)
				return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static int build_case(const struct lan_case *c, int fam, uint8_t *buf, size_t cap)
{
	char s6[INET6_ADDRSTRLEN], d6[INET6_ADDRSTRLEN];
	struct pkt_desc d = c->pkt;
	struct pkt_info pi;
	int len, lim;

	if (c->flow != FL_NONE) {
		const struct tuple *t = &env.flows[fam == 6][c->flow].t;

		d.src = t->src;
		d.dst = t->dst;
		d.sport = t->sport;
		d.dport = t->dport;
	} else {
		d.src = lab_addr(d.src ? d.src : LAN_HOST, fam, s6, sizeof(s6));
		d.dst = lab_addr(d.dst ? d.dst : SERVER, fam, d6, sizeof(d6));
	}
	if (fam == 6 && d.proto == IPPROTO_ICMP)
		d.proto = IPPROTO_ICMPV6;
	if (c->swap_eth)
		d.eth_type = fam == 4 ? ETH_P_IPV6 : ETH_P_IP;
	len = pkt_build(&d, buf, cap);
	if (len < 0 || !c->cut)
		return len;
	if (c->cut >> 16 == 1) {
		lim = 14 + (c->cut & 0xffff);
	} else {
		if (pkt_parse(buf, (size_t)len, &pi))
			return -EINVAL;
		lim = (int)pi.l4_off + (c->cut & 0xffff);
	}
	return lim < len ? lim : len;
}

static void run_case(const struct lan_case *c, int fam)
{
	struct mpc_stat before[MPC_R_MAX], after[MPC_R_MAX];
	uint8_t in[PKT_MAX], out[PKT_MAX];
	struct __sk_buff skb = { .mark = MARK_IN };
	struct tc_lan_bpf *skel;
	struct pkt_run run = {};
	char desc[200];
	uint64_t t0;
	int len, r, stats;
	bool ok = true;

	skel = lan_skel(&c->cfg);
	if (!ASSERT_OK_PTR(skel, "skeleton open/load"))
		return;
	stats = bpf_map__fd(skel->maps.mpc_stats);
	len = build_case(c, fam, in, sizeof(in));
	if (!ASSERT_GE(len, 14, "pkt_build"))
		return;
	if (!ASSERT_OK(setup_maps(skel, c, fam), "map setup"))
		return;
	if (!ASSERT_OK(tenv_stats_read(stats, before, MPC_R_MAX), "stats before"))
		return;
	t0 = tenv_now_ns();
	if (c->via_tap) {
		if (!ASSERT_TRUE(cfg_eq(&c->cfg, &(struct lan_cfg){}), "via_tap: default knobs") ||
		    !ASSERT_OK(tap_send(in, len, false), "write into " TAP) ||
		    !ASSERT_OK(wait_counted(stats, before, after), "counted"))
			return;
		goto counters;
	}
	run.prog_fd = bpf_program__fd(skel->progs.mpc_tc_lan);
	run.in = in;
	run.in_len = (uint32_t)len;
	run.out = out;
	run.out_cap = sizeof(out);
	run.ctx = &skb;
	run.ctx_size = sizeof(skb);
	if (!ASSERT_OK(pkt_run(&run), "BPF_PROG_TEST_RUN"))
		return;
	if (!ASSERT_OK(tenv_stats_read(stats, after, MPC_R_MAX), "stats after"))
		return;

	ok &= ASSERT_EQ(run.retval, TC_ACT_OK, "verdict");
	ok &= ASSERT_EQ(skb.mark, c->mark ? LOCAL_MARK : MARK_IN, "skb->mark");
	ok &= ASSERT_EQ(run.out_len, len, "output length");
	ok &= ASSERT_MEMEQ(out, in, (size_t)len, "output frame unchanged");
counters:
	for (r = 0; r < MPC_R_MAX; r++) {
		uint64_t dp = after[r].packets - before[r].packets;
		uint64_t db = after[r].bytes - before[r].bytes;
		char what[96];

		if (r != c->reason && !dp)
			continue;
		snprintf(what, sizeof(what), "packets counted as %s", mpc_reason_name(r));
		ok &= ASSERT_EQ(dp, r == c->reason, what);
		snprintf(what, sizeof(what), "bytes counted as %s", mpc_reason_name(r));
		ok &= ASSERT_EQ(db, r == c->reason ? len : 0, what);
	}
	if (c->reason == MPC_R_LAN_CACHE) {
		struct mpc_fb_entry e;
		struct mpc_fb_key k;

		lab_addr16(c->pkt.dst ? c->pkt.dst : SERVER, fam, k.addr);
		ok &= ASSERT_OK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.mpc_fb_cache), &k, &e),
				"cache entry");
		ok &= ASSERT_EQ(e.hits, 1, "cache hits");
		ok &= ASSERT_GE(e.last_ns, t0, "cache last_ns");
	}
	if (!ok)
		printf("#   frame: %s\n", pkt_str(in, (size_t)len, desc, sizeof(desc)));
	else
		env.seen[c->reason] = true;
}

/* ---- real tc ingress on a TAP device ------------------------------------ */

/* Read frames leaving mpct0 until a TCP segment from src:sport to
 * dst:dport with the given flags shows up; copy it to buf. */
static int tap_expect(int fam, const char *src, uint16_t sport, const char *dst, uint16_t dport,
		      uint8_t flags, uint8_t *buf, size_t cap)
{
	uint64_t deadline = tenv_now_ns() + WAIT_MS * 1000000ull;
	uint8_t want_s[16], want_d[16];
	int alen = fam == 4 ? 4 : 16;

	inet_pton(fam == 4 ? AF_INET : AF_INET6, src, want_s);
	inet_pton(fam == 4 ? AF_INET : AF_INET6, dst, want_d);
	while (tenv_now_ns() < deadline) {
		struct pkt_info pi;
		const uint8_t *ip, *th;
		ssize_t n;

		if (!wait_fd(env.tap, POLLIN, 100))
			continue;
		n = read(env.tap, buf, cap);
		if (n <= 0 || pkt_parse(buf, (size_t)n, &pi) || pi.proto != IPPROTO_TCP ||
		    pi.l4_len < 20 || pi.family != (fam == 4 ? AF_INET : AF_INET6))
			continue;
		ip = buf + pi.l3_off;
		th = buf + pi.l4_off;
		if (memcmp(ip + (fam == 4 ? 12 : 8), want_s, (size_t)alen) ||
		    memcmp(ip + (fam == 4 ? 16 : 24), want_d, (size_t)alen) ||
		    (th[0] << 8 | th[1]) != sport || (th[2] << 8 | th[3]) != dport ||
		    (th[13] & 0x3f) != flags)
			continue;
		return (int)n;
	}
	return -ETIMEDOUT;
}

/* Diagnostics: which counters moved since `before`. */
static void dump_delta(int stats, const struct mpc_stat *before)
{
	struct mpc_stat now[MPC_R_MAX];
	int r;

	if (tenv_stats_read(stats, now, MPC_R_MAX))
		return;
	for (r = 0; r < MPC_R_MAX; r++)
		if (now[r].packets != before[r].packets)
			printf("#   counted %llu as %s\n",
			       (unsigned long long)(now[r].packets - before[r].packets),
			       mpc_reason_name((unsigned int)r));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * A LAN host's handshake and first data, through the real stack: the SYN
 * is steered to the daemon's listener (which answers from the server's
 * address, thanks to IP_TRANSPARENT), the ACK and data are marked and
 * delivered locally, and accept() returns a socket whose local address is
 * the original destination.
 */
static void ingress_case(struct tc_lan_bpf *skel, int fam, bool split, uint16_t sport)
{
	struct mpc_stat before[MPC_R_MAX], after[MPC_R_MAX];
	char lan[INET6_ADDRSTRLEN], srv[INET6_ADDRSTRLEN], got[INET6_ADDRSTRLEN + 8];
	struct pkt_desc d = { .sport = sport, .dport = 80, .seq = 1000, SYN,
			      PKT_OPTS(PKT_OPT_MSS(1400), PKT_OPT_SACKP, PKT_OPT_NOP,
				       PKT_OPT_WS(7)) };
	int stats = bpf_map__fd(skel->maps.mpc_stats), lst = env.lst[fam == 6];
	uint8_t frame[PKT_MAX], reply[PKT_MAX], data[5] = "hello", rbuf[8];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint64_t pulls0 = skel->bss->mpc_lan_pulls;
	struct pkt_info pi;
	uint32_t srv_isn;
	int len, n, afd = -1;

	d.src = lab_addr(LAN_HOST, fam, lan, sizeof(lan));
	d.dst = lab_addr(SERVER, fam, srv, sizeof(srv));
	memcpy(d.eth_dst, env.tap_mac, 6);
	if (!ASSERT_OK(tenv_stats_read(stats, before, MPC_R_MAX), "stats before"))
		return;

	len = pkt_build(&d, frame, sizeof(frame));
	if (!ASSERT_OK(tap_send(frame, len, split), "write SYN"))
		return;
	n = tap_expect(fam, srv, 80, lan, sport, PKT_TCP_SYN | PKT_TCP_ACK, reply, sizeof(reply));
	if (!ASSERT_GE(n, 54, "SYN-ACK from the server's address")) {
		dump_delta(stats, before);
		goto out;
	}
	pkt_parse(reply, (size_t)n, &pi);
	ASSERT_EQ(get32(reply + pi.l4_off + 8), d.seq + 1, "SYN-ACK acks our SYN");
	ASSERT_TRUE(pkt_l4_csum_ok(reply, (size_t)n), "kernel's SYN-ACK TCP checksum verifies");
	if (fam == 4)
		ASSERT_TRUE(pkt_ip4_csum_ok(reply, (size_t)n), "kernel's SYN-ACK IP checksum");
	srv_isn = get32(reply + pi.l4_off + 4);

	/* final ACK carrying data */
	d.tcp_flags = PKT_TCP_ACK | PKT_TCP_PSH;
	d.seq += 1;
	d.ack = srv_isn + 1;
	d.opts = NULL;
	d.opts_len = 0;
	d.data = data;
	d.data_len = sizeof(data);
	len = pkt_build(&d, frame, sizeof(frame));
	if (!ASSERT_OK(tap_send(frame, len, split), "write ACK+data"))
		goto out;
	if (!ASSERT_TRUE(wait_fd(lst, POLLIN, WAIT_MS), "listener has a connection"))
		goto out;
	afd = accept4(lst, NULL, NULL, SOCK_CLOEXEC);
	if (!ASSERT_GE(afd, 0, "accept"))
		goto out;
	ASSERT_OK(getsockname(afd, (struct sockaddr *)&ss, &sl), "getsockname");
	inet_ntop(ss.ss_family, ss.ss_family == AF_INET
		  ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
		  : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr, got, sizeof(got));
	ASSERT_TRUE(!strcmp(got, srv), "accepted socket's local address is the server's");
	ASSERT_EQ(sa_port(&ss), 80, "accepted socket's local port is the server's");
	ASSERT_TRUE(wait_fd(afd, POLLIN, WAIT_MS), "data arrives");
	ASSERT_EQ(recv(afd, rbuf, sizeof(rbuf), MSG_DONTWAIT), sizeof(data), "data length");
	ASSERT_MEMEQ(rbuf, data, sizeof(data), "data");

	if (ASSERT_OK(tenv_stats_read(stats, after, MPC_R_MAX), "stats after")) {
		bool ok = true;

		ok &= ASSERT_EQ(after[MPC_R_LAN_STEER].packets - before[MPC_R_LAN_STEER].packets,
				1, "SYN counted as lan_steer");
		ok &= ASSERT_EQ(after[MPC_R_LAN_FLOW].packets - before[MPC_R_LAN_FLOW].packets, 1,
				"ACK counted as lan_flow");
		if (ok) {
			env.seen[MPC_R_LAN_STEER] = true;
			env.seen[MPC_R_LAN_FLOW] = true;
		}
	}
	if (split)
		ASSERT_EQ(skel->bss->mpc_lan_pulls - pulls0, 2,
			  "headers outside the linear part were pulled, twice");
	else
		ASSERT_EQ(skel->bss->mpc_lan_pulls - pulls0, 0, "no pull for linear headers");
out:
	if (afd >= 0)
		close(afd);
}

static void subtests_ingress(void)
{
	const char *names[4] = { "ingress_steer_v4", "ingress_steer_v6",
				 "ingress_nonlinear_v4", "ingress_nonlinear_v6" };
	int i;

	for (i = 0; i < 4; i++) {
		env.n_total++;
		if (!test__start_subtest(names[i]))
			continue;
		env.n_run++;
		ingress_case(env.tap_skel, i % 2 ? 6 : 4, i >= 2, (uint16_t)(41000 + i));
	}
}

/* ---- setup -------------------------------------------------------------- */

static int lab_up(void)
{
	static const char *const lo_addrs[] = { "198.51.100.200", "198.51.100.201" };
	char buf[INET6_ADDRSTRLEN];
	int err, fam, i;

	err = tenv_pin_dir_make(env.pin, sizeof(env.pin));
	if (err)
		return err;
	err = tenv_netns_enter(&env.ns);
	if (err)
		return err;
	/* the TAP's NAPI frags mode lets a frame arrive in two pieces, and
	 * with GRO off the stack keeps them apart (the nonlinear subtests) */
	env.tap = tenv_tap_open(TAP, IFF_NAPI | IFF_NAPI_FRAGS);
	if (env.tap < 0)
		return env.tap;
	if ((err = tenv_gro_off(TAP)) || (err = tenv_link_up(TAP, IFF_NOARP)) ||
	    (err = tenv_if_mac(TAP, env.tap_mac)) ||
	    (err = tenv_addr_add(TAP, "192.0.2.254", 24)) ||
	    (err = tenv_addr_add(TAP, "2001:db8::fe", 64)))
		return err;
	for (i = 0; i < 4; i++) {
		const char *a = lab_addr(lo_addrs[i % 2], i < 2 ? 4 : 6, buf, sizeof(buf));

		err = tenv_addr_add("lo", a, i < 2 ? 32 : 128);
		if (err)
			return err;
	}
	for (fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
		err = tenv_rule_fwmark(fam, LOCAL_MARK, LOCAL_TABLE);
		if (!err)
			err = tenv_route_local_default(fam, LOCAL_TABLE);
		if (err)
			return err;
	}

	/* the daemon's listener, one per family on one port */
	env.lst[0] = sock_at(4, IPPROTO_MPTCP, "192.0.2.254", 0, true, 16);
	if (env.lst[0] < 0)
		return env.lst[0];
	env.lst_port = local_port(env.lst[0]);
	env.lst[1] = sock_at(6, IPPROTO_MPTCP, "2001:db8::fe", env.lst_port, true, 16);
	if (env.lst[1] < 0)
		return env.lst[1];
	env.hole[0] = sock_at(4, IPPROTO_TCP, "192.0.2.254", 0, false, 0);
	if (env.hole[0] < 0)
		return env.hole[0];
	env.hole_port = local_port(env.hole[0]);
	env.hole[1] = sock_at(6, IPPROTO_TCP, "2001:db8::fe", env.hole_port, false, 0);
	if (env.hole[1] < 0)
		return env.hole[1];

	for (fam = 0; fam < 2; fam++)
		for (i = FL_EST; i < FL_MAX; i++) {
			err = make_flow(fam ? 6 : 4, (enum lan_flow)i, &env.flows[fam][i]);
			if (err)
				return err;
		}

	/* the program on the LAN interface, as the daemon attaches it */
	env.tap_skel = lan_skel(&(struct lan_cfg){});
	if (!env.tap_skel)
		return -errno ? -errno : -EINVAL;
	env.hook.sz = sizeof(env.hook);
	env.hook.ifindex = (int)if_nametoindex(TAP);
	env.hook.attach_point = BPF_TC_INGRESS;
	err = bpf_tc_hook_create(&env.hook);
	if (err && err != -EEXIST)
		return err;
	env.tc.sz = sizeof(env.tc);
	env.tc.prog_fd = bpf_program__fd(env.tap_skel->progs.mpc_tc_lan);
	return bpf_tc_attach(&env.hook, &env.tc);
}

static void lab_down(void)
{
	int i, j;

	if (env.tc.prog_id) {
		env.tc.flags = env.tc.prog_fd = env.tc.prog_id = 0;
		bpf_tc_detach(&env.hook, &env.tc);
	}
	if (env.hook.ifindex) {
		env.hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&env.hook);
	}
	for (i = 0; i < env.n_skels; i++)
		tc_lan_bpf__destroy(env.skels[i].skel);
	env.n_skels = 0;
	for (i = 0; i < 2; i++) {
		for (j = FL_EST; j < FL_MAX; j++)
			close_flow(&env.flows[i][j]);
		if (env.lst[i] > 0)
			close(env.lst[i]);
		if (env.hole[i] > 0)
			close(env.hole[i]);
	}
	if (env.tap > 0)
		close(env.tap);
	tenv_netns_leave(&env.ns);
	if (env.pin[0])
		tenv_pin_dir_remove(env.pin);
}

/* Every reason tc_lan can count was counted by a passing case, and no
 * other reason was ever counted. */
static void check_coverage(void)
{
	struct mpc_stat total[MPC_R_MAX];
	bool lan[MPC_R_MAX] = { false };
	size_t r;
	int fd;

	for (r = 0; r < sizeof(lan_reasons) / sizeof(lan_reasons[0]); r++) {
		lan[lan_reasons[r]] = true;
		if (!env.seen[lan_reasons[r]])
			test__fail(__FILE__, __LINE__, "no passing case counts %s",
				   mpc_reason_name((unsigned int)lan_reasons[r]));
	}
	fd = bpf_map__fd(env.tap_skel->maps.mpc_stats);
	if (!ASSERT_OK(tenv_stats_read(fd, total, MPC_R_MAX), "stats"))
		return;
	for (r = 0; r < MPC_R_MAX; r++)
		if (!lan[r] && total[r].packets)
			test__fail(__FILE__, __LINE__, "tc_lan counted %s",
				   mpc_reason_name((unsigned int)r));
}

void test_tc_lan(void)
{
	char name[128];
	unsigned int i;
	int fam, err;

	memset(&env, 0, sizeof(env));
	err = lab_up();
	if (!ASSERT_OK(err, "lab setup (netns, tap, listeners, sockets)")) {
		lab_down();
		return;
	}

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (fam = 4; fam <= 6; fam += 2) {
			if (!(cases[i].fams & (fam == 4 ? F4 : F6)))
				continue;
			env.n_total++;
			snprintf(name, sizeof(name), "%s_v%d", cases[i].name, fam);
			if (!test__start_subtest(name))
				continue;
			env.n_run++;
			run_case(&cases[i], fam);
		}
	}
	subtests_ingress();

	env.n_total++;
	if (test__start_subtest("every_reason_covered")) {
		env.n_run++;
		if (env.n_run != env.n_total)
			test__skip("needs every subtest to run");
		else
			check_coverage();
	}
	lab_down();
}
