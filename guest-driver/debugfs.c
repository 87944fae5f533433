// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: what a developer sees. /sys/kernel/debug/dmem_balloon/
 * virtio<N>/stats: the last pressure report sent to the host, one
 * "name value" line per tag (amounts in bytes, events as counts).
 */

#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/seq_file.h>
#include <linux/virtio.h>

#include "dmem_balloon.h"

static const char * const dmem_stat_names[DMEM_STAT_NR] = {
	[DMEM_STAT_SWAP_IN] = "swap_in",
	[DMEM_STAT_SWAP_OUT] = "swap_out",
	[DMEM_STAT_MAJFLT] = "major_faults",
	[DMEM_STAT_MINFLT] = "minor_faults",
	[DMEM_STAT_MEMFREE] = "free_memory",
	[DMEM_STAT_MEMTOT] = "total_memory",
	[DMEM_STAT_AVAIL] = "available_memory",
	[DMEM_STAT_CACHES] = "disk_caches",
	[DMEM_STAT_HTLB_PGALLOC] = "hugetlb_allocations",
	[DMEM_STAT_HTLB_PGFAIL] = "hugetlb_failures",
	[DMEM_STAT_OOM_KILL] = "oom_kills",
	[DMEM_STAT_ALLOC_STALL] = "alloc_stalls",
	[DMEM_STAT_ASYNC_SCAN] = "async_scans",
	[DMEM_STAT_DIRECT_SCAN] = "direct_scans",
	[DMEM_STAT_ASYNC_RECLAIM] = "async_reclaims",
	[DMEM_STAT_DIRECT_RECLAIM] = "direct_reclaims",
};

static int dmem_stats_show(struct seq_file *m, void *unused)
{
	struct dmem_balloon *b = m->private;
	struct {
		u16 tag;
		u64 val;
	} copy[DMEM_STAT_NR];
	unsigned int i, n;

	spin_lock(&b->stats_lock);
	n = b->nr_last_stats;
	memcpy(copy, b->last_stats, sizeof(copy[0]) * n);
	spin_unlock(&b->stats_lock);

	for (i = 0; i < n; i++)
		seq_printf(m, "%s %llu\n", copy[i].tag < DMEM_STAT_NR ?
			   dmem_stat_names[copy[i].tag] : "unknown",
			   copy[i].val);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dmem_stats);

static struct dentry *dmem_debugfs_root;

/* debugfs is optional: failures leave error pointers, which it accepts. */
void dmem_debugfs_module_init(void)
{
	dmem_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
}

void dmem_debugfs_module_exit(void)
{
	debugfs_remove_recursive(dmem_debugfs_root);
}

void dmem_debugfs_init(struct dmem_balloon *b)
{
	b->debugfs = debugfs_create_dir(dev_name(&b->vdev->dev),
					dmem_debugfs_root);
	debugfs_create_file("stats", 0444, b->debugfs, b, &dmem_stats_fops);
}

void dmem_debugfs_exit(struct dmem_balloon *b)
{
	debugfs_remove_recursive(b->debugfs);
}
