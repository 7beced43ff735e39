#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Connection setup time: client SYN on the LAN -> first data byte at the server.

    first_byte.py LAN.pcap SERVER.pcap CLIENT_ADDR

LAN.pcap is captured next to the client (every connection of the client,
identified by its source port): the time of its SYN and the first 8 bytes
of its first data segment. SERVER.pcap is captured on the server's
interface: the time of the first data segment toward the server that starts
with those 8 bytes (each connection sends a different byte stream, so the
payload names the connection whether the server sees the client or the
concentrator as its peer). Both captures run on one kernel clock.

Prints one line per connection, in SYN order:
    dst=ADDR:PORT syn=TS first_byte=TS ms=DELTA
and "missing dst=... port=..." for a connection whose data never showed up.
"""
import os
import subprocess
import sys

PCAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                    "tests", "tools", "pcap_tcp.py")


def segments(path):
    out = subprocess.run([sys.executable, PCAP, path, "--ts"], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        yield dict(f.split("=", 1) for f in line.split())


def main():
    lan, srv, client = sys.argv[1], sys.argv[2], sys.argv[3]
    conns = {}  # client src "addr:port" -> {syn, dst, key}
    order = []
    for s in segments(lan):
        src = s["src"]
        if not src.startswith(client + ":") and not src.startswith("[" + client + "]:"):
            continue
        if s["flags"] == "S":
            if src not in conns:
                conns[src] = {"syn": float(s["ts"]), "dst": s["dst"], "key": None}
                order.append(src)
        elif int(s["len"]) > 0 and src in conns and conns[src]["key"] is None:
            conns[src]["key"] = s["payload"][:16]
    dsts = set(c["dst"] for c in conns.values())
    first = {}  # payload prefix -> time first seen at the server
    for s in segments(srv):
        # toward the server only (its echo carries the same bytes back)
        if s["dst"] in dsts and int(s["len"]) >= 8:
            k = s["payload"][:16]
            first.setdefault(k, float(s["ts"]))
    for src in order:
        c = conns[src]
        t = first.get(c["key"]) if c["key"] else None
        if t is None:
            print("missing dst=%s port=%s" % (c["dst"], src.rsplit(":", 1)[1]))
            continue
        print("dst=%s syn=%.6f first_byte=%.6f ms=%.3f"
              % (c["dst"], c["syn"], t, (t - c["syn"]) * 1000))


if __name__ == "__main__":
    main()
