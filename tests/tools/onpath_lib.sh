# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Helpers for the on-path (implicit mode) netns tests; source after lib.sh.

ONPATH=$TOOLS/mpc_onpath
ONPATH_PY=$MPC_REPO/tests/tools
PY=/usr/bin/python3

# reason_idx NAME: index of MPC_R_<NAME> in include/mpconv/maps.h (the
# enum is append-only, so this follows it instead of hard-coding numbers)
reason_idx() {
	sed -n '/^enum mpc_reason {/,/^};/p' "$MPC_REPO/include/mpconv/maps.h" |
		grep -oE '^[[:space:]]+MPC_R_[A-Z0-9_]+' | sed 's/^[[:space:]]*//' |
		grep -nx "MPC_R_$1" | cut -d: -f1 | awk '{ print $1 - 1 }'
}

# stat_count PIN NAME: packets counted under MPC_R_NAME (summed over CPUs)
stat_count() {
	local idx
	idx=$(reason_idx "$2") || return 1
	[ -n "$idx" ] || { echo "# unknown reason $2" >&2; return 1; }
	bpftool -j map lookup pinned "$1/mpc_stats" key \
		$((idx & 255)) $(((idx >> 8) & 255)) 0 0 2>/dev/null |
		$PY -c 'import json,sys; d=json.load(sys.stdin); d=d.get("formatted", d); print(sum(v["value"]["packets"] for v in d["values"]))'
}

# json_get FILE KEY [N]: KEY of the N-th (1-based, default last) JSON line
# of FILE that has KEY
json_get() {
	$PY - "$@" <<'EOF'
import json, sys
f, key = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
vals = []
for line in open(f):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if key in d:
        vals.append(d[key])
if not vals or n > len(vals):
    sys.exit(1)
v = vals[n - 1] if n else vals[-1]
print(str(v).lower() if isinstance(v, bool) else v)
EOF
}

# tap_start NS IF PCAP LOG: tcpdump of TCP on IF, packet-buffered; waits
# until it listens; sets BG_PID
tap_start() {
	tcpdump_start "$1" "$2" "$3" "$4" -nn -s 256 tcp
}

# pcap_syn PCAP ADDR:PORT: the onpath_pcap.py line of the SYN from there
# (ADDR:PORT as onpath_sock.py prints "local")
pcap_syn() {
	local src="${2%:*}.${2##*:}"
	$PY "$ONPATH_PY/onpath_pcap.py" "$1" | grep -F " $src > " | grep ' syn ' | head -n1
}
