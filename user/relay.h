/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Byte relay between two sockets with splice() through pipes, driven by
 * the epoll loop (edge-triggered). recipes.md: sockmap does not accept
 * MPTCP sockets, splice does. Pipes come from a shared pool and go back to
 * it whenever they drain, so an idle connection holds no pipe at all.
 *
 * A connection has side `a` (toward the client: the LAN host on a CPE, the
 * CPE on a concentrator) and side `b` (toward the server or the
 * concentrator). `up` moves a -> b, `down` moves b -> a.
 */
#ifndef MPC_RELAY_H
#define MPC_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include <mpconv/maps.h>

#include "list.h"
#include "loop.h"

struct mpc_conn;
struct mpc_pipe;

/* Sides and directions are packed: they are most of a connection's
 * memory (the bench's per-connection state figure). */
struct mpc_side {
	struct mpc_ev ev;
	uint8_t is_b : 1; /* which side of its connection (no back pointer) */
	uint8_t rd : 1; /* readable since the last EAGAIN */
	uint8_t wr : 1; /* writable since the last EAGAIN */
	uint8_t registered : 1;
	uint8_t bound_reads : 1; /* MPTCP: splice-in no more than SIOCINQ (relay.c) */
};

struct mpc_dir {
	struct mpc_pipe *pipe; /* NULL while nothing is in flight */
	uint64_t bytes;	       /* bytes delivered to the destination */
	uint32_t queued;       /* bytes sitting in the pipe */
	uint8_t eof : 1;       /* source reached EOF */
	uint8_t shut : 1;      /* FIN propagated to the destination */
	uint8_t held : 1;      /* not pumped yet (handshake still running) */
	uint8_t fin_asked : 1; /* hold_fin() consulted for this direction */
	uint8_t fin_held : 1;  /* FIN due, postponed until mpc_conn_release_fin() */
};

enum mpc_conn_state {
	MPC_CS_HANDSHAKE = 0, /* role-specific code owns the sockets */
	MPC_CS_RELAY,	      /* pumping (possibly with one direction held) */
	MPC_CS_LINGER,	      /* error sent, draining until the peer closes */
	MPC_CS_DEAD,	      /* closed, memory freed after the batch */
};

typedef void (*mpc_hs_cb)(struct mpc_conn *c, struct mpc_side *s, uint32_t events);

struct mpc_relay {
	struct mpc_loop *loop;
	struct mpc_list conns;	 /* every live connection */
	struct mpc_list zombies; /* dead, freed after the event batch */
	struct mpc_pipe *pool;	 /* idle pipes */
	uint32_t pool_n, pool_max;
	uint64_t pool_used_ms; /* last time a pipe left the pool */
	uint32_t pipe_size;    /* F_SETPIPE_SZ, bytes */
	uint32_t n_conns, max_conns;
	uint8_t role;  /* enum mpc_role, for bindings */
	int binds_fd;  /* mpc_binds, or -1 */
	int dstats_fd; /* mpc_dstats, or -1 */
	uint64_t dstats[MPC_D_MAX];
	uint64_t last_tick_ms;
	struct mpc_tqueue linger_q; /* error-then-drain connections */
	int reserve_fd;		    /* spare fd released to answer EMFILE */
	/* Optional, asked once when a's EOF is due to go out on b (the up
	 * direction): true postpones that FIN until the role calls
	 * mpc_conn_release_fin(). The CPE uses it so an early half-close
	 * does not stop the kernel from opening the other subflows. */
	bool (*hold_fin)(struct mpc_conn *c);
};

struct mpc_conn {
	struct mpc_list node;
	struct mpc_relay *r;
	struct mpc_side a, b;
	struct mpc_dir up, down;
	uint8_t state;
	uint8_t bound : 1;	/* present in mpc_binds */
	uint8_t dirty : 1;	/* bytes moved since the last flush */
	mpc_hs_cb hs;		/* handshake handler, NULL once relaying */
	struct mpc_timer timer; /* handshake or linger deadline */
	void *priv;		/* handshake state, freed by the owner */
	void *ext; /* role data kept for the whole life */
	/* called once, before the sockets are closed (last chance to read
	 * their counters); it frees ext */
	void (*on_close)(struct mpc_conn *c);

	/* binding (mpc_bind) fields */
	uint64_t cookie;
	uint8_t client[16], server[16];
	uint16_t cport, sport;
	uint16_t bflags; /* enum mpc_bind_flags */
	uint8_t subflows;
	uint32_t token;
	uint64_t start_ns, last_ns;
};

int mpc_relay_init(struct mpc_relay *r, struct mpc_loop *loop, uint8_t role);
void mpc_relay_fini(struct mpc_relay *r);
/* Free dead connections; call after each loop iteration. */
void mpc_relay_reap(struct mpc_relay *r);
/* Close every idle pooled pipe (descriptors are short, or the box is
 * idle). */
void mpc_relay_trim_pool(struct mpc_relay *r);
/* Once a second: refresh bindings, flush counters, and give back pooled
 * pipes nobody has needed for a few seconds. */
void mpc_relay_tick(struct mpc_relay *r);

static inline void mpc_dcount(struct mpc_relay *r, enum mpc_dcounter c)
{
	r->dstats[c]++;
}

/* Wrap an accepted socket (non-blocking) as side a; `hs` handles its
 * events until the relay starts. Returns NULL (and closes nothing) on
 * allocation failure. */
struct mpc_conn *mpc_conn_new(struct mpc_relay *r, int fd_a, mpc_hs_cb hs);
/* Free the handshake state (c->priv, malloc'd) once it is done with;
 * done anyway when the connection is freed. */
void mpc_conn_priv_free(struct mpc_conn *c);
/* Attach side b (non-blocking socket, possibly still connecting). */
int mpc_conn_set_b(struct mpc_conn *c, int fd_b);
/* Start pumping. `hold_down` keeps b -> a stopped until
 * mpc_conn_release_down() (a CPE still waiting for the Convert reply). */
void mpc_conn_start_relay(struct mpc_conn *c, bool hold_down);
void mpc_conn_release_down(struct mpc_conn *c);
/* Send the FIN hold_fin() postponed (if the connection still relays). */
void mpc_conn_release_fin(struct mpc_conn *c);
/* Publish the connection in mpc_binds (fields above must be set). */
void mpc_conn_bind(struct mpc_conn *c);
/* Tear both sides down with RST (MP_FASTCLOSE on an MPTCP socket). */
void mpc_conn_abort(struct mpc_conn *c);
/* After an error reply on side a: FIN a, close b, drain a until the peer
 * closes or `linger` expires, then close. Never an immediate RST, so the
 * Error TLV is delivered (RFC 8803, protocol.md §1.2). */
void mpc_conn_linger(struct mpc_conn *c);
/* Write all of buf to fd now (small control messages on a fresh socket
 * whose send buffer is empty). Returns 0 or -errno. */
int mpc_write_all(int fd, const void *buf, size_t len);
/* Abort with RST: SO_LINGER {1, 0} then close. */
void mpc_close_rst(int fd);

/* Socket helpers shared by the daemons. */
uint64_t mpc_sock_cookie(int fd);
/* MPTCP state of a socket: returns 1 MPTCP in use, 0 fallen back to TCP
 * or plain TCP, -errno on error. subflows/token are optional outputs. */
int mpc_sock_mptcp(int fd, uint8_t *subflows, uint32_t *token);
int mpc_set_nonblock(int fd);

#endif /* MPC_RELAY_H */
