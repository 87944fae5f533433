#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# dmemd manages real guests (run from the ASan/UBSan build, which must stay
# silent): a growing workload gets DIMMs hot-added and finishes without an
# OOM kill, the guest keeps the whole DIMMs it is given, the surplus is
# ballooned back after shrink_delay_s (with unplug=no: the DIMMs stay, the
# path of VMs that may not unplug; dmemd-unplug.sh tests the unplug), a VM
# without a balloon driver is left
# alone and reported NoDriver, bad metadata on one VM does not stop the
# management of another, and `dmemctl status` agrees with libvirt.
set -uo pipefail
source "$(dirname "$0")/../lib/dmemd.sh"

unplug=no dmemd_init
vm_define grow startup=512 max=2048 slots=8 disk=64
vm_define nodrv startup=384 driver=none
vm_define stopped startup=320 max=1280 slots=4	# never started
vm_start grow
vm_start nodrv
grow=$(vm_dom grow)
nodrv=$(vm_dom nodrv)
nodrv_actual0=$(vm_balloon_kib nodrv actual)

dmemd_start asan
status_is() { [ "$(dmemd_vm_json "$1" status)" = "$2" ]; }
check "dmemd manages the guest with dmem_balloon (status OK)" \
	vm_wait 30 status_is grow OK
check "the VM without a balloon driver is reported NoDriver" \
	vm_wait 30 status_is nodrv NoDriver
dmemctl status | sed 's/^/# /'
check "dmemctl status prints a NoDriver row for it" \
	bash -c "'$DMEM_TOP/hostd/dmemctl' --config '$DMEMD_CONF' status | grep -E '^$nodrv .* NoDriver '"
stopped_sizes() {
	[ "$(dmemd_vm_json stopped state)" = "shut off" ] &&
	[ "$(dmemd_vm_json stopped startup_kib)" = $((320 * 1024)) ] &&
	[ "$(dmemd_vm_json stopped maximum_kib)" = $((1280 * 1024)) ]
}
check "a stopped VM is listed with its persistent startup and maximum" \
	vm_wait 20 stopped_sizes

# ---- growth past startup: DIMMs, no OOM ----------------------------------
vm_exec grow '(memhog -m 900 -s 16 -i 500 -t 8; echo exit=$?) >/tmp/hog.log 2>&1 &' >/dev/null
hog_done() { vm_exec grow 'grep -q "^exit=" /tmp/hog.log'; }
check "the workload (900 MiB in a 512 MiB guest) runs to its end" vm_wait 120 hog_done
tap_diag "$(vm_exec grow 'tail -n 3 /tmp/hog.log')"
check "memhog exited 0" vm_exec grow 'grep -q "^exit=0" /tmp/hog.log'
check "no OOM kill in the guest" \
	vm_exec grow '! dmesg | grep -qE "Out of memory|Killed process|oom-kill"'
dimms=$(vm_dimms grow)
tap_diag "DIMMs hot-added: $dimms; guest MemTotal $(vm_meminfo_kib grow MemTotal) KiB"
check "DIMMs were hot-added" test "$dimms" -gt 0
check "the guest onlined the hot-added memory" \
	test "$(vm_meminfo_kib grow MemTotal)" -gt $((600 * 1024))
check "dmemd logged the hot-add" dmemd_log_has "$grow: balloon target"
# After a hot-add the target is the whole new live size (512 MiB + whole
# 256 MiB DIMMs): the guest is not asked to balloon out what it was just
# given; the surplus goes back later by the shrink path.
hotadd_targets() {
	grep -F "$grow: balloon target" "$DMEMD_LOG" | grep -F "after hot-adding" |
		sed -n 's/.* -> \([0-9]*\) MiB (.*/\1/p'
}
tap_diag "targets set after hot-adding (MiB): $(hotadd_targets | tr '\n' ' ')"
check "targets were set after hot-adding" test -n "$(hotadd_targets)"
check "each of them is the whole live size, not the ideal inside it" \
	test -z "$(hotadd_targets | awk '$1 % 256 != 0')"
tap_diag "guest refusals so far: $(vm_exec grow 'dmesg | grep "inflation stopped"' | tr '\n' '|')"

# ---- dmemctl status tells the truth ---------------------------------------
agree() {
	local a b
	a=$(dmemd_vm_json grow assigned_kib)
	b=$(vm_balloon_kib grow actual)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" = "$b" ]
}
check "dmemctl status --json assigned equals virsh dommemstat actual" vm_wait 10 agree
live_agrees() {
	local l
	l=$(vm_virsh dumpxml "$grow" | sed -n "s|^  <memory unit='KiB'>\([0-9]*\)</memory>|\1|p")
	[ "$(dmemd_vm_json grow live_kib)" = "$l" ]
}
check "dmemctl status --json live size equals the live <memory>" vm_wait 10 live_agrees
cache_agrees() {
	local c g
	c=$(dmemd_vm_json grow cache_kib)
	g=$(( $(vm_meminfo_kib grow Cached) + $(vm_meminfo_kib grow Buffers) ))
	near "$c" "$g" $((16 * 1024))
}
check "dmemctl status --json shows the guest's page cache (Buffers + Cached)" \
	vm_wait 10 cache_agrees
# Reads of its disk, as QEMU counts them, with the guest's cache dropped
# between passes so that every pass reaches the disk.
vm_exec grow '(for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do dd if=/dev/vda of=/dev/null bs=1M 2>/dev/null; echo 3 >/proc/sys/vm/drop_caches; done) >/dev/null 2>&1 &' >/dev/null
reads_seen() { [ "$(dmemd_vm_json grow disk_read_kib_per_s)" -gt 1024 ] 2>/dev/null; }
check "dmemctl status --json shows the VM's disk reads (host side)" vm_wait 20 reads_seen
tap_diag "disk reads: $(dmemd_vm_json grow disk_read_kib_per_s) KiB/s; virsh domblkstat: $(vm_virsh domblkstat "$grow" vda | awk '$2 == "rd_bytes" {print $3}') bytes read"
check "dmemctl status: the NoDriver VM's balloon was never touched" \
	test "$(vm_balloon_kib nodrv actual)" = "$nodrv_actual0"

# ---- bad metadata on one VM does not stop another -------------------------
vm_virsh metadata "$nodrv" urn:dmem:1 --key dmem --live \
	--set '<dmem weight="lots"/>' >/dev/null
check "a VM with invalid metadata is reported Unmanaged with the reason" \
	vm_wait 10 bash -c "'$DMEM_TOP/hostd/dmemctl' --config '$DMEMD_CONF' status | grep -E '^$nodrv .*Unmanaged .*weight=lots'"

# ---- surplus ballooned back after the delay --------------------------------
# Against the live size (DIMMs stay): the shrink may be over already.
live=$(dmemd_vm_json grow live_kib)
shrunk() { [ "$(vm_balloon_kib grow actual)" -le $((live - 128 * 1024)) ]; }
check "after the workload, the surplus is ballooned back (live size $((live / 1024)) MiB)" \
	vm_wait 60 shrunk
check "and the guest stays above its minimum (startup)" \
	test "$(vm_balloon_kib grow actual)" -ge $((512 * 1024 - 8 * 1024))
tap_diag "after shrinking: actual $(($(vm_balloon_kib grow actual) / 1024)) MiB"
dmemctl explain "$grow" | sed 's/^/# /'
check "dmemctl explain names the demand and the ideal" \
	bash -c "'$DMEM_TOP/hostd/dmemctl' --config '$DMEMD_CONF' explain '$grow' | grep -q 'ideal:'"

check "the guest kernel log is clean" vm_dmesg_clean grow
check "dmemd (ASan/UBSan) stops cleanly without a sanitizer report" dmemd_stop
check "dmemd removed its state file on exit" test ! -e "$DMEMD_STATE"
tap_done
