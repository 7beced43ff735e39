#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# make demo: a self-contained lab of network namespaces
#
#   client --LAN-- CPE ==wan1 40 Mbit/s== concentrator --- HTTP server (lighttpd)
#                      ==wan2 20 Mbit/s==
#
# 1. downloads a file with plain curl over the CPE's primary link, no mpconv;
# 2. starts `mpconv concentrator` and `mpconv cpe`, downloads it again: the
#    CPE converts the connection to MPTCP with one subflow per WAN link;
# 3. prints both throughputs, the bindings seen during the transfer and the
#    per-link byte counts, then tears everything down.
. "$(dirname "$0")/lib.sh"

R1=${DEMO_WAN1_MBIT:-40}
R2=${DEMO_WAN2_MBIT:-20}
SIZE_MB=${DEMO_SIZE_MB:-60}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

[ -x "$MPCONV" ] || { echo "build first (make)"; exit 1; }
say "lab: client, CPE (wan1 ${R1} Mbit/s, wan2 ${R2} Mbit/s), concentrator, server"
lab_create --shape "$R1,$R2" || { echo "lab set-up failed"; exit 1; }

# a real HTTP server in the server namespace
mkdir -p "$MPC_TMP/www"
head -c $((SIZE_MB * 1048576)) /dev/urandom >"$MPC_TMP/www/file.bin"
cat >"$MPC_TMP/lighttpd.conf" <<CONF
server.document-root = "$MPC_TMP/www"
server.bind = "$SRV4"
server.port = 80
server.pid-file = "$MPC_TMP/lighttpd.pid"
server.errorlog = "$MPC_TMP/lighttpd.err"
server.max-keep-alive-requests = 0
\$SERVER["socket"] == "[$SRV6]:80" { }
CONF
bg "$NS_SRV" "$MPC_TMP/lighttpd.log" lighttpd -D -f "$MPC_TMP/lighttpd.conf"
wait_listen "$NS_SRV" 80 || { cat "$MPC_TMP/lighttpd.log"; exit 1; }
URL=http://$SRV4/file.bin
WANT=$(sha "$MPC_TMP/www/file.bin")

fetch() {	# fetch LABEL: curl on the client; prints Mbit/s
	local out
	out=$(nsx "$NS_CLI" curl -s -o "$MPC_TMP/got" -w '%{speed_download} %{time_total}' \
		--max-time 60 "$URL") || { echo "curl failed"; return 1; }
	[ "$(sha "$MPC_TMP/got")" = "$WANT" ] || { echo "data differs!"; return 1; }
	awk -v s="${out% *}" -v t="${out#* }" -v l="$1" \
		'BEGIN { printf "%-34s %6.1f Mbit/s  (%.1f s, sha256 ok)\n", l, s * 8 / 1e6, t }'
}

say "1. curl over one link, without mpconv (the CPE routes via wan1)"
base=$(fetch "plain TCP, wan1 only:") || exit 1
echo "$base"

say "2. start the concentrator and the CPE"
PINC=$(pin_dir conc)
PINE=$(pin_dir cpe)
bg "$NS_CONC" "$MPC_TMP/conc.log" "$MPCONV" --pin-path "$PINC" concentrator \
	--listen "$CONC4:5124" --listen "[$CONC6]:5124" --allow 198.51.100.0/24 --allow 2001:db8:10::/44
wait_listen "$NS_CONC" 5124 || { cat "$MPC_TMP/conc.log"; exit 1; }
bg "$NS_CPE" "$MPC_TMP/cpe.log" "$MPCONV" --pin-path "$PINE" cpe --lan lan --wan wan1,wan2 \
	--concentrator "$CONC4:5124"
CPE_PID=$BG_PID
wait_until 30 "$MPCONV" --pin-path "$PINE" status >/dev/null || { cat "$MPC_TMP/cpe.log"; exit 1; }
sed 's/^/   /' "$MPC_TMP/conc.log" "$MPC_TMP/cpe.log"

say "3. the same curl, now through both MCPs (MPTCP over wan1 + wan2)"
( sleep 2; "$MPCONV" --pin-path "$PINE" bindings >"$MPC_TMP/b.cpe";
  "$MPCONV" --pin-path "$PINC" bindings >"$MPC_TMP/b.conc" ) &
snap=$!
conv=$(fetch "mpconv, wan1 + wan2:") || exit 1
wait $snap
echo "$base"
echo "$conv"
awk -v a="$(sed 's/.*: *\([0-9.]*\) Mbit.*/\1/' <<<"$base")" \
    -v b="$(sed 's/.*: *\([0-9.]*\) Mbit.*/\1/' <<<"$conv")" -v r1="$R1" -v r2="$R2" \
    'BEGIN { printf "=> %.2fx the single link; %.0f%% of the %d Mbit/s the two links carry\n", b / a, 100 * b / (r1 + r2), r1 + r2 }'

say "bindings during the transfer"
echo "CPE:"; sed 's/^/   /' "$MPC_TMP/b.cpe"
echo "concentrator:"; sed 's/^/   /' "$MPC_TMP/b.conc"

say "CPE status: WAN links, subflows, bytes, classifier counters"
"$MPCONV" --pin-path "$PINE" status | sed 's/^/   /'

say "tear-down"
stop_pid "$CPE_PID"
echo "   CPE daemon stopped; routing rules and MPTCP endpoints it added:"
echo "   rules: $(nsx "$NS_CPE" ip rule show | grep -c "proto 109"), endpoints: $(nsx "$NS_CPE" ip mptcp endpoint show | wc -l), LAN: $(nsx "$NS_CPE" "$TOOLS/mpc_netprogs" lan)"
