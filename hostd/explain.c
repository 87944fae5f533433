// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * explain.c - a policy decision in words, for `dmemctl explain`.
 *
 * Pure formatting of the policy's input and output: it states the numbers
 * the decision was made from and the rule that decided. dmemd publishes
 * those numbers in its state (dmem_explain_record()) and dmemctl tells
 * them (dmem_explain_state()): the text is made when someone asks.
 */
#include <stdarg.h>

#include "explain.h"

/*
 * printf into @s through a stack buffer: appendf()
 * allocates a temporary string per call, and dmemd explains every VM every
 * cycle (a thousand VMs: a few thousand calls a second).
 */
static void appendf(GString *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void appendf(GString *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = g_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= 0 && (gsize)n < sizeof(buf)) {
		g_string_append_len(s, buf, n);
		return;
	}
	va_start(ap, fmt);
	g_string_append_vprintf(s, fmt, ap);
	va_end(ap);
}

#define MIB_FMT "%" G_GUINT64_FORMAT " MiB"
/* Truncated, like the policy's reasons: one VM, one number. */
#define MIB(kib) dmem_kib_to_mib(kib)

static const char *alloc_text(DmemAllocKind kind)
{
	switch (kind) {
	case DMEM_ALLOC_NONE:
		return "none";
	case DMEM_ALLOC_IDEAL:
		return "its ideal: the pool covers every VM's ideal";
	case DMEM_ALLOC_BUFFER_SHARED:
		return "demand met; the pool is short of buffers, which are shared by weight";
	case DMEM_ALLOC_DEMAND_SHARED:
		return "below demand: the pool is short, memory above minimums is shared by weight";
	case DMEM_ALLOC_MINIMUM:
		return "its minimum: the pool does not even cover every VM's minimum";
	}
	return "?";
}

/* KiB/s as MiB/s with one decimal. */
#define RATE_FMT "%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT " MiB/s"
#define RATE(kib_per_s) ((kib_per_s) / 1024), ((kib_per_s) % 1024 * 10 / 1024)

/* "12 min ago", "40 s ago". */
static void append_ago(GString *s, gint64 secs)
{
	if (secs >= 120)
		appendf(s, "%" G_GINT64_FORMAT " min ago", secs / 60);
	else
		appendf(s, "%" G_GINT64_FORMAT " s ago", secs);
}

/* The hot cache estimate and the evidence behind it (cache.c). */
static void explain_cache(GString *s, const DmemPolicyParams *p, const DmemVmDecision *d)
{
	const char *off = dmem_cache_off_text(d->cache_off);

	if (off || d->cache_phase == DMEM_CACHE_OFF) {
		appendf(s, "  hot cache: not estimated (%s): the page cache is not "
			"demand\n", off ? off : "no estimate yet");
		return;
	}
	appendf(s, "  hot cache: ~" MIB_FMT " of its page cache, counted as demand: ",
		MIB(d->hot_cache_kib));
	switch (d->cache_seen) {
	case DMEM_CACHE_SEEN_BUILT:
		appendf(s, "cache the guest built by reading, as far as it fits without "
			"growing (");
		append_ago(s, d->cache_seen_s);
		appendf(s, "); not probed yet");
		break;
	case DMEM_CACHE_SEEN_HOT:
		appendf(s, "reads rose from " RATE_FMT " to " RATE_FMT " when the VM was "
			"probed " MIB_FMT " below it, ", RATE(d->cache_seen_before_kib_per_s),
			RATE(d->cache_seen_during_kib_per_s), MIB(d->cache_seen_step_kib));
		append_ago(s, d->cache_seen_s);
		break;
	case DMEM_CACHE_SEEN_COLD:
		appendf(s, "reads stayed at " RATE_FMT " when the VM was probed " MIB_FMT
			" lower, ", RATE(d->cache_seen_during_kib_per_s),
			MIB(d->cache_seen_step_kib));
		append_ago(s, d->cache_seen_s);
		appendf(s, ": that cache was cold");
		break;
	case DMEM_CACHE_SEEN_GREW:
		appendf(s, "reads fell from " RATE_FMT " to " RATE_FMT " when the VM was "
			"given " MIB_FMT " more, ", RATE(d->cache_seen_before_kib_per_s),
			RATE(d->cache_seen_during_kib_per_s), MIB(d->cache_seen_step_kib));
		append_ago(s, d->cache_seen_s);
		break;
	case DMEM_CACHE_SEEN_STREAM:
		appendf(s, "reads stayed at " RATE_FMT " when the VM was given " MIB_FMT
			" more, ", RATE(d->cache_seen_during_kib_per_s),
			MIB(d->cache_seen_step_kib));
		append_ago(s, d->cache_seen_s);
		appendf(s, ": a stream more memory does not help");
		break;
	case DMEM_CACHE_SEEN_DROPPED:
		appendf(s, "the guest dropped " MIB_FMT " of cache it had room for, ",
			MIB(d->cache_seen_step_kib));
		append_ago(s, d->cache_seen_s);
		break;
	default:
		appendf(s, "no cache seen yet");
		break;
	}
	g_string_append_c(s, '\n');
	if (d->cache_phase == DMEM_CACHE_PROBE_DOWN)
		appendf(s, "  probing: the target leaves the guest " MIB_FMT " less cache "
			"(" MIB_FMT ") for up to %u s; if its disk reads rise, it gets "
			"it back at once\n", MIB(d->probe_step_kib),
			MIB(d->probe_target_kib), 2 * p->cache_probe_s);
	else if (d->cache_phase == DMEM_CACHE_PROBE_UP)
		appendf(s, "  probing: the estimate is " MIB_FMT " higher for up to %u s; "
			"it stays if the VM's disk reads fall by an eighth\n",
			MIB(d->probe_step_kib), 2 * p->cache_probe_s);
}

/* "150 ms", "42 s", "12 min". */
static void append_duration_ms(GString *s, gint64 ms)
{
	if (ms < 10000)
		appendf(s, "%" G_GINT64_FORMAT " ms", MAX(ms, 0));
	else if (ms < 120000)
		appendf(s, "%" G_GINT64_FORMAT " s", ms / 1000);
	else
		appendf(s, "%" G_GINT64_FORMAT " min", ms / 60000);
}

/* Why the balloon takes a surplus before the DIMMs it leaves unused go. */
static void append_balloon_first(GString *s, const DmemPolicyParams *p,
				 const DmemVmDecision *d, const DmemPoolDecision *pool)
{
	if (d->shrink_at_once || (pool && pool->contention))
		g_string_append(s, "another VM is short");
	else if (d->probing)
		g_string_append(s, "a cache probe runs");
	else if (p->unplug_delay_s > p->shrink_delay_s)
		appendf(s, "unplug_delay_s=%u is longer than shrink_delay_s=%u",
			p->unplug_delay_s, p->shrink_delay_s);
	else
		g_string_append(s, "it is above its maximum");
}

/*
 * Hot-remove (unplug.c): what the decision does with the hot-added DIMMs
 * its allocation leaves unused and, from the published state (@sv; NULL
 * for the policy's own explanation), what came of the unplugs.
 */
static void explain_unplug(GString *s, const DmemPolicyParams *p, const DmemVmDecision *d,
			   const DmemPoolDecision *pool, const DmemStateVm *sv)
{
	guint n = d->unplug_dimms;

	if (sv && !sv->unplug_enabled && sv->dimms)
		g_string_append(s, "  hot-remove: off (unplug=\"no\" in its metadata or "
				"[hotadd] unplug=no)\n");
	if (sv && sv->unplugging) {
		appendf(s, "  hot-remove: unplugging DIMM %s", sv->unplugging);
		if (sv->unplugging_kib)
			appendf(s, " (" MIB_FMT ")", MIB(sv->unplugging_kib));
		g_string_append(s, " for ");
		append_duration_ms(s, sv->unplugging_ms);
		g_string_append_c(s, '\n');
	} else if (sv && sv->unplug_enabled && sv->unplug_failure) {
		appendf(s, "  hot-remove: the last unplug failed: %s; ", sv->unplug_failure);
		if (sv->unplug_retry_s > 0)
			appendf(s, "next try in %" G_GINT64_FORMAT " s; the balloon keeps "
				"the surplus meanwhile\n", sv->unplug_retry_s);
		else
			g_string_append(s, "it may be tried again\n");
	}
	if (n) {
		appendf(s, "  hot-remove: its allocation leaves %u hot-added DIMM%s ("
			MIB_FMT ") unused; ", n, n == 1 ? "" : "s", MIB(d->unplug_spare_kib));
		if (n == 1)
			g_string_append(s, "it goes");
		else if (d->unplug)
			appendf(s, "the newest (" MIB_FMT ") goes", MIB(d->unplug_kib));
		else
			g_string_append(s, "the newest goes");
		if (d->unplug) {
			g_string_append(s, d->unplug_at_once ?
					" now, without waiting: another VM is short" : " now");
			if (d->unplug_raise_kib)
				appendf(s, ", the balloon first giving the guest " MIB_FMT
					" of room for what the DIMM holds", MIB(d->unplug_raise_kib));
			appendf(s, "; the balloon target is then " MIB_FMT "\n",
				MIB(d->unplug_target_kib));
		} else if (d->unplug_needs_room) {
			g_string_append(s, " once the pool has room to let the balloon give the "
					"guest room for what the DIMM holds first (the balloon "
					"covers it)\n");
		} else {
			appendf(s, " in %" G_GINT64_FORMAT " s (unplug_delay_s=%u)",
				d->unplug_wait_s, p->unplug_delay_s);
			if (d->keep_balloon_off) {
				g_string_append(s, n == 1 ?
						", and the balloon stays off it until then\n" :
						", and the balloon stays off them until they go\n");
			} else {
				g_string_append(s, "; the balloon takes the surplus first (");
				append_balloon_first(s, p, d, pool);
				g_string_append(s, ")\n");
			}
		}
	}
	if (sv && (sv->unplugs || sv->unplug_refusals)) {
		appendf(s, "  hot-remove: %u DIMM%s unplugged this boot", sv->unplugs,
			sv->unplugs == 1 ? "" : "s");
		if (sv->unplug_refusals)
			appendf(s, ", %u unplug%s refused or unanswered", sv->unplug_refusals,
				sv->unplug_refusals == 1 ? "" : "s");
		g_string_append_c(s, '\n');
	}
}

/*
 * The explanation; @sv, the VM in the published state, adds what the
 * mechanism did (NULL: the policy's decision alone).
 */
static char *explain(const DmemPolicyParams *p, const DmemVmInput *vm,
		     const DmemVmDecision *d, const DmemPoolDecision *pool,
		     const DmemStateVm *sv)
{
	GString *s = g_string_sized_new(1024);

	appendf(s, "%s: %s: %s\n", vm->name ? vm->name : "VM",
		dmem_status_name(d->status), d->reason);
	appendf(s, "  settings: startup " MIB_FMT ", minimum " MIB_FMT
		", maximum " MIB_FMT ", buffer %u%%, weight %u\n",
		MIB(vm->startup_kib), MIB(vm->minimum_kib),
		MIB(vm->maximum_kib), vm->buffer_percent, vm->weight);
	appendf(s, "  memory: assigned " MIB_FMT ", balloon target "
		MIB_FMT ", live size " MIB_FMT ", %u DIMM slot%s free\n",
		MIB(vm->assigned_kib), MIB(vm->target_kib),
		MIB(vm->live_kib), vm->free_slots,
		vm->free_slots == 1 ? "" : "s");

	if (!d->managed) {
		g_string_append(s, "  dmemd does not change this VM.\n");
		return g_string_free(s, FALSE);
	}
	if (d->max_kib < vm->maximum_kib)
		appendf(s, "  reachable maximum: " MIB_FMT
			" (live size plus whole %" G_GUINT64_FORMAT
			" MiB DIMMs in the free slots)\n",
			MIB(d->max_kib), MIB(p->dimm_size_kib));
	if (d->min_kib < vm->minimum_kib)
		appendf(s, "  the minimum cannot be reached; honoured up to "
			MIB_FMT "\n", MIB(d->min_kib));

	appendf(s, "  holds: " MIB_FMT " on the host = max(balloon target, "
		"assigned%s)\n", MIB(d->held_kib),
		vm->rss_kib ? ", QEMU resident - QEMU overhead" : "");
	if (d->held_by_rss)
		appendf(s, "  QEMU resident memory " MIB_FMT " minus its learned "
			"overhead " MIB_FMT " is more than the balloon says\n",
			MIB(vm->rss_kib), MIB(d->qemu_overhead_kib));
	if (d->cache_known)
		appendf(s, "  page cache: " MIB_FMT " (the guest's word)\n",
			MIB(d->cache_kib));
	if (d->disk_io_known)
		appendf(s, "  disk reads: %" G_GUINT64_FORMAT " KiB/s (as QEMU counts them)\n",
			d->disk_read_kib_per_s);
	if (d->held) {
		appendf(s, "  uncooperative for %" G_GINT64_FORMAT " s: never "
			"given more; counted at what it holds\n",
			d->held_for_s);
		if (d->reclaiming)
			appendf(s, "  reclaiming: other VMs are short and it has been "
				"uncooperative for over reclaim_unresponsive_s=%u; "
				"never below its minimum nor what its guest last "
				"reported in use plus its floor\n",
				p->reclaim_unresponsive_s);
		else if (p->reclaim_unresponsive_s)
			appendf(s, "  its memory is taken back only while other VMs "
				"are short, after reclaim_unresponsive_s=%u\n",
				p->reclaim_unresponsive_s);
	} else {
		appendf(s, "  demand: " MIB_FMT " = in use " MIB_FMT
			" (total - available) + guest kernel " MIB_FMT
			" (assigned - total) + pressure " MIB_FMT " + hot cache "
			MIB_FMT "\n", MIB(d->demand_kib), MIB(d->used_kib),
			MIB(d->overhead_kib), MIB(d->pressure_kib),
			MIB(d->hot_cache_kib));
		explain_cache(s, p, d);
		if (d->ideal_at_floor)
			appendf(s, "  ideal: " MIB_FMT " = raised to the guest's "
				"floor: in use " MIB_FMT " + guest kernel " MIB_FMT
				" + floor " MIB_FMT " (what its balloon can reach; "
				"demand + %u%% buffer is less), within ["
				MIB_FMT ", " MIB_FMT "]\n",
				MIB(d->ideal_kib), MIB(d->used_kib),
				MIB(d->overhead_kib), MIB(d->floor_kib),
				vm->buffer_percent, MIB(d->min_kib),
				MIB(vm->maximum_kib));
		else
			appendf(s, "  ideal: " MIB_FMT " = demand + %u%% buffer, "
				"within [" MIB_FMT ", " MIB_FMT "]\n",
				MIB(d->ideal_kib), vm->buffer_percent,
				MIB(d->min_kib), MIB(vm->maximum_kib));
		appendf(s, "  allocation: " MIB_FMT ", %s\n",
			MIB(d->allocation_kib), alloc_text(d->alloc_kind));
	}

	if (d->target_changed)
		appendf(s, "  target: " MIB_FMT " -> " MIB_FMT "\n",
			MIB(vm->target_kib), MIB(d->target_kib));
	else
		appendf(s, "  target: " MIB_FMT " (unchanged)\n",
			MIB(d->target_kib));
	if (d->shrink_delayed)
		appendf(s, "  surplus kept for %" G_GINT64_FORMAT
			" s more (shrink_delay_s=%u, counted while demand "
			"does not rise) unless another VM needs it\n",
			d->shrink_wait_s, p->shrink_delay_s);
	if (d->shrink_at_once && d->target_kib < vm->target_kib)
		g_string_append(s, "  surplus taken back at once: another VM is short\n");
	if (d->demand_rising)
		g_string_append(s, "  demand rose while the surplus lasted: the shrink "
				"delay restarted\n");
	if (d->shrink_rate_limited)
		appendf(s, "  shrinking at most %" G_GUINT64_FORMAT
			" MiB/s (max_shrink_mib_per_s)\n",
			MIB(p->max_shrink_kib_per_s));
	if (d->held_at_share)
		appendf(s, "  growth held at its weighted share of the pool, " MIB_FMT
			": VMs still growing have the rest of theirs reserved\n",
			MIB(d->fair_share_kib));
	else if (d->growth_limited)
		g_string_append(s, "  growing as other VMs give memory back\n");
	if (d->dimms)
		appendf(s, "  hot-add: %u DIMM%s of " MIB_FMT "%s\n",
			d->dimms, d->dimms == 1 ? "" : "s",
			MIB(p->dimm_size_kib), d->dimm_ahead ?
			", ahead of need: demand is rising fast enough to need it "
			"within a second" : "");
	if (d->hotadd_fill_kib)
		appendf(s, "  the guest keeps the whole new size: " MIB_FMT
			" above the allocation, returned once "
			"demand has not risen for shrink_delay_s\n",
			MIB(d->hotadd_fill_kib));
	explain_unplug(s, p, d, pool, sv);
	if (d->above_maximum)
		g_string_append(s, "  above its maximum (lowered): shrinking to it without "
				"waiting for the shrink delay\n");
	if (pool) {
		appendf(s, "  pool: " MIB_FMT ", committed " MIB_FMT
			" (what managed VMs hold), free " MIB_FMT
			", held by uncooperative VMs " MIB_FMT "%s\n",
			MIB(pool->pool_kib), MIB(pool->committed_kib),
			MIB(pool->free_kib), MIB(pool->uncooperative_kib),
			pool->contention ? ", contended" : "");
		if (pool->minimums_exceed_pool)
			appendf(s, "  the minimums (" MIB_FMT ") exceed the pool: "
				"they are shared by weight and nothing is "
				"hot-added beyond the pool\n",
				MIB(pool->minimums_kib));
		if (pool->overcommit_kib)
			appendf(s, "  the pool is overcommitted by " MIB_FMT
				": %s\n", MIB(pool->overcommit_kib),
				pool->overcommit_reason);
	}
	return g_string_free(s, FALSE);
}

char *dmem_policy_explain(const DmemPolicyParams *p, const DmemVmInput *vm,
			  const DmemVmDecision *d, const DmemPoolDecision *pool)
{
	return explain(p, vm, d, pool, NULL);
}

/* ---- through the published state ---------------------------------------- */

static const struct {
	guint flag;
	gsize offset;
} decision_flags[] = {
	{ DMEM_DECISION_HELD, G_STRUCT_OFFSET(DmemVmDecision, held) },
	{ DMEM_DECISION_RECLAIMING, G_STRUCT_OFFSET(DmemVmDecision, reclaiming) },
	{ DMEM_DECISION_HELD_BY_RSS, G_STRUCT_OFFSET(DmemVmDecision, held_by_rss) },
	{ DMEM_DECISION_IDEAL_AT_FLOOR, G_STRUCT_OFFSET(DmemVmDecision, ideal_at_floor) },
	{ DMEM_DECISION_ABOVE_MAXIMUM, G_STRUCT_OFFSET(DmemVmDecision, above_maximum) },
	{ DMEM_DECISION_SHRINK_DELAYED, G_STRUCT_OFFSET(DmemVmDecision, shrink_delayed) },
	{ DMEM_DECISION_DEMAND_RISING, G_STRUCT_OFFSET(DmemVmDecision, demand_rising) },
	{ DMEM_DECISION_RATE_LIMITED, G_STRUCT_OFFSET(DmemVmDecision, shrink_rate_limited) },
	{ DMEM_DECISION_GROWTH_LIMITED, G_STRUCT_OFFSET(DmemVmDecision, growth_limited) },
	{ DMEM_DECISION_TARGET_CHANGED, G_STRUCT_OFFSET(DmemVmDecision, target_changed) },
	{ DMEM_DECISION_HELD_AT_SHARE, G_STRUCT_OFFSET(DmemVmDecision, held_at_share) },
	{ DMEM_DECISION_GROWING, G_STRUCT_OFFSET(DmemVmDecision, growing) },
	{ DMEM_DECISION_SHRINK_AT_ONCE, G_STRUCT_OFFSET(DmemVmDecision, shrink_at_once) },
	{ DMEM_DECISION_PROBING, G_STRUCT_OFFSET(DmemVmDecision, probing) },
	{ DMEM_DECISION_DIMM_AHEAD, G_STRUCT_OFFSET(DmemVmDecision, dimm_ahead) },
	{ DMEM_DECISION_UNPLUG, G_STRUCT_OFFSET(DmemVmDecision, unplug) },
	{ DMEM_DECISION_KEEP_BALLOON_OFF, G_STRUCT_OFFSET(DmemVmDecision, keep_balloon_off) },
	{ DMEM_DECISION_UNPLUG_NEEDS_ROOM, G_STRUCT_OFFSET(DmemVmDecision, unplug_needs_room) },
	{ DMEM_DECISION_UNPLUG_AT_ONCE, G_STRUCT_OFFSET(DmemVmDecision, unplug_at_once) },
};

G_STATIC_ASSERT(G_N_ELEMENTS(decision_flags) == DMEM_DECISION_FLAGS);

#define FLAG_FIELD(d, i) G_STRUCT_MEMBER(gboolean, (d), decision_flags[i].offset)

void dmem_explain_record(const DmemVmInput *vm, const DmemVmDecision *d,
			 DmemStateDecision *x)
{
	*x = (DmemStateDecision) {
		.known = TRUE,
		.buffer_percent = vm->buffer_percent,
		.weight = vm->weight,
		.free_slots = vm->free_slots,
		.previous_target_kib = vm->target_kib,
		.used_kib = d->used_kib,
		.guest_overhead_kib = d->overhead_kib,
		.pressure_kib = d->pressure_kib,
		.floor_kib = d->floor_kib,
		.min_kib = d->min_kib,
		.max_kib = d->max_kib,
		.allocation_kib = d->allocation_kib,
		.fair_share_kib = d->fair_share_kib,
		.hotadd_fill_kib = d->hotadd_fill_kib,
		.allocation = d->alloc_kind,
		.dimms = d->dimms,
		.shrink_wait_s = d->shrink_wait_s,
		.cache_phase = d->cache_phase,
		.cache_off = d->cache_off,
		.cache_seen = d->cache_seen,
		.cache_seen_s = d->cache_seen_s,
		.cache_seen_step_kib = d->cache_seen_step_kib,
		.cache_seen_before_kib_per_s = d->cache_seen_before_kib_per_s,
		.cache_seen_during_kib_per_s = d->cache_seen_during_kib_per_s,
		.probe_target_kib = d->probe_target_kib,
		.probe_step_kib = d->probe_step_kib,
		.unplug_dimms = d->unplug_dimms,
		.unplug_spare_kib = d->unplug_spare_kib,
		.unplug_wait_s = d->unplug_wait_s,
		.unplug_kib = d->unplug_kib,
		.unplug_target_kib = d->unplug_target_kib,
		.unplug_raise_kib = d->unplug_raise_kib,
	};
	for (gsize i = 0; i < G_N_ELEMENTS(decision_flags); i++)
		if (FLAG_FIELD((gpointer)d, i))
			x->flags |= decision_flags[i].flag;
}

static DmemStatus status_of(const char *name)
{
	for (DmemStatus st = DMEM_STATUS_OK; st <= DMEM_STATUS_UNMANAGED; st++)
		if (g_strcmp0(name, dmem_status_name(st)) == 0)
			return st;
	return DMEM_STATUS_UNMANAGED;
}

char *dmem_explain_state(const DmemState *s, const DmemStateVm *vm)
{
	const DmemStateDecision *x = &vm->decision;
	DmemPolicyParams p = {
		.interval_ms = s->interval_ms,
		.shrink_delay_s = s->shrink_delay_s,
		.max_shrink_kib_per_s = s->max_shrink_kib_per_s,
		.dimm_size_kib = s->dimm_size_kib,
		.reclaim_unresponsive_s = s->reclaim_unresponsive_s,
		.cache_aware = s->cache_aware,
		.cache_probe_s = s->cache_probe_s,
		.cache_reprobe_s = s->cache_reprobe_s,
		.unplug_delay_s = s->unplug_delay_s,
	};
	DmemVmInput in = {
		.name = vm->name,
		.startup_kib = vm->startup_kib,
		.minimum_kib = vm->minimum_kib,
		.maximum_kib = vm->maximum_kib,
		.buffer_percent = x->buffer_percent,
		.weight = x->weight,
		.assigned_kib = vm->assigned_kib,
		.target_kib = x->previous_target_kib,
		.live_kib = vm->live_kib,
		.free_slots = x->free_slots,
		.rss_kib = vm->rss_kib,
	};
	DmemVmDecision d = {
		.status = status_of(vm->status),
		.managed = vm->managed,
		.held_for_s = vm->held_for_s,
		.held_kib = vm->held_kib,
		.cache_known = vm->cache_known,
		.cache_kib = vm->cache_kib,
		.disk_io_known = vm->disk_io_known,
		.disk_read_kib_per_s = vm->disk_read_kib_per_s,
		.qemu_overhead_kib = vm->overhead_kib,
		.demand_known = vm->demand_known,
		.used_kib = x->used_kib,
		.overhead_kib = x->guest_overhead_kib,
		.pressure_kib = x->pressure_kib,
		.demand_kib = vm->demand_kib,
		.floor_kib = x->floor_kib,
		.ideal_kib = vm->ideal_kib,
		.min_kib = x->min_kib,
		.max_kib = x->max_kib,
		.allocation_kib = x->allocation_kib,
		.fair_share_kib = x->fair_share_kib,
		.alloc_kind = x->allocation <= DMEM_ALLOC_MINIMUM ? x->allocation : DMEM_ALLOC_NONE,
		.target_kib = vm->target_kib,
		.dimms = x->dimms,
		.hotadd_fill_kib = x->hotadd_fill_kib,
		.shrink_wait_s = x->shrink_wait_s,
		/* Unknown codes (a newer dmemd) read as "not estimated". */
		.cache_phase = x->cache_phase <= DMEM_CACHE_PROBE_UP ? x->cache_phase :
			       DMEM_CACHE_OFF,
		.cache_off = x->cache_off <= DMEM_CACHE_OFF_NO_DISK ? x->cache_off :
			     DMEM_CACHE_ON,
		.cache_seen = x->cache_seen <= DMEM_CACHE_SEEN_DROPPED ? x->cache_seen :
			      DMEM_CACHE_SEEN_NONE,
		.cache_seen_s = x->cache_seen_s,
		.cache_seen_step_kib = x->cache_seen_step_kib,
		.cache_seen_before_kib_per_s = x->cache_seen_before_kib_per_s,
		.cache_seen_during_kib_per_s = x->cache_seen_during_kib_per_s,
		.probe_target_kib = x->probe_target_kib,
		.probe_step_kib = x->probe_step_kib,
		.hot_cache_kib = vm->hot_cache_kib,
		.unplug_dimms = x->unplug_dimms,
		.unplug_spare_kib = x->unplug_spare_kib,
		.unplug_wait_s = x->unplug_wait_s,
		.unplug_kib = x->unplug_kib,
		.unplug_target_kib = x->unplug_target_kib,
		.unplug_raise_kib = x->unplug_raise_kib,
	};
	DmemPoolDecision pool = {
		.pool_kib = s->pool_kib,
		.committed_kib = s->committed_kib,
		.free_kib = s->free_kib,
		.overcommit_kib = s->overcommit_kib,
		.uncooperative_kib = s->uncooperative_kib,
		.minimums_kib = s->minimums_kib,
		.minimums_exceed_pool = s->minimums_exceed_pool,
		.contention = s->contention,
	};
	GString *out;
	char *text;

	if (!x->known)		/* a stopped VM: nothing was decided */
		return g_strdup_printf("%s: %s: %s\n  dmemd does not change this VM.\n",
				       vm->name, vm->status, vm->reason ? vm->reason : "");
	g_strlcpy(d.reason, vm->reason ? vm->reason : "", sizeof(d.reason));
	g_strlcpy(pool.overcommit_reason, s->overcommit_reason ? s->overcommit_reason : "",
		  sizeof(pool.overcommit_reason));
	for (gsize i = 0; i < G_N_ELEMENTS(decision_flags); i++)
		FLAG_FIELD(&d, i) = (x->flags & decision_flags[i].flag) != 0;
	text = explain(&p, &in, &d, &pool, vm);
	if (!vm->failure)
		return text;
	out = g_string_new(text);
	g_free(text);
	appendf(out, "  last failed action: %s\n", vm->failure);
	return g_string_free(out, FALSE);
}
