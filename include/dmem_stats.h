/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Memory statistics tags exchanged between dmem_balloon (guest) and the
 * host, over the virtio-balloon stats virtqueue. Numbers are the virtio
 * specification's (VIRTIO_BALLOON_S_*); the newer ones are defined here so
 * that the guest driver reports them even when built against kernel headers
 * that predate them (Linux < 6.10). A device that does not know a tag
 * ignores it (QEMU 7.2 keeps tags 0-9 only).
 *
 * Units: every memory amount is in bytes; counters are event counts.
 */
#ifndef DMEM_STATS_H
#define DMEM_STATS_H

#define DMEM_STAT_SWAP_IN		0	/* bytes swapped in */
#define DMEM_STAT_SWAP_OUT		1	/* bytes swapped out */
#define DMEM_STAT_MAJFLT		2	/* major page faults */
#define DMEM_STAT_MINFLT		3	/* minor page faults */
#define DMEM_STAT_MEMFREE		4	/* free memory, bytes */
#define DMEM_STAT_MEMTOT		5	/* total memory, bytes */
#define DMEM_STAT_AVAIL			6	/* MemAvailable, bytes */
#define DMEM_STAT_CACHES		7	/* file-backed pages, bytes */
#define DMEM_STAT_HTLB_PGALLOC		8	/* hugetlb page allocations */
#define DMEM_STAT_HTLB_PGFAIL		9	/* hugetlb allocation failures */
#define DMEM_STAT_OOM_KILL		10	/* OOM killer invocations */
#define DMEM_STAT_ALLOC_STALL		11	/* direct reclaim stalls */
#define DMEM_STAT_ASYNC_SCAN		12	/* bytes scanned by kswapd */
#define DMEM_STAT_DIRECT_SCAN		13	/* bytes scanned directly */
#define DMEM_STAT_ASYNC_RECLAIM		14	/* bytes reclaimed by kswapd */
#define DMEM_STAT_DIRECT_RECLAIM	15	/* bytes reclaimed directly */
#define DMEM_STAT_NR			16

#endif /* DMEM_STATS_H */
