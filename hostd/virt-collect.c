// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-collect.c - gather one cycle's facts from libvirt.
 *
 * On the main loop: the list of running domains (libvirtd answers it
 * without asking any QEMU), which also tells each VM's boot by its domain
 * id. Then one collect job per VM (virt-job.c): its statistics (state,
 * balloon, QEMU's resident memory, the guest's memory statistics) and the
 * slower facts when they are stale (persistent and live XML, the <dmem/>
 * metadata), re-read when an event says they changed or every
 * DMEM_XML_REFRESH_S as a safety net for changes that raise no event
 * (virsh setmem --config). The cycle goes on once every job is back, or at
 * the collect deadline without the VMs that did not answer.
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
	g_free(vm->unplug_failure);
	g_free(vm->pending_why);
	g_free(vm);
}

static DmemVm *vm_new(const char *uuid, const char *name, unsigned int id)
{
	DmemVm *vm = g_new0(DmemVm, 1);

	g_strlcpy(vm->uuid, uuid, sizeof(vm->uuid));
	vm->name = g_strdup(name);
	vm->id = id;
	vm->config_stale = vm->live_stale = vm->metadata_stale = TRUE;
	dmem_vm_state_init(&vm->policy);
	return vm;
}

/* ---- in a worker -------------------------------------------------------- */

typedef struct {
	guint gen;			/* DmemVirt.collect_gen at submission */
	gboolean peek;			/* statistics only, between cycles */
	gint64 submitted_us;
	gboolean read_live, read_config, read_metadata;

	gboolean gone;			/* the domain vanished meanwhile */
	gboolean stats_ok;
	char *stats_error;
	int state;
	gboolean actual_reported, has_rss, has_disk_io;
	dmem_kib_t actual_kib, rss_kib;
	guint64 disk_read_bytes, disk_write_bytes;
	DmemGuestStats stats;

	gboolean live_ok, config_ok;
	DmemDomainXml live, config;
	char *live_error, *config_error;

	gboolean has_metadata;
	DmemMetadata metadata;
	char *metadata_error;		/* the element is invalid */
	gboolean metadata_unreadable;	/* the call failed */
} Collect;

static void collect_free(gpointer p)
{
	Collect *c = p;

	g_free(c->stats_error);
	g_free(c->live_error);
	g_free(c->config_error);
	g_free(c->metadata_error);
	g_free(c);
}

static void parse_stats(Collect *c, const virDomainStatsRecord *rec)
{
	DmemGuestStats s = { 0 };

	for (int i = 0; i < rec->nparams; i++) {
		const virTypedParameter *p = &rec->params[i];
		const char *f = p->field;
		guint64 u;

		if (strcmp(f, "state.state") == 0 && p->type == VIR_TYPED_PARAM_INT) {
			c->state = p->value.i;
			continue;
		}
		/* block.<n>.rd.bytes, wr.bytes: what the VM read from and
		 * wrote to disk n (the page cache is made of both). */
		if (g_str_has_prefix(f, "block.") && p->type == VIR_TYPED_PARAM_ULLONG) {
			if (g_str_has_suffix(f, ".rd.bytes")) {
				c->has_disk_io = TRUE;
				c->disk_read_bytes += p->value.ul;
			} else if (g_str_has_suffix(f, ".wr.bytes")) {
				c->disk_write_bytes += p->value.ul;
			}
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
			c->actual_kib = u;
			c->actual_reported = TRUE;
		} else if (strcmp(f, "rss") == 0) {
			c->rss_kib = u;
			c->has_rss = TRUE;
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
		} else if (strcmp(f, "disk_caches") == 0) {
			s.has_disk_caches = TRUE;
			s.disk_caches_kib = u;
		} else if (strcmp(f, "swap_in") == 0) {
			s.has_swap_in = TRUE;
			s.swap_in_kib = u;
		} else if (strcmp(f, "major_fault") == 0) {
			s.has_major_faults = TRUE;
			s.major_faults = u;
		}
	}
	c->stats = s;
}

static void read_stats(DmemJob *job, Collect *c)
{
	virDomainPtr doms[] = { job->dom, NULL };
	virDomainStatsRecordPtr *records = NULL;
	int n;

	/*
	 * NOWAIT: when another job holds the domain (a backup, a migration)
	 * libvirt skips what would wait for it, instead of waiting.
	 */
	dmem_job_calling(job, "reading statistics");
	/* A peek wants the guest's statistics only (and the balloon's). */
	n = virDomainListGetStats(doms, c->peek ? VIR_DOMAIN_STATS_BALLOON :
				  VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_BALLOON |
				  VIR_DOMAIN_STATS_BLOCK,
				  &records, VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
	if (n < 0) {
		c->gone = dmem_virt_error_domain_gone();
		c->stats_error = g_strdup(dmem_virt_error_message());
		return;
	}
	if (n == 1) {
		c->stats_ok = TRUE;
		parse_stats(c, records[0]);
	} else {
		c->gone = TRUE;
	}
	virDomainStatsRecordListFree(records);
}

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

static void read_metadata(DmemJob *job, Collect *c)
{
	g_autoptr(GError) error = NULL;
	char *text;

	dmem_job_calling(job, "reading its dmem metadata");
	text = virDomainGetMetadata(job->dom, VIR_DOMAIN_METADATA_ELEMENT,
				    DMEM_METADATA_URI, VIR_DOMAIN_AFFECT_LIVE);
	if (!text) {
		if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA)
			c->metadata_unreadable = TRUE;
		return;
	}
	if (dmem_metadata_parse(text, &c->metadata, &error))
		c->has_metadata = TRUE;
	else
		c->metadata_error = g_strdup(error->message);
	free(text);
}

static void collect_run(DmemJob *job)
{
	Collect *c = job->data;

	read_stats(job, c);
	if (c->gone)
		return;
	if (c->read_live) {
		dmem_job_calling(job, "reading the live definition");
		c->live_ok = read_xml(job->dom, 0, &c->live, &c->live_error);
		if (!c->live_ok && dmem_virt_error_domain_gone()) {
			c->gone = TRUE;
			return;
		}
	}
	if (c->read_config) {
		/* A transient domain has no persistent definition: use the live one. */
		unsigned int flags = virDomainIsPersistent(job->dom) == 1 ?
				     VIR_DOMAIN_XML_INACTIVE : 0;

		dmem_job_calling(job, "reading the persistent definition");
		c->config_ok = read_xml(job->dom, flags, &c->config, &c->config_error);
		if (!c->config_ok && dmem_virt_error_domain_gone()) {
			c->gone = TRUE;
			return;
		}
	}
	if (c->read_metadata)
		read_metadata(job, c);
}

/* ---- back on the main loop ---------------------------------------------- */

static void collection_finish(DmemVirt *v)
{
	void (*done)(gpointer) = v->collected;

	if (v->collect_deadline) {
		g_source_remove(v->collect_deadline);
		v->collect_deadline = 0;
	}
	v->collecting = 0;
	v->collected = NULL;
	if (done)
		done(v->collected_data);
}

static gboolean on_collect_deadline(gpointer data)
{
	DmemVirt *v = data;

	v->collect_deadline = 0;
	g_debug("%u VM%s did not answer in time: deciding without their new facts",
		v->collecting, v->collecting == 1 ? "" : "s");
	collection_finish(v);
	return G_SOURCE_REMOVE;
}

/*
 * A failed read of a definition that was read before keeps the last good
 * one and tries again next cycle: a passing libvirt error must not make a
 * managed VM Unmanaged (and drop what it holds from the pool's accounting).
 * A definition never read is an error.
 */
static void merge_xml(const char *name, const char *what, gboolean ok_now,
		      const DmemDomainXml *xml_now, char **error_now, gint64 read_us,
		      gboolean *ok, DmemDomainXml *xml, char **error, gint64 *at_us,
		      gboolean *stale)
{
	if (!ok_now && *ok) {
		g_debug("%s: cannot read the %s definition (%s): keeping the last",
			name, what, *error_now);
		*stale = TRUE;
		return;
	}
	*ok = ok_now;
	if (ok_now)
		*xml = *xml_now;
	g_free(*error);
	*error = g_steal_pointer(error_now);
	*at_us = read_us;
}

/* Note when the guest's statistics changed; TRUE if they did. */
static gboolean stats_fresh(DmemVm *vm, const Collect *c)
{
	gint64 since = c->submitted_us - vm->stats_fresh_us;

	if (vm->have_stats && c->stats.last_update_s == vm->stats.last_update_s)
		return FALSE;
	/* Two peeks in a row saw fresh ones: the guest's period. */
	if (c->peek && vm->stats_fresh_by_peek)
		vm->stats_period_us = CLAMP(since, G_USEC_PER_SEC, 10 * G_USEC_PER_SEC);
	vm->stats_fresh_us = c->submitted_us;
	vm->stats_fresh_by_peek = c->peek;
	return TRUE;
}

static gboolean merge(DmemVm *vm, Collect *c)
{
	gboolean fresh = FALSE;

	if (c->stats_ok) {
		if (!c->peek)
			vm->state = c->state;
		if (c->actual_reported)
			vm->actual_kib = c->actual_kib;
		vm->actual_reported = c->actual_reported;
		/* Like the guest's statistics, a skipped value keeps the last. */
		if (c->has_rss)
			vm->rss_kib = c->rss_kib;
		if (c->has_disk_io) {
			vm->has_disk_io = TRUE;
			vm->disk_read_bytes = c->disk_read_bytes;
			vm->disk_write_bytes = c->disk_write_bytes;
		}
		/*
		 * NOWAIT skips the guest's statistics while another job
		 * holds the domain: keep the last sample then; its age tells
		 * when it is stale.
		 */
		if (c->stats.last_update_s != 0) {
			fresh = stats_fresh(vm, c);
			vm->stats = c->stats;
			vm->have_stats = TRUE;
		}
	} else if (c->stats_error) {
		g_debug("%s: cannot read statistics: %s", vm->name, c->stats_error);
	}
	if (c->read_live)
		merge_xml(vm->name, "live", c->live_ok, &c->live, &c->live_error,
			  c->submitted_us, &vm->live_ok, &vm->live, &vm->live_error,
			  &vm->live_at_us, &vm->live_stale);
	if (c->read_config)
		merge_xml(vm->name, "persistent", c->config_ok, &c->config, &c->config_error,
			  c->submitted_us, &vm->config_ok, &vm->config, &vm->config_error,
			  &vm->config_at_us, &vm->config_stale);
	if (c->read_metadata && c->metadata_unreadable) {
		/* Like a definition: keep what was read, try again. */
		g_debug("%s: cannot read its dmem metadata: keeping the last", vm->name);
		vm->metadata_stale = TRUE;
	} else if (c->read_metadata) {
		vm->has_metadata = c->has_metadata;
		vm->metadata = c->metadata;
		if (c->metadata_error && g_strcmp0(c->metadata_error, vm->metadata_error) != 0)
			g_warning("%s: %s; the VM is not managed until it is fixed "
				  "(dmemctl set %s ...)", vm->name, c->metadata_error, vm->name);
		g_free(vm->metadata_error);
		vm->metadata_error = g_steal_pointer(&c->metadata_error);
	}
	/* Drivers without balloon.current still keep currentMemory. */
	if (!vm->actual_reported && vm->live_ok)
		vm->actual_kib = vm->live.current_kib;
	return fresh;
}

static void collect_done(DmemVirt *v, DmemVm *vm, DmemJob *job)
{
	Collect *c = job->data;

	if (vm && c->gone) {
		/* The next list drops it, or it comes back as a new boot. */
		g_debug("%s: vanished while being read", vm->name);
		vm->live_stale = TRUE;
	} else if (vm && merge(vm, c) && c->peek && vm->decided && !v->stopping &&
		   dmem_policy_needs_cycle(&vm->decision, &vm->stats) && v->wake) {
		g_debug("%s: demand rose between cycles: deciding now", vm->name);
		v->wake(v->wake_data);
	}
	if (!c->peek && c->gen == v->collect_gen && v->collecting && --v->collecting == 0)
		collection_finish(v);
}

/* ---- between cycles ----------------------------------------------------- */

/*
 * A guest's statistics arrive once per stats period (QEMU asks for them on
 * its own timer); a cycle a second that is not in step with them sees them
 * up to a period late. Peeking at each managed guest's statistics around
 * the time they are due finds them within DMEM_PEEK_MS: a few light reads
 * per VM and period, none while its stats are not due. Until a peek has
 * seen fresh ones (after a cycle did), when they are due is not known:
 * peek from a little after then, which finds the next ones.
 */
static gboolean peek_due(const DmemVm *vm, gint64 now_us)
{
	gint64 since = now_us - vm->stats_fresh_us;
	/* Learned by two peeks; until then, its definition's. */
	gint64 period = vm->stats_period_us ? vm->stats_period_us :
			(gint64)MAX(vm->live.stats_period_s, 1u) * G_USEC_PER_SEC;
	gint64 from = vm->stats_fresh_by_peek ? period - DMEM_PEEK_LEAD_MS * 1000 :
		      MAX(period - G_USEC_PER_SEC, DMEM_PEEK_LEAD_MS * 1000);

	return vm->decided && !vm->job && vm->have_stats &&
	       vm->state == VIR_DOMAIN_RUNNING &&
	       vm->input.enabled && !vm->input.unmanaged_reason &&
	       since >= from && since <= period + DMEM_PEEK_GIVE_UP_MS * 1000;
}

void dmem_virt_peek(DmemVirt *v, gint64 now_us)
{
	GHashTableIter it;
	gpointer value;

	/* Not while a cycle collects: a peek would keep its VM out of it. */
	if (!v->conn || v->stopping || v->collected)
		return;
	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		DmemVm *vm = value;
		Collect *c;

		if (!peek_due(vm, now_us))
			continue;
		c = g_new0(Collect, 1);
		c->peek = TRUE;
		c->submitted_us = now_us;
		dmem_job_submit(v, vm, collect_run, collect_done, c, collect_free);
	}
}

/* ---- the collection ----------------------------------------------------- */

/*
 * The running domains. A VM is keyed by uuid and belongs to one boot: a
 * domain id that changed (destroy + start, even within one interval or
 * while dmemd was disconnected) means a new boot, and dmemd forgets all it
 * knew of the old one: the new guest starts from its startup size.
 */
static gboolean list_running(DmemVirt *v)
{
	virDomainPtr *doms = NULL;
	GHashTableIter it;
	gpointer value;
	int n;

	n = virConnectListAllDomains(v->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		/* A copy: virConnectIsAlive() resets the error it points into. */
		g_autofree char *msg = g_strdup(dmem_virt_error_message());

		if (!virConnectIsAlive(v->conn)) {
			dmem_virt_lost(v, msg);
			return FALSE;
		}
		if (g_strcmp0(msg, v->list_error) != 0)
			g_warning("%s: cannot list the running domains: %s", v->uri, msg);
		g_free(v->list_error);
		v->list_error = g_strdup(msg);
		return FALSE;
	}
	if (v->list_error) {
		g_message("%s: listing the running domains works again", v->uri);
		g_clear_pointer(&v->list_error, g_free);
	}

	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value))
		((DmemVm *)value)->seen = FALSE;

	for (int i = 0; i < n; i++) {
		virDomainPtr dom = doms[i];
		char uuid[VIR_UUID_STRING_BUFLEN];
		unsigned int id = virDomainGetID(dom);
		DmemVm *vm;

		if (virDomainGetUUIDString(dom, uuid) < 0) {
			virDomainFree(dom);
			continue;
		}
		vm = g_hash_table_lookup(v->vms, uuid);
		if (vm && vm->id != id) {
			g_message("%s: restarted (domain id %u, was %u): managed afresh from "
				  "its startup size", vm->name, id, vm->id);
			g_hash_table_remove(v->vms, uuid);
			vm = NULL;
		}
		if (!vm) {
			vm = vm_new(uuid, virDomainGetName(dom), id);
			g_hash_table_insert(v->vms, vm->uuid, vm);
			g_debug("%s: running (domain id %u), now watched", vm->name, id);
		}
		if (vm->dom)
			virDomainFree(vm->dom);
		vm->dom = dom;		/* the list's reference */
		vm->seen = TRUE;
	}
	free(doms);

	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value))
		if (!((DmemVm *)value)->seen) {
			g_debug("%s: no longer running", ((DmemVm *)value)->name);
			g_hash_table_iter_remove(&it);
		}
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

gboolean dmem_virt_collect(DmemVirt *v, gint64 now_us, guint interval_ms, gboolean relist,
			   void (*done)(gpointer data), gpointer data)
{
	gint64 period_us = (gint64)DMEM_XML_REFRESH_S * G_USEC_PER_SEC;
	GHashTableIter it;
	gpointer value;

	if (!v->conn)
		return FALSE;
	if (relist && !virConnectIsAlive(v->conn)) {
		dmem_virt_lost(v, "the connection is dead");
		return FALSE;
	}
	if (v->collected) {
		/* The last collection is still waiting: decide on it now. */
		collection_finish(v);
	}
	if (relist) {
		if (!list_running(v))
			return FALSE;
		refresh_inactive(v, now_us);
	}

	v->collect_gen++;
	v->collected = done;
	v->collected_data = data;
	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		DmemVm *vm = value;
		Collect *c;

		if (vm->job)
			continue;	/* decided on what it last told us */
		c = g_new0(Collect, 1);
		c->gen = v->collect_gen;
		c->submitted_us = now_us;
		c->read_live = vm->live_stale || now_us - vm->live_at_us >= period_us;
		c->read_config = vm->config_stale || now_us - vm->config_at_us >= period_us;
		c->read_metadata = vm->metadata_stale;
		vm->live_stale = vm->config_stale = vm->metadata_stale = FALSE;
		if (dmem_job_submit(v, vm, collect_run, collect_done, c, collect_free))
			v->collecting++;
	}
	if (!v->collecting) {
		collection_finish(v);
		return TRUE;
	}
	v->collect_deadline = g_timeout_add(MAX(interval_ms * DMEM_COLLECT_WAIT_PERCENT / 100, 1u),
					    on_collect_deadline, v);
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
