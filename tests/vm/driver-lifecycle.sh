#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# dmem_balloon lifecycle: every page comes back to the guest whatever state
# the driver is left in — rmmod idle, inflated or mid-inflation, 50
# load/inflate/unload cycles, hibernation freeze/restore, PCI removal of the
# device — and balloon pages stay movable under memory compaction.
set -uo pipefail
source "$(dirname "$0")/../lib/vm.sh"

vm_init
vm_define life startup=768
vm_start life
dom=$(vm_dom life)
SYS='/sys/bus/virtio/drivers/dmem_balloon/virtio*/dmem'
base=$(vm_meminfo_kib life MemTotal)
tap_diag "MemTotal with an empty balloon: $base KiB"

# Every file the driver shows in sysfs is documented in doc/ABI, and every
# documented file exists.
shown=$(vm_exec life "ls $SYS" | sort | tr '\n' ' ')
documented=$(sed -n 's|^What:.*/dmem/||p' "$DMEM_TOP/doc/ABI/sysfs-driver-dmem_balloon" | sort | tr '\n' ' ')
tap_diag "sysfs: $shown"
check "the sysfs files are exactly those doc/ABI/sysfs-driver-dmem_balloon documents" \
	test -n "$shown" -a "$shown" = "$documented"

memtotal_is() { test "$(vm_meminfo_kib life MemTotal)" = "$1"; }
balloon_is() { test "$(vm_exec life "cat $SYS/actual_kib")" = "$1"; }

# Idle.
check "rmmod while idle" vm_exec life 'rmmod dmem_balloon'
check "MemTotal unchanged after idle rmmod" memtotal_is "$base"
check "insmod again" vm_exec life 'insmod /lib/dmem/dmem_balloon.ko'

# Mid-inflation: a large target, and rmmod while the balloon is growing.
vm_virsh setmem "$dom" 128M --live
vm_wait 20 vm_exec life "[ \$(cat $SYS/actual_kib) -gt 0 ]"
mid=$(vm_exec life "cat $SYS/actual_kib; rmmod dmem_balloon" | head -n 1)
tap_diag "rmmod with $((mid / 1024)) MiB in the balloon, target 640 MiB"
check "rmmod mid-inflation returns every page" memtotal_is "$base"
vm_virsh setmem "$dom" 768M --live

# 50 load / inflate / unload cycles, driven inside the guest for speed: with
# a standing host target of 640 MiB, each load inflates 128 MiB.
vm_virsh setmem "$dom" 640M --live
out=$(vm_exec life "
	for i in \$(seq 50); do
		insmod /lib/dmem/dmem_balloon.ko || exit 1
		n=0
		until [ \"\$(cat $SYS/actual_kib 2>/dev/null)\" = 131072 ]; do
			n=\$((n + 1)); [ \$n -gt 600 ] && { echo cycle \$i stuck; exit 1; }
			usleep 50000
		done
		rmmod dmem_balloon || exit 1
	done
	grep MemTotal /proc/meminfo" 600)
check "50 load/inflate/unload cycles complete" test $? -eq 0
check "after 50 cycles MemTotal is exactly where it began" \
	test "$(echo "$out" | awk '/MemTotal/ {print $2}')" = "$base"
vm_exec life 'insmod /lib/dmem/dmem_balloon.ko'

# Compaction: balloon pages are movable.
vm_virsh setmem "$dom" 384M --live
check "balloon inflates to 384 MiB" vm_wait 60 balloon_is $((384 * 1024))
# Whether compaction meets balloon pages depends on where they lie: right
# after boot the balloon takes the top of memory, where compaction looks
# for free pages, not for pages to move. So up to three rounds, each after
# the balloon was given back and taken again.
migrated=0
for round in 1 2 3; do
	vm_exec life 'echo 1 > /proc/sys/vm/compact_memory; echo 1 > /proc/sys/vm/compact_memory'
	migrated=$(vm_vmstat life balloon_migrate)
	tap_diag "compaction round $round: $migrated balloon pages moved (/proc/vmstat balloon_migrate)"
	[ "$migrated" -gt 0 ] && break
	vm_virsh setmem "$dom" 768M --live
	vm_wait 60 balloon_is 0
	vm_virsh setmem "$dom" 384M --live
	vm_wait 60 balloon_is $((384 * 1024))
done
check "compaction migrated balloon pages (they are movable)" test "$migrated" -gt 0
check "compaction while inflated keeps the balloon whole" balloon_is $((384 * 1024))
check "MemTotal accounts the balloon exactly after compaction" memtotal_is $((base - 384 * 1024))

# Hibernation freeze/restore (PM test mode: devices are frozen and thawed).
check "hibernation freeze/restore cycle (pm_test=devices) succeeds" \
	vm_exec life 'echo devices > /sys/power/pm_test && echo disk > /sys/power/state' 120
vm_exec life 'echo none > /sys/power/pm_test'
check "after restore the balloon follows the target again" vm_wait 60 balloon_is $((384 * 1024))
check "MemTotal accounts the balloon exactly after restore" memtotal_is $((base - 384 * 1024))

# Device removal while inflated, then the device comes back.
bdf=$(vm_exec life "basename \$(readlink -f $SYS/../..)")
check "PCI removal of the balloon device while inflated" \
	vm_exec life "echo 1 > /sys/bus/pci/devices/$bdf/remove"
check "after device removal MemTotal is fully back" memtotal_is "$base"
vm_exec life 'echo 1 > /sys/bus/pci/rescan'
check "after rescan the driver binds and follows the target" \
	vm_wait 60 balloon_is $((384 * 1024))

vm_virsh setmem "$dom" 768M --live
check "deflate to 768 MiB restores MemTotal exactly" vm_wait 60 memtotal_is "$base"

# actual_kib is one value written whole: read in a tight loop (a shell
# builtin, no fork) through a 384 MiB inflation and the deflation back, it
# never shows more than the balloon held (a torn read of two fields showed
# values near 2^64).
vm_exec life "rm -f /tmp/stop; f=\$(echo $SYS/actual_kib)
	(max=0 n=0
	 while [ ! -e /tmp/stop ]; do
		read -r v <\$f; n=\$((n + 1)); [ \$v -gt \$max ] && max=\$v
	 done; echo \$n \$max >/tmp/actual.max) >/dev/null 2>&1 &"
vm_virsh setmem "$dom" 384M --live
vm_wait 60 balloon_is $((384 * 1024))
vm_virsh setmem "$dom" 768M --live
vm_wait 60 balloon_is 0
vm_exec life 'touch /tmp/stop; sleep 1'
read -r reads maxkib <<<"$(vm_exec life 'cat /tmp/actual.max')"
tap_diag "actual_kib read $reads times during 384 MiB of inflation and deflation; largest value $maxkib KiB"
check "actual_kib, read $reads times mid-inflate/deflate, reached 384 MiB and never more" \
	test "${reads:-0}" -gt 1000 -a "${maxkib:-0}" -eq $((384 * 1024))
check "guest kernel log has no warning, oops or BUG" vm_dmesg_clean life

tap_done
