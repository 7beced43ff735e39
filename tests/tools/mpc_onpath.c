// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test driver for user/onpath.c: does what a daemon in implicit mode does
 * with the on-path programs, without the daemon around it, so the netns
 * tests can exercise the programs on real interfaces.
 *
 *   mpc_onpath --pin DIR [--bind-max N] [--allow PFX]...
 *              [--wan IF,... --stamp-mark M]
 *              [--pick IF,... --port P [--addr4 A] [--addr6 A] --mark M
 *               [--convert-port P] [--no-xdp]]
 *              [--cg] [--subtype S] [-- CMD ARG...]
 *
 * Opens the pinned state in DIR (user/state.c), attaches what is asked,
 * optionally moves itself into its own cgroup with the sockops program
 * (--cg), prints "ready", then runs CMD (which inherits the cgroup) or
 * waits. SIGUSR1 prints the programs' counters; SIGTERM/SIGINT (or CMD's
 * exit) prints them, stops CMD and undoes everything. Exit status: CMD's,
 * or 0; 1 on a setup error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "attach.h"
#include "log.h"
#include "onpath.h"
#include "state.h"
#include "tc_wan.skel.h"

#define MAX_IF 16

static int split_ifs(char *list, int *idx)
{
	char *tok, *save = NULL;
	int n = 0, i;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_IF)
			return -E2BIG;
		i = mpc_ifindex(tok);
		if (i < 0)
			return i;
		idx[n++] = i;
	}
	return n;
}

static void counters(const struct mpc_wan *w, const struct mpc_pick *p, const struct mpc_cg *cg)
{
	printf("counters: stamped=%llu pick_meta=%llu tokens_added=%llu token_errors=%llu\n",
	       (unsigned long long)(w->skel ? w->skel->bss->mpc_wan_stamped : 0),
	       (unsigned long long)mpc_pick_meta_count(p),
	       (unsigned long long)mpc_cg_tokens_added(cg),
	       (unsigned long long)mpc_cg_token_errors(cg));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pin", required_argument, NULL, 'P' },
		{ "bind-max", required_argument, NULL, 'B' },
		{ "allow", required_argument, NULL, 'A' },
		{ "wan", required_argument, NULL, 'W' },
		{ "stamp-mark", required_argument, NULL, 'S' },
		{ "pick", required_argument, NULL, 'K' },
		{ "port", required_argument, NULL, 'p' },
		{ "addr4", required_argument, NULL, '4' },
		{ "addr6", required_argument, NULL, '6' },
		{ "mark", required_argument, NULL, 'm' },
		{ "convert-port", required_argument, NULL, 'c' },
		{ "no-xdp", no_argument, NULL, 'X' },
		{ "cg", no_argument, NULL, 'G' },
		{ "subtype", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{}
	};
	struct mpc_wan_opts wo = {};
	struct mpc_pick_opts po = {};
	struct mpc_state_opts so = {};
	struct mpc_state st = {};
	struct mpc_wan w = {};
	struct mpc_pick p = {};
	struct mpc_cg cg = { .fd = -1 };
	int wan_if[MAX_IF], pick_if[MAX_IF], n_wan = 0, n_pick = 0;
	char *allow[16], *wan_list = NULL, *pick_list = NULL;
	const char *pin = NULL;
	int n_allow = 0, opt, i, rc = 1, status, sig;
	bool use_cg = false;
	pid_t child = -1;
	sigset_t ss;

	while ((opt = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		switch (opt) {
		case 'P': pin = optarg; break;
		case 'B': so.bind_max = strtoul(optarg, NULL, 0); break;
		case 'A':
			if (n_allow < 16)
				allow[n_allow++] = optarg;
			break;
		case 'W': wan_list = optarg; break;
		case 'S': wo.stamp_mark = strtoul(optarg, NULL, 0); break;
		case 'K': pick_list = optarg; break;
		case 'p': po.lst_port = strtoul(optarg, NULL, 0); break;
		case '4':
			if (inet_pton(AF_INET, optarg, &po.lst_addr4) != 1)
				goto usage;
			break;
		case '6':
			if (inet_pton(AF_INET6, optarg, &po.lst_addr6) != 1)
				goto usage;
			break;
		case 'm': po.local_mark = strtoul(optarg, NULL, 0); break;
		case 'c': po.convert_port = strtoul(optarg, NULL, 0); break;
		case 'X': po.no_xdp = true; break;
		case 'G': use_cg = true; break;
		case 's': wo.prefer_subtype = po.prefer_subtype = strtoul(optarg, NULL, 0); break;
		case 'v': mpc_log_level = MPC_LOG_LIBBPF; break;
		default: goto usage;
		}
	}
	if (!pin)
		goto usage;
	mpc_log_init_libbpf();
	if (wan_list && (n_wan = split_ifs(wan_list, wan_if)) < 0)
		return 1;
	if (pick_list && (n_pick = split_ifs(pick_list, pick_if)) < 0)
		return 1;

	/* signals are taken synchronously; CMD gets the default set back */
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGUSR1);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, NULL);

	if (mpc_state_open(&st, pin, &so))
		return 1;
	for (i = 0; i < n_allow; i++) {
		struct mpc_lpm_key k = {};
		struct mpc_pol_val v = { .action = MPC_POL_CONVERT };

		if (mpc_parse_prefix(allow[i], k.addr, &k.prefixlen) ||
		    bpf_map_update_elem(st.allow_fd, &k, &v, 0)) {
			fprintf(stderr, "bad --allow %s\n", allow[i]);
			goto out;
		}
	}
	if (n_wan && mpc_wan_attach(&w, pin, wan_if, n_wan, &wo))
		goto out;
	if (n_pick && mpc_pick_attach(&p, pin, pick_if, n_pick, &po))
		goto out;
	if (use_cg && mpc_cg_setup(&cg, pin))
		goto out;

	if (optind < argc) {
		child = fork();
		if (child < 0)
			goto out;
		if (child == 0) {
			sigprocmask(SIG_UNBLOCK, &ss, NULL);
			execvp(argv[optind], argv + optind);
			perror("exec");
			_exit(127);
		}
	}
	printf("ready\n");
	fflush(stdout);
	rc = 0;
	for (;;) {
		sig = sigwaitinfo(&ss, NULL);
		if (sig == SIGUSR1) {
			counters(&w, &p, &cg);
			continue;
		}
		if (sig == SIGCHLD) {
			if (child > 0 && waitpid(child, &status, WNOHANG) == child) {
				rc = WIFEXITED(status) ? WEXITSTATUS(status)
						       : 128 + WTERMSIG(status);
				child = -1;
				break;
			}
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	counters(&w, &p, &cg);
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, &status, 0);
	}
out:
	mpc_cg_teardown(&cg);
	mpc_pick_detach(&p);
	mpc_wan_detach(&w);
	mpc_state_close(&st);
	return rc;
usage:
	fprintf(stderr, "usage: see the comment at the top of tests/tools/mpc_onpath.c\n");
	return 2;
}
