/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The daemon's pinned maps (bpf/maps.bpf.h): created by loading the
 * map-only object bpf/state.bpf.c with pin_root_path set to the instance's
 * pin directory. Program objects loaded later with the same pin_root_path
 * reuse these maps by name.
 */
#ifndef MPC_STATE_H
#define MPC_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>

#include <mpconv/maps.h>

struct state_bpf;

struct mpc_state_opts {
	uint32_t bind_max; /* mpc_binds / mpc_tokens entries, 0 = default */
	uint32_t fb_max;   /* mpc_fb_cache entries, 0 = default */
};

struct mpc_state {
	struct state_bpf *skel;
	char pin_dir[PATH_MAX];
	int lock_fd;
	int binds_fd, stats_fd, dstats_fd, info_fd, links_fd;
	int fb_fd, allow_fd, pol_fd, ports_fd, tokens_fd, synack_fd;
};

/* Mount bpffs if needed, create and lock the pin directory (one daemon per
 * directory), remove stale pins left by a crashed daemon, create the maps.
 * Returns 0 or -errno with the reason logged. */
int mpc_state_open(struct mpc_state *st, const char *pin_dir, const struct mpc_state_opts *o);
/* Remove this daemon's pins (all but the fallback cache, which outlives
 * the daemon by design: its entries have their own TTL), then release. */
void mpc_state_close(struct mpc_state *st);

/* Make sure `dir` is on a bpffs, mounting one at /sys/fs/bpf if needed. */
int mpc_bpffs_ensure(const char *dir);

/* Open a pinned map of an instance, for the inspection commands. */
int mpc_pinned_map(const char *pin_dir, const char *name);

#endif /* MPC_STATE_H */
