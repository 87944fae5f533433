#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# VM smoke test: a real Debian guest under QEMU/libvirt with dmem_balloon
# follows "virsh setmem" down and up, accounts MemTotal honestly, and gives
# every page back on rmmod.
set -uo pipefail
source "$(dirname "$0")/../lib/vm.sh"

vm_init
vm_define smoke startup=768
vm_start smoke
tap_diag "guest booted and answered in ${VM_BOOT_MS} ms"
dom=$(vm_dom smoke)

sysfs=$(vm_exec smoke 'ls -d /sys/bus/virtio/drivers/dmem_balloon/virtio*/dmem' | head -n 1)
check "dmem_balloon is bound to the virtio-balloon device" test -n "$sysfs"
check "in-tree virtio_balloon is not loaded" \
	vm_exec smoke '! grep -q "^virtio_balloon " /proc/modules'

total0=$(vm_meminfo_kib smoke MemTotal)
tap_diag "MemTotal at boot: $total0 KiB; balloon actual: $(vm_balloon_kib smoke actual) KiB"

actual_is() { near "$(vm_balloon_kib smoke actual)" "$1" 1024; }
memtotal_is() { near "$(vm_meminfo_kib smoke MemTotal)" "$1" 1024; }

vm_virsh setmem "$dom" 384M --live
check "virsh setmem 384M: dommemstat actual drops to 384 MiB" \
	vm_wait 60 actual_is $((384 * 1024))
check "virsh setmem 384M: guest MemTotal drops by 384 MiB" \
	vm_wait 10 memtotal_is $((total0 - 384 * 1024))
tap_diag "guest sysfs: actual $(vm_exec smoke "cat $sysfs/actual_kib") KiB, target $(vm_exec smoke "cat $sysfs/target_kib") KiB, floor $(vm_exec smoke "cat $sysfs/floor_kib") KiB"
check "guest sysfs actual_kib shows 384 MiB ballooned" \
	test "$(vm_exec smoke "cat $sysfs/actual_kib")" = $((384 * 1024))

vm_virsh setmem "$dom" 768M --live
check "virsh setmem 768M: dommemstat actual back to 768 MiB" \
	vm_wait 60 actual_is $((768 * 1024))
check "virsh setmem 768M: guest MemTotal restored exactly" \
	vm_wait 10 test "$(vm_meminfo_kib smoke MemTotal)" = "$total0"

vm_virsh setmem "$dom" 384M --live
vm_wait 60 actual_is $((384 * 1024)) || tap_diag "balloon did not re-inflate"
check "rmmod dmem_balloon while inflated succeeds" \
	vm_exec smoke 'rmmod dmem_balloon'
check "after rmmod, guest MemTotal is fully back" \
	test "$(vm_meminfo_kib smoke MemTotal)" = "$total0"
check "guest kernel log has no warning, oops or BUG" vm_dmesg_clean smoke

tap_done
