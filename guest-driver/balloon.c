// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: the mechanism. Inflate and deflate by the amount the policy
 * asks for, move balloon pages for compaction, give everything back on
 * stop; keep the ordering rule stated with struct dmem_balloon.
 *
 * Deflation frees first and tells later. QEMU handles the PFNs of a request
 * one by one under its global lock, which a vCPU also needs for any device
 * access (under TCG the kick itself runs the handler): batch by batch, the
 * guest would get its memory back at the host's pace (measured: about 2x
 * slower for 1 GiB, tests/bench/deflate-order.sh). So a deflation takes up to
 * 1 GiB of pages off the balloon list, a batch per lock hold, records their
 * PFNs in a log, updates "actual" and frees the pages; the notify worker
 * tells the host the log, a batch per request. The OOM notifier takes one
 * batch and sends it at once; compaction sends its page at once. All three
 * count in @deflate_unacked, which inflation and compaction wait out.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmstat.h>

#include "dmem_balloon.h"

/* Rule 1: a page compaction moved into the balloon is on its way. */
static bool dmem_mig_inflating(struct dmem_balloon *b)
{
	return b->xfer[DMEM_XFER_MIG_IN].busy;
}

/*
 * Hand the next batch of the log to the host, if the LOG buffer is free.
 * With MUST_TELL_HOST the batch's pages travel with it.
 * Return: true if a batch was sent.
 */
static bool dmem_log_send(struct dmem_balloon *b)
{
	struct dmem_xfer *x = &b->xfer[DMEM_XFER_LOG];
	unsigned int i;

	lockdep_assert_held(&b->xfer_lock);
	if (x->busy || b->log_sent == b->log_nr)
		return false;
	/* Every batch of the log but the last is full. */
	x->pfns = b->log[b->log_sent / DMEM_BATCH_PFNS];
	x->nr = min_t(unsigned long, b->log_nr - b->log_sent, DMEM_BATCH_PFNS);
	x->inflate = false;
	b->log_sent += x->nr;
	if (b->tell_host_first) {
		for (i = 0; i < x->nr; i += DMEM_PAGES_PER_PAGE)
			list_move_tail(b->log_pages.next, &x->pages);
	}
	dmem_xfer_send(b, x);
	return true;
}

/* The whole log has been acknowledged: drop it. */
static void dmem_log_retire(struct dmem_balloon *b)
{
	unsigned int i;

	lockdep_assert_held(&b->xfer_lock);
	if (b->log_sent < b->log_nr || b->xfer[DMEM_XFER_LOG].busy)
		return;
	for (i = 0; i < DMEM_LOG_MAX_BATCHES && b->log[i]; i++) {
		if (b->log[i] != b->log_reserve)
			kfree(b->log[i]);
		b->log[i] = NULL;
	}
	b->log_nr = 0;
	b->log_sent = 0;
}

/*
 * Rule 2: wait until the host has acknowledged every deflate, sending the
 * rest of the log meanwhile. Gives up when the host has not returned
 * anything for DMEM_HOST_TIMEOUT_MS (a long log may take longer in all).
 * Return: 0 or -ETIMEDOUT.
 */
static int dmem_deflates_told(struct dmem_balloon *b)
{
	unsigned long deadline = 0;
	int err;

	lockdep_assert_held(&b->xfer_lock);
	while (b->deflate_unacked) {
		if (dmem_log_send(b) || !deadline)
			deadline = jiffies + msecs_to_jiffies(DMEM_HOST_TIMEOUT_MS);
		err = dmem_host_wait(b, deadline, "a deflate request");
		if (err)
			return err;
	}
	dmem_log_retire(b);
	return 0;
}

/* Background: reap what came back, send the log on. */
static void dmem_notify_work(struct work_struct *work)
{
	struct dmem_balloon *b = container_of(work, struct dmem_balloon,
					      notify_work);

	mutex_lock(&b->xfer_lock);
	/* After a stop the queues are gone; dmem_stop() has reaped. */
	if (b->running) {
		dmem_reap(b);
		/* A deflation under way tells the host once it is done. */
		if (!b->deflating) {
			dmem_log_send(b);
			dmem_log_retire(b);
		}
	}
	mutex_unlock(&b->xfer_lock);
}

/**
 * dmem_inflate_batch() - hand one batch of fresh pages to the host.
 * @b: the balloon; resize worker only
 * @nr_pfns: 4 KiB pages, at most DMEM_BATCH_PFNS, whole guest pages
 *
 * Allocates outside the lock (allocation may reclaim), then sends on the
 * RESIZE buffer not used by the batch before, once the host has returned it:
 * the host discards one batch while the guest allocates the next. The
 * pages join the balloon list when the host returns their buffer.
 *
 * Return: 4 KiB pages sent, fewer than @nr_pfns if an allocation failed;
 * -ETIMEDOUT if the host did not return a buffer.
 */
long dmem_inflate_batch(struct dmem_balloon *b, unsigned long nr_pfns)
{
	unsigned long want = nr_pfns / DMEM_PAGES_PER_PAGE, got;
	struct page *page, *next;
	struct dmem_xfer *x;
	LIST_HEAD(pages);
	int err;

	for (got = 0; got < want; got++) {
		page = balloon_page_alloc();
		if (!page) {
			atomic_long_inc(&b->cnt.alloc_failures);
			break;
		}
		list_add(&page->lru, &pages);
	}
	if (!got)
		return 0;

	x = &b->xfer[DMEM_XFER_RESIZE0 + (b->inflate_turn++ & 1)];
	mutex_lock(&b->xfer_lock);
	err = dmem_deflates_told(b);
	if (!err)
		err = dmem_xfer_wait(b, x, "an inflate request");
	if (err) {
		mutex_unlock(&b->xfer_lock);
		list_for_each_entry_safe(page, next, &pages, lru)
			__free_page(page);
		return err;
	}
	x->nr = 0;
	x->inflate = true;
	/*
	 * Balloon pages leave the managed count, DEFLATE_ON_OOM or not
	 * (upstream virtio_balloon keeps them counted under DEFLATE_ON_OOM):
	 * MemTotal is the guest's size as the host sets it, which is what
	 * the host-side policy reads back, and the floor is computed from it.
	 * The OOM notifier gives pages back whatever MemTotal says.
	 */
	list_for_each_entry(page, &pages, lru) {
		adjust_managed_page_count(page, -1);
		dmem_xfer_add_page(b, x, page);
	}
	list_splice_init(&pages, &x->pages);
	WRITE_ONCE(b->nr_pages, b->nr_pages + x->nr);
	dmem_xfer_send(b, x);
	dmem_update_actual(b);
	mutex_unlock(&b->xfer_lock);
	return got * DMEM_PAGES_PER_PAGE;
}

/**
 * dmem_inflate_finish() - wait for the inflate batches still with the host.
 * @b: the balloon; resize worker only
 *
 * Return: 0, or -ETIMEDOUT (the batches stay in flight; they count in
 * "actual" when they come back).
 */
int dmem_inflate_finish(struct dmem_balloon *b)
{
	int err;

	mutex_lock(&b->xfer_lock);
	err = dmem_xfer_wait(b, &b->xfer[DMEM_XFER_RESIZE0],
			     "an inflate request");
	if (!err)
		err = dmem_xfer_wait(b, &b->xfer[DMEM_XFER_RESIZE1],
				     "an inflate request");
	dmem_update_actual(b);
	mutex_unlock(&b->xfer_lock);
	return err;
}

/*
 * Take up to @max_pfns 4 KiB pages off the balloon list into @pages, their
 * PFNs into @dst in the same order. The pages leave the balloon's count
 * now; their deflate is unacknowledged until the host returns it.
 * Return: 4 KiB pages taken; fewer if compaction holds pages isolated.
 */
static unsigned long dmem_take_pages(struct dmem_balloon *b, __virtio32 *dst,
				     unsigned long max_pfns,
				     struct list_head *pages)
{
	unsigned long n = 0, want;
	struct page *page;
	LIST_HEAD(batch);

	lockdep_assert_held(&b->xfer_lock);
	while (n < max_pfns) {
		/* Batches keep the irq-off sections of pages_lock short. */
		want = min_t(unsigned long, max_pfns - n, DMEM_BATCH_PFNS) /
		       DMEM_PAGES_PER_PAGE;
		if (!want || !balloon_page_list_dequeue(&b->bdev_info, &batch,
							want))
			break;
		list_for_each_entry(page, &batch, lru)
			n += dmem_page_pfns(b, dst + n, page);
		list_splice_tail_init(&batch, pages);
		cond_resched();
	}
	WRITE_ONCE(b->nr_pages, b->nr_pages - n);
	b->deflate_unacked += n;
	dmem_update_actual(b);
	return n;
}

/**
 * dmem_deflate() - give up to @nr_pfns 4 KiB pages back to the guest.
 * @b: the balloon; resize worker, or stop with the workers stopped
 * @nr_pfns: how many; at most 1 GiB is done per call
 *
 * The one deflation path besides the OOM notifier's batch. A batch at a
 * time: allocate its log buffer (the reserve if the first cannot be had),
 * take its pages off the list under the lock, then free them; without
 * MUST_TELL_HOST the pages are the guest's at once and the host hears of
 * them in the background, with it they are freed as the host acknowledges.
 *
 * Return: 4 KiB pages deflated (0 when compaction holds the pages isolated
 * for the moment), or -ETIMEDOUT if the host did not take the previous
 * deflation or a compaction page.
 */
long dmem_deflate(struct dmem_balloon *b, unsigned long nr_pfns)
{
	unsigned long done = 0, want, n;
	__virtio32 *buf;
	LIST_HEAD(pages);
	unsigned int i;
	int err;

	nr_pfns = min3(nr_pfns,
		       (unsigned long)DMEM_LOG_MAX_BATCHES * DMEM_BATCH_PFNS,
		       READ_ONCE(b->nr_pages));
	for (i = 0; i < DMEM_LOG_MAX_BATCHES && done < nr_pfns; i++) {
		buf = kmalloc_array(DMEM_BATCH_PFNS, sizeof(*buf),
				    GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
		if (!buf && i)
			break;	/* the rest in the next run */

		mutex_lock(&b->xfer_lock);
		if (!i) {
			err = dmem_deflates_told(b);
			if (!err && dmem_mig_inflating(b))
				err = dmem_xfer_wait(b,
						     &b->xfer[DMEM_XFER_MIG_IN],
						     "a compaction request");
			if (err) {
				mutex_unlock(&b->xfer_lock);
				kfree(buf);
				return err;
			}
			/*
			 * Until the last batch is taken the log is neither
			 * told nor retired, and deflate_unacked keeps
			 * compaction from moving a page in meanwhile.
			 */
			b->deflating = true;
			buf = buf ?: b->log_reserve;
		}
		want = min_t(unsigned long, nr_pfns - done, DMEM_BATCH_PFNS);
		n = dmem_take_pages(b, buf, want, &pages);
		if (n) {
			b->log[i] = buf;
			b->log_nr += n;
			buf = NULL;
			if (b->tell_host_first)
				list_splice_tail_init(&pages, &b->log_pages);
		}
		mutex_unlock(&b->xfer_lock);

		if (buf != b->log_reserve)
			kfree(buf);
		dmem_pages_to_guest(&pages);
		done += n;
		if (n < want)
			break;
	}
	/*
	 * Told once every page is free: telling runs QEMU's handler on the
	 * vCPU (under TCG), which would otherwise interleave with the freeing.
	 */
	mutex_lock(&b->xfer_lock);
	b->deflating = false;
	mutex_unlock(&b->xfer_lock);
	if (done)
		dmem_queue(b, system_freezable_wq, &b->notify_work);
	return done;
}

/**
 * dmem_deflate_oom() - one batch back to the guest, from the OOM notifier.
 * @b: the balloon
 * @nr_pfns: at most this many, at most DMEM_BATCH_PFNS
 *
 * Never waits: OOM handling holds oom_lock. Trylocks, takes one batch, hands
 * it to the host without waiting for the answer. Does nothing while another
 * path holds the lock, an earlier OOM batch is still with the host, or a
 * compaction page is on its way (rule 1).
 *
 * Return: 4 KiB pages deflated. Without MUST_TELL_HOST they are free now;
 * with it, when the host acknowledges.
 */
unsigned long dmem_deflate_oom(struct dmem_balloon *b, unsigned long nr_pfns)
{
	struct dmem_xfer *x = &b->xfer[DMEM_XFER_OOM];
	LIST_HEAD(pages);

	if (!mutex_trylock(&b->xfer_lock))
		return 0;
	if (b->running)
		dmem_reap(b);
	if (!b->running || x->busy || dmem_mig_inflating(b)) {
		mutex_unlock(&b->xfer_lock);
		return 0;
	}
	x->inflate = false;
	x->nr = dmem_take_pages(b, x->pfns, min_t(unsigned long, nr_pfns,
						  DMEM_BATCH_PFNS), &pages);
	if (x->nr) {
		if (b->tell_host_first)
			list_splice_init(&pages, &x->pages);
		dmem_xfer_send(b, x);
	}
	nr_pfns = x->nr;
	mutex_unlock(&b->xfer_lock);

	dmem_pages_to_guest(&pages);
	return nr_pfns;
}

/**
 * dmem_release_all() - give every ballooned page back, telling the host.
 * @b: the balloon, with the resize and notify workers stopped
 *
 * Waits out pages that compaction holds isolated: they come back to the
 * list (or are migrated) shortly. Stops early if the host does not answer:
 * dmem_release_rest() then returns the rest once the device is reset.
 */
void dmem_release_all(struct dmem_balloon *b)
{
	long n;

	if (dmem_inflate_finish(b))
		return;
	while (READ_ONCE(b->nr_pages)) {
		n = dmem_deflate(b, READ_ONCE(b->nr_pages));
		if (n < 0)
			return;
		if (!n)
			msleep(20);
	}
	mutex_lock(&b->xfer_lock);
	dmem_deflates_told(b);
	mutex_unlock(&b->xfer_lock);
}

/**
 * dmem_release_rest() - after a device reset, return what is left.
 * @b: the balloon; the device is reset, every buffer complete, the memory
 *     notifier held off (@offline_lock)
 *
 * What the host could not be told about (it did not answer) needs no
 * telling any more: the reset device will not touch guest memory. Every
 * page still counted is on the list or isolated by compaction, which puts
 * it back (migration fails once the device is stopped): waited for, as
 * long as it takes.
 */
void dmem_release_rest(struct dmem_balloon *b)
{
	unsigned long got, waited = 0;
	LIST_HEAD(pages);
	LIST_HEAD(batch);

	mutex_lock(&b->xfer_lock);
	list_splice_init(&b->log_pages, &pages);
	b->log_sent = b->log_nr;
	dmem_log_retire(b);
	while (b->nr_pages) {
		got = balloon_page_list_dequeue(&b->bdev_info, &batch,
						DMEM_BATCH_PFNS /
						DMEM_PAGES_PER_PAGE);
		if (got) {
			WRITE_ONCE(b->nr_pages,
				   b->nr_pages - got * DMEM_PAGES_PER_PAGE);
			list_splice_init(&batch, &pages);
			mutex_unlock(&b->xfer_lock);
			cond_resched();
			mutex_lock(&b->xfer_lock);
			continue;
		}
		/*
		 * Compaction holds the rest isolated; it puts them back (it
		 * cannot move them now). As upstream, wait for them: pages
		 * left on the list would outlive the balloon.
		 */
		waited += 20;
		if (!(waited % 10000))
			dev_warn(&b->vdev->dev,
				 "%lu KiB of balloon pages held by compaction for %lu s\n",
				 b->nr_pages << (VIRTIO_BALLOON_PFN_SHIFT - 10),
				 waited / 1000);
		mutex_unlock(&b->xfer_lock);
		msleep(20);
		mutex_lock(&b->xfer_lock);
	}
	WRITE_ONCE(b->actual, 0);
	b->deflate_unacked = 0;
	mutex_unlock(&b->xfer_lock);
	dmem_pages_to_guest(&pages);
}

#ifdef CONFIG_BALLOON_COMPACTION
/*
 * Compaction moves a balloon page: the host must learn that @newpage is now
 * ballooned and @page is not. This runs under locks of the migration core,
 * so it only trylocks the transfer lock and never waits: a busy balloon, a
 * deflate the host has not acknowledged (rule 2) or a compaction request
 * still with the host means "retry later", which also keeps an inflation
 * that triggered compaction from recursing. Both requests are sent at once
 * and the migration succeeds: @newpage is listed at once, and rule 1 keeps
 * deflation off it until the host has its inflate (MIG_IN busy).
 */
static int dmem_migratepage(struct balloon_dev_info *info,
			    struct page *newpage, struct page *page,
			    enum migrate_mode mode)
{
	struct dmem_balloon *b = container_of(info, struct dmem_balloon,
					      bdev_info);
	struct dmem_xfer *in = &b->xfer[DMEM_XFER_MIG_IN];
	struct dmem_xfer *out = &b->xfer[DMEM_XFER_MIG_OUT];
	unsigned long flags;

	if (!mutex_trylock(&b->xfer_lock))
		return -EAGAIN;
	/* After a stop the queues are gone: the pages stay where they are. */
	if (b->running)
		dmem_reap(b);
	if (!b->running || b->deflate_unacked || in->busy || out->busy) {
		mutex_unlock(&b->xfer_lock);
		return -EAGAIN;
	}

	get_page(newpage);	/* the balloon's reference */
	adjust_managed_page_count(newpage, -1);
	spin_lock_irqsave(&info->pages_lock, flags);
	balloon_page_insert(info, newpage);
	info->isolated_pages--;
	__count_vm_event(BALLOON_MIGRATE);
	spin_unlock_irqrestore(&info->pages_lock, flags);
	in->nr = 0;
	in->inflate = true;
	dmem_xfer_add_page(b, in, newpage);
	dmem_xfer_send(b, in);

	balloon_page_finalize(page);
	out->nr = 0;
	out->inflate = false;
	dmem_xfer_add_page(b, out, page);
	b->deflate_unacked += out->nr;
	/* Its lru is the migration core's: the page rides in @out->page. */
	if (b->tell_host_first)
		out->page = page;
	dmem_xfer_send(b, out);
	dmem_update_actual(b);
	mutex_unlock(&b->xfer_lock);

	if (!b->tell_host_first) {
		adjust_managed_page_count(page, 1);
		put_page(page);	/* the balloon's reference */
	}
	return MIGRATEPAGE_SUCCESS;
}
#endif

int dmem_balloon_init(struct dmem_balloon *b)
{
	balloon_devinfo_init(&b->bdev_info);
#ifdef CONFIG_BALLOON_COMPACTION
	b->bdev_info.migratepage = dmem_migratepage;
#endif
	INIT_LIST_HEAD(&b->log_pages);
	INIT_WORK(&b->notify_work, dmem_notify_work);
	b->log_reserve = kmalloc_array(DMEM_BATCH_PFNS, sizeof(__virtio32),
				       GFP_KERNEL);
	return b->log_reserve ? 0 : -ENOMEM;
}

void dmem_balloon_exit(struct dmem_balloon *b)
{
	kfree(b->log_reserve);
}
