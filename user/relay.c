// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/mptcp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <bpf/bpf.h>

#include "log.h"
#include "relay.h"

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#ifndef SIOCINQ
#define SIOCINQ FIONREAD
#endif

#define MPC_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define MPC_LINGER_MS 3000

struct mpc_pipe {
	int r, w;
	struct mpc_pipe *next;
};

/* ---- pipe pool ------------------------------------------------------ */

static struct mpc_pipe *pipe_get(struct mpc_relay *r)
{
	struct mpc_pipe *p = r->pool;
	int fds[2];

	r->pool_used_ms = mpc_now_ms();
	if (p) {
		r->pool = p->next;
		r->pool_n--;
		return p;
	}
	p = malloc(sizeof(*p));
	if (!p) {
		mpc_dcount(r, MPC_D_ENOMEM);
		return NULL;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC)) {
		mpc_dcount(r, errno == EMFILE || errno == ENFILE ? MPC_D_EMFILE : MPC_D_ENOMEM);
		free(p);
		return NULL;
	}
	/* A larger pipe means fewer splice calls per byte; the size is only
	 * a ceiling, pages are taken as data arrives. Failure is harmless. */
	if (r->pipe_size)
		fcntl(fds[1], F_SETPIPE_SZ, r->pipe_size);
	p->r = fds[0];
	p->w = fds[1];
	return p;
}

static void pipe_put(struct mpc_relay *r, struct mpc_pipe *p)
{
	if (r->pool_n >= r->pool_max) {
		close(p->r);
		close(p->w);
		free(p);
		return;
	}
	p->next = r->pool;
	r->pool = p;
	r->pool_n++;
}

/* A pipe that still holds bytes (connection torn down mid-flight) cannot
 * go back to the pool. */
static void pipe_drop(struct mpc_relay *r, struct mpc_dir *d)
{
	if (!d->pipe)
		return;
	if (d->queued) {
		close(d->pipe->r);
		close(d->pipe->w);
		free(d->pipe);
	} else {
		pipe_put(r, d->pipe);
	}
	d->pipe = NULL;
	d->queued = 0;
}

/* ---- socket helpers ------------------------------------------------- */

int mpc_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	return 0;
}

uint64_t mpc_sock_cookie(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len))
		return 0;
	return cookie;
}

int mpc_sock_mptcp(int fd, uint8_t *subflows, uint32_t *token)
{
	struct mptcp_info info;
	socklen_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len)) {
		/* EOPNOTSUPP: a plain TCP socket, or an MPTCP one that fell
		 * back before MPTCP state existed */
		if (errno == EOPNOTSUPP || errno == ENOPROTOOPT)
			return 0;
		return -errno;
	}
	if (subflows)
		*subflows = info.mptcpi_subflows + 1; /* + the initial subflow */
	if (token)
		*token = info.mptcpi_token;
	return (info.mptcpi_flags & MPTCP_INFO_FLAG_FALLBACK) ? 0 : 1;
}

void mpc_close_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

int mpc_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* ---- bindings ------------------------------------------------------- */

static void bind_fill(struct mpc_conn *c, struct mpc_bind *b)
{
	memset(b, 0, sizeof(*b));
	memcpy(b->client_addr, c->client, 16);
	memcpy(b->server_addr, c->server, 16);
	b->client_port = c->cport;
	b->server_port = c->sport;
	b->role = c->r->role;
	b->subflows = c->subflows;
	b->flags = c->bflags;
	b->token = c->token;
	b->bytes_up = c->up.bytes;
	b->bytes_down = c->down.bytes;
	b->start_ns = c->start_ns;
	b->last_ns = c->last_ns;
}

void mpc_conn_bind(struct mpc_conn *c)
{
	struct mpc_relay *r = c->r;
	struct mpc_bind_key k = { .cookie = c->cookie };
	struct mpc_bind b;

	if (r->binds_fd < 0 || !c->cookie)
		return;
	bind_fill(c, &b);
	if (bpf_map_update_elem(r->binds_fd, &k, &b, BPF_ANY)) {
		/* the connection still works; only its visibility is lost */
		mpc_dcount(r, MPC_D_MAP_FULL);
		pr_debug("binding %llu not recorded: %s\n", (unsigned long long)c->cookie,
			 strerror(errno));
		return;
	}
	c->bound = 1;
	c->dirty = 0;
}

static void unbind(struct mpc_conn *c)
{
	struct mpc_bind_key k = { .cookie = c->cookie };

	if (c->bound && c->r->binds_fd >= 0)
		bpf_map_delete_elem(c->r->binds_fd, &k);
	c->bound = 0;
}

/* ---- lifecycle ------------------------------------------------------ */

static void side_cb(struct mpc_ev *ev, uint32_t events);

/*
 * MPTCP sockets have no splice_read of their own in 6.12 or 6.18: splice()
 * from one goes through copy_splice_read(), which allocates a page for
 * every byte it is asked for that fits in the pipe (256 pages for our 1 MiB
 * pipes), reads what is there with recvmsg() and frees the rest. Asking for
 * what SIOCINQ says is queued keeps that to the pages the data needs. In
 * the TCG VM each splice from an MPTCP socket took ~2 ms (a ftrace of one
 * proxied connection), on the path of every relayed byte.
 */
static bool sock_is_mptcp(int fd)
{
	int proto = 0;
	socklen_t len = sizeof(proto);

	return fd >= 0 && !getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) &&
	       proto == IPPROTO_MPTCP;
}

/* how much to splice from src: at most want; SIOCINQ's count for MPTCP
 * (which is 1 at EOF, so the splice still reports it), else want */
static size_t read_len(struct mpc_side *src, size_t want)
{
	int inq;

	if (!src->bound_reads || ioctl(src->ev.fd, SIOCINQ, &inq))
		return want;
	return inq <= 0 ? 1 : (size_t)inq < want ? (size_t)inq : want;
}

static void side_init(struct mpc_conn *c, struct mpc_side *s, int fd)
{
	s->ev.fd = fd;
	s->ev.cb = side_cb;
	s->is_b = s == &c->b;
	s->rd = s->wr = 0;
	s->registered = 0;
	s->bound_reads = sock_is_mptcp(fd);
}

struct mpc_conn *mpc_conn_new(struct mpc_relay *r, int fd_a, mpc_hs_cb hs)
{
	struct mpc_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		mpc_dcount(r, MPC_D_ENOMEM);
		return NULL;
	}
	c->r = r;
	c->hs = hs;
	side_init(c, &c->a, fd_a);
	side_init(c, &c->b, -1);
	mpc_list_init(&c->timer.node);
	c->start_ns = c->last_ns = mpc_now_ns();
	if (mpc_loop_add(r->loop, &c->a.ev, MPC_EVENTS)) {
		free(c);
		return NULL;
	}
	c->a.registered = 1;
	mpc_list_add_tail(&r->conns, &c->node);
	r->n_conns++;
	return c;
}

void mpc_conn_priv_free(struct mpc_conn *c)
{
	free(c->priv);
	c->priv = NULL;
}

int mpc_conn_set_b(struct mpc_conn *c, int fd_b)
{
	int err;

	side_init(c, &c->b, fd_b);
	err = mpc_loop_add(c->r->loop, &c->b.ev, MPC_EVENTS);
	if (!err)
		c->b.registered = 1;
	return err;
}

static void side_close(struct mpc_conn *c, struct mpc_side *s, bool rst)
{
	if (s->ev.fd < 0)
		return;
	if (s->registered)
		mpc_loop_del(c->r->loop, &s->ev);
	s->registered = 0;
	if (rst)
		mpc_close_rst(s->ev.fd);
	else
		close(s->ev.fd);
	s->ev.fd = -1;
}

static void call_on_close(struct mpc_conn *c)
{
	void (*fn)(struct mpc_conn * c) = c->on_close;

	c->on_close = NULL;
	if (fn)
		fn(c);
}

static void conn_free_now(struct mpc_conn *c)
{
	struct mpc_relay *r = c->r;

	call_on_close(c);
	mpc_timer_cancel(&c->timer);
	unbind(c);
	pipe_drop(r, &c->up);
	pipe_drop(r, &c->down);
	mpc_conn_priv_free(c);
	mpc_list_del(&c->node);
	r->n_conns--;
	c->state = MPC_CS_DEAD;
	/* other events of this batch may still point at c */
	mpc_list_add_tail(&r->zombies, &c->node);
}

void mpc_conn_abort(struct mpc_conn *c)
{
	if (c->state == MPC_CS_DEAD)
		return;
	call_on_close(c);
	if (c->state == MPC_CS_RELAY)
		mpc_dcount(c->r, MPC_D_RESET);
	side_close(c, &c->a, true);
	side_close(c, &c->b, true);
	conn_free_now(c);
}

static void conn_close(struct mpc_conn *c)
{
	call_on_close(c);
	mpc_dcount(c->r, MPC_D_CLOSED);
	side_close(c, &c->a, false);
	side_close(c, &c->b, false);
	conn_free_now(c);
}

static void linger_expired(struct mpc_timer *t)
{
	struct mpc_conn *c = container_of(t, struct mpc_conn, timer);

	/* The peer never closed: unread data would turn close() into a
	 * RST anyway; the Error TLV has had MPC_LINGER_MS to arrive. */
	side_close(c, &c->a, false);
	conn_free_now(c);
}

/* Drain side a; returns true once the peer has closed (EOF or error). */
static bool linger_drain(struct mpc_conn *c)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(c->a.ev.fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return false;
		return true;
	}
}

void mpc_conn_linger(struct mpc_conn *c)
{
	struct mpc_relay *r = c->r;

	call_on_close(c);
	side_close(c, &c->b, true);
	pipe_drop(r, &c->up);
	pipe_drop(r, &c->down);
	shutdown(c->a.ev.fd, SHUT_WR);
	c->state = MPC_CS_LINGER;
	c->hs = NULL;
	if (linger_drain(c)) {
		side_close(c, &c->a, false);
		conn_free_now(c);
		return;
	}
	/* a handshake deadline may still be armed on it */
	mpc_timer_cancel(&c->timer);
	mpc_timer_arm(r->loop, &r->linger_q, &c->timer);
}

/* ---- pumping -------------------------------------------------------- */

/*
 * The way forward when no pipe can be had (descriptors or memory
 * exhausted): peek at the source, send what the destination takes, then
 * consume exactly that much. No byte is held in userspace between calls,
 * so nothing can be lost, and an admitted connection keeps moving even
 * when every descriptor is taken. Three syscalls a chunk instead of two
 * splices: only for as long as pipes are short.
 * Returns 1 if bytes moved or EOF was seen, 0 if blocked, -errno.
 */
static int copy_peek(struct mpc_conn *c, struct mpc_dir *d, struct mpc_side *src,
		     struct mpc_side *dst)
{
	static char bounce[65536];
	ssize_t n, m;

	if (!dst->wr)
		return 0;
	n = recv(src->ev.fd, bounce, sizeof(bounce), MSG_PEEK | MSG_DONTWAIT);
	if (n == 0) {
		d->eof = 1;
		return 1;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			src->rd = 0;
			return 0;
		}
		return -errno;
	}
	m = send(dst->ev.fd, bounce, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (m < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			dst->wr = 0;
			return 0;
		}
		return -errno;
	}
	/* we are the only reader: the peeked bytes are still first */
	if (recv(src->ev.fd, bounce, m, MSG_DONTWAIT) != m)
		return -EIO;
	d->bytes += m;
	c->dirty = 1;
	return 1;
}

/*
 * Move bytes src -> pipe -> dst until nothing moves. Edge-triggered epoll
 * only reports transitions, so readiness is remembered per side and
 * cleared on EAGAIN. An EAGAIN from splice-in is ambiguous (socket empty,
 * or the pipe's slots full of small fragments): readiness is cleared only
 * when the pipe was empty, so a full pipe never loses the socket's edge.
 */
static int pump(struct mpc_conn *c, struct mpc_dir *d, struct mpc_side *src, struct mpc_side *dst)
{
	struct mpc_relay *r = c->r;
	const uint32_t cap = r->pipe_size ? r->pipe_size : 65536;
	bool progress;
	ssize_t n;

	if (d->held)
		return 0;
	do {
		progress = false;
		if (d->queued && dst->wr) {
			n = splice(d->pipe->r, NULL, dst->ev.fd, NULL, d->queued,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->queued -= n;
				d->bytes += n;
				c->dirty = 1;
				progress = true;
			} else if (n < 0 && errno == EAGAIN) {
				dst->wr = 0;
			} else if (n < 0 && errno != EINTR) {
				return -errno;
			}
		}
		if (!d->eof && src->rd && d->queued < cap) {
			if (!d->pipe)
				d->pipe = pipe_get(r);
			if (!d->pipe) {
				int ret = copy_peek(c, d, src, dst);

				if (ret < 0)
					return ret;
				progress = ret > 0;
				continue;
			}
			n = splice(src->ev.fd, NULL, d->pipe->w, NULL,
				   read_len(src, cap - d->queued),
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->queued += n;
				progress = true;
			} else if (n == 0) {
				d->eof = 1;
				progress = true;
			} else if (errno == EAGAIN) {
				if (!d->queued)
					src->rd = 0;
			} else if (errno != EINTR) {
				return -errno;
			}
		}
	} while (progress);

	if (!d->queued && d->pipe) {
		pipe_put(r, d->pipe);
		d->pipe = NULL;
	}
	if (d->eof && !d->queued && !d->shut && d == &c->up && r->hold_fin && !d->fin_asked) {
		d->fin_asked = 1;
		d->fin_held = r->hold_fin(c);
	}
	if (d->eof && !d->queued && !d->shut && !d->fin_held) {
		/* half-close: FIN (DATA_FIN on MPTCP) one way only */
		if (shutdown(dst->ev.fd, SHUT_WR) && errno != ENOTCONN)
			return -errno;
		d->shut = 1;
	}
	return 0;
}

static void relay_step(struct mpc_conn *c)
{
	int err;

	err = pump(c, &c->up, &c->a, &c->b);
	if (!err)
		err = pump(c, &c->down, &c->b, &c->a);
	if (err) {
		pr_debug("relay %llu: %s, resetting both sides\n", (unsigned long long)c->cookie,
			 strerror(-err));
		mpc_conn_abort(c);
		return;
	}
	if (c->up.shut && c->down.shut)
		conn_close(c);
}

static int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return errno;
	return err;
}

static void side_cb(struct mpc_ev *ev, uint32_t events)
{
	struct mpc_side *s = container_of(ev, struct mpc_side, ev);
	struct mpc_conn *c = s->is_b ? container_of(s, struct mpc_conn, b) :
				       container_of(s, struct mpc_conn, a);

	if (c->state == MPC_CS_DEAD)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		s->rd = 1;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		s->wr = 1;
	c->last_ns = mpc_now_ns();

	if (c->state == MPC_CS_LINGER) {
		if (s == &c->a && linger_drain(c)) {
			mpc_timer_cancel(&c->timer);
			side_close(c, &c->a, false);
			conn_free_now(c);
		}
		return;
	}
	if (c->hs) {
		c->hs(c, s, events);
		if (c->state != MPC_CS_RELAY)
			return;
	}
	if (c->state != MPC_CS_RELAY)
		return;
	/* A RST shows up as EPOLLERR: tear the other side down too. */
	if ((events & EPOLLERR) && sock_error(s->ev.fd)) {
		mpc_conn_abort(c);
		return;
	}
	relay_step(c);
}

void mpc_conn_start_relay(struct mpc_conn *c, bool hold_down)
{
	c->state = MPC_CS_RELAY;
	c->down.held = hold_down;
	/* the handshake may have consumed edges: assume ready, EAGAIN
	 * will correct it */
	c->a.rd = c->a.wr = 1;
	c->b.rd = c->b.wr = 1;
	mpc_timer_cancel(&c->timer);
	mpc_dcount(c->r, MPC_D_RELAYED);
	relay_step(c);
}

void mpc_conn_release_fin(struct mpc_conn *c)
{
	if (!c->up.fin_held)
		return;
	c->up.fin_held = 0;
	if (c->state == MPC_CS_RELAY)
		relay_step(c);
}

void mpc_conn_release_down(struct mpc_conn *c)
{
	c->down.held = 0;
	c->b.rd = 1;
	if (c->state == MPC_CS_RELAY)
		relay_step(c);
}

/* ---- relay context -------------------------------------------------- */

int mpc_relay_init(struct mpc_relay *r, struct mpc_loop *loop, uint8_t role)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->role = role;
	r->binds_fd = -1;
	r->dstats_fd = -1;
	r->pipe_size = 1 << 20;
	r->pool_max = 256;
	r->max_conns = 65536;
	mpc_list_init(&r->conns);
	mpc_list_init(&r->zombies);
	mpc_tqueue_init(loop, &r->linger_q, MPC_LINGER_MS, linger_expired);
	r->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

void mpc_relay_reap(struct mpc_relay *r)
{
	struct mpc_list *pos, *tmp;

	mpc_list_for_each_safe(pos, tmp, &r->zombies)
	{
		mpc_list_del(pos);
		free(container_of(pos, struct mpc_conn, node));
	}
}

static void flush_dstats(struct mpc_relay *r)
{
	uint32_t i;

	if (r->dstats_fd < 0)
		return;
	r->dstats[MPC_D_FLUSHES]++;
	/* in index order: MPC_D_FLUSHES, the last, is written last */
	for (i = 0; i < MPC_D_MAX; i++) {
		struct mpc_dstat v = { .value = r->dstats[i] };

		bpf_map_update_elem(r->dstats_fd, &i, &v, BPF_ANY);
	}
}

void mpc_relay_trim_pool(struct mpc_relay *r)
{
	while (r->pool) {
		struct mpc_pipe *p = r->pool;

		r->pool = p->next;
		close(p->r);
		close(p->w);
		free(p);
	}
	r->pool_n = 0;
}

void mpc_relay_tick(struct mpc_relay *r)
{
	struct mpc_list *pos, *tmp;

	/* a burst's pipes are kept for the next one, not for ever */
	if (r->pool_n && mpc_now_ms() - r->pool_used_ms > 5000)
		mpc_relay_trim_pool(r);

	mpc_list_for_each_safe(pos, tmp, &r->conns)
	{
		struct mpc_conn *c = container_of(pos, struct mpc_conn, node);

		if (c->state != MPC_CS_RELAY || !c->bound || !c->dirty)
			continue;
		if (c->bflags & MPC_BF_UP_MPTCP || c->bflags & MPC_BF_DOWN_MPTCP) {
			int fd = (c->r->role == MPC_ROLE_CPE) ? c->b.ev.fd : c->a.ev.fd;

			mpc_sock_mptcp(fd, &c->subflows, NULL);
		}
		mpc_conn_bind(c);
	}
	flush_dstats(r);
}

void mpc_relay_fini(struct mpc_relay *r)
{
	struct mpc_list *pos, *tmp;

	mpc_list_for_each_safe(pos, tmp, &r->conns)
	{
		struct mpc_conn *c = container_of(pos, struct mpc_conn, node);

		call_on_close(c);
		/* shutting down: RST both sides so peers learn at once */
		side_close(c, &c->a, true);
		side_close(c, &c->b, true);
		conn_free_now(c);
	}
	mpc_relay_reap(r);
	flush_dstats(r);
	mpc_relay_trim_pool(r);
	if (r->reserve_fd >= 0)
		close(r->reserve_fd);
}
