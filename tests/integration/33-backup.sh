#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# A backup WAN link (`mpconv cpe --backup wan2`, a metered cellular link):
# idle while the primary works, carrying the transfer as soon as the
# primary loses carrier, idle again once the primary is back. One
# download runs through all three phases and must arrive intact.
#
#   client --TCP-- [lan] cpe [wan1]==MPTCP==[acc1] conc --TCP-- srv
#                            [wan2]==MPTCP==[acc2]   (backup)
#
# Both links are shaped to 10 Mbit/s so the download lasts long enough
# for each phase to be seen in the per-link byte counters.
. "$(dirname "$0")/../lib.sh"

PEER=$TOOLS/mpc_peer
PORT=5133
SPORT=9330
T=$MPC_TMP
MIB=16

lab_create --shape 10,10 || { echo "not ok - lab set-up"; exit 1; }
conc_start $PORT || { echo "not ok - concentrator start"; exit 1; }
cpe_start "$T/cpe.log" $PORT --backup wan2 || { echo "not ok - cpe start"; exit 1; }

# rx IF: bytes received on a WAN link since the CPE started
rx() {
	"$MPCONV" --pin-path "$PINE" -j status | /usr/bin/python3 -c '
import json, sys
for l in json.load(sys.stdin)["links"]:
    if l["interface"] == sys.argv[1]:
        print(l["bytes_rx"])' "$1"
}
grew() { [ "$(rx "$1")" -ge "$2" ]; }	# grew IF BYTES

tcase "the backup link's endpoint carries the backup flag" && {
	if nsx "$NS_CPE" ip mptcp endpoint show | grep "^$CPE_WAN2_4 " | grep -qw backup &&
		! nsx "$NS_CPE" ip mptcp endpoint show | grep "^$CPE_WAN1_4 " | grep -qw backup; then
		pass
	else
		fail "$(nsx "$NS_CPE" ip mptcp endpoint show | tr '\n' ';')"
	fi
}

bg "$NS_CPE" "$T/mon.log" ip mptcp monitor
MONPID=$BG_PID
# one download of $MIB MiB through mpconv, server to client
REJ0=$(nstat_get "$NS_CONC" MPTcpExtMPJoinRejected)
bg "$NS_SRV" "$T/srv.log" "$PEER" --listen "$SRV4:$SPORT" --tcp --source-bytes $((MIB * 1048576)) \
	--seed 33 --count 1 --timeout 120
SPID=$BG_PID
wait_listen "$NS_SRV" $SPORT || { echo "not ok - server start"; exit 1; }
"$PEER" --gen $((MIB * 1048576)) --seed 33 >"$T/want"
# The client keeps its sending side open (like curl): a client that
# half-closes at once puts the CPE's MPTCP connection in FIN-WAIT before
# the kernel opens the second subflow, and the kernel opens none after
# its own DATA_FIN (README, next to the refused joins).
: >"$T/empty"
bg "$NS_CLI" "$T/cli.log" /usr/bin/python3 "$MPC_REPO/tests/tools/holdcli.py" "$SRV4" $SPORT \
	"$T/empty" "$T/got" "$T/gate"
CPID=$BG_PID
got_size_ge() { [ "$(stat -c %s "$T/got" 2>/dev/null || echo 0)" -ge "$1" ]; }

tcase "primary up: the download uses wan1, the backup stays (nearly) idle" && {
	# both subflows up, then 2 MiB of the download
	if wait_until 10 wan_sf_is $CPE_WAN2_4 1 && counters_flushed "$PINE"; then
		a0=$(rx wan1) b0=$(rx wan2)
		wait_until 20 got_size_ge $((2 * 1048576))
		counters_flushed "$PINE"
		a1=$(rx wan1) b1=$(rx wan2)
		da=$((a1 - a0)) db=$((b1 - b0))
		# acknowledgements and the odd probe only: under 5% of wan1
		if [ "$da" -gt 1000000 ] && [ $((db * 20)) -lt "$da" ]; then
			pass "wan1 +$da bytes, wan2 +$db"
		else
			fail "wan1 +$da bytes, wan2 +$db (want wan2 < 5% of wan1)"
		fi
	elif [ "$(nstat_get "$NS_CONC" MPTcpExtMPJoinRejected)" -gt "$REJ0" ]; then
		skip "no backup subflow: $(join_rejected_why)"
	else
		fail "no backup subflow from $CPE_WAN2_4"
		echo "# $(nsx "$NS_CPE" ss -Htn dst "$CONC4" | tr '\n' ';')"
		echo "# $(nsx "$NS_CPE" nstat -az | grep MPTcpExt | grep -v ' 0 ' | awk '{print $1"="$2}' | tr '\n' ';')"
		echo "# msk $(nsx "$NS_CPE" ss -HMni | tr '\n' ';')"
		echo "# mon $(cat "$T/mon.log" | tr '\n' ';')"
		echo "# conc $(nsx "$NS_CONC" nstat -az | grep MPTcpExt | grep -v ' 0 ' | awk '{print $1"="$2}' | tr '\n' ';')"
		echo "# $(nsx "$NS_CPE" ip mptcp endpoint show | tr '\n' ';') $(nsx "$NS_CPE" ip mptcp limits show)"
		dump_logs "$T/cpe.log"
	fi
}

STALLED=""
tcase "primary loses carrier: the backup carries the download within a bound" && {
	b0=$(rx wan2)
	rm0=$(nstat_get "$NS_CONC" MPTcpExtRmAddr) pr0=$(nstat_get "$NS_CONC" MPTcpExtMPPrioRx)
	t0=$(_now_ms)
	nsx "$NS_CONC" ip link set acc1 down
	# 1 MiB over the backup: the takeover is real, not a retransmission
	if wait_until 15 grew wan2 $((b0 + 1048576)); then
		# the backup was promoted (MP_PRIO) while no primary worked
		if grep -q "backup link used as a regular one" "$T/cpe.log"; then
			pass "1 MiB over wan2 within $(($(_now_ms) - t0)) ms of the carrier loss"
		else
			fail "wan2 carried the download but the CPE did not promote it"
		fi
	elif [ "$(nstat_get "$NS_CONC" MPTcpExtRmAddr)" -gt "$rm0" ] &&
		[ "$(nstat_get "$NS_CONC" MPTcpExtMPPrioRx)" -gt "$pr0" ] &&
		grep -q "backup link used as a regular one" "$T/cpe.log"; then
		# Seen on 6.12 (the VM), never on 6.18: the CPE withdrew wan1
		# and promoted wan2, the concentrator's kernel counted both the
		# REMOVE_ADDR and the MP_PRIO, and still sent nothing on wan2
		STALLED="the concentrator's kernel received REMOVE_ADDR and MP_PRIO (counted) but moved no data to the remaining subflow within 15 s (seen on 6.12); the CPE's part verified"
		skip "$STALLED"
	else
		fail "wan2 +$(($(rx wan2) - b0)) bytes in 15 s; conc still has $(nsx "$NS_CONC" ss -Htn state established src "$CONC4" dst "$CPE_WAN1_4" | grep -c .) subflow(s) from wan1; conc: $(nsx "$NS_CONC" nstat -az | grep MPTcpExt | grep -v ' 0 ' | awk '{print $1"="$2}' | tr '\n' ' '); cpe: $(nsx "$NS_CPE" nstat -az | grep MPTcpExt | grep -v ' 0 ' | awk '{print $1"="$2}' | tr '\n' ' ')"
		dump_logs "$T/cpe.log"
	fi
}

tcase "primary back: the download returns to wan1, the backup idles again" && {
	nsx "$NS_CONC" ip link set acc1 up
	a0=$(rx wan1)
	if [ -n "$STALLED" ]; then
		# the download the concentrator stalled resumes on its own
		# schedule; only the restored endpoint can be checked here
		if wait_until 15 grep -q "a primary link is back: backup again" "$T/cpe.log"; then
			skip "after the previous case's stall: $STALLED"
		else
			fail "the CPE did not restore wan1 and demote wan2"
		fi
	elif wait_until 15 grew wan1 $((a0 + 1048576)) &&
		wait_until 5 grep -q "a primary link is back: backup again" "$T/cpe.log"; then
		counters_flushed "$PINE"
		a1=$(rx wan1) b1=$(rx wan2)
		wait_until 20 got_size_ge $(($(stat -c %s "$T/got") + 1048576))
		counters_flushed "$PINE"
		da=$(($(rx wan1) - a1)) db=$(($(rx wan2) - b1))
		if [ "$da" -gt 500000 ] && [ $((db * 20)) -lt "$da" ]; then
			pass "then wan1 +$da bytes, wan2 +$db"
		else
			fail "after the return wan1 +$da bytes, wan2 +$db (want wan2 < 5% of wan1)"
		fi
	else
		fail "wan1 did not carry the download again: +$(($(rx wan1) - a0)) bytes"
		dump_logs "$T/cpe.log"
	fi
}

tcase "the download survives both switches intact" && {
	wait_until 60 got_size_ge $((MIB * 1048576))
	touch "$T/gate"
	wait_pid_exit $CPID 30
	crc=$?
	wait_pid_exit $SPID 10
	if [ $crc = 0 ] && cmp -s "$T/want" "$T/got"; then
		pass "$MIB MiB"
	else
		fail "client $crc: $(tail -n2 "$T/cli.log" | tr '\n' ' ') data $(data_diff "$T/want" "$T/got")"
	fi
}

tcase "a client that half-closes at once still gets its second subflow (the CPE holds the FIN), data intact" && {
	# mpc_peer sends nothing and shuts its side at once: without the
	# hold the CPE's DATA_FIN would beat the kernel's MP_JOIN
	f0=$(daemon_counter "$PINE" fin_held_for_subflows)
	rej0=$(nstat_get "$NS_CONC" MPTcpExtMPJoinRejected)
	# joins the CPE completed (this is the only connection now)
	jn0=$(nstat_get "$NS_CPE" MPTcpExtMPJoinSynAckRx)
	joined_more() { [ "$(nstat_get "$NS_CPE" MPTcpExtMPJoinSynAckRx)" -gt "$jn0" ]; }
	bg "$NS_SRV" "$T/srv2.log" "$PEER" --listen "$SRV4:$((SPORT + 1))" --tcp \
		--source-bytes $((4 * 1048576)) --seed 34 --count 1 --timeout 60
	spid=$BG_PID
	wait_listen "$NS_SRV" $((SPORT + 1))
	"$PEER" --gen $((4 * 1048576)) --seed 34 >"$T/want2"
	bg "$NS_CLI" "$T/cli2.log" "$PEER" --connect "$SRV4:$((SPORT + 1))" --tcp --recv "$T/got2" \
		--expect-bytes $((4 * 1048576)) --timeout 60
	cpid=$BG_PID
	wait_until 10 joined_more
	joined=$?
	wait_pid_exit $cpid 60
	crc=$?
	wait_pid_exit $spid 10
	counters_flushed "$PINE"
	f1=$(daemon_counter "$PINE" fin_held_for_subflows)
	if [ $crc != 0 ] || ! cmp -s "$T/want2" "$T/got2"; then
		fail "client $crc, data $(data_diff "$T/want2" "$T/got2")"
	elif [ $joined != 0 ] && [ "$(nstat_get "$NS_CONC" MPTcpExtMPJoinRejected)" -gt "$rej0" ]; then
		skip "$(join_rejected_why)"
	elif [ $joined != 0 ]; then
		fail "no subflow from $CPE_WAN2_4 (fin_held_for_subflows ${f0:-0} -> ${f1:-0}; CPE: $(nsx "$NS_CPE" nstat -az | grep MPTcpExt | grep -v ' 0 ' | awk '{print $1"="$2}' | tr '\n' ' '))"
	else
		# held only when the FIN came before the join was up
		pass "fin_held_for_subflows ${f0:-0} -> ${f1:-0}"
	fi
}

dcount() { daemon_counter "$PINE" "$1"; }	# dcount NAME: a CPE daemon counter
# half_closing_download PORT: 1 MiB to a client that shuts its side at once
half_closing_download() {
	bg "$NS_SRV" "$T/srv$1.log" "$PEER" --listen "$SRV4:$1" --tcp --source-bytes 1048576 \
		--seed "$1" --count 1 --timeout 30
	local spid=$BG_PID rc
	wait_listen "$NS_SRV" "$1" || return 1
	nsx "$NS_CLI" "$PEER" --connect "$SRV4:$1" --tcp --recv "$T/got$1" --expect-bytes 1048576 \
		--timeout 30 >"$T/cli$1.log" 2>&1
	rc=$?
	wait_pid_exit $spid 10
	"$PEER" --gen 1048576 --seed "$1" | cmp -s - "$T/got$1" && [ $rc = 0 ]
}

tcase "a usable-looking link that opens no subflow: one FIN waits the bound, later ones are not held" && {
	# a fresh CPE (no hold-off left from earlier cases), 300 ms bound
	stop_pid $CPE_PID
	cpe_start "$T/cpe2.log" $PORT --backup wan2 --fin-hold 300
	# the concentrator cannot answer wan2 any more (its replies to the
	# address are blackholed), while wan2 keeps carrier and routes
	nsx "$NS_CONC" ip route add blackhole $CPE_WAN2_4/32
	counters_flushed "$PINE"
	h0=$(dcount fin_held_for_subflows) e0=$(dcount fin_hold_expired)
	half_closing_download $((SPORT + 2))
	r1=$?
	counters_flushed "$PINE"
	h1=$(dcount fin_held_for_subflows) e1=$(dcount fin_hold_expired)
	half_closing_download $((SPORT + 3))
	r2=$?
	counters_flushed "$PINE"
	h2=$(dcount fin_held_for_subflows)
	nsx "$NS_CONC" ip route del blackhole $CPE_WAN2_4/32
	if [ $r1 != 0 ] || [ $r2 != 0 ]; then
		fail "a download failed: $(cat "$T/cli$((SPORT + 2)).log" "$T/cli$((SPORT + 3)).log" | tr '\n' ' ')"
	elif [ "$h1" != $((h0 + 1)) ] || [ "$e1" != $((e0 + 1)) ]; then
		fail "first FIN: held $h0 -> $h1, expired $e0 -> $e1 (want +1, +1)"
	elif [ "$h2" != "$h1" ]; then
		fail "the second FIN was held too ($h1 -> $h2)"
	else
		pass
	fi
}

stop_pid $CPE_PID
stop_pid $CONC_PID
finish
