// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-act.c - apply a VM's decision through libvirt.
 *
 * Order matters: the balloon target can never exceed the live <memory>, so
 * DIMMs are attached first; libvirt then raises the balloon by each DIMM's
 * size (QEMU keeps the balloon's page count while the RAM grows), so the
 * target is set again afterwards, in the same cycle.
 *
 * A failed action is logged with the VM and what was tried, and the VM's
 * actions pause for 1, 2, 4 ... DMEM_ACTION_BACKOFF_MAX_S seconds. A VM
 * that vanished meanwhile is not an error.
 */
#include <stdio.h>

#include <libvirt/virterror.h>

#include "virt.h"

static void succeeded(DmemVm *vm, const char *action)
{
	if (!vm->failures)
		return;
	g_message("%s: %s works again (after %u failed attempt%s)", vm->name,
		  action, vm->failures, vm->failures == 1 ? "" : "s");
	vm->failures = 0;
	vm->retry_at_us = 0;
	g_clear_pointer(&vm->failure, g_free);
}

static void failed(DmemVirt *v, DmemVm *vm, const char *action, gint64 now_us)
{
	g_autofree char *failure = g_strdup_printf("%s: %s", action,
						   dmem_virt_error_message());
	guint backoff_s;

	if (dmem_virt_error_domain_gone()) {
		g_debug("%s: %s: the domain is gone or stopped", vm->name, action);
		vm->live_stale = TRUE;
		return;
	}
	if (v->conn && !virConnectIsAlive(v->conn)) {
		/* The connection's close handling reports this once. */
		g_debug("%s: %s: the connection is gone", vm->name, action);
		return;
	}
	vm->failures++;
	backoff_s = 1u << MIN(vm->failures - 1, 6u);
	backoff_s = MIN(backoff_s, (guint)DMEM_ACTION_BACKOFF_MAX_S);
	vm->retry_at_us = now_us + (gint64)backoff_s * G_USEC_PER_SEC;
	/* Once per distinct failure, then at 1, 2, 4, 8 ... attempts. */
	if (g_strcmp0(failure, vm->failure) != 0 ||
	    (vm->failures & (vm->failures - 1)) == 0)
		g_warning("%s: %s failed%s: %s; retrying in %u s", vm->name,
			  action, vm->failures > 1 ? " again" : "",
			  dmem_virt_error_message(), backoff_s);
	g_free(vm->failure);
	vm->failure = g_steal_pointer(&failure);
	/* What we believed may be wrong now: read it again. */
	vm->live_stale = TRUE;
}

static gboolean set_stats_period(DmemVirt *v, DmemVm *vm, gint64 now_us)
{
	if (virDomainSetMemoryStatsPeriod(vm->dom, DMEM_STATS_PERIOD_S,
					  VIR_DOMAIN_AFFECT_LIVE) < 0) {
		failed(v, vm, "setting the memory statistics period", now_us);
		return FALSE;
	}
	g_message("%s: memory statistics period set to %d s", vm->name,
		  DMEM_STATS_PERIOD_S);
	vm->period_set = TRUE;
	vm->live.stats_period_s = DMEM_STATS_PERIOD_S;
	succeeded(vm, "setting the memory statistics period");
	return TRUE;
}

static gboolean attach_dimm(DmemVirt *v, DmemVm *vm, dmem_kib_t size_kib,
			    gint64 now_us)
{
	g_autofree char *xml = g_strdup_printf(
		"<memory model='dimm'><target>"
		"<size unit='KiB'>%" G_GUINT64_FORMAT "</size><node>0</node>"
		"</target></memory>", size_kib);
	g_autofree char *size = dmem_size_format(size_kib);
	g_autofree char *action = g_strdup_printf("hot-adding a %s DIMM", size);

	if (virDomainAttachDeviceFlags(vm->dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		failed(v, vm, action, now_us);
		return FALSE;
	}
	vm->live.memory_kib += size_kib;
	vm->live.dimms++;
	vm->live.dimm_kib += size_kib;
	vm->live_stale = TRUE;
	/* libvirt raised the balloon by the DIMM: what it holds now. */
	vm->actual_kib += size_kib;
	succeeded(vm, action);
	return TRUE;
}

static gboolean set_target(DmemVirt *v, DmemVm *vm, dmem_kib_t target_kib,
			   const char *why, gint64 now_us)
{
	dmem_kib_t from_kib = vm->target_known ? vm->target_kib : vm->actual_kib;
	g_autofree char *from = dmem_size_format(from_kib);
	g_autofree char *to = dmem_size_format(target_kib);

	if (virDomainSetMemoryFlags(vm->dom, target_kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		g_autofree char *action = g_strdup_printf("setting the balloon target to %s",
							  to);

		failed(v, vm, action, now_us);
		return FALSE;
	}
	if (!vm->target_known && target_kib == from_kib)
		g_message("%s: balloon target adopted at %s (first seen: kept where it is)",
			  vm->name, to);
	else
		g_message("%s: balloon target %s -> %s (%s)", vm->name, from, to, why);
	vm->target_known = TRUE;
	vm->target_kib = target_kib;
	succeeded(vm, "setting the balloon target");
	return TRUE;
}

/* A shrink before the delay ran out: the pool is contended. */
static gboolean pool_short(const DmemVmDecision *d)
{
	return !d->shrink_delayed && d->alloc_kind != DMEM_ALLOC_IDEAL;
}

/* Why the target moves, for the log; @buf holds DMEM_REASON_MAX bytes. */
static const char *target_why(const DmemVm *vm, dmem_kib_t target_kib, char *buf)
{
	const DmemVmDecision *d = &vm->decision;
	g_autofree char *demand = dmem_size_format(d->demand_kib);
	g_autofree char *ideal = dmem_size_format(d->ideal_kib);

	if (vm->target_known && target_kib < vm->target_kib) {
		g_snprintf(buf, DMEM_REASON_MAX, "%s, ideal %s%s",
			   d->shrink_rate_limited ? "returning surplus gradually" :
						    "returning surplus",
			   ideal, pool_short(d) ? " (another VM needs memory)" : "");
		return buf;
	}
	g_snprintf(buf, DMEM_REASON_MAX, "demand %s, ideal %s%s", demand, ideal,
		   !d->dimms ? "" : d->hotadd_fill_kib ?
		   ", after hot-adding: the guest keeps the whole DIMMs" :
		   ", after hot-adding");
	return buf;
}

static void dry_run(DmemVm *vm, dmem_kib_t dimm_size_kib)
{
	const DmemVmDecision *d = &vm->decision;
	g_autofree char *to = dmem_size_format(d->target_kib);
	g_autofree char *dimm = dmem_size_format(dimm_size_kib);

	if (!d->target_changed && !d->dimms)
		return;
	if (vm->dry_run_target_kib == d->target_kib && vm->dry_run_dimms == d->dimms)
		return;
	vm->dry_run_target_kib = d->target_kib;
	vm->dry_run_dimms = d->dimms;
	if (d->dimms)
		g_message("%s: would hot-add %u DIMM%s of %s, then set the balloon "
			  "target to %s (dry run)", vm->name, d->dimms,
			  d->dimms == 1 ? "" : "s", dimm, to);
	else
		g_message("%s: would set the balloon target to %s (dry run)",
			  vm->name, to);
}

void dmem_virt_apply(DmemVirt *v, DmemVm *vm, dmem_kib_t dimm_size_kib,
		     gint64 now_us, gboolean dry)
{
	const DmemVmDecision *d = &vm->decision;
	dmem_kib_t target;

	if (!d->managed || !vm->dom || !v->conn)
		return;
	if (dry) {
		dry_run(vm, dimm_size_kib);
		return;
	}
	if (vm->retry_at_us > now_us)
		return;

	/* Without a period QEMU never asks the guest: no stats, ever. */
	if (vm->live.stats_period_s == 0 && !vm->period_set &&
	    !set_stats_period(v, vm, now_us))
		return;

	/* Held VMs are left as they are: no adoption, no change. */
	if (d->held)
		return;

	for (guint i = 0; i < d->dimms; i++)
		if (!attach_dimm(v, vm, dimm_size_kib, now_us))
			break;

	/* Never above the live size, whatever was attached. */
	target = MIN(d->target_kib, vm->live.memory_kib);
	/* A small rise waits until it is worth it (DMEM_GROW_MIN_KIB). */
	if (vm->target_known && !d->dimms && target > vm->target_kib &&
	    target - vm->target_kib < DMEM_GROW_MIN_KIB)
		return;
	if (target != vm->target_kib || !vm->target_known || d->dimms) {
		char why[DMEM_REASON_MAX];

		set_target(v, vm, target, target_why(vm, target, why), now_us);
	}
}
