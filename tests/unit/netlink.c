// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * user/nl*.c against the real kernel. Every subtest runs in a fresh network
 * namespace (unshare(CLONE_NEWNET) in this thread, back to the original with
 * setns), builds its interfaces with `ip` (the library itself never runs it),
 * and reads results back twice: with the library's own list functions and
 * by parsing `ip rule`, `ip route`, `ip mptcp` output.
 *
 * Interfaces are veth pairs (this kernel has no dummy driver). IPv6
 * link-local generation is off in the test namespaces and the tests wait
 * for carrier before adding routes, so the `ip` snapshots taken before and
 * after a setup/undo cycle do not race with address autoconfiguration or
 * linkwatch.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/fib_rules.h>
#include <linux/mptcp.h>
#include <linux/rtnetlink.h>

#include "test.h"
#include "nl.h"

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static int orig_ns = -1;

/* ---- helpers ----------------------------------------------------------- */

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Run a shell command in the current netns; 0 on success. */
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc == -1 || !WIFEXITED(rc))
		return -1;
	return WEXITSTATUS(rc);
}

/* Output (stdout+stderr) of a shell command, malloc()ed, never NULL. */
static char *sh_out(const char *fmt, ...)
{
	char cmd[1024];
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
	va_end(ap);
	strcat(cmd, " 2>&1");
	buf[0] = '\0';
	f = popen(cmd, "r");
	if (!f)
		return buf;
	for (;;) {
		size_t n;

		if (cap - len < 1024) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		if (!n)
			break;
		len += n;
	}
	buf[len] = '\0';
	pclose(f);
	return buf;
}

/* Poll a shell condition every 20 ms for at most timeout_ms. */
static bool wait_sh(int timeout_ms, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int t;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	for (t = 0; t <= timeout_ms; t += 20) {
		if (sh("%s", cmd) == 0)
			return true;
		msleep(20);
	}
	printf("# condition not met after %d ms: %s\n", timeout_ms, cmd);
	return false;
}

/* A line of text that starts with `start` and contains every token. */
static bool has_line(const char *text, const char *start, ...)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[512];

		snprintf(buf, sizeof(buf), "%.*s ", (int)len, line);
		if (!strncmp(buf, start, strlen(start))) {
			bool all = true;
			const char *tok;
			va_list ap;

			va_start(ap, start);
			while ((tok = va_arg(ap, const char *)))
				if (!strstr(buf, tok))
					all = false;
			va_end(ap);
			if (all)
				return true;
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

static int count_lines_with(const char *text, const char *needle)
{
	const char *p = text;
	int n = 0;

	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	return n;
}

static void print_prefixed(const char *text)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		int len = end ? (int)(end - line) : (int)strlen(line);

		printf("#   %.*s\n", len, line);
		line = end ? end + 1 : NULL;
	}
}

/* What the library may touch: rules, every table but "local", endpoints,
 * limits. Compared before setup and after undo. */
static char *snapshot(void)
{
	return sh_out("ip -4 rule; ip -6 rule; ip -4 route show table all | grep -v 'table local';"
		      " ip -6 route show table all | grep -v 'table local';"
		      " ip mptcp endpoint show; ip mptcp limits show");
}

static bool snapshot_same(const char *before, const char *what)
{
	char *after = snapshot();
	bool same = !strcmp(before, after);

	if (!same) {
		printf("# %s: state differs\n# --- before:\n", what);
		print_prefixed(before);
		printf("# --- after:\n");
		print_prefixed(after);
		test__fail(__FILE__, __LINE__, "%s: kernel state not restored", what);
	}
	free(after);
	return same;
}

static bool ns_enter(void)
{
	orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig_ns < 0 || unshare(CLONE_NEWNET)) {
		test__skip("cannot create a network namespace: %s", strerror(errno));
		if (orig_ns >= 0)
			close(orig_ns);
		orig_ns = -1;
		return false;
	}
	/* only now, inside the fresh namespace, change its sysctls */
	sh("ip link set lo up && sysctl -qw net.ipv6.conf.all.addr_gen_mode=1 "
	   "net.ipv6.conf.default.addr_gen_mode=1 net.ipv6.conf.all.accept_dad=0 "
	   "net.ipv6.conf.default.accept_dad=0 >/dev/null 2>&1");
	return true;
}

static void ns_leave(void)
{
	if (orig_ns < 0)
		return;
	if (setns(orig_ns, CLONE_NEWNET))
		test__fail(__FILE__, __LINE__, "setns back: %s", strerror(errno));
	close(orig_ns);
	orig_ns = -1;
}

/* veth pair NAME/NAMEp, both up, carrier and operstate settled. */
static bool mk_veth(const char *name)
{
	if (sh("ip link add %s type veth peer name %sp && ip link set %s up && ip link set %sp up",
	       name, name, name, name))
		return false;
	return wait_sh(3000,
		       "ip -o link show dev %s | grep -q 'state UP' && "
		       "ip -o link show dev %sp | grep -q 'state UP'",
		       name, name);
}

/*
 * Two WAN links as a dual-homed CPE has them (tests/lib.sh layout):
 *   wan0 198.51.100.2/26   2001:db8:11::2/64  default via .1 / ::1   metric 100
 *   wan1 198.51.100.66/26  2001:db8:12::2/64  default via .65 / ::1  metric 200
 */
static bool mk_wan_lab(void)
{
	return mk_veth("wan0") && mk_veth("wan1") &&
	       !sh("ip addr add 198.51.100.2/26 dev wan0 && "
		   "ip addr add 2001:db8:11::2/64 dev wan0 nodad && "
		   "ip addr add 198.51.100.66/26 dev wan1 && "
		   "ip addr add 2001:db8:12::2/64 dev wan1 nodad && "
		   "ip route add default via 198.51.100.1 dev wan0 metric 100 && "
		   "ip route add default via 198.51.100.65 dev wan1 metric 200 && "
		   "ip -6 route add default via 2001:db8:11::1 dev wan0 metric 100 && "
		   "ip -6 route add default via 2001:db8:12::1 dev wan1 metric 200") &&
	       wait_sh(3000, "ip -6 addr show tentative | grep -q inet6 && exit 1; exit 0");
}

static bool find_route(struct mpc_nl *nl, int family, uint32_t table, const char *dst, int dst_len,
		       const char *gw, int oif, uint8_t type)
{
	struct mpc_nl_route *rt;
	union mpc_nl_in d, g;
	int fam, n, i, alen = family == AF_INET ? 4 : 16;
	bool found = false;

	mpc_nl_addr_parse(dst, &fam, &d);
	if (gw)
		mpc_nl_addr_parse(gw, &fam, &g);
	n = mpc_nl_route_list(nl, family, table, oif, &rt);
	for (i = 0; i < n && !found; i++)
		found = rt[i].dst_len == dst_len && !memcmp(&rt[i].dst, &d, alen) &&
			rt[i].has_gw == !!gw && (!gw || !memcmp(&rt[i].gw, &g, alen)) &&
			rt[i].type == type;
	free(rt);
	return found;
}

/* Rules with this source (full length) and table; prio 0 = any. */
static int count_rules(struct mpc_nl *nl, int family, const char *src, uint32_t table,
		       uint32_t prio)
{
	struct mpc_nl_rule *r;
	union mpc_nl_in s;
	int fam, n, i, cnt = 0, alen = family == AF_INET ? 4 : 16;

	mpc_nl_addr_parse(src, &fam, &s);
	n = mpc_nl_rule_list(nl, family, &r);
	for (i = 0; i < n; i++)
		if (r[i].src_len == alen * 8 && !memcmp(&r[i].src, &s, alen) &&
		    (!table || r[i].table == table) && (!prio || r[i].prio == prio))
			cnt++;
	free(r);
	return cnt;
}

static bool find_ep(struct mpc_nl *nl, const char *addr, struct mpc_nl_endpoint *ep)
{
	union mpc_nl_in a;
	int fam;

	mpc_nl_addr_parse(addr, &fam, &a);
	return mpc_nl_pm_find_endpoint(nl, fam, &a, ep) == 0;
}

static int ifidx(struct mpc_nl *nl, const char *name)
{
	int idx = 0;

	mpc_nl_ifindex(nl, name, &idx);
	return idx;
}

static const struct mpc_nl_wan_addr *wan_addr(const struct mpc_nl_wan_result *res, int link,
					      int family)
{
	int k;

	for (k = 0; k < res->links[link].n_addrs; k++)
		if (res->links[link].addrs[k].family == family)
			return &res->links[link].addrs[k];
	return NULL;
}

/* ---- subtests ---------------------------------------------------------- */

static void t_limits(struct mpc_nl *nl)
{
	struct mpc_nl_limits l0, l, want = { .subflows = 5, .add_addr_accepted = 3 };
	char *out;
	int err;

	if (!ASSERT_OK(mpc_nl_pm_get_limits(nl, &l0), "get_limits"))
		return;
	out = sh_out("ip mptcp limits show");
	ASSERT_TRUE(has_line(out, "add_addr_accepted", NULL), "ip mptcp limits answers");
	{
		char exp[64];

		snprintf(exp, sizeof(exp), "add_addr_accepted %u subflows %u", l0.add_addr_accepted,
			 l0.subflows);
		ASSERT_TRUE(strstr(out, exp) != NULL, "initial limits match ip");
	}
	free(out);

	ASSERT_OK(mpc_nl_pm_set_limits(nl, &want, MPC_NL_REC_USER), "set 5/3");
	ASSERT_OK(mpc_nl_pm_get_limits(nl, &l), "get");
	ASSERT_EQ(l.subflows, 5, "subflows");
	ASSERT_EQ(l.add_addr_accepted, 3, "add_addr_accepted");
	out = sh_out("ip mptcp limits show");
	ASSERT_TRUE(strstr(out, "add_addr_accepted 3 subflows 5") != NULL, "ip sees 5/3");
	free(out);
	ASSERT_EQ(mpc_nl_journal_len(nl), 1, "one limits record");

	/* raise: only upwards, per limit */
	ASSERT_OK(mpc_nl_pm_raise_limits(nl, 2, 6, MPC_NL_REC_LIMITS, &l), "raise 2/6");
	ASSERT_EQ(l.subflows, 5, "subflows kept at 5");
	ASSERT_EQ(l.add_addr_accepted, 6, "add_addr raised to 6");
	ASSERT_EQ(mpc_nl_journal_len(nl), 2, "raise recorded");
	ASSERT_OK(mpc_nl_pm_raise_limits(nl, 1, 1, MPC_NL_REC_LIMITS, &l), "raise 1/1");
	ASSERT_EQ(mpc_nl_journal_len(nl), 2, "no-op raise not recorded");

	/* above the kernel maximum: the kernel's own reason is passed on */
	want.subflows = 9;
	err = mpc_nl_pm_set_limits(nl, &want, MPC_NL_REC_USER);
	ASSERT_EQ(err, -EINVAL, "subflows 9 refused");
	ASSERT_TRUE(strstr(mpc_nl_errmsg(nl), "MPTCP limits") &&
			    strstr(mpc_nl_errmsg(nl), "kernel: limit greater than maximum"),
		    "message names the object and carries the extack");
	printf("# message: %s\n", mpc_nl_errmsg(nl));
	ASSERT_EQ(mpc_nl_journal_len(nl), 2, "failed set not recorded");

	/* undo the raise only, then everything */
	ASSERT_OK(mpc_nl_undo_tag(nl, MPC_NL_REC_LIMITS), "undo raise");
	ASSERT_OK(mpc_nl_pm_get_limits(nl, &l), "get");
	ASSERT_EQ(l.add_addr_accepted, 3, "back to 3 after undoing the raise");
	ASSERT_OK(mpc_nl_undo_all(nl), "undo_all");
	ASSERT_OK(mpc_nl_pm_get_limits(nl, &l), "get");
	ASSERT_EQ(l.subflows, l0.subflows, "subflows restored");
	ASSERT_EQ(l.add_addr_accepted, l0.add_addr_accepted, "add_addr restored");

	/* someone changes the limits after us: undo leaves theirs */
	want.subflows = 4;
	want.add_addr_accepted = 4;
	ASSERT_OK(mpc_nl_pm_set_limits(nl, &want, MPC_NL_REC_USER), "set 4/4");
	ASSERT_OK(sh("ip mptcp limits set subflows 7 add_addr_accepted 7"), "ip sets 7/7");
	ASSERT_OK(mpc_nl_undo_all(nl), "undo_all");
	ASSERT_OK(mpc_nl_pm_get_limits(nl, &l), "get");
	ASSERT_EQ(l.subflows, 7, "other party's subflows kept");
	ASSERT_EQ(l.add_addr_accepted, 7, "other party's add_addr kept");
}

static void t_endpoints(struct mpc_nl *nl)
{
	struct mpc_nl_endpoint a = { 0 }, b = { 0 }, c = { 0 }, got, *eps;
	char *out, id[32];
	int ep0, n, err;

	if (!ASSERT_TRUE(mk_veth("ep0"), "veth") ||
	    !ASSERT_OK(sh("ip addr add 192.0.2.1/24 dev ep0 && "
			  "ip addr add 2001:db8::1/64 dev ep0 nodad"),
		       "addresses"))
		return;
	ep0 = ifidx(nl, "ep0");

	mpc_nl_addr_parse("192.0.2.1", &a.family, &a.addr);
	a.flags = MPC_PM_SUBFLOW;
	a.ifindex = ep0;
	ASSERT_OK(mpc_nl_pm_add_endpoint(nl, &a, MPC_NL_REC_USER), "add v4 subflow");
	ASSERT_NEQ(a.id, 0, "kernel id read back");

	mpc_nl_addr_parse("2001:db8::1", &b.family, &b.addr);
	b.flags = MPC_PM_SIGNAL | MPC_PM_BACKUP;
	b.port = 10000;
	b.ifindex = ep0;
	ASSERT_OK(mpc_nl_pm_add_endpoint(nl, &b, MPC_NL_REC_USER), "add v6 signal backup port");

	mpc_nl_addr_parse("192.0.2.3", &c.family, &c.addr);
	c.id = 42;
	c.flags = MPC_PM_SUBFLOW | MPC_PM_FULLMESH;
	ASSERT_OK(mpc_nl_pm_add_endpoint(nl, &c, MPC_NL_REC_USER), "add v4 fullmesh id 42");
	ASSERT_EQ(c.id, 42, "chosen id kept");
	ASSERT_EQ(mpc_nl_journal_len(nl), 3, "three records");

	n = mpc_nl_pm_list_endpoints(nl, &eps);
	ASSERT_EQ(n, 3, "three endpoints listed");
	free(eps);
	if (ASSERT_OK(mpc_nl_pm_get_endpoint(nl, b.id, &got), "get v6")) {
		ASSERT_EQ(got.family, AF_INET6, "family");
		ASSERT_MEMEQ(&got.addr, &b.addr, 16, "address");
		ASSERT_EQ(got.port, 10000, "port");
		ASSERT_EQ(got.flags, MPC_PM_SIGNAL | MPC_PM_BACKUP, "flags");
		ASSERT_EQ(got.ifindex, ep0, "ifindex");
	}
	ASSERT_TRUE(find_ep(nl, "192.0.2.1", &got) && got.id == a.id && got.ifindex == ep0 &&
			    got.flags == MPC_PM_SUBFLOW,
		    "v4 endpoint read back");

	out = sh_out("ip mptcp endpoint show");
	snprintf(id, sizeof(id), "id %u ", a.id);
	ASSERT_TRUE(has_line(out, "192.0.2.1 ", id, "subflow", "dev ep0", NULL), "ip: v4 endpoint");
	snprintf(id, sizeof(id), "id %u ", b.id);
	ASSERT_TRUE(has_line(out, "2001:db8::1 ", "port 10000", id, "signal", "backup", "dev ep0",
			     NULL),
		    "ip: v6 endpoint");
	ASSERT_TRUE(has_line(out, "192.0.2.3 ", "id 42 ", "subflow", "fullmesh", NULL),
		    "ip: fullmesh endpoint");
	free(out);

	/* backup on and off, fullmesh kept */
	ASSERT_OK(mpc_nl_pm_set_backup(nl, c.id, true), "backup on");
	ASSERT_OK(mpc_nl_pm_get_endpoint(nl, c.id, &got), "get");
	ASSERT_EQ(got.flags, MPC_PM_SUBFLOW | MPC_PM_FULLMESH | MPC_PM_BACKUP, "backup set");
	out = sh_out("ip mptcp endpoint show id 42");
	ASSERT_TRUE(has_line(out, "192.0.2.3 ", "backup", "fullmesh", NULL), "ip: backup shown");
	free(out);
	ASSERT_OK(mpc_nl_pm_set_backup(nl, c.id, false), "backup off");
	ASSERT_OK(mpc_nl_pm_get_endpoint(nl, c.id, &got), "get");
	ASSERT_EQ(got.flags, MPC_PM_SUBFLOW | MPC_PM_FULLMESH, "backup cleared");

	/* duplicate address: EEXIST, nothing recorded */
	got = a;
	got.id = 0;
	err = mpc_nl_pm_add_endpoint(nl, &got, MPC_NL_REC_USER);
	ASSERT_EQ(err, -EEXIST, "duplicate refused");
	ASSERT_EQ(mpc_nl_journal_len(nl), 3, "duplicate not recorded");

	/* a port without SIGNAL: the kernel's reason reaches the message */
	memset(&got, 0, sizeof(got));
	mpc_nl_addr_parse("192.0.2.9", &got.family, &got.addr);
	got.flags = MPC_PM_SUBFLOW;
	got.port = 1000;
	err = mpc_nl_pm_add_endpoint(nl, &got, MPC_NL_REC_USER);
	ASSERT_EQ(err, -EINVAL, "port without signal refused");
	ASSERT_TRUE(strstr(mpc_nl_errmsg(nl), "192.0.2.9") && strstr(mpc_nl_errmsg(nl), "kernel:"),
		    "message names the address, with the kernel's reason");
	printf("# message: %s\n", mpc_nl_errmsg(nl));

	/* delete one by hand: undo copes with it being gone */
	ASSERT_OK(mpc_nl_pm_del_endpoint(nl, a.id), "del v4");
	ASSERT_EQ(mpc_nl_pm_get_endpoint(nl, a.id, &got), -ENOENT, "gone");
	ASSERT_EQ(mpc_nl_pm_del_endpoint(nl, a.id), -ENOENT, "second delete: ENOENT");

	/* an endpoint we did not add survives undo, even when it reuses the
	 * id of one of ours that is gone */
	ASSERT_OK(sh("ip mptcp endpoint add 192.0.2.77 id %u signal", a.id), "foreign endpoint");
	ASSERT_OK(mpc_nl_undo_all(nl), "undo_all");
	ASSERT_EQ(mpc_nl_journal_len(nl), 0, "journal empty");
	n = mpc_nl_pm_list_endpoints(nl, &eps);
	ASSERT_EQ(n, 1, "only the foreign endpoint is left");
	if (n == 1)
		ASSERT_EQ(eps[0].id, a.id, "foreign endpoint kept");
	free(eps);

	/* flush */
	ASSERT_OK(sh("ip mptcp endpoint add 192.0.2.78 subflow"), "another");
	ASSERT_OK(mpc_nl_pm_flush_endpoints(nl), "flush");
	ASSERT_EQ(mpc_nl_pm_list_endpoints(nl, &eps), 0, "none after flush");
	free(eps);
}

static void t_wan_setup(struct mpc_nl *nl)
{
	struct mpc_nl_wan_opts opts = { .add_addr_accepted = 2 };
	struct mpc_nl_wan_result res;
	struct mpc_nl_limits lim;
	struct mpc_nl_endpoint ep;
	char *before, *out;
	int idx[2], i, err;

	if (!ASSERT_TRUE(mk_wan_lab(), "lab"))
		return;
	/* pre-existing state that must survive */
	ASSERT_OK(sh("ip mptcp limits set subflows 0 add_addr_accepted 0 && "
		     "ip mptcp endpoint add 192.0.2.10 id 50 signal && "
		     "ip rule add from 203.0.113.5 lookup 100 prio 500"),
		  "pre-existing endpoint, rule, limits");
	before = snapshot();
	idx[0] = ifidx(nl, "wan0");
	idx[1] = ifidx(nl, "wan1");

	err = mpc_nl_setup_wan_links(nl, idx, 2, &opts, &res);
	if (!ASSERT_OK(err, "setup_wan_links")) {
		printf("# %s\n", mpc_nl_errmsg(nl));
		goto out;
	}

	/* the result describes it */
	ASSERT_EQ(res.n_links, 2, "two links");
	for (i = 0; i < 2; i++) {
		const struct mpc_nl_wan_addr *a4 = wan_addr(&res, i, AF_INET);
		const struct mpc_nl_wan_addr *a6 = wan_addr(&res, i, AF_INET6);

		ASSERT_EQ(res.links[i].table, MPC_NL_TABLE_BASE + i, "table id");
		ASSERT_EQ(res.links[i].n_addrs, 2, "v4 + v6 per link");
		ASSERT_TRUE(a4 && a4->rule == MPC_NL_ADDED && a4->endpoint == MPC_NL_ADDED &&
				    a4->has_gw && a4->endpoint_flags == MPC_PM_SUBFLOW,
			    "v4 configured");
		ASSERT_TRUE(a6 && a6->rule == MPC_NL_ADDED && a6->endpoint == MPC_NL_ADDED &&
				    a6->has_gw,
			    "v6 configured");
		ASSERT_EQ(res.links[i].n_routes_added, 4, "connected + default, both families");
	}
	ASSERT_TRUE(!strcmp(res.links[1].name, "wan1"), "name reported");
	ASSERT_EQ(res.limits_after.subflows, 1, "subflows raised to links-1");
	ASSERT_EQ(res.limits_after.add_addr_accepted, 2, "add_addr_accepted as asked");

	/* read back with the library */
	ASSERT_TRUE(find_route(nl, AF_INET, 0x6d70, "0.0.0.0", 0, "198.51.100.1", idx[0],
			       RTN_UNICAST),
		    "table 0x6d70: default via .1 dev wan0");
	ASSERT_TRUE(find_route(nl, AF_INET, 0x6d70, "198.51.100.0", 26, NULL, idx[0], RTN_UNICAST),
		    "table 0x6d70: connected prefix");
	ASSERT_TRUE(find_route(nl, AF_INET, 0x6d71, "0.0.0.0", 0, "198.51.100.65", idx[1],
			       RTN_UNICAST),
		    "table 0x6d71: default via .65 dev wan1");
	ASSERT_TRUE(find_route(nl, AF_INET6, 0x6d71, "::", 0, "2001:db8:12::1", idx[1],
			       RTN_UNICAST),
		    "table 0x6d71: v6 default");
	ASSERT_TRUE(find_route(nl, AF_INET6, 0x6d70, "2001:db8:11::", 64, NULL, idx[0],
			       RTN_UNICAST),
		    "table 0x6d70: v6 connected");
	ASSERT_EQ(count_rules(nl, AF_INET, "198.51.100.2", 0x6d70, MPC_NL_PRIO_BASE), 1,
		  "rule from .2");
	ASSERT_EQ(count_rules(nl, AF_INET, "198.51.100.66", 0x6d71, MPC_NL_PRIO_BASE + 1), 1,
		  "rule from .66");
	ASSERT_EQ(count_rules(nl, AF_INET6, "2001:db8:11::2", 0x6d70, 0), 1, "rule from v6 wan0");
	ASSERT_EQ(count_rules(nl, AF_INET6, "2001:db8:12::2", 0x6d71, 0), 1, "rule from v6 wan1");
	ASSERT_TRUE(find_ep(nl, "198.51.100.66", &ep) && ep.flags == MPC_PM_SUBFLOW &&
			    ep.ifindex == idx[1],
		    "endpoint .66 subflow dev wan1");
	ASSERT_TRUE(find_ep(nl, "2001:db8:11::2", &ep) && ep.ifindex == idx[0],
		    "endpoint v6 dev wan0");
	ASSERT_OK(mpc_nl_pm_get_limits(nl, &lim), "limits");
	ASSERT_EQ(lim.subflows, 1, "subflows 1");

	/* cross-check with iproute2 */
	out = sh_out("ip -4 rule show");
	ASSERT_TRUE(has_line(out, "28016:", "from 198.51.100.2 ", "lookup 28016", NULL),
		    "ip rule: from .2 lookup 28016");
	ASSERT_TRUE(has_line(out, "28017:", "from 198.51.100.66 ", "lookup 28017", NULL),
		    "ip rule: from .66 lookup 28017");
	free(out);
	out = sh_out("ip -6 rule show");
	ASSERT_TRUE(has_line(out, "28017:", "from 2001:db8:12::2 ", "lookup 28017", NULL),
		    "ip -6 rule: from wan1 address");
	free(out);
	out = sh_out("ip mptcp endpoint show");
	ASSERT_TRUE(has_line(out, "198.51.100.2 ", "subflow", "dev wan0", NULL), "ip: ep .2");
	ASSERT_TRUE(has_line(out, "198.51.100.66 ", "subflow", "dev wan1", NULL), "ip: ep .66");
	ASSERT_TRUE(has_line(out, "2001:db8:12::2 ", "subflow", "dev wan1", NULL), "ip: ep v6");
	ASSERT_TRUE(has_line(out, "192.0.2.10 ", "id 50 ", "signal", NULL), "ip: pre-existing ep");
	free(out);
	out = sh_out("ip route show table 28017");
	ASSERT_TRUE(has_line(out, "default via 198.51.100.65 dev wan1", NULL), "ip: table 28017");
	free(out);
	out = sh_out("ip mptcp limits show");
	ASSERT_TRUE(strstr(out, "add_addr_accepted 2 subflows 1") != NULL, "ip: limits");
	free(out);

	/* the point of it: traffic from wan1's addresses leaves by wan1,
	 * although main prefers wan0 */
	out = sh_out("ip route get 203.0.113.9 from 198.51.100.66");
	ASSERT_TRUE(strstr(out, "via 198.51.100.65 dev wan1") != NULL, "v4 source routing");
	free(out);
	out = sh_out("ip -6 route get 2001:db8:2::9 from 2001:db8:12::2");
	ASSERT_TRUE(strstr(out, "via 2001:db8:12::1 dev wan1") != NULL, "v6 source routing");
	free(out);
	out = sh_out("ip route get 203.0.113.9");
	ASSERT_TRUE(strstr(out, "dev wan0") != NULL, "unbound traffic still uses main");
	free(out);

	/* undo: exactly back to the state before */
	ASSERT_OK(mpc_nl_undo_all(nl), "undo_all");
	ASSERT_EQ(mpc_nl_journal_len(nl), 0, "journal empty");
	snapshot_same(before, "after undo_all");
	ASSERT_TRUE(find_ep(nl, "192.0.2.10", &ep) && ep.id == 50, "pre-existing endpoint kept");
	ASSERT_EQ(count_rules(nl, AF_INET, "203.0.113.5", 100, 500), 1, "pre-existing rule kept");
	ASSERT_OK(mpc_nl_pm_get_limits(nl, &lim), "limits");
	ASSERT_EQ(lim.subflows + lim.add_addr_accepted, 0, "limits back to 0/0");
out:
	free(before);
}

static void t_wan_options(struct mpc_nl *nl)
{
	struct mpc_nl_wan_opts opts = {
		.fullmesh = true, .backup_mask = 2, .ipv4_only = true, .subflows = 3
	};
	struct mpc_nl_wan_result res;
	struct mpc_nl_endpoint ep;
	char *before, *out;
	int idx[2];

	if (!ASSERT_TRUE(mk_wan_lab(), "lab"))
		return;
	before = snapshot();
	idx[0] = ifidx(nl, "wan0");
	idx[1] = ifidx(nl, "wan1");
	if (!ASSERT_OK(mpc_nl_setup_wan_links(nl, idx, 2, &opts, &res), "setup")) {
		printf("# %s\n", mpc_nl_errmsg(nl));
		goto out;
	}
	ASSERT_EQ(res.links[0].n_addrs + res.links[1].n_addrs, 2, "IPv4 only");
	ASSERT_TRUE(find_ep(nl, "198.51.100.2", &ep) &&
			    ep.flags == (MPC_PM_SUBFLOW | MPC_PM_FULLMESH),
		    "link 0: subflow fullmesh");
	ASSERT_TRUE(find_ep(nl, "198.51.100.66", &ep) &&
			    ep.flags == (MPC_PM_SUBFLOW | MPC_PM_FULLMESH | MPC_PM_BACKUP),
		    "link 1: subflow fullmesh backup");
	ASSERT_FALSE(find_ep(nl, "2001:db8:11::2", &ep), "no v6 endpoint");
	ASSERT_EQ(count_rules(nl, AF_INET6, "2001:db8:11::2", 0, 0), 0, "no v6 rule");
	ASSERT_EQ(res.limits_after.subflows, 3, "subflows as asked");
	out = sh_out("ip mptcp endpoint show");
	ASSERT_TRUE(has_line(out, "198.51.100.66 ", "subflow", "backup", "fullmesh", "dev wan1",
			     NULL),
		    "ip: backup fullmesh endpoint");
	free(out);
	ASSERT_OK(mpc_nl_undo_all(nl), "undo");
	snapshot_same(before, "after undo");
out:
	free(before);
}

/* Gateways as real CPEs get them: an ECMP IPv4 default over both links, an
 * IPv6 default via a router's link-local address, a point-to-point link
 * with `default dev IF` and no gateway. */
static void t_wan_gateways(struct mpc_nl *nl)
{
	struct mpc_nl_wan_result res;
	char *before, *out;
	int idx[3];

	if (!ASSERT_TRUE(mk_veth("wan0") && mk_veth("wan1") && mk_veth("ppp0"), "links") ||
	    !ASSERT_OK(sh("ip addr add 198.51.100.2/26 dev wan0 && "
			  "ip addr add 198.51.100.66/26 dev wan1 && "
			  "ip addr add 2001:db8:11::2/64 dev wan0 nodad && "
			  "ip addr add 203.0.113.2 peer 203.0.113.1 dev ppp0 && "
			  "ip route add default nexthop via 198.51.100.1 dev wan0 "
			  "nexthop via 198.51.100.65 dev wan1 && "
			  "ip route add default dev ppp0 metric 300 && "
			  "ip -6 route add default via fe80::1 dev wan0"),
		       "addresses and routes"))
		return;
	before = snapshot();
	idx[0] = ifidx(nl, "wan0");
	idx[1] = ifidx(nl, "wan1");
	idx[2] = ifidx(nl, "ppp0");
	if (!ASSERT_OK(mpc_nl_setup_wan_links(nl, idx, 3, NULL, &res), "setup")) {
		printf("# %s\n", mpc_nl_errmsg(nl));
		goto out;
	}
	ASSERT_TRUE(find_route(nl, AF_INET, 0x6d70, "0.0.0.0", 0, "198.51.100.1", idx[0],
			       RTN_UNICAST),
		    "ECMP leg 1 -> table of wan0");
	ASSERT_TRUE(find_route(nl, AF_INET, 0x6d71, "0.0.0.0", 0, "198.51.100.65", idx[1],
			       RTN_UNICAST),
		    "ECMP leg 2 -> table of wan1");
	ASSERT_TRUE(find_route(nl, AF_INET6, 0x6d70, "::", 0, "fe80::1", idx[0], RTN_UNICAST),
		    "v6 default via link-local gateway");
	ASSERT_TRUE(find_route(nl, AF_INET, 0x6d72, "0.0.0.0", 0, NULL, idx[2], RTN_UNICAST),
		    "ppp0: default dev ppp0");
	ASSERT_FALSE(wan_addr(&res, 2, AF_INET)->has_gw, "ppp0 reported without gateway");
	ASSERT_EQ(res.limits_after.subflows >= 2, 1, "subflows >= links-1");
	out = sh_out("ip route get 192.0.2.99 from 203.0.113.2");
	ASSERT_TRUE(strstr(out, "dev ppp0") != NULL, "traffic from ppp0's address leaves by ppp0");
	free(out);
	out = sh_out("ip -6 route get 2001:db8:2::9 from 2001:db8:11::2");
	ASSERT_TRUE(strstr(out, "via fe80::1 dev wan0") != NULL, "v6 via link-local");
	free(out);
	ASSERT_OK(mpc_nl_undo_all(nl), "undo");
	snapshot_same(before, "after undo");
out:
	free(before);
}

static void t_idempotent(struct mpc_nl *nl)
{
	struct mpc_nl_wan_result res;
	struct mpc_nl_route *rt;
	char *before, *out;
	int idx[2], n, jlen;

	if (!ASSERT_TRUE(mk_wan_lab(), "lab"))
		return;
	/* the operator already routes wan0's IPv4 address, and wan1's IPv4
	 * address is already an endpoint */
	ASSERT_OK(sh("ip rule add from 198.51.100.2 lookup 200 prio 300 && "
		     "ip route add default via 198.51.100.1 dev wan0 table 200 && "
		     "ip mptcp endpoint add 198.51.100.66 dev wan1 subflow"),
		  "pre-existing rule and endpoint");
	before = snapshot();
	idx[0] = ifidx(nl, "wan0");
	idx[1] = ifidx(nl, "wan1");
	if (!ASSERT_OK(mpc_nl_setup_wan_links(nl, idx, 2, NULL, &res), "setup")) {
		printf("# %s\n", mpc_nl_errmsg(nl));
		goto out;
	}
	ASSERT_EQ(wan_addr(&res, 0, AF_INET)->rule, MPC_NL_EXISTED, "wan0 v4 rule existed");
	ASSERT_EQ(wan_addr(&res, 0, AF_INET6)->rule, MPC_NL_ADDED, "wan0 v6 rule added");
	ASSERT_EQ(wan_addr(&res, 1, AF_INET)->endpoint, MPC_NL_EXISTED, "wan1 v4 endpoint existed");
	ASSERT_EQ(count_rules(nl, AF_INET, "198.51.100.2", 0, 0), 1, "no second rule for .2");
	n = mpc_nl_route_list(nl, AF_INET, MPC_NL_TABLE_BASE, 0, &rt);
	ASSERT_EQ(n, 0, "no IPv4 table for wan0");
	free(rt);
	out = sh_out("ip mptcp endpoint show");
	ASSERT_EQ(count_lines_with(out, "198.51.100.66 "), 1, "one endpoint for .66");
	free(out);

	/* the same setup again adds nothing */
	jlen = mpc_nl_journal_len(nl);
	if (ASSERT_OK(mpc_nl_setup_wan_links(nl, idx, 2, NULL, &res), "setup again")) {
		ASSERT_EQ(mpc_nl_journal_len(nl), jlen, "nothing recorded the second time");
		ASSERT_EQ(wan_addr(&res, 1, AF_INET6)->rule, MPC_NL_EXISTED, "rule existed");
		ASSERT_EQ(wan_addr(&res, 1, AF_INET6)->endpoint, MPC_NL_EXISTED,
			  "endpoint existed");
	}
	ASSERT_EQ(count_rules(nl, AF_INET6, "2001:db8:12::2", 0, 0), 1, "still one v6 rule");

	ASSERT_OK(mpc_nl_undo_all(nl), "undo");
	snapshot_same(before, "after undo");
	ASSERT_EQ(count_rules(nl, AF_INET, "198.51.100.2", 200, 300), 1, "operator rule kept");
out:
	free(before);
}

static void t_partial_failure(struct mpc_nl *nl)
{
	struct mpc_nl_wan_result res;
	char *before, *mid;
	int idx[2], i, err;

	if (!ASSERT_TRUE(mk_wan_lab(), "lab"))
		return;
	/* 7 of the kernel's 8 endpoint slots taken: the second of our four
	 * endpoints fails after tables, rules and one endpoint were added */
	for (i = 1; i <= 7; i++)
		ASSERT_OK(sh("ip mptcp endpoint add 192.0.2.%d signal", 100 + i), "fill endpoints");
	before = snapshot();
	idx[0] = ifidx(nl, "wan0");
	idx[1] = ifidx(nl, "wan1");
	err = mpc_nl_setup_wan_links(nl, idx, 2, NULL, &res);
	ASSERT_EQ(err, -ERANGE, "endpoint table full");
	printf("# message: %s\n", mpc_nl_errmsg(nl));
	ASSERT_TRUE(!strncmp(mpc_nl_errmsg(nl), "wan0: adding MPTCP endpoint", 27),
		    "message names the interface and the object");
	ASSERT_EQ(mpc_nl_journal_len(nl), 0, "rolled back");
	snapshot_same(before, "after failed setup");

	/* undo after an operator removed one of our rules by hand */
	ASSERT_OK(sh("ip mptcp endpoint flush"), "flush");
	mid = snapshot();
	if (ASSERT_OK(mpc_nl_setup_wan_links(nl, idx, 2, NULL, &res), "setup")) {
		ASSERT_OK(sh("ip rule del from 198.51.100.66 lookup 28017"), "manual delete");
		ASSERT_OK(mpc_nl_undo_all(nl), "undo copes");
		snapshot_same(mid, "after undo with a rule gone");
	}
	free(mid);
	free(before);
}

/* The low-level calls the helpers are built from. */
static void t_rules_routes(struct mpc_nl *nl)
{
	struct mpc_nl_rule rule = { 0 }, *rules;
	struct mpc_nl_route r = { 0 }, *rt;
	struct mpc_nl_ifaddr *addrs;
	union mpc_nl_in a;
	char *out;
	int n, i, fam, found, wan0, wan1;

	if (!ASSERT_TRUE(mk_wan_lab(), "lab"))
		return;
	wan0 = ifidx(nl, "wan0");
	wan1 = ifidx(nl, "wan1");

	/* addresses: primary IPv4 first, global IPv6 only */
	ASSERT_OK(sh("ip addr add 198.51.100.3/26 dev wan0 && "
		     "ip addr add 2001:db8:11::3/64 dev wan0 nodad && "
		     "ip addr add 2001:db8:11::4/64 dev wan0 nodad preferred_lft 0 && "
		     "ip addr add fe80::2/64 dev wan0 nodad"),
		  "more addresses");
	n = mpc_nl_addr_list(nl, wan0, AF_UNSPEC, &addrs);
	ASSERT_EQ(n, 4, "v4 primary + secondary, two usable v6");
	if (n == 4) {
		char s[INET6_ADDRSTRLEN];

		ASSERT_TRUE(!strcmp(mpc_nl_addr_str(AF_INET, &addrs[0].addr, s), "198.51.100.2"),
			    "primary first");
		ASSERT_EQ(addrs[0].plen, 26, "prefix length");
		ASSERT_EQ(addrs[2].family, AF_INET6, "v6 after v4");
		for (i = 0; i < n; i++)
			ASSERT_FALSE(addrs[i].family == AF_INET6 &&
					     (addrs[i].addr.b[0] == 0xfe ||
					      addrs[i].addr.v6.s6_addr[15] == 4),
				     "no link-local, no deprecated address");
	}
	free(addrs);

	/* main-table routes through an interface, multipath legs included */
	ASSERT_OK(sh("ip route add 203.0.113.0/24 nexthop via 198.51.100.1 dev wan0 "
		     "nexthop via 198.51.100.65 dev wan1"),
		  "ECMP route");
	ASSERT_TRUE(find_route(nl, AF_INET, RT_TABLE_MAIN, "203.0.113.0", 24, "198.51.100.65", wan1,
			       RTN_UNICAST),
		    "multipath leg through wan1");
	n = mpc_nl_route_list(nl, AF_INET, RT_TABLE_MAIN, wan1, &rt);
	for (i = found = 0; i < n; i++)
		found += rt[i].oif != wan1;
	ASSERT_EQ(found, 0, "oif filter");
	ASSERT_GE(n, 3, "default, connected, ECMP leg");
	free(rt);

	/* a route into a table, recorded, deleted by undo */
	r.family = AF_INET;
	r.table = 3000;
	mpc_nl_addr_parse("192.0.2.0", &fam, &r.dst);
	r.dst_len = 24;
	mpc_nl_addr_parse("198.51.100.65", &fam, &r.gw);
	r.has_gw = true;
	r.oif = wan1;
	r.metric = 7;
	ASSERT_OK(mpc_nl_route_add(nl, &r, MPC_NL_REC_USER), "route add");
	ASSERT_EQ(mpc_nl_route_add(nl, &r, MPC_NL_REC_USER), -EEXIST, "same route: EEXIST");
	out = sh_out("ip route show table 3000");
	ASSERT_TRUE(has_line(out, "192.0.2.0/24 via 198.51.100.65 dev wan1 proto 109 metric 7",
			     NULL),
		    "ip: route in table 3000");
	free(out);
	r.gw.v4.s_addr = inet_addr("203.0.113.77");
	r.metric = 8;
	ASSERT_NEQ(mpc_nl_route_add(nl, &r, MPC_NL_REC_USER), 0, "gateway not on link refused");
	printf("# message: %s\n", mpc_nl_errmsg(nl));
	ASSERT_TRUE(!strncmp(mpc_nl_errmsg(nl), "wan1: adding route 192.0.2.0/24", 31),
		    "message names the interface and the route");

	/* rules: mark 0 under a mask, listed back as a mark rule */
	rule.family = AF_INET;
	rule.prio = 1234;
	rule.has_prio = true;
	rule.table = 3000;
	rule.has_fwmark = true;
	rule.fwmark = 0;
	rule.fwmask = 0xf00;
	ASSERT_OK(mpc_nl_rule_add(nl, &rule, MPC_NL_REC_USER), "rule fwmark 0/0xf00");
	ASSERT_EQ(mpc_nl_rule_add(nl, &rule, MPC_NL_REC_USER), -EEXIST, "duplicate rule");
	n = mpc_nl_rule_list(nl, AF_INET, &rules);
	for (i = found = 0; i < n; i++)
		found += rules[i].prio == 1234 && rules[i].has_fwmark && !rules[i].fwmark &&
			 rules[i].fwmask == 0xf00 && rules[i].table == 3000 &&
			 rules[i].protocol == MPC_NL_RTPROT;
	free(rules);
	ASSERT_EQ(found, 1, "listed back with mark, mask, protocol");

	/* what counts as an existing `from` rule */
	mpc_nl_addr_parse("198.51.100.3", &fam, &a);
	ASSERT_EQ(mpc_nl_rule_from_exists(nl, AF_INET, &a), 0, "none yet");
	ASSERT_OK(sh("ip rule add from 198.51.100.3 fwmark 1 lookup 100"), "marked from rule");
	ASSERT_EQ(mpc_nl_rule_from_exists(nl, AF_INET, &a), 0, "a marked rule does not count");
	ASSERT_OK(sh("ip rule add from 198.51.100.0/26 lookup 100"), "prefix rule");
	ASSERT_EQ(mpc_nl_rule_from_exists(nl, AF_INET, &a), 1, "a covering prefix counts");
	mpc_nl_addr_parse("198.51.100.66", &fam, &a);
	ASSERT_EQ(mpc_nl_rule_from_exists(nl, AF_INET, &a), 0, "other prefix does not");

	ASSERT_EQ(mpc_nl_journal_len(nl), 2, "route + rule recorded");
	ASSERT_OK(mpc_nl_undo_all(nl), "undo");
	n = mpc_nl_route_list(nl, AF_INET, 3000, 0, &rt);
	ASSERT_EQ(n, 0, "table 3000 empty");
	free(rt);
	out = sh_out("ip rule show");
	ASSERT_FALSE(strstr(out, "1234:"), "rule gone");
	ASSERT_TRUE(strstr(out, "from 198.51.100.0/26 lookup 100") != NULL, "operator rule kept");
	free(out);
}

static void t_local_routing(struct mpc_nl *nl)
{
	struct mpc_nl_rule *rules;
	char *before, *out;
	int n, i, found = 0, lo = ifidx(nl, "lo");

	if (!ASSERT_TRUE(mk_veth("lan0"), "veth") ||
	    !ASSERT_OK(sh("ip addr add 192.0.2.1/26 dev lan0 && "
			  "ip addr add 2001:db8:1::1/64 dev lan0 nodad"),
		       "addresses"))
		return;
	before = snapshot();
	if (!ASSERT_OK(mpc_nl_setup_local_routing(nl, 0x100, 0xf00, 100, 90), "setup")) {
		printf("# %s\n", mpc_nl_errmsg(nl));
		goto out;
	}
	ASSERT_EQ(mpc_nl_journal_len(nl), 4, "route + rule per family");
	ASSERT_TRUE(find_route(nl, AF_INET, 100, "0.0.0.0", 0, NULL, lo, RTN_LOCAL),
		    "v4 local default in table 100");
	ASSERT_TRUE(find_route(nl, AF_INET6, 100, "::", 0, NULL, lo, RTN_LOCAL),
		    "v6 local default in table 100");
	for (i = 0; i < 2; i++) {
		n = mpc_nl_rule_list(nl, i ? AF_INET6 : AF_INET, &rules);
		while (n-- > 0)
			found += rules[n].has_fwmark && rules[n].fwmark == 0x100 &&
				 rules[n].fwmask == 0xf00 && rules[n].table == 100 &&
				 rules[n].prio == 90;
		free(rules);
	}
	ASSERT_EQ(found, 2, "fwmark rules, both families");

	out = sh_out("ip rule show; ip -6 rule show");
	ASSERT_EQ(count_lines_with(out, "90:\tfrom all fwmark 0x100/0xf00 lookup 100"), 2,
		  "ip rule: fwmark 0x100/0xf00 lookup 100, twice");
	free(out);
	out = sh_out("ip route get 203.0.113.9 mark 0x100");
	ASSERT_TRUE(!strncmp(out, "local 203.0.113.9 dev lo table 100", 34), "v4 marked: local");
	free(out);
	out = sh_out("ip route get 203.0.113.9 mark 0x1100");
	ASSERT_TRUE(!strncmp(out, "local 203.0.113.9 dev lo", 24), "mask applies");
	free(out);
	out = sh_out("ip -6 route get 2001:db8:2::9 mark 0x100");
	ASSERT_TRUE(!strncmp(out, "local 2001:db8:2::9 ", 20) && strstr(out, "dev lo table 100"),
		    "v6 marked: local");
	free(out);
	out = sh_out("ip route get 203.0.113.9 mark 0x200");
	ASSERT_TRUE(strncmp(out, "local", 5) != 0, "other mark: not local");
	free(out);

	ASSERT_OK(mpc_nl_undo_local_routing(nl), "undo");
	ASSERT_EQ(mpc_nl_journal_len(nl), 0, "journal empty");
	snapshot_same(before, "after undo");

	/* the IPv4 half existed already: only IPv6 is added and removed */
	ASSERT_OK(sh("ip route add local 0.0.0.0/0 dev lo table 100 && "
		     "ip rule add fwmark 0x100/0xf00 lookup 100 prio 90"),
		  "pre-existing v4 half");
	free(before);
	before = snapshot();
	ASSERT_OK(mpc_nl_setup_local_routing(nl, 0x100, 0xf00, 100, 90), "setup");
	ASSERT_EQ(mpc_nl_journal_len(nl), 2, "v6 route + rule only");
	out = sh_out("ip rule show");
	ASSERT_EQ(count_lines_with(out, "fwmark 0x100/0xf00"), 1, "no duplicate v4 rule");
	free(out);
	ASSERT_OK(mpc_nl_undo_all(nl), "undo");
	snapshot_same(before, "after undo, pre-existing half kept");

	/* mask 0 = exact mark: the kernel lists such a rule without a
	 * mask, which must still count as the same rule */
	ASSERT_OK(sh("ip rule add fwmark 0x5 lookup 101 prio 91"), "pre-existing exact-mark rule");
	free(before);
	before = snapshot();
	ASSERT_OK(mpc_nl_setup_local_routing(nl, 0x5, 0, 101, 91), "setup exact mark");
	ASSERT_EQ(mpc_nl_journal_len(nl), 3, "both routes, v6 rule only");
	out = sh_out("ip rule show");
	ASSERT_EQ(count_lines_with(out, "fwmark 0x5 "), 1, "no duplicate exact-mark rule");
	free(out);
	ASSERT_OK(mpc_nl_undo_all(nl), "undo");
	snapshot_same(before, "after undo, exact-mark rule kept");

	/* IPv6 disabled: the IPv4 half alone, no error */
	ASSERT_OK(sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1"),
		  "disable IPv6 in this netns");
	ASSERT_OK(mpc_nl_setup_local_routing(nl, 0x200, 0, 102, 92), "setup without IPv6");
	ASSERT_EQ(mpc_nl_journal_len(nl), 2, "IPv4 route + rule");
	ASSERT_OK(mpc_nl_undo_all(nl), "undo");
out:
	free(before);
}

static void t_errors(struct mpc_nl *nl)
{
	struct mpc_nl_wan_result res;
	char *before;
	int idx[2], ifi = 0, err;

	/* unknown interface */
	err = mpc_nl_ifindex(nl, "nosuch0", &ifi);
	ASSERT_EQ(err, -ENODEV, "unknown name");
	ASSERT_TRUE(!strcmp(mpc_nl_errmsg(nl), "nosuch0: no such interface"), "message");
	printf("# message: %s\n", mpc_nl_errmsg(nl));
	idx[0] = 4242;
	err = mpc_nl_setup_wan_links(nl, idx, 1, NULL, &res);
	ASSERT_EQ(err, -ENODEV, "unknown ifindex");
	ASSERT_TRUE(strstr(mpc_nl_errmsg(nl), "4242") != NULL, "message names the index");
	ASSERT_EQ(mpc_nl_setup_wan_links(nl, idx, 0, NULL, &res), -EINVAL, "no links");

	/* no address (only a link-local IPv6 one) */
	if (!ASSERT_TRUE(mk_veth("wan0"), "veth") ||
	    !ASSERT_OK(sh("ip addr add fe80::2/64 dev wan0 nodad"), "link-local"))
		return;
	before = snapshot();
	idx[0] = ifidx(nl, "wan0");
	err = mpc_nl_setup_wan_links(nl, idx, 1, NULL, &res);
	ASSERT_EQ(err, -EADDRNOTAVAIL, "no address");
	ASSERT_TRUE(!strcmp(mpc_nl_errmsg(nl), "wan0: no IPv4 or global IPv6 address"), "message");
	printf("# message: %s\n", mpc_nl_errmsg(nl));

	/* addresses but no default route through it */
	ASSERT_OK(sh("ip addr add 198.51.100.2/26 dev wan0"), "address");
	free(before);
	before = snapshot();
	err = mpc_nl_setup_wan_links(nl, idx, 1, NULL, &res);
	ASSERT_EQ(err, -ENETUNREACH, "no default route");
	ASSERT_TRUE(strstr(mpc_nl_errmsg(nl), "wan0: no default route through wan0") != NULL,
		    "message");
	printf("# message: %s\n", mpc_nl_errmsg(nl));

	/* the first link is fine, the second has no address: nothing is
	 * left behind */
	ASSERT_OK(sh("ip route add default via 198.51.100.1 dev wan0"), "default");
	ASSERT_TRUE(mk_veth("wan1"), "second veth");
	free(before);
	before = snapshot();
	idx[1] = ifidx(nl, "wan1");
	err = mpc_nl_setup_wan_links(nl, idx, 2, NULL, &res);
	ASSERT_EQ(err, -EADDRNOTAVAIL, "second link without address");
	ASSERT_TRUE(!strcmp(mpc_nl_errmsg(nl), "wan1: no IPv4 or global IPv6 address"), "message");
	ASSERT_EQ(mpc_nl_journal_len(nl), 0, "nothing recorded");
	snapshot_same(before, "after failed setup");
	idx[1] = idx[0];
	ASSERT_EQ(mpc_nl_setup_wan_links(nl, idx, 2, NULL, &res), -EINVAL, "same link twice");
	free(before);
}

/* The WAN link watcher's sync: down withdraws our endpoints and only ours,
 * up puts back what the kernel took (routes of an administratively
 * downed link), an address change moves endpoint and rule, undo at the
 * end still leaves the namespace as it was. */
static void t_link_sync(struct mpc_nl *nl)
{
	struct mpc_nl_wan_result res;
	struct mpc_nl_endpoint ep, pre;
	char *before;
	bool changed;
	int idx[2], r;

	if (!ASSERT_TRUE(mk_wan_lab(), "lab"))
		return;
	/* an operator's endpoint on wan1's IPv6 address: never ours */
	ASSERT_OK(sh("ip mptcp endpoint add 2001:db8:12::2 dev wan1 subflow"), "operator endpoint");
	before = snapshot();
	idx[0] = ifidx(nl, "wan0");
	idx[1] = ifidx(nl, "wan1");
	if (!ASSERT_OK(mpc_nl_setup_wan_links(nl, idx, 2, NULL, &res), "setup"))
		goto out;
	ASSERT_TRUE(find_ep(nl, "2001:db8:12::2", &pre), "operator endpoint found");

	/* nothing changed: usable, nothing reported */
	r = mpc_nl_wan_link_sync(nl, 1, NULL, &res.links[1], &changed);
	ASSERT_EQ(r, 1, "usable");
	ASSERT_FALSE(changed, "nothing changed");
	ASSERT_TRUE(wan_addr(&res, 1, AF_INET) &&
			    wan_addr(&res, 1, AF_INET)->endpoint == MPC_NL_ADDED,
		    "still ours");

	/* administratively down: the kernel deletes the link's routes; our
	 * endpoint goes, the operator's stays */
	ASSERT_OK(sh("ip link set wan1 down"), "wan1 down");
	r = mpc_nl_wan_link_sync(nl, 1, NULL, &res.links[1], &changed);
	ASSERT_EQ(r, 0, "not usable");
	ASSERT_TRUE(changed, "changed");
	ASSERT_FALSE(find_ep(nl, "198.51.100.66", &ep), "our endpoint withdrawn");
	ASSERT_TRUE(find_ep(nl, "2001:db8:12::2", &ep) && ep.id == pre.id,
		    "operator endpoint left alone");
	ASSERT_TRUE(find_ep(nl, "198.51.100.2", &ep), "the other link untouched");
	ASSERT_FALSE(find_route(nl, AF_INET, 0x6d71, "0.0.0.0", 0, "198.51.100.65", idx[1],
				RTN_UNICAST),
		     "the kernel took table 0x6d71's default");
	r = mpc_nl_wan_link_sync(nl, 1, NULL, &res.links[1], &changed);
	ASSERT_EQ(r, 0, "still not usable");
	ASSERT_FALSE(changed, "second sync changes nothing");

	/* up without a default route yet: still not usable, no error */
	ASSERT_OK(sh("ip link set wan1 up"), "wan1 up");
	ASSERT_TRUE(wait_sh(3000, "ip -o link show dev wan1 | grep -q 'state UP'"), "carrier");
	r = mpc_nl_wan_link_sync(nl, 1, NULL, &res.links[1], &changed);
	ASSERT_EQ(r, 0, "no default route: not usable");
	ASSERT_FALSE(find_ep(nl, "198.51.100.66", &ep), "no endpoint yet");

	/* the default routes are back, and the IPv6 address that going down
	 * flushed (keep_addr_on_down is 0), as DHCP and SLAAC would bring
	 * them: everything returns */
	ASSERT_OK(sh("ip route add default via 198.51.100.65 dev wan1 metric 200 && "
		     "ip addr add 2001:db8:12::2/64 dev wan1 nodad && "
		     "ip -6 route add default via 2001:db8:12::1 dev wan1 metric 200"),
		  "defaults back");
	ASSERT_TRUE(wait_sh(3000, "ip -6 addr show dev wan1 tentative | grep -q inet6 && exit 1; "
				  "exit 0"),
		    "v6 address usable");
	r = mpc_nl_wan_link_sync(nl, 1, NULL, &res.links[1], &changed);
	ASSERT_EQ(r, 1, "usable again");
	ASSERT_TRUE(changed, "changed");
	ASSERT_TRUE(find_ep(nl, "198.51.100.66", &ep), "endpoint restored");
	ASSERT_TRUE(find_route(nl, AF_INET, 0x6d71, "0.0.0.0", 0, "198.51.100.65", idx[1],
			       RTN_UNICAST),
		    "table 0x6d71 refilled: default");
	ASSERT_TRUE(find_route(nl, AF_INET, 0x6d71, "198.51.100.64", 26, NULL, idx[1], RTN_UNICAST),
		    "table 0x6d71 refilled: connected");
	ASSERT_EQ(count_rules(nl, AF_INET, "198.51.100.66", 0x6d71, 0), 1, "one source rule");
	ASSERT_TRUE(wan_addr(&res, 1, AF_INET) &&
			    wan_addr(&res, 1, AF_INET)->endpoint == MPC_NL_ADDED,
		    "ours again");
	ASSERT_TRUE(wan_addr(&res, 1, AF_INET6) &&
			    wan_addr(&res, 1, AF_INET6)->endpoint == MPC_NL_EXISTED,
		    "operator's still");

	/* a new address: the old endpoint and rule go, the new one gets both */
	ASSERT_OK(
		sh("ip addr del 198.51.100.66/26 dev wan1 && ip addr add 198.51.100.67/26 dev wan1 "
		   "&& ip route replace default via 198.51.100.65 dev wan1 metric 200"),
		"new address");
	r = mpc_nl_wan_link_sync(nl, 1, NULL, &res.links[1], &changed);
	ASSERT_EQ(r, 1, "usable");
	ASSERT_TRUE(changed, "changed");
	ASSERT_FALSE(find_ep(nl, "198.51.100.66", &ep), "old endpoint gone");
	ASSERT_TRUE(find_ep(nl, "198.51.100.67", &ep), "new endpoint");
	ASSERT_EQ(count_rules(nl, AF_INET, "198.51.100.66", 0, 0), 0, "old rule gone");
	ASSERT_EQ(count_rules(nl, AF_INET, "198.51.100.67", 0x6d71, 0), 1, "new rule");
	ASSERT_TRUE(find_route(nl, AF_INET, 0x6d71, "0.0.0.0", 0, "198.51.100.65", idx[1],
			       RTN_UNICAST),
		    "table 0x6d71 has the default");

	/* a link that vanished: not usable, not an error */
	ASSERT_OK(sh("ip link del wan0"), "wan0 deleted");
	r = mpc_nl_wan_link_sync(nl, 0, NULL, &res.links[0], &changed);
	ASSERT_EQ(r, 0, "vanished link: not usable");
	ASSERT_FALSE(find_ep(nl, "198.51.100.2", &ep), "its endpoint withdrawn");

	/* undo removes what is still ours; the lab differs only by what the
	 * test itself changed (wan0 gone, wan1's address) */
	ASSERT_OK(mpc_nl_undo_all(nl), "undo");
	ASSERT_EQ(count_rules(nl, AF_INET, "198.51.100.67", 0, 0), 0, "new rule undone");
	ASSERT_FALSE(find_ep(nl, "198.51.100.67", &ep), "new endpoint undone");
	ASSERT_TRUE(find_ep(nl, "2001:db8:12::2", &ep) && ep.id == pre.id,
		    "operator endpoint survives undo");
	ASSERT_FALSE(find_route(nl, AF_INET, 0x6d71, "0.0.0.0", 0, "198.51.100.65", idx[1],
				RTN_UNICAST),
		     "table 0x6d71 emptied");
out:
	free(before);
}

/* allow_down: a link without default route, or without carrier, at
 * start-up is set up with nothing and brought in by a later sync; an
 * unknown interface still fails. */
static void t_wan_allow_down(struct mpc_nl *nl)
{
	struct mpc_nl_wan_opts opts = { .allow_down = true };
	struct mpc_nl_wan_result res;
	struct mpc_nl_endpoint ep;
	bool changed;
	int idx[2];

	if (!ASSERT_TRUE(mk_wan_lab(), "lab") ||
	    !ASSERT_OK(sh("ip route del default dev wan1 && ip -6 route del default dev wan1"),
		       "wan1 without defaults"))
		return;
	idx[0] = ifidx(nl, "wan0");
	idx[1] = ifidx(nl, "wan1");
	ASSERT_EQ(mpc_nl_setup_wan_links(nl, idx, 2, NULL, &res), -ENETUNREACH,
		  "without allow_down: an error, as before");
	if (!ASSERT_OK(mpc_nl_setup_wan_links(nl, idx, 2, &opts, &res), "with allow_down"))
		return;
	ASSERT_EQ(res.links[1].n_addrs, 0, "wan1 set up with nothing");
	ASSERT_TRUE(!strcmp(res.links[1].name, "wan1") && res.links[1].ifindex == idx[1],
		    "but named and indexed");
	ASSERT_TRUE(find_ep(nl, "198.51.100.2", &ep), "wan0 configured");
	ASSERT_FALSE(find_ep(nl, "198.51.100.66", &ep), "no wan1 endpoint");

	ASSERT_OK(sh("ip route add default via 198.51.100.65 dev wan1 metric 200"), "route back");
	ASSERT_EQ(mpc_nl_wan_link_sync(nl, 1, &opts, &res.links[1], &changed), 1, "usable now");
	ASSERT_TRUE(changed && find_ep(nl, "198.51.100.66", &ep), "wan1 endpoint added");
	ASSERT_EQ(count_rules(nl, AF_INET, "198.51.100.66", 0x6d71, 0), 1, "and its rule");

	/* no carrier at start-up: the peer end down */
	ASSERT_OK(mpc_nl_undo_all(nl), "undo");
	ASSERT_OK(sh("ip link set wan1p down"), "wan1 loses carrier");
	ASSERT_TRUE(wait_sh(3000, "ip -o link show dev wan1 | grep -q 'NO-CARRIER'"), "no carrier");
	ASSERT_OK(mpc_nl_setup_wan_links(nl, idx, 2, &opts, &res), "no carrier, allow_down");
	ASSERT_EQ(res.links[1].n_addrs, 0, "wan1 without carrier set up with nothing");
	ASSERT_FALSE(find_ep(nl, "198.51.100.66", &ep), "no endpoint while without carrier");

	/* unknown interface: still an error */
	idx[1] = 4242;
	ASSERT_EQ(mpc_nl_setup_wan_links(nl, idx, 2, &opts, &res), -ENODEV, "unknown ifindex");
}

/* ---- end to end: the kernel opens the second subflow -------------------- */

static int tcp_wait(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };

	return poll(&p, 1, ms) == 1 ? 0 : -ETIMEDOUT;
}

static void t_e2e_subflow(struct mpc_nl *nl)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(5201) };
	struct mpc_nl *snl = NULL;
	struct mpc_nl_wan_result res;
	struct mpc_nl_limits lim;
	struct mptcp_info info;
	char srv[64], path[128], buf[16];
	int srv_ns = -1, cli_ns = -1, lfd = -1, cfd = -1, afd = -1, idx[2], i, subflows = -1;
	bool via_wan2 = false;

	snprintf(srv, sizeof(srv), "mpc-nl-%08x", (unsigned int)(rand() ^ getpid()));
	snprintf(path, sizeof(path), "/run/netns/%s", srv);
	if (!ASSERT_OK(sh("ip netns add %s", srv), "server netns"))
		return;
	srv_ns = open(path, O_RDONLY | O_CLOEXEC);
	cli_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!ASSERT_GE(srv_ns, 0, "open server netns") || !ASSERT_GE(cli_ns, 0, "client netns"))
		goto out;

	/* client (this netns) c1/c2 <-> server s1/s2; the server checks
	 * sources strictly, so a subflow from .66 only gets through if it
	 * really left by c2 */
	if (!ASSERT_OK(sh("ip link add c1 type veth peer name s1 netns %s && "
			  "ip link add c2 type veth peer name s2 netns %s && "
			  "ip link set c1 up && ip link set c2 up && "
			  "ip -n %s link set lo up && ip -n %s link set s1 up && "
			  "ip -n %s link set s2 up && "
			  "ip netns exec %s sysctl -qw net.ipv4.conf.all.rp_filter=1 "
			  "net.ipv4.conf.s1.rp_filter=1 net.ipv4.conf.s2.rp_filter=1 && "
			  "ip -n %s addr add 198.51.100.1/26 dev s1 && "
			  "ip -n %s addr add 198.51.100.65/26 dev s2 && "
			  "ip -n %s addr add 203.0.113.1/32 dev lo",
			  srv, srv, srv, srv, srv, srv, srv, srv, srv),
		       "server side") ||
	    !ASSERT_TRUE(wait_sh(3000, "ip -o link show dev c1 | grep -q 'state UP' && "
				       "ip -o link show dev c2 | grep -q 'state UP'"),
			 "carrier") ||
	    !ASSERT_OK(sh("ip addr add 198.51.100.2/26 dev c1 && "
			  "ip addr add 198.51.100.66/26 dev c2 && "
			  "ip route add default via 198.51.100.1 dev c1 metric 100 && "
			  "ip route add default via 198.51.100.65 dev c2 metric 200"),
		       "client side"))
		goto out;

	/* server: limits through the library (as the concentrator does)
	 * and an MPTCP listener, both created inside the server netns */
	if (!ASSERT_OK(setns(srv_ns, CLONE_NEWNET), "enter server"))
		goto out;
	ASSERT_OK(mpc_nl_open(&snl), "server context");
	lfd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	sa.sin_addr.s_addr = inet_addr("203.0.113.1");
	if (lfd >= 0 && (bind(lfd, (void *)&sa, sizeof(sa)) || listen(lfd, 4))) {
		close(lfd);
		lfd = -1;
	}
	if (!ASSERT_OK(setns(cli_ns, CLONE_NEWNET), "back to client") ||
	    !ASSERT_GE(lfd, 0, "MPTCP listener") || !snl)
		goto out;
	if (!ASSERT_OK(mpc_nl_pm_raise_limits(snl, 2, 0, MPC_NL_REC_LIMITS, &lim), "server limits"))
		goto out;

	idx[0] = ifidx(nl, "c1");
	idx[1] = ifidx(nl, "c2");
	if (!ASSERT_OK(mpc_nl_setup_wan_links(nl, idx, 2, NULL, &res), "client setup")) {
		printf("# %s\n", mpc_nl_errmsg(nl));
		goto out;
	}

	cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_MPTCP);
	if (!ASSERT_GE(cfd, 0, "MPTCP socket"))
		goto out;
	if (connect(cfd, (void *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
		ASSERT_OK(-errno, "connect");
		goto out;
	}
	if (!ASSERT_OK(tcp_wait(cfd, POLLOUT, 5000), "connected") ||
	    !ASSERT_OK(tcp_wait(lfd, POLLIN, 5000), "server sees it"))
		goto out;
	afd = accept(lfd, NULL, NULL);
	if (!ASSERT_GE(afd, 0, "accept"))
		goto out;
	/* one round trip: the client's MPTCP connection is then fully
	 * established and its path manager starts the extra subflow */
	ASSERT_EQ(send(cfd, "ping", 4, 0), 4, "send");
	ASSERT_OK(tcp_wait(afd, POLLIN, 5000), "data at server");
	ASSERT_EQ(recv(afd, buf, sizeof(buf), 0), 4, "recv");
	ASSERT_EQ(send(afd, "pong", 4, 0), 4, "reply");
	ASSERT_OK(tcp_wait(cfd, POLLIN, 5000), "reply at client");
	ASSERT_EQ(recv(cfd, buf, sizeof(buf), 0), 4, "recv reply");

	for (i = 0; i < 100; i++) {
		socklen_t len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (getsockopt(cfd, SOL_MPTCP, MPTCP_INFO, &info, &len) == 0 &&
		    info.mptcpi_subflows >= 1) {
			subflows = info.mptcpi_subflows;
			break;
		}
		msleep(50);
	}
	ASSERT_GE(subflows, 1, "additional subflow within 5 s");

	/* which source did it use? MPTCP_SUBFLOW_ADDRS lists every subflow */
	{
		struct {
			struct mptcp_subflow_data d;
			struct mptcp_subflow_addrs a[4];
		} sf;
		socklen_t len = sizeof(sf);
		unsigned int k;

		memset(&sf, 0, sizeof(sf));
		sf.d.size_subflow_data = sizeof(sf.d);
		sf.d.size_user = sizeof(sf.a[0]);
		if (ASSERT_OK(getsockopt(cfd, SOL_MPTCP, MPTCP_SUBFLOW_ADDRS, &sf, &len),
			      "MPTCP_SUBFLOW_ADDRS")) {
			for (k = 0; k < sf.d.num_subflows && k < 4; k++)
				if (sf.a[k].sin_local.sin_family == AF_INET &&
				    sf.a[k].sin_local.sin_addr.s_addr == inet_addr("198.51.100.66"))
					via_wan2 = true;
			printf("# client subflows: %u\n", sf.d.num_subflows);
		}
	}
	ASSERT_TRUE(via_wan2, "a subflow from the second link's address");
	{
		socklen_t len = sizeof(info);

		memset(&info, 0, sizeof(info));
		ASSERT_OK(getsockopt(afd, SOL_MPTCP, MPTCP_INFO, &info, &len), "server info");
		ASSERT_GE(info.mptcpi_subflows, 1, "server counts the joined subflow");
	}
	ASSERT_OK(mpc_nl_undo_all(nl), "client undo");
	ASSERT_FALSE(find_ep(nl, "198.51.100.66", &(struct mpc_nl_endpoint){ 0 }),
		     "endpoint removed");
out:
	if (cfd >= 0)
		close(cfd);
	if (afd >= 0)
		close(afd);
	if (lfd >= 0)
		close(lfd);
	if (snl) {
		mpc_nl_undo_all(snl);
		mpc_nl_close(snl);
	}
	if (srv_ns >= 0)
		close(srv_ns);
	if (cli_ns >= 0)
		close(cli_ns);
	sh("ip netns del %s", srv);
}

/* ---- runner ------------------------------------------------------------ */

static void run(const char *name, void (*fn)(struct mpc_nl *nl), bool need_pm)
{
	struct mpc_nl *nl = NULL;

	if (!test__start_subtest(name))
		return;
	if (!ns_enter())
		return;
	if (!ASSERT_OK(mpc_nl_open(&nl), "mpc_nl_open"))
		goto out;
	if (need_pm && !mpc_nl_has_pm(nl)) {
		test__skip("no mptcp_pm genetlink family in this kernel");
		goto out;
	}
	fn(nl);
	/* a subtest that failed halfway must not leak into the next one;
	 * the namespace goes away anyway */
	mpc_nl_undo_all(nl);
out:
	mpc_nl_close(nl);
	ns_leave();
}

void test_netlink(void)
{
	srand((unsigned int)time(NULL) ^ (unsigned int)getpid());
	run("limits", t_limits, true);
	run("endpoints", t_endpoints, true);
	run("wan_setup_undo", t_wan_setup, true);
	run("wan_options", t_wan_options, true);
	run("wan_gateways", t_wan_gateways, true);
	run("idempotent", t_idempotent, true);
	run("partial_failure", t_partial_failure, true);
	run("rules_routes", t_rules_routes, false);
	run("local_routing", t_local_routing, false);
	run("errors", t_errors, true);
	run("link_sync", t_link_sync, true);
	run("wan_allow_down", t_wan_allow_down, true);
	run("e2e_second_subflow", t_e2e_subflow, true);
}
