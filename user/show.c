// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Inspection commands: bindings, stats, status. They read the pinned maps
 * of a daemon instance (--pin-path), so they work from any process and
 * show the same thing bpftool does, by name.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <mpconv/maps.h>

#include "addr.h"
#include "cmds.h"
#include "log.h"
#include "loop.h"
#include "reasons.h"
#include "state.h"

static const char *const dcounter_names[MPC_D_MAX] = {
	[MPC_D_ACCEPTED] = "accepted",
	[MPC_D_RELAYED] = "relayed",
	[MPC_D_CLOSED] = "closed",
	[MPC_D_RESET] = "reset",
	[MPC_D_CV_TIMEOUT] = "convert_timeout",
	[MPC_D_CV_TRUNC] = "convert_truncated",
	[MPC_D_CV_RESET] = "convert_reset",
	[MPC_D_ERR_TX_VERSION] = "err_tx_unsupported_version",
	[MPC_D_ERR_TX_MALFORMED] = "err_tx_malformed",
	[MPC_D_ERR_TX_UNSUPP] = "err_tx_unsupported_message",
	[MPC_D_ERR_TX_NOAUTH] = "err_tx_not_authorized",
	[MPC_D_ERR_TX_TCPOPT] = "err_tx_unsupported_tcp_option",
	[MPC_D_ERR_TX_RESOURCE] = "err_tx_resource_exceeded",
	[MPC_D_ERR_TX_NETWORK] = "err_tx_network_failure",
	[MPC_D_ERR_TX_CONNRESET] = "err_tx_connection_reset",
	[MPC_D_ERR_TX_UNREACH] = "err_tx_destination_unreachable",
	[MPC_D_ERR_RX] = "err_rx",
	[MPC_D_BAD_REPLY] = "bad_reply",
	[MPC_D_INFO] = "info_answered",
	[MPC_D_EMFILE] = "out_of_fds",
	[MPC_D_ENOMEM] = "out_of_memory",
	[MPC_D_CONN_LIMIT] = "conn_limit",
	[MPC_D_DOWN_MPTCP] = "server_mptcp",
	[MPC_D_DOWN_TCP] = "server_tcp",
	[MPC_D_FB_INSERT] = "fallback_cache_insert",
	[MPC_D_FB_HIT] = "fallback_cache_hit",
	[MPC_D_FB_EXPIRED] = "fallback_cache_expired",
	[MPC_D_MAP_FULL] = "binding_map_full",
	[MPC_D_SYNACK_EXACT] = "synack_opts_exact",
	[MPC_D_SYNACK_APPROX] = "synack_opts_approx",
	[MPC_D_LINK_DOWN] = "wan_link_down",
	[MPC_D_LINK_UP] = "wan_link_restored",
	[MPC_D_FIN_HELD] = "fin_held_for_subflows",
	[MPC_D_FIN_HOLD_EXPIRED] = "fin_hold_expired",
	[MPC_D_FLUSHES] = "counter_flushes",
};
_Static_assert(sizeof(dcounter_names) / sizeof(dcounter_names[0]) == MPC_D_MAX,
	       "a name for every daemon counter");

const char *mpc_dcounter_name(unsigned int c)
{
	return c < MPC_D_MAX && dcounter_names[c] ? dcounter_names[c] : "unknown";
}

static int open_map(const char *name)
{
	int fd = mpc_pinned_map(mpc_g.pin_path, name);

	if (fd < 0)
		mpc_err("no %s pinned in %s: is an mpconv daemon running with this --pin-path?",
			name, mpc_g.pin_path);
	return fd;
}

static const char *role_name(uint8_t r)
{
	return r == MPC_ROLE_CONC ? "concentrator" : r == MPC_ROLE_CPE ? "cpe" : "none";
}

static const char *mode_name(uint8_t m)
{
	return m == MPC_MODE_IMPLICIT ? "implicit" : m == MPC_MODE_DIRECT ? "direct" : "explicit";
}

static void flags_str(uint16_t f, char *buf, size_t len)
{
	static const char *const names[] = { "up_mptcp", "down_mptcp",	"down_cached", "implicit",
					     "direct",	 "established", "lan_mptcp" };
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & (1u << i))
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "," : "",
				      names[i]);
	if (!n)
		snprintf(buf, len, "-");
}

/* ---- bindings ------------------------------------------------------ */

int cmd_bindings(int argc, char **argv)
{
	struct mpc_bind_key k, next, *prev = NULL;
	uint64_t now = mpc_now_ns();
	int fd, n = 0;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: mpconv [--pin-path DIR] [-j] bindings\n");
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "-j"))
		mpc_g.json = true;
	fd = open_map("mpc_binds");
	if (fd < 0)
		return 1;
	if (mpc_g.json)
		printf("[");
	else
		printf("%-20s %-4s %-46s %-46s %3s %12s %12s %7s %s\n", "id", "role", "client",
		       "server", "sf", "bytes_up", "bytes_down", "age_s", "flags");
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		char cl[MPC_ADDRSTRLEN], sv[MPC_ADDRSTRLEN], ca[MPC_ADDRSTRLEN], sa[MPC_ADDRSTRLEN];
		char fl[128];
		struct mpc_bind b;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &b))
			continue;
		mpc_addr16_str(b.client_addr, ca);
		mpc_addr16_str(b.server_addr, sa);
		snprintf(cl, sizeof(cl), mpc_addr16_is_v4(b.client_addr) ? "%s:%u" : "[%s]:%u", ca,
			 b.client_port);
		snprintf(sv, sizeof(sv), mpc_addr16_is_v4(b.server_addr) ? "%s:%u" : "[%s]:%u", sa,
			 b.server_port);
		flags_str(b.flags, fl, sizeof(fl));
		if (mpc_g.json)
			printf("%s{\"id\":%llu,\"role\":\"%s\",\"client\":\"%s\",\"client_port\":%u,"
			       "\"server\":\"%s\",\"server_port\":%u,\"token\":%u,\"subflows\":%u,"
			       "\"bytes_up\":%llu,\"bytes_down\":%llu,\"age_ms\":%llu,"
			       "\"idle_ms\":%llu,\"flags\":\"%s\"}",
			       n ? "," : "", (unsigned long long)k.cookie, role_name(b.role), ca,
			       b.client_port, sa, b.server_port, b.token, b.subflows,
			       (unsigned long long)b.bytes_up, (unsigned long long)b.bytes_down,
			       (unsigned long long)((now - b.start_ns) / 1000000),
			       (unsigned long long)((now - b.last_ns) / 1000000), fl);
		else
			printf("%-20llu %-4s %-46s %-46s %3u %12llu %12llu %7llu %s\n",
			       (unsigned long long)k.cookie,
			       b.role == MPC_ROLE_CPE ? "cpe" : "conc", cl, sv, b.subflows,
			       (unsigned long long)b.bytes_up, (unsigned long long)b.bytes_down,
			       (unsigned long long)((now - b.start_ns) / 1000000000ull), fl);
		n++;
	}
	if (mpc_g.json)
		printf("]\n");
	close(fd);
	return 0;
}

/* ---- stats ---------------------------------------------------------- */

static int ncpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

/* Sum the per-CPU counters of every reason; returns 0 or -errno. */
static int read_reasons(struct mpc_stat *sum)
{
	int fd = open_map("mpc_stats"), n = ncpus();
	struct mpc_stat *pc;
	uint32_t r;
	int i;

	if (fd < 0)
		return -ENOENT;
	pc = calloc(n, sizeof(*pc));
	if (!pc) {
		close(fd);
		return -ENOMEM;
	}
	for (r = 0; r < MPC_R_MAX; r++) {
		sum[r].packets = sum[r].bytes = 0;
		if (bpf_map_lookup_elem(fd, &r, pc))
			continue;
		for (i = 0; i < n; i++) {
			sum[r].packets += pc[i].packets;
			sum[r].bytes += pc[i].bytes;
		}
	}
	free(pc);
	close(fd);
	return 0;
}

static int read_dstats(uint64_t *d)
{
	int fd = mpc_pinned_map(mpc_g.pin_path, "mpc_dstats");
	uint32_t i;

	memset(d, 0, sizeof(uint64_t) * MPC_D_MAX);
	if (fd < 0)
		return -ENOENT;
	for (i = 0; i < MPC_D_MAX; i++) {
		struct mpc_dstat v;

		if (!bpf_map_lookup_elem(fd, &i, &v))
			d[i] = v.value;
	}
	close(fd);
	return 0;
}

static void print_counters(bool all, const char *indent)
{
	struct mpc_stat sum[MPC_R_MAX];
	uint64_t d[MPC_D_MAX];
	bool first = true;
	unsigned int i;

	if (read_reasons(sum))
		memset(sum, 0, sizeof(sum));
	read_dstats(d);
	if (mpc_g.json) {
		printf("\"bpf\":{");
		for (i = 1; i < MPC_R_MAX; i++) {
			if (!all && !sum[i].packets)
				continue;
			printf("%s\"%s\":{\"packets\":%llu,\"bytes\":%llu}", first ? "" : ",",
			       mpc_reason_name(i), (unsigned long long)sum[i].packets,
			       (unsigned long long)sum[i].bytes);
			first = false;
		}
		printf("},\"daemon\":{");
		first = true;
		for (i = 0; i < MPC_D_MAX; i++) {
			if (!all && !d[i])
				continue;
			printf("%s\"%s\":%llu", first ? "" : ",", mpc_dcounter_name(i),
			       (unsigned long long)d[i]);
			first = false;
		}
		printf("}");
		return;
	}
	printf("%sBPF verdicts (reason: packets bytes):\n", indent);
	for (i = 1; i < MPC_R_MAX; i++)
		if (all || sum[i].packets)
			printf("%s  %-24s %12llu %14llu\n", indent, mpc_reason_name(i),
			       (unsigned long long)sum[i].packets,
			       (unsigned long long)sum[i].bytes);
	printf("%sDaemon events:\n", indent);
	for (i = 0; i < MPC_D_MAX; i++)
		if (all || d[i])
			printf("%s  %-32s %12llu\n", indent, mpc_dcounter_name(i),
			       (unsigned long long)d[i]);
}

int cmd_stats(int argc, char **argv)
{
	bool all = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all"))
			all = true;
		else if (!strcmp(argv[i], "-j"))
			mpc_g.json = true;
		else {
			printf("Usage: mpconv [--pin-path DIR] [-j] stats [-a|--all]\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	{
		int fd = open_map("mpc_stats");

		if (fd < 0)
			return 1;
		close(fd);
	}
	if (mpc_g.json)
		printf("{");
	print_counters(all, "");
	if (mpc_g.json)
		printf("}\n");
	return 0;
}

/* ---- status --------------------------------------------------------- */

static const char *const prog_names[] = { "tc_lan", "tc_wan", "tc_pickup", "xdp_guard", "sockops" };

int cmd_status(int argc, char **argv)
{
	struct mpc_info info;
	uint32_t k = 0, i;
	int fd, lfd, n_binds = 0;
	bool alive;
	char a[MPC_ADDRSTRLEN], ifn[IF_NAMESIZE];

	if (argc > 1 && !strcmp(argv[1], "-j"))
		mpc_g.json = true;
	else if (argc > 1) {
		printf("Usage: mpconv [--pin-path DIR] [-j] status\n");
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	fd = open_map("mpc_info");
	if (fd < 0)
		return 1;
	if (bpf_map_lookup_elem(fd, &k, &info)) {
		close(fd);
		mpc_err("cannot read mpc_info: %s", strerror(errno));
		return 1;
	}
	close(fd);
	alive = info.pid && !kill(info.pid, 0);
	{
		struct mpc_bind_key bk, nk, *prev = NULL;
		int bfd = mpc_pinned_map(mpc_g.pin_path, "mpc_binds");

		while (bfd >= 0 && !bpf_map_get_next_key(bfd, prev, &nk)) {
			bk = nk;
			prev = &bk;
			n_binds++;
		}
		if (bfd >= 0)
			close(bfd);
	}
	mpc_addr16_str(info.conc_addr, a);
	/* the name as the daemon saw it: ifindexes belong to its netns */
	snprintf(ifn, sizeof(ifn), "%.15s", info.lan_name[0] ? (char *)info.lan_name : "-");

	if (mpc_g.json) {
		printf("{\"role\":\"%s\",\"pid\":%u,\"running\":%s,\"mode\":\"%s\","
		       "\"lan\":\"%s\",\"%s\":\"%s\",\"%s_port\":%u,\"proxy_port\":%u,"
		       "\"bindings\":%d,\"programs\":[",
		       role_name(info.role), info.pid, alive ? "true" : "false",
		       mode_name(info.mode), ifn,
		       info.role == MPC_ROLE_CPE ? "concentrator" : "listen", a,
		       info.role == MPC_ROLE_CPE ? "concentrator" : "listen", info.conc_port,
		       info.proxy_port, n_binds);
		for (i = 0; i < sizeof(prog_names) / sizeof(prog_names[0]); i++)
			if (info.attach_mask & (1ull << i))
				printf("%s\"%s\"",
				       (info.attach_mask & ((1ull << i) - 1)) ? "," : "",
				       prog_names[i]);
		printf("],\"links\":[");
	} else {
		printf("role:        %s (pid %u, %s)\n", role_name(info.role), info.pid,
		       alive ? "running" : "NOT running");
		if (info.role == MPC_ROLE_CPE) {
			printf("mode:        %s\n", mode_name(info.mode));
			printf("lan:         %s (proxy port %u)\n", ifn, info.proxy_port);
			printf("concentrator: %s port %u\n", a, info.conc_port);
		} else {
			printf("listen:      %s port %u\n", a, info.conc_port);
		}
		printf("bindings:    %d\n", n_binds);
		printf("programs:   ");
		for (i = 0; i < sizeof(prog_names) / sizeof(prog_names[0]); i++)
			if (info.attach_mask & (1ull << i))
				printf(" %s", prog_names[i]);
		printf("%s\n", info.attach_mask ? "" : " none");
		if (info.n_links)
			printf("WAN links:\n  %-12s %-5s %-16s %-28s %8s %14s %14s %6s\n",
			       "interface", "state", "ipv4", "ipv6", "subflows", "bytes_tx",
			       "bytes_rx", "downs");
	}
	lfd = mpc_pinned_map(mpc_g.pin_path, "mpc_links");
	for (i = 0; lfd >= 0 && i < info.n_links && i < MPC_MAX_LINKS; i++) {
		char a4[MPC_ADDRSTRLEN] = "-", a6[MPC_ADDRSTRLEN] = "-";
		static const uint8_t zero[16];
		struct mpc_link l;

		if (bpf_map_lookup_elem(lfd, &i, &l))
			continue;
		if (memcmp(l.addr4, zero, 16))
			mpc_addr16_str(l.addr4, a4);
		if (memcmp(l.addr6, zero, 16))
			mpc_addr16_str(l.addr6, a6);
		if (mpc_g.json)
			printf("%s{\"interface\":\"%.16s\",\"ifindex\":%u,\"up\":%s,"
			       "\"ipv4\":\"%s\",\"ipv6\":\"%s\",\"subflows\":%u,\"bytes_tx\":%llu,"
			       "\"bytes_rx\":%llu,\"downs\":%u}",
			       i ? "," : "", (char *)l.name, l.ifindex, l.up ? "true" : "false", a4,
			       a6, l.subflows, (unsigned long long)l.bytes_tx,
			       (unsigned long long)l.bytes_rx, l.downs);
		else
			printf("  %-12.16s %-5s %-16s %-28s %8u %14llu %14llu %6u\n",
			       (char *)l.name, l.up ? "up" : "down", a4, a6, l.subflows,
			       (unsigned long long)l.bytes_tx, (unsigned long long)l.bytes_rx,
			       l.downs);
	}
	if (lfd >= 0)
		close(lfd);
	if (mpc_g.json) {
		printf("],\"counters\":{");
		print_counters(false, "");
		printf("}}\n");
	} else {
		print_counters(false, "");
	}
	return alive ? 0 : 3;
}
