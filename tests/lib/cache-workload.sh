# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# The cache tests' workload and what they measure of it (tests/vm/dmemd-
# cache*.sh; source after tests/lib/dmemd.sh, with SET_MIB set):
#
#   loop_start NAME   read the first SET_MIB MiB of NAME's /dev/vda, again
#                     and again. A process keeps /dev/vda open meanwhile, as
#                     a database keeps its files open: Linux drops a block
#                     device's page cache when its last opener closes it,
#                     and a stopped loop must leave its cache behind, cold;
#   loop_stop NAME
#   cached_mib NAME   the guest's Buffers + Cached, MiB;
#   read_rate NAME S  what QEMU read from NAME's disk, KiB/s, over S seconds;
#   size_mib NAME     the balloon's actual, MiB;
#   oom_kills NAME    OOM kills in the guest's kernel log.

loop_start() {
	vm_exec "$1" "[ -e /tmp/hold.pid ] || { sleep 100000 </dev/vda >/dev/null 2>&1 & echo \$! >/tmp/hold.pid; }; (while :; do dd if=/dev/vda of=/dev/null bs=1M count=$SET_MIB 2>/dev/null; sleep 1; done) >/dev/null 2>&1 & echo \$! >/tmp/loop.pid" >/dev/null
}
loop_stop() { vm_exec "$1" 'kill $(cat /tmp/loop.pid)' >/dev/null; }
cached_mib() {
	vm_exec "$1" 'cat /proc/meminfo' |
		awk '$1 == "Buffers:" || $1 == "Cached:" { s += $2 } END { print int(s / 1024) }'
}
rd_bytes() { vm_virsh domblkstat "$(vm_dom "$1")" vda | awk '$2 == "rd_bytes" {print $3}'; }
read_rate() {
	local a b
	a=$(rd_bytes "$1"); sleep "$2"; b=$(rd_bytes "$1")
	echo $(((b - a) / 1024 / $2))
}
size_mib() { echo $(($(vm_balloon_kib "$1" actual) / 1024)); }
oom_kills() { vm_exec "$1" 'dmesg | grep -c "Killed process"'; }
