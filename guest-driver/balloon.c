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

#define MIB_TO_PAGES(mib)	((unsigned long)(mib) << (20 - PAGE_SHIFT))
#define PAGES_TO_MIB(p)		((unsigned long)(p) >> (20 - PAGE_SHIFT))

/* Retry a refused or failed inflation this often while the target stands. */
#define DMEM_RETRY_MS		1000
/* After an OOM deflation, do not inflate again for this long. */
#define DMEM_OOM_HOLDOFF_MS	10000
/* An OOM notification gives back max(this, 1/32 of the guest), 4 KiB pages. */
#define DMEM_OOM_MIN_PFNS	(16U << (20 - VIRTIO_BALLOON_PFN_SHIFT))

static u32 dmem_page_to_pfn(struct page *page)
{
	BUILD_BUG_ON(PAGE_SHIFT < VIRTIO_BALLOON_PFN_SHIFT);
	return page_to_pfn(page) * DMEM_PAGES_PER_PAGE;
}

/* Fill @b->pfns[@idx..] with the 4 KiB frames of @page. */
static void dmem_set_pfns(struct dmem_balloon *b, unsigned int idx,
			  struct page *page)
{
	u32 pfn = dmem_page_to_pfn(page);
	unsigned int i;

	BUILD_BUG_ON(DMEM_BATCH_PFNS % DMEM_PAGES_PER_PAGE);
	for (i = 0; i < DMEM_PAGES_PER_PAGE; i++)
		b->pfns[idx + i] = cpu_to_virtio32(b->vdev, pfn + i);
}

/**
 * dmem_compute_floor() - available memory a guest always keeps.
 * @guest_pages: the guest's memory without the balloon, in pages.
 *
 * A continuous piecewise-linear function (after hv_balloon): small guests
 * keep a large share, large guests a small one.
 *
 *   guest MiB:   0   128   512   2048   8192   32768   65536
 *   floor MiB:   8    72   168    360    744    1512    2024
 *
 * Return: the floor in pages.
 */
unsigned long dmem_compute_floor(unsigned long guest_pages)
{
	unsigned long mib = PAGES_TO_MIB(guest_pages);
	unsigned long floor;

	if (mib < 128)
		floor = 8 + mib / 2;
	else if (mib < 512)
		floor = 40 + mib / 4;
	else if (mib < 2048)
		floor = 104 + mib / 8;
	else if (mib < 8192)
		floor = 232 + mib / 16;
	else if (mib < 32768)
		floor = 488 + mib / 32;
	else
		floor = 1000 + mib / 64;
	return MIB_TO_PAGES(floor);
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

void dmem_update_actual(struct dmem_balloon *b)
{
	u32 actual = READ_ONCE(b->nr_pages);

	virtio_cwrite_le(b->vdev, struct virtio_balloon_config, actual,
			 &actual);
}

/*
 * Inflate by up to @nr_pfns 4 KiB pages (a whole number of guest pages, at
 * most one batch). Pages are allocated before taking the transfer lock, so
 * that reclaim done by the allocator never waits for the host.
 */
static unsigned int dmem_inflate(struct dmem_balloon *b, unsigned int nr_pfns)
{
	unsigned int want = nr_pfns / DMEM_PAGES_PER_PAGE, n = 0, i;
	struct page *page;
	LIST_HEAD(pages);

	for (i = 0; i < want; i++) {
		page = balloon_page_alloc();
		if (!page) {
			atomic_long_inc(&b->cnt.alloc_failures);
			break;
		}
		balloon_page_push(&pages, page);
	}

	mutex_lock(&b->xfer_lock);
	while ((page = balloon_page_pop(&pages))) {
		balloon_page_enqueue(&b->bdev_info, page);
		dmem_set_pfns(b, n, page);
		adjust_managed_page_count(page, -1);
		n += DMEM_PAGES_PER_PAGE;
	}
	if (n)
		dmem_tell_host(b, b->inflate_vq, n);
	WRITE_ONCE(b->nr_pages, b->nr_pages + n);
	mutex_unlock(&b->xfer_lock);

	atomic_long_add(n, &b->cnt.inflated);
	return n;
}

/*
 * Deflate by up to @nr_pfns 4 KiB pages (at most one batch). The host hears
 * of the pages before the guest reuses them, which MUST_TELL_HOST requires
 * and costs nothing otherwise. May return less than asked when compaction
 * has isolated balloon pages for the moment.
 */
static unsigned int dmem_deflate(struct dmem_balloon *b, unsigned int nr_pfns)
{
	struct page *page, *next;
	unsigned int n = 0;
	size_t got;
	LIST_HEAD(pages);

	mutex_lock(&b->xfer_lock);
	nr_pfns = min_t(unsigned long, nr_pfns, b->nr_pages);
	got = balloon_page_list_dequeue(&b->bdev_info, &pages,
					nr_pfns / DMEM_PAGES_PER_PAGE);
	list_for_each_entry(page, &pages, lru) {
		dmem_set_pfns(b, n, page);
		n += DMEM_PAGES_PER_PAGE;
	}
	if (n)
		dmem_tell_host(b, b->deflate_vq, n);
	WRITE_ONCE(b->nr_pages, b->nr_pages - n);
	mutex_unlock(&b->xfer_lock);

	list_for_each_entry_safe(page, next, &pages, lru) {
		list_del(&page->lru);
		adjust_managed_page_count(page, 1);
		put_page(page);	/* the balloon's reference */
	}
	WARN_ON_ONCE(got * DMEM_PAGES_PER_PAGE != n);
	atomic_long_add(n, &b->cnt.deflated);
	return n;
}

/**
 * dmem_release_all() - give every ballooned page back to the guest.
 * @b: the balloon, with no resize work running
 *
 * Waits out pages that compaction holds isolated: they come back to the
 * list (or are migrated) shortly.
 *
 * Return: 4 KiB pages released.
 */
unsigned long dmem_release_all(struct dmem_balloon *b)
{
	unsigned long total = 0;
	unsigned int n;

	while (READ_ONCE(b->nr_pages)) {
		n = dmem_deflate(b, DMEM_BATCH_PFNS);
		total += n;
		if (!n)
			msleep(20);
	}
	WRITE_ONCE(b->refused, 0);
	return total;
}

void dmem_resize_work(struct work_struct *work)
{
	struct dmem_balloon *b = container_of(to_delayed_work(work),
					      struct dmem_balloon,
					      resize_work);
	unsigned long retry = 0, allow;
	unsigned int want, done = 0;
	s64 diff;

	diff = dmem_towards_target(b);
	if (diff > 0) {
		want = min_t(s64, diff, DMEM_BATCH_PFNS);
		want = rounddown(want, DMEM_PAGES_PER_PAGE);
		allow = dmem_inflate_allowance(b) * DMEM_PAGES_PER_PAGE;
		if (time_before(jiffies, READ_ONCE(b->holdoff_until)))
			allow = 0;
		if (allow < want) {
			want = allow;
			retry = msecs_to_jiffies(DMEM_RETRY_MS);
		}
		if (want)
			done = dmem_inflate(b, want);
		if (done < want)
			retry = msecs_to_jiffies(DMEM_RETRY_MS);
		diff -= done;
	} else if (diff < 0) {
		done = dmem_deflate(b, min_t(s64, -diff, DMEM_BATCH_PFNS));
		if (!done)
			retry = msecs_to_jiffies(20);
		diff += done;
	}
	if (done)
		dmem_update_actual(b);

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
	unsigned long chunk, done = 0;
	unsigned int n;

	chunk = max_t(unsigned long, DMEM_OOM_MIN_PFNS,
		      dmem_guest_pages(b) * DMEM_PAGES_PER_PAGE / 32);
	while (done < chunk) {
		n = dmem_deflate(b, min_t(unsigned long, chunk - done,
					  DMEM_BATCH_PFNS));
		if (!n)
			break;
		done += n;
	}
	WRITE_ONCE(b->holdoff_until,
		   jiffies + msecs_to_jiffies(DMEM_OOM_HOLDOFF_MS));
	if (done) {
		dmem_update_actual(b);
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
	unsigned long flags;

	if (!mutex_trylock(&b->xfer_lock))
		return -EAGAIN;

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

	dmem_set_pfns(b, 0, newpage);
	dmem_tell_host(b, b->inflate_vq, DMEM_PAGES_PER_PAGE);
	dmem_set_pfns(b, 0, page);
	dmem_tell_host(b, b->deflate_vq, DMEM_PAGES_PER_PAGE);
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
