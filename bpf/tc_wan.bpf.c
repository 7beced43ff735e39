// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPE WAN egress stamper (implicit mode).
 *
 * The daemon marks its implicit-mode MPTCP sockets with SO_MARK; MPTCP
 * copies the mark to every subflow. On the initial subflow's SYN this
 * program appends MP_PREFER_PROXY (plain-mode-10 §5, protocol.md §2.2) so
 * that an on-path concentrator picks the connection up. Everything else
 * leaves untouched, always TC_ACT_OK: the stamper must never cost the CPE
 * a connection.
 *
 * Growing the TCP header in place (a SYN without payload ends with its TCP
 * header, so growing the tail by 4 bytes grows the header):
 *
 *   data offset +1, IPv4 tot_len (+ header checksum) or IPv6 payload_len,
 *   TCP checksum: pseudo-header length +4, doff word, new option bytes.
 *
 * The TCP checksum is fixed with two bpf_l4_csum_replace() calls whose
 * split matters for CHECKSUM_PARTIAL skbs (the normal case on egress with
 * offload and on veth): there the check field holds only the folded
 * pseudo-header sum and the device sums the segment itself. The kernel's
 * inet_proto_csum_replace*() therefore applies a BPF_F_PSEUDO_HDR change
 * to the field and ignores a plain one, while for CHECKSUM_NONE skbs
 * (BPF_PROG_TEST_RUN, no offload) it applies both to the full checksum.
 * So: pseudo-header length change with BPF_F_PSEUDO_HDR, header-byte
 * changes (doff word, options) as one plain csum_diff.
 */
#include <linux/pkt_cls.h>

#include "parse.bpf.h"
#include "maps.bpf.h"
#include "skb_parse.bpf.h"

/* SO_MARK of the daemon's implicit-mode sockets. 0 never matches (the
 * loader refuses it): mark 0 is what every unmarked packet carries. */
const volatile __u32 mpc_stamp_mark = 0;

/* Counters for tests and `bpftool map dump` of .bss (not per CPU: the
 * stamp path is the SYN path). */
__u64 mpc_wan_stamped = 0;

/*
 * Insert the option. Where: right after the last real option (p->opt_used
 * bytes into the option area), over whatever NOP/EOL padding followed it,
 * the grown 4 bytes (zero = EOL) ending the header. Appending behind an
 * EOL would hide the option from every receiver; writing at opt_used
 * leaves the old padding (NOPs or EOLs, RFC 9293 §3.2) behind the new
 * option, where it still only pads.
 *
 * Every helper gets a constant size: a size derived from the parse would
 * make the verifier track the option walk's offsets precisely and explode
 * its state count (bpf/parse.bpf.h). Hence the 8-byte checksum window, at
 * a 4-byte aligned offset so the one's complement sum sees whole 16-bit
 * words, that covers the 4 written bytes wherever they start.
 */
static __always_inline int stamp(struct __sk_buff *skb, const struct mpc_pkt *p)
{
	__u8 opt[MPC_PREFER_PROXY_LEN] = {
		TCPOPT_MPTCP_KIND,
		MPC_PREFER_PROXY_LEN,
		(__u8)(mpc_prefer_subtype << 4),
		0,
	};
	__u32 l4 = p->l4_off, thlen = p->thlen, at = MPC_TCP_HDR_MIN + p->opt_used;
	__u16 old_l4 = bpf_htons(p->l4_len), new_l4 = bpf_htons(p->l4_len + 4);
	__be32 w12_old, w12_new, win_old[2], win_new[2];
	__u32 win = at & ~3u;
	__s64 diff;

	/* the window must end inside the grown header */
	if (win + 8 > thlen + 4)
		win = thlen - 4;
	if (bpf_skb_load_bytes(skb, l4 + 12, &w12_old, 4))
		return -1;
	/* data offset is the high nibble of byte 12 */
	w12_new = w12_old;
	((__u8 *)&w12_new)[0] = (((__u8 *)&w12_old)[0] & 0x0f) | (__u8)(((thlen >> 2) + 1) << 4);

	/* Linearises and unclones (TCP transmits clones of its queue) and
	 * zero-fills the 4 new bytes. */
	if (bpf_skb_change_tail(skb, skb->len + 4, 0))
		return -1;
	if (bpf_skb_load_bytes(skb, l4 + win, win_old, 8) ||
	    bpf_skb_store_bytes(skb, l4 + at, opt, sizeof(opt), 0)) {
		/* nothing of the old header changed yet: trimming the tail
		 * gives back the original packet */
		if (bpf_skb_change_tail(skb, skb->len - 4, 0))
			return -2;
		return -1;
	}
	/* From here on the header is committed; the helpers below work on
	 * offsets already read or written, in a linear private skb. */
	if (bpf_skb_store_bytes(skb, l4 + 12, &w12_new, 4, 0) ||
	    bpf_skb_load_bytes(skb, l4 + win, win_new, 8))
		return -2;
	diff = bpf_csum_diff(&w12_old, 4, &w12_new, 4, 0);
	diff = bpf_csum_diff(win_old, 8, win_new, 8, (__wsum)diff);
	if (bpf_l4_csum_replace(skb, l4 + 16, 0, diff, 0))
		return -2;
	if (bpf_l4_csum_replace(skb, l4 + 16, old_l4, new_l4, BPF_F_PSEUDO_HDR | sizeof(__u16)))
		return -2;

	if (p->flags & MPC_PF_V6) {
		__u16 plen;

		if (bpf_skb_load_bytes(skb, p->l3_off + 4, &plen, 2))
			return -2;
		plen = bpf_htons(bpf_ntohs(plen) + 4);
		if (bpf_skb_store_bytes(skb, p->l3_off + 4, &plen, 2, 0))
			return -2;
	} else {
		__u16 tot, ntot;

		if (bpf_skb_load_bytes(skb, p->l3_off + 2, &tot, 2))
			return -2;
		ntot = bpf_htons(bpf_ntohs(tot) + 4);
		if (bpf_skb_store_bytes(skb, p->l3_off + 2, &ntot, 2, 0) ||
		    bpf_l3_csum_replace(skb, p->l3_off + 10, tot, ntot, sizeof(__u16)))
			return -2;
	}
	return 0;
}

/*
 * The parse runs in a global function: the verifier checks it once, on
 * its own, and the caller continues from one state in which the copied
 * fields are unknown values. Inlined, every path through the option walk
 * (tens of thousands of states) would carry its exact flags into the code
 * below and be verified again there, past the 1M instruction limit.
 * Only the fields this program uses are copied out.
 */
__noinline int mpc_wan_parse(struct __sk_buff *skb, struct mpc_pkt *out)
{
	struct mpc_pkt p;
	int r;

	if (!out)
		return MPC_R_NOT_IP;
	r = mpc_parse((void *)(long)skb->data, (void *)(long)skb->data_end, &p);
	out->flags = p.flags;
	out->l3_off = p.l3_off;
	out->l4_off = p.l4_off;
	out->l4_len = p.l4_len;
	out->payload_len = p.payload_len;
	out->thlen = p.thlen;
	out->opt_used = p.opt_used;
	return r;
}

SEC("tc")
int mpc_tc_wan(struct __sk_buff *skb)
{
	struct mpc_pkt p;
	int r;

	/* The mark test comes first: every packet the CPE sends crosses
	 * this hook, and only the daemon's own connections concern us. */
	if (!mpc_stamp_mark || skb->mark != mpc_stamp_mark) {
		mpc_count(MPC_R_STAMP_UNMARKED, skb->len);
		return TC_ACT_OK;
	}

	r = mpc_parse_skb(skb, &p, mpc_wan_parse);
	if (r != MPC_R_UNSPEC) {
		mpc_count(r, skb->len);
		return TC_ACT_OK;
	}
	if (!(p.flags & MPC_PF_SYN) || (p.flags & MPC_PF_ACK)) {
		r = MPC_R_STAMP_NOT_SYN;
	} else if (p.flags & MPC_PF_JOIN) {
		r = MPC_R_STAMP_JOIN;
	} else if (!(p.flags & MPC_PF_MPC)) {
		/* the kernel's plain-TCP retry after unanswered MPC SYNs */
		r = MPC_R_STAMP_NO_MPC;
	} else if (p.flags & MPC_PF_PREFER) {
		r = MPC_R_STAMP_PRESENT;
	} else if (p.payload_len || skb->len != (__u32)p.l4_off + p.l4_len) {
		/* TFO data (or trailing bytes): the header is not at the
		 * tail, and shifting payload is not worth it for a SYN. */
		r = MPC_R_STAMP_DATA;
	} else if (p.thlen + MPC_PREFER_PROXY_LEN > MPC_TCP_HDR_MIN + MPC_TCP_OPT_MAX) {
		r = MPC_R_STAMP_NO_SPACE;
	} else if (stamp(skb, &p)) {
		r = MPC_R_STAMP_ERR;
	} else {
		r = MPC_R_STAMP_OK;
		__sync_fetch_and_add(&mpc_wan_stamped, 1);
	}
	mpc_count(r, skb->len);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
