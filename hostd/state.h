/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * state.h - the daemon's published state (interface layer).
 *
 * dmemd replaces the state file atomically after every cycle; dmemctl status
 * and explain read it. The format is a GKeyFile: a [dmemd] group, then one
 * [vm N] group per VM, sizes in KiB. It is documented in dmemd(8) so that
 * other tools (cluster schedulers) can read it too.
 */
#ifndef DMEM_STATE_H
#define DMEM_STATE_H

#include <glib.h>

#include "units.h"

/* DmemStateDecision.flags, written as words (dmem_state_flag_names). */
enum {
	DMEM_DECISION_HELD = 1 << 0,
	DMEM_DECISION_RECLAIMING = 1 << 1,
	DMEM_DECISION_HELD_BY_RSS = 1 << 2,
	DMEM_DECISION_IDEAL_AT_FLOOR = 1 << 3,
	DMEM_DECISION_ABOVE_MAXIMUM = 1 << 4,
	DMEM_DECISION_SHRINK_DELAYED = 1 << 5,
	DMEM_DECISION_DEMAND_RISING = 1 << 6,
	DMEM_DECISION_RATE_LIMITED = 1 << 7,
	DMEM_DECISION_GROWTH_LIMITED = 1 << 8,
	DMEM_DECISION_TARGET_CHANGED = 1 << 9,
	DMEM_DECISION_HELD_AT_SHARE = 1 << 10,
	DMEM_DECISION_GROWING = 1 << 11,
	DMEM_DECISION_SHRINK_AT_ONCE = 1 << 12,
	DMEM_DECISION_PROBING = 1 << 13,
	DMEM_DECISION_DIMM_AHEAD = 1 << 14,
	DMEM_DECISION_UNPLUG = 1 << 15,
	DMEM_DECISION_KEEP_BALLOON_OFF = 1 << 16,
	DMEM_DECISION_UNPLUG_NEEDS_ROOM = 1 << 17,
	DMEM_DECISION_UNPLUG_AT_ONCE = 1 << 18,
	DMEM_DECISION_FLAGS = 19
};

/*
 * How the policy decided for a managed VM: the numbers behind its row, from
 * which `dmemctl explain` tells why the VM has what it has (status.c renders
 * them with explain.c). dmemd publishes numbers, the client writes prose:
 * a thousand explanations a second nobody reads would cost dmemd more than
 * its whole policy.
 */
typedef struct {
	gboolean known;			/* recorded: a running VM */
	guint buffer_percent, weight, free_slots;
	dmem_kib_t previous_target_kib;	/* before this decision */
	dmem_kib_t used_kib;		/* guest: total - available */
	dmem_kib_t guest_overhead_kib;	/* assigned the guest does not see */
	dmem_kib_t pressure_kib;
	dmem_kib_t floor_kib;		/* the guest's balloon floor */
	dmem_kib_t min_kib, max_kib;	/* effective bounds */
	dmem_kib_t allocation_kib;
	dmem_kib_t fair_share_kib;	/* its weighted share of the pool */
	dmem_kib_t hotadd_fill_kib;
	guint allocation;		/* DmemAllocKind */
	guint dimms;			/* planned this cycle */
	guint flags;			/* DMEM_DECISION_* */
	gint64 shrink_wait_s;
	/* The hot cache estimate (DmemCachePhase, DmemCacheOff, DmemCacheSeen)
	 * and its last finding, seconds ago. */
	guint cache_phase, cache_off, cache_seen;
	gint64 cache_seen_s;
	dmem_kib_t cache_seen_step_kib;
	dmem_kib_t cache_seen_before_kib_per_s, cache_seen_during_kib_per_s;
	dmem_kib_t probe_target_kib, probe_step_kib;
	/*
	 * Hot-remove (unplug.c): the hot-added DIMMs its allocation leaves
	 * unused and their size, seconds left of unplug_delay_s, and the
	 * unplug decided now (DMEM_DECISION_UNPLUG): the newest DIMM's size
	 * and the balloon target once it is gone.
	 */
	guint unplug_dimms;
	dmem_kib_t unplug_spare_kib;
	gint64 unplug_wait_s;
	dmem_kib_t unplug_kib;
	dmem_kib_t unplug_target_kib;
	dmem_kib_t unplug_raise_kib;
} DmemStateDecision;

typedef struct {
	char *name;
	char *uuid;
	char *state;		/* "running", "paused", "shut off", ... */
	char *status;		/* dmem_status_name() */
	char *reason;
	char *failure;		/* the last failed action, if any */
	gboolean managed;
	dmem_kib_t startup_kib, minimum_kib, maximum_kib;
	dmem_kib_t assigned_kib;	/* balloon actual */
	dmem_kib_t target_kib;		/* balloon target */
	dmem_kib_t live_kib;		/* boot + hot-added */
	dmem_kib_t balloon_kib;		/* live - assigned: held by the balloon */
	dmem_kib_t hotadded_kib;	/* sum of the DIMMs */
	guint dimms;
	gboolean demand_known;
	dmem_kib_t demand_kib, ideal_kib;
	/*
	 * What the VM holds on the host: at least max(target, assigned), and
	 * no less than its QEMU process's resident memory (rss_kib) minus the
	 * learned QEMU overhead (overhead_kib). The pool is shared on this.
	 */
	dmem_kib_t held_kib;
	dmem_kib_t rss_kib;
	dmem_kib_t overhead_kib;
	/* Uncooperative (no driver, stale stats, stuck balloon or libvirt
	 * call): since how many seconds; 0: cooperative. */
	gint64 held_for_s;
	/* The guest's page cache and its disks' read rate (host side). */
	gboolean cache_known, disk_io_known;
	dmem_kib_t cache_kib, disk_read_kib_per_s;
	/* The part of the cache counted as demand (estimated: hot_cache_known). */
	gboolean hot_cache_known;
	dmem_kib_t hot_cache_kib;
	/*
	 * Hot-remove: may its DIMMs be unplugged ([hotadd] unplug and its
	 * metadata); the DIMM being unplugged now (its alias; NULL: none),
	 * its size (0: unknown) and for how long; the DIMMs unplugged and the
	 * unplugs refused or unanswered this boot; the last refusal's reason
	 * (one line; NULL: none) and the seconds until the next try is
	 * allowed (0: it may try).
	 */
	gboolean unplug_enabled;
	char *unplugging;
	dmem_kib_t unplugging_kib;
	gint64 unplugging_ms;
	guint unplugs, unplug_refusals;
	char *unplug_failure;
	gint64 unplug_retry_s;
	DmemStateDecision decision;
} DmemStateVm;

typedef struct {
	char *version;
	gint64 pid;
	gint64 updated_us;	/* wall clock of the last cycle */
	guint interval_ms;
	char *uri;
	gboolean connected;
	char *connection_error;	/* while not connected */
	gint64 disconnected_since_us;	/* wall clock; 0: connected or unknown */
	gboolean dry_run;
	dmem_kib_t host_available_kib;
	dmem_kib_t pool_kib;		/* what managed VMs may hold together */
	dmem_kib_t committed_kib;	/* sum of managed VMs' held_kib */
	dmem_kib_t free_kib;		/* pool - committed, or 0 */
	dmem_kib_t overcommit_kib;	/* committed - pool, or 0 */
	char *overcommit_reason;	/* which VMs cause it, and why; NULL */
	dmem_kib_t minimums_kib;	/* sum of managed VMs' minimums */
	dmem_kib_t uncooperative_kib;	/* held by uncooperative VMs */
	gboolean contention;		/* some VM waits for others' memory */
	gboolean minimums_exceed_pool;
	gint64 cycle_us;		/* how long the last cycle took */
	/* The policy's parameters, for explanations. */
	guint shrink_delay_s;
	dmem_kib_t max_shrink_kib_per_s;
	dmem_kib_t dimm_size_kib;
	guint reclaim_unresponsive_s;
	gboolean cache_aware;
	guint cache_probe_s, cache_reprobe_s;
	guint unplug_delay_s;
	GPtrArray *vms;		/* DmemStateVm *, sorted by name */
} DmemState;

/* The flag's word in the state file; NULL past the last. */
const char *dmem_state_flag_name(guint bit);

void dmem_state_init(DmemState *s);
void dmem_state_clear(DmemState *s);
DmemStateVm *dmem_state_add_vm(DmemState *s);

char *dmem_state_to_data(const DmemState *s, gsize *len);
gboolean dmem_state_from_data(DmemState *s, const char *data, gsize len,
			      const char *name, GError **error);

/*
 * Write atomically (temporary file + rename, no fsync), creating the
 * directory (0755) if needed. Mode 0640, group libvirt when that group
 * exists; otherwise 0600: root only.
 */
gboolean dmem_state_write(const DmemState *s, const char *path, GError **error);
gboolean dmem_state_read(DmemState *s, const char *path, GError **error);

#endif /* DMEM_STATE_H */
