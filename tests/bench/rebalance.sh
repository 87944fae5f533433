#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# How fast memory moves from a VM with surplus to a VM that is short of it.
#
# Two 512 MiB guests (maximum 1536 MiB, 128 MiB DIMMs) on a 1664 MiB pool.
# The giver grows by DIMMs to about 1280 MiB for a workload that then ends;
# with a 60 s shrink delay its surplus stays until another VM is short. Then
# the taker runs a 640 MiB workload growing RATE MiB/s (default 128). From
# the host: the time from the taker's step until it holds 512 MiB more
# (balloon actual), the rate that makes, and the taker workload's fate (an
# OOM kill ends it with status 137). The workload asks for 512 MiB more
# only after about 512 / RATE s: the MiB/s column is bounded by RATE, not a
# transfer rate.
#
# Each round twice, in the same run: with hot-remove (unplug=yes: the
# giver's surplus goes back as whole DIMMs) and with its balloon only
# (unplug=no: what oVirt MOM and Proxmox's auto-ballooning can do, and dmem
# with hot-remove off). Prints every run, the medians and their ratio.
# Usage: tests/bench/rebalance.sh [RATE_MIB_S] [ROUNDS]
set -uo pipefail
source "$(dirname "$0")/../lib/dmemd.sh"
source "$(dirname "$0")/../lib/bench.sh"

RATE=${1:-128}
ROUNDS=${2:-3}
MOVE_MIB=512
step_mib=$((RATE / 4))
[ "$step_mib" -ge 1 ] && [ $((RATE % 4)) -eq 0 ] || bail "RATE must be a multiple of 4 MiB/s (4 steps a second)"
dmemd_init

now_ms() { echo $(($(date +%s%N) / 1000000)); }
held_kib() { vm_balloon_kib "$1" actual; }

# run MODE ROUND: one measurement into RESULT: "SECONDS STATUS UNPLUGS"
# (SECONDS "-" if the taker never had 512 MiB more).
RESULT=
run() {
	local mode=$1 r=$2 g=g$2$1 t=t$2$1 base t0 t1= st n0 s
	interval_ms=500 shrink_delay_s=60 host_pool_mib=1664 dimm_size_mib=128 \
		unplug=$mode dmemd_config
	vm_define "$g" startup=512 max=1536 slots=8
	vm_define "$t" startup=512 max=1536 slots=8
	vm_start "$g"
	vm_start "$t"
	dmemd_start
	for v in "$g" "$t"; do
		dmemctl set "$(vm_dom "$v")" --minimum 384M >/dev/null || bail "dmemctl set $v failed"
	done
	vm_exec "$g" '(memhog -m 800 -s 32 -i 250 -t 2; echo exit=$?) >/tmp/hog.log 2>&1 &' >/dev/null
	ended() { vm_exec "$1" 'grep -q "^exit=" /tmp/hog.log'; }
	vm_wait 90 ended "$g" || bail "$g: the workload did not end"
	sleep 2
	base=$(held_kib "$t")
	n0=$(grep -c "$(vm_dom "$g"): unplugged DIMM" "$DMEMD_LOG")
	echo "# round $r, unplug=$mode: giver holds $(($(held_kib "$g") / 1024)) MiB, taker $((base / 1024)) MiB" >&2
	t0=$(now_ms)
	vm_exec "$t" "(memhog -m 640 -s $step_mib -i 250 -t 3; echo exit=\$?) >/tmp/hog.log 2>&1 &" >/dev/null
	moved() { [ "$(held_kib "$t")" -ge $((base + MOVE_MIB * 1024)) ]; }
	while :; do
		moved && { t1=$(now_ms); break; }
		ended "$t" && break
		[ $(($(now_ms) - t0)) -gt 90000 ] && break
		sleep 0.2
	done
	vm_wait 90 ended "$t"
	st=$(vm_exec "$t" 'sed -n "s/^exit=//p" /tmp/hog.log')
	dmemd_stop || bail "dmemd did not stop cleanly"
	s=-
	[ -n "$t1" ] && s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
	RESULT="$s ${st:-?} $(($(grep -c "$(vm_dom "$g"): unplugged DIMM" "$DMEMD_LOG") - n0))"
	vm_destroy "$g"
	vm_destroy "$t"
}

declare -A secs
printf '%-6s %-10s %12s %10s %8s %8s\n' round unplug "512 MiB in" "MiB/s" status unplugs
for r in $(seq 1 "$ROUNDS"); do
	for mode in yes no; do
		run "$mode" "$r"
		read -r s st u <<<"$RESULT"
		if [ "$s" != - ] && [ "$st" = 0 ]; then
			secs[$mode]+="$s "
			printf '%-6s %-10s %11ss %10s %8s %8s\n' "$r" "$mode" "$s" \
				"$(awk -v s="$s" -v m=$MOVE_MIB 'BEGIN { printf "%.0f", m / s }')" "$st" "$u"
		else
			printf '%-6s %-10s %12s %10s %8s %8s\n' "$r" "$mode" "$s" - "$st" "$u"
		fi
	done
done
med() { [ -n "$1" ] && printf '%s\n' $1 | median; }
y=$(med "${secs[yes]:-}") n=$(med "${secs[no]:-}")
echo "median, runs whose workload lived: hot-remove ${y:-none} s, balloon only ${n:-none} s"
[ -n "$y" ] && [ -n "$n" ] &&
	awk -v y="$y" -v n="$n" 'BEGIN { printf "balloon only / hot-remove: %.2fx\n", n / y }'
exit 0
