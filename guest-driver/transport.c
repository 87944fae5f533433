// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: how pages reach the host. The virtqueues, the transfer
 * buffers that carry PFNs on them, the config space (target and actual),
 * and free page reporting. Nothing here decides how many pages move.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "dmem_balloon.h"

enum dmem_vq {
	DMEM_VQ_INFLATE,
	DMEM_VQ_DEFLATE,
	DMEM_VQ_STATS,
	DMEM_VQ_REPORTING,
	DMEM_VQ_MAX
};

/* The free page reporting queue: a report came back. */
static void dmem_report_ack(struct virtqueue *vq)
{
	struct dmem_balloon *b = vq->vdev->priv;

	atomic_inc(&b->ack_seq);
	wake_up(&b->acked);
}

/*
 * The inflate or deflate queue: wake a waiter, and have the notify worker
 * reap what came back even when no one waits (a late answer).
 */
static void dmem_ack(struct virtqueue *vq)
{
	struct dmem_balloon *b = vq->vdev->priv;

	dmem_report_ack(vq);
	dmem_queue(b, system_freezable_wq, &b->notify_work);
}

/*
 * Unlike the other queues, the stats queue is driven by the host: we give it
 * one buffer, and each time the host wants fresh numbers it hands that
 * buffer back (this callback); we refill it and return it. Gathering the
 * numbers may sleep, so the answer is prepared in process context.
 */
static void dmem_stats_request(struct virtqueue *vq)
{
	struct dmem_balloon *b = vq->vdev->priv;

	dmem_queue(b, system_freezable_wq, &b->stats_work);
}

static struct virtqueue *dmem_xfer_vq(struct dmem_balloon *b,
				      struct dmem_xfer *x)
{
	return x->inflate ? b->inflate_vq : b->deflate_vq;
}

static bool dmem_vqs_broken(struct dmem_balloon *b)
{
	return virtqueue_is_broken(b->inflate_vq) ||
	       virtqueue_is_broken(b->deflate_vq);
}

/* A queue the host must be able to hold all our buffers on. */
static int dmem_check_ring(struct dmem_balloon *b, struct virtqueue *vq,
			   unsigned int need)
{
	unsigned int size = virtqueue_get_vring_size(vq);

	if (size >= need)
		return 0;
	dev_err(&b->vdev->dev,
		"the %s queue holds %u buffers, the driver needs %u: device refused\n",
		vq->name, size, need);
	return -ENOSPC;
}

/**
 * dmem_vqs_init() - find the virtqueues and check their size.
 * @b: the balloon
 *
 * Return: 0, or -errno with no queue left.
 */
int dmem_vqs_init(struct dmem_balloon *b)
{
	struct virtio_device *vdev = b->vdev;
	struct virtqueue *vqs[DMEM_VQ_MAX];
	const char *names[DMEM_VQ_MAX] = {
		[DMEM_VQ_INFLATE] = "inflate",
		[DMEM_VQ_DEFLATE] = "deflate",
	};
	vq_callback_t *callbacks[DMEM_VQ_MAX] = {
		[DMEM_VQ_INFLATE] = dmem_ack,
		[DMEM_VQ_DEFLATE] = dmem_ack,
	};
	int err;

	/* A NULL name means "no such queue": find_vqs skips it. */
	if (virtio_has_feature(vdev, VIRTIO_BALLOON_F_STATS_VQ)) {
		names[DMEM_VQ_STATS] = "stats";
		callbacks[DMEM_VQ_STATS] = dmem_stats_request;
	}
	if (virtio_has_feature(vdev, VIRTIO_BALLOON_F_REPORTING)) {
		names[DMEM_VQ_REPORTING] = "reporting";
		callbacks[DMEM_VQ_REPORTING] = dmem_report_ack;
	}

#ifdef DMEM_HAVE_VQ_INFO
	{
		struct virtqueue_info info[DMEM_VQ_MAX] = {};
		int i;

		for (i = 0; i < DMEM_VQ_MAX; i++) {
			info[i].name = names[i];
			info[i].callback = callbacks[i];
		}
		err = virtio_find_vqs(vdev, DMEM_VQ_MAX, vqs, info, NULL);
	}
#else
	err = virtio_find_vqs(vdev, DMEM_VQ_MAX, vqs, callbacks, names, NULL);
#endif
	if (err)
		return err;

	b->inflate_vq = vqs[DMEM_VQ_INFLATE];
	b->deflate_vq = vqs[DMEM_VQ_DEFLATE];
	b->stats_vq = names[DMEM_VQ_STATS] ? vqs[DMEM_VQ_STATS] : NULL;
	b->reporting_vq = names[DMEM_VQ_REPORTING] ?
			  vqs[DMEM_VQ_REPORTING] : NULL;

	/* One descriptor per buffer: indirect descriptors are never used. */
	err = dmem_check_ring(b, b->inflate_vq, DMEM_RING_MIN);
	if (!err)
		err = dmem_check_ring(b, b->deflate_vq, DMEM_RING_MIN);
	if (!err && b->reporting_vq)
		err = dmem_check_ring(b, b->reporting_vq,
				      PAGE_REPORTING_CAPACITY);
	if (err)
		vdev->config->del_vqs(vdev);
	return err;
}

int dmem_xfers_alloc(struct dmem_balloon *b)
{
	static const unsigned int size[DMEM_NR_XFER] = {
		[DMEM_XFER_RESIZE0] = DMEM_BATCH_PFNS,
		[DMEM_XFER_RESIZE1] = DMEM_BATCH_PFNS,
		[DMEM_XFER_OOM] = DMEM_BATCH_PFNS,
		[DMEM_XFER_MIG_IN] = DMEM_PAGES_PER_PAGE,
		[DMEM_XFER_MIG_OUT] = DMEM_PAGES_PER_PAGE,
		/* LOG points into the deflate log (balloon.c). */
	};
	int i;

	for (i = 0; i < DMEM_NR_XFER; i++) {
		INIT_LIST_HEAD(&b->xfer[i].pages);
		if (!size[i])
			continue;
		b->xfer[i].pfns = kmalloc_array(size[i], sizeof(__virtio32),
						GFP_KERNEL);
		if (!b->xfer[i].pfns) {
			dmem_xfers_free(b);
			return -ENOMEM;
		}
	}
	return 0;
}

void dmem_xfers_free(struct dmem_balloon *b)
{
	int i;

	for (i = 0; i < DMEM_NR_XFER; i++)
		if (i != DMEM_XFER_LOG)
			kfree(b->xfer[i].pfns);
}

/**
 * dmem_page_pfns() - the 4 KiB frames of a guest page, as the device wants.
 * @b: the balloon
 * @dst: room for DMEM_PAGES_PER_PAGE entries
 * @page: the page
 *
 * Return: entries written.
 */
unsigned int dmem_page_pfns(struct dmem_balloon *b, __virtio32 *dst,
			    struct page *page)
{
	u32 pfn;
	unsigned int i;

	BUILD_BUG_ON(PAGE_SHIFT < VIRTIO_BALLOON_PFN_SHIFT);
	BUILD_BUG_ON(DMEM_BATCH_PFNS % DMEM_PAGES_PER_PAGE);
	pfn = page_to_pfn(page) * DMEM_PAGES_PER_PAGE;
	for (i = 0; i < DMEM_PAGES_PER_PAGE; i++)
		dst[i] = cpu_to_virtio32(b->vdev, pfn + i);
	return DMEM_PAGES_PER_PAGE;
}

/* Put the 4 KiB frames of @page at the end of @x. */
void dmem_xfer_add_page(struct dmem_balloon *b, struct dmem_xfer *x,
			struct page *page)
{
	x->nr += dmem_page_pfns(b, x->pfns + x->nr, page);
}

/* Give @pages, out of the balloon, back to the guest. */
void dmem_pages_to_guest(struct list_head *pages)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, pages, lru) {
		list_del(&page->lru);
		adjust_managed_page_count(page, 1);
		put_page(page);	/* the balloon's reference */
		cond_resched();
	}
}

/* The host is done with @x: the pages waiting for it move on. */
static void dmem_xfer_done(struct dmem_balloon *b, struct dmem_xfer *x)
{
	lockdep_assert_held(&b->xfer_lock);
	x->busy = false;
	if (x->inflate) {
		b->inflight_pfns -= x->nr;
		balloon_page_list_enqueue(&b->bdev_info, &x->pages);
	} else {
		b->deflate_unacked -= x->nr;
		dmem_pages_to_guest(&x->pages);
		if (x->page) {
			adjust_managed_page_count(x->page, 1);
			put_page(x->page);	/* the balloon's reference */
			x->page = NULL;
		}
	}
}

/* Every buffer still out is complete: the device is reset or gone. */
static void dmem_xfers_forget(struct dmem_balloon *b)
{
	int i;

	lockdep_assert_held(&b->xfer_lock);
	for (i = 0; i < DMEM_NR_XFER; i++)
		if (b->xfer[i].busy)
			dmem_xfer_done(b, &b->xfer[i]);
}

/*
 * Reset the device and free its queues. Buffers it still held will never
 * come back: they are complete as far as the guest is concerned.
 */
void dmem_vqs_exit(struct dmem_balloon *b)
{
	virtio_reset_device(b->vdev);
	mutex_lock(&b->xfer_lock);
	dmem_xfers_forget(b);
	mutex_unlock(&b->xfer_lock);
	b->vdev->config->del_vqs(b->vdev);
}

/**
 * dmem_xfer_send() - queue @x to the host, without waiting for it.
 * @b: the balloon
 * @x: a buffer that is not busy, @nr and @inflate set
 *
 * Never allocates: the OOM notifier sends through here.
 */
void dmem_xfer_send(struct dmem_balloon *b, struct dmem_xfer *x)
{
	struct virtqueue *vq = dmem_xfer_vq(b, x);
	struct scatterlist sg;
	int err;

	lockdep_assert_held(&b->xfer_lock);
	if (WARN_ON_ONCE(x->busy))
		return;

	x->busy = true;
	if (x->inflate)
		b->inflight_pfns += x->nr;
	sg_init_one(&sg, x->pfns, sizeof(x->pfns[0]) * x->nr);
	/*
	 * One descriptor, no indirect table: nothing to allocate. The ring
	 * holds every buffer we have (dmem_vqs_init() checked), so this
	 * fails only on a broken device, which will discard nothing.
	 */
	err = virtqueue_add_outbuf(vq, &sg, 1, x, GFP_NOWAIT | __GFP_NOWARN);
	if (err) {
		dev_warn_once(&b->vdev->dev, "cannot queue to the host: %d\n",
			      err);
		dmem_xfer_done(b, x);
		return;
	}
	virtqueue_kick(vq);
}

/**
 * dmem_reap() - take every buffer the host has returned.
 * @b: the balloon, running
 *
 * "actual" follows what came back.
 *
 * Return: true if any came back.
 */
bool dmem_reap(struct dmem_balloon *b)
{
	struct virtqueue *vqs[] = { b->inflate_vq, b->deflate_vq };
	struct dmem_xfer *x;
	unsigned int len, i;
	bool any = false;

	lockdep_assert_held(&b->xfer_lock);
	for (i = 0; i < ARRAY_SIZE(vqs); i++) {
		while ((x = virtqueue_get_buf(vqs[i], &len))) {
			dmem_xfer_done(b, x);
			any = true;
		}
	}
	if (any)
		dmem_update_actual(b);
	return any;
}

/**
 * dmem_host_wait() - let the host return a buffer.
 * @b: the balloon, @xfer_lock held; dropped while waiting
 * @deadline: jiffies after which to give up
 * @what: what we wait for, for the log line
 *
 * Reaps what came back; if nothing did, waits without the lock until the
 * host returns a buffer (any) or @deadline. The caller re-checks its
 * condition: another holder of the lock may have reaped meanwhile. A
 * broken queue (surprise removal) returns nothing ever again: its buffers
 * are complete at once.
 *
 * Return: 0, or -ETIMEDOUT (logged) once @deadline has passed.
 */
int dmem_host_wait(struct dmem_balloon *b, unsigned long deadline,
		   const char *what)
{
	int seq = atomic_read(&b->ack_seq);
	long left;

	lockdep_assert_held(&b->xfer_lock);
	if (dmem_reap(b))
		return 0;
	if (dmem_vqs_broken(b)) {
		dmem_xfers_forget(b);
		return 0;
	}
	left = (long)(deadline - jiffies);
	if (left > 0) {
		mutex_unlock(&b->xfer_lock);
		left = wait_event_timeout(b->acked,
					  atomic_read(&b->ack_seq) != seq ||
					  dmem_vqs_broken(b), left);
		mutex_lock(&b->xfer_lock);
		if (left)
			return 0;
	}
	dev_warn_ratelimited(&b->vdev->dev,
			     "the host has not returned %s in %u ms: giving up for now\n",
			     what, DMEM_HOST_TIMEOUT_MS);
	return -ETIMEDOUT;
}

/**
 * dmem_xfer_wait() - wait until the host has returned @x.
 * @b: the balloon, @xfer_lock held; dropped while waiting
 * @x: the buffer
 * @what: what @x carries, for the log line
 *
 * Return: 0, or -ETIMEDOUT after DMEM_HOST_TIMEOUT_MS; @x is still busy
 * then and comes back (or not) later.
 */
int dmem_xfer_wait(struct dmem_balloon *b, struct dmem_xfer *x,
		   const char *what)
{
	unsigned long deadline = jiffies +
				 msecs_to_jiffies(DMEM_HOST_TIMEOUT_MS);
	int err;

	while (x->busy) {
		err = dmem_host_wait(b, deadline, what);
		if (err)
			return err;
	}
	return 0;
}

/* The host's target, in 4 KiB pages. */
u32 dmem_read_target(struct dmem_balloon *b)
{
	u32 num_pages;

	/* Legacy balloon config space is little endian, unlike other devices. */
	virtio_cread_le(b->vdev, struct virtio_balloon_config, num_pages,
			&num_pages);
	return num_pages;
}

/* Tell the host what the balloon holds: what it has acknowledged. */
void dmem_update_actual(struct dmem_balloon *b)
{
	u32 actual;

	lockdep_assert_held(&b->xfer_lock);
	/*
	 * A page compaction moved in counts in both until the host has it; an
	 * offline can take such a page first: never below zero.
	 */
	actual = b->nr_pages > b->inflight_pfns ?
		 b->nr_pages - b->inflight_pfns : 0;
	WRITE_ONCE(b->actual, actual);
	virtio_cwrite_le(b->vdev, struct virtio_balloon_config, actual,
			 &actual);
}

/*
 * With PAGE_POISON the host must know what free pages contain, or it would
 * discard reported pages that the kernel expects to read back poisoned.
 */
void dmem_write_poison(struct dmem_balloon *b)
{
	u32 poison_val = 0;

	if (!virtio_has_feature(b->vdev, VIRTIO_BALLOON_F_PAGE_POISON))
		return;
	/* PAGE_POISON is one byte: no byte swapping needed. */
	if (!want_init_on_free())
		memset(&poison_val, PAGE_POISON, sizeof(poison_val));
	virtio_cwrite_le(b->vdev, struct virtio_balloon_config, poison_val,
			 &poison_val);
}

/* Hand the stats buffer, @n entries filled, to the host. */
int dmem_stats_send(struct dmem_balloon *b, unsigned int n)
{
	struct scatterlist sg;
	int err;

	sg_init_one(&sg, b->stats, sizeof(b->stats[0]) * n);
	err = virtqueue_add_outbuf(b->stats_vq, &sg, 1, b, GFP_KERNEL);
	if (err)
		return err;
	virtqueue_kick(b->stats_vq);
	return 0;
}

/*
 * Report free pages to the host, which may discard them. The pages are the
 * host's until it returns the request: the page_reporting core puts them
 * back on the free lists as soon as we return, so we cannot give up
 * waiting (upstream virtio_balloon waits the same way). A host slower than
 * DMEM_HOST_TIMEOUT_MS is logged; a broken queue ends the wait. This runs
 * in the page_reporting worker, never on an allocation or OOM path.
 */
static int dmem_free_page_report(struct page_reporting_dev_info *pr,
				 struct scatterlist *sg, unsigned int nents)
{
	struct dmem_balloon *b = container_of(pr, struct dmem_balloon,
					      pr_dev_info);
	struct virtqueue *vq = b->reporting_vq;
	unsigned long bytes = 0;
	unsigned int len, i;
	int err, seq;

	for (i = 0; i < nents; i++)
		bytes += sg[i].length;

	/* The page_reporting core sends at most its capacity, our ring size. */
	err = virtqueue_add_inbuf(vq, sg, nents, b, GFP_NOWAIT | __GFP_NOWARN);
	if (err)
		return err;
	virtqueue_kick(vq);
	for (;;) {
		seq = atomic_read(&b->ack_seq);
		if (virtqueue_get_buf(vq, &len))
			break;
		if (virtqueue_is_broken(vq))
			return -EIO;
		if (!wait_event_timeout(b->acked,
					atomic_read(&b->ack_seq) != seq ||
					virtqueue_is_broken(vq),
					msecs_to_jiffies(DMEM_HOST_TIMEOUT_MS)))
			dev_warn_ratelimited(&b->vdev->dev,
					     "the host has not returned a free page report in %u ms: still waiting, the pages are its until it does\n",
					     DMEM_HOST_TIMEOUT_MS);
	}
	atomic_long_add(bytes >> VIRTIO_BALLOON_PFN_SHIFT, &b->cnt.reported);
	return 0;
}

int dmem_reporting_init(struct dmem_balloon *b)
{
	if (!b->has_reporting)
		return 0;
	b->pr_dev_info.report = dmem_free_page_report;
	return page_reporting_register(&b->pr_dev_info);
}

void dmem_reporting_exit(struct dmem_balloon *b)
{
	if (b->has_reporting)
		page_reporting_unregister(&b->pr_dev_info);
}
