#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hot-remove, the guest driver alone (no dmemd): when the host unplugs a
# DIMM, dmem_balloon gives the balloon pages in it up in place (none is
# migrated), the unplug is quick, "actual" stays the truth, the driver waits
# for the host's new target instead of re-inflating at once, and rmmod
# afterwards returns everything. A DIMM the guest cannot offline (onlined
# into ZONE_NORMAL and used by the kernel) with balloon pages in it: the
# offline is cancelled, the pages go back into the balloon, nothing is lost.
# Run on the 6.1 and the 6.12 guest kernel (tests/run).
set -uo pipefail
source "$(dirname "$0")/../lib/vm.sh"

vm_init
vm_define mv startup=512 max=2048 slots=4
vm_define nr startup=512 max=2048 slots=4 cmdline="memhp_default_state=offline"
vm_start mv
vm_start nr
S=/sys/bus/virtio/drivers/dmem_balloon/virtio*/dmem
sysfs() { vm_exec "$1" "cat $S/$2"; }
cat >"$VM_DIR/dimm.xml" <<XML
<memory model='dimm'><target><size unit='MiB'>256</size><node>0</node></target></memory>
XML
dimms() { vm_virsh dumpxml "$(vm_dom "$1")" | grep -c "<memory model='dimm'"; }
actual_is() { [ "$(vm_balloon_kib "$1" actual)" = "$2" ]; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# ---- movable DIMMs: given up in place -------------------------------------------
total0=$(vm_meminfo_kib mv MemTotal)
for i in 1 2; do vm_virsh attach-device "$(vm_dom mv)" "$VM_DIR/dimm.xml" --live >/dev/null ||
	bail "attach-device failed"; done
grown() { [ "$(vm_meminfo_kib mv MemTotal)" -ge $((total0 + 500 * 1024)) ]; }
vm_wait 30 grown || bail "mv: the DIMMs did not come online"
vm_virsh setmem "$(vm_dom mv)" 600M --live
vm_wait 60 actual_is mv $((600 * 1024)) || bail "mv: the balloon did not reach 600 MiB"
bal0=$(sysfs mv actual_kib)
tap_diag "mv: balloon $((bal0 / 1024)) MiB over 512 MiB + 2 DIMMs"
t0=$(date +%s%N)
vm_virsh detach-device-alias "$(vm_dom mv)" dimm1 --live >/dev/null || bail "detach-device-alias failed"
gone() { ! vm_has_alias "$1" "$2"; }
check "mv: the DIMM is unplugged" vm_wait 20 gone mv dimm1
tap_diag "mv: dimm1 unplugged in <= $(ms_since "$t0") ms (seen by polling the live XML)"
off=$(sysfs mv offlined_kib)
tap_diag "mv: $((off / 1024)) MiB of balloon given up in place, migrated pages $(vm_vmstat mv balloon_migrate)"
check "mv: balloon pages in the DIMM were given up in place" test "$off" -gt 0
check "mv: no balloon page was migrated" test "$(vm_vmstat mv balloon_migrate)" -eq 0
check "mv: the balloon lost exactly what was given up in place" \
	test "$(sysfs mv actual_kib)" -eq $((bal0 - off))
truthful() {
	local live=$(( (512 + 256 * $(dimms mv)) * 1024 ))
	near $((live - $(sysfs mv actual_kib))) "$(vm_balloon_kib mv actual)" 4096
}
check "mv: virsh actual = live size - balloon" vm_wait 5 truthful
# No new target came (dmemd would set one): after its wait (3 s) the
# driver follows the standing one, the page count QEMU kept.
back() { [ "$(sysfs mv actual_kib)" -eq "$bal0" ]; }
check "mv: without a new target the driver follows the standing one after its wait" vm_wait 15 back
vm_virsh setmem "$(vm_dom mv)" 400M --live
check "mv: the next target is followed" vm_wait 60 actual_is mv $((400 * 1024))
vm_virsh detach-device-alias "$(vm_dom mv)" dimm0 --live >/dev/null
check "mv: the second DIMM is unplugged" vm_wait 20 gone mv dimm0
vm_virsh setmem "$(vm_dom mv)" 400M --live
check "mv: the target holds on the startup memory alone" vm_wait 60 actual_is mv $((400 * 1024))
check "mv: MemTotal = startup - balloon" \
	near "$(vm_meminfo_kib mv MemTotal)" $((total0 - $(sysfs mv actual_kib))) 4096
check "mv: rmmod after the unplugs" vm_exec mv 'rmmod dmem_balloon'
check "mv: MemTotal is the startup size again" test "$(vm_meminfo_kib mv MemTotal)" -eq "$total0"
check "mv: guest kernel log clean" vm_dmesg_clean mv

# ---- ZONE_NORMAL: the offline is cancelled -------------------------------------
vm_virsh attach-device "$(vm_dom nr)" "$VM_DIR/dimm.xml" --live >/dev/null || bail "nr: attach failed"
online() { vm_exec nr 'n=0; for s in /sys/devices/system/memory/memory*/state; do grep -q offline $s && { echo online_kernel >$s || exit 1; n=$((n + 1)); }; done; [ $n -gt 0 ]'; }
vm_wait 20 online || bail "nr: the DIMM's blocks did not appear offline"
# Kernel memory lands in the DIMM; then the balloon takes nearly all free memory.
vm_exec nr 'mkdir -p /t && mount -t tmpfs none /t && cd /t && seq 1 20000 | xargs touch' 120 >/dev/null
vm_virsh setmem "$(vm_dom nr)" 300M --live
settled() { local a; a=$(sysfs nr actual_kib); sleep 1; [ "$a" = "$(sysfs nr actual_kib)" ] && [ "$a" -gt 0 ]; }
vm_wait 60 settled || bail "nr: the balloon did not settle"
bal1=$(sysfs nr actual_kib)
tap_diag "nr: balloon $((bal1 / 1024)) MiB, DIMM zone $(vm_exec nr 'cat /sys/devices/system/memory/memory32/valid_zones 2>/dev/null')"
virsh -q -c "$DMEM_URI" event --domain "$(vm_dom nr)" --event device-removal-failed --timeout 60 >"$VM_DIR/nr.event" 2>&1 &
evpid=$!
sleep 1
vm_virsh detach-device-alias "$(vm_dom nr)" dimm0 --live >/dev/null
wait "$evpid"
check "nr: libvirt reports the unplug refused" grep -q "device-removal-failed" "$VM_DIR/nr.event"
check "nr: the DIMM stays" vm_has_alias nr dimm0
tap_diag "nr: after the refusal: balloon $(( $(sysfs nr actual_kib) / 1024 )) MiB, given up in place $(( $(sysfs nr offlined_kib) / 1024 )) MiB (a block that went offline before another refused, and came back), migrated $(vm_vmstat nr balloon_migrate)"
# A cancelled offline puts the pages back at once; a block that went offline
# (its pages given up) before another one refused comes back online empty,
# and the driver replaces those pages after its wait for a new target.
# Both at the guest's floor: within what the floor moves by.
kept() { near "$(sysfs nr actual_kib)" "$bal1" $((16 * 1024)); }
check "nr: the balloon holds what it held before the refused unplug" vm_wait 15 kept
tap_diag "nr: balloon $(( $(sysfs nr actual_kib) / 1024 )) MiB again"
check "nr: every block of the DIMM is online again" \
	test -z "$(vm_exec nr 'for b in /sys/devices/system/memory/memory3[2-9]; do grep -v online $b/state; done')"
vm_virsh setmem "$(vm_dom nr)" 768M --live
check "nr: then it deflates completely" vm_wait 60 actual_is nr $((768 * 1024))
check "nr: rmmod" vm_exec nr 'rmmod dmem_balloon'
check "nr: guest kernel log clean" vm_dmesg_clean nr
tap_done
