#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Many VMs, one host (real libvirtd, three TCG guests with dmem_balloon):
#
#   - one dmemd per host, and its state file is 0640;
#   - `dmemctl set` refuses a minimum above startup;
#   - contention: weights 8000 / 5000 / 2000 on a pool smaller than the
#     joint demand, workloads started together. Sampled every 0.5 s, what
#     the VMs hold -- by balloon actual and by the guest memory their QEMU
#     processes have resident (host side, /proc/PID/smaps) -- never exceeds
#     the pool by more than one DIMM; once settled, what they hold is
#     ordered by weight, nobody is below its minimum, the highest weight is
#     not OOM-killed, and dmemctl status and the metrics agree with virsh;
#   - a stuck VM (its QEMU stopped) does not delay another VM's growth, is
#     reported once, and is managed again once it runs;
#   - a VM destroyed and started again within one interval starts afresh:
#     no DIMM its fresh guest does not need;
#   - minimums beyond the pool: nothing is hot-added, the overcommit is
#     reported with its cause.
set -uo pipefail
source "$(dirname "$0")/../lib/dmemd.sh"

POOL_MIB=2048
DIMM_MIB=128
dmemd_init
interval_ms=500 shrink_delay_s=5 host_pool_mib=$POOL_MIB dimm_size_mib=$DIMM_MIB \
	metrics_file=$VM_DIR/dmemd.prom dmemd_config
for v in hi mid lo; do
	vm_define "$v" startup=512 max=1536 slots=8
done
for v in hi mid lo; do
	vm_start "$v"
done
hi=$(vm_dom hi) mid=$(vm_dom mid) lo=$(vm_dom lo)

# ---- settings through dmemctl, with the minimum rule -----------------------
w=(8000 5000 2000)
i=0
for v in hi mid lo; do
	dmemctl set "$(vm_dom "$v")" --minimum 384M --weight "${w[i]}" >/dev/null ||
		bail "dmemctl set $v failed"
	i=$((i + 1))
done
out=$(dmemctl set "$hi" --minimum 600M 2>&1)
rc=$?
tap_diag "$out"
check "dmemctl set refuses a minimum above startup" \
	bash -c "[ $rc -ne 0 ] && grep -q 'minimum 600 MiB is above startup 512 MiB' <<<\"\$1\"" _ "$out"
md=$(vm_virsh metadata "$hi" urn:dmem:1 --config)
check "and left the VM's metadata as it was" \
	bash -c "grep -q 'minimum=\"384\"' <<<\"\$1\" && grep -q 'weight=\"8000\"' <<<\"\$1\"" _ "$md"

dmemd_start

# ---- one instance ----------------------------------------------------------
timeout 20 "$DMEM_TOP/hostd/dmemd" --foreground --config "$DMEMD_CONF" >"$VM_DIR/second.log" 2>&1
rc=$?
tap_diag "second dmemd (status $rc): $(cat "$VM_DIR/second.log")"
check "a second dmemd refuses to start" \
	bash -c "[ $rc -eq 1 ] && grep -q 'another dmemd (pid $DMEMD_PID) is running' '$VM_DIR/second.log'"
check "the state file is mode 0640" test "$(stat -c %a "$DMEMD_STATE")" = 640
check "the state file belongs to group libvirt" \
	test "$(stat -c %G "$DMEMD_STATE")" = libvirt

status_in() { local s; s=$(dmemd_vm_json "$1" status); [[ " $2 " == *" $s "* ]]; }
for v in hi mid lo; do
	vm_wait 30 status_in "$v" "OK Low" || bail "$v is not managed: $(dmemd_vm_json "$v" reason)"
done

# ---- the sampler -------------------------------------------------------------
# Every 0.5 s: what the VMs hold by balloon actual (virsh dominfo: libvirt's
# own number, which needs no answer from a QEMU that may be stopped) and the
# guest memory their QEMU processes have resident (/proc/PID/smaps). A VM
# that cannot be read keeps its last value.
SAMPLES=$VM_DIR/samples
sampler() {
	local v a r sa sr
	declare -A la lr
	while :; do
		sa=0 sr=0
		for v in hi mid lo; do
			a=$(vm_virsh dominfo "$(vm_dom "$v")" 2>/dev/null |
				awk '/^Used memory:/ {print $3}')
			r=$(vm_guest_rss_kib "$v" 2>/dev/null)
			la[$v]=${a:-${la[$v]:-0}} lr[$v]=${r:-${lr[$v]:-0}}
			sa=$((sa + la[$v])) sr=$((sr + lr[$v]))
		done
		echo "$(date +%s.%N) $sa $sr"
		sleep 0.5
	done
}
sampler >"$SAMPLES" 2>/dev/null &
SAMPLER=$!
stop_sampler() { [ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; SAMPLER=; }
trap 'rc=$?; stop_sampler; (exit $rc); dmemd_cleanup' EXIT
samples_since() { awk -v t="$1" '$1 >= t' "$SAMPLES" | wc -l; }

check "QEMU's guest memory is visible from the host" \
	test "$(vm_guest_rss_kib hi)" -gt $((64 * 1024))

# ---- contention --------------------------------------------------------------
for v in hi mid lo; do
	vm_exec "$v" '(memhog -m 640 -s 16 -i 500 -t 25; echo exit=$?) >/tmp/hog.log 2>&1 &' >/dev/null
done
hog_done() { vm_exec "$1" 'grep -q "^exit=" /tmp/hog.log'; }
# Settled: 20 s of ramp, then the workloads hold their memory; read the
# numbers before they end.
sleep 32
dmemctl status | sed 's/^/# /'
held() { vm_balloon_kib "$1" actual; }
h_hi=$(held hi) h_mid=$(held mid) h_lo=$(held lo)
for v in hi mid lo; do
	tap_diag "$v: QEMU rss $(($(dmemd_vm_json "$v" rss_kib) / 1024)) MiB, learned QEMU overhead $(($(dmemd_vm_json "$v" overhead_kib) / 1024)) MiB, guest memory resident (smaps) $(($(vm_guest_rss_kib "$v") / 1024)) MiB"
done
tap_diag "assigned (virsh, MiB): hi $((h_hi / 1024)), mid $((h_mid / 1024)), lo $((h_lo / 1024)); pool $POOL_MIB"
check "what they have is ordered by weight (8000 >= 5000 >= 2000)" \
	test "$h_hi" -ge "$h_mid" -a "$h_mid" -ge "$h_lo"
check "the highest weight holds more than the lowest" test "$h_hi" -gt "$h_lo"
for v in hi mid lo; do
	check "$v is not below its minimum (384 MiB)" \
		test "$(vm_balloon_kib "$v" actual)" -ge $((384 * 1024 - 8 * 1024))
done
agree() {
	local v a b
	for v in hi mid lo; do
		a=$(dmemd_vm_json "$v" assigned_kib)
		b=$(vm_balloon_kib "$v" actual)
		near "$a" "$b" $((16 * 1024)) || return 1
	done
}
check "dmemctl status --json agrees with virsh dommemstat" vm_wait 10 agree
metric() { awk -v d="$(vm_dom "$1")" -v m="$2" '$1 == m "{domain=\"" d "\"}" {print $2}' "$VM_DIR/dmemd.prom"; }
metrics_agree() {
	local v a b
	for v in hi mid lo; do
		a=$(metric "$v" dmem_vm_assigned_bytes)
		b=$(vm_balloon_kib "$v" actual)
		[ -n "$a" ] && near "$((${a%.*} / 1024))" "$b" $((16 * 1024)) || return 1
	done
}
check "the metrics file agrees with virsh dommemstat" vm_wait 10 metrics_agree
check "the metrics file has the pool" grep -q "^dmem_pool_bytes $((POOL_MIB * 1024 * 1024))" "$VM_DIR/dmemd.prom"
for v in hi mid lo; do vm_wait 60 hog_done "$v"; done
for v in hi mid lo; do
	tap_diag "$v: $(vm_exec "$v" 'tail -n 1 /tmp/hog.log') OOM kills: $(vm_exec "$v" 'dmesg | grep -c "Killed process"')"
done
check "no OOM kill in the highest-weight VM" \
	vm_exec hi '! dmesg | grep -qE "Out of memory|Killed process|oom-kill"'
check "its workload finished" vm_exec hi 'grep -q "^exit=0" /tmp/hog.log'

# ---- a stuck VM ------------------------------------------------------------------
# lo's QEMU is stopped while mid's demand steps up: mid gets its memory on
# time, and the sampler goes on reading lo without its QEMU.
# mid's surplus from its workload goes back first (shrink_delay_s=5).
mid_small() { [ "$(vm_balloon_kib mid actual)" -le $((400 * 1024)) ]; }
vm_wait 30 mid_small || bail "mid did not shrink after its workload: $(dmemd_vm_json mid reason)"
lo_pid=$(vm_qemu_pid lo)
tap_diag "before the step: $(dmemctl status | head -n 1)"
mid0=$(vm_balloon_kib mid actual)
kill -STOP "$lo_pid"
stopped_at=$(date +%s)
stopped_at_ns=$(date +%s.%N)
sleep 2
# A demand step that fits in what the guest has: dmemd must answer it.
vm_exec mid '(memhog -m 256 -s 256 -t 10; echo exit=$?) >/tmp/hog2.log 2>&1 &' >/dev/null
t0=$(date +%s.%N)
grew() { [ "$(vm_balloon_kib mid actual)" -ge $((mid0 + 128 * 1024)) ]; }
vm_wait 20 grew
grew_rc=$?
t1=$(date +%s.%N)
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
tap_diag "mid grew from $((mid0 / 1024)) MiB to $(($(vm_balloon_kib mid actual) / 1024)) MiB in $took s while lo's QEMU is stopped"
tap_diag "$(grep -F "$hi: balloon target" "$DMEMD_LOG" | tail -n 3)"
check "another VM grows while one VM's QEMU is stopped" test "$grew_rc" -eq 0
check "and in time (under 6 s from its demand step)" \
	awk -v s="$took" 'BEGIN { exit !(s < 6) }'
check "the stopped VM is reported Unresponsive" vm_wait 10 status_in lo Unresponsive
tap_diag "lo: $(dmemd_vm_json lo reason)"
check "the healthy VM is not" status_in mid "OK Low Warning"
left=$((stopped_at + 30 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
check "the sampler kept reading while lo's QEMU was stopped" \
	test "$(samples_since "$stopped_at_ns")" -ge 20
kill -CONT "$lo_pid"
check "after SIGCONT the stopped VM is managed again" vm_wait 20 status_in lo "OK Low"
grep -F "$lo:" "$DMEMD_LOG" | grep -E "Unresponsive|again|libvirt call" | sed 's/^/# /'
check "dmemd logged the stall once" \
	test "$(grep -F "$lo:" "$DMEMD_LOG" | grep -c "WARNING.*Unresponsive")" -eq 1
check "and its end" grep -qE "$lo: (OK|Low) again" "$DMEMD_LOG"
check "mid's workload finished" vm_wait 30 bash -c "'$DMEM_TOP/tests/build/dmem-vmexec' -t 10 '$VM_DIR/mid.agent.sock' 'grep -q ^exit=0 /tmp/hog2.log'"

# ---- a lagging balloon -------------------------------------------------------
# hi grows big and its workload ends; before its surplus is idle long enough
# to go back, mid needs memory now. dmemd must take hi's surplus at once, and
# hand mid only what hi's balloon has actually given back (the sampler checks
# the sums, by balloon and by what QEMU has resident).
# A long shrink delay from here on: hi's surplus would stay a minute.
sed -i 's/^shrink_delay_s=.*/shrink_delay_s=60/' "$DMEMD_CONF"
kill -HUP "$DMEMD_PID"
vm_exec hi '(memhog -m 800 -s 32 -i 250 -t 2; echo exit=$?) >/tmp/hog3.log 2>&1 &' >/dev/null
hog3_done() { vm_exec hi 'grep -q "^exit=" /tmp/hog3.log'; }
vm_wait 60 hog3_done || bail "hi's workload did not end"
tap_diag "hi grew to $(($(vm_balloon_kib hi actual) / 1024)) MiB; $(dmemctl status | head -n 1)"
lag_from=$(date +%s.%N)
# 32 MiB/s: what mid gets must come out of hi first, a DIMM of hi's at a
# time, hot-added into mid after mid's statistics show the need. A workload
# growing 128 MiB/s is at the edge of what dmemd follows under TCG
# (tests/bench/rebalance.sh); here it outran it in 1 run of 4.
vm_exec mid '(memhog -m 700 -s 32 -i 1000 -t 3; echo exit=$?) >/tmp/hog4.log 2>&1 &' >/dev/null
hog4_done() { vm_exec mid 'grep -q "^exit=" /tmp/hog4.log'; }
check "mid's workload runs to its end" vm_wait 90 hog4_done
check "without an OOM kill" vm_exec mid 'grep -q "^exit=0" /tmp/hog4.log'
# By its balloon or by unplugging its DIMMs, whichever dmemd did first:
# either says it did not wait because another VM needs memory.
took_back() {
	awk -v t="$(date -d "@${lag_from%.*}" +%T)" '$3 >= t' "$DMEMD_LOG" |
		grep -E "$hi: (balloon target|unplugging DIMM)" | grep -qF "another VM needs memory"
}
awk -v t="$(date -d "@${lag_from%.*}" +%T)" '$3 >= t' "$DMEMD_LOG" |
	grep -E "$hi: (balloon target|unplugging DIMM)" | head -n 8 | sed 's/^/# /'
check "hi's surplus was taken back at once (another VM needed it)" took_back

stop_sampler
worst_actual=$(awk -v p=$((POOL_MIB * 1024)) 'BEGIN { w = -1e18 } { if ($2 - p > w) w = $2 - p } END { print int(w / 1024) }' "$SAMPLES")
worst_rss=$(awk -v p=$((POOL_MIB * 1024)) 'BEGIN { w = -1e18 } { if ($3 - p > w) w = $3 - p } END { print int(w / 1024) }' "$SAMPLES")
tap_diag "$(wc -l <"$SAMPLES") samples; worst (sum - pool): by actual $worst_actual MiB, by QEMU guest RSS $worst_rss MiB (negative: under the pool)"
check "what the VMs hold by actual never exceeded the pool by more than a DIMM" \
	test "$worst_actual" -le "$DIMM_MIB"
check "what their QEMUs have resident never exceeded the pool by more than a DIMM" \
	test "$worst_rss" -le "$DIMM_MIB"

# ---- restart within one interval ---------------------------------------------
# dmemd is stopped meanwhile, so that it cannot see the VM gone: to it the
# restart happens between two cycles.
mid_live0=$(dmemd_vm_json mid live_kib)
check "mid has grown past its startup size before its restart" \
	test "$mid_live0" -gt $((512 * 1024))
kill -STOP "$DMEMD_PID"
vm_virsh destroy "$mid" >/dev/null && vm_virsh start "$mid" >/dev/null
restarted=$?
kill -CONT "$DMEMD_PID"
[ "$restarted" -eq 0 ] || bail "cannot restart $mid"
new_boot() { grep -qE "$mid: (restarted|started: managed afresh)" "$DMEMD_LOG"; }
check "dmemd sees the new boot" vm_wait 10 new_boot
"$DMEM_TOP/tests/build/dmem-vmexec" -w 180 -t 10 "$VM_DIR/mid.agent.sock" 'echo ok' >/dev/null ||
	bail "mid did not come back"
sleep 4
tap_diag "mid before the restart: live $((mid_live0 / 1024)) MiB; after: $(dmemctl status | grep "$mid")"
check "the fresh guest gets no DIMM (its demand needs none)" test "$(vm_dimms mid)" -eq 0
check "and no more than its startup size" \
	test "$(vm_balloon_kib mid actual)" -le $((512 * 1024))

# ---- minimums beyond the pool --------------------------------------------------
# The pool shrinks below what the VMs have and their minimums are raised to
# their startup size (1536 MiB together, on a pool of 1024): nothing is
# hot-added, nobody is shrunk below its minimum, the overcommit is reported
# with its cause.
# The minimums first (the pool still has room for them), then the pool: in
# the other order a VM could be shrunk to its old minimum in between.
for v in hi mid lo; do
	dmemctl set "$(vm_dom "$v")" --minimum 512M >/dev/null || bail "dmemctl set $v failed"
done
at_minimum() { [ "$(vm_balloon_kib "$1" actual)" -ge $((512 * 1024 - 8 * 1024)) ]; }
for v in hi mid lo; do vm_wait 20 at_minimum "$v"; done
dimms0=$(( $(vm_dimms hi) + $(vm_dimms mid) + $(vm_dimms lo) ))
declare -A before
for v in hi mid lo; do before[$v]=$(vm_balloon_kib "$v" actual); done
sed -i 's/^host_pool_mib=.*/host_pool_mib=1024/' "$DMEMD_CONF"
kill -HUP "$DMEMD_PID"
overcommitted() { dmemctl status --json | jq -e '.dmemd.overcommit_kib > 0 and (.dmemd.overcommit_reason | test("minimums"))' >/dev/null; }
check "minimums beyond the pool are reported as the overcommit's cause" vm_wait 15 overcommitted
tap_diag "$(dmemctl status --json | jq -r ".dmemd.overcommit_reason")"
sleep 5
check "nothing is hot-added beyond the pool (DIMMs may go, none come)" \
	test "$(( $(vm_dimms hi) + $(vm_dimms mid) + $(vm_dimms lo) ))" -le "$dimms0"
for v in hi mid lo; do
	floor=$(( before[$v] < 512 * 1024 ? before[$v] : 512 * 1024 ))
	check "$v is not shrunk below its raised minimum (or where it was, if below)" \
		test "$(vm_balloon_kib "$v" actual)" -ge $((floor - 8 * 1024))
done
check "dmemd logged the overcommit" dmemd_log_has "is overcommitted by"

check "hi: the guest kernel log is clean" vm_dmesg_clean hi
# The others may have had an OOM kill (its report has a call trace).
for v in mid lo; do
	check "$v: the guest kernel log has no warning" \
		vm_exec "$v" '! dmesg | grep -E "WARNING:|BUG:|Oops|general protection|UBSAN|KASAN|refcount_t"'
done
check "dmemd stops cleanly" dmemd_stop
check "dmemd removed its metrics file on exit" test ! -e "$VM_DIR/dmemd.prom"
tap_done
