#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The experiment behind dmem_balloon's deflate design (issue 12): does the
# deflate log pay for itself, and does the ordering rule cost anything?
# Builds the driver with deflate-order.patch, which adds two module
# parameters that turn each part off, and measures in one guest (1536 MiB,
# 1 vCPU, QEMU TCG), RUNS rounds (default 3), interleaved:
#   log:   deflate 1 GiB with the log (pages freed first, the host told in
#          the background) against one 16 MiB batch per round trip, told
#          and answered before its pages are freed;
#   order: inflate 1 GiB right after a 1 GiB deflation (the log still being
#          told), with rule 2 (wait until the host has every deflate) and
#          without; and, for scale, after 5 s of quiet.
# Times: from setting the target until QEMU's "actual" reaches it
# (balloon-time.c). Not part of "make check".
set -uo pipefail
if [ -z "${DMEM_ORDER_COPY:-}" ]; then
	# Run from a patched copy of the tree: the tree itself stays as it is.
	top=$(cd "$(dirname "$0")/../.." && pwd)
	tmp=$(mktemp -d /tmp/dmem-order.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	git -C "$top" ls-files | tar -C "$top" -cf - -T - | tar -C "$tmp" -xf - ||
		exit 1
	patch -s -d "$tmp" -p1 <"$top/tests/bench/deflate-order.patch" || exit 1
	DMEM_ORDER_COPY=1 bash "$tmp/tests/bench/deflate-order.sh"
	exit
fi
source "$(dirname "$0")/../lib/vm.sh"
source "$(dirname "$0")/../lib/bench.sh"
RUNS=${RUNS:-3}
t() { "$DMEM_TOP/tests/build/balloon-time" "$DMEM_URI" "$dom" "$1" 300; }
param() { vm_exec o "echo $2 > /sys/module/dmem_balloon/parameters/$1"; }

make -s -C "$DMEM_TOP/tests" bench-tools || exit 1
vm_init
vm_define o startup=1536
vm_start o
dom=$(vm_dom o)
declare -a DL DN IA IB IQ
for i in $(seq "$RUNS"); do
	param exp_log 1; param exp_order 1
	t 512 >/dev/null; sleep 3
	d=$(t 1536); a=$(t 512)
	param exp_order 0; sleep 3
	d2=$(t 1536); b=$(t 512)
	param exp_order 1; param exp_log 0; sleep 3
	n=$(t 1536); sleep 5; q=$(t 512)
	DL+=("$d" "$d2") DN+=("$n") IA+=("$a") IB+=("$b") IQ+=("$q")
	echo "# run $i: deflate 1 GiB with the log ${d} / ${d2} s, batch per round trip ${n} s; inflate 1 GiB right after: rule 2 on ${a} s, off ${b} s; after 5 s quiet ${q} s"
done
vm_exec o "dmesg | grep -iE 'warn|bug|dmem_balloon'" | sed 's/^/# dmesg: /'
awk -v dl="$(printf '%s\n' "${DL[@]}" | median)" -v dn="$(printf '%s\n' "${DN[@]}" | median)" \
    -v ia="$(printf '%s\n' "${IA[@]}" | median)" -v ib="$(printf '%s\n' "${IB[@]}" | median)" \
    -v iq="$(printf '%s\n' "${IQ[@]}" | median)" 'BEGIN {
	printf "\ndeflate 1 GiB (median): log %.3f s, a batch per round trip %.3f s: the log is %.1fx faster\n", dl, dn, dn / dl
	printf "inflate 1 GiB right after a deflation (median): rule 2 on %.3f s, off %.3f s (%+.0f%%); after 5 s quiet %.3f s\n", ia, ib, (ia / ib - 1) * 100, iq
}'
