// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpconv cpe: the upstream MCP. The tc classifier on the LAN interface
 * steers TCP SYNs to a transparent MPTCP listener (bpf_sk_assign +
 * local-routing mark, recipes.md); for each accepted connection the
 * original destination is getsockname() and the daemon opens MPTCP:
 *
 *   explicit  to the concentrator, RFC 8803 Convert header + Connect TLV
 *             in the SYN (cookie-less TFO: no extra round trip), then reads
 *             the Convert reply before relaying server bytes back;
 *   implicit  to the destination itself from a marked socket; tc on the
 *             WAN stamps MP_PREFER_PROXY in its MP_CAPABLE SYN and an
 *             on-path concentrator picks it up (plain-mode-10 §5);
 *   direct    to the destination itself, no concentrator (single-ended),
 *             with the fallback cache.
 *
 * The kernel's MPTCP path manager opens one subflow per WAN link: the
 * daemon adds an endpoint per WAN address and per-link source routing
 * through netlink, and removes exactly what it added on exit.
 *
 * The WAN link watcher keeps that true while links come and go: on a
 * link, address or default-route change of a WAN interface it withdraws
 * the endpoints of a link that lost carrier, address or route (its
 * subflows close on every connection at once, so the data moves to the
 * other link without waiting for retransmission timeouts) and adds them
 * back when the link is usable again, which makes the kernel open a new
 * subflow on every established connection: after an outage or an address
 * change long-lived connections get their second path back.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/mptcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <mpconv/convert.h>
#include <mpconv/wire.h>

#include "addr.h"
#include "attach.h"
#include "cmds.h"
#include "conc.h"
#include "daemon.h"
#include "fbcache.h"
#include "log.h"
#include "loop.h"
#include "nl.h"
#include "onpath.h"
#include "relay.h"
#include "sock.h"
#include "state.h"
#include "sysctl.h"
#include "tc_lan.skel.h"

#define CPE_MAX_WAN MPC_MAX_LINKS
#define CPE_PROXY_PORT_DEF 7301
#define CPE_LOCAL_MARK_DEF 0x6d70
#define CPE_STAMP_MARK_DEF 0x6d71

struct cpe_opts {
	const char *lan;
	const char *wan[CPE_MAX_WAN];
	int n_wan;
	uint32_t backup_mask;
	struct sockaddr_storage conc;
	socklen_t conc_len;
	bool have_conc;
	uint8_t mode; /* enum mpc_mode */
	bool native_proxy;
	struct mpc_prefix *bypass, *convert;
	int n_bypass, n_convert;
	uint16_t bypass_port[64], convert_port[64];
	int n_bypass_port, n_convert_port;
	uint16_t proxy_port;
	uint32_t local_mark, stamp_mark;
	uint8_t prefer_subtype;
	uint32_t connect_timeout_s, ttl_s, max_conns, pipe_size;
	int rcvbuf;	      /* SO_RCVBUF of explicit-mode sockets, 0 = autotune */
	uint32_t fin_hold_ms; /* hold an early LAN FIN this long at most; 0 = never */
};

struct cpe_link {
	int ifindex;
	char name[IF_NAMESIZE];
	uint8_t addr4[16], addr6[16];
	bool has4, has6;
	/* live subflows and their bytes, from the connections' polls */
	uint32_t subflows;
	uint64_t tx, rx;
	/* interface counters when the daemon started (IFLA_STATS64) */
	uint64_t if_tx0, if_rx0;
	uint64_t if_tx, if_rx;
	bool up;	/* usable: its endpoints are in place */
	uint32_t downs; /* times found unusable */
};

struct cpe {
	struct cpe_opts o;
	struct mpc_loop loop;
	struct mpc_relay relay;
	struct mpc_state st;
	struct mpc_nl *nl;
	struct tc_lan_bpf *lan_skel;
	struct mpc_attach lan_att;
	struct mpc_wan wan; /* implicit mode: MP_PREFER_PROXY stamper */
	int wan_idx[CPE_MAX_WAN];
	struct mpc_ev lst[2];
	struct mpc_daemon dm;
	struct mpc_tqueue q_connect;
	struct cpe_link links[CPE_MAX_WAN];
	int n_links;
	/* WAN link watcher: what mpc_nl_setup_wan_links() set up, kept in
	 * step by mpc_nl_wan_link_sync() */
	struct mpc_nl_wan_result *wan_res;
	struct mpc_nl_wan_opts wan_opts;
	struct mpc_ev mon;
	struct mpc_tqueue q_link;
	struct mpc_timer t_link;
	/* early LAN FINs held for the subflows: one timer for all of them
	 * (no per-connection state; they are few and last at most a second) */
	struct mpc_tqueue q_fin;
	struct mpc_timer t_fin;
	uint64_t fin_hold_off_ms; /* loop time before which no FIN is held */
	uint32_t link_dirty;	  /* bit i: link i needs a sync */
	uint64_t last_full_sync_ms;
	int lan_ifindex;
	uint64_t attach_mask;
};

static struct cpe *g_cpe;

/* Per-connection link accounting (ext): last polled values per link.
 * Allocated for the configured links only (n_links entries in l[]): it is
 * kept for the connection's whole life, and 8 links' worth of counters
 * was most of the CPE's per-connection memory (bench/: 136 -> 40 bytes
 * with two links). */
struct cpe_acct {
	uint8_t sf[CPE_MAX_WAN];
	struct {
		uint64_t tx, rx;
	} l[];
};

enum cpe_phase {
	CPH_CONNECT = 0, /* b connecting (SYN carries the Convert message) */
	CPH_REPLY,	 /* relaying up, waiting for the Convert reply */
};

struct cpe_hs {
	uint8_t phase;
	uint8_t out[64]; /* Convert message not yet accepted by the socket */
	uint8_t out_len, out_off;
	bool tried_mptcp;
	bool cached_tcp;
};

/* ---- link accounting -------------------------------------------------- */

static int link_of_addr(struct cpe *cp, const struct sockaddr_storage *ss)
{
	uint8_t a[16];
	int i;

	mpc_sa_to16(ss, a, NULL);
	for (i = 0; i < cp->n_links; i++)
		if ((cp->links[i].has4 && !memcmp(a, cp->links[i].addr4, 16)) ||
		    (cp->links[i].has6 && !memcmp(a, cp->links[i].addr6, 16)))
			return i;
	return -1;
}

/*
 * Poll the subflows of one MPTCP socket: MPTCP_SUBFLOW_ADDRS gives each
 * subflow's local address (hence its WAN link), MPTCP_TCPINFO its byte
 * counters; both list subflows in the same order. Counters of a subflow
 * that closed vanish from the sum, so only increases are accumulated.
 */
#define CPE_MAX_SF 16
struct sf_infos {
	struct mptcp_subflow_data d;
	struct tcp_info t[CPE_MAX_SF];
};

/* tcp_info of every subflow of an MPTCP socket: 0, or -1 (not MPTCP) */
static int sf_tcpinfo(int fd, struct sf_infos *infos)
{
	socklen_t len = sizeof(*infos);

	memset(&infos->d, 0, sizeof(infos->d));
	infos->d.size_subflow_data = sizeof(infos->d);
	infos->d.size_user = sizeof(infos->t[0]);
	return getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, infos, &len) ? -1 : 0;
}

static void acct_poll(struct mpc_conn *c)
{
	struct cpe *cp = g_cpe;
	struct cpe_acct *ac = c->ext;
	struct {
		struct mptcp_subflow_data d;
		struct mptcp_subflow_addrs a[CPE_MAX_SF];
	} addrs;
	struct sf_infos infos;
	uint8_t sf[CPE_MAX_WAN] = { 0 };
	uint64_t tx[CPE_MAX_WAN] = { 0 }, rx[CPE_MAX_WAN] = { 0 };
	socklen_t len;
	uint32_t i, n;
	int l;

	if (!ac || c->b.ev.fd < 0)
		return;
	memset(&addrs.d, 0, sizeof(addrs.d));
	addrs.d.size_subflow_data = sizeof(addrs.d);
	addrs.d.size_user = sizeof(addrs.a[0]);
	len = sizeof(addrs);
	if (getsockopt(c->b.ev.fd, SOL_MPTCP, MPTCP_SUBFLOW_ADDRS, &addrs, &len))
		return;
	if (sf_tcpinfo(c->b.ev.fd, &infos))
		return;
	n = addrs.d.num_subflows < infos.d.num_subflows ? addrs.d.num_subflows :
							  infos.d.num_subflows;
	if (n > CPE_MAX_SF)
		n = CPE_MAX_SF;
	for (i = 0; i < n; i++) {
		struct sockaddr_storage ss;

		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, &addrs.a[i].ss_local, sizeof(addrs.a[i].ss_local));
		l = link_of_addr(cp, &ss);
		if (l < 0)
			continue;
		sf[l]++;
		tx[l] += infos.t[i].tcpi_bytes_sent;
		rx[l] += infos.t[i].tcpi_bytes_received;
	}
	for (l = 0; l < cp->n_links; l++) {
		cp->links[l].subflows += sf[l] - ac->sf[l];
		if (tx[l] > ac->l[l].tx)
			cp->links[l].tx += tx[l] - ac->l[l].tx;
		if (rx[l] > ac->l[l].rx)
			cp->links[l].rx += rx[l] - ac->l[l].rx;
		ac->sf[l] = sf[l];
		ac->l[l].tx = tx[l];
		ac->l[l].rx = rx[l];
	}
}

static void acct_close(struct mpc_conn *c)
{
	struct cpe_acct *ac = c->ext;
	int l;

	if (!ac)
		return;
	acct_poll(c);
	for (l = 0; l < g_cpe->n_links; l++)
		g_cpe->links[l].subflows -= ac->sf[l];
	free(ac);
	c->ext = NULL;
}

static void publish_links(struct cpe *cp)
{
	uint32_t i;

	for (i = 0; i < (uint32_t)cp->n_links; i++) {
		struct cpe_link *cl = &cp->links[i];
		struct mpc_link l = { 0 };

		l.ifindex = cl->ifindex;
		memcpy(l.name, cl->name,
		       sizeof(l.name) < sizeof(cl->name) ? sizeof(l.name) : sizeof(cl->name));
		if (cl->has4)
			memcpy(l.addr4, cl->addr4, 16);
		if (cl->has6)
			memcpy(l.addr6, cl->addr6, 16);
		l.subflows = cl->subflows;
		/* The link's own counters since start: exact and cumulative.
		 * Subflow counters (cl->tx/rx) lose the tail of connections
		 * that close between two polls; they are the fallback when
		 * netlink statistics are missing. */
		l.bytes_tx = cl->if_tx ? cl->if_tx - cl->if_tx0 : cl->tx;
		l.bytes_rx = cl->if_rx ? cl->if_rx - cl->if_rx0 : cl->rx;
		l.updated_ns = mpc_now_ns();
		l.up = cl->up;
		l.downs = cl->downs;
		bpf_map_update_elem(cp->st.links_fd, &i, &l, BPF_ANY);
	}
}

static void read_if_stats(struct cpe *cp, bool baseline)
{
	int i;

	for (i = 0; i < cp->n_links; i++) {
		struct mpc_nl_link l;

		if (mpc_nl_link_get(cp->nl, cp->links[i].ifindex, NULL, &l))
			continue;
		cp->links[i].if_tx = l.tx_bytes;
		cp->links[i].if_rx = l.rx_bytes;
		if (baseline) {
			cp->links[i].if_tx0 = l.tx_bytes;
			cp->links[i].if_rx0 = l.rx_bytes;
		}
	}
}

/* ---- WAN link watcher -------------------------------------------------- */

/* The addresses subflows of link i leave from, for the accounting. */
static void link_addrs_from(struct cpe_link *cl, const struct mpc_nl_wan_link *wl)
{
	int j;

	cl->has4 = cl->has6 = false;
	memset(cl->addr4, 0, 16);
	memset(cl->addr6, 0, 16);
	for (j = 0; j < wl->n_addrs; j++) {
		const struct mpc_nl_wan_addr *wa = &wl->addrs[j];

		if (wa->family == AF_INET && !cl->has4) {
			cl->addr4[10] = cl->addr4[11] = 0xff;
			memcpy(cl->addr4 + 12, &wa->addr.v4, 4);
			cl->has4 = true;
		} else if (wa->family == AF_INET6 && !cl->has6) {
			memcpy(cl->addr6, &wa->addr.v6, 16);
			cl->has6 = true;
		}
	}
}

static void link_sync(struct cpe *cp, int i)
{
	struct mpc_nl_wan_link *wl = &cp->wan_res->links[i];
	struct cpe_link *cl = &cp->links[i];
	bool changed = false;
	int r;

	r = mpc_nl_wan_link_sync(cp->nl, i, &cp->wan_opts, wl, &changed);
	if (r < 0) {
		/* e.g. an endpoint the kernel refused: retried at the next
		 * change or full sync, the link counts as down meanwhile */
		pr_warn("WAN %s: %s\n", cl->name, mpc_nl_errmsg(cp->nl));
		r = 0;
	}
	link_addrs_from(cl, wl);
	if (cl->up && !r) {
		cl->up = false;
		cl->downs++;
		mpc_dcount(&cp->relay, MPC_D_LINK_DOWN);
		pr_info("WAN %s: not usable (down, no carrier, no address or no default route): "
			"endpoints withdrawn, its subflows closed\n",
			cl->name);
	} else if (!cl->up && r) {
		cl->up = true;
		mpc_dcount(&cp->relay, MPC_D_LINK_UP);
		pr_info("WAN %s: usable again: endpoints restored, subflows reopen on established "
			"connections\n",
			cl->name);
	} else if (changed) {
		pr_info("WAN %s: addresses changed: endpoints updated\n", cl->name);
	}
}

/*
 * Backup links (--backup) carry traffic only when no other link works.
 * Withdrawing the failed primary's endpoint is not enough for that: the
 * concentrator's scheduler keeps sending on its own end of the dead
 * subflow until retransmissions mark it stale (seconds, and on 6.12 the
 * download stalled for more than 15 s), because a backup subflow is used
 * only when no regular one looks available. So while every non-backup
 * link is down the backup links' endpoints lose their BACKUP flag, which
 * makes the kernel send MP_PRIO on their subflows (RFC 8684 §3.3.8) and
 * the peer use them as regular ones; the flag comes back with a primary.
 */
static void backup_policy(struct cpe *cp)
{
	bool primary_up = false, want_backup;
	int i, k;

	if (!cp->o.backup_mask)
		return;
	for (i = 0; i < cp->n_links; i++)
		if (!(cp->o.backup_mask & (1u << i)) && cp->links[i].up)
			primary_up = true;
	want_backup = primary_up;
	for (i = 0; i < cp->n_links; i++) {
		struct mpc_nl_wan_link *wl = &cp->wan_res->links[i];

		if (!(cp->o.backup_mask & (1u << i)) || !cp->links[i].up)
			continue;
		for (k = 0; k < wl->n_addrs; k++) {
			struct mpc_nl_wan_addr *wa = &wl->addrs[k];
			bool is_backup = wa->endpoint_flags & MPC_PM_BACKUP;

			if (wa->endpoint != MPC_NL_ADDED || is_backup == want_backup)
				continue;
			if (mpc_nl_pm_set_backup(cp->nl, wa->endpoint_id, want_backup)) {
				pr_warn("WAN %s: %s: %s\n", wl->name,
					want_backup ? "back to backup" : "promoting the backup",
					mpc_nl_errmsg(cp->nl));
				continue;
			}
			wa->endpoint_flags ^= MPC_PM_BACKUP;
			pr_info("WAN %s: %s\n", wl->name,
				want_backup ?
					"a primary link is back: backup again (MP_PRIO)" :
					"no primary link: backup link used as a regular one (MP_PRIO)");
		}
	}
}

static void link_sync_dirty(struct cpe *cp)
{
	uint32_t dirty = cp->link_dirty;
	int i;

	cp->link_dirty = 0;
	for (i = 0; i < cp->n_links; i++)
		if (dirty & (1u << i))
			link_sync(cp, i);
	backup_policy(cp);
	publish_links(cp);
}

static void link_timer_fire(struct mpc_timer *t)
{
	(void)t;
	link_sync_dirty(g_cpe);
}

static void link_changed(int ifindex, void *arg)
{
	struct cpe *cp = arg;
	int i;

	for (i = 0; i < cp->n_links; i++)
		if (ifindex < 0 || cp->links[i].ifindex == ifindex)
			cp->link_dirty |= 1u << i;
}

/* A burst of notifications (an interface going down deletes its routes
 * and addresses one message each) gives one sync after it settles. */
static void link_mon_event(struct mpc_ev *ev, uint32_t events)
{
	struct cpe *cp = g_cpe;
	int n;

	(void)events;
	n = mpc_nl_monitor_read(ev->fd, link_changed, cp);
	if (n < 0)
		pr_warn("rtnetlink notifications: %s\n", strerror(-n));
	if (cp->link_dirty && !mpc_timer_armed(&cp->t_link))
		mpc_timer_arm(&cp->loop, &cp->q_link, &cp->t_link);
}

static int link_watch_start(struct cpe *cp)
{
	int fd = mpc_nl_monitor_open();

	if (fd < 0) {
		pr_warn("rtnetlink notifications: %s: WAN links are not watched\n", strerror(-fd));
		return fd;
	}
	cp->mon.fd = fd;
	cp->mon.cb = link_mon_event;
	mpc_loop_add(&cp->loop, &cp->mon, EPOLLIN);
	/* 50 ms: longer than the kernel takes to send the burst of one
	 * change, short enough that failover does not wait on it */
	mpc_tqueue_init(&cp->loop, &cp->q_link, 50, link_timer_fire);
	return 0;
}

static void cpe_tick(struct cpe *cp)
{
	struct mpc_list *pos, *tmp;

	read_if_stats(cp, false);
	/* a full sync now and then: a change the watcher could not act on
	 * (the kernel refused an endpoint) is retried */
	if (cp->wan_res && cp->loop.now_ms - cp->last_full_sync_ms >= 30000) {
		cp->last_full_sync_ms = cp->loop.now_ms;
		cp->link_dirty = (1u << cp->n_links) - 1;
		link_sync_dirty(cp);
	}

	mpc_list_for_each_safe(pos, tmp, &cp->relay.conns)
	{
		struct mpc_conn *c = container_of(pos, struct mpc_conn, node);

		if (c->state == MPC_CS_RELAY && c->ext && c->dirty)
			acct_poll(c);
	}
	/* links before counters: the counter flush ends the tick, so a
	 * test that saw it (counters_flushed) sees this tick's links too */
	publish_links(cp);
	mpc_relay_tick(&cp->relay);
}

static void cpe_tick_cb(void *arg)
{
	cpe_tick(arg);
}

static void cpe_sweep(void *arg)
{
	struct cpe *cp = arg;
	int n = mpc_fb_sweep(cp->st.fb_fd, (uint64_t)cp->o.ttl_s * 1000000000ull);

	cp->relay.dstats[MPC_D_FB_EXPIRED] += n > 0 ? n : 0;
}

/* ---- an early FIN from the LAN ----------------------------------------- */

/*
 * The in-kernel PM opens no subflow once the MPTCP connection has sent its
 * DATA_FIN, and a join that completes after it is reset (the connection is
 * no longer fully established). A LAN client that half-closes at once
 * (request then shutdown, or nothing to send) would leave its download on
 * one link. So the CPE holds such a FIN, briefly: while the connection is
 * young (CPE_FIN_HOLD_MS) and has fewer established subflows than usable
 * WAN links of its family. The cost is that FIN arriving later, bounded;
 * a connection that already has its subflows never waits.
 */
#define CPE_FIN_HOLD_MS 1000
#define CPE_FIN_POLL_MS 5	  /* the FIN leaves at most this long after the subflows are up */
#define CPE_FIN_HOLD_OFF_MS 30000 /* no holds for this long after one expired */

static int est_subflows(int fd)
{
	struct sf_infos infos;
	int i, n = 0;

	if (sf_tcpinfo(fd, &infos))
		return -1;
	for (i = 0; i < (int)infos.d.num_subflows && i < CPE_MAX_SF; i++)
		n += infos.t[i].tcpi_state == 1; /* TCP_ESTABLISHED */
	return n;
}

/* Should c's FIN still wait for subflows? */
enum fin_wait { FIN_GO = 0, FIN_WAIT, FIN_EXPIRED };

static enum fin_wait fin_wait_needed(struct cpe *cp, struct mpc_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int i, want = 0, have;

	if (!(c->bflags & MPC_BF_UP_MPTCP) || c->b.ev.fd < 0 ||
	    getsockname(c->b.ev.fd, (struct sockaddr *)&ss, &sl))
		return FIN_GO;
	for (i = 0; i < cp->n_links; i++)
		want += cp->links[i].up &&
			(ss.ss_family == AF_INET ? cp->links[i].has4 : cp->links[i].has6);
	have = est_subflows(c->b.ev.fd);
	pr_debug("relay %llu: FIN hold check: %d of %d subflows established, %llu ms old\n",
		 (unsigned long long)c->cookie, have, want,
		 (unsigned long long)((mpc_now_ns() - c->start_ns) / 1000000));
	if (have < 0 || have >= want)
		return FIN_GO;
	return mpc_now_ns() - c->start_ns >= cp->o.fin_hold_ms * 1000000ull ? FIN_EXPIRED :
									      FIN_WAIT;
}

/* Every CPE_FIN_POLL_MS while a FIN is held: release those whose wait is
 * over. A walk over the connections, so a connection that dies while
 * held needs no clean-up. */
static void fin_check(struct mpc_timer *t)
{
	struct cpe *cp = g_cpe;
	struct mpc_list *pos, *tmp;
	bool still = false;

	(void)t;
	mpc_list_for_each_safe(pos, tmp, &cp->relay.conns)
	{
		struct mpc_conn *c = container_of(pos, struct mpc_conn, node);

		if (c->state != MPC_CS_RELAY || !c->up.fin_held)
			continue;
		switch (fin_wait_needed(cp, c)) {
		case FIN_WAIT:
			still = true;
			continue;
		case FIN_EXPIRED:
			/* a link that looks usable but opens no subflow
			 * (no IP service behind the carrier, joins refused):
			 * holding the next FINs would only delay them */
			mpc_dcount(c->r, MPC_D_FIN_HOLD_EXPIRED);
			cp->fin_hold_off_ms = cp->loop.now_ms + CPE_FIN_HOLD_OFF_MS;
			break;
		case FIN_GO:
			break;
		}
		mpc_conn_release_fin(c); /* may free c: _safe walk */
	}
	if (still)
		mpc_timer_arm(&cp->loop, &cp->q_fin, &cp->t_fin);
}

static bool cpe_hold_fin(struct mpc_conn *c)
{
	struct cpe *cp = g_cpe;

	if (!cp->o.fin_hold_ms || cp->loop.now_ms < cp->fin_hold_off_ms ||
	    fin_wait_needed(cp, c) != FIN_WAIT)
		return false;
	mpc_dcount(c->r, MPC_D_FIN_HELD);
	if (!mpc_timer_armed(&cp->t_fin))
		mpc_timer_arm(&cp->loop, &cp->q_fin, &cp->t_fin);
	return true;
}

/* ---- connection handling --------------------------------------------- */

static void cpe_established(struct mpc_conn *c)
{
	int up = mpc_sock_mptcp(c->b.ev.fd, &c->subflows, &c->token);

	if (up > 0) {
		struct cpe_acct *ac = calloc(1, sizeof(*ac) + g_cpe->n_links * sizeof(ac->l[0]));

		c->bflags |= MPC_BF_UP_MPTCP;
		if (ac) {
			c->ext = ac;
			c->on_close = acct_close;
		}
	}
	c->cookie = mpc_sock_cookie(c->b.ev.fd);
}

/* Explicit mode: read the concentrator's Convert reply, the first bytes
 * of its stream (protocol.md §1.2). Returns true once it is consumed. */
static void cpe_read_reply(struct mpc_conn *c)
{
	uint8_t buf[MPC_CV_MAX_LEN];
	struct mpc_cv_status st;
	struct mpc_cv_msg *m;
	ssize_t n;
	int need;

	n = recv(c->b.ev.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* closed or reset before a reply: nothing to relay */
		mpc_dcount(c->r, MPC_D_BAD_REPLY);
		mpc_conn_abort(c);
		return;
	}
	need = mpc_cv_msg_len(buf, n, &st);
	if (need < 0) {
		mpc_dcount(c->r, MPC_D_BAD_REPLY);
		mpc_conn_abort(c);
		return;
	}
	if (need == 0 || n < need)
		return;
	m = malloc(sizeof(*m));
	if (!m || recv(c->b.ev.fd, buf, need, MSG_DONTWAIT) != need ||
	    mpc_cv_decode(buf, need, MPC_CV_SIDE_CLIENT, m, &st)) {
		free(m);
		mpc_dcount(c->r, MPC_D_BAD_REPLY);
		mpc_conn_abort(c);
		return;
	}
	if (m->present & (1ull << MPC_CV_T_ERROR)) {
		/* RFC 8803: the client MUST reset on an Error TLV; the LAN
		 * host learns at once instead of hanging */
		char a[MPC_ADDRSTRLEN];

		pr_debug("concentrator refused %s:%u: Error %u (%s)\n",
			 mpc_addr16_str(c->server, a), c->sport, m->error.code,
			 mpc_cv_error_name(m->error.code));
		mpc_dcount(c->r, MPC_D_ERR_RX);
		free(m);
		mpc_conn_abort(c);
		return;
	}
	if (m->present & (1ull << MPC_CV_T_EXT_TCP_HDR)) {
		int i = 0;

		while (i + 1 < m->ext_tcp_hdr.opts_len) {
			uint8_t kind = m->ext_tcp_hdr.opts[i], len = m->ext_tcp_hdr.opts[i + 1];

			if (kind == TCPOPT_EOL_KIND)
				break;
			if (kind == TCPOPT_NOP_KIND) {
				i++;
				continue;
			}
			if (kind == TCPOPT_MPTCP_KIND)
				c->bflags |= MPC_BF_DOWN_MPTCP;
			if (len < 2)
				break;
			i += len;
		}
	}
	free(m);
	mpc_timer_cancel(&c->timer);
	c->bflags |= MPC_BF_ESTABLISHED;
	mpc_conn_priv_free(c);
	c->hs = NULL;
	mpc_conn_bind(c);
	mpc_conn_release_down(c);
}

static bool flush_out(struct mpc_conn *c)
{
	struct cpe_hs *hs = c->priv;

	while (hs->out_off < hs->out_len) {
		ssize_t n = send(c->b.ev.fd, hs->out + hs->out_off, hs->out_len - hs->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return false;
			mpc_conn_abort(c);
			return false;
		}
		hs->out_off += n;
	}
	return true;
}

static void cpe_connected(struct mpc_conn *c)
{
	struct cpe *cp = g_cpe;
	struct cpe_hs *hs = c->priv;

	if (!flush_out(c))
		return;
	cpe_established(c);
	if (cp->o.mode == MPC_MODE_EXPLICIT) {
		hs->phase = CPH_REPLY;
		mpc_conn_bind(c);
		/* client bytes flow up at once; server bytes wait for the
		 * reply to be consumed (0-RTT, §1.2) */
		mpc_conn_start_relay(c, true);
		if (c->state == MPC_CS_RELAY && c->hs)
			cpe_read_reply(c);
		return;
	}
	if (cp->o.mode == MPC_MODE_DIRECT && hs->tried_mptcp && !(c->bflags & MPC_BF_UP_MPTCP) &&
	    cp->st.fb_fd >= 0) {
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);
		uint8_t reason = MPC_FB_NO_MPC;

		memset(&ti, 0, sizeof(ti));
		if (!getsockopt(c->b.ev.fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) &&
		    ti.tcpi_total_retrans > 0)
			reason = MPC_FB_SYN_DROPPED;
		if (!mpc_fb_insert(cp->st.fb_fd, c->server, reason))
			mpc_dcount(c->r, MPC_D_FB_INSERT);
	}
	if (hs->cached_tcp)
		c->bflags |= MPC_BF_DOWN_CACHED;
	if (c->bflags & MPC_BF_UP_MPTCP && cp->o.mode == MPC_MODE_DIRECT)
		c->bflags |= MPC_BF_DOWN_MPTCP;
	c->bflags |= MPC_BF_ESTABLISHED;
	mpc_timer_cancel(&c->timer);
	mpc_conn_priv_free(c);
	c->hs = NULL;
	mpc_conn_bind(c);
	mpc_conn_start_relay(c, false);
}

static void cpe_hs_event(struct mpc_conn *c, struct mpc_side *s, uint32_t events)
{
	struct cpe_hs *hs = c->priv;

	if (s == &c->a) {
		/* the LAN host gave up before the far side answered */
		if (c->state != MPC_CS_RELAY && (events & (EPOLLERR | EPOLLHUP)))
			mpc_conn_abort(c);
		return;
	}
	if (hs->phase == CPH_REPLY) {
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			cpe_read_reply(c);
		return;
	}
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->b.ev.fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			char a[MPC_ADDRSTRLEN];

			pr_debug("connection for %s:%u failed: %s\n", mpc_addr16_str(c->server, a),
				 c->sport, strerror(err));
			mpc_conn_abort(c);
			return;
		}
		cpe_connected(c);
	}
}

static void cpe_timeout(struct mpc_timer *t)
{
	struct mpc_conn *c = container_of(t, struct mpc_conn, timer);

	mpc_dcount(c->r, MPC_D_ERR_TX_NETWORK);
	mpc_conn_abort(c);
}

/* Open side b for connection c. Returns 0 or -errno. */
static int cpe_open_b(struct cpe *cp, struct mpc_conn *c)
{
	struct cpe_hs *hs = c->priv;
	struct sockaddr_storage dst;
	socklen_t dlen;
	int fd, one = 1;

	hs->tried_mptcp = true;
	if (cp->o.mode == MPC_MODE_EXPLICIT) {
		dst = cp->o.conc;
		dlen = cp->o.conc_len;
	} else {
		dlen = mpc_16_to_sa(c->server, c->sport, &dst);
		if (cp->o.mode == MPC_MODE_DIRECT &&
		    mpc_fb_lookup(cp->st.fb_fd, c->server, (uint64_t)cp->o.ttl_s * 1000000000ull,
				  NULL) > 0) {
			hs->tried_mptcp = false;
			hs->cached_tcp = true;
			mpc_dcount(c->r, MPC_D_FB_HIT);
		}
	}
	fd = mpc_stream_socket(dst.ss_family, hs->tried_mptcp);
	if (fd < 0)
		return fd;
	if (cp->o.mode == MPC_MODE_IMPLICIT &&
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &cp->o.stamp_mark, sizeof(cp->o.stamp_mark))) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (cp->o.mode == MPC_MODE_EXPLICIT) {
		struct in6_addr a;
		struct mpc_cv_buf b;
		ssize_t n;
		int len;

		/* cookie-less TFO (recipes.md): the Convert message rides
		 * in the SYN, so it costs no round trip */
		setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one));
		memcpy(&a, c->server, 16);
		mpc_cv_begin(&b, hs->out, sizeof(hs->out));
		mpc_cv_put_connect(&b, &a, c->sport, NULL, 0);
		len = mpc_cv_finish(&b);
		if (len < 0) {
			close(fd);
			return -EINVAL;
		}
		hs->out_len = len;
		/*
		 * Measured on 6.18: an MPTCP socket that opened with data in
		 * its SYN (TFO, active side) receives at a fraction of the
		 * links' rate with the kernel's receive autotuning: the
		 * connection-level queue drops data that subflows already
		 * acked (sk_drops grows), and each drop stalls until an
		 * MPTCP-level retransmission. 2x20 Mbit/s: 1.7-18 Mbit/s
		 * autotuned, 37.6 with a fixed buffer, same as without TFO.
		 * A fixed SO_RCVBUF (--rcvbuf, bytes) keeps 0-RTT without
		 * paying for it in aggregation. The passive side (the
		 * concentrator) is not affected.
		 */
		if (cp->o.rcvbuf)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cp->o.rcvbuf, sizeof(cp->o.rcvbuf));
		n = sendto(fd, hs->out, len, MSG_FASTOPEN | MSG_NOSIGNAL, (struct sockaddr *)&dst,
			   dlen);
		if (n >= 0) {
			hs->out_off = n;
		} else if (errno == EINPROGRESS) {
			/* no data went in the SYN; it goes after the handshake */
			hs->out_off = 0;
		} else {
			int err = -errno;

			close(fd);
			return err;
		}
	} else if (connect(fd, (struct sockaddr *)&dst, dlen) && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (mpc_conn_set_b(c, fd)) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

static void cpe_accept(struct mpc_ev *ev, uint32_t events)
{
	struct cpe *cp = g_cpe;
	int i;

	for (i = 0; i < 256; i++) {
		struct sockaddr_storage peer, local;
		socklen_t plen = sizeof(peer), llen = sizeof(local);
		struct mpc_conn *c;
		struct cpe_hs *hs;
		int fd, err;

		fd = accept4(ev->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				struct mpc_relay *r = &cp->relay;

				/* Out of descriptors: the LAN host must not hang
				 * in our accept queue. Give back idle pipes, use
				 * the reserve descriptor to take the connection,
				 * and reset it so the host learns at once. */
				mpc_dcount(r, MPC_D_EMFILE);
				mpc_relay_trim_pool(r);
				if (r->reserve_fd >= 0) {
					close(r->reserve_fd);
					fd = accept4(ev->fd, NULL, NULL, SOCK_CLOEXEC);
					if (fd >= 0)
						mpc_close_rst(fd);
					r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				}
			}
			return;
		}
		mpc_dcount(&cp->relay, MPC_D_ACCEPTED);
		if (cp->relay.n_conns >= cp->relay.max_conns) {
			mpc_dcount(&cp->relay, MPC_D_CONN_LIMIT);
			mpc_close_rst(fd);
			continue;
		}
		c = mpc_conn_new(&cp->relay, fd, cpe_hs_event);
		hs = c ? calloc(1, sizeof(*hs)) : NULL;
		if (!hs) {
			if (c)
				mpc_conn_abort(c);
			else
				mpc_close_rst(fd);
			continue;
		}
		c->priv = hs;
		/* the original destination: the transparent socket took the
		 * address the LAN host was talking to (recipes.md) */
		getsockname(fd, (struct sockaddr *)&local, &llen);
		mpc_sa_to16(&peer, c->client, &c->cport);
		mpc_sa_to16(&local, c->server, &c->sport);
		if (mpc_sock_mptcp(fd, NULL, NULL) > 0)
			c->bflags |= MPC_BF_LAN_MPTCP;
		if (cp->o.mode == MPC_MODE_IMPLICIT)
			c->bflags |= MPC_BF_IMPLICIT;
		else if (cp->o.mode == MPC_MODE_DIRECT)
			c->bflags |= MPC_BF_DIRECT;
		err = cpe_open_b(cp, c);
		if (err) {
			mpc_dcount(&cp->relay, err == -EMFILE || err == -ENFILE ?
						       MPC_D_EMFILE :
						       MPC_D_ERR_TX_NETWORK);
			mpc_conn_abort(c);
			continue;
		}
		mpc_timer_arm(&cp->loop, &cp->q_connect, &c->timer);
	}
}

/* ---- set-up ------------------------------------------------------------ */

static int pol_add(int fd, const uint8_t addr[16], uint32_t plen, uint8_t action)
{
	struct mpc_lpm_key k = { .prefixlen = plen };
	struct mpc_pol_val v = { .action = action };

	memcpy(k.addr, addr, 16);
	return bpf_map_update_elem(fd, &k, &v, BPF_ANY) ? -errno : 0;
}

static int pol_add_str(int fd, const char *pfx, uint8_t action)
{
	uint8_t a[16];
	uint32_t plen;

	if (mpc_parse_prefix(pfx, a, &plen))
		return -EINVAL;
	return pol_add(fd, a, plen, action);
}

/* Destinations a CPE must never convert: itself, link-local, loopback,
 * multicast, and the concentrator (a LAN host talking Convert to it
 * already). Listed in mpc_dst_pol like operator bypass entries. */
static void add_implicit_bypass(struct cpe *cp)
{
	static const char *const fixed[] = { "127.0.0.0/8", "169.254.0.0/16",
					     "224.0.0.0/4", "255.255.255.255/32",
					     "::1/128",	    "fe80::/10",
					     "ff00::/8" };
	struct mpc_nl_ifaddr *ia = NULL;
	size_t i;
	int n, j;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		pol_add_str(cp->st.pol_fd, fixed[i], MPC_POL_BYPASS);
	if (cp->o.have_conc) {
		uint8_t a[16];

		mpc_sa_to16(&cp->o.conc, a, NULL);
		pol_add(cp->st.pol_fd, a, 128, MPC_POL_BYPASS);
	}
	/* every address of this box, on any interface */
	n = mpc_nl_addr_list(cp->nl, 0, AF_UNSPEC, &ia);
	for (j = 0; j < n; j++) {
		uint8_t a[16];

		if (ia[j].family == AF_INET) {
			memset(a, 0, 10);
			a[10] = a[11] = 0xff;
			memcpy(a + 12, &ia[j].addr.v4, 4);
		} else {
			memcpy(a, &ia[j].addr.v6, 16);
		}
		pol_add(cp->st.pol_fd, a, 128, MPC_POL_BYPASS);
	}
	free(ia);
}

static int load_lan_classifier(struct cpe *cp)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = cp->st.pin_dir);
	struct tc_lan_bpf *sk;
	uint32_t i;
	int err;

	sk = tc_lan_bpf__open_opts(&oo);
	if (!sk)
		return -errno;
	sk->rodata->mpc_native_proxy = cp->o.native_proxy;
	sk->rodata->mpc_ports_only = cp->o.n_convert_port > 0;
	sk->rodata->mpc_prefix_only = cp->o.n_convert > 0;
	sk->rodata->mpc_fb_shortcut = cp->o.mode == MPC_MODE_DIRECT;
	sk->rodata->mpc_fb_ttl_ns = (uint64_t)cp->o.ttl_s * 1000000000ull;
	sk->rodata->mpc_lst_port = cp->o.proxy_port;
	sk->rodata->mpc_lst_addr4 = htonl(INADDR_LOOPBACK);
	memcpy((void *)sk->rodata->mpc_lst_addr6, &in6addr_loopback, 16);
	sk->rodata->mpc_local_mark = cp->o.local_mark;
	sk->rodata->mpc_prefer_subtype = cp->o.prefer_subtype;
	err = tc_lan_bpf__load(sk);
	if (err) {
		pr_warn("cannot load the LAN classifier: %s\n", strerror(-err));
		tc_lan_bpf__destroy(sk);
		return err;
	}
	cp->lan_skel = sk;

	/* policy, before the program sees a packet */
	for (i = 0; i < (uint32_t)cp->o.n_bypass; i++)
		pol_add(cp->st.pol_fd, cp->o.bypass[i].addr, cp->o.bypass[i].plen, MPC_POL_BYPASS);
	for (i = 0; i < (uint32_t)cp->o.n_convert; i++)
		pol_add(cp->st.pol_fd, cp->o.convert[i].addr, cp->o.convert[i].plen,
			MPC_POL_CONVERT);
	for (i = 0; i < (uint32_t)cp->o.n_bypass_port; i++) {
		struct mpc_pol_val v = { .action = MPC_POL_BYPASS };

		bpf_map_update_elem(cp->st.ports_fd, &cp->o.bypass_port[i], &v, BPF_ANY);
	}
	for (i = 0; i < (uint32_t)cp->o.n_convert_port; i++) {
		struct mpc_pol_val v = { .action = MPC_POL_CONVERT };

		bpf_map_update_elem(cp->st.ports_fd, &cp->o.convert_port[i], &v, BPF_ANY);
	}
	add_implicit_bypass(cp);
	return 0;
}

static int setup_wan(struct cpe *cp)
{
	struct mpc_nl_wan_opts wo = { 0 };
	struct mpc_nl_wan_result *res;
	int idx[CPE_MAX_WAN], i, j, err;

	res = calloc(1, sizeof(*res));
	if (!res)
		return -ENOMEM;
	for (i = 0; i < cp->o.n_wan; i++) {
		idx[i] = mpc_ifindex(cp->o.wan[i]);
		if (idx[i] < 0) {
			free(res);
			return idx[i];
		}
		cp->wan_idx[i] = idx[i];
		if (idx[i] == cp->lan_ifindex) {
			pr_warn("%s is both --lan and --wan\n", cp->o.wan[i]);
			free(res);
			return -EINVAL;
		}
	}
	wo.backup_mask = cp->o.backup_mask;
	wo.allow_down = true;
	wo.subflows = cp->o.n_wan > 1 ? cp->o.n_wan - 1 : 1;
	/* implicit mode: an on-path concentrator may announce its address */
	wo.add_addr_accepted = cp->o.mode == MPC_MODE_IMPLICIT ? 1 : 0;
	err = mpc_nl_setup_wan_links(cp->nl, idx, cp->o.n_wan, &wo, res);
	if (err < 0) {
		pr_warn("WAN set-up failed: %s\n", mpc_nl_errmsg(cp->nl));
		free(res);
		return err;
	}
	cp->n_links = res->n_links;
	for (i = 0; i < res->n_links; i++) {
		struct mpc_nl_wan_link *wl = &res->links[i];
		struct cpe_link *cl = &cp->links[i];

		cl->ifindex = wl->ifindex;
		snprintf(cl->name, sizeof(cl->name), "%s", wl->name);
		/* a link down at start-up joins when the watcher finds it
		 * usable (a cellular modem that connects after the CPE) */
		cl->up = wl->n_addrs > 0;
		link_addrs_from(cl, wl);
		for (j = 0; j < wl->n_addrs; j++) {
			struct mpc_nl_wan_addr *wa = &wl->addrs[j];
			char buf[INET6_ADDRSTRLEN];

			pr_info("WAN %s: %s endpoint %s, source rule %s\n", wl->name,
				mpc_nl_addr_str(wa->family, &wa->addr, buf),
				wa->endpoint == MPC_NL_ADDED ? "added" : "existing",
				wa->rule == MPC_NL_ADDED ? "added" : "existing");
		}
	}
	cp->wan_opts = wo;
	cp->wan_res = res;
	return 0;
}

static int open_listeners(struct cpe *cp)
{
	struct mpc_listen_opts lo = { .mptcp = true, .transparent = true };
	int fd;

	fd = mpc_listen_loopback(AF_INET, cp->o.proxy_port, &lo);
	if (fd < 0)
		return fd;
	cp->lst[0].fd = fd;
	cp->lst[0].cb = cpe_accept;
	mpc_loop_add(&cp->loop, &cp->lst[0], EPOLLIN);

	fd = mpc_listen_loopback(AF_INET6, cp->o.proxy_port, &lo);
	if (fd < 0) {
		pr_warn("no IPv6 listener: IPv6 connections will not be converted\n");
		cp->lst[1].fd = -1;
		return 0;
	}
	cp->lst[1].fd = fd;
	cp->lst[1].cb = cpe_accept;
	mpc_loop_add(&cp->loop, &cp->lst[1], EPOLLIN);
	return 0;
}

static void publish_info(struct cpe *cp)
{
	struct mpc_info info = { 0 };
	uint32_t k = 0;

	info.pid = getpid();
	info.role = MPC_ROLE_CPE;
	info.mode = cp->o.mode;
	info.n_links = cp->n_links;
	info.lan_ifindex = cp->lan_ifindex;
	info.proxy_port = cp->o.proxy_port;
	info.start_ns = mpc_now_ns();
	info.attach_mask = cp->attach_mask;
	snprintf((char *)info.lan_name, sizeof(info.lan_name), "%s", cp->o.lan);
	if (cp->o.have_conc)
		mpc_sa_to16(&cp->o.conc, info.conc_addr, &info.conc_port);
	bpf_map_update_elem(cp->st.info_fd, &k, &info, BPF_ANY);
}

/* ---- command line ------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mpconv [--pin-path DIR] cpe --lan IF --wan IF[,IF...]\n"
		"              [--concentrator ADDR:PORT] [--mode explicit|implicit|direct]\n"
		"              [--bypass PREFIX]... [--bypass-port PORT]...\n"
		"              [--convert-prefix PREFIX]... [--convert-port PORT]...\n"
		"              [--native-mptcp pass|proxy] [--backup IF]...\n"
		"              [--proxy-port PORT] [--mark MARK] [--stamp-mark MARK]\n"
		"              [--prefer-subtype N] [--connect-timeout SEC] [--cache-ttl SEC]\n"
		"              [--max-conns N] [--pipe-size BYTES] [--rcvbuf BYTES]\n"
		"              [--fin-hold MS]\n"
		"\n"
		"  --lan IF             interface toward the LAN hosts (classifier attached here)\n"
		"  --wan IF[,IF...]     access links: one MPTCP subflow per link\n"
		"  --concentrator A:P   the RFC 8803 converter (explicit mode, the default)\n"
		"  --mode               explicit: Convert to --concentrator; implicit: mark\n"
		"                       MP_PREFER_PROXY for an on-path concentrator; direct:\n"
		"                       MPTCP straight to servers (single-ended)\n"
		"  --bypass PREFIX      never convert these destinations (repeatable)\n"
		"  --convert-port PORT  convert only these destination ports (repeatable)\n"
		"  --native-mptcp       pass (default): a LAN host's own MPTCP passes untouched;\n"
		"                       proxy: terminate it here and carry it over all links\n"
		"  --backup IF          use this WAN link only when the others fail\n"
		"  --rcvbuf BYTES       receive buffer of the MPTCP sockets toward the\n"
		"                       concentrator (default 4 MiB; 0 = kernel autotuning,\n"
		"                       which stalls after a TFO SYN on 6.x kernels)\n"
		"  --fin-hold MS        hold a LAN client's FIN that comes before the other\n"
		"                       subflows are up, at most MS (default 1000; 0 = never)\n");
}

static int add_prefix(struct mpc_prefix **arr, int *n, const char *s, const char *opt)
{
	struct mpc_prefix *np = realloc(*arr, (*n + 1) * sizeof(*np));

	if (!np)
		return -ENOMEM;
	*arr = np;
	if (mpc_parse_prefix(s, np[*n].addr, &np[*n].plen)) {
		mpc_err("--%s '%s': expected PREFIX[/LEN] with host bits clear", opt, s);
		return -EINVAL;
	}
	(*n)++;
	return 0;
}

static int parse_opts(struct cpe_opts *o, int argc, char **argv)
{
	static const struct option opts[] = { { "lan", required_argument, NULL, 'l' },
					      { "wan", required_argument, NULL, 'w' },
					      { "concentrator", required_argument, NULL, 'c' },
					      { "mode", required_argument, NULL, 'M' },
					      { "bypass", required_argument, NULL, 'b' },
					      { "bypass-port", required_argument, NULL, 'B' },
					      { "convert-prefix", required_argument, NULL, 'x' },
					      { "convert-port", required_argument, NULL, 'X' },
					      { "native-mptcp", required_argument, NULL, 'n' },
					      { "backup", required_argument, NULL, 'k' },
					      { "proxy-port", required_argument, NULL, 'p' },
					      { "mark", required_argument, NULL, 'm' },
					      { "stamp-mark", required_argument, NULL, 's' },
					      { "prefer-subtype", required_argument, NULL, 'S' },
					      { "connect-timeout", required_argument, NULL, 't' },
					      { "cache-ttl", required_argument, NULL, 'T' },
					      { "max-conns", required_argument, NULL, 'C' },
					      { "pipe-size", required_argument, NULL, 'z' },
					      { "rcvbuf", required_argument, NULL, 'R' },
					      { "fin-hold", required_argument, NULL, 'F' },
					      { "pin-path", required_argument, NULL, 'P' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	const char *backup[CPE_MAX_WAN];
	int n_backup = 0, c, i, j;
	uint32_t v;

	o->proxy_port = CPE_PROXY_PORT_DEF;
	o->local_mark = CPE_LOCAL_MARK_DEF;
	o->stamp_mark = CPE_STAMP_MARK_DEF;
	o->prefer_subtype = MPC_PREFER_SUBTYPE_DEF;
	o->connect_timeout_s = 10;
	o->ttl_s = MPC_FB_TTL_DEFAULT_S;
	o->max_conns = 65536;
	o->pipe_size = 1 << 20;
	o->rcvbuf = 4 << 20;
	o->fin_hold_ms = CPE_FIN_HOLD_MS;
	o->mode = MPC_MODE_EXPLICIT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->lan = optarg;
			break;
		case 'w': {
			char *s = optarg, *tok;

			while ((tok = strsep(&s, ","))) {
				if (!*tok)
					continue;
				if (o->n_wan == CPE_MAX_WAN) {
					mpc_err("at most %d WAN links", CPE_MAX_WAN);
					return -EINVAL;
				}
				o->wan[o->n_wan++] = tok;
			}
			break;
		}
		case 'c':
			if (mpc_parse_sockaddr(optarg, &o->conc, &o->conc_len, true)) {
				mpc_err("--concentrator '%s': expected ADDR:PORT or [V6]:PORT",
					optarg);
				return -EINVAL;
			}
			o->have_conc = true;
			break;
		case 'M':
			if (!strcmp(optarg, "explicit"))
				o->mode = MPC_MODE_EXPLICIT;
			else if (!strcmp(optarg, "implicit"))
				o->mode = MPC_MODE_IMPLICIT;
			else if (!strcmp(optarg, "direct"))
				o->mode = MPC_MODE_DIRECT;
			else {
				mpc_err("--mode '%s': explicit, implicit or direct", optarg);
				return -EINVAL;
			}
			break;
		case 'b':
			if (add_prefix(&o->bypass, &o->n_bypass, optarg, "bypass"))
				return -EINVAL;
			break;
		case 'x':
			if (add_prefix(&o->convert, &o->n_convert, optarg, "convert-prefix"))
				return -EINVAL;
			break;
		case 'B':
		case 'X':
			if (mpc_parse_u32(optarg, &v, 1, 65535)) {
				mpc_err("invalid port '%s'", optarg);
				return -EINVAL;
			}
			if (c == 'B' && o->n_bypass_port < 64)
				o->bypass_port[o->n_bypass_port++] = v;
			else if (c == 'X' && o->n_convert_port < 64)
				o->convert_port[o->n_convert_port++] = v;
			break;
		case 'n':
			if (!strcmp(optarg, "pass"))
				o->native_proxy = false;
			else if (!strcmp(optarg, "proxy"))
				o->native_proxy = true;
			else {
				mpc_err("--native-mptcp '%s': pass or proxy", optarg);
				return -EINVAL;
			}
			break;
		case 'k':
			if (n_backup < CPE_MAX_WAN)
				backup[n_backup++] = optarg;
			break;
		case 'p':
		case 'm':
		case 's':
		case 'S':
		case 't':
		case 'T':
		case 'C':
		case 'R':
		case 'F':
		case 'z': {
			uint32_t min = 1, max = 0xffffffff;

			if (c == 'p')
				max = 65535;
			if (c == 'S')
				min = 0, max = 15;
			if (c == 'T' || c == 'R' || c == 'F')
				min = 0;
			if (c == 'F')
				max = 10000;
			if (c == 'R')
				max = 1 << 30;
			if (mpc_parse_u32(optarg, &v, min, max)) {
				mpc_err("invalid value '%s'", optarg);
				return -EINVAL;
			}
			if (c == 'p')
				o->proxy_port = v;
			else if (c == 'm')
				o->local_mark = v;
			else if (c == 's')
				o->stamp_mark = v;
			else if (c == 'S')
				o->prefer_subtype = v;
			else if (c == 't')
				o->connect_timeout_s = v;
			else if (c == 'T')
				o->ttl_s = v;
			else if (c == 'C')
				o->max_conns = v;
			else if (c == 'R')
				o->rcvbuf = v;
			else if (c == 'F')
				o->fin_hold_ms = v;
			else
				o->pipe_size = v;
			break;
		}
		case 'P':
			mpc_g.pin_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		mpc_err("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!o->lan || !o->n_wan) {
		mpc_err("cpe needs --lan IF and --wan IF[,IF...]");
		return -EINVAL;
	}
	if (o->mode == MPC_MODE_EXPLICIT && !o->have_conc) {
		mpc_err("explicit mode needs --concentrator ADDR:PORT");
		return -EINVAL;
	}
	if (o->local_mark == o->stamp_mark) {
		mpc_err("--mark and --stamp-mark must differ");
		return -EINVAL;
	}
	for (i = 0; i < n_backup; i++) {
		for (j = 0; j < o->n_wan; j++)
			if (!strcmp(backup[i], o->wan[j]))
				break;
		if (j == o->n_wan) {
			mpc_err("--backup %s is not one of the --wan links", backup[i]);
			return -EINVAL;
		}
		o->backup_mask |= 1u << j;
	}
	return 0;
}

int cmd_cpe(int argc, char **argv)
{
	struct mpc_state_opts so = { 0 };
	struct cpe *cp;
	int err, rc = 1;

	cp = calloc(1, sizeof(*cp));
	if (!cp)
		return 1;
	err = parse_opts(&cp->o, argc, argv);
	if (err) {
		free(cp->o.bypass);
		free(cp->o.convert);
		free(cp);
		return err > 0 ? 0 : 2;
	}
	g_cpe = cp;
	cp->lst[0].fd = cp->lst[1].fd = cp->mon.fd = -1;
	mpc_list_init(&cp->t_link.node);
	mpc_list_init(&cp->t_fin.node);
	cp->lan_ifindex = mpc_ifindex(cp->o.lan);
	if (cp->lan_ifindex < 0) {
		mpc_err("--lan %s: no such interface", cp->o.lan);
		rc = 2;
		goto out_free;
	}
	mpc_raise_nofile();

	/* Block the signals now: a TERM during set-up must still run the
	 * undo path below, not kill us with routes half installed. */
	mpc_daemon_block_signals(&cp->dm);

	if (mpc_loop_init(&cp->loop))
		goto out_free;
	so.bind_max = cp->o.max_conns;
	if (mpc_state_open(&cp->st, mpc_g.pin_path, &so))
		goto out_loop;
	mpc_relay_init(&cp->relay, &cp->loop, MPC_ROLE_CPE);
	cp->relay.binds_fd = cp->st.binds_fd;
	cp->relay.dstats_fd = cp->st.dstats_fd;
	cp->relay.max_conns = cp->o.max_conns;
	cp->relay.pipe_size = cp->o.pipe_size;
	/* the reply may take the concentrator's own connect time too */
	mpc_tqueue_init(&cp->loop, &cp->q_connect, (cp->o.connect_timeout_s + 5) * 1000,
			cpe_timeout);
	mpc_tqueue_init(&cp->loop, &cp->q_fin, CPE_FIN_POLL_MS, fin_check);
	cp->relay.hold_fin = cpe_hold_fin;

	err = mpc_nl_open(&cp->nl);
	if (err) {
		pr_warn("netlink: %s\n", strerror(-err));
		goto out_state;
	}
	/* client TFO (0x1) for the Convert SYN; the no-cookie part is per
	 * socket (TCP_FASTOPEN_NO_COOKIE) */
	if (cp->o.mode == MPC_MODE_EXPLICIT &&
	    mpc_sysctl_set_bits("net/ipv4/tcp_fastopen", 0x1) > 0)
		pr_info("enabled TCP Fast Open client: net.ipv4.tcp_fastopen |= 0x1\n");
	if (cp->o.mode == MPC_MODE_DIRECT && !mpc_sysctl_set("net/mptcp/blackhole_timeout", 0))
		pr_info("net.mptcp.blackhole_timeout=0: per-destination fallback cache instead of "
			"the netns-wide blackhole switch\n");

	if (setup_wan(cp))
		goto out_nl;
	/* While a WAN link has no carrier its routes stay in the FIB
	 * (flagged linkdown) and new connections to the concentrator would
	 * still pick it: skip such routes on the WAN links (restored on
	 * exit). */
	for (int i = 0; i < cp->o.n_wan; i++) {
		char path[96];

		snprintf(path, sizeof(path), "net/ipv4/conf/%s/ignore_routes_with_linkdown",
			 cp->o.wan[i]);
		mpc_sysctl_set(path, 1);
		snprintf(path, sizeof(path), "net/ipv6/conf/%s/ignore_routes_with_linkdown",
			 cp->o.wan[i]);
		mpc_sysctl_set(path, 1);
	}
	cp->last_full_sync_ms = mpc_now_ms();
	link_watch_start(cp);
	backup_policy(cp); /* a backup may be all there is at start-up */
	err = mpc_nl_setup_local_routing(cp->nl, cp->o.local_mark, 0, MPC_NL_TABLE_LOCAL,
					 MPC_NL_PRIO_LOCAL);
	if (err < 0) {
		pr_warn("local routing: %s\n", mpc_nl_errmsg(cp->nl));
		goto out_nl;
	}
	if (open_listeners(cp))
		goto out_nl;
	if (load_lan_classifier(cp))
		goto out_nl;
	err = mpc_attach_tc(cp->lan_ifindex, bpf_program__fd(cp->lan_skel->progs.mpc_tc_lan), true,
			    &cp->lan_att);
	if (err)
		goto out_nl;
	cp->attach_mask |= 1ull << MPC_P_TC_LAN;
	if (cp->o.mode == MPC_MODE_IMPLICIT) {
		struct mpc_wan_opts wo = { .stamp_mark = cp->o.stamp_mark,
					   .prefer_subtype = cp->o.prefer_subtype };

		/* tc on every WAN egress stamps MP_PREFER_PROXY into the
		 * MP_CAPABLE SYN of our marked sockets only. A SYN without
		 * room for 4 more option bytes leaves unstamped (counter
		 * stamp_no_space): the connection then runs end to end,
		 * MPTCP where the server speaks it, plain TCP otherwise. */
		err = mpc_wan_attach(&cp->wan, cp->st.pin_dir, cp->wan_idx, cp->o.n_wan, &wo);
		if (err)
			goto out_nl;
		cp->attach_mask |= 1ull << MPC_P_TC_WAN;
	}
	pr_info("classifier attached to %s ingress (%s); %s mode, proxy port %u\n", cp->o.lan,
		mpc_attach_kind_name(cp->lan_att.kind),
		cp->o.mode == MPC_MODE_EXPLICIT ? "explicit" :
		cp->o.mode == MPC_MODE_IMPLICIT ? "implicit" :
						  "direct",
		cp->o.proxy_port);
	read_if_stats(cp, true);
	publish_info(cp);
	publish_links(cp);

	cp->dm.loop = &cp->loop;
	cp->dm.relay = &cp->relay;
	cp->dm.tick = cpe_tick_cb;
	cp->dm.sweep = cp->o.mode == MPC_MODE_DIRECT ? cpe_sweep : NULL;
	cp->dm.arg = cp;
	err = mpc_daemon_run(&cp->dm);
	if (err)
		pr_warn("event loop: %s\n", strerror(-err));
	rc = 0;
out_nl:
	mpc_wan_detach(&cp->wan);
	mpc_detach(&cp->lan_att);
	if (cp->lan_skel)
		tc_lan_bpf__destroy(cp->lan_skel);
	if (cp->lst[0].fd >= 0)
		close(cp->lst[0].fd);
	if (cp->lst[1].fd >= 0)
		close(cp->lst[1].fd);
	mpc_relay_fini(&cp->relay);
	if (cp->mon.fd >= 0) {
		mpc_loop_del(&cp->loop, &cp->mon);
		close(cp->mon.fd);
	}
	if (mpc_timer_armed(&cp->t_link))
		mpc_timer_cancel(&cp->t_link);
	if (mpc_timer_armed(&cp->t_fin))
		mpc_timer_cancel(&cp->t_fin);
	free(cp->wan_res);
	if (cp->nl) {
		if (mpc_nl_undo_all(cp->nl) < 0)
			pr_warn("could not undo all netlink changes: %s\n", mpc_nl_errmsg(cp->nl));
		mpc_nl_close(cp->nl);
	}
	mpc_sysctl_restore_all();
	mpc_daemon_fini(&cp->dm);
out_state:
	mpc_state_close(&cp->st);
out_loop:
	mpc_loop_fini(&cp->loop);
out_free:
	free(cp->o.bypass);
	free(cp->o.convert);
	free(cp);
	g_cpe = NULL;
	return rc;
}
