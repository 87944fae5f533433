#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# dmemd survives restarts: settings written with dmemd stopped apply when it
# starts; SIGKILL of dmemd and a restart make no VM's balloon jump; killing
# and restarting libvirtd makes dmemd reconnect and keep managing.
set -uo pipefail
source "$(dirname "$0")/../lib/dmemd.sh"

dmemd_init
vm_define vm startup=640 max=1664 slots=4
vm_start vm
dom=$(vm_dom vm)

# "set" needs no dmemd: it writes libvirt metadata.
check "dmemctl set works with dmemd stopped" \
	"$DMEM_TOP/hostd/dmemctl" --connect "$DMEM_URI" set "$dom" --minimum 256M --buffer 25
check "the setting is in the live metadata" \
	bash -c "virsh -c '$DMEM_URI' metadata '$dom' urn:dmem:1 | grep -q 'minimum=\"256\"'"

dmemd_start
actual() { vm_balloon_kib vm actual; }
settled() { [ "$(actual)" -le $((400 * 1024)) ]; }
check "dmemd applies the minimum set while it was stopped: the idle guest shrinks" \
	vm_wait 40 settled
sleep 2
before=$(actual)
tap_diag "settled at $((before / 1024)) MiB"

# ---- SIGKILL and restart: nothing jumps -------------------------------------
dmemd_kill9
check "after SIGKILL, dmemctl says dmemd is not running" \
	bash -c "'$DMEM_TOP/hostd/dmemctl' --config '$DMEMD_CONF' status 2>&1 | grep -q 'is not running'"
dmemd_start
jumped=0
for _ in $(seq 12); do
	a=$(actual)
	d=$((a > before ? a - before : before - a))
	[ "$d" -gt $((32 * 1024)) ] && { jumped=1; tap_diag "balloon moved to $((a / 1024)) MiB"; }
	sleep 0.25
done
check "after a restart, the balloon stays where it was (within 32 MiB for 3 s)" \
	test "$jumped" -eq 0
check "the restarted dmemd adopted the balloon as it was" \
	dmemd_log_has "balloon target adopted at"
check "the restarted dmemd did not move the target at once" \
	bash -c "! grep -q 'balloon target .* -> ' '$DMEMD_LOG'"

# ---- libvirtd killed and restarted: reconnect, keep managing ---------------
down_state=
LIBVIRTD_DOWN_HOOK() {
	vm_wait 15 dmemd_log_has "lost the connection" || true
	sleep 1.5
	down_state=$("$DMEM_TOP/hostd/dmemctl" --config "$DMEMD_CONF" status 2>&1)
}
if dmemd_restart_libvirtd; then
	check "dmemd noticed libvirtd going away" dmemd_log_has "lost the connection to $DMEM_URI"
	tap_diag "dmemctl status while libvirtd was down: $down_state"
	check "dmemctl status said dmemd was not connected to libvirt, and since when" \
		grep -qE "dmemd is not connected to libvirt \($DMEM_URI\) since [0-9-]+ [0-9:]+ \([0-9]+ s ago\)" <<<"$down_state"
	check "dmemd reconnected to the new libvirtd" \
		vm_wait 30 dmemd_log_has "reconnected to $DMEM_URI"
	check "dmemd logged the loss once, not once per retry" \
		test "$(grep -c 'lost the connection' "$DMEMD_LOG")" -eq 1 -a \
		     "$(grep -c 'cannot connect to' "$DMEMD_LOG")" -le 1
	status_ok() { [ "$(dmemd_vm_json vm status)" = OK ]; }
	check "after reconnecting, the VM is managed again (OK)" vm_wait 20 status_ok

	# Keep managing: a workload past the current size gets memory.
	vm_exec vm '(memhog -m 700 -s 16 -i 500 -t 4; echo exit=$?) >/tmp/hog.log 2>&1 &' >/dev/null
	hog_done() { vm_exec vm 'grep -q "^exit=" /tmp/hog.log'; }
	check "a workload after the reconnect completes" vm_wait 120 hog_done
	check "without an OOM kill" vm_exec vm 'grep -q "^exit=0" /tmp/hog.log'
	hotadded_after() { sed -n "/reconnected to/,\$p" "$DMEMD_LOG" | grep -q "hot-added"; }
	check "and it got DIMMs hot-added after the reconnect" hotadded_after
else
	tap_ok "# SKIP libvirtd was not started by this test: not ours to kill"
fi

check "the guest kernel log is clean" vm_dmesg_clean vm
check "dmemd stops cleanly" dmemd_stop
tap_done
