#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Implicit mode end to end on the standard lab, daemons replaced by the
# loader tool (tests/tools/mpc_onpath) and a transparent MPTCP echo server:
#
#   cpe ---------------------------- conc --------------------- srv
#   [wan1] 198.51.100.2  ====  [acc1] 198.51.100.1    [srv0]   [eth0] 203.0.113.2
#   [wan2] 198.51.100.66 ====  [acc2] 198.51.100.65            echo server :8080
#   tc_wan (stamper)           xdp_guard + tc_pickup           (native traffic)
#   subflow endpoint on wan2   sockops on the server's cgroup
#                              transparent MPTCP echo server on 192.0.2.129 /
#                              2001:db8:ff::1 :5125; fwmark 0x1ca1 -> local
#
# Stamped connections to srv must end at conc's server (which sees the
# original destination), the token learnt by sockops must be MPTCP_INFO's,
# tc must take xdp_guard's metadata, and native MPTCP / plain TCP must
# reach srv untouched. MP_JOIN subflows follow by token: those the CPE
# sends to the server's address reach the server's "per-port listener"
# (as the concentrator daemon opens one on its listener address for each
# picked-up port: the kernel takes a join only on the connection's own
# port or an announced one), and once conc announces an address of its
# own, joins to it land on the path manager's listener. XDP drops stamped
# and Convert-port SYNs from outside --allow (here wan2's subnet is
# outside: 198.51.100.64/26).

. "$(dirname "$0")/../lib.sh"
. "$MPC_REPO/tests/tools/onpath_lib.sh"

SMARK=0x4d50	# CPE: SO_MARK of implicit-mode sockets
LMARK=0x1ca1	# concentrator: local delivery mark
LPORT=5125	# concentrator: transparent listener
CPORT=5124	# Convert port guarded by XDP
SPORT=8080	# the "server" port on srv

if [ ! -x "$ONPATH" ]; then
	echo "not ok - mpc_onpath built ($ONPATH missing)"
	exit 1
fi
command -v bpftool >/dev/null || { echo "ok - pickup # SKIP bpftool missing"; exit 0; }
[ -n "$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)" ] ||
	{ echo "ok - pickup # SKIP no cgroup2 mount"; exit 0; }

T=$MPC_TMP
tcase "lab" || true
lab_create || { fail "lab did not come up"; finish; }
pass

# CPE: second path with source routing and a subflow endpoint; no netns-
# wide MPTCP blackhole after the deliberately dropped SYNs below
nsx "$NS_CPE" sysctl -qw net.mptcp.blackhole_timeout=0 2>/dev/null
nsx "$NS_CPE" ip rule add from $CPE_WAN2_4 lookup 202 pref 1002
nsx "$NS_CPE" ip route add default via $CONC_ACC2_4 dev wan2 table 202
nsx "$NS_CPE" ip -6 rule add from $CPE_WAN2_6 lookup 202 pref 1002
nsx "$NS_CPE" ip -6 route add default via $CONC_ACC2_6 dev wan2 table 202
nsx "$NS_CPE" ip mptcp endpoint add $CPE_WAN2_4 dev wan2 subflow
# concentrator: marked packets are delivered locally (recipes.md)
for v in 4 6; do
	nsx "$NS_CONC" ip -$v rule add fwmark $LMARK lookup 100 pref 100
done
nsx "$NS_CONC" ip route add local 0.0.0.0/0 dev lo table 100
nsx "$NS_CONC" ip -6 route add local ::/0 dev lo table 100

CPE_PIN=$(pin_dir cpe)
CONC_PIN=$(pin_dir conc)

tcase "attach stamper (cpe) and pickup + guard + sockops (conc)"
bg "$NS_CPE" "$T/cpe.log" "$ONPATH" --pin "$CPE_PIN" --wan wan1,wan2 --stamp-mark $SMARK
CPE_PID=$BG_PID
bg "$NS_CONC" "$T/conc.log" "$ONPATH" --pin "$CONC_PIN" --bind-max 4096 \
	--allow 198.51.100.0/26 --allow 2001:db8:11::/64 --allow 2001:db8:12::/64 \
	--pick acc1,acc2 --port $LPORT --addr4 $CONC4 --addr6 $CONC6 --mark $LMARK \
	--convert-port $CPORT --cg -- \
	$PY "$ONPATH_PY/onpath_sock.py" server $CONC4,$CONC6 $LPORT,$SPORT --transparent
CONC_PID=$BG_PID
bg "$NS_SRV" "$T/srv.log" $PY "$ONPATH_PY/onpath_sock.py" server $SRV4,$SRV6 $SPORT
if wait_until 10 grep -q '^ready' "$T/cpe.log" && wait_until 10 grep -q '^ready' "$T/conc.log" &&
	wait_listen "$NS_CONC" $LPORT && wait_listen "$NS_SRV" $SPORT &&
	nsx "$NS_CONC" "$TOOLS/mpc_netprogs" acc2 | grep -q 'tcx_ingress=1 .*xdp=1'; then
	pass
else
	dump_logs "$T/cpe.log" "$T/conc.log" "$T/srv.log"
	fail "setup"
	finish
fi

# client NAME DST [ARGS...]: MPTCP client in cpe, JSON in $T/NAME.json
client() {
	local n=$1 dst=$2
	shift 2
	nsx "$NS_CPE" $PY "$ONPATH_PY/onpath_sock.py" client "$dst" $SPORT "$@" \
		>"$T/$n.json" 2>"$T/$n.err"
}

# conc_conn PEER: the conc server's JSON line for the connection from PEER
conc_conn() { grep -F "\"peer\": \"$1\"" "$T/conc.log" | grep -F '"local"' | tail -n1; }
counters() {
	kill -USR1 "$CONC_PID"
	wait_until 5 grep -q '^counters:' "$T/conc.log"
	grep '^counters:' "$T/conc.log" | tail -n1
}

# picked NAME DST: stamped connection NAME to DST:SPORT ended at conc
picked() {
	local n=$1 dst=$2 peer line
	client "$n" "$dst" --mark $SMARK || { fail "client: $(cat "$T/$n.json" "$T/$n.err")"; return 1; }
	peer=$(json_get "$T/$n.json" local)
	wait_until 5 sh -c "grep -F '\"peer\": \"$peer\"' '$T/conc.log' | grep -q local"
	line=$(conc_conn "$peer")
	echo "# conc saw: $line"
	case $dst in *:*) want="$dst:$SPORT" ;; *) want="$dst:$SPORT" ;; esac
	[[ $line == *"\"local\": \"$want\""* ]] ||
		{ fail "not picked up (server saw: ${line:-nothing})"; return 1; }
	[[ $line == *'"mptcp": true'* && $line == *'"fallback": false'* ]] ||
		{ fail "picked-up leg is not MPTCP"; return 1; }
	grep -qF "\"peer\": \"$peer\"" "$T/srv.log" && { fail "srv saw it too"; return 1; }
	return 0
}

tcase "v4 stamped connection picked up (original destination kept)"
syn0=$(stat_count "$CONC_PIN" PICK_SYN)
if picked v4 $SRV4; then
	[ "$(stat_count "$CONC_PIN" PICK_SYN)" -gt "$syn0" ] &&
		[ "$(stat_count "$CONC_PIN" PICK_FLOW)" -gt 0 ] && pass ||
		fail "PICK_SYN/PICK_FLOW not counted"
fi

tcase "v6 stamped connection picked up"
picked v6 $SRV6 && pass

tcase "sockops token = MPTCP_INFO token of the accepted connection"
tok=$(conc_conn "$(json_get "$T/v4.json" local)" | $PY -c 'import json,sys; print(json.loads(sys.stdin.read())["token"])')
key=$($PY -c "import struct,sys; print(' '.join(str(b) for b in struct.pack('=I', int(sys.argv[1]))))" "${tok:-0}")
if [ -n "$tok" ] && [ "$tok" != 0 ] &&
	bpftool -j map lookup pinned "$CONC_PIN/mpc_tokens" key $key >"$T/tok.json" 2>&1; then
	echo "# token $tok: $(cat "$T/tok.json")"
	pass
else
	echo "# token '$tok' not in mpc_tokens:"
	bpftool map dump pinned "$CONC_PIN/mpc_tokens" | head -20 | sed 's/^/#   /'
	fail "token missing"
fi

tcase "tc_pickup took xdp_guard's metadata"
line=$(counters)
echo "# $line"
meta=$(echo "$line" | sed -n 's/.*pick_meta=\([0-9]*\).*/\1/p')
added=$(echo "$line" | sed -n 's/.*tokens_added=\([0-9]*\).*/\1/p')
[ "${meta:-0}" -gt 0 ] && [ "${added:-0}" -ge 2 ] && pass ||
	fail "pick_meta=$meta tokens_added=$added"

# join_case NAME SUBFLOWS: marked connection that gets SUBFLOWS subflows
# at both ends, PICK_JOIN counted, no join refused for its port
join_case() {
	local n=$1 want=$2 j0 m0 m1 peer
	j0=$(stat_count "$CONC_PIN" PICK_JOIN)
	m0=$(nstat_get "$NS_CONC" MPTcpExtMismatchPortSynRx)
	if client "$n" $SRV4 --mark $SMARK --subflows "$want" --timeout 5 &&
		[ "$(json_get "$T/$n.json" subflows)" -ge "$want" ]; then
		peer=$(json_get "$T/$n.json" local)
		wait_until 5 sh -c "grep -F '\"closed\"' '$T/conc.log' | grep -qF '\"peer\": \"$peer\"'"
		echo "# conc: $(grep -F '"closed"' "$T/conc.log" | grep -F "\"peer\": \"$peer\"")"
		m1=$(nstat_get "$NS_CONC" MPTcpExtMismatchPortSynRx)
		if ! grep -F '"closed"' "$T/conc.log" | grep -F "\"peer\": \"$peer\"" |
			grep -q "\"subflows\": [$want-9]"; then
			fail "conc side has fewer than $want subflows"
		elif [ "$(stat_count "$CONC_PIN" PICK_JOIN)" -le "$j0" ] || [ "$m1" != "$m0" ]; then
			fail "PICK_JOIN $j0 -> $(stat_count "$CONC_PIN" PICK_JOIN), port mismatches $m0 -> $m1"
		else
			pass
		fi
	else
		echo "# client: $(cat "$T/$n.json")"
		echo "# PICK_JOIN $j0 -> $(stat_count "$CONC_PIN" PICK_JOIN)," \
			"JOIN_WAIT $(stat_count "$CONC_PIN" PICK_JOIN_WAIT)," \
			"JOIN_UNKNOWN $(stat_count "$CONC_PIN" PICK_JOIN_UNKNOWN)"
		nsx "$NS_CONC" nstat -az 2>/dev/null | grep -E 'MPTcpExt(MPJoin|MismatchPort|AddAddr)' |
			awk '$2 != 0 { printf "#   %s %s\n", $1, $2 }'
		fail "subflows not established"
	fi
}

tcase "MP_JOIN to the server address follows its connection (per-port listener)"
join_case v4j 2

# the concentrator announces itself on the second path (protocol.md §2.2:
# an on-path MCP "inserts itself for later subflows"); joins to it land
# on the path manager's own listener on that address and port
nsx "$NS_CONC" ip mptcp endpoint add $CONC_ACC2_4 dev acc2 port 5130 signal
tcase "MP_JOIN to an address the concentrator announced"
join_case v4a 3

tcase "native MPTCP (no stamp) reaches the server untouched"
nat0=$(stat_count "$CONC_PIN" PICK_NATIVE)
if client nat $SRV4; then
	peer=$(json_get "$T/nat.json" local)
	wait_until 5 grep -qF "\"peer\": \"$peer\"" "$T/srv.log"
	if grep -qF "\"peer\": \"$peer\"" "$T/srv.log" && [ -z "$(conc_conn "$peer")" ] &&
		[ "$(stat_count "$CONC_PIN" PICK_NATIVE)" -gt "$nat0" ]; then
		pass
	else
		fail "native connection not passed through"
	fi
else
	fail "client: $(cat "$T/nat.json" "$T/nat.err")"
fi

tcase "stamped SYN from outside --allow dropped by XDP"
d0=$(stat_count "$CONC_PIN" XDP_UNAUTH_STAMP)
client out $SRV4 --mark $SMARK --bind $CPE_WAN2_4 --timeout 2
d1=$(stat_count "$CONC_PIN" XDP_UNAUTH_STAMP)
[ "$(json_get "$T/out.json" echo_ok)" = false ] && [ "$d1" -gt "$d0" ] && pass ||
	fail "UNAUTH_STAMP $d0 -> $d1: $(cat "$T/out.json")"

tcase "Convert-port SYN from outside --allow dropped by XDP"
c0=$(stat_count "$CONC_PIN" XDP_UNAUTH_CONV)
nsx "$NS_CPE" $PY "$ONPATH_PY/onpath_sock.py" client $SRV4 $CPORT --bind $CPE_WAN2_4 \
	--timeout 2 >"$T/conv.json" 2>&1
c1=$(stat_count "$CONC_PIN" XDP_UNAUTH_CONV)
[ "$c1" -gt "$c0" ] && pass || fail "UNAUTH_CONV $c0 -> $c1"

tcase "plain TCP forwarded (no socket on conc)"
p0=$(stat_count "$CONC_PIN" PICK_PLAIN)
if nsx "$NS_CPE" $PY -c "
import socket, sys
s = socket.create_connection(('$SRV4', $SPORT), timeout=5)
s.sendall(b'plain'); sys.exit(0 if s.recv(5) == b'plain' else 1)" 2>"$T/plain.err"; then
	[ "$(stat_count "$CONC_PIN" PICK_PLAIN)" -gt "$p0" ] && pass || fail "PICK_PLAIN not counted"
else
	fail "plain TCP through conc failed: $(cat "$T/plain.err")"
fi

tcase "teardown: cgroup, pins and programs removed"
cg=$(grep -o 'cgroup [^ ]*mpconv-[0-9]*' "$T/conc.log" | head -n1 | cut -d' ' -f2)
stop_pid $CONC_PID
stop_pid $CPE_PID
progs=$(for i in acc1 acc2; do nsx "$NS_CONC" "$TOOLS/mpc_netprogs" $i; done
	for i in wan1 wan2; do nsx "$NS_CPE" "$TOOLS/mpc_netprogs" $i; done)
echo "# $(echo $progs)"
if [ -n "$cg" ] && [ ! -d "$cg" ] && [ ! -e "$CONC_PIN/mpc_tokens" ] &&
	! echo "$progs" | grep -q '=[1-9]'; then
	pass
else
	dump_logs "$T/conc.log"
	fail "cgroup '$cg' or pins left"
fi

finish
