/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Every map of a daemon instance, defined once. Each BPF object includes
 * this file, and every map is pinned by name under the instance's pin
 * directory (the loader sets pin_root_path), so all objects of one daemon
 * share one set of maps and `bpftool map dump pinned DIR/NAME` reads them
 * with their BTF types. Sizes are defaults; the loader applies the
 * configured ones with bpf_map__set_max_entries() before load.
 */
#ifndef MPC_MAPS_BPF_H
#define MPC_MAPS_BPF_H

#include <mpconv/maps.h>

/* Per-verdict counters. key: enum mpc_reason; value: packets and bytes.
 * Written by every program; read by `mpconv stats|status`. Per-CPU so the
 * hot path never bounces a cache line between cores. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MPC_R_MAX);
	__type(key, __u32);
	__type(value, struct mpc_stat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_stats SEC(".maps");

/* Destination policy: longest prefix wins (convert or bypass).
 * Written by the daemon from --convert-prefix/--bypass; read by tc_lan. */
#ifndef MPC_POL_MAX
#define MPC_POL_MAX 4096 /* operator bypass lists run to hundreds of prefixes */
#endif
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MPC_POL_MAX);
	__type(key, struct mpc_lpm_key);
	__type(value, struct mpc_pol_val);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_dst_pol SEC(".maps");

/* Port policy: key = destination port (host order). Written by the daemon
 * from --convert-port/--bypass-port; read by tc_lan. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, struct mpc_pol_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_ports SEC(".maps");

/* Source prefixes allowed to use the concentrator (--allow). Written by
 * the daemon; read by xdp_guard (and mirrored in the daemon's memory). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MPC_POL_MAX);
	__type(key, struct mpc_lpm_key);
	__type(value, struct mpc_pol_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_allow SEC(".maps");

/* Live bindings, one per proxied connection; written and aged only by the
 * daemon (BPF never touches it: it is here so it is BTF-typed and pinned
 * with the rest). 65536 = the daemon's default connection limit. */
#ifndef MPC_BIND_MAX
#define MPC_BIND_MAX 65536
#endif
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MPC_BIND_MAX);
	__type(key, struct mpc_bind_key);
	__type(value, struct mpc_bind);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* memory follows live connections */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_binds SEC(".maps");

/* Fallback cache: destinations where MP_CAPABLE failed. Filled by the
 * daemon that connects toward servers; read by tc_lan (direct-mode
 * shortcut, which also bumps hits/last_ns); aged by the daemon after
 * --cache-ttl. LRU so a flood of new destinations evicts the coldest
 * entries instead of failing inserts. Survives daemon restarts. */
#ifndef MPC_FB_MAX
#define MPC_FB_MAX 16384
#endif
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MPC_FB_MAX);
	__type(key, struct mpc_fb_key);
	__type(value, struct mpc_fb_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_fb_cache SEC(".maps");

/* MPTCP tokens of the connections the concentrator terminates. Written by
 * the sockops program when a connection is created, read by tc_pickup to
 * steer MP_JOIN SYNs, deleted by the daemon when the connection closes.
 * LRU: a connection that dies before accept() leaves an entry nobody
 * deletes; the LRU evicts those first instead of filling up. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MPC_BIND_MAX);
	__type(key, __u32);
	__type(value, struct mpc_token_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_tokens SEC(".maps");

/* SYN-ACK options of the daemon's outgoing connections (concentrator).
 * Written by sockops, read and deleted by the daemon once connected. LRU:
 * an entry whose connection the daemon never reads (it failed right
 * after the handshake) ages out instead of filling the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct mpc_synack_key);
	__type(value, struct mpc_synack);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_synack SEC(".maps");

/* Daemon event counters (enum mpc_dcounter), flushed by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MPC_D_MAX);
	__type(key, __u32);
	__type(value, struct mpc_dstat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_dstats SEC(".maps");

/* WAN links and daemon facts for `mpconv status`, written by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MPC_MAX_LINKS);
	__type(key, __u32);
	__type(value, struct mpc_link);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_links SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mpc_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mpc_info SEC(".maps");

/* Count one verdict. Always succeeds for a valid reason. */
static __always_inline void mpc_count(enum mpc_reason r, __u64 bytes)
{
	__u32 k = r;
	struct mpc_stat *s = bpf_map_lookup_elem(&mpc_stats, &k);

	if (s) {
		s->packets++;
		s->bytes += bytes;
	}
}

#endif /* MPC_MAPS_BPF_H */
