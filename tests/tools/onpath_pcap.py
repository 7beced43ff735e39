#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""List the TCP SYNs of a pcap (Ethernet link type) with what the on-path
tests check: MPTCP options, MP_PREFER_PROXY, and both checksums.

One line per SYN (SYN-ACKs too, marked synack):

  v4 198.51.100.2.40000 > 198.51.100.1.5201 syn mpc=1 join=0 prefer=f \
      doff=12 ip=ok tcp=full

prefer is the MP_PREFER_PROXY subtype found (any 4-byte kind-30 option
whose subtype is not MP_CAPABLE/MP_JOIN/DSS/...), or '-'. ip is the IPv4
header checksum (ok/bad, na for IPv6). tcp is the TCP checksum:
  full     the checksum verifies over the segment and the pseudo-header
  partial  the field holds the folded pseudo-header sum, as a
           CHECKSUM_PARTIAL skb leaves it for the device (veth passes such
           skbs on unfinished, and tcpdump sees them that way)
  bad      neither
Usage: onpath_pcap.py FILE [PREFER_SUBTYPE (hex, default f)]
"""
import socket
import struct
import sys


def csum_sum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def main():
    path = sys.argv[1]
    want_sub = int(sys.argv[2], 16) if len(sys.argv) > 2 else 0xF
    with open(path, "rb") as f:
        buf = f.read()
    magic = struct.unpack("<I", buf[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        sys.exit("not a pcap file")
    linktype = struct.unpack(end + "I", buf[20:24])[0]
    if linktype != 1:
        sys.exit("link type %d, want Ethernet" % linktype)
    off = 24
    while off + 16 <= len(buf):
        _, _, incl, _ = struct.unpack(end + "IIII", buf[off:off + 16])
        frame = buf[off + 16:off + 16 + incl]
        off += 16 + incl
        show(frame, want_sub)


def show(frame, want_sub):
    if len(frame) < 14:
        return
    etype = struct.unpack("!H", frame[12:14])[0]
    p = frame[14:]
    if etype == 0x0800:
        ihl = (p[0] & 0xF) * 4
        tot = struct.unpack("!H", p[2:4])[0]
        if p[9] != 6:
            return
        ipok = "ok" if csum_sum(p[:ihl]) == 0xFFFF else "bad"
        src, dst = p[12:16], p[16:20]
        seg = p[ihl:tot]
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
        fam, a_s, a_d = "v4", ".".join(map(str, src)), ".".join(map(str, dst))
    elif etype == 0x86DD:
        plen = struct.unpack("!H", p[4:6])[0]
        if p[6] != 6:  # no extension headers in these tests
            return
        src, dst = p[8:24], p[24:40]
        seg = p[40:40 + plen]
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), 6)
        ipok = "na"
        fam = "v6"
        a_s = socket.inet_ntop(socket.AF_INET6, src)
        a_d = socket.inet_ntop(socket.AF_INET6, dst)
    else:
        return
    if len(seg) < 20:
        return
    sport, dport = struct.unpack("!HH", seg[:4])
    doff = seg[12] >> 4
    flags = seg[13]
    if not flags & 0x02:
        return
    kind = "synack" if flags & 0x10 else "syn"
    check = struct.unpack("!H", seg[16:18])[0]
    if csum_sum(pseudo + seg) == 0xFFFF:
        tcp = "full"
    elif check == csum_sum(pseudo):
        tcp = "partial"
    else:
        tcp = "bad"
    mpc = join = 0
    prefer = "-"
    opts = seg[20:doff * 4]
    i = 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        ln = opts[i + 1]
        if k == 30 and ln >= 3:
            sub = opts[i + 2] >> 4
            if sub == 0:
                mpc = 1
            elif sub == 1:
                join = 1
            elif ln == 4 and sub == want_sub:
                prefer = "%x" % sub
        i += ln
    print("%s %s.%d > %s.%d %s mpc=%d join=%d prefer=%s doff=%d ip=%s tcp=%s"
          % (fam, a_s, sport, a_d, dport, kind, mpc, join, prefer, doff, ipok, tcp))


if __name__ == "__main__":
    main()
