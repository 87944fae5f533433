// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * explain.c - a policy decision in words, for `dmemctl explain`.
 *
 * Pure formatting of the policy's input and output: it states the numbers
 * the decision was made from and the rule that decided.
 */
#include "policy.h"

#define MIB_FMT "%" G_GUINT64_FORMAT " MiB"
#define MIB(kib) (((kib) + DMEM_KIB_PER_MIB / 2) / DMEM_KIB_PER_MIB)

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

char *dmem_policy_explain(const DmemPolicyParams *p, const DmemVmInput *vm,
			  const DmemVmDecision *d, const DmemPoolDecision *pool)
{
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "%s: %s: %s\n", vm->name ? vm->name : "VM",
			       dmem_status_name(d->status), d->reason);
	g_string_append_printf(s, "  settings: startup " MIB_FMT ", minimum " MIB_FMT
			       ", maximum " MIB_FMT ", buffer %u%%, weight %u\n",
			       MIB(vm->startup_kib), MIB(vm->minimum_kib),
			       MIB(vm->maximum_kib), vm->buffer_percent, vm->weight);
	g_string_append_printf(s, "  memory: assigned " MIB_FMT ", balloon target "
			       MIB_FMT ", live size " MIB_FMT ", %u DIMM slot%s free\n",
			       MIB(vm->assigned_kib), MIB(vm->target_kib),
			       MIB(vm->live_kib), vm->free_slots,
			       vm->free_slots == 1 ? "" : "s");

	if (!d->managed) {
		g_string_append(s, "  dmemd does not change this VM.\n");
		return g_string_free(s, FALSE);
	}
	if (d->max_kib < vm->maximum_kib)
		g_string_append_printf(s, "  reachable maximum: " MIB_FMT
				       " (live size plus whole %" G_GUINT64_FORMAT
				       " MiB DIMMs in the free slots)\n",
				       MIB(d->max_kib), MIB(p->dimm_size_kib));
	if (d->min_kib < vm->minimum_kib)
		g_string_append_printf(s, "  the minimum cannot be reached; honoured up to "
				       MIB_FMT "\n", MIB(d->min_kib));

	g_string_append_printf(s, "  holds: " MIB_FMT " on the host = max(balloon target, "
			       "assigned%s)\n", MIB(d->held_kib),
			       vm->rss_kib ? ", QEMU resident - QEMU overhead" : "");
	if (d->held_by_rss)
		g_string_append_printf(s, "  QEMU resident memory " MIB_FMT " minus its learned "
				       "overhead " MIB_FMT " is more than the balloon says\n",
				       MIB(vm->rss_kib), MIB(d->qemu_overhead_kib));
	if (d->held) {
		g_string_append_printf(s, "  uncooperative for %" G_GINT64_FORMAT " s: never "
				       "given more; counted at what it holds\n",
				       d->held_for_s);
		if (d->reclaiming)
			g_string_append_printf(s, "  reclaiming: other VMs are short and it has been "
					       "uncooperative for over reclaim_unresponsive_s=%u; "
					       "never below its minimum nor what its guest last "
					       "reported in use plus its floor\n",
					       p->reclaim_unresponsive_s);
		else if (p->reclaim_unresponsive_s)
			g_string_append_printf(s, "  its memory is taken back only while other VMs "
					       "are short, after reclaim_unresponsive_s=%u\n",
					       p->reclaim_unresponsive_s);
	} else {
		g_string_append_printf(s, "  demand: " MIB_FMT " = in use " MIB_FMT
				       " (total - available) + guest kernel " MIB_FMT
				       " (assigned - total) + pressure " MIB_FMT "\n",
				       MIB(d->demand_kib), MIB(d->used_kib),
				       MIB(d->overhead_kib), MIB(d->pressure_kib));
		if (d->ideal_at_floor)
			g_string_append_printf(s, "  ideal: " MIB_FMT " = raised to the guest's "
					       "floor: in use " MIB_FMT " + guest kernel " MIB_FMT
					       " + floor " MIB_FMT " (what its balloon can reach; "
					       "demand + %u%% buffer is less), within ["
					       MIB_FMT ", " MIB_FMT "]\n",
					       MIB(d->ideal_kib), MIB(d->used_kib),
					       MIB(d->overhead_kib), MIB(d->floor_kib),
					       vm->buffer_percent, MIB(d->min_kib),
					       MIB(vm->maximum_kib));
		else
			g_string_append_printf(s, "  ideal: " MIB_FMT " = demand + %u%% buffer, "
					       "within [" MIB_FMT ", " MIB_FMT "]\n",
					       MIB(d->ideal_kib), vm->buffer_percent,
					       MIB(d->min_kib), MIB(vm->maximum_kib));
		g_string_append_printf(s, "  allocation: " MIB_FMT ", %s\n",
				       MIB(d->allocation_kib), alloc_text(d->alloc_kind));
	}

	if (d->target_changed)
		g_string_append_printf(s, "  target: " MIB_FMT " -> " MIB_FMT "\n",
				       MIB(vm->target_kib), MIB(d->target_kib));
	else
		g_string_append_printf(s, "  target: " MIB_FMT " (unchanged)\n",
				       MIB(d->target_kib));
	if (d->shrink_delayed)
		g_string_append_printf(s, "  surplus kept for %" G_GINT64_FORMAT
				       " s more (shrink_delay_s=%u, counted while demand "
				       "does not rise) unless another VM needs it\n",
				       d->shrink_wait_s, p->shrink_delay_s);
	if (d->demand_rising)
		g_string_append(s, "  demand rose while the surplus lasted: the shrink "
				"delay restarted\n");
	if (d->shrink_rate_limited)
		g_string_append_printf(s, "  shrinking at most %" G_GUINT64_FORMAT
				       " MiB/s (max_shrink_mib_per_s)\n",
				       MIB(p->max_shrink_kib_per_s));
	if (d->growth_limited)
		g_string_append(s, "  growing as other VMs give memory back\n");
	if (d->dimms)
		g_string_append_printf(s, "  hot-add: %u DIMM%s of " MIB_FMT "\n",
				       d->dimms, d->dimms == 1 ? "" : "s",
				       MIB(p->dimm_size_kib));
	if (d->hotadd_fill_kib)
		g_string_append_printf(s, "  the guest keeps the whole new size: " MIB_FMT
				       " above the allocation, returned once "
				       "demand has not risen for shrink_delay_s\n",
				       MIB(d->hotadd_fill_kib));
	if (d->above_maximum)
		g_string_append(s, "  above its maximum (lowered): shrinking to it without "
				"waiting for the shrink delay\n");
	if (pool) {
		g_string_append_printf(s, "  pool: " MIB_FMT ", committed " MIB_FMT
				       " (what managed VMs hold), free " MIB_FMT
				       ", held by uncooperative VMs " MIB_FMT "%s\n",
				       MIB(pool->pool_kib), MIB(pool->committed_kib),
				       MIB(pool->free_kib), MIB(pool->uncooperative_kib),
				       pool->contention ? ", contended" : "");
		if (pool->minimums_exceed_pool)
			g_string_append_printf(s, "  the minimums (" MIB_FMT ") exceed the pool: "
					       "they are shared by weight and nothing is "
					       "hot-added beyond the pool\n",
					       MIB(pool->minimums_kib));
		if (pool->overcommit_kib)
			g_string_append_printf(s, "  the pool is overcommitted by " MIB_FMT
					       ": %s\n", MIB(pool->overcommit_kib),
					       pool->overcommit_reason);
	}
	return g_string_free(s, FALSE);
}
