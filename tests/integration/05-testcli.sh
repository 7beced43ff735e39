#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The tests' Convert client (mpc_testcli) against a stand-in converter
# (mpc_testconv: reads the Convert message, answers from the codec or with
# canned bytes, connects nowhere). Checks that the message rides in the SYN
# (TFO without cookie, counted by TcpExtTCPFastOpenPassive and seen by
# both ends in TCPI_OPT_SYN_DATA), its exact bytes (protocol.md §1.7
# layouts), reply decoding, the reset after an Error or invalid reply,
# MPTCP/fallback reporting, data transfer and the parallel echo check.
#
#   cli                                  conc (tcp_fastopen=0x203)
#   [c0] 192.0.2.2/24 ------------------ [s0] 192.0.2.1/24
#        2001:db8:1::2/64                     2001:db8:1::1/64
#
# Targets in Connect TLVs are never contacted (mpc_testconv has no
# downstream); 127.0.0.1 appears only inside a message, to be refused.

. "$(dirname "$0")/../lib.sh"

CLI=$TOOLS/mpc_testcli
CONV=$TOOLS/mpc_testconv
PY=/usr/bin/python3
if [ ! -x "$CLI" ] || [ ! -x "$CONV" ]; then
	echo "# $CLI or $CONV not built"
	exit 1
fi

C4=192.0.2.2 S4=192.0.2.1 S6=2001:db8:1::1
netns_add NS_C cli && netns_add NS_S conc || exit 1
veth "$NS_C" c0 "$NS_S" s0 || exit 1
addr "$NS_C" c0 $C4/24 2001:db8:1::2/64
addr "$NS_S" s0 $S4/24 $S6/64
for ns in "$NS_C" "$NS_S"; do
	nsx "$ns" sysctl -qw net.mptcp.enabled=1 || { echo "# no MPTCP"; exit 4; }
done
# server: accept data in SYN (0x2) without cookie (0x200); client: 0x1
nsx "$NS_S" sysctl -qw net.ipv4.tcp_fastopen=0x203
nsx "$NS_C" sysctl -qw net.ipv4.tcp_fastopen=1
wait_until 5 nsx "$NS_C" ping -c1 -W1 -q $S4 || { echo "# link down"; exit 1; }

PORT=5200
SRV_PID='' SRV_LOG=''

# conv ADDR ARGS...: start mpc_testconv on ADDR and a fresh port
conv() {
	local a=$1
	shift
	PORT=$((PORT + 1))
	case $a in *:*) LISTEN="[$a]:$PORT" ;; *) LISTEN="$a:$PORT" ;; esac
	SRV_LOG=$MPC_TMP/conv.$PORT.log
	bg "$NS_S" "$SRV_LOG" "$CONV" --listen "$LISTEN" --timeout 20 --io-timeout 5 "$@"
	SRV_PID=$BG_PID
	wait_until 5 grep -q '^listening:' "$SRV_LOG"
}

# cli ARGS...: run mpc_testcli in the client namespace; CLI_RC, OUT, ERR
cli() {
	OUT=$MPC_TMP/cli.out ERR=$MPC_TMP/cli.err
	nsx "$NS_C" "$CLI" --timeout 10 "$@" >"$OUT" 2>"$ERR"
	CLI_RC=$?
}

has() { grep -qxF -- "$1" "$OUT"; }		# exact client output line
srv_has() { grep -qF -- "$1" "$SRV_LOG"; }	# substring in the server log
why() { fail "$*"; dump_logs "$OUT" "$ERR" "$SRV_LOG"; }
srv_done() { wait_pid_exit "$SRV_PID" 10 >/dev/null; }

GOLD_BASE=010622630a0501bb00000000000000000000ffffc000020a
GOLD_REPLY="01 07 22 63 14 06 00 00 02 04 05 b4 04 02 08 0a 00 01 02 03 00 00 00 00 01 03 03 07"

if tcase "base-connect-v4-rides-in-syn"; then
	p0=$(nstat_get "$NS_S" TcpExtTCPFastOpenPassive)
	conv $S4 --count 1 --reply-hex "$GOLD_REPLY"
	cli --conc $S4:$PORT --target 192.0.2.10:443
	srv_done
	p1=$(nstat_get "$NS_S" TcpExtTCPFastOpenPassive)
	if [ $CLI_RC != 0 ]; then why "exit $CLI_RC"
	elif ! srv_has "rx=$GOLD_BASE extra=0 decode=ok"; then why "not the §1.7 base Connect bytes"
	elif ! srv_has "mptcp=yes syn_data=yes"; then why "server did not get the data in an MPTCP SYN"
	elif [ $((p1 - p0)) != 1 ]; then why "TcpExtTCPFastOpenPassive grew by $((p1 - p0)), not 1"
	elif ! has "sent: convert=24 syn_payload=24 proto=mptcp"; then why "sent line"
	elif ! has "tfo: syn_data_acked=yes"; then why "client: SYN data not acked"
	elif ! has "reply: ok ext_tcp_hdr=020405b40402080a000102030000000001030307"; then
		why "ext_tcp_hdr is not the server options of the §1.7 success reply"
	elif ! grep -q '^mptcp: yes subflows=' "$OUT"; then why "client not MPTCP"
	else pass; fi
fi

if tcase "ext-connect-v6-exact-bytes"; then
	conv $S6 --count 1
	cli --conc "[$S6]:$PORT" --target "[2001:db8::2]:80" --ext-opt 30 --ext-opt 34
	srv_done
	want=010722630a06005020010db80000000000000000000000021e022202
	if [ $CLI_RC != 0 ]; then why "exit $CLI_RC"
	elif ! srv_has "rx=$want extra=0 decode=ok"; then why "Extended Connect bytes differ"
	elif ! srv_has "syn_data=yes"; then why "not in the SYN"
	elif ! has "reply: ok ext_tcp_hdr="; then why "default reply not decoded"
	else pass; fi
fi

if tcase "info-prints-supported-ext"; then
	conv $S4 --count 1 --reply-hex "01 03 22 63 15 02 00 00 1e 22 08 04"
	cli --conc $S4:$PORT --info
	srv_done
	if [ $CLI_RC != 0 ]; then why "exit $CLI_RC"
	elif ! srv_has "rx=0102226301010000 extra=0 decode=ok"; then why "Info bytes differ"
	elif ! has "reply: ok supp_ext=1e220804"; then why "supported ext line"
	else pass; fi
fi

if tcase "info-connect-cookie-default-reply"; then
	conv $S4 --count 1
	cli --conc $S4:$PORT --info --target 192.0.2.10:443 --cookie c00c1e00
	srv_done
	want=0109226301010000${GOLD_BASE:8}16020000c00c1e00
	if [ $CLI_RC != 0 ]; then why "exit $CLI_RC"
	elif ! srv_has "rx=$want extra=0 decode=ok"; then why "Info+Connect+Cookie bytes differ"
	elif ! has "reply: ok ext_tcp_hdr= supp_ext=1e22"; then why "reply line"
	else pass; fi
fi

if tcase "error-reply-exit-3-and-reset"; then
	conv $S4 --count 1 --reply-hex "01 02 22 63 1e 01 61 03"
	cli --conc $S4:$PORT --target 192.0.2.10:443 --send-bytes 1000
	wait_until 5 grep -q '^end:' "$SRV_LOG"
	srv_done
	if [ $CLI_RC != 3 ]; then why "exit $CLI_RC, expected 3"
	elif ! has "reply: error code=97 name=destination-unreachable value=03"; then why "error line"
	elif ! srv_has "end: n=1 how=rst bytes=0"; then why "client did not reset (RFC 8803 §1.5)"
	else pass; fi
fi

if tcase "malformed-raw-bytes-echoed"; then
	conv $S4 --count 1
	cli --conc $S4:$PORT --raw-hex "01 06 22 64 0a 05 01 bb"
	wait_until 5 grep -q '^end:' "$SRV_LOG"
	srv_done
	if [ $CLI_RC != 3 ]; then why "exit $CLI_RC, expected 3"
	elif ! srv_has 'rx=010622640a0501bb extra=0 decode=error code=1 detail="bad magic"'; then
		why "server decode"
	elif ! has "reply: error code=1 name=malformed-message value=00010622640a0501bb"; then
		why "echo reply"
	elif ! srv_has "how=rst"; then why "client did not reset"
	else pass; fi
fi

if tcase "loopback-target-refused"; then
	conv $S4 --count 1
	cli --conc $S4:$PORT --target 127.0.0.1:80 --json
	srv_done
	if [ $CLI_RC != 3 ]; then why "exit $CLI_RC, expected 3"
	elif ! srv_has 'detail="connect address forbidden"'; then why "server decode"
	elif ! $PY -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["reply"] == "error" and d["error_code"] == 1, d
assert d["error_value"] == "00" + "010622630a050050" + "00"*10 + "ffff7f000001", d
assert d["exit"] == 3 and d["syn_data_acked"] == "yes"' "$OUT"; then why "JSON result"
	else pass; fi
fi

if tcase "invalid-reply-exit-4-and-reset"; then
	conv $S4 --count 1 --reply-hex "01 02 22 63 1e 00 60 00"
	cli --conc $S4:$PORT --target 192.0.2.10:443
	wait_until 5 grep -q '^end:' "$SRV_LOG"
	srv_done
	if [ $CLI_RC != 4 ]; then why "exit $CLI_RC, expected 4"
	elif ! has 'reply: invalid detail="TLV length 0" bytes=010222631e006000'; then why "line"
	elif ! srv_has "how=rst"; then why "client did not reset"
	else pass; fi
fi

if tcase "no-reply-exit-4"; then
	conv $S4 --count 1 --no-reply
	cli --conc $S4:$PORT --target 192.0.2.10:443
	srv_done
	if [ $CLI_RC != 4 ]; then why "exit $CLI_RC, expected 4"
	elif ! has "reply: none received=0"; then why "line"
	else pass; fi
fi

if tcase "silent-converter-times-out"; then
	conv $S4 --count 1 --reply-hex ""
	t0=$(date +%s%N)
	cli --conc $S4:$PORT --target 192.0.2.10:443 --timeout 1
	ms=$((($(date +%s%N) - t0) / 1000000))
	srv_done
	if [ $CLI_RC != 2 ]; then why "exit $CLI_RC, expected 2"
	elif ! grep -q timeout "$ERR"; then why "no timeout message"
	elif [ $ms -gt 3000 ]; then why "took ${ms} ms for --timeout 1"
	else pass; fi
fi

if tcase "tcp-client-reports-no-mptcp"; then
	conv $S4 --count 1
	cli --conc $S4:$PORT --target 192.0.2.10:443 --tcp
	srv_done
	if [ $CLI_RC != 0 ]; then why "exit $CLI_RC"
	elif ! has "mptcp: no"; then why "client line"
	elif ! srv_has "mptcp=fallback syn_data=yes"; then why "server saw MPTCP or no SYN data"
	else pass; fi
fi

if tcase "tcp-listener-reports-fallback"; then
	conv $S4 --count 1 --tcp
	cli --conc $S4:$PORT --target 192.0.2.10:443
	srv_done
	if [ $CLI_RC != 0 ]; then why "exit $CLI_RC"
	elif ! has "mptcp: fallback"; then why "fallback not reported"
	elif ! srv_has "syn_data=yes"; then why "SYN data"
	else pass; fi
fi

if tcase "send-recv-file-with-syn-data"; then
	mkdata "$MPC_TMP/in" 1
	conv $S4 --count 1 --echo
	cli --conc $S4:$PORT --target 192.0.2.10:443 --send "$MPC_TMP/in" --recv "$MPC_TMP/back" --syn-data
	srv_done
	if [ $CLI_RC != 0 ]; then why "exit $CLI_RC"
	elif ! srv_has "syn_data=yes rx=$GOLD_BASE extra=512 decode=ok"; then
		why "SYN did not carry message + 512 data bytes"
	elif ! has "data: sent=1048576 received=1048576"; then why "data line"
	elif [ "$(sha "$MPC_TMP/in")" != "$(sha "$MPC_TMP/back")" ]; then why "echo differs"
	else pass; fi
fi

if tcase "raw-file-src-and-stdin-data"; then
	# shellcheck disable=SC2059
	printf "$(echo $GOLD_BASE | sed 's/../\\x&/g')" >"$MPC_TMP/raw"
	conv $S4 --count 1 --echo
	echo "hello converter" | cli --conc $S4:$PORT --raw-file "$MPC_TMP/raw" --src $C4 \
		--send - --recv "$MPC_TMP/hello"
	srv_done
	if [ $CLI_RC != 0 ]; then why "exit $CLI_RC"
	elif ! srv_has "peer=$C4:"; then why "--src not used"
	elif ! srv_has "syn_data=yes rx=$GOLD_BASE extra=0 decode=ok"; then why "raw bytes differ"
	elif [ "$(cat "$MPC_TMP/hello")" != "hello converter" ]; then why "stdin data not echoed"
	else pass; fi
fi

if tcase "parallel-echo-20"; then
	conv $S4 --count 20 --echo
	cli --conc $S4:$PORT --target 192.0.2.10:443 --parallel 20 --bytes 200000
	srv_done
	if [ $CLI_RC != 0 ]; then why "exit $CLI_RC"
	elif ! has "parallel: conns=20 ok=20 failed=0 bytes=4000000 mptcp=20 fallback=0"; then
		why "summary"
	elif [ "$(grep -c 'syn_data=yes' "$SRV_LOG")" != 20 ]; then why "not every SYN carried data"
	else pass; fi
fi

if tcase "parallel-detects-corruption"; then
	conv $S4 --count 4 --echo --corrupt-at 12345
	cli --conc $S4:$PORT --target 192.0.2.10:443 --parallel 4 --bytes 50000
	srv_done
	if [ $CLI_RC != 5 ]; then why "exit $CLI_RC, expected 5"
	elif ! grep -q '^parallel: conns=4 ok=0 failed=4 ' "$OUT"; then why "summary"
	elif ! has "conn: idx=2 failed=mismatch at byte 12345"; then why "mismatch offset"
	else pass; fi
fi

if tcase "client-tfo-off-warns"; then
	nsx "$NS_C" sysctl -qw net.ipv4.tcp_fastopen=0
	conv $S4 --count 1
	cli --conc $S4:$PORT --target 192.0.2.10:443
	srv_done
	nsx "$NS_C" sysctl -qw net.ipv4.tcp_fastopen=1
	if [ $CLI_RC != 0 ]; then why "exit $CLI_RC"
	elif ! grep -q 'tcp_fastopen=0 lacks bit 0x1' "$ERR"; then why "no sysctl warning"
	elif ! srv_has "syn_data=no rx=$GOLD_BASE"; then why "message not sent after the handshake"
	elif ! has "tfo: syn_data_acked=no"; then why "tfo line"
	else pass; fi
fi

if tcase "usage-errors"; then
	ok=1
	for args in "--target 192.0.2.10:443" "--conc $S4:1" "--conc $S4:1 --ext-opt 30" \
		"--conc 192.0.2.1 --info" "--conc $S4:1 --info --ext-opt x" \
		"--conc $S4:1 --info --parallel 2 --send-bytes 1"; do
		# shellcheck disable=SC2086
		"$CLI" $args >/dev/null 2>&1
		rc=$?
		[ $rc = 1 ] || { ok=0; echo "# '$args' exited $rc"; }
	done
	if [ $ok = 1 ] && "$CLI" --help | grep -q -- '--parallel N'; then pass; else fail "usage"; fi
fi

finish
