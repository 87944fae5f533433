/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy.h - how much memory each VM should have: a pure function.
 *
 * One call per cycle: the state of every VM and of the host goes in, a
 * balloon target and a number of DIMMs to hot-add per VM come out. No I/O, no
 * clock, no libvirt: the mechanism collects the input and applies the output,
 * and the unit tests drive the policy with simulated input.
 *
 *   policy.c     the cycle: classify, account what each VM holds, publish
 *                totals and overcommit
 *   demand.c     demand, the guest's floor and the ideal, from guest stats
 *   arbitrate.c  sharing a budget by weight (water-filling)
 *   targets.c    timing: shrink delay and rate, growth from free room
 *   hotadd.c     the DIMMs a target needs, and who may keep whole DIMMs
 *   unplug.c     which hot-added DIMMs go back, and when
 *
 * The pool is shared on what VMs *hold*, not on what they were asked to
 * hold: a VM holds at least max(target, actual), and no less than its QEMU
 * process's resident memory minus its learned QEMU overhead. Memory a VM was
 * asked to give back is not handed to another until it is back.
 *
 * The only memory carried between cycles is DmemVmState (rates, how long a
 * surplus or a stuck balloon has lasted). It is advisory: after a dmemd
 * restart it starts empty and the policy becomes more conservative for a
 * while (it waits the full shrink delay again), never more aggressive.
 *
 * Sizes are dmem_kib_t (KiB) throughout, as libvirt reports them.
 */
#ifndef DMEM_POLICY_H
#define DMEM_POLICY_H

#include <glib.h>

#include "config.h"
#include "units.h"

/* ---- tunables that are not in dmemd.conf -------------------------------- */

/* Stats older than max(this, 3 intervals) mean "demand unknown". */
#define DMEM_STATS_STALE_MIN_S			5
#define DMEM_STATS_STALE_INTERVALS		3
/*
 * A guest cannot see more memory than it was given. MemTotal is always a bit
 * below the live size; anything above live + this slack is a lie.
 */
#define DMEM_STATS_TOTAL_SLACK_PERCENT		10
/*
 * Pressure: demand grows by the memory needed to absorb this many seconds of
 * the current swap-in and major-fault rates without paging.
 */
#define DMEM_PRESSURE_WINDOW_S			4
/* Major faults per second a healthy guest shows (cold file reads). */
#define DMEM_MAJOR_FAULT_NOISE_PER_S		64
#define DMEM_PAGE_KIB				4
/* Allocation stalls (direct reclaim) raise demand by this share of total. */
#define DMEM_ALLOC_STALL_PRESSURE_PERCENT	5
/*
 * Memory the guest holds but does not count in MemTotal (kernel image,
 * reserved ranges, the memmap) is part of its demand in host terms; it is
 * learned from steady samples and never taken above this share of assigned.
 */
#define DMEM_GUEST_OVERHEAD_MAX_PERCENT		20
/* Pressure never adds more than this share of total. */
#define DMEM_PRESSURE_MAX_PERCENT		50
/*
 * Raising a target by less than this is not worth a balloon operation: the
 * ideal moves a little with every sample (the floor target follows what the
 * guest has in use), and chasing it would set the target every cycle. The
 * mechanism applies a rise once it reaches this size (or with a hot-add).
 */
#define DMEM_GROW_MIN_KIB			(8 * DMEM_KIB_PER_MIB)
/* A surplus smaller than this is not worth a balloon operation. */
#define DMEM_SHRINK_MIN_KIB			(16 * DMEM_KIB_PER_MIB)
/*
 * A surplus is idle only while demand is not rising: a rise of demand by
 * more than this much, or this share of it if larger, above its lowest
 * value since the surplus (re)started restarts the shrink delay. Smaller
 * moves are noise and do not.
 */
#define DMEM_DEMAND_RISE_MIN_KIB		(16 * DMEM_KIB_PER_MIB)
#define DMEM_DEMAND_RISE_PERCENT		1
/*
 * A guest whose in-use rises this fast is about to need more than it has:
 * the DIMM for a second from now is hot-added now (hotadd.c). Steps that
 * touch memory at a few hundred MiB/s reach a DIMM's worth within the next
 * stats period; a slow creep does not get DIMMs ahead.
 */
#define DMEM_AHEAD_MIN_KIB_PER_S		(64 * DMEM_KIB_PER_MIB)
#define DMEM_AHEAD_S				1
/*
 * A VM whose demand rose by more than DMEM_GROWING_RISE_KIB above its last
 * low is growing, for DMEM_GROWING_HOLD_S: while it is and holds less than
 * its weighted share of the pool, that share is kept free for it (policy.c,
 * "reservations"). An idle guest's demand moves by a few MiB; a workload
 * that grows passes the mark within a sample or two.
 */
#define DMEM_GROWING_RISE_KIB			(32 * DMEM_KIB_PER_MIB)
#define DMEM_GROWING_HOLD_S			10
/* The balloon has reached its target when within this distance of it. */
#define DMEM_BALLOON_TOLERANCE_KIB		(8 * DMEM_KIB_PER_MIB)
/* Movement toward the target of at least this much counts as progress. */
#define DMEM_BALLOON_PROGRESS_KIB		(4 * DMEM_KIB_PER_MIB)
/*
 * No progress toward the target for this long: the guest is unresponsive.
 * Progress is at least DMEM_BALLOON_PROGRESS_KIB and a quarter of the gap
 * that was open when the window started: a balloon that creeps a few MiB
 * per window toward a far target is stuck too.
 */
#define DMEM_BALLOON_TIMEOUT_S			30
#define DMEM_BALLOON_PROGRESS_SHARE		4
/*
 * A libvirt call for a VM that has not returned for this long (or two
 * intervals, if longer) makes the VM uncooperative until it returns.
 */
#define DMEM_CALL_STUCK_MIN_S			3
/*
 * QEMU's own memory (device model, TCG translation cache, libraries) is
 * learned per VM as resident memory minus what the guest holds, from samples
 * where the balloon stands still. It is bounded: a guest that lies about its
 * balloon can hide at most this much of what it really holds.
 */
#define DMEM_QEMU_OVERHEAD_MAX_KIB		(512 * DMEM_KIB_PER_MIB)

/*
 * The hot cache estimate (cache.c). A probe takes at least this much cache
 * away, and a quarter of the estimate at first.
 */
#define DMEM_CACHE_PROBE_MIN_KIB		(16 * DMEM_KIB_PER_MIB)
#define DMEM_CACHE_PROBE_SHARE			4
/*
 * An up probe gives at least this much. A set bigger than the cache shows
 * as reads that fall in proportion to the memory added: the probe keeps its
 * step when they fall by at least 1/DMEM_CACHE_GREW_SHARE (and by more than
 * the noise); a stream does not fall at all.
 */
#define DMEM_CACHE_UP_MIN_KIB			(64 * DMEM_KIB_PER_MIB)
#define DMEM_CACHE_GREW_SHARE			8
/*
 * Disk reads below this rate are background noise: a VM reading less is
 * quiet (down probes may start), one reading more reads for real.
 */
#define DMEM_CACHE_READ_NOISE_KIB_PER_S		256
/*
 * Cache taken by a probe was hot when, during the probe, the VM read at
 * least this much more than at its rate before the probe (or an eighth of
 * what the probe took, if more).
 */
#define DMEM_CACHE_REFAULT_MIN_KIB		(4 * DMEM_KIB_PER_MIB)
#define DMEM_CACHE_REFAULT_SHARE		8
/*
 * A guest with less free memory than this (or this share of its total, if
 * more) has no room for more cache: its cache is squeezed.
 */
#define DMEM_CACHE_SQUEEZED_MIN_KIB		(32 * DMEM_KIB_PER_MIB)
#define DMEM_CACHE_SQUEEZED_PERCENT		5

/*
 * Hot-remove (unplug.c): the newest hot-added DIMMs the policy looks at; a
 * surplus that leaves more than these unused is given back by the balloon.
 */
#define DMEM_UNPLUG_DIMMS_MAX			64
/*
 * A DIMM counts as unused only when the allocation leaves it unused with
 * this much to spare (unless the allocation is the VM's minimum, which does
 * not move): the ideal moves with the floor and with pressure, and a DIMM
 * unplugged at the edge would be hot-added again a cycle later.
 */
#define DMEM_UNPLUG_MARGIN_KIB			(64 * DMEM_KIB_PER_MIB)

/* ---- input -------------------------------------------------------------- */

/* Memory statistics as the guest reports them: untrusted. */
typedef struct {
	gint64 last_update_s;	/* QEMU's (host) wall clock; 0: never */
	gboolean has_total, has_available, has_free;
	dmem_kib_t total_kib;	/* MemTotal */
	dmem_kib_t available_kib; /* MemAvailable */
	dmem_kib_t free_kib;	/* MemFree (reported, not used) */
	/* The guest's page cache (Buffers + Cached). */
	gboolean has_disk_caches;
	dmem_kib_t disk_caches_kib;
	/* Cumulative counters; rates are taken between samples. */
	gboolean has_swap_in, has_major_faults, has_alloc_stalls;
	guint64 swap_in_kib;
	guint64 major_faults;
	guint64 alloc_stalls;
} DmemGuestStats;

typedef struct {
	const char *name;

	/* Settings, resolved: metadata over dmemd.conf defaults. */
	gboolean enabled;
	/* Non-NULL: the mechanism found the VM unmanageable (e.g. no balloon). */
	const char *unmanaged_reason;
	dmem_kib_t startup_kib;
	dmem_kib_t minimum_kib;
	dmem_kib_t maximum_kib;	/* <maxMemory>, or <memory> if balloon-only */
	guint buffer_percent;
	guint weight;
	/* cache="ignore" in its metadata: its cache is never protected. */
	gboolean cache_ignore;

	/* Live state from libvirt. */
	dmem_kib_t assigned_kib; /* balloon actual */
	dmem_kib_t target_kib;	/* current balloon target */
	gboolean target_known;	/* set by dmemd this boot (else: adopt actual) */
	dmem_kib_t live_kib;	/* live <memory>: boot + hot-added DIMMs */
	/* live <maxMemory>: the hot-add ceiling of this boot; 0: none */
	dmem_kib_t hotadd_max_kib;
	guint free_slots;	/* DIMM slots left */
	dmem_kib_t rss_kib;	/* QEMU's resident memory; 0: unknown */
	/*
	 * What the VM read from its disks, as the host counts it (QEMU's
	 * block statistics, all disks): cumulative.
	 */
	gboolean has_disk_io;
	guint64 disk_read_bytes;
	guint64 disk_write_bytes;
	/*
	 * A libvirt call for this VM that has not returned, for this long
	 * (0: none), and what it is ("setting the balloon target").
	 */
	gint64 call_pending_s;
	const char *call_pending;
	/*
	 * A decision on its way (an apply job in flight, or waiting for one):
	 * it is counted as if done, and nothing new is decided for the VM
	 * until it is.
	 */
	gboolean apply_pending;
	dmem_kib_t pending_target_kib;
	guint pending_dimms;

	/*
	 * Hot-remove (unplug.c): may its DIMMs be unplugged ([hotadd] unplug
	 * and its metadata); is an unplug in flight (the mechanism counts it
	 * as apply_pending too); does a refusal keep it from trying again for
	 * now; and the DIMMs hot-added this boot, newest first.
	 */
	gboolean unplug_enabled;
	gboolean unplugging;
	gboolean unplug_blocked;
	guint removable_dimms;
	dmem_kib_t removable_kib[DMEM_UNPLUG_DIMMS_MAX];
	/* DIMM memory unplugged since the guest's last statistics, which
	 * still count it. */
	dmem_kib_t unplugged_kib;

	DmemGuestStats stats;
} DmemVmInput;

typedef struct {
	guint interval_ms;
	guint shrink_delay_s;
	dmem_kib_t max_shrink_kib_per_s;
	dmem_kib_t dimm_size_kib;
	/* Take memory from an uncooperative VM after this long; 0: never. */
	guint reclaim_unresponsive_s;
	/* Hot cache is demand (cache.c); probes last cache_probe_s, and a
	 * hot finding stands for cache_reprobe_s. */
	gboolean cache_aware;
	guint cache_probe_s;
	guint cache_reprobe_s;
	/* DIMMs a surplus leaves unused go back after this long. */
	guint unplug_delay_s;
} DmemPolicyParams;

typedef struct {
	/* What all managed VMs may have together (dmem_policy_pool_kib()). */
	dmem_kib_t pool_kib;
	gint64 now_us;		/* monotonic: for delays */
	gint64 now_real_s;	/* wall clock: to age stats' last_update */
} DmemHostInput;

/* ---- memory between cycles ---------------------------------------------- */

/* What the hot cache estimator is doing (cache.c). */
typedef enum {
	DMEM_CACHE_OFF,		/* not estimated: hot cache 0 */
	DMEM_CACHE_SETTLED,	/* watching; the estimate stands */
	DMEM_CACHE_PROBE_DOWN,	/* a probe took cache: do reads rise? */
	DMEM_CACHE_PROBE_UP,	/* a probe gave memory: do reads fall? */
} DmemCachePhase;

/* Why a VM's hot cache is not estimated. */
typedef enum {
	DMEM_CACHE_ON,
	DMEM_CACHE_OFF_CONFIG,	 /* cache_aware=no */
	DMEM_CACHE_OFF_METADATA, /* cache="ignore" */
	DMEM_CACHE_OFF_NO_STAT,	 /* the guest reports no disk_caches */
	DMEM_CACHE_OFF_NO_DISK,	 /* no disk statistics from the host */
} DmemCacheOff;

/* The last thing the estimator learned, for explanations. */
typedef enum {
	DMEM_CACHE_SEEN_NONE,
	DMEM_CACHE_SEEN_BUILT,	/* the guest built its cache by reading */
	DMEM_CACHE_SEEN_HOT,	/* probed below it: reads rose */
	DMEM_CACHE_SEEN_COLD,	/* probed below it: reads did not rise */
	DMEM_CACHE_SEEN_GREW,	/* given more: reads fell */
	DMEM_CACHE_SEEN_STREAM,	/* given more: reads did not fall */
	DMEM_CACHE_SEEN_DROPPED, /* the guest dropped cache it had room for */
} DmemCacheSeen;

typedef struct {
	DmemCachePhase phase;
	dmem_kib_t hot_kib;	/* the estimate */
	guint64 io_kib;		/* host read + write counter at the last cycle */
	/* The read window: since when, the read counter and the guest's
	 * cache then. */
	gint64 win_us;
	guint64 win_read;
	dmem_kib_t win_cache_kib;
	/* The read rate of the last whole window before a probe, and what
	 * the guest's cache grew by in it. */
	gboolean base_known;
	dmem_kib_t base_kib_per_s;
	dmem_kib_t base_gain_kib;
	/* A probe: since when, from which estimate, by how much, the target
	 * it aims at, and since when the balloon is there. */
	gint64 probe_us;
	dmem_kib_t probe_from_kib, probe_step_kib;
	dmem_kib_t probe_cache_kib;	/* the guest's cache when it started */
	dmem_kib_t probe_target_kib;
	dmem_kib_t probe_live_kib;	/* the live size when it started */
	gint64 reached_us;
	/* The next down probe's step, and not before when. */
	dmem_kib_t next_step_kib;
	gint64 next_down_us, next_up_us;
	/* Since when the guest has kept its cache below the estimate (and
	 * below what it had when the estimate was last set) while having
	 * room for it; 0: it has not. */
	gint64 dropped_us;
	dmem_kib_t mark_cache_kib;	/* its cache when the estimate was set */
	/* An up probe that needed a DIMM found a stream: no more of those
	 * this boot without a probe within the live size that helped. */
	gboolean up_dimm_failed;
	/* The last finding. */
	DmemCacheSeen seen;
	gint64 seen_us;
	dmem_kib_t seen_step_kib, seen_before_kib_per_s, seen_during_kib_per_s;
} DmemCacheState;

typedef struct {
	/* Counters of the last sample, for rates. */
	gint64 sample_s;	/* its last_update; 0: none yet */
	guint64 swap_in_kib, major_faults, alloc_stalls;
	dmem_kib_t pressure_kib; /* from the last two samples */
	/* In use at the last sample, and how fast it rose to it (KiB/s). */
	dmem_kib_t used_kib;
	dmem_kib_t rise_kib_per_s;
	/* assigned - MemTotal, learned while the balloon is steady. */
	dmem_kib_t overhead_kib;
	dmem_kib_t overhead_ref_kib; /* assigned at the last sample */

	/*
	 * Since when a surplus over the allocation has lasted with demand
	 * not rising; 0: none. The lowest demand since then is what a rise
	 * is measured from; the highest goal since then is as far as the
	 * delay lets the VM shrink. A goal that fell further later is a
	 * newer surplus with a clock of its own (since when, its highest
	 * goal; 0: none), which takes over once the older one is taken.
	 */
	gint64 surplus_since_us;
	dmem_kib_t surplus_demand_kib;
	dmem_kib_t surplus_goal_kib;
	gint64 surplus_next_since_us;
	dmem_kib_t surplus_next_goal_kib;

	/* When it last took a shrink step (the rate is per time, not per
	 * cycle: cycles between cycles take no more). */
	gint64 stepped_us;

	/*
	 * Since when its allocation has left the newest hot-added DIMM
	 * unused with demand not rising (0: it has not), the lowest demand
	 * and the highest allocation since then.
	 */
	gint64 unplug_since_us;
	dmem_kib_t unplug_demand_kib;
	dmem_kib_t unplug_goal_kib;

	/* Balloon progress: since when it has not moved toward its target. */
	gint64 stuck_since_us;	/* 0: at target */
	dmem_kib_t stuck_ref_kib; /* balloon actual at stuck_since_us */

	/* QEMU's own resident memory, learned (DMEM_QEMU_OVERHEAD_MAX_KIB). */
	dmem_kib_t qemu_overhead_kib;
	dmem_kib_t qemu_ref_actual_kib;	/* actual at the previous cycle */

	/* The disk read counter at the last cycle, and when. */
	gint64 io_sample_us;
	guint64 io_read_bytes;
	dmem_kib_t io_read_kib_per_s;

	/* Growing (demand rising sample to sample) until then; the demand
	 * of the last cycle. */
	gint64 growing_until_us;
	dmem_kib_t last_demand_kib;

	/* Uncooperative since (0: cooperative), and what the guest last told
	 * us it needs at least: in use + overhead + floor (floor_target). */
	gint64 uncoop_since_us;
	dmem_kib_t last_floor_target_kib;

	DmemCacheState cache;
} DmemVmState;

/* ---- output ------------------------------------------------------------- */

typedef enum {
	DMEM_STATUS_OK,		  /* assigned >= ideal */
	DMEM_STATUS_LOW,	  /* demand <= assigned < ideal */
	DMEM_STATUS_WARNING,	  /* assigned < demand */
	DMEM_STATUS_NO_DRIVER,	  /* no stats ever: held */
	DMEM_STATUS_UNRESPONSIVE, /* stale/garbage stats, stuck balloon: held */
	DMEM_STATUS_UNMANAGED,	  /* not ours to change */
} DmemStatus;

/* How the arbitration arrived at a managed VM's allocation. */
typedef enum {
	DMEM_ALLOC_NONE,	  /* held or unmanaged: no allocation */
	DMEM_ALLOC_IDEAL,	  /* enough for everyone */
	DMEM_ALLOC_BUFFER_SHARED, /* demand met, buffers shared by weight */
	DMEM_ALLOC_DEMAND_SHARED, /* demand shared by weight above minimums */
	DMEM_ALLOC_MINIMUM,	  /* pool below the sum of minimums */
} DmemAllocKind;

#define DMEM_REASON_MAX 160

typedef struct {
	DmemStatus status;
	char reason[DMEM_REASON_MAX];	/* why, one line */
	gboolean managed;	/* target and dimms are ours to apply */
	gboolean held;		/* uncooperative: never given more */
	gint64 held_for_s;	/* uncooperative for this long */
	gboolean reclaiming;	/* uncooperative, target lowered: others short */

	/*
	 * What the VM holds on the host now: max(target, actual, rss - QEMU
	 * overhead), and after this cycle's actions.
	 */
	dmem_kib_t held_kib;
	dmem_kib_t held_after_kib;
	dmem_kib_t qemu_overhead_kib;
	gboolean held_by_rss;	/* resident memory says more than the balloon */

	/*
	 * How the guest uses its memory: its page cache (from its statistics,
	 * bounded by its total), its disk read rate (from the host), and the
	 * part of the cache that is hot (cache.c), which is demand.
	 */
	gboolean cache_known, disk_io_known;
	dmem_kib_t cache_kib;
	dmem_kib_t disk_read_kib_per_s;
	DmemCachePhase cache_phase;	/* OFF: hot_cache_kib is 0 */
	DmemCacheOff cache_off;		/* why OFF */
	dmem_kib_t hot_cache_kib;
	/* A down probe: the target it holds the VM at; 0: none. */
	dmem_kib_t probe_target_kib;
	dmem_kib_t probe_step_kib;	/* the probe's step (either way) */
	/* The last finding and how long ago (DmemCacheState). */
	DmemCacheSeen cache_seen;
	gint64 cache_seen_s;
	dmem_kib_t cache_seen_step_kib;
	dmem_kib_t cache_seen_before_kib_per_s, cache_seen_during_kib_per_s;

	/* Demand, when known. */
	gboolean demand_known;
	dmem_kib_t used_kib;	/* total - available */
	dmem_kib_t overhead_kib;	/* assigned the guest does not see */
	dmem_kib_t pressure_kib;
	dmem_kib_t demand_kib;	/* used + overhead + pressure + hot cache */
	/*
	 * The guest's floor (dmem_floor.h) at the live size, and the lowest
	 * balloon target its driver can reach: used + overhead + floor.
	 */
	dmem_kib_t floor_kib;
	dmem_kib_t floor_target_kib;
	/* max(demand + buffer, floor_target), in [min_kib, maximum] */
	dmem_kib_t ideal_kib;
	/*
	 * What it is about to need: the ideal a second from now at the rate
	 * in use rose at (only while it rises by DMEM_AHEAD_MIN_KIB_PER_S or
	 * more; else the ideal), in [min_kib, maximum]. A DIMM is hot-added
	 * for it ahead of need, from free room only.
	 */
	dmem_kib_t ahead_kib;
	gboolean dimm_ahead;	/* this cycle's DIMMs are for ahead_kib */
	gboolean ideal_at_floor; /* floor_target decided it (not buffer, bounds) */

	/* Effective bounds: maximum reduced to what slots can reach. */
	dmem_kib_t min_kib, max_kib;

	dmem_kib_t allocation_kib;	/* share of the pool */
	DmemAllocKind alloc_kind;
	/*
	 * Its weighted share of the whole pool, and whether its growth stopped
	 * there because VMs still growing toward theirs have it reserved.
	 */
	dmem_kib_t fair_share_kib;
	gboolean growing;
	gboolean held_at_share;

	dmem_kib_t target_kib;	/* new balloon target */
	gboolean target_changed;
	guint dimms;		/* hot-add this many DIMMs before the target */
	/*
	 * Target above the allocation after a hot-add: the rest of the new
	 * DIMMs, which the guest keeps until the shrink path takes it back.
	 */
	dmem_kib_t hotadd_fill_kib;

	gboolean above_maximum;		/* maximum lowered: shrinking to it */
	gboolean shrink_at_once;	/* another VM is short: no delay */
	gboolean probing;		/* a cache probe holds it down: no delay */
	gboolean shrink_delayed;	/* surplus kept until the delay ends */
	gint64 shrink_wait_s;		/* seconds left of the delay */
	gboolean demand_rising;		/* the delay restarted: demand rose */
	gboolean shrink_rate_limited;
	gboolean growth_limited;	/* waits for other VMs to shrink */

	/*
	 * Hot-remove (unplug.c): the newest hot-added DIMMs its allocation
	 * leaves unused and their size (the balloon stays off them while
	 * they wait to be unplugged: keep_balloon_off), seconds left of
	 * unplug_delay_s, and the unplug of the newest one now, with the
	 * balloon target it has once the DIMM is gone.
	 */
	guint unplug_dimms;
	dmem_kib_t unplug_spare_kib;
	gboolean keep_balloon_off;
	gint64 unplug_wait_s;
	gboolean unplug;
	gboolean unplug_at_once;	/* before unplug_delay_s: another VM is short */
	dmem_kib_t unplug_kib;
	dmem_kib_t unplug_target_kib;
	/*
	 * Raise the target by this much before the unplug: the balloon covers
	 * part of the DIMM, and the guest must have room for what the DIMM
	 * holds while it offlines it (after the unplug the target is
	 * unplug_target_kib by itself: QEMU keeps the balloon's page count).
	 */
	dmem_kib_t unplug_raise_kib;
	gboolean unplug_needs_room;	/* waits for room to raise first */
} DmemVmDecision;

#define DMEM_OVERCOMMIT_REASON_MAX 512

typedef struct {
	dmem_kib_t pool_kib;
	dmem_kib_t committed_kib;	/* sum of what managed VMs hold now */
	dmem_kib_t committed_after_kib;	/* ... once this cycle's actions land */
	dmem_kib_t free_kib;		/* pool - committed, or 0 */
	dmem_kib_t overcommit_kib;	/* committed - pool, or 0 */
	/* Which VMs hold more than they are given, and why; "" if none. */
	char overcommit_reason[DMEM_OVERCOMMIT_REASON_MAX];
	/*
	 * The causes without their numbers, which move every cycle: a log
	 * says "overcommitted" once per change of this, not of the reason.
	 */
	char overcommit_causes[DMEM_OVERCOMMIT_REASON_MAX];
	dmem_kib_t uncooperative_kib;	/* held by uncooperative VMs */
	dmem_kib_t minimums_kib;	/* sum of managed VMs' minimums */
	gboolean minimums_exceed_pool;	/* shared by weight, not guaranteed */
	gboolean contention;		/* some VM waits for others' memory */
} DmemPoolDecision;

/* ---- functions ---------------------------------------------------------- */

void dmem_policy_params_from_config(DmemPolicyParams *p, const DmemConfig *cfg);

/*
 * The pool: host_pool_kib when set; otherwise host MemAvailable minus the
 * reserve, plus the guest memory the managed VMs have resident
 * (@managed_resident_kib, the sum of dmem_policy_guest_resident_kib()):
 * that memory is not available, but it is theirs to share. Memory a VM
 * holds but has not touched yet is still in MemAvailable, so free memory
 * is MemAvailable - reserve - what VMs hold but have not touched.
 */
dmem_kib_t dmem_policy_pool_kib(const DmemConfig *cfg,
				dmem_kib_t host_available_kib,
				dmem_kib_t managed_resident_kib);

/*
 * The guest memory @vm's QEMU has resident: its resident memory minus
 * QEMU's own (as learned in @st), at most what the VM holds; what it holds
 * when QEMU's resident memory is unknown.
 */
dmem_kib_t dmem_policy_guest_resident_kib(const DmemVmInput *vm, const DmemVmState *st);

/*
 * Between cycles: do the guest's fresh statistics @now call for a cycle at
 * once? When what it has in use rose noticeably above what the last
 * decision @last saw (the rise that restarts the shrink delay). Growth
 * then waits for neither the next cycle nor the one after it.
 */
gboolean dmem_policy_needs_cycle(const DmemVmDecision *last, const DmemGuestStats *now);

/* A fresh per-VM state (for a VM seen for the first time). */
void dmem_vm_state_init(DmemVmState *st);

/*
 * Decide one cycle for @n VMs. @states[i] belongs to @vms[i] and is updated;
 * @out[i] receives the decision. @pool (may be NULL) receives the totals.
 */
void dmem_policy_decide(const DmemPolicyParams *p, const DmemHostInput *host,
			const DmemVmInput *vms, DmemVmState *states,
			DmemVmDecision *out, gsize n, DmemPoolDecision *pool);

const char *dmem_status_name(DmemStatus status);

/* Why the hot cache is not estimated, in words; NULL for DMEM_CACHE_ON. */
const char *dmem_cache_off_text(DmemCacheOff off);

/*
 * A multi-line explanation of @d for `dmemctl explain`: settings, demand,
 * ideal, arbitration, timing and hot-add. Newly allocated.
 */
char *dmem_policy_explain(const DmemPolicyParams *p, const DmemVmInput *vm,
			  const DmemVmDecision *d, const DmemPoolDecision *pool);

#endif /* DMEM_POLICY_H */
