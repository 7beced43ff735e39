#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The downstream MCP (mpconv concentrator) against a Convert test client
# standing where the CPE will be, and mpc_peer as the server.
#
#   cpe ns: mpc_testcli ==MPTCP, Convert in SYN== conc ns: mpconv concentrator
#                                                      --MPTCP/TCP-- srv ns: mpc_peer
#   (lab_create's topology; the CPE's WAN addresses are the allowed prefix)
#
# Cases run over IPv4 and IPv6.
. "$(dirname "$0")/../lib.sh"

CLI=$TOOLS/mpc_testcli
PEER=$TOOLS/mpc_peer
PCAP=$MPC_REPO/tests/tools/pcap_tcp.py
PORT=5124

lab_create || { echo "not ok - lab set-up"; exit 1; }
PIN=$(pin_dir conc)
start_conc() {	# start_conc PIN PORT [extra args]: sets CONC_PID
	local pin=$1 port=$2
	shift 2
	bg "$NS_CONC" "$MPC_TMP/conc-$port.log" "$MPCONV" -v --pin-path "$pin" concentrator \
		--listen "$CONC4:$port" --listen "[$CONC6]:$port" \
		--allow 198.51.100.0/24 --allow 2001:db8:10::/44 "$@"
	CONC_PID=$BG_PID
	wait_listen "$NS_CONC" "$port" || { dump_logs "$MPC_TMP/conc-$port.log"; return 1; }
}
start_conc "$PIN" $PORT --connect-timeout 2 --convert-timeout 2 ||
	{ echo "not ok - concentrator start"; exit 1; }
MAIN_PID=$CONC_PID

conc_of() { [ "$1" = 4 ] && echo "$CONC4:$PORT" || echo "[$CONC6]:$PORT"; }
srv_of() { [ "$1" = 4 ] && echo "$SRV4:$2" || echo "[$SRV6]:$2"; }

# cli FAMILY ARGS...: the test client in the CPE namespace
cli() {
	local f=$1
	shift
	nsx "$NS_CPE" "$CLI" --conc "$(conc_of "$f")" --timeout 20 "$@"
}

mkdata "$MPC_TMP/up" 64
mkdata "$MPC_TMP/down" 64
UP_SHA=$(sha "$MPC_TMP/up")
DOWN_SHA=$(sha "$MPC_TMP/down")

for f in 4 6; do
	# ---- 64 MiB each way, MPTCP server -----------------------------
	if tcase "v$f: 64 MiB each way through the concentrator, sha256 equal"; then
		p=$((8000 + f))
		bg "$NS_SRV" "$MPC_TMP/srv-$f.log" "$PEER" --listen "$(srv_of $f $p)" --mptcp \
			--sink "$MPC_TMP/srv_rx$f" --source "$MPC_TMP/down" --count 1 --timeout 60
		spid=$BG_PID
		wait_listen "$NS_SRV" $p
		out=$(cli $f --target "$(srv_of $f $p)" --send "$MPC_TMP/up" --recv "$MPC_TMP/cli_rx$f" 2>&1)
		rc=$?
		wait_pid_exit $spid 30
		if [ $rc != 0 ]; then
			fail "client exit $rc: $out"
		elif [ "$(sha "$MPC_TMP/srv_rx$f")" != "$UP_SHA" ]; then
			fail "upstream data differs: $(data_diff "$MPC_TMP/up" "$MPC_TMP/srv_rx$f")"
		elif [ "$(sha "$MPC_TMP/cli_rx$f")" != "$DOWN_SHA" ]; then
			fail "downstream data differs: $(data_diff "$MPC_TMP/down" "$MPC_TMP/cli_rx$f")"
		elif ! grep -q "mptcp: yes" <<<"$out"; then
			fail "client leg is not MPTCP: $out"
		elif ! grep -q "mptcp=1" "$MPC_TMP/srv-$f.log"; then
			fail "server leg is not MPTCP: $(cat "$MPC_TMP/srv-$f.log")"
		elif ! grep -q "ext_tcp_hdr=.*1e04" <<<"$out"; then
			fail "reply does not report the server's MP_CAPABLE: $out"
		else
			pass
		fi
		rm -f "$MPC_TMP/srv_rx$f" "$MPC_TMP/cli_rx$f"
	fi

	# ---- plain TCP server ------------------------------------------
	if tcase "v$f: plain TCP server is reached with TCP (kernel fallback)"; then
		p=$((8100 + f))
		bg "$NS_SRV" "$MPC_TMP/tsrv-$f.log" "$PEER" --listen "$(srv_of $f $p)" --tcp --echo \
			--count 1 --timeout 30
		spid=$BG_PID
		wait_listen "$NS_SRV" $p
		out=$(cli $f --target "$(srv_of $f $p)" --send-bytes 100000 2>&1)
		rc=$?
		wait_pid_exit $spid 20
		if [ $rc != 0 ]; then
			fail "client exit $rc: $out"
		elif ! grep -q "mptcp=0" "$MPC_TMP/tsrv-$f.log"; then
			fail "server leg should be TCP"
		elif grep -q "ext_tcp_hdr=.*1e04" <<<"$out"; then
			fail "reply claims MP_CAPABLE for a TCP server: $out"
		else
			pass
		fi
	fi

	# ---- the Convert message is in the SYN, acked, never re-sent ---
	if tcase "v$f: Convert header in the SYN payload, acknowledged by the SYN-ACK, not re-sent"; then
		p=$((8200 + f))
		bg "$NS_SRV" /dev/null "$PEER" --listen "$(srv_of $f $p)" --echo --count 1 --timeout 30
		spid=$BG_PID
		wait_listen "$NS_SRV" $p
		pc=$MPC_TMP/syn$f.pcap
		tcpdump_start "$NS_CONC" acc1 "$pc" "$MPC_TMP/tcpdump$f.log" "tcp port $PORT"
		tpid=$BG_PID
		before=$(nstat_get "$NS_CONC" TcpExtTCPFastOpenPassive)
		out=$(cli $f --target "$(srv_of $f $p)" --send-bytes 5000 2>&1)
		rc=$?
		after=$(nstat_get "$NS_CONC" TcpExtTCPFastOpenPassive)
		wait_pid_exit $spid 10
		stop_pid $tpid
		segs=$(/usr/bin/python3 "$PCAP" "$pc")
		syn=$(grep "flags=S " <<<"$segs" | head -1)
		synack=$(grep "flags=SA " <<<"$segs" | head -1)
		hdr=$([ $f = 4 ] && echo 01062263 || echo 01062263)
		synseq=$(sed -n 's/.* seq=\([0-9]*\).*/\1/p' <<<"$syn")
		synlen=$(sed -n 's/.* len=\([0-9]*\).*/\1/p' <<<"$syn")
		ackno=$(sed -n 's/.* ack=\([0-9]*\).*/\1/p' <<<"$synack")
		resent=$(grep -v "flags=S" <<<"$segs" | grep -c "payload=$hdr")
		if [ $rc != 0 ]; then
			fail "client exit $rc: $out"
		elif [ -z "$syn" ] || [[ "$syn" != *"payload=$hdr"* ]]; then
			fail "SYN does not start its payload with the Convert header: $syn"
		elif [ "$ackno" != $(((synseq + 1 + synlen) % 4294967296)) ]; then
			fail "SYN-ACK acks $ackno, expected $((synseq + 1 + synlen)) (SYN data not accepted)"
		elif [ "$resent" != 0 ]; then
			fail "Convert header sent again after the handshake"
		elif [ "$after" -le "$before" ]; then
			fail "TcpExtTCPFastOpenPassive did not count the SYN data"
		else
			pass "SYN payload $synlen bytes"
		fi
	fi

	# ---- Extended TCP Header = the server's SYN-ACK options ---------
	if tcase "v$f: Extended TCP Header is the server's own SYN-ACK options, MP_CAPABLE key removed"; then
		p=$((8250 + f))
		bg "$NS_SRV" /dev/null "$PEER" --listen "$(srv_of $f $p)" --mptcp --echo --count 1 --timeout 30
		spid=$BG_PID
		wait_listen "$NS_SRV" $p
		pc=$MPC_TMP/srvsyn$f.pcap
		tcpdump_start "$NS_CONC" srv0 "$pc" "$MPC_TMP/tds$f.log" "tcp port $p"
		tpid=$BG_PID
		out=$(cli $f --target "$(srv_of $f $p)" --send-bytes 1000 2>&1)
		wait_pid_exit $spid 10
		stop_pid $tpid
		synack=$(/usr/bin/python3 "$PCAP" "$pc" | grep "flags=SA " | head -1 | sed -n 's/.* opts=\([0-9a-f]*\) .*/\1/p')
		# MP_CAPABLE in a SYN-ACK: 1e 0c <ver/sub> <flags> <8-byte key>
		want=$(/usr/bin/python3 -c '
import sys
o = bytes.fromhex(sys.argv[1]); out = b""; i = 0
while i < len(o):
    k = o[i]
    if k == 0: break
    if k == 1: out += o[i:i+1]; i += 1; continue
    l = o[i+1]
    out += bytes([30, 4, o[i+2], o[i+3]]) if k == 30 else o[i:i+l]
    i += l
print(out.hex())' "$synack")
		got=$(sed -n 's/.*ext_tcp_hdr=\([0-9a-f]*\).*/\1/p' <<<"$out")
		if [ -z "$synack" ]; then
			fail "no SYN-ACK captured"
		elif [ "$got" != "$want" ]; then
			fail "ext_tcp_hdr $got, server SYN-ACK options $synack (expected $want)"
		else
			pass "$got"
		fi
	fi

	# ---- errors, produced for real ---------------------------------
	expect_error() {	# expect_error CODE VALUE_PREFIX CLI_ARGS...
		local code=$1 val=$2 out rc
		shift 2
		out=$(cli "$@" 2>&1)
		rc=$?
		if [ $rc != 3 ]; then
			fail "expected Error $code, client exit $rc: $out"
		elif ! grep -q "reply: error code=$code " <<<"$out"; then
			fail "expected Error $code: $out"
		elif [ -n "$val" ] && ! grep -q "value=$val" <<<"$out"; then
			fail "Error $code value should start with $val: $out"
		else
			pass
		fi
	}
	if tcase "v$f: closed port gives Error 96 (Connection Reset)"; then
		expect_error 96 00 $f --target "$(srv_of $f 9)"
	fi
	if tcase "v$f: unreachable network gives Error 97 with the ICMP code"; then
		if [ $f = 4 ]; then
			expect_error 97 01 $f --target "$UNREACH4:80"	# ICMP host unreachable
		else
			expect_error 97 00 $f --target "[$UNREACH6]:80"	# ICMPv6 no route
		fi
	fi
	if tcase "v$f: administratively prohibited gives Error 97 with its ICMP code"; then
		if [ $f = 4 ]; then
			nsx "$NS_SRV" ip route add prohibit 203.0.113.80/32
			expect_error 97 0d $f --target "203.0.113.80:80"
		else
			nsx "$NS_SRV" ip -6 route add prohibit 2001:db8:3::80/128
			expect_error 97 01 $f --target "[2001:db8:3::80]:80"
		fi
	fi
	if tcase "v$f: silent path gives Error 65 (Network Failure) after --connect-timeout"; then
		if [ $f = 4 ]; then
			nsx "$NS_SRV" ip route add blackhole 203.0.113.81/32
			expect_error 65 "" $f --target "203.0.113.81:80"
		else
			nsx "$NS_SRV" ip -6 route add blackhole 2001:db8:3::81/128
			expect_error 65 "" $f --target "[2001:db8:3::81]:80"
		fi
	fi
	if tcase "v$f: source outside --allow gives Error 32 (Not Authorized)"; then
		# from the LAN host: its address is not an allowed prefix
		t=$([ $f = 4 ] && echo "$SRV4:80" || echo "[$SRV6]:80")
		out=$(nsx "$NS_CLI" "$CLI" --conc "$(conc_of $f)" --timeout 30 --target "$t" 2>&1)
		if [ $? = 3 ] && grep -q "reply: error code=32 " <<<"$out"; then pass; else fail "$out"; fi
	fi
	# hand-made messages: header | TLVs (lengths in 32-bit words)
	if [ $f = 4 ]; then A=00000000000000000000ffffcb007102; else A=20010db8000200000000000000000002; fi
	CONNECT=0a050050$A
	if tcase "v$f: malformed message (TLV past Total Length) gives Error 1 echoing it"; then
		# Total Length 5 words, but the Connect TLV ends at byte 24: the
		# echo is the message as framed (its first 20 bytes)
		raw=01052263${CONNECT}
		expect_error 1 "00${raw:0:40}" $f --raw-hex "$raw"
	fi
	if tcase "v$f: unknown TLV gives Error 2 echoing it"; then
		raw=01072263${CONNECT}80010000
		expect_error 2 "00${raw}" $f --raw-hex "$raw"
	fi
	if tcase "v$f: duplicate TLV gives Error 1"; then
		raw=010b2263${CONNECT}${CONNECT}
		expect_error 1 "00${raw}" $f --raw-hex "$raw"
	fi
	if tcase "v$f: type-0 TLV gives Error 2"; then
		raw=01072263${CONNECT}00010000
		expect_error 2 "00" $f --raw-hex "$raw"
	fi
	if tcase "v$f: unknown version gives Error 0 listing version 1"; then
		raw=02062263${CONNECT}
		expect_error 0 "01" $f --raw-hex "$raw"
	fi
	if tcase "v$f: loopback Connect address gives Error 1"; then
		if [ $f = 4 ]; then L=00000000000000000000ffff7f000001; else L=00000000000000000000000000000001; fi
		expect_error 1 "" $f --raw-hex "010622630a050050$L"
	fi
	if tcase "v$f: Extended Connect with an option we cannot send gives Error 33"; then
		# TFO (34) with a cookie value
		expect_error 33 22 $f --target "$(srv_of $f 80)" --ext-opt 34:0102030405060708
	fi
	if tcase "v$f: Info gives Supported TCP Extensions listing kind 30"; then
		out=$(cli $f --info 2>&1)
		if grep -q "reply: ok.*supp_ext=[0-9a-f]*1e" <<<"$out"; then pass; else fail "$out"; fi
	fi
	if tcase "v$f: Total Length 0 resets the connection"; then
		out=$(cli $f --raw-hex 01002263 2>&1)
		rc=$?
		if [ $rc = 2 ] || grep -q "reply: none" <<<"$out"; then pass; else fail "exit $rc: $out"; fi
	fi
done

# ---- Error 64: out of resources (--max-conns) --------------------------
if tcase "connection limit gives Error 64 (Resource Exceeded)"; then
	PIN2=$(pin_dir conc2)
	start_conc "$PIN2" 5125 --max-conns 1 && {
		p=8300
		bg "$NS_SRV" /dev/null "$PEER" --listen "$SRV4:$p" --echo --timeout 30
		wait_listen "$NS_SRV" $p
		mkfifo "$MPC_TMP/hold"
		# one connection held open: its client sends from a fifo nobody writes
		bg "$NS_CPE" "$MPC_TMP/hold.log" "$CLI" --conc "$CONC4:5125" --target "$SRV4:$p" \
			--send "$MPC_TMP/hold" --timeout 30
		hold=$BG_PID
		exec 7<>"$MPC_TMP/hold"
		wait_until 5 grep -q "reply: ok" "$MPC_TMP/hold.log"
		out=$(nsx "$NS_CPE" "$CLI" --conc "$CONC4:5125" --target "$SRV4:$p" --timeout 10 2>&1)
		exec 7>&-
		if grep -q "reply: error code=64 " <<<"$out"; then pass; else fail "$out"; fi
		stop_pid "$hold"
		stop_pid "$CONC_PID"
	} || fail "second concentrator did not start"
fi

# ---- out of file descriptors: Error 64, no crash, no leak ------------
if tcase "out of file descriptors: Error 64 to the excess, the rest intact, fds recover"; then
	PIN3=$(pin_dir conc3)
	# a tiny RLIMIT_NOFILE: the daemon raises its soft limit to the hard
	# one, so cap both
	bg "$NS_CONC" "$MPC_TMP/conc-5126.log" prlimit --nofile=48:48 "$MPCONV" -v --pin-path "$PIN3" \
		concentrator --listen "$CONC4:5126" --allow 198.51.100.0/24
	c3=$BG_PID
	if wait_listen "$NS_CONC" 5126; then
		p=8700
		bg "$NS_SRV" /dev/null "$PEER" --listen "$SRV4:$p" --echo --timeout 120
		epid=$BG_PID
		wait_listen "$NS_SRV" $p
		base=$(fd_count $c3)
		out=$(nsx "$NS_CPE" "$CLI" --conc "$CONC4:5126" --target "$SRV4:$p" --parallel 40 \
			--bytes 2000000 --timeout 90 2>&1)
		counters_flushed "$PIN3"
		e64=$("$MPCONV" --pin-path "$PIN3" -j stats | grep -o '"err_tx_resource_exceeded":[0-9]*' | grep -o '[0-9]*$')
		emf=$("$MPCONV" --pin-path "$PIN3" -j stats | grep -o '"out_of_fds":[0-9]*' | grep -o '[0-9]*$')
		summary=$(grep "^parallel:" <<<"$out")
		okn=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$summary")
		# every failure must be an Error 64, never a hang or bad data
		other=$(grep "^conn: " <<<"$out" | grep -v "code=64\|error 64\|Error 64\|err64\|resource" | head -3)
		back() { [ "$(fd_count $c3)" -le "$base" ]; }
		if ! kill -0 $c3 2>/dev/null; then
			fail "the concentrator died"
		elif [ "${e64:-0}" -lt 1 ] || [ "${emf:-0}" -lt 1 ]; then
			fail "no Error 64 / out_of_fds counted ($e64/$emf): $summary"
		elif [ "${okn:-0}" -lt 1 ]; then
			fail "no connection succeeded: $summary"
		elif ! wait_until 15 back; then
			fail "fds: $base before, $(fd_count $c3) after"
		elif ! nsx "$NS_CPE" "$CLI" --conc "$CONC4:5126" --target "$SRV4:$p" \
			--send-bytes 100000 --timeout 20 >/dev/null 2>&1; then
			fail "not serving afterwards"
		else
			pass "$summary; Error 64 sent $e64 times"
			[ -n "$other" ] && echo "# other failures: $other"
		fi
		stop_pid $epid
	else
		fail "did not start: $(tail -3 "$MPC_TMP/conc-5126.log")"
	fi
	stop_pid $c3
fi

# ---- 200 concurrent connections ----------------------------------------
if tcase "200 concurrent connections complete with correct data"; then
	p=8400
	bg "$NS_SRV" "$MPC_TMP/par.log" "$PEER" --listen "$SRV4:$p" --listen "[$SRV6]:$p" --echo \
		--timeout 120
	spid=$BG_PID
	wait_listen "$NS_SRV" $p
	out=$(cli 4 --target "$SRV4:$p" --parallel 200 --bytes 262144 --timeout 90 2>&1)
	rc=$?
	stop_pid $spid
	if [ $rc = 0 ] && grep -q "parallel: conns=200 ok=200 failed=0" <<<"$out"; then
		pass
	else
		fail "exit $rc: $(tail -5 <<<"$out")"
	fi
fi

# ---- a binding lives exactly as long as its connection -----------------
if tcase "binding visible with bpftool during a transfer, gone after"; then
	p=8500
	bg "$NS_SRV" /dev/null "$PEER" --listen "$SRV4:$p" --echo --count 1 --timeout 30
	wait_listen "$NS_SRV" $p
	rm -f "$MPC_TMP/hold"
	mkfifo "$MPC_TMP/hold"
	bg "$NS_CPE" "$MPC_TMP/bind.log" "$CLI" --conc "$CONC4:$PORT" --target "$SRV4:$p" \
		--send "$MPC_TMP/hold" --timeout 30
	hold=$BG_PID
	exec 7<>"$MPC_TMP/hold"
	has_bind() { bpftool -j map dump pinned "$PIN/mpc_binds" | grep -q "\"server_port\":$p"; }
	if ! wait_until 5 has_bind; then
		fail "no binding for port $p: $(bpftool map dump pinned "$PIN/mpc_binds" | head -40)"
	elif ! "$MPCONV" --pin-path "$PIN" -j bindings | grep -q "\"server_port\":$p"; then
		fail "mpconv bindings does not show it"
	else
		exec 7>&-	# EOF: the client half-closes, the echo server closes
		if wait_until 10 bash -c "! bpftool -j map dump pinned $PIN/mpc_binds | grep -q '\"server_port\":$p'"; then
			pass
		else
			fail "binding still present after the connection closed"
		fi
	fi
	exec 7>&- 2>/dev/null
	stop_pid $hold
fi

# ---- garbage, truncation, vanishing clients: no crash, no fd leak ------
if tcase "garbage, truncated and abandoned messages: no crash, fds back to baseline"; then
	base=$(fd_count $MAIN_PID)
	cat >"$MPC_TMP/abuse.py" <<'PY'
import os, socket, struct, sys, random
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
random.seed(7)
def conn():
    s = socket.socket(fam, socket.SOCK_STREAM, 262)
    s.setsockopt(socket.IPPROTO_TCP, 34, 1)
    return s
n = 0
for i in range(40):
    kind = i % 4
    s = conn()
    try:
        if kind == 0:      # random garbage in the SYN
            s.sendto(os.urandom(random.randint(1, 1500)), socket.MSG_FASTOPEN, (host, port))
        elif kind == 1:    # header promises 6 words, 8 bytes come, then FIN
            s.sendto(bytes([1, 6, 0x22, 0x63, 0x0a, 5, 0, 80]), socket.MSG_FASTOPEN, (host, port))
            s.shutdown(socket.SHUT_WR)
        elif kind == 2:    # half a message, then vanish with a RST
            s.sendto(bytes([1, 6, 0x22, 0x63, 0x0a]), socket.MSG_FASTOPEN, (host, port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:              # connect and say nothing, then vanish
            s.connect((host, port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        n += 1
    except OSError:
        pass
    s.close()
print("sent", n)
PY
	nsx "$NS_CPE" /usr/bin/python3 "$MPC_TMP/abuse.py" "$CONC4" $PORT
	nsx "$NS_CPE" /usr/bin/python3 "$MPC_TMP/abuse.py" "$CONC6" $PORT
	back() { [ "$(fd_count $MAIN_PID)" -le "$base" ]; }
	if ! kill -0 $MAIN_PID; then
		fail "concentrator died"
	elif ! wait_until 15 back; then
		fail "fds: baseline $base, now $(fd_count $MAIN_PID)"
	else
		# and it still serves
		p=8600
		bg "$NS_SRV" /dev/null "$PEER" --listen "$SRV4:$p" --echo --count 1 --timeout 20
		wait_listen "$NS_SRV" $p
		if cli 4 --target "$SRV4:$p" --send-bytes 1000 >/dev/null 2>&1; then
			pass "fds $base -> $(fd_count $MAIN_PID)"
		else
			fail "not serving after the abuse"
		fi
	fi
	"$MPCONV" --pin-path "$PIN" stats | sed 's/^/# /'
fi

if tcase "SIGTERM removes the daemon's pins and exits 0"; then
	kill -TERM $MAIN_PID
	wait_pid_exit $MAIN_PID 10
	rc=$?
	if [ $rc != 0 ]; then
		fail "exit status $rc"
	elif [ -n "$(ls "$PIN" 2>/dev/null | grep -vx 'mpc_fb_cache\|\.lock')" ]; then
		# only the fallback cache outlives a run, on purpose
		fail "pins left: $(ls "$PIN" | tr '\n' ' ')"
	else
		pass
	fi
fi
[ "$MPC_FAILS" = 0 ] || dump_logs "$MPC_TMP"/conc-*.log
finish
