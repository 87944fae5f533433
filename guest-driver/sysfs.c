// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: what userspace sees. One read-only value per file in
 * /sys/bus/virtio/drivers/dmem_balloon/virtio<N>/dmem/, attached by the
 * driver core with the device (driver.dev_groups). The ABI is documented in
 * doc/ABI/sysfs-driver-dmem_balloon. Page movements that /proc/vmstat
 * already counts (balloon_inflate, balloon_deflate, balloon_migrate) are not
 * repeated here.
 */

#include <linux/device.h>
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
/* One field, written whole: never a difference of two read apart. */
DMEM_ATTR(actual_kib, "%llu", PFNS_TO_KIB(READ_ONCE(b->actual)));
DMEM_ATTR(floor_kib, "%llu",
	  (u64)READ_ONCE(b->floor_pages) << (PAGE_SHIFT - 10));
DMEM_ATTR(refused_kib, "%llu", PFNS_TO_KIB(READ_ONCE(b->refused)));
DMEM_ATTR(refused_reason, "%s", dmem_refusal_names[READ_ONCE(b->refused_why)]);
DMEM_ATTR(refused_requests, "%ld",
	  atomic_long_read(&b->cnt.refused_requests));
DMEM_ATTR(alloc_failures, "%ld", atomic_long_read(&b->cnt.alloc_failures));
DMEM_ATTR(oom_deflations, "%ld", atomic_long_read(&b->cnt.oom_events));
DMEM_ATTR(oom_deflated_kib, "%llu",
	  PFNS_TO_KIB(atomic_long_read(&b->cnt.oom_deflated)));
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
	&dev_attr_refused_reason.attr,
	&dev_attr_refused_requests.attr,
	&dev_attr_alloc_failures.attr,
	&dev_attr_oom_deflations.attr,
	&dev_attr_oom_deflated_kib.attr,
	&dev_attr_reported_free_kib.attr,
	&dev_attr_offlined_kib.attr,
	&dev_attr_stats_requests.attr,
	&dev_attr_features.attr,
	NULL,
};

static const struct attribute_group dmem_attr_group = {
	.name = "dmem",
	.attrs = dmem_attrs,
};

const struct attribute_group *dmem_dev_groups[] = {
	&dmem_attr_group,
	NULL,
};
