// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-collect.c - gather one cycle's facts from libvirt.
 *
 * One bulk virConnectGetAllDomainStats() per cycle brings every running
 * domain's state, balloon size and guest memory statistics. The slower facts
 * (persistent and live XML, the <dmem/> metadata) are cached per VM and
 * re-read when an event says they changed, or every DMEM_XML_REFRESH_S as a
 * safety net for changes that raise no event (virsh setmem --config).
 */
#include <string.h>

#include <libvirt/virterror.h>

#include "settings.h"
#include "virt.h"

void dmem_vm_free(DmemVm *vm)
{
	if (!vm)
		return;
	if (vm->dom)
		virDomainFree(vm->dom);
	g_free(vm->name);
	g_free(vm->config_error);
	g_free(vm->live_error);
	g_free(vm->metadata_error);
	g_free(vm->failure);
	g_free(vm);
}

static DmemVm *vm_new(const char *uuid, const char *name)
{
	DmemVm *vm = g_new0(DmemVm, 1);

	g_strlcpy(vm->uuid, uuid, sizeof(vm->uuid));
	vm->name = g_strdup(name);
	vm->config_stale = vm->live_stale = vm->metadata_stale = TRUE;
	dmem_vm_state_init(&vm->policy);
	return vm;
}

/* ---- bulk statistics ---------------------------------------------------- */

static void read_stats(DmemVm *vm, const virDomainStatsRecord *rec)
{
	DmemGuestStats s = { 0 };
	gboolean has_rss = FALSE;

	vm->actual_reported = FALSE;

	for (int i = 0; i < rec->nparams; i++) {
		const virTypedParameter *p = &rec->params[i];
		const char *f = p->field;
		guint64 u;

		if (strcmp(f, "state.state") == 0 && p->type == VIR_TYPED_PARAM_INT) {
			vm->state = p->value.i;
			continue;
		}
		if (!g_str_has_prefix(f, "balloon."))
			continue;
		f += strlen("balloon.");
		if (p->type == VIR_TYPED_PARAM_ULLONG)
			u = p->value.ul;
		else if (p->type == VIR_TYPED_PARAM_LLONG && p->value.l >= 0)
			u = (guint64)p->value.l;
		else
			continue;

		/*
		 * libvirt's names are confusing: "available" is the guest's
		 * MemTotal, "usable" its MemAvailable, "unused" its MemFree.
		 */
		if (strcmp(f, "current") == 0) {
			vm->actual_kib = u;
			vm->actual_reported = TRUE;
		} else if (strcmp(f, "rss") == 0) {
			vm->rss_kib = u;
			has_rss = TRUE;
		} else if (strcmp(f, "last-update") == 0) {
			s.last_update_s = (gint64)MIN(u, (guint64)G_MAXINT64);
		} else if (strcmp(f, "available") == 0) {
			s.has_total = TRUE;
			s.total_kib = u;
		} else if (strcmp(f, "usable") == 0) {
			s.has_available = TRUE;
			s.available_kib = u;
		} else if (strcmp(f, "unused") == 0) {
			s.has_free = TRUE;
			s.free_kib = u;
		} else if (strcmp(f, "swap_in") == 0) {
			s.has_swap_in = TRUE;
			s.swap_in_kib = u;
		} else if (strcmp(f, "major_fault") == 0) {
			s.has_major_faults = TRUE;
			s.major_faults = u;
		}
	}
	if (!has_rss)
		vm->rss_kib = vm->actual_kib;
	/*
	 * NOWAIT skips the guest's statistics while another job holds the
	 * domain: keep the last sample then; its age tells when it is stale.
	 */
	if (s.last_update_s != 0) {
		vm->stats = s;
		vm->have_stats = TRUE;
	}
}

static gboolean bulk_stats(DmemVirt *v)
{
	virDomainStatsRecordPtr *records = NULL;
	int n;

	n = virConnectGetAllDomainStats(v->conn,
					VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_BALLOON,
					&records,
					VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
					VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
	if (n < 0) {
		const char *msg = dmem_virt_error_message();

		if (!virConnectIsAlive(v->conn)) {
			dmem_virt_lost(v, msg);
			return FALSE;
		}
		if (g_strcmp0(msg, v->stats_error) != 0)
			g_warning("%s: cannot get domain statistics: %s", v->uri, msg);
		g_free(v->stats_error);
		v->stats_error = g_strdup(msg);
		return FALSE;
	}
	if (v->stats_error) {
		g_message("%s: domain statistics work again", v->uri);
		g_clear_pointer(&v->stats_error, g_free);
	}

	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value))
		((DmemVm *)value)->seen = FALSE;

	for (int i = 0; i < n; i++) {
		virDomainPtr dom = records[i]->dom;
		char uuid[VIR_UUID_STRING_BUFLEN];
		DmemVm *vm;

		if (virDomainGetUUIDString(dom, uuid) < 0)
			continue;
		vm = g_hash_table_lookup(v->vms, uuid);
		if (!vm) {
			vm = vm_new(uuid, virDomainGetName(dom));
			g_hash_table_insert(v->vms, vm->uuid, vm);
			g_debug("%s: running, now watched", vm->name);
		}
		if (vm->dom != dom) {
			if (vm->dom)
				virDomainFree(vm->dom);
			virDomainRef(dom);
			vm->dom = dom;
		}
		vm->seen = TRUE;
		read_stats(vm, records[i]);
	}
	virDomainStatsRecordListFree(records);

	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		DmemVm *vm = value;

		if (!vm->seen) {
			g_debug("%s: no longer running", vm->name);
			g_hash_table_iter_remove(&it);
		}
	}
	return TRUE;
}

/* ---- cached facts ------------------------------------------------------- */

/* Read one XML flavour into @xml; FALSE with @error_out set on failure. */
static gboolean read_xml(virDomainPtr dom, unsigned int flags, DmemDomainXml *xml,
			 char **error_out)
{
	g_autoptr(GError) error = NULL;
	char *text = virDomainGetXMLDesc(dom, flags);
	gboolean ok;

	g_clear_pointer(error_out, g_free);
	if (!text) {
		*error_out = g_strdup(dmem_virt_error_message());
		return FALSE;
	}
	ok = dmem_domxml_parse(text, xml, &error);
	free(text);
	if (!ok)
		*error_out = g_strdup(error->message);
	return ok;
}

static void read_metadata(DmemVm *vm)
{
	g_autoptr(GError) error = NULL;
	char *text;

	g_clear_pointer(&vm->metadata_error, g_free);
	vm->has_metadata = FALSE;
	text = virDomainGetMetadata(vm->dom, VIR_DOMAIN_METADATA_ELEMENT,
				    DMEM_METADATA_URI, VIR_DOMAIN_AFFECT_LIVE);
	if (!text) {
		if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA)
			vm->metadata_error = g_strdup_printf("cannot read its dmem metadata: %s",
							     dmem_virt_error_message());
		return;
	}
	if (dmem_metadata_parse(text, &vm->metadata, &error)) {
		vm->has_metadata = TRUE;
	} else {
		vm->metadata_error = g_strdup(error->message);
		g_warning("%s: %s; the VM is not managed until it is fixed (dmemctl set %s ...)",
			  vm->name, error->message, vm->name);
	}
	free(text);
}

/* FALSE when the domain vanished meanwhile. */
static gboolean refresh_caches(DmemVm *vm, gint64 now_us)
{
	gint64 period_us = (gint64)DMEM_XML_REFRESH_S * G_USEC_PER_SEC;

	if (vm->live_stale || now_us - vm->live_at_us >= period_us) {
		vm->live_ok = read_xml(vm->dom, 0, &vm->live, &vm->live_error);
		if (!vm->live_ok && dmem_virt_error_domain_gone())
			return FALSE;
		vm->live_stale = FALSE;
		vm->live_at_us = now_us;
	}
	if (vm->config_stale || now_us - vm->config_at_us >= period_us) {
		/* A transient domain has no persistent definition: use the live one. */
		unsigned int flags = virDomainIsPersistent(vm->dom) == 1 ?
				     VIR_DOMAIN_XML_INACTIVE : 0;

		vm->config_ok = read_xml(vm->dom, flags, &vm->config, &vm->config_error);
		if (!vm->config_ok && dmem_virt_error_domain_gone())
			return FALSE;
		vm->config_stale = FALSE;
		vm->config_at_us = now_us;
	}
	if (vm->metadata_stale) {
		read_metadata(vm);
		vm->metadata_stale = FALSE;
	}
	/* Drivers without balloon.current still keep currentMemory. */
	if (!vm->actual_reported && vm->live_ok)
		vm->actual_kib = vm->live.current_kib;
	return TRUE;
}

void dmem_inactive_vm_free(gpointer p)
{
	DmemInactiveVm *vm = p;

	g_free(vm->name);
	g_free(vm);
}

static gint by_inactive_name(gconstpointer a, gconstpointer b)
{
	const DmemInactiveVm *x = *(DmemInactiveVm *const *)a;
	const DmemInactiveVm *y = *(DmemInactiveVm *const *)b;

	return g_strcmp0(x->name, y->name);
}

/*
 * The stopped domains and their persistent sizes: one XML read each, on
 * lifecycle events and every DMEM_XML_REFRESH_S.
 */
static void refresh_inactive(DmemVirt *v, gint64 now_us)
{
	virDomainPtr *doms = NULL;
	GPtrArray *list;
	int n;

	if (!v->inactive_stale &&
	    now_us - v->inactive_at_us < (gint64)DMEM_XML_REFRESH_S * G_USEC_PER_SEC)
		return;
	n = virConnectListAllDomains(v->conn, &doms, VIR_CONNECT_LIST_DOMAINS_INACTIVE);
	if (n < 0) {
		g_debug("%s: cannot list stopped domains: %s", v->uri,
			dmem_virt_error_message());
		return;
	}
	list = g_ptr_array_new_with_free_func(dmem_inactive_vm_free);
	for (int i = 0; i < n; i++) {
		DmemInactiveVm *vm = g_new0(DmemInactiveVm, 1);
		g_autofree char *error = NULL;
		DmemDomainXml config;

		vm->name = g_strdup(virDomainGetName(doms[i]));
		/* Without its sizes it is still listed: they are only shown. */
		if (read_xml(doms[i], VIR_DOMAIN_XML_INACTIVE, &config, &error))
			dmem_settings_sizes(&config, &vm->startup_kib, &vm->maximum_kib);
		else
			g_debug("%s: cannot read the stopped domain's definition: %s",
				vm->name, error);
		g_ptr_array_add(list, vm);
		virDomainFree(doms[i]);
	}
	free(doms);
	g_ptr_array_sort(list, by_inactive_name);
	if (v->inactive)
		g_ptr_array_unref(v->inactive);
	v->inactive = list;
	v->inactive_stale = FALSE;
	v->inactive_at_us = now_us;
}

gboolean dmem_virt_collect(DmemVirt *v, gint64 now_us)
{
	GHashTableIter it;
	gpointer value;

	if (!v->conn)
		return FALSE;
	if (!virConnectIsAlive(v->conn)) {
		dmem_virt_lost(v, "the connection is dead");
		return FALSE;
	}
	if (!bulk_stats(v))
		return FALSE;

	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		DmemVm *vm = value;

		if (!refresh_caches(vm, now_us)) {
			g_debug("%s: vanished while being read", vm->name);
			g_hash_table_iter_remove(&it);
		}
	}
	refresh_inactive(v, now_us);
	return TRUE;
}

static gint by_name(gconstpointer a, gconstpointer b)
{
	const DmemVm *x = *(DmemVm *const *)a, *y = *(DmemVm *const *)b;

	return g_strcmp0(x->name, y->name);
}

GPtrArray *dmem_virt_vms(DmemVirt *v)
{
	GPtrArray *out = g_ptr_array_new();
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value))
		g_ptr_array_add(out, value);
	g_ptr_array_sort(out, by_name);
	return out;
}
