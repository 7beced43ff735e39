#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# VM-only: the guest kernel has what the delay/loss scenario tests need.
# Run by selftests-vm/run inside the VM (tests/run with
# MPC_EXTRA_TEST_DIRS); on the host it skips itself (the host kernel has
# no netem, which is why these scenarios run in the VM).
#
#   a [va]---veth---[vb] b      192.0.2.1/24 - 192.0.2.2/24
#     [va2]--veth--[vb2]        198.51.100.1/24 - 198.51.100.2/24
#
# Cases: the guest kernel, netem delay and loss in a netns (sch_netem is a
# module: this also proves module autoload), tc and XDP BPF programs on
# veth whose verdicts act on packets, an MPTCP connection that opens a
# second subflow on the second veth.
. "$(dirname "$0")/../../tests/lib.sh"

if [ "${SELFTESTS_VM:-0}" != 1 ]; then
	echo "# VM-only test (selftests-vm/run)"
	exit 4
fi

OBJ=$BUILD/selftests-vm/vm_check.bpf.o

netns_add A a && netns_add B b || exit 1
veth "$A" va "$B" vb && veth "$A" va2 "$B" vb2 || exit 1
addr "$A" va 192.0.2.1/24 && addr "$B" vb 192.0.2.2/24 &&
	addr "$A" va2 198.51.100.1/24 && addr "$B" vb2 198.51.100.2/24 || exit 1
wait_until 10 nsx "$A" ping -c1 -W1 -q 192.0.2.2 || { echo "# veth did not come up"; exit 1; }

# rtt_min NS DST COUNT: the smallest ping RTT in ms (integer), empty on loss
rtt_min() {
	nsx "$1" ping -c "$3" -i 0.2 -W 2 -q "$2" 2>/dev/null |
		awk -F'[/ =]+' '/^rtt/ { printf "%d\n", $6 }'
}

case_kernel() {
	local kv jit
	kv=$(uname -r)
	jit=$(cat /proc/sys/net/core/bpf_jit_enable)
	echo "# kernel $kv, bpf_jit_enable=$jit"
	if [ ! -s /sys/kernel/btf/vmlinux ]; then
		fail "no /sys/kernel/btf/vmlinux"
	elif [ "$jit" != 1 ]; then
		fail "bpf_jit_enable=$jit"
	elif [ "$(stat -f -c %T /sys/fs/bpf)" != bpf_fs ]; then
		fail "no bpffs on /sys/fs/bpf"
	else
		pass "$kv"
	fi
}

case_netem_delay() {
	local base r
	base=$(rtt_min "$A" 192.0.2.2 3)
	if ! nsx "$A" tc qdisc add dev va root netem delay 20ms; then
		fail "tc qdisc add netem failed (sch_netem module not loadable?)"
		return
	fi
	r=$(rtt_min "$A" 192.0.2.2 5)
	nsx "$A" tc qdisc del dev va root
	echo "# rtt min without netem ${base:-?} ms, with 20ms delay ${r:-lost} ms"
	if [ -z "$r" ]; then
		fail "pings lost"
	elif [ "$r" -lt 20 ]; then
		fail "rtt $r ms < 20 ms: the delay is not applied"
	else
		pass "rtt $r ms"
	fi
}

case_netem_loss() {
	if ! nsx "$A" tc qdisc add dev va root netem loss 100%; then
		fail "tc qdisc add netem loss failed"
	elif nsx "$A" ping -c 3 -i 0.2 -W 1 -q 192.0.2.2 >/dev/null; then
		fail "pings got through 100% loss"
	elif ! nsx "$A" tc qdisc del dev va root; then
		fail "tc qdisc del failed"
	elif ! nsx "$A" ping -c 2 -i 0.2 -W 2 -q 192.0.2.2 >/dev/null; then
		fail "path not restored after removing netem"
	else
		pass
	fi
}

# cnt SLOT: a counter of mpc_vm_cnt (formatted through the object's BTF)
cnt() {
	bpftool -j map lookup pinned "$PIN/maps/mpc_vm_cnt" key "$1" 0 0 0 |
		sed -n 's/.*"formatted":{"key":[0-9]*,"value":\([0-9]*\)}.*/\1/p'
}
arm() { bpftool map update pinned "$PIN/maps/mpc_vm_cfg" key 0 0 0 0 value "$1" 0 0 0; }

case_bpf() {
	local seen_tc seen_xdp drops
	PIN=$(pin_dir vm_check) && mkdir -p "$PIN" || { fail "no pin dir"; return; }
	if [ ! -f "$OBJ" ]; then
		fail "$OBJ not built (selftests-vm/run builds it)"
		return
	fi
	# one load, maps shared by both programs; tc and ip attach the pins
	if ! bpftool prog loadall "$OBJ" "$PIN/progs" pinmaps "$PIN/maps"; then
		fail "bpftool prog loadall failed"
	elif ! nsx "$B" tc qdisc add dev vb clsact ||
		! nsx "$B" tc filter add dev vb ingress bpf direct-action \
			object-pinned "$PIN/progs/mpc_vm_tc"; then
		fail "cannot attach the tc program"
	elif ! nsx "$B" ip link set dev vb xdpdrv pinned "$PIN/progs/mpc_vm_xdp"; then
		fail "cannot attach the XDP program in native mode"
	elif ! nsx "$A" ping -c 3 -i 0.2 -W 2 -q 192.0.2.2 >/dev/null; then
		fail "ping failed with the disarmed programs attached"
	else
		seen_tc=$(cnt 0) seen_xdp=$(cnt 2)
		arm 1
		if nsx "$A" ping -c 3 -i 0.2 -W 1 -q 192.0.2.2 >/dev/null; then
			fail "pings got through the armed tc program"
		else
			drops=$(cnt 1)
			arm 0
			echo "# tc saw ${seen_tc:-?}, XDP saw ${seen_xdp:-?}, tc dropped ${drops:-?} echo requests"
			if [ "${seen_tc:-0}" -lt 3 ] || [ "${seen_xdp:-0}" -lt 3 ]; then
				fail "the programs did not see the pings"
			elif [ "${drops:-0}" -lt 3 ]; then
				fail "the armed program counted ${drops:-0} drops, not 3"
			elif ! nsx "$A" ping -c 2 -i 0.2 -W 2 -q 192.0.2.2 >/dev/null; then
				fail "path not restored after disarming"
			else
				pass
			fi
		fi
	fi
	nsx "$B" ip link set dev vb xdpdrv off 2>/dev/null
	nsx "$B" tc qdisc del dev vb clsact 2>/dev/null
}

# b announces its second address (signal endpoint); a's in-kernel path
# manager opens a subflow to it over va2. The server listens on any
# address: the join arrives at 198.51.100.2. The client holds the
# connection until the join is seen (bounded), then checks the byte count.
case_mptcp() {
	local srv cli j crc capable joins go=$MPC_TMP/go
	nsx "$A" ip mptcp limits set subflows 2 add_addr_accepted 2
	nsx "$B" ip mptcp limits set subflows 2 add_addr_accepted 2
	nsx "$B" ip mptcp endpoint add 198.51.100.2 dev vb2 signal
	bg "$B" "$MPC_TMP/srv.log" /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)  # IPPROTO_MPTCP
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5201))
s.listen(1)
c, _ = s.accept()
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    n += len(b)
c.sendall(b"%d\n" % n)
c.close()
'
	srv=$BG_PID
	if ! wait_listen "$B" 5201 20; then
		fail "the MPTCP server did not listen"
		stop_pid "$srv"
		return
	fi
	bg "$A" "$MPC_TMP/cli.log" /usr/bin/python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.settimeout(30)
s.connect(("192.0.2.2", 5201))
s.sendall(b"x" * 100000)
end = time.time() + 25
while not os.path.exists(sys.argv[1]) and time.time() < end:
    time.sleep(0.05)
s.sendall(b"y" * 100000)
s.shutdown(socket.SHUT_WR)
print("echo", s.makefile().readline().strip())
' "$go"
	cli=$BG_PID
	joined() { [ "$(nstat_get "$B" MPTcpExtMPJoinSynRx)" -ge 1 ]; }
	wait_until 20 joined
	j=$?
	touch "$go"
	wait_pid_exit "$cli" 30
	crc=$?
	capable=$(nstat_get "$B" MPTcpExtMPCapableSYNRX)
	joins=$(nstat_get "$B" MPTcpExtMPJoinSynRx)
	echo "# MPCapableSYNRX=$capable MPJoinSynRx=$joins; client: $(cat "$MPC_TMP/cli.log")"
	if [ "$crc" != 0 ]; then
		fail "client exited with $crc"
		dump_logs "$MPC_TMP/cli.log" "$MPC_TMP/srv.log"
	elif ! grep -qx "echo 200000" "$MPC_TMP/cli.log"; then
		fail "server did not count 200000 bytes"
		dump_logs "$MPC_TMP/cli.log" "$MPC_TMP/srv.log"
	elif [ "$capable" -lt 1 ]; then
		fail "the connection was not MPTCP (MPCapableSYNRX=0)"
	elif [ $j != 0 ]; then
		fail "no second subflow joined"
	else
		pass "MP_CAPABLE and MP_JOIN seen"
	fi
	stop_pid "$srv"
}

tcase "guest kernel is the second kernel, with BTF and the BPF JIT" && case_kernel
tcase "netem delay 20ms on veth in a netns" && case_netem_delay
tcase "netem loss 100% drops, and removing it restores the path" && case_netem_loss
tcase "tc and XDP BPF programs on veth act on packets" && case_bpf
tcase "MPTCP connection with a second subflow over veth" && case_mptcp

finish
