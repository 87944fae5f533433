#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hot-added memory: an ACPI DIMM attached with "virsh attach-device --live"
# comes online by itself, in ZONE_MOVABLE, with the guest configuration dmem
# ships (memhp_default_state=online_movable on the kernel command line), and
# the balloon keeps working on the larger guest.
set -uo pipefail
source "$(dirname "$0")/../lib/vm.sh"

vm_init
vm_define hp startup=768 max=2048 slots=4
vm_start hp
dom=$(vm_dom hp)

blocks() { vm_exec hp 'ls -d /sys/devices/system/memory/memory* | sort'; }
before=$(blocks)
total0=$(vm_meminfo_kib hp MemTotal)

cat >"$VM_DIR/dimm.xml" <<XML
<memory model='dimm'>
  <target><size unit='MiB'>256</size><node>0</node></target>
</memory>
XML
t0=$(date +%s%N)
check "virsh attach-device --live of a 256 MiB DIMM" \
	vm_virsh attach-device "$dom" "$VM_DIR/dimm.xml" --live
grown() { [ "$(vm_meminfo_kib hp MemTotal)" -ge $((total0 + 250 * 1024)) ]; }
check "guest MemTotal grows by 256 MiB without any manual step" vm_wait 20 grown
tap_diag "new memory usable $(( ($(date +%s%N) - t0) / 1000000 )) ms after attach-device started (target: 2 s)"

new=$(comm -13 <(echo "$before") <(blocks))
tap_diag "new memory blocks: $(echo $new | xargs -n1 basename | tr '\n' ' ')"
check "new memory blocks appeared" test -n "$new"
states=$(for b in $new; do vm_exec hp "echo \$(cat $b/state) \$(cat $b/valid_zones)"; done | sort -u)
tap_diag "their state and zone: $states"
check "every new block is online" test "$(echo "$states" | cut -d' ' -f1 | sort -u)" = online
check "every new block is in ZONE_MOVABLE" test "$(echo "$states" | cut -d' ' -f2- | sort -u)" = Movable
check "libvirt shows the DIMM" bash -c "vm_virsh() { virsh -q -c '$DMEM_URI' \"\$@\"; }; vm_virsh dumpxml '$dom' | grep -q \"model='dimm'\""

# The balloon works across boot memory and the DIMM.
vm_virsh setmem "$dom" 512M --live
actual_is() { test "$(vm_balloon_kib hp actual)" = $((512 * 1024)); }
check "balloon target 512 MiB reached on the 1 GiB guest" vm_wait 60 actual_is
vm_virsh setmem "$dom" 1024M --live
back() { test "$(vm_meminfo_kib hp MemTotal)" = "$(( total0 + 256 * 1024 ))"; }
check "deflating restores MemTotal = boot + DIMM exactly" vm_wait 60 back
check "guest kernel log has no warning, oops or BUG" vm_dmesg_clean hp

tap_done
