// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The packet builder (tests/unit/lib/pkt.c) against an independent
 * implementation: reference frames built by scapy 2.5 (Debian python3-scapy)
 * from the same description, e.g.
 *
 *   Ether(dst="02:00:00:00:00:02", src="02:00:00:00:00:01") /
 *   IP(src="192.0.2.2", dst="198.51.100.1", id=0, ttl=64, flags=0) /
 *   TCP(sport=40000, dport=80, seq=1, flags="S", window=65535,
 *       options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (0x01020304, 0)),
 *                ("NOP", None), ("WScale", 7), (30, b"\x01\x01")])
 *
 * and byte-for-byte comparison, checksums included. Then the knobs that
 * break lengths on purpose, the verifiers, the option finder, and pkt_run()
 * on an empty tc program. (The TCP checksums are also checked by the
 * kernel itself: tc_lan's ingress subtests write built frames into a TAP
 * and the stack answers them.)
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "lib/pkt.h"
#include "empty.skel.h"

static const uint8_t ref_v4_syn_mpc[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x40, 0x06,
	0x8e, 0x81, 0xc0, 0x00, 0x02, 0x02, 0xc6, 0x33, 0x64, 0x01, 0x9c, 0x40,
	0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xb0, 0x02,
	0xff, 0xff, 0x8c, 0x28, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
	0x08, 0x0a, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03,
	0x03, 0x07, 0x1e, 0x04, 0x01, 0x01,
};
static const uint8_t ref_v6_hbh_data[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00, 0x40, 0x20, 0x01,
	0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x06, 0x00, 0x01, 0x04, 0x00, 0x00,
	0x00, 0x00, 0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00,
	0x00, 0xc8, 0x50, 0x18, 0xff, 0xff, 0x72, 0xc3, 0x00, 0x00, 0x68, 0x65,
	0x6c, 0x6c, 0x6f,
};
static const uint8_t ref_v4_udp[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11,
	0x8e, 0x95, 0xc0, 0x00, 0x02, 0x02, 0xc6, 0x33, 0x64, 0x01, 0x9c, 0x40,
	0x00, 0x35, 0x00, 0x0d, 0x71, 0x23, 0x00, 0x01, 0x02, 0x03, 0x04,
};
static const uint8_t ref_v4_icmp[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01,
	0x8e, 0xa2, 0xc0, 0x00, 0x02, 0x02, 0xc6, 0x33, 0x64, 0x01, 0x08, 0x00,
	0x9e, 0x9e, 0x4d, 0x50, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
	0x06, 0x07,
};
static const uint8_t ref_v6_icmp[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x3a, 0x40, 0x20, 0x01,
	0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, 0xca, 0xdd, 0x4d, 0x50,
	0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
};
static const uint8_t ref_vlan_v4_ack[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x81, 0x00, 0x00, 0x64, 0x08, 0x00, 0x45, 0x00, 0x00, 0x28, 0x00, 0x00,
	0x00, 0x00, 0x40, 0x06, 0x8e, 0x99, 0xc0, 0x00, 0x02, 0x02, 0xc6, 0x33,
	0x64, 0x01, 0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00,
	0x00, 0x06, 0x50, 0x10, 0xff, 0xff, 0x27, 0x02, 0x00, 0x00,
};

static bool same(const struct pkt_desc *d, const uint8_t *ref, size_t ref_len, const char *what)
{
	uint8_t buf[PKT_MAX];
	int n = pkt_build(d, buf, sizeof(buf));

	if (!ASSERT_EQ(n, ref_len, what))
		return false;
	return ASSERT_MEMEQ(buf, ref, ref_len, what);
}

static void subtest_reference_frames(void)
{
	static const uint8_t hello[] = "hello";
	struct pkt_desc syn = { .seq = 1, .tcp_flags = PKT_TCP_SYN,
				PKT_OPTS(PKT_OPT_LINUX_SYN, PKT_OPT_MPC_SYN) };
	struct pkt_desc v6 = { .flags = PKT_F_V6, .seq = 100, .ack = 200,
			       .tcp_flags = PKT_TCP_PSH | PKT_TCP_ACK, .data = hello,
			       .data_len = 5, .n_ext = 1, .ext = { { IPPROTO_HOPOPTS } } };
	struct pkt_desc udp = { .proto = IPPROTO_UDP, .dport = 53, .data_len = 5 };
	struct pkt_desc icmp = { .proto = IPPROTO_ICMP, .data_len = 8 };
	struct pkt_desc icmp6 = { .flags = PKT_F_V6, .proto = IPPROTO_ICMPV6, .data_len = 8 };
	struct pkt_desc vlan = { .n_vlan = 1, .vlan = { { ETH_P_8021Q, 100 } }, .seq = 5, .ack = 6,
				 .tcp_flags = PKT_TCP_ACK };

	same(&syn, ref_v4_syn_mpc, sizeof(ref_v4_syn_mpc), "v4 SYN with options");
	same(&v6, ref_v6_hbh_data, sizeof(ref_v6_hbh_data), "v6 hop-by-hop + data");
	same(&udp, ref_v4_udp, sizeof(ref_v4_udp), "v4 UDP");
	same(&icmp, ref_v4_icmp, sizeof(ref_v4_icmp), "v4 ICMP echo");
	same(&icmp6, ref_v6_icmp, sizeof(ref_v6_icmp), "v6 ICMPv6 echo");
	same(&vlan, ref_vlan_v4_ack, sizeof(ref_vlan_v4_ack), "802.1Q v4 ACK");

	/* the verifiers accept all of them */
	ASSERT_TRUE(pkt_ip4_csum_ok(ref_v4_syn_mpc, sizeof(ref_v4_syn_mpc)), "ip4 csum");
	ASSERT_TRUE(pkt_l4_csum_ok(ref_v4_syn_mpc, sizeof(ref_v4_syn_mpc)), "tcp4 csum");
	ASSERT_TRUE(pkt_l4_csum_ok(ref_v6_hbh_data, sizeof(ref_v6_hbh_data)), "tcp6 csum");
	ASSERT_TRUE(pkt_l4_csum_ok(ref_v4_udp, sizeof(ref_v4_udp)), "udp4 csum");
	ASSERT_TRUE(pkt_l4_csum_ok(ref_v4_icmp, sizeof(ref_v4_icmp)), "icmp csum");
	ASSERT_TRUE(pkt_l4_csum_ok(ref_v6_icmp, sizeof(ref_v6_icmp)), "icmp6 csum");
	ASSERT_TRUE(pkt_l4_csum_ok(ref_vlan_v4_ack, sizeof(ref_vlan_v4_ack)), "tcp4 csum, vlan");
	ASSERT_TRUE(pkt_ip4_csum_ok(ref_vlan_v4_ack, sizeof(ref_vlan_v4_ack)), "ip4 csum, vlan");
}

static void subtest_verifiers_catch(void)
{
	uint8_t buf[PKT_MAX];
	struct pkt_desc d = { .tcp_flags = PKT_TCP_SYN, .data_len = 11 };
	int n, fam;

	for (fam = 0; fam < 2; fam++) {
		d.flags = fam ? PKT_F_V6 : 0;
		n = pkt_build(&d, buf, sizeof(buf));
		ASSERT_TRUE(pkt_l4_csum_ok(buf, (size_t)n), "good");
		buf[n - 1] ^= 0x40;	/* one payload bit */
		ASSERT_FALSE(pkt_l4_csum_ok(buf, (size_t)n), "payload bit flipped");
		d.flags |= PKT_F_BAD_L4_CSUM;
		n = pkt_build(&d, buf, sizeof(buf));
		ASSERT_FALSE(pkt_l4_csum_ok(buf, (size_t)n), "PKT_F_BAD_L4_CSUM");
		d.flags &= ~PKT_F_BAD_L4_CSUM;
	}
	d.flags = PKT_F_BAD_IP_CSUM;
	n = pkt_build(&d, buf, sizeof(buf));
	ASSERT_FALSE(pkt_ip4_csum_ok(buf, (size_t)n), "PKT_F_BAD_IP_CSUM");
	ASSERT_TRUE(pkt_l4_csum_ok(buf, (size_t)n), "L4 unaffected");
	d.flags = 0;
	n = pkt_build(&d, buf, sizeof(buf));
	buf[14 + 12] ^= 1;	/* source address: both checksums cover it */
	ASSERT_FALSE(pkt_ip4_csum_ok(buf, (size_t)n), "saddr changed: ip");
	ASSERT_FALSE(pkt_l4_csum_ok(buf, (size_t)n), "saddr changed: pseudo-header");
}

static void subtest_forced_lengths(void)
{
	uint8_t buf[PKT_MAX];
	struct pkt_info pi;
	int n;

	n = pkt_build(&(struct pkt_desc){ .ihl = PKT_SET(4), .tot_len = PKT_SET(0),
					  .doff = PKT_SET(0), .tcp_flags = PKT_TCP_SYN },
		      buf, sizeof(buf));
	ASSERT_EQ(n, 14 + 20 + 20, "length unchanged by forced fields");
	ASSERT_EQ(buf[14], 0x44, "IHL forced to 4");
	ASSERT_EQ(buf[16] << 8 | buf[17], 0, "tot_len forced to 0");
	ASSERT_EQ(buf[34 + 12] >> 4, 0, "doff forced to 0");

	n = pkt_build(&(struct pkt_desc){ .flags = PKT_F_V6, .payload_len = PKT_SET(7),
					  .doff = PKT_SET(15) },
		      buf, sizeof(buf));
	ASSERT_EQ(buf[18] << 8 | buf[19], 7, "payload_len forced");
	ASSERT_EQ(buf[54 + 12] >> 4, 15, "doff forced to 15");

	/* computed: IPv4 options, TCP options padded with EOL */
	n = pkt_build(&(struct pkt_desc){ .ip_opts = (const uint8_t[]){ 1, 1, 1, 0 },
					  .ip_opts_len = 4, PKT_OPTS(1, 1, 1, 3, 3, 7) },
		      buf, sizeof(buf));
	ASSERT_EQ(n, 14 + 24 + 28, "frame length");
	ASSERT_EQ(buf[14], 0x46, "IHL 6 with 4 option bytes");
	ASSERT_EQ(buf[16] << 8 | buf[17], 24 + 28, "tot_len");
	ASSERT_EQ(buf[38 + 12] >> 4, 7, "doff 7 for 6 option bytes");
	ASSERT_EQ(buf[38 + 26] | buf[38 + 27], 0, "padding is EOL");
	ASSERT_TRUE(pkt_ip4_csum_ok(buf, (size_t)n), "ip csum with options");
	ASSERT_TRUE(pkt_l4_csum_ok(buf, (size_t)n), "tcp csum behind IP options");
	ASSERT_OK(pkt_parse(buf, (size_t)n, &pi), "parse");
	ASSERT_EQ(pi.l4_off, 38, "l4 behind IP options");

	/* truncate */
	n = pkt_build(&(struct pkt_desc){ .truncate = 20 }, buf, sizeof(buf));
	ASSERT_EQ(n, 20, "truncate");
}

static void subtest_v6_ext_and_frag(void)
{
	uint8_t buf[PKT_MAX];
	struct pkt_info pi;
	struct pkt_desc d = {
		.flags = PKT_F_V6,
		.n_ext = 3,
		.ext = { { IPPROTO_HOPOPTS, 16 }, { IPPROTO_ROUTING }, { IPPROTO_DSTOPTS } },
		.tcp_flags = PKT_TCP_SYN,
	};
	int n;

	n = pkt_build(&d, buf, sizeof(buf));
	ASSERT_EQ(n, 14 + 40 + 32 + 20, "length");
	ASSERT_EQ(buf[14 + 6], IPPROTO_HOPOPTS, "IPv6 next header");
	ASSERT_EQ(buf[54], IPPROTO_ROUTING, "hbh next");
	ASSERT_EQ(buf[55], 1, "hbh length: 16 bytes");
	ASSERT_EQ(buf[70], IPPROTO_DSTOPTS, "routing next");
	ASSERT_EQ(buf[78], IPPROTO_TCP, "dstopts next");
	ASSERT_EQ(buf[18] << 8 | buf[19], 32 + 20, "payload_len covers ext headers");
	ASSERT_OK(pkt_parse(buf, (size_t)n, &pi), "parse");
	ASSERT_EQ(pi.l4_off, 86, "l4 after ext headers");
	ASSERT_EQ(pi.proto, IPPROTO_TCP, "proto");
	ASSERT_TRUE(pkt_l4_csum_ok(buf, (size_t)n), "tcp csum behind ext headers");

	d.n_ext = 1;
	d.ext[0] = (struct pkt_v6ext){ IPPROTO_FRAGMENT, .frag = PKT_V6_FRAG(3, 1),
				       .frag_id = 0x01020304 };
	n = pkt_build(&d, buf, sizeof(buf));
	ASSERT_EQ(buf[54], IPPROTO_TCP, "frag next");
	ASSERT_EQ(buf[56] << 8 | buf[57], 3 << 3 | 1, "frag offset and M");
	ASSERT_EQ(buf[61], 4, "frag id");
	ASSERT_OK(pkt_parse(buf, (size_t)n, &pi), "parse frag");
	ASSERT_TRUE(pi.frag, "fragment seen");
	ASSERT_FALSE(pkt_l4_csum_ok(buf, (size_t)n), "no L4 checksum on a fragment");
}

static void subtest_non_ip(void)
{
	uint8_t buf[PKT_MAX];
	int n;

	n = pkt_build(&(struct pkt_desc){ .eth_type = ETH_P_ARP }, buf, sizeof(buf));
	ASSERT_EQ(n, 14 + 28, "ARP length");
	ASSERT_EQ(buf[12] << 8 | buf[13], ETH_P_ARP, "ethertype");
	ASSERT_EQ(buf[21], 1, "ARP request");
	ASSERT_EQ(buf[31], 2, "sender 192.0.2.2");
	ASSERT_EQ(buf[41], 1, "target 198.51.100.1");

	n = pkt_build(&(struct pkt_desc){ .n_vlan = 2,
					  .vlan = { { ETH_P_8021AD, 7 }, { ETH_P_8021Q, 9 } },
					  .flags = PKT_F_V6 },
		      buf, sizeof(buf));
	ASSERT_EQ(buf[12] << 8 | buf[13], ETH_P_8021AD, "outer tag");
	ASSERT_EQ(buf[15], 7, "outer VID");
	ASSERT_EQ(buf[16] << 8 | buf[17], ETH_P_8021Q, "inner tag");
	ASSERT_EQ(buf[20] << 8 | buf[21], ETH_P_IPV6, "ethertype after the tags");
	ASSERT_TRUE(pkt_l4_csum_ok(buf, (size_t)n), "parsed through two tags");

	n = pkt_build(&(struct pkt_desc){ .eth_type = 0x88b5, .data_len = 4 }, buf, sizeof(buf));
	ASSERT_EQ(n, 18, "raw EtherType: payload after the header");
	ASSERT_EQ(buf[17], 3, "pattern payload");
}

static void subtest_errors(void)
{
	uint8_t buf[PKT_MAX], opts[44] = { 0 };

	ASSERT_EQ(pkt_build(&(struct pkt_desc){ .src = "192.0.2.1", .dst = "2001:db8::1" }, buf,
			    sizeof(buf)),
		  -EINVAL, "mixed families");
	ASSERT_EQ(pkt_build(&(struct pkt_desc){ .dst = "not-an-address" }, buf, sizeof(buf)),
		  -EINVAL, "bad address");
	ASSERT_EQ(pkt_build(&(struct pkt_desc){ .opts = opts, .opts_len = 44 }, buf, sizeof(buf)),
		  -EINVAL, "44 option bytes with a computed doff");
	ASSERT_EQ(pkt_build(&(struct pkt_desc){ .opts = opts, .opts_len = 44, .doff = PKT_SET(15) },
			    buf, sizeof(buf)),
		  14 + 20 + 64, "44 option bytes with a forced doff");
	ASSERT_EQ(pkt_build(&(struct pkt_desc){ 0 }, buf, 40), -ENOSPC, "buffer too small");
	ASSERT_EQ(pkt_build(&(struct pkt_desc){ .eth_type = ETH_P_ARP, .flags = PKT_F_V6 }, buf,
			    sizeof(buf)),
		  -EINVAL, "ARP needs IPv4");
}

static void subtest_opt_find(void)
{
	uint8_t buf[PKT_MAX];
	struct pkt_desc d = { .tcp_flags = PKT_TCP_SYN,
			      PKT_OPTS(PKT_OPT_MSS(1460), PKT_OPT_NOP,
				       PKT_OPT_MPJ_SYN(1, 2, 0xa1b2c3d4, 5), PKT_OPT_PREFER(0xf)) };
	int n, off;

	n = pkt_build(&d, buf, sizeof(buf));
	ASSERT_EQ(pkt_tcp_opt_find(buf, (size_t)n, 2, -1), 54, "MSS");
	off = pkt_tcp_opt_find(buf, (size_t)n, 30, 1);
	ASSERT_EQ(off, 59, "MP_JOIN");
	ASSERT_EQ(buf[off + 4], 0xa1, "token");
	ASSERT_EQ(buf[off + 2], 0x11, "subtype and backup bit");
	ASSERT_EQ(pkt_tcp_opt_find(buf, (size_t)n, 30, 0xf), 71, "MP_PREFER_PROXY");
	ASSERT_EQ(pkt_tcp_opt_find(buf, (size_t)n, 30, 0), -ENOENT, "no MP_CAPABLE");
	ASSERT_EQ(pkt_tcp_opt_find(buf, (size_t)n, 8, -1), -ENOENT, "no timestamps");
	n = pkt_build(&(struct pkt_desc){ .proto = IPPROTO_UDP }, buf, sizeof(buf));
	ASSERT_EQ(pkt_tcp_opt_find(buf, (size_t)n, 2, -1), -EINVAL, "not TCP");
}

static void subtest_run_empty_prog(void)
{
	struct empty_bpf *skel = empty_bpf__open_and_load();
	uint8_t in[PKT_MAX], out[PKT_MAX], small[8];
	struct __sk_buff skb = { .mark = 0x1234, .priority = 3 };
	struct pkt_run r = {};
	int n;

	if (!ASSERT_OK_PTR(skel, "open_and_load"))
		return;
	n = pkt_build(&(struct pkt_desc){ .tcp_flags = PKT_TCP_SYN, .data_len = 100 }, in,
		      sizeof(in));
	r.prog_fd = bpf_program__fd(skel->progs.mpc_tc_empty);
	r.in = in;
	r.in_len = (uint32_t)n;
	r.out = out;
	r.out_cap = sizeof(out);
	r.ctx = &skb;
	r.ctx_size = sizeof(skb);
	if (ASSERT_OK(pkt_run(&r), "pkt_run")) {
		ASSERT_EQ(r.retval, TC_ACT_OK, "retval");
		ASSERT_EQ(r.out_len, n, "out_len");
		ASSERT_MEMEQ(out, in, (size_t)n, "frame through unchanged");
		ASSERT_EQ(skb.mark, 0x1234, "ctx mark round trip");
		ASSERT_EQ(skb.priority, 3, "ctx priority round trip");
	}
	r.repeat = 1000;
	ASSERT_OK(pkt_run(&r), "pkt_run repeat");
	r.repeat = 0;
	r.out = small;
	r.out_cap = sizeof(small);
	ASSERT_EQ(pkt_run(&r), -ENOSPC, "output buffer too small");
	empty_bpf__destroy(skel);
}

void test_pkt_lib(void)
{
	if (test__start_subtest("reference_frames"))
		subtest_reference_frames();
	if (test__start_subtest("verifiers_catch_damage"))
		subtest_verifiers_catch();
	if (test__start_subtest("forced_and_computed_lengths"))
		subtest_forced_lengths();
	if (test__start_subtest("v6_ext_and_frag"))
		subtest_v6_ext_and_frag();
	if (test__start_subtest("non_ip_and_vlan"))
		subtest_non_ip();
	if (test__start_subtest("errors"))
		subtest_errors();
	if (test__start_subtest("tcp_opt_find"))
		subtest_opt_find();
	if (test__start_subtest("pkt_run_empty_prog"))
		subtest_run_empty_prog();
}
