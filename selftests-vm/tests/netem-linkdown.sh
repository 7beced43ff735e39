#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Scenario (d), VM only (netem): an access link goes down in the middle of
# a transfer through mpconv; the transfer completes intact on the other.
#
#   wan1/acc1 and wan2/acc2: RTT 20 ms, 10 Mbit/s each way
#
# A 16 MiB upload and a 16 MiB download run at once from an unmodified
# TCP client (about 7 s over both links). Once wan2 has carried 1 MB of
# the download, `ip link set wan2 down` on the CPE (its routes and the
# subflow's path go with it). The transfer must complete, sha256 intact
# both ways, with the other link carrying at least 2 MB each way after
# the down. Cases: explicit mode, implicit mode, and explicit mode losing
# wan1 instead: the link of the initial (MP_CAPABLE) subflow.
# After each case the link comes back up, the lab's routes over it are
# restored (IPv6 addresses are kept: keep_addr_on_down) and the next case
# starts fresh daemons.
. "$(dirname "$0")/../../tests/lib.sh"
. "$(dirname "$0")/lib/netem.sh"

C_EXP="explicit mode: wan2 down mid-transfer, 16 MiB each way complete intact over wan1"
C_IMP="implicit mode: wan2 down mid-transfer, 16 MiB each way complete intact over wan1"
C_EXP1="explicit mode: wan1 (initial subflow) down mid-transfer, complete intact over wan2"
netem_or_skip "$C_EXP" "$C_IMP" "$C_EXP1"

MIB=${MPC_LINKDOWN_MIB:-16}
PORT=9600

lab_create || { echo "not ok - lab set-up"; exit 1; }
for i in 1 2; do
	nsx "$NS_CPE" sysctl -qw "net.ipv6.conf.wan$i.keep_addr_on_down=1"
done
offloads_off || { echo "not ok - ethtool -K on the WAN links"; exit 1; }
wan_link 1 20 10 && wan_link 2 20 10 || { echo "not ok - netem/tbf set-up"; exit 1; }
mkdata "$MPC_TMP/up" "$MIB"
mkdata "$MPC_TMP/down" "$MIB"

# link_up N: wanN up again with the lab's routes over it, neighbours ok
link_up() {
	local n=$1 gw4 gw6 metric
	nsx "$NS_CPE" ip link set "wan$n" up
	if [ "$n" = 1 ]; then gw4=$CONC_ACC1_4 gw6=$CONC_ACC1_6 metric=100
	else gw4=$CONC_ACC2_4 gw6=$CONC_ACC2_6 metric=200; fi
	nsx "$NS_CPE" ip route replace default via $gw4 dev "wan$n" metric $metric
	nsx "$NS_CPE" ip -6 route replace default via $gw6 dev "wan$n" metric $metric
	[ "$n" = 1 ] && {
		nsx "$NS_CONC" ip route replace 192.0.2.0/26 via $CPE_WAN1_4
		nsx "$NS_CONC" ip -6 route replace 2001:db8:1::/64 via $CPE_WAN1_6
		nsx "$NS_CONC" ip route replace 198.51.100.0/24 via $CPE_WAN1_4
	}
	wait_until 20 nsx "$NS_CPE" ping -c1 -W1 -q "$gw4" &&
		wait_until 20 nsx "$NS_CPE" ping -6 -c1 -W1 -q "$gw6"
}

# run_case MODE DOWN_N: one transfer, wanDOWN_N down once wanDOWN_N has
# received 1 MB; the other link must carry the rest
run_case() {
	local mode=$1 dn=$2 other spid cpid rx0 orx0 orx1 otx0 otx1 rxd t0 ms peer
	other=$((3 - dn))
	# implicit mode: the route to the server runs through the concentrator
	start_conc "$mode" && start_cpe "$mode" || { fail "daemons did not start"; return; }
	bg "$NS_SRV" "$MPC_TMP/srv-$mode$dn.log" "$SCEN_PEER" --listen "$SRV4:$PORT" --mptcp \
		--sink "$MPC_TMP/srx" --source "$MPC_TMP/down" --count 1 --timeout 300
	spid=$BG_PID
	wait_listen "$NS_SRV" $PORT 20
	rx0=$(pid_if_bytes $CPE_PID "wan$dn" rx)
	t0=$(_now_ms)
	bg "$NS_CLI" "$MPC_TMP/cli-$mode$dn.log" "$SCEN_PEER" --connect "$SRV4:$PORT" --tcp \
		--send "$MPC_TMP/up" --recv "$MPC_TMP/crx" --timeout 240
	cpid=$BG_PID
	carried() { [ $(($(pid_if_bytes $CPE_PID "wan$dn" rx) - rx0)) -ge 1000000 ]; }
	if ! wait_until 60 carried; then
		fail "wan$dn never carried 1 MB of the transfer"
		stop_pid $cpid
		stop_pid $spid
		stop_daemons
		return
	fi
	orx0=$(pid_if_bytes $CPE_PID "wan$other" rx)
	otx0=$(pid_if_bytes $CPE_PID "wan$other" tx)
	nsx "$NS_CPE" ip link set "wan$dn" down
	rxd=$(($(pid_if_bytes $CPE_PID "wan$dn" rx) - rx0))
	wait_pid_exit $cpid 240
	rc=$?
	ms=$(($(_now_ms) - t0))
	orx1=$(pid_if_bytes $CPE_PID "wan$other" rx)
	otx1=$(pid_if_bytes $CPE_PID "wan$other" tx)
	wait_pid_exit $spid 30
	peer=$(sed -n 's/^conn peer=\([^ ]*\) .*/\1/p' "$MPC_TMP/srv-$mode$dn.log")
	msg="wan$dn down after $((rxd / 1000000)).$((rxd % 1000000 / 100000)) MB down on it; done in $((ms / 1000)).$((ms % 1000 / 100)) s, wan$other carried $(((orx1 - orx0) / 1000000)) MB down and $(((otx1 - otx0) / 1000000)) MB up after the down"
	echo "# $mode: $msg"
	if [ $rc != 0 ]; then
		fail "client failed (status $rc): $(cat "$MPC_TMP/cli-$mode$dn.log")"
		dump_logs "$MPC_TMP/srv-$mode$dn.log" "$MPC_TMP/cpe.log" "$MPC_TMP/conc.log"
	elif [ "$(sha "$MPC_TMP/srx")" != "$(sha "$MPC_TMP/up")" ]; then
		fail "upstream data differs: $(data_diff "$MPC_TMP/up" "$MPC_TMP/srx")"
	elif [ "$(sha "$MPC_TMP/crx")" != "$(sha "$MPC_TMP/down")" ]; then
		fail "downstream data differs: $(data_diff "$MPC_TMP/down" "$MPC_TMP/crx")"
	elif [[ "$peer" != 203.0.113.1:* ]]; then
		fail "the server saw $peer, not the concentrator: not proxied"
	elif [ $((orx1 - orx0)) -lt 2000000 ] || [ $((otx1 - otx0)) -lt 2000000 ]; then
		fail "wan$other carried less than 2 MB one way after the down: $msg"
	else
		pass "$msg"
	fi
	rm -f "$MPC_TMP/srx" "$MPC_TMP/crx"
	stop_daemons
	link_up "$dn" || echo "# wan$dn did not come back"
}

tcase "$C_EXP" && run_case explicit 2
tcase "$C_IMP" && run_case implicit 2
tcase "$C_EXP1" && run_case explicit 1
finish
