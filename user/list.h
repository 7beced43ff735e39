/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Intrusive doubly linked list, kernel style. */
#ifndef MPC_LIST_H
#define MPC_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct mpc_list {
	struct mpc_list *next, *prev;
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void mpc_list_init(struct mpc_list *l)
{
	l->next = l->prev = l;
}

static inline bool mpc_list_empty(const struct mpc_list *l)
{
	return l->next == l;
}

static inline void mpc_list_add_tail(struct mpc_list *head, struct mpc_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void mpc_list_del(struct mpc_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	mpc_list_init(n);
}

#define mpc_list_for_each_safe(pos, tmp, head) \
	for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

#endif /* MPC_LIST_H */
