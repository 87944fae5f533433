#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The Dynamic Memory story, live: a guest (Debian's kernel, QEMU TCG under a
# real libvirtd) with dmem_balloon, managed by dmemd. It boots with 512 MiB
# (maximum 2 GiB); a workload ramps to 1000 MiB, holds, and ends. dmemd
# hot-adds DIMMs as the demand rises, keeps the memory through the shrink
# delay, then balloons the surplus back.
#
# One line per second while it runs (what dmemd says, and the guest's own
# MemTotal), then a plot (gnuplot, PNG) with the phases marked and a
# summary. Output: tests/build/demo/ (or $DMEM_DEMO_OUT): demo.dat (the
# series), demo.png (the plot).
set -uo pipefail
source "$(dirname "$0")/lib/dmemd.sh"

OUT=${DMEM_DEMO_OUT:-$DMEM_TOP/tests/build/demo}
WORK_MIB=1000 STEP_MIB=50 STEP_MS=1000 HOLD_S=30 DELAY_S=20
mkdir -p "$OUT" || bail "cannot create $OUT"
DAT=$OUT/demo.dat PNG=$OUT/demo.png

say() { printf '\n== %s\n' "$*"; }
mib() { echo $((${1:-0} / 1024)); }

say "booting a guest: startup 512 MiB, maximum 2048 MiB (8 DIMM slots of 256 MiB)"
interval_ms=1000 shrink_delay_s=$DELAY_S dmemd_init
vm_define demo startup=512 max=2048 slots=8
vm_start demo
dom=$(vm_dom demo)
echo "   guest up in ${VM_BOOT_MS} ms; its balloon driver: dmem_balloon"

say "starting dmemd (a cycle a second, shrink delay ${DELAY_S} s); the VM's minimum: 256 MiB"
dmemctl set "$dom" --minimum 256M >/dev/null || bail "dmemctl set failed"
dmemd_start
echo "   (in another terminal, 'dmemctl status --watch' shows the same live)"
echo "   idle first: after the shrink delay dmemd balloons what the guest does not use;"
echo "   then a workload grows to $WORK_MIB MiB in $STEP_MIB MiB steps a second, holds ${HOLD_S} s and ends"

# One line a second: what dmemd says, and the guest's MemTotal and what its
# workload is doing (from its log). The workload starts once the idle VM
# was ballooned (assigned steady for 3 s) and the story ends when the
# surplus is back (after the workload ended, assigned steady at its ideal
# for 3 s), or after 240 s.
printf '\n%6s %8s %9s %9s %8s %9s  %-8s %s\n' time demand assigned MemTotal balloon hotadded status workload
printf '# t_s demand_mib assigned_mib memtotal_mib balloon_mib hotadded_mib status workload\n' >"$DAT"
t0=$(date +%s%N)
t=0 steady=0 last= work=idle
while [ "$t" -lt 240 ]; do
	t=$((t + 1))
	next=$((t0 + t * 1000000000))
	j=$(dmemctl status --json | jq -c --arg d "$dom" '.vms[] | select(.name == $d)')
	guest=$(vm_exec demo 'grep "^MemTotal:" /proc/meminfo; tail -n 1 /tmp/hog.log 2>/dev/null' 10)
	memtotal=$(echo "$guest" | awk '$1 == "MemTotal:" {print int($2 / 1024)}')
	case $work:$(echo "$guest" | tail -n 1) in
	idle:*)				;;
	*:exit=*)			work=ended ;;
	*:*holding*|*:*done*)		work=holding ;;
	*)				work=growing ;;
	esac
	demand=$(mib "$(echo "$j" | jq -r '.demand_kib // 0')")
	assigned=$(mib "$(echo "$j" | jq -r '.assigned_kib')")
	balloon=$(mib "$(echo "$j" | jq -r '.balloon_kib')")
	hotadded=$(mib "$(echo "$j" | jq -r '.hotadded_kib')")
	status=$(echo "$j" | jq -r '.status')
	ideal=$(mib "$(echo "$j" | jq -r '.ideal_kib // 0')")
	printf '%5ss %4s MiB %5s MiB %5s MiB %4s MiB %5s MiB  %-8s %s\n' \
		"$t" "$demand" "$assigned" "$memtotal" "$balloon" "$hotadded" "$status" "$work"
	echo "$t $demand $assigned $memtotal $balloon $hotadded $status $work" >>"$DAT"
	if [ "$assigned" = "$last" ]; then steady=$((steady + 1)); else steady=0; fi
	last=$assigned
	if [ "$work" = idle ] && { [ "$steady" -ge 3 ] && [ "$balloon" -gt 64 ] || [ "$t" -ge 90 ]; }; then
		vm_exec demo "(memhog -m $WORK_MIB -s $STEP_MIB -i $STEP_MS -t $HOLD_S; echo exit=\$?) >/tmp/hog.log 2>&1 &" >/dev/null
		work=growing
	fi
	[ "$work" = ended ] && [ "$steady" -ge 3 ] && [ "$assigned" -le $((ideal + 16)) ] && break
	now=$(date +%s%N)
	[ "$now" -lt "$next" ] && sleep "$(printf '0.%09d' $((next - now)))"
done

# The phases, from the series: growth (the workload grows), hold, delay
# (the workload ended, the memory stays), reclaim (assigned falls), until
# assigned is steady.
read -r t_work t_hold t_end t_shrink t_done peak_a peak_d < <(awk '
	!/^#/ {
		if ($8 != "idle" && !work) work = $1
		if ($8 == "holding" && !hold) hold = $1
		if ($8 == "ended" && !end) { end = $1; at_end = $3 }
		if (end && !shrink && $3 < at_end - 16) shrink = $1
		if ($3 > pa) pa = $3
		if ($2 > pd) pd = $2
		last = $1
	}
	END { print work + 0, hold + 0, end + 0, (shrink ? shrink : last), last, pa, pd }' "$DAT")
peak_h=$(awk '!/^#/ && $6 > h {h = $6} END {print h + 0}' "$DAT")
dimms=$((peak_h / 256))
left=$(vm_dimms demo)
unplugged=$(grep -c "unplugged DIMM" "$DMEMD_LOG")
ooms=$(vm_exec demo 'dmesg | grep -c "Killed process"')
final=$(awk '!/^#/ {a = $3; m = $4} END {print a, m}' "$DAT")

if command -v gnuplot >/dev/null; then
	gnuplot <<-GP || echo "   (gnuplot failed: no plot)"
	set terminal pngcairo size 960,540 font "sans,11"
	set output "$PNG"
	set title "dmem: a 512 MiB guest (maximum 2 GiB) through a 1000 MiB workload"
	set xlabel "time since dmemd started (s)"
	set ylabel "MiB"
	set key top left Left reverse at graph 0.02, graph 0.84 box opaque
	set grid ytics
	set yrange [0:$((peak_a * 118 / 100))]
	set style rect fc rgb "#eeeeee" fs solid 1.0 noborder
	set object 1 rect from $t_work, graph 0 to $t_hold, graph 1 fc rgb "#e3f2e3"
	set object 2 rect from $t_end, graph 0 to $t_shrink, graph 1 fc rgb "#f6eedd"
	set object 3 rect from $t_shrink, graph 0 to $t_done, graph 1 fc rgb "#e3e9f6"
	set label 1 "idle: ballooned" at $((t_work / 2)), graph 0.96 center
	set label 2 "growth: balloon," at $(((t_work + t_hold) / 2)), graph 0.96 center
	set label 3 "then hot-add" at $(((t_work + t_hold) / 2)), graph 0.91 center
	set label 4 "hold" at $(((t_hold + t_end) / 2)), graph 0.96 center
	set label 5 "delay" at $(((t_end + t_shrink) / 2)), graph 0.96 center
	set label 6 "reclaim: unplug," at $(((t_shrink + t_done) / 2)), graph 0.96 center
	set label 7 "then balloon" at $(((t_shrink + t_done) / 2)), graph 0.91 center
	plot "$DAT" using 1:4 with steps lw 2 lc rgb "#2a7f2a" title "guest MemTotal", \
	     "" using 1:3 with lines lw 2 lc rgb "#1f4fbf" title "assigned (host)", \
	     "" using 1:2 with lines lw 2 dt 2 lc rgb "#c0392b" title "guest demand"
	GP
fi

say "summary"
cat <<-EOF | fold -s -w 78 | sed 's/^/   /'
Idle, the guest was ballooned to $(awk '!/^#/ && $8 == "idle" {a = $3} END {print a}' "$DAT") MiB. Then the workload asked for $WORK_MIB MiB, more than the 512 MiB the guest booted with. Guest demand peaked at $peak_d MiB; dmemd first gave the ballooned memory back, then hot-added $dimms DIMM(s) of 256 MiB, up to $peak_a MiB assigned (demand plus its 20 % buffer, in whole DIMMs). The workload held for ${HOLD_S} s and ended at ${t_end} s; dmemd kept the memory through the ${DELAY_S} s shrink delay, began reclaiming at ${t_shrink} s, unplugged $unplugged of the $dimms DIMMs (newest first; $left left) and ballooned the rest, and $((t_done - t_end)) s after the workload ended the VM was back to ${final% *} MiB assigned (guest MemTotal ${final#* } MiB: the memory it booted with, less the balloon). OOM kills in the guest: $ooms.
EOF
[ -s "$PNG" ] && echo "   the plot: $PNG (the series: $DAT)"

say "why the VM has what it has now (dmemctl explain)"
dmemctl explain "$dom" | sed 's/^/   /'
dmemd_stop
say "done: the VM is destroyed and libvirtd stopped on exit"
