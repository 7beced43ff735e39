#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Scenario (b), VM only (netem): connection set-up through both MCPs costs
# no extra round trip. Both WAN links have a 20 ms RTT (10 ms each way, no
# rate limit). The client opens connections one after the other,
# alternating between
#   - a server address proxied by mpconv (explicit mode: the CPE's MPTCP
#     SYN to the concentrator carries the Convert message), and
#   - a second address of the same server that the CPE bypasses
#     (--bypass): direct TCP over wan1, through the same boxes;
# each sends 64 bytes of its own byte stream (mpc_peer --seed) and checks
# the echo. Captures on the client's LAN interface and on the server's
# interface give, per connection, the time from the client's SYN to the
# first data byte at the server (lib/first_byte.py). The median through
# mpconv must be at most the direct median + 5 ms. Direct TCP needs 1.5
# RTT for that (SYN, SYN-ACK, then data): 30 ms here; an extra round trip
# would show as 50 ms.
. "$(dirname "$0")/../../tests/lib.sh"
. "$(dirname "$0")/lib/netem.sh"

C_SETUP="RTT 20 ms: first byte at the server through mpconv no later than direct TCP + 5 ms"
netem_or_skip "$C_SETUP"

N=${MPC_SETUP_CONNS:-15}	# connections of each kind
PORT=9400

lab_create || { echo "not ok - lab set-up"; exit 1; }
wan_link 1 20 0 && wan_link 2 20 0 || { echo "not ok - netem set-up"; exit 1; }

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if tcase "$C_SETUP"; then
	start_conc && start_cpe explicit --bypass "$SRV2_4/32" || { fail "daemons did not start"; finish; }
	bg "$NS_SRV" "$MPC_TMP/srv.log" "$SCEN_PEER" --listen "$SRV4:$PORT" --listen "$SRV2_4:$PORT" \
		--tcp --echo --timeout 600
	spid=$BG_PID
	wait_listen "$NS_SRV" $PORT 20
	# The kernel stamps each packet as it is captured; tcpdump may read
	# them later. Without --immediate-mode it wakes up once per buffer,
	# not once per packet, and leaves the guest's one vCPU to the
	# connections being measured.
	bg "$NS_CLI" "$MPC_TMP/td-lan.log" tcpdump -U -n -i lan0 -s 200 \
		-w "$MPC_TMP/lan.pcap" "tcp port $PORT"
	t1=$BG_PID
	bg "$NS_SRV" "$MPC_TMP/td-srv.log" tcpdump -U -n -i eth0 -s 200 \
		-w "$MPC_TMP/srv.pcap" "tcp port $PORT"
	t2=$BG_PID
	wait_until 20 grep -q "listening on" "$MPC_TMP/td-lan.log" &&
		wait_until 20 grep -q "listening on" "$MPC_TMP/td-srv.log"
	# one connection of each kind first, not measured apart from the
	# rest: neighbours, routes and the daemons' first accept are warm
	bad=0
	for ((i = 1; i <= 2 * N + 2; i++)); do
		dst=$([ $((i % 2)) = 1 ] && echo "$SRV4" || echo "$SRV2_4")
		nsx "$NS_CLI" "$SCEN_PEER" --connect "$dst:$PORT" --tcp --send-bytes 64 --seed $((100 + i)) \
			--echo --timeout 20 >>"$MPC_TMP/cli.log" 2>&1 || bad=$((bad + 1))
	done
	# tcpdump writes what it has read; stop it only once both files
	# hold every connection's first data segment
	total=$((2 * N + 2))
	npush() { tcpdump -r "$1" -n "$2 and tcp[tcpflags] & tcp-push != 0" 2>/dev/null | wc -l; }
	captured() {
		[ "$(npush "$MPC_TMP/lan.pcap" "src host $CLI4")" -ge $total ] &&
			[ "$(npush "$MPC_TMP/srv.pcap" "dst port $PORT")" -ge $total ]
	}
	wait_until 20 captured
	stop_pid $t1
	stop_pid $t2
	stop_pid $spid
	/usr/bin/python3 "$(dirname "$0")/lib/first_byte.py" "$MPC_TMP/lan.pcap" "$MPC_TMP/srv.pcap" \
		"$CLI4" >"$MPC_TMP/times" 2>&1
	sed 's/^/# /' "$MPC_TMP/times"
	# the first connection of each kind is the warm-up
	conv=$(grep "^dst=$SRV4:" "$MPC_TMP/times" | tail -n +2 | sed 's/.* ms=//' | median)
	direct=$(grep "^dst=$SRV2_4:" "$MPC_TMP/times" | tail -n +2 | sed 's/.* ms=//' | median)
	nconv=$(grep -c "^dst=$SRV4:" "$MPC_TMP/times")
	ndirect=$(grep -c "^dst=$SRV2_4:" "$MPC_TMP/times")
	msg="median SYN to first byte at the server: mpconv ${conv:-?} ms, direct TCP ${direct:-?} ms ($((nconv - 1)) and $((ndirect - 1)) connections)"
	echo "# $msg"
	byp=$("$MPCONV" --pin-path "$PINE" -j stats | grep -o '"lan_bypass":{"packets":[0-9]*' | grep -o '[0-9]*$')
	if [ $bad != 0 ]; then
		fail "$bad connections failed: $(tail -n 3 "$MPC_TMP/cli.log")"
	elif [ "$nconv" -lt $((N + 1)) ] || [ "$ndirect" -lt $((N + 1)) ] || grep -q missing "$MPC_TMP/times"; then
		fail "not every connection measured: $(grep -c . "$MPC_TMP/times") lines"
	elif ! grep -q "peer=203.0.113.1:.*local=$SRV4:$PORT" "$MPC_TMP/srv.log"; then
		fail "the server never saw the concentrator: the connections were not proxied"
	elif grep -q "peer=203.0.113.1:.*local=$SRV2_4:$PORT" "$MPC_TMP/srv.log" || [ "${byp:-0}" -lt 1 ]; then
		fail "the direct connections were proxied (lan_bypass=${byp:-0})"
	elif ! ge "$direct" 30; then
		fail "direct TCP took less than 1.5 RTT: the delay is not applied ($msg)"
	elif ! ge "$(awk -v d="$direct" 'BEGIN { print d + 5 }')" "$conv"; then
		fail "$msg"
		dump_logs "$MPC_TMP/cpe.log" "$MPC_TMP/conc.log"
	else
		pass "$msg"
	fi
	stop_daemons
fi
finish
