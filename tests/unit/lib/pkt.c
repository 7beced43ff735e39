// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Packet builder for BPF unit tests; see pkt.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "lib/pkt.h"

#define ETH_HLEN_ 14
#define ARP_LEN 28

static const uint8_t def_dst_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t def_src_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static bool forced(int f)
{
	return f & PKT_FORCED;
}

static uint16_t forced_val(int f)
{
	return f & 0xffff;
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

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t pkt_csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	/* keep headroom for long chains */
	while (sum >> 31)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint16_t pkt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Sum of the v4/v6 pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1). */
static uint32_t pseudo_sum(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
			   uint32_t l4_len)
{
	uint8_t tail[8] = { 0 };
	uint32_t sum = 0;

	if (family == AF_INET) {
		sum = pkt_csum_add(sum, src, 4);
		sum = pkt_csum_add(sum, dst, 4);
		tail[1] = proto;
		put16(tail + 2, (uint16_t)l4_len);
		return pkt_csum_add(sum, tail, 4);
	}
	sum = pkt_csum_add(sum, src, 16);
	sum = pkt_csum_add(sum, dst, 16);
	put32(tail, l4_len);
	tail[7] = proto;
	return pkt_csum_add(sum, tail, 8);
}

struct addrs {
	int family;
	uint8_t src[16];
	uint8_t dst[16];
};

static int parse_one(const char *s, int *family, uint8_t *out)
{
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int resolve_addrs(const struct pkt_desc *d, struct addrs *a)
{
	bool v6 = d->flags & PKT_F_V6;
	const char *src = d->src, *dst = d->dst;
	int fs = 0, fd = 0;

	if (!src && !dst) {
		src = v6 ? "2001:db8::2" : "192.0.2.2";
		dst = v6 ? "2001:db8:1::1" : "198.51.100.1";
	} else if (!src) {
		src = strchr(dst, ':') ? "2001:db8::2" : "192.0.2.2";
	} else if (!dst) {
		dst = strchr(src, ':') ? "2001:db8:1::1" : "198.51.100.1";
	}
	memset(a, 0, sizeof(*a));
	if (parse_one(src, &fs, a->src) || parse_one(dst, &fd, a->dst) || fs != fd)
		return -EINVAL;
	a->family = fs;
	return 0;
}

/* L4 header + payload at p. Returns the number of bytes written. */
static int build_l4(const struct pkt_desc *d, uint8_t proto, uint8_t *p, size_t room)
{
	uint32_t optpad = (d->opts_len + 3u) & ~3u;
	uint32_t hlen, i;

	switch (proto) {
	case IPPROTO_TCP:
		if (d->opts_len > PKT_OPTS_MAX || (!d->opts && d->opts_len))
			return -EINVAL;
		hlen = 20 + optpad;
		if (!forced(d->doff) && hlen > 60)
			return -EINVAL;
		break;
	case IPPROTO_UDP:
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		hlen = 8;
		break;
	default:
		hlen = 0;
		break;
	}
	if (hlen + d->data_len > room)
		return -ENOSPC;
	memset(p, 0, hlen);
	switch (proto) {
	case IPPROTO_TCP:
		put16(p, d->sport ? d->sport : 40000);
		put16(p + 2, d->dport ? d->dport : 80);
		put32(p + 4, d->seq);
		put32(p + 8, d->ack);
		p[12] = (uint8_t)((forced(d->doff) ? forced_val(d->doff) : hlen / 4) << 4);
		p[13] = d->tcp_flags;
		put16(p + 14, d->window ? d->window : 65535);
		put16(p + 18, d->urg_ptr);
		if (d->opts_len)
			memcpy(p + 20, d->opts, d->opts_len);
		break;
	case IPPROTO_UDP:
		put16(p, d->sport ? d->sport : 40000);
		put16(p + 2, d->dport ? d->dport : 80);
		put16(p + 4, (uint16_t)(8 + d->data_len));
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		p[0] = proto == IPPROTO_ICMP ? 8 : 128;	/* echo request */
		put16(p + 4, 0x4d50);				/* identifier */
		put16(p + 6, 1);				/* sequence */
		break;
	}
	if (d->data)
		memcpy(p + hlen, d->data, d->data_len);
	else
		for (i = 0; i < d->data_len; i++)
			p[hlen + i] = (uint8_t)i;
	return (int)(hlen + d->data_len);
}

/* Fill the L4 checksum of l4_len bytes at l4 (nothing for raw protocols). */
static void l4_csum(const struct pkt_desc *d, const struct addrs *a, uint8_t proto, uint8_t *l4,
		    uint32_t l4_len)
{
	uint32_t sum;
	uint16_t c;
	int off;

	switch (proto) {
	case IPPROTO_TCP:
		off = 16;
		break;
	case IPPROTO_UDP:
		off = 6;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		off = 2;
		break;
	default:
		return;
	}
	if ((uint32_t)off + 2 > l4_len)
		return;	/* truncated header: nothing to fill */
	put16(l4 + off, 0);
	if (d->flags & PKT_F_NO_L4_CSUM)
		return;
	sum = proto == IPPROTO_ICMP ? 0 : pseudo_sum(a->family, a->src, a->dst, proto, l4_len);
	c = (uint16_t)~pkt_csum_fold(pkt_csum_add(sum, l4, l4_len));
	if (proto == IPPROTO_UDP && !c)
		c = 0xffff;	/* RFC 768: 0 means "no checksum" */
	if (d->flags & PKT_F_BAD_L4_CSUM)
		c ^= 1;
	put16(l4 + off, c);
}

static int build_v4(const struct pkt_desc *d, const struct addrs *a, uint8_t *p, size_t room)
{
	uint8_t proto = d->proto ? d->proto : IPPROTO_TCP;
	uint32_t hlen = 20 + d->ip_opts_len;
	uint32_t sum;
	int l4;

	if (d->ip_opts_len && !d->ip_opts)
		return -EINVAL;
	if (hlen > room)
		return -ENOSPC;
	l4 = build_l4(d, proto, p + hlen, room - hlen);
	if (l4 < 0)
		return l4;
	memset(p, 0, 20);
	p[0] = (uint8_t)(0x40 | (forced(d->ihl) ? forced_val(d->ihl) & 0xf : hlen / 4));
	p[1] = d->tos;
	put16(p + 2, forced(d->tot_len) ? forced_val(d->tot_len) : (uint16_t)(hlen + l4));
	put16(p + 4, d->ip_id);
	put16(p + 6, d->frag_off);
	p[8] = d->ttl ? d->ttl : 64;
	p[9] = proto;
	memcpy(p + 12, a->src, 4);
	memcpy(p + 16, a->dst, 4);
	if (d->ip_opts_len)
		memcpy(p + 20, d->ip_opts, d->ip_opts_len);
	sum = pkt_csum_add(0, p, hlen);
	put16(p + 10, (uint16_t)(~pkt_csum_fold(sum) ^ (d->flags & PKT_F_BAD_IP_CSUM ? 1 : 0)));
	l4_csum(d, a, proto, p + hlen, (uint32_t)l4);
	return (int)hlen + l4;
}

static int build_v6ext(const struct pkt_v6ext *e, uint8_t next, uint8_t *p, size_t room)
{
	uint32_t len = e->type == IPPROTO_FRAGMENT ? 8 : (e->len ? e->len : 8);
	uint32_t pad;

	if (len % 8 || len > 2048)
		return -EINVAL;
	if (len > room)
		return -ENOSPC;
	memset(p, 0, len);
	p[0] = next;
	switch (e->type) {
	case IPPROTO_FRAGMENT:
		put16(p + 2, e->frag);
		put32(p + 4, e->frag_id);
		break;
	case IPPROTO_HOPOPTS:
	case IPPROTO_DSTOPTS:
		p[1] = (uint8_t)(len / 8 - 1);
		/* RFC 8200 §4.2: Pad1 is a lone 0, PadN is (1, n, zeros) */
		pad = len - 2;
		if (pad >= 2) {
			p[2] = 1;
			p[3] = (uint8_t)(pad - 2);
		}
		break;
	default:
		/* ROUTING: type 0, segments left 0, which receivers skip */
		p[1] = (uint8_t)(len / 8 - 1);
		break;
	}
	return (int)len;
}

static int build_v6(const struct pkt_desc *d, const struct addrs *a, uint8_t *p, size_t room)
{
	uint8_t proto = d->proto ? d->proto : IPPROTO_TCP;
	uint32_t off = 40, i;
	int n;

	if (d->n_ext > PKT_EXT_MAX)
		return -EINVAL;
	if (off > room)
		return -ENOSPC;
	for (i = 0; i < d->n_ext; i++) {
		uint8_t next = i + 1 < d->n_ext ? d->ext[i + 1].type : proto;

		n = build_v6ext(&d->ext[i], next, p + off, room - off);
		if (n < 0)
			return n;
		off += (uint32_t)n;
	}
	n = build_l4(d, proto, p + off, room - off);
	if (n < 0)
		return n;
	put32(p, 6u << 28 | (uint32_t)d->tos << 20 | (d->flow_label & 0xfffff));
	put16(p + 4, forced(d->payload_len) ? forced_val(d->payload_len)
					    : (uint16_t)(off - 40 + (uint32_t)n));
	p[6] = d->n_ext ? d->ext[0].type : proto;
	p[7] = d->ttl ? d->ttl : 64;
	memcpy(p + 8, a->src, 16);
	memcpy(p + 24, a->dst, 16);
	l4_csum(d, a, proto, p + off, (uint32_t)n);
	return (int)off + n;
}

static int build_arp(const struct pkt_desc *d, const struct addrs *a, const uint8_t *smac,
		     uint8_t *p, size_t room)
{
	if (a->family != AF_INET)
		return -EINVAL;
	if (room < ARP_LEN)
		return -ENOSPC;
	memset(p, 0, ARP_LEN);
	put16(p, 1);		/* Ethernet */
	put16(p + 2, ETH_P_IP);
	p[4] = 6;
	p[5] = 4;
	put16(p + 6, 1);	/* request */
	memcpy(p + 8, smac, 6);
	memcpy(p + 14, a->src, 4);
	memcpy(p + 24, a->dst, 4);
	return ARP_LEN;
}

int pkt_build(const struct pkt_desc *d, void *buf, size_t cap)
{
	static const uint8_t zero[6];
	uint8_t *p = buf;
	uint16_t type = d->eth_type;
	struct addrs a;
	size_t off;
	int i, n;

	if (d->n_vlan > PKT_VLAN_MAX)
		return -EINVAL;
	if (resolve_addrs(d, &a))
		return -EINVAL;
	off = 12 + 4u * d->n_vlan + 2;
	if (cap < off)
		return -ENOSPC;
	memcpy(p, memcmp(d->eth_dst, zero, 6) ? d->eth_dst : def_dst_mac, 6);
	memcpy(p + 6, memcmp(d->eth_src, zero, 6) ? d->eth_src : def_src_mac, 6);
	for (i = 0; i < d->n_vlan; i++) {
		put16(p + 12 + 4 * i, d->vlan[i].tpid);
		put16(p + 14 + 4 * i, d->vlan[i].tci);
	}
	if (!type)
		type = a.family == AF_INET ? ETH_P_IP : ETH_P_IPV6;
	put16(p + off - 2, type);

	if (type == ETH_P_IP || type == ETH_P_IPV6) {
		/* the family follows the addresses, so a frame whose EtherType
		 * and IP version disagree can be built on purpose */
		n = a.family == AF_INET ? build_v4(d, &a, p + off, cap - off)
					: build_v6(d, &a, p + off, cap - off);
	} else if (type == ETH_P_ARP) {
		n = build_arp(d, &a, p + 6, p + off, cap - off);
	} else {
		if (d->data_len > cap - off)
			return -ENOSPC;
		for (i = 0; i < d->data_len; i++)
			p[off + i] = d->data ? ((const uint8_t *)d->data)[i] : (uint8_t)i;
		n = d->data_len;
	}
	if (n < 0)
		return n;
	off += (size_t)n;
	if (d->truncate && d->truncate < off)
		off = d->truncate;
	return (int)off;
}

int pkt_parse(const void *frame, size_t len, struct pkt_info *pi)
{
	const uint8_t *p = frame;
	uint32_t off = 12, l3, end, i;
	uint16_t type;

	memset(pi, 0, sizeof(*pi));
	if (len < ETH_HLEN_)
		return -EINVAL;
	type = get16(p + off);
	while ((type == ETH_P_8021Q || type == ETH_P_8021AD) && off + 6 <= len) {
		off += 4;
		type = get16(p + off);
	}
	off += 2;
	pi->eth_type = type;
	l3 = off;
	pi->l3_off = l3;

	if (type == ETH_P_IP) {
		uint32_t ihl, tot;

		if (len < l3 + 20 || p[l3] >> 4 != 4)
			return -EINVAL;
		ihl = (p[l3] & 0xf) * 4u;
		tot = get16(p + l3 + 2);
		if (ihl < 20 || len < l3 + ihl)
			return -EINVAL;
		pi->family = AF_INET;
		pi->proto = p[l3 + 9];
		pi->frag = get16(p + l3 + 6) & 0x3fff;
		pi->l4_off = l3 + ihl;
		end = l3 + tot < len ? l3 + tot : (uint32_t)len;
		pi->l4_len = end > pi->l4_off ? end - pi->l4_off : 0;
		return 0;
	}
	if (type != ETH_P_IPV6 || len < l3 + 40 || p[l3] >> 4 != 6)
		return -EINVAL;
	pi->family = AF_INET6;
	pi->proto = p[l3 + 6];
	end = l3 + 40 + get16(p + l3 + 4);
	if (end > len)
		end = (uint32_t)len;
	off = l3 + 40;
	for (i = 0; i < PKT_EXT_MAX && off + 8 <= end; i++) {
		uint8_t nh = pi->proto;

		if (nh == IPPROTO_FRAGMENT) {
			pi->frag = true;
			pi->proto = p[off];
			off += 8;
		} else if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
			   nh == IPPROTO_DSTOPTS) {
			pi->proto = p[off];
			off += (p[off + 1] + 1u) * 8;
		} else if (nh == IPPROTO_AH) {
			pi->proto = p[off];
			off += (p[off + 1] + 2u) * 4;
		} else {
			break;
		}
	}
	pi->l4_off = off;
	pi->l4_len = end > off ? end - off : 0;
	return 0;
}

bool pkt_ip4_csum_ok(const void *frame, size_t len)
{
	const uint8_t *p = frame;
	struct pkt_info pi;

	if (pkt_parse(frame, len, &pi) || pi.family != AF_INET)
		return false;
	return pkt_csum_fold(pkt_csum_add(0, p + pi.l3_off, pi.l4_off - pi.l3_off)) == 0xffff;
}

bool pkt_l4_csum_ok(const void *frame, size_t len)
{
	const uint8_t *p = frame;
	const uint8_t *ip;
	struct pkt_info pi;
	uint32_t sum;
	int off;

	if (pkt_parse(frame, len, &pi) || pi.frag)
		return false;
	ip = p + pi.l3_off;
	switch (pi.proto) {
	case IPPROTO_TCP:
		off = 16;
		break;
	case IPPROTO_UDP:
		off = 6;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		off = 2;
		break;
	default:
		return false;
	}
	if (pi.l4_len < (uint32_t)off + 2)
		return false;
	if (pi.proto == IPPROTO_UDP && pi.family == AF_INET && !get16(p + pi.l4_off + off))
		return true;	/* RFC 768: no checksum */
	if (pi.proto == IPPROTO_ICMP)
		sum = 0;	/* ICMPv4 has no pseudo-header */
	else if (pi.family == AF_INET)
		sum = pseudo_sum(AF_INET, ip + 12, ip + 16, pi.proto, pi.l4_len);
	else
		sum = pseudo_sum(AF_INET6, ip + 8, ip + 24, pi.proto, pi.l4_len);
	return pkt_csum_fold(pkt_csum_add(sum, p + pi.l4_off, pi.l4_len)) == 0xffff;
}

int pkt_tcp_opt_find(const void *frame, size_t len, uint8_t kind, int subtype)
{
	const uint8_t *p = frame;
	struct pkt_info pi;
	uint32_t off, end;

	if (pkt_parse(frame, len, &pi) || pi.proto != IPPROTO_TCP || pi.l4_len < 20)
		return -EINVAL;
	end = pi.l4_off + (p[pi.l4_off + 12] >> 4) * 4u;
	if (end > pi.l4_off + pi.l4_len)
		end = pi.l4_off + pi.l4_len;
	off = pi.l4_off + 20;
	while (off < end) {
		uint8_t k = p[off];

		if (k == 0)
			break;
		if (k == 1) {
			off++;
			continue;
		}
		if (off + 2 > end || p[off + 1] < 2)
			break;
		if (k == kind && (kind != 30 || subtype < 0 ||
				  (off + 3 <= end && p[off + 2] >> 4 == subtype)))
			return (int)off;
		off += p[off + 1];
	}
	return -ENOENT;
}

int pkt_run(struct pkt_run *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = r->in,
		.data_size_in = r->in_len,
		.data_out = r->out,
		.data_size_out = r->out ? r->out_cap : 0,
		.ctx_in = r->ctx,
		.ctx_size_in = r->ctx ? r->ctx_size : 0,
		.ctx_out = r->ctx,
		.ctx_size_out = r->ctx ? r->ctx_size : 0,
		.repeat = r->repeat,
	);
	int err;

	err = bpf_prog_test_run_opts(r->prog_fd, &o);
	r->out_len = o.data_size_out;
	r->retval = o.retval;
	r->duration = o.duration;
	return err ? -errno : 0;
}

const char *pkt_str(const void *frame, size_t len, char *buf, size_t cap)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], fl[8] = "";
	const uint8_t *p = frame;
	struct pkt_info pi;
	const uint8_t *ip;
	int i = 0;

	if (pkt_parse(frame, len, &pi)) {
		snprintf(buf, cap, "non-IP frame, type 0x%04x, %zu bytes",
			 len >= 14 ? get16(p + 12) : 0, len);
		return buf;
	}
	ip = p + pi.l3_off;
	inet_ntop(pi.family, pi.family == AF_INET ? ip + 12 : ip + 8, s, sizeof(s));
	inet_ntop(pi.family, pi.family == AF_INET ? ip + 16 : ip + 24, d, sizeof(d));
	if (pi.proto == IPPROTO_TCP && pi.l4_len >= 20) {
		const uint8_t *th = p + pi.l4_off;
		static const char names[] = "FSRPAU";

		for (int b = 0; b < 6; b++)
			if (th[13] & (1 << b))
				fl[i++] = names[b];
		fl[i] = 0;
		snprintf(buf, cap, "%s TCP %s.%u > %s.%u [%s] doff %u, %u bytes%s",
			 pi.family == AF_INET ? "v4" : "v6", s, get16(th), d, get16(th + 2), fl,
			 th[12] >> 4, pi.l4_len, pi.frag ? " frag" : "");
	} else {
		snprintf(buf, cap, "%s proto %u %s > %s, %u bytes%s",
			 pi.family == AF_INET ? "v4" : "v6", pi.proto, s, d, pi.l4_len,
			 pi.frag ? " frag" : "");
	}
	return buf;
}
