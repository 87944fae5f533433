#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# How fast dmemd reacts to a guest demand step: a workload allocates 320
# MiB as fast as it can in a 512 MiB guest (maximum 2 GiB; 96 MiB already
# in use by another process), and the time until the VM's assigned memory
# (the balloon's actual, as `virsh dommemstat` shows it) rises is measured
# from the host. STEPS steps (default 6): the first starts from 512 MiB
# with no balloon and needs a DIMM; between steps the workload ends and
# dmemd shrinks the VM back (shrink delay 3 s), so the later steps are
# served by the balloon.
#
# Each step is split into: the guest's stats showing the step to the host
# (the stats period is 1 s), dmemd acting on them (its log's time of the
# hot-add or balloon target), and the balloon's actual rising. dmemd runs
# with its default interval (1 s). Prints each step, the median and the
# worst. Usage: tests/bench/reaction.sh [STEPS]
set -uo pipefail
source "$(dirname "$0")/../lib/dmemd.sh"

STEPS=${1:-6}
STEP_MIB=320
interval_ms=1000 shrink_delay_s=3 max_shrink_mib_per_s=1024 dmemd_init
vm_define r startup=512 max=2048 slots=8
vm_start r
dom=$(vm_dom r)
dmemctl set "$dom" --minimum 256M >/dev/null || bail "dmemctl set failed"
vm_exec r 'memhog -m 96 -p /tmp/base.pid >/dev/null 2>&1 &' >/dev/null
sleep 3
dmemd_start
sleep 3

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# memstat: "actual usable" in KiB, as the host sees them now: the balloon,
# and the guest's MemAvailable from its last statistics (libvirt's
# "available" is the guest's MemTotal).
memstat() {
	vm_virsh dommemstat "$dom" |
		awk '$1 == "actual" {a = $2} $1 == "usable" {v = $2} END {print a + 0, v + 0}'
}
oom_deflations() { vm_exec r 'cat /sys/bus/virtio/drivers/dmem_balloon/virtio*/dmem/oom_deflations'; }
# log_ms TEXT AFTER_MS: the time (ms since the epoch) of the first line of
# dmemd's log after AFTER_MS that contains TEXT; empty if none.
log_ms() {
	local day
	day=$(date +%Y-%m-%d)
	grep -F -- "$1" "$DMEMD_LOG" | sed -n 's/^\*\* Message: \([0-9:.]*\): .*/\1/p' |
		while read -r hms; do
			ms=$(($(date -d "$day $hms" +%s%N) / 1000000))
			[ "$ms" -ge "$2" ] && { echo "$ms"; break; }
		done
}

printf '%-4s %-12s %10s %10s %10s %10s\n' step via stats dmemd actual total
results=()
for step in $(seq 1 "$STEPS"); do
	read -r base avail0 < <(memstat)
	ooms0=$(oom_deflations)
	t0=$(now_ms)
	vm_exec r "memhog -m $STEP_MIB -t 600 -p /tmp/step.pid >/dev/null 2>&1 &" >/dev/null
	t_stats= t_rise=
	while [ $(($(now_ms) - t0)) -lt 20000 ]; do
		read -r actual avail < <(memstat)
		[ -z "$t_stats" ] && [ "$avail" -lt $((avail0 - 32 * 1024)) ] && t_stats=$(now_ms)
		if [ "$actual" -gt $((base + 16 * 1024)) ]; then t_rise=$(now_ms); break; fi
		sleep 0.02
	done
	[ -n "$t_rise" ] || bail "step $step: assigned did not rise within 20 s ($(dmemctl explain "$dom"))"
	t_dimm=$(log_ms "hot-added" "$t0")
	t_act=${t_dimm:-$(log_ms "balloon target" "$t0")}
	via=balloon
	[ -n "$t_dimm" ] && via=DIMM
	# A guest that gave itself memory back (out of memory) before dmemd
	# acted is not dmemd's reaction: say so.
	[ "$(oom_deflations)" != "$ooms0" ] && via="$via+OOM"
	t_stats=${t_stats:-$t_rise}
	t_act=${t_act:-$t_rise}
	printf '%-4s %-12s %8d ms %8d ms %8d ms %8d ms\n' "$step" "$via" \
		$((t_stats - t0)) $((t_act - t_stats)) $((t_rise - t_act)) $((t_rise - t0))
	results+=("$((t_rise - t0)) $via")
	# The workload ends; dmemd shrinks the VM back after its delay, and
	# the next step starts from a VM that stands still.
	vm_exec r 'kill $(cat /tmp/step.pid); while pidof memhog >/dev/null && [ "$(pidof memhog)" != "$(cat /tmp/base.pid)" ]; do sleep 0.1; done' >/dev/null
	back() {
		local a b
		a=$(memstat | cut -d' ' -f1); sleep 2; b=$(memstat | cut -d' ' -f1)
		[ "$a" = "$b" ] && [ "$((b / 1024))" -lt 450 ]
	}
	vm_wait 40 back || bail "step $step: the VM was not shrunk back"
done

printf '%s\n' "${results[@]}" | sort -n | awk -v n="$STEPS" '
	{ t[NR] = $1; if ($2 == "DIMM") dimm = $1 }
	END {
		med = n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
		printf "median %d ms, worst %d ms, the DIMM step %s ms (target: median <= 1500, every step <= 2500)\n",
			med, t[n], dimm == "" ? "-" : dimm
	}'
dmemd_stop >/dev/null
