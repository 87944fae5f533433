#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmark: balloon speed of dmem_balloon against the in-tree virtio_balloon,
# in the same VM configuration (1536 MiB, 1 vCPU, QEMU TCG), measured in the
# same run. Time for "actual" to go 1536 -> 512 MiB (inflate) and back
# (deflate), as QEMU sees it (query-balloon, polled every millisecond by balloon-time.c), median of
# RUNS runs (default 3). Prints the medians and the ratios virtio/dmem.
# Not part of "make check": run it with  bash tests/bench/balloon-speed.sh
set -uo pipefail
source "$(dirname "$0")/../lib/vm.sh"
source "$(dirname "$0")/../lib/bench.sh"
RUNS=${RUNS:-3}

# time_to DOM TARGET_MIB: seconds from setting the target until QEMU reports it.
time_to() {
	"$DMEM_TOP/tests/build/balloon-time" "$DMEM_URI" "$1" "$2" 300
}

make -s -C "$DMEM_TOP/tests" bench-tools || exit 1
vm_init
declare -A DOWN UP
for driver in virtio_balloon dmem; do
	name=bench-${driver//_/-}
	vm_define "$name" startup=1536 driver="$driver" cmdline="${BENCH_CMDLINE:-}"
	vm_start "$name"
	dom=$(vm_dom "$name")
	bound=$(vm_exec "$name" 'for d in /sys/bus/virtio/devices/*/driver; do basename "$(readlink "$d")"; done | sort -u | tr "\n" " "')
	echo "# $driver: guest up in ${VM_BOOT_MS} ms; virtio drivers bound: $bound"
	downs=() ups=()
	for i in $(seq "$RUNS"); do
		d=$(time_to "$dom" 512) || { echo "# $driver: inflate did not finish"; exit 1; }
		u=$(time_to "$dom" 1536) || { echo "# $driver: deflate did not finish"; exit 1; }
		echo "# $driver run $i: inflate 1536->512 MiB ${d} s, deflate 512->1536 MiB ${u} s"
		downs+=("$d") ups+=("$u")
	done
	DOWN[$driver]=$(printf '%s\n' "${downs[@]}" | median)
	UP[$driver]=$(printf '%s\n' "${ups[@]}" | median)
	vm_destroy "$name"
done

printf '\n%-16s %14s %14s\n' driver "inflate (s)" "deflate (s)"
for driver in virtio_balloon dmem; do
	printf '%-16s %14s %14s\n' "$driver" "${DOWN[$driver]}" "${UP[$driver]}"
done
awk -v vi="${DOWN[virtio_balloon]}" -v di="${DOWN[dmem]}" \
    -v vd="${UP[virtio_balloon]}" -v dd="${UP[dmem]}" 'BEGIN {
	printf "\nspeed-up of dmem_balloon over virtio_balloon (median of %d): inflate %.1fx, deflate %.1fx\n",
		'"$RUNS"', vi / di, vd / dd
}'
