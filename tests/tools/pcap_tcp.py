#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Print the TCP segments of a pcap file, one per line, for netns tests.

    pcap_tcp.py FILE [--syn-only] [--ts]

Each line: key=value fields
    [ts=SECONDS.MICROSECONDS (with --ts: the capture timestamp)]
    src=ADDR:PORT dst=ADDR:PORT flags=SA seq=N ack=N len=PAYLOAD_BYTES
    opts=HEX payload=HEX(first 64 bytes) tcpsum=ok|bad ipsum=ok|bad|-
with checksums verified here (the capture happens after the sender, so a
CHECKSUM_PARTIAL packet captured on the *sending* side shows an unfinished
checksum; capture on the receiving side).
Only Ethernet (1) and Linux cooked (113, 276) link types are needed.
"""
import ipaddress
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        linktype = struct.unpack(end + "I", hdr[20:24])[0]
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            sec, frac, incl, _ = struct.unpack(end + "IIII", rh)
            # 0xA1B23C4D: nanosecond timestamps
            usec = frac // 1000 if magic in (0xA1B23C4D, 0x4D3CB2A1) else frac
            yield linktype, f.read(incl), "%d.%06d" % (sec, usec)


def l3(linktype, frame):
    if linktype == 1:
        off, proto = 14, struct.unpack("!H", frame[12:14])[0]
        while proto in (0x8100, 0x88A8):
            proto = struct.unpack("!H", frame[off + 2:off + 4])[0]
            off += 4
        return proto, frame[off:]
    if linktype == 113:
        return struct.unpack("!H", frame[14:16])[0], frame[16:]
    if linktype == 276:
        return struct.unpack("!H", frame[0:2])[0], frame[20:]
    return None, b""


def main():
    path = sys.argv[1]
    syn_only = "--syn-only" in sys.argv
    with_ts = "--ts" in sys.argv
    for lt, fr, ts in packets(path):
        proto, ip = l3(lt, fr)
        if proto == 0x0800 and len(ip) >= 20 and ip[9] == 6:
            ihl = (ip[0] & 15) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            src, dst = ipaddress.ip_address(ip[12:16]), ipaddress.ip_address(ip[16:20])
            ipsum = "ok" if csum(ip[:ihl]) == 0xFFFF else "bad"
            seg = ip[ihl:tot]
            pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(seg))
            fmt = "%s:%d"
        elif proto == 0x86DD and len(ip) >= 40 and ip[6] == 6:
            plen = struct.unpack("!H", ip[4:6])[0]
            src, dst = ipaddress.ip_address(ip[8:24]), ipaddress.ip_address(ip[24:40])
            ipsum = "-"
            seg = ip[40:40 + plen]
            pseudo = ip[8:40] + struct.pack("!IxxxB", len(seg), 6)
            fmt = "[%s]:%d"
        else:
            continue
        if len(seg) < 20:
            continue
        sport, dport, seq, ack, offfl = struct.unpack("!HHIIH", seg[:14])
        doff = (offfl >> 12) * 4
        fl = offfl & 0x3F
        if syn_only and not fl & 0x02:
            continue
        names = "".join(c for b, c in ((0x02, "S"), (0x10, "A"), (0x01, "F"), (0x04, "R"),
                                       (0x08, "P")) if fl & b)
        tcpsum = "ok" if csum(pseudo + seg) == 0xFFFF else "bad"
        print(("ts=%s " % ts if with_ts else "") + "src=%s dst=%s flags=%s seq=%d ack=%d len=%d opts=%s payload=%s tcpsum=%s ipsum=%s"
              % (fmt % (src, sport), fmt % (dst, dport), names, seq, ack, len(seg) - doff,
                 seg[20:doff].hex() or "-", seg[doff:doff + 64].hex() or "-", tcpsum, ipsum))


if __name__ == "__main__":
    main()
