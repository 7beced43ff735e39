// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool mpc_addr16_is_v4(const uint8_t addr[16])
{
	return !memcmp(addr, v4mapped_prefix, 12);
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int mpc_parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *len,
		       bool require_port)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *ps = NULL;
	uint16_t port = 0;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		const char *e = strchr(s, ']');

		if (!e)
			return -EINVAL;
		hl = e - s - 1;
		if (e[1] == ':')
			ps = e + 2;
		else if (e[1] != '\0')
			return -EINVAL;
		s++;
	} else {
		const char *c = strrchr(s, ':');

		/* a bare IPv6 address has several colons and no port */
		if (c && strchr(s, ':') == c) {
			hl = c - s;
			ps = c + 1;
		} else {
			hl = strlen(s);
		}
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (ps && parse_port(ps, &port))
		return -EINVAL;
	if (!ps && require_port)
		return -EINVAL;

	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

int mpc_parse_prefix(const char *s, uint8_t addr[16], uint32_t *plen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	long len = -1;
	uint32_t bits, i;

	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (slash) {
		char *end;

		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (errno || slash[1] == '\0' || *end != '\0' || len < 0)
			return -EINVAL;
	}
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, host, addr + 12) == 1) {
		if (len > 32)
			return -EINVAL;
		memcpy(addr, v4mapped_prefix, 12);
		bits = 96 + (len < 0 ? 32 : len);
	} else if (inet_pton(AF_INET6, host, addr) == 1) {
		if (len > 128)
			return -EINVAL;
		bits = len < 0 ? 128 : len;
	} else {
		return -EINVAL;
	}
	/* host bits must be clear: 10.0.0.1/8 is almost always a typo */
	for (i = bits; i < 128; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return -EINVAL;
	*plen = bits;
	return 0;
}

bool mpc_prefix_match(const uint8_t addr[16], const uint8_t prefix[16], uint32_t plen)
{
	uint32_t full = plen / 8, rem = plen % 8;

	if (plen > 128)
		return false;
	if (memcmp(addr, prefix, full))
		return false;
	if (rem) {
		uint8_t mask = (uint8_t)(0xff << (8 - rem));

		if ((addr[full] & mask) != (prefix[full] & mask))
			return false;
	}
	return true;
}

void mpc_sa_to16(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		memcpy(addr, v4mapped_prefix, 12);
		memcpy(addr + 12, &s4->sin_addr, 4);
		if (port)
			*port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		memcpy(addr, &s6->sin6_addr, 16);
		if (port)
			*port = ntohs(s6->sin6_port);
	}
}

socklen_t mpc_16_to_sa(const uint8_t addr[16], uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (mpc_addr16_is_v4(addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr + 12, 4);
		return sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr, 16);
		return sizeof(*s6);
	}
}

const char *mpc_addr16_str(const uint8_t addr[16], char *buf)
{
	if (mpc_addr16_is_v4(addr))
		inet_ntop(AF_INET, addr + 12, buf, MPC_ADDRSTRLEN);
	else
		inet_ntop(AF_INET6, addr, buf, MPC_ADDRSTRLEN);
	return buf;
}

const char *mpc_sa_str(const struct sockaddr_storage *ss, char *buf)
{
	char host[INET6_ADDRSTRLEN];
	uint8_t a[16];
	uint16_t port;

	mpc_sa_to16(ss, a, &port);
	mpc_addr16_str(a, host);
	if (mpc_addr16_is_v4(a))
		snprintf(buf, MPC_ADDRSTRLEN, "%s:%u", host, port);
	else
		snprintf(buf, MPC_ADDRSTRLEN, "[%s]:%u", host, port);
	return buf;
}
