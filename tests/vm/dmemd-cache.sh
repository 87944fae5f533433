#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Demand that knows hot cache from cold (real libvirtd, TCG guests with
# dmem_balloon and a virtio disk; reading /dev/vda goes through the guest's
# page cache, and QEMU counts what reaches the disk):
#
#   - hot set kept: a 1 GiB VM (minimum 256 MiB) re-reads a 400 MiB region
#     of its disk in a loop. After the shrink delay and a settle period it
#     is shrunk well below 1 GiB, yet its Buffers+Cached still holds the set
#     and the host sees next to no reads; `dmemctl explain` tells the
#     estimate and its evidence, status --json and the metrics carry it;
#   - cold set returned: once the loop stops, the surplus goes back within
#     the reprobe wait plus a few probes;
#   - the same VM and loop with cache_aware=no (the same run): the VM is
#     shrunk to what it uses plus its floor, loses the set and reads from
#     its disk all the time. The figures of both go to the notes;
#   (contention between two such VMs: dmemd-cache-contention.sh);
#   - no OOM kill, guest kernel logs clean.
set -uo pipefail
source "$(dirname "$0")/../lib/dmemd.sh"
source "$(dirname "$0")/../lib/cache-workload.sh"

SET_MIB=400
dmemd_init
interval_ms=500 shrink_delay_s=10 cache_probe_s=5 cache_reprobe_s=30 \
	host_pool_mib=4096 metrics_file=$VM_DIR/dmemd.prom dmemd_config
vm_define db startup=1024 max=1536 slots=4 disk=512
vm_start db
db=$(vm_dom db)
dmemctl set "$db" --minimum 256M >/dev/null || bail "dmemctl set failed"

loop_start db
dmemd_start
status_in() { local s; s=$(dmemd_vm_json "$1" status); [[ " $2 " == *" $s "* ]]; }
vm_wait 30 status_in db "OK Low" || bail "db is not managed: $(dmemd_vm_json db reason)"

# ---- hot set kept ------------------------------------------------------------
# The shrink delay, the shrink, then probes that find the set hot.
# In use here is about 150 MiB, the guest kernel 60: in use + kernel + the
# set + 20 % buffer is about 750 MiB.
shrunk() { [ "$(size_mib db)" -lt 870 ]; }
check "the VM is shrunk from 1 GiB (cache_aware=yes)" vm_wait 90 shrunk
hot_seen() { dmemctl explain "$db" | grep -q "reads rose from"; }
check "a probe found the set hot" vm_wait 90 hot_seen
sleep 10
on_size=$(size_mib db) on_cached=$(cached_mib db) on_rate=$(read_rate db 20)
tap_diag "cache_aware=yes: size $on_size MiB, Buffers+Cached $on_cached MiB, disk reads $on_rate KiB/s (host, over 20 s)"
dmemctl explain "$db" | sed 's/^/# /'
check "it is still well below 1 GiB (< 870 MiB)" test "$on_size" -lt 870
check "its Buffers+Cached still holds the set" test "$on_cached" -ge $((SET_MIB - 8))
check "the host sees next to no reads (< 4 MiB/s)" test "$on_rate" -lt 4096
# In use (total - available) already counts part of the cache (MemAvailable
# leaves out the kernel's low watermarks): the estimate is what is needed
# beyond it, and with the buffer it holds the set (as checked above).
hot=$(dmemd_vm_json db hot_cache_kib)
check "dmemctl status --json shows the hot cache (most of the set)" \
	test "$hot" -ge $((SET_MIB / 2 * 1024)) -a "$hot" -le $(((SET_MIB + 48) * 1024))
check "demand counts it" test "$(dmemd_vm_json db demand_kib)" -gt "$hot"
check "the metrics carry it" grep -q "^dmem_vm_hot_cache_bytes{domain=\"$db\"} [1-9]" "$VM_DIR/dmemd.prom"
check "and the disk read rate" grep -q "^dmem_vm_disk_read_bytes_per_second{domain=\"$db\"} " "$VM_DIR/dmemd.prom"

# ---- cold set returned -------------------------------------------------------
loop_stop db
t0=$(date +%s)
# Gone from demand (at least half of the estimate: below the guest's floor
# a probe could take nothing, so none runs), and from what the VM has (not
# a probe's dip: the estimate is down too).
on_hot=$hot
cold() {
	[ "$(dmemd_vm_json db hot_cache_kib)" -lt $((on_hot / 2)) ] 2>/dev/null &&
		[ "$(size_mib db)" -lt $((on_size - 150)) ]
}
check "once the loop stops, the cold set goes back" vm_wait 150 cold
tap_diag "size $(size_mib db) MiB after $(($(date +%s) - t0)) s; $(dmemctl explain "$db" | grep 'hot cache:')"
check "explain says the cache was cold" bash -c "'$DMEM_TOP/hostd/dmemctl' --config '$DMEMD_CONF' explain '$db' | grep -q 'that cache was cold'"

# ---- the same with cache_aware=no --------------------------------------------
sed -i 's/^cache_aware=.*/cache_aware=no/' "$DMEMD_CONF"
kill -HUP "$DMEMD_PID"
loop_start db
sleep 30
off_size=$(size_mib db) off_cached=$(cached_mib db) off_rate=$(read_rate db 20)
tap_diag "cache_aware=no: size $off_size MiB, Buffers+Cached $off_cached MiB, disk reads $off_rate KiB/s (host, over 20 s)"
check "cache_aware=no: the VM is smaller" test "$off_size" -lt "$on_size"
check "it cannot hold the set" test "$off_cached" -lt $((SET_MIB - 8))
check "and reads from its disk all the time (> 10x the estimator's rate, > 8 MiB/s)" \
	test "$off_rate" -gt $((on_rate * 10)) -a "$off_rate" -gt 8192
check "explain says the cache is not estimated" bash -c "'$DMEM_TOP/hostd/dmemctl' --config '$DMEMD_CONF' explain '$db' | grep -q 'hot cache: not estimated (cache_aware=no'"
loop_stop db
check "no OOM kill in db" test "$(oom_kills db)" -eq 0
check "db: the guest kernel log is clean" vm_dmesg_clean db
vm_destroy db

check "dmemd stops cleanly" dmemd_stop
tap_done
