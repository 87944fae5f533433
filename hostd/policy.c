// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * policy.c - one cycle of the policy (DESIGN.md section 3).
 *
 *   1. classify every VM: unmanaged, uncooperative (no driver, stale or
 *      garbage stats, a stuck balloon, a libvirt call that has not
 *      returned) or flexible; the demand and ideal of flexible VMs
 *      (demand.c);
 *   2. account what each managed VM holds: max(target, actual), and no
 *      less than its QEMU process's resident memory minus its learned QEMU
 *      overhead. The sum is what the pool has committed;
 *   3. arbitrate: the pool minus what uncooperative VMs hold is shared
 *      among flexible VMs, minimums, demand, buffers, by weight
 *      (arbitrate.c);
 *   4. time (targets.c): surplus goes back after the delay or at once when
 *      another VM is short, whole hot-added DIMMs by unplugging them
 *      (unplug.c); growth only comes out of the part of the pool
 *      that nobody holds, within the live size first, then by whole DIMMs
 *      (hotadd.c); an uncooperative VM is never given more, and gives back
 *      only after reclaim_unresponsive_s while others are short;
 *   5. publish: statuses, totals, and which VMs cause an overcommit.
 *
 * Sum of held after the cycle <= the pool, unless it was already above (a
 * shrinking pool, a guest that lies or lags, minimums beyond the pool):
 * then nothing grows and the overcommit is reported with its causes.
 */
#include <string.h>

#include "policy-priv.h"

void dmem_policy_params_from_config(DmemPolicyParams *p, const DmemConfig *cfg)
{
	*p = (DmemPolicyParams) {
		.interval_ms = cfg->interval_ms,
		.shrink_delay_s = cfg->shrink_delay_s,
		.max_shrink_kib_per_s = cfg->max_shrink_kib_per_s,
		.dimm_size_kib = cfg->dimm_size_kib,
		.reclaim_unresponsive_s = cfg->reclaim_unresponsive_s,
		.cache_aware = cfg->cache_aware,
		.cache_probe_s = cfg->cache_probe_s,
		.cache_reprobe_s = cfg->cache_reprobe_s,
		.unplug_delay_s = dmem_config_unplug_delay_s(cfg),
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

dmem_kib_t dmem_policy_guest_resident_kib(const DmemVmInput *vm, const DmemVmState *st)
{
	dmem_kib_t holds = MAX(bound(vm->target_kib), bound(vm->assigned_kib));

	if (!vm->rss_kib)
		return holds;
	return MIN(sat_sub(bound(vm->rss_kib), st->qemu_overhead_kib), holds);
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

void dmem_policy_set_reason(DmemVmDecision *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

#define set_reason dmem_policy_set_reason

/* ---- step 1: classify --------------------------------------------------- */

/*
 * Balloon progress: TRUE when it has not moved toward the target for long.
 * Progress is a real share of the gap (DMEM_BALLOON_PROGRESS_SHARE): a guest
 * that creeps a few MiB per window toward a far target is stuck too. A
 * guest whose balloon stopped at its floor is not stuck: it keeps what its
 * floor needs, and is counted at what it holds.
 */
static gboolean balloon_stuck(const DmemHostInput *h, const DmemVmInput *vm,
			      DmemVmState *st, const DmemVmDecision *d,
			      gint64 *stuck_s)
{
	dmem_kib_t actual = bound(vm->assigned_kib), target = bound(vm->target_kib);
	dmem_kib_t need;
	gboolean progress;

	if (distance(actual, target) <= DMEM_BALLOON_TOLERANCE_KIB ||
	    (target < actual &&
	     actual <= sat_add(d->floor_target_kib, DMEM_BALLOON_TOLERANCE_KIB))) {
		st->stuck_since_us = 0;
		return FALSE;
	}
	if (st->stuck_since_us == 0) {
		st->stuck_since_us = h->now_us;
		st->stuck_ref_kib = actual;
		return FALSE;
	}
	need = MAX(DMEM_BALLOON_PROGRESS_KIB,
		   distance(st->stuck_ref_kib, target) / DMEM_BALLOON_PROGRESS_SHARE);
	if (target > actual)
		progress = actual >= sat_add(st->stuck_ref_kib, need);
	else
		progress = sat_add(actual, need) <= st->stuck_ref_kib;
	if (progress) {
		st->stuck_since_us = h->now_us;
		st->stuck_ref_kib = actual;
		return FALSE;
	}
	*stuck_s = (h->now_us - st->stuck_since_us) / G_USEC_PER_SEC;
	return *stuck_s >= DMEM_BALLOON_TIMEOUT_S;
}

static gint64 call_stuck_after_s(const DmemPolicyParams *p)
{
	return MAX((gint64)DMEM_CALL_STUCK_MIN_S, (gint64)p->interval_ms * 2 / 1000);
}

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
	dmem_hotadd_bounds(p, vm, d);
	dmem_demand_io(h, vm, st, d);

	if (vm->call_pending_s >= call_stuck_after_s(p)) {
		d->status = DMEM_STATUS_UNRESPONSIVE;
		set_reason(d, "libvirt call (%s) has not returned for %" G_GINT64_FORMAT " s",
			   vm->call_pending ? vm->call_pending : "?", vm->call_pending_s);
		return VM_HELD;
	}
	if (vm->stats.last_update_s == 0) {
		d->status = DMEM_STATUS_NO_DRIVER;
		set_reason(d, "no memory statistics from the guest (balloon driver not loaded?)");
		return VM_HELD;
	}
	if (!dmem_demand_compute(p, h, vm, st, d)) {
		d->status = DMEM_STATUS_UNRESPONSIVE;
		return VM_HELD;
	}
	dmem_cache_update(p, h, vm, st, d);
	d->demand_kib = sat_add(d->demand_kib, d->hot_cache_kib);
	dmem_demand_ideal(vm, st, d);
	if (balloon_stuck(h, vm, st, d, &stuck_s)) {
		d->status = DMEM_STATUS_UNRESPONSIVE;
		set_reason(d, "balloon stuck at " MIB_FMT ", target " MIB_FMT
			   ", for %" G_GINT64_FORMAT " s",
			   MIB(vm->assigned_kib), MIB(vm->target_kib), stuck_s);
		return VM_HELD;
	}
	return VM_FLEXIBLE;
}

/*
 * Growing: demand rose by more than DMEM_GROWING_RISE_KIB above its lowest
 * value since it last counted as a rise, recently.
 */
static void track_growth(const DmemHostInput *h, DmemVmState *st, DmemVmDecision *d)
{
	if (st->last_demand_kib &&
	    d->demand_kib > sat_add(st->last_demand_kib, DMEM_GROWING_RISE_KIB)) {
		st->growing_until_us = h->now_us + (gint64)DMEM_GROWING_HOLD_S * G_USEC_PER_SEC;
		st->last_demand_kib = d->demand_kib;
	} else if (!st->last_demand_kib || d->demand_kib < st->last_demand_kib) {
		st->last_demand_kib = d->demand_kib;
	}
	d->growing = st->growing_until_us > h->now_us;
}

/* ---- step 2: what each VM holds ----------------------------------------- */

/*
 * QEMU's own memory is learned only while the balloon is empty and stands
 * still: the guest then claims to hold all of its memory, so resident minus
 * actual cannot be inflated by a guest that lies about its balloon (a guest
 * can only claim to hold *more*, which makes the overhead smaller and the
 * VM count for more). Untouched guest memory makes a sample smaller too;
 * the largest sample is the best lower bound of QEMU's own share.
 */
static void account(const DmemPolicyParams *p, gsize i, const DmemVmInput *vm,
		    DmemVmState *st, DmemVmDecision *d, DmemTargetVm *t)
{
	dmem_kib_t actual = bound(vm->assigned_kib);
	dmem_kib_t target = bound(vm->target_kib);
	dmem_kib_t live = bound(vm->live_kib);
	dmem_kib_t rss = bound(vm->rss_kib);

	/* The sample is taken against the live size, not the actual it is
	 * near: what the guest holds is never above its live size. */
	if (rss > live && (st->qemu_ref_actual_kib == 0 || st->qemu_ref_actual_kib == actual) &&
	    sat_add(actual, DMEM_BALLOON_TOLERANCE_KIB) >= live &&
	    distance(actual, target) <= DMEM_BALLOON_TOLERANCE_KIB)
		st->qemu_overhead_kib = MAX(st->qemu_overhead_kib,
					    MIN(rss - live, DMEM_QEMU_OVERHEAD_MAX_KIB));
	st->qemu_ref_actual_kib = actual;

	*t = (DmemTargetVm) {
		.i = i,
		.cur = target,
		.actual = actual,
		.rss_held = sat_sub(rss, st->qemu_overhead_kib),
		.live = live,
		.weight = MIN(vm->weight, DMEM_WEIGHT_MAX),
	};
	t->excess = sat_sub(t->rss_held, MAX(target, actual));
	t->held = dmem_held_with(t, target, 0, 0);
	/* A decision on its way holds what it will hold once it lands. */
	if (vm->apply_pending)
		t->held = MAX(t->held, dmem_held_with(t, bound(vm->pending_target_kib),
						      vm->pending_dimms, p->dimm_size_kib));
	t->pending = vm->apply_pending;
	d->held_kib = t->held;
	d->qemu_overhead_kib = st->qemu_overhead_kib;
	d->held_by_rss = t->rss_held > MAX(target, actual);
}

static void reserve_shares(DmemVmDecision *out, const DmemClaim *c, const gsize *flex,
			   gsize nflex, DmemTargetVm *t, dmem_kib_t budget,
			   dmem_kib_t room, dmem_kib_t dimm_kib)
{
	g_autofree dmem_kib_t *cap = g_new(dmem_kib_t, MAX(nflex, 1));
	g_autofree dmem_kib_t *share = g_new(dmem_kib_t, MAX(nflex, 1));
	g_autofree dmem_kib_t *reserve = g_new0(dmem_kib_t, MAX(nflex, 1));
	dmem_kib_t reserved = 0;

	for (gsize k = 0; k < nflex; k++)
		cap[k] = out[flex[k]].max_kib;
	dmem_fair_shares(c, cap, nflex, budget, share);
	for (gsize k = 0; k < nflex; k++) {
		DmemVmDecision *d = &out[flex[k]];

		d->fair_share_kib = share[k];
		/* Only while it grows and asks for more than it holds (a
		 * passing blip of demand reserves nothing). */
		if (d->growing && t[flex[k]].held < share[k] &&
		    sat_add(d->ideal_kib, dimm_kib) > t[flex[k]].held)
			reserve[k] = share[k] - t[flex[k]].held;
		reserved = sat_add(reserved, reserve[k]);
	}
	for (gsize k = 0; k < nflex; k++) {
		dmem_kib_t others = reserved - reserve[k];

		t[flex[k]].limit = MAX(share[k], sat_add(t[flex[k]].held, sat_sub(room, others)));
	}
}

/*
 * Rising fast, at its live size, with its allocation, on a pool with room:
 * the grow path hot-adds the DIMM it is about to need (hotadd.c).
 */
static gboolean ahead(const DmemVmDecision *d, const DmemTargetVm *t,
		      const DmemPoolDecision *pool)
{
	return !pool->contention && d->allocation_kib >= d->ideal_kib &&
	       t->cur >= t->live && MIN(d->ahead_kib, d->max_kib) > t->live;
}

/* ---- step 5: statuses and totals ---------------------------------------- */

/* "at maximum 2048 MiB", or growing to it; the reachable one says why. */
static const char *maximum_text(const DmemVmInput *vm, const DmemVmDecision *d,
				char *buf, gsize size)
{
	g_snprintf(buf, size, "%s " MIB_FMT "%s",
		   sat_add(vm->assigned_kib, DMEM_GROW_MIN_KIB) >= d->max_kib ?
		   "at maximum" : "growing to its maximum", MIB(d->max_kib),
		   d->max_kib < vm->maximum_kib ?
		   " (what its live size and free DIMM slots allow)" : "");
	return buf;
}

static void flexible_status(const DmemVmInput *vm, DmemVmDecision *d)
{
	dmem_kib_t assigned = vm->assigned_kib;
	char max[DMEM_REASON_MAX];

	/* A cache probe holds it below its demand on purpose. */
	if (d->probing) {
		d->status = DMEM_STATUS_LOW;
		set_reason(d, "cache probe: " MIB_FMT " less page cache, to see "
			   "whether its disk reads rise", MIB(d->probe_step_kib));
		return;
	}
	/*
	 * Within DMEM_GROW_MIN_KIB of the ideal is on it: no smaller rise
	 * is ever made. Not when the ideal was clamped to the maximum below
	 * a demand it does not meet: that is short.
	 */
	if ((assigned >= d->ideal_kib || d->ideal_kib - assigned < DMEM_GROW_MIN_KIB) &&
	    !(d->demand_kib > d->max_kib && sat_add(assigned, DMEM_GROW_MIN_KIB) <= d->demand_kib)) {
		d->status = DMEM_STATUS_OK;
		set_reason(d, "has its ideal");
	} else if (assigned >= d->demand_kib) {
		d->status = DMEM_STATUS_LOW;
		if (d->ideal_kib > d->max_kib)
			set_reason(d, "%s: ideal " MIB_FMT " out of reach",
				   maximum_text(vm, d, max, sizeof(max)), MIB(d->ideal_kib));
		else if (d->allocation_kib < d->ideal_kib)
			set_reason(d, "buffer cut: the pool is short");
		else if (d->held_at_share)
			set_reason(d, "at its weighted share while other VMs grow");
		else if (d->growth_limited)
			set_reason(d, "waiting for other VMs to give memory back");
		else
			set_reason(d, "growing toward its ideal");
	} else {
		d->status = DMEM_STATUS_WARNING;
		if (d->demand_kib > d->max_kib)
			set_reason(d, "%s: demand " MIB_FMT " exceeds it",
				   maximum_text(vm, d, max, sizeof(max)), MIB(d->demand_kib));
		else if (d->allocation_kib < d->demand_kib)
			set_reason(d, "demand " MIB_FMT " not met: the pool is short",
				   MIB(d->demand_kib));
		else if (d->held_at_share)
			set_reason(d, "demand " MIB_FMT " not met: at its weighted share "
				   "while other VMs grow", MIB(d->demand_kib));
		else if (d->growth_limited)
			set_reason(d, "demand " MIB_FMT " not met yet: waiting for other "
				   "VMs to give memory back", MIB(d->demand_kib));
		else
			set_reason(d, "growing to meet demand " MIB_FMT,
				   MIB(d->demand_kib));
	}
}

/* An uncooperative VM's reason, with how much it holds and since when. */
static void held_status(DmemVmDecision *d)
{
	char why[DMEM_REASON_MAX];

	g_strlcpy(why, d->reason, sizeof(why));
	if (d->held_for_s)
		set_reason(d, "%s; holds " MIB_FMT " for %" G_GINT64_FORMAT " s%s", why,
			   MIB(d->held_kib), d->held_for_s,
			   d->reclaiming ? ", reclaiming: others are short" : "");
	else
		set_reason(d, "%s; holds " MIB_FMT, why, MIB(d->held_kib));
}

/* How much more @d's VM holds than it is given: what overcommits the pool. */
static dmem_kib_t excess(VmClass cls, const DmemVmDecision *d)
{
	if (cls == VM_HELD)
		return d->held_kib;
	return sat_sub(d->held_kib, MAX(d->allocation_kib, d->min_kib));
}

typedef struct {
	gsize i;
	dmem_kib_t kib;
} Excess;

static gint by_excess(gconstpointer a, gconstpointer b)
{
	const Excess *x = a, *y = b;

	return x->kib < y->kib ? 1 : x->kib > y->kib ? -1 :
	       x->i < y->i ? -1 : x->i > y->i;
}

#define OVERCOMMIT_NAMED 4

static void overcommit_reason(const DmemVmInput *vms, const DmemVmDecision *out,
			      const VmClass *cls, gsize n, DmemPoolDecision *pool)
{
	g_autofree Excess *e = g_new(Excess, MAX(n, 1));
	GString *s = g_string_new(NULL);
	GString *causes = g_string_new(NULL);
	gsize m = 0;

	if (pool->minimums_exceed_pool) {
		g_string_append_printf(s, "minimums (" MIB_FMT ") exceed the pool; ",
				       MIB(pool->minimums_kib));
		g_string_append(causes, "minimums ");
	}
	for (gsize i = 0; i < n; i++) {
		dmem_kib_t kib = cls[i] == VM_UNMANAGED ? 0 : excess(cls[i], &out[i]);

		if (kib >= DMEM_BALLOON_TOLERANCE_KIB)
			e[m++] = (Excess) { .i = i, .kib = kib };
	}
	qsort(e, m, sizeof(*e), by_excess);
	for (gsize k = 0; k < MIN(m, (gsize)OVERCOMMIT_NAMED); k++) {
		const DmemVmDecision *d = &out[e[k].i];
		const char *name = vms[e[k].i].name ? vms[e[k].i].name : "?";

		/* In input order: the order by size moves with the numbers. */
		g_string_append_printf(causes, "%zu:%s ", e[k].i,
				       cls[e[k].i] == VM_HELD ? dmem_status_name(d->status) :
				       d->held_by_rss ? "rss" : "balloon");

		if (cls[e[k].i] == VM_HELD)
			g_string_append_printf(s, "%s is %s and holds " MIB_FMT "; ", name,
					       dmem_status_name(d->status), MIB(d->held_kib));
		else
			g_string_append_printf(s, "%s holds " MIB_FMT " above its allocation "
					       "(%s); ", name, MIB(e[k].kib),
					       d->held_by_rss ? "resident memory above its balloon" :
					       "its balloon is still shrinking");
	}
	if (m > OVERCOMMIT_NAMED)
		g_string_append_printf(s, "and %zu more VMs; ", m - OVERCOMMIT_NAMED);
	if (s->len >= 2)
		g_string_truncate(s, s->len - 2);
	else
		g_string_assign(s, "the pool shrank below what the VMs hold");
	g_strlcpy(pool->overcommit_reason, s->str, sizeof(pool->overcommit_reason));
	g_string_free(s, TRUE);
	g_strlcpy(pool->overcommit_causes, causes->str, sizeof(pool->overcommit_causes));
	g_string_free(causes, TRUE);
}

/* ---- the cycle ---------------------------------------------------------- */

void dmem_policy_decide(const DmemPolicyParams *p, const DmemHostInput *h,
			const DmemVmInput *vms, DmemVmState *states,
			DmemVmDecision *out, gsize n, DmemPoolDecision *pool_out)
{
	g_autofree VmClass *cls = g_new(VmClass, MAX(n, 1));
	g_autofree DmemTargetVm *t = g_new0(DmemTargetVm, MAX(n, 1));
	g_autofree DmemTargetVm *grow = g_new0(DmemTargetVm, MAX(n, 1));
	g_autofree DmemClaim *c = g_new0(DmemClaim, MAX(n, 1));
	g_autofree gsize *flex = g_new(gsize, MAX(n, 1));
	DmemPoolDecision pool = { .pool_kib = bound(h->pool_kib) };
	dmem_kib_t budget, room, wanted = 0, grows_to;
	gsize nflex = 0, ngrow = 0;
	gboolean minimums_short = FALSE, cut = FALSE, below_demand = FALSE;
	gboolean reserved_out = FALSE;

	/* 1, 2. classify and account. */
	for (gsize i = 0; i < n; i++) {
		DmemVmDecision *d = &out[i];
		DmemVmState *st = &states[i];

		*d = (DmemVmDecision) { 0 };
		cls[i] = classify(p, h, &vms[i], st, d);
		if (cls[i] == VM_UNMANAGED) {
			st->surplus_since_us = 0;
			st->uncoop_since_us = 0;
			d->target_kib = vms[i].target_kib;
			continue;
		}
		account(p, i, &vms[i], st, d, &t[i]);
		pool.committed_kib = sat_add(pool.committed_kib, d->held_kib);
		pool.minimums_kib = sat_add(pool.minimums_kib, d->min_kib);
		if (cls[i] == VM_HELD) {
			d->held = TRUE;
			if (!st->uncoop_since_us)
				st->uncoop_since_us = h->now_us;
			d->held_for_s = (h->now_us - st->uncoop_since_us) / G_USEC_PER_SEC;
			st->surplus_since_us = st->unplug_since_us = 0;
			pool.uncooperative_kib = sat_add(pool.uncooperative_kib, d->held_kib);
			continue;
		}
		st->uncoop_since_us = 0;
		st->last_floor_target_kib = MAX(d->floor_target_kib, d->demand_kib);
		track_growth(h, st, d);
		dmem_cache_probe(p, h, &vms[i], st, d);
		c[nflex] = (DmemClaim) {
			.lo = d->min_kib,
			.demand = clamp_kib(d->demand_kib, d->min_kib, d->max_kib),
			.ideal = MIN(d->ideal_kib, d->max_kib),
			.weight = MIN(vms[i].weight, DMEM_WEIGHT_MAX),
		};
		flex[nflex++] = i;
	}

	/*
	 * 3. arbitrate what uncooperative VMs leave among flexible VMs. A
	 * flexible VM's resident memory beyond its balloon (QEMU's own grown
	 * past what was learned, a guest that lies or lags) is held too, and
	 * no balloon target gives it back: it is not shared out, or the VMs
	 * would hold the pool plus that, overcommitted for good, and nothing
	 * could grow.
	 */
	budget = sat_sub(pool.pool_kib, pool.uncooperative_kib);
	for (gsize k = 0; k < nflex; k++)
		budget = sat_sub(budget, t[flex[k]].excess);
	dmem_arbitrate(c, nflex, budget, &minimums_short);
	pool.minimums_exceed_pool = minimums_short;
	for (gsize k = 0; k < nflex; k++) {
		DmemVmDecision *d = &out[flex[k]];

		d->allocation_kib = c[k].give;
		d->alloc_kind = dmem_alloc_kind(&c[k], minimums_short);
		/* Growth past the live size comes in whole DIMMs: a VM that
		 * needs 60 MiB more than its live size needs a whole DIMM of
		 * room, and waits for it as long as nobody gives any back. */
		grows_to = dmem_hotadd_reach(p, &t[flex[k]], d);
		if (grows_to > t[flex[k]].held)
			wanted = sat_add(wanted, grows_to - t[flex[k]].held);
		cut |= c[k].give < c[k].ideal;
		below_demand |= t[flex[k]].held < c[k].demand && !d->probing;
	}

	/*
	 * Reservations. Growth is handed out as it is asked for, and memory a
	 * guest has filled cannot be taken back; so when VMs grow at the same
	 * time, the first to ask would keep what the weights give to others.
	 * While a VM is growing and holds less than its weighted share of the
	 * pool (its share if every VM wanted its maximum), the rest of that
	 * share is kept free for it: others grow into it only up to their own
	 * share.
	 */
	room = sat_sub(pool.pool_kib, pool.committed_kib);
	reserve_shares(out, c, flex, nflex, t, budget, room, p->dimm_size_kib);

	/*
	 * 4. time. Someone is short when the arbitration could not give a VM
	 * its ideal, or its growth cannot be paid from the part of the pool
	 * nobody holds, or reservations keep it from growing (then the surplus
	 * of VMs that are not growing is what lets everyone have its share);
	 * and everyone is when the VMs hold more than the pool.
	 */
	for (gsize k = 0; k < nflex; k++) {
		const DmemVmDecision *d = &out[flex[k]];

		reserved_out |= MIN(d->allocation_kib, d->max_kib) > t[flex[k]].limit;
	}
	pool.contention = pool.committed_kib > pool.pool_kib || wanted > room || cut ||
			  reserved_out;
	/* Nothing ahead of need while someone waits for what it needs. */
	for (gsize k = 0; pool.contention && k < nflex; k++)
		out[flex[k]].ahead_kib = out[flex[k]].ideal_kib;
	for (gsize k = 0; k < nflex; k++) {
		gsize i = flex[k];

		if (t[i].pending) {
			out[i].target_kib = t[i].cur;	/* the last one first */
			continue;
		}
		/* Whichever way the target goes: its clock keeps running. */
		dmem_unplug_plan(p, h, &vms[i], &t[i], &states[i], &out[i], pool.contention,
				 &room);
		if ((out[i].allocation_kib > t[i].cur || ahead(&out[i], &t[i], &pool)) &&
		    !out[i].probing && !out[i].unplug)
			grow[ngrow++] = t[i];
		else
			dmem_targets_shrink(p, h, &t[i], &states[i], &out[i],
					    pool.contention);
	}
	/* An uncooperative VM gives memory only to a VM short of demand,
	 * not of a buffer. */
	for (gsize i = 0; i < n; i++)
		if (cls[i] == VM_HELD)
			dmem_targets_reclaim(p, h, &t[i], &states[i], &out[i],
					     pool.contention && below_demand);
	for (gsize k = 0; k < ngrow; k++)
		states[grow[k].i].surplus_since_us = 0;
	dmem_targets_grow(p, grow, out, ngrow, room);

	/* 5. statuses, totals. */
	for (gsize i = 0; i < n; i++) {
		DmemVmDecision *d = &out[i];

		if (cls[i] == VM_UNMANAGED)
			continue;
		if (cls[i] == VM_FLEXIBLE)
			flexible_status(&vms[i], d);
		else
			held_status(d);
		/* A VM seen for the first time adopts its balloon where it is,
		 * unless it is uncooperative: then nothing is touched. */
		d->target_changed = d->target_kib != vms[i].target_kib ||
				    (!vms[i].target_known && cls[i] == VM_FLEXIBLE);
		d->held_after_kib = dmem_held_with(&t[i], d->target_kib + d->unplug_raise_kib,
						   d->dimms, p->dimm_size_kib);
		if (t[i].pending)
			d->held_after_kib = MAX(d->held_after_kib, t[i].held);
		pool.committed_after_kib = sat_add(pool.committed_after_kib,
						   d->held_after_kib);
	}
	pool.free_kib = sat_sub(pool.pool_kib, pool.committed_kib);
	pool.overcommit_kib = sat_sub(pool.committed_kib, pool.pool_kib);
	if (pool.overcommit_kib || pool.minimums_exceed_pool)
		overcommit_reason(vms, out, cls, n, &pool);
	if (pool_out)
		*pool_out = pool;
}
