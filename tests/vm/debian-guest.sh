#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A real Debian 12 guest (tests/lib/debian-image.sh: systemd, udev, DKMS,
# the 6.1 kernel, qemu-guest-agent, and dmem-balloon-dkms from tests/build/deb
# installed with apt-get in the image) booted by libvirt like a user's VM:
# its own kernel and initramfs, read from its disk before each boot (as a
# bootloader would), root=/dev/vda console=ttyS0 and no other kernel
# parameter (no memhp_default_state). Checked from the host, through the
# QEMU guest agent (guest-exec):
#
#   - it boots; the balloon device is bound by dmem_balloon, not virtio_balloon;
#   - virsh setmem moves the balloon's actual and the guest's MemTotal;
#     virsh dommemstat shows the guest's statistics;
#   - a DIMM attached live comes online in ZONE_MOVABLE through the package's
#     udev rule (the kernel itself leaves hot-added memory offline);
#   - after a reboot dmem_balloon has the device again (and the DIMM's
#     memory is movable again);
#   - dmemd from the dmemd package (extracted, run as its unit runs it) takes
#     the guest through one grow-by-hot-add / shrink-after-delay cycle;
#   - apt-get remove dmem-balloon-dkms in the guest, then a reboot: the
#     device is virtio_balloon's again.
#
# The image is built (or reused from /var/cache/dmem) before the VM lock is
# taken; each step's time is printed as a diagnostic.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/dmemd.sh"
source "$here/../lib/debian-image.sh"

T_ALL=$(date +%s)
elapsed() { echo "$(($(date +%s) - $1)) s"; }

t=$(date +%s)
IMG=$(debian_image) || bail "cannot build the Debian 12 guest image"
KVER=$(cat "$IMG/kver")
tap_diag "image: $IMG (kernel $KVER), ready in $(elapsed "$t")"

t=$(date +%s)
vm_init
tap_diag "VM lock and libvirtd: $(elapsed "$t")"
trap dmemd_cleanup EXIT

NAME=deb
DOM=$(vm_dom $NAME)
DISK=$VM_DIR/$NAME.qcow2
STARTUP=768
qemu-img create -q -f qcow2 -F qcow2 -b "$IMG/disk.qcow2" "$DISK" ||
	bail "cannot create the copy-on-write overlay"

# ---- guest agent -------------------------------------------------------------
ga() { vm_virsh qemu-agent-command "$DOM" --timeout "${2:-10}" "$1" 2>/dev/null; }
ga_up() { ga '{"execute":"guest-ping"}' 3 >/dev/null; }

# gx CMD [TIMEOUT_S]: run sh -c CMD in the guest; prints its stdout (stderr
# on ours), returns its exit status (254: timed out, 255: agent error).
gx() {
	local req pid st deadline
	req=$(jq -nc --arg c "$1" \
		'{execute: "guest-exec", arguments: {path: "/bin/sh", arg: ["-c", $c], "capture-output": true}}')
	pid=$(ga "$req" | jq -r '.return.pid // empty')
	[ -n "$pid" ] || return 255
	deadline=$(($(date +%s) + ${2:-60}))
	while :; do
		st=$(ga "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":$pid}}") || return 255
		[ "$(jq -r '.return.exited' <<<"$st")" = true ] && break
		[ "$(date +%s)" -ge "$deadline" ] && return 254
		sleep 0.3
	done
	jq -r '.return["out-data"] // empty' <<<"$st" | base64 -d
	jq -r '.return["err-data"] // empty' <<<"$st" | base64 -d >&2
	return "$(jq -r '.return.exitcode // 255' <<<"$st")"
}

# gput LOCAL REMOTE: copy a file into the guest (guest-file-write).
gput() {
	local h chunk off=0 size
	size=$(stat -c %s "$1")
	h=$(ga "$(jq -nc --arg p "$2" '{execute: "guest-file-open", arguments: {path: $p, mode: "w"}}')" |
		jq -r '.return // empty')
	[ -n "$h" ] || return 1
	while [ "$off" -lt "$size" ]; do
		chunk=$(dd if="$1" bs=49152 skip=$((off / 49152)) count=1 2>/dev/null | base64 -w0)
		ga "{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":$h,\"buf-b64\":\"$chunk\"}}" >/dev/null || return 1
		off=$((off + 49152))
	done
	ga "{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":$h}}" >/dev/null
}

# ---- the VM ------------------------------------------------------------------
# deb_boot_files: the kernel and initramfs the guest's /boot holds now,
# read from its disk (what a bootloader would load).
deb_boot_files() {
	local raw=$VM_DIR/$NAME.raw f
	qemu-img convert -f qcow2 -O raw "$DISK" "$raw" || return 1
	for f in vmlinuz initrd.img; do
		rm -f "$VM_DIR/$NAME.$f"
		debugfs -R "dump /boot/$f-$KVER $VM_DIR/$NAME.$f" "$raw" >/dev/null 2>&1
		[ -s "$VM_DIR/$NAME.$f" ] || { rm -f "$raw"; return 1; }
	done
	rm -f "$raw"
}

deb_define() {
	cat >"$VM_DIR/$NAME.xml" <<-XML
	<domain type='qemu'>
	  <name>$DOM</name>
	  <maxMemory slots='4' unit='MiB'>2048</maxMemory>
	  <memory unit='MiB'>$STARTUP</memory>
	  <currentMemory unit='MiB'>$STARTUP</currentMemory>
	  <vcpu>2</vcpu>
	  <os>
	    <type arch='x86_64' machine='pc'>hvm</type>
	    <kernel>$VM_DIR/$NAME.vmlinuz</kernel>
	    <initrd>$VM_DIR/$NAME.initrd.img</initrd>
	    <cmdline>root=/dev/vda ro console=ttyS0</cmdline>
	  </os>
	  <cpu>
	    <numa>
	      <cell id='0' cpus='0-1' memory='$STARTUP' unit='MiB'/>
	    </numa>
	  </cpu>
	  <features><acpi/></features>
	  <on_poweroff>destroy</on_poweroff>
	  <on_reboot>restart</on_reboot>
	  <on_crash>destroy</on_crash>
	  <devices>
	    <emulator>/usr/bin/qemu-system-x86_64</emulator>
	    <disk type='file' device='disk'>
	      <driver name='qemu' type='qcow2'/>
	      <source file='$DISK'/>
	      <target dev='vda' bus='virtio'/>
	    </disk>
	    <controller type='usb' model='none'/>
	    <serial type='file'>
	      <source path='$VM_DIR/$NAME.serial.log' append='on'/>
	      <target port='0'/>
	    </serial>
	    <channel type='unix'>
	      <target type='virtio' name='org.qemu.guest_agent.0'/>
	    </channel>
	    <video><model type='none'/></video>
	    <memballoon model='virtio' autodeflate='on'><stats period='1'/></memballoon>
	  </devices>
	</domain>
	XML
	# Redefined before each boot (shut off): the new definition, not a second one.
	vm_virsh undefine "$DOM" >/dev/null 2>&1 || true
	vm_virsh define "$VM_DIR/$NAME.xml" >/dev/null || bail "virsh define $DOM failed"
	# The harness destroys and undefines it on exit and prints its serial log
	# on failure.
	[[ " ${VM_NAMES[*]} " == *" $NAME "* ]] || VM_NAMES+=("$NAME")
}

boot_id() { gx 'cat /proc/sys/kernel/random/boot_id' 10 2>/dev/null; }

# deb_wait_up OLD_BOOT_ID: the agent answers from a boot other than OLD_BOOT_ID
# and systemd has finished starting up. Sets BOOT_S and SETTLE_S.
deb_wait_up() {
	local old=$1 t0 id state
	t0=$(date +%s)
	new_boot() { ga_up && id=$(boot_id) && [ -n "$id" ] && [ "$id" != "$old" ]; }
	# shellcheck disable=SC2034 # vm.sh's: print the serial log on exit
	vm_wait 600 new_boot || { VM_FAILED=1; return 1; }
	BOOT_S=$(($(date +%s) - t0))
	state=$(gx 'systemctl is-system-running --wait' 300)
	SETTLE_S=$(($(date +%s) - t0))
	[ "$state" = running ] ||
		tap_diag "systemd: $state; failed units: $(gx 'systemctl --failed --plain --no-legend' | awk '{print $1}' | tr '\n' ' ')"
	return 0
}

deb_start() {
	local t0
	t0=$(date +%s)
	deb_boot_files || bail "cannot read /boot/vmlinuz-$KVER and initrd.img-$KVER from the guest's disk"
	deb_define
	tap_diag "kernel and initramfs read from the guest's disk: $(elapsed "$t0")"
	vm_virsh start "$DOM" >/dev/null || bail "virsh start $DOM failed"
	deb_wait_up none || bail "the Debian guest did not come up"
}

# deb_shutdown: clean shutdown through the agent, bounded.
deb_shutdown() {
	local t0
	t0=$(date +%s)
	vm_virsh shutdown "$DOM" --mode agent >/dev/null 2>&1
	off() { [ "$(vm_virsh domstate "$DOM" 2>/dev/null)" = "shut off" ]; }
	vm_wait 180 off || { tap_diag "the guest did not shut down: destroyed"; vm_virsh destroy "$DOM" >/dev/null 2>&1; }
	tap_diag "shutdown: $(elapsed "$t0")"
}

deb_reboot() {
	local old
	old=$(boot_id)
	vm_virsh reboot "$DOM" --mode agent >/dev/null || return 1
	deb_wait_up "$old"
}

# balloon_driver: the driver bound to the virtio balloon device (id 5).
balloon_driver() {
	gx 'for d in /sys/bus/virtio/devices/*; do
		[ "$(cat $d/device)" = 0x0005 ] && basename "$(readlink $d/driver)"
	done' 10
}
loaded() { gx "grep -q '^$1 ' /proc/modules" 10; }
memtotal() { gx "awk '/^MemTotal:/ {print \$2}' /proc/meminfo" 10; }
memstat() { vm_virsh dommemstat "$DOM" 2>/dev/null | awk -v f="$1" '$1 == f {print $2}'; }
# movable_blocks: memory blocks online in ZONE_MOVABLE.
movable_blocks() {
	gx 'n=0; for m in /sys/devices/system/memory/memory*; do
		[ "$(cat $m/state)" = online ] && [ "$(cat $m/valid_zones)" = Movable ] && n=$((n + 1))
	done; echo $n' 20
}
dmesg_clean() {
	local bad
	bad=$(gx 'dmesg' 30 | grep -E 'WARNING:|BUG:|Oops|Call Trace|general protection|kernel BUG|UBSAN|refcount_t' || true)
	[ -z "$bad" ] || { echo "$bad" | head -n 20 | sed 's/^/# /'; return 1; }
}

# ---- boot ----------------------------------------------------------------------
deb_start
tap_ok "the Debian 12 guest boots: agent answers after ${BOOT_S} s, systemd up after ${SETTLE_S} s"
tap_diag "guest: $(gx 'uname -r; cat /proc/cmdline' | tr '\n' ' ')"
check "the kernel command line has no memhp_default_state" \
	gx '! grep -q memhp_default_state /proc/cmdline'
check "the kernel leaves hot-added memory offline (auto_online_blocks)" \
	test "$(gx 'cat /sys/devices/system/memory/auto_online_blocks')" = offline
tap_diag "dkms status: $(gx 'dkms status' 60 | tr '\n' ' ')"
drv=$(balloon_driver)
check "the balloon device is bound by dmem_balloon (driver: ${drv:-none})" test "$drv" = dmem_balloon
check "virtio_balloon is not loaded" gx '! grep -q "^virtio_balloon " /proc/modules'
tap_diag "$(gx 'dmesg | grep -m 3 dmem_balloon')"

# ---- balloon -------------------------------------------------------------------
total0=$(memtotal)
tap_diag "MemTotal $total0 KiB, balloon actual $(memstat actual) KiB"
actual_is() { near "$(memstat actual)" "$1" 1024; }
memtotal_is() { near "$(memtotal)" "$1" 1024; }
t=$(date +%s)
vm_virsh setmem "$DOM" 512M --live
check "virsh setmem 512M: dommemstat actual drops to 512 MiB" vm_wait 120 actual_is $((512 * 1024))
check "virsh setmem 512M: the guest's MemTotal drops by 256 MiB" \
	vm_wait 20 memtotal_is $((total0 - 256 * 1024))
tap_diag "inflate: $(elapsed "$t")"
t=$(date +%s)
vm_virsh setmem "$DOM" ${STARTUP}M --live
check "virsh setmem ${STARTUP}M: actual and MemTotal are back" \
	vm_wait 120 eval 'actual_is $((STARTUP * 1024)) && memtotal_is $total0'
tap_diag "deflate: $(elapsed "$t")"
stats=$(vm_virsh dommemstat "$DOM")
tap_diag "dommemstat: $(echo "$stats" | tr '\n' ' ')"
has_stats() {
	local f
	stats=$(vm_virsh dommemstat "$DOM")
	for f in unused available usable last_update; do
		[ "$(awk -v f=$f '$1 == f {print $2}' <<<"$stats")" -gt 0 ] 2>/dev/null || return 1
	done
}
check "virsh dommemstat shows the guest's statistics (unused, available, usable, last_update)" \
	vm_wait 10 has_stats

# ---- a DIMM, onlined by the package's udev rule ------------------------------------
gx 'test -e /lib/udev/rules.d/80-dmem-memory-online.rules' || tap_diag "the udev rule is not installed"
mov0=$(movable_blocks)
total1=$(memtotal)
cat >"$VM_DIR/dimm.xml" <<-XML
<memory model='dimm'><target><size unit='MiB'>256</size><node>0</node></target></memory>
XML
t=$(date +%s)
vm_virsh attach-device "$DOM" "$VM_DIR/dimm.xml" --live >/dev/null || tap_diag "attach-device failed"
grown() { memtotal_is $((total1 + 256 * 1024)); }
check "a 256 MiB DIMM attached live: MemTotal grows by 256 MiB" vm_wait 60 grown
check "its memory blocks are online in ZONE_MOVABLE ($mov0 before)" \
	vm_wait 20 eval 'test "$(movable_blocks)" = $((mov0 + 2))'
tap_diag "DIMM online: $(elapsed "$t"); blocks: $(gx 'for m in /sys/devices/system/memory/memory*; do echo "${m##*/}:$(cat $m/state):$(cat $m/valid_zones)"; done' | tail -n 3 | tr '\n' ' ')"
check "guest kernel log has no warning, oops or BUG" dmesg_clean

# ---- reboot ----------------------------------------------------------------------
t=$(date +%s)
if deb_reboot; then
	tap_ok "virsh reboot: the guest is back (agent after ${BOOT_S} s, systemd after ${SETTLE_S} s)"
	drv=$(balloon_driver)
	check "after the reboot the balloon device is dmem_balloon's (driver: ${drv:-none})" test "$drv" = dmem_balloon
	check "after the reboot the DIMM's memory is online movable again" \
		vm_wait 20 eval 'test "$(movable_blocks)" = $((mov0 + 2))'
else
	tap_not_ok "virsh reboot: the guest is back"
fi
tap_diag "reboot: $(elapsed "$t")"

# ---- dmemd from the package --------------------------------------------------------
PKGROOT=$VM_DIR/dmemd-pkg
mkdir -p "$PKGROOT"
deb_dmemd=$(ls "$DMEM_DEB_DIR"/dmemd_*.deb 2>/dev/null | sort -V | tail -n 1)
if [ -n "$deb_dmemd" ] && dpkg-deb -x "$deb_dmemd" "$PKGROOT" && [ -x "$PKGROOT/usr/sbin/dmemd" ]; then
	DMEMD_CONF=$VM_DIR/dmemd.conf
	DMEMD_STATE=$VM_DIR/dmemd.state
	interval_ms=500 shrink_delay_s=10 dmemd_config
	dmemctl() { "$PKGROOT/usr/bin/dmemctl" --config "$DMEMD_CONF" "$@"; }
	t=$(date +%s)
	gput "$DMEM_TOP/tests/build/guest/memhog" /usr/local/bin/memhog && gx 'chmod 755 /usr/local/bin/memhog' ||
		tap_diag "cannot copy memhog into the guest"
	tap_diag "memhog copied into the guest: $(elapsed "$t")"
	# As the unit runs it: ExecStart=/usr/sbin/dmemd --foreground (our config).
	# shellcheck disable=SC2034 # dmemd.sh's (dmemd_stop, its log tail)
	DMEMD_RUNS=1 DMEMD_LOG=$VM_DIR/dmemd.1.log
	env --default-signal=PIPE "$PKGROOT/usr/sbin/dmemd" --foreground --config "$DMEMD_CONF" >"$DMEMD_LOG" 2>&1 &
	DMEMD_PID=$!
	started() { [ -s "$DMEMD_STATE" ] && grep -q "^pid=$DMEMD_PID\$" "$DMEMD_STATE"; }
	vm_wait 10 started || { dmemd_log_tail; bail "dmemd from the package did not start"; }
	managed() { local s; s=$(dmemd_vm_json $NAME status); [ "$s" = OK ] || [ "$s" = Low ]; }
	check "dmemd (package) manages the guest" vm_wait 30 managed
	dimms0=$(vm_dimms $NAME)
	t=$(date +%s)
	gx 'memhog -m 1100 -s 100 -i 300 -p /tmp/hog.pid >/tmp/hog.log 2>&1 &' >/dev/null
	held() { gx 'grep -q holding /tmp/hog.log' 10; }
	vm_wait 240 held || tap_diag "the workload did not reach 1100 MiB: $(gx 'tail -n 2 /tmp/hog.log')"
	peak=$(vm_dimms $NAME)
	tap_diag "workload held after $(elapsed "$t"): $peak DIMMs ($dimms0 before), MemTotal $(memtotal) KiB"
	check "dmemd hot-adds DIMMs for a 1100 MiB workload" test "$peak" -gt "$dimms0"
	check "no OOM kill" test "$(gx 'dmesg | grep -c "Killed process"')" = 0
	gx 'kill $(cat /tmp/hog.pid)' >/dev/null
	t=$(date +%s)
	shrunk() { [ "$(vm_dimms $NAME)" -lt "$peak" ]; }
	check "after the workload and the shrink delay dmemd unplugs DIMMs" vm_wait 180 shrunk
	vm_wait 60 eval '[ "$(vm_dimms $NAME)" -le "$dimms0" ]'
	tap_diag "shrink: $(vm_dimms $NAME) DIMMs $(elapsed "$t") after the workload ended; MemTotal $(memtotal) KiB; $(grep -cF 'unplugged DIMM' "$DMEMD_LOG") unplugs in dmemd's log"
	check "dmemd (package) stops cleanly" dmemd_stop
	check "guest kernel log has no warning, oops or BUG" dmesg_clean
else
	tap_not_ok "dmemd package found and extracted"
fi

# ---- removing the package gives the device back to virtio_balloon ---------------------
t=$(date +%s)
out=$(gx 'DEBIAN_FRONTEND=noninteractive apt-get remove -y dmem-balloon-dkms 2>&1' 600)
rc=$?
tap_diag "apt-get remove: $(elapsed "$t"): $(echo "$out" | grep -E 'Removing|update-initramfs|dkms|Error|error' | tr '\n' ';')"
check "apt-get remove dmem-balloon-dkms succeeds in the guest" test "$rc" = 0
t=$(date +%s)
deb_shutdown
deb_start
tap_diag "boot after the removal: agent after ${BOOT_S} s, systemd after ${SETTLE_S} s ($(elapsed "$t") with the shutdown)"
drv=$(balloon_driver)
check "after removal and reboot the balloon device is virtio_balloon's (driver: ${drv:-none})" test "$drv" = virtio_balloon
check "dmem_balloon is gone (not loaded, not in DKMS)" \
	gx '! grep -q "^dmem_balloon " /proc/modules && ! dkms status | grep -q dmem_balloon && ! modinfo dmem_balloon >/dev/null 2>&1'

tap_diag "whole test: $(elapsed "$T_ALL")"
tap_done
