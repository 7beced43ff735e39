/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Per-destination MPTCP fallback cache (protocol.md §3, nam-01 §5.6.1):
 * where MP_CAPABLE failed, later connections use plain TCP at once; the
 * entries are flushed after a TTL (default 24 h) so each destination is
 * probed again. The cache is the pinned BPF map mpc_fb_cache, so tc can
 * shortcut cached destinations and bpftool can read it.
 */
#ifndef MPC_FBCACHE_H
#define MPC_FBCACHE_H

#include <stdint.h>

#include <mpconv/maps.h>

#define MPC_FB_TTL_DEFAULT_S (24 * 3600)

/* 1: cached (hits and last_ns updated, *out filled if non-NULL);
 * 0: not cached or expired (an expired entry is deleted); -errno. */
int mpc_fb_lookup(int fd, const uint8_t addr[16], uint64_t ttl_ns, struct mpc_fb_entry *out);
/* Record a destination (keeps first_ns of an existing entry). */
int mpc_fb_insert(int fd, const uint8_t addr[16], uint8_t reason);
/* Delete entries older than ttl_ns (0: none). Returns how many. */
int mpc_fb_sweep(int fd, uint64_t ttl_ns);
/* Delete one entry, or all when addr is NULL. Returns how many. */
int mpc_fb_flush(int fd, const uint8_t *addr);
const char *mpc_fb_reason_name(uint8_t reason);

#endif /* MPC_FBCACHE_H */
