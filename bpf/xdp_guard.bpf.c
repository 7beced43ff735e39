// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Concentrator access-side XDP guard.
 *
 * Drops, before the stack spends anything on them, the SYNs that ask for
 * the concentrator's services from outside the --allow prefixes: a SYN
 * carrying MP_PREFER_PROXY (implicit mode pickup, protocol.md §2.2) or a
 * SYN to the Convert port (RFC 8803 service, protocol.md §1). Every other
 * packet passes. TCP SYNs that pass carry the parse to tc_pickup as
 * struct mpc_xdp_meta (include/mpconv/maps.h), so the options are walked
 * once per SYN.
 *
 * Counting: this program counts only its own verdicts (MPC_R_XDP_*), one
 * per packet; parser outcomes (not IP, truncated, ...) are counted by
 * tc_pickup, which sees the same packets, so nothing is counted twice.
 */
#include <stdbool.h>

#include "parse.bpf.h"
#include "maps.bpf.h"

/* RFC 8803 Convert service port, host order; 0 = not served here. */
const volatile __u16 mpc_convert_port = 0;

static __always_inline bool allowed(const struct mpc_pkt *p)
{
	struct mpc_lpm_key k = { .prefixlen = 128 };

	__builtin_memcpy(k.addr, p->saddr, 16);
	return bpf_map_lookup_elem(&mpc_allow, &k) != NULL;
}

static __always_inline int put_meta(struct xdp_md *ctx, const struct mpc_pkt *p)
{
	struct mpc_xdp_meta *m;
	void *data;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return -1;
	/* adjust_meta moved the pointers: reload and re-check */
	data = (void *)(long)ctx->data;
	m = (void *)(long)ctx->data_meta;
	if ((void *)(m + 1) > data)
		return -1;
	m->magic = MPC_META_MAGIC;
	m->l4_off = p->l4_off;
	m->flags = p->flags;
	m->join_token = p->join_token;
	return 0;
}

/*
 * The parse runs in a global function, verified once on its own; the
 * caller continues from one state with the copied fields unknown (inlined,
 * every path through the option walk would be verified again through the
 * code below). Only what the guard and the metadata need is copied out.
 */
__noinline int mpc_guard_parse(struct xdp_md *ctx, struct mpc_pkt *out)
{
	struct mpc_pkt p;
	int r;

	if (!out)
		return MPC_R_NOT_IP;
	r = mpc_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, &p);
	out->flags = p.flags;
	out->l4_off = p.l4_off;
	out->join_token = p.join_token;
	out->dport = p.dport;
	__builtin_memcpy(out->saddr, p.saddr, sizeof(p.saddr));
	return r;
}

SEC("xdp")
int mpc_xdp_guard(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	struct mpc_pkt p;
	int r;

	r = mpc_guard_parse(ctx, &p);
	/* Not TCP, or not a SYN: nothing to guard, nothing to hand over. */
	if (r != MPC_R_UNSPEC || !(p.flags & MPC_PF_SYN))
		goto pass;
	if (!(p.flags & MPC_PF_ACK)) {
		bool conv = mpc_convert_port && p.dport == mpc_convert_port;

		if (((p.flags & MPC_PF_PREFER) || conv) && !allowed(&p)) {
			mpc_count((p.flags & MPC_PF_PREFER) ? MPC_R_XDP_UNAUTH_STAMP :
							      MPC_R_XDP_UNAUTH_CONV,
				  len);
			return XDP_DROP;
		}
	}
	/* l4_off must fit the 8-bit metadata field; with long IPv6
	 * extension headers it may not, and tc then parses for itself. */
	if (p.l4_off > 0xff || put_meta(ctx, &p)) {
		mpc_count(MPC_R_XDP_META_ERR, len);
		return XDP_PASS;
	}
pass:
	mpc_count(MPC_R_XDP_PASS, len);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
