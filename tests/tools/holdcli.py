#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A plain TCP client that can be held open mid-transfer, for tests that
inspect a proxy while a connection lives.

    holdcli.py HOST PORT SENDFILE RECVFILE GATE [--mptcp] [--then FILE2]

Connects, sends SENDFILE while receiving into RECVFILE, then waits until
the file GATE exists before half-closing, and reads to EOF. With --then,
FILE2 is sent once GATE exists, and the half-close follows it (a
connection that carries data again after the test changed something).
Bounded by 90 s. Exit 0 when both directions completed, 1 otherwise.
"""
import os
import select
import socket
import sys
import time


def main():
    host, port, sendf, recvf, gate = sys.argv[1:6]
    proto = 262 if "--mptcp" in sys.argv else 0
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM, proto)
    s.settimeout(30)
    s.connect((host, int(port)))
    s.setblocking(False)
    data = open(sendf, "rb").read()
    then = None
    if "--then" in sys.argv:
        then = open(sys.argv[sys.argv.index("--then") + 1], "rb").read()
    out = open(recvf, "wb", buffering=0)    # tests watch its size grow
    off, shut, eof, deadline = 0, False, False, time.time() + 90
    while time.time() < deadline:
        if shut and eof:
            out.close()
            return 0
        if then is not None and off >= len(data) and os.path.exists(gate):
            data, then = data + then, None
        want_w = off < len(data) or (not shut and os.path.exists(gate))
        r, w, _ = select.select([] if eof else [s], [s] if want_w else [], [], 0.05)
        if w:
            if off < len(data):
                try:
                    off += s.send(data[off:off + 65536])
                except BlockingIOError:
                    pass
            elif not shut:
                s.shutdown(socket.SHUT_WR)
                shut = True
        if r:
            try:
                b = s.recv(65536)
            except BlockingIOError:
                continue
            if not b:
                eof = True      # the server half-closed; we still owe our FIN
                continue
            out.write(b)
    return 1


if __name__ == "__main__":
    sys.exit(main())
