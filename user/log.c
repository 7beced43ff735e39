// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "log.h"

int mpc_log_level = MPC_LOG_INFO;

static void vlog(int level, const char *fmt, va_list ap)
{
	static const char *const tag[] = { "warn", "info", "debug", "libbpf" };
	struct timespec ts;

	if (level > mpc_log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "mpconv[%ld.%03ld] %s: ", (long)ts.tv_sec, ts.tv_nsec / 1000000,
		tag[level < 4 ? level : 3]);
	vfprintf(stderr, fmt, ap);
}

void mpc_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	/* libbpf warnings are ours at debug level: the loader reports the
	 * failure itself with an actionable message. */
	vlog(lvl == LIBBPF_WARN ? MPC_LOG_DEBUG : MPC_LOG_LIBBPF, fmt, ap);
	return 0;
}

void mpc_log_init_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
