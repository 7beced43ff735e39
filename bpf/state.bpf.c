// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The daemon's maps and nothing else. Every daemon loads this object first
 * so its pinned maps exist with BTF even when no program is attached (a
 * concentrator in explicit mode attaches none but keeps mpc_binds).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
