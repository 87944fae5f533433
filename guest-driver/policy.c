// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmem_balloon: how many pages the balloon should hold. The host sets a
 * target (config num_pages); the resize worker moves towards it, at most
 * DMEM_RUN_PFNS per run. Guest safety comes first: inflation stops at a
 * floor of available memory and holds off after an OOM deflation, and with
 * DEFLATE_ON_OOM the OOM notifier takes a batch back without asking.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/mm.h>

#include "dmem_balloon.h"
#include "dmem_floor.h"

#define MIB_TO_PAGES(mib)	((unsigned long)(mib) << (20 - PAGE_SHIFT))
#define PAGES_TO_MIB(p)		((unsigned long)(p) >> (20 - PAGE_SHIFT))
#define PFNS_TO_MIB(n)		((u64)(n) >> (20 - VIRTIO_BALLOON_PFN_SHIFT))

/* One resize run moves at most this much (4 KiB pages): 128 MiB. */
#define DMEM_RUN_PFNS		(128U << (20 - VIRTIO_BALLOON_PFN_SHIFT))
/* Retry a refused or failed inflation this often while the target stands. */
#define DMEM_RETRY_MS		1000
/* Retry a deflation that found every page isolated by compaction. */
#define DMEM_ISOLATED_RETRY_MS	20
/* After an OOM deflation, do not inflate again for this long. */
#define DMEM_OOM_HOLDOFF_MS	10000

const char * const dmem_refusal_names[DMEM_NR_REFUSALS] = {
	[DMEM_REFUSED_NONE] = "none",
	[DMEM_REFUSED_FLOOR] = "floor",
	[DMEM_REFUSED_ALLOC] = "alloc",
	[DMEM_REFUSED_HOLDOFF] = "oom-holdoff",
	[DMEM_REFUSED_HOST] = "host",
};

/* The guest's memory as if nothing were ballooned, in pages. */
static unsigned long dmem_guest_pages(struct dmem_balloon *b)
{
	return totalram_pages() + READ_ONCE(b->nr_pages) / DMEM_PAGES_PER_PAGE;
}

/*
 * How many 4 KiB pages the floor lets us inflate right now: MemAvailable
 * above dmem_floor_mib() (dmem_floor.h, shared with the host policy).
 */
static unsigned long dmem_inflate_allowance(struct dmem_balloon *b)
{
	unsigned long guest_mib = PAGES_TO_MIB(dmem_guest_pages(b));
	unsigned long floor = MIB_TO_PAGES(dmem_floor_mib(guest_mib));
	long avail = si_mem_available();

	WRITE_ONCE(b->floor_pages, floor);
	if (avail <= 0 || (unsigned long)avail <= floor)
		return 0;
	return (avail - floor) * DMEM_PAGES_PER_PAGE;
}

/*
 * After an offline gave balloon pages up, the host is about to set a new
 * target (hotplug.c): inflation waits for it, a while.
 * Return: jiffies left to wait, or 0.
 */
static unsigned long dmem_offline_waiting(struct dmem_balloon *b)
{
	unsigned long until = READ_ONCE(b->offline_wait_until);

	if (!READ_ONCE(b->offline_wait))
		return 0;
	if (time_after_eq(jiffies, until)) {
		WRITE_ONCE(b->offline_wait, false);
		return 0;
	}
	return until - jiffies;
}

/*
 * Inflate by up to @want 4 KiB pages, a batch at a time; the hold-off and
 * the floor are checked again before every batch, so that memory an OOM
 * deflation just freed is not taken back.
 * Return: pages inflated; *@why says what stopped it short.
 */
static unsigned long dmem_grow(struct dmem_balloon *b, unsigned long want,
			       enum dmem_refusal *why)
{
	unsigned long done = 0, n;
	long r;

	*why = DMEM_REFUSED_NONE;
	while (done < want) {
		if (time_before(jiffies, READ_ONCE(b->holdoff_until))) {
			*why = DMEM_REFUSED_HOLDOFF;
			break;
		}
		n = min3(want - done, dmem_inflate_allowance(b),
			 (unsigned long)DMEM_BATCH_PFNS);
		n = rounddown(n, DMEM_PAGES_PER_PAGE);
		if (!n) {
			*why = DMEM_REFUSED_FLOOR;
			break;
		}
		r = dmem_inflate_batch(b, n);
		if (r < 0) {
			*why = DMEM_REFUSED_HOST;
			break;
		}
		done += r;
		if (r < n) {
			*why = DMEM_REFUSED_ALLOC;
			break;
		}
	}
	if (dmem_inflate_finish(b) && !*why)
		*why = DMEM_REFUSED_HOST;
	return done;
}

/* Count a refusal once, not every retry; say what it is when that changes. */
static void dmem_note_refusal(struct dmem_balloon *b, u64 short_pfns,
			      enum dmem_refusal why)
{
	static const char * const what[DMEM_NR_REFUSALS] = {
		[DMEM_REFUSED_FLOOR] = "MemAvailable is at the guest floor",
		[DMEM_REFUSED_ALLOC] = "no free page could be had",
		[DMEM_REFUSED_HOLDOFF] = "holding off after an OOM deflation",
		[DMEM_REFUSED_HOST] = "the host does not answer",
	};

	if (why == DMEM_REFUSED_NONE)
		short_pfns = 0;
	if (short_pfns && !READ_ONCE(b->refused))
		atomic_long_inc(&b->cnt.refused_requests);
	if (short_pfns && why != READ_ONCE(b->refused_why)) {
		if (why == DMEM_REFUSED_FLOOR)
			dev_info_ratelimited(&b->vdev->dev,
					     "inflation stopped %llu MiB short of the target: %s (%lu MiB)\n",
					     PFNS_TO_MIB(short_pfns), what[why],
					     PAGES_TO_MIB(READ_ONCE(b->floor_pages)));
		else
			dev_info_ratelimited(&b->vdev->dev,
					     "inflation stopped %llu MiB short of the target: %s\n",
					     PFNS_TO_MIB(short_pfns), what[why]);
	}
	WRITE_ONCE(b->refused, short_pfns);
	WRITE_ONCE(b->refused_why, short_pfns ? why : DMEM_REFUSED_NONE);
}

void dmem_resize_work(struct work_struct *work)
{
	struct dmem_balloon *b = container_of(to_delayed_work(work),
					      struct dmem_balloon,
					      resize_work);
	enum dmem_refusal why = DMEM_REFUSED_NONE;
	unsigned long retry = 0, wait;
	u32 num_pages;
	long done;
	s64 diff;

	num_pages = dmem_read_target(b);
	WRITE_ONCE(b->target, num_pages);
	/* Whole guest pages only, or we would flap around an odd target. */
	diff = (s64)ALIGN((u64)num_pages, DMEM_PAGES_PER_PAGE) -
	       (s64)READ_ONCE(b->nr_pages);

	if (diff > 0) {
		wait = dmem_offline_waiting(b);
		if (wait) {
			/* Not a refusal: the host is about to say what it wants. */
			dmem_queue_resize(b, wait);
			return;
		}
		diff -= dmem_grow(b, rounddown(min_t(s64, diff, DMEM_RUN_PFNS),
					       DMEM_PAGES_PER_PAGE), &why);
		if (why != DMEM_REFUSED_NONE)
			retry = msecs_to_jiffies(DMEM_RETRY_MS);
	} else if (diff < 0) {
		done = dmem_deflate(b, -diff);
		if (done < 0)
			retry = msecs_to_jiffies(DMEM_RETRY_MS);
		else if (!done)
			retry = msecs_to_jiffies(DMEM_ISOLATED_RETRY_MS);
		else
			diff += done;
	}

	dmem_note_refusal(b, diff > 0 ? diff : 0, why);
	if (diff)
		dmem_queue_resize(b, retry);
}

/*
 * Out of memory: hand one batch (16 MiB) back to the guest, never waiting
 * for the host with oom_lock held (balloon.c), and hold inflation off so the
 * memory is not taken straight back. Under MUST_TELL_HOST the pages are
 * freed when the host answers, moments later: nothing counts as freed now.
 */
int dmem_oom_notify(struct notifier_block *nb, unsigned long unused,
		    void *parm)
{
	struct dmem_balloon *b = container_of(nb, struct dmem_balloon, oom_nb);
	unsigned long *freed = parm;
	unsigned long done;

	/* Between a failed restore and removal there is no device. */
	if (!READ_ONCE(b->running))
		return NOTIFY_OK;
	WRITE_ONCE(b->holdoff_until,
		   jiffies + msecs_to_jiffies(DMEM_OOM_HOLDOFF_MS));
	done = dmem_deflate_oom(b, DMEM_BATCH_PFNS);
	if (done) {
		atomic_long_inc(&b->cnt.oom_events);
		atomic_long_add(done, &b->cnt.oom_deflated);
		if (!b->tell_host_first)
			*freed += done / DMEM_PAGES_PER_PAGE;
		/* Come back after the hold-off to see if the target fits again. */
		dmem_queue_resize(b, msecs_to_jiffies(DMEM_OOM_HOLDOFF_MS));
	}
	return NOTIFY_OK;
}
