// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

static void on_signal(struct mpc_ev *ev, uint32_t events)
{
	struct mpc_daemon *d = container_of(ev, struct mpc_daemon, sig_ev);
	struct signalfd_siginfo si;

	if (read(ev->fd, &si, sizeof(si)) == sizeof(si)) {
		pr_info("signal %u: shutting down\n", si.ssi_signo);
		d->loop->stop = true;
	}
}

void mpc_daemon_block_signals(struct mpc_daemon *d)
{
	sigemptyset(&d->mask);
	sigaddset(&d->mask, SIGINT);
	sigaddset(&d->mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &d->mask, NULL);
	d->sig_ev.fd = -1;
}

int mpc_daemon_run(struct mpc_daemon *d)
{
	uint64_t last_tick = mpc_now_ms(), last_sweep = last_tick;
	int err;

	d->sig_ev.fd = signalfd(-1, &d->mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->sig_ev.cb = on_signal;
	if (d->sig_ev.fd < 0 || mpc_loop_add(d->loop, &d->sig_ev, EPOLLIN))
		return -errno;
	while (!d->loop->stop) {
		uint64_t now;

		err = mpc_loop_once(d->loop, 1000);
		if (err < 0)
			return err;
		mpc_relay_reap(d->relay);
		now = mpc_now_ms();
		if (now - last_tick >= 1000) {
			last_tick = now;
			d->tick(d->arg);
		}
		if (d->sweep && now - last_sweep >= 10000) {
			last_sweep = now;
			d->sweep(d->arg);
		}
	}
	return 0;
}

void mpc_daemon_fini(struct mpc_daemon *d)
{
	if (d->sig_ev.fd >= 0)
		close(d->sig_ev.fd);
	d->sig_ev.fd = -1;
}

int mpc_parse_u32(const char *s, uint32_t *v, uint32_t min, uint32_t max)
{
	unsigned long x;
	char *end;

	errno = 0;
	x = strtoul(s, &end, 0);
	if (errno || *s == '\0' || *s == '-' || *end != '\0' || x < min || x > max)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}
