// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpconv [OPTIONS] COMMAND ...   (bpftool/iproute2 grammar, style S13)
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpconv/maps.h>

#include "cmds.h"
#include "log.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct cmd cmds[] = {
	{ "concentrator", cmd_concentrator, "run the downstream MCP (RFC 8803 converter)" },
	{ "cpe", cmd_cpe, "run the upstream MCP on a CPE" },
	{ "bindings", cmd_bindings, "list live proxied connections" },
	{ "status", cmd_status, "show attached interfaces, WAN links and counters" },
	{ "stats", cmd_stats, "show per-reason BPF counters and daemon events" },
	{ "cache", cmd_cache, "show or flush the MPTCP fallback cache" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: mpconv [OPTIONS] COMMAND [ARGS]...\n"
		   "       mpconv COMMAND --help\n\n"
		   "COMMAND :=\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-13s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\nOPTIONS := { -j|--json  -p|--pretty  -v|--verbose (repeat)\n"
		   "             --pin-path DIR (default " MPC_PIN_DEFAULT ")  -h|--help }\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },    { "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' }, { "pin-path", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },    {}
	};
	size_t i;
	int c;

	/* Options before the command only ('+'): each command parses its own. */
	while ((c = getopt_long(argc, argv, "+jpvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			mpc_g.json = true;
			break;
		case 'p':
			mpc_g.json = mpc_g.pretty = true;
			break;
		case 'v':
			mpc_log_level++;
			break;
		case 'P':
			mpc_g.pin_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	/* A peer that vanishes must surface as EPIPE, not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	mpc_log_init_libbpf();

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		/* unique prefixes are accepted, as in ip(8) and bpftool */
		if (!strncmp(argv[optind], cmds[i].name, strlen(argv[optind]))) {
			return cmds[i].fn(argc - optind, argv + optind);
		}
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return 0;
	}
	mpc_err("unknown command '%s' (try 'mpconv help')", argv[optind]);
	return 2;
}
