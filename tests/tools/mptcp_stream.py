#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Check an MPTCP upload on the wire against the bytes that were sent.

    mptcp_stream.py PCAP SENT --port PORT [--skip N|auto] [--got RECEIVED]

For the MPTCP connections to server port PORT in a capture (taken where the
receiver sees them, with the whole payload: tcpdump -s 0), take every DSS
mapping the client sent on every subflow (RFC 8684 section 3.3: data
sequence number, relative subflow sequence number, length), read the
mapped bytes from that subflow's payload and compare them with SENT at the
mapping's stream offset. Stream offset 0 is the first data byte: the first
mapping on the initial (MP_CAPABLE) subflow gives the base, DSN - (SSN - 1)
(less the length of data in a TFO SYN, which is mapped implicitly).
--skip N: SENT starts at stream offset N (a Convert message before the
payload, protocol.md section 1); auto finds SENT's first 64 bytes in the
initial subflow's first mappings.

This splits a corrupted transfer in two: if every mapping on the wire
matches SENT, the sender (proxy and its kernel) did its job and the
receiving stack reassembled wrongly; if a mapping does not match, the bad
bytes were put on the wire. With --got (what the receiving application
read), the first difference is shown next to the mappings covering it and
the data ACKs the receiver sent around then (its idea of the stream).

Output: one "conn" line per connection, one "bad-map" line per mapping that
does not match, "join" lines (each MP_JOIN subflow's first mapping and the
receiver's last data ACK before it), and with --got "got" lines and "ack"
lines. "got signature" names a pattern seen on kernel 6.18 (README, "a
kernel bug"): the receiver put a join's first mapping at its own data ACK
of the moment the join came up instead of at the mapping's DSN.
Exit status: 0 when all captured mappings match, 1 when one does not, 2
when no MPTCP data was found. IPv4/IPv6 over Ethernet or Linux cooked
captures; 64- and 32-bit DSNs.
"""
import os
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcap_tcp import l3, packets  # noqa: E402

M64 = (1 << 64) - 1


def tcp_segment(linktype, frame):
    proto, ip = l3(linktype, frame)
    if proto == 0x0800 and len(ip) >= 20 and ip[9] == 6:
        ihl = (ip[0] & 15) * 4
        return ip[12:16], ip[16:20], ip[ihl:struct.unpack("!H", ip[2:4])[0]]
    if proto == 0x86DD and len(ip) >= 40 and ip[6] == 6:
        return ip[8:24], ip[24:40], ip[40:40 + struct.unpack("!H", ip[4:6])[0]]
    return None


def mptcp_opts(opts):
    """(DSS option as a dict or None, MP_JOIN present?) from TCP options"""
    dss, join, i = None, False, 0
    while i < len(opts) and opts[i] != 0:
        if opts[i] == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        o = opts[i:i + opts[i + 1]]
        i += len(o)
        if o[0] != 30 or len(o) < 4:
            continue
        sub = o[2] >> 4
        if sub == 1:
            join = True
        elif sub == 2:
            fl, j, d = o[3], 4, {}
            if fl & 0x01:
                n = 8 if fl & 0x02 else 4
                d["ack"], d["ack64"] = int.from_bytes(o[j:j + n], "big"), n == 8
                j += n
            if fl & 0x04:
                n = 8 if fl & 0x08 else 4
                d["dsn"], d["dsn64"] = int.from_bytes(o[j:j + n], "big"), n == 8
                d["ssn"], d["len"] = struct.unpack("!IH", o[j + n:j + n + 6])
                d["fin"] = bool(fl & 0x10)
            dss = d
    return dss, join


def skip_arg(args, first, base, sent):
    """stream offset of SENT[0]: --skip N, or found by --skip auto"""
    if "--skip" not in args:
        return 0
    v = args[args.index("--skip") + 1]
    if v != "auto":
        return int(v)
    for dsn, is64, ssn, ln, _ in first["maps"][:8]:
        data = bytes(first["bytes"].get(ssn + j, 0) for j in range(ln))
        i = data.find(sent[:64])
        if i >= 0:
            return ((dsn - base) & (M64 if is64 else 0xFFFFFFFF)) + i
    return None


def main():
    args = sys.argv[1:]
    if len(args) < 4 or "--port" not in args:
        sys.exit(__doc__)
    port = int(args[args.index("--port") + 1])
    got = open(args[args.index("--got") + 1], "rb").read() if "--got" in args else None
    sent = open(args[1], "rb").read()

    subs, order, acks = {}, [], []  # acks: (time, dsn, ack64) the receiver sent
    for lt, frame, ts in packets(args[0]):
        t = tcp_segment(lt, frame)
        if not t or len(t[2]) < 20:
            continue
        src, dst, seg = t
        sport, dport, seq = struct.unpack("!HHI", seg[:8])
        doff, flags = (seg[12] >> 4) * 4, seg[13]
        dss, join = mptcp_opts(seg[20:doff])
        payload = seg[doff:]
        if sport == port and dss and "ack" in dss:
            acks.append((ts, dss["ack"], dss["ack64"]))
        if dport != port:
            continue
        key = (src, sport)
        if flags & 0x02:
            # data in a (TFO) SYN is implicitly mapped at the stream's
            # start; the subflow sequence numbers of DSS mappings count
            # from the byte after it
            subs[key] = {"isn": seq + len(payload), "join": join, "syn_len": len(payload),
                         "bytes": {1 - len(payload) + j: b for j, b in enumerate(payload)},
                         "maps": []}
            order.append(key)
            continue
        s = subs.get(key)
        if not s:
            continue
        rel = (seq - s["isn"]) & 0xFFFFFFFF
        for j, b in enumerate(payload):
            s["bytes"].setdefault(rel + j, b)
        if dss and "dsn" in dss and dss["len"]:
            m = (dss["dsn"], dss["dsn64"], dss["ssn"], dss["len"] - dss["fin"], ts)
            if m[3] and m[:4] not in [x[:4] for x in s["maps"][-4:]]:
                s["maps"].append(m)

    # connections: an MP_CAPABLE subflow and the joins after it
    conns, bad_total, nmaps, joins = [], 0, 0, []
    for key in order:
        if not subs[key]["join"]:
            conns.append([key])
        elif conns:
            conns[-1].append(key)
    for c in conns:
        first = subs[c[0]]
        if not first["maps"]:
            continue
        dsn, _, ssn = first["maps"][0][:3]
        base = (dsn - (ssn - 1) - first["syn_len"]) & M64
        if first["syn_len"]:
            first["maps"].insert(0, (base, True, 1 - first["syn_len"], first["syn_len"], "syn"))
        skip = skip_arg(args, first, base, sent)
        if skip is None:
            print("conn subflows=%d: SENT not found at the start of the stream" % len(c))
            continue
        print("conn subflows=%d base_dsn=%d skip=%d" % (len(c), base, skip))
        for key in c:
            s = subs[key]
            for n, (dsn, is64, ssn, ln, ts) in enumerate(s["maps"]):
                off = ((dsn - base) & M64 if is64 else (dsn - base) & 0xFFFFFFFF) - skip
                have = [s["bytes"].get(ssn + j) for j in range(ln)]
                known = [j for j in range(ln) if have[j] is not None and off + j >= 0]
                nmaps += 1
                if any(have[j] != sent[off + j] if off + j < len(sent) else True for j in known):
                    bad_total += 1
                    print("bad-map sport=%d off=%d ssn=%d len=%d t=%s" % (key[1], off, ssn, ln, ts))
                if s["join"] and n == 0:
                    before = [a for a in acks if a[0] <= ts]
                    last = (before[-1][1] - base - skip) & M64 if before and before[-1][2] else -1
                    print("join sport=%d first-map off=%d len=%d t=%s receiver-data-ack-before=%d"
                          % (key[1], off, ln, ts, last))
                    joins.append((off, last))
        if got is not None:
            n = min(len(got), len(sent))
            d = next((i for i in range(0, n, 4096) if got[i:i + 4096] != sent[i:i + 4096]), None)
            if d is not None:
                d += next(i for i in range(4096) if got[d + i] != sent[d + i])
            if d is None:
                print("got equal to sent over %d bytes (sizes %d/%d)" % (n, len(got), len(sent)))
            else:
                print("got first difference at %d" % d)
                for j, a in joins:
                    # the join subflow's first mapping read at A, the data
                    # ACK the receiver had sent when the join came up, not
                    # at its DSN J: either the join's bytes land at A, or
                    # the other subflow's bytes fill A..J and the join's
                    # first J - A bytes are skipped
                    k = d + j - a
                    if 0 <= a < j and d in (a, j) and got[d:d + 64] == sent[k:k + 64]:
                        print("got signature: the join's first mapping (offset %d) was placed at "
                              "offset %d, the receiver's data ACK when it joined: the receiver "
                              "reassembled wrongly" % (j, a))
                prev = None
                for ts, a, is64 in acks:
                    a = ((a - base) & M64 if is64 else (a - base) & 0xFFFFFFFF) - skip
                    if a != prev and d - 65536 <= a <= d + 65536:
                        print("ack t=%s off=%d" % (ts, a))
                    prev = a
    if not nmaps:
        print("no MPTCP data mappings to port %d" % port)
        sys.exit(2)
    print("mappings=%d bad=%d" % (nmaps, bad_total))
    sys.exit(1 if bad_total else 0)


if __name__ == "__main__":
    main()
