// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-unplug.c - unplug a hot-added DIMM and follow it to its end.
 *
 * The policy decides that the newest DIMM goes (unplug.c); this asks
 * libvirt to detach it by its alias (virDomainDetachDeviceAlias, LIVE, in
 * the VM's job: the call only sends the request) and then waits for the
 * guest, on the main loop:
 *
 *   DEVICE_REMOVED with its alias   the guest offlined the memory and QEMU
 *                                   freed it. QEMU kept the balloon's page
 *                                   count while the guest shrank, so the
 *                                   balloon target is set again, to what
 *                                   the policy wanted once the DIMM is gone;
 *   DEVICE_REMOVAL_FAILED           the guest refused: memory it cannot
 *                                   offline (pages that cannot move, memory
 *                                   onlined into ZONE_NORMAL);
 *   nothing for DMEM_UNPLUG_TIMEOUT_S  given up like a refusal (an old guest,
 *                                   no ACPI hotplug, an offline that loops).
 *
 * The event may arrive before the detach call has returned: whichever
 * comes second ends the unplug. When more DIMMs were due, a cycle follows
 * at once (at most one per DMEM_WAKE_GAP_MS) rather than at the next
 * interval. Until it ends the VM counts as
 * apply_pending: the policy decides nothing new for it. A refusal is
 * logged once per distinct reason, counted, and keeps the VM from trying
 * again for DMEM_UNPLUG_BACKOFF_FIRST_S, doubling up to _MAX_S; meanwhile
 * the policy lets the balloon take the surplus (unplug_blocked). A DIMM
 * removed after it was given up, or by someone else, leaves the balloon
 * target unknown: the next cycle adopts the balloon where it is.
 */
#include <string.h>

#include <libvirt/virterror.h>

#include "virt.h"

typedef struct {
	char alias[64];
	/* First raise the balloon target to this (0: no), and wait for it. */
	dmem_kib_t raise_to_kib;
	gboolean raised;
	gboolean ok;
	char *error;
	gboolean gone;
} Detach;

static void detach_free(gpointer p)
{
	Detach *x = p;

	g_free(x->error);
	g_free(x);
}

/*
 * In a worker: until the balloon has deflated to the raised target (the
 * guest has room for what the DIMM holds), at most DMEM_UNPLUG_RAISE_WAIT_MS.
 * A guest slower than that still offlines: what does not fit is only
 * migrated later.
 */
static void wait_raised(DmemJob *job, const Detach *x)
{
	gint64 until = g_get_monotonic_time() + DMEM_UNPLUG_RAISE_WAIT_MS * 1000;
	virDomainInfo info;

	dmem_job_calling(job, "waiting for the balloon to deflate");
	while (g_get_monotonic_time() < until) {
		if (virDomainGetInfo(job->dom, &info) < 0 ||
		    info.memory + DMEM_BALLOON_TOLERANCE_KIB >= x->raise_to_kib)
			return;
		g_usleep(20 * 1000);
	}
}

/* In a worker. */
static void detach_run(DmemJob *job)
{
	Detach *x = job->data;

	dmem_job_calling(job, "looking the domain up");
	if (!dmem_job_same_boot(job, &x->gone))
		return;
	if (x->raise_to_kib) {
		dmem_job_calling(job, "setting the balloon target");
		if (virDomainSetMemoryFlags(job->dom, x->raise_to_kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
			x->error = g_strdup_printf("raising the balloon target first: %s",
						   dmem_virt_error_message());
			x->gone = virGetLastErrorCode() == VIR_ERR_NO_DOMAIN;
			return;
		}
		x->raised = TRUE;
		wait_raised(job, x);
	}
	dmem_job_calling(job, "unplugging a DIMM");
	if (virDomainDetachDeviceAlias(job->dom, x->alias, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		x->error = g_strdup(dmem_virt_error_message());
		x->gone = virGetLastErrorCode() == VIR_ERR_NO_DOMAIN;
		return;
	}
	x->ok = TRUE;
}

static void unplug_clear(DmemVm *vm)
{
	vm->unplug_alias[0] = '\0';
	vm->unplug_requested = FALSE;
	vm->unplug_outcome = UNPLUG_WAITING;
	vm->apply_pending = FALSE;
}

/* The guest refused, did not answer, or libvirt failed: back off. */
static void unplug_failed(DmemVm *vm, const char *why, gint64 now_us)
{
	g_autofree char *size = dmem_size_format(vm->unplug_kib);
	g_autofree char *failure = g_strdup_printf("unplugging DIMM %s (%s): %s",
						   vm->unplug_alias, size, why);
	guint backoff_s;

	vm->unplug_refusals++;
	vm->unplug_failures++;
	backoff_s = DMEM_UNPLUG_BACKOFF_FIRST_S << MIN(vm->unplug_failures - 1, 4u);
	backoff_s = MIN(backoff_s, (guint)DMEM_UNPLUG_BACKOFF_MAX_S);
	vm->unplug_retry_at_us = now_us + (gint64)backoff_s * G_USEC_PER_SEC;
	if (g_strcmp0(failure, vm->unplug_failure) != 0)
		g_warning("%s: %s; the balloon keeps the surplus, next try in %u s",
			  vm->name, failure, backoff_s);
	else
		g_debug("%s: %s again; next try in %u s", vm->name, failure, backoff_s);
	g_free(vm->unplug_failure);
	vm->unplug_failure = g_steal_pointer(&failure);
	unplug_clear(vm);
}

/* The guest's statistics from before now still count @kib more. */
static void note_unplugged(DmemVm *vm, dmem_kib_t kib)
{
	if (vm->have_stats && vm->stats.last_update_s > vm->unplugged_real_s)
		vm->unplugged_kib = 0;
	vm->unplugged_kib += kib;
	vm->unplugged_real_s = g_get_real_time() / G_USEC_PER_SEC;
}

/* The memory device named @alias in @x, newest first; -1: none. */
static gint dimm_index(const DmemDomainXml *x, const char *alias)
{
	for (guint i = x->dimm_list_len; i-- > 0;)
		if (strcmp(x->dimm_list[i].alias, alias) == 0)
			return (gint)i;
	return -1;
}

/* Take the DIMM out of what dmemd knows of the live definition. */
static void forget_dimm(DmemVm *vm, const char *alias)
{
	DmemDomainXml *x = &vm->live;
	gint i = dimm_index(x, alias);

	if (i >= 0) {
		dmem_kib_t kib = x->dimm_list[i].size_kib;

		memmove(&x->dimm_list[i], &x->dimm_list[i + 1],
			(x->dimm_list_len - i - 1) * sizeof(x->dimm_list[0]));
		x->dimm_list_len--;
		x->memory_kib = x->memory_kib > kib ? x->memory_kib - kib : 0;
		x->dimm_kib = x->dimm_kib > kib ? x->dimm_kib - kib : 0;
		x->dimms = x->dimms ? x->dimms - 1 : 0;
	}
	/* Read it again all the same: libvirt's word counts. */
	vm->live_stale = TRUE;
}

static void unplug_removed(DmemVirt *v, DmemVm *vm, gint64 now_us)
{
	g_autofree char *size = dmem_size_format(vm->unplug_kib);
	g_autofree char *why = NULL;
	dmem_kib_t target;

	forget_dimm(vm, vm->unplug_alias);
	note_unplugged(vm, vm->unplug_kib);
	/* QEMU kept the balloon's page count: the target went down by the
	 * DIMM, whether or not the one set next gets through. */
	if (vm->target_known)
		vm->target_kib = vm->target_kib > vm->unplug_kib ?
				 vm->target_kib - vm->unplug_kib : 0;
	vm->unplugs++;
	vm->unplug_failures = 0;
	g_clear_pointer(&vm->unplug_failure, g_free);
	g_message("%s: unplugged DIMM %s (%s) in %" G_GINT64_FORMAT " ms", vm->name,
		  vm->unplug_alias, size, (now_us - vm->unplug_since_us) / 1000);
	why = g_strdup_printf("after unplugging DIMM %s", vm->unplug_alias);
	target = MIN(vm->unplug_target_kib, vm->live.memory_kib);
	unplug_clear(vm);
	/* libvirt's currentMemory dropped by the DIMM; the balloon held on. */
	dmem_virt_set_target(v, vm, target, why);
	/* The next DIMM was due with this one: decide now, not next cycle. */
	if (vm->decision.unplug_dimms > 1 && v->wake && !v->stopping)
		v->wake(v->wake_data);
}

/* Both the detach call and the guest have answered: end it. */
static void unplug_settle(DmemVirt *v, DmemVm *vm, gint64 now_us)
{
	if (!vm->unplug_requested || vm->unplug_outcome == UNPLUG_WAITING)
		return;
	if (vm->unplug_outcome == UNPLUG_REMOVED)
		unplug_removed(v, vm, now_us);
	else
		unplug_failed(vm, "the guest refused (its memory could not be offlined: "
			      "pages that cannot move, or memory onlined into ZONE_NORMAL)",
			      now_us);
}

/* On the main loop: the detach call returned. */
static void detach_done(DmemVirt *v, DmemVm *vm, DmemJob *job)
{
	Detach *x = job->data;
	gint64 now_us = g_get_monotonic_time();
	g_autofree char *why = NULL;

	if (!vm || strcmp(vm->unplug_alias, x->alias) != 0)
		return;
	if (x->raised) {
		g_autofree char *from = dmem_size_format(vm->target_known ? vm->target_kib :
							 vm->actual_kib);
		g_autofree char *to = dmem_size_format(x->raise_to_kib);

		g_message("%s: balloon target %s -> %s (room for what DIMM %s holds while "
			  "it goes offline)", vm->name, from, to, x->alias);
		vm->target_known = TRUE;
		vm->target_kib = x->raise_to_kib;
	}
	if (x->gone) {
		unplug_clear(vm);
		return;
	}
	vm->unplug_requested = TRUE;
	if (x->ok || vm->unplug_outcome != UNPLUG_WAITING) {
		unplug_settle(v, vm, now_us);
		return;
	}
	why = g_strdup_printf("libvirt: %s", x->error);
	unplug_failed(vm, why, now_us);
}

void dmem_virt_unplug(DmemVirt *v, DmemVm *vm, gint64 now_us)
{
	const DmemVmDecision *d = &vm->decision;
	const DmemDimm *dimm = dmem_domxml_newest_dimm(&vm->live);
	g_autofree char *size = dmem_size_format(d->unplug_kib);
	Detach *x;

	if (vm->unplug_alias[0] || dmem_vm_unplug_blocked(vm, now_us))
		return;
	/* The definition moved on since the decision: read it again. */
	if (!dimm || dimm->size_kib != d->unplug_kib) {
		vm->live_stale = TRUE;
		return;
	}
	x = g_new0(Detach, 1);
	g_strlcpy(x->alias, dimm->alias, sizeof(x->alias));
	if (d->unplug_raise_kib)
		x->raise_to_kib = d->target_kib + d->unplug_raise_kib;
	if (!dmem_job_submit(v, vm, detach_run, detach_done, x, detach_free))
		return;
	g_strlcpy(vm->unplug_alias, dimm->alias, sizeof(vm->unplug_alias));
	vm->unplug_kib = d->unplug_kib;
	vm->unplug_target_kib = d->unplug_target_kib;
	vm->unplug_since_us = now_us;
	vm->unplug_requested = FALSE;
	vm->unplug_outcome = UNPLUG_WAITING;
	/* Nothing new for the VM until it ends; it holds what it holds. */
	vm->apply_pending = TRUE;
	vm->pending_target_kib = (vm->target_known ? vm->target_kib : vm->actual_kib) +
				 d->unplug_raise_kib;
	vm->pending_dimms = 0;
	g_message("%s: unplugging DIMM %s (%s): %u hot-added DIMM%s unused%s", vm->name,
		  vm->unplug_alias, size, d->unplug_dimms, d->unplug_dimms == 1 ? "" : "s",
		  d->unplug_at_once ? " (another VM needs memory)" : "");
}

void dmem_virt_unplug_event(DmemVirt *v, DmemVm *vm, const char *alias, gboolean removed)
{
	gint64 now_us = g_get_monotonic_time();
	gint i;

	if (vm->unplug_alias[0] && strcmp(alias, vm->unplug_alias) == 0) {
		vm->unplug_outcome = removed ? UNPLUG_REMOVED : UNPLUG_REFUSED;
		unplug_settle(v, vm, now_us);
		return;
	}
	if (!removed || !vm->live_ok)
		return;
	/* A DIMM given up on, or someone else's: the guest shrank under
	 * the balloon target dmemd knows. Adopt the balloon where it is. */
	i = dimm_index(&vm->live, alias);
	if (i < 0)
		return;
	if (strcmp(alias, vm->unplug_late_alias) == 0) {
		g_message("%s: the guest unplugged DIMM %s after all", vm->name, alias);
		vm->unplugs++;
		vm->unplug_late_alias[0] = '\0';
		vm->unplug_failures = 0;
		vm->unplug_retry_at_us = 0;
		g_clear_pointer(&vm->unplug_failure, g_free);
	}
	note_unplugged(vm, vm->live.dimm_list[i].size_kib);
	forget_dimm(vm, alias);
	vm->target_known = FALSE;
}

void dmem_virt_unplug_watch(DmemVirt *v, gint64 now_us)
{
	GHashTableIter it;
	gpointer value;
	g_autofree char *why = g_strdup_printf("no answer from the guest within %d s "
					       "(memory it cannot offline, or no ACPI "
					       "memory hotplug)", DMEM_UNPLUG_TIMEOUT_S);

	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		DmemVm *vm = value;

		/* Gone from a definition read since it was asked for: the event
		 * was missed (libvirtd restarted in between). */
		if (vm->unplug_alias[0] && vm->unplug_requested && vm->live_ok &&
		    vm->live_at_us > vm->unplug_since_us &&
		    dimm_index(&vm->live, vm->unplug_alias) < 0) {
			g_debug("%s: DIMM %s is gone without an event", vm->name, vm->unplug_alias);
			vm->unplug_outcome = UNPLUG_REMOVED;
			unplug_settle(v, vm, now_us);
			continue;
		}
		if (!vm->unplug_alias[0] || !vm->unplug_requested ||
		    now_us - vm->unplug_since_us < (gint64)DMEM_UNPLUG_TIMEOUT_S * G_USEC_PER_SEC)
			continue;
		g_strlcpy(vm->unplug_late_alias, vm->unplug_alias,
			  sizeof(vm->unplug_late_alias));
		unplug_failed(vm, why, now_us);
	}
}

gboolean dmem_vm_unplug_blocked(const DmemVm *vm, gint64 now_us)
{
	return vm->unplug_retry_at_us > now_us;
}
