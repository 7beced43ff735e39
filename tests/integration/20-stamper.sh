#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# tc_wan, the CPE's MP_PREFER_PROXY stamper, on real veth links with real
# MPTCP connections (BPF_PROG_TEST_RUN cannot make CHECKSUM_PARTIAL skbs).
# Standard lab (tests/lib.sh); only cpe and conc take part:
#
#   cpe [wan1] 198.51.100.2 ===== 198.51.100.1 [acc1] conc   MPTCP echo server
#       [wan2] 198.51.100.66 ==== 198.51.100.65 [acc2]      (ports 5201/5202)
#
# tc_wan is attached at egress of wan1 and wan2 by tests/tools/mpc_onpath
# (the user/onpath.c loader). Clients in cpe open MPTCP connections with
# SO_MARK (stamped) or without (not stamped); tcpdump in conc captures the
# SYNs, tests/tools/onpath_pcap.py checks the option and the checksums:
#
# - veth with tx checksum offload (its default) hands the receiver the
#   CHECKSUM_PARTIAL skb unfinished: the TCP checksum field must then hold
#   the pseudo-header sum for the NEW length ("partial"), which is what
#   the BPF_F_PSEUDO_HDR update must produce;
# - with offload off the stack finishes the checksum in software after tc:
#   the SYN must carry a fully valid checksum ("full", and tcpdump says
#   "correct"), and the receiving kernel verifies it before answering.
# In both, the connection must be established and be MPTCP end to end
# (the stamp is an option a stock stack ignores).

. "$(dirname "$0")/../lib.sh"
. "$MPC_REPO/tests/tools/onpath_lib.sh"

MARK=0x4d50
PORT=5201

if [ ! -x "$ONPATH" ]; then
	echo "not ok - mpc_onpath built ($ONPATH missing)"
	exit 1
fi
for t in tcpdump ethtool bpftool; do
	command -v $t >/dev/null || { echo "ok - stamper # SKIP $t missing"; exit 0; }
done

tcase "lab" || true
lab_create || { fail "lab did not come up"; finish; }
pass

PIN=$(pin_dir cpe)
T=$MPC_TMP

tcase "attach tc_wan on wan1,wan2"
bg "$NS_CPE" "$T/onpath.log" "$ONPATH" --pin "$PIN" --wan wan1,wan2 --stamp-mark $MARK
ONPATH_PID=$BG_PID
if wait_until 10 grep -q '^ready' "$T/onpath.log" &&
	nsx "$NS_CPE" "$TOOLS/mpc_netprogs" wan1 | grep -q 'tcx_egress=1' &&
	nsx "$NS_CPE" "$TOOLS/mpc_netprogs" wan2 | grep -q 'tcx_egress=1'; then
	pass
else
	dump_logs "$T/onpath.log"
	fail "loader not ready"
	finish
fi

bg "$NS_CONC" "$T/srv4.log" $PY "$ONPATH_PY/onpath_sock.py" server $CONC_ACC1_4 $PORT
bg "$NS_CONC" "$T/srv6.log" $PY "$ONPATH_PY/onpath_sock.py" server $CONC_ACC1_6 $PORT
tap_start "$NS_CONC" acc1 "$T/acc1.pcap" "$T/tap1.log"
tap_start "$NS_CONC" acc2 "$T/acc2.pcap" "$T/tap2.log"
wait_listen "$NS_CONC" $PORT || { echo "# servers not listening"; dump_logs "$T"/srv*.log; }

# connect NAME DST [MARK] [SUBFLOWS]: client in cpe, JSON in $T/NAME.json
connect() {
	nsx "$NS_CPE" $PY "$ONPATH_PY/onpath_sock.py" client "$2" $PORT --mark "${3:-0}" \
		--subflows "${4:-0}" >"$T/$1.json" 2>"$T/$1.err"
}

# syn_line NAME PCAP: the pcap line of the SYN of client NAME; waits for
# tcpdump to have written it
syn_line() {
	local src
	src=$(json_get "$T/$1.json" local) || return 1
	wait_until 5 sh -c "$PY $ONPATH_PY/onpath_pcap.py $2 | grep -qF ' ${src%:*}.${src##*:} > '"
	pcap_syn "$2" "$src"
}

# check_conn NAME: echo worked and the connection is MPTCP (not fallback)
check_conn() {
	[ "$(json_get "$T/$1.json" echo_ok)" = true ] || { echo "# $1: no echo"; return 1; }
	[ "$(json_get "$T/$1.json" mptcp)" = true ] &&
		[ "$(json_get "$T/$1.json" fallback)" = false ] ||
		{ echo "# $1: not MPTCP: $(cat "$T/$1.json")"; return 1; }
}

# stamped_case NAME DST CSUM: marked connection, SYN stamped with TCP
# checksum state CSUM
stamped_case() {
	local line
	connect "$1" "$2" $MARK || { fail "client failed: $(cat "$T/$1.err" "$T/$1.json")"; return; }
	check_conn "$1" || { fail "connection"; return; }
	line=$(syn_line "$1" "$T/acc1.pcap")
	echo "# $line"
	case $line in
	*" prefer=f "*" tcp=$3") ;;
	*) fail "SYN not as expected (want prefer=f tcp=$3)"; return ;;
	esac
	case $2 in *:*) ;; *) [[ $line == *" ip=ok "* ]] || { fail "IPv4 header checksum"; return; } ;; esac
	pass
}

STAMPED=0

tcase "v4 marked SYN stamped, pseudo-header sum right (CHECKSUM_PARTIAL)" &&
	stamped_case v4p $CONC_ACC1_4 partial
STAMPED=$((STAMPED + 1))
tcase "v6 marked SYN stamped, pseudo-header sum right (CHECKSUM_PARTIAL)" &&
	stamped_case v6p $CONC_ACC1_6 partial
STAMPED=$((STAMPED + 1))

tcase "v4 unmarked SYN untouched"
if connect v4u $CONC_ACC1_4 0 && check_conn v4u; then
	line=$(syn_line v4u "$T/acc1.pcap")
	echo "# $line"
	[[ $line == *" mpc=1 "*" prefer=- "* ]] && pass || fail "unmarked SYN changed"
else
	fail "client failed"
fi

# the checksum is finished in software after tc: it must verify in full,
# at the receiving kernel (connection established) and for tcpdump
nsx "$NS_CPE" ethtool -K wan1 tx off >/dev/null 2>&1
tcase "v4 marked SYN stamped, full checksum valid (offload off)" &&
	stamped_case v4f $CONC_ACC1_4 full
STAMPED=$((STAMPED + 1))
tcase "v6 marked SYN stamped, full checksum valid (offload off)" &&
	stamped_case v6f $CONC_ACC1_6 full
STAMPED=$((STAMPED + 1))

tcase "tcpdump verifies the stamped SYNs' checksums"
ok=1
for n in v4f v6f; do
	src=$(json_get "$T/$n.json" local)
	out=$(tcpdump -r "$T/acc1.pcap" -nn -vv "tcp[tcpflags] & tcp-syn != 0 or ip6" 2>/dev/null |
		tr '\n' ' ' | sed 's/\([0-9]\{2\}:[0-9]\{2\}:[0-9]\{2\}\.\)/\n\1/g' |
		grep -F "${src%:*}.${src##*:} >" | grep -F "Flags [S]," | head -n1)
	echo "# $n: $(echo "$out" | grep -oE 'cksum 0x[0-9a-f]+ \([^)]*\)')"
	echo "$out" | grep -q 'cksum 0x[0-9a-f]* (correct)' || ok=0
done
[ $ok = 1 ] && pass || fail "tcpdump does not call the checksums correct"
nsx "$NS_CPE" ethtool -K wan1 tx on >/dev/null 2>&1

# a second path: MP_JOIN SYNs leave by wan2 and must not be stamped
nsx "$NS_CPE" ip rule add from $CPE_WAN2_4 lookup 202 pref 1002
nsx "$NS_CPE" ip route add default via $CONC_ACC2_4 dev wan2 table 202
nsx "$NS_CPE" ip mptcp endpoint add $CPE_WAN2_4 dev wan2 subflow
tcase "MP_JOIN SYN of a marked connection not stamped"
join_before=$(stat_count "$PIN" STAMP_JOIN)
if connect v4j $CONC_ACC1_4 $MARK 2 && check_conn v4j &&
	[ "$(json_get "$T/v4j.json" subflows)" -ge 2 ]; then
	STAMPED=$((STAMPED + 1))
	wait_until 5 sh -c "$PY $ONPATH_PY/onpath_pcap.py $T/acc2.pcap | grep -q ' syn .*join=1'"
	line=$($PY "$ONPATH_PY/onpath_pcap.py" "$T/acc2.pcap" | grep ' syn ' | grep 'join=1' | head -n1)
	echo "# $line"
	join_after=$(stat_count "$PIN" STAMP_JOIN)
	if [[ $line == *" prefer=- "* ]] && [ "$join_after" -gt "$join_before" ]; then
		pass
	else
		fail "JOIN SYN stamped or not counted ($join_before -> $join_after)"
	fi
else
	fail "second subflow did not come up: $(cat "$T/v4j.json" "$T/v4j.err")"
fi

tcase "stamp counter matches the marked connections"
n=$(stat_count "$PIN" STAMP_OK)
if [ "$n" = "$STAMPED" ] && [ "$(stat_count "$PIN" STAMP_ERR)" = 0 ]; then
	pass "$n stamped"
else
	fail "STAMP_OK=$n, expected $STAMPED; STAMP_ERR=$(stat_count "$PIN" STAMP_ERR)"
fi

tcase "loader detaches cleanly"
stop_pid $ONPATH_PID
if ! grep -q "counters: stamped=$STAMPED " "$T/onpath.log" || [ -e "$PIN/mpc_stats" ]; then
	dump_logs "$T/onpath.log"
	fail "counters or pins left"
elif ! connect v4d $CONC_ACC1_4 $MARK || ! check_conn v4d; then
	fail "client failed after detach"
else
	# no program left on the link: a marked SYN goes out as it is
	line=$(syn_line v4d "$T/acc1.pcap")
	echo "# $line"
	progs="$(nsx "$NS_CPE" "$TOOLS/mpc_netprogs" wan1) $(nsx "$NS_CPE" "$TOOLS/mpc_netprogs" wan2)"
	echo "# $progs"
	[[ $line == *" mpc=1 "*" prefer=- "* ]] || fail "still stamped after detach"
	[[ $progs != *"egress=1"* ]] && pass || fail "programs left on the links"
fi

finish
