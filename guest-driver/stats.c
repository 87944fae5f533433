// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: the pressure report. Every tag the running kernel can
 * compute, fresh for each host request. Amounts in bytes, events as counts.
 */

#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/swap.h>
#include <linux/vmstat.h>

#include "dmem_balloon.h"

static void dmem_put_stat(struct dmem_balloon *b, unsigned int *idx, u16 tag,
			  u64 val)
{
	if (WARN_ON_ONCE(*idx >= ARRAY_SIZE(b->stats)))
		return;
	b->stats[*idx].tag = cpu_to_virtio16(b->vdev, tag);
	b->stats[*idx].val = cpu_to_virtio64(b->vdev, val);
	(*idx)++;
}

static u64 pages_to_bytes(unsigned long pages)
{
	return (u64)pages << PAGE_SHIFT;
}

/**
 * dmem_fill_stats() - refresh the stats buffer (and its debugfs copy).
 * @b: the balloon; the buffer must not be queued to the device
 *
 * Return: the number of entries filled.
 */
static unsigned int dmem_fill_stats(struct dmem_balloon *b)
{
	unsigned int idx = 0, i;
	struct sysinfo si;

#ifdef CONFIG_VM_EVENT_COUNTERS
	unsigned long *ev = b->events;
	u64 stalls = 0;
	int zid;

	all_vm_events(ev);
	dmem_put_stat(b, &idx, DMEM_STAT_SWAP_IN,
		      pages_to_bytes(ev[PSWPIN]));
	dmem_put_stat(b, &idx, DMEM_STAT_SWAP_OUT,
		      pages_to_bytes(ev[PSWPOUT]));
	dmem_put_stat(b, &idx, DMEM_STAT_MAJFLT, ev[PGMAJFAULT]);
	dmem_put_stat(b, &idx, DMEM_STAT_MINFLT, ev[PGFAULT]);
#ifdef CONFIG_HUGETLB_PAGE
	dmem_put_stat(b, &idx, DMEM_STAT_HTLB_PGALLOC,
		      ev[HTLB_BUDDY_PGALLOC]);
	dmem_put_stat(b, &idx, DMEM_STAT_HTLB_PGFAIL,
		      ev[HTLB_BUDDY_PGALLOC_FAIL]);
#endif
	dmem_put_stat(b, &idx, DMEM_STAT_OOM_KILL, ev[OOM_KILL]);
	for (zid = 0; zid < MAX_NR_ZONES; zid++)
		stalls += ev[ALLOCSTALL_NORMAL - ZONE_NORMAL + zid];
	dmem_put_stat(b, &idx, DMEM_STAT_ALLOC_STALL, stalls);
	dmem_put_stat(b, &idx, DMEM_STAT_ASYNC_SCAN,
		      pages_to_bytes(ev[PGSCAN_KSWAPD]));
	dmem_put_stat(b, &idx, DMEM_STAT_DIRECT_SCAN,
		      pages_to_bytes(ev[PGSCAN_DIRECT]));
	dmem_put_stat(b, &idx, DMEM_STAT_ASYNC_RECLAIM,
		      pages_to_bytes(ev[PGSTEAL_KSWAPD]));
	dmem_put_stat(b, &idx, DMEM_STAT_DIRECT_RECLAIM,
		      pages_to_bytes(ev[PGSTEAL_DIRECT]));
#endif
	si_meminfo(&si);
	dmem_put_stat(b, &idx, DMEM_STAT_MEMFREE, pages_to_bytes(si.freeram));
	dmem_put_stat(b, &idx, DMEM_STAT_MEMTOT, pages_to_bytes(si.totalram));
	dmem_put_stat(b, &idx, DMEM_STAT_AVAIL,
		      pages_to_bytes(max(si_mem_available(), 0L)));
	dmem_put_stat(b, &idx, DMEM_STAT_CACHES,
		      pages_to_bytes(global_node_page_state(NR_FILE_PAGES)));

	/* Gathering may sleep (all_vm_events); only the copy is locked. */
	spin_lock(&b->stats_lock);
	for (i = 0; i < idx; i++) {
		b->last_stats[i].tag = virtio16_to_cpu(b->vdev, b->stats[i].tag);
		b->last_stats[i].val = virtio64_to_cpu(b->vdev, b->stats[i].val);
	}
	b->nr_last_stats = idx;
	spin_unlock(&b->stats_lock);
	return idx;
}

/* Give the host the first stats buffer, which it keeps until it wants more. */
int dmem_stats_start(struct dmem_balloon *b)
{
	if (!b->stats_vq)
		return 0;
	return dmem_stats_send(b, dmem_fill_stats(b));
}

/* Answer the host's request (see dmem_stats_request()) with fresh numbers. */
void dmem_stats_work(struct work_struct *work)
{
	struct dmem_balloon *b = container_of(work, struct dmem_balloon,
					      stats_work);
	unsigned int len;

	/* The buffer is ours again only once the host has returned it. */
	if (!virtqueue_get_buf(b->stats_vq, &len))
		return;
	if (dmem_stats_send(b, dmem_fill_stats(b))) {
		dev_warn_once(&b->vdev->dev, "cannot requeue the stats buffer\n");
		return;
	}
	atomic_long_inc(&b->cnt.stats_requests);
}
