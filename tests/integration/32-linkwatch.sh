#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The CPE's WAN link watcher: a WAN link that loses carrier, is taken
# down or changes address while connections live. Users of hybrid access
# report that after an outage "the extra subflows never come back"; here
# they must, on the connections that were open through the outage, and
# those connections must keep every byte.
#
#   client --TCP-- [lan] cpe [wan1]==MPTCP==[acc1] conc --TCP-- srv
#                            [wan2]==MPTCP==[acc2]
#
# Carrier loss is made by taking the concentrator's end of the veth down
# (the CPE's side stays administratively up, as when a DSL modem loses
# sync); administrative down and an address change are made on the CPE.
. "$(dirname "$0")/../lib.sh"

PEER=$TOOLS/mpc_peer
HOLD=$MPC_REPO/tests/tools/holdcli.py
PORT=5132
SPORT=9320

lab_create --shape 40,40 || { echo "not ok - lab set-up"; exit 1; }
T=$MPC_TMP
conc_start $PORT || { echo "not ok - concentrator start"; exit 1; }
cpe_start "$T/cpe.log" $PORT || { echo "not ok - cpe start"; exit 1; }

# link FIELD IF: a field of the CPE's status for one WAN link
link() {
	"$MPCONV" --pin-path "$PINE" -j status | /usr/bin/python3 -c '
import json, sys
for l in json.load(sys.stdin)["links"]:
    if l["interface"] == sys.argv[2]:
        print(str(l[sys.argv[1]]).lower())' "$1" "$2"
}
counter() { daemon_counter "$PINE" "$1"; }	# counter NAME: a CPE daemon counter
# conditions for wait_until (its arguments are expanded once, at the
# call: a "$(...)" there would be a constant)
link_is() { [ "$(link "$2" "$1")" = "$3" ]; }		# link_is IF FIELD VALUE
counter_moved() { [ "$(link bytes_tx "$1")" -gt "$2" ]; }	# counter_moved IF BYTES
counter_gt() { [ "$(counter "$1")" -gt "$2" ]; }	# counter_gt NAME N
has_ep() { nsx "$NS_CPE" ip mptcp endpoint show | grep -q "^$1 "; }
no_ep() { ! has_ep "$1"; }
srv_of() { [ "$1" = 4 ] && echo "$SRV4:$2" || echo "[$SRV6]:$2"; }

# one short converted connection, every byte echoed back and checked
through() {	# through FAM NAME
	bg "$NS_SRV" "$T/$2.srv" "$PEER" --listen "$(srv_of "$1" $((SPORT + 1)))" --tcp --echo \
		--count 1 --timeout 30
	local spid=$BG_PID
	wait_listen "$NS_SRV" $((SPORT + 1)) || return 1
	nsx "$NS_CLI" "$PEER" --connect "$(srv_of "$1" $((SPORT + 1)))" --tcp --send-bytes 300000 \
		--echo --timeout 20 >"$T/$2.cli" 2>&1
	local rc=$?
	wait_pid_exit $spid 10
	[ $rc = 0 ] && grep -q "rx=300000 tx=300000 .*result=ok" "$T/$2.cli"
}

mkdata "$T/up1" 1
mkdata "$T/up2" 4
cat "$T/up1" "$T/up2" >"$T/up"

# two held connections, v4 and v6, through mpconv to an echo server
bg "$NS_SRV" "$T/echo.log" "$PEER" --listen "$SRV4:$SPORT" --listen "[$SRV6]:$SPORT" --tcp \
	--echo --count 2 --timeout 120
ECHO_PID=$BG_PID
wait_listen "$NS_SRV" $SPORT || { echo "not ok - echo server"; exit 1; }
GATE=$T/gate
HPIDS=()
for f in 4 6; do
	h=$([ $f = 4 ] && echo "$SRV4" || echo "$SRV6")
	bg "$NS_CLI" "$T/hold$f.log" /usr/bin/python3 "$HOLD" "$h" $SPORT "$T/up1" "$T/rx$f" \
		"$GATE" --then "$T/up2"
	HPIDS+=("$BG_PID")
done
# both connected, their first megabyte echoed back
echoed() { [ "$(stat -c %s "$T/rx4" 2>/dev/null)" = 1048576 ] &&
	[ "$(stat -c %s "$T/rx6" 2>/dev/null)" = 1048576 ]; }

tcase "two held connections open, each with its initial subflow on wan1" && {
	if wait_until 30 echoed && wait_until 10 wan_sf_is $CPE_WAN1_4 2; then
		pass
	else
		fail "echoed: $(stat -c %s "$T/rx4" "$T/rx6" 2>&1 | tr '\n' ' ') wan1 subflows $(wan_sf $CPE_WAN1_4)"
		dump_logs "$T/cpe.log"
	fi
}

# --- carrier loss on the primary link -----------------------------------
down0=$(counter wan_link_down)
rm0=$(nstat_get "$NS_CONC" MPTcpExtRmAddr)
sf2=$(wan_sf $CPE_WAN2_4)
nsx "$NS_CONC" ip link set acc1 down

tcase "wan1 loses carrier: marked down, its endpoint withdrawn, its subflows closed" && {
	# the daemon's counters reach the pinned map once a second
	if wait_until 10 link_is wan1 up false && wait_until 10 no_ep $CPE_WAN1_4 &&
		wait_until 10 wan_sf_is $CPE_WAN1_4 0 && wait_until 3 counter_gt wan_link_down "$down0"; then
		# the concentrator was told over the surviving subflows
		# (REMOVE_ADDR), on the connections that had one
		rm_got() { [ "$(nstat_get "$NS_CONC" MPTcpExtRmAddr)" -ge $((rm0 + sf2)) ]; }
		if wait_until 5 rm_got; then
			pass "REMOVE_ADDR received on $sf2 connections"
		else
			fail "concentrator MPTcpExtRmAddr $rm0 -> $(nstat_get "$NS_CONC" MPTcpExtRmAddr), want +$sf2"
		fi
	else
		fail "up=$(link up wan1) subflows=$(wan_sf $CPE_WAN1_4) down=$(counter wan_link_down) endpoints: $(nsx "$NS_CPE" ip mptcp endpoint show | tr '\n' ';')"
		dump_logs "$T/cpe.log"
	fi
}

tcase "during the outage the held connections live on wan2, a new one is converted over wan2" && {
	# the held connections either had their wan2 subflow already or
	# lost their only path: both must still be there
	alive=0
	for p in "${HPIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
	# a new connection: wan1's default route is still in the FIB,
	# flagged linkdown; the CPE has its links ignore such routes
	if [ $alive = 2 ] && through 4 out4 && [ "$(link up wan2)" = true ]; then
		pass
	else
		fail "alive=$alive new connection: $(tail -n2 "$T/out4.cli" 2>/dev/null | tr '\n' ' ')"
		dump_logs "$T/cpe.log"
	fi
}

# --- carrier back ----------------------------------------------------------
up0=$(counter wan_link_restored)
nsx "$NS_CONC" ip link set acc1 up

tcase "wan1 carrier back: endpoint restored, both held connections get a wan1 subflow again" && {
	if wait_until 10 link_is wan1 up true && wait_until 10 has_ep $CPE_WAN1_4 &&
		wait_until 20 wan_sf_is $CPE_WAN1_4 2 && wait_until 3 counter_gt wan_link_restored "$up0"; then
		pass
	else
		fail "up=$(link up wan1) wan1 subflows=$(wan_sf $CPE_WAN1_4) wan2 subflows=$(wan_sf $CPE_WAN2_4) restored=$(counter wan_link_restored) MPJoinRejected(conc)=$(nstat_get "$NS_CONC" MPTcpExtMPJoinRejected)"
		dump_logs "$T/cpe.log"
	fi
}

tcase "after the outage the held connections carry 4 MiB more each, on both links, every byte intact" && {
	tx1=$(link bytes_tx wan1)
	tx2=$(link bytes_tx wan2)
	touch "$GATE"
	ok=1
	for p in "${HPIDS[@]}"; do wait_pid_exit "$p" 60 || ok=0; done
	wait_pid_exit $ECHO_PID 20
	# the status byte counters are refreshed once a second
	wait_until 5 counter_moved wan1 "$tx1"
	d1=$(($(link bytes_tx wan1) - tx1))
	d2=$(($(link bytes_tx wan2) - tx2))
	# 8 MiB sent upstream over two 40 Mbit/s links: each must have
	# carried a real share, not a retransmission or two
	min=$((8 * 1048576 / 10))
	echo "# # wan1 +$d1 bytes, wan2 +$d2 bytes after the outage"
	if [ $ok != 1 ]; then
		fail "a held connection failed: $(cat "$T/hold4.log" "$T/hold6.log")"
	elif ! cmp -s "$T/up" "$T/rx4" || ! cmp -s "$T/up" "$T/rx6"; then
		fail "echo differs: v4 $(data_diff "$T/up" "$T/rx4"); v6 $(data_diff "$T/up" "$T/rx6")"
	elif [ "$d1" -lt $min ] || [ "$d2" -lt $min ]; then
		fail "one link idle after the outage: wan1 +$d1 wan2 +$d2 bytes (want >= $min each)"
	else
		pass
	fi
}

# --- administrative down and up: the kernel deletes the link's routes ---
tcase "wan2 down and up again (routes put back as a DHCP client would): table refilled, endpoint back, a new connection is converted" && {
	nsx "$NS_CPE" ip link set wan2 down
	wait_until 10 link_is wan2 up false
	r1=$?
	nsx "$NS_CPE" ip link set wan2 up
	wait_until 10 nsx "$NS_CPE" ping -c1 -W1 -q $CONC_ACC2_4 >/dev/null
	nsx "$NS_CPE" ip route add default via $CONC_ACC2_4 dev wan2 metric 200
	nsx "$NS_CPE" ip -6 route add default via $CONC_ACC2_6 dev wan2 metric 200 2>/dev/null
	if [ $r1 = 0 ] && wait_until 10 link_is wan2 up true &&
		wait_until 10 has_ep $CPE_WAN2_4 &&
		nsx "$NS_CPE" ip route show table $((0x6d70 + 1)) | grep -q "^default via $CONC_ACC2_4" &&
		through 6 adm6; then
		pass
	else
		fail "went down: $r1, up=$(link up wan2) table: $(nsx "$NS_CPE" ip route show table $((0x6d70 + 1)) | tr '\n' ';')"
		dump_logs "$T/cpe.log"
	fi
}

# --- a new address on wan2 ------------------------------------------------
NEW2=198.51.100.67
tcase "wan2 changes address: the old endpoint and source rule go, the new address gets both and carries subflows" && {
	nsx "$NS_CPE" ip addr del $CPE_WAN2_4/26 dev wan2
	nsx "$NS_CPE" ip addr add $NEW2/26 dev wan2
	nsx "$NS_CPE" ip route replace default via $CONC_ACC2_4 dev wan2 metric 200
	if wait_until 10 has_ep $NEW2 && wait_until 10 no_ep $CPE_WAN2_4 &&
		nsx "$NS_CPE" ip rule show | grep -q "from $NEW2 lookup" &&
		! nsx "$NS_CPE" ip rule show | grep -q "from $CPE_WAN2_4 lookup"; then
		rej0=$(nstat_get "$NS_CONC" MPTcpExtMPJoinRejected)
		# a held-open connection to see its subflows
		bg "$NS_SRV" "$T/new.srv" "$PEER" --listen "$SRV4:$((SPORT + 2))" --tcp --echo \
			--count 1 --timeout 60
		spid=$BG_PID
		wait_listen "$NS_SRV" $((SPORT + 2))
		bg "$NS_CLI" "$T/new.log" /usr/bin/python3 "$HOLD" "$SRV4" $((SPORT + 2)) "$T/up1" \
			"$T/rxn" "$T/gate2"
		hp=$BG_PID
		wait_until 20 wan_sf_is $NEW2 1
		got=$?
		touch "$T/gate2"
		wait_pid_exit $hp 30
		hrc=$?
		wait_pid_exit $spid 10
		if [ $got = 0 ] && [ $hrc = 0 ] && cmp -s "$T/up1" "$T/rxn"; then
			pass
		else
			rej=$(nstat_get "$NS_CONC" MPTcpExtMPJoinRejected)
			if [ $got != 0 ] && [ "$rej" -gt "$rej0" ] && [ $hrc = 0 ] &&
				cmp -s "$T/up1" "$T/rxn"; then
				skip "$(join_rejected_why)"
			else
				fail "subflow from $NEW2: $got, client $hrc, data $(data_diff "$T/up1" "$T/rxn")"
			fi
		fi
	else
		fail "endpoints: $(nsx "$NS_CPE" ip mptcp endpoint show | tr '\n' ';') rules: $(nsx "$NS_CPE" ip rule show | grep 'from 198' | tr '\n' ';')"
		dump_logs "$T/cpe.log"
	fi
}

tcase "cpe exits: every rule, route and endpoint it added is gone, sysctls restored" && {
	stop_pid $CPE_PID
	left=$({
		nsx "$NS_CPE" ip -d -4 rule show | grep -w "proto 109"
		nsx "$NS_CPE" ip -d -6 rule show | grep -w "proto 109"
		nsx "$NS_CPE" ip -4 route show table all proto 109
		nsx "$NS_CPE" ip -6 route show table all proto 109
		nsx "$NS_CPE" ip mptcp endpoint show
	} 2>&1)
	ign=$(nsx "$NS_CPE" sysctl -n net.ipv4.conf.wan1.ignore_routes_with_linkdown \
		net.ipv6.conf.wan1.ignore_routes_with_linkdown | tr '\n' ' ')
	if [ -z "$left" ] && [ "$ign" = "0 0 " ]; then
		pass
	else
		fail "left behind: $left; ignore_routes_with_linkdown: $ign"
	fi
}

tcase "a WAN link without a default route at start-up: the CPE starts without it and takes it in when the route appears" && {
	nsx "$NS_CPE" ip route del default dev wan2
	nsx "$NS_CPE" ip -6 route del default dev wan2 2>/dev/null
	why=""
	if ! cpe_start "$T/cpe2.log" $PORT; then
		why="did not start: $(tail -n3 "$T/cpe2.log" | tr '\n' ' ')"
	elif [ "$(link up wan2)" != false ] || has_ep $NEW2 || ! through 4 late4; then
		why="at start: wan2 up=$(link up wan2), endpoints: $(nsx "$NS_CPE" ip mptcp endpoint show | tr '\n' ';')"
	else
		nsx "$NS_CPE" ip route add default via $CONC_ACC2_4 dev wan2 metric 200
		wait_until 10 link_is wan2 up true && wait_until 10 has_ep $NEW2 ||
			why="after the route: wan2 up=$(link up wan2), endpoints: $(nsx "$NS_CPE" ip mptcp endpoint show | tr '\n' ';')"
	fi
	stop_pid $CPE_PID
	left=$(nsx "$NS_CPE" ip mptcp endpoint show; nsx "$NS_CPE" ip -d -4 rule show | grep -w "proto 109")
	[ -z "$why" ] && [ -n "$left" ] && why="left behind after exit: $left"
	if [ -z "$why" ]; then
		pass
	else
		fail "$why"
		dump_logs "$T/cpe2.log"
	fi
}

stop_pid $CONC_PID
finish
