#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The upstream MCP (mpconv cpe) with the concentrator, end to end, in
# explicit mode: unmodified TCP clients on the LAN, MPTCP over both WAN
# links, RFC 8803 Convert in the SYN.
#
#   client --TCP-- [lan] cpe [wan1]==MPTCP==[acc1] conc --TCP/MPTCP-- srv
#                            [wan2]==MPTCP==[acc2]
#
# Cases over IPv4 and IPv6; one aggregation case with both links shaped.
. "$(dirname "$0")/../lib.sh"

PEER=$TOOLS/mpc_peer
PCAP=$MPC_REPO/tests/tools/pcap_tcp.py
PORT=5124

lab_create || { echo "not ok - lab set-up"; exit 1; }
PINC=$(pin_dir conc)
PINE=$(pin_dir cpe)

start_conc() {
	bg "$NS_CONC" "$MPC_TMP/conc.log" "$MPCONV" -v --pin-path "$PINC" concentrator \
		--listen "$CONC4:$PORT" --listen "[$CONC6]:$PORT" \
		--allow 198.51.100.0/24 --allow 2001:db8:10::/44
	CONC_PID=$BG_PID
	wait_listen "$NS_CONC" $PORT
}
cpe_running() { "$MPCONV" --pin-path "$PINE" status >/dev/null 2>&1; }
start_cpe() {	# start_cpe [extra args]
	bg "$NS_CPE" "$MPC_TMP/cpe.log" "$MPCONV" -v --pin-path "$PINE" cpe --lan lan \
		--wan wan1,wan2 --concentrator "$CONC4:$PORT" "$@"
	CPE_PID=$BG_PID
	wait_until 60 cpe_running || { dump_logs "$MPC_TMP/cpe.log"; return 1; }
}

# what the CPE namespace looks like before mpconv touches it
snapshot() {
	{
		nsx "$NS_CPE" ip -4 rule show
		nsx "$NS_CPE" ip -6 rule show
		nsx "$NS_CPE" ip -4 route show table all
		nsx "$NS_CPE" ip -6 route show table all | grep -v "^local\|^multicast\|fe80"
		nsx "$NS_CPE" ip mptcp endpoint show
		nsx "$NS_CPE" ip mptcp limits show
		nsx "$NS_CPE" tc filter show dev lan ingress
		nsx "$NS_CPE" "$TOOLS/mpc_netprogs" lan
	} 2>&1
}
BEFORE=$(snapshot)

start_conc || { echo "not ok - concentrator start"; exit 1; }
start_cpe || { echo "not ok - cpe start"; exit 1; }

links_rx() {	# links_rx PIN: "rx1 rx2" of the CPE's WAN links
	"$MPCONV" --pin-path "$1" -j status | /usr/bin/python3 -c '
import json,sys
print(" ".join(str(x["bytes_rx"]) for x in json.load(sys.stdin)["links"]))'
}
srv_of() { [ "$1" = 4 ] && echo "$SRV4:$2" || echo "[$SRV6]:$2"; }
mkdata "$MPC_TMP/up" 32
mkdata "$MPC_TMP/down" 32

for f in 4 6; do
	if tcase "v$f: unmodified TCP client through both MCPs, 32 MiB each way intact"; then
		p=$((9000 + f))
		bg "$NS_SRV" "$MPC_TMP/srv$f.log" "$PEER" --listen "$(srv_of $f $p)" --mptcp \
			--sink "$MPC_TMP/srx$f" --source "$MPC_TMP/down" --count 1 --timeout 60
		spid=$BG_PID
		wait_listen "$NS_SRV" $p
		out=$(nsx "$NS_CLI" "$PEER" --connect "$(srv_of $f $p)" --tcp --send "$MPC_TMP/up" \
			--recv "$MPC_TMP/crx$f" --timeout 60 2>&1)
		rc=$?
		wait_pid_exit $spid 20
		peer=$(sed -n 's/^conn peer=\([^ ]*\) .*/\1/p' "$MPC_TMP/srv$f.log")
		if [ $rc != 0 ]; then
			fail "client: $out"
		elif [ "$(sha "$MPC_TMP/srx$f")" != "$(sha "$MPC_TMP/up")" ]; then
			fail "upstream data differs: $(data_diff "$MPC_TMP/up" "$MPC_TMP/srx$f")"
		elif [ "$(sha "$MPC_TMP/crx$f")" != "$(sha "$MPC_TMP/down")" ]; then
			fail "downstream data differs: $(data_diff "$MPC_TMP/down" "$MPC_TMP/crx$f")"
		elif [[ "$peer" != 203.0.113.1:* && "$peer" != "[2001:db8:2::1]:"* ]]; then
			fail "the server saw $peer, not the concentrator"
		else
			pass
		fi
		rm -f "$MPC_TMP/srx$f" "$MPC_TMP/crx$f"
	fi

	if tcase "v$f: curl through both MCPs, sha256 of the download"; then
		p=$((9100 + f))
		bg "$NS_SRV" /dev/null "$PEER" --listen "$(srv_of $f $p)" --http --seed 3 --timeout 60
		spid=$BG_PID
		wait_listen "$NS_SRV" $p
		u=$([ $f = 4 ] && echo "http://$SRV4:$p/bytes/8000000" || echo "http://[$SRV6]:$p/bytes/8000000")
		nsx "$NS_CLI" curl -s --max-time 30 -o "$MPC_TMP/curl$f" "$u"
		rc=$?
		want=$("$PEER" --gen 8000000 --seed 3 | sha256sum | cut -d' ' -f1)
		stop_pid $spid
		if [ $rc != 0 ]; then
			fail "curl exit $rc"
		elif [ "$(sha "$MPC_TMP/curl$f")" != "$want" ]; then
			fail "download differs"
		else
			pass
		fi
	fi

	if tcase "v$f: the CPE's SYN to the concentrator carries the Convert header (no extra RTT)"; then
		p=$((9200 + f))
		bg "$NS_SRV" /dev/null "$PEER" --listen "$(srv_of $f $p)" --echo --count 1 --timeout 30
		spid=$BG_PID
		wait_listen "$NS_SRV" $p
		pc=$MPC_TMP/cpesyn$f.pcap
		tcpdump_start "$NS_CONC" acc1 "$pc" "$MPC_TMP/td$f.log" \
			"tcp port $PORT and tcp[tcpflags] & tcp-syn != 0"
		tpid=$BG_PID
		nsx "$NS_CLI" "$PEER" --connect "$(srv_of $f $p)" --tcp --send-bytes 1000 \
			--timeout 10 >/dev/null 2>&1
		rc=$?
		wait_pid_exit $spid 10
		stop_pid $tpid
		syn=$(/usr/bin/python3 "$PCAP" "$pc" | grep "flags=S " | head -1)
		synack=$(/usr/bin/python3 "$PCAP" "$pc" | grep "flags=SA " | head -1)
		seq=$(sed -n 's/.* seq=\([0-9]*\).*/\1/p' <<<"$syn")
		len=$(sed -n 's/.* len=\([0-9]*\).*/\1/p' <<<"$syn")
		ack=$(sed -n 's/.* ack=\([0-9]*\).*/\1/p' <<<"$synack")
		if [ $rc != 0 ]; then
			fail "transfer failed"
		elif [[ "$syn" != *"payload=01062263"* ]]; then
			fail "SYN payload is not a Convert message: $syn"
		elif [ "$ack" != $(((seq + 1 + len) % 4294967296)) ]; then
			fail "SYN-ACK does not acknowledge the SYN data ($ack vs $seq+1+$len)"
		else
			pass "SYN payload $len bytes, acknowledged"
		fi
	fi

	if tcase "v$f: a native MPTCP client on the LAN is not proxied"; then
		p=$((9300 + f))
		bg "$NS_SRV" "$MPC_TMP/nat$f.log" "$PEER" --listen "$(srv_of $f $p)" --mptcp --echo \
			--count 1 --timeout 30
		spid=$BG_PID
		wait_listen "$NS_SRV" $p
		b0=$("$MPCONV" --pin-path "$PINE" -j stats | grep -o '"lan_native_mptcp":{"packets":[0-9]*' | grep -o '[0-9]*$')
		if [ $f = 4 ]; then
			# a stock TCP tool made MPTCP by mptcpize (LD_PRELOAD)
			nsx "$NS_CLI" mptcpize run "$PEER" --connect "$(srv_of $f $p)" --tcp \
				--send-bytes 100000 --echo --timeout 10 >"$MPC_TMP/natc$f.log" 2>&1
		else
			nsx "$NS_CLI" "$PEER" --connect "$(srv_of $f $p)" --mptcp --send-bytes 100000 \
				--echo --timeout 10 >"$MPC_TMP/natc$f.log" 2>&1
		fi
		rc=$?
		wait_pid_exit $spid 10
		b1=$("$MPCONV" --pin-path "$PINE" -j stats | grep -o '"lan_native_mptcp":{"packets":[0-9]*' | grep -o '[0-9]*$')
		peer=$(sed -n 's/^conn peer=\([^ ]*\) .*/\1/p' "$MPC_TMP/nat$f.log")
		if [ $rc != 0 ]; then
			fail "client failed: $(cat "$MPC_TMP/natc$f.log")"
		elif ! grep -q "mptcp=1" "$MPC_TMP/nat$f.log"; then
			fail "the server did not get the client's own MPTCP connection"
		elif [[ "$peer" != 192.0.2.2:* && "$peer" != "[2001:db8:1::2]:"* ]]; then
			fail "the server saw $peer, not the LAN host"
		elif [ "${b1:-0}" -le "${b0:-0}" ]; then
			fail "lan_native_mptcp counter did not move"
		else
			pass
		fi
	fi
done

if tcase "a Convert Error from the concentrator resets the LAN client promptly"; then
	# nothing listens on the server's port 9: the concentrator answers
	# Error 96, the CPE must reset the LAN connection, not leave it hanging
	counters_flushed "$PINE"
	e0=$("$MPCONV" --pin-path "$PINE" -j stats | grep -o '"err_rx":[0-9]*' | grep -o '[0-9]*$')
	t0=$(date +%s%N)
	out=$(nsx "$NS_CLI" "$PEER" --connect "$SRV4:9" --tcp --send-bytes 100 --timeout 10 2>&1)
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	counters_flushed "$PINE"
	e1=$("$MPCONV" --pin-path "$PINE" -j stats | grep -o '"err_rx":[0-9]*' | grep -o '[0-9]*$')
	if [ $rc = 0 ]; then
		fail "the client completed: $out"
	elif ! grep -q "result=ECONNRESET\|result=ECONNREFUSED\|result=EPIPE" <<<"$out"; then
		fail "the client did not see a reset: $out"
	elif [ "$ms" -gt 3000 ]; then
		fail "reset took ${ms} ms"
	elif [ "${e1:-0}" -le "${e0:-0}" ]; then
		fail "err_rx did not count the Error TLV"
	else
		pass "reset after ${ms} ms"
	fi
fi

# ---- aggregation: 2 x 20 Mbit/s -----------------------------------------
if tcase "2x20 Mbit/s: one TCP download through mpconv (v4 and v6) reaches >= 0.9 of the sum, over both links"; then
	shape "$NS_CPE" wan1 20 && shape "$NS_CONC" acc1 20 && shape "$NS_CPE" wan2 20 &&
		shape "$NS_CONC" acc2 20
	bg "$NS_SRV" /dev/null iperf3 -s -B "$SRV4" -p 5201
	ipid=$BG_PID
	wait_listen "$NS_SRV" 5201
	# through mpconv
	read -r a0 b0 <<<"$(links_rx "$PINE")"
	conv=$(nsx "$NS_CLI" iperf3 -c "$SRV4" -p 5201 -R -t 12 -O 2 -J 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
	counters_flushed "$PINE"	# link counters are published once a second
	read -r a1 b1 <<<"$(links_rx "$PINE")"
	# and over IPv6
	bg "$NS_SRV" /dev/null iperf3 -s -B "$SRV6" -p 5202
	ipid6=$BG_PID
	wait_listen "$NS_SRV" 5202
	conv6=$(nsx "$NS_CLI" iperf3 -c "$SRV6" -p 5202 -R -t 12 -O 2 -J 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
	stop_pid $ipid6
	# the same download over one link, without mpconv (bypassed)
	stop_pid $CPE_PID
	single=$(nsx "$NS_CLI" iperf3 -c "$SRV4" -p 5201 -R -t 12 -O 2 -J 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
	stop_pid $ipid
	r=$(awk -v c="$conv" 'BEGIN { printf "%.3f", c / 40e6 }')
	r1=$(awk -v c="$conv" -v s="$single" 'BEGIN { printf "%.3f", c / s }')
	rs=$(awk -v c="$conv" -v s="$single" 'BEGIN { printf "%.3f", c / (2 * s) }')
	msg="mpconv $(awk -v c="$conv" 'BEGIN{printf "%.1f", c/1e6}') Mbit/s = $r of 40 Mbit/s, $rs of 2x single-link goodput, ${r1}x one link ($(awk -v s="$single" 'BEGIN{printf "%.1f", s/1e6}') Mbit/s)"
	r6=$(awk -v c="$conv6" 'BEGIN { printf "%.3f", c / 40e6 }')
	msg="$msg; wan1 +$(((a1 - a0) / 1000000)) MB, wan2 +$(((b1 - b0) / 1000000)) MB; IPv6 $(awk -v c="$conv6" 'BEGIN{printf "%.1f", c/1e6}') Mbit/s = $r6"
	echo "# $msg"
	if ! awk -v r="$r" -v r6="$r6" 'BEGIN { exit !(r >= 0.9 && r6 >= 0.9) }'; then
		fail "$msg"
	elif [ $((a1 - a0)) -lt 10000000 ] || [ $((b1 - b0)) -lt 10000000 ]; then
		fail "a WAN link carried less than 10 MB: $msg"
	else
		pass "$msg"
	fi
	for i in wan1 wan2; do nsx "$NS_CPE" tc qdisc del dev $i root; done
	for i in acc1 acc2; do nsx "$NS_CONC" tc qdisc del dev $i root; done
	start_cpe
fi


stop_pid $CPE_PID
start_cpe --bypass 203.0.113.3/32 --bypass 2001:db8:2::3/128
for f in 4 6; do
	if tcase "v$f: a bypass prefix is not proxied"; then
		p=$((9500 + f))
		h=$([ $f = 4 ] && echo "$SRV2_4:$p" || echo "[$SRV2_6]:$p")
		byp0=$("$MPCONV" --pin-path "$PINE" -j stats | grep -o '"lan_bypass":{"packets":[0-9]*' | grep -o '[0-9]*$')
		bg "$NS_SRV" "$MPC_TMP/byp$f.log" "$PEER" --listen "$h" --echo --count 1 --timeout 20
		wait_listen "$NS_SRV" $p
		nsx "$NS_CLI" "$PEER" --connect "$h" --tcp --send-bytes 10000 --echo --timeout 10 >/dev/null 2>&1
		rc=$?
		peer=$(sed -n 's/^conn peer=\([^ ]*\) .*/\1/p' "$MPC_TMP/byp$f.log")
		byp=$("$MPCONV" --pin-path "$PINE" -j stats | grep -o '"lan_bypass":{"packets":[0-9]*' | grep -o '[0-9]*$')
		if [ $rc != 0 ]; then
			fail "transfer failed"
		elif [[ "$peer" != 192.0.2.2:* && "$peer" != "[2001:db8:1::2]:"* ]]; then
			fail "server saw $peer: the connection was proxied"
		elif [ "${byp:-0}" -le "${byp0:-0}" ]; then
			fail "lan_bypass counter did not move (${byp0:-0} -> ${byp:-0})"
		else
			pass
		fi
	fi
done

if tcase "after mpconv cpe exits: no BPF program on the LAN, rules and endpoints gone"; then
	stop_pid $CPE_PID
	wait_pid_exit $CPE_PID 10
	AFTER=$(snapshot)
	if [ "$BEFORE" = "$AFTER" ]; then
		pass
	else
		fail "state differs: $(diff <(echo "$BEFORE") <(echo "$AFTER") | head -20)"
	fi
fi
finish
