#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Summarise a `perf record -g` profile of one daemon as JSON.

    perf_summary.py NAME PERF.DATA

Prints {"name", "self_top": [[symbol, self %]...], "children": {symbol:
inclusive %}, "hot_chain": [caller chain of the hottest symbol]} for the
kernel and user functions that say where a splice relay's time goes: the
copies MPTCP makes on both sides (it has no zero-copy splice: reads go
through copy_splice_read -> mptcp_recvmsg, writes through mptcp_sendmsg ->
_copy_from_iter), the TCP side's zero-copy paths, and the softirq work
that veth runs in the sender's context.
"""
import json
import re
import subprocess
import sys

KEY = ["splice_to_socket", "mptcp_sendmsg", "tcp_sendmsg_locked", "copy_splice_read",
       "mptcp_recvmsg", "tcp_splice_read", "_copy_from_iter", "_copy_to_iter", "__pi_memcpy",
       "net_rx_action", "do_epoll_wait", "epoll_wait", "mpc_relay_tick", "relay_step"]
LINE = re.compile(r"^\s+([0-9.]+)%\s+([0-9.]+)%\s+\[[.k]\]\s+(\S+)")
SELF = re.compile(r"^\s+([0-9.]+)%\s+\[[.k]\]\s+(\S+)")


def report(path, *extra):
    return subprocess.run(["perf", "report", "-i", path, "--stdio", "--sort", "sym"] + list(extra),
                          capture_output=True, text=True).stdout.splitlines()


def main():
    name, path = sys.argv[1], sys.argv[2]
    children = {}
    for ln in report(path, "--children", "-g", "none"):
        m = LINE.match(ln)
        if m and m.group(3) in KEY:
            children[m.group(3)] = float(m.group(1))
    top = []
    for ln in report(path, "--no-children", "-g", "none"):
        m = SELF.match(ln)
        if m:
            top.append([m.group(2), float(m.group(1))])
        if len(top) == 12:
            break
    chain = []
    for ln in report(path, "--no-children", "--percent-limit", "5", "-g", "folded,0.05,caller"):
        if re.match(r"^[0-9.]+% ", ln):
            chain = ln.split(" ", 1)[1].split(";")
            break
    print(json.dumps({"name": name, "self_top": top, "children": children, "hot_chain": chain}))


if __name__ == "__main__":
    main()
