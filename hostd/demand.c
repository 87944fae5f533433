// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * demand.c - a VM's memory demand and ideal size from its guest's statistics
 * (DESIGN.md section 3, "demand" and "ideal").
 *
 * demand = in use (total - available) + what the guest cannot give back
 * (assigned - total, learned) + pressure (swap-in, major faults, allocation
 * stalls); ideal = max(demand + buffer, what the guest's balloon floor lets
 * it reach), within the VM's bounds. Everything the guest reports is
 * validated and bounded first: the guest is untrusted input.
 */
#include "policy-priv.h"

#include "dmem_floor.h"

static gint64 stale_after_s(const DmemPolicyParams *p)
{
	gint64 intervals_s = ((gint64)p->interval_ms * DMEM_STATS_STALE_INTERVALS
			      + 999) / 1000;

	return MAX(DMEM_STATS_STALE_MIN_S, intervals_s);
}

/* Rate of a cumulative counter per second; a counter that went back (guest
 * reboot, or a lie) restarts from zero. */
static guint64 rate(guint64 now, guint64 before, gint64 dt_s, guint64 cap)
{
	if (now < before)
		return 0;
	return MIN((now - before) / (guint64)dt_s, cap);
}

static dmem_kib_t pressure_from_sample(const DmemGuestStats *s, DmemVmState *st,
				       dmem_kib_t total_kib)
{
	dmem_kib_t pressure = 0;
	gint64 dt_s;

	if (st->sample_s == 0 || s->last_update_s <= st->sample_s)
		return 0;	/* first sample, or the clock went back */
	dt_s = s->last_update_s - st->sample_s;

	if (s->has_swap_in) {
		/* Cannot swap in more than the guest's memory per second. */
		guint64 kib_per_s = rate(s->swap_in_kib, st->swap_in_kib, dt_s,
					 total_kib);

		pressure += kib_per_s * DMEM_PRESSURE_WINDOW_S;
	}
	if (s->has_major_faults) {
		guint64 per_s = rate(s->major_faults, st->major_faults, dt_s,
				     total_kib / DMEM_PAGE_KIB);

		if (per_s > DMEM_MAJOR_FAULT_NOISE_PER_S)
			pressure += (per_s - DMEM_MAJOR_FAULT_NOISE_PER_S) *
				    DMEM_PAGE_KIB * DMEM_PRESSURE_WINDOW_S;
	}
	if (s->has_alloc_stalls && s->alloc_stalls > st->alloc_stalls)
		pressure += percent_of(total_kib, DMEM_ALLOC_STALL_PRESSURE_PERCENT);

	return MIN(pressure, percent_of(total_kib, DMEM_PRESSURE_MAX_PERCENT));
}

/*
 * Compute demand from @vm's stats. Returns FALSE, with the reason in @d,
 * when the stats cannot be used.
 */
gboolean dmem_demand_compute(const DmemPolicyParams *p, const DmemHostInput *h,
			       const DmemVmInput *vm, DmemVmState *st,
			       DmemVmDecision *d)
{
	const DmemGuestStats *s = &vm->stats;
	dmem_kib_t live = bound(vm->live_kib);
	/* Statistics from before an unplug still count the DIMM. */
	dmem_kib_t total_max = sat_add(sat_add(live, bound(vm->unplugged_kib)),
				       percent_of(live, DMEM_STATS_TOTAL_SLACK_PERCENT));
	gint64 age_s = h->now_real_s - s->last_update_s;

	if (age_s > stale_after_s(p)) {
		dmem_policy_set_reason(d, "stats are %" G_GINT64_FORMAT " s old (guest not answering)",
			   age_s);
		return FALSE;
	}
	if (!s->has_total || !s->has_available) {
		dmem_policy_set_reason(d, "guest reports no %s memory statistic",
			   s->has_total ? "available" : "total");
		return FALSE;
	}
	if (s->total_kib == 0) {
		dmem_policy_set_reason(d, "guest reports zero total memory");
		return FALSE;
	}
	if (s->total_kib > total_max) {
		dmem_policy_set_reason(d, "guest reports " MIB_FMT " total but has only "
			   MIB_FMT, MIB(bound(s->total_kib)), MIB(live));
		return FALSE;
	}
	if (s->available_kib > s->total_kib) {
		dmem_policy_set_reason(d, "guest reports more available (" MIB_FMT
			   ") than total (" MIB_FMT ") memory",
			   MIB(bound(s->available_kib)), MIB(s->total_kib));
		return FALSE;
	}

	if (s->last_update_s != st->sample_s) {
		/*
		 * The balloon is in host terms, MemTotal in the guest's: the
		 * difference is memory the guest cannot give back. Only a
		 * sample taken while assigned stood still shows it; right
		 * after a DIMM or a balloon move the two disagree for a while.
		 */
		if (st->sample_s && vm->assigned_kib == st->overhead_ref_kib)
			st->overhead_kib = MIN(sat_sub(bound(vm->assigned_kib), s->total_kib),
					       percent_of(vm->assigned_kib,
							  DMEM_GUEST_OVERHEAD_MAX_PERCENT));
		st->overhead_ref_kib = vm->assigned_kib;
		st->pressure_kib = pressure_from_sample(s, st, s->total_kib);
		/* bounded by total_max: no overflow */
		st->rise_kib_per_s = st->sample_s && s->last_update_s > st->sample_s &&
				     s->total_kib - s->available_kib > st->used_kib ?
				     (s->total_kib - s->available_kib - st->used_kib) /
				     (dmem_kib_t)(s->last_update_s - st->sample_s) : 0;
		st->used_kib = s->total_kib - s->available_kib;
		st->sample_s = s->last_update_s;
		st->swap_in_kib = s->swap_in_kib;
		st->major_faults = s->major_faults;
		st->alloc_stalls = s->alloc_stalls;
	}

	d->demand_known = TRUE;
	d->used_kib = s->total_kib - s->available_kib;
	d->overhead_kib = st->overhead_kib;
	d->pressure_kib = st->pressure_kib;
	/* each <= 2^43 */
	d->demand_kib = d->used_kib + d->overhead_kib + d->pressure_kib;
	return TRUE;
}

/*
 * The lowest balloon target @vm's guest can reach: its driver stops inflating
 * where MemAvailable would drop below its floor (DESIGN.md section 2,
 * dmem_floor.h). Inflating by X takes X out of both MemTotal and MemAvailable,
 * so what the guest has in use stays put and the balloon stops at
 *
 *	in use (total - available) + overhead (assigned - total) + floor
 *
 * in host terms. A target below that is refused: the balloon stays short,
 * and after DMEM_BALLOON_TIMEOUT_S the VM would look unresponsive. The ideal
 * is raised to it, so the host never asks for memory the guest keeps.
 *
 * The guest computes its floor from its size without the balloon: MemTotal
 * plus the balloon, i.e. the live size minus the overhead (and minus DIMMs
 * not yet onlined). The policy uses the live size instead: libvirt's number,
 * not the guest's, and never below the guest's own (the floor is
 * non-decreasing), so the host's floor is an upper bound of the guest's. It
 * is higher by at most half the overhead (the floor's steepest slope), a few
 * MiB in practice; a floor below the guest's would get refused instead.
 *
 * The floor grows with the live size: a guest the floor raises above its
 * live size gets DIMMs, which raise the floor by at most half their size
 * (an eighth from 512 MiB up), so growth settles after a DIMM or two.
 *
 * Limits. The overhead is the learned one (compute_demand()): until it is
 * learned the target may be short of it, which matters only for a shrink,
 * and a shrink of idle surplus waits shrink_delay_s, by which time it is.
 * And this raises the ideal, not the minimum: when the pool is contended,
 * arbitration may still give a VM less (down to its minimum, which is a
 * guarantee to the others); its guest then keeps what its floor needs, and
 * the stuck-balloon rule holds it there.
 *
 * The guest's numbers are untrusted: compute_demand() already bounds total
 * by the live size plus slack and the overhead by a share of assigned; here
 * in use plus overhead is bounded by the live size (an honest guest cannot
 * use more than it has) and the floor by the floor of the live size, so the
 * result is at most live + floor(live), whatever the guest says.
 */
static void floor_target(const DmemVmInput *vm, DmemVmDecision *d)
{
	dmem_kib_t live = bound(vm->live_kib);
	/* live <= 2^42 KiB: at most 2^32 MiB, within any unsigned long but
	 * a 32-bit one's last value. */
	unsigned long live_mib = (unsigned long)MIN(live / DMEM_KIB_PER_MIB,
						    (dmem_kib_t)G_MAXULONG);
	dmem_kib_t floor_kib = (dmem_kib_t)dmem_floor_mib(live_mib) * DMEM_KIB_PER_MIB;
	dmem_kib_t in_use = MIN(sat_add(d->used_kib, d->overhead_kib), live);

	d->floor_kib = floor_kib;
	d->floor_target_kib = in_use + floor_kib;
}

void dmem_demand_ideal(const DmemVmInput *vm, const DmemVmState *st, DmemVmDecision *d)
{
	dmem_kib_t buffered = sat_add(d->demand_kib, percent_of(d->demand_kib, buffer_of(vm)));
	dmem_kib_t ahead = sat_add(d->demand_kib, bound(st->rise_kib_per_s) * DMEM_AHEAD_S);

	floor_target(vm, d);
	d->ideal_kib = MAX(buffered, d->floor_target_kib);
	/* Report the ideal within the declared bounds, even when the slots
	 * left cannot reach it; the claim is what can be reached. */
	d->ideal_kib = clamp_kib(d->ideal_kib, d->min_kib,
				 MAX(bound(vm->maximum_kib), d->min_kib));
	/* The floor decided unless the buffer or a bound did. */
	d->ideal_at_floor = d->ideal_kib == d->floor_target_kib &&
			    d->floor_target_kib > buffered;
	d->ahead_kib = d->ideal_kib;
	if (st->rise_kib_per_s >= DMEM_AHEAD_MIN_KIB_PER_S)
		d->ahead_kib = clamp_kib(sat_add(ahead, percent_of(ahead, buffer_of(vm))),
					 d->ideal_kib, MAX(bound(vm->maximum_kib), d->min_kib));
}

/*
 * The read rate is the host's count, trusted (a guest cannot make QEMU
 * count reads it did not do), over the time between two cycles; a counter
 * that went back (a disk removed, a new boot) starts again. The cache is
 * the guest's word: bounded by its total memory, and only shown.
 */
void dmem_demand_io(const DmemHostInput *h, const DmemVmInput *vm, DmemVmState *st,
		    DmemVmDecision *d)
{
	const DmemGuestStats *s = &vm->stats;

	if (s->has_disk_caches && s->has_total && s->total_kib) {
		d->cache_known = TRUE;
		d->cache_kib = MIN(s->disk_caches_kib, s->total_kib);
	}
	if (!vm->has_disk_io)
		return;
	if (st->io_sample_us && h->now_us > st->io_sample_us &&
	    vm->disk_read_bytes >= st->io_read_bytes) {
		st->io_read_kib_per_s = kib_per_s((vm->disk_read_bytes - st->io_read_bytes) / 1024,
						  h->now_us - st->io_sample_us);
	} else if (st->io_sample_us && vm->disk_read_bytes < st->io_read_bytes) {
		st->io_read_kib_per_s = 0;
	}
	if (st->io_sample_us)
		d->disk_io_known = TRUE;
	d->disk_read_kib_per_s = st->io_read_kib_per_s;
	st->io_sample_us = h->now_us;
	st->io_read_bytes = vm->disk_read_bytes;
}
