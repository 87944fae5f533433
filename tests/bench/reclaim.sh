#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmark: how fast the host gets 1 GiB of a guest's memory back, by the
# balloon against by unplugging DIMMs, in the same VM (startup 512 MiB,
# maximum 2048 MiB, 4 DIMM slots, 1 vCPU, QEMU TCG, dmem_balloon).
#
# Before each measurement the VM is in the same state: 512 MiB of boot memory
# plus four hot-added 256 MiB DIMMs (online movable, by the guest itself), and
# ~1 GiB of it free in the guest but resident in QEMU (the guest touched
# TOUCH_MIB with memhog and freed it again; the QEMU process's resident
# memory is checked to have grown by >= 1 GiB, less 16 MiB of slack: once
# the boot memory is resident only the fresh DIMMs can add to it, and the
# guest keeps its movable zone's watermark free).
#
#  (a) balloon: "virsh setmem DOM <actual - 1024 MiB> --live"; dmem_balloon
#      inflates and QEMU discards every page it is given.
#  (b) unplug: the way dmemd does it: the newest DIMM first, one at a time,
#      "virsh detach-device-alias DOM dimmN --live", waiting for libvirt's
#      device-removed event before the next one.
#
# Each is timed from just before the first virsh call until the QEMU
# process's resident memory (VmRSS in /proc/<qemu pid>/status) has dropped by
# >= 0.9 GiB (921.6 MiB) from its value just before; a background loop reads
# it every ~10 ms (from /proc/<pid>/statm: the same counter, one line; see
# qemu_rss). VmRSS rather than vm_guest_rss_kib (the mergeable
# mappings' Rss from smaps): smaps walks every page table of the process
# (and awk forks), much slower per read (both costs are printed), under
# QEMU's mmap lock, and would disturb what it measures; VmRSS is a counter. QEMU's own memory next to
# guest RAM stays the same over a measurement, so the drop is the guest's;
# vm_guest_rss_kib is printed before and after as a cross-check.
#
# (a) and (b) are repeated RUNS times (default 3); between them the state is
# restored (balloon deflated, memory re-touched; before a later run's (a),
# four DIMMs are attached again). Prints each run's times, the medians, the
# ratio a/b (target: unplug >= 3x faster), the per-DIMM unplug time (detach
# call -> device-removed; a 256 MiB DIMM is two 128 MiB memory blocks), the
# driver's offlined_kib and the guest's balloon_migrate (/proc/vmstat) after (b), and checks that the
# guest kernel log is clean and MemTotal after (b) is the boot MemTotal
# (+- one 128 MiB block). For each (b) it prints a timeline: the virsh
# calls, libvirt's device-removed events, QEMU's own events (the guest's
# ACPI _OST replies, DEVICE_DELETED, with QEMU's time stamps) and the steps
# of VmRSS; the per-DIMM time is also split into the guest's part (its _OST
# "ejection in progress" -> DEVICE_DELETED).
#
# Not part of "make check": run it with  bash tests/bench/reclaim.sh
# (a few minutes; it waits for the machine's VM test lock like every VM
# test). Environment: RUNS (3), TOUCH_MIB (1152).
set -uo pipefail
source "$(dirname "$0")/../lib/vm.sh"
source "$(dirname "$0")/../lib/bench.sh"

RUNS=${RUNS:-3}
TOUCH_MIB=${TOUCH_MIB:-1152}
NDIMMS=4
DIMM_MIB=256
GIB_KIB=$((1024 * 1024))
DROP_KIB=$((GIB_KIB * 9 / 10))	# 0.9 GiB = 921.6 MiB
BLOCK_KIB=$((128 * 1024))
PAGE_KIB=$(($(getconf PAGESIZE) / 1024))
# After the first run the boot memory is resident already and only the fresh
# DIMMs can add to VmRSS: 1 GiB less what the guest keeps free in their zone
# (ZONE_MOVABLE's watermarks, ~4 MiB), hence a little slack.
RISE_MIN_KIB=$((GIB_KIB - 16 * 1024))
SYSFS='/sys/bus/virtio/drivers/dmem_balloon/virtio*/dmem'	# globbed in the guest

BG_PIDS=()
bench_cleanup() {
	local rc=$? pid
	for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	set_status() { return "$1"; }
	set_status "$rc"
	vm_cleanup
}

# now VAR: microseconds since the epoch, without a fork.
now() { printf -v "$1" '%s' "${EPOCHREALTIME//[!0-9]/}"; }
# nap: sleep ~10 ms without a fork (a read that times out on a silent pipe).
nap() { read -r -t 0.01 -u "$NAP_FD" _; }
# qemu_rss: RSS = the QEMU process's VmRSS (KiB), without a fork: the
# resident field of /proc/PID/statm (the same counters), one short line that
# one read(2) gets whole. (Bash reads /proc/PID/status a line at a time,
# seeking back in between, and the kernel regenerates the file on each
# seek: "State:" changes length between reads and lines come out torn.)
qemu_rss() {
	local _size res _r
	read -r _size res _r <"/proc/$QPID/statm" || return 1
	[ -n "$res" ] || return 1
	RSS=$((res * PAGE_KIB))
}
ms() { echo $((($2 - $1 + 500) / 1000)); }	# ms from us $1 to us $2
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# rss_poller BASE_KIB PREFIX DEADLINE_US: every ~10 ms, read QEMU's VmRSS;
# write PREFIX.reached (the time it was first <= BASE - DROP_KIB) and
# PREFIX.trace ("us KiB" whenever it moved by >= 16 MiB); stop when
# PREFIX.stop appears or at DEADLINE_US. Runs in the background.
rss_poller() {
	local base=$1 out=$2 deadline=$3 last=$1 t reached=
	while :; do
		now t
		if ! qemu_rss; then
			[ -d "/proc/$QPID" ] || break
			nap
			continue
		fi
		if ((RSS > last + 16384 || RSS < last - 16384)); then
			echo "$t $RSS" >>"$out.trace"
			last=$RSS
		fi
		if [ -z "$reached" ] && ((RSS <= base - DROP_KIB)); then
			reached=$t
			echo "$t" >"$out.reached"
		fi
		[ -e "$out.stop" ] && break
		((t > deadline)) && break
		nap
	done
}

# start_poller PREFIX: start rss_poller from the current VmRSS (BASE_RSS).
start_poller() {
	local t
	rm -f "$1".*
	qemu_rss || bail "cannot read /proc/$QPID/statm"
	BASE_RSS=$RSS
	now t
	rss_poller "$BASE_RSS" "$1" $((t + 180 * 1000000)) &
	POLLER=$!
	BG_PIDS+=("$POLLER")
}

# wait_reached PREFIX TIMEOUT_S: REACHED = the time the drop was reached.
wait_reached() {
	local t0 t
	now t0
	REACHED=
	while [ ! -s "$1.reached" ]; do
		now t
		((t - t0 > $2 * 1000000)) && return 1
		nap
	done
	REACHED=$(cat "$1.reached")
}

stop_poller() {
	: >"$1.stop"
	wait "$POLLER" 2>/dev/null
}

dimm_aliases() {
	vm_virsh dumpxml "$DOM" --xpath "//devices/memory[@model='dimm']/alias/@name" 2>/dev/null |
		sed -n 's/.*name="\([^"]*\)".*/\1/p'
}

# attach_dimms: hot-add NDIMMS DIMMs (DIMMS: their aliases, oldest first)
# and wait until the guest's MemTotal grew by all of them.
attach_dimms() {
	local i before new t0 t1
	DIMMS=()
	now t0
	for i in $(seq "$NDIMMS"); do
		before=$(dimm_aliases)
		vm_virsh attach-device "$DOM" "$VM_DIR/dimm.xml" --live >/dev/null ||
			bail "virsh attach-device of DIMM $i failed"
		new=$(comm -13 <(echo "$before" | sort) <(dimm_aliases | sort))
		[ "$(echo "$new" | wc -w)" = 1 ] || bail "cannot tell the new DIMM's alias (got '$new')"
		DIMMS+=("$new")
	done
	grown() { [ "$(vm_meminfo_kib b MemTotal)" -ge $((TOTAL0 + NDIMMS * DIMM_MIB * 1024 - 8192)) ]; }
	vm_wait 60 grown || bail "guest MemTotal did not grow by $((NDIMMS * DIMM_MIB)) MiB ($(vm_meminfo_kib b MemTotal) KiB, boot $TOTAL0 KiB)"
	now t1
	echo "# attached ${DIMMS[*]}; guest MemTotal $(mib "$(vm_meminfo_kib b MemTotal)") MiB after $(ms "$t0" "$t1") ms"
}

# touch_free: the guest touches TOUCH_MIB and frees it again; RSS_BEFORE,
# RSS_AFTER: QEMU's VmRSS around it.
touch_free() {
	qemu_rss; RSS_BEFORE=$RSS
	vm_exec b "memhog -m $TOUCH_MIB -t 0 >/dev/null 2>&1" 300 ||
		bail "guest memhog -m $TOUCH_MIB failed ($(vm_exec b 'dmesg | tail -n 5'))"
	sleep 1
	qemu_rss; RSS_AFTER=$RSS
}

actual_kib() { vm_balloon_kib b actual; }

# set_full: balloon target = all the VM's memory; wait until QEMU sees it.
set_full() {
	vm_virsh setmem "$DOM" "$FULL_KIB" --live || bail "virsh setmem $FULL_KIB KiB failed"
	at_full() { [ "$(actual_kib)" = "$FULL_KIB" ]; }
	vm_wait 120 at_full || bail "balloon did not deflate to $FULL_KIB KiB (actual $(actual_kib))"
}

state_line() {
	echo "# $1: QEMU VmRSS $(mib "$RSS_BEFORE") -> $(mib "$RSS_AFTER") MiB (+$(mib $((RSS_AFTER - RSS_BEFORE))) MiB), guest RAM resident $(mib "$(vm_guest_rss_kib b)") MiB, guest MemFree $(mib "$(vm_meminfo_kib b MemFree)") MiB, balloon actual $(mib "$(actual_kib)") MiB"
}

# measure_balloon RUN: (a); A[RUN] in ms.
measure_balloon() {
	local run=$1 act target t0 tret tdone p=$VM_DIR/a$1
	act=$(actual_kib)
	target=$((act - GIB_KIB))
	start_poller "$p"
	now t0
	vm_virsh setmem "$DOM" "$target" --live || bail "virsh setmem $target KiB failed"
	now tret
	wait_reached "$p" 120 || { stop_poller "$p"; bail "run $run (a): VmRSS did not drop by 0.9 GiB in 120 s (now $(mib "$(qemu_rss; echo "$RSS")") MiB, was $(mib "$BASE_RSS") MiB; actual $(actual_kib) KiB)"; }
	A[$run]=$(ms "$t0" "$REACHED")
	at_target() { [ "$(actual_kib)" = "$target" ]; }
	vm_wait 120 at_target || bail "run $run (a): balloon actual did not reach $target KiB"
	now tdone
	sleep 0.5
	stop_poller "$p"
	qemu_rss
	echo "# run $run (a) balloon $(mib "$act") -> $(mib "$target") MiB: setmem returned after $(ms "$t0" "$tret") ms, VmRSS -0.9 GiB after ${A[$run]} ms, actual at target after <= $(ms "$t0" "$tdone") ms; VmRSS $(mib "$BASE_RSS") -> $(mib "$RSS") MiB (-$(mib $((BASE_RSS - RSS))) MiB), guest RAM resident $(mib "$(vm_guest_rss_kib b)") MiB"
}

# qemu_events FILE: "us EVENT ARGS" for each line of virsh qemu-monitor-event
# ("event NAME at SECONDS.MICROSECONDS for domain 'DOM': JSON"), with the
# time QEMU stamped the event.
qemu_events() {
	sed -n 's/.*event \([A-Z_]*\) at \([0-9]*\)\.\([0-9]*\) for domain [^:]*: \(.*\)$/\2\3 QEMU \1 \4/p' "$1"
}

# deleted_at ALIAS FILE: the time (us) QEMU stamped its DEVICE_DELETED for
# ALIAS, once the guest had ejected the DIMM.
deleted_at() {
	qemu_events "$2" | awk -v a="\"device\":[ ]*\"$1\"" '$3 == "DEVICE_DELETED" && $0 ~ a { print $1; exit }'
}

# ejecting_at ALIAS FILE: the time (us) of the guest's first ACPI _OST for
# ALIAS (status 0x84, ejection in progress: it took the eject request).
ejecting_at() {
	qemu_events "$2" | awk -v a="\"device\":[ ]*\"$1\"" '$3 == "ACPI_DEVICE_OST" && $0 ~ a { print $1; exit }'
}

# measure_unplug RUN: (b); B[RUN] in ms, per-DIMM times appended to PER_DIMM
# (detach call -> device-removed), PER_DIMM_QEMU (-> DEVICE_DELETED) and
# PER_DIMM_GUEST (the guest's _OST "ejection in progress" -> DEVICE_DELETED).
measure_unplug() {
	local run=$1 p=$VM_DIR/b$1 ev=$VM_DIR/events-b$1 qev=$VM_DIR/qemu-events-b$1
	local evfd evpid qevpid i k alias line rc t0 t tq to
	local -a order=() tcall=() tret=() tgone=() timeline=()
	# Listeners for the whole sequence, registered well before it starts:
	# libvirt's device-removed, read here as it comes (what dmemd waits
	# for), and, for the timeline, QEMU's own events (ACPI_DEVICE_OST: the
	# guest's ACPI status reports; DEVICE_DELETED: the guest ejected it).
	exec {evfd}< <(exec stdbuf -oL virsh -q -c "$DMEM_URI" event --domain "$DOM" \
		--event device-removed --loop --timeout 300 2>&1)
	evpid=$!
	BG_PIDS+=("$evpid")
	stdbuf -oL virsh -q -c "$DMEM_URI" qemu-monitor-event --domain "$DOM" \
		--event 'DEVICE_DELETED|ACPI_DEVICE_OST' --regex --loop --timeout 300 >"$qev" 2>&1 &
	qevpid=$!
	BG_PIDS+=("$qevpid")
	sleep 1
	kill -0 "$evpid" 2>/dev/null || bail "virsh event did not start"
	kill -0 "$qevpid" 2>/dev/null || bail "virsh qemu-monitor-event did not start: $(cat "$qev")"
	: >"$ev"
	start_poller "$p"
	now t0
	for ((i = ${#DIMMS[@]} - 1; i >= 0; i--)); do
		alias=${DIMMS[i]}
		order+=("$alias")
		now t; tcall+=("$t")
		vm_virsh detach-device-alias "$DOM" "$alias" --live >/dev/null ||
			bail "run $run (b): virsh detach-device-alias $alias failed"
		now t; tret+=("$t")
		while :; do
			read -r -t 2 -u "$evfd" line
			rc=$?
			now t
			if [ "$rc" -eq 0 ]; then
				echo "$t $line" >>"$ev"
				[ "${line##* }" = "$alias" ] && break
				continue
			fi
			[ "$rc" -gt 128 ] || bail "run $run (b): virsh event ended ($(cat "$ev"))"
			# No event for 2 s: a lost event must not hang the
			# sequence, look at the live XML too.
			if ! dimm_aliases | grep -qx "$alias"; then
				echo "# run $run (b): $alias left the live XML but no device-removed event came"
				break
			fi
			if ((t - ${tcall[-1]} > 30 * 1000000)); then
				echo "# run $run (b): $alias not removed 30 s after detach"
				echo "# libvirt events: $(cut -d' ' -f2- "$ev" | tr '\n' ' ')"
				echo "# QEMU events: $(tr '\n' ' ' <"$qev")"
				vm_exec b 'dmesg | tail -n 30' | sed 's/^/# guest: /'
				stop_poller "$p"
				bail "run $run (b): unplug of $alias did not complete"
			fi
		done
		tgone+=("$t")
	done
	wait_reached "$p" 30 || { stop_poller "$p"; bail "run $run (b): all DIMMs removed but VmRSS did not drop by 0.9 GiB within 30 s (now $(mib "$(qemu_rss; echo "$RSS")") MiB, was $(mib "$BASE_RSS") MiB)"; }
	B[$run]=$(ms "$t0" "$REACHED")
	sleep 0.5
	stop_poller "$p"
	kill "$evpid" "$qevpid" 2>/dev/null
	exec {evfd}<&-
	wait "$qevpid" 2>/dev/null
	for k in "${!order[@]}"; do
		alias=${order[k]}
		PER_DIMM+=("$(ms "${tcall[k]}" "${tgone[k]}")")
		tq=$(deleted_at "$alias" "$qev")
		to=$(ejecting_at "$alias" "$qev")
		[ -n "$tq" ] && PER_DIMM_QEMU+=("$(ms "${tcall[k]}" "$tq")")
		[ -n "$tq" ] && [ -n "$to" ] && PER_DIMM_GUEST+=("$(ms "$to" "$tq")")
		timeline+=("${tcall[k]} virsh detach-device-alias $alias" "${tret[k]}   returned"
			"${tgone[k]} libvirt device-removed $alias")
	done
	qemu_rss
	echo "# run $run (b) unplug of ${#DIMMS[@]} DIMMs: last device-removed after $(ms "$t0" "${tgone[-1]}") ms, VmRSS -0.9 GiB after ${B[$run]} ms; VmRSS $(mib "$BASE_RSS") -> $(mib "$RSS") MiB (-$(mib $((BASE_RSS - RSS))) MiB), guest RAM resident $(mib "$(vm_guest_rss_kib b)") MiB"
	# The timeline: virsh calls, events and VmRSS steps, in ms from t0.
	{
		printf '%s\n' "${timeline[@]}"
		qemu_events "$qev" | cut -c1-150
		[ -e "$p.trace" ] && awk '{ printf "%s VmRSS %.1f MiB\n", $1, $2 / 1024 }' "$p.trace"
		echo "$REACHED VmRSS dropped by 0.9 GiB"
	} | sort -s -n -k1,1 | while read -r t line; do
		printf '#   %+8d ms  %s\n' "$(ms "$t0" "$t")" "$line"
	done
	DIMMS=()
}

make -s -C "$DMEM_TOP/tests" host-tools || exit 1
vm_init
trap bench_cleanup EXIT
exec {NAP_FD}<> <(:)

vm_define b startup=512 max=2048 slots=4
vm_start b
DOM=$(vm_dom b)
QPID=$(vm_qemu_pid b)
[ -r "/proc/${QPID:-none}/statm" ] || bail "no QEMU process for $DOM"
TOTAL0=$(vm_meminfo_kib b MemTotal)
FULL_KIB=$(((512 + NDIMMS * DIMM_MIB) * 1024))
t1=0 t2=0 t3=0 t4=0
now t1; vm_guest_rss_kib b >/dev/null; now t2
now t3; qemu_rss; now t4
echo "# guest up in ${VM_BOOT_MS} ms, QEMU pid $QPID, boot MemTotal $(mib "$TOTAL0") MiB; touch ${TOUCH_MIB} MiB; RUNS=$RUNS; one read: smaps $((t2 - t1)) us, statm $((t4 - t3)) us"
cat >"$VM_DIR/dimm.xml" <<XML
<memory model='dimm'>
  <target><size unit='MiB'>$DIMM_MIB</size><node>0</node></target>
</memory>
XML

declare -A A B
PER_DIMM=() PER_DIMM_QEMU=() PER_DIMM_GUEST=()
FAILED=0
off0=0 mig0=0
for run in $(seq "$RUNS"); do
	# The same state before each measurement: 512 MiB + 4 DIMMs, balloon
	# empty, ~1 GiB free in the guest and resident in QEMU.
	attach_dimms
	[ "$(actual_kib)" = "$FULL_KIB" ] || set_full
	touch_free
	state_line "run $run before (a)"
	[ $((RSS_AFTER - RSS_BEFORE)) -ge "$RISE_MIN_KIB" ] ||
		bail "run $run: QEMU's VmRSS rose by only $(mib $((RSS_AFTER - RSS_BEFORE))) MiB (< 1 GiB - 16 MiB) after the guest touched $TOUCH_MIB MiB"
	rss_pre=$RSS_AFTER
	measure_balloon "$run"

	set_full
	touch_free
	state_line "run $run before (b)"
	[ "$RSS_AFTER" -ge $((rss_pre - 32 * 1024)) ] ||
		bail "run $run: QEMU's VmRSS is not back up after (a): $(mib "$RSS_AFTER") MiB, was $(mib "$rss_pre") MiB before (a)"
	measure_unplug "$run"

	off=$(vm_exec b "cat $SYSFS/offlined_kib")
	mig=$(vm_vmstat b balloon_migrate)
	total=$(vm_meminfo_kib b MemTotal)
	echo "# run $run after (b): guest MemTotal $(mib "$total") MiB (boot $(mib "$TOTAL0") MiB), balloon actual $(mib "$(actual_kib)") MiB, offlined_kib $off (+$((off - off0))), balloon_migrate $mig (+$((mig - mig0)))"
	off0=$off mig0=$mig
	if near "$total" "$TOTAL0" "$BLOCK_KIB"; then
		echo "# run $run: ok: MemTotal after (b) is the boot MemTotal +- 128 MiB"
	else
		echo "# FAIL: run $run: MemTotal after (b) is not the boot MemTotal +- 128 MiB"
		FAILED=1
	fi
	if vm_dmesg_clean b; then
		echo "# run $run: ok: the guest kernel log has no warning, oops or BUG"
	else
		echo "# FAIL: run $run: the guest kernel log has a warning, oops or BUG"
		FAILED=1
	fi
done

printf '\n%-8s %16s %16s %8s\n' run "(a) balloon ms" "(b) unplug ms" "a/b"
for run in $(seq "$RUNS"); do
	printf '%-8s %16d %16d %7.1fx\n' "$run" "${A[$run]}" "${B[$run]}" \
		"$(awk -v a="${A[$run]}" -v b="${B[$run]}" 'BEGIN { print a / b }')"
done
ma=$(for run in $(seq "$RUNS"); do echo "${A[$run]}"; done | median)
mb=$(for run in $(seq "$RUNS"); do echo "${B[$run]}"; done | median)
md=$(printf '%s\n' "${PER_DIMM[@]}" | median)
printf '%-8s %16s %16s %7.1fx\n' median "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN { print a / b }')"
awk -v a="$ma" -v b="$mb" 'BEGIN {
	r = a / b
	printf "\nunplug is %.1fx faster than balloon inflate (a/b of the medians; target: >= 3x: %s)\n",
		r, (r >= 3) ? "met" : "NOT met"
	if (r < 1)
		printf "(that is, unplug is %.1fx slower)\n", 1 / r
}'
echo "per-DIMM unplug (detach-device-alias -> libvirt device-removed; 256 MiB = 2 blocks of 128 MiB): median $md ms ($(awk -v d="$md" 'BEGIN { printf "%.0f", d / 2 }') ms per block); all: ${PER_DIMM[*]}"
if [ "${#PER_DIMM_QEMU[@]}" -gt 0 ]; then
	mq=$(printf '%s\n' "${PER_DIMM_QEMU[@]}" | median)
	echo "  until QEMU's DEVICE_DELETED (virsh, libvirt's device_del, the guest): median $mq ms; all: ${PER_DIMM_QEMU[*]}"
fi
if [ "${#PER_DIMM_GUEST[@]}" -gt 0 ]; then
	mg=$(printf '%s\n' "${PER_DIMM_GUEST[@]}" | median)
	echo "  the guest's part (its _OST 'ejection in progress' -> DEVICE_DELETED: offline, remove, eject): median $mg ms ($(awk -v d="$mg" 'BEGIN { printf "%.1f", d / 2 }') ms per 128 MiB block); all: ${PER_DIMM_GUEST[*]}"
fi
exit "$FAILED"
