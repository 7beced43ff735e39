/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small epoll event loop: one callback per registered fd, a monotonic
 * millisecond clock, and FIFO timer queues (every entry of one queue has
 * the same timeout, so appending keeps the queue sorted and expiry is
 * O(expired)). One loop per daemon; no threads.
 */
#ifndef MPC_LOOP_H
#define MPC_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "list.h"

struct mpc_loop;
struct mpc_ev;

typedef void (*mpc_ev_cb)(struct mpc_ev *ev, uint32_t events);

struct mpc_ev {
	int fd;
	mpc_ev_cb cb;
};

struct mpc_timer {
	struct mpc_list node;
	uint64_t deadline_ms;
};

/* A queue of timers sharing one timeout and one expiry callback (kept
 * here rather than in every timer: timers live in every connection). */
struct mpc_tqueue {
	struct mpc_list head;
	uint32_t timeout_ms;
	void (*fire)(struct mpc_timer *t);
};

struct mpc_loop {
	int epfd;
	bool stop;
	uint64_t now_ms;
	struct mpc_tqueue *queues[8];
	int n_queues;
};

int mpc_loop_init(struct mpc_loop *l);
void mpc_loop_fini(struct mpc_loop *l);
int mpc_loop_add(struct mpc_loop *l, struct mpc_ev *ev, uint32_t events);
int mpc_loop_mod(struct mpc_loop *l, struct mpc_ev *ev, uint32_t events);
void mpc_loop_del(struct mpc_loop *l, struct mpc_ev *ev);
/* Run one iteration: wait up to `max_wait_ms` (or the nearest timer),
 * dispatch events, then fire expired timers. */
int mpc_loop_once(struct mpc_loop *l, int max_wait_ms);

void mpc_tqueue_init(struct mpc_loop *l, struct mpc_tqueue *q, uint32_t timeout_ms,
		     void (*fire)(struct mpc_timer *t));
void mpc_timer_arm(struct mpc_loop *l, struct mpc_tqueue *q, struct mpc_timer *t);
void mpc_timer_cancel(struct mpc_timer *t);
static inline bool mpc_timer_armed(const struct mpc_timer *t)
{
	return !mpc_list_empty(&t->node);
}

uint64_t mpc_now_ms(void);
uint64_t mpc_now_ns(void); /* CLOCK_MONOTONIC, same clock as bpf_ktime_get_ns */

#endif /* MPC_LOOP_H */
