#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hot-remove on real guests: hot-added DIMMs whose memory a VM no longer
# needs go back whole, as a user checks it from the host (virsh, the QEMU
# process's resident memory, dmemctl) and inside the guest (MemTotal,
# dmesg, the workload's fate):
#
#   - growth, then idle: a 512 MiB guest grows by DIMMs for a 1100 MiB
#     workload; once it ends and the shrink delay has passed, every
#     hot-added DIMM is unplugged (newest first, one at a time), the
#     balloon is not inflated over them meanwhile, MemTotal is back to the
#     startup size (within a memory block), QEMU's resident guest memory
#     drops by at least 90 % of what was removed, no OOM kill;
#   - a new workload and a target change (a raised minimum) arriving while
#     the DIMMs go: the guest ends with what both need, no OOM kill, and
#     `rmmod dmem_balloon` afterwards gives everything back cleanly;
#   - a guest whose DIMM memory is onlined into ZONE_NORMAL (no movable
#     setting; onlined by hand as kernel memory, then used by the kernel):
#     the unplug is refused, reported once (log, explain, metrics), the
#     balloon keeps the surplus instead, the DIMM stays, nothing breaks.
set -uo pipefail
source "$(dirname "$0")/../lib/dmemd.sh"

interval_ms=500 shrink_delay_s=10 dmemd_init
metrics_file=$VM_DIR/dmemd.prom interval_ms=500 shrink_delay_s=10 dmemd_config
vm_define up startup=512 max=2048 slots=4
vm_define nrm startup=512 max=2048 slots=4 cmdline="memhp_default_state=offline"
vm_start up
vm_start nrm
up=$(vm_dom up) nrm=$(vm_dom nrm)
dmemd_start
status_in() { local s; s=$(dmemd_vm_json "$1" status); [[ " $2 " == *" $s "* ]]; }
vm_wait 30 status_in up "OK Low" || bail "up is not managed: $(dmemd_vm_json up reason)"
mib() { echo $(($1 / 1024)); }
total0=$(vm_meminfo_kib up MemTotal)
unplugged() { grep -c "$1: unplugged DIMM" "$DMEMD_LOG"; }

# ---- growth, then idle ---------------------------------------------------------
# 1100 MiB: the guest grows to its maximum, every slot used, so that
# touching its free memory below adds no DIMM behind the count.
vm_exec up 'memhog -m 1100 -s 100 -i 300 -p /tmp/hog.pid >/tmp/hog.log 2>&1 &' >/dev/null
held() { vm_exec "$1" 'grep -q holding /tmp/hog.log'; }
vm_wait 90 held up || bail "up: the workload did not reach 1100 MiB: $(vm_exec up 'tail -n 2 /tmp/hog.log')"
all_slots() { [ "$(vm_dimms up)" -eq 4 ]; }
vm_wait 30 all_slots
dimms=$(vm_dimms up)
tap_diag "up grew to $(vm_meminfo_kib up MemTotal) KiB MemTotal with $dimms DIMMs"
check "up: DIMMs were hot-added for the workload, every slot" test "$dimms" -eq 4
# The workload's first steps landed in boot memory: touch what is free too,
# so that the DIMMs are resident on the host before they go.
vm_exec up "memhog -m $(( $(vm_meminfo_kib up MemFree) / 1024 - 48 )) -t 1 >/dev/null 2>&1" 60
vm_exec up 'kill $(cat /tmp/hog.pid)' >/dev/null
rss_before=$(vm_guest_rss_kib up)
live=$(($(dmemd_vm_json up live_kib)))

# During the delay the balloon stays off the DIMMs: assigned stays the live
# size, and explain says what will happen.
sleep 4
explain=$(dmemctl explain "$up")
tap_diag "$(echo "$explain" | grep -i 'hot-remove')"
check "up: during the delay explain announces the unplug" \
	grep -qiE 'hot-remove:.*unused.*goes in' <<<"$explain"
check "up: during the delay the balloon is not inflated over the DIMMs" \
	test "$(mib "$(vm_balloon_kib up actual)")" -ge "$(( $(mib "$live") - 16 ))"

t0=$(date +%s)
gone() { [ "$(vm_dimms "$1")" -eq 0 ]; }
check "up: every hot-added DIMM is unplugged after the delay" vm_wait 90 gone up
tap_diag "all $dimms DIMMs gone $(( $(date +%s) - t0 )) s after the check started; $(grep -F "$up: unplugged DIMM" "$DMEMD_LOG" | sed 's/.*unplugged/unplugged/' | tr '\n' ';')"
check "up: one unplug per DIMM, newest first" \
	test "$(grep -F "$up: unplugged DIMM" "$DMEMD_LOG" | sed -n 's/.*DIMM \(dimm[0-9]*\).*/\1/p' | tr '\n' ' ')" = \
	     "$(for i in $(seq $((dimms - 1)) -1 0); do printf 'dimm%d ' "$i"; done)"
sleep 2
total1=$(vm_meminfo_kib up MemTotal)
tap_diag "MemTotal: startup $total0 KiB, after the unplugs $total1 KiB"
check "up: MemTotal is back to the startup size (within a 128 MiB block)" near "$total1" "$total0" 131072
rss_after=$(vm_guest_rss_kib up)
removed=$((dimms * 256 * 1024))
tap_diag "QEMU guest RSS $(mib "$rss_before") -> $(mib "$rss_after") MiB; removed $(mib $removed) MiB"
check "up: QEMU's resident guest memory dropped by >= 90 % of what was removed" \
	test $((rss_before - rss_after)) -ge $((removed * 9 / 10))
check "up: no balloon pages were migrated for the unplugs" \
	test "$(vm_vmstat up balloon_migrate)" -eq 0
check "up: dmemctl shows no DIMM and the unplug count" \
	test "$(dmemd_vm_json up dimms)/$(dmemd_vm_json up unplugs)" = "0/$dimms"
check "up: no OOM kill" test "$(vm_exec up 'dmesg | grep -c "Killed process"')" -eq 0

# ---- a workload and a target change while DIMMs go -----------------------------
# Data in the DIMMs (a tmpfs file) makes the guest migrate pages while it
# offlines them; the guest starts a workload the moment the newest DIMM's
# memory starts going offline, and dmemctl raises the buffer as soon as
# dmemd has asked for the unplug.
vm_exec up 'memhog -m 900 -s 100 -i 300 -p /tmp/hog.pid >/tmp/hog.log 2>&1 &' >/dev/null
vm_wait 90 held up || bail "up: the second workload did not reach 900 MiB"
two() { [ "$(vm_dimms up)" -ge 2 ]; }
vm_wait 30 two || bail "up: no DIMMs for the second workload"
vm_exec up 'mkdir -p /t && mount -t tmpfs none /t && dd if=/dev/urandom of=/t/data bs=1M count=150 2>/dev/null && md5sum /t/data >/tmp/data.md5' 120 >/dev/null ||
	bail "up: cannot write the tmpfs data"
vm_exec up 'kill $(cat /tmp/hog.pid)' >/dev/null
# The guest watches the state of every DIMM memory block (above 4 GiB:
# blocks 32 and up) in a loop without forks, and starts the workload the
# moment one of them is going offline (or offline, not yet removed).
vm_exec up 'cat >/tmp/trigger.sh <<"SH"
while :; do
	for f in /sys/devices/system/memory/memory3[2-9]/state /sys/devices/system/memory/memory[4-9][0-9]/state; do
		read -r s <"$f" 2>/dev/null || continue
		case $s in going-offline|offline) break 2 ;; esac
	done
done
memhog -m 700 -p /tmp/hog.pid >/tmp/hog.log 2>&1 &
echo "$s ${f%/state}" >/tmp/trigger
SH
sh /tmp/trigger.sh >/dev/null 2>&1 &' >/dev/null
started() { [ "$(grep -c "$up: unplugging DIMM" "$DMEMD_LOG")" -gt "$dimms" ]; }
vm_wait 60 started || bail "up: no unplug started after the second workload"
dmemctl set "$up" --buffer 50 >/dev/null || tap_not_ok "dmemctl set --buffer during an unplug"
fired() { vm_exec up 'grep -qsE "^(going-offline|offline) " /tmp/trigger'; }
check "up: the workload started while the DIMM's memory was going offline" vm_wait 30 fired
tap_diag "the guest saw $(vm_exec up 'cat /tmp/trigger'); dmemd: $(grep -E "$up: (unplugging|unplugged)|dmem metadata changed" "$DMEMD_LOG" | tail -n 4 | sed 's/.*: [0-9:.]*: //' | tr '\n' ';')"
vm_wait 90 held up || bail "up: the workload that arrived during the unplug did not get its memory"
enough() {
	local a i
	a=$(vm_balloon_kib up actual) i=$(dmemd_vm_json up ideal_kib)
	[ "$(dmemd_vm_json up status)" = OK ] && [ "$a" -ge $((i - 16384)) ]
}
check "up: after the unplug the guest has what the workload and its raised buffer need" vm_wait 90 enough
tap_diag "up: demand $(mib "$(dmemd_vm_json up demand_kib)") MiB, ideal $(mib "$(dmemd_vm_json up ideal_kib)") MiB, assigned $(mib "$(vm_balloon_kib up actual)") MiB, $(vm_dimms up) DIMMs"
check "up: the tmpfs data in the unplugged DIMMs is intact" vm_exec up 'md5sum -c /tmp/data.md5 >/dev/null'
check "up: the workload that arrived during the unplug lives" vm_exec up 'kill -0 $(cat /tmp/hog.pid)'
consistent() { [ "$(vm_balloon_kib up actual)" -le $(( $(dmemd_vm_json up live_kib) + 8192 )) ]; }
check "up: the balloon is within the live size" consistent
vm_exec up 'kill $(cat /tmp/hog.pid)' >/dev/null
check "up: no OOM kill" test "$(vm_exec up 'dmesg | grep -c "Killed process"')" -eq 0

# ---- the balloon first, the DIMMs later ----------------------------------------
# unplug_delay_s longer than the shrink delay: the balloon takes the surplus
# (its pages land in the DIMMs' movable memory), then the DIMMs go with the
# balloon pages in them, given up in place by the guest, and the balloon
# target is set again for the smaller guest.
dmemctl set "$up" --buffer 20 >/dev/null
sed -i 's/^unplug_delay_s=.*/unplug_delay_s=25/' "$DMEMD_CONF"
kill -HUP "$DMEMD_PID"
S=/sys/bus/virtio/drivers/dmem_balloon/virtio*/dmem
offlined0=$(vm_exec up "cat $S/offlined_kib")
vm_exec up 'memhog -m 900 -s 100 -i 300 -p /tmp/hog.pid >/tmp/hog.log 2>&1 &' >/dev/null
vm_wait 90 held up || bail "up: the third workload did not reach 900 MiB"
vm_wait 30 two || bail "up: no DIMMs for the third workload"
dimms3=$(vm_dimms up)
unplugs3=$(grep -c "$up: unplugged DIMM" "$DMEMD_LOG")
vm_exec up 'kill $(cat /tmp/hog.pid)' >/dev/null
ballooned_in_dimms() { [ "$(vm_dimms up)" -ge 1 ] && [ "$(vm_exec up "cat $S/actual_kib")" -ge $((256 * 1024)) ]; }
check "up: with the longer unplug delay the balloon takes the surplus first" vm_wait 40 ballooned_in_dimms
tap_diag "up: balloon $(( $(vm_exec up "cat $S/actual_kib") / 1024 )) MiB with $(vm_dimms up) DIMMs plugged"
# Down to what the ideal needs: a DIMM goes when the ideal leaves it unused
# with 64 MiB to spare (or the ideal is the minimum).
needed_left() {
	local n live ideal
	n=$(vm_dimms up) live=$(dmemd_vm_json up live_kib) ideal=$(dmemd_vm_json up ideal_kib)
	[ "$n" -le $((dimms3 - 2)) ] &&
		{ [ "$n" -eq 0 ] || [ $((live - 256 * 1024)) -lt $((ideal + 64 * 1024)) ]; }
}
check "up: then the DIMMs go all the same, down to what the ideal needs" vm_wait 120 needed_left
sleep 3
offlined=$(( $(vm_exec up "cat $S/offlined_kib") - offlined0 ))
tap_diag "up: $((offlined / 1024)) MiB of balloon given up in place by the unplugs; balloon pages migrated $(vm_vmstat up balloon_migrate); $(grep -F "$up: unplugged DIMM" "$DMEMD_LOG" | tail -n +$((unplugs3 + 1)) | sed 's/.*unplugged/unplugged/' | tr '\n' ';')"
check "up: the guest gave balloon pages up in place instead of migrating them" \
	test "$offlined" -gt 0 -a "$(vm_vmstat up balloon_migrate)" -eq 0
truthful() {
	local live actual bal
	live=$(dmemd_vm_json up live_kib) actual=$(vm_balloon_kib up actual)
	bal=$(vm_exec up "cat $S/actual_kib")
	near $((live - bal)) "$actual" 4096
}
check "up: the balloon's actual is the truth after the swap (live - balloon = virsh actual)" vm_wait 10 truthful
at_goal() { [ "$(vm_balloon_kib up actual)" -le $(( $(dmemd_vm_json up ideal_kib) + 16384 )) ]; }
check "up: and the guest is at its ideal" vm_wait 20 at_goal
# Against the DIMMs plugged now: the ideal can outgrow the startup size
# again right after the unplugs, and a DIMM come back.
memtotal_truthful() {
	local m b n
	read -r m b < <(vm_exec up "echo \$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) \$(cat $S/actual_kib)")
	n=$(vm_dimms up)
	near "$m" $((total0 + n * 256 * 1024 - b)) 8192
}
check "up: MemTotal is the startup size plus the DIMMs plugged, less the balloon" vm_wait 10 memtotal_truthful
tap_diag "up: MemTotal $(vm_meminfo_kib up MemTotal) KiB, balloon $(vm_exec up "cat $S/actual_kib") KiB, $(vm_dimms up) DIMMs, startup MemTotal $total0 KiB"
check "up: no OOM kill" test "$(vm_exec up 'dmesg | grep -c "Killed process"')" -eq 0
tap_diag "up: $dimms3 DIMMs in this round"
dmemd_stop
check "up: rmmod dmem_balloon after the unplugs" vm_exec up 'rmmod dmem_balloon'
all_back() { [ "$(vm_meminfo_kib up MemTotal)" -ge $(( $(vm_virsh dommemstat "$up" | awk '$1=="actual"{print $2}') - 131072 )) ]; }
check "up: after rmmod the guest has all its memory back" all_back
check "up: guest kernel log clean" vm_dmesg_clean up
dmemd_start

# ---- ZONE_NORMAL: the guest refuses --------------------------------------------
# The guest onlines new memory by hand, as kernel memory (like an old udev rule).
vm_exec nrm 'while :; do for s in /sys/devices/system/memory/memory*/state; do grep -q offline "$s" && echo online_kernel >"$s"; done; sleep 0.2; done >/dev/null 2>&1 &' >/dev/null
vm_wait 30 status_in nrm "OK Low" || bail "nrm is not managed: $(dmemd_vm_json nrm reason)"
vm_exec nrm 'memhog -m 700 -s 100 -i 300 -p /tmp/hog.pid >/tmp/hog.log 2>&1 &' >/dev/null
vm_wait 90 held nrm || bail "nrm: the workload did not reach 700 MiB"
zones=$(vm_exec nrm 'for b in /sys/devices/system/memory/memory*; do [ ${b##*memory} -ge 32 ] && cat $b/valid_zones; done | sort -u | tr "\n" " "')
tap_diag "nrm: $(vm_dimms nrm) DIMMs; zones of memory above 4 GiB: $zones"
check "nrm: its DIMMs are in ZONE_NORMAL" grep -q Normal <<<"$zones"
# Kernel allocations (inodes, dentries) now also land in the DIMMs.
vm_exec nrm 'mkdir -p /t && mount -t tmpfs none /t && cd /t && seq 1 20000 | xargs touch' 120 >/dev/null
vm_exec nrm 'kill $(cat /tmp/hog.pid)' >/dev/null
refused() { dmemd_log_has "$nrm: unplugging DIMM" && grep -qF "$nrm: unplugging DIMM" <(grep -F "the guest refused" "$DMEMD_LOG"); }
check "nrm: the unplug is refused and reported" vm_wait 90 refused
nrm_dimms=$(vm_dimms nrm)
check "nrm: the DIMM stays" test "$nrm_dimms" -ge 1
goal_mib() { echo $(( $(dmemd_vm_json nrm ideal_kib) / 1024 )); }
ballooned() { [ "$(mib "$(vm_balloon_kib nrm actual)")" -le $(( $(goal_mib) + 32 )) ]; }
check "nrm: the balloon keeps the surplus instead" vm_wait 60 ballooned
tap_diag "nrm: actual $(mib "$(vm_balloon_kib nrm actual)") MiB, ideal $(goal_mib) MiB, live $(mib "$(dmemd_vm_json nrm live_kib)") MiB"
explain=$(dmemctl explain "$nrm")
tap_diag "$(echo "$explain" | grep -i 'hot-remove')"
check "nrm: explain says the guest refused and when it tries again" \
	grep -qiE 'refused.*next try in' <<<"$explain"
check "nrm: the refusal is logged once" test "$(grep -cF "$nrm: unplugging DIMM" <(grep -F 'the guest refused' "$DMEMD_LOG"))" -eq 1
check "nrm: the metrics count the refusal" \
	grep -qE "^dmem_vm_dimm_unplug_refusals_total\\{[^}]*$nrm[^}]*\\} 1\$" "$VM_DIR/dmemd.prom"
check "nrm: no OOM kill" test "$(vm_exec nrm 'dmesg | grep -c "Killed process"')" -eq 0
check "nrm: guest kernel log clean" vm_dmesg_clean nrm
check "dmemd exits cleanly" dmemd_stop
tap_done
