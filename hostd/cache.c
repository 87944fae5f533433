// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cache.c - how much of a guest's page cache is hot (DESIGN.md section 3,
 * "demand").
 *
 * MemAvailable counts nearly all page cache as free: a demand made of it
 * alone lets a database's hot data be ballooned out of its cache, after
 * which every read goes to disk. The guest's word on its cache says how
 * much it has, not how much of it it uses; the host's count of the VM's
 * disk reads (QEMU's block statistics, trusted: a guest cannot make QEMU
 * count reads it did not do) says what losing some of it costs. The
 * estimate is found the way Meta's senpai finds a container's working set
 * (lower the limit while pressure stays under a target, back off as soon
 * as it rises; the TMO paper), with the VM's disk reads in place of PSI,
 * which does not reach the host:
 *
 *   built    cache the guest builds by reading, as far as it fits in what
 *            the VM has without growing it, counts as hot until probed;
 *   down     once the VM is stable at its ideal, after a whole
 *            cache_probe_s window to learn its usual read rate, its target is
 *            lowered to leave the guest a step less cache than the
 *            estimate (and no buffer) for cache_probe_s. If its reads rise
 *            above the usual rate (by more than a quarter of it) the step
 *            was hot: the probe ends at once, the estimate stands (or
 *            rises by a step at most to the cache the guest had before),
 *            and the next probe is half as deep, after cache_reprobe_s.
 *            If not, it was cold: the estimate drops by the step and the
 *            next probe, twice as deep, follows at once;
 *   up       a VM that keeps reading while its cache is squeezed (little
 *            free memory, or less than it reads in a window) may be short: the estimate grows by a step for a
 *            window. If its reads fall (by an eighth), the set was bigger
 *            and the step stays; if not, the reads are a stream more memory
 *            does not help, and the step goes (not tried again for
 *            cache_reprobe_s; and a stream that cost a DIMM gets no other
 *            DIMM for a probe this boot);
 *   dropped  cache the guest dropped on its own, with room to keep it, for
 *            a whole window is no longer counted.
 *
 * Trust: the estimate never exceeds what the guest could cache (its maximum
 * minus what it uses), nor what the host saw the VM read and write since
 * its QEMU started, and it grows only on host-counted reads. A guest that
 * lies about its cache can lower its demand, not raise it beyond what its
 * own disk traffic shows (a guest that reads only while not probed up can
 * still grow by about what it reads: see the issue notes).
 */
#include "policy-priv.h"

const char *dmem_cache_off_text(DmemCacheOff off)
{
	switch (off) {
	case DMEM_CACHE_ON:		return NULL;
	case DMEM_CACHE_OFF_CONFIG:	return "cache_aware=no in dmemd.conf";
	case DMEM_CACHE_OFF_METADATA:	return "cache=\"ignore\" in its dmem metadata";
	case DMEM_CACHE_OFF_NO_STAT:	return "the guest reports no page cache";
	case DMEM_CACHE_OFF_NO_DISK:	return "no disk statistics from the host";
	}
	return "?";
}

static DmemCacheOff cache_off(const DmemPolicyParams *p, const DmemVmInput *vm,
			      const DmemVmDecision *d)
{
	if (!p->cache_aware)
		return DMEM_CACHE_OFF_CONFIG;
	if (vm->cache_ignore)
		return DMEM_CACHE_OFF_METADATA;
	if (!d->cache_known)
		return DMEM_CACHE_OFF_NO_STAT;
	if (!vm->has_disk_io)
		return DMEM_CACHE_OFF_NO_DISK;
	return DMEM_CACHE_ON;
}

static gint64 probe_us(const DmemPolicyParams *p)
{
	return (gint64)MAX(p->cache_probe_s, 1) * G_USEC_PER_SEC;
}

static gint64 reprobe_us(const DmemPolicyParams *p)
{
	return (gint64)p->cache_reprobe_s * G_USEC_PER_SEC;
}

/* Demand without the cache: in use, the guest kernel, pressure. */
static dmem_kib_t base_demand(const DmemVmDecision *d)
{
	return sat_add(sat_add(d->used_kib, d->overhead_kib), d->pressure_kib);
}

/*
 * A down probe's target: leave the guest @step less cache than @hot, and no
 * buffer; never below its floor nor its minimum.
 */
static dmem_kib_t down_target(const DmemVmDecision *d, dmem_kib_t hot, dmem_kib_t step)
{
	dmem_kib_t goal = sat_add(base_demand(d), sat_sub(hot, step));

	return MAX(MAX(goal, d->floor_target_kib), d->min_kib);
}

static void window_restart(const DmemHostInput *h, const DmemVmInput *vm,
			   DmemCacheState *c)
{
	c->win_us = h->now_us;
	c->win_read = vm->disk_read_bytes;
	c->win_cache_kib = vm->stats.has_disk_caches ?
			   MIN(vm->stats.disk_caches_kib, vm->stats.total_kib) : 0;
}

static guint64 window_read_kib(const DmemVmInput *vm, const DmemCacheState *c)
{
	return vm->disk_read_bytes >= c->win_read ?
	       (vm->disk_read_bytes - c->win_read) / 1024 : 0;
}

static void found(const DmemHostInput *h, DmemCacheState *c, DmemCacheSeen what,
		  dmem_kib_t step, dmem_kib_t before, dmem_kib_t during)
{
	c->seen = what;
	c->seen_us = h->now_us;
	c->seen_step_kib = step;
	c->seen_before_kib_per_s = before;
	c->seen_during_kib_per_s = during;
}

/*
 * No room for more cache: little free memory, or more read in the last
 * window than the guest had free beside what its cache grew by (what it
 * read had to push other cache out). The kernel reclaims in batches and
 * keeps free memory above its watermarks, so a guest that thrashes still
 * shows some (46-67 MiB measured on 768 MiB guests); what it reads
 * meanwhile tells. Reads that refill a cache (after a probe took some)
 * grow it, and do not count.
 */
static gboolean squeezed(const DmemPolicyParams *p, const DmemGuestStats *s,
			 const DmemCacheState *c)
{
	return s->has_free &&
	       (s->free_kib <= MAX(DMEM_CACHE_SQUEEZED_MIN_KIB,
				   percent_of(s->total_kib, DMEM_CACHE_SQUEEZED_PERCENT)) ||
		c->base_kib_per_s * MAX(p->cache_probe_s, 1) >
			sat_add(s->free_kib, c->base_gain_kib));
}

/* A probe's effect shows once the balloon got there, or after a window. */
static gboolean probe_reached(const DmemPolicyParams *p, const DmemHostInput *h,
			      const DmemVmInput *vm, DmemCacheState *c)
{
	dmem_kib_t actual = bound(vm->assigned_kib);
	gboolean there = c->phase == DMEM_CACHE_PROBE_DOWN ?
			 actual <= sat_add(c->probe_target_kib, DMEM_BALLOON_TOLERANCE_KIB) :
			 sat_add(actual, DMEM_GROW_MIN_KIB) >= c->probe_target_kib;

	if (!c->reached_us && (there || h->now_us - c->probe_us >= probe_us(p))) {
		c->reached_us = h->now_us;
		/* Up: what counts is the read rate once it has the memory. (Down
		 * keeps its window: reads that rise while the balloon inflates
		 * are evidence already.) */
		if (c->phase == DMEM_CACHE_PROBE_UP)
			window_restart(h, vm, c);
	}
	return c->reached_us && h->now_us - c->reached_us >= probe_us(p);
}

static void settle(const DmemHostInput *h, const DmemVmInput *vm, DmemCacheState *c)
{
	c->phase = DMEM_CACHE_SETTLED;
	c->probe_target_kib = 0;
	window_restart(h, vm, c);
}

static void probe_down_watch(const DmemPolicyParams *p, const DmemHostInput *h,
			     const DmemVmInput *vm, DmemCacheState *c, gboolean growing)
{
	gint64 us = h->now_us - c->win_us;
	guint64 read = window_read_kib(vm, c);
	dmem_kib_t expected = c->base_kib_per_s * (dmem_kib_t)us / G_USEC_PER_SEC;
	dmem_kib_t step = c->probe_step_kib;

	if (growing) {
		/* Demand rose: not the moment to tell. Again later. */
		c->hot_kib = c->probe_from_kib;
		c->next_down_us = h->now_us + probe_us(p);
		settle(h, vm, c);
		return;
	}
	/* Reads a VM did anyway vary: a quarter of them is noise too. */
	if (sat_sub(read, expected) >= MAX(MAX(DMEM_CACHE_REFAULT_MIN_KIB,
					       step / DMEM_CACHE_REFAULT_SHARE),
					   expected / 4)) {
		/*
		 * Reads rose: what the probe took was hot. Back at once, and
		 * the cache the guest had before the probe, when it read
		 * nothing, is what it needs (LRU took cold cache first, so
		 * at most about a step of it is cold; the next, finer probe
		 * tells). That is the guest's word: it raises the estimate
		 * by a step at most.
		 */
		found(h, c, DMEM_CACHE_SEEN_HOT, step, c->base_kib_per_s, kib_per_s(read, us));
		c->hot_kib = MAX(c->probe_from_kib,
				 MIN(c->probe_cache_kib, sat_add(c->probe_from_kib, step)));
		c->next_step_kib = MAX(DMEM_CACHE_PROBE_MIN_KIB, step / 2);
		c->next_down_us = h->now_us + reprobe_us(p);
		/* The cache it lost comes back by reading: no quiet base. */
		c->base_known = FALSE;
		settle(h, vm, c);
	} else if (probe_reached(p, h, vm, c)) {
		found(h, c, DMEM_CACHE_SEEN_COLD, step, c->base_kib_per_s, kib_per_s(read, us));
		c->hot_kib = sat_sub(c->probe_from_kib, step);
		c->next_step_kib = MAX(DMEM_CACHE_PROBE_MIN_KIB, step * 2);
		c->next_down_us = h->now_us;
		settle(h, vm, c);
	}
}

static void probe_up_watch(const DmemPolicyParams *p, const DmemHostInput *h,
			   const DmemVmInput *vm, DmemCacheState *c)
{
	gint64 us = h->now_us - c->win_us;
	dmem_kib_t rate;

	if (!probe_reached(p, h, vm, c))
		return;
	rate = kib_per_s(window_read_kib(vm, c), us);
	if (rate + MAX(c->base_kib_per_s / DMEM_CACHE_GREW_SHARE,
		       DMEM_CACHE_READ_NOISE_KIB_PER_S) <= c->base_kib_per_s) {
		/* More memory, fewer reads: the set is bigger. */
		found(h, c, DMEM_CACHE_SEEN_GREW, c->probe_step_kib, c->base_kib_per_s, rate);
		c->base_kib_per_s = rate;
		c->next_up_us = h->now_us;
	} else {
		found(h, c, DMEM_CACHE_SEEN_STREAM, c->probe_step_kib, c->base_kib_per_s, rate);
		c->hot_kib = c->probe_from_kib;
		/* It cost a DIMM if the live size grew while it ran. */
		c->up_dimm_failed |= bound(vm->live_kib) > c->probe_live_kib;
		c->next_up_us = h->now_us + reprobe_us(p);
	}
	settle(h, vm, c);
}

/* Follow the cache the guest builds by reading, or drops on its own. */
static void follow(const DmemPolicyParams *p, const DmemHostInput *h,
		   const DmemGuestStats *s, DmemCacheState *c, dmem_kib_t rc,
		   dmem_kib_t fit, guint64 io_kib)
{
	guint64 io = io_kib - c->io_kib;

	if (rc > c->hot_kib && io && c->hot_kib < fit) {
		c->hot_kib = MIN(MIN(rc, sat_add(c->hot_kib, bound(io))), fit);
		c->mark_cache_kib = rc;
		/* A probe's finding stays the evidence: it still holds. */
		if (c->seen == DMEM_CACHE_SEEN_NONE || c->seen == DMEM_CACHE_SEEN_BUILT)
			found(h, c, DMEM_CACHE_SEEN_BUILT, 0, 0, 0);
	}
	/*
	 * Cache a probe took and the guest is still reading back was not
	 * dropped on its own: a hot finding stands until the next probe. Nor
	 * is the part of the estimate that was never cache: a guest that
	 * reads keeps some memory free beside its cache, and an up probe's
	 * finding counts what it needed.
	 */
	if (s->has_free && !squeezed(p, s, c) &&
	    sat_add(rc, DMEM_CACHE_PROBE_MIN_KIB) < MIN(c->hot_kib, c->mark_cache_kib) &&
	    !(c->seen == DMEM_CACHE_SEEN_HOT && h->now_us < c->next_down_us)) {
		if (!c->dropped_us) {
			c->dropped_us = h->now_us;
		} else if (h->now_us - c->dropped_us >= probe_us(p)) {
			found(h, c, DMEM_CACHE_SEEN_DROPPED, c->hot_kib - rc, 0, 0);
			c->hot_kib = rc;
			c->dropped_us = 0;
		}
	} else {
		c->dropped_us = 0;
	}
}

void dmem_cache_update(const DmemPolicyParams *p, const DmemHostInput *h,
		       const DmemVmInput *vm, DmemVmState *st, DmemVmDecision *d)
{
	DmemCacheState *c = &st->cache;
	const DmemGuestStats *s = &vm->stats;
	guint64 io_kib = sat_add(vm->disk_read_bytes, vm->disk_write_bytes) / 1024;
	dmem_kib_t fit = sat_sub(bound(vm->assigned_kib) * 100 / (100 + buffer_of(vm)),
				 base_demand(d));
	dmem_kib_t rc, ceiling;

	d->cache_off = cache_off(p, vm, d);
	if (d->cache_off != DMEM_CACHE_ON) {
		*c = (DmemCacheState) { 0 };
		return;
	}
	/*
	 * Buffers + Cached includes shmem, which is already in use (not in
	 * MemAvailable); cache that cannot be dropped never shows as reads
	 * when probed, so the estimate loses it at the first probe.
	 * (MemAvailable - MemFree would leave shmem out, but also twice the
	 * kernel's low watermark, and a VM held at its demand would then be
	 * that much short of its hot set.)
	 */
	rc = d->cache_kib;
	/* Never more than it could cache at its maximum, nor than its QEMU
	 * ever moved. */
	ceiling = MIN(sat_sub(bound(vm->maximum_kib), d->used_kib), bound(io_kib));

	if (c->phase == DMEM_CACHE_OFF || io_kib < c->io_kib ||
	    vm->disk_read_bytes < c->win_read) {
		/* First sight, or a new QEMU: what the guest has cached now
		 * counts, as far as it fits without growing. */
		*c = (DmemCacheState) { .phase = DMEM_CACHE_SETTLED };
		c->hot_kib = MIN(rc, fit);
		if (c->hot_kib)
			found(h, c, DMEM_CACHE_SEEN_BUILT, 0, 0, 0);
		window_restart(h, vm, c);
	} else if (c->phase == DMEM_CACHE_SETTLED) {
		follow(p, h, s, c, rc, fit, io_kib);
		if (h->now_us - c->win_us >= probe_us(p)) {
			/* A whole window: its read rate is what probes compare to. */
			c->base_kib_per_s = kib_per_s(window_read_kib(vm, c), h->now_us - c->win_us);
			c->base_gain_kib = sat_sub(rc, c->win_cache_kib);
			c->base_known = TRUE;
			window_restart(h, vm, c);
		}
	} else if (c->phase == DMEM_CACHE_PROBE_DOWN) {
		probe_down_watch(p, h, vm, c, st->growing_until_us > h->now_us);
	} else {
		probe_up_watch(p, h, vm, c);
	}
	c->io_kib = io_kib;
	c->hot_kib = MIN(c->hot_kib, ceiling);
	/* A hot finding's cache is the one the probe started from: the
	 * guest reads the rest back. */
	if (c->seen_us == h->now_us)
		c->mark_cache_kib = c->seen == DMEM_CACHE_SEEN_HOT ?
				    MAX(rc, c->probe_cache_kib) : rc;

	d->cache_phase = c->phase;
	d->hot_cache_kib = c->hot_kib;
	d->cache_seen = c->seen;
	d->cache_seen_s = c->seen ? (h->now_us - c->seen_us) / G_USEC_PER_SEC : 0;
	d->cache_seen_step_kib = c->seen_step_kib;
	d->cache_seen_before_kib_per_s = c->seen_before_kib_per_s;
	d->cache_seen_during_kib_per_s = c->seen_during_kib_per_s;
}

/*
 * Steady: nothing on its way, the balloon where it was asked to be. A down
 * probe also needs demand not rising and the VM at its ideal: no surplus
 * waiting for its delay (which a probe must not cut short), not short. An
 * up probe does not: a VM held below its ideal by the pool, reading, is
 * where it matters (its demand, hot cache included, is what the weights
 * share), and a thrashing cache moves what MemAvailable says is in use.
 */
static gboolean steady(const DmemVmInput *vm)
{
	return !vm->apply_pending && vm->target_known &&
	       distance(bound(vm->assigned_kib), bound(vm->target_kib)) <=
			DMEM_BALLOON_TOLERANCE_KIB;
}

static gboolean at_ideal(const DmemHostInput *h, const DmemVmInput *vm,
			 const DmemVmState *st, const DmemVmDecision *d)
{
	dmem_kib_t target = bound(vm->target_kib);
	dmem_kib_t ideal = MIN(d->ideal_kib, d->max_kib);

	return st->growing_until_us <= h->now_us &&
	       sat_add(target, DMEM_GROW_MIN_KIB) > ideal &&
	       target < sat_add(ideal, DMEM_SHRINK_MIN_KIB);
}

void dmem_cache_probe(const DmemPolicyParams *p, const DmemHostInput *h,
		      const DmemVmInput *vm, DmemVmState *st, DmemVmDecision *d)
{
	DmemCacheState *c = &st->cache;

	if (d->cache_off != DMEM_CACHE_ON)
		return;
	if (c->phase == DMEM_CACHE_SETTLED && c->base_known && steady(vm)) {
		dmem_kib_t buffer = buffer_of(vm);
		/*
		 * An up probe may take a DIMM; once one that did found a
		 * stream, only probes within the live size do, until one
		 * of them helps: a stream costs a VM one DIMM slot a boot.
		 */
		dmem_kib_t reach = c->seen == DMEM_CACHE_SEEN_GREW || !c->up_dimm_failed ?
				   d->max_kib : bound(vm->live_kib) * 100 / (100 + buffer);
		dmem_kib_t room = sat_sub(reach, sat_add(base_demand(d), c->hot_kib));

		gboolean reading = c->base_kib_per_s > DMEM_CACHE_READ_NOISE_KIB_PER_S &&
				   squeezed(p, &vm->stats, c);

		/*
		 * Up first when it reads with no room for more cache; down
		 * otherwise, also while it reads (a steady stream of new
		 * data, to which a hot set's refaults would add), except
		 * while an up probe is due.
		 */
		if (reading && h->now_us >= c->next_up_us && room >= DMEM_CACHE_PROBE_MIN_KIB) {
			c->phase = DMEM_CACHE_PROBE_UP;
			c->probe_step_kib = MIN(MAX(c->hot_kib / DMEM_CACHE_PROBE_SHARE,
						    DMEM_CACHE_UP_MIN_KIB), room);
		} else if (at_ideal(h, vm, st, d) && c->hot_kib >= DMEM_CACHE_PROBE_MIN_KIB &&
			   h->now_us >= c->next_down_us) {
			dmem_kib_t step = c->next_step_kib ? c->next_step_kib :
					  c->hot_kib / DMEM_CACHE_PROBE_SHARE;

			c->phase = DMEM_CACHE_PROBE_DOWN;
			c->probe_step_kib = MIN(MAX(step, DMEM_CACHE_PROBE_MIN_KIB), c->hot_kib);
		}
		/*
		 * A probe that the floor, the minimum or a clamped ideal
		 * leaves without effect would "find" cold cache or a stream
		 * it never tested (and, down, hold the VM out of the grow
		 * path for nothing, again and again): not started.
		 */
		if (c->phase == DMEM_CACHE_PROBE_DOWN) {
			if (sat_add(down_target(d, c->hot_kib, c->probe_step_kib),
				    DMEM_SHRINK_MIN_KIB) > bound(vm->target_kib)) {
				c->phase = DMEM_CACHE_SETTLED;
				c->next_down_us = h->now_us +
						  reprobe_us(p);
			}
		} else if (c->phase == DMEM_CACHE_PROBE_UP &&
			   percent_of(sat_add(d->demand_kib, c->probe_step_kib),
				      100 + buffer) <
			   sat_add(MIN(d->ideal_kib, d->max_kib), DMEM_GROW_MIN_KIB)) {
			c->phase = DMEM_CACHE_SETTLED;
			c->next_up_us = h->now_us + reprobe_us(p);
		}
		if (c->phase != DMEM_CACHE_SETTLED) {
			c->probe_live_kib = bound(vm->live_kib);
			c->probe_from_kib = c->hot_kib;
			c->probe_cache_kib = d->cache_kib;
			c->probe_us = h->now_us;
			c->reached_us = 0;
			window_restart(h, vm, c);
		}
		if (c->phase == DMEM_CACHE_PROBE_UP) {
			/* Demand grows by the step from the next cycle on. */
			c->hot_kib += c->probe_step_kib;
			c->probe_target_kib = sat_add(d->ideal_kib, percent_of(c->probe_step_kib,
									      100 + buffer));
		}
	}
	if (c->phase == DMEM_CACHE_PROBE_DOWN) {
		c->probe_target_kib = down_target(d, c->probe_from_kib, c->probe_step_kib);
		d->probe_target_kib = c->probe_target_kib;
		d->probing = TRUE;
	}
	d->cache_phase = c->phase;
	d->probe_step_kib = c->phase == DMEM_CACHE_SETTLED ? 0 : c->probe_step_kib;
}
