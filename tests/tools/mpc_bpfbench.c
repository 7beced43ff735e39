// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpc_bpfbench: nanoseconds per packet of every tc and XDP program of a
 * BPF object, measured with BPF_PROG_TEST_RUN (the kernel runs the program
 * --repeat times on one packet and reports the mean), on crafted packets:
 *
 *   syn      TCP SYN with Linux's usual options (MSS, SACK-permitted,
 *            timestamps, window scale), from a LAN host to a server
 *   data     1448-byte TCP segment (ACK|PSH, timestamps) of a connection
 *            that has a socket in this network namespace (--flow), i.e.
 *            the packet of a proxied flow that the classifier must find
 *   data_nf  the same segment for a tuple without any local socket (a
 *            forwarded, non-proxied flow)
 *   udp      a 64-byte UDP datagram (the non-TCP path)
 *
 *   mpc_bpfbench [--repeat N] [--runs K] [--family 4|6] [--set VAR=VALUE]...
 *                [--mark M] [--mptcp] [--prefer] [--dst ADDR:PORT]
 *                [--listen ADDR:PORT] OBJ...
 *
 *   --set VAR=VALUE   write a .rodata variable before load: VALUE is an IPv4
 *                     or IPv6 address (stored in network order, for 4- and
 *                     16-byte variables) or an integer (host order)
 *   --mark M          skb->mark of the tc runs (e.g. the stamper's mark)
 *   --mptcp           the SYN carries MP_CAPABLE and data segments a DSS ack
 *   --prefer          the SYN also carries MP_PREFER_PROXY (subtype 0xf)
 *   --dst ADDR:PORT   destination of syn/data_nf/udp (default 203.0.113.2:80)
 *   --listen ADDR:PORT  open a TCP listener there first (the daemon's
 *                     listener that a classifier looks up)
 *   --allow PREFIX    put PREFIX in the mpc_allow map after load, as the
 *                     concentrator does with its --allow (so the guard's
 *                     accepting path is measured, not its drop)
 *
 * Maps are pinned by name under a fresh directory on /sys/fs/bpf, removed
 * at exit, so nothing is shared with a running daemon. Output: one JSON
 * object per program and packet, with the K means (ns), the program's
 * return value and, for objects with an mpc_stats map, the reason the
 * program counted the packet under (which path was measured).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <mpconv/maps.h>

#include "addr.h"
#include "reasons.h"

#define MAX_SET 32
#define PKT_MAX 1600
#define DATA_LEN 1448

static struct {
	unsigned long repeat;
	unsigned int runs, family;
	const char *set[MAX_SET];
	int n_set;
	uint32_t mark;
	bool mptcp, prefer;
	struct sockaddr_storage dst, listen;
	bool listen_set;
	const char *allow;
} opt = { .repeat = 1000000, .runs = 5, .family = 4 };

/* the local connection whose tuple the data packets carry */
static struct sockaddr_storage flow_src, flow_dst;
static bool have_flow;

struct pkt {
	const char *name;
	uint8_t buf[PKT_MAX];
	uint32_t len;
};

/* ---- packets ------------------------------------------------------------ */

static uint32_t csum_add(uint32_t s, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (b[i] << 8) | b[i + 1];
	if (n & 1)
		s += b[n - 1] << 8;
	return s;
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * Ethernet + IPv4/IPv6 + L4 header (+ payload of zeroes). l4 is the TCP or
 * UDP header with its options, l4_len bytes; checksums are real.
 */
static void build(struct pkt *k, const struct sockaddr_storage *src,
		  const struct sockaddr_storage *dst, uint8_t proto, const uint8_t *l4,
		  uint32_t l4_len, uint32_t payload)
{
	uint8_t *p = k->buf, *ip, *th;
	uint8_t sa[16], da[16];
	uint16_t sp, dp;
	uint32_t s = 0, seg = l4_len + payload;
	bool v6 = dst->ss_family == AF_INET6;

	memset(k->buf, 0, sizeof(k->buf));
	mpc_sa_to16(src, sa, &sp);
	mpc_sa_to16(dst, da, &dp);
	memcpy(p, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	put16(p + 12, v6 ? ETH_P_IPV6 : ETH_P_IP);
	ip = p + ETH_HLEN;
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, seg);
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, sa, 16);
		memcpy(ip + 24, da, 16);
		th = ip + 40;
		s = csum_add(s, ip + 8, 32);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, 20 + seg);
		put16(ip + 4, 0x1234);
		put16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, sa + 12, 4);
		memcpy(ip + 16, da + 12, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
		th = ip + 20;
		s = csum_add(s, ip + 12, 8);
	}
	memcpy(th, l4, l4_len);
	put16(th, sp);
	put16(th + 2, dp);
	s += proto + seg;
	if (proto == IPPROTO_UDP)
		put16(th + 4, seg);
	put16(th + (proto == IPPROTO_TCP ? 16 : 6), csum_fold(csum_add(s, th, seg)));
	k->len = (th - p) + seg;
}

static void tcp_hdr(uint8_t *th, uint32_t *len, uint8_t flags, const uint8_t *opts, uint32_t olen)
{
	memset(th, 0, 20);
	put32(th + 4, 0x11223344);
	put32(th + 8, flags & 0x10 ? 0x55667788 : 0);
	th[12] = ((20 + olen) / 4) << 4;
	th[13] = flags;
	put16(th + 14, 64240);
	memcpy(th + 20, opts, olen);
	*len = 20 + olen;
}

static void build_all(struct pkt pk[4])
{
	/* Linux SYN: MSS, SACK-permitted, TS, NOP, WS (20 bytes) */
	uint8_t syn_opts[40] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 };
	uint8_t data_opts[40] = { 1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1 };
	uint32_t syn_olen = 20, data_olen = 12, len;
	struct sockaddr_storage src, dsrc, ddst;
	uint8_t l4[60];

	if (opt.mptcp) {
		/* MP_CAPABLE v1 in a SYN: 4 bytes, flag H (RFC 8684 3.1) */
		memcpy(syn_opts + syn_olen, "\x1e\x04\x01\x01", 4);
		syn_olen += 4;
		/* DSS with a 4-byte data ACK only */
		memcpy(data_opts + data_olen, "\x1e\x08\x20\x01\x00\x00\x10\x00", 8);
		data_olen += 8;
	}
	if (opt.prefer) {
		memcpy(syn_opts + syn_olen, "\x1e\x04\xf0\x00", 4);
		syn_olen += 4;
	}
	mpc_parse_sockaddr(opt.family == 6 ? "[2001:db8:1::2]:40000" : "192.0.2.2:40000", &src,
			   &(socklen_t){ 0 }, true);

	pk[0].name = "syn";
	tcp_hdr(l4, &len, 0x02, syn_opts, syn_olen);
	build(&pk[0], &src, &opt.dst, IPPROTO_TCP, l4, len, 0);

	pk[1].name = "data";
	dsrc = have_flow ? flow_src : src;
	ddst = have_flow ? flow_dst : opt.dst;
	tcp_hdr(l4, &len, 0x18, data_opts, data_olen);
	build(&pk[1], &dsrc, &ddst, IPPROTO_TCP, l4, len, DATA_LEN);

	pk[2].name = "data_nf";
	build(&pk[2], &src, &opt.dst, IPPROTO_TCP, l4, len, DATA_LEN);

	pk[3].name = "udp";
	memset(l4, 0, 8);
	build(&pk[3], &src, &opt.dst, IPPROTO_UDP, l4, 8, 64);
}

/* ---- sockets the programs look up --------------------------------------- */

static int tcp_listen(const struct sockaddr_storage *a, socklen_t len)
{
	int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)a, len) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* An established connection over loopback: the data packets carry the
 * tuple its accepted end sees, so a socket lookup finds it. */
static int make_flow(void)
{
	struct sockaddr_storage a;
	socklen_t len;
	int l, c, s;

	mpc_parse_sockaddr(opt.family == 6 ? "::1" : "127.0.0.1", &a, &len, false);
	l = tcp_listen(&a, len);
	if (l < 0)
		return l;
	getsockname(l, (struct sockaddr *)&a, &len);
	c = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, len))
		return -errno;
	s = accept(l, NULL, NULL);
	if (s < 0)
		return -errno;
	len = sizeof(flow_src);
	getpeername(s, (struct sockaddr *)&flow_src, &len);
	len = sizeof(flow_dst);
	getsockname(s, (struct sockaddr *)&flow_dst, &len);
	have_flow = true;
	return 0; /* descriptors stay open until exit */
}

/* ---- .rodata ------------------------------------------------------------ */

static int set_rodata(struct bpf_object *obj, const char *spec)
{
	const char *eq = strchr(spec, '=');
	struct bpf_map *map;
	char name[128];

	if (!eq || eq - spec >= (long)sizeof(name))
		return -EINVAL;
	memcpy(name, spec, eq - spec);
	name[eq - spec] = 0;
	bpf_object__for_each_map(map, obj) {
		const struct btf *btf = bpf_object__btf(obj);
		const struct btf_var_secinfo *vs;
		const struct btf_type *sec;
		size_t sz;
		uint8_t *data;
		int i;

		if (!bpf_map__is_internal(map) || !strstr(bpf_map__name(map), ".rodata"))
			continue;
		sec = btf__type_by_id(btf, bpf_map__btf_value_type_id(map));
		data = (uint8_t *)bpf_map__initial_value(map, &sz); /* writable before load */
		if (!sec || !data)
			continue;
		vs = btf_var_secinfos(sec);
		for (i = 0; i < btf_vlen(sec); i++, vs++) {
			const struct btf_type *v = btf__type_by_id(btf, vs->type);
			uint8_t a6[16];
			struct in_addr a4;
			uint64_t x;

			if (strcmp(btf__name_by_offset(btf, v->name_off), name))
				continue;
			if (vs->size == 4 && inet_pton(AF_INET, eq + 1, &a4) == 1) {
				memcpy(data + vs->offset, &a4, 4);
			} else if (vs->size == 16 && inet_pton(AF_INET6, eq + 1, a6) == 1) {
				memcpy(data + vs->offset, a6, 16);
			} else if (vs->size <= 8) {
				x = strtoull(eq + 1, NULL, 0);
				memcpy(data + vs->offset, &x, vs->size); /* little endian host */
			} else {
				return -EINVAL;
			}
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- reasons ------------------------------------------------------------ */

static int nr_cpus;

static int stats_read(int fd, uint64_t *pkts)
{
	struct mpc_stat *v = calloc(nr_cpus, sizeof(*v));
	uint32_t k;
	int c;

	if (!v)
		return -ENOMEM;
	for (k = 0; k < MPC_R_MAX; k++) {
		pkts[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (c = 0; c < nr_cpus; c++)
			pkts[k] += v[c].packets;
	}
	free(v);
	return 0;
}

/* ---- main loop ---------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The reason counted most between two reads of mpc_stats, and how many. */
static const char *top_reason(const uint64_t *before, const uint64_t *after, uint64_t *n)
{
	const char *name = NULL;
	uint32_t k;

	*n = 0;
	for (k = 0; k < MPC_R_MAX; k++)
		if (after[k] - before[k] > *n) {
			*n = after[k] - before[k];
			name = mpc_reason_name(k);
		}
	return name;
}

static void print_reason(const char *key, const char *reason)
{
	printf(",\"%s\":%s%s%s", key, reason ? "\"" : "", reason ? reason : "null",
	       reason ? "\"" : "");
}

/*
 * Two measurements per packet. "repeat": the kernel runs the program
 * --repeat times on one skb and reports the mean; but a program that
 * rewrites the packet (the stamper) sees its own output from the second
 * run on, so the path measured may not be the first run's. "single": the
 * median of SINGLE_RUNS runs of one iteration each, every one on a fresh
 * copy of the packet (the kernel's timer overhead is in it, and in the
 * empty program's figure measured the same way). The output says which
 * path each one took.
 */
#define SINGLE_RUNS 5000

static int bench_prog(const char *objname, struct bpf_program *prog, int stats_fd, struct pkt *pk,
		      int n_pk)
{
	enum bpf_prog_type t = bpf_program__type(prog);
	uint64_t before[MPC_R_MAX], after[MPC_R_MAX], cnt;
	uint32_t *one = calloc(SINGLE_RUNS, sizeof(*one));
	int fd = bpf_program__fd(prog), i;
	unsigned int r;

	if (!one)
		return -ENOMEM;
	for (i = 0; i < n_pk; i++) {
		struct __sk_buff ctx = { .mark = opt.mark };
		/* room for what the program returns: a stamped SYN grows, and
		 * the kernel refuses (ENOSPC) output it has nowhere to copy */
		static uint8_t out[PKT_MAX + 512];
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pk[i].buf, .data_size_in = pk[i].len,
			    .data_out = out, .data_size_out = sizeof(out));
		const char *r_single = NULL, *r_repeat = NULL;
		uint32_t ns[64], ns1[64], retval = 0;
		bool stable = true;

		/* XDP: a context, so that metadata the program prepends
		 * (bpf_xdp_adjust_meta) has somewhere to be reported */
		struct xdp_md xctx = { .data = 0, .data_end = pk[i].len };

		if (t == BPF_PROG_TYPE_SCHED_CLS) {
			o.ctx_in = &ctx;
			o.ctx_size_in = sizeof(ctx);
		} else {
			o.ctx_in = o.ctx_out = &xctx;
			o.ctx_size_in = o.ctx_size_out = sizeof(xctx);
		}
		for (r = 0; r < opt.runs; r++) {
			unsigned int j;

			if (stats_fd >= 0)
				stats_read(stats_fd, before);
			o.repeat = 1;
			for (j = 0; j < SINGLE_RUNS; j++) {
				/* both are in/out: the kernel wrote them last time */
				xctx = (struct xdp_md){ .data_end = pk[i].len };
				o.data_size_out = sizeof(out);
				if (bpf_prog_test_run_opts(fd, &o))
					goto fail;
				one[j] = o.duration;
			}
			qsort(one, SINGLE_RUNS, sizeof(*one), cmp_u32);
			ns1[r] = one[SINGLE_RUNS / 2];
			retval = o.retval;
			if (stats_fd >= 0 && !stats_read(stats_fd, after))
				r_single = top_reason(before, after, &cnt);

			if (stats_fd >= 0)
				stats_read(stats_fd, before);
			o.repeat = opt.repeat;
			xctx = (struct xdp_md){ .data_end = pk[i].len };
			o.data_size_out = sizeof(out); /* in/out, like the context */
			if (bpf_prog_test_run_opts(fd, &o))
				goto fail;
			ns[r] = o.duration;
			if (stats_fd >= 0 && !stats_read(stats_fd, after)) {
				r_repeat = top_reason(before, after, &cnt);
				/* every iteration must have taken the single run's path */
				stable &= r_repeat == r_single && cnt >= opt.repeat;
			}
		}
		printf("{\"obj\":\"%s\",\"prog\":\"%s\",\"type\":\"%s\",\"family\":%u,"
		       "\"pkt\":\"%s\",\"len\":%u,\"repeat\":%lu,\"single_runs\":%u,\"retval\":%u",
		       objname, bpf_program__name(prog), t == BPF_PROG_TYPE_XDP ? "xdp" : "tc",
		       opt.family, pk[i].name, pk[i].len, opt.repeat, SINGLE_RUNS, retval);
		print_reason("reason", r_single);
		print_reason("repeat_reason", r_repeat);
		printf(",\"repeat_same_path\":%s,\"ns_repeat\":[", stable ? "true" : "false");
		for (r = 0; r < opt.runs; r++)
			printf("%s%u", r ? "," : "", ns[r]);
		printf("],\"ns_single\":[");
		for (r = 0; r < opt.runs; r++)
			printf("%s%u", r ? "," : "", ns1[r]);
		printf("]}\n");
		fflush(stdout);
	}
	free(one);
	return 0;
fail:
	fprintf(stderr, "%s/%s: test run on %s: %s\n", objname, bpf_program__name(prog), pk[i].name,
		strerror(errno));
	free(one);
	return -errno;
}

static int bench_obj(const char *path, struct pkt *pk, int n_pk)
{
	char pin[] = "/sys/fs/bpf/mpc-bpfbench-XXXXXX", objname[64];
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *stats;
	const char *b = strrchr(path, '/');
	int err, i, n = 0;

	snprintf(objname, sizeof(objname), "%s", b ? b + 1 : path);
	if (strstr(objname, ".bpf.o"))
		*strstr(objname, ".bpf.o") = 0;
	if (!mkdtemp(pin)) {
		fprintf(stderr, "%s: %s\n", pin, strerror(errno));
		return -errno;
	}
	oo.pin_root_path = pin;
	obj = bpf_object__open_file(path, &oo);
	err = libbpf_get_error(obj);
	if (err) {
		fprintf(stderr, "%s: open: %s\n", path, strerror(-err));
		rmdir(pin);
		return err;
	}
	for (i = 0; i < opt.n_set; i++) {
		err = set_rodata(obj, opt.set[i]);
		/* a knob of another object: ignored, so one --set list serves all */
		if (err && err != -ENOENT) {
			fprintf(stderr, "%s: --set %s: %s\n", path, opt.set[i], strerror(-err));
			goto out;
		}
	}
	bpf_object__for_each_program(prog, obj) {
		enum bpf_prog_type t = bpf_program__type(prog);
		bool want = t == BPF_PROG_TYPE_SCHED_CLS || t == BPF_PROG_TYPE_XDP;

		bpf_program__set_autoload(prog, want);
		n += want;
	}
	if (!n) {
		err = 0;
		goto out;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "%s: load: %s\n", path, strerror(-err));
		goto out;
	}
	if (opt.allow && bpf_object__find_map_by_name(obj, "mpc_allow")) {
		struct mpc_lpm_key k = {};
		struct mpc_pol_val v = {};

		if (mpc_parse_prefix(opt.allow, k.addr, &k.prefixlen) ||
		    bpf_map_update_elem(bpf_map__fd(bpf_object__find_map_by_name(obj, "mpc_allow")),
					&k, &v, BPF_ANY)) {
			fprintf(stderr, "%s: --allow %s: %s\n", path, opt.allow, strerror(errno));
			err = -EINVAL;
			goto out;
		}
	}
	stats = bpf_object__find_map_by_name(obj, "mpc_stats");
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		err = bench_prog(objname, prog, stats ? bpf_map__fd(stats) : -1, pk, n_pk);
		if (err)
			break;
	}
	bpf_object__unpin_maps(obj, NULL);
out:
	bpf_object__close(obj);
	rmdir(pin);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "repeat", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'k' },
		{ "family", required_argument, NULL, 'f' },
		{ "set", required_argument, NULL, 's' },
		{ "mark", required_argument, NULL, 'm' },
		{ "mptcp", no_argument, NULL, 'M' },
		{ "prefer", no_argument, NULL, 'P' },
		{ "dst", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "allow", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *dst = NULL;
	struct pkt pk[4];
	socklen_t len;
	int c, i, rc = 0;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			opt.repeat = strtoul(optarg, NULL, 0);
			break;
		case 'k':
			opt.runs = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			opt.family = strtoul(optarg, NULL, 0);
			break;
		case 's':
			if (opt.n_set == MAX_SET)
				return 2;
			opt.set[opt.n_set++] = optarg;
			break;
		case 'm':
			opt.mark = strtoul(optarg, NULL, 0);
			break;
		case 'M':
			opt.mptcp = true;
			break;
		case 'P':
			opt.prefer = true;
			break;
		case 'd':
			dst = optarg;
			break;
		case 'a':
			opt.allow = optarg;
			break;
		case 'l':
			if (mpc_parse_sockaddr(optarg, &opt.listen, &len, true))
				return 2;
			if (tcp_listen(&opt.listen, len) < 0) {
				perror("--listen");
				return 1;
			}
			opt.listen_set = true;
			break;
		default:
			fprintf(stderr,
				"usage: mpc_bpfbench [--repeat N] [--runs K] [--family 4|6] "
				"[--set VAR=VALUE]... [--mark M]\n"
				"                    [--mptcp] [--prefer] [--dst ADDR:PORT] "
				"[--listen ADDR:PORT] [--allow PREFIX] OBJ...\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc || !opt.runs || opt.runs > 64 || !opt.repeat ||
	    (opt.family != 4 && opt.family != 6))
		return 2;
	if (!dst)
		dst = opt.family == 6 ? "[2001:db8:2::2]:80" : "203.0.113.2:80";
	if (mpc_parse_sockaddr(dst, &opt.dst, &len, true))
		return 2;
	nr_cpus = libbpf_num_possible_cpus();
	if (make_flow())
		fprintf(stderr, "no local flow: data packets will not match a socket\n");
	build_all(pk);
	for (i = optind; i < argc; i++)
		if (bench_obj(argv[i], pk, 4))
			rc = 1;
	return rc;
}
