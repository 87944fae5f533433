#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hot cache under contention (real libvirtd, TCG guests with dmem_balloon
# and a virtio disk): two VMs re-read a 400 MiB region of their disks; the
# pool then shrinks so that it covers the heavy VM's demand, hot set
# included, but not both. Weights 8000 / 2000: the heavy VM keeps its set
# and reads next to nothing from its disk; the light one loses cache first
# and holds less. No OOM kill, guest kernel logs clean.
set -uo pipefail
source "$(dirname "$0")/../lib/dmemd.sh"
source "$(dirname "$0")/../lib/cache-workload.sh"

SET_MIB=400
dmemd_init
interval_ms=500 shrink_delay_s=600 cache_probe_s=5 cache_reprobe_s=30 \
	host_pool_mib=4096 dmemd_config

# One line per VM of what dmemd and the guest say, for the log.
trace() {
	local v
	for v in hi lo; do
		dmemctl status --json | jq -r --arg d "$(vm_dom "$v")" '.vms[] | select(.name == $d) |
			"\($d | sub(".*-"; "")): assigned \(.assigned_kib / 1024 | floor) target \(.target_kib / 1024 | floor) demand \(.demand_kib / 1024 | floor) ideal \(.ideal_kib / 1024 | floor) hot \(.hot_cache_kib / 1024 | floor) cache \(.cache_kib / 1024 | floor) reads \(.disk_read_kib_per_s) KiB/s \(.status)"' |
			sed "s/\$/ free $(($(vm_balloon_kib "$v" unused) / 1024))/" | sed 's/^/# /'
	done
}

dmemd_start
# The VMs build their sets on a large pool. Their QEMUs must first be seen
# with empty balloons and all guest memory touched: dmemd learns QEMU's own
# resident memory (under TCG it grows with the translation cache as the
# workload runs) only then.
for v in hi lo; do
	vm_define "$v" startup=768 max=768 disk=512
	vm_start "$v"
done
dmemctl set "$(vm_dom hi)" --minimum 256M --weight 8000 >/dev/null || bail "dmemctl set hi failed"
dmemctl set "$(vm_dom lo)" --minimum 256M --weight 2000 >/dev/null || bail "dmemctl set lo failed"
for v in hi lo; do vm_exec "$v" 'memhog -m 600 -t 1 >/dev/null 2>&1' 120; done
for v in hi lo; do loop_start "$v"; done
has_set() { [ "$(dmemd_vm_json "$1" hot_cache_kib)" -ge $((SET_MIB / 2 * 1024)) ] 2>/dev/null; }
for v in hi lo; do
	vm_wait 60 has_set "$v" || bail "$v: no hot cache estimate: $(dmemctl explain "$(vm_dom "$v")")"
done
sleep 20
trace
# Demand is about 600 MiB each (in use, kernel, the set): 1000 MiB covers
# the minimums (256 each) and the heavy VM's demand (its weighted share is
# 256 + 0.8 x 488 MiB), not both.
sed -i 's/^host_pool_mib=.*/host_pool_mib=1000/; s/^shrink_delay_s=.*/shrink_delay_s=10/' "$DMEMD_CONF"
kill -HUP "$DMEMD_PID"
contended() { dmemctl status --json | jq -e '.dmemd.contention' >/dev/null; }
check "dmemd sees the pool contended" vm_wait 20 contended
t0=$(date +%s)
in_pool() { [ $(($(size_mib hi) + $(size_mib lo))) -le 1000 ]; }
check "the VMs are shrunk into the pool" vm_wait 90 in_pool
tap_diag "shrunk in $(($(date +%s) - t0)) s"
# The heavy VM may start short of its set (an estimate built as far as it
# fitted, its buffer holding the rest, then the pool took the buffer): it
# reads, probes up within its weighted share and holds the set. Settled:
# twice in a row the set cached and next to no reads.
hi_settled() { [ "$(cached_mib hi)" -ge $((SET_MIB - 16)) ] && [ "$(read_rate hi 5)" -lt 4096 ]; }
t0=$(date +%s) ok=0
while [ $(($(date +%s) - t0)) -lt 180 ] && [ "$ok" -lt 2 ]; do
	trace
	if hi_settled; then ok=$((ok + 1)); else ok=0; sleep 1; fi
done
check "the heavy VM settles holding its set (after $(($(date +%s) - t0)) s)" test "$ok" = 2
sleep 10
hi_rate=$(read_rate hi 15) lo_rate=$(read_rate lo 15)
tap_diag "weight 8000: size $(size_mib hi) MiB, Buffers+Cached $(cached_mib hi) MiB, reads $hi_rate KiB/s"
tap_diag "weight 2000: size $(size_mib lo) MiB, Buffers+Cached $(cached_mib lo) MiB, reads $lo_rate KiB/s"
dmemctl explain "$(vm_dom hi)" | sed 's/^/# /'
check "the heavy VM keeps its set" test "$(cached_mib hi)" -ge $((SET_MIB - 16))
check "and reads little (< 4 MiB/s)" test "$hi_rate" -lt 4096
check "the light VM lost cache first" test "$(cached_mib lo)" -lt $((SET_MIB - 16))
check "it holds less than the heavy one" test "$(size_mib lo)" -lt "$(size_mib hi)"
for v in hi lo; do
	loop_stop "$v"
	check "no OOM kill in $v" test "$(oom_kills "$v")" -eq 0
	check "$v: the guest kernel log is clean" vm_dmesg_clean "$v"
done
check "dmemd stops cleanly" dmemd_stop
tap_done
