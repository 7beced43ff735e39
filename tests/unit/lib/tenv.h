/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Test environment helpers for BPF unit tests: a private bpffs pin
 * directory, a private network namespace entered by the test process
 * itself (BPF_PROG_TEST_RUN and socket lookups run in the caller's netns),
 * links, addresses, policy routing and TAP devices set up with netlink and
 * ioctls (no external tools), and mpc_stats readers.
 *
 * Everything returns 0 or -errno. Nothing here touches the root netns
 * beyond mounting bpffs at /sys/fs/bpf when nothing is mounted there.
 */
#ifndef MPC_TEST_TENV_H
#define MPC_TEST_TENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpconv/maps.h>

/* Make a fresh pin directory /sys/fs/bpf/mpc-unit-XXXXXX (mounting bpffs
 * at /sys/fs/bpf first if needed); path receives it (cap >= 64). */
int tenv_pin_dir_make(char *path, size_t cap);
/* Unlink every pin in the directory, then remove it. */
void tenv_pin_dir_remove(const char *path);

/* Enter a new, empty network namespace with lo up; remember the old one.
 * Leave it again with tenv_netns_leave(): the namespace disappears with
 * the last socket and device that holds it. */
struct tenv_netns {
	int orig_fd;
	bool active;
};
int tenv_netns_enter(struct tenv_netns *ns);
int tenv_netns_leave(struct tenv_netns *ns);

/* Set a link up (IFF_UP | extra, e.g. IFF_NOARP). */
int tenv_link_up(const char *ifname, unsigned int extra_flags);
/* Add an address ("192.0.2.1" or "2001:db8::1") with prefix length; IPv6
 * addresses are added without duplicate address detection. */
int tenv_addr_add(const char *ifname, const char *addr, int plen);
/* `ip rule add fwmark MARK lookup TABLE` for a family. */
int tenv_rule_fwmark(int family, uint32_t mark, uint32_t table);
/* `ip route add local default dev lo table TABLE` for a family. */
int tenv_route_local_default(int family, uint32_t table);
/* Create a TAP device (IFF_TAP | IFF_NO_PI | extra) and return its fd. */
int tenv_tap_open(const char *ifname, int extra_flags);
/* Switch generic receive offload off (so the stack sees frames as built). */
int tenv_gro_off(const char *ifname);
/* The interface's MAC address. */
int tenv_if_mac(const char *ifname, uint8_t mac[6]);

/* Sum mpc_stats over CPUs: out[r] for r < n (n <= MPC_R_MAX). */
int tenv_stats_read(int map_fd, struct mpc_stat *out, unsigned int n);

/* CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns(). */
uint64_t tenv_now_ns(void);

#endif /* MPC_TEST_TENV_H */
