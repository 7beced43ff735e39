#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# sockops (mpc_sockops), the concentrator's token learner, on its own:
#
#    cli                                   srv
#   [c0] 192.0.2.1 / 2001:db8:4::1 ------ [s0] 192.0.2.2 / 2001:db8:4::2
#   [c1] 198.51.100.1 ------------------- [s1] 198.51.100.2
#        "subflow" endpoint on c1
#
# srv runs an MPTCP echo server under tests/tools/mpc_onpath --cg, i.e. in
# a cgroup v2 made by user/onpath.c with the sockops program attached.
# Every MPTCP connection it accepts must leave exactly one mpc_tokens
# entry whose key is the token getsockopt(SOL_MPTCP, MPTCP_INFO) reports
# on the accepted socket; plain TCP leaves none; a joining subflow must
# not overwrite the entry of its connection; sockets outside the cgroup
# are not seen.

. "$(dirname "$0")/../lib.sh"
. "$MPC_REPO/tests/tools/onpath_lib.sh"

PORT=5300
if [ ! -x "$ONPATH" ]; then
	echo "not ok - mpc_onpath built ($ONPATH missing)"
	exit 1
fi
command -v bpftool >/dev/null || { echo "ok - sockops # SKIP bpftool missing"; exit 0; }
[ -n "$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)" ] ||
	{ echo "ok - sockops # SKIP no cgroup2 mount"; exit 0; }

T=$MPC_TMP
tcase "lab" || true
if netns_add NS_C cli && netns_add NS_S srv && veth "$NS_C" c0 "$NS_S" s0 &&
	veth "$NS_C" c1 "$NS_S" s1; then
	addr "$NS_C" c0 192.0.2.1/24 2001:db8:4::1/64
	addr "$NS_S" s0 192.0.2.2/24 2001:db8:4::2/64
	addr "$NS_C" c1 198.51.100.1/24
	addr "$NS_S" s1 198.51.100.2/24
	for ns in "$NS_C" "$NS_S"; do
		nsx "$ns" sysctl -qw net.mptcp.enabled=1
		nsx "$ns" ip mptcp limits set subflows 2 add_addr_accepted 2
	done
	nsx "$NS_C" ip mptcp endpoint add 198.51.100.1 dev c1 subflow
	wait_until 5 nsx "$NS_C" ping -c1 -W1 -q 192.0.2.2 &&
		wait_until 5 nsx "$NS_C" ping -6 -c1 -W1 -q 2001:db8:4::2 && pass ||
		fail "links"
else
	fail "namespaces"
fi
[ "$MPC_FAILS" = 0 ] || finish

PIN=$(pin_dir srv)
tcase "server in its own cgroup with sockops"
bg "$NS_S" "$T/srv.log" "$ONPATH" --pin "$PIN" --cg -- \
	$PY "$ONPATH_PY/onpath_sock.py" server 192.0.2.2,2001:db8:4::2 $PORT
SRV_PID=$BG_PID
# a second server outside the cgroup: its connections must not be seen
bg "$NS_S" "$T/out.log" $PY "$ONPATH_PY/onpath_sock.py" server 192.0.2.2 $((PORT + 1))
if wait_until 10 grep -q '^ready' "$T/srv.log" && wait_listen "$NS_S" $PORT &&
	wait_listen "$NS_S" $((PORT + 1)); then
	pass
else
	dump_logs "$T/srv.log" "$T/out.log"
	fail "setup"
	finish
fi

# token_val TOKEN: the mpc_tokens value for TOKEN as "created_ns cookie"
token_val() {
	local key
	key=$($PY -c "import struct,sys; print(' '.join(str(b) for b in struct.pack('=I', int(sys.argv[1]))))" "$1")
	bpftool -j map lookup pinned "$PIN/mpc_tokens" key $key 2>/dev/null |
		$PY -c 'import json,sys; v=json.load(sys.stdin)["formatted"]["value"]; print(v["created_ns"], v["cookie"])'
}
n_tokens() { bpftool -j map dump pinned "$PIN/mpc_tokens" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# srv_token PEER: MPTCP_INFO token of the server's socket for PEER
srv_token() {
	wait_until 5 grep -qF "\"peer\": \"$1\"" "$2"
	grep -F "\"peer\": \"$1\"" "$2" | grep -F '"local"' | tail -n1 |
		$PY -c 'import json,sys; print(json.loads(sys.stdin.read())["token"])'
}

conn_case() {	# conn_case NAME DST [PORT] [CLIENT ARGS...]
	local n=$1 dst=$2 port=${3:-$PORT}
	shift 3
	nsx "$NS_C" $PY "$ONPATH_PY/onpath_sock.py" client "$dst" "$port" "$@" >"$T/$n.json" 2>&1
}

expected=0
for fam in 4 6; do
	dst=192.0.2.2
	[ $fam = 6 ] && dst=2001:db8:4::2
	tcase "v$fam MPTCP connection: token in mpc_tokens = MPTCP_INFO token"
	if conn_case v$fam $dst $PORT; then
		tok=$(srv_token "$(json_get "$T/v$fam.json" local)" "$T/srv.log")
		val=$(token_val "${tok:-0}")
		echo "# token $tok -> ${val:-missing}"
		expected=$((expected + 1))
		[ -n "$tok" ] && [ "$tok" != 0 ] && [ -n "$val" ] && pass || fail "token not recorded"
	else
		fail "client: $(cat "$T/v$fam.json")"
	fi
done

tcase "plain TCP connection leaves no token"
before=$(n_tokens)
if nsx "$NS_C" $PY -c "
import socket, sys
s = socket.create_connection(('192.0.2.2', $PORT), timeout=5)
s.sendall(b'x'); sys.exit(0 if s.recv(1) == b'x' else 1)"; then
	wait_until 5 sh -c "grep -c '\"mptcp\": false' '$T/srv.log' | grep -q 1"
	[ "$(n_tokens)" = "$before" ] && pass || fail "tokens $before -> $(n_tokens)"
else
	fail "plain client"
fi

tcase "joining subflow keeps its connection's entry"
if conn_case j 192.0.2.2 $PORT --subflows 2 && [ "$(json_get "$T/j.json" subflows)" -ge 2 ]; then
	expected=$((expected + 1))
	tok=$(srv_token "$(json_get "$T/j.json" local)" "$T/srv.log")
	val=$(token_val "${tok:-0}")
	# the entry was made by the first subflow: created before the
	# client even asked for the second one, and only one per token
	added=$(kill -USR1 $SRV_PID; wait_until 5 grep -q '^counters' "$T/srv.log";
		grep '^counters' "$T/srv.log" | tail -n1 | sed -n 's/.*tokens_added=\([0-9]*\).*/\1/p')
	echo "# token $tok -> $val, tokens_added=$added"
	[ -n "$val" ] && [ "$added" = "$expected" ] && pass ||
		fail "entry missing or recorded twice (added=$added expected=$expected)"
else
	fail "no second subflow: $(cat "$T/j.json")"
fi

tcase "connections outside the cgroup are not seen"
before=$(n_tokens)
if conn_case o 192.0.2.2 $((PORT + 1)); then
	[ "$(n_tokens)" = "$before" ] && pass || fail "tokens $before -> $(n_tokens)"
else
	fail "client: $(cat "$T/o.json")"
fi

tcase "token count and errors"
[ "$(n_tokens)" = "$expected" ] && pass || fail "$(n_tokens) tokens, expected $expected"

tcase "teardown removes the cgroup and moves the loader back"
cg=$(grep -o 'cgroup [^ ]*mpconv-[0-9]*' "$T/srv.log" | head -n1 | cut -d' ' -f2)
stop_pid $SRV_PID
grep '^counters' "$T/srv.log" | tail -n1 | sed 's/^/# /'
if [ -n "$cg" ] && [ ! -d "$cg" ] && grep -q 'token_errors=0' "$T/srv.log"; then
	pass
else
	fail "cgroup '$cg' left or insert errors"
fi

finish
