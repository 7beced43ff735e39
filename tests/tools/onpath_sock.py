#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""MPTCP endpoints for the on-path netns tests (protocol.md §9 constants).

  onpath_sock.py server ADDR[,ADDR...] PORT[,PORT...] [--transparent]
      MPTCP listener(s) on every ADDR:PORT; echoes each connection's data back. Per accepted
      connection prints one JSON line: local (getsockname: the original
      destination for a transparent listener), peer, mptcp (MPTCP_INFO
      answered), token, fallback, subflows (at close).
  onpath_sock.py client ADDR PORT [--mark M] [--msg TEXT] [--subflows N]
                 [--timeout S] [--bind ADDR]
      MPTCP connection with SO_MARK M; sends TEXT, checks the echo, waits
      (bounded) until the connection has N subflows, prints one JSON line
      (echo_ok, token, fallback, subflows, local). Exit 0 iff echo_ok.
  Subflow counts include the first subflow.
"""
import json
import socket
import struct
import sys
import threading
import time

IPPROTO_MPTCP = 262
SOL_MPTCP = 284
MPTCP_INFO = 1
IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75
SO_MARK = 36


def mptcp_info(s):
    """(subflows, flags, token) or None when the socket is not MPTCP.
    subflows counts all subflows (mptcpi_subflows counts the extra ones)."""
    try:
        b = s.getsockopt(SOL_MPTCP, MPTCP_INFO, 64)
    except OSError:
        return None
    if len(b) < 16:
        return None
    subflows = b[0] + 1
    flags, token = struct.unpack("=II", b[8:16])
    return subflows, flags, token


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def addr_str(sa):
    return "%s:%d" % (sa[0], sa[1])


def serve_one(c, peer):
    info = mptcp_info(c)
    line = {"local": addr_str(c.getsockname()), "peer": addr_str(peer),
            "mptcp": info is not None,
            "token": info[2] if info else 0,
            "fallback": bool(info[1] & 1) if info else True}
    print(json.dumps(line), flush=True)
    c.settimeout(30)
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    info = mptcp_info(c)
    print(json.dumps({"closed": line["local"], "peer": line["peer"],
                      "subflows": info[0] if info else 0}), flush=True)
    c.close()


def server(addrs, ports, transparent):
    ls = [listener(a, int(p), transparent) for a in addrs.split(",") for p in ports.split(",")]
    for s in ls[1:]:
        threading.Thread(target=accept_loop, args=(s,), daemon=True).start()
    accept_loop(ls[0])


def listener(addr, port, transparent):
    fam = family(addr)
    s = socket.socket(fam, socket.SOCK_STREAM, IPPROTO_MPTCP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if transparent:
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
        else:
            s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    s.bind((addr, port))
    s.listen(64)
    print(json.dumps({"listening": "%s:%d" % (addr, port)}), flush=True)
    return s


def accept_loop(s):
    while True:
        c, peer = s.accept()
        threading.Thread(target=serve_one, args=(c, peer), daemon=True).start()


def client(addr, port, mark, msg, want_subflows, timeout, bind):
    s = socket.socket(family(addr), socket.SOCK_STREAM, IPPROTO_MPTCP)
    if mark:
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
    if bind:
        s.bind((bind, 0))
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
    except OSError as e:
        print(json.dumps({"echo_ok": False, "error": str(e)}), flush=True)
        return 1
    data = msg.encode()
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        d = s.recv(65536)
        if not d:
            break
        got += d
    info = mptcp_info(s)
    deadline = time.time() + timeout
    while want_subflows and info and info[0] < want_subflows and time.time() < deadline:
        time.sleep(0.05)
        info = mptcp_info(s)
    out = {"echo_ok": got == data, "local": addr_str(s.getsockname()),
           "mptcp": info is not None, "token": info[2] if info else 0,
           "fallback": bool(info[1] & 1) if info else True,
           "subflows": info[0] if info else 0}
    print(json.dumps(out), flush=True)
    s.close()
    return 0 if out["echo_ok"] else 1


def main():
    a = sys.argv[1:]
    if len(a) < 3:
        sys.exit(__doc__)
    mode, addr, port = a[0], a[1], a[2]
    opts = {"--mark": "0", "--msg": "hello through the MCP", "--subflows": "0",
            "--timeout": "10", "--bind": ""}
    flags = set()
    i = 3
    while i < len(a):
        if a[i] in opts:
            opts[a[i]] = a[i + 1]
            i += 2
        else:
            flags.add(a[i])
            i += 1
    if mode == "server":
        server(addr, port, "--transparent" in flags)
    elif mode == "client":
        sys.exit(client(addr, int(port), int(opts["--mark"], 0), opts["--msg"],
                        int(opts["--subflows"]), float(opts["--timeout"]),
                        opts["--bind"]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
