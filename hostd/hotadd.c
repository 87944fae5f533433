// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hotadd.c - planning DIMM hot-add (DESIGN.md section 3, "Mechanism").
 *
 * A balloon target can never exceed the live size, so growing past it takes
 * DIMMs of dimm_size_mib, up to the *live* <maxMemory> (the ceiling of this
 * boot: a <maxMemory> raised in the persistent definition only counts from
 * the next boot) and the slots left. A DIMM is committed whole the moment it
 * is attached: libvirt raises the balloon's actual by its size. So a DIMM is
 * only planned when the whole of it fits in the pool's free room, and the
 * guest then keeps the whole DIMM as its target rather than being asked to
 * balloon out part of what it was just given; the shrink path takes any
 * surplus back later.
 */
#include "policy-priv.h"

void dmem_hotadd_bounds(const DmemPolicyParams *p, const DmemVmInput *vm,
			DmemVmDecision *d)
{
	dmem_kib_t maximum = bound(vm->maximum_kib);
	dmem_kib_t live = bound(vm->live_kib);
	dmem_kib_t ceiling = MIN(maximum, bound(vm->hotadd_max_kib));
	dmem_kib_t reach = live;

	if (p->dimm_size_kib && ceiling > live) {
		guint64 dimms = (ceiling - live) / p->dimm_size_kib;

		reach = live + MIN(dimms, (guint64)vm->free_slots) * p->dimm_size_kib;
	}
	/* A maximum lowered below the live size is honoured by the balloon. */
	d->max_kib = MIN(maximum, reach);
	d->min_kib = MIN(bound(vm->minimum_kib), d->max_kib);
}

/* The target after @k DIMMs: the whole new live size, within the maximum. */
static dmem_kib_t target_after(const DmemPolicyParams *p, const DmemTargetVm *t,
			       const DmemVmDecision *d, guint k)
{
	if (!k)
		return d->target_kib;
	return MIN(t->live + (dmem_kib_t)k * p->dimm_size_kib, d->max_kib);
}

dmem_kib_t dmem_hotadd_reach(const DmemPolicyParams *p, const DmemTargetVm *t,
			     const DmemVmDecision *d)
{
	dmem_kib_t goal = MIN(d->allocation_kib, d->max_kib);
	dmem_kib_t dimm = p->dimm_size_kib;

	/* A few KiB over the live size is not a DIMM's worth (the ideal
	 * moves a little with every sample). */
	if (goal < sat_add(t->live, DMEM_GROW_MIN_KIB) || !dimm)
		return MIN(goal, t->live);
	return MIN(t->live + (goal - t->live + dimm - 1) / dimm * dimm, d->max_kib);
}

/*
 * TRUE when @a, given one more DIMM, would have less per weight than @b
 * would (weight 0 comes last): the next DIMM goes where it keeps the
 * shares closest to the weights.
 */
static gboolean poorer(guint k_a, guint w_a, guint k_b, guint w_b)
{
	if (!w_a || !w_b)
		return w_a > w_b;
	/* k <= slots, w <= 10000: no overflow */
	return (guint64)(k_a + 1) * w_b < (guint64)(k_b + 1) * w_a;
}

dmem_kib_t dmem_hotadd_plan(const DmemPolicyParams *p, const DmemTargetVm *g,
			    DmemVmDecision *out, gsize n, dmem_kib_t room)
{
	g_autofree guint *want = g_new0(guint, MAX(n, 1));
	g_autofree guint *k = g_new0(guint, MAX(n, 1));
	g_autofree dmem_kib_t *held = g_new0(dmem_kib_t, MAX(n, 1));
	g_autofree gboolean *ahead = g_new0(gboolean, MAX(n, 1));
	dmem_kib_t dimm = p->dimm_size_kib;

	if (!dimm)
		return room;
	for (gsize j = 0; j < n; j++) {
		const DmemVmDecision *d = &out[g[j].i];
		dmem_kib_t goal = MIN(d->allocation_kib, d->max_kib);

		/*
		 * Rising fast: the DIMM it is about to need, now, while there
		 * is free room (not what others are owed: the room left after
		 * the pool's sharing is all it can take).
		 */
		if (d->allocation_kib >= d->ideal_kib && d->ahead_kib > goal &&
		    goal <= g[j].live && MIN(d->ahead_kib, d->max_kib) > g[j].live) {
			goal = MIN(d->ahead_kib, d->max_kib);
			ahead[j] = TRUE;
		}

		/* Only a VM whose target already reached its live size (and
		 * not above it: libvirt never reports that, but if it did,
		 * the VM gets no DIMM before its target is sane again). */
		if (goal <= g[j].live || d->target_kib < g[j].live || g[j].cur > g[j].live)
			continue;
		/* max_kib is the live size plus whole DIMMs in free slots. */
		want[j] = (guint)MIN((goal - g[j].live + dimm - 1) / dimm,
				     (d->max_kib - g[j].live) / dimm);
		held[j] = dmem_held_with(&g[j], d->target_kib, 0, dimm);
	}

	for (;;) {
		gsize best = n;
		dmem_kib_t next, cost;

		for (gsize j = 0; j < n; j++)
			if (k[j] < want[j] &&
			    (best == n || poorer(k[j], g[j].weight, k[best], g[best].weight)))
				best = j;
		if (best == n)
			break;
		next = dmem_held_with(&g[best], target_after(p, &g[best], &out[g[best].i],
							      k[best] + 1),
				      k[best] + 1, dimm);
		cost = sat_sub(next, held[best]);
		if (cost > room || next > g[best].limit) {
			/* Not even one more whole DIMM fits, or it would take
			 * what is reserved for VMs still growing: it waits. */
			out[g[best].i].held_at_share |= next > g[best].limit;
			want[best] = k[best];
			continue;
		}
		room -= cost;
		held[best] = next;
		k[best]++;
	}

	for (gsize j = 0; j < n; j++) {
		DmemVmDecision *d = &out[g[j].i];

		if (!k[j])
			continue;
		d->dimms = k[j];
		d->dimm_ahead = ahead[j];
		d->target_kib = target_after(p, &g[j], d, k[j]);
		d->hotadd_fill_kib = sat_sub(d->target_kib, d->allocation_kib);
	}
	return room;
}
