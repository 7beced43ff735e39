#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Implicit mode (draft-boucadair-mptcp-plain-mode-10, protocol.md §2.2):
# the CPE opens MPTCP straight to the server's address from a marked
# socket, tc on its WAN egress stamps MP_PREFER_PROXY into the MP_CAPABLE
# SYN, and the concentrator, on the path, picks the stamped SYN up.
#
#   client --TCP-- cpe [wan1]==MPTCP (stamped)==[acc1] conc --TCP/MPTCP-- srv
#                      [wan2]==MP_JOIN to srv addr==[acc2]   (tc_pickup + XDP)
#
# The CPE's route to the server runs through the concentrator.
. "$(dirname "$0")/../lib.sh"

PEER=$TOOLS/mpc_peer
PCAP=$MPC_REPO/tests/tools/pcap_tcp.py

lab_create || { echo "not ok - lab set-up"; exit 1; }
PINC=$(pin_dir conc)
PINE=$(pin_dir cpe)
running() { "$MPCONV" --pin-path "$1" status >/dev/null 2>&1; }
start_conc() {	# start_conc ALLOW...
	local a args=()
	for a in "$@"; do args+=(--allow "$a"); done
	bg "$NS_CONC" "$MPC_TMP/conc.log" "$MPCONV" -v --pin-path "$PINC" concentrator \
		--listen "$CONC4:5124" "${args[@]}" --on-path acc1,acc2
	CONC_PID=$BG_PID
	wait_until 60 running "$PINC" || { dump_logs "$MPC_TMP/conc.log"; return 1; }
}
start_conc 198.51.100.0/24 2001:db8:10::/44 || { echo "not ok - concentrator start"; exit 1; }
bg "$NS_CPE" "$MPC_TMP/cpe.log" "$MPCONV" -v --pin-path "$PINE" cpe --lan lan --wan wan1,wan2 \
	--mode implicit
CPE_PID=$BG_PID
wait_until 60 running "$PINE" || { dump_logs "$MPC_TMP/cpe.log"; echo "not ok - cpe start"; exit 1; }

links_rx() {	# links_rx PIN: "rx1 rx2" of the CPE's WAN links
	"$MPCONV" --pin-path "$1" -j status | /usr/bin/python3 -c '
import json,sys
print(" ".join(str(x["bytes_rx"]) for x in json.load(sys.stdin)["links"]))'
}
srv_of() { [ "$1" = 4 ] && echo "$SRV4:$2" || echo "[$SRV6]:$2"; }
counter() {	# counter PIN NAME: packets of a BPF reason, or a daemon counter
	"$MPCONV" --pin-path "$1" -j stats | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin); n = sys.argv[1]
print(d["bpf"].get(n, {}).get("packets", d["daemon"].get(n, 0)))' "$2"
}
mkdata "$MPC_TMP/up" 16
mkdata "$MPC_TMP/down" 16

for f in 4 6; do
	if tcase "v$f: plain TCP client to plain TCP server, picked up on path"; then
		p=$((9600 + f))
		bg "$NS_SRV" "$MPC_TMP/srv$f.log" "$PEER" --listen "$(srv_of $f $p)" --tcp \
			--sink "$MPC_TMP/srx$f" --source "$MPC_TMP/down" --count 1 --timeout 60
		spid=$BG_PID
		wait_listen "$NS_SRV" $p
		pc=$MPC_TMP/wan$f.pcap
		tcpdump_start "$NS_CPE" wan1 "$pc" "$MPC_TMP/td$f.log" -s 128 "tcp port $p"
		tpid=$BG_PID
		# the client holds the connection open until $gate exists, so
		# the bindings can be read while it lives
		gate=$MPC_TMP/gate$f
		h=$([ $f = 4 ] && echo "$SRV4" || echo "$SRV6")
		bg "$NS_CLI" "$MPC_TMP/cli$f.log" /usr/bin/python3 "$MPC_REPO/tests/tools/holdcli.py" \
			"$h" $p "$MPC_TMP/up" "$MPC_TMP/crx$f" "$gate"
		cpid=$BG_PID
		has_bind() { "$MPCONV" --pin-path "$1" -j bindings | grep -q "\"server_port\":$p"; }
		wait_until 10 has_bind "$PINE" && wait_until 10 has_bind "$PINC"
		bound=$?
		cflags=$("$MPCONV" --pin-path "$PINC" -j bindings | grep -o "\"server_port\":$p[^}]*" | grep -o '"flags":"[^"]*"')
		touch "$gate"
		wait_pid_exit $cpid 30
		crc=$?
		wait_pid_exit $spid 20
		stop_pid $tpid
		syn=$(/usr/bin/python3 "$PCAP" "$pc" | grep "flags=S " | head -1)
		peer=$(sed -n 's/^conn peer=\([^ ]*\) .*/\1/p' "$MPC_TMP/srv$f.log")
		if [ $crc != 0 ]; then
			fail "client failed: $(cat "$MPC_TMP/cli$f.log")"
		elif [ "$(sha "$MPC_TMP/srx$f")" != "$(sha "$MPC_TMP/up")" ] ||
			[ "$(sha "$MPC_TMP/crx$f")" != "$(sha "$MPC_TMP/down")" ]; then
			fail "data differs: up $(data_diff "$MPC_TMP/up" "$MPC_TMP/srx$f"); down $(data_diff "$MPC_TMP/down" "$MPC_TMP/crx$f")"
		elif [[ "$syn" != *"opts="*1e04f000* ]]; then
			fail "SYN on the WAN lacks MP_PREFER_PROXY (1e04f000): $syn"
		elif [ $bound != 0 ]; then
			fail "no binding on both boxes"
		elif [[ "$cflags" != *implicit* ]]; then
			fail "concentrator binding not flagged implicit: $cflags"
		elif [[ "$peer" != 203.0.113.1:* && "$peer" != "[2001:db8:2::1]:"* ]]; then
			fail "the server saw $peer, not the concentrator"
		else
			pass
		fi
		rm -f "$MPC_TMP/srx$f" "$MPC_TMP/crx$f"
	fi

	if tcase "v$f: a native MPTCP client reaches an MPTCP server end to end, untouched"; then
		p=$((9700 + f))
		bg "$NS_SRV" "$MPC_TMP/nat$f.log" "$PEER" --listen "$(srv_of $f $p)" --mptcp --echo \
			--count 1 --timeout 30
		spid=$BG_PID
		wait_listen "$NS_SRV" $p
		counters_flushed "$PINC"
		n0=$(counter "$PINC" pick_native_mptcp)
		a0=$(counter "$PINC" accepted)
		nsx "$NS_CLI" "$PEER" --connect "$(srv_of $f $p)" --mptcp --send-bytes 200000 --echo \
			--timeout 20 >/dev/null 2>&1
		rc=$?
		wait_pid_exit $spid 10
		counters_flushed "$PINC"
		peer=$(sed -n 's/^conn peer=\([^ ]*\) .*/\1/p' "$MPC_TMP/nat$f.log")
		if [ $rc != 0 ]; then
			fail "transfer failed"
		elif ! grep -q "mptcp=1" "$MPC_TMP/nat$f.log"; then
			fail "the server did not get an MPTCP connection"
		elif [[ "$peer" != 192.0.2.2:* && "$peer" != "[2001:db8:1::2]:"* ]]; then
			fail "the server saw $peer: intercepted"
		elif [ "$(counter "$PINC" pick_native_mptcp)" -le "$n0" ]; then
			fail "pick_native_mptcp did not count the SYN"
		elif [ "$(counter "$PINC" accepted)" != "$a0" ]; then
			fail "the concentrator accepted it"
		else
			pass
		fi
	fi
done


if tcase "2x20 Mbit/s in implicit mode: >= 0.9 of the sum, both links carry bytes, joins steered"; then
	shape "$NS_CPE" wan1 20 && shape "$NS_CONC" acc1 20 && shape "$NS_CPE" wan2 20 &&
		shape "$NS_CONC" acc2 20
	bg "$NS_SRV" /dev/null iperf3 -s -B "$SRV4" -p 5201
	ipid=$BG_PID
	wait_listen "$NS_SRV" 5201
	j0=$(counter "$PINC" pick_join)
	read -r a0 b0 <<<"$(links_rx "$PINE")"
	bps=$(nsx "$NS_CLI" iperf3 -c "$SRV4" -p 5201 -R -t 12 -O 2 -J 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
	stop_pid $ipid
	counters_flushed "$PINE"	# link counters are published once a second
	read -r a1 b1 <<<"$(links_rx "$PINE")"
	r=$(awk -v c="$bps" 'BEGIN { printf "%.3f", c / 40e6 }')
	msg="$(awk -v c="$bps" 'BEGIN{printf "%.1f", c/1e6}') Mbit/s = $r of 40 Mbit/s; wan1 +$(((a1 - a0) / 1000000)) MB, wan2 +$(((b1 - b0) / 1000000)) MB"
	echo "# implicit: $msg"
	if ! awk -v r="$r" 'BEGIN { exit !(r >= 0.9) }'; then
		fail "$msg"
	elif [ $((a1 - a0)) -lt 10000000 ] || [ $((b1 - b0)) -lt 10000000 ]; then
		fail "a WAN link carried less than 10 MB: $msg"
	elif [ "$(counter "$PINC" pick_join)" -le "$j0" ]; then
		fail "no MP_JOIN toward the server address was steered: $msg"
	else
		pass "$msg"
	fi
	for i in wan1 wan2; do nsx "$NS_CPE" tc qdisc del dev $i root; done
	for i in acc1 acc2; do nsx "$NS_CONC" tc qdisc del dev $i root; done
fi

if tcase "a stamped SYN from an unauthorized source is dropped by XDP"; then
	stop_pid $CONC_PID
	start_conc 203.0.113.0/24	# the CPE's WAN prefixes are not allowed any more
	d0=$(counter "$PINC" xdp_drop_unauth_stamp)
	p=9900
	bg "$NS_SRV" "$MPC_TMP/un.log" "$PEER" --listen "$SRV4:$p" --echo --count 1 --timeout 30
	wait_listen "$NS_SRV" $p
	# the CPE's stamped SYNs die in XDP; its kernel then retries without
	# MPTCP (unstamped, plain TCP), which passes
	nsx "$NS_CLI" "$PEER" --connect "$SRV4:$p" --tcp --send-bytes 1000 --echo --timeout 20 \
		>/dev/null 2>&1
	d1=$(counter "$PINC" xdp_drop_unauth_stamp)
	acc=$(counter "$PINC" accepted)
	if [ "$d1" -le "$d0" ]; then
		fail "xdp_drop_unauth_stamp did not move ($d0 -> $d1)"
	elif [ "$acc" != 0 ]; then
		fail "the pickup listener accepted $acc connection(s)"
	else
		pass "$((d1 - d0)) stamped SYNs dropped"
	fi
fi

if tcase "daemons exit cleanly: programs detached, cgroup removed"; then
	stop_pid $CPE_PID
	stop_pid $CONC_PID
	left=""
	for i in wan1 wan2 lan; do
		r=$(nsx "$NS_CPE" "$TOOLS/mpc_netprogs" $i)
		[ "$r" = "tcx_ingress=0 tcx_egress=0 xdp=0" ] || left="$left cpe/$i:$r"
	done
	for i in acc1 acc2; do
		r=$(nsx "$NS_CONC" "$TOOLS/mpc_netprogs" $i)
		[ "$r" = "tcx_ingress=0 tcx_egress=0 xdp=0" ] || left="$left conc/$i:$r"
	done
	cg=$(ls -d /sys/fs/cgroup/unified/mpconv-$CONC_PID /sys/fs/cgroup/mpconv-$CONC_PID 2>/dev/null)
	if [ -n "$left" ]; then fail "programs left:$left"
	elif [ -n "$cg" ]; then fail "cgroup left: $cg"
	else pass; fi
fi
finish
