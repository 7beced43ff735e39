// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

#define MPC_LOOP_BATCH 256

uint64_t mpc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t mpc_now_ms(void)
{
	return mpc_now_ns() / 1000000ull;
}

int mpc_loop_init(struct mpc_loop *l)
{
	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	l->now_ms = mpc_now_ms();
	return 0;
}

void mpc_loop_fini(struct mpc_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int mpc_loop_add(struct mpc_loop *l, struct mpc_ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, ev->fd, &e) ? -errno : 0;
}

int mpc_loop_mod(struct mpc_loop *l, struct mpc_ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, ev->fd, &e) ? -errno : 0;
}

void mpc_loop_del(struct mpc_loop *l, struct mpc_ev *ev)
{
	if (ev->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, ev->fd, NULL);
}

void mpc_tqueue_init(struct mpc_loop *l, struct mpc_tqueue *q, uint32_t timeout_ms,
		     void (*fire)(struct mpc_timer *t))
{
	mpc_list_init(&q->head);
	q->timeout_ms = timeout_ms;
	q->fire = fire;
	if (l->n_queues < (int)(sizeof(l->queues) / sizeof(l->queues[0])))
		l->queues[l->n_queues++] = q;
	else /* a programming error: its timers would never fire */
		pr_warn("event loop: more than %d timer queues; raise mpc_loop.queues\n",
			l->n_queues);
}

void mpc_timer_arm(struct mpc_loop *l, struct mpc_tqueue *q, struct mpc_timer *t)
{
	if (mpc_timer_armed(t))
		mpc_list_del(&t->node);
	t->deadline_ms = mpc_now_ms() + q->timeout_ms;
	mpc_list_add_tail(&q->head, &t->node);
}

void mpc_timer_cancel(struct mpc_timer *t)
{
	if (t->node.next && mpc_timer_armed(t))
		mpc_list_del(&t->node);
}

static int next_timeout(struct mpc_loop *l, int max_wait_ms)
{
	int i, wait = max_wait_ms;

	for (i = 0; i < l->n_queues; i++) {
		struct mpc_list *h = &l->queues[i]->head;
		struct mpc_timer *t;
		int64_t d;

		if (mpc_list_empty(h))
			continue;
		t = container_of(h->next, struct mpc_timer, node);
		d = (int64_t)t->deadline_ms - (int64_t)l->now_ms;
		if (d < 0)
			d = 0;
		if (wait < 0 || d < wait)
			wait = (int)d;
	}
	return wait;
}

static void fire_timers(struct mpc_loop *l)
{
	int i;

	for (i = 0; i < l->n_queues; i++) {
		struct mpc_tqueue *q = l->queues[i];
		struct mpc_list *h = &q->head;

		while (!mpc_list_empty(h)) {
			struct mpc_timer *t = container_of(h->next, struct mpc_timer, node);

			if (t->deadline_ms > l->now_ms)
				break;
			mpc_list_del(&t->node);
			q->fire(t);
		}
	}
}

int mpc_loop_once(struct mpc_loop *l, int max_wait_ms)
{
	struct epoll_event evs[MPC_LOOP_BATCH];
	int n, i;

	l->now_ms = mpc_now_ms();
	n = epoll_wait(l->epfd, evs, MPC_LOOP_BATCH, next_timeout(l, max_wait_ms));
	if (n < 0 && errno != EINTR)
		return -errno;
	for (i = 0; i < n; i++) {
		struct mpc_ev *ev = evs[i].data.ptr;

		ev->cb(ev, evs[i].events);
	}
	l->now_ms = mpc_now_ms();
	fire_timers(l);
	return 0;
}
