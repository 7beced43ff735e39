/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Map keys, values and reason codes shared by the BPF programs (bpf/) and
 * the daemon (user/). Defined once here; both sides include this file, and
 * every struct carries a _Static_assert on its size so a layout change is a
 * build error rather than a silent mismatch between kernel and userspace.
 *
 * Addresses are always 16 bytes: IPv4 is stored IPv4-mapped (::ffff:a.b.c.d),
 * the same convention RFC 8803 uses on the wire (protocol.md §1.5), so one
 * key type serves both families. Ports are stored in host byte order so that
 * `bpftool map dump` prints them as people read them.
 */
#ifndef MPCONV_MAPS_H
#define MPCONV_MAPS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef __cplusplus
#define MPC_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* Object name limits: the kernel keeps 15 characters of a map or program
 * name (BPF_OBJ_NAME_LEN - 1). All names below fit. */
#define MPC_OBJ_NAME_MAX 15

/* Default pin directory; --pin-path overrides it (tests use their own). */
#define MPC_PIN_DEFAULT "/sys/fs/bpf/mpconv"

/* ---- Reason codes ------------------------------------------------------
 *
 * Every verdict a program takes has exactly one reason; the per-CPU array
 * mpc_stats is indexed by it. Reasons are only ever used as array indices
 * and are never returned from a program, so they cannot be confused with
 * TC_ACT_* / XDP_* values (cilium's rule for DROP_* codes).
 *
 * Append only: the numeric values are the index into a pinned map and may
 * be read by an older `mpconv stats`. Names live in user/reasons.c.
 */
enum mpc_reason {
	MPC_R_UNSPEC = 0,

	/* Parser outcomes that end classification (all programs). */
	MPC_R_NOT_IP,	     /* ARP, LLDP, ...: passed */
	MPC_R_VLAN,	     /* VLAN tag still in the frame: passed */
	MPC_R_L3_TRUNC,	     /* IP header cut short or bad IHL/version */
	MPC_R_FRAG,	     /* IP fragment (v4 MF/offset, v6 frag header) */
	MPC_R_V6_EXTHDR,     /* too many / unsupported IPv6 extension headers */
	MPC_R_NOT_TCP,	     /* UDP, ICMP, ...: passed */
	MPC_R_L4_TRUNC,	     /* TCP header cut short or data offset < 5 */
	MPC_R_OPT_MALFORMED, /* option length 0/1 or past the header */

	/* CPE LAN ingress classifier (tc_lan). */
	MPC_R_LAN_STEER,       /* SYN steered to the conversion listener */
	MPC_R_LAN_FLOW,	       /* packet of a steered flow: local delivery */
	MPC_R_LAN_NO_FLOW,     /* non-SYN with no local socket: forwarded */
	MPC_R_LAN_NATIVE,      /* SYN already carries MP_CAPABLE: passed */
	MPC_R_LAN_BYPASS,      /* destination on the bypass list */
	MPC_R_LAN_POLICY,      /* port/prefix not selected for conversion */
	MPC_R_LAN_CACHE,       /* fallback-cache shortcut (direct mode) */
	MPC_R_LAN_NO_LISTENER, /* daemon listener missing: failed open */
	MPC_R_LAN_ASSIGN_ERR,  /* bpf_sk_assign() refused: failed open */

	/* CPE WAN egress stamper (tc_wan). */
	MPC_R_STAMP_OK,	      /* MP_PREFER_PROXY inserted */
	MPC_R_STAMP_NO_SPACE, /* option space cannot take 4 more bytes */
	MPC_R_STAMP_UNMARKED, /* not from a marked socket: untouched */
	MPC_R_STAMP_NOT_SYN,  /* marked, but not a SYN: untouched */
	MPC_R_STAMP_JOIN,     /* MP_JOIN SYN: never stamped */
	MPC_R_STAMP_NO_MPC,   /* marked SYN without MP_CAPABLE */
	MPC_R_STAMP_PRESENT,  /* already carries MP_PREFER_PROXY */
	MPC_R_STAMP_DATA,     /* SYN with payload: not stamped */
	MPC_R_STAMP_ERR,      /* helper failed; packet passed unmodified */

	/* Concentrator access ingress: pickup (tc_pickup). */
	MPC_R_PICK_SYN,		 /* stamped MP_CAPABLE SYN to the listener */
	MPC_R_PICK_JOIN,	 /* MP_JOIN for a picked-up token */
	MPC_R_PICK_FLOW,	 /* packet of a picked-up flow */
	MPC_R_PICK_NATIVE,	 /* MP_CAPABLE without stamp: forwarded */
	MPC_R_PICK_PLAIN,	 /* plain TCP, no local socket: forwarded */
	MPC_R_PICK_JOIN_UNKNOWN, /* MP_JOIN, token not ours: forwarded */
	MPC_R_PICK_NO_LISTENER,	 /* listener missing: forwarded */
	MPC_R_PICK_ASSIGN_ERR,	 /* bpf_sk_assign() refused: forwarded */

	/* Concentrator access XDP guard (xdp_guard). */
	MPC_R_XDP_PASS,		/* passed to the stack */
	MPC_R_XDP_UNAUTH_STAMP, /* stamped SYN from outside --allow: dropped */
	MPC_R_XDP_UNAUTH_CONV,	/* Convert-port SYN outside --allow: dropped */
	MPC_R_XDP_META_ERR,	/* could not attach metadata (still passed) */

	/* tc_pickup, appended */
	MPC_R_PICK_JOIN_WAIT, /* our MP_JOIN, its port's listener not up yet:
				 * dropped, the peer retransmits the SYN */

	MPC_R_MAX
};

/* Value of mpc_stats (per CPU). */
struct mpc_stat {
	__u64 packets;
	__u64 bytes;
};
MPC_STATIC_ASSERT(sizeof(struct mpc_stat) == 16, "mpc_stat layout");

/* ---- Destination policy (LPM trie) ----------------------------------
 * Key for mpc_dst_pol and mpc_allow. prefixlen counts bits of the 16-byte
 * address; an IPv4 prefix a.b.c.d/n is stored as ::ffff:a.b.c.d/(96+n). */
struct mpc_lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};
MPC_STATIC_ASSERT(sizeof(struct mpc_lpm_key) == 20, "mpc_lpm_key layout");

enum mpc_pol_action {
	MPC_POL_CONVERT = 1, /* intercept and convert */
	MPC_POL_BYPASS = 2,  /* never intercept */
};

struct mpc_pol_val {
	__u8 action; /* enum mpc_pol_action */
	__u8 pad[3];
};
MPC_STATIC_ASSERT(sizeof(struct mpc_pol_val) == 4, "mpc_pol_val layout");

/* mpc_ports: key = TCP destination port (host order), value mpc_pol_val. */

/* ---- Bindings ----------------------------------------------------------
 * One entry per live proxied connection (protocol.md §2.6 binding state,
 * RFC 8803 Fig. 7 session entry). Written only by the daemon; the key is
 * the kernel socket cookie (SO_COOKIE) of the MPTCP-side socket, which is
 * unique for the life of the netns and needs no allocator. */
struct mpc_bind_key {
	__u64 cookie;
};
MPC_STATIC_ASSERT(sizeof(struct mpc_bind_key) == 8, "mpc_bind_key layout");

enum mpc_bind_flags {
	MPC_BF_UP_MPTCP = 1 << 0,    /* MPTCP leg (CPE<->conc) really MPTCP */
	MPC_BF_DOWN_MPTCP = 1 << 1,  /* server leg negotiated MPTCP */
	MPC_BF_DOWN_CACHED = 1 << 2, /* server leg used TCP from the cache */
	MPC_BF_IMPLICIT = 1 << 3,    /* picked up on-path (MP_PREFER_PROXY) */
	MPC_BF_DIRECT = 1 << 4,	     /* CPE single-ended mode */
	MPC_BF_ESTABLISHED = 1 << 5, /* Convert exchange done, relaying */
	MPC_BF_LAN_MPTCP = 1 << 6,   /* LAN host's own MPTCP terminated */
};

enum mpc_role {
	MPC_ROLE_NONE = 0,
	MPC_ROLE_CONC = 1,
	MPC_ROLE_CPE = 2,
};

struct mpc_bind {
	__u8 client_addr[16]; /* original client (LAN host or peer MCP) */
	__u8 server_addr[16]; /* original destination */
	__u16 client_port;    /* host order */
	__u16 server_port;    /* host order */
	__u8 role;	      /* enum mpc_role of the box holding it */
	__u8 subflows;	      /* current MPTCP subflows of the MPTCP leg */
	__u16 flags;	      /* enum mpc_bind_flags */
	__u32 token;	      /* local MPTCP token of the MPTCP leg */
	__u32 pad;
	__u64 bytes_up;	  /* client -> server, bytes relayed */
	__u64 bytes_down; /* server -> client, bytes relayed */
	__u64 start_ns;	  /* CLOCK_MONOTONIC (= bpf_ktime_get_ns) */
	__u64 last_ns;	  /* last relay activity, CLOCK_MONOTONIC */
};
MPC_STATIC_ASSERT(sizeof(struct mpc_bind) == 80, "mpc_bind layout");

/* ---- Fallback cache (protocol.md §3 "fallback cache", nam-01 §5.6.1) ----
 * Keyed by destination address only: whether MP_CAPABLE survives is a
 * property of the server and the path to it, not of the port, and one
 * entry per host keeps a 24 h cache small. */
struct mpc_fb_key {
	__u8 addr[16];
};
MPC_STATIC_ASSERT(sizeof(struct mpc_fb_key) == 16, "mpc_fb_key layout");

enum mpc_fb_reason {
	MPC_FB_SYN_DROPPED = 1, /* MP_CAPABLE SYNs unanswered, TCP worked */
	MPC_FB_NO_MPC = 2,	/* server answered without MP_CAPABLE */
};

struct mpc_fb_entry {
	__u8 reason; /* enum mpc_fb_reason */
	__u8 pad[7];
	__u64 first_ns; /* CLOCK_MONOTONIC when inserted */
	__u64 last_ns;	/* last hit (daemon or tc shortcut) */
	__u64 hits;	/* connections that used the entry */
};
MPC_STATIC_ASSERT(sizeof(struct mpc_fb_entry) == 32, "mpc_fb_entry layout");

/* ---- Picked-up MPTCP tokens (concentrator, implicit mode) -------------
 * Filled by the sockops program when a picked-up connection is created,
 * so an MP_JOIN SYN toward the server address can be steered to the
 * listener race-free; removed by the daemon when the connection ends. */
struct mpc_token_val {
	__u64 created_ns;
	__u64 cookie; /* socket cookie of the first subflow */
};
MPC_STATIC_ASSERT(sizeof(struct mpc_token_val) == 16, "mpc_token_val layout");

/* ---- Server SYN-ACK options (concentrator, Extended TCP Header) -------
 * RFC 8803 returns "a copy of the TCP options of the server's SYN+ACK"
 * (protocol.md §1.5). The socket API cannot give them; the sockops program
 * copies them from the SYN-ACK itself when an outgoing connection of the
 * daemon becomes established, keyed by that connection's 4-tuple as the
 * daemon knows it (local port, server address and port). The daemon reads
 * and deletes the entry when it builds the reply. */
struct mpc_synack_key {
	__u8 raddr[16];		/* server address, IPv4-mapped for IPv4 */
	__u16 rport;		/* server port, host order */
	__u16 lport;		/* local port, host order */
};
MPC_STATIC_ASSERT(sizeof(struct mpc_synack_key) == 20, "mpc_synack_key layout");

struct mpc_synack {
	__u8 len;		/* option bytes (<= 40) */
	__u8 pad[7];
	__u64 at_ns;		/* when the SYN-ACK was processed */
	__u8 opts[40];		/* the SYN-ACK's options, as on the wire */
};
MPC_STATIC_ASSERT(sizeof(struct mpc_synack) == 56, "mpc_synack layout");

/* ---- Links and daemon info, written by the daemon for `mpconv status` -- */
#define MPC_MAX_LINKS 8

struct mpc_link {
	__u32 ifindex;
	__u8 name[16];	/* IFNAMSIZ, NUL padded */
	__u8 addr4[16]; /* IPv4-mapped, or zero */
	__u8 addr6[16]; /* global IPv6, or zero */
	__u32 subflows; /* live subflows leaving by this link */
	__u64 bytes_tx; /* MPTCP subflow bytes sent (tcpi_bytes_sent) */
	__u64 bytes_rx; /* MPTCP subflow bytes received */
	__u64 updated_ns;
	__u32 up;	/* 1: usable (endpoints in place); 0: withdrawn */
	__u32 downs;	/* times the watcher found it unusable */
};
MPC_STATIC_ASSERT(sizeof(struct mpc_link) == 88, "mpc_link layout");

enum mpc_mode {
	MPC_MODE_EXPLICIT = 0, /* RFC 8803 Convert to a concentrator */
	MPC_MODE_IMPLICIT = 1, /* MP_PREFER_PROXY, on-path concentrator */
	MPC_MODE_DIRECT = 2,   /* single-ended: MPTCP straight to servers */
};

/* Bits of mpc_info.attach_mask: which programs the daemon attached. */
enum mpc_prog_bit {
	MPC_P_TC_LAN = 0,    /* CPE LAN ingress classifier */
	MPC_P_TC_WAN = 1,    /* CPE WAN egress stamper */
	MPC_P_TC_PICKUP = 2, /* concentrator access ingress pickup */
	MPC_P_XDP_GUARD = 3, /* concentrator access XDP guard */
	MPC_P_SOCKOPS = 4,   /* concentrator token learner */
};

struct mpc_info {
	__u32 pid;
	__u8 role; /* enum mpc_role */
	__u8 mode; /* enum mpc_mode (CPE) */
	__u8 n_links;
	__u8 flags;
	__u32 lan_ifindex;  /* CPE LAN, or 0 */
	__u16 conc_port;    /* CPE: concentrator port; conc: listen port */
	__u16 proxy_port;   /* local transparent listener port */
	__u8 conc_addr[16]; /* CPE: concentrator; conc: listen address */
	__u64 start_ns;
	__u64 attach_mask; /* bit per program kind attached (mpc_prog_bit) */
	__u8 lan_name[16]; /* CPE LAN interface name, NUL padded */
};
MPC_STATIC_ASSERT(sizeof(struct mpc_info) == 64, "mpc_info layout");

/* ---- Daemon counters (userspace events), mpc_dstats ------------------
 * The daemon counts what it sees at the socket level (Convert errors sent,
 * malformed input, resource exhaustion, relays ended) and flushes the
 * counts once a second into a pinned array indexed by this enum, so
 * `mpconv stats` and bpftool read them like the BPF counters. Append only. */
enum mpc_dcounter {
	MPC_D_ACCEPTED = 0,	/* connections accepted */
	MPC_D_RELAYED,		/* connections that reached the relay phase */
	MPC_D_CLOSED,		/* relays ended by FIN both ways */
	MPC_D_RESET,		/* relays torn down by a RST or error */
	MPC_D_CV_TIMEOUT,	/* Convert message not complete in time */
	MPC_D_CV_TRUNC,		/* peer closed mid-message */
	MPC_D_CV_RESET,		/* message demanded a reset (Total Length 0) */
	MPC_D_ERR_TX_VERSION,	/* Error 0 sent: unsupported version */
	MPC_D_ERR_TX_MALFORMED, /* Error 1 sent */
	MPC_D_ERR_TX_UNSUPP,	/* Error 2 sent */
	MPC_D_ERR_TX_NOAUTH,	/* Error 32 sent */
	MPC_D_ERR_TX_TCPOPT,	/* Error 33 sent */
	MPC_D_ERR_TX_RESOURCE,	/* Error 64 sent */
	MPC_D_ERR_TX_NETWORK,	/* Error 65 sent */
	MPC_D_ERR_TX_CONNRESET, /* Error 96 sent */
	MPC_D_ERR_TX_UNREACH,	/* Error 97 sent */
	MPC_D_ERR_RX,		/* Error TLV received from a converter (CPE) */
	MPC_D_BAD_REPLY,	/* converter reply malformed (CPE) */
	MPC_D_INFO,		/* Info requests answered */
	MPC_D_EMFILE,		/* accept/socket/pipe failed for lack of fds */
	MPC_D_ENOMEM,		/* allocation failed */
	MPC_D_CONN_LIMIT,	/* --max-conns reached */
	MPC_D_DOWN_MPTCP,	/* server leg negotiated MPTCP */
	MPC_D_DOWN_TCP,		/* server leg is plain TCP */
	MPC_D_FB_INSERT,	/* fallback-cache entries created */
	MPC_D_FB_HIT,		/* connections that used a cache entry */
	MPC_D_FB_EXPIRED,	/* entries aged out */
	MPC_D_MAP_FULL,		/* a binding could not be recorded */
	MPC_D_SYNACK_EXACT,	/* Extended TCP Header from the real SYN-ACK */
	MPC_D_SYNACK_APPROX,	/* ... rebuilt from TCP_INFO (no sockops copy) */
	MPC_D_LINK_DOWN,	/* WAN link unusable: its endpoints withdrawn */
	MPC_D_LINK_UP,		/* WAN link usable again: endpoints restored */
	MPC_D_FIN_HELD,		/* early LAN FIN held until the subflows were up */
	MPC_D_FIN_HOLD_EXPIRED, /* ... but they were not up within the bound */
	MPC_D_FLUSHES,		/* counter flushes (once a second); kept last,
				 * so a reader that sees it grow twice knows
				 * every counter was written after it looked */
	MPC_D_MAX
};

struct mpc_dstat {
	__u64 value;
};
MPC_STATIC_ASSERT(sizeof(struct mpc_dstat) == 8, "mpc_dstat layout");

/* ---- XDP -> tc metadata (xdp_guard hands its parse to tc_pickup) ------ */
#define MPC_META_MAGIC 0x6d70u /* "mp" */

struct mpc_xdp_meta {
	__u16 magic;	  /* MPC_META_MAGIC, else ignore */
	__u8 l4_off;	  /* TCP header offset from L2 start */
	__u8 flags;	  /* MPC_PF_* of the parse */
	__u32 join_token; /* MP_JOIN receiver token (network order) */
};
MPC_STATIC_ASSERT(sizeof(struct mpc_xdp_meta) == 8, "mpc_xdp_meta layout");

#endif /* MPCONV_MAPS_H */
