// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Global options and error reporting, shared by every command. */
#include <stdarg.h>
#include <stdio.h>

#include <mpconv/maps.h>

#include "cmds.h"

struct mpc_global mpc_g = {
	.pin_path = MPC_PIN_DEFAULT,
};

void mpc_err(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (mpc_g.json) {
		char *p;

		printf("{\"error\":\"");
		for (p = buf; *p; p++) {
			if (*p == '"' || *p == '\\')
				putchar('\\');
			if ((unsigned char)*p >= 0x20)
				putchar(*p);
		}
		printf("\"}\n");
	} else {
		fprintf(stderr, "mpconv: %s\n", buf);
	}
}
