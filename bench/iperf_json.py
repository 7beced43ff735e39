#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Reduce one iperf3 -J run (stdin) to the fields bench/run records.

    iperf_json.py USER_TICKS SYS_TICKS CLK_TCK < iperf3.json

Prints a JSON fragment (no braces): "ok":true,"bps":..,"bytes":..,
"cpu_s":..,"retrans":..,"stalled_intervals":.. where bps is the receiver's goodput over the
measured seconds (iperf3's end.sum_received: the omitted warm-up excluded)
and bytes counts every byte moved during the whole run, warm-up included,
because the proxies' CPU time was read around the whole run. On failure:
"ok":false,"error":"..." (iperf3's own message when it gave one).
"""
import json
import sys


def main():
    uticks, sticks, hz = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    ticks = uticks + sticks
    text = sys.stdin.read()
    try:
        j = json.loads(text)
    except ValueError:
        msg = text.strip().splitlines()[-1:] or ["no output"]
        print('"ok":false,"error":%s' % json.dumps(msg[0][:200]))
        return
    end = j.get("end", {})
    if j.get("error") or "sum_received" not in end:
        print('"ok":false,"error":%s' % json.dumps(j.get("error", "no result")[:200]))
        return
    ivs = j.get("intervals", [])
    moved = sum(i["sum"]["bytes"] for i in ivs)
    # stalls: measured intervals below a tenth of the run's best one
    # (the transfer all but stopped for that long)
    rates = [i["sum"]["bits_per_second"] for i in ivs if not i["sum"].get("omitted")]
    best = max(rates) if rates else 0
    stalls = sum(1 for r in rates if r < best / 10)
    print('"ok":true,"bps":%.0f,"bytes":%d,"cpu_s":%.2f,"cpu_user_s":%.2f,"retrans":%d,'
          '"intervals":%d,"stalled_intervals":%d,"interval_s":%.2f,"gbps":%s' % (
              end["sum_received"]["bits_per_second"], moved, ticks / hz, uticks / hz,
              end.get("sum_sent", {}).get("retransmits", 0), len(rates), stalls,
              ivs[0]["sum"]["seconds"] if ivs else 0,
              json.dumps([round(r / 1e9, 3) for r in rates])))


if __name__ == "__main__":
    main()
