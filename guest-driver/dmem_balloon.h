/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmem_balloon: virtio-balloon driver for dmem (Dynamic Memory for KVM).
 *
 * Layers, one file each; a file calls only into the layers below it:
 *
 *   driver.c     binding: probe/remove/freeze/restore, feature negotiation,
 *                the device's callbacks, module init.
 *   policy.c     how many pages the balloon should hold: the host's target,
 *                the guest's floor, the OOM hold-off, refusals; the resize
 *                worker and the OOM notifier decide, the mechanism acts.
 *   hotplug.c    memory hot-remove: balloon pages in a block going offline
 *                are given up in place.
 *   balloon.c    mechanism: inflate, deflate, migrate, release; the page
 *                list and the ordering rule between inflate and deflate.
 *   transport.c  how pages reach the host: virtqueues, transfer buffers,
 *                PFN encoding, config space, free page reporting.
 *   stats.c      the pressure report the host reads (stats virtqueue).
 *   sysfs.c      what userspace sees: the "dmem" attribute group.
 *   debugfs.c    what a developer sees: the last stats report.
 *
 * Work queueing (dmem_queue_*) is inline below: every layer may ask for a
 * resize run without depending on the layer that performs it. A transfer
 * buffer's completion moves the pages that waited for the host (to the
 * balloon list, or back to the guest) and settles the counts they were in:
 * that much of the mechanism's state the transport touches.
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
 * PFNs sent to the host per request: 4096 x 4 KiB = 16 MiB, in one
 * page-aligned 16 KiB buffer allocated at probe time.
 */
#define DMEM_BATCH_PFNS		4096

/* How long the driver waits for the host to return a buffer. */
#define DMEM_HOST_TIMEOUT_MS	5000

/* Largest deflation: 1 GiB, a log of 64 batches. */
#define DMEM_LOG_MAX_BATCHES	64

/*
 * Transfer buffers, each with a single owner: two alternate for inflating,
 * so that the guest prepares one batch while the host processes the other;
 * one carries the deflate log, one an OOM deflation, two a page moved by
 * compaction (the new page in, the old one out). Three are on each
 * virtqueue at most: RESIZE0, RESIZE1 and MIG_IN on the inflate queue; LOG,
 * OOM and MIG_OUT on the deflate queue.
 */
enum {
	DMEM_XFER_RESIZE0,
	DMEM_XFER_RESIZE1,
	DMEM_XFER_MIG_IN,
	DMEM_XFER_LOG,
	DMEM_XFER_OOM,
	DMEM_XFER_MIG_OUT,
	DMEM_NR_XFER
};

/* Why the balloon is short of its target (sysfs refused_reason). */
enum dmem_refusal {
	DMEM_REFUSED_NONE,
	DMEM_REFUSED_FLOOR,
	DMEM_REFUSED_ALLOC,
	DMEM_REFUSED_HOLDOFF,
	DMEM_REFUSED_HOST,
	DMEM_NR_REFUSALS
};

extern const char * const dmem_refusal_names[DMEM_NR_REFUSALS];

#define DMEM_RING_MIN		3

/**
 * struct dmem_xfer - one PFN buffer and its trip to the host.
 * @pfns:	the PFNs; owned by the device while @busy.
 * @nr:		entries of @pfns in use.
 * @inflate:	travels on the inflate queue (else on the deflate queue).
 * @busy:	queued to the device, not yet returned.
 * @pages:	pages the host must acknowledge before the guest moves them on.
 *		Inflate: pages that join the balloon list on return (none for
 *		MIG_IN, whose page is listed at once). Deflate, with
 *		MUST_TELL_HOST: pages given back to the guest on return.
 * @page:	MIG_OUT with MUST_TELL_HOST: the page compaction moved out,
 *		given back to the guest on return (its lru belongs to the
 *		migration core).
 *
 * Every field is protected by the balloon's @xfer_lock.
 */
struct dmem_xfer {
	__virtio32 *pfns;
	unsigned int nr;
	bool inflate;
	bool busy;
	struct list_head pages;
	struct page *page;
};

/**
 * struct dmem_balloon - state of one virtio-balloon device.
 *
 * Lock order: @offline_lock, then @xfer_lock, then @bdev_info.pages_lock
 * (taken inside the balloon compaction helpers). @stop_lock and
 * @stats_lock nest in nothing. No lock is held while waiting for the host:
 * waits drop @xfer_lock (dmem_host_wait()) and give up when the host has
 * not returned anything for DMEM_HOST_TIMEOUT_MS, except the free page
 * report's (see transport.c). Only the resize worker and stop wait; the OOM
 * notifier and compaction never do.
 *
 * The ordering rule between inflate and deflate (balloon.c keeps it):
 *  1. a page leaves the balloon only after the host has acknowledged its
 *     inflate: inflated pages join the balloon list when their buffer comes
 *     back, and deflation waits (the OOM notifier: does nothing) while a
 *     page moved in by compaction is still on its way (MIG_IN busy);
 *  2. a page enters the balloon (inflate or compaction) only once every
 *     deflate before it has been acknowledged: inflation allocates its
 *     batch, then waits until @deflate_unacked is 0; compaction refuses
 *     while it is not. The host never sees a stale deflate after a new
 *     inflate of a page.
 * Without MUST_TELL_HOST the guest reuses deflated pages at once (virtio
 * 1.2, 5.5.6.1) and tells the host afterwards; with it, deflated pages ride
 * with their buffer and go back to the guest when the host returns it.
 *
 * Transport (transport.c):
 * @vdev:		the virtio device. Constant while bound.
 * @inflate_vq:		pages handed to the host. @xfer_lock.
 * @deflate_vq:		pages taken back from the host. @xfer_lock.
 * @stats_vq:		host-driven stats requests; NULL without STATS_VQ.
 *			Used only from @stats_work.
 * @reporting_vq:	free page reporting; NULL without REPORTING. Serialised
 *			by the page_reporting core.
 * @tell_host_first:	MUST_TELL_HOST negotiated. Constant while bound, like
 *			the other feature flags, cached once so that hot paths
 *			do not re-test feature bits.
 * @deflate_on_oom:	DEFLATE_ON_OOM negotiated.
 * @has_reporting:	REPORTING negotiated and registered.
 * @acked:		woken when the host returns a buffer on any queue.
 * @ack_seq:		counts those returns, so that a waiter that reaped
 *			and found nothing knows whether to wait.
 * @xfer_lock:		the inflate and deflate virtqueues, the transfer
 *			buffers, the deflate log and the page counts below.
 *			Never held while allocating pages or waiting for the
 *			host, and held for at most one batch of pages at a
 *			time. The OOM notifier and compaction only trylock it.
 * @xfer:		transfer buffers (DMEM_XFER_*). @xfer_lock.
 * @inflight_pfns:	4 KiB pages on inflate buffers not yet returned: part
 *			of @nr_pages, not yet of @actual. @xfer_lock.
 * @actual:		4 KiB pages the host has acknowledged, as last written
 *			to config space. Written under @xfer_lock with
 *			WRITE_ONCE, read locklessly (sysfs).
 *
 * Mechanism (balloon.c):
 * @bdev_info:		balloon compaction state: the list of ballooned pages
 *			(its own @pages_lock) and our migratepage callback.
 * @nr_pages:		4 KiB pages taken from the guest into the balloon,
 *			acknowledged or not. Written under @xfer_lock, read
 *			locklessly (READ_ONCE) by the policy.
 * @inflate_turn:	which RESIZE buffer the next inflate batch uses.
 *			Resize worker only.
 * @deflate_unacked:	4 KiB pages deflated whose request the host has not
 *			returned yet (logged, in flight on LOG, OOM or
 *			MIG_OUT). @xfer_lock.
 * @log:		PFNs of the last deflation, told to the host a batch
 *			at a time: one DMEM_BATCH_PFNS buffer per batch, each
 *			allocated as the deflation goes (order 2), the first
 *			one @log_reserve if none could be had. @xfer_lock.
 * @log_reserve:	a batch buffer allocated at probe time.
 * @log_nr:		entries in @log. @xfer_lock.
 * @log_sent:		entries of @log handed to the host. @xfer_lock.
 * @log_pages:		MUST_TELL_HOST only: the pages of @log not yet handed
 *			to the host, in @log's order. @xfer_lock.
 * @deflating:		a deflation is taking pages (dmem_deflate()): the log
 *			is neither told nor retired until it is done.
 *			@xfer_lock.
 * @notify_work:	reaps what the host returned (queued by every inflate
 *			or deflate answer), updates "actual", tells the host
 *			the next batch of the log.
 * @running:		the device is up (between a successful dmem_start and
 *			dmem_stop); read by the OOM and memory notifiers.
 *
 * Policy (policy.c):
 * @target:		4 KiB pages the host asked for, as last read from
 *			config space. Written only by @resize_work.
 * @floor_pages:	the last computed floor, in guest pages: inflation
 *			stops while MemAvailable would drop below it.
 * @refused:		4 KiB pages of the current target not reached (0 when
 *			on target), and @refused_why, the reason. Written by
 *			@resize_work, read by sysfs: READ_ONCE/WRITE_ONCE.
 * @holdoff_until:	jiffies before which no inflation starts again after
 *			an OOM deflation. Written by the OOM notifier, read by
 *			resize: READ_ONCE/WRITE_ONCE.
 * @offline_wait:	pages left the balloon with an offlined block: the
 *			host is about to set a new target, inflation waits
 *			for it until @offline_wait_until (jiffies). Cleared
 *			by a config change. READ_ONCE/WRITE_ONCE.
 * @stop_lock:		protects @stop_update against the config-change and
 *			virtqueue callbacks, which run in interrupt context.
 * @stop_update:	set on remove/freeze: queue no more work.
 * @wq:			ordered, freezable workqueue running @resize_work.
 * @resize_work:	follows the target, at most DMEM_RUN_PFNS per run;
 *			delayed when a refusal calls for a retry.
 * @oom_nb:		OOM notifier; registered with @deflate_on_oom.
 *
 * Memory hot-remove (hotplug.c):
 * @offline_lock:	held by a memory block's offlining from MEM_GOING_OFFLINE
 *			to MEM_OFFLINE/MEM_CANCEL_OFFLINE while it gives up
 *			balloon pages, and by dmem_stop().
 * @offlining:		balloon pages given up in place in the block going
 *			offline (reference frozen). @offline_lock.
 * @offlining_nr:	guest pages on @offlining. @offline_lock.
 * @offlining_start:	first PFN of that block. @offline_lock.
 * @mem_nb:		memory hotplug notifier.
 *
 * Stats (stats.c), userspace (sysfs.c, debugfs.c):
 * @stats_work:		answers a stats request from the host.
 * @pr_dev_info:	free page reporting registration.
 * @stats:		the stats buffer; owned by the device while queued.
 * @stats_lock:		protects @last_stats and @nr_last_stats.
 * @last_stats:		copy of the last report sent, in CPU byte order.
 * @nr_last_stats:	entries in @last_stats.
 * @debugfs:		our debugfs directory, or an error pointer.
 * @events:		scratch space for the stats: vm event counters. Used
 *			only by the stats path, which is never concurrent.
 * @cnt:		event counters for sysfs, all atomic.
 */
struct dmem_balloon {
	/* transport */
	struct virtio_device *vdev;
	struct virtqueue *inflate_vq;
	struct virtqueue *deflate_vq;
	struct virtqueue *stats_vq;
	struct virtqueue *reporting_vq;
	bool tell_host_first;
	bool deflate_on_oom;
	bool has_reporting;
	wait_queue_head_t acked;
	atomic_t ack_seq;
	struct mutex xfer_lock;		/* see @xfer_lock above */
	struct dmem_xfer xfer[DMEM_NR_XFER];
	unsigned long inflight_pfns;
	u32 actual;

	/* mechanism */
	struct balloon_dev_info bdev_info;
	unsigned long nr_pages;
	unsigned int inflate_turn;
	unsigned long deflate_unacked;
	__virtio32 *log[DMEM_LOG_MAX_BATCHES];
	__virtio32 *log_reserve;
	unsigned long log_nr;
	unsigned long log_sent;
	struct list_head log_pages;
	bool deflating;
	struct work_struct notify_work;
	bool running;

	/* policy */
	u32 target;
	unsigned long floor_pages;
	unsigned long refused;
	enum dmem_refusal refused_why;
	unsigned long holdoff_until;
	bool offline_wait;
	unsigned long offline_wait_until;
	spinlock_t stop_lock;		/* see @stop_lock above */
	bool stop_update;
	struct workqueue_struct *wq;
	struct delayed_work resize_work;
	struct notifier_block oom_nb;

	/* memory hot-remove */
	struct mutex offline_lock;	/* see @offline_lock above */
	struct list_head offlining;
	unsigned long offlining_nr;
	unsigned long offlining_start;
	struct notifier_block mem_nb;

	/* stats, userspace */
	struct work_struct stats_work;
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

	/*
	 * What /proc/vmstat already counts (balloon_inflate, balloon_deflate,
	 * balloon_migrate) is not counted again here.
	 */
	struct {
		atomic_long_t refused_requests;	/* resize runs cut short */
		atomic_long_t alloc_failures;	/* page allocations failed */
		atomic_long_t oom_events;	/* OOM notifications acted on */
		atomic_long_t oom_deflated;	/* 4 KiB pages, total */
		atomic_long_t reported;		/* 4 KiB pages reported free */
		atomic_long_t offlined;		/* 4 KiB pages gone offline */
		atomic_long_t stats_requests;	/* stats buffers returned */
	} cnt;
};

/* Queue @work unless the device is stopping. Any context. */
static inline void dmem_queue(struct dmem_balloon *b,
			      struct workqueue_struct *wq,
			      struct work_struct *work)
{
	unsigned long flags;

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stop_update)
		queue_work(wq, work);
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

/* Run the resize worker after @delay jiffies (0: now, even if pending). */
static inline void dmem_queue_resize(struct dmem_balloon *b,
				     unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&b->stop_lock, flags);
	if (!b->stop_update) {
		if (delay)
			queue_delayed_work(b->wq, &b->resize_work, delay);
		else
			mod_delayed_work(b->wq, &b->resize_work, 0);
	}
	spin_unlock_irqrestore(&b->stop_lock, flags);
}

/* transport.c */
int dmem_vqs_init(struct dmem_balloon *b);
void dmem_vqs_exit(struct dmem_balloon *b);
int dmem_xfers_alloc(struct dmem_balloon *b);
void dmem_xfers_free(struct dmem_balloon *b);
void dmem_xfer_add_page(struct dmem_balloon *b, struct dmem_xfer *x,
			struct page *page);
unsigned int dmem_page_pfns(struct dmem_balloon *b, __virtio32 *dst,
			    struct page *page);
void dmem_pages_to_guest(struct list_head *pages);
void dmem_xfer_send(struct dmem_balloon *b, struct dmem_xfer *x);
bool dmem_reap(struct dmem_balloon *b);
int dmem_host_wait(struct dmem_balloon *b, unsigned long deadline,
		   const char *what);
int dmem_xfer_wait(struct dmem_balloon *b, struct dmem_xfer *x,
		   const char *what);
u32 dmem_read_target(struct dmem_balloon *b);
void dmem_update_actual(struct dmem_balloon *b);
void dmem_write_poison(struct dmem_balloon *b);
int dmem_stats_send(struct dmem_balloon *b, unsigned int n);
int dmem_reporting_init(struct dmem_balloon *b);
void dmem_reporting_exit(struct dmem_balloon *b);

/* balloon.c */
int dmem_balloon_init(struct dmem_balloon *b);
void dmem_balloon_exit(struct dmem_balloon *b);
long dmem_inflate_batch(struct dmem_balloon *b, unsigned long nr_pfns);
int dmem_inflate_finish(struct dmem_balloon *b);
long dmem_deflate(struct dmem_balloon *b, unsigned long nr_pfns);
unsigned long dmem_deflate_oom(struct dmem_balloon *b, unsigned long nr_pfns);
void dmem_release_all(struct dmem_balloon *b);
void dmem_release_rest(struct dmem_balloon *b);

/* policy.c */
void dmem_resize_work(struct work_struct *work);
int dmem_oom_notify(struct notifier_block *nb, unsigned long unused,
		    void *freed);

/* hotplug.c */
int dmem_hotplug_init(struct dmem_balloon *b);
void dmem_hotplug_exit(struct dmem_balloon *b);

/* stats.c */
int dmem_stats_start(struct dmem_balloon *b);
void dmem_stats_work(struct work_struct *work);

/* sysfs.c */
extern const struct attribute_group *dmem_dev_groups[];

/* debugfs.c */
void dmem_debugfs_module_init(void);
void dmem_debugfs_module_exit(void);
void dmem_debugfs_init(struct dmem_balloon *b);
void dmem_debugfs_exit(struct dmem_balloon *b);

#endif /* DMEM_BALLOON_H */
