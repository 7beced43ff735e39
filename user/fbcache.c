// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "addr.h"
#include "cmds.h"
#include "fbcache.h"
#include "log.h"
#include "loop.h"
#include "state.h"

const char *mpc_fb_reason_name(uint8_t reason)
{
	switch (reason) {
	case MPC_FB_SYN_DROPPED:
		return "syn_dropped";
	case MPC_FB_NO_MPC:
		return "no_mp_capable";
	default:
		return "unknown";
	}
}

int mpc_fb_lookup(int fd, const uint8_t addr[16], uint64_t ttl_ns, struct mpc_fb_entry *out)
{
	struct mpc_fb_key k;
	struct mpc_fb_entry e;
	uint64_t now = mpc_now_ns();

	if (fd < 0)
		return 0;
	memcpy(k.addr, addr, 16);
	if (bpf_map_lookup_elem(fd, &k, &e))
		return errno == ENOENT ? 0 : -errno;
	if (ttl_ns && now - e.first_ns > ttl_ns) {
		bpf_map_delete_elem(fd, &k);
		return 0;
	}
	e.hits++;
	e.last_ns = now;
	/* BPF_EXIST: if the entry vanished meanwhile (flush), stay absent */
	bpf_map_update_elem(fd, &k, &e, BPF_EXIST);
	if (out)
		*out = e;
	return 1;
}

int mpc_fb_insert(int fd, const uint8_t addr[16], uint8_t reason)
{
	struct mpc_fb_key k;
	struct mpc_fb_entry e = { 0 };
	uint64_t now = mpc_now_ns();

	if (fd < 0)
		return -EBADF;
	memcpy(k.addr, addr, 16);
	if (!bpf_map_lookup_elem(fd, &k, &e)) {
		e.reason = reason;
		e.last_ns = now;
		return bpf_map_update_elem(fd, &k, &e, BPF_ANY) ? -errno : 0;
	}
	memset(&e, 0, sizeof(e));
	e.reason = reason;
	e.first_ns = e.last_ns = now;
	return bpf_map_update_elem(fd, &k, &e, BPF_ANY) ? -errno : 0;
}

static int walk_delete(int fd, uint64_t ttl_ns, const uint8_t *only, bool all)
{
	struct mpc_fb_key k, next, *prev = NULL;
	struct mpc_fb_key doomed[256];
	uint64_t now = mpc_now_ns();
	int n = 0, nd, i, total = 0;

	/* Deleting while iterating restarts iteration in a hash map; collect
	 * a batch of keys, delete them, and walk again until a pass finds
	 * nothing. Bounded: each pass deletes what it collected. */
	do {
		nd = 0;
		prev = NULL;
		while (nd < (int)(sizeof(doomed) / sizeof(doomed[0])) &&
		       !bpf_map_get_next_key(fd, prev, &next)) {
			struct mpc_fb_entry e;

			k = next;
			prev = &k;
			if (bpf_map_lookup_elem(fd, &k, &e))
				continue;
			if (all || (only && !memcmp(k.addr, only, 16)) ||
			    (!only && ttl_ns && now - e.first_ns > ttl_ns))
				doomed[nd++] = k;
		}
		for (i = 0; i < nd; i++)
			if (!bpf_map_delete_elem(fd, &doomed[i]))
				n++;
		total += nd;
	} while (nd == (int)(sizeof(doomed) / sizeof(doomed[0])) && total < 1 << 24);
	return n;
}

int mpc_fb_sweep(int fd, uint64_t ttl_ns)
{
	if (fd < 0 || !ttl_ns)
		return 0;
	return walk_delete(fd, ttl_ns, NULL, false);
}

int mpc_fb_flush(int fd, const uint8_t *addr)
{
	if (fd < 0)
		return -EBADF;
	if (addr) {
		struct mpc_fb_key k;

		memcpy(k.addr, addr, 16);
		return bpf_map_delete_elem(fd, &k) ? 0 : 1;
	}
	return walk_delete(fd, 0, NULL, true);
}

/* ---- mpconv cache {show|flush} -------------------------------------- */

static int cache_show(int fd)
{
	struct mpc_fb_key k, next, *prev = NULL;
	uint64_t now = mpc_now_ns();
	char a[MPC_ADDRSTRLEN];
	int n = 0;

	if (mpc_g.json)
		printf("[");
	else
		printf("%-40s %-14s %10s %10s %8s\n", "destination", "reason", "age_s", "idle_s",
		       "hits");
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct mpc_fb_entry e;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &e))
			continue;
		mpc_addr16_str(k.addr, a);
		if (mpc_g.json)
			printf("%s{\"destination\":\"%s\",\"reason\":\"%s\",\"age_s\":%llu,"
			       "\"idle_s\":%llu,\"hits\":%llu}",
			       n ? "," : "", a, mpc_fb_reason_name(e.reason),
			       (unsigned long long)((now - e.first_ns) / 1000000000ull),
			       (unsigned long long)((now - e.last_ns) / 1000000000ull),
			       (unsigned long long)e.hits);
		else
			printf("%-40s %-14s %10llu %10llu %8llu\n", a, mpc_fb_reason_name(e.reason),
			       (unsigned long long)((now - e.first_ns) / 1000000000ull),
			       (unsigned long long)((now - e.last_ns) / 1000000000ull),
			       (unsigned long long)e.hits);
		n++;
	}
	if (mpc_g.json)
		printf("]\n");
	return 0;
}

static void cache_usage(FILE *f)
{
	fprintf(f, "Usage: mpconv [--pin-path DIR] [-j] cache show [-j]\n"
		   "       mpconv [--pin-path DIR] [-j] cache flush [-j] [ADDR]\n");
}

int cmd_cache(int argc, char **argv)
{
	uint8_t addr[16];
	uint32_t plen;
	int fd, n, i, j;

	/* -j after the subcommand too, as `bindings -j` and `stats -j` take it */
	for (i = j = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-j"))
			mpc_g.json = true;
		else
			argv[j++] = argv[i];
	}
	if (argc > 2)
		argc = j;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		cache_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	fd = mpc_pinned_map(mpc_g.pin_path, "mpc_fb_cache");
	if (fd < 0) {
		mpc_err("no fallback cache pinned in %s (is a daemon running there?)",
			mpc_g.pin_path);
		return 1;
	}
	if (!strcmp(argv[1], "show") || !strcmp(argv[1], "list")) {
		n = cache_show(fd);
	} else if (!strcmp(argv[1], "flush")) {
		if (argc > 2) {
			if (mpc_parse_prefix(argv[2], addr, &plen) || (plen != 128)) {
				mpc_err("cache flush: '%s' is not an address", argv[2]);
				close(fd);
				return 2;
			}
			n = mpc_fb_flush(fd, addr);
		} else {
			n = mpc_fb_flush(fd, NULL);
		}
		if (mpc_g.json)
			printf("{\"flushed\":%d}\n", n < 0 ? 0 : n);
		else
			printf("flushed %d entr%s\n", n < 0 ? 0 : n, n == 1 ? "y" : "ies");
		n = 0;
	} else {
		cache_usage(stderr);
		n = 2;
	}
	close(fd);
	return n;
}
