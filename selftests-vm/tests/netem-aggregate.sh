#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Scenario (a), VM only (netem): bandwidth aggregation over two access
# links of different RTT.
#
#   wan1/acc1: RTT 20 ms (10 ms each way), 10 Mbit/s each way
#   wan2/acc2: RTT 50 ms (25 ms each way), 10 Mbit/s each way
#
# netem (delay) as root with tbf (rate, ~50 ms buffer) as its child on
# both ends of each link (lib/netem.sh). The first case checks that this
# link model does what it says: the ping RTT of each link and the goodput
# of one plain TCP download over each link alone (iperf3 from the CPE,
# SO_BINDTODEVICE). The second case downloads for 30 s through both MCPs
# (explicit mode) and needs >= 0.85 of the configured 20 Mbit/s; it also
# reports the figure as a ratio of the two measured single-link goodputs
# and how busy the guest's CPUs were (TCG: is the guest CPU-bound?).
. "$(dirname "$0")/../../tests/lib.sh"
. "$(dirname "$0")/lib/netem.sh"

C_LINKS="links: RTT 20 and 50 ms, 10 Mbit/s, single-link goodput measured"
C_AGGR="RTT 20/50 ms, 2x10 Mbit/s: a 30 s download through mpconv reaches >= 0.85 of 20 Mbit/s"
netem_or_skip "$C_LINKS" "$C_AGGR"

RATE=10
RTT1=20
RTT2=50
DUR=${MPC_AGGR_SECONDS:-30}

lab_create || { echo "not ok - lab set-up"; exit 1; }
offloads_off || { echo "not ok - ethtool -K on the WAN links"; exit 1; }
wan_link 1 $RTT1 $RATE && wan_link 2 $RTT2 $RATE || { echo "not ok - netem/tbf set-up"; exit 1; }
echo "# wan1: $(nsx "$NS_CPE" tc qdisc show dev wan1 | tr '\n' ';')"

bg "$NS_SRV" "$MPC_TMP/iperf.log" iperf3 -s -B "$SRV4" -p 5201
wait_listen "$NS_SRV" 5201 20 || { echo "not ok - iperf3 server"; exit 1; }

# cpu_jiffies: "busy total" jiffies of the guest (all CPUs, /proc/stat);
# busy_pct B0 T0 B1 T1: busy share in between, in %
cpu_jiffies() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
busy_pct() { awk -v b=$(($3 - $1)) -v t=$(($4 - $2)) 'BEGIN { printf "%.0f", (t > 0 ? 100 * b / t : 0) }'; }

single1=0 single2=0
if tcase "$C_LINKS"; then
	r1=$(rtt_min "$NS_CPE" $CONC_ACC1_4)
	r2=$(rtt_min "$NS_CPE" $CONC_ACC2_4)
	# one TCP download over each link alone, steady state (-O 2 leaves
	# out slow start): the reference for the aggregate
	read -r busy0 tot0 <<<"$(cpu_jiffies)"
	single1=$(iperf_bps "$NS_CPE" -c "$SRV4" -p 5201 -R -t 12 -O 2 --bind-dev wan1)
	read -r busy1 tot1 <<<"$(cpu_jiffies)"
	single2=$(iperf_bps "$NS_CPE" -c "$SRV4" -p 5201 -R -t 12 -O 2 --bind-dev wan2)
	msg="rtt min wan1 ${r1:-lost} ms, wan2 ${r2:-lost} ms; goodput wan1 $(mbit "$single1"), wan2 $(mbit "$single2") Mbit/s"
	msg="$msg; guest CPU $(busy_pct $busy0 $tot0 $busy1 $tot1)% busy during one"
	echo "# $msg"
	if [ -z "$r1" ] || [ -z "$r2" ]; then
		fail "pings lost: $msg"
	elif ! ge "$r1" $RTT1 || ge "$r1" $((RTT1 + 10)) || ! ge "$r2" $RTT2 ||
		ge "$r2" $((RTT2 + 10)); then
		fail "RTTs are not ~$RTT1 and ~$RTT2 ms: $msg"
	elif ! ge "$single1" $((RATE * 850000)) || ge "$single1" $((RATE * 1000000)) ||
		! ge "$single2" $((RATE * 850000)) || ge "$single2" $((RATE * 1000000)); then
		# 1448 of every 1514 bytes are payload: ~9.56 Mbit/s at best
		fail "single-link goodput not within 0.85-1.0 of $RATE Mbit/s: $msg"
	else
		pass "$msg"
	fi
fi

if tcase "$C_AGGR"; then
	if ! start_conc || ! start_cpe; then
		fail "daemons did not start"
	else
		a0=$(if_bytes "$NS_CPE" wan1 rx)
		b0=$(if_bytes "$NS_CPE" wan2 rx)
		read -r busy0 tot0 <<<"$(cpu_jiffies)"
		bps=$(iperf_bps "$NS_CLI" -c "$SRV4" -p 5201 -R -t "$DUR")
		read -r busy1 tot1 <<<"$(cpu_jiffies)"
		a1=$(if_bytes "$NS_CPE" wan1 rx)
		b1=$(if_bytes "$NS_CPE" wan2 rx)
		busy=$(busy_pct $busy0 $tot0 $busy1 $tot1)
		r=$(ratio "$bps" $((2 * RATE * 1000000)))
		msg="mpconv $(mbit "$bps") Mbit/s over ${DUR} s = $r of $((2 * RATE)) Mbit/s"
		if [ "$single1" != 0 ] && [ "$single2" != 0 ]; then
			msg="$msg, $(ratio "$bps" $((single1 + single2))) of the single-link goodputs' sum ($(mbit $((single1 + single2))) Mbit/s)"
		fi
		msg="$msg; wan1 +$(((a1 - a0) / 1000000)) MB, wan2 +$(((b1 - b0) / 1000000)) MB; guest CPU ${busy}% busy"
		echo "# $msg"
		if ! ge "$r" 0.85; then
			fail "$msg"
			dump_logs "$MPC_TMP/cpe.log" "$MPC_TMP/conc.log"
		elif [ $((a1 - a0)) -lt 10000000 ] || [ $((b1 - b0)) -lt 10000000 ]; then
			fail "a WAN link carried less than 10 MB: $msg"
		else
			pass "$msg"
		fi
	fi
	stop_daemons
fi
finish
