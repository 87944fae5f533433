#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# dmemd's CPU use while idle: 2 real VMs (TCG guests with dmem_balloon),
# default interval (1 s), measured over 60 s (or $1 seconds) from
# /proc/PID/stat; libvirtd's CPU in the same window is printed beside it,
# since every dmemd cycle is also work for libvirtd.
set -uo pipefail
source "$(dirname "$0")/../lib/dmemd.sh"

SECONDS_TO_MEASURE=${1:-60}
interval_ms=1000 shrink_delay_s=60 dmemd_init
vm_define a startup=768 max=2048 slots=8
vm_define b startup=768 max=2048 slots=8
vm_start a
vm_start b
dmemd_start
sleep 10	# settle: adoption, stats period, first cycles

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
lpid=$(cat /run/libvirtd.pid)
d0=$(ticks "$DMEMD_PID"); l0=$(ticks "$lpid"); t0=$(date +%s%N)
sleep "$SECONDS_TO_MEASURE"
d1=$(ticks "$DMEMD_PID"); l1=$(ticks "$lpid"); t1=$(date +%s%N)
wall_ms=$(((t1 - t0) / 1000000))
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$DMEMD_PID/status")

tap_diag "$(dmemctl status)"
awk -v d=$((d1 - d0)) -v l=$((l1 - l0)) -v hz="$hz" -v w="$wall_ms" -v rss="$rss" 'BEGIN {
	dms = d * 1000 / hz; lms = l * 1000 / hz
	printf "# dmemd idle, 2 VMs, interval 1 s, %.1f s: CPU %.0f ms = %.3f%% of one core (%.2f ms per cycle); RSS %d KiB\n", w / 1000, dms, dms * 100 / w, dms / (w / 1000), rss
	printf "# libvirtd in the same window: CPU %.0f ms = %.3f%% of one core; dmemd/libvirtd CPU ratio %.2f\n", lms, lms * 100 / w, lms ? dms / lms : 0
}'
check "dmemd stops cleanly" dmemd_stop
tap_done
