#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Install what mpconv needs to build, test, demo and bench, from Debian
# packages only. Idempotent: it asks apt only for what is missing, and runs
# `apt-get update` at most once per invocation.
#
# Usage: scripts/deps.sh [build|check|demo|bench|vm]...   (default: check)
set -eu

want=${*:-check}

pkgs_build="make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libmnl-dev libssl-dev pkg-config"
pkgs_check="iproute2 iputils-ping iperf3 mptcpize tcpdump nftables curl ethtool procps util-linux python3 kmod coreutils"
pkgs_demo="lighttpd"
pkgs_bench="haproxy shadowsocks-libev valgrind linux-perf"
pkgs_vm="qemu-system-x86 busybox-static kmod xz-utils cpio"

list=""
for w in $want; do
	case $w in
	build) list="$list $pkgs_build" ;;
	check) list="$list $pkgs_build $pkgs_check" ;;
	demo) list="$list $pkgs_build $pkgs_check $pkgs_demo" ;;
	bench) list="$list $pkgs_build $pkgs_check $pkgs_demo $pkgs_bench" ;;
	vm) list="$list $pkgs_build $pkgs_check $pkgs_vm" ;;
	*) echo "deps.sh: unknown set '$w' (build|check|demo|bench|vm)" >&2; exit 2 ;;
	esac
done

missing=""
for p in $list; do
	case " $missing " in *" $p "*) continue ;; esac
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing; run as root or install them" >&2
	exit 1
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts some daemons on install; mpconv's labs start their own.
for s in lighttpd haproxy shadowsocks-libev; do
	case " $missing " in *" $s "*)
		systemctl stop "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
		systemctl disable "$s" >/dev/null 2>&1 || true ;;
	esac
done
echo "deps.sh: done"
