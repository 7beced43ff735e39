#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Summarise a callgrind profile of the CPE daemon as one JSON line.

    callgrind_summary.py CALLGRIND.OUT 'IPERF_FIELDS'

callgrind counts the instructions the daemon executes in user space only
(its syscalls are one instruction each to it); with the bytes the run
moved (iperf_json.py's fields) that gives user-space instructions per KB
relayed, and the functions that execute them.
"""
import json
import re
import subprocess
import sys


def main():
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", sys.argv[1]],
                         capture_output=True, text=True).stdout.splitlines()
    total = None
    top = []
    for ln in out:
        m = re.match(r"^\s*([0-9,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", ln)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"^\s*([0-9,]+)\s+\(\s*([0-9.]+)%\)\s+(\S+)", ln)
        if m and total is not None and len(top) < 12:
            top.append([m.group(3).split("/")[-1], float(m.group(2))])
    run = json.loads("{%s}" % sys.argv[2]) if sys.argv[2] else {}
    per_kb = total / (run["bytes"] / 1024.0) if total and run.get("bytes") else None
    print(json.dumps({"sec": "profile", "tool": "callgrind", "name": "cpe-down", "instructions": total,
                      "instructions_per_kb": per_kb, "run": run, "self_top": top}))


if __name__ == "__main__":
    main()
