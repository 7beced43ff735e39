#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Scenario (c), VM only (netem): 1% random loss on one access link.
#
#   wan1/acc1: RTT 20 ms, 10 Mbit/s each way, no loss
#   wan2/acc2: RTT 20 ms, 10 Mbit/s each way, netem loss 1% in BOTH
#              directions (on wan2's and on acc2's egress)
#
# A 16 MiB upload and a 16 MiB download at the same time, from an
# unmodified TCP client through both MCPs (explicit mode), must arrive
# intact (sha256 both ways). So that the loss cannot have been dodged, the
# case also requires that wan2 carried a good part of the data in each
# direction and that netem dropped packets on both ends of wan2.
. "$(dirname "$0")/../../tests/lib.sh"
. "$(dirname "$0")/lib/netem.sh"

C_LOSS="1% loss on wan2 both ways: 16 MiB each way through mpconv arrive intact"
netem_or_skip "$C_LOSS"

MIB=${MPC_LOSS_MIB:-16}
PORT=9500

lab_create || { echo "not ok - lab set-up"; exit 1; }
offloads_off || { echo "not ok - ethtool -K on the WAN links"; exit 1; }
wan_link 1 20 10 && wan_link 2 20 10 1 || { echo "not ok - netem/tbf set-up"; exit 1; }

if tcase "$C_LOSS"; then
	mkdata "$MPC_TMP/up" "$MIB"
	mkdata "$MPC_TMP/down" "$MIB"
	start_conc && start_cpe || { fail "daemons did not start"; finish; }
	bg "$NS_SRV" "$MPC_TMP/srv.log" "$SCEN_PEER" --listen "$SRV4:$PORT" --mptcp \
		--sink "$MPC_TMP/srx" --source "$MPC_TMP/down" --count 1 --timeout 300
	spid=$BG_PID
	wait_listen "$NS_SRV" $PORT 20
	tx0=$(if_bytes "$NS_CPE" wan2 tx)
	rx0=$(if_bytes "$NS_CPE" wan2 rx)
	t0=$(_now_ms)
	out=$(nsx "$NS_CLI" "$SCEN_PEER" --connect "$SRV4:$PORT" --tcp --send "$MPC_TMP/up" \
		--recv "$MPC_TMP/crx" --timeout 240 2>&1)
	rc=$?
	ms=$(($(_now_ms) - t0))
	wait_pid_exit $spid 30
	tx1=$(if_bytes "$NS_CPE" wan2 tx)
	rx1=$(if_bytes "$NS_CPE" wan2 rx)
	d_up=$(netem_drops "$NS_CPE" wan2)
	d_down=$(netem_drops "$NS_CONC" acc2)
	peer=$(sed -n 's/^conn peer=\([^ ]*\) .*/\1/p' "$MPC_TMP/srv.log")
	up=$((tx1 - tx0)) down=$((rx1 - rx0)) size=$((MIB * 1048576))
	msg="$((2 * MIB)) MiB in $((ms / 1000)).$((ms % 1000 / 100)) s; wan2 carried $((up / 1000000)) MB up, $((down / 1000000)) MB down; netem dropped ${d_up:-?} packets on wan2, ${d_down:-?} on acc2"
	echo "# $msg"
	if [ $rc != 0 ]; then
		fail "client failed: $out"
		dump_logs "$MPC_TMP/srv.log" "$MPC_TMP/cpe.log" "$MPC_TMP/conc.log"
	elif [ "$(sha "$MPC_TMP/srx")" != "$(sha "$MPC_TMP/up")" ]; then
		fail "upstream data differs: $(data_diff "$MPC_TMP/up" "$MPC_TMP/srx")"
	elif [ "$(sha "$MPC_TMP/crx")" != "$(sha "$MPC_TMP/down")" ]; then
		fail "downstream data differs: $(data_diff "$MPC_TMP/down" "$MPC_TMP/crx")"
	elif [[ "$peer" != 203.0.113.1:* ]]; then
		fail "the server saw $peer, not the concentrator: not proxied"
	elif [ $up -lt $((size / 5)) ] || [ $down -lt $((size / 5)) ]; then
		fail "wan2 carried less than a fifth of the data one way: $msg"
	elif [ "${d_up:-0}" -lt 1 ] || [ "${d_down:-0}" -lt 1 ]; then
		fail "netem dropped nothing on one side: $msg"
	else
		pass "$msg"
	fi
	stop_daemons
fi
finish
