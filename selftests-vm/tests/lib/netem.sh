# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Helpers of the delay/loss scenario scripts (selftests-vm/tests/netem-*.sh).
# Source after tests/lib.sh. Not a test itself: tests/run only runs the
# *.sh files at the top of selftests-vm/tests/.
#
# Link model (wan_link): on each side of a WAN link (cpe/wanN egress and
# conc/accN egress) netem is the root qdisc and tbf its child:
#
#   root 1: netem delay D/2 [loss L] limit 10000     the propagation delay
#     parent 1:1  2: tbf rate R burst B limit Q       the access bottleneck
#
# netem holds each packet for the one-way delay, then hands it to tbf,
# which serialises at R with a buffer of Q (~50 ms at R, as tests/lib.sh's
# shape()). The delay line is not the bottleneck buffer: netem's limit
# only has to hold a delay's worth of packets, so it is large; the queue
# that TCP fills is tbf's. The RTT of a link is twice the one-way delay D/2
# (half the RTT in each direction, as on a real access link).
# TSO/GSO are off on the WAN veths so that netem and tbf see one segment
# per packet: a 1% loss then drops 1% of the segments, not 1% of 64 KiB
# GSO bursts, and tbf's rate is per wire packet.

SCEN_PEER=$TOOLS/mpc_peer
SCEN_PCAP=$MPC_REPO/tests/tools/pcap_tcp.py

# netem_probe: can this kernel run netem? Sets NETEM_WHY when it cannot.
# A probe, never a version check: a namespace of our own, netem on its lo.
netem_probe() {
	local ns="mpc-$SUFFIX-probe" out rc keep=() n
	ip netns add "$ns" || { NETEM_WHY="cannot create a network namespace"; return 1; }
	MPC_NETNS+=("$ns")	# deleted on exit if we die in between
	out=$(nsx "$ns" tc qdisc add dev lo root netem delay 1ms 2>&1)
	rc=$?
	ip netns del "$ns"
	for n in "${MPC_NETNS[@]}"; do [ "$n" = "$ns" ] || keep+=("$n"); done
	MPC_NETNS=("${keep[@]}")
	[ $rc = 0 ] && return 0
	NETEM_WHY="no sch_netem in kernel $(uname -r) (tc: ${out//$'\n'/ })"
	return 1
}

# netem_or_skip CASE...: on a kernel without netem, report every case of
# the script as skipped with the reason, and end the script.
netem_or_skip() {
	local c
	netem_probe && return 0
	echo "# $NETEM_WHY: the delay/loss scenarios run in the VM (selftests-vm/run)"
	for c in "$@"; do
		tcase "$c" && skip "$NETEM_WHY"
	done
	finish
}

# wan_side NS IF DELAY_MS RATE_MBIT [LOSS_PCT]: one direction of a link.
# RATE_MBIT 0: no rate limit (netem only).
wan_side() {
	local ns=$1 ifc=$2 d=$3 r=$4 loss=${5:-0} burst limit args
	nsx "$ns" tc qdisc del dev "$ifc" root 2>/dev/null
	args=(delay "${d}ms")
	[ "$loss" != 0 ] && args+=(loss "${loss}%")
	nsx "$ns" tc qdisc add dev "$ifc" root handle 1: netem "${args[@]}" limit 10000 || return 1
	[ "$r" = 0 ] && return 0
	burst=$((r * 1000000 / 8 / 100))
	[ $burst -lt 16000 ] && burst=16000
	limit=$((r * 1000000 / 8 / 20))
	[ $limit -lt 64000 ] && limit=64000
	nsx "$ns" tc qdisc add dev "$ifc" parent 1:1 handle 2: tbf rate "${r}mbit" \
		burst "$burst" limit "$limit"
}

# wan_link N RTT_MS RATE_MBIT [LOSS_PCT]: link N (1 or 2) of the lab, half
# the RTT each way, the same rate (and loss) in both directions.
wan_link() {
	local n=$1 h
	h=$(awk -v r="$2" 'BEGIN { printf "%g", r / 2 }')
	wan_side "$NS_CPE" "wan$n" "$h" "$3" "${4:-0}" &&
		wan_side "$NS_CONC" "acc$n" "$h" "$3" "${4:-0}"
}

# wan_clear: no qdisc of ours on the WAN links
wan_clear() {
	local i
	for i in 1 2; do
		nsx "$NS_CPE" tc qdisc del dev "wan$i" root 2>/dev/null
		nsx "$NS_CONC" tc qdisc del dev "acc$i" root 2>/dev/null
	done
	return 0
}

# offloads_off: one segment per packet on the WAN veths (see above)
offloads_off() {
	local i
	for i in 1 2; do
		nsx "$NS_CPE" ethtool -K "wan$i" tso off gso off 2>/dev/null >&2 &&
			nsx "$NS_CONC" ethtool -K "acc$i" tso off gso off 2>/dev/null >&2 || return 1
	done
}

# netem_drops NS IF: packets netem dropped on IF (its "dropped" counter)
netem_drops() {
	nsx "$1" tc -s qdisc show dev "$2" | awk '/^qdisc netem/ { n = 1 } n && /dropped/ {
		for (i = 1; i <= NF; i++) if ($i == "(dropped") { sub(",", "", $(i + 1)); print $(i + 1); exit } }'
}

# if_bytes NS IF rx|tx: interface byte counter (the netns' /proc/net/dev)
if_bytes() {
	nsx "$1" cat /proc/net/dev | awk -v i="$2:" -v d="$3" '$1 == i {
		print (d == "rx" ? $2 : $10) }'
}

# pid_if_bytes PID IF rx|tx: the same from /proc/PID/net/dev, PID being
# any process in the namespace (a daemon): no exec, so it can be polled
# often under TCG, where every exec costs 0.1-0.4 s
pid_if_bytes() {
	local line f
	while read -r line; do
		case $line in
		"$2:"*)
			read -ra f <<<"${line#*:}"
			[ "$3" = rx ] && echo "${f[0]}" || echo "${f[8]}"
			return 0 ;;
		esac
	done <"/proc/$1/net/dev"
	return 1
}

# rtt_min NS DST: smallest of 5 ping RTTs in ms (one decimal), empty on loss
rtt_min() {
	nsx "$1" ping -c 5 -i 0.2 -W 2 -q "$2" 2>/dev/null |
		awk -F'[/ =]+' '/^rtt/ { printf "%.1f\n", $6 }'
}

# iperf_bps NS ARGS...: iperf3 client's received bits/s (download with -R)
iperf_bps() {
	local ns=$1
	shift
	nsx "$ns" iperf3 -J "$@" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
try:
    print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))
except Exception:
    print(0)'
}

mbit() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# ---- the daemons ------------------------------------------------------

SCEN_PORT=5124
scen_running() { "$MPCONV" --pin-path "$1" status >/dev/null 2>&1; }

# start_conc [explicit|implicit]: the concentrator (sets CONC_PID, PINC)
start_conc() {
	local mode=${1:-explicit} extra=()
	[ "$mode" = implicit ] && extra=(--on-path acc1,acc2)
	PINC=${PINC:-$(pin_dir conc)}
	bg "$NS_CONC" "$MPC_TMP/conc.log" "$MPCONV" -v --pin-path "$PINC" concentrator \
		--listen "$CONC4:$SCEN_PORT" --listen "[$CONC6]:$SCEN_PORT" \
		--allow 198.51.100.0/24 --allow 2001:db8:10::/44 "${extra[@]}"
	CONC_PID=$BG_PID
	wait_until 60 scen_running "$PINC" && wait_listen "$NS_CONC" $SCEN_PORT 30 || {
		dump_logs "$MPC_TMP/conc.log"
		return 1
	}
}

# start_cpe [explicit|implicit] [ARGS...]: the CPE (sets CPE_PID, PINE)
start_cpe() {
	local mode=${1:-explicit}
	shift
	PINE=${PINE:-$(pin_dir cpe)}
	if [ "$mode" = implicit ]; then
		bg "$NS_CPE" "$MPC_TMP/cpe.log" "$MPCONV" -v --pin-path "$PINE" cpe --lan lan \
			--wan wan1,wan2 --mode implicit "$@"
	else
		bg "$NS_CPE" "$MPC_TMP/cpe.log" "$MPCONV" -v --pin-path "$PINE" cpe --lan lan \
			--wan wan1,wan2 --concentrator "$CONC4:$SCEN_PORT" "$@"
	fi
	CPE_PID=$BG_PID
	wait_until 60 scen_running "$PINE" || { dump_logs "$MPC_TMP/cpe.log"; return 1; }
}

stop_daemons() {
	[ -n "${CPE_PID:-}" ] && stop_pid "$CPE_PID"
	[ -n "${CONC_PID:-}" ] && stop_pid "$CONC_PID"
	CPE_PID= CONC_PID=
}
