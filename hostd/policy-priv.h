/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy-priv.h - what the policy's files share (not for the mechanism).
 *
 * Arithmetic on sizes saturates and every size that came from outside is
 * bounded by DMEM_SIZE_MAX_KIB first, so that sizes times weights cannot
 * overflow whatever a guest or a config says.
 */
#ifndef DMEM_POLICY_PRIV_H
#define DMEM_POLICY_PRIV_H

#include "policy.h"

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

static inline dmem_kib_t percent_of(dmem_kib_t v, guint64 percent)
{
	/* v <= 2^42 and percent small, so no overflow. */
	return bound(v) * percent / 100;
}

static inline dmem_kib_t distance(dmem_kib_t a, dmem_kib_t b)
{
	return a > b ? a - b : b - a;
}

/* The VM's buffer percent, within its bound. */
static inline dmem_kib_t buffer_of(const DmemVmInput *vm)
{
	return MIN(vm->buffer_percent, DMEM_BUFFER_PERCENT_MAX);
}

/* @kib over @us microseconds, in KiB/s, without overflow; 0 if @us <= 0. */
static inline dmem_kib_t kib_per_s(guint64 kib, gint64 us)
{
	if (us <= 0)
		return 0;
	if (kib <= G_MAXUINT64 / G_USEC_PER_SEC)
		return bound(kib * G_USEC_PER_SEC / (guint64)us);
	return bound(kib / MAX((guint64)us / G_USEC_PER_SEC, 1));
}

#define MIB(kib) dmem_kib_to_mib(kib)
#define MIB_FMT "%" G_GUINT64_FORMAT " MiB"

void dmem_policy_set_reason(DmemVmDecision *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* ---- demand.c ----------------------------------------------------------- */

/*
 * Demand from @vm's stats into @d (demand_known, used, overhead, pressure,
 * demand). FALSE, with the reason in @d, when the stats cannot be used.
 */
gboolean dmem_demand_compute(const DmemPolicyParams *p, const DmemHostInput *h,
			     const DmemVmInput *vm, DmemVmState *st,
			     DmemVmDecision *d);

/* The guest's page cache and its disks' read rate, for any managed VM. */
void dmem_demand_io(const DmemHostInput *h, const DmemVmInput *vm, DmemVmState *st,
		    DmemVmDecision *d);

/* The floor target and the ideal of a VM whose demand is known; needs
 * d->min_kib and d->max_kib. */
void dmem_demand_ideal(const DmemVmInput *vm, const DmemVmState *st, DmemVmDecision *d);

/* ---- cache.c ------------------------------------------------------------ */

/*
 * The hot cache estimate of a VM whose demand is known: evaluates a running
 * probe and follows the cache the guest builds or drops; sets
 * d->hot_cache_kib (which the caller adds to demand) and what explains it.
 * Before the ideal.
 */
void dmem_cache_update(const DmemPolicyParams *p, const DmemHostInput *h,
		       const DmemVmInput *vm, DmemVmState *st, DmemVmDecision *d);

/*
 * After the ideal: start a probe when the VM is stable, and set
 * d->probe_target_kib and d->probing while a down probe runs.
 */
void dmem_cache_probe(const DmemPolicyParams *p, const DmemHostInput *h,
		      const DmemVmInput *vm, DmemVmState *st, DmemVmDecision *d);

/* ---- arbitrate.c -------------------------------------------------------- */

/* A claim's levels, shared out in this order. */
enum { DMEM_LEVEL_LO, DMEM_LEVEL_DEMAND, DMEM_LEVEL_IDEAL, DMEM_LEVELS };

typedef struct {
	union {
		struct { dmem_kib_t lo, demand, ideal; }; /* lo <= demand <= ideal */
		dmem_kib_t level[DMEM_LEVELS];
	};
	guint weight;
	dmem_kib_t give;		/* result */
} DmemClaim;

/*
 * Water-filling by weight: give each claim x_i in [0, cap_i] with
 * sum x_i = min(budget, sum cap_i) and x_i = min(cap_i, weight_i * level).
 * Claims of weight 0 get something only when every weighted claim is full.
 */
void dmem_waterfill(const dmem_kib_t *cap, const guint *weight, dmem_kib_t *x,
		    gsize n, dmem_kib_t budget);

/*
 * Share @budget among @claims level by level: minimums, then demand, then
 * buffers; the first level the budget cannot cover is shared by weight
 * above the level below it. When even the minimums exceed the budget, they
 * are shared by weight too (*@minimums_short): a minimum is honoured from
 * what there is, never by memory the pool does not have.
 */
void dmem_arbitrate(DmemClaim *c, gsize n, dmem_kib_t budget,
		    gboolean *minimums_short);

DmemAllocKind dmem_alloc_kind(const DmemClaim *c, gboolean minimums_short);

/*
 * Each claim's weighted share of @budget if every claim wanted its @cap:
 * minimums first (by weight when they do not fit), the rest by weight.
 */
void dmem_fair_shares(const DmemClaim *c, const dmem_kib_t *cap, gsize n,
		      dmem_kib_t budget, dmem_kib_t *share);

/* ---- targets.c ---------------------------------------------------------- */

/* One managed VM's numbers while its target is decided. */
typedef struct {
	gsize i;		/* index into the cycle's arrays */
	dmem_kib_t cur;		/* its current target */
	dmem_kib_t held;	/* what it holds now */
	dmem_kib_t actual;	/* its balloon's actual */
	dmem_kib_t rss_held;	/* rss - QEMU overhead, or 0 */
	/* How far rss_held is above max(target, actual) now: memory the
	 * balloon does not account for, which a rise does not absorb. */
	dmem_kib_t excess;
	dmem_kib_t live;	/* live size */
	guint weight;
	/* It may not hold more than this after growing (reservations). */
	dmem_kib_t limit;
	gboolean pending;	/* a decision is on its way: none now */
} DmemTargetVm;

/*
 * Has demand risen noticeably above @ref (the lowest since a clock
 * started)? More than DMEM_DEMAND_RISE_MIN_KIB and DMEM_DEMAND_RISE_PERCENT.
 */
gboolean dmem_demand_rose(dmem_kib_t now, dmem_kib_t ref);

/* What @t would hold with @target and @dimms more DIMMs of @dimm_kib. */
dmem_kib_t dmem_held_with(const DmemTargetVm *t, dmem_kib_t target,
			  guint dimms, dmem_kib_t dimm_kib);

/*
 * A flexible VM whose allocation is below its current target: keep the
 * surplus for the shrink delay (unless @contention or the maximum was
 * lowered), then give it back at the rate limit, never below the minimum.
 */
void dmem_targets_shrink(const DmemPolicyParams *p, const DmemHostInput *h,
			 const DmemTargetVm *t, DmemVmState *st,
			 DmemVmDecision *d, gboolean contention);

/*
 * An uncooperative VM while others are short: after reclaim_unresponsive_s
 * its target is lowered at the rate limit, never below its minimum nor
 * below what its guest last said it needs.
 */
void dmem_targets_reclaim(const DmemPolicyParams *p, const DmemHostInput *h,
			  const DmemTargetVm *t, DmemVmState *st,
			  DmemVmDecision *d, gboolean contention);

/*
 * Grow the @n VMs in @g (allocation above their target) out of @room, the
 * part of the pool nobody holds: first within their live size, shared by
 * weight, then by whole DIMMs (hotadd.c) while the room lasts. Returns the
 * room left.
 */
dmem_kib_t dmem_targets_grow(const DmemPolicyParams *p, const DmemTargetVm *g,
			     DmemVmDecision *out, gsize n, dmem_kib_t room);

/* ---- hotadd.c ----------------------------------------------------------- */

/*
 * The reachable maximum: the maximum reduced to what the live size plus
 * whole DIMMs in the free slots, under the live <maxMemory>, can reach; the
 * minimum within it. Sets d->max_kib and d->min_kib.
 */
void dmem_hotadd_bounds(const DmemPolicyParams *p, const DmemVmInput *vm,
			DmemVmDecision *d);

/*
 * What @t's VM will hold once it has grown to its allocation: the
 * allocation within its live size, or the live size plus the whole DIMMs
 * that cover it (the guest keeps whole DIMMs), within its reachable maximum.
 */
dmem_kib_t dmem_hotadd_reach(const DmemPolicyParams *p, const DmemTargetVm *t,
			     const DmemVmDecision *d);

/*
 * Hand out DIMMs to the @n VMs in @g that want more than their live size,
 * one at a time, to the VM with the least given per weight, while a whole
 * DIMM fits in @room. Each VM's target becomes its whole new live size (the
 * guest keeps whole DIMMs). Returns the room left.
 */
dmem_kib_t dmem_hotadd_plan(const DmemPolicyParams *p, const DmemTargetVm *g,
			    DmemVmDecision *out, gsize n, dmem_kib_t room);

/* ---- unplug.c ----------------------------------------------------------- */

/*
 * Before the shrink: how many of the newest hot-added DIMMs @vm's
 * allocation leaves unused, the unplug clock, whether the balloon stays off
 * them until they go (d->keep_balloon_off), and whether the newest goes now
 * (d->unplug). A raise of the target before the unplug comes out of @room.
 */
void dmem_unplug_plan(const DmemPolicyParams *p, const DmemHostInput *h,
		      const DmemVmInput *vm, const DmemTargetVm *t, DmemVmState *st,
		      DmemVmDecision *d, gboolean contention, dmem_kib_t *room);

#endif /* DMEM_POLICY_PRIV_H */
