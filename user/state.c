// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "state.h"
#include "state.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* Pins that belong to a daemon run; mpc_fb_cache is deliberately absent. */
static const char *const own_pins[] = {
	"mpc_stats",   "mpc_dstats", "mpc_binds", "mpc_info",	"mpc_links",
	"mpc_dst_pol", "mpc_ports",  "mpc_allow", "mpc_tokens", "mpc_synack",
};

static bool on_bpffs(const char *path)
{
	struct statfs sf;

	return !statfs(path, &sf) && (unsigned long)sf.f_type == BPF_FS_MAGIC;
}

int mpc_bpffs_ensure(const char *dir)
{
	char parent[PATH_MAX];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	/* find the nearest existing ancestor and check its filesystem */
	while (access(parent, F_OK)) {
		slash = strrchr(parent, '/');
		if (!slash || slash == parent)
			break;
		*slash = '\0';
	}
	if (on_bpffs(parent))
		return 0;
	if (strncmp(dir, "/sys/fs/bpf", 11)) {
		pr_warn("%s is not on a bpffs; use a --pin-path under a mounted bpffs\n", dir);
		return -EINVAL;
	}
	/* `ip netns exec` and fresh containers hide the host's bpffs; mount
	 * one the way bpftool does rather than fail */
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		pr_warn("cannot mount bpffs on /sys/fs/bpf: %s\n", strerror(errno));
		return -errno;
	}
	pr_info("mounted bpffs on /sys/fs/bpf\n");
	return 0;
}

static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static void unpin_own(const char *dir)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(own_pins) / sizeof(own_pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, own_pins[i]);
		unlink(path);
	}
}

int mpc_pinned_map(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

static int try_load(struct mpc_state *st, const struct mpc_state_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = st->pin_dir);
	int err;

	st->skel = state_bpf__open_opts(&oo);
	if (!st->skel)
		return -errno;
	if (o && o->bind_max) {
		bpf_map__set_max_entries(st->skel->maps.mpc_binds, o->bind_max);
		bpf_map__set_max_entries(st->skel->maps.mpc_tokens, o->bind_max);
	}
	if (o && o->fb_max)
		bpf_map__set_max_entries(st->skel->maps.mpc_fb_cache, o->fb_max);
	err = state_bpf__load(st->skel);
	if (err) {
		state_bpf__destroy(st->skel);
		st->skel = NULL;
	}
	return err;
}

int mpc_state_open(struct mpc_state *st, const char *pin_dir, const struct mpc_state_opts *o)
{
	char fb_path[PATH_MAX];
	int err;

	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	snprintf(st->pin_dir, sizeof(st->pin_dir), "%s", pin_dir);

	err = mpc_bpffs_ensure(pin_dir);
	if (err)
		return err;
	err = mkdir_p(pin_dir);
	if (err) {
		pr_warn("cannot create pin directory %s: %s\n", pin_dir, strerror(-err));
		return err;
	}
	st->lock_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->lock_fd < 0)
		return -errno;
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		pr_warn("%s is in use by another mpconv daemon (use --pin-path)\n", pin_dir);
		close(st->lock_fd);
		st->lock_fd = -1;
		return err == -EWOULDBLOCK ? -EBUSY : err;
	}
	/* We hold the lock, so any pins of ours here are from a daemon that
	 * died without cleaning up: start fresh. The fallback cache is kept
	 * unless its layout no longer matches (then the load below fails
	 * and we drop it too). */
	unpin_own(pin_dir);
	err = try_load(st, o);
	if (err) {
		snprintf(fb_path, sizeof(fb_path), "%s/mpc_fb_cache", pin_dir);
		pr_info("dropping incompatible pinned fallback cache %s\n", fb_path);
		unlink(fb_path);
		err = try_load(st, o);
	}
	if (err) {
		pr_warn("cannot create BPF maps in %s: %s\n", pin_dir, strerror(-err));
		flock(st->lock_fd, LOCK_UN);
		close(st->lock_fd);
		st->lock_fd = -1;
		return err;
	}
	st->binds_fd = bpf_map__fd(st->skel->maps.mpc_binds);
	st->stats_fd = bpf_map__fd(st->skel->maps.mpc_stats);
	st->dstats_fd = bpf_map__fd(st->skel->maps.mpc_dstats);
	st->info_fd = bpf_map__fd(st->skel->maps.mpc_info);
	st->links_fd = bpf_map__fd(st->skel->maps.mpc_links);
	st->fb_fd = bpf_map__fd(st->skel->maps.mpc_fb_cache);
	st->allow_fd = bpf_map__fd(st->skel->maps.mpc_allow);
	st->pol_fd = bpf_map__fd(st->skel->maps.mpc_dst_pol);
	st->ports_fd = bpf_map__fd(st->skel->maps.mpc_ports);
	st->tokens_fd = bpf_map__fd(st->skel->maps.mpc_tokens);
	st->synack_fd = bpf_map__fd(st->skel->maps.mpc_synack);
	return 0;
}

void mpc_state_close(struct mpc_state *st)
{
	if (st->skel) {
		unpin_own(st->pin_dir);
		state_bpf__destroy(st->skel);
		st->skel = NULL;
	}
	if (st->lock_fd >= 0) {
		flock(st->lock_fd, LOCK_UN);
		close(st->lock_fd);
		st->lock_fd = -1;
	}
	/* leave the directory if the fallback cache is still pinned there */
	rmdir(st->pin_dir);
}
