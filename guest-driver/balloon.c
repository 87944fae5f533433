// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: moving memory between guest and host.
 *
 * The host sets a target (config num_pages); the resize worker moves at most
 * one batch per run towards it and reports the truth in config "actual".
 * Guest safety comes first: inflation stops at a floor of available memory,
 * and with DEFLATE_ON_OOM the OOM notifier gives back a sizeable chunk at
 * once. Balloon pages stay movable (balloon compaction).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/swap.h>
#include <linux/virtio_config.h>
#include <linux/vmstat.h>

#include "dmem_balloon.h"
#include "dmem_floor.h"

#define MIB_TO_PAGES(mib)	((unsigned long)(mib) << (20 - PAGE_SHIFT))
#define PAGES_TO_MIB(p)		((unsigned long)(p) >> (20 - PAGE_SHIFT))

/* One resize run moves at most this much (4 KiB pages): 128 MiB. */
#define DMEM_RUN_PFNS		(128U << (20 - VIRTIO_BALLOON_PFN_SHIFT))
/* Largest deferred deflate request: 1 GiB, a 1 MiB PFN array. */
#define DMEM_LOG_MAX_PFNS	(1UL << (30 - VIRTIO_BALLOON_PFN_SHIFT))
/* Retry a refused or failed inflation this often while the target stands. */
#define DMEM_RETRY_MS		1000
/* After an OOM deflation, do not inflate again for this long. */
#define DMEM_OOM_HOLDOFF_MS	10000
/*
 * An OOM notification gives back 1/32 of the guest, at least 16 MiB and at
 * most 256 MiB (4 KiB pages): enough to matter, few enough host round trips
 * that OOM handling is not held up long.
 */
#define DMEM_OOM_MIN_PFNS	(16UL << (20 - VIRTIO_BALLOON_PFN_SHIFT))
#define DMEM_OOM_MAX_PFNS	(256UL << (20 - VIRTIO_BALLOON_PFN_SHIFT))

static u32 dmem_page_to_pfn(struct page *page)
{
	BUILD_BUG_ON(PAGE_SHIFT < VIRTIO_BALLOON_PFN_SHIFT);
	return page_to_pfn(page) * DMEM_PAGES_PER_PAGE;
}

/* Write the 4 KiB frames of @page to @dst. Return: entries written. */
static unsigned int dmem_page_pfns(struct dmem_balloon *b, __virtio32 *dst,
				   struct page *page)
{
	u32 pfn = dmem_page_to_pfn(page);
	unsigned int i;

	for (i = 0; i < DMEM_PAGES_PER_PAGE; i++)
		dst[i] = cpu_to_virtio32(b->vdev, pfn + i);
	return DMEM_PAGES_PER_PAGE;
}

/* Put the 4 KiB frames of @page at the end of @x. */
static void dmem_add_page(struct dmem_balloon *b, struct dmem_xfer *x,
			  struct page *page)
{
	BUILD_BUG_ON(DMEM_BATCH_PFNS % DMEM_PAGES_PER_PAGE);
	x->nr += dmem_page_pfns(b, x->pfns + x->nr, page);
}

/**
 * dmem_compute_floor() - available memory a guest always keeps.
 * @guest_pages: the guest's memory without the balloon, in pages.
 *
 * dmem_floor_mib() (dmem_floor.h, shared with the host policy) in pages.
 *
 * Return: the floor in pages.
 */
unsigned long dmem_compute_floor(unsigned long guest_pages)
{
	return MIB_TO_PAGES(dmem_floor_mib(PAGES_TO_MIB(guest_pages)));
}

/* The guest's memory as if nothing were ballooned, in pages. */
static unsigned long dmem_guest_pages(struct dmem_balloon *b)
{
	return totalram_pages() + READ_ONCE(b->nr_pages) / DMEM_PAGES_PER_PAGE;
}

/* How many guest pages the floor lets us inflate right now. */
static unsigned long dmem_inflate_allowance(struct dmem_balloon *b)
{
	long avail = si_mem_available();
	unsigned long floor = dmem_compute_floor(dmem_guest_pages(b));

	WRITE_ONCE(b->floor_pages, floor);
	return avail > 0 && (unsigned long)avail > floor ? avail - floor : 0;
}

/**
 * dmem_towards_target() - read the host's target.
 * @b: the balloon
 *
 * Return: 4 KiB pages to inflate (> 0) or deflate (< 0) to reach it.
 */
s64 dmem_towards_target(struct dmem_balloon *b)
{
	u32 num_pages;
	u64 target;

	/* Legacy balloon config space is little endian, unlike other devices. */
	virtio_cread_le(b->vdev, struct virtio_balloon_config, num_pages,
			&num_pages);
	/* Whole guest pages only, or we would flap around an odd target. */
	target = ALIGN((u64)num_pages, DMEM_PAGES_PER_PAGE);
	WRITE_ONCE(b->target, num_pages);
	return (s64)target - (s64)READ_ONCE(b->nr_pages);
}

/* Tell the host what the balloon holds: what it has acknowledged. */
void dmem_update_actual(struct dmem_balloon *b)
{
	u32 actual = b->nr_pages - b->inflight_pfns;

	lockdep_assert_held(&b->xfer_lock);
	virtio_cwrite_le(b->vdev, struct virtio_balloon_config, actual,
			 &actual);
}

/* Wait for every transfer buffer in @xs[0..@n) to come back. */
static void dmem_drain(struct dmem_balloon *b, struct dmem_xfer *xs,
		       unsigned int n)
{
	unsigned int i;

	mutex_lock(&b->xfer_lock);
	for (i = 0; i < n; i++)
		dmem_xfer_wait(b, &xs[i]);
	dmem_update_actual(b);
	mutex_unlock(&b->xfer_lock);
}

/*
 * Tell the host about the next batch of the deferred deflate log.
 * Return: true while some of the log is left.
 */
static bool dmem_log_send_batch(struct dmem_balloon *b)
{
	struct dmem_xfer *x = &b->log_xfer;

	lockdep_assert_held(&b->xfer_lock);
	dmem_xfer_wait(b, x);
	if (!b->log)
		return false;
	if (b->log_sent == b->log_nr) {
		kfree(b->log);
		b->log = NULL;
		return false;
	}
	x->pfns = b->log + b->log_sent;
	x->nr = min_t(unsigned long, b->log_nr - b->log_sent,
		      DMEM_BATCH_PFNS);
	x->inflate = false;
	b->log_sent += x->nr;
	dmem_xfer_send(b, x);
	return true;
}

/*
 * Finish telling the host about deflated pages before a page can go back
 * into the balloon: the host must see a page's deflate before its next
 * inflate.
 */
static void dmem_log_flush_locked(struct dmem_balloon *b)
{
	while (dmem_log_send_batch(b))
		;
}

/* Background: the deferred deflate log, a batch per lock hold. */
void dmem_notify_work(struct work_struct *work)
{
	struct dmem_balloon *b = container_of(work, struct dmem_balloon,
					      notify_work);
	bool more;

	mutex_lock(&b->xfer_lock);
	more = dmem_log_send_batch(b);
	mutex_unlock(&b->xfer_lock);
	if (more)
		dmem_queue_notify(b);
}

/*
 * Inflate by up to @nr_pfns 4 KiB pages. Batches alternate between two
 * buffers: while the host discards one batch, the guest allocates the next
 * (allocation, which may reclaim, never runs under the transfer lock). The
 * floor and an OOM hold-off are checked again before every batch: memory
 * an OOM deflation just freed must not be taken back.
 *
 * Return: 4 KiB pages inflated; fewer than asked if the floor, a hold-off
 * or a failed allocation stopped it.
 */
static unsigned long dmem_inflate(struct dmem_balloon *b,
				  unsigned long nr_pfns)
{
	struct dmem_xfer *xs = &b->xfer[DMEM_XFER_RESIZE0];
	unsigned long done = 0, allow;
	unsigned int want, got, i = 0;
	struct dmem_xfer *x;
	struct page *page;
	LIST_HEAD(pages);

	while (done < nr_pfns) {
		if (time_before(jiffies, READ_ONCE(b->holdoff_until)))
			break;
		allow = dmem_inflate_allowance(b) * DMEM_PAGES_PER_PAGE;
		want = min3(nr_pfns - done, allow,
			    (unsigned long)DMEM_BATCH_PFNS) /
		       DMEM_PAGES_PER_PAGE;
		if (!want)
			break;
		for (got = 0; got < want; got++) {
			page = balloon_page_alloc();
			if (!page) {
				atomic_long_inc(&b->cnt.alloc_failures);
				break;
			}
			balloon_page_push(&pages, page);
		}

		x = &xs[i++ % 2];
		mutex_lock(&b->xfer_lock);
		dmem_xfer_wait(b, x);	/* the batch before last */
		dmem_log_flush_locked(b);
		x->nr = 0;
		x->inflate = true;
		while ((page = balloon_page_pop(&pages))) {
			adjust_managed_page_count(page, -1);
			dmem_add_page(b, x, page);
			list_add(&page->lru, &x->pages);
		}
		WRITE_ONCE(b->nr_pages, b->nr_pages + x->nr);
		if (x->nr)
			dmem_xfer_send(b, x);
		dmem_update_actual(b);
		mutex_unlock(&b->xfer_lock);

		done += x->nr;
		if (got < want)
			break;
	}
	dmem_drain(b, xs, 2);
	atomic_long_add(done, &b->cnt.inflated);
	return done;
}

/* Give @pages, taken out of the balloon, back to the guest. */
static void dmem_free_pages(struct list_head *pages)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, pages, lru) {
		list_del(&page->lru);
		adjust_managed_page_count(page, 1);
		put_page(page);	/* the balloon's reference */
	}
}

/*
 * Deflate by up to @nr_pfns 4 KiB pages, a batch at a time, using the
 * @nr_xs buffers @xs in turn. With MUST_TELL_HOST each batch waits for the
 * host before its pages are freed; without, the guest may reuse pages
 * before the host acknowledges (virtio 1.2, 5.5.6.1), and the request
 * travels while the guest goes on.
 *
 * Return: 4 KiB pages deflated; fewer than asked when compaction holds
 * balloon pages isolated for the moment.
 */
static unsigned long dmem_deflate(struct dmem_balloon *b, struct dmem_xfer *xs,
				  unsigned int nr_xs, unsigned long nr_pfns)
{
	unsigned long done = 0, want;
	struct dmem_xfer *x;
	struct page *page;
	unsigned int i = 0;
	LIST_HEAD(pages);

	while (done < nr_pfns) {
		x = &xs[i++ % nr_xs];
		mutex_lock(&b->xfer_lock);
		dmem_xfer_wait(b, x);
		want = min3(nr_pfns - done, (unsigned long)DMEM_BATCH_PFNS,
			    b->nr_pages);
		balloon_page_list_dequeue(&b->bdev_info, &pages,
					  want / DMEM_PAGES_PER_PAGE);
		x->nr = 0;
		x->inflate = false;
		list_for_each_entry(page, &pages, lru)
			dmem_add_page(b, x, page);
		if (x->nr) {
			dmem_xfer_send(b, x);
			if (b->tell_host_first)
				dmem_xfer_wait(b, x);
		}
		WRITE_ONCE(b->nr_pages, b->nr_pages - x->nr);
		dmem_update_actual(b);
		mutex_unlock(&b->xfer_lock);

		dmem_free_pages(&pages);
		if (!x->nr)
			break;
		done += x->nr;
	}
	atomic_long_add(done, &b->cnt.deflated);
	return done;
}

/*
 * Deflate by up to @nr_pfns 4 KiB pages at once, telling the host afterwards.
 * Without MUST_TELL_HOST the guest may reuse pages before the host
 * acknowledges the deflate request. QEMU handles every PFN of a request
 * under its global lock, which a vCPU also needs for any device access:
 * batch by batch, the guest would be paced by the host. So the pages leave
 * the balloon, "actual" is updated and the pages are freed at once; the
 * PFNs are logged and told to the host in the background, a batch at a
 * time, before any page can be inflated again.
 *
 * Return: 4 KiB pages deflated; 0 if no log could be allocated (the caller
 * falls back to batches).
 */
static unsigned long dmem_deflate_deferred(struct dmem_balloon *b,
					   unsigned long nr_pfns)
{
	unsigned long n = 0, want;
	struct page *page;
	__virtio32 *log;
	LIST_HEAD(pages);
	LIST_HEAD(batch);

	nr_pfns = min3(nr_pfns, DMEM_LOG_MAX_PFNS, READ_ONCE(b->nr_pages));
	if (!nr_pfns)
		return 0;
	log = kmalloc_array(nr_pfns, sizeof(*log),
			    GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
	if (!log)
		return 0;

	mutex_lock(&b->xfer_lock);
	dmem_log_flush_locked(b);
	nr_pfns = min(nr_pfns, b->nr_pages);
	while (n < nr_pfns) {
		/* Batches keep the irq-off sections of pages_lock short. */
		want = min_t(unsigned long, nr_pfns - n, DMEM_BATCH_PFNS);
		if (!balloon_page_list_dequeue(&b->bdev_info, &batch,
					       want / DMEM_PAGES_PER_PAGE))
			break;
		list_for_each_entry(page, &batch, lru)
			n += dmem_page_pfns(b, log + n, page);
		list_splice_init(&batch, &pages);
	}
	WRITE_ONCE(b->nr_pages, b->nr_pages - n);
	dmem_update_actual(b);
	if (n) {
		b->log = log;
		b->log_nr = n;
		b->log_sent = 0;
		log = NULL;
	}
	mutex_unlock(&b->xfer_lock);

	kfree(log);
	dmem_free_pages(&pages);
	if (n)
		dmem_queue_notify(b);
	atomic_long_add(n, &b->cnt.deflated);
	return n;
}

/**
 * dmem_release_all() - give every ballooned page back to the guest.
 * @b: the balloon, with no resize or notify work running
 *
 * Waits out pages that compaction holds isolated: they come back to the
 * list (or are migrated) shortly. Leaves nothing queued to the device.
 *
 * Return: 4 KiB pages released.
 */
unsigned long dmem_release_all(struct dmem_balloon *b)
{
	unsigned long total = 0, n;

	/* Resize runs end drained: no inflate is in flight here. */
	while (READ_ONCE(b->nr_pages)) {
		n = dmem_deflate(b, &b->xfer[DMEM_XFER_RESIZE0], 2,
				 READ_ONCE(b->nr_pages));
		total += n;
		if (!n)
			msleep(20);
	}
	mutex_lock(&b->xfer_lock);
	dmem_log_flush_locked(b);
	mutex_unlock(&b->xfer_lock);
	dmem_drain(b, b->xfer, DMEM_NR_XFER);
	WRITE_ONCE(b->refused, 0);
	return total;
}

void dmem_resize_work(struct work_struct *work)
{
	struct dmem_balloon *b = container_of(to_delayed_work(work),
					      struct dmem_balloon,
					      resize_work);
	unsigned long retry = 0, want, done = 0, wait;
	s64 diff;

	diff = dmem_towards_target(b);
	wait = diff > 0 ? dmem_offline_waiting(b) : 0;
	if (wait) {
		/* Not a refusal: the host is about to say what it wants. */
		dmem_queue_resize(b, wait);
		return;
	}
	if (diff > 0) {
		want = rounddown(min_t(s64, diff, DMEM_RUN_PFNS),
				 DMEM_PAGES_PER_PAGE);
		done = dmem_inflate(b, want);
		if (done < want)
			retry = msecs_to_jiffies(DMEM_RETRY_MS);
		diff -= done;
	} else if (diff < 0) {
		if (!b->tell_host_first)
			done = dmem_deflate_deferred(b, -diff);
		if (!done)
			done = dmem_deflate(b, &b->xfer[DMEM_XFER_RESIZE0], 2,
					    min_t(s64, -diff, DMEM_RUN_PFNS));
		if (!done)
			retry = msecs_to_jiffies(20);
		diff += done;
	}

	if (retry && diff > 0) {
		/* Count each refusal once, not every retry. */
		if (!READ_ONCE(b->refused)) {
			atomic_long_inc(&b->cnt.refused_requests);
			dev_info_ratelimited(&b->vdev->dev,
					     "inflation stopped %llu MiB short of the target: guest floor %lu MiB\n",
					     (u64)diff >> (20 - VIRTIO_BALLOON_PFN_SHIFT),
					     PAGES_TO_MIB(READ_ONCE(b->floor_pages)));
		}
		WRITE_ONCE(b->refused, diff);
	} else {
		WRITE_ONCE(b->refused, 0);
	}

	if (diff)
		dmem_queue_resize(b, retry);
}

int dmem_oom_notify(struct notifier_block *nb, unsigned long unused,
		    void *parm)
{
	struct dmem_balloon *b = container_of(nb, struct dmem_balloon, oom_nb);
	unsigned long *freed = parm;
	unsigned long chunk, done;

	/* Between a failed restore and removal there is no device. */
	if (!READ_ONCE(b->running))
		return NOTIFY_OK;
	WRITE_ONCE(b->holdoff_until,
		   jiffies + msecs_to_jiffies(DMEM_OOM_HOLDOFF_MS));
	chunk = clamp_t(unsigned long,
			dmem_guest_pages(b) * DMEM_PAGES_PER_PAGE / 32,
			DMEM_OOM_MIN_PFNS, DMEM_OOM_MAX_PFNS);
	done = dmem_deflate(b, &b->xfer[DMEM_XFER_OOM], 1, chunk);
	if (done) {
		atomic_long_inc(&b->cnt.oom_events);
		atomic_long_add(done, &b->cnt.oom_deflated);
		*freed += done / DMEM_PAGES_PER_PAGE;
		/* Come back after the hold-off to see if the target fits again. */
		dmem_queue_resize(b, msecs_to_jiffies(DMEM_OOM_HOLDOFF_MS));
	}
	return NOTIFY_OK;
}

#ifdef CONFIG_BALLOON_COMPACTION
/*
 * Compaction moves a balloon page: the host must learn that @newpage is now
 * ballooned and @page is not. This runs under locks of the migration core,
 * so it only trylocks the transfer lock; a busy balloon means "retry later",
 * which also keeps an inflation that triggered compaction from recursing.
 */
static int dmem_migratepage(struct balloon_dev_info *info,
			    struct page *newpage, struct page *page,
			    enum migrate_mode mode)
{
	struct dmem_balloon *b = container_of(info, struct dmem_balloon,
					      bdev_info);
	struct dmem_xfer *x = &b->mig_xfer;
	unsigned long flags;

	if (!mutex_trylock(&b->xfer_lock))
		return -EAGAIN;
	/* @newpage may be a page the host has yet to hear was deflated. */
	if (b->log) {
		mutex_unlock(&b->xfer_lock);
		return -EAGAIN;
	}

	get_page(newpage);	/* the balloon's reference */
	if (page_zone(page) != page_zone(newpage)) {
		adjust_managed_page_count(page, 1);
		adjust_managed_page_count(newpage, -1);
	}

	spin_lock_irqsave(&info->pages_lock, flags);
	balloon_page_insert(info, newpage);
	info->isolated_pages--;
	__count_vm_event(BALLOON_MIGRATE);
	spin_unlock_irqrestore(&info->pages_lock, flags);

	x->nr = 0;
	x->inflate = true;
	dmem_add_page(b, x, newpage);
	dmem_xfer_send(b, x);
	dmem_xfer_wait(b, x);
	x->nr = 0;
	x->inflate = false;
	dmem_add_page(b, x, page);
	dmem_xfer_send(b, x);
	dmem_xfer_wait(b, x);
	mutex_unlock(&b->xfer_lock);

	balloon_page_finalize(page);
	put_page(page);		/* the balloon's reference */
	atomic_long_inc(&b->cnt.migrated);
	return MIGRATEPAGE_SUCCESS;
}
#endif

void dmem_balloon_init(struct dmem_balloon *b)
{
	balloon_devinfo_init(&b->bdev_info);
#ifdef CONFIG_BALLOON_COMPACTION
	b->bdev_info.migratepage = dmem_migratepage;
#endif
}
