#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Turn bench/run's raw measurements into the bench JSON and its table.

    report.py --raw RAW.jsonl --out OUT.json --reps N --meta JSON
    report.py --json OUT.json          (print the table of an earlier run)

Every figure is {value, baseline, ratio}: value and baseline carry min,
median, max and the per-repetition runs; the ratio is computed per
repetition (value run k / baseline run k: the two were measured close in
time) and summarised the same way. A figure that could not be measured
carries "skipped": REASON instead, so nothing is ever silently missing.
"""
import argparse
import json
import statistics
import sys

SCHEMA = "mpconv-bench/1"


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs), "runs": xs}


def ratios(vals, bases):
    if not vals or not bases:
        return None
    if len(vals) == len(bases):
        rs = [v / b for v, b in zip(vals, bases) if v is not None and b]
    else:
        mv = statistics.median([v for v in vals if v is not None])
        mb = statistics.median([b for b in bases if b is not None])
        rs = [mv / mb] if mb else []
    return stats(rs)


class Report:
    def __init__(self, raw, reps, meta):
        self.raw = raw
        self.reps = reps
        self.meta = meta
        self.figures = []
        self.skips = {r["what"]: r["reason"] for r in raw if r.get("sec") == "skip"}

    def rows(self, sec, **kw):
        return [r for r in self.raw if r.get("sec") == sec and all(r.get(k) == v for k, v in kw.items())]

    def skip_reason(self, *modes):
        for m in modes:
            if m in self.skips:
                return "%s: %s" % (m, self.skips[m])
        return None

    def add(self, fid, section, desc, unit, vname, vals, bname=None, bvals=None, target=None,
            on="ratio", skip=None, note=None):
        """target: (op, number) checked against the ratio's or the value's median."""
        f = {"id": fid, "section": section, "desc": desc, "unit": unit}
        if target:
            f["target"] = "%s %s %g" % (on, target[0], target[1])
        if note:
            f["note"] = note
        v = stats(vals or [])
        if skip or v is None:
            f["skipped"] = skip or "no successful run"
            self.figures.append(f)
            return f
        f["value"] = dict(name=vname, **v)
        if bname is not None:
            b = stats(bvals or [])
            if b is None:
                f["skipped"] = "baseline %s: no successful run" % bname
                self.figures.append(f)
                return f
            f["baseline"] = dict(name=bname, **b)
            f["ratio"] = ratios(vals, bvals)
        if target:
            x = f["ratio"]["median"] if on == "ratio" else f["value"]["median"]
            op, t = target
            f["met"] = bool(x >= t if op == ">=" else x <= t)
            if not f["met"]:
                # a factor where it means something, else the difference
                if x and t:
                    f["missed_by"] = t / x if op == ">=" else x / t
                else:
                    f["missed_by_abs"] = x - t
        self.figures.append(f)
        return f

    # ---- sections ---------------------------------------------------------

    def per_rep(self, rows, key, fn):
        out = {}
        for r in rows:
            if r.get("ok", True) is False:
                continue
            out.setdefault(r[key], []).append(fn(r))
        return [statistics.median(out[k]) for k in sorted(out)]

    def tput(self, mode, n, d):
        rs = self.rows("tput", mode=mode, streams=n, dir=d)
        return [r["bps"] / 1e9 if r.get("ok") else None for r in sorted(rs, key=lambda r: r["rep"])]

    def stall_note(self, m, n, d):
        """runs that stalled: some interval below 1/10 of the run's best,
        or the whole run below 1/10 of the configuration's median"""
        rs = [r for r in self.rows("tput", mode=m, streams=n, dir=d) if r.get("ok")]
        if not rs:
            return None
        med = statistics.median([r["bps"] for r in rs])
        k = sum(1 for r in rs if r.get("stalled_intervals") or r["bps"] < med / 10)
        if not k:
            return None
        return "%d of %d %s runs stalled (an interval below 1/10 of the run's best, or the run below " \
               "1/10 of the median)" % (k, len(rs), m)

    def throughput(self):
        if not self.rows("tput"):
            return
        names = {"direct": "direct TCP", "mptcp": "kernel MPTCP end to end",
                 "explicit": "mpconv explicit", "implicit": "mpconv implicit",
                 "implicit_nx": "mpconv implicit, no XDP guard",
                 "haproxy": "HAProxy pair (mptcpize)", "ss": "shadowsocks-libev pair (--mptcp)"}
        for n in (1, 4):
            for d in ("up", "down"):
                cfg = "%d stream%s %s" % (n, "s" if n > 1 else "", "upload" if d == "up" else "download")
                sfx = "p%d.%s" % (n, d)
                for m, base, tgt in (("explicit", "mptcp", (">=", 0.8)), ("implicit", "mptcp", (">=", 0.8)),
                                     ("implicit_nx", "mptcp", (">=", 0.8)),
                                     ("explicit", "direct", None), ("implicit", "direct", None),
                                     ("implicit_nx", "direct", None),
                                     ("mptcp", "direct", None),
                                     ("explicit", "haproxy", (">=", 4)), ("explicit", "ss", (">=", 12)),
                                     ("haproxy", "direct", None), ("ss", "direct", None)):
                    self.add("throughput.%s.vs_%s.%s" % (m, base, sfx), "throughput",
                             "%s / %s, %s, unshaped" % (names[m], names[base], cfg), "Gbit/s",
                             names[m], self.tput(m, n, d), names[base], self.tput(base, n, d),
                             target=tgt, skip=self.skip_reason(m, base), note=self.stall_note(m, n, d))
        for m in ("direct", "mptcp", "explicit", "implicit", "implicit_nx", "haproxy", "ss"):
            rs = [r for r in self.rows("tput", mode=m) if r.get("ok")]
            if not rs:
                continue
            st = [r.get("stalled_intervals", 0) for r in rs]
            self.add("throughput.stalls.%s" % m, "throughput",
                     "%s: measured %.1f s intervals below 1/10 of the run's best, per run" % (
                         names[m], rs[0].get("interval_s", 0)),
                     "intervals", names[m], st,
                     note="%d of %d runs stalled" % (sum(1 for x in st if x), len(st)) if any(st) else None)
        # CPU per GB moved, every proxy, every configuration
        for m in ("explicit", "implicit", "implicit_nx", "haproxy", "ss"):
            for n in (1, 4):
                for d in ("up", "down"):
                    def spg(mode):
                        rs = sorted(self.rows("tput", mode=mode, streams=n, dir=d), key=lambda r: r["rep"])
                        return [r["cpu_s"] / (r["bytes"] / 1e9) if r.get("ok") and r["bytes"] else None
                                for r in rs]
                    base = "haproxy" if m != "haproxy" else "ss"
                    rs = [r for r in self.rows("tput", mode=m, streams=n, dir=d) if r.get("ok") and r["cpu_s"]]
                    user = [r.get("cpu_user_s", 0) / r["cpu_s"] for r in rs]
                    unote = "user space: %.1f%% of the CPU time" % (100 * statistics.median(user)) if user else None
                    self.add("cpu.%s.p%d.%s" % (m, n, d), "cpu",
                             "%s CPU s/GB (both ends), %d stream%s %s; baseline %s" % (
                                 names[m], n, "s" if n > 1 else "", "upload" if d == "up" else "download",
                                 names[base]),
                             "s/GB", names[m], spg(m), names[base], spg(base),
                             target=("<=", 0.25) if m.startswith(("explicit", "implicit")) else None,
                             on="value",
                             skip=self.skip_reason(m), note=unote)

    def aggregation(self):
        if not self.rows("agg"):
            return
        shapes = []
        for r in self.rows("agg"):
            if r["shape"] not in shapes:
                shapes.append(r["shape"])
        for sh in shapes:
            r1, r2 = [int(x) for x in sh.split("+")]

            def g(mode):
                rs = sorted(self.rows("agg", shape=sh, mode=mode), key=lambda r: r["rep"])
                return [r["bps"] / 1e6 if r.get("ok") else None for r in rs]
            l1, l2 = g("link1"), g("link2")
            ssum = [a + b if a is not None and b is not None else None for a, b in zip(l1, l2)]
            best = [max(a, b) if a is not None and b is not None else None for a, b in zip(l1, l2)]
            self.add("aggregation.%s.link1" % sh, "aggregation",
                     "wan1 alone (plain TCP) / nominal %d Mbit/s" % r1, "Mbit/s", "wan1 goodput", l1,
                     "nominal", [float(r1)] * len(l1))
            self.add("aggregation.%s.link2" % sh, "aggregation",
                     "wan2 alone (plain TCP) / nominal %d Mbit/s" % r2, "Mbit/s", "wan2 goodput", l2,
                     "nominal", [float(r2)] * len(l2))
            for m, name in (("explicit", "mpconv explicit"), ("implicit", "mpconv implicit"),
                            ("mptcp", "kernel MPTCP end to end (reference)")):
                v = g(m)
                self.add("aggregation.%s.%s.vs_sum" % (sh, m), "aggregation",
                         "%s / sum of single-link goodputs, %s Mbit/s, download" % (name, sh), "Mbit/s",
                         name, v, "wan1 + wan2 alone", ssum,
                         target=(">=", 0.97) if m != "mptcp" else None, skip=self.skip_reason(m))
                self.add("aggregation.%s.%s.vs_best" % (sh, m), "aggregation",
                         "%s / best single link, %s Mbit/s, download" % (name, sh), "Mbit/s",
                         name, v, "best link alone", best, skip=self.skip_reason(m))

    def setup(self):
        if not (self.rows("lat") or self.rows("rtt")):
            return
        names = {"explicit": "mpconv explicit", "implicit": "mpconv implicit"}

        def lat(mode, size):
            rs = sorted(self.rows("lat", mode=mode, size=size), key=lambda r: r["rep"])
            return [r["r"]["first_byte_us"]["p50"] if r.get("r") and r["r"].get("first_byte_us") else None
                    for r in rs]

        def rate(mode, size):
            rs = sorted(self.rows("rate", mode=mode, size=size), key=lambda r: r["rep"])
            return [r["r"]["cps"] if r.get("r") and not r["r"].get("errors") else None for r in rs]

        def cpu_per_conn(mode, size):
            rs = sorted(self.rows("rate", mode=mode, size=size), key=lambda r: r["rep"])
            return [r["cpu_s"] * 1e6 / r["r"]["conns"] if r.get("r") and r["r"].get("conns") and "cpu_s" in r
                    else None for r in rs]

        def rtt(mode, key):
            rs = sorted(self.rows("rtt", mode=mode), key=lambda r: r["rep"])
            return [r["r"][key] if r.get("r") and key in r["r"] else None for r in rs]

        for m in ("explicit", "implicit"):
            sk = self.skip_reason(m)
            for size in (1, 1024):
                self.add("setup.latency.%s.%dB" % (m, size), "setup",
                         "%s / direct TCP: connect to first echoed byte (median of 100), %d B" % (
                             names[m], size), "us", names[m], lat(m, size), "direct TCP", lat("direct", size),
                         skip=sk)
                self.add("setup.rate.%s.%dB" % (m, size), "setup",
                         "%s / direct TCP: connections per second, 16 in flight, %d B echo" % (
                             names[m], size), "conn/s", names[m], rate(m, size), "direct TCP",
                         rate("direct", size), skip=sk)
                self.add("setup.cpu_per_conn.%s.%dB" % (m, size), "setup",
                         "%s: CPU of both daemons per connection in the rate test, %d B" % (names[m], size),
                         "us", names[m], cpu_per_conn(m, size), skip=sk)
            v, b = rtt(m, "round_trips"), rtt("direct", "round_trips")
            late = [x for x in rtt(m, "client_late") if x]
            f = self.add("setup.wan_rtts.%s" % m, "setup",
                         "WAN round trips before the client's byte crosses the WAN (packet capture): "
                         "%s vs direct TCP" % names[m], "round trips", names[m], v, "direct TCP", b, skip=sk,
                         note="the client's byte reached the CPE after the WAN handshake in %d run(s): "
                         "a wait could not be seen there" % len(late) if late else None)
            if "value" in f:
                extra = [x - y for x, y in zip(v, b) if x is not None and y is not None]
                self.add("setup.extra_wan_rtts.%s" % m, "setup",
                         "extra WAN round trips, %s minus direct TCP" % names[m], "round trips",
                         names[m], extra, target=("<=", 0), on="value")
            self.add("setup.wan_packets.%s" % m, "setup",
                     "WAN packets of the first subflow up to the client's byte: %s vs direct"
                     % names[m], "packets", names[m], rtt(m, "wan_packets"), "direct TCP",
                     rtt("direct", "wan_packets"), skip=sk)

    def memory(self):
        rows = self.rows("mem")
        if not rows and "memory" not in self.skips:
            return
        if not rows:
            self.add("memory.state_per_conn", "memory", "mpconv state per connection", "B", "", [],
                     skip=self.skips["memory"])
            return
        fresh = rows[0]["before"]
        for want in sorted({r["wanted"] for r in rows}):
            rs = [r for r in rows if r["wanted"] == want]
            n = rs[0]["n"]
            note = None
            if n != want:
                note = "ran at %d connections, not %d: %s" % (n, want, rs[0]["why"])
            per = {k: [] for k in ("rss_cpe", "rss_conc", "map_cpe", "map_conc", "cpe", "conc", "both",
                                   "ksock_cpe", "ksock_conc", "slab")}
            for r in rs:
                b, a, held = r["before"], r["after"], r["held"] or 1
                # the heap keeps what it once held: RSS is counted from
                # the daemons' first idle sample of the session
                for side in ("cpe", "conc"):
                    rss = (a["rss_kb"][side] - fresh["rss_kb"][side]) * 1024 / held
                    mp = (a["map_bytes"][side] - b["map_bytes"][side]) / held
                    per["rss_" + side].append(rss)
                    per["map_" + side].append(mp)
                    per[side].append(rss + mp)
                    s = 0
                    for proto, (cnt, size) in a["socks"][side].items():
                        s += (cnt - b["socks"][side].get(proto, [0, size])[0]) * size
                    per["ksock_" + side].append(s / held)
                per["both"].append(per["cpe"][-1] + per["conc"][-1])
                per["slab"].append((a["slab_bytes"] - b["slab_bytes"]) / held)
            label = "%dk" % (want // 1000) if want % 1000 == 0 else str(want)
            for side, name in (("cpe", "CPE daemon"), ("conc", "concentrator daemon")):
                self.add("memory.%s.%s_state" % (label, side), "memory",
                         "%s state per idle proxied connection at %s: RSS + its mpc_binds map" % (name, label),
                         "B", name, per[side], target=("<=", 512), on="value", note=note)
                note = None
            for k, d in (("both", "both daemons together (RSS + maps)"),
                         ("rss_cpe", "CPE daemon RSS"), ("map_cpe", "CPE mpc_binds map (bpftool memlock)"),
                         ("rss_conc", "concentrator daemon RSS"),
                         ("map_conc", "concentrator mpc_binds map (bpftool memlock)"),
                         ("ksock_cpe", "kernel socket structs, CPE namespace (/proc/net/protocols)"),
                         ("ksock_conc", "kernel socket structs, concentrator namespace"),
                         ("slab", "kernel slab growth, whole machine (all four hops, slabinfo)")):
                self.add("memory.%s.%s" % (label, k), "memory", "%s per connection at %s" % (d, label), "B",
                         d, per[k])

    def bpf(self):
        rows = [r for r in self.rows("bpf") if r.get("family") == 4]
        if not rows:
            return
        empty = {}
        for r in rows:
            if r["obj"] == "bench_empty":
                empty[(r["type"], r["pkt"])] = r
        for r in rows:
            if r["obj"] == "bench_empty":
                continue
            e = empty.get((r["type"], r["pkt"]))
            method = "ns_repeat" if r.get("repeat_same_path") else "ns_single"
            desc = "%s (%s) on %s [path: %s; %s]" % (
                r["prog"], r["obj"], r["pkt"], r.get("reason"),
                "mean of %d runs in one call" % r["repeat"] if method == "ns_repeat"
                else "median of single runs: the program rewrites the packet")
            f = self.add("bpf.%s.%s" % (r["prog"], r["pkt"]), "bpf", desc, "ns", r["prog"], r[method],
                         "empty %s program" % r["type"], e[method] if e else None, target=("<=", 2),
                         skip=None if e else "no empty %s program measured" % r["type"])
            f["label"] = "%s %s (%s%s)" % (r["prog"], r["pkt"], r.get("reason"),
                                           "" if method == "ns_repeat" else ", single runs")

    def profiles(self):
        """perf and callgrind summaries, kept as they are (not figures)"""
        return [r for r in self.raw if r.get("sec") == "profile"]

    # ---- output -----------------------------------------------------------

    def build(self):
        self.throughput()
        self.aggregation()
        self.setup()
        self.memory()
        self.bpf()
        missed = [f["id"] for f in self.figures if f.get("met") is False]
        return {"schema": SCHEMA, "meta": self.meta, "reps": self.reps,
                "skipped": [{"what": k, "reason": v} for k, v in self.skips.items()],
                "targets": {"met": [f["id"] for f in self.figures if f.get("met") is True],
                            "missed": missed},
                "figures": self.figures, "profiles": self.profiles(), "raw": self.raw}


def fmt(x):
    if x is None:
        return "-"
    a = abs(x)
    if a >= 1000:
        return "%.0f" % x
    if a >= 100:
        return "%.1f" % x
    if a >= 10:
        return "%.2f" % x
    return "%.3g" % x


def rng(s):
    if not s:
        return "-"
    if len(s["runs"]) == 1:
        return fmt(s["median"])
    return "%s [%s-%s]" % (fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))


def table(doc, out=sys.stdout):
    m = doc.get("meta", {})
    out.write("mpconv bench  %s  kernel %s  %s CPUs  cc %s  reps %s  %ss  load %s -> %s\n" % (
        m.get("git", "?"), m.get("kernel", "?"), m.get("cpus", "?"), m.get("cc", "?"), doc.get("reps"),
        m.get("duration_s", "?"), m.get("load_start", "?"), m.get("load_end", "?")))
    out.write("values: median [min-max] over repetitions; ratio = value / baseline per repetition\n")
    sec = None
    for f in doc["figures"]:
        if f["section"] != sec:
            sec = f["section"]
            out.write("\n== %s\n" % sec)
            out.write("%-58s %-22s %-22s %-22s %s\n" % ("figure", "value", "baseline", "ratio", "target"))
        desc = f.get("label") or f["id"].split(".", 1)[1]
        if "skipped" in f:
            out.write("%-58s skipped: %s\n" % (desc, f["skipped"]))
            continue
        tgt = ""
        if "target" in f:
            tgt = "%s %s" % (f["target"], "ok" if f.get("met") else "MISSED")
            if f.get("missed_by"):
                tgt += " (x%.2f)" % f["missed_by"]
            elif "missed_by_abs" in f:
                tgt += " (%+g)" % f["missed_by_abs"]
        unit = f["unit"]
        out.write("%-58s %-22s %-22s %-22s %s\n" % (
            desc[:58], rng(f["value"]) + " " + unit if unit in ("Gbit/s", "Mbit/s", "s/GB", "us", "ns", "B")
            else rng(f["value"]), rng(f.get("baseline")), rng(f.get("ratio")), tgt))
        if f.get("note"):
            out.write("    note: %s\n" % f["note"])
    if doc.get("profiles"):
        out.write("\n== profile\n")
        for p in doc["profiles"]:
            if p.get("tool") == "perf":
                out.write("perf %-10s hot path: %s\n" % (p["name"], " > ".join(p["hot_chain"][-6:])))
                out.write("           inclusive: %s\n" % ", ".join(
                    "%s %.0f%%" % (k, v) for k, v in sorted(p["children"].items(), key=lambda kv: -kv[1])
                    if v >= 1))
            else:
                out.write("callgrind %s: %s user-space instructions per KB relayed; top: %s\n" % (
                    p["name"], fmt(p.get("instructions_per_kb")),
                    ", ".join("%s %.0f%%" % (f, v) for f, v in p["self_top"][:5])))
    if doc.get("skipped"):
        out.write("\nskipped:\n")
        for s in doc["skipped"]:
            out.write("  %s: %s\n" % (s["what"], s["reason"]))
    t = doc.get("targets", {})
    out.write("\ntargets: %d met, %d missed%s\n" % (len(t.get("met", [])), len(t.get("missed", [])),
                                                   (": " + ", ".join(t["missed"])) if t.get("missed") else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw")
    ap.add_argument("--out")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--meta", default="{}")
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.json:
        with open(a.json) as f:
            table(json.load(f))
        return
    raw = []
    with open(a.raw) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    raw.append(json.loads(line))
                except ValueError:
                    raw.append({"sec": "bad", "line": line})
    doc = Report(raw, a.reps, json.loads(a.meta)).build()
    with open(a.out + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    import os
    os.replace(a.out + ".tmp", a.out)
    table(doc)
    print("\nJSON: %s" % a.out)


if __name__ == "__main__":
    main()
