// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: memory hot-remove.
 *
 * When the host unplugs a DIMM, the guest offlines its memory blocks first.
 * Balloon pages in a block going offline hold nothing the guest needs: the
 * host discarded them. Migrating them, as the offlining code does with any
 * movable page, would cost an allocation elsewhere, the zeroing of the new
 * page and two host round trips per page (dmem_migratepage()), and would
 * keep the balloon as large as before on a guest that is smaller by the
 * DIMM. So they are given up in place instead (the PageOffline() protocol
 * of page-flags.h): in MEM_GOING_OFFLINE they leave the balloon list with
 * their reference dropped and stay PageOffline(), which the offlining code
 * skips like free memory. They leave the balloon's count ("actual") only
 * once the block is offline (MEM_OFFLINE); MEM_CANCEL_OFFLINE puts them
 * back into the balloon, untouched. A block that holds no balloon page is
 * only looked at.
 *
 * The host's target counts pages; a DIMM that took balloon pages with it
 * leaves the balloon short of that count, and the host sets a new target
 * after the unplug (dmemd does). Inflation to replace the pages waits for
 * that new target, at most DMEM_OFFLINE_WAIT_MS.
 *
 * Offlining runs under the memory hotplug lock, one block at a time; the
 * whole GOING_OFFLINE -> OFFLINE/CANCEL_OFFLINE sequence of a block with
 * balloon pages holds @offline_lock, which dmem_stop() takes too: the
 * device never stops with pages half given up.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/memory.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/page_ref.h>

#include "dmem_balloon.h"

/* Guest pages looked at between two cond_resched(). */
#define DMEM_RESCHED_PAGES	4096

/* How long inflation waits for a new target after an offline took pages. */
#define DMEM_OFFLINE_WAIT_MS	3000

/*
 * Before 6.12 the offlining code subtracts every page of the block from the
 * managed page count, PageOffline() ones included; since 6.12 it skips
 * PageOffline() pages (Kbuild tells which). Balloon pages are not
 * managed (dmem_inflate_batch()), so before 6.12 they are added back while
 * their block goes offline.
 */
#ifdef DMEM_OFFLINE_SKIPS_OFFLINE_PAGES
#define DMEM_READD_MANAGED	0
#else
#define DMEM_READD_MANAGED	1
#endif

#ifdef CONFIG_BALLOON_COMPACTION
/*
 * A page on @b's balloon list. Under pages_lock and the page lock:
 * compaction isolates a balloon page (off the list, then PageIsolated())
 * under the page lock.
 */
static bool dmem_listed_page(struct dmem_balloon *b, struct page *page)
{
	return PageOffline(page) && __PageMovable(page) && !PageIsolated(page) &&
	       balloon_page_device(page) == &b->bdev_info;
}

/*
 * Take the balloon pages of [@start, @start + @nr) off the balloon list and
 * drop their reference: the offlining code skips them. As in
 * balloon_page_list_dequeue(), the page is only trylocked under pages_lock.
 * Compaction takes a reference before it looks at a page: the reference is
 * dropped only if it is ours alone (frozen at 0, so no one can take one
 * after); a page someone holds stays listed and is migrated by the offline
 * like any movable page.
 */
static void dmem_going_offline(struct dmem_balloon *b, unsigned long start,
			       unsigned long nr)
{
	struct balloon_dev_info *info = &b->bdev_info;
	unsigned long pfn, flags;
	struct page *page;

	for (pfn = start; pfn < start + nr; pfn++) {
		if (!(pfn % DMEM_RESCHED_PAGES))
			cond_resched();
		page = pfn_to_page(pfn);
		/* Cheap and lockless first: most pages are not ours. */
		if (!PageOffline(page))
			continue;
		spin_lock_irqsave(&info->pages_lock, flags);
		if (!trylock_page(page)) {
			spin_unlock_irqrestore(&info->pages_lock, flags);
			continue;
		}
		if (!dmem_listed_page(b, page) || !page_ref_freeze(page, 1)) {
			unlock_page(page);
			spin_unlock_irqrestore(&info->pages_lock, flags);
			continue;
		}
		list_move(&page->lru, &b->offlining);
		/*
		 * Not movable any more, not even "was movable, being freed"
		 * (the flag __ClearPageMovable() leaves): compaction and
		 * offlining must not try to migrate it.
		 */
		__ClearPageMovable(page);
		page->mapping = NULL;
		set_page_private(page, 0);
		unlock_page(page);
		spin_unlock_irqrestore(&info->pages_lock, flags);

		if (DMEM_READD_MANAGED)
			adjust_managed_page_count(page, 1);
		b->offlining_nr++;
	}
}

/* The offline failed: the pages go back into the balloon as they were. */
static void dmem_cancel_offline(struct dmem_balloon *b)
{
	struct balloon_dev_info *info = &b->bdev_info;
	struct page *page, *next;
	unsigned long flags;

	list_for_each_entry_safe(page, next, &b->offlining, lru) {
		page_ref_unfreeze(page, 1);
		if (DMEM_READD_MANAGED)
			adjust_managed_page_count(page, -1);
		/* Ours alone: the lock only satisfies __SetPageMovable(). */
		lock_page(page);
		spin_lock_irqsave(&info->pages_lock, flags);
		list_del(&page->lru);
		/* Still PageOffline(): insert only makes it ours again. */
		balloon_page_insert(info, page);
		spin_unlock_irqrestore(&info->pages_lock, flags);
		unlock_page(page);
		cond_resched();
	}
	b->offlining_nr = 0;
}

/* The block is offline: its balloon pages are gone with it. */
static void dmem_offline_done(struct dmem_balloon *b)
{
	unsigned long pfns = b->offlining_nr * DMEM_PAGES_PER_PAGE;

	INIT_LIST_HEAD(&b->offlining);
	b->offlining_nr = 0;
	mutex_lock(&b->xfer_lock);
	WRITE_ONCE(b->nr_pages, b->nr_pages - pfns);
	dmem_update_actual(b);
	mutex_unlock(&b->xfer_lock);
	atomic_long_add(pfns, &b->cnt.offlined);
	WRITE_ONCE(b->offline_wait_until,
		   jiffies + msecs_to_jiffies(DMEM_OFFLINE_WAIT_MS));
	WRITE_ONCE(b->offline_wait, true);
	/* Follow the standing target once the wait is over. */
	dmem_queue_resize(b, msecs_to_jiffies(DMEM_OFFLINE_WAIT_MS));
	dev_dbg(&b->vdev->dev, "%lu KiB of the balloon went offline in place\n",
		pfns << (VIRTIO_BALLOON_PFN_SHIFT - 10));
}

static int dmem_memory_notify(struct notifier_block *nb, unsigned long action,
			      void *arg)
{
	struct dmem_balloon *b = container_of(nb, struct dmem_balloon, mem_nb);
	struct memory_notify *mn = arg;

	switch (action) {
	case MEM_GOING_OFFLINE:
		/* No balloon, or a stopped device: nothing of ours is here. */
		if (!READ_ONCE(b->nr_pages))
			break;
		mutex_lock(&b->offline_lock);
		/*
		 * A host that must hear of a deflate first would never hear
		 * of these pages if the block came online again: with
		 * MUST_TELL_HOST they are migrated like any movable page.
		 */
		if (b->running && !b->tell_host_first)
			dmem_going_offline(b, mn->start_pfn, mn->nr_pages);
		if (!b->offlining_nr) {
			mutex_unlock(&b->offline_lock);
			break;
		}
		/* Held until OFFLINE or CANCEL_OFFLINE of this block. */
		b->offlining_start = mn->start_pfn;
		break;
	case MEM_OFFLINE:
	case MEM_CANCEL_OFFLINE:
		if (!b->offlining_nr || b->offlining_start != mn->start_pfn)
			break;
		if (action == MEM_OFFLINE)
			dmem_offline_done(b);
		else
			dmem_cancel_offline(b);
		mutex_unlock(&b->offline_lock);
		break;
	}
	return NOTIFY_OK;
}

int dmem_hotplug_init(struct dmem_balloon *b)
{
	INIT_LIST_HEAD(&b->offlining);
	b->mem_nb.notifier_call = dmem_memory_notify;
	return register_memory_notifier(&b->mem_nb);
}

void dmem_hotplug_exit(struct dmem_balloon *b)
{
	unregister_memory_notifier(&b->mem_nb);
}
#else
/*
 * Without compaction balloon pages are not movable: blocks holding them
 * cannot go offline, and there is nothing to do here.
 */
int dmem_hotplug_init(struct dmem_balloon *b)
{
	return 0;
}

void dmem_hotplug_exit(struct dmem_balloon *b)
{
}
#endif
