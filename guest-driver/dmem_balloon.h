/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmem_balloon: virtio-balloon driver for dmem (Dynamic Memory for KVM).
 *
 * Layers, one file each:
 *   core.c     virtio transport: probe/remove/freeze/restore, virtqueues,
 *              trips to the host (dmem_xfer_*), config changes.
 *   balloon.c  mechanism and guest-side policy: moving pages to and from
 *              the host in batches, the floor, OOM deflation, compaction.
 *   hotplug.c  memory hot-remove: balloon pages in a block going offline
 *              are given up in place.
 *   stats.c    the pressure report sent on the stats virtqueue.
 *   sysfs.c    what userspace sees (the "dmem" attribute group).
 */
#ifndef DMEM_BALLOON_H
#define DMEM_BALLOON_H

#include <linux/atomic.h>
#include <linux/balloon_compaction.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/page_reporting.h>
#include <linux/spinlock.h>
#include <linux/vm_event_item.h>
#include <linux/virtio.h>
#include <linux/virtio_balloon.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dmem_stats.h"

/* The device counts in 4 KiB pages whatever the guest page size. */
#define DMEM_PAGES_PER_PAGE	((unsigned int)(PAGE_SIZE >> VIRTIO_BALLOON_PFN_SHIFT))

/*
 * PFNs sent to the host per trip: 4096 x 4 KiB = 16 MiB, in one page-aligned
 * 16 KiB buffer allocated at probe time.
 */
#define DMEM_BATCH_PFNS		4096

/*
 * Transfer buffers: two alternate for resizing, so that the guest prepares
 * one batch while the host processes the other; one serves OOM deflation,
 * which may run while a resize has a batch in flight.
 */
enum {
	DMEM_XFER_RESIZE0,
	DMEM_XFER_RESIZE1,
	DMEM_XFER_OOM,
	DMEM_NR_XFER
};

/**
 * struct dmem_xfer - one PFN buffer and its trip to the host.
 * @pfns:	the PFNs; owned by the device while @busy.
 * @nr:		entries of @pfns in use.
 * @inflate:	travels on the inflate queue (else on the deflate queue).
 * @busy:	queued to the device, not yet returned.
 * @pages:	inflate only: the pages of @pfns. They join the balloon list
 *		(where deflation and compaction find pages) only once the host
 *		has returned the buffer, so that no page is ever given back
 *		to the guest before the host has discarded it.
 *
 * Every field is protected by the balloon's @xfer_lock.
 */
struct dmem_xfer {
	__virtio32 *pfns;
	unsigned int nr;
	bool inflate;
	bool busy;
	struct list_head pages;
};

/**
 * struct dmem_balloon - state of one virtio-balloon device.
 *
 * Lock order: @xfer_lock, then @bdev_info.pages_lock (taken inside the
 * balloon compaction helpers). @stop_lock and @stats_lock nest in nothing.
 *
 * @vdev:		the virtio device. Constant while bound.
 * @inflate_vq:		pages handed to the host. Used under @xfer_lock.
 * @deflate_vq:		pages taken back from the host. Used under @xfer_lock.
 * @stats_vq:		host-driven stats requests; NULL without STATS_VQ.
 *			Used only from @stats_work.
 * @reporting_vq:	free page reporting; NULL without REPORTING. Serialised
 *			by the page_reporting core.
 * @tell_host_first:	MUST_TELL_HOST negotiated. Constant while bound, like
 *			the other feature flags, which are cached here once
 *			so that hot paths do not re-test feature bits.
 * @deflate_on_oom:	DEFLATE_ON_OOM negotiated: we may take pages back
 *			under OOM pressure without the host asking.
 * @has_reporting:	REPORTING negotiated and registered.
 * @acked:		woken when the host returns a buffer on any queue.
 * @xfer_lock:		serialises the inflate and deflate virtqueues, the
 *			transfer buffers and @nr_pages updates. Never held
 *			while allocating pages. Held while waiting for the
 *			host only when a buffer must come back before we go on
 *			(buffer reuse, MUST_TELL_HOST, compaction): batches
 *			are otherwise in flight while the guest works on.
 *			Compaction only trylocks it.
 * @xfer:		transfer buffers (DMEM_XFER_*). @xfer_lock.
 * @mig_xfer:		one guest page's PFNs, for compaction. @xfer_lock.
 * @log:		PFNs of deflated pages the host has yet to hear of
 *			(see dmem_deflate_deferred), or NULL. @xfer_lock.
 * @log_nr:		entries in @log. @xfer_lock.
 * @log_sent:		entries of @log already told to the host. @xfer_lock.
 * @log_xfer:		carries @log to the host, a batch at a time; its @pfns
 *			points into @log. @xfer_lock.
 * @notify_work:	sends @log in the background.
 * @running:		the device is up (between a successful dmem_start and
 *			dmem_stop); read by the OOM notifier.
 * @inflight_pfns:	4 KiB pages sent to the host on the inflate queue and
 *			not yet acknowledged: part of @nr_pages, not yet of
 *			"actual". @xfer_lock.
 * @bdev_info:		balloon compaction state: the list of ballooned pages
 *			(its own @pages_lock) and our migratepage callback.
 * @nr_pages:		4 KiB pages taken from the guest into the balloon.
 *			Written under @xfer_lock, read locklessly (READ_ONCE)
 *			for reporting.
 * @target:		4 KiB pages the host asked for, as last read from
 *			config space. Written only by @resize_work.
 * @floor_pages:	the last computed floor, in guest pages: inflation
 *			stops while MemAvailable would drop below it.
 * @refused:		4 KiB pages of the current target refused because of
 *			the floor or failed allocations (0 when on target).
 * @holdoff_until:	jiffies before which no inflation starts again after
 *			an OOM deflation. Written by the OOM notifier, read
 *			by resize: READ_ONCE/WRITE_ONCE, no lock.
 * @offline_lock:	held by a memory block's offlining from MEM_GOING_OFFLINE
 *			to MEM_OFFLINE/MEM_CANCEL_OFFLINE while it gives up
 *			balloon pages, and by dmem_stop(): see hotplug.c.
 *			Taken before @xfer_lock.
 * @offlining:		balloon pages given up in place in the block going
 *			offline (reference dropped). @offline_lock.
 * @offlining_nr:	guest pages on @offlining. @offline_lock.
 * @offlining_start:	first PFN of that block. @offline_lock.
 * @offline_wait:	pages left the balloon with an offlined block: the
 *			host is about to set a new target, inflation waits
 *			for it until @offline_wait_until (jiffies). Cleared
 *			by a config change. READ_ONCE/WRITE_ONCE.
 * @mem_nb:		memory hotplug notifier.
 * @stop_lock:		protects @stop_update against the config-change and
 *			stats callbacks, which run in interrupt context.
 * @stop_update:	set on remove/freeze: queue no more work.
 * @wq:			ordered, freezable workqueue running @resize_work.
 * @resize_work:	follows the target, one batch per run; delayed when
 *			a refusal or an allocation failure calls for a retry.
 * @stats_work:		answers a stats request from the host.
 * @oom_nb:		OOM notifier; registered with @deflate_on_oom.
 * @pr_dev_info:	free page reporting registration.
 * @stats:		the stats buffer; owned by the device while queued.
 * @stats_lock:		protects @last_stats and @nr_last_stats.
 * @last_stats:		copy of the last report sent, in CPU byte order,
 *			for debugfs.
 * @nr_last_stats:	entries in @last_stats.
 * @debugfs:		our debugfs directory, or an error pointer.
 * @events:		scratch space for the stats: vm event counters. Used
 *			only by the stats path, which is never concurrent.
 * @cnt:		event counters for sysfs, all atomic.
 */
struct dmem_balloon {
	struct virtio_device *vdev;
	struct virtqueue *inflate_vq;
	struct virtqueue *deflate_vq;
	struct virtqueue *stats_vq;
	struct virtqueue *reporting_vq;

	bool tell_host_first;
	bool deflate_on_oom;
	bool has_reporting;

	wait_queue_head_t acked;
	struct mutex xfer_lock;		/* see @xfer_lock above */
	struct dmem_xfer xfer[DMEM_NR_XFER];
	struct dmem_xfer mig_xfer;
	__virtio32 *log;
	unsigned long log_nr;
	unsigned long log_sent;
	struct dmem_xfer log_xfer;
	struct work_struct notify_work;
	bool running;
	unsigned long inflight_pfns;

	struct balloon_dev_info bdev_info;
	unsigned long nr_pages;
	u32 target;
	unsigned long floor_pages;
	unsigned long refused;
	unsigned long holdoff_until;
	struct mutex offline_lock;	/* see @offline_lock above */
	struct list_head offlining;
	unsigned long offlining_nr;
	unsigned long offlining_start;
	bool offline_wait;
	unsigned long offline_wait_until;
	struct notifier_block mem_nb;

	spinlock_t stop_lock;		/* see @stop_lock above */
	bool stop_update;
	struct workqueue_struct *wq;
	struct delayed_work resize_work;
	struct work_struct stats_work;

	struct notifier_block oom_nb;
	struct page_reporting_dev_info pr_dev_info;

	struct virtio_balloon_stat stats[DMEM_STAT_NR];
	spinlock_t stats_lock;		/* see @stats_lock above */
	struct {
		u16 tag;
		u64 val;
	} last_stats[DMEM_STAT_NR];
	unsigned int nr_last_stats;
	struct dentry *debugfs;
#ifdef CONFIG_VM_EVENT_COUNTERS
	unsigned long events[NR_VM_EVENT_ITEMS];
#endif

	struct {
		atomic_long_t inflated;		/* 4 KiB pages, total */
		atomic_long_t deflated;		/* 4 KiB pages, total */
		atomic_long_t refused_requests;	/* resize runs cut short */
		atomic_long_t alloc_failures;	/* page allocations failed */
		atomic_long_t oom_events;	/* OOM notifications acted on */
		atomic_long_t oom_deflated;	/* 4 KiB pages, total */
		atomic_long_t migrated;		/* pages moved by compaction */
		atomic_long_t reported;		/* 4 KiB pages reported free */
		atomic_long_t offlined;		/* 4 KiB pages gone offline */
		atomic_long_t stats_requests;	/* stats buffers returned */
	} cnt;
};

/* core.c */
void dmem_xfer_init(struct dmem_xfer *x);
void dmem_xfer_send(struct dmem_balloon *b, struct dmem_xfer *x);
void dmem_xfer_wait(struct dmem_balloon *b, struct dmem_xfer *x);
void dmem_queue_resize(struct dmem_balloon *b, unsigned long delay);
void dmem_queue_notify(struct dmem_balloon *b);

/* balloon.c */
void dmem_resize_work(struct work_struct *work);
void dmem_balloon_init(struct dmem_balloon *b);
unsigned long dmem_release_all(struct dmem_balloon *b);
void dmem_notify_work(struct work_struct *work);
s64 dmem_towards_target(struct dmem_balloon *b);
void dmem_update_actual(struct dmem_balloon *b);
unsigned long dmem_compute_floor(unsigned long guest_pages);
int dmem_oom_notify(struct notifier_block *nb, unsigned long unused,
		    void *freed);

/* hotplug.c */
int dmem_hotplug_init(struct dmem_balloon *b);
void dmem_hotplug_exit(struct dmem_balloon *b);
unsigned long dmem_offline_waiting(struct dmem_balloon *b);

/* stats.c */
unsigned int dmem_fill_stats(struct dmem_balloon *b);
void dmem_stats_work(struct work_struct *work);

/* sysfs.c */
extern const struct attribute_group dmem_attr_group;
void dmem_debugfs_module_init(void);
void dmem_debugfs_module_exit(void);
void dmem_debugfs_init(struct dmem_balloon *b);
void dmem_debugfs_exit(struct dmem_balloon *b);

#endif /* DMEM_BALLOON_H */
