/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Address parsing and formatting shared by the CLI, daemon and tools. */
#ifndef MPC_ADDR_H
#define MPC_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Enough for "[ffff:...:ffff]:65535" plus NUL. */
#define MPC_ADDRSTRLEN (INET6_ADDRSTRLEN + 8)

/* Parse "ADDR:PORT", "[V6]:PORT" (or "V6" alone with require_port false)
 * into a sockaddr_storage (AF_INET or AF_INET6). Returns 0 or -EINVAL. */
int mpc_parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *len,
		       bool require_port);
/* Parse "ADDR/LEN" or "ADDR" (full length) into a 16-byte v4-mapped
 * address and a prefix length over 128 bits. Host bits must be zero. */
int mpc_parse_prefix(const char *s, uint8_t addr[16], uint32_t *plen);
/* True if addr (16 bytes, v4-mapped for IPv4) is inside prefix/plen. */
bool mpc_prefix_match(const uint8_t addr[16], const uint8_t prefix[16], uint32_t plen);

/* sockaddr -> 16-byte v4-mapped address and host-order port */
void mpc_sa_to16(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port);
/* 16-byte v4-mapped address + port -> sockaddr (AF_INET for v4-mapped) */
socklen_t mpc_16_to_sa(const uint8_t addr[16], uint16_t port, struct sockaddr_storage *ss);
bool mpc_addr16_is_v4(const uint8_t addr[16]);

/* Format into buf (MPC_ADDRSTRLEN): "a.b.c.d:p" or "[v6]:p". */
const char *mpc_sa_str(const struct sockaddr_storage *ss, char *buf);
/* Format a 16-byte address (v4-mapped printed as IPv4), no port. */
const char *mpc_addr16_str(const uint8_t addr[16], char *buf);

#endif /* MPC_ADDR_H */
