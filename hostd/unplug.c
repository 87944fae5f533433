// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * unplug.c - giving hot-added DIMMs back (DESIGN.md section 3, "Mechanism",
 * hot-remove).
 *
 * A balloon gives memory back page by page: the guest zeroes and hands over
 * every 4 KiB page, the host discards each one. A DIMM the guest no longer
 * needs goes back whole: the guest offlines its memory blocks (dmem_balloon
 * gives up the balloon pages in them in place), QEMU frees the backend, and
 * the guest's MemTotal tells the truth again. So a surplus that leaves
 * whole hot-added DIMMs unused is given back by unplugging them, newest
 * first, one at a time, once it has lasted unplug_delay_s (at once when
 * another VM is short); only what stays is ballooned.
 *
 * The unplug clock runs while the allocation leaves the newest DIMM unused
 * and demand does not rise, like the shrink delay's (targets.c): the
 * highest allocation since the clock started must leave it unused, with
 * DMEM_UNPLUG_MARGIN_KIB to spare when the allocation is above the minimum
 * (the ideal moves; a DIMM unplugged at the edge would come back). A
 * removal lowers the live size, not the clock: the next DIMM, unused all
 * along, follows at once.
 *
 * The balloon target counts what the guest has, its DIMMs included; QEMU
 * keeps the balloon's page count when a DIMM goes, so the guest's size
 * drops by the DIMM. While DIMMs wait for their unplug the balloon stays off
 * them (keep_balloon_off: the target stays their size above the goal, which
 * the unplugs then take), unless the balloon is to shrink first: another VM
 * is short, a cache probe runs, or unplug_delay_s is the longer delay. A
 * DIMM the balloon already covers goes all the same: the guest gives the
 * balloon pages in it up in place. But what the DIMM holds besides must fit
 * in the rest of the guest while it is offlined, so the target is raised by
 * the DIMM first (unplug_raise_kib; from the pool's free room, or the
 * unplug waits), and the guest never has less than the target after the
 * unplug at any moment of it.
 *
 * A VM whose guest refused an unplug (unplug_blocked: the mechanism's
 * backoff) or that may not unplug keeps its DIMMs, and its balloon takes
 * the surplus as before.
 */
#include "policy-priv.h"

void dmem_unplug_plan(const DmemPolicyParams *p, const DmemHostInput *h,
		      const DmemVmInput *vm, const DmemTargetVm *t, DmemVmState *st,
		      DmemVmDecision *d, gboolean contention, dmem_kib_t *room)
{
	dmem_kib_t goal = MAX(MIN(d->allocation_kib, d->max_kib), d->min_kib);
	/* What must fit in what stays: the goal, with a margin if it moves. */
	dmem_kib_t need = goal > d->min_kib ? sat_add(goal, DMEM_UNPLUG_MARGIN_KIB) : goal;
	guint k = MIN(vm->removable_dimms, (guint)DMEM_UNPLUG_DIMMS_MAX);
	dmem_kib_t spare = 0, newest;
	gboolean stale;
	gint64 waited_s;

	if (!vm->unplug_enabled || vm->unplug_blocked || vm->unplugging || !k) {
		st->unplug_since_us = 0;
		return;
	}
	while (d->unplug_dimms < k &&
	       sat_add(need, sat_add(spare, bound(vm->removable_kib[d->unplug_dimms]))) <= t->live)
		spare += bound(vm->removable_kib[d->unplug_dimms++]);
	if (!d->unplug_dimms) {
		st->unplug_since_us = 0;
		return;
	}
	d->unplug_spare_kib = spare;
	newest = bound(vm->removable_kib[0]);
	d->keep_balloon_off = !contention && !d->probing && t->cur <= d->max_kib &&
			      p->unplug_delay_s <= p->shrink_delay_s;
	/*
	 * Statistics from before the last unplug say nothing about the guest
	 * without it (its floor, what it holds outside MemTotal): the clock
	 * neither moves nor decides on them; fresh ones come within a period.
	 * While another VM is short the clock does not decide, and the next
	 * DIMM goes without waiting for them (QEMU stamps statistics in whole
	 * seconds: waiting paced the unplugs at one per 2-3 s): an unplug does
	 * not lower what the guest uses, and statistics taken before or while
	 * it offlined a DIMM overstate it (pages isolated for migration count
	 * as used), so the goal they give is not too small. The clock keeps
	 * what it had.
	 */
	stale = vm->unplugged_kib && st->unplug_since_us;
	if (stale && !contention)
		return;

	if (!stale) {
		if (!st->unplug_since_us ||
		    dmem_demand_rose(d->demand_kib, st->unplug_demand_kib) ||
		    sat_add(MAX(st->unplug_goal_kib, need), newest) > t->live) {
			st->unplug_since_us = h->now_us;
			st->unplug_demand_kib = d->demand_kib;
			st->unplug_goal_kib = need;
		} else {
			st->unplug_demand_kib = MIN(st->unplug_demand_kib, d->demand_kib);
			st->unplug_goal_kib = MAX(st->unplug_goal_kib, need);
		}
	}
	waited_s = (h->now_us - st->unplug_since_us) / G_USEC_PER_SEC;
	if (!contention && waited_s < (gint64)p->unplug_delay_s) {
		d->unplug_wait_s = p->unplug_delay_s - waited_s;
		return;
	}
	/* What the balloon keeps stays; a target at the goal stays there. */
	d->unplug_target_kib = MIN(MAX(sat_sub(t->cur, newest), goal), t->live - newest);
	d->unplug_raise_kib = sat_sub(MIN(d->unplug_target_kib + newest, t->live), t->cur);
	if (d->unplug_raise_kib > *room) {
		d->unplug_needs_room = TRUE;
		d->unplug_raise_kib = 0;
		return;
	}
	*room -= d->unplug_raise_kib;
	d->unplug = TRUE;
	d->unplug_at_once = waited_s < (gint64)p->unplug_delay_s;
	d->unplug_kib = newest;
}
