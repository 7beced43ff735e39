#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Small TCP/MPTCP helpers for the topology and fallback-cache netns tests.

  tcpx.py hold --connect ADDR:PORT [--mptcp] --send FILE --recv FILE
               --hold PATH [--ready PATH] [--timeout SEC]
      Connect, send FILE while receiving into --recv, and keep the write side
      open until PATH exists (so the test can inspect the proxies' bindings
      while the connection is live); then half-close and read until EOF.
      --ready: created once FILE is sent and the peer has half-closed (the
      --recv file is then complete and flushed).
      Prints "hold: mptcp=0|1 sent=N received=N". Exit 0 when everything was
      sent and the peer closed; 2 on error or timeout.

  tcpx.py connect-time --connect ADDR:PORT [--mptcp] [--runs N]
      Time connect() (SYN to SYN-ACK as the caller sees it) N times.
  tcpx.py convert-time --conc ADDR:PORT --target ADDR:PORT [--runs N]
      Time an RFC 8803 Convert exchange as a client sees it: from the MPTCP
      SYN carrying the Convert message (cookie-less TFO) to the complete
      Convert reply (which the converter sends once its server leg is up).
      Both print "times_us=T1,T2,... median_us=M" and exit 2 when a run fails
      (for convert-time: an Error TLV or no reply).

  tcpx.py synrtt PCAP
      For every TCP connection in the capture, one line:
      "flow=SRC>DST syns=N mpc_syns=N plain_syns=N synack_us=T" where T is
      the time from the connection's first SYN to its first SYN-ACK (-1: no
      SYN-ACK). Retransmitted SYNs share the first SYN's 4-tuple, so T
      includes any retransmission delay.

ADDR is a.b.c.d or [v6]. Only documentation addresses are used by the tests.
"""
import ipaddress
import os
import select
import socket
import statistics
import struct
import sys
import time

IPPROTO_MPTCP = 262
SOL_MPTCP = 284
MPTCP_INFO = 1
TCP_FASTOPEN_NO_COOKIE = 34
MSG_FASTOPEN = 0x20000000


def parse_addr(s):
    if s.startswith("["):
        host, port = s[1:].split("]:")
        return socket.AF_INET6, (host, int(port))
    host, port = s.rsplit(":", 1)
    return socket.AF_INET, (host, int(port))


def opt(args, name, default=None):
    if name in args:
        i = args.index(name)
        return args[i + 1]
    return default


def is_mptcp(s):
    """1 when the socket runs MPTCP (MPTCP_INFO answers, fallback flag clear)."""
    try:
        info = s.getsockopt(SOL_MPTCP, MPTCP_INFO, 256)
    except OSError:
        return 0
    if len(info) < 12:
        return 0
    flags = struct.unpack_from("I", info, 8)[0]
    return 0 if flags & 1 else 1


def hold(args):
    fam, dst = parse_addr(opt(args, "--connect"))
    proto = IPPROTO_MPTCP if "--mptcp" in args else socket.IPPROTO_TCP
    data = open(opt(args, "--send"), "rb").read()
    out = open(opt(args, "--recv"), "wb")
    hold_path = opt(args, "--hold")
    ready_path = opt(args, "--ready")
    ready = False
    deadline = time.monotonic() + float(opt(args, "--timeout", "30"))
    s = socket.socket(fam, socket.SOCK_STREAM, proto)
    s.settimeout(10)
    s.connect(dst)
    s.setblocking(False)
    mptcp = is_mptcp(s)
    sent = received = 0
    shut = eof = False
    # the peer may close first (a server that half-closes after sending):
    # the write side still stays open until the hold file appears
    while not (eof and shut) and time.monotonic() < deadline:
        if ready_path and not ready and eof and sent == len(data):
            out.flush()
            open(ready_path, "w").close()
            ready = True
        if not shut and sent == len(data) and os.path.exists(hold_path):
            s.shutdown(socket.SHUT_WR)
            shut = True
        want_w = [s] if sent < len(data) else []
        r, w, _ = select.select([] if eof else [s], want_w, [], 0.05)
        if w:
            try:
                sent += s.send(data[sent:sent + 65536])
            except BlockingIOError:
                pass
        if r:
            try:
                b = s.recv(65536)
            except BlockingIOError:
                continue
            if not b:
                eof = True
            out.write(b)
            received += len(b)
    out.close()
    s.close()
    print("hold: mptcp=%d sent=%d received=%d" % (mptcp, sent, received))
    return 0 if eof and shut and sent == len(data) else 2


def report(times):
    print("times_us=%s median_us=%d" % (",".join("%d" % t for t in times),
                                         statistics.median(times)))


def connect_time(args):
    fam, dst = parse_addr(opt(args, "--connect"))
    proto = IPPROTO_MPTCP if "--mptcp" in args else socket.IPPROTO_TCP
    times = []
    for _ in range(int(opt(args, "--runs", "5"))):
        s = socket.socket(fam, socket.SOCK_STREAM, proto)
        s.settimeout(20)
        t0 = time.perf_counter_ns()
        s.connect(dst)
        times.append((time.perf_counter_ns() - t0) / 1000)
        s.close()
    report(times)
    return 0


def convert_msg(target):
    """Convert header + Connect TLV (protocol.md §1.3, §1.5)."""
    fam, (host, port) = parse_addr(target)
    a = ipaddress.ip_address(host)
    a16 = a.packed if a.version == 6 else b"\0" * 10 + b"\xff\xff" + a.packed
    tlv = struct.pack("!BBH", 10, 5, port) + a16
    return struct.pack("!BBH", 1, 1 + len(tlv) // 4, 0x2263) + tlv


def convert_time(args):
    fam, conc = parse_addr(opt(args, "--conc"))
    msg = convert_msg(opt(args, "--target"))
    times = []
    for _ in range(int(opt(args, "--runs", "5"))):
        s = socket.socket(fam, socket.SOCK_STREAM, IPPROTO_MPTCP)
        s.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, 1)
        s.settimeout(20)
        t0 = time.perf_counter_ns()
        s.sendto(msg, MSG_FASTOPEN, conc)
        rep = b""
        while len(rep) < 4 or len(rep) < rep[1] * 4:
            b = s.recv(1024)
            if not b:
                print("convert-time: no reply (%d bytes)" % len(rep))
                return 2
            rep += b
        times.append((time.perf_counter_ns() - t0) / 1000)
        # TLVs after the 4-byte header; type 1 = Error (§1.5)
        off = 4
        while off + 2 <= rep[1] * 4:
            if rep[off] == 1:
                print("convert-time: Error TLV code %d" % rep[off + 2])
                return 2
            if rep[off + 1] == 0:
                break
            off += rep[off + 1] * 4
        s.close()
    report(times)
    return 0


def pcap_packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        linktype = struct.unpack(end + "I", hdr[20:24])[0]
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            sec, frac, incl, _ = struct.unpack(end + "IIII", rh)
            t = sec * 1000000 + (frac / 1000 if nano else frac)
            yield t, linktype, f.read(incl)


def tcp_of(linktype, fr):
    if linktype == 1:
        proto, ip = struct.unpack("!H", fr[12:14])[0], fr[14:]
    elif linktype == 113:
        proto, ip = struct.unpack("!H", fr[14:16])[0], fr[16:]
    elif linktype == 276:
        proto, ip = struct.unpack("!H", fr[0:2])[0], fr[20:]
    else:
        return None
    if proto == 0x0800 and len(ip) >= 20 and ip[9] == 6:
        ihl = (ip[0] & 15) * 4
        src, dst, seg = ip[12:16], ip[16:20], ip[ihl:]
    elif proto == 0x86DD and len(ip) >= 40 and ip[6] == 6:
        src, dst, seg = ip[8:24], ip[24:40], ip[40:]
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport = struct.unpack("!HH", seg[:4])
    doff = (seg[12] >> 4) * 4
    flags = seg[13]
    opts, i, mpc = seg[20:doff], 0, False
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        if k == 30 and i + 2 < len(opts) and opts[i + 2] >> 4 == 0:
            mpc = True
        i += opts[i + 1]
    fmt = lambda a, p: ("%s:%d" if len(a) == 4 else "[%s]:%d") % (ipaddress.ip_address(a), p)
    return fmt(src, sport), fmt(dst, dport), flags, mpc


def synrtt(args):
    flows = {}
    order = []
    for t, lt, fr in pcap_packets(args[0]):
        p = tcp_of(lt, fr)
        if not p:
            continue
        src, dst, flags, mpc = p
        if flags & 0x12 == 0x02:
            key = (src, dst)
            if key not in flows:
                flows[key] = {"t": t, "syns": 0, "mpc": 0, "synack": None}
                order.append(key)
            flows[key]["syns"] += 1
            flows[key]["mpc"] += 1 if mpc else 0
        elif flags & 0x12 == 0x12:
            f = flows.get((dst, src))
            if f and f["synack"] is None:
                f["synack"] = t
    for key in order:
        f = flows[key]
        rtt = -1 if f["synack"] is None else int(f["synack"] - f["t"])
        print("flow=%s>%s syns=%d mpc_syns=%d plain_syns=%d synack_us=%d"
              % (key[0], key[1], f["syns"], f["mpc"], f["syns"] - f["mpc"], rtt))
    return 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 1
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"hold": hold, "connect-time": connect_time, "convert-time": convert_time,
          "synrtt": synrtt}.get(cmd)
    if not fn:
        print(__doc__, file=sys.stderr)
        return 1
    try:
        return fn(args)
    except OSError as e:
        print("%s: %s" % (cmd, e))
        return 2


if __name__ == "__main__":
    sys.exit(main())
