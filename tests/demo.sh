#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The main job, end to end: a Debian guest (QEMU TCG under a real libvirtd)
# with dmem_balloon, managed by dmemd. It boots with 512 MiB (maximum 2 GiB);
# a workload grows to 900 MiB and dmemd hot-adds DIMMs for it; the workload
# ends and, after the shrink delay, dmemd balloons the surplus back.
# Every few seconds the demo prints what `dmemctl status` shows.
set -uo pipefail
source "$(dirname "$0")/lib/dmemd.sh"

say() { printf '\n== %s\n' "$*"; }
status() { dmemctl status | sed 's/^/   /'; }
watch_for() { # SECONDS: print status every 3 s for that long
	local end=$(($(date +%s) + $1))
	while [ "$(date +%s)" -lt "$end" ]; do
		status; echo; sleep 3
	done
}

say "booting a guest: startup 512 MiB, maximum 2048 MiB (8 DIMM slots)"
interval_ms=1000 shrink_delay_s=10 dmemd_init
dmemd_config
vm_define demo startup=512 max=2048 slots=8
vm_start demo
dom=$(vm_dom demo)
echo "   guest up in ${VM_BOOT_MS} ms, balloon driver: dmem_balloon"

say "starting dmemd (interval 1 s, shrink delay 10 s)"
dmemd_start
sleep 3
status

say "workload: memhog grows to 900 MiB in 50 MiB steps (more than startup)"
vm_exec demo '(memhog -m 900 -s 50 -i 700 -t 10; echo exit=$?) >/tmp/hog.log 2>&1 &' >/dev/null
watch_for 30
echo "   workload: $(vm_exec demo 'tail -n 1 /tmp/hog.log')"
echo "   DIMMs hot-added: $(vm_virsh dumpxml "$dom" | grep -c "<memory model='dimm'")"
echo "   OOM kills in the guest: $(vm_exec demo 'dmesg | grep -c "Killed process"')"

say "workload ended: after the shrink delay dmemd balloons the surplus back"
vm_wait 60 vm_exec demo 'grep -q "^exit=" /tmp/hog.log'
watch_for 24

say "why the VM has what it has (dmemctl explain)"
dmemctl explain "$dom" | sed 's/^/   /'
dmemd_stop
say "done: the VM is destroyed and libvirtd stopped on exit"
