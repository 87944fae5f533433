// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-act.c - apply a VM's decision through libvirt.
 *
 * The calls run in a job (virt-job.c), in order: the stats period if the VM
 * lacks one, the DIMMs, then the balloon target. The balloon target can
 * never exceed the live <memory>, so DIMMs are attached first; libvirt then
 * raises the balloon by each DIMM's size (QEMU keeps the balloon's page
 * count while the RAM grows), so the target is set again afterwards, in the
 * same job. What to do is the policy's decision (target_changed, dimms);
 * this file only carries it out and remembers what it did.
 *
 * A failed action is logged with the VM and what was tried, and the VM's
 * actions pause for 1, 2, 4 ... DMEM_ACTION_BACKOFF_MAX_S seconds. A VM
 * that vanished meanwhile is not an error.
 */
#include <stdio.h>

#include <libvirt/virterror.h>

#include "virt.h"

typedef struct {
	/* What to do. */
	gboolean set_period;
	guint dimms;
	dmem_kib_t dimm_kib;
	gboolean set_target;
	dmem_kib_t target_kib;
	dmem_kib_t live_kib;		/* before the DIMMs */
	dmem_kib_t actual_kib;		/* the balloon's actual at submission */
	char why[DMEM_REASON_MAX];	/* for the log */

	/* What happened. */
	gboolean period_ok;
	guint attached;
	gboolean target_ok;
	char *action;			/* the action that failed, or NULL */
	char *error;			/* its libvirt message */
	gboolean gone;			/* the domain is gone or stopped */
	gboolean conn_dead;
} Apply;

static void apply_free(gpointer p)
{
	Apply *a = p;

	g_free(a->action);
	g_free(a->error);
	g_free(a);
}

/* ---- in a worker -------------------------------------------------------- */

static void apply_failed(DmemJob *job, Apply *a, char *action)
{
	virConnectPtr conn;
	int code = virGetLastErrorCode();

	/* Read the error first: every libvirt call below resets it. */
	a->action = action;
	a->error = g_strdup(dmem_virt_error_message());
	a->gone = code == VIR_ERR_NO_DOMAIN ||
		  (code == VIR_ERR_OPERATION_INVALID && virDomainIsActive(job->dom) != 1);
	conn = virDomainGetConnect(job->dom);
	a->conn_dead = conn && virConnectIsAlive(conn) != 1;
}

static void apply_run(DmemJob *job)
{
	Apply *a = job->data;

	dmem_job_calling(job, "looking the domain up");
	if (!dmem_job_same_boot(job, &a->gone))
		return;
	if (a->set_period) {
		dmem_job_calling(job, "setting the memory statistics period");
		/* A failure is reported; the balloon actions still go on. */
		if (virDomainSetMemoryStatsPeriod(job->dom, DMEM_STATS_PERIOD_S,
						  VIR_DOMAIN_AFFECT_LIVE) < 0)
			apply_failed(job, a, g_strdup("setting the memory statistics period"));
		else
			a->period_ok = TRUE;
		if (a->gone || a->conn_dead)
			return;
	}
	for (guint i = 0; i < a->dimms; i++) {
		g_autofree char *xml = g_strdup_printf(
			"<memory model='dimm'><target>"
			"<size unit='KiB'>%" G_GUINT64_FORMAT "</size><node>0</node>"
			"</target></memory>", a->dimm_kib);

		dmem_job_calling(job, "hot-adding a DIMM");
		if (virDomainAttachDeviceFlags(job->dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
			g_autofree char *size = dmem_size_format(a->dimm_kib);

			g_clear_pointer(&a->action, g_free);
			g_clear_pointer(&a->error, g_free);
			apply_failed(job, a, g_strdup_printf("hot-adding a %s DIMM", size));
			break;
		}
		a->attached++;
	}
	if (!a->set_target || a->gone)
		return;
	dmem_job_calling(job, "setting the balloon target");
	/* Never above what was attached: the live size bounds the target. */
	a->target_kib = MIN(a->target_kib, a->live_kib + (dmem_kib_t)a->attached * a->dimm_kib);
	if (virDomainSetMemoryFlags(job->dom, a->target_kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		g_autofree char *to = dmem_size_format(a->target_kib);

		g_clear_pointer(&a->action, g_free);
		g_clear_pointer(&a->error, g_free);
		apply_failed(job, a, g_strdup_printf("setting the balloon target to %s", to));
		return;
	}
	a->target_ok = TRUE;
}

/* ---- back on the main loop ---------------------------------------------- */

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

static void failed(DmemVm *vm, const Apply *a, gint64 now_us)
{
	g_autofree char *failure = g_strdup_printf("%s: %s", a->action, a->error);
	guint backoff_s;

	/* What we believed may be wrong now: read it again. */
	vm->live_stale = TRUE;
	if (a->gone) {
		g_debug("%s: %s: the domain is gone or stopped", vm->name, a->action);
		return;
	}
	if (a->conn_dead) {
		/* The connection's close handling reports this once. */
		g_debug("%s: %s: the connection is gone", vm->name, a->action);
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
			  a->action, vm->failures > 1 ? " again" : "", a->error, backoff_s);
	g_free(vm->failure);
	vm->failure = g_steal_pointer(&failure);
}

static void apply_done(DmemVirt *v, DmemVm *vm, DmemJob *job)
{
	Apply *a = job->data;
	gint64 now_us = g_get_monotonic_time();

	if (!vm)
		return;		/* gone, or a new boot: nothing of this applies */
	vm->apply_pending = FALSE;
	if (a->period_ok) {
		g_message("%s: memory statistics period set to %d s", vm->name,
			  DMEM_STATS_PERIOD_S);
		vm->period_set = TRUE;
		vm->live.stats_period_s = DMEM_STATS_PERIOD_S;
	}
	if (a->attached) {
		g_autofree char *size = dmem_size_format(a->dimm_kib);

		vm->live.memory_kib += (dmem_kib_t)a->attached * a->dimm_kib;
		vm->live.dimms += a->attached;
		vm->live.dimm_kib += (dmem_kib_t)a->attached * a->dimm_kib;
		vm->live_stale = TRUE;
		/* libvirt raised the balloon by the DIMMs: what it holds now,
		 * unless a balloon event has said so already. */
		if (vm->actual_kib == a->actual_kib)
			vm->actual_kib += (dmem_kib_t)a->attached * a->dimm_kib;
		g_message("%s: hot-added %u DIMM%s of %s", vm->name, a->attached,
			  a->attached == 1 ? "" : "s", size);
	}
	if (a->target_ok) {
		dmem_kib_t to_kib = a->target_kib;
		dmem_kib_t from_kib = vm->target_known ? vm->target_kib : vm->actual_kib;
		g_autofree char *from = dmem_size_format(from_kib);
		g_autofree char *to = dmem_size_format(to_kib);

		if (!vm->target_known && to_kib == from_kib)
			g_message("%s: balloon target adopted at %s (first seen: kept where it is)",
				  vm->name, to);
		else
			g_message("%s: balloon target %s -> %s (%s)", vm->name, from, to, a->why);
		vm->target_known = TRUE;
		vm->target_kib = to_kib;
	}
	if (a->action)
		failed(vm, a, now_us);
	else
		succeeded(vm, "applying its memory decision");
}

/* ---- deciding what to submit -------------------------------------------- */

/*
 * Why the target moves to @target_kib after @dimms DIMMs, for the log;
 * @buf holds DMEM_REASON_MAX bytes. A deferred target was decided a cycle
 * or more before this one: the direction and the DIMMs are the submitted
 * ones, not the decision's now.
 */
static void target_why(const DmemVm *vm, dmem_kib_t target_kib, guint dimms, char *buf)
{
	const DmemVmDecision *d = &vm->decision;
	g_autofree char *demand = dmem_size_format(d->demand_kib);
	g_autofree char *ideal = dmem_size_format(d->ideal_kib);
	g_autofree char *min = dmem_size_format(d->min_kib);

	if (d->reclaiming) {
		g_snprintf(buf, DMEM_REASON_MAX, "uncooperative for %" G_GINT64_FORMAT
			   " s while other VMs are short", d->held_for_s);
	} else if (vm->target_known && target_kib < vm->target_kib) {
		g_snprintf(buf, DMEM_REASON_MAX, "%s, ideal %s%s",
			   d->above_maximum ? "above its lowered maximum" :
			   d->shrink_rate_limited ? "returning surplus gradually" :
						    "returning surplus",
			   ideal, d->shrink_at_once ? " (another VM needs memory)" : "");
	} else if (vm->target_known && target_kib > vm->target_kib &&
		   vm->target_kib < d->min_kib) {
		g_snprintf(buf, DMEM_REASON_MAX, "raised toward its minimum %s", min);
	} else {
		g_snprintf(buf, DMEM_REASON_MAX, "demand %s, ideal %s%s", demand, ideal,
			   !dimms ? "" : d->hotadd_fill_kib ?
			   ", after hot-adding: the guest keeps the whole DIMMs" :
			   ", after hot-adding");
	}
}

static void dry_run(DmemVm *vm, dmem_kib_t dimm_size_kib)
{
	const DmemVmDecision *d = &vm->decision;
	g_autofree char *to = dmem_size_format(d->target_kib);
	g_autofree char *dimm = dmem_size_format(dimm_size_kib);

	if (d->unplug) {
		g_autofree char *size = dmem_size_format(d->unplug_kib);
		const DmemDimm *newest = dmem_domxml_newest_dimm(&vm->live);

		if (!vm->dry_run_unplug)
			g_message("%s: would unplug DIMM %s (%s) (dry run)", vm->name,
				  newest ? newest->alias : "?", size);
		vm->dry_run_unplug = TRUE;
		return;
	}
	vm->dry_run_unplug = FALSE;
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

/*
 * Submit an apply job: @target_kib after @dimms DIMMs, as @vm->decision says
 * (or for @why, when given).
 */
static void submit(DmemVirt *v, DmemVm *vm, dmem_kib_t dimm_size_kib, guint dimms,
		   gboolean set_target, dmem_kib_t target_kib, const char *why)
{
	Apply *a = g_new0(Apply, 1);

	/* Without a period QEMU never asks the guest: no stats, ever. */
	a->set_period = vm->live_ok && vm->live.stats_period_s == 0 && !vm->period_set;
	a->dimms = dimms;
	a->dimm_kib = dimm_size_kib;
	a->set_target = set_target || dimms;
	a->target_kib = target_kib;
	a->live_kib = vm->live.memory_kib;
	a->actual_kib = vm->actual_kib;
	if (a->set_target && why)
		g_strlcpy(a->why, why, sizeof(a->why));
	else if (a->set_target)
		target_why(vm, target_kib, dimms, a->why);
	if (!a->set_period && !a->dimms && !a->set_target) {
		apply_free(a);
		return;
	}
	if (dmem_job_submit(v, vm, apply_run, apply_done, a, apply_free) &&
	    (a->dimms || a->set_target)) {
		vm->apply_pending = TRUE;
		vm->pending_target_kib = target_kib;
		vm->pending_dimms = dimms;
	}
}

void dmem_virt_apply(DmemVirt *v, DmemVm *vm, dmem_kib_t dimm_size_kib,
		     gint64 now_us, gboolean dry)
{
	const DmemVmDecision *d = &vm->decision;

	if (!d->managed || !vm->dom || !v->conn)
		return;
	if (dry) {
		dry_run(vm, dimm_size_kib);
		return;
	}
	if (vm->retry_at_us > now_us)
		return;
	if (vm->job) {
		/*
		 * Its collect came back late: the decision waits for it,
		 * counted as done meanwhile (the first one that waits; the
		 * policy decides nothing new for the VM until it lands).
		 */
		if ((d->target_changed || d->dimms) && !vm->apply_pending) {
			vm->apply_deferred = vm->apply_pending = TRUE;
			vm->pending_target_kib = d->target_kib;
			vm->pending_dimms = d->dimms;
			vm->pending_dimm_kib = dimm_size_kib;
			g_clear_pointer(&vm->pending_why, g_free);
		}
		return;
	}
	if (d->unplug) {
		dmem_virt_unplug(v, vm, now_us);
		return;
	}
	submit(v, vm, dimm_size_kib, d->dimms, d->target_changed, d->target_kib, NULL);
}

void dmem_virt_set_target(DmemVirt *v, DmemVm *vm, dmem_kib_t target_kib,
			  const char *why)
{
	if (!vm->dom || !v->conn)
		return;
	if (vm->job) {
		vm->apply_deferred = vm->apply_pending = TRUE;
		vm->pending_target_kib = target_kib;
		vm->pending_dimms = 0;
		g_free(vm->pending_why);
		vm->pending_why = g_strdup(why);
		return;
	}
	submit(v, vm, 0, 0, TRUE, target_kib, why);
}

void dmem_virt_apply_deferred(DmemVirt *v, DmemVm *vm)
{
	vm->apply_deferred = FALSE;
	vm->apply_pending = FALSE;
	/* Only if the VM is still dmemd's to change, and not backing off. */
	if (!vm->dom || !v->conn || !vm->decision.managed ||
	    vm->retry_at_us > g_get_monotonic_time())
		return;
	submit(v, vm, vm->pending_dimm_kib, vm->pending_dimms, TRUE, vm->pending_target_kib,
	       vm->pending_why);
	g_clear_pointer(&vm->pending_why, g_free);
}
