#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmark: balloon inflate at the physical limit. In one VM (1536 MiB,
# 1 vCPU, QEMU TCG, Debian 6.1 guest kernel) and one run it measures
#
#  (a)  the time to inflate the balloon by 1 GiB (1536 -> 512 MiB, from
#       setting the target until QEMU's query-balloon shows it, as
#       balloon-speed.sh, but polled every POLL_MS = 10 ms, see below), with
#       dmem_balloon and with the in-tree virtio_balloon (the drivers are
#       swapped in the running guest: rmmod, insmod);
#  (b1) the guest allocating and zeroing 1 GiB of the pages a balloon takes,
#       with nothing else: tests/guest/kmod/dmem_alloczero.ko, a test-only
#       module (not the driver), calls balloon_page_alloc() -- what both
#       drivers call: order 0, GFP_HIGHUSER_MOVABLE | __GFP_NOMEMALLOC |
#       __GFP_NORETRY | __GFP_NOWARN, zeroed by the allocator since Debian
#       kernels boot with init_on_alloc=1 (checked) -- 262144 times, timed
#       in the guest with ktime, then frees the pages (not timed);
#  (b2) QEMU discarding 1 GiB as the in-tree driver drives it: during (a)
#       with virtio_balloon (1024 requests of 256 PFNs; QEMU 7.2 calls
#       madvise(MADV_DONTNEED) once per 4 KiB page), the time QEMU spends
#       in each request, summed. Measured with two of QEMU's own trace
#       events, enabled at run time (QMP trace-event-set-state) and logged
#       with time stamps (-msg timestamp=on, libvirt's default) to a file of
#       the run's (HMP logfile): virtio_queue_notify (the guest's kick has
#       reached the device, its handler is about to run) and virtqueue_flush
#       (the handler has given the request back); per request the time from
#       the kick to the last flush on the same thread and queue: popping the
#       request, the page loop with its 256 madvise calls, pushing the
#       reply. Not in it: the guest's exit to QEMU for the kick and the
#       interrupt back (virtio transport, microseconds per request). The
#       events cost two log writes per request (about 2000 per GiB, a few
#       ms), the same for both drivers; nothing per page is traced.
#
# Why (b2) is measured that way: QEMU's binary is stripped (no uprobes on
# virtio_balloon_handle_output), its per-page trace events
# (virtio_balloon_handle_output, ram_block_discard_range) would cost as
# much as what they measure, strace stops QEMU at each of the 262144
# madvise calls, and a replay outside QEMU has only the system calls. That
# replay is printed next to it as a cross-check (tests/bench/discard-replay:
# 1 GiB written in 4 KiB pages, then one madvise(MADV_DONTNEED) per page):
# the system-call part of (b2), without QEMU's own work per page (finding
# the memory region and RAM block of each PFN) or its other threads.
# Caveats, from runs on the 2-CPU test machine: (b2) varies with what else
# the host runs (0.7 to 1.2 s per GiB); QEMU's time per page is about the
# same in dmem_balloon's 4096-PFN requests as in virtio_balloon's 256-PFN
# ones (2-4 us); it grows when the host's other QEMU threads are busy (a
# monitor query every 1 ms cost virtio_balloon's requests 10-20 % more than
# one every 50 ms), hence POLL_MS = 10 here (balloon-speed.sh polls every
# 1 ms); the host faulted no huge pages in during the inflates.
#
# The limit. Under TCG virtio-pci has no ioeventfd (QEMU's virtio-pci.c:
# "if (!kvm_has_many_ioeventfds()) proxy->flags &=
# ~VIRTIO_PCI_FLAG_USE_IOEVENTFD;"), so a kick runs the device's handler
# right away in the vCPU thread, which emulates no guest code meanwhile: the
# guest's allocating and zeroing and QEMU's discarding cannot overlap, and
# the limit is their SUM, b1 + b2. The benchmark checks this: it prints the
# name of the QEMU thread that handled the requests ("CPU 0/TCG"). On KVM
# the kick only signals an eventfd, QEMU's main loop does the discard while
# the vCPU runs on, and a driver that allocates the next batch while one is
# with the host (dmem_balloon keeps two in flight) is bounded by the larger
# of the two, max(b1, b2) (plus one batch); virtio_balloon waits for every
# request and stays at the sum. b1 and b2 on KVM are not measured here.
# Since b2 is QEMU's time under virtio_balloon's requests, the benchmark also
# prints b1 + QEMU's time in dmem_balloon's own requests (same trace) and
# dmem's inflate against that: the guest's part of dmem's inflate against
# the bare alloc+zero.
#
# Memory state. A balloon inflates pages that are free in the guest; after an
# earlier deflate those are discarded on the host, so zeroing them faults a
# fresh page in on the host (TCG: the host kernel allocates and zeroes it).
# Every timed measurement -- (a) for both drivers, (b1), the userspace
# figures -- therefore starts right after a 1 GiB balloon deflate, with ~1
# GiB of the guest's free memory discarded on the host (the page allocator
# hands the just-freed pages out first); QEMU's resident guest memory before
# each is printed to show it. (b1) leaves its 1 GiB resident on the host, so
# it is run once more, over resident memory, and the next measurement is
# preceded by an inflate and deflate that discards it again; those figures,
# over host-resident memory, are printed as well (what the host's faulting
# in costs each).
#
# Also printed, not part of the limit:
#  - the first virtio_balloon inflate after boot (never-ballooned memory);
#  - the guest's alloc+zero of 1 GiB from userspace (tests/guest/alloczero,
#    MADV_NOHUGEPAGE, one byte written per page, and with -p
#    MADV_POPULATE_WRITE). These are no bound: a user page costs a page
#    fault (under TCG an emulated exception) and page table, rmap and LRU
#    work that a balloon page never pays; they take longer than a whole
#    balloon inflate here. That is why (b1) comes from a kernel module.
#
# A round, RUNS times (default 3), with virtio_balloon bound at its start:
#   virtio_balloon inflate (a, b2), deflate; b1; b1 again (over resident
#   memory); virtio_balloon inflate over resident memory, deflate;
#   userspace alloc+zero (touch); swap to dmem_balloon; dmem inflate over
#   resident memory, deflate; dmem inflate (a), deflate; userspace
#   alloc+zero (MADV_POPULATE_WRITE); dmem inflate over resident memory,
#   deflate; swap to virtio_balloon; the host replay.
# Each timed step waits SETTLE_S (2) seconds first (dmem_balloon tells the
# host about a deflate in the background). Prints every round as "# ..."
# lines, then the medians, the limit and the ratios: target dmem inflate
# <= 1.2x the limit, and dmem_balloon never slower than virtio_balloon.
# The machine's other load shows in every figure; RUNS=5 steadies them.
#
# Not part of "make check": run it with  bash tests/bench/inflate-limit.sh
# (about 5 minutes; it waits for the machine's VM test lock like every VM
# test). Environment: RUNS (3), SETTLE_S (2), POLL_MS (10), BENCH_CMDLINE
# (extra guest kernel command line).
set -uo pipefail
source "$(dirname "$0")/../lib/vm.sh"
source "$(dirname "$0")/../lib/bench.sh"

RUNS=${RUNS:-3}
SETTLE_S=${SETTLE_S:-2}
POLL_MS=${POLL_MS:-10}
STARTUP=1536
LOW=512
MIB=$((STARTUP - LOW))


# time_to TARGET_MIB: seconds from setting the target until QEMU reports it.
time_to() {
	"$DMEM_TOP/tests/build/balloon-time" "$DMEM_URI" "$DOM" "$1" 300 "$POLL_MS"
}

qmp() { vm_virsh qemu-monitor-command "$DOM" "$1" >/dev/null; }

# QEMU's resident guest memory, MiB.
rss_mib() { echo $(($(vm_guest_rss_kib b) / 1024)); }

# qemu_time FROM TO: QEMU's time in the balloon's inflate requests logged
# in trace lines FROM+1..TO: "SECONDS REQUESTS TID" (see the header). The
# balloon's device is the one whose queue 0 was kicked most often.
qemu_time() {
	sed -n "$(($1 + 1)),$2p" "$TRACE" | awk '
	function close_req(tid) {
		if (open[tid] != "" && last[tid] != "") {
			sum[dev[tid]] += last[tid] - open[tid]
			n[dev[tid]]++; thr[dev[tid]] = tid
		}
		open[tid] = ""; last[tid] = ""
	}
	{
		split($1, a, "@"); tid = a[1]; sub(/:.*/, "", a[2]); ts = a[2]
		ev = $1; sub(/^[^:]*:/, "", ev)
	}
	ev == "virtio_queue_notify" {	# vdev V n N vq Q
		close_req(tid)
		if ($5 == 0) { open[tid] = ts; dev[tid] = $3; vq[tid] = $7 }
	}
	ev == "virtqueue_flush" && open[tid] != "" && $3 == vq[tid] { last[tid] = ts }
	END {
		for (t in open) close_req(t)
		for (d in n) if (n[d] > best) { best = n[d]; bd = d }
		if (best) printf "%.3f %d %s\n", sum[bd], best, thr[bd]
		else print "0 0 -"
	}'
}

# inflate LABEL: wait SETTLE_S, inflate STARTUP -> LOW MiB and deflate back.
# Sets INF (s), QSEC (QEMU's s), QREQ (requests), QTID, RSS0 (resident MiB
# before).
inflate() {
	local m0 m1
	sleep "$SETTLE_S"
	RSS0=$(rss_mib)
	m0=$(wc -l <"$TRACE")
	INF=$(time_to "$LOW") || bail "$1: inflate did not finish"
	m1=$(wc -l <"$TRACE")
	read -r QSEC QREQ QTID < <(qemu_time "$m0" "$m1")
	time_to "$STARTUP" >/dev/null || bail "$1: deflate did not finish"
}

# b1: the kernel module's alloc+zero of MIB. Sets B1 (s), RSS0.
alloc_zero_kernel() {
	local out pages ns init
	sleep "$SETTLE_S"
	RSS0=$(rss_mib)
	out=$(vm_exec b "echo $MIB >/sys/kernel/debug/dmem_alloczero && cat /sys/kernel/debug/dmem_alloczero" 120) ||
		bail "dmem_alloczero could not allocate $MIB MiB: $out"
	read -r pages ns init <<<"$out"
	[ "$pages" -eq $((MIB * 256)) ] || bail "dmem_alloczero: $pages pages, not $((MIB * 256))"
	[ "$init" = 1 ] || echo "# WARNING: the guest kernel does not zero on allocation (init_on_alloc=0): b1 has no zeroing"
	B1=$(awk -v ns="$ns" 'BEGIN { printf "%.3f", ns / 1e9 }')
}

# alloc_zero_user [-p]: userspace alloc+zero of MIB. Sets USER_S (s).
alloc_zero_user() {
	sleep "$SETTLE_S"
	USER_S=$(vm_exec b "alloczero -m $MIB $*" 300) || bail "alloczero $* failed: $USER_S"
}

# The driver bound to the balloon device (virtio device ID 5).
balloon_driver() {
	vm_exec b 'for d in /sys/bus/virtio/devices/*; do [ "$(cat $d/device)" = 0x0005 ] && basename "$(readlink $d/driver)"; done; :'
}

# use_driver dmem_balloon|virtio_balloon: swap the driver in the guest.
use_driver() {
	local cur ko bound
	cur=$(balloon_driver)
	case $1 in
	dmem_balloon) ko=/lib/dmem/dmem_balloon.ko ;;
	virtio_balloon) ko=/lib/modules/virtio/virtio_balloon.ko ;;
	esac
	vm_exec b "rmmod $cur && insmod $ko" >/dev/null || bail "cannot swap $cur for $1"
	bound=$(balloon_driver)
	[ "$bound" = "$1" ] || bail "balloon device bound to '$bound', not $1"
	time_to "$STARTUP" >/dev/null || bail "$1: balloon not empty after the swap"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a + b }'; }

make -s -C "$DMEM_TOP/tests" bench-tools || exit 1
vm_init
vm_define b startup=$STARTUP driver=virtio_balloon cmdline="${BENCH_CMDLINE:-}"
vm_start b
DOM=$(vm_dom b)
QPID=$(vm_qemu_pid b)
TRACE=$VM_DIR/qemu-trace.log
qmp '{"execute":"human-monitor-command","arguments":{"command-line":"logfile '"$TRACE"'"}}'
for ev in virtio_queue_notify virtqueue_flush; do
	qmp '{"execute":"trace-event-set-state","arguments":{"name":"'$ev'","enable":true}}'
done
vm_exec b 'insmod /lib/dmem/dmem_alloczero.ko' >/dev/null || bail "cannot load dmem_alloczero.ko"
touch "$TRACE"
[ "$(balloon_driver)" = virtio_balloon ] || bail "virtio_balloon is not bound at boot"
echo "# guest up in ${VM_BOOT_MS} ms; $(vm_exec b 'dmesg | grep -o "mem auto-init:.*"')"
echo "# $(qemu-system-x86_64 --version | head -n 1); host $(uname -r), $(nproc) CPUs; balloon polled every $POLL_MS ms"

declare -a A_D A_V B1S B2S LIM OWN R_LIM R_OWN R_VD Q_D B1_RES V_RES D_RES U_TOUCH U_POP REP4K
inflate "virtio_balloon, first"
echo "# first virtio_balloon inflate after boot (never-ballooned memory, resident before ${RSS0} MiB): ${INF} s, QEMU ${QSEC} s in ${QREQ} requests"
threads=()
for i in $(seq "$RUNS"); do
	inflate "virtio_balloon"
	a_v=$INF b2=$QSEC b2req=$QREQ rss_v=$RSS0
	threads+=("$QTID")
	alloc_zero_kernel
	b1=$B1 rss_k=$RSS0
	alloc_zero_kernel
	b1_res=$B1 rss_kr=$RSS0
	inflate "virtio_balloon over resident memory"
	v_res=$INF v_res_q=$QSEC rss_vr=$RSS0
	alloc_zero_user
	u_touch=$USER_S
	use_driver dmem_balloon
	inflate "dmem_balloon over resident memory"
	d_res1=$INF d_res1_q=$QSEC rss_dr1=$RSS0
	inflate "dmem_balloon"
	a_d=$INF q_d=$QSEC q_dreq=$QREQ rss_d=$RSS0
	alloc_zero_user -p
	u_pop=$USER_S
	inflate "dmem_balloon over resident memory"
	d_res2=$INF d_res2_q=$QSEC rss_dr2=$RSS0
	use_driver virtio_balloon
	rep4k=$("$DMEM_TOP/tests/build/discard-replay" "$MIB")

	lim=$(sum "$b1" "$b2") own=$(sum "$b1" "$q_d")
	echo "# run $i: dmem_balloon inflate ${a_d} s (QEMU ${q_d} s in ${q_dreq} requests; resident before ${rss_d} MiB)," \
		"virtio_balloon ${a_v} s (QEMU = b2 ${b2} s in ${b2req} requests; resident before ${rss_v} MiB)," \
		"b1 kernel alloc+zero ${b1} s (resident before ${rss_k} MiB); limit b1+b2 ${lim} s;" \
		"dmem/limit $(ratio "$a_d" "$lim")x, dmem/(b1+its own QEMU time) $(ratio "$a_d" "$own")x," \
		"virtio/dmem $(ratio "$a_v" "$a_d")x"
	echo "# run $i: over resident memory (resident before; QEMU's part):" \
		"b1 ${b1_res} s (${rss_kr} MiB), virtio_balloon ${v_res} s (${rss_vr} MiB; ${v_res_q} s)," \
		"dmem_balloon ${d_res1} s (${rss_dr1} MiB; ${d_res1_q} s), ${d_res2} s (${rss_dr2} MiB; ${d_res2_q} s);" \
		"userspace alloc+zero: touch ${u_touch} s, MADV_POPULATE_WRITE ${u_pop} s;" \
		"host replay of b2's madvise calls ${rep4k} s"
	A_D+=("$a_d") A_V+=("$a_v") B1S+=("$b1") B2S+=("$b2") LIM+=("$lim") Q_D+=("$q_d") OWN+=("$own")
	R_LIM+=("$(ratio "$a_d" "$lim")") R_OWN+=("$(ratio "$a_d" "$own")") R_VD+=("$(ratio "$a_v" "$a_d")")
	B1_RES+=("$b1_res") V_RES+=("$v_res") D_RES+=("$d_res1" "$d_res2") U_TOUCH+=("$u_touch") U_POP+=("$u_pop")
	REP4K+=("$rep4k")
done
for t in $(printf '%s\n' "${threads[@]}" | sort -u); do
	echo "# QEMU handled virtio_balloon's inflate requests in thread $t: $(cat "/proc/$QPID/task/$t/comm" 2>/dev/null || echo '?')"
done
vm_dmesg_clean b || bail "the guest kernel log has warnings"

med() { printf '%s\n' "$@" | median; }
row() { printf '%-62s %9s   %s\n' "$1" "$2" "$3"; }
mad=$(med "${A_D[@]}") mav=$(med "${A_V[@]}") mb1=$(med "${B1S[@]}") mb2=$(med "${B2S[@]}")
mlim=$(sum "$mb1" "$mb2") mqd=$(med "${Q_D[@]}")
mown=$(sum "$mb1" "$mqd")
echo
row "1 GiB, median of $RUNS (s)" median "runs"
row "(a) dmem_balloon inflate" "$mad" "${A_D[*]}"
row "(a) virtio_balloon inflate" "$mav" "${A_V[*]}"
row "(b1) guest alloc+zero, balloon_page_alloc() in a module" "$mb1" "${B1S[*]}"
row "(b2) QEMU discard as virtio_balloon drives it (traced)" "$mb2" "${B2S[*]}"
row "limit under TCG = b1 + b2 (medians)" "$mlim" "${LIM[*]}"
row "QEMU's part of dmem_balloon's inflate (traced)" "$mqd" "${Q_D[*]}"
row "b1 + QEMU's part of dmem_balloon's inflate (medians)" "$mown" "${OWN[*]}"
row "b1 over host-resident memory" "$(med "${B1_RES[@]}")" "${B1_RES[*]}"
row "virtio_balloon inflate over host-resident memory" "$(med "${V_RES[@]}")" "${V_RES[*]}"
row "dmem_balloon inflate over host-resident memory" "$(med "${D_RES[@]}")" "${D_RES[*]}"
row "userspace alloc+zero, one write per page (no bound)" "$(med "${U_TOUCH[@]}")" "${U_TOUCH[*]}"
row "userspace alloc+zero, MADV_POPULATE_WRITE (no bound)" "$(med "${U_POP[@]}")" "${U_POP[*]}"
row "host replay of b2's madvise calls (system calls only)" "$(med "${REP4K[@]}")" "${REP4K[*]}"
awk -v d="$mad" -v v="$mav" -v l="$mlim" -v o="$mown" 'BEGIN {
	r = d / l
	printf "\ndmem_balloon inflate / limit (b1 + b2): %.2fx (target <= 1.2x: %s); per run: '"${R_LIM[*]}"'\n", r, r <= 1.2 ? "met" : "not met"
	printf "dmem_balloon inflate / (b1 + its own QEMU time): %.2fx; per run: '"${R_OWN[*]}"'\n", d / o
	printf "virtio_balloon / dmem_balloon: %.2fx (never slower than virtio_balloon: %s); per run: '"${R_VD[*]}"'\n", v / d, d <= v ? "met" : "not met"
	printf "virtio_balloon inflate / limit: %.2fx\n", v / l
}'
