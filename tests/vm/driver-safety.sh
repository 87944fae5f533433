#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Guest safety: the balloon never inflates a guest into OOM. A guest holding
# 400 MiB in a 768 MiB VM is asked to shrink to 64 MiB: the driver stops at
# its floor, reports where it stopped, and nothing is OOM-killed. Then, with
# the balloon at the floor, a workload that needs more than is available
# gets memory back from the balloon under OOM pressure (deflate-on-oom).
set -uo pipefail
source "$(dirname "$0")/../lib/vm.sh"

vm_init
vm_define safe startup=768
vm_start safe
dom=$(vm_dom safe)
sys=$(vm_exec safe 'echo /sys/bus/virtio/drivers/dmem_balloon/virtio*/dmem')

vm_exec safe 'memhog -m 400 -p /tmp/hog1.pid >/tmp/hog1.log 2>&1 &'
check "workload holds 400 MiB" vm_wait 30 vm_exec safe 'grep -q holding /tmp/hog1.log'

vm_virsh setmem "$dom" 64M --live
refused_now() { [ "$(vm_exec safe "cat $sys/refused_kib")" -gt 0 ]; }
check "setmem 64M: the driver refuses part of the target (refused_kib > 0)" \
	vm_wait 60 refused_now
# Let the driver retry against the floor for a while.
sleep 3
actual=$(vm_balloon_kib safe actual)
inflated=$(vm_exec safe "cat $sys/actual_kib")
avail=$(vm_meminfo_kib safe MemAvailable)
floor=$(vm_exec safe "cat $sys/floor_kib")
tap_diag "stopped at: host actual $((actual / 1024)) MiB, balloon $((inflated / 1024)) MiB, MemAvailable $((avail / 1024)) MiB, floor $((floor / 1024)) MiB"
check "host-visible actual is where the driver stopped (768 MiB - balloon)" \
	test "$actual" = $((768 * 1024 - inflated))
check "actual stays above the 64 MiB target" test "$actual" -gt $((64 * 1024))
check "guest MemAvailable did not go below the floor (8 MiB slack)" \
	test "$avail" -ge $((floor - 8 * 1024))
check "the workload survives" vm_exec safe 'kill -0 $(cat /tmp/hog1.pid)'
responsive() {
	"$DMEM_TOP/tests/build/dmem-vmexec" -t 5 "$VM_DIR/safe.agent.sock" 'cat /proc/loadavg' >/dev/null
}
check "guest stays responsive (a command answers within 5 s)" responsive
check "refused_requests counts the refusal" \
	test "$(vm_exec safe "cat $sys/refused_requests")" -ge 1
check "refused_reason says it is the floor" \
	test "$(vm_exec safe "cat $sys/refused_reason")" = floor
check "the kernel log names the floor as the reason, with its size" \
	vm_exec safe "dmesg | grep -q 'short of the target: MemAvailable is at the guest floor ($((floor / 1024)) MiB)'"

# OOM pressure. The first workload ends; the standing 64 MiB target lets the
# balloon grow to the floor again. Then a workload needs 128 MiB more than is
# available: only the balloon has it, and the OOM notifier must give it back
# before the OOM killer picks a victim.
check "the first workload ends cleanly" vm_exec safe 'kill $(cat /tmp/hog1.pid); sleep 1; grep -q "^memhog: done" /tmp/hog1.log'
grown() { [ "$(vm_exec safe "cat $sys/actual_kib")" -gt $((300 * 1024)) ]; }
check "with the workload gone, the balloon grows again (> 300 MiB)" vm_wait 60 grown
avail=$(vm_meminfo_kib safe MemAvailable)
inflated=$(vm_exec safe "cat $sys/actual_kib")
want=$(( avail / 1024 + 128 ))
tap_diag "balloon $((inflated / 1024)) MiB, MemAvailable $((avail / 1024)) MiB; second workload: $want MiB"
vm_exec safe "memhog -m $want -s 16 -i 20 -t 2 >/tmp/hog2.log 2>&1; echo exit=\$? >>/tmp/hog2.log" 120
check "a workload 128 MiB larger than MemAvailable completes" \
	vm_exec safe 'grep -q "^memhog: done" /tmp/hog2.log && grep -q "^exit=0" /tmp/hog2.log'
oomd=$(vm_exec safe "cat $sys/oom_deflated_kib")
tap_diag "OOM deflations: $(vm_exec safe "cat $sys/oom_deflations"), $((oomd / 1024)) MiB given back"
check "the balloon gave memory back under OOM pressure (>= 64 MiB)" \
	test "$oomd" -ge $((64 * 1024))
events=$(vm_exec safe "cat $sys/oom_deflations")
check "each OOM notification gave back one 16 MiB batch (not 1 MiB, not more)" \
	test "$events" -gt 0 -a "$oomd" -eq $((events * 16 * 1024))
check "no process was OOM-killed" \
	vm_exec safe '! dmesg | grep -E "Killed process|Out of memory"'

# A host that changes its mind: targets in quick succession, mid-operation.
# The driver ends exactly on the last one.
for t in 700 200 650 300 768 100 500; do
	vm_virsh setmem "$dom" "${t}M" --live
	sleep 0.3
done
settled() { test "$(vm_balloon_kib safe actual)" = $((500 * 1024)); }
check "targets changed mid-operation: the balloon settles on the last (500 MiB)" \
	vm_wait 60 settled
vm_virsh setmem "$dom" 768M --live
check "guest kernel log has no warning, oops or BUG" vm_dmesg_clean safe

tap_done
