#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Demo: boot a Debian guest with dmem_balloon under a real libvirtd and show
# the balloon following the host's target, as seen by the host (virsh
# dommemstat) and by the guest (MemTotal, the driver's sysfs).
set -uo pipefail
source "$(dirname "$0")/lib/vm.sh"

show() {
	local actual total
	actual=$(vm_balloon_kib demo actual)
	total=$(vm_meminfo_kib demo MemTotal)
	printf '  %-34s host: actual %5d MiB   guest: MemTotal %5d MiB\n' \
		"$1" $((actual / 1024)) $((total / 1024))
}

settle() { # wait until actual reaches $1 MiB (or 60 s pass)
	vm_wait 60 test "$(vm_balloon_kib demo actual)" = $(($1 * 1024)) || true
}

echo "dmem demo: booting a 1 GiB guest (QEMU TCG, libvirt) ..."
vm_init
vm_define demo startup=1024
vm_start demo
dom=$(vm_dom demo)
echo "  guest up in ${VM_BOOT_MS} ms; driver: $(vm_exec demo 'cat /sys/bus/virtio/drivers/dmem_balloon/virtio*/dmem/features')"
show "after boot"
for mib in 512 256 768 1024; do
	vm_virsh setmem "$dom" "${mib}M" --live
	settle "$mib"
	show "virsh setmem $dom ${mib}M"
done
echo "  guest driver state: $(vm_exec demo 'cd /sys/bus/virtio/drivers/dmem_balloon/virtio*/dmem && for f in target_kib actual_kib floor_kib inflated_kib deflated_kib; do printf "%s=%s " $f $(cat $f); done')"
echo "dmem demo: done (the VM is destroyed on exit)"
