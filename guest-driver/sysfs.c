// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: what userspace sees. One read-only value per file in
 * /sys/bus/virtio/drivers/dmem_balloon/virtio<N>/dmem/, sizes in KiB:
 *
 *   target_kib          what the host asks the balloon to hold
 *   actual_kib          what the balloon holds, as the host has acknowledged
 *   floor_kib           MemAvailable the guest keeps; inflation stops there
 *   refused_kib         part of the current target refused (0 = on target)
 *   refused_requests    times inflation stopped short of a target
 *   alloc_failures      balloon page allocations that failed
 *   oom_deflations      OOM notifications that gave memory back
 *   oom_deflated_kib    memory given back under OOM, in total
 *   inflated_kib        memory ever handed to the host
 *   deflated_kib        memory ever taken back from the host
 *   migrated_pages      balloon pages moved by compaction
 *   reported_free_kib   free memory reported to the host (REPORTING)
 *   offlined_kib        balloon memory that went offline with its memory
 *                       block (a DIMM unplugged), in total
 *   stats_requests      stats buffers sent to the host
 *   features            negotiated features, space separated
 *
 * and, for debugging, /sys/kernel/debug/dmem_balloon/virtio<N>/stats: the
 * last pressure report sent to the host, one "name value" line per tag
 * (amounts in bytes, events as counts).
 */

#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/seq_file.h>
#include <linux/sysfs.h>
#include <linux/virtio_config.h>

#include "dmem_balloon.h"

#define PFNS_TO_KIB(n)	((u64)(n) << (VIRTIO_BALLOON_PFN_SHIFT - 10))

static struct dmem_balloon *to_dmem(struct device *dev)
{
	return dev_to_virtio(dev)->priv;
}

#define DMEM_ATTR(_name, _fmt, _expr)					\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	struct dmem_balloon *b = to_dmem(dev);				\
									\
	return sysfs_emit(buf, _fmt "\n", _expr);			\
}									\
static DEVICE_ATTR_RO(_name)

DMEM_ATTR(target_kib, "%llu", PFNS_TO_KIB(READ_ONCE(b->target)));
DMEM_ATTR(actual_kib, "%llu", PFNS_TO_KIB(READ_ONCE(b->nr_pages) -
					  READ_ONCE(b->inflight_pfns)));
DMEM_ATTR(floor_kib, "%llu",
	  (u64)READ_ONCE(b->floor_pages) << (PAGE_SHIFT - 10));
DMEM_ATTR(refused_kib, "%llu", PFNS_TO_KIB(READ_ONCE(b->refused)));
DMEM_ATTR(refused_requests, "%ld",
	  atomic_long_read(&b->cnt.refused_requests));
DMEM_ATTR(alloc_failures, "%ld", atomic_long_read(&b->cnt.alloc_failures));
DMEM_ATTR(oom_deflations, "%ld", atomic_long_read(&b->cnt.oom_events));
DMEM_ATTR(oom_deflated_kib, "%llu",
	  PFNS_TO_KIB(atomic_long_read(&b->cnt.oom_deflated)));
DMEM_ATTR(inflated_kib, "%llu",
	  PFNS_TO_KIB(atomic_long_read(&b->cnt.inflated)));
DMEM_ATTR(deflated_kib, "%llu",
	  PFNS_TO_KIB(atomic_long_read(&b->cnt.deflated)));
DMEM_ATTR(migrated_pages, "%ld", atomic_long_read(&b->cnt.migrated));
DMEM_ATTR(reported_free_kib, "%llu",
	  PFNS_TO_KIB(atomic_long_read(&b->cnt.reported)));
DMEM_ATTR(offlined_kib, "%llu",
	  PFNS_TO_KIB(atomic_long_read(&b->cnt.offlined)));
DMEM_ATTR(stats_requests, "%ld", atomic_long_read(&b->cnt.stats_requests));

static ssize_t features_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct dmem_balloon *b = to_dmem(dev);

	return sysfs_emit(buf, "%s%s%s%s\n",
			  b->stats_vq ? "stats " : "",
			  b->tell_host_first ? "must-tell-host " : "",
			  b->deflate_on_oom ? "deflate-on-oom " : "",
			  b->has_reporting ? "free-page-reporting" : "");
}
static DEVICE_ATTR_RO(features);

static struct attribute *dmem_attrs[] = {
	&dev_attr_target_kib.attr,
	&dev_attr_actual_kib.attr,
	&dev_attr_floor_kib.attr,
	&dev_attr_refused_kib.attr,
	&dev_attr_refused_requests.attr,
	&dev_attr_alloc_failures.attr,
	&dev_attr_oom_deflations.attr,
	&dev_attr_oom_deflated_kib.attr,
	&dev_attr_inflated_kib.attr,
	&dev_attr_deflated_kib.attr,
	&dev_attr_migrated_pages.attr,
	&dev_attr_reported_free_kib.attr,
	&dev_attr_offlined_kib.attr,
	&dev_attr_stats_requests.attr,
	&dev_attr_features.attr,
	NULL,
};

const struct attribute_group dmem_attr_group = {
	.name = "dmem",
	.attrs = dmem_attrs,
};

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
