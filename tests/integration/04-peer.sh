#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# mpc_peer, the server (and client) every other test stands on: echo,
# sink/source with hashes, MPTCP detection, HTTP for curl, RST and EMFILE
# robustness, descriptor hygiene. Two namespaces, two links:
#
#    a                                    b
#   [a0] -------------------------------- [b0]
#   192.0.2.1/24                          192.0.2.2/24
#   2001:db8:4::1/64                      2001:db8:4::2/64
#   [a1] -------------------------------- [b1]
#   198.51.100.1/24                       198.51.100.2/24
#
# a has an MPTCP "subflow" endpoint on a1, so an MPTCP connection from a
# to b gets a second subflow and mpc_peer must report subflows=2.

. "$(dirname "$0")/../lib.sh"

PEER=$TOOLS/mpc_peer
if [ ! -x "$PEER" ]; then
	echo "not ok - mpc_peer built ($PEER missing)"
	exit 1
fi

B4=192.0.2.2 B6=2001:db8:4::2
T=$MPC_TMP

netns_add NS_A a && netns_add NS_B b || exit 1
veth "$NS_A" a0 "$NS_B" b0 && veth "$NS_A" a1 "$NS_B" b1 || exit 1
addr "$NS_A" a0 192.0.2.1/24 2001:db8:4::1/64
addr "$NS_B" b0 $B4/24 $B6/64
addr "$NS_A" a1 198.51.100.1/24
addr "$NS_B" b1 198.51.100.2/24
for ns in "$NS_A" "$NS_B"; do
	nsx "$ns" sysctl -qw net.mptcp.enabled=1
	nsx "$ns" ip mptcp limits set subflows 2 add_addr_accepted 2
done
nsx "$NS_A" ip mptcp endpoint add 198.51.100.1 dev a1 subflow
wait_until 5 nsx "$NS_A" ping -c1 -W1 -q $B4 && wait_until 5 nsx "$NS_A" ping -6 -c1 -W1 -q $B6 &&
	wait_until 5 nsx "$NS_A" ping -c1 -W1 -q 198.51.100.2 || {
	echo "not ok - lab links up"
	exit 1
}

# kv KEY: the value of KEY= in the line on stdin
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# start_peer NAME ARGS...: server in b, logs in $T/NAME.{out,log}, waits
# for its ready file; sets PID.
start_peer() {
	local name=$1
	shift
	bg "$NS_B" "$T/$name.out" "$PEER" --log "$T/$name.log" --ready-file "$T/$name.ready" \
		--timeout 300 "$@"
	PID=$BG_PID
	wait_until 10 test -s "$T/$name.ready"
}

# client NAME ARGS...: client in a, output in $T/NAME.cli (stderr .err)
client() {
	local name=$1
	shift
	nsx "$NS_A" "$PEER" --timeout 30 "$@" >"$T/$name.cli" 2>"$T/$name.err"
}

# conns FILE: number of finished connections logged
conns() { grep -c '^conn ' "$1" 2>/dev/null; }
# conditions for wait_until, which expands its arguments once: a "$(...)"
# among them would be evaluated a single time
conns_ge() { [ "$(conns "$1")" -ge "$2" ]; }	# conns_ge FILE N
fds_are() { [ "$(fd_count "$1")" = "$2" ]; }	# fds_are PID N

# ---------------------------------------------------------------------------
# echo, v4 and v6, 50 parallel connections, every byte verified by the client

start_peer echo --listen $B4:7000 --listen "[$B6]:7000" --mptcp --echo --sha || {
	echo "not ok - echo server starts"
	dump_logs "$T/echo.out"
	exit 1
}
ECHO_PID=$PID
echo_base=$(fd_count $ECHO_PID)

for fam in 4 6; do
	tcase "echo v$fam --parallel 50, every byte verified" || continue
	[ $fam = 4 ] && dst=$B4:7000 || dst="[$B6]:7000"
	before=$(conns "$T/echo.log")
	client echo$fam --connect "$dst" --tcp --parallel 50 --send-bytes 300000 --echo --sha
	rc=$?
	if [ $rc != 0 ]; then
		fail "client exit status $rc"
		dump_logs "$T/echo$fam.cli" "$T/echo$fam.err"
		continue
	fi
	ok=$(grep -c '^conn .* rx=300000 tx=300000 .*result=ok$' "$T/echo$fam.cli")
	# 50 distinct streams (seed S+k-1): 50 distinct hashes
	nsha=$(grep '^conn ' "$T/echo$fam.cli" | kv tx_sha | sort -u | wc -l)
	wait_until 10 conns_ge "$T/echo.log" $((before + 50))
	srv_ok=$(tail -n 50 "$T/echo.log" | grep -c "rx=300000 tx=300000 .*role=server result=ok")
	if [ "$ok" = 50 ] && [ "$nsha" = 50 ] && [ "$srv_ok" = 50 ] &&
		grep -q "^done conns=50 ok=50 failed=0 fds_leaked=0" "$T/echo$fam.cli"; then
		pass
	else
		fail "client ok=$ok distinct=$nsha server ok=$srv_ok"
		dump_logs "$T/echo$fam.cli" "$T/echo.log"
	fi
done

tcase "echo: client sha equals server sha for each direction" && {
	# the server's rx is the client's tx and vice versa, per connection,
	# matched by the client's full address and port. The port alone is
	# not enough: Linux hands out ephemeral ports to one destination in
	# a short sequential run, so the v6 run's ports overlap the v4 run's
	# in a few percent of runs (CI saw 11 such collisions once).
	bad=0 n=0
	while read -r line; do
		n=$((n + 1))
		lcl=$(echo "$line" | kv local)
		tx=$(echo "$line" | kv tx_sha)
		rx=$(echo "$line" | kv rx_sha)
		sline=$(grep -F "peer=$lcl local=" "$T/echo.log")
		[ "$(echo "$sline" | grep -c .)" = 1 ] || {
			bad=$((bad + 1))
			echo "# # client $lcl: $(echo "$sline" | grep -c .) server lines"
			continue
		}
		[ "$(echo "$sline" | kv rx_sha)" = "$tx" ] && [ "$(echo "$sline" | kv tx_sha)" = "$rx" ] ||
			bad=$((bad + 1))
	done < <(grep -h "^conn " "$T/echo4.cli" "$T/echo6.cli")
	[ $bad = 0 ] && [ $n = 100 ] && pass ||
		fail "$bad of $n connections (want 100) with different hashes"
}

tcase "echo: --tcp client is mptcp=0 on both ends" && {
	if grep -q 'mptcp=1' "$T/echo4.cli" "$T/echo6.cli" || grep -q 'mptcp=1' "$T/echo.log"; then
		fail "a plain TCP connection reported mptcp=1"
	else
		pass
	fi
}

tcase "RST from a client: server survives and logs the reset" && {
	before=$(conns "$T/echo.log")
	client rst --connect $B4:7000 --tcp --send-bytes 2000000 --rst
	rc=$?
	wait_until 10 conns_ge "$T/echo.log" $((before + 1))
	last=$(tail -n1 "$T/echo.log")
	if [ $rc = 0 ] && grep -q 'result=rst$' "$T/rst.cli" && kill -0 $ECHO_PID &&
		echo "$last" | grep -q 'result=ECONNRESET$'; then
		pass
	else
		fail "rc=$rc server: $last"
		dump_logs "$T/rst.cli" "$T/echo.out"
	fi
}

tcase "echo after the RST still works (v6, MPTCP client)" && {
	if client after --connect "[$B6]:7000" --mptcp --parallel 5 --send-bytes 100000 --echo &&
		[ "$(grep -c 'mptcp=1 .*result=ok$' "$T/after.cli")" = 5 ]; then
		pass
	else
		fail "client failed or not MPTCP"
		dump_logs "$T/after.cli" "$T/after.err"
	fi
}

tcase "no descriptor leak after 106 connections" && {
	if wait_until 10 fds_are $ECHO_PID "$echo_base"; then
		pass "$echo_base fds"
	else
		fail "fds: baseline $echo_base, now $(fd_count $ECHO_PID)"
		ls -l /proc/$ECHO_PID/fd | sed 's/^/#   /'
	fi
}

tcase "SIGTERM: server exits 0 and reports no leak" && {
	kill -TERM $ECHO_PID
	wait_pid_exit $ECHO_PID 5
	rc=$?
	if [ $rc = 0 ] && grep -q '^done .* fds_leaked=0$' "$T/echo.log"; then
		pass
	else
		fail "exit status $rc"
		dump_logs "$T/echo.log" "$T/echo.out"
	fi
}

# ---------------------------------------------------------------------------
# sink + source, 16 MiB each way, hashes compared with sha256sum of the files

mkdata "$T/up" 16
mkdata "$T/down" 16
UP_SHA=$(sha "$T/up")
DOWN_SHA=$(sha "$T/down")
SIZE=$((16 * 1048576))

if ! start_peer ss --listen $B4:7001 --listen "[$B6]:7001" --mptcp --sink "$T/sink" \
	--source "$T/down" --sha --count 2; then
	echo "# sink/source server did not start"
	dump_logs "$T/ss.out"
fi
SS_PID=$PID

# ss_case ID FAM PROTO EXPECT_MPTCP
ss_case() {
	local id=$1 fam=$2 proto=$3 want=$4 dst cl sl rc
	tcase "sink/source 16 MiB v$fam --$proto: sha256 matches on both ends" || return 0
	[ "$fam" = 4 ] && dst=$B4:7001 || dst="[$B6]:7001"
	client ss$id --connect "$dst" --$proto --send "$T/up" --recv "$T/recv$id" --sha \
		--expect-bytes $SIZE
	rc=$?
	if [ $rc != 0 ]; then
		fail "client exit status $rc"
		dump_logs "$T/ss$id.cli" "$T/ss$id.err" "$T/ss.log"
		return 0
	fi
	wait_until 10 conns_ge "$T/ss.log" "$id"
	cl=$(grep '^conn ' "$T/ss$id.cli")
	sl=$(grep '^conn ' "$T/ss.log" | sed -n "${id}p")
	if [ "$(sha "$T/sink.$id")" = "$UP_SHA" ] && [ "$(sha "$T/recv$id")" = "$DOWN_SHA" ] &&
		[ "$(echo "$cl" | kv tx_sha)" = "$UP_SHA" ] &&
		[ "$(echo "$cl" | kv rx_sha)" = "$DOWN_SHA" ] &&
		[ "$(echo "$sl" | kv rx_sha)" = "$UP_SHA" ] &&
		[ "$(echo "$sl" | kv tx_sha)" = "$DOWN_SHA" ] &&
		[ "$(echo "$sl" | kv rx)" = $SIZE ] && [ "$(echo "$sl" | kv tx)" = $SIZE ] &&
		echo "$sl" | grep -q 'result=ok$'; then
		pass
	else
		fail "hash or size mismatch"
		echo "#   client: $cl"
		echo "#   server: $sl"
	fi
	tcase "sink/source v$fam --$proto: mptcp=$want on both ends" || return 0
	if [ "$(echo "$cl" | kv mptcp)" = "$want" ] && [ "$(echo "$sl" | kv mptcp)" = "$want" ]; then
		pass
	else
		fail "client: $cl / server: $sl"
	fi
}
ss_case 1 4 mptcp 1
tcase "MPTCP connection reports its second subflow" && {
	cl=$(grep '^conn ' "$T/ss1.cli")
	sl=$(grep '^conn ' "$T/ss.log" | sed -n 1p)
	if [ "$(echo "$cl" | kv subflows)" = 2 ] && [ "$(echo "$sl" | kv subflows)" = 2 ]; then
		pass
	else
		fail "client subflows=$(echo "$cl" | kv subflows) server subflows=$(echo "$sl" | kv subflows)"
	fi
}
ss_case 2 6 tcp 0

tcase "--count 2: server exits 0 by itself, no leak" && {
	wait_pid_exit "$SS_PID" 10
	rc=$?
	if [ $rc = 0 ] && grep -q '^done conns=2 ok=2 failed=0 fds_leaked=0$' "$T/ss.log"; then
		pass
	else
		fail "exit status $rc"
		dump_logs "$T/ss.log" "$T/ss.out"
	fi
}

# ---------------------------------------------------------------------------
# --source-bytes: the stream is the one --gen writes

tcase "--source-bytes N --seed S equals --gen N --seed S" && {
	start_peer sb --listen $B4:7003 --tcp --source-bytes 5000000 --seed 7 --count 1 &&
		client sb --connect $B4:7003 --recv "$T/sb.bin" --expect-bytes 5000000
	rc=$?
	want=$("$PEER" --gen 5000000 --seed 7 | sha256sum | cut -d' ' -f1)
	other=$("$PEER" --gen 5000000 --seed 8 | sha256sum | cut -d' ' -f1)
	if [ $rc = 0 ] && [ "$(sha "$T/sb.bin")" = "$want" ] && [ "$want" != "$other" ]; then
		pass
	else
		fail "rc=$rc"
		dump_logs "$T/sb.cli" "$T/sb.log"
	fi
}

# ---------------------------------------------------------------------------
# HTTP for unmodified clients

start_peer http --listen $B4:8080 --listen "[$B6]:8080" --mptcp --http --seed 3 ||
	echo "# http server did not start"
HTTP_PID=$PID
BIG=67108864
for fam in 4 6; do
	tcase "http v$fam: curl GET /bytes/$BIG, size and content" || continue
	[ $fam = 4 ] && url=http://$B4:8080/bytes/$BIG || url="http://[$B6]:8080/bytes/$BIG"
	res=$(nsx "$NS_A" curl -sS -g --max-time 20 -o "$T/http$fam.bin" \
		-w '%{http_code} %{size_download}' "$url" 2>&1)
	want=$("$PEER" --gen $BIG --seed 3 | sha256sum | cut -d' ' -f1)
	if [ "$res" = "200 $BIG" ] && [ "$(stat -c %s "$T/http$fam.bin")" = $BIG ] &&
		[ "$(sha "$T/http$fam.bin")" = "$want" ]; then
		pass
	else
		fail "curl: $res"
	fi
done
tcase "http: /N form, HEAD, and 404" && {
	small=$(nsx "$NS_A" curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{size_download}' \
		http://$B4:8080/1234)
	head=$(nsx "$NS_A" curl -sS --max-time 5 -I http://$B4:8080/999 | tr -d '\r' |
		sed -n 's/^Content-Length: //p')
	nf=$(nsx "$NS_A" curl -sS --max-time 5 -o /dev/null -w '%{http_code}' http://$B4:8080/abc)
	if [ "$small" = "200 1234" ] && [ "$head" = 999 ] && [ "$nf" = 404 ]; then
		pass
	else
		fail "GET /1234: '$small', HEAD /999 length '$head', /abc: '$nf'"
	fi
}
stop_pid "$HTTP_PID"

# ---------------------------------------------------------------------------
# EMFILE on accept: 16 descriptors leave room for a handful of connections;
# 30 parallel clients must all be served once accepts resume.

tcase "EMFILE on accept: back off, then serve every connection" && {
	bg "$NS_B" "$T/emfile.out" bash -c 'ulimit -n 16 && exec "$@"' _ \
		"$PEER" --listen $B4:7004 --tcp --echo --log "$T/emfile.log" \
		--ready-file "$T/emfile.ready" --timeout 40
	EMF_PID=$BG_PID
	wait_until 10 test -s "$T/emfile.ready"
	client emfile --connect $B4:7004 --parallel 30 --send-bytes 200000 --echo
	rc=$?
	ok=$(grep -c 'result=ok$' "$T/emfile.cli")
	if [ $rc = 0 ] && [ "$ok" = 30 ] && grep -q 'pausing accepts' "$T/emfile.out" &&
		kill -0 $EMF_PID && wait_until 10 conns_ge "$T/emfile.log" 30 &&
		[ "$(conns "$T/emfile.log")" = 30 ]; then
		pass
	else
		fail "rc=$rc ok=$ok"
		dump_logs "$T/emfile.cli" "$T/emfile.out"
	fi
	stop_pid $EMF_PID
}

finish
