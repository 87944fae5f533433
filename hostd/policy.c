// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * policy.c - demand, ideal, arbitration and timing (DESIGN.md section 3).
 *
 * A cycle runs in four steps:
 *   1. classify: unmanaged, held (no driver, stale or garbage stats, stuck
 *      balloon) or flexible; compute the demand of flexible VMs, and their
 *      ideal: demand plus buffer, but never below what the guest's floor
 *      lets its balloon reach (floor_target());
 *   2. arbitrate: share the pool among flexible VMs, minimums first, then
 *      demand, then buffers, by weight (water-filling);
 *   3. time: grow at once, shrink idle surplus after shrink_delay_s or at once
 *      when another VM waits for it, never faster than max_shrink_kib_per_s;
 *      a surplus is idle only while demand is not rising (surplus_clock());
 *      growth only uses memory that is free now;
 *   4. hot-add the DIMMs a target needs beyond the live memory size, and
 *      raise the target to the whole new size where the pool has room, so
 *      that the guest is not asked to balloon out what it was just given.
 *
 * Everything the guest reports is clamped or rejected before use.
 */

#include "policy.h"

#include "dmem_floor.h"

static inline dmem_kib_t sat_add(dmem_kib_t a, dmem_kib_t b)
{
	return a > G_MAXUINT64 - b ? G_MAXUINT64 : a + b;
}

static inline dmem_kib_t sat_sub(dmem_kib_t a, dmem_kib_t b)
{
	return a > b ? a - b : 0;
}

static inline dmem_kib_t clamp_kib(dmem_kib_t v, dmem_kib_t lo, dmem_kib_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Bound a host-side size so that size * weight cannot overflow. */
static inline dmem_kib_t bound(dmem_kib_t v)
{
	return MIN(v, DMEM_SIZE_MAX_KIB);
}

static dmem_kib_t percent_of(dmem_kib_t v, guint64 percent)
{
	/* v <= 2^42 and percent small, so no overflow. */
	return bound(v) * percent / 100;
}

void dmem_policy_params_from_config(DmemPolicyParams *p, const DmemConfig *cfg)
{
	*p = (DmemPolicyParams) {
		.interval_ms = cfg->interval_ms,
		.shrink_delay_s = cfg->shrink_delay_s,
		.max_shrink_kib_per_s = cfg->max_shrink_kib_per_s,
		.dimm_size_kib = cfg->dimm_size_kib,
	};
}

dmem_kib_t dmem_policy_pool_kib(const DmemConfig *cfg,
				dmem_kib_t host_available_kib,
				dmem_kib_t managed_resident_kib)
{
	if (cfg->host_pool_kib)
		return bound(cfg->host_pool_kib);
	return bound(sat_sub(sat_add(host_available_kib, managed_resident_kib),
			     cfg->host_reserve_kib));
}

void dmem_vm_state_init(DmemVmState *st)
{
	*st = (DmemVmState) { 0 };
}

const char *dmem_status_name(DmemStatus status)
{
	switch (status) {
	case DMEM_STATUS_OK:		return "OK";
	case DMEM_STATUS_LOW:		return "Low";
	case DMEM_STATUS_WARNING:	return "Warning";
	case DMEM_STATUS_NO_DRIVER:	return "NoDriver";
	case DMEM_STATUS_UNRESPONSIVE:	return "Unresponsive";
	case DMEM_STATUS_UNMANAGED:	return "Unmanaged";
	}
	return "?";
}

static void set_reason(DmemVmDecision *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void set_reason(DmemVmDecision *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

#define MIB(kib) dmem_kib_to_mib(kib)
#define MIB_FMT "%" G_GUINT64_FORMAT " MiB"

/* ---- step 1: demand ----------------------------------------------------- */

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
static gboolean compute_demand(const DmemPolicyParams *p, const DmemHostInput *h,
			       const DmemVmInput *vm, DmemVmState *st,
			       DmemVmDecision *d)
{
	const DmemGuestStats *s = &vm->stats;
	dmem_kib_t live = bound(vm->live_kib);
	dmem_kib_t total_max = sat_add(live, percent_of(live, DMEM_STATS_TOTAL_SLACK_PERCENT));
	gint64 age_s = h->now_real_s - s->last_update_s;

	if (age_s > stale_after_s(p)) {
		set_reason(d, "stats are %" G_GINT64_FORMAT " s old (guest not answering)",
			   age_s);
		return FALSE;
	}
	if (!s->has_total || !s->has_available) {
		set_reason(d, "guest reports no %s memory statistic",
			   s->has_total ? "available" : "total");
		return FALSE;
	}
	if (s->total_kib == 0) {
		set_reason(d, "guest reports zero total memory");
		return FALSE;
	}
	if (s->total_kib > total_max) {
		set_reason(d, "guest reports " MIB_FMT " total but has only "
			   MIB_FMT, MIB(bound(s->total_kib)), MIB(live));
		return FALSE;
	}
	if (s->available_kib > s->total_kib) {
		set_reason(d, "guest reports more available (" MIB_FMT
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

/* Balloon progress: TRUE when it has not moved toward the target for long. */
static gboolean balloon_stuck(const DmemHostInput *h, const DmemVmInput *vm,
			      DmemVmState *st, gint64 *stuck_s)
{
	dmem_kib_t actual = vm->assigned_kib, target = vm->target_kib;
	dmem_kib_t gap = actual > target ? actual - target : target - actual;
	gboolean progress;

	if (gap <= DMEM_BALLOON_TOLERANCE_KIB) {
		st->stuck_since_us = 0;
		return FALSE;
	}
	if (st->stuck_since_us == 0) {
		st->stuck_since_us = h->now_us;
		st->stuck_ref_kib = actual;
		return FALSE;
	}
	if (target > actual)
		progress = actual >= sat_add(st->stuck_ref_kib, DMEM_BALLOON_PROGRESS_KIB);
	else
		progress = sat_add(actual, DMEM_BALLOON_PROGRESS_KIB) <= st->stuck_ref_kib;
	if (progress) {
		st->stuck_since_us = h->now_us;
		st->stuck_ref_kib = actual;
		return FALSE;
	}
	*stuck_s = (h->now_us - st->stuck_since_us) / G_USEC_PER_SEC;
	return *stuck_s >= DMEM_BALLOON_TIMEOUT_S;
}

/*
 * Effective bounds. The maximum shrinks to what the live size plus the free
 * slots can reach in whole DIMMs; a minimum above that cannot be honoured.
 */
static void effective_bounds(const DmemPolicyParams *p, const DmemVmInput *vm,
			     DmemVmDecision *d)
{
	dmem_kib_t maximum = bound(vm->maximum_kib);
	dmem_kib_t live = MIN(bound(vm->live_kib), maximum);
	dmem_kib_t reach = live;

	if (p->dimm_size_kib) {
		guint64 dimms = (maximum - live) / p->dimm_size_kib;

		reach = live + MIN(dimms, (guint64)vm->free_slots) * p->dimm_size_kib;
	}
	d->max_kib = MIN(maximum, reach);
	d->min_kib = MIN(bound(vm->minimum_kib), d->max_kib);
}

/* ---- step 2: arbitration ------------------------------------------------ */

/* A claim's levels, shared out in this order. */
enum { LEVEL_LO, LEVEL_DEMAND, LEVEL_IDEAL, LEVELS };

typedef struct {
	union {
		struct { dmem_kib_t lo, demand, ideal; }; /* lo <= demand <= ideal */
		dmem_kib_t level[LEVELS];
	};
	guint weight;
	dmem_kib_t give;		/* result */
} Claim;

G_STATIC_ASSERT(G_STRUCT_OFFSET(Claim, ideal) ==
		G_STRUCT_OFFSET(Claim, level) + LEVEL_IDEAL * sizeof(dmem_kib_t));

/*
 * Water-filling by weight: give each claim x_i in [0, cap_i] with
 * sum x_i = min(budget, sum cap_i) and x_i = min(cap_i, weight_i * level).
 * Claims of weight 0 get something only when every weighted claim is full;
 * they then share equally. @cap and @x are indexed like @weight.
 */
static void waterfill(const dmem_kib_t *cap, const guint *weight, dmem_kib_t *x,
		      gsize n, dmem_kib_t budget)
{
	dmem_kib_t remaining = budget;

	for (gsize i = 0; i < n; i++)
		x[i] = 0;

	/* Each round fills at least one claim or hands out all but < n KiB. */
	for (gsize round = 0; round <= 2 * n + 2 && remaining; round++) {
		guint64 wsum = 0;
		gsize active = 0;
		gboolean weighted;
		dmem_kib_t given = 0;

		for (gsize i = 0; i < n; i++)
			if (x[i] < cap[i] && weight[i])
				wsum += weight[i];
		weighted = wsum > 0;
		for (gsize i = 0; i < n; i++)
			if (x[i] < cap[i] && (!weighted || weight[i]))
				active++;
		if (!active)
			break;
		if (!weighted)
			wsum = active;

		for (gsize i = 0; i < n; i++) {
			guint64 w = weighted ? weight[i] : 1;
			dmem_kib_t share;

			if (x[i] >= cap[i] || !w)
				continue;
			/* remaining <= 2^42, w <= 10000: no overflow */
			share = MIN(remaining * w / wsum, cap[i] - x[i]);
			x[i] += share;
			given += share;
		}
		if (given == 0) {
			/* Only rounding crumbs left: one KiB each, in order. */
			for (gsize i = 0; i < n && remaining; i++) {
				if (x[i] < cap[i] && (!weighted || weight[i])) {
					x[i]++;
					remaining--;
				}
			}
			continue;
		}
		remaining -= given;
	}
}

/*
 * Share @budget among @claims: every lo first (even beyond the budget: a
 * minimum is a guarantee), then demand, then buffers. The first level the
 * budget cannot cover in full is shared by weight above the level below it.
 * Returns how far the minimums exceed the budget.
 */
static dmem_kib_t arbitrate(Claim *c, gsize n, dmem_kib_t budget,
			     gboolean *minimums_only)
{
	g_autofree dmem_kib_t *cap = g_new(dmem_kib_t, n);
	g_autofree dmem_kib_t *x = g_new(dmem_kib_t, n);
	g_autofree guint *w = g_new(guint, n);
	dmem_kib_t sum[LEVELS] = { 0 };

	for (gsize i = 0; i < n; i++) {
		for (int l = 0; l < LEVELS; l++)
			sum[l] += c[i].level[l];
		w[i] = c[i].weight;
	}

	*minimums_only = sum[LEVEL_LO] >= budget;
	if (*minimums_only) {
		for (gsize i = 0; i < n; i++)
			c[i].give = c[i].lo;
		return sum[LEVEL_LO] - budget;
	}
	for (int l = LEVEL_LO + 1; l < LEVELS; l++) {
		if (sum[l] <= budget)
			continue;
		for (gsize i = 0; i < n; i++)
			cap[i] = c[i].level[l] - c[i].level[l - 1];
		waterfill(cap, w, x, n, budget - sum[l - 1]);
		for (gsize i = 0; i < n; i++)
			c[i].give = c[i].level[l - 1] + x[i];
		return 0;
	}
	for (gsize i = 0; i < n; i++)
		c[i].give = c[i].ideal;
	return 0;
}

static DmemAllocKind alloc_kind(const Claim *c, gboolean minimums_only)
{
	if (c->give >= c->ideal)
		return DMEM_ALLOC_IDEAL;
	if (minimums_only)
		return DMEM_ALLOC_MINIMUM;
	if (c->give >= c->demand)
		return DMEM_ALLOC_BUFFER_SHARED;
	if (c->give > c->lo)
		return DMEM_ALLOC_DEMAND_SHARED;
	return DMEM_ALLOC_MINIMUM;
}

/* ---- the cycle ---------------------------------------------------------- */

typedef enum { VM_UNMANAGED, VM_HELD, VM_FLEXIBLE } VmClass;

static VmClass classify(const DmemPolicyParams *p, const DmemHostInput *h,
			const DmemVmInput *vm, DmemVmState *st, DmemVmDecision *d)
{
	gint64 stuck_s = 0;

	if (!vm->enabled) {
		d->status = DMEM_STATUS_UNMANAGED;
		set_reason(d, "disabled (enabled=\"no\" in its dmem metadata)");
		return VM_UNMANAGED;
	}
	if (vm->unmanaged_reason) {
		d->status = DMEM_STATUS_UNMANAGED;
		set_reason(d, "%s", vm->unmanaged_reason);
		return VM_UNMANAGED;
	}
	if (vm->maximum_kib == 0 || vm->live_kib == 0) {
		d->status = DMEM_STATUS_UNMANAGED;
		set_reason(d, "libvirt reports no memory size");
		return VM_UNMANAGED;
	}
	if (vm->minimum_kib > vm->maximum_kib) {
		d->status = DMEM_STATUS_UNMANAGED;
		set_reason(d, "minimum " MIB_FMT " exceeds maximum " MIB_FMT,
			   MIB(bound(vm->minimum_kib)), MIB(bound(vm->maximum_kib)));
		return VM_UNMANAGED;
	}

	d->managed = TRUE;
	effective_bounds(p, vm, d);

	if (vm->stats.last_update_s == 0) {
		d->status = DMEM_STATUS_NO_DRIVER;
		set_reason(d, "no memory statistics from the guest (balloon driver not loaded?)");
		return VM_HELD;
	}
	if (!compute_demand(p, h, vm, st, d)) {
		d->status = DMEM_STATUS_UNRESPONSIVE;
		return VM_HELD;
	}
	if (balloon_stuck(h, vm, st, &stuck_s)) {
		d->status = DMEM_STATUS_UNRESPONSIVE;
		set_reason(d, "balloon stuck at " MIB_FMT ", target " MIB_FMT
			   ", for %" G_GINT64_FORMAT " s",
			   MIB(vm->assigned_kib), MIB(vm->target_kib), stuck_s);
		return VM_HELD;
	}
	return VM_FLEXIBLE;
}

/* Targets are only ever set within [min, max] of the VM. */
static dmem_kib_t current_target(const DmemVmInput *vm, const DmemVmDecision *d)
{
	return clamp_kib(bound(vm->target_kib), d->min_kib, d->max_kib);
}

static void flexible_status(const DmemVmInput *vm, DmemVmDecision *d)
{
	dmem_kib_t assigned = vm->assigned_kib;

	/* Within DMEM_GROW_MIN_KIB of the ideal is on it: no smaller rise
	 * is ever made. */
	if (assigned >= d->ideal_kib ||
	    d->ideal_kib - assigned < DMEM_GROW_MIN_KIB) {
		d->status = DMEM_STATUS_OK;
		set_reason(d, "has its ideal");
	} else if (assigned >= d->demand_kib) {
		d->status = DMEM_STATUS_LOW;
		if (d->ideal_kib > d->max_kib)
			set_reason(d, "ideal " MIB_FMT " out of reach: live size and "
				   "free DIMM slots allow " MIB_FMT,
				   MIB(d->ideal_kib), MIB(d->max_kib));
		else if (d->allocation_kib < d->ideal_kib)
			set_reason(d, "buffer cut: the pool is short");
		else
			set_reason(d, "growing toward its ideal");
	} else {
		d->status = DMEM_STATUS_WARNING;
		if (d->demand_kib > d->max_kib)
			set_reason(d, "demand " MIB_FMT " exceeds its reachable maximum "
				   MIB_FMT, MIB(d->demand_kib), MIB(d->max_kib));
		else if (d->allocation_kib < d->demand_kib)
			set_reason(d, "demand " MIB_FMT " not met: the pool is short",
				   MIB(d->demand_kib));
		else
			set_reason(d, "growing to meet demand " MIB_FMT,
				   MIB(d->demand_kib));
	}
}

/*
 * The DIMMs @d's target needs beyond the live size. Returns the live size
 * they make, which is at least the target (whole DIMMs, within slots and
 * maximum: effective_bounds() already keeps the target within reach).
 */
static dmem_kib_t hotadd(const DmemPolicyParams *p, const DmemVmInput *vm,
			 DmemVmDecision *d)
{
	dmem_kib_t live = bound(vm->live_kib);
	guint64 need;

	if (d->target_kib <= live || !p->dimm_size_kib)
		return live;
	need = (d->target_kib - live + p->dimm_size_kib - 1) / p->dimm_size_kib;
	need = MIN(need, (guint64)vm->free_slots);
	need = MIN(need, sat_sub(bound(vm->maximum_kib), live) / p->dimm_size_kib);
	d->dimms = (guint)need;
	d->target_kib = MIN(d->target_kib, live + need * p->dimm_size_kib);
	return live + need * p->dimm_size_kib;
}

/*
 * Hot-add fill: a VM that grows by hot-add gets the whole new live size as
 * its target, not just its allocation. A target below the new size would
 * make the guest balloon out part of the DIMM it was just given (memory it
 * may not even have onlined yet): work for nothing, as the surplus is at
 * most a DIMM's rounding. The surplus is left to the shrink path, which
 * returns it after shrink_delay_s (rate-limited), or at once when another
 * VM needs it.
 *
 * The fill only uses memory of the pool that nobody else has a target on
 * (@room); when several VMs fill at once they share it by weight. Held VMs
 * never hot-add beyond their current target and are not filled.
 */
static void hotadd_fill(const DmemVmInput *vms, DmemVmDecision *out,
			const VmClass *cls, const dmem_kib_t *new_live,
			gsize n, dmem_kib_t room)
{
	g_autofree dmem_kib_t *cap = g_new0(dmem_kib_t, MAX(n, 1));
	g_autofree dmem_kib_t *x = g_new0(dmem_kib_t, MAX(n, 1));
	g_autofree guint *w = g_new0(guint, MAX(n, 1));

	if (!room)
		return;
	for (gsize i = 0; i < n; i++) {
		if (cls[i] != VM_FLEXIBLE || !out[i].dimms)
			continue;
		cap[i] = sat_sub(MIN(new_live[i], out[i].max_kib), out[i].target_kib);
		w[i] = MIN(vms[i].weight, DMEM_WEIGHT_MAX);
	}
	waterfill(cap, w, x, n, room);
	for (gsize i = 0; i < n; i++) {
		out[i].target_kib += x[i];
		out[i].hotadd_fill_kib = x[i];
	}
}

/*
 * The shrink delay's clock, for a VM whose target is above its allocation.
 *
 * Surplus counts as idle only while demand is not rising. A workload that
 * is still growing (demand up every cycle, DIMMs hot-added and filled) has
 * a surplus at every moment, but not one it can spare: shrinking it would
 * take memory the guest is about to use, and the guest would refuse part of
 * the balloon request or ask for it back a cycle later. So the clock
 * restarts whenever demand has risen noticeably (demand_rose()) above its
 * lowest value since the clock last started, which catches a fast rise
 * within a cycle as well as a slow creep over several, and ignores noise.
 * The surplus is shrunk once demand has been flat (or falling) for
 * shrink_delay_s. The ideal follows demand; a raised buffer or minimum
 * raises the allocation and so makes the surplus smaller by itself.
 * Contention does not wait for the clock at all.
 */
static gboolean demand_rose(dmem_kib_t now, dmem_kib_t ref)
{
	return now > ref &&
	       now - ref > MAX(DMEM_DEMAND_RISE_MIN_KIB,
			       percent_of(ref, DMEM_DEMAND_RISE_PERCENT));
}

static void surplus_clock(const DmemHostInput *h, DmemVmState *st,
			  DmemVmDecision *d)
{
	gboolean rising = st->surplus_since_us &&
			  demand_rose(d->demand_kib, st->surplus_demand_kib);

	if (st->surplus_since_us == 0 || rising) {
		st->surplus_since_us = h->now_us;
		st->surplus_demand_kib = d->demand_kib;
		d->demand_rising = rising;
		return;
	}
	st->surplus_demand_kib = MIN(st->surplus_demand_kib, d->demand_kib);
}

void dmem_policy_decide(const DmemPolicyParams *p, const DmemHostInput *h,
			const DmemVmInput *vms, DmemVmState *states,
			DmemVmDecision *out, gsize n, DmemPoolDecision *pool_out)
{
	g_autofree VmClass *cls = g_new(VmClass, n);
	g_autofree Claim *claims = g_new0(Claim, n);
	g_autofree gsize *flex = g_new(gsize, n);
	g_autofree dmem_kib_t *cur = g_new0(dmem_kib_t, n);
	g_autofree dmem_kib_t *new_live = g_new0(dmem_kib_t, n);
	DmemPoolDecision pool = { .pool_kib = bound(h->pool_kib) };
	dmem_kib_t budget, committed = 0, wanted = 0, step_kib;
	dmem_kib_t committed_flex = 0;	/* flexible VMs' targets, before the fill */
	gsize nflex = 0, ngrow = 0;

	step_kib = bound(p->max_shrink_kib_per_s) * p->interval_ms / 1000;
	step_kib = MAX(step_kib, 1);

	/* 1. classify; held VMs keep what they have. */
	for (gsize i = 0; i < n; i++) {
		DmemVmDecision *d = &out[i];
		dmem_kib_t buffered;

		*d = (DmemVmDecision) { 0 };
		cls[i] = classify(p, h, &vms[i], &states[i], d);
		if (cls[i] == VM_UNMANAGED) {
			states[i].surplus_since_us = 0;
			d->target_kib = vms[i].target_kib;
			continue;
		}
		cur[i] = current_target(&vms[i], d);
		if (cls[i] == VM_HELD) {
			d->held = TRUE;
			d->target_kib = cur[i];
			states[i].surplus_since_us = 0;
			/* A stuck balloon holds what it holds, not its target. */
			pool.held_kib += MAX(d->target_kib, bound(vms[i].assigned_kib));
			continue;
		}

		buffered = sat_add(d->demand_kib,
				   percent_of(d->demand_kib,
					      MIN(vms[i].buffer_percent,
						  DMEM_BUFFER_PERCENT_MAX)));
		floor_target(&vms[i], d);
		d->ideal_kib = MAX(buffered, d->floor_target_kib);
		/* Report the ideal within the declared bounds, even when the
		 * slots left cannot reach it; claim what can be reached. */
		d->ideal_kib = clamp_kib(d->ideal_kib, d->min_kib,
					 MAX(bound(vms[i].maximum_kib), d->min_kib));
		/* The floor decided unless the buffer or a bound did. */
		d->ideal_at_floor = d->ideal_kib == d->floor_target_kib &&
				    d->floor_target_kib > buffered;
		claims[i] = (Claim) {
			.lo = d->min_kib,
			.demand = clamp_kib(d->demand_kib, d->min_kib, d->max_kib),
			.ideal = MIN(d->ideal_kib, d->max_kib),
			.weight = MIN(vms[i].weight, DMEM_WEIGHT_MAX),
		};
		flex[nflex++] = i;
		pool.minimums_kib += d->min_kib;
	}
	budget = sat_sub(pool.pool_kib, pool.held_kib);

	/* 2. arbitrate among flexible VMs. */
	{
		g_autofree Claim *c = g_new(Claim, MAX(nflex, 1));
		gboolean minimums_only;

		for (gsize k = 0; k < nflex; k++)
			c[k] = claims[flex[k]];
		arbitrate(c, nflex, budget, &minimums_only);
		for (gsize k = 0; k < nflex; k++) {
			gsize i = flex[k];

			claims[i].give = c[k].give;
			out[i].allocation_kib = c[k].give;
			out[i].alloc_kind = alloc_kind(&c[k], minimums_only);
		}
	}

	/* 3. timing: who waits for whom. */
	for (gsize k = 0; k < nflex; k++) {
		gsize i = flex[k];

		committed += cur[i];
		if (out[i].allocation_kib > cur[i]) {
			wanted += out[i].allocation_kib - cur[i];
			ngrow++;
		}
	}
	/*
	 * Someone is short when growth cannot be paid from free memory, and
	 * everyone is when the pool itself shrank below what is handed out.
	 */
	pool.contention = committed > budget ||
			  (ngrow && wanted > budget - committed);

	committed = 0;	/* now: the targets of VMs that do not grow */
	for (gsize k = 0; k < nflex; k++) {
		gsize i = flex[k];
		DmemVmDecision *d = &out[i];
		DmemVmState *st = &states[i];
		dmem_kib_t a = d->allocation_kib;

		d->target_kib = cur[i];
		if (a >= cur[i]) {
			st->surplus_since_us = 0;
			if (a == cur[i])
				committed += cur[i];
			continue;
		}
		if (cur[i] - a < DMEM_SHRINK_MIN_KIB) {
			/* Not worth a balloon operation; a running clock
			 * still notices a rise of demand. */
			if (st->surplus_since_us)
				surplus_clock(h, st, d);
			committed += cur[i];
			continue;
		}
		/* A surplus: wait until it has been idle for the delay
		 * unless someone needs it. */
		surplus_clock(h, st, d);
		if (!pool.contention) {
			gint64 waited_s = (h->now_us - st->surplus_since_us) / G_USEC_PER_SEC;

			if (waited_s < (gint64)p->shrink_delay_s) {
				d->shrink_delayed = TRUE;
				d->shrink_wait_s = p->shrink_delay_s - waited_s;
				committed += cur[i];
				continue;
			}
		}
		if (cur[i] - a > step_kib) {
			d->target_kib = cur[i] - step_kib;
			d->shrink_rate_limited = TRUE;
		} else {
			d->target_kib = a;
		}
		committed += d->target_kib;
	}

	/* Growth comes out of what is free once the others are counted. */
	if (ngrow) {
		dmem_kib_t room = sat_sub(budget, committed);
		g_autofree Claim *c = g_new(Claim, ngrow);
		g_autofree gsize *idx = g_new(gsize, ngrow);
		gsize m = 0;

		for (gsize k = 0; k < nflex; k++) {
			gsize i = flex[k];
			dmem_kib_t a = out[i].allocation_kib;

			if (a <= cur[i])
				continue;
			idx[m] = i;
			c[m] = (Claim) {
				.lo = cur[i],
				.demand = MAX(cur[i], MIN(claims[i].demand, a)),
				.ideal = a,
				.weight = claims[i].weight,
			};
			m++;
		}
		gboolean no_room;

		arbitrate(c, m, room, &no_room);
		for (gsize k = 0; k < m; k++) {
			out[idx[k]].target_kib = c[k].give;
			out[idx[k]].growth_limited = c[k].give < c[k].ideal;
		}
	}

	/* 4. statuses, hot-add. */
	for (gsize i = 0; i < n; i++) {
		DmemVmDecision *d = &out[i];

		if (cls[i] == VM_UNMANAGED)
			continue;
		if (cls[i] == VM_FLEXIBLE)
			flexible_status(&vms[i], d);
		new_live[i] = hotadd(p, &vms[i], d);
		if (cls[i] == VM_FLEXIBLE)
			committed_flex = sat_add(committed_flex, d->target_kib);
	}
	hotadd_fill(vms, out, cls, new_live, n, sat_sub(budget, committed_flex));

	/* 5. totals. */
	for (gsize i = 0; i < n; i++) {
		DmemVmDecision *d = &out[i];

		if (cls[i] == VM_UNMANAGED)
			continue;
		d->target_changed = d->target_kib != vms[i].target_kib;
		pool.targets_kib += cls[i] == VM_HELD ?
			MAX(d->target_kib, bound(vms[i].assigned_kib)) : d->target_kib;
	}
	pool.overcommit_kib = sat_sub(pool.targets_kib, pool.pool_kib);
	if (pool_out)
		*pool_out = pool;
}
