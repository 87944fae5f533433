# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# VM test harness: real libvirtd, real QEMU (TCG), real Debian guest kernel,
# busybox initramfs with dmem_balloon.ko and a command channel.
#
#   source tests/lib/vm.sh
#   vm_init                          # work dir, libvirtd, cleanup trap
#   vm_define web startup=768 max=2048 slots=8
#   vm_start web                     # boots and waits until the agent answers
#   vm_exec web 'grep MemTotal /proc/meminfo'
#   vm_meminfo_kib web MemTotal
#   vm_virsh setmem "$(vm_dom web)" 384M --live
#
# Everything started here is stopped on exit, failure included; on failure the
# tail of each guest's serial log is printed. Only processes this harness
# started are ended, by PID.

DMEM_TOP=${DMEM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DMEM_URI=${DMEM_URI:-qemu:///system}
# Guest kernel: the one linux-image-amd64 installed (6.1), unless asked.
DMEM_GUEST_KVER=${DMEM_GUEST_KVER:-$(basename "$(ls -d /usr/src/linux-headers-6.1.*-amd64 2>/dev/null | sort -V | tail -n 1)" | sed 's/^linux-headers-//')}

source "$DMEM_TOP/tests/lib/tap.sh"
source "$DMEM_TOP/tests/lib/libvirt.sh"

VM_DIR=
VM_NAMES=()
VM_FAILED=0

vm_dom() { echo "dmemtest-$$-$1"; }
vm_virsh() { virsh -q -c "$DMEM_URI" "$@"; }

vm_init() {
	# One VM test at a time on a machine: they share libvirtd, and 2 cores.
	exec 9>/run/lock/dmem-vm-test.lock
	flock -w 3600 9 || bail "another VM test holds /run/lock/dmem-vm-test.lock"
	VM_DIR=$(mktemp -d /var/tmp/dmem-test.XXXXXX)
	chmod 0755 "$VM_DIR"
	trap vm_cleanup EXIT
	trap 'exit 130' INT TERM
	libvirt_start || bail "libvirtd could not be started"
	vm_assets "$DMEM_GUEST_KVER" >/dev/null
}

# vm_assets KVER: build guest kernel/initramfs for KVER (cached per run).
vm_assets() {
	local kver=$1 out=$DMEM_TOP/tests/build/guest-$1
	if [ ! -e "$out/.built-$$" ]; then
		make -s -C "$DMEM_TOP/tests" host-tools >/dev/null ||
			bail "cannot build test host tools"
		"$DMEM_TOP/tests/lib/build-guest.sh" "$kver" "$out" ||
			bail "cannot build guest assets for $kver"
		rm -f "$out"/.built-*
		: >"$out/.built-$$"
	fi
	echo "$out"
}

# vm_define NAME [startup=MIB] [max=MIB] [slots=N] [driver=dmem|virtio_balloon|none]
#            [balloon=yes|no] [stats=SECONDS] [deflate_on_oom=on|off]
#            [reporting=on|off] [kver=KVER] [cmdline="..."] [vcpus=N] [disk=MIB]
# startup is the boot memory; max > startup adds <maxMemory slots> for DIMMs;
# disk > 0 gives the guest a virtio disk /dev/vda of that size (a sparse raw
# file of zeros; the guest's reads of it go through its page cache).
vm_define() {
	local name=$1; shift
	local startup=768 max=0 slots=8 driver=dmem balloon=yes stats=1
	local deflate_on_oom=on reporting=off kver=$DMEM_GUEST_KVER cmdline= vcpus=1 disk=0
	local kv disk_xml=
	for kv in "$@"; do
		case ${kv%%=*} in
		startup|max|slots|driver|balloon|stats|deflate_on_oom|reporting|kver|cmdline|vcpus|disk)
			printf -v "${kv%%=*}" '%s' "${kv#*=}" ;;
		*) bail "vm_define: unknown parameter $kv" ;;
		esac
	done
	local assets dom xml maxmem= balloon_xml
	assets=$(vm_assets "$kver" | tail -n 1)
	dom=$(vm_dom "$name")
	xml=$VM_DIR/$name.xml
	if [ "$max" -gt "$startup" ]; then
		maxmem="<maxMemory slots='$slots' unit='MiB'>$max</maxMemory>"
	fi
	if [ "$disk" -gt 0 ]; then
		truncate -s "${disk}M" "$VM_DIR/$name.disk" || bail "cannot create $name's disk"
		disk_xml="<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$VM_DIR/$name.disk'/><target dev='vda' bus='virtio'/></disk>"
	fi
	if [ "$balloon" = yes ]; then
		balloon_xml="<memballoon model='virtio' autodeflate='$deflate_on_oom' freePageReporting='$reporting'><stats period='$stats'/></memballoon>"
	else
		balloon_xml="<memballoon model='none'/>"
	fi
	cat >"$xml" <<-XML
	<domain type='qemu'>
	  <name>$dom</name>
	  $maxmem
	  <memory unit='MiB'>$startup</memory>
	  <currentMemory unit='MiB'>$startup</currentMemory>
	  <vcpu>$vcpus</vcpu>
	  <os>
	    <type arch='x86_64' machine='pc'>hvm</type>
	    <kernel>$assets/vmlinuz</kernel>
	    <initrd>$assets/initramfs.cpio.gz</initrd>
	    <cmdline>console=ttyS0 swiotlb=noforce panic=-1 loglevel=6 memhp_default_state=online_movable dmem.driver=$driver $cmdline</cmdline>
	  </os>
	  <cpu>
	    <numa>
	      <cell id='0' cpus='0-$((vcpus - 1))' memory='$startup' unit='MiB'/>
	    </numa>
	  </cpu>
	  <features><acpi/></features>
	  <on_poweroff>destroy</on_poweroff>
	  <on_reboot>destroy</on_reboot>
	  <on_crash>destroy</on_crash>
	  <devices>
	    <emulator>/usr/bin/qemu-system-x86_64</emulator>
	    <controller type='usb' model='none'/>
	    <serial type='file'>
	      <source path='$VM_DIR/$name.serial.log'/>
	      <target port='0'/>
	    </serial>
	    <channel type='unix'>
	      <source mode='bind' path='$VM_DIR/$name.agent.sock'/>
	      <target type='virtio' name='org.dmem.agent'/>
	    </channel>
	    <video><model type='none'/></video>
	    $disk_xml
	    $balloon_xml
	  </devices>
	</domain>
	XML
	vm_virsh define "$xml" >/dev/null || bail "virsh define $dom failed"
	VM_NAMES+=("$name")
}

# vm_start NAME: boot and wait until the guest agent answers (bounded).
vm_start() {
	local name=$1 dom t0
	dom=$(vm_dom "$name")
	t0=$(date +%s%N)
	vm_virsh start "$dom" >/dev/null || bail "virsh start $dom failed"
	if ! "$DMEM_TOP/tests/build/dmem-vmexec" -w 180 -t 10 \
		"$VM_DIR/$name.agent.sock" 'echo ok' >/dev/null; then
		VM_FAILED=1
		bail "guest $name did not come up"
	fi
	VM_BOOT_MS=$((($(date +%s%N) - t0) / 1000000))
}

# vm_exec NAME CMD [TIMEOUT_S]: run CMD in the guest; its status is returned.
# Background commands must redirect their output, or the call waits for them.
vm_exec() {
	"$DMEM_TOP/tests/build/dmem-vmexec" -t "${3:-60}" "$VM_DIR/$1.agent.sock" "$2"
}

# vm_meminfo_kib NAME FIELD: a /proc/meminfo field of the guest, in KiB.
vm_meminfo_kib() {
	vm_exec "$1" "grep '^$2:' /proc/meminfo" | awk '{print $2}'
}

# vm_vmstat NAME FIELD: a counter of the guest's /proc/vmstat (e.g.
# balloon_migrate: balloon pages moved by compaction, since boot).
vm_vmstat() {
	vm_exec "$1" "awk '\$1 == \"$2\" { print \$2 }' /proc/vmstat"
}

# vm_balloon_kib NAME FIELD: a field of "virsh dommemstat" (KiB).
vm_balloon_kib() {
	vm_virsh dommemstat "$(vm_dom "$1")" | awk -v f="$2" '$1 == f {print $2}'
}

# near A B TOL: both numbers are set and |A - B| <= TOL.
near() { [ -n "$1" ] && [ -n "$2" ] && [ $(( $1 > $2 ? $1 - $2 : $2 - $1 )) -le "$3" ]; }

# vm_wait SECONDS CMD...: poll CMD every 0.2 s until it succeeds or time runs out.
vm_wait() {
	local deadline=$(($(date +%s) + $1)); shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# vm_dmesg_clean NAME: the guest kernel log has no warning, oops or BUG.
#
# One report is the kernel's notice, not a fault, and is said as a
# diagnostic instead: "vmemmap alloc failure: order:9" with its stack. A
# hot-add that arrives while the guest's kernel (non-movable) memory is
# nearly full cannot get the new memory's memmap as one 2 MiB page; the
# kernel says so once per boot and builds it from single pages
# (mm/sparse-vmemmap.c). Whether the hot-add then succeeded the tests
# check by the DIMM and MemTotal, the workload's fate by its OOM kills.
vm_dmesg_clean() {
	local log bad
	log=$(vm_exec "$1" 'dmesg') || { echo "# $1: dmesg failed"; return 1; }
	grep -q 'vmemmap alloc failure' <<<"$log" &&
		echo "# $1: the kernel's once-per-boot notice: $(grep -m 1 -o 'vmemmap alloc failure: [^,]*' <<<"$log")"
	# Its stack ends at </TASK>, within 40 lines; nothing past that is skipped.
	bad=$(awk '/vmemmap alloc failure/ { skip = 40 } !skip { print }
		   skip { skip = /<\/TASK>/ ? 0 : skip - 1 }' <<<"$log" |
		grep -E 'WARNING:|BUG:|Oops|Call Trace|general protection|kernel BUG|UBSAN|KASAN|refcount_t' || true)
	[ -z "$bad" ] || { echo "$bad" | head -n 20 | sed 's/^/# /'; return 1; }
}

# vm_has_alias NAME ALIAS: NAME's live definition has a device ALIAS
# (a DIMM: dimm0, dimm1, ...).
vm_has_alias() { vm_virsh dumpxml "$(vm_dom "$1")" | grep -q "<alias name='$2'/>"; }

# vm_qemu_pid NAME: the PID of NAME's QEMU process.
vm_qemu_pid() { cat "/run/libvirt/qemu/$(vm_dom "$1").pid" 2>/dev/null; }

# vm_guest_rss_kib NAME: guest memory QEMU has resident, from the host side:
# the resident part of the mappings QEMU marks mergeable (guest RAM and
# DIMMs; not QEMU's own heap or its TCG code buffer).
vm_guest_rss_kib() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { rss = 0 } /^Rss:/ { rss = $2 }
	     /^VmFlags:/ && / mg/ { sum += rss } END { print sum + 0 }' \
		"/proc/$(vm_qemu_pid "$1")/smaps"
}

vm_destroy() {
	local dom
	dom=$(vm_dom "$1")
	vm_virsh destroy "$dom" >/dev/null 2>&1 || true
}

vm_serial_tail() {
	local f=$VM_DIR/$1.serial.log
	[ -s "$f" ] || return 0
	echo "# ---- serial log of $1 (last 40 lines): $f"
	tail -n 40 "$f" | sed 's/^/# /'
}

vm_cleanup() {
	local rc=$? name dom pid
	[ "$rc" -ne 0 ] && VM_FAILED=1
	[ "${TAP_FAILED:-0}" -ne 0 ] && VM_FAILED=1
	for name in "${VM_NAMES[@]}"; do
		dom=$(vm_dom "$name")
		[ "$VM_FAILED" -ne 0 ] && vm_serial_tail "$name"
		if ! vm_virsh destroy "$dom" >/dev/null 2>&1; then
			# libvirtd may be gone: end the QEMU it started for us.
			pid=$(vm_qemu_pid "$name" || true)
			[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
		fi
		vm_virsh undefine "$dom" >/dev/null 2>&1 || true
	done
	VM_NAMES=()
	libvirt_stop
	if [ "$VM_FAILED" -eq 0 ] && [ -n "$VM_DIR" ] && [ -z "${DMEM_KEEP:-}" ]; then
		rm -rf "$VM_DIR"
	elif [ -n "$VM_DIR" ]; then
		echo "# test files kept in $VM_DIR"
	fi
	exit "$rc"
}
