// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <mpconv/wire.h>

#include "log.h"
#include "onpath.h"
#include "sockops.skel.h"
#include "tc_pickup.skel.h"
#include "tc_wan.skel.h"
#include "xdp_guard.skel.h"

/*
 * libbpf reuses a pinned map only if its definition matches exactly, and
 * the daemon may have sized mpc_binds/mpc_tokens/mpc_fb_cache from its
 * options: take every pinned map's size from the pin.
 */
static int match_pins(struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		const char *path = bpf_map__pin_path(m);
		int fd, err = 0;

		if (!path)
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			err = -errno;
			pr_warn("cannot open pinned map %s: %s\n", path, strerror(errno));
			return err;
		}
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			err = -errno;
		else if (info.max_entries != bpf_map__max_entries(m))
			err = bpf_map__set_max_entries(m, info.max_entries);
		close(fd);
		if (err) {
			pr_warn("pinned map %s: %s\n", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

static const char *ifname(int ifindex, char *buf)
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "if%d", ifindex);
	return buf;
}

/* ---- CPE stamper ------------------------------------------------------ */

int mpc_wan_attach(struct mpc_wan *w, const char *pin_dir, const int *ifindex, int n,
		   const struct mpc_wan_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);
	int i, err;

	memset(w, 0, sizeof(*w));
	if (!o->stamp_mark || o->prefer_subtype > 0xf || n <= 0) {
		pr_warn("tc_wan: need a non-zero stamp mark, a subtype 1..15 and interfaces\n");
		return -EINVAL;
	}
	w->att = calloc(n, sizeof(*w->att));
	if (!w->att)
		return -ENOMEM;
	w->skel = tc_wan_bpf__open_opts(&oo);
	if (!w->skel) {
		err = -errno;
		pr_warn("tc_wan: cannot open BPF object: %s\n", strerror(errno));
		goto err;
	}
	w->skel->rodata->mpc_stamp_mark = o->stamp_mark;
	w->skel->rodata->mpc_prefer_subtype = o->prefer_subtype ? o->prefer_subtype :
								  MPC_PREFER_SUBTYPE_DEF;
	err = match_pins(w->skel->obj);
	if (!err)
		err = tc_wan_bpf__load(w->skel);
	if (err) {
		pr_warn("tc_wan: cannot load: %s\n", strerror(-err));
		goto err;
	}
	for (i = 0; i < n; i++) {
		err = mpc_attach_tc(ifindex[i], bpf_program__fd(w->skel->progs.mpc_tc_wan), false,
				    &w->att[i]);
		if (err)
			goto err;
		w->n++;
		pr_info("%s: MP_PREFER_PROXY stamper attached at egress (%s), mark 0x%x\n",
			w->att[i].ifname, mpc_attach_kind_name(w->att[i].kind), o->stamp_mark);
	}
	return 0;
err:
	mpc_wan_detach(w);
	return err;
}

void mpc_wan_detach(struct mpc_wan *w)
{
	int i;

	for (i = w->n - 1; i >= 0; i--)
		mpc_detach(&w->att[i]);
	w->n = 0;
	free(w->att);
	w->att = NULL;
	tc_wan_bpf__destroy(w->skel);
	w->skel = NULL;
}

/* ---- Concentrator pickup + guard -------------------------------------- */

static int pick_load(struct mpc_pick *p, const char *pin_dir, const struct mpc_pick_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);
	uint8_t sub = o->prefer_subtype ? o->prefer_subtype : MPC_PREFER_SUBTYPE_DEF;
	int err;

	p->tc = tc_pickup_bpf__open_opts(&oo);
	if (!p->tc) {
		err = -errno;
		pr_warn("tc_pickup: cannot open BPF object: %s\n", strerror(errno));
		return err;
	}
	p->tc->rodata->mpc_lst_port = o->lst_port;
	p->tc->rodata->mpc_lst_addr4 = o->lst_addr4.s_addr;
	memcpy((void *)p->tc->rodata->mpc_lst_addr6, &o->lst_addr6, 16);
	p->tc->rodata->mpc_local_mark = o->local_mark;
	p->tc->rodata->mpc_prefer_subtype = sub;
	err = match_pins(p->tc->obj);
	if (!err)
		err = tc_pickup_bpf__load(p->tc);
	if (err) {
		pr_warn("tc_pickup: cannot load: %s\n", strerror(-err));
		return err;
	}
	if (o->no_xdp)
		return 0;

	p->xdp = xdp_guard_bpf__open_opts(&oo);
	if (!p->xdp) {
		err = -errno;
		pr_warn("xdp_guard: cannot open BPF object: %s\n", strerror(errno));
		return err;
	}
	p->xdp->rodata->mpc_convert_port = o->convert_port;
	p->xdp->rodata->mpc_prefer_subtype = sub;
	err = match_pins(p->xdp->obj);
	if (!err)
		err = xdp_guard_bpf__load(p->xdp);
	if (err)
		pr_warn("xdp_guard: cannot load: %s\n", strerror(-err));
	return err;
}

int mpc_pick_attach(struct mpc_pick *p, const char *pin_dir, const int *ifindex, int n,
		    const struct mpc_pick_opts *o)
{
	char name[IF_NAMESIZE];
	int i, err;

	memset(p, 0, sizeof(*p));
	if (!o->lst_port || !o->local_mark || o->prefer_subtype > 0xf || n <= 0) {
		pr_warn("tc_pickup: need a listener port, a non-zero local mark and interfaces\n");
		return -EINVAL;
	}
	p->tc_att = calloc(n, sizeof(*p->tc_att));
	p->xdp_att = calloc(n, sizeof(*p->xdp_att));
	if (!p->tc_att || !p->xdp_att) {
		err = -ENOMEM;
		goto err;
	}
	err = pick_load(p, pin_dir, o);
	if (err)
		goto err;
	for (i = 0; i < n; i++) {
		/* XDP first: tc takes its metadata from the first SYN on */
		if (p->xdp) {
			err = mpc_attach_xdp(ifindex[i],
					     bpf_program__fd(p->xdp->progs.mpc_xdp_guard),
					     &p->xdp_att[i]);
			if (err)
				goto err;
		}
		err = mpc_attach_tc(ifindex[i], bpf_program__fd(p->tc->progs.mpc_tc_pickup), true,
				    &p->tc_att[i]);
		if (err) {
			mpc_detach(&p->xdp_att[i]);
			goto err;
		}
		p->n++;
		pr_info("%s: on-path pickup attached (%s%s), listener port %u, mark 0x%x\n",
			ifname(ifindex[i], name), mpc_attach_kind_name(p->tc_att[i].kind),
			p->xdp ? " + xdp guard" : "", o->lst_port, o->local_mark);
	}
	return 0;
err:
	mpc_pick_detach(p);
	return err;
}

void mpc_pick_detach(struct mpc_pick *p)
{
	int i;

	for (i = p->n - 1; i >= 0; i--) {
		mpc_detach(&p->tc_att[i]);
		mpc_detach(&p->xdp_att[i]);
	}
	p->n = 0;
	free(p->tc_att);
	free(p->xdp_att);
	p->tc_att = p->xdp_att = NULL;
	xdp_guard_bpf__destroy(p->xdp);
	tc_pickup_bpf__destroy(p->tc);
	p->xdp = NULL;
	p->tc = NULL;
}

uint64_t mpc_pick_meta_count(const struct mpc_pick *p)
{
	return p->tc ? __atomic_load_n(&p->tc->bss->mpc_pick_meta, __ATOMIC_RELAXED) : 0;
}

/* ---- Concentrator token learner: the daemon's own cgroup --------------- */

int mpc_cgroup2_mount(char *buf, size_t len)
{
	struct mntent *me;
	FILE *f;
	int err = -ENOENT;

	f = setmntent("/proc/self/mounts", "r");
	if (!f)
		return -errno;
	while ((me = getmntent(f))) {
		if (!strcmp(me->mnt_type, "cgroup2")) {
			snprintf(buf, len, "%s", me->mnt_dir);
			err = 0;
			break;
		}
	}
	endmntent(f);
	return err;
}

/* This process's cgroup v2 path relative to the mount ("0::/path"). */
static int own_cgroup(char *buf, size_t len)
{
	char line[PATH_MAX + 8];
	FILE *f;
	int err = -ENOENT;

	f = fopen("/proc/self/cgroup", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		err = strlen(line + 3) < len ? 0 : -ENAMETOOLONG;
		if (!err)
			strcpy(buf, line + 3);
		break;
	}
	fclose(f);
	return err;
}

static int move_self(const char *cg)
{
	char path[PATH_MAX + 16], pid[16];
	int fd, n, err = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, pid, n) != n)
		err = -errno;
	close(fd);
	return err;
}

int mpc_cg_setup(struct mpc_cg *cg, const char *pin_dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);
	char mnt[PATH_MAX / 2], rel[PATH_MAX / 2];
	int err;

	memset(cg, 0, sizeof(*cg));
	cg->fd = -1;
	err = mpc_cgroup2_mount(mnt, sizeof(mnt));
	if (err) {
		pr_warn("no cgroup2 filesystem mounted (needed for the sockops token learner)\n");
		return err;
	}
	err = own_cgroup(rel, sizeof(rel));
	if (err) {
		pr_warn("cannot find this process's cgroup v2 in /proc/self/cgroup\n");
		return err;
	}
	/* both halves < PATH_MAX / 2: neither can be cut short */
	snprintf(cg->orig, sizeof(cg->orig), "%s%s", mnt, strcmp(rel, "/") ? rel : "");
	snprintf(cg->path, sizeof(cg->path), "%s/mpconv-%d", mnt, (int)getpid());
	if (mkdir(cg->path, 0755) && errno != EEXIST) {
		err = -errno;
		pr_warn("cannot create cgroup %s: %s\n", cg->path, strerror(errno));
		cg->path[0] = '\0';
		return err;
	}
	err = move_self(cg->path);
	if (err) {
		pr_warn("cannot move into cgroup %s: %s\n", cg->path, strerror(-err));
		goto err;
	}
	cg->moved = true;
	cg->fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->fd < 0) {
		err = -errno;
		goto err;
	}
	cg->skel = sockops_bpf__open_opts(&oo);
	if (!cg->skel) {
		err = -errno;
		pr_warn("sockops: cannot open BPF object: %s\n", strerror(errno));
		goto err;
	}
	err = match_pins(cg->skel->obj);
	if (!err)
		err = sockops_bpf__load(cg->skel);
	if (err) {
		pr_warn("sockops: cannot load: %s\n", strerror(-err));
		goto err;
	}
	cg->link = bpf_program__attach_cgroup(cg->skel->progs.mpc_sockops, cg->fd);
	if (!cg->link) {
		err = -errno;
		pr_warn("sockops: cannot attach to cgroup %s: %s\n", cg->path, strerror(errno));
		goto err;
	}
	pr_info("sockops (MP_JOIN tokens, server SYN-ACK options) attached to cgroup %s\n", cg->path);
	return 0;
err:
	mpc_cg_teardown(cg);
	return err;
}

void mpc_cg_teardown(struct mpc_cg *cg)
{
	int err;

	bpf_link__destroy(cg->link);
	cg->link = NULL;
	sockops_bpf__destroy(cg->skel);
	cg->skel = NULL;
	if (cg->fd >= 0)
		close(cg->fd);
	cg->fd = -1;
	if (cg->moved) {
		err = move_self(cg->orig);
		if (err)
			pr_warn("cannot move back to cgroup %s: %s\n", cg->orig, strerror(-err));
		cg->moved = false;
	}
	if (cg->path[0] && rmdir(cg->path))
		pr_warn("cannot remove cgroup %s: %s\n", cg->path, strerror(errno));
	cg->path[0] = '\0';
}

uint64_t mpc_cg_tokens_added(const struct mpc_cg *cg)
{
	return cg->skel ? __atomic_load_n(&cg->skel->bss->mpc_tok_added, __ATOMIC_RELAXED) : 0;
}

uint64_t mpc_cg_token_errors(const struct mpc_cg *cg)
{
	return cg->skel ? __atomic_load_n(&cg->skel->bss->mpc_tok_errors, __ATOMIC_RELAXED) : 0;
}
