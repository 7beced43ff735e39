#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Lab library for mpconv's netns integration tests, the demo and the bench.
# Source it; it installs an EXIT trap that stops every process it started
# (by PID) and deletes every namespace and pin directory it created.
#
# Standard lab (lab_create), documentation addresses only:
#
#   client            cpe                          conc                 srv
#   [lan0]-------[lan] [wan1]==================[acc1] [srv0]-----------[eth0]
#   192.0.2.2/26  .1  198.51.100.2/26   198.51.100.1  203.0.113.1/26  203.0.113.2,.3
#   2001:db8:1::2 ::1 2001:db8:11::2    2001:db8:11::1 2001:db8:2::1  2001:db8:2::2,::3
#                      [wan2]==================[acc2]
#                      198.51.100.66/26  198.51.100.65
#                      2001:db8:12::2    2001:db8:12::1
#
#   conc service address (lo): 192.0.2.129, 2001:db8:ff::1  (explicit mode)
#   srv: 203.0.113.64/26 and 2001:db8:3::/64 answer ICMP unreachable
#   With --router, a router namespace "rtr" sits between conc and srv:
#   conc[srv0] 203.0.113.129/30 -- [up0]rtr[dn0] 203.0.113.1 -- srv
#
# The CPE routes by default over wan1 (metric 100) with a second default
# over wan2 (metric 200), as a dual-homed CPE would have from DHCP; mpconv
# adds the per-link source routing itself. Every wait is bounded.
#
# Case helpers print unnumbered TAP for tests/run:
#   tcase NAME      start a case (returns 1 when filtered out by $MPC_CASES,
#                   '|'-separated substrings of case names)
#   pass / fail MSG / skip REASON    end the current case
#   check DESC CMD...                one-shot case from a command's status

set -u

MPC_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MPC_REPO=$(cd "$MPC_LIB_DIR/.." && pwd)
BUILD=${BUILD:-$MPC_REPO/build}
case $BUILD in /*) ;; *) BUILD=$MPC_REPO/$BUILD ;; esac
MPCONV=${MPCONV:-$BUILD/mpconv}
TOOLS=$BUILD/tests
SUFFIX=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
MPC_TMP=$(mktemp -d "/tmp/mpc-$SUFFIX.XXXX")
MPC_PIN_BASE=/sys/fs/bpf/mpc-test-$SUFFIX
MPC_PIDS=()
MPC_NETNS=()
MPC_CASE=""
MPC_CASE_DONE=1
MPC_FAILS=0

# ---- process and namespace bookkeeping --------------------------------

MPC_MAIN_PID=$$
lib_cleanup() {
	local rc=$? pid ns i
	# A child forked for `cmd &` runs our traps until it execs; a TERM
	# caught in that window must not tear the lab down under the script.
	[ "$BASHPID" = "$MPC_MAIN_PID" ] || exit $rc
	[ -n "$MPC_CASE" ] && [ "$MPC_CASE_DONE" = 0 ] && fail "case ended without a verdict"
	# stop in reverse start order: daemons last-started first
	for ((i = ${#MPC_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${MPC_PIDS[$i]}"
	done
	for ns in "${MPC_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$MPC_PIN_BASE" 2>/dev/null
	[ "${MPC_KEEP_TMP:-0}" = 1 ] && echo "# kept $MPC_TMP" || rm -rf "$MPC_TMP"
	exit $rc
}
trap lib_cleanup EXIT
trap 'exit 130' INT TERM

# _now_ms: wall clock in ms, without a fork. Waits below are bounded by a
# deadline, not by a number of polls: a poll can cost far more than its
# 50 ms sleep (each exec takes 0.1-0.4 s in the TCG VM of selftests-vm),
# and counting polls stretched a 20 s bound to minutes there.
_now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# stop_pid PID [TIMEOUT_S]: TERM, wait up to TIMEOUT (default 5 s), KILL.
stop_pid() {
	local pid=$1 t=${2:-5} end
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	end=$(($(_now_ms) + t * 1000))
	while [ "$(_now_ms)" -lt $end ]; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null && { echo "# pid $pid ignored TERM; killing"; kill -KILL "$pid" 2>/dev/null; }
	wait "$pid" 2>/dev/null
	return 0
}

# nsx NS CMD...: run CMD in NS's network namespace only. Unlike
# `ip netns exec` it keeps our mount namespace, so /sys/fs/bpf pins stay
# visible (recipes.md).
nsx() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# bg NS LOG CMD...: start CMD in the background in NS; sets BG_PID.
bg() {
	local ns=$1 log=$2
	shift 2
	nsenter --net="/run/netns/$ns" -- "$@" >"$log" 2>&1 &
	BG_PID=$!
	MPC_PIDS+=("$BG_PID")
}

# wait_until TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds.
wait_until() {
	local end=$(($(_now_ms) + $1 * 1000))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(_now_ms)" -lt $end ] || return 1
		sleep 0.05
	done
}

# wait_listen NS PORT [TIMEOUT]: a TCP/MPTCP listener on PORT exists in NS.
_listening() { nsx "$1" ss -Hltn "sport = :$2" | grep -q .; }
wait_listen() { wait_until "${3:-10}" _listening "$1" "$2"; }

# wait_pid_exit PID TIMEOUT_S: returns the exit status, 124 on timeout.
wait_pid_exit() {
	local pid=$1 end=$(($(_now_ms) + $2 * 1000))
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			return $?
		fi
		[ "$(_now_ms)" -lt $end ] || return 124
		sleep 0.05
	done
}

netns_add() {	# netns_add VAR ROLE: create mpc-<suffix>-<role>, set VAR
	local name="mpc-$SUFFIX-$2"
	ip netns add "$name" || return 1
	MPC_NETNS+=("$name")
	eval "$1=\$name"
	nsx "$name" ip link set lo up
	nsx "$name" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	# New namespaces here default to bbr, which collapses on reordering
	# veth (recipes.md); cubic where the kernel allows it, else reno.
	nsx "$name" sysctl -qw net.ipv4.tcp_congestion_control=cubic 2>/dev/null ||
		nsx "$name" sysctl -qw net.ipv4.tcp_congestion_control=reno 2>/dev/null
	return 0
}

# veth NS_A IF_A NS_B IF_B: a veth pair between two namespaces, up.
veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || return 1
	nsx "$1" ip link set "$2" up
	nsx "$3" ip link set "$4" up
}

addr() {	# addr NS IF ADDR/LEN...
	local ns=$1 ifc=$2 a
	shift 2
	for a in "$@"; do
		nsx "$ns" ip addr add "$a" dev "$ifc" nodad 2>/dev/null ||
			nsx "$ns" ip addr add "$a" dev "$ifc" || return 1
	done
}

# shape NS IF RATE_MBIT: tbf on IF's egress. TBF because this kernel has
# no netem/fq (recipes.md); burst sized for one 10 ms token bucket, and a
# limit of ~50 ms of queue so the links behave like access links.
shape() {
	local ns=$1 ifc=$2 rate=$3 burst limit
	burst=$((rate * 1000000 / 8 / 100))
	[ $burst -lt 16000 ] && burst=16000
	limit=$((rate * 1000000 / 8 / 20))
	[ $limit -lt 64000 ] && limit=64000
	nsx "$ns" tc qdisc replace dev "$ifc" root tbf rate "${rate}mbit" burst "$burst" limit "$limit"
}

# ---- the standard lab -------------------------------------------------

# lab_create [--shape R1,R2] [--router] : build the topology drawn above.
# Sets NS_CLI NS_CPE NS_CONC NS_SRV (and NS_RTR) and address variables.
lab_create() {
	local shape_rates="" router=0
	while [ $# -gt 0 ]; do
		case $1 in
		--shape) shape_rates=$2; shift ;;
		--router) router=1 ;;
		*) echo "lab_create: unknown option $1" >&2; return 1 ;;
		esac
		shift
	done

	CLI4=192.0.2.2 CLI6=2001:db8:1::2
	CPE_LAN4=192.0.2.1 CPE_LAN6=2001:db8:1::1
	CPE_WAN1_4=198.51.100.2 CPE_WAN1_6=2001:db8:11::2
	CPE_WAN2_4=198.51.100.66 CPE_WAN2_6=2001:db8:12::2
	CONC_ACC1_4=198.51.100.1 CONC_ACC1_6=2001:db8:11::1
	CONC_ACC2_4=198.51.100.65 CONC_ACC2_6=2001:db8:12::1
	CONC4=192.0.2.129 CONC6=2001:db8:ff::1
	SRV4=203.0.113.2 SRV6=2001:db8:2::2
	SRV2_4=203.0.113.3 SRV2_6=2001:db8:2::3
	UNREACH4=203.0.113.70 UNREACH6=2001:db8:3::70
	ACCESS_PREFIX4=198.51.100.0/24 ACCESS_PREFIX6=2001:db8:10::/44

	netns_add NS_CLI cli && netns_add NS_CPE cpe && netns_add NS_CONC conc &&
		netns_add NS_SRV srv || return 1

	veth "$NS_CLI" lan0 "$NS_CPE" lan || return 1
	veth "$NS_CPE" wan1 "$NS_CONC" acc1 || return 1
	veth "$NS_CPE" wan2 "$NS_CONC" acc2 || return 1

	addr "$NS_CLI" lan0 $CLI4/26 $CLI6/64
	addr "$NS_CPE" lan $CPE_LAN4/26 $CPE_LAN6/64
	addr "$NS_CPE" wan1 $CPE_WAN1_4/26 $CPE_WAN1_6/64
	addr "$NS_CPE" wan2 $CPE_WAN2_4/26 $CPE_WAN2_6/64
	addr "$NS_CONC" acc1 $CONC_ACC1_4/26 $CONC_ACC1_6/64
	addr "$NS_CONC" acc2 $CONC_ACC2_4/26 $CONC_ACC2_6/64
	addr "$NS_CONC" lo $CONC4/32 $CONC6/128

	nsx "$NS_CLI" ip route add default via $CPE_LAN4
	nsx "$NS_CLI" ip -6 route add default via $CPE_LAN6
	nsx "$NS_CPE" ip route add default via $CONC_ACC1_4 dev wan1 metric 100
	nsx "$NS_CPE" ip route add default via $CONC_ACC2_4 dev wan2 metric 200
	nsx "$NS_CPE" ip -6 route add default via $CONC_ACC1_6 dev wan1 metric 100
	nsx "$NS_CPE" ip -6 route add default via $CONC_ACC2_6 dev wan2 metric 200
	# the concentrator reaches the LAN through the CPE (native MPTCP and
	# bypassed traffic is routed, not proxied)
	nsx "$NS_CONC" ip route add 192.0.2.0/26 via $CPE_WAN1_4
	nsx "$NS_CONC" ip -6 route add 2001:db8:1::/64 via $CPE_WAN1_6

	if [ $router = 1 ]; then
		netns_add NS_RTR rtr || return 1
		veth "$NS_CONC" srv0 "$NS_RTR" up0 || return 1
		veth "$NS_RTR" dn0 "$NS_SRV" eth0 || return 1
		addr "$NS_CONC" srv0 203.0.113.129/30 2001:db8:2:1::1/64
		addr "$NS_RTR" up0 203.0.113.130/30 2001:db8:2:1::2/64
		addr "$NS_RTR" dn0 203.0.113.1/26 2001:db8:2::1/64
		nsx "$NS_CONC" ip route add 203.0.113.0/26 via 203.0.113.130
		nsx "$NS_CONC" ip route add 203.0.113.64/26 via 203.0.113.130
		nsx "$NS_CONC" ip -6 route add 2001:db8:2::/64 via 2001:db8:2:1::2
		nsx "$NS_CONC" ip -6 route add 2001:db8:3::/64 via 2001:db8:2:1::2
		nsx "$NS_RTR" ip route add default via 203.0.113.129
		nsx "$NS_RTR" ip -6 route add default via 2001:db8:2:1::1
		nsx "$NS_RTR" ip route add 203.0.113.64/26 via $SRV4
		nsx "$NS_RTR" ip -6 route add 2001:db8:3::/64 via $SRV6
	else
		veth "$NS_CONC" srv0 "$NS_SRV" eth0 || return 1
		addr "$NS_CONC" srv0 203.0.113.1/26 2001:db8:2::1/64
		nsx "$NS_CONC" ip route add 203.0.113.64/26 via $SRV4
		nsx "$NS_CONC" ip -6 route add 2001:db8:3::/64 via $SRV6
	fi
	addr "$NS_SRV" eth0 $SRV4/26 $SRV2_4/26 $SRV6/64 $SRV2_6/64
	nsx "$NS_SRV" ip route add default via 203.0.113.1
	nsx "$NS_SRV" ip -6 route add default via 2001:db8:2::1
	# the conc's routes to the CPE side for the return path
	nsx "$NS_CONC" ip route add 198.51.100.0/24 via $CPE_WAN1_4 2>/dev/null
	# an unreachable network: srv answers with ICMP host unreachable
	# (no ICMP rate limit, so back-to-back error tests all get theirs)
	nsx "$NS_SRV" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
	nsx "$NS_SRV" ip route add unreachable 203.0.113.64/26
	nsx "$NS_SRV" ip -6 route add unreachable 2001:db8:3::/64

	# MPTCP on every box; joins allowed to accept up to 8 subflows, and
	# data in the SYN accepted without cookie where a converter listens.
	local ns
	for ns in "${MPC_NETNS[@]}"; do
		nsx "$ns" sysctl -qw net.mptcp.enabled=1
		nsx "$ns" ip mptcp limits set subflows 8 add_addr_accepted 8 2>/dev/null
	done

	if [ -n "$shape_rates" ]; then
		local r1=${shape_rates%,*} r2=${shape_rates#*,}
		shape "$NS_CPE" wan1 "$r1" && shape "$NS_CONC" acc1 "$r1" &&
			shape "$NS_CPE" wan2 "$r2" && shape "$NS_CONC" acc2 "$r2" || return 1
	fi
	# neighbours resolved before measuring anything
	wait_until 5 nsx "$NS_CPE" ping -c1 -W1 -q $CONC_ACC1_4 &&
		wait_until 5 nsx "$NS_CPE" ping -c1 -W1 -q $CONC_ACC2_4 &&
		wait_until 5 nsx "$NS_CLI" ping -c1 -W1 -q $CPE_LAN4 &&
		wait_until 5 nsx "$NS_CPE" ping -6 -c1 -W1 -q $CONC_ACC1_6 &&
		wait_until 5 nsx "$NS_CPE" ping -6 -c1 -W1 -q $CONC_ACC2_6 &&
		wait_until 5 nsx "$NS_CLI" ping -6 -c1 -W1 -q $CPE_LAN6 || {
		echo "# lab: links did not come up"
		return 1
	}
}

# pin_dir NAME: a fresh pin directory for one daemon (on the host bpffs).
pin_dir() {
	mount_bpffs || return 1
	mkdir -p "$MPC_PIN_BASE"
	echo "$MPC_PIN_BASE/$1"
}

mount_bpffs() {
	if ! stat -f -c %T /sys/fs/bpf 2>/dev/null | grep -q bpf; then
		mount -t bpf bpf /sys/fs/bpf || return 1
	fi
}

# ---- TAP case helpers ------------------------------------------------

# tcase NAME: begin a case. MPC_CASES ('|'-separated substrings) filters.
tcase() {
	[ -n "$MPC_CASE" ] && [ "$MPC_CASE_DONE" = 0 ] && fail "no verdict"
	MPC_CASE=$1
	MPC_CASE_DONE=0
	if [ -n "${MPC_CASES:-}" ]; then
		local f IFS='|'
		for f in $MPC_CASES; do
			case $1 in *"$f"*) return 0 ;; esac
		done
		MPC_CASE_DONE=1
		return 1
	fi
	return 0
}

pass() {
	[ "$MPC_CASE_DONE" = 1 ] && return 0
	echo "ok - $MPC_CASE${1:+ ($1)}"
	MPC_CASE_DONE=1
}

fail() {
	[ "$MPC_CASE_DONE" = 1 ] && return 0
	echo "# FAIL: $MPC_CASE: $*"
	echo "not ok - $MPC_CASE"
	MPC_CASE_DONE=1
	MPC_FAILS=$((MPC_FAILS + 1))
}

skip() {
	[ "$MPC_CASE_DONE" = 1 ] && return 0
	echo "ok - $MPC_CASE # SKIP $*"
	MPC_CASE_DONE=1
}

# check DESC CMD...: a one-line case
check() {
	local d=$1
	shift
	tcase "$d" || return 0
	if "$@"; then pass; else fail "command failed: $*"; fi
}

# finish: exit status for tests/run (1 when any case failed)
finish() {
	[ "$MPC_FAILS" = 0 ]
	exit $?
}

# dump LOG...: show the tail of logs on failure
dump_logs() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		echo "# --- $f (tail)"
		tail -n 30 "$f" | sed 's/^/#   /'
	done
}

# sha FILE: the sha256 of FILE
sha() { sha256sum "$1" | cut -d' ' -f1; }

# tcpdump_start NS IF PCAP LOG [OPTION...] FILTER: a packet-buffered
# capture on IF in NS (extra tcpdump options before the filter); waits,
# bounded, until tcpdump says it listens; sets BG_PID like bg
tcpdump_start() {
	local ns=$1 dev=$2 pcap=$3 log=$4
	shift 4
	bg "$ns" "$log" tcpdump --immediate-mode -U -n -i "$dev" -w "$pcap" "$@"
	wait_until 10 grep -q "listening on" "$log"
}

# join_rejected_why: the reason a case that wants two subflows reports a
# SKIP when the receiving kernel refused the second one's MP_JOIN
# (MPTcpExtMPJoinRejected moved during the case; the caller checks that).
# The kernel accepts a join only once the connection is fully established
# on its side, i.e. after the first data-level ACK or data from the
# initiator; a join whose handshake completes before that, which a busy
# host makes possible, is refused, and the in-kernel path manager does not
# retry it. The connection itself was MPTCP and its data intact; whether
# the second link was used could not be tested.
join_rejected_why() {
	echo "the receiving kernel refused the second subflow's MP_JOIN (MPTcpExtMPJoinRejected" \
		"grew: the join completed before the connection was fully established there," \
		"and the in-kernel PM does not retry); MPTCP and data verified, second link untested"
}

# data_diff WANT GOT: one line on how GOT differs from WANT (sizes, the
# first differing offset, how many 4 KiB blocks differ, and where in WANT
# the first bad block's bytes come from, if anywhere: a shift, a repeat
# or foreign data tell different bugs apart). GOT is kept for a post
# mortem under a mktemp directory the line names, with WANT beside it as
# "sent" (test data is random per run: without it GOT cannot be mapped
# back, e.g. by tests/tools/mptcp_stream.py).
data_diff() {
	local keep
	keep=$(mktemp -d /tmp/mpconv-diff.XXXXXX) && cp "$2" "$keep/" 2>/dev/null &&
		cp "$1" "$keep/sent" 2>/dev/null
	python3 - "$1" "$2" "$keep" <<'PY'
import sys
w = open(sys.argv[1], "rb").read()
g = open(sys.argv[2], "rb").read()
n = min(len(w), len(g))
first = next((i for i in range(0, n, 4096) if w[i:i + 4096] != g[i:i + 4096]), None)
if first is None:
    print("sizes %d/%d, common prefix equal; got kept in %s" % (len(w), len(g), sys.argv[3]))
    sys.exit()
first += next(i for i in range(4096) if w[first + i] != g[first + i])
bad = sum(1 for i in range(0, n, 4096) if w[i:i + 4096] != g[i:i + 4096])
probe = g[first:first + 64]
src = w.find(probe) if len(probe) == 64 else -1
print("sizes want %d got %d; first difference at %d; %d of %d 4K blocks differ; "
      "got[%d:+64] %s; kept in %s" % (len(w), len(g), first, bad, (n + 4095) // 4096, first,
      "is want[%d:] (shift %+d)" % (src, src - first) if src >= 0 else "is not in want",
      sys.argv[3]))
PY
}

# mkdata FILE MIB: random test data
mkdata() { head -c "$(($2 * 1048576))" /dev/urandom >"$1"; }

# fd_count PID: open descriptors of PID
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# conc_start PORT [ARGS...]: `mpconv concentrator` on $CONC4:PORT in
# NS_CONC accepting the lab's access prefix, pins in $PINC (pin_dir conc
# when unset), log $MPC_TMP/conc.log; waits for its listener, sets CONC_PID.
conc_start() {
	local port=$1
	shift
	PINC=${PINC:-$(pin_dir conc)}
	bg "$NS_CONC" "$MPC_TMP/conc.log" "$MPCONV" -v --pin-path "$PINC" concentrator \
		--listen "$CONC4:$port" --allow 198.51.100.0/24 "$@"
	CONC_PID=$BG_PID
	wait_listen "$NS_CONC" "$port" || { dump_logs "$MPC_TMP/conc.log"; return 1; }
}

# cpe_start LOG PORT [ARGS...]: `mpconv cpe` on the lab's lan, wan1 and wan2
# toward $CONC4:PORT in NS_CPE, pins in $PINE (pin_dir cpe when unset),
# log LOG; waits until its status answers, sets CPE_PID.
cpe_running() { "$MPCONV" --pin-path "$PINE" status >/dev/null 2>&1; }
cpe_start() {
	local log=$1 port=$2
	shift 2
	PINE=${PINE:-$(pin_dir cpe)}
	bg "$NS_CPE" "$log" "$MPCONV" -v --pin-path "$PINE" cpe --lan lan --wan wan1,wan2 \
		--concentrator "$CONC4:$port" "$@"
	CPE_PID=$BG_PID
	wait_until 60 cpe_running || { dump_logs "$log"; return 1; }
}

# wan_sf SRC: established TCP subflows from SRC to $CONC4, seen on the CPE
wan_sf() { nsx "$NS_CPE" ss -Htn state established src "$1" dst "$CONC4" | grep -c .; }
wan_sf_is() { [ "$(wan_sf "$1")" = "$2" ]; }	# wan_sf_is SRC N (for wait_until)

# counters_flushed PIN: wait (at most 5 s) until the daemon pinned at PIN
# has written all its counters at least once after this call: two more
# flushes, the first of which may have started before the call.
# daemon_counter PIN NAME: a daemon event counter, 0 when not listed
# (zero counters are not); fails when the daemon's stats cannot be read
daemon_counter() {
	local n
	n=$("$MPCONV" --pin-path "$1" -j stats) || return 1
	n=$(grep -o "\"$2\":[0-9]*" <<<"$n" | grep -o '[0-9]*$')
	echo "${n:-0}"
}
_flushes() { daemon_counter "$1" counter_flushes; }
_flushed_past() { [ "$(_flushes "$1")" -ge "$2" ]; }
counters_flushed() {
	local f0
	f0=$(_flushes "$1") || return 1
	wait_until 5 _flushed_past "$1" $((f0 + 2))
}

# nstat_get NS COUNTER: one kernel MIB counter in NS (absolute value)
nstat_get() {
	NSTAT_HISTORY=$MPC_TMP/nstat.$1 nsx "$1" nstat -az "$2" 2>/dev/null |
		awk -v c="$2" '$1 == c { print $2; found=1 } END { if (!found) print 0 }'
}
