#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The per-destination MPTCP fallback cache (protocol.md §3, nam-01 §5.6.1),
# against a middlebox that drops SYNs carrying MP_CAPABLE toward server S1
# only (nftables `tcp option mptcp exists` in the router namespace):
#
#   cpe ns: Convert client ==MPTCP== conc ns: mpconv concentrator --[srv0]-- rtr --[eth0] srv ns
#                                                                 middlebox     S1: SRV4/SRV6
#                                                                               S2: SRV2_4/SRV2_6
#
# Concentrator: the first connection to S1 pays the kernel's fallback delay
# (syn_retrans_before_tcp_fallback = 2: two MP_CAPABLE SYN retransmissions,
# then a plain SYN, ~3 s) and caches S1 (syn_dropped); later ones connect
# with plain TCP at once; S2 keeps MPTCP (the penalty is per destination,
# and the kernel's netns-wide blackhole switch stays off); a flush, or the
# TTL, makes S1 probed with MPTCP again; a TCP-only server is cached as
# no_mp_capable; the cache survives a daemon restart.
# Single-ended CPE (--mode direct): the same penalty is learnt by the CPE,
# and then its LAN classifier passes S1's SYNs without interception.
#
# Handshake figures (reported in the case output):
#   server leg   time from the concentrator's first SYN toward S1 to the
#                server's SYN-ACK, read from a capture on the concentrator's
#                server-side interface, for connections through the cache,
#                against the same measure for a direct TCP connect() from the
#                concentrator's namespace to S1 (medians of 11); the criterion
#                is cached <= 2 x direct;
#   client view  time from the Convert SYN to the complete Convert reply as
#                the client sees it (medians of 11), for S1 through the cache,
#                against the same exchange toward S2 (MPTCP on both legs, no
#                cache) and a direct TCP connect() to S1 from the same (CPE)
#                namespace; the criterion is S1 <= 2 x S2 and below the 1 s
#                initial SYN RTO. The direct connect is reported only: on veth
#                the Convert exchange costs a user-space hop and two
#                handshakes, several times a bare connect().
. "$(dirname "$0")/../lib.sh"

PEER=$TOOLS/mpc_peer
TESTCLI=$TOOLS/mpc_testcli
PY=/usr/bin/python3
TCPX="$PY $MPC_REPO/tests/tools/tcpx.py"
PORT=5124
RUNS=11

lab_create --router || { echo "not ok - lab set-up"; exit 1; }
PINC=$(pin_dir conc)
PINE=$(pin_dir cpe)
CONC_SRV4=203.0.113.129 CONC_SRV6=2001:db8:2:1::1

# ---- the middlebox: MP_CAPABLE SYNs toward S1 are dropped ---------------
nsx "$NS_RTR" nft -f - <<EOF || { echo "not ok - middlebox rules"; exit 1; }
table inet mpc_mbox {
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip daddr $SRV4 tcp flags & (syn | ack) == syn tcp option mptcp exists counter drop
		ip6 daddr $SRV6 tcp flags & (syn | ack) == syn tcp option mptcp exists counter drop
	}
}
EOF
# mbox_drops: MP_CAPABLE SYNs the middlebox dropped so far (both families)
mbox_drops() {
	nsx "$NS_RTR" nft list chain inet mpc_mbox forward |
		awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) }
		     END { print n + 0 }'
}

start_conc() {	# start_conc [extra args]
	bg "$NS_CONC" "$MPC_TMP/conc.log" "$MPCONV" -v --pin-path "$PINC" concentrator \
		--listen "$CONC4:$PORT" --listen "[$CONC6]:$PORT" \
		--allow 198.51.100.0/24 --allow 2001:db8:10::/44 "$@"
	CONC_PID=$BG_PID
	wait_listen "$NS_CONC" $PORT || { dump_logs "$MPC_TMP/conc.log"; return 1; }
}
conc_of() { [ "$1" = 4 ] && echo "$CONC4:$PORT" || echo "[$CONC6]:$PORT"; }
s1_of() { [ "$1" = 4 ] && echo "$SRV4" || echo "$SRV6"; }
s2_of() { [ "$1" = 4 ] && echo "$SRV2_4" || echo "$SRV2_6"; }
sa() { [[ "$1" == *:* ]] && echo "[$1]:$2" || echo "$1:$2"; }	# sa ADDR PORT
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# cache_entry PIN ADDR: "reason=R hits=N age_s=N" of ADDR's entry, or nothing
cache_entry() {
	"$MPCONV" --pin-path "$1" cache show -j 2>/dev/null | $PY -c '
import json, sys
raw = sys.stdin.read().strip() or "[]"
d = json.loads(raw)
for e in (d if isinstance(d, list) else []):
    if e["destination"] == sys.argv[1]:
        print("reason=%s hits=%d age_s=%d" % (e["reason"], e["hits"], e["age_s"]))' "$2"
}
has_entry() { [ -n "$(cache_entry "$1" "$2")" ]; }
no_entry() { [ -z "$(cache_entry "$1" "$2")" ]; }

# bpftool's view of the same entry: the key is the 16-byte address
# (IPv4-mapped for IPv4), the value's reason the enum mpc_fb_reason
bpftool_reason() {	# bpftool_reason PIN ADDR
	bpftool -j map dump pinned "$1/mpc_fb_cache" 2>/dev/null | $PY -c '
import ipaddress, json, sys
a = ipaddress.ip_address(sys.argv[1])
want = a.packed if a.version == 6 else bytes(10) + b"\xff\xff" + a.packed
for e in json.load(sys.stdin):
    f = e.get("formatted", e)
    if bytes(int(x, 0) if isinstance(x, str) else x for x in f["key"]["addr"]) == want:
        print(f["value"]["reason"])' "$2"
}

dstat() {	# dstat PIN NAME: a daemon counter (mpconv stats -a)
	"$MPCONV" --pin-path "$1" -j stats -a | $PY -c '
import json, sys; print(json.load(sys.stdin)["daemon"][sys.argv[1]])' "$2"
}
bstat() {	# bstat PIN NAME: packets of a BPF verdict
	"$MPCONV" --pin-path "$1" -j stats -a | $PY -c '
import json, sys; print(json.load(sys.stdin)["bpf"][sys.argv[1]]["packets"])' "$2"
}

mkdata "$MPC_TMP/up" 1
mkdata "$MPC_TMP/down" 1
UP_SHA=$(sha "$MPC_TMP/up")
DOWN_SHA=$(sha "$MPC_TMP/down")

# convert F ADDR PORT [--tcp-server]: one Convert connection from the CPE
# namespace through the concentrator to ADDR:PORT (a fresh mpc_peer there),
# 1 MiB each way. Sets CV_MS (client wall time), CV_OUT, CV_SRV (server
# log); returns non-zero with CV_WHY set when anything is wrong.
convert() {
	local f=$1 a=$2 p=$3 mode=--mptcp t0 rc
	[ "${4:-}" = --tcp-server ] && mode=--tcp
	CV_SRV=$MPC_TMP/srv.$p.log
	CV_WHY=""
	rm -f "$MPC_TMP/srx" "$MPC_TMP/crx"
	bg "$NS_SRV" "$CV_SRV" "$PEER" --listen "$(sa "$a" $p)" $mode --sink "$MPC_TMP/srx" \
		--source "$MPC_TMP/down" --count 1 --timeout 30
	local spid=$BG_PID
	wait_listen "$NS_SRV" $p || { CV_WHY="server did not listen"; return 1; }
	t0=$(now_ms)
	CV_OUT=$(nsx "$NS_CPE" "$TESTCLI" --conc "$(conc_of $f)" --target "$(sa "$a" $p)" \
		--send "$MPC_TMP/up" --recv "$MPC_TMP/crx" --timeout 30 2>&1)
	rc=$?
	CV_MS=$(($(now_ms) - t0))
	wait_pid_exit $spid 10
	if [ $rc != 0 ]; then
		CV_WHY="client exit $rc: $CV_OUT"
	elif [ "$(sha "$MPC_TMP/srx")" != "$UP_SHA" ] || [ "$(sha "$MPC_TMP/crx")" != "$DOWN_SHA" ]; then
		CV_WHY="data differs: up $(data_diff "$MPC_TMP/up" "$MPC_TMP/srx"); down $(data_diff "$MPC_TMP/down" "$MPC_TMP/crx")"
	fi
	[ -z "$CV_WHY" ]
}
srv_mptcp() { sed -n 's/^conn .* mptcp=\([01]\) .*/\1/p' "$1"; }
# syn_retrans: "CPE CONC" TCP SYN retransmissions (absolute, per namespace)
syn_retrans() {
	echo "$(nstat_get "$NS_CPE" TcpExtTCPSynRetrans) $(nstat_get "$NS_CONC" TcpExtTCPSynRetrans)"
}

start_conc || { echo "not ok - concentrator start"; exit 1; }

if tcase "the concentrator turns the kernel's netns-wide blackhole switch off"; then
	v=$(nsx "$NS_CONC" sysctl -n net.mptcp.blackhole_timeout)
	if [ "$v" = 0 ]; then pass; else fail "net.mptcp.blackhole_timeout=$v"; fi
fi

P=7000
for f in 4 6; do
	S1=$(s1_of $f) S2=$(s2_of $f)
	if tcase "v$f: first connection to S1 succeeds after the fallback delay and caches syn_dropped"; then
		P=$((P + 1))
		d0=$(mbox_drops)
		pc=$MPC_TMP/first$f.pcap
		tcpdump_start "$NS_CONC" srv0 "$pc" "$MPC_TMP/first$f.td" "tcp port $P"
		tpid=$BG_PID
		convert $f "$S1" $P
		rc=$?
		stop_pid $tpid
		syns=$($TCPX synrtt "$pc" | head -1)
		if [ $rc != 0 ]; then
			fail "$CV_WHY"
		elif [[ "$syns" != *" mpc_syns=3 plain_syns=1 "* ]]; then
			fail "SYNs toward S1, want 3 with MP_CAPABLE then a plain one: $syns"
		elif [ "$(srv_mptcp "$CV_SRV")" != 0 ]; then
			fail "server leg should be TCP: $(cat "$CV_SRV")"
		elif [ "$CV_MS" -lt 2500 ]; then
			fail "took $CV_MS ms: no fallback delay, the middlebox did not act"
		elif [ "$(mbox_drops)" -lt $((d0 + 2)) ]; then
			fail "middlebox dropped $(($(mbox_drops) - d0)) SYNs"
		elif ! wait_until 5 has_entry "$PINC" "$S1"; then
			fail "no cache entry for $S1: $("$MPCONV" --pin-path "$PINC" cache show)"
		elif [[ "$(cache_entry "$PINC" "$S1")" != "reason=syn_dropped "* ]]; then
			fail "entry: $(cache_entry "$PINC" "$S1")"
		elif [ "$(bpftool_reason "$PINC" "$S1")" != 1 ]; then
			fail "bpftool map dump does not show $S1 with reason 1 (MPC_FB_SYN_DROPPED)"
		else
			pass "$CV_MS ms; server leg ${syns#* }; $(cache_entry "$PINC" "$S1")"
		fi
	fi
done

# median of comma-separated numbers
median() { tr ',' '\n' <<<"$1" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
times_of() { sed -n 's/^times_us=\([0-9,]*\) .*/\1/p' <<<"$1"; }

for f in 4 6; do
	S1=$(s1_of $f) S2=$(s2_of $f)
	CS=$([ $f = 4 ] && echo $CONC_SRV4 || echo $CONC_SRV6)
	if tcase "v$f: later connections to S1 use TCP at once (server-leg handshake <= 2x a direct connect)"; then
		P=$((P + 1))
		bg "$NS_SRV" /dev/null "$PEER" --listen "$(sa "$S1" $P)" --listen "$(sa "$S2" $P)" \
			--mptcp --echo --timeout 60
		spid=$BG_PID
		wait_listen "$NS_SRV" $P
		pc=$MPC_TMP/hs$f.pcap
		tcpdump_start "$NS_CONC" srv0 "$pc" "$MPC_TMP/hs$f.td" "tcp port $P"
		tpid=$BG_PID
		h0=$(cache_entry "$PINC" "$S1")
		syntx0=$(nstat_get "$NS_CONC" MPTcpExtMPCapableSYNTX)
		# interleaved, so that both measures see the same load: a
		# Convert exchange to S1 (through the cache), a direct connect
		# from the conc ns, a direct connect from the cpe ns, and the
		# reference Convert exchange to S2 (MPTCP on both legs)
		conv="" dconc="" dcpe="" conv2="" bad=""
		for ((i = 0; i < RUNS; i++)); do
			o1=$(nsx "$NS_CPE" $TCPX convert-time --conc "$(conc_of $f)" --target "$(sa "$S1" $P)" --runs 1) &&
			o2=$(nsx "$NS_CONC" $TCPX connect-time --connect "$(sa "$S1" $P)" --runs 1) &&
			o3=$(nsx "$NS_CPE" $TCPX connect-time --connect "$(sa "$S1" $P)" --runs 1) &&
			o4=$(nsx "$NS_CPE" $TCPX convert-time --conc "$(conc_of $f)" --target "$(sa "$S2" $P)" --runs 1) ||
				{ bad="run $i: $o1 / $o2 / $o3 / $o4"; break; }
			conv+="$(times_of "$o1")," dconc+="$(times_of "$o2")," dcpe+="$(times_of "$o3"),"
			conv2+="$(times_of "$o4"),"
		done
		syntx1=$(nstat_get "$NS_CONC" MPTcpExtMPCapableSYNTX)
		stop_pid $tpid
		# one more, held open: its binding says the cache chose TCP
		hold=$MPC_TMP/cvhold.$P
		rm -f "$MPC_TMP/fifo"
		mkfifo "$MPC_TMP/fifo"
		bg "$NS_CPE" /dev/null bash -c 'exec 3>"$1"
			for ((i = 0; i < 400; i++)); do [ -e "$2" ] && break; sleep 0.05; done' _ \
			"$MPC_TMP/fifo" "$hold"
		bg "$NS_CPE" "$MPC_TMP/cvhold.$P.log" "$TESTCLI" --conc "$(conc_of $f)" \
			--target "$(sa "$S1" $P)" --send "$MPC_TMP/fifo" --timeout 30
		hpid=$BG_PID
		bflags() {
			"$MPCONV" --pin-path "$PINC" -j bindings | $PY -c '
import json, sys
print(",".join(b["flags"] for b in json.load(sys.stdin) if b["server_port"] == int(sys.argv[1])))' $P
		}
		wait_until 10 eval '[ -n "$(bflags)" ]'
		wait_until 5 eval '[ "$(bflags)" = up_mptcp,down_cached,established ]'
		held=$(bflags)
		touch "$hold"
		wait_pid_exit $hpid 10
		stop_pid $spid
		# from the concentrator's address to S1, the capture alternates a
		# server leg of the concentrator and a direct connect
		flows=$($TCPX synrtt "$pc" | grep -F "flow=$(sa "$CS" "")" | grep -F ">$(sa "$S1" $P) ")
		legs=$(sed -n '1~2p' <<<"$flows")
		direct=$(sed -n '2~2p' <<<"$flows")
		leg_us=$(sed -n 's/.*synack_us=\([0-9-]*\)$/\1/p' <<<"$legs" | paste -sd,)
		dir_us=$(sed -n 's/.*synack_us=\([0-9-]*\)$/\1/p' <<<"$direct" | paste -sd,)
		mleg=$(median "$leg_us") mdir=$(median "$dir_us")
		mconv=$(median "${conv%,}") mdcpe=$(median "${dcpe%,}") mconv2=$(median "${conv2%,}")
		figs="server leg median ${mleg} us vs direct connect from conc ${mdir} us [$leg_us | $dir_us];"
		figs+=" client view: Convert reply ${mconv} us (S2, MPTCP both legs: ${mconv2} us)"
		figs+=" vs direct connect from cpe ${mdcpe} us"
		echo "# v$f handshake: $figs"
		h1=$(cache_entry "$PINC" "$S1")
		if [ -n "$bad" ]; then
			fail "timing runs failed: $bad"
		elif [ "$(wc -l <<<"$legs")" != $RUNS ] || [ "$(wc -l <<<"$direct")" != $RUNS ]; then
			fail "capture has $(wc -l <<<"$flows") flows from the concentrator, want $((2 * RUNS))"
		elif grep -qv "syns=1 mpc_syns=0 plain_syns=1" <<<"$legs"; then
			fail "a server leg sent MP_CAPABLE or retransmitted its SYN: $legs"
		elif [ $((syntx1 - syntx0)) != $RUNS ]; then
			fail "MPCapableSYNTX grew by $((syntx1 - syntx0)) in the conc ns, want $RUNS (the S2 legs only)"
		elif [ "$mleg" -gt $((2 * mdir)) ]; then
			fail "$figs"
		elif [ "$mconv" -ge 1000000 ] || [ "$mconv" -gt $((2 * mconv2)) ]; then
			fail "$figs"
		elif [ "${h1#*hits=}" = "${h0#*hits=}" ]; then
			fail "the entry's hits did not grow: $h0 -> $h1"
		elif [ "$held" != up_mptcp,down_cached,established ]; then
			fail "binding of a cached connection: '$held', want up_mptcp,down_cached,established"
		else
			pass "$figs"
		fi
	fi

	if tcase "v$f: S2 (no middlebox) still gets MPTCP; kernel blackhole counters stay 0"; then
		P=$((P + 1))
		if ! convert $f "$S2" $P; then
			fail "$CV_WHY"
		elif [ "$(srv_mptcp "$CV_SRV")" != 1 ]; then
			fail "server leg to S2 is not MPTCP: $(cat "$CV_SRV")"
		elif ! grep -q "ext_tcp_hdr=.*1e04" <<<"$CV_OUT"; then
			fail "the reply does not report MP_CAPABLE: $CV_OUT"
		elif has_entry "$PINC" "$S2"; then
			fail "S2 was cached: $(cache_entry "$PINC" "$S2")"
		elif ! has_entry "$PINC" "$S1"; then
			fail "S1's entry vanished"
		elif [ "$(nstat_get "$NS_CONC" MPTcpExtBlackhole)" != 0 ] ||
			[ "$(nstat_get "$NS_CONC" MPTcpExtMPCapableSYNTXDisabled)" != 0 ]; then
			fail "Blackhole=$(nstat_get "$NS_CONC" MPTcpExtBlackhole) MPCapableSYNTXDisabled=$(nstat_get "$NS_CONC" MPTcpExtMPCapableSYNTXDisabled)"
		else
			pass "$CV_MS ms"
		fi
	fi

	if tcase "v$f: after 'cache flush ADDR', S1 is probed with MPTCP again"; then
		P=$((P + 1))
		out=$("$MPCONV" --pin-path "$PINC" cache flush "$S1")
		syntx0=$(nstat_get "$NS_CONC" MPTcpExtMPCapableSYNTX)
		d0=$(mbox_drops)
		gone=$(no_entry "$PINC" "$S1" && echo yes)
		if [ "$out" != "flushed 1 entry" ] || [ "$gone" != yes ]; then
			fail "flush said '$out'; entry: $(cache_entry "$PINC" "$S1")"
		elif ! convert $f "$S1" $P; then
			fail "$CV_WHY"
		elif [ "$(nstat_get "$NS_CONC" MPTcpExtMPCapableSYNTX)" -le "$syntx0" ]; then
			fail "no MP_CAPABLE SYN sent (MPCapableSYNTX unchanged)"
		elif [ "$(mbox_drops)" -lt $((d0 + 2)) ] || [ "$CV_MS" -lt 2500 ]; then
			fail "$CV_MS ms, $(($(mbox_drops) - d0)) MP_CAPABLE SYNs dropped"
		elif ! wait_until 5 has_entry "$PINC" "$S1"; then
			fail "not cached again"
		else
			pass "$CV_MS ms, $(($(mbox_drops) - d0)) MP_CAPABLE SYNs dropped, MPCapableSYNTX +$(($(nstat_get "$NS_CONC" MPTcpExtMPCapableSYNTX) - syntx0))"
		fi
	fi

	if tcase "v$f: a server that answers without MP_CAPABLE is cached as no_mp_capable"; then
		P=$((P + 1))
		# No fallback delay: a server that answers the MP_CAPABLE SYN
		# without the option costs no retransmission on either leg
		# (counted, not timed: the VM runs this under emulation).
		rx0=$(syn_retrans)
		if ! convert $f "$S2" $P --tcp-server; then
			fail "$CV_WHY"
		elif [ "$(srv_mptcp "$CV_SRV")" != 0 ]; then
			fail "server leg: $(cat "$CV_SRV")"
		elif [ "$(syn_retrans)" != "$rx0" ]; then
			fail "SYN retransmissions (cpe conc) $rx0 -> $(syn_retrans) ($CV_MS ms)"
		elif ! wait_until 5 has_entry "$PINC" "$S2"; then
			fail "not cached"
		elif [[ "$(cache_entry "$PINC" "$S2")" != "reason=no_mp_capable "* ]]; then
			fail "entry: $(cache_entry "$PINC" "$S2")"
		elif [ "$(bpftool_reason "$PINC" "$S2")" != 2 ]; then
			fail "bpftool does not show reason 2 (MPC_FB_NO_MPC)"
		else
			pass "$(cache_entry "$PINC" "$S2"), $CV_MS ms"
		fi
	fi
done

# ---- restart, TTL, sweep, flush all -------------------------------------
TTL=4
if tcase "the cache survives a concentrator restart; --cache-ttl $TTL expires entries"; then
	before=$("$MPCONV" --pin-path "$PINC" cache show -j)
	n0=$($PY -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$before")
	stop_pid $CONC_PID
	start_conc --cache-ttl $TTL
	after=$("$MPCONV" --pin-path "$PINC" cache show -j)
	n1=$($PY -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$after")
	old() { [[ "$(cache_entry "$PINC" "$SRV4")" == *age_s=* ]] &&
		[ "$(cache_entry "$PINC" "$SRV4" | sed 's/.*age_s=//')" -gt $TTL ]; }
	if [ "$n0" != 4 ] || [ "$n1" != 4 ]; then
		fail "entries before restart $n0, after $n1 (want 4): $after"
	elif ! wait_until $((TTL + 3)) old; then
		fail "S1's entry: $(cache_entry "$PINC" "$SRV4")"
	else
		P=$((P + 1))
		syntx0=$(nstat_get "$NS_CONC" MPTcpExtMPCapableSYNTX)
		d0=$(mbox_drops)
		t0=$(date +%s)
		convert 4 "$SRV4" $P
		rc=$?
		# The new entry is at most as old as this connection (+1 s for
		# the whole-second clocks); the expired one was older than TTL
		# before it began. Not "age 0": under emulation the read can
		# come seconds after the insert.
		age=$(cache_entry "$PINC" "$SRV4" | sed -n 's/.*age_s=//p')
		took=$(($(date +%s) - t0 + 1))
		if [ $rc != 0 ]; then
			fail "$CV_WHY"
		elif [ "$(mbox_drops)" -lt $((d0 + 2)) ] || [ "$CV_MS" -lt 2500 ]; then
			fail "expired entry still used: $CV_MS ms, $(($(mbox_drops) - d0)) SYNs dropped"
		elif [ "$(nstat_get "$NS_CONC" MPTcpExtMPCapableSYNTX)" -le "$syntx0" ]; then
			fail "MPCapableSYNTX unchanged"
		elif [ -z "$age" ] || [ "$age" -gt "$took" ]; then
			fail "not re-cached fresh: $(cache_entry "$PINC" "$SRV4") (connection took <= $took s)"
		else
			pass "S1 re-probed after expiry ($CV_MS ms)"
		fi
	fi
fi

if tcase "expired entries are swept without traffic (fallback_cache_expired)"; then
	e0=$(dstat "$PINC" fallback_cache_expired)
	expired_ge() { [ "$(dstat "$PINC" fallback_cache_expired)" -ge "$1" ]; }
	empty() { [ "$("$MPCONV" --pin-path "$PINC" cache show -j)" = "[]" ]; }
	# sweep every 10 s + TTL + the 1 s counter flush
	if ! wait_until $((TTL + 15)) empty; then
		fail "still cached: $("$MPCONV" --pin-path "$PINC" cache show)"
	elif ! wait_until 3 expired_ge $((e0 + 3)); then
		fail "fallback_cache_expired $e0 -> $(dstat "$PINC" fallback_cache_expired)"
	else
		pass "fallback_cache_expired $e0 -> $(dstat "$PINC" fallback_cache_expired)"
	fi
fi

if tcase "'cache flush' without an address empties the cache"; then
	P=$((P + 1))
	convert 4 "$SRV2_4" $P --tcp-server
	P=$((P + 1))
	convert 6 "$SRV2_6" $P --tcp-server
	out=$("$MPCONV" --pin-path "$PINC" cache flush)
	if [ "$out" != "flushed 2 entries" ]; then
		fail "flush said '$out'"
	elif [ "$("$MPCONV" --pin-path "$PINC" cache show -j)" != "[]" ]; then
		fail "left: $("$MPCONV" --pin-path "$PINC" cache show)"
	else
		pass
	fi
fi

if tcase "the concentrator restores net.mptcp.blackhole_timeout on exit"; then
	stop_pid $CONC_PID
	v=$(nsx "$NS_CONC" sysctl -n net.mptcp.blackhole_timeout)
	if [ "$v" = 3600 ]; then pass; else fail "net.mptcp.blackhole_timeout=$v"; fi
fi

# ---- single-ended CPE (--mode direct): same middlebox, no concentrator ----
# The conc namespace only routes now; the CPE learns the penalty itself,
# and once S1 is cached its LAN classifier passes S1's SYNs untouched
# (rodata mpc_fb_shortcut=1, counter lan_cache_shortcut).
cpe_running() { "$MPCONV" --pin-path "$PINE" status >/dev/null 2>&1; }
bg "$NS_CPE" "$MPC_TMP/cpe.log" "$MPCONV" -v --pin-path "$PINE" cpe --lan lan --wan wan1,wan2 \
	--mode direct
CPE_PID=$BG_PID
wait_until 30 cpe_running || { dump_logs "$MPC_TMP/cpe.log"; echo "not ok - cpe start"; finish; }

# lan F ADDR PORT [--tcp-server]: a plain TCP LAN client to ADDR:PORT with a
# fresh mpc_peer there, 1 MiB each way, held open until the bindings were
# read (LAN_BIND: the CPE's bindings for PORT). Sets like convert().
lan() {
	local f=$1 a=$2 p=$3 mode=--mptcp t0 rc hold=$MPC_TMP/lanhold.$3 ready=$MPC_TMP/lanready.$3
	[ "${4:-}" = --tcp-server ] && mode=--tcp
	CV_SRV=$MPC_TMP/srv.$p.log
	CV_WHY=""
	rm -f "$MPC_TMP/srx" "$MPC_TMP/crx"
	bg "$NS_SRV" "$CV_SRV" "$PEER" --listen "$(sa "$a" $p)" $mode --sink "$MPC_TMP/srx" \
		--source "$MPC_TMP/down" --count 1 --timeout 30
	local spid=$BG_PID
	wait_listen "$NS_SRV" $p || { CV_WHY="server did not listen"; return 1; }
	t0=$(now_ms)
	bg "$NS_CLI" "$MPC_TMP/lan.$p.log" $TCPX hold --connect "$(sa "$a" $p)" --tcp \
		--send "$MPC_TMP/up" --recv "$MPC_TMP/crx" --hold "$hold" --ready "$ready" --timeout 30
	local cpid=$BG_PID
	# both directions done; the client still holds its write side open
	wait_until 20 test -e "$ready"
	CV_MS=$(($(now_ms) - t0))
	LAN_BIND=$("$MPCONV" --pin-path "$PINE" -j bindings | $PY -c '
import json, sys
print(",".join(b["flags"] for b in json.load(sys.stdin) if b["server_port"] == int(sys.argv[1])))' $p)
	touch "$hold"
	wait_pid_exit $cpid 20
	rc=$?
	wait_pid_exit $spid 10
	CV_OUT=$(cat "$MPC_TMP/lan.$p.log")
	if [ $rc != 0 ]; then
		CV_WHY="client exit $rc: $CV_OUT"
	elif [ "$(sha "$MPC_TMP/srx")" != "$UP_SHA" ] || [ "$(sha "$MPC_TMP/crx")" != "$DOWN_SHA" ]; then
		CV_WHY="data differs: up $(data_diff "$MPC_TMP/up" "$MPC_TMP/srx"); down $(data_diff "$MPC_TMP/down" "$MPC_TMP/crx")"
	fi
	[ -z "$CV_WHY" ]
}
srv_peer() { sed -n 's/^conn peer=\([^ ]*\) .*/\1/p' "$1"; }

for f in 4 6; do
	S1=$(s1_of $f) S2=$(s2_of $f)
	CLI=$([ $f = 4 ] && echo "$CLI4" || echo "[$CLI6]")
	if tcase "v$f: direct mode: first LAN connection to S1 pays the fallback delay, CPE caches syn_dropped"; then
		P=$((P + 1))
		d0=$(mbox_drops)
		if ! lan $f "$S1" $P; then
			fail "$CV_WHY"
		elif [ "$LAN_BIND" != "direct,established" ]; then
			fail "CPE binding flags '$LAN_BIND', want direct,established (intercepted, TCP toward S1)"
		elif [ "$(srv_mptcp "$CV_SRV")" != 0 ]; then
			fail "server: $(cat "$CV_SRV")"
		elif [ "$CV_MS" -lt 2500 ] || [ "$(mbox_drops)" -lt $((d0 + 2)) ]; then
			fail "$CV_MS ms, $(($(mbox_drops) - d0)) MP_CAPABLE SYNs dropped"
		elif ! wait_until 5 has_entry "$PINE" "$S1"; then
			fail "not cached on the CPE: $("$MPCONV" --pin-path "$PINE" cache show)"
		elif [[ "$(cache_entry "$PINE" "$S1")" != "reason=syn_dropped "* ]]; then
			fail "entry: $(cache_entry "$PINE" "$S1")"
		else
			pass "$CV_MS ms; $(cache_entry "$PINE" "$S1")"
		fi
	fi

	if tcase "v$f: direct mode: S1 cached: its SYNs pass the classifier (lan_cache_shortcut), no binding"; then
		P=$((P + 1))
		c0=$(bstat "$PINE" lan_cache_shortcut)
		st0=$(bstat "$PINE" lan_steer)
		h0=$(cache_entry "$PINE" "$S1")
		d0=$(mbox_drops)
		rx0=$(nstat_get "$NS_CLI" TcpExtTCPSynRetrans)
		if ! lan $f "$S1" $P; then
			fail "$CV_WHY"
		elif [ -n "$LAN_BIND" ]; then
			fail "a binding appeared: $LAN_BIND"
		elif [ "$(bstat "$PINE" lan_cache_shortcut)" -le "$c0" ]; then
			fail "lan_cache_shortcut did not move ($c0)"
		elif [ "$(bstat "$PINE" lan_steer)" != "$st0" ]; then
			fail "the SYN was steered anyway (lan_steer $st0 -> $(bstat "$PINE" lan_steer))"
		elif [[ "$(srv_peer "$CV_SRV")" != "$CLI:"* ]]; then
			fail "the server saw $(srv_peer "$CV_SRV"), not the LAN host $CLI"
		elif [ "$(mbox_drops)" != "$d0" ]; then
			fail "MP_CAPABLE SYNs toward S1 were sent and dropped ($d0 -> $(mbox_drops))"
		elif [ "$(nstat_get "$NS_CLI" TcpExtTCPSynRetrans)" != "$rx0" ]; then
			# no fallback delay: counted, not timed (the VM emulates)
			fail "the LAN host retransmitted its SYN ($CV_MS ms)"
		elif [ "${h0#*hits=}" = "$(cache_entry "$PINE" "$S1" | sed 's/.*hits=//')" ]; then
			fail "hits did not grow: $h0 -> $(cache_entry "$PINE" "$S1")"
		else
			pass "lan_cache_shortcut $c0 -> $(bstat "$PINE" lan_cache_shortcut); $(cache_entry "$PINE" "$S1"); $CV_MS ms"
		fi
	fi

	if tcase "v$f: direct mode: S2 is still converted to MPTCP over both WAN links"; then
		P=$((P + 1))
		rej0=$(nstat_get "$NS_SRV" MPTcpExtMPJoinRejected)
		if ! lan $f "$S2" $P; then
			fail "$CV_WHY"
		elif [ "$LAN_BIND" != "up_mptcp,down_mptcp,direct,established" ]; then
			fail "CPE binding flags '$LAN_BIND'"
		elif ! grep -q "mptcp=1 subflows=2 " "$CV_SRV" &&
			[ "$(nstat_get "$NS_SRV" MPTcpExtMPJoinRejected)" -gt "$rej0" ]; then
			skip "$(join_rejected_why)"
		elif ! grep -q "mptcp=1 subflows=2 " "$CV_SRV"; then
			fail "server: $(cat "$CV_SRV")"
		elif has_entry "$PINE" "$S2"; then
			fail "S2 cached"
		elif [ "$(nstat_get "$NS_CPE" MPTcpExtBlackhole)" != 0 ] ||
			[ "$(nstat_get "$NS_CPE" MPTcpExtMPCapableSYNTXDisabled)" != 0 ]; then
			fail "kernel blackhole detection fired in the CPE namespace"
		else
			pass
		fi
	fi

	if tcase "v$f: direct mode: after 'cache flush ADDR', S1 is intercepted and probed again"; then
		P=$((P + 1))
		"$MPCONV" --pin-path "$PINE" cache flush "$S1" >/dev/null
		st0=$(bstat "$PINE" lan_steer)
		syntx0=$(nstat_get "$NS_CPE" MPTcpExtMPCapableSYNTX)
		if ! lan $f "$S1" $P; then
			fail "$CV_WHY"
		elif [ "$LAN_BIND" != "direct,established" ]; then
			fail "CPE binding flags '$LAN_BIND'"
		elif [ "$(bstat "$PINE" lan_steer)" -le "$st0" ] ||
			[ "$(nstat_get "$NS_CPE" MPTcpExtMPCapableSYNTX)" -le "$syntx0" ] ||
			[ "$CV_MS" -lt 2500 ]; then
			fail "not probed: lan_steer $st0 -> $(bstat "$PINE" lan_steer), $CV_MS ms"
		elif ! wait_until 5 has_entry "$PINE" "$S1"; then
			fail "not cached again"
		else
			pass "$CV_MS ms"
		fi
	fi
done

if tcase "direct mode: the CPE sets net.mptcp.blackhole_timeout=0 and restores it on exit"; then
	v=$(nsx "$NS_CPE" sysctl -n net.mptcp.blackhole_timeout)
	stop_pid $CPE_PID
	w=$(nsx "$NS_CPE" sysctl -n net.mptcp.blackhole_timeout)
	if [ "$v" = 0 ] && [ "$w" = 3600 ]; then pass; else fail "running: $v, after exit: $w"; fi
fi
finish
