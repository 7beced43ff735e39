#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""WAN round trips before a server reads a client's first byte.

    pcap_rtt.py --server-port P --server SRV.pcap --lan LAN.pcap WAN.pcap...

All captures are taken on one host (one clock). LAN.pcap is the CPE's LAN
link: it gives the client's SYN and the time T_avail its first data byte
reached the CPE. SRV.pcap gives T, the first segment with payload toward
port P on the server link. On the WAN links, the connection's first
subflow is the first SYN (without ACK) after the client's SYN; "up" is its
direction. U is the first up packet of that subflow, not a SYN, that
carries payload and was sent at or after T_avail: the client's byte
crossing the WAN (forwarded, or relayed by the CPE).

round_trips is the number of runs of consecutive down packets of that
subflow between its SYN and U: every one is an answer the WAN sender
received before it sent the client's byte (direct TCP: the SYN-ACK, 1).
A CPE that held the byte until a later message (say, the Convert reply)
shows 2. client_late flags a run where the byte reached the CPE only after
the WAN SYN-ACK, so a wait could not be seen (bench/run runs the client
and the daemons with real-time priority to avoid that).

Prints one JSON object; exit status 1 when the captures do not hold what
is needed (yet).
"""
import json
import struct
import sys


def read_pcap(path):
    """Yield (ns, frame) from a pcap file (not pcapng)."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic_le = struct.unpack("<I", hdr[:4])[0]
        for end in ("<", ">"):
            magic = struct.unpack(end + "I", hdr[:4])[0]
            if magic in (0xA1B2C3D4, 0xA1B23C4D):
                break
        else:
            raise ValueError("%s: not a pcap file (magic %x)" % (path, magic_le))
        scale = 1 if magic == 0xA1B23C4D else 1000
        link = struct.unpack(end + "I", hdr[20:24])[0]
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            sec, frac, incl, _ = struct.unpack(end + "IIII", rh)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec * 1000000000 + frac * scale, link, data


def tcp_of(link, frame):
    """(src, sport, dst, dport, flags, payload_len) or None."""
    if link == 1:
        off = 14
        proto = struct.unpack("!H", frame[12:14])[0]
        while proto in (0x8100, 0x88A8) and len(frame) >= off + 4:
            proto = struct.unpack("!H", frame[off + 2:off + 4])[0]
            off += 4
    elif link == 113:
        off, proto = 16, struct.unpack("!H", frame[14:16])[0]
    elif link == 276:
        off, proto = 20, struct.unpack("!H", frame[0:2])[0]
    else:
        return None
    ip = frame[off:]
    if proto == 0x0800 and len(ip) >= 20 and ip[9] == 6:
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        src, dst, seg = ip[12:16], ip[16:20], ip[ihl:tot]
    elif proto == 0x86DD and len(ip) >= 40 and ip[6] == 6:
        plen = struct.unpack("!H", ip[4:6])[0]
        src, dst, seg = ip[8:24], ip[24:40], ip[40:40 + plen]
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport = struct.unpack("!HH", seg[:4])
    doff = (seg[12] >> 4) * 4
    return src, sport, dst, dport, seg[13], len(seg) - doff


def flags_str(fl):
    return "".join(c for b, c in ((0x02, "S"), (0x01, "F"), (0x04, "R"), (0x10, "A")) if fl & b)


def first_data(path, port):
    """(time of the first SYN toward port, time of the first payload toward
    port, the SYN's tuple)"""
    syn = data = tup = None
    for ns, link, fr in read_pcap(path):
        t = tcp_of(link, fr)
        if not t or t[3] != port:
            continue
        if t[4] & 0x12 == 0x02 and syn is None:
            syn, tup = ns, t[:4]
        if t[5] > 0 and data is None:
            data = ns
    return syn, data, tup


def main():
    args = sys.argv[1:]
    opt = {}
    wans = []
    i = 0
    while i < len(args):
        if args[i] in ("--server-port", "--server", "--lan"):
            opt[args[i]] = args[i + 1]
            i += 2
        else:
            wans.append(args[i])
            i += 1
    port = int(opt["--server-port"])
    _, t_first, _ = first_data(opt["--server"], port)
    t_syn, t_avail, lan_tuple = first_data(opt["--lan"], port)
    if t_first is None or t_avail is None or t_syn is None:
        print(json.dumps({"error": "no first byte at the server or on the LAN"}))
        return 1
    pkts = []
    for w in wans:
        for ns, link, fr in read_pcap(w):
            t = tcp_of(link, fr)
            if t and ns >= t_syn:
                pkts.append((ns, t))
    pkts.sort(key=lambda p: p[0])
    syn = next((p for p in pkts if p[1][4] & 0x12 == 0x02), None)
    if syn is None:
        print(json.dumps({"error": "no SYN on the WAN links"}))
        return 1
    up = syn[1][:4]
    down = (up[2], up[3], up[0], up[1])
    u = next((p for p in pkts if p[1][:4] == up and not p[1][4] & 0x02 and p[1][5] > 0
              and p[0] >= t_avail), None)
    if u is None:
        print(json.dumps({"error": "the client's byte did not cross the WAN"}))
        return 1
    synack = next((p for p in pkts if p[1][:4] == down and p[1][4] & 0x12 == 0x12), None)
    seq, runs, last = [], 0, None
    for ns, t in pkts:
        if ns < syn[0] or ns > u[0]:
            continue
        if t[:4] == up:
            d = "up"
        elif t[:4] == down:
            d = "down"
            if last != "down":
                runs += 1
        else:
            continue
        last = d
        seq.append("%s%s%s" % (">" if d == "up" else "<", flags_str(t[4]),
                               "+%d" % t[5] if t[5] else ""))
    print(json.dumps({
        "round_trips": runs, "wan_packets": len(seq),
        # meaningless for a forwarded flow: its client waits for the WAN
        # SYN-ACK by construction
        "client_late": None if up == lan_tuple else bool(synack and t_avail > synack[0]),
        "byte_at_cpe_us": (t_avail - t_syn) / 1000.0,
        "byte_on_wan_us": (u[0] - t_syn) / 1000.0,
        "byte_at_server_us": (t_first - t_syn) / 1000.0,
        "sequence": " ".join(seq)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
