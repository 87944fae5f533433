#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The buffer and the maximum, on real guests, as a user checks them with
# dmemctl and inside the guest:
#
#   - buffer: with plenty of memory, a VM (buffer 50 %) whose workload holds
#     700 MiB ends up, after the shrink delay, with assigned = demand x 1.5
#     within 24 MiB: dmemd sets the target to the ideal exactly and the
#     balloon reaches it within 8 MiB; demand moves by a few MiB between
#     samples (x 1.5). A 50 % buffer, not the default 20 %, so that the
#     buffer and not the guest's floor sets the size (in use + floor is
#     below demand x 1.5 here; at 20 % the floor would decide). While the
#     workload grows, the VM never has less than demand plus its buffer for
#     long: assigned >= demand x 1.5 - 16 MiB at the end of the growth;
#   - limits: a guest asking for more than its maximum (1024 MiB: a
#     workload of 1100 MiB, the guest swapping to its disk) never gets
#     more, and its status says so (Warning, "at maximum") while it asks;
#     no OOM kill.
set -uo pipefail
source "$(dirname "$0")/../lib/dmemd.sh"

interval_ms=500 shrink_delay_s=5 dmemd_init
vm_define buf startup=512 max=2048 slots=8
vm_define lim startup=512 max=1024 slots=2 disk=512
vm_start buf
vm_start lim
buf=$(vm_dom buf) lim=$(vm_dom lim)
dmemctl set "$buf" --minimum 256M --buffer 50 >/dev/null || bail "dmemctl set buf failed"
dmemd_start
status_in() { local s; s=$(dmemd_vm_json "$1" status); [[ " $2 " == *" $s "* ]]; }
vm_wait 30 status_in buf "OK Low" || bail "buf is not managed: $(dmemd_vm_json buf reason)"
vm_wait 30 status_in lim "OK Low" || bail "lim is not managed: $(dmemd_vm_json lim reason)"
mib_of() { echo $(($(dmemd_vm_json "$1" "$2") / 1024)); }

# ---- buffer ------------------------------------------------------------------
vm_exec buf 'memhog -m 700 -s 100 -i 500 -p /tmp/hog.pid >/tmp/hog.log 2>&1 &' >/dev/null
held() { vm_exec buf 'grep -q holding /tmp/hog.log'; }
vm_wait 60 held || bail "buf: the workload did not reach 700 MiB: $(vm_exec buf 'cat /tmp/hog.log')"
sleep 2
d=$(mib_of buf demand_kib) a=$(mib_of buf assigned_kib)
tap_diag "growth done: demand $d MiB, assigned $a MiB (demand x 1.5 = $((d * 3 / 2)) MiB)"
check "while it grows, the VM has its buffer (assigned >= demand x 1.5 - 16 MiB)" \
	test "$a" -ge $((d * 3 / 2 - 16))
# After the shrink delay the DIMM rounding goes back: assigned = ideal.
near_ideal() {
	local d a
	d=$(mib_of buf demand_kib) a=$(mib_of buf assigned_kib)
	near "$a" $((d * 3 / 2)) 24
}
check "after the shrink delay, assigned = demand x 1.5 (+-24 MiB)" vm_wait 60 near_ideal
d=$(mib_of buf demand_kib) a=$(mib_of buf assigned_kib)
floor_line=$(dmemctl explain "$buf" | grep 'ideal:')
tap_diag "settled: demand $d MiB, assigned $a MiB, $(vm_exec buf "grep MemAvailable /proc/meminfo")"
tap_diag "$floor_line"
check "the buffer sets it, not the floor" grep -q "demand + 50% buffer" <<<"$floor_line"
check "status OK" status_in buf OK
avail=$(($(vm_meminfo_kib buf MemAvailable) / 1024))
check "inside the guest, MemAvailable is about the buffer (demand x 0.5, +-48 MiB)" \
	near "$avail" $((d / 2)) 48
vm_exec buf 'kill $(cat /tmp/hog.pid)' >/dev/null

# ---- limits ------------------------------------------------------------------
# The guest swaps to its disk, as a real one would: a workload of 1100 MiB,
# more than the maximum (1024 MiB, of which its kernel keeps some), lives,
# paging, and the guest asks for more for as long as it runs.
vm_exec lim 'mkswap /dev/vda >/dev/null && swapon /dev/vda' >/dev/null ||
	bail "lim: cannot swap to its disk"
vm_exec lim 'memhog -m 1100 -s 50 -i 500 -p /tmp/hog.pid >/tmp/hog.log 2>&1 &' >/dev/null
t0=$(date +%s) most=0 warned=
while [ $(($(date +%s) - t0)) -lt 60 ]; do
	j=$(dmemctl status --json | jq -c --arg d "$lim" '.vms[] | select(.name == $d)')
	a=$(($(jq -r .assigned_kib <<<"$j") / 1024)) t=$(($(jq -r .target_kib <<<"$j") / 1024))
	[ "$a" -gt "$most" ] && most=$a
	[ "$t" -gt "$most" ] && most=$t
	if [ -z "$warned" ] && [ "$(jq -r .status <<<"$j")" = Warning ]; then
		reason=$(jq -r .reason <<<"$j")
		[[ $reason == "at maximum 1024 MiB"* ]] && warned=$reason
	fi
	[ -n "$warned" ] && [ $(($(date +%s) - t0)) -ge 30 ] && break
	sleep 0.2
done
tap_diag "lim: the most it was given: $most MiB; its Warning: ${warned:-none}"
tap_diag "$(vm_exec lim 'grep -E "^(MemTotal|SwapTotal|SwapFree):" /proc/meminfo' | tr -s ' \n' ' ')"
dmemctl status | sed 's/^/# /'
check "a guest asking for more than its maximum never gets more (<= 1024 MiB)" \
	test "$most" -le 1024
check "it reaches its maximum" test "$most" -ge 1008
check "its status says so: Warning, at maximum 1024 MiB" test -n "$warned"
# (logged when the status changes: its reason then may still be growing
# to the maximum)
check "and dmemd's log" grep -qE "$lim: Warning: (at|growing to its) maximum 1024 MiB" "$DMEMD_LOG"
check "the workload lives (the guest swaps)" vm_exec lim 'kill -0 $(cat /tmp/hog.pid)'
vm_exec lim 'kill $(cat /tmp/hog.pid)' >/dev/null
check "lim: no OOM kill" test "$(vm_exec lim 'dmesg | grep -c "Killed process"')" -eq 0
check "lim: the guest kernel log is clean" vm_dmesg_clean lim
check "buf: no OOM kill" test "$(vm_exec buf 'dmesg | grep -c "Killed process"')" -eq 0
check "buf: the guest kernel log is clean" vm_dmesg_clean buf
check "dmemd stops cleanly" dmemd_stop
tap_done
