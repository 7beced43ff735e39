// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The MPTCP fallback cache (user/fbcache.c) against the real pinned map:
 * every subtest opens the daemon's state with mpc_state_open() in a fresh
 * pin directory, exactly as a daemon does, so mpc_fb_cache is the LRU hash
 * of bpf/maps.bpf.h with its BTF. Covered: insertion (first-seen time kept
 * on re-insert), lookup (hits, last use, expiry counted from first_ns and
 * the expired entry deleted, TTL 0 = never), the sweep (only expired
 * entries, across more than one deletion batch), flush of one or all, and
 * the entry outliving the daemon's own pins.
 *
 * The last subtest checks the contract between the daemon and the LAN
 * classifier: an entry written by mpc_fb_insert() for an IPv4 or IPv6
 * destination makes tc_lan (loaded on the same pins, direct-mode rodata)
 * pass that destination's SYN with reason MPC_R_LAN_CACHE, the program's
 * hit is visible to mpc_fb_lookup(), and once the daemon flushes or ages the
 * entry the SYN is no longer shortcut. (Per-case classifier verdicts are in
 * tests/unit/tc_lan.c; this file only checks the two sides agree.)
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>

#include "test.h"
#include "fbcache.h"
#include "loop.h"
#include "state.h"
#include "tc_lan.skel.h"

#define SEC_NS 1000000000ull
#define TTL_NS (60 * SEC_NS)

static char pin_dir[64];

static bool state_open(struct mpc_state *st)
{
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/mpc-unit-fbcache-%d", getpid());
	return ASSERT_OK(mpc_state_open(st, pin_dir, NULL), "mpc_state_open");
}

/* the daemon's own close, then what it leaves on purpose: the cache pin
 * (the directory must then be empty: rmdir fails on anything else left) */
static void state_close(struct mpc_state *st)
{
	char path[128];

	mpc_state_close(st);
	snprintf(path, sizeof(path), "%s/mpc_fb_cache", pin_dir);
	unlink(path);
	ASSERT_OK(rmdir(pin_dir) ? -errno : 0, "nothing else left pinned");
}

/* a.b.c.d or v6 text -> the 16-byte key form (IPv4-mapped for IPv4) */
static void addr16(const char *s, uint8_t a[16])
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET6, s, a) == 1)
		return;
	a[10] = a[11] = 0xff;
	inet_pton(AF_INET, s, a + 12);
}

/* write an entry with chosen times, bypassing mpc_fb_insert() */
static int put_raw(int fd, const uint8_t a[16], uint64_t first_ns, uint64_t last_ns)
{
	struct mpc_fb_entry e = { .reason = MPC_FB_SYN_DROPPED,
				  .first_ns = first_ns,
				  .last_ns = last_ns };
	struct mpc_fb_key k;

	memcpy(k.addr, a, 16);
	return bpf_map_update_elem(fd, &k, &e, BPF_ANY);
}

static bool present(int fd, const uint8_t a[16], struct mpc_fb_entry *e)
{
	struct mpc_fb_entry tmp;
	struct mpc_fb_key k;

	memcpy(k.addr, a, 16);
	return !bpf_map_lookup_elem(fd, &k, e ? e : &tmp);
}

static int count_entries(int fd)
{
	struct mpc_fb_key k, next, *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static void subtest_insert_lookup(int fd)
{
	struct mpc_fb_entry e, e2;
	uint8_t a[16], other[16];
	uint64_t t0, t1;

	addr16("203.0.113.2", a);
	addr16("203.0.113.3", other);
	t0 = mpc_now_ns();
	if (!ASSERT_OK(mpc_fb_insert(fd, a, MPC_FB_SYN_DROPPED), "insert"))
		return;
	t1 = mpc_now_ns();
	if (!ASSERT_TRUE(present(fd, a, &e), "entry in the map"))
		return;
	ASSERT_EQ(e.reason, MPC_FB_SYN_DROPPED, "reason");
	ASSERT_TRUE(e.first_ns >= t0 && e.first_ns <= t1, "first_ns is the insertion time");
	ASSERT_EQ(e.last_ns, e.first_ns, "last_ns starts at first_ns");
	ASSERT_EQ(e.hits, 0, "no hit yet");

	ASSERT_EQ(mpc_fb_lookup(fd, a, TTL_NS, &e2), 1, "lookup hits");
	ASSERT_EQ(e2.hits, 1, "lookup returns the counted hit");
	ASSERT_EQ(e2.first_ns, e.first_ns, "first_ns unchanged by a hit");
	ASSERT_TRUE(e2.last_ns >= e.last_ns, "last_ns moves with a hit");
	ASSERT_EQ(mpc_fb_lookup(fd, a, TTL_NS, NULL), 1, "lookup without out");
	ASSERT_TRUE(present(fd, a, &e2), "still there");
	ASSERT_EQ(e2.hits, 2, "hits stored in the map");

	ASSERT_EQ(mpc_fb_lookup(fd, other, TTL_NS, NULL), 0, "other address misses");
	ASSERT_FALSE(present(fd, other, NULL), "a miss creates nothing");
	ASSERT_EQ(mpc_fb_lookup(-1, a, TTL_NS, NULL), 0, "no map: never cached");
	ASSERT_EQ(mpc_fb_insert(-1, a, MPC_FB_NO_MPC), -EBADF, "no map: insert refused");

	/* IPv6 and the IPv4-mapped twin of an IPv4 address are distinct keys */
	addr16("2001:db8:2::2", other);
	ASSERT_OK(mpc_fb_insert(fd, other, MPC_FB_NO_MPC), "insert v6");
	ASSERT_EQ(mpc_fb_lookup(fd, other, TTL_NS, &e2), 1, "v6 hit");
	ASSERT_EQ(e2.reason, MPC_FB_NO_MPC, "v6 reason");
	ASSERT_EQ(count_entries(fd), 2, "two entries");
}

static void subtest_reinsert(int fd)
{
	struct mpc_fb_entry e;
	uint8_t a[16];
	uint64_t first = mpc_now_ns() - 5 * SEC_NS;

	addr16("2001:db8:2::9", a);
	/* an entry five seconds old with three hits, then inserted again
	 * (two connections that both tried MPTCP before it was cached) */
	ASSERT_OK(put_raw(fd, a, first, first), "old entry");
	ASSERT_EQ(mpc_fb_lookup(fd, a, TTL_NS, NULL), 1, "hit 1");
	ASSERT_EQ(mpc_fb_lookup(fd, a, TTL_NS, NULL), 1, "hit 2");
	ASSERT_EQ(mpc_fb_lookup(fd, a, TTL_NS, NULL), 1, "hit 3");
	ASSERT_OK(mpc_fb_insert(fd, a, MPC_FB_NO_MPC), "re-insert");
	if (!ASSERT_TRUE(present(fd, a, &e), "present"))
		return;
	ASSERT_EQ(e.first_ns, first, "first_ns kept: the TTL still runs from the first failure");
	ASSERT_EQ(e.reason, MPC_FB_NO_MPC, "reason is the latest");
	ASSERT_EQ(e.hits, 3, "hits kept");
	/* a difference, not a comparison: in a VM booted less than five
	 * seconds ago `first` wrapped below zero (as the daemon's and the
	 * program's unsigned age arithmetic allows) */
	ASSERT_TRUE(e.last_ns - first >= 5 * SEC_NS, "last_ns refreshed");
}

static void subtest_expiry(int fd)
{
	uint64_t now = mpc_now_ns();
	uint8_t old[16], young[16], busy[16];

	addr16("198.51.100.200", old);
	addr16("198.51.100.201", young);
	addr16("198.51.100.202", busy);
	ASSERT_OK(put_raw(fd, old, now - 2 * TTL_NS, now - 2 * TTL_NS), "old");
	ASSERT_OK(put_raw(fd, young, now - TTL_NS / 2, now - TTL_NS / 2), "young");
	/* learnt long ago but used a moment ago: still expires (re-probed
	 * once per TTL however busy, nam-01 §5.6.1) */
	ASSERT_OK(put_raw(fd, busy, now - 2 * TTL_NS, now), "busy");

	ASSERT_EQ(mpc_fb_lookup(fd, old, TTL_NS, NULL), 0, "expired entry misses");
	ASSERT_FALSE(present(fd, old, NULL), "expired entry deleted by the lookup");
	ASSERT_EQ(mpc_fb_lookup(fd, young, TTL_NS, NULL), 1, "entry within its TTL hits");
	ASSERT_EQ(mpc_fb_lookup(fd, busy, TTL_NS, NULL), 0,
		  "TTL counts from first_ns, not last use");

	ASSERT_OK(put_raw(fd, old, 1, 1), "ancient");
	ASSERT_EQ(mpc_fb_lookup(fd, old, 0, NULL), 1, "TTL 0: never expires");
}

static void subtest_sweep(int fd)
{
	uint64_t now = mpc_now_ns();
	struct mpc_fb_key k, next, *prev = NULL;
	int i, bad = 0, n;
	uint8_t a[16];

	/* 700 entries: more than two of the sweep's 256-key batches are
	 * expired, interleaved with live ones in hash order */
	for (i = 0; i < 700; i++) {
		addr16("2001:db8:5::", a);
		a[14] = i >> 8;
		a[15] = i & 0xff;
		if (put_raw(fd, a, i % 7 < 4 ? now - 2 * TTL_NS : now - TTL_NS / 2, now)) {
			ASSERT_OK(-errno, "fill");
			return;
		}
	}
	ASSERT_EQ(count_entries(fd), 700, "filled");
	ASSERT_EQ(mpc_fb_sweep(fd, 0), 0, "TTL 0: nothing swept");
	ASSERT_EQ(mpc_fb_sweep(-1, TTL_NS), 0, "no map: nothing swept");
	n = mpc_fb_sweep(fd, TTL_NS);
	ASSERT_EQ(n, 400, "expired entries swept");
	ASSERT_EQ(count_entries(fd), 300, "live entries left");
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct mpc_fb_entry e;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &e) || now - e.first_ns > TTL_NS)
			bad++;
	}
	ASSERT_EQ(bad, 0, "only live entries left");
	ASSERT_EQ(mpc_fb_sweep(fd, TTL_NS), 0, "second sweep finds nothing");
}

static void subtest_flush(int fd)
{
	uint8_t a[16], b[16], c[16];

	addr16("203.0.113.20", a);
	addr16("203.0.113.21", b);
	addr16("2001:db8:2::21", c);
	ASSERT_OK(mpc_fb_insert(fd, a, MPC_FB_SYN_DROPPED), "a");
	ASSERT_OK(mpc_fb_insert(fd, b, MPC_FB_SYN_DROPPED), "b");
	ASSERT_OK(mpc_fb_insert(fd, c, MPC_FB_NO_MPC), "c");
	ASSERT_EQ(mpc_fb_flush(fd, a), 1, "flush one");
	ASSERT_FALSE(present(fd, a, NULL), "gone");
	ASSERT_TRUE(present(fd, b, NULL) && present(fd, c, NULL), "the others stay");
	ASSERT_EQ(mpc_fb_flush(fd, a), 0, "flushing an absent entry");
	ASSERT_EQ(mpc_fb_flush(fd, NULL), 2, "flush all");
	ASSERT_EQ(count_entries(fd), 0, "empty");
	ASSERT_EQ(mpc_fb_flush(-1, NULL), -EBADF, "no map");
}

static void subtest_names(void)
{
	ASSERT_TRUE(!strcmp(mpc_fb_reason_name(MPC_FB_SYN_DROPPED), "syn_dropped"), "1");
	ASSERT_TRUE(!strcmp(mpc_fb_reason_name(MPC_FB_NO_MPC), "no_mp_capable"), "2");
	ASSERT_TRUE(!strcmp(mpc_fb_reason_name(0), "unknown"), "0");
	ASSERT_TRUE(!strcmp(mpc_fb_reason_name(200), "unknown"), "200");
}

/* the cache outlives the daemon's other pins (a restart keeps what was
 * learnt: the entries carry their own TTL) */
static void subtest_survives_restart(struct mpc_state *st)
{
	struct mpc_fb_entry e;
	uint8_t a[16];
	int fd;

	addr16("203.0.113.30", a);
	ASSERT_OK(mpc_fb_insert(st->fb_fd, a, MPC_FB_SYN_DROPPED), "insert");
	mpc_state_close(st);
	fd = mpc_pinned_map(pin_dir, "mpc_fb_cache");
	ASSERT_TRUE(fd >= 0, "cache still pinned after close");
	ASSERT_TRUE(mpc_pinned_map(pin_dir, "mpc_binds") < 0, "the daemon's own pins are gone");
	if (fd >= 0)
		close(fd);
	if (!ASSERT_OK(mpc_state_open(st, pin_dir, NULL), "reopen"))
		return;
	ASSERT_TRUE(present(st->fb_fd, a, &e), "entry back after reopen");
	ASSERT_EQ(e.reason, MPC_FB_SYN_DROPPED, "with its reason");
}

/* ---- daemon <-> classifier ------------------------------------------- */

/* an Ethernet + IP + TCP SYN from a LAN host to dst:80 */
static size_t build_syn(uint8_t *buf, const char *dst)
{
	struct tcphdr *th;
	size_t l3;

	memset(buf, 0, 128);
	memset(buf, 0x02, 12); /* locally administered MACs */
	if (strchr(dst, ':')) {
		struct ipv6hdr *ip6 = (void *)(buf + ETH_HLEN);

		*(uint16_t *)(buf + 12) = htons(ETH_P_IPV6);
		ip6->version = 6;
		ip6->payload_len = htons(sizeof(*th));
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
		inet_pton(AF_INET6, "2001:db8:1::2", &ip6->saddr);
		inet_pton(AF_INET6, dst, &ip6->daddr);
		l3 = sizeof(*ip6);
	} else {
		struct iphdr *ip = (void *)(buf + ETH_HLEN);

		*(uint16_t *)(buf + 12) = htons(ETH_P_IP);
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(sizeof(*ip) + sizeof(*th));
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		inet_pton(AF_INET, "192.0.2.2", &ip->saddr);
		inet_pton(AF_INET, dst, &ip->daddr);
		l3 = sizeof(*ip);
	}
	th = (void *)(buf + ETH_HLEN + l3);
	th->source = htons(40000);
	th->dest = htons(80);
	th->seq = htonl(1);
	th->doff = 5;
	th->syn = 1;
	th->window = htons(64240);
	return ETH_HLEN + l3 + sizeof(*th);
}

static uint64_t verdicts(int stats_fd, uint32_t reason)
{
	int n = libbpf_num_possible_cpus(), i;
	struct mpc_stat *pc = calloc(n > 0 ? n : 1, sizeof(*pc));
	uint64_t sum = 0;

	if (pc && !bpf_map_lookup_elem(stats_fd, &reason, pc))
		for (i = 0; i < n; i++)
			sum += pc[i].packets;
	free(pc);
	return sum;
}

/* run the classifier on a SYN to dst; returns the reason it counted */
static int classify(struct tc_lan_bpf *skel, int stats_fd, const char *dst)
{
	uint8_t pkt[128];
	uint64_t before[MPC_R_MAX];
	uint32_t r;
	int found = -1;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .repeat = 1);

	o.data_size_in = build_syn(pkt, dst);
	for (r = 0; r < MPC_R_MAX; r++)
		before[r] = verdicts(stats_fd, r);
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.mpc_tc_lan), &o))
		return -errno;
	if (o.retval != TC_ACT_OK)
		return -EPROTO; /* the classifier never drops */
	for (r = 0; r < MPC_R_MAX; r++) {
		uint64_t d = verdicts(stats_fd, r) - before[r];

		if (d > 1 || (d == 1 && found >= 0))
			return -EMLINK; /* exactly one verdict per packet */
		if (d == 1)
			found = r;
	}
	return found;
}

static void subtest_classifier(struct mpc_state *st)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = st->pin_dir);
	static const char *const dsts[] = { "203.0.113.40", "2001:db8:2::40" };
	struct tc_lan_bpf *skel;
	struct mpc_fb_entry e;
	uint8_t a[16];
	size_t i;

	skel = tc_lan_bpf__open_opts(&oo);
	if (!ASSERT_OK_PTR(skel, "open tc_lan"))
		return;
	/* direct mode, as cpe.c loads it; the listener port is one nobody
	 * listens on, so a SYN that is not shortcut ends in a listener verdict */
	skel->rodata->mpc_fb_shortcut = 1;
	skel->rodata->mpc_fb_ttl_ns = TTL_NS;
	skel->rodata->mpc_lst_port = 1;
	skel->rodata->mpc_lst_addr4 = htonl(INADDR_LOOPBACK);
	skel->rodata->mpc_local_mark = 0x6d70;
	if (!ASSERT_OK(tc_lan_bpf__load(skel), "load tc_lan on the daemon's pins"))
		goto out;

	for (i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++) {
		int r;

		addr16(dsts[i], a);
		r = classify(skel, st->stats_fd, dsts[i]);
		ASSERT_TRUE(r >= 0 && r != MPC_R_LAN_CACHE, "not cached: not shortcut");

		ASSERT_OK(mpc_fb_insert(st->fb_fd, a, MPC_FB_SYN_DROPPED), "daemon caches it");
		ASSERT_EQ(classify(skel, st->stats_fd, dsts[i]), MPC_R_LAN_CACHE,
			  "cached by the daemon: the classifier shortcuts it");
		ASSERT_EQ(classify(skel, st->stats_fd, dsts[i]), MPC_R_LAN_CACHE, "again");
		ASSERT_EQ(mpc_fb_lookup(st->fb_fd, a, TTL_NS, &e), 1, "daemon still finds it");
		ASSERT_EQ(e.hits, 3, "the classifier's two hits + this lookup");

		ASSERT_EQ(mpc_fb_flush(st->fb_fd, a), 1, "daemon flushes it");
		r = classify(skel, st->stats_fd, dsts[i]);
		ASSERT_TRUE(r >= 0 && r != MPC_R_LAN_CACHE, "flushed: intercepted again");

		/* learnt more than a TTL ago: the program ignores it even
		 * before the daemon's sweep, and the sweep then removes it */
		ASSERT_OK(put_raw(st->fb_fd, a, mpc_now_ns() - 2 * TTL_NS, mpc_now_ns()), "aged");
		r = classify(skel, st->stats_fd, dsts[i]);
		ASSERT_TRUE(r >= 0 && r != MPC_R_LAN_CACHE, "expired: intercepted again");
		ASSERT_EQ(mpc_fb_sweep(st->fb_fd, TTL_NS), 1, "swept");
	}
out:
	tc_lan_bpf__destroy(skel);
}

void test_fbcache(void)
{
	struct mpc_state st;

	if (geteuid()) {
		test__skip("needs root for BPF maps");
		return;
	}
	if (!state_open(&st))
		return;
	if (test__start_subtest("insert_lookup"))
		subtest_insert_lookup(st.fb_fd);
	mpc_fb_flush(st.fb_fd, NULL);
	if (test__start_subtest("reinsert_keeps_first_seen"))
		subtest_reinsert(st.fb_fd);
	mpc_fb_flush(st.fb_fd, NULL);
	if (test__start_subtest("expiry_at_lookup"))
		subtest_expiry(st.fb_fd);
	mpc_fb_flush(st.fb_fd, NULL);
	if (test__start_subtest("sweep"))
		subtest_sweep(st.fb_fd);
	mpc_fb_flush(st.fb_fd, NULL);
	if (test__start_subtest("flush"))
		subtest_flush(st.fb_fd);
	if (test__start_subtest("reason_names"))
		subtest_names();
	mpc_fb_flush(st.fb_fd, NULL);
	if (test__start_subtest("survives_daemon_restart"))
		subtest_survives_restart(&st);
	mpc_fb_flush(st.fb_fd, NULL);
	if (test__start_subtest("classifier_shortcut_agrees"))
		subtest_classifier(&st);
	state_close(&st);
}
