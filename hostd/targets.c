// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * targets.c - when a VM's balloon target moves toward its allocation
 * (DESIGN.md section 3, "Timing").
 *
 * Growth happens on the next cycle, but only out of memory that nobody
 * holds: a target that another VM was asked to give back frees nothing until
 * its balloon has actually given it back. Idle surplus is returned after
 * shrink_delay_s, at once when another VM is short or the maximum was
 * lowered, and never faster than max_shrink_mib_per_s nor below the minimum.
 */
#include "policy-priv.h"

/*
 * What the VM holds now is max(target, actual, rss - overhead). Memory
 * resident beyond what the balloon accounts for (QEMU's own before its
 * overhead is learned, a guest that lies) stays on top of any change: a
 * rise of the target costs its whole increase, it is not "paid" by memory
 * QEMU already had for something else.
 */
dmem_kib_t dmem_held_with(const DmemTargetVm *t, dmem_kib_t target,
			  guint dimms, dmem_kib_t dimm_kib)
{
	/* libvirt raises the balloon's actual by each DIMM it attaches. */
	dmem_kib_t actual = sat_add(t->actual, (dmem_kib_t)dimms * dimm_kib);

	return sat_add(MAX(target, actual), t->excess);
}

/*
 * The shrink delay's clock, for a VM whose target is above its allocation.
 *
 * Surplus counts as idle only while demand is not rising. A workload that
 * is still growing (demand up every cycle, DIMMs hot-added and filled) has
 * a surplus at every moment, but not one it can spare: shrinking it would
 * take memory the guest is about to use, and the guest would refuse part of
 * the balloon request or ask for it back a cycle later. So the clock
 * restarts whenever demand has risen noticeably (dmem_demand_rose()) above its
 * lowest value since the clock last started, which catches a fast rise
 * within a cycle as well as a slow creep over several, and ignores noise.
 * The surplus is shrunk once demand has been flat (or falling) for
 * shrink_delay_s, and only as much of it as lasted that long: down to the
 * highest goal since the clock started. A goal that fell further later
 * (the workload ended while a DIMM's rounding waited out its delay, or in
 * two samples) is a newer surplus: its clock starts when it appears and
 * takes over once the older surplus is taken. Contention does not wait
 * for the clock at all.
 */
gboolean dmem_demand_rose(dmem_kib_t now, dmem_kib_t ref)
{
	return now > ref &&
	       now - ref > MAX(DMEM_DEMAND_RISE_MIN_KIB,
			       percent_of(ref, DMEM_DEMAND_RISE_PERCENT));
}

gboolean dmem_policy_needs_cycle(const DmemVmDecision *last, const DmemGuestStats *now)
{
	if (!last->demand_known || !now->has_total || !now->has_available ||
	    now->available_kib > now->total_kib)
		return FALSE;
	return dmem_demand_rose(bound(now->total_kib - now->available_kib), last->used_kib);
}

static void surplus_clock_start(const DmemHostInput *h, DmemVmState *st,
				const DmemVmDecision *d, dmem_kib_t goal)
{
	st->surplus_since_us = h->now_us;
	st->surplus_demand_kib = d->demand_kib;
	st->surplus_goal_kib = goal;
	st->surplus_next_since_us = 0;
}

static void surplus_clock(const DmemHostInput *h, DmemVmState *st,
			  DmemVmDecision *d, dmem_kib_t goal)
{
	gboolean rising = st->surplus_since_us &&
			  dmem_demand_rose(d->demand_kib, st->surplus_demand_kib);

	if (st->surplus_since_us == 0 || rising) {
		surplus_clock_start(h, st, d, goal);
		d->demand_rising = rising;
		return;
	}
	st->surplus_demand_kib = MIN(st->surplus_demand_kib, d->demand_kib);
	if (sat_add(goal, DMEM_SHRINK_MIN_KIB) > st->surplus_goal_kib) {
		/* The older surplus; a newer one that came back did not last. */
		st->surplus_goal_kib = MAX(st->surplus_goal_kib, goal);
		st->surplus_next_since_us = 0;
	} else if (!st->surplus_next_since_us) {
		st->surplus_next_since_us = h->now_us;
		st->surplus_next_goal_kib = goal;
	} else {
		st->surplus_next_goal_kib = MAX(st->surplus_next_goal_kib, goal);
	}
}

/* The older surplus is taken: the newer one's clock, or a new one. */
static void surplus_clock_next(const DmemHostInput *h, DmemVmState *st,
			       const DmemVmDecision *d, dmem_kib_t goal)
{
	if (!st->surplus_next_since_us) {
		surplus_clock_start(h, st, d, goal);
		return;
	}
	st->surplus_since_us = st->surplus_next_since_us;
	st->surplus_goal_kib = st->surplus_next_goal_kib;
	st->surplus_next_since_us = 0;
}

/*
 * Lower @cur toward @goal by at most one step: max_shrink_mib_per_s for the
 * time since the VM's last step (at most an interval): a cycle between
 * cycles (a guest's demand rose) does not make another VM shrink faster.
 */
static dmem_kib_t step_down(const DmemPolicyParams *p, const DmemHostInput *h,
			    DmemVmState *st, dmem_kib_t cur, dmem_kib_t goal,
			    DmemVmDecision *d)
{
	gint64 since_us = h->now_us - st->stepped_us;
	dmem_kib_t ms = p->interval_ms, step;

	if (st->stepped_us && since_us >= 0 && since_us < (gint64)p->interval_ms * 1000)
		ms = (dmem_kib_t)(since_us / 1000);
	/* rate <= 2^42 KiB/s, ms <= an interval (<= 60 s): no overflow */
	step = MAX(bound(p->max_shrink_kib_per_s) * ms / 1000, 1);
	st->stepped_us = h->now_us;

	if (cur - goal > step) {
		d->shrink_rate_limited = TRUE;
		return cur - step;
	}
	return goal;
}

void dmem_targets_shrink(const DmemPolicyParams *p, const DmemHostInput *h,
			 const DmemTargetVm *t, DmemVmState *st,
			 DmemVmDecision *d, gboolean contention)
{
	/* Never below the minimum, even when the pool cannot cover it; a
	 * cache probe holds the VM below its allocation (cache.c). */
	dmem_kib_t goal = MAX(d->probing ? MIN(d->allocation_kib, d->probe_target_kib) :
			      d->allocation_kib, d->min_kib);

	/*
	 * DIMMs waiting for their unplug are not ballooned (unplug.c); the
	 * clock runs on the whole surplus all the same, so that the balloon
	 * takes it at once if the unplug is refused.
	 */
	dmem_kib_t keep = d->keep_balloon_off ? MIN(t->cur, sat_add(goal, d->unplug_spare_kib)) : 0;

	d->target_kib = t->cur;
	/* An unplug goes first. */
	if (d->unplug)
		return;
	if (goal >= t->cur) {
		st->surplus_since_us = 0;
		return;
	}
	/* A maximum lowered below the target: no delay, still the rate. */
	d->above_maximum = t->cur > d->max_kib;
	if (t->cur - goal < DMEM_SHRINK_MIN_KIB && !d->above_maximum) {
		/* Not worth a balloon operation; a running clock still
		 * notices a rise of demand. */
		if (st->surplus_since_us)
			surplus_clock(h, st, d, goal);
		return;
	}
	surplus_clock(h, st, d, goal);
	d->shrink_at_once = contention;
	if (!contention && !d->above_maximum && !d->probing) {
		gint64 waited_s;

		/* What lasted the delay is taken: a newer surplus waits its own. */
		if (sat_add(st->surplus_goal_kib, DMEM_SHRINK_MIN_KIB) > t->cur)
			surplus_clock_next(h, st, d, goal);
		waited_s = (h->now_us - st->surplus_since_us) / G_USEC_PER_SEC;
		if (waited_s < (gint64)p->shrink_delay_s) {
			d->shrink_delayed = TRUE;
			d->shrink_wait_s = p->shrink_delay_s - waited_s;
			return;
		}
		goal = MAX(goal, st->surplus_goal_kib);
	}
	goal = MAX(goal, keep);
	if (goal >= t->cur)
		return;
	d->target_kib = step_down(p, h, st, t->cur, goal, d);
}

void dmem_targets_reclaim(const DmemPolicyParams *p, const DmemHostInput *h,
			  const DmemTargetVm *t, DmemVmState *st,
			  DmemVmDecision *d, gboolean contention)
{
	dmem_kib_t goal;

	d->target_kib = t->cur;
	/*
	 * Only while another VM is short, only after the grace period, and
	 * only down to what the guest last told us it needs: a guest that
	 * never sent statistics (no driver) keeps everything.
	 */
	if (!contention || !p->reclaim_unresponsive_s || !st->last_floor_target_kib ||
	    d->held_for_s < (gint64)p->reclaim_unresponsive_s)
		return;
	goal = MAX(d->min_kib, bound(st->last_floor_target_kib));
	if (sat_add(goal, DMEM_SHRINK_MIN_KIB) > t->cur)
		return;
	d->target_kib = step_down(p, h, st, t->cur, goal, d);
	d->reclaiming = TRUE;
}

/*
 * Within the live size a rise costs what it adds to what the VM holds: a
 * balloon that still holds more than its target (a shrink in progress)
 * rises for free up to its actual size, and everything above costs (see
 * dmem_held_with()). The room is shared by weight.
 */
static dmem_kib_t grow_within_live(const DmemTargetVm *g, DmemVmDecision *out,
				   gsize n, dmem_kib_t room)
{
	g_autofree dmem_kib_t *want = g_new0(dmem_kib_t, MAX(n, 1));
	g_autofree dmem_kib_t *cap = g_new0(dmem_kib_t, MAX(n, 1));
	g_autofree dmem_kib_t *x = g_new0(dmem_kib_t, MAX(n, 1));
	g_autofree guint *w = g_new0(guint, MAX(n, 1));
	dmem_kib_t used = 0;

	for (gsize k = 0; k < n; k++) {
		const DmemVmDecision *d = &out[g[k].i];

		want[k] = MIN(MIN(d->allocation_kib, g[k].live), g[k].limit);
		cap[k] = sat_sub(want[k], MAX(g[k].cur, g[k].actual));
		w[k] = g[k].weight;
	}
	dmem_waterfill(cap, w, x, n, room);
	for (gsize k = 0; k < n; k++) {
		DmemVmDecision *d = &out[g[k].i];
		dmem_kib_t to = MIN(want[k], sat_add(MAX(g[k].cur, g[k].actual), x[k]));

		d->target_kib = MAX(g[k].cur, to);
		d->held_at_share = g[k].limit < MIN(d->allocation_kib, g[k].live);
		used += x[k];
	}
	return room - used;
}

dmem_kib_t dmem_targets_grow(const DmemPolicyParams *p, const DmemTargetVm *g,
			     DmemVmDecision *out, gsize n, dmem_kib_t room)
{
	room = grow_within_live(g, out, n, room);
	room = dmem_hotadd_plan(p, g, out, n, room);

	for (gsize k = 0; k < n; k++) {
		DmemVmDecision *d = &out[g[k].i];

		/*
		 * A small rise without a DIMM is not worth a balloon
		 * operation: the ideal moves a little with every sample.
		 * A target below the minimum is raised whatever the size.
		 */
		if (!d->dimms && d->target_kib > g[k].cur &&
		    d->target_kib - g[k].cur < DMEM_GROW_MIN_KIB &&
		    g[k].cur >= d->min_kib)
			d->target_kib = g[k].cur;
		/* Short of its allocation by more than a skipped rise. */
		d->growth_limited = sat_add(d->target_kib, DMEM_GROW_MIN_KIB) <=
				    MIN(d->allocation_kib, d->max_kib);
	}
	return room;
}
