// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * settings.c - resolve a VM's settings: XML and metadata over dmemd.conf
 * (DESIGN.md section 3, "Per-VM settings").
 */
#include <string.h>

#include "settings.h"

static gboolean is_virtio_balloon(const char *model)
{
	return strcmp(model, "virtio") == 0 ||
	       strcmp(model, "virtio-transitional") == 0 ||
	       strcmp(model, "virtio-non-transitional") == 0;
}

/* Why the VM cannot be managed, or NULL. */
static const char *unmanageable(const DmemVmFacts *f, char *buf)
{
	const DmemDomainXml *live = f->live, *config = f->config;
	const DmemMetadata *md = f->metadata_error ? NULL : f->metadata;

	if (!live) {
		g_snprintf(buf, DMEM_REASON_MAX, "cannot read its live definition: %s",
			   f->live_error ? f->live_error : "unknown error");
		return buf;
	}
	if (!config) {
		g_snprintf(buf, DMEM_REASON_MAX, "cannot read its persistent definition: %s",
			   f->config_error ? f->config_error : "unknown error");
		return buf;
	}
	if (f->metadata_error) {
		g_snprintf(buf, DMEM_REASON_MAX, "%s", f->metadata_error);
		return buf;
	}
	if (md && md->has_minimum) {
		dmem_kib_t startup, maximum;
		g_autofree char *why = NULL;

		dmem_settings_sizes(config, &startup, &maximum);
		why = dmem_settings_check_bounds(dmem_mib_to_kib(md->minimum_mib), startup,
						 maximum);
		if (why) {
			g_snprintf(buf, DMEM_REASON_MAX, "its dmem metadata breaks the rule: %s",
				   why);
			return buf;
		}
	}
	if (!live->has_balloon)
		return "no memory balloon device (add <memballoon model='virtio'/>)";
	if (!is_virtio_balloon(live->balloon_model)) {
		g_snprintf(buf, DMEM_REASON_MAX,
			   "memballoon model '%s' is not virtio", live->balloon_model);
		return buf;
	}
	/* Hot-add is wanted: it must be possible, or the VM is not ours. */
	if (config->max_memory_kib) {
		if (!live->max_memory_kib)
			return "<maxMemory> is only in the persistent definition: "
			       "restart the VM to enable hot-add";
		if (!live->slots)
			return "<maxMemory> has no slots: no DIMM can be hot-added";
		if (!live->numa_cells)
			return "<maxMemory> without a NUMA cell: no DIMM can be hot-added "
			       "(add <numa><cell .../></numa> to <cpu>)";
	}
	return NULL;
}

char *dmem_settings_check_bounds(dmem_kib_t minimum_kib, dmem_kib_t startup_kib,
				 dmem_kib_t maximum_kib)
{
	g_autofree char *min = dmem_size_format(minimum_kib);
	g_autofree char *start = dmem_size_format(startup_kib);
	g_autofree char *max = dmem_size_format(maximum_kib);

	if (minimum_kib > startup_kib)
		return g_strdup_printf("minimum %s is above startup %s "
				       "(minimum <= startup <= maximum)", min, start);
	if (startup_kib > maximum_kib)
		return g_strdup_printf("startup %s is above maximum %s "
				       "(minimum <= startup <= maximum)", start, max);
	return NULL;
}

void dmem_settings_sizes(const DmemDomainXml *config, dmem_kib_t *startup_kib,
			 dmem_kib_t *maximum_kib)
{
	*startup_kib = config->current_kib;
	*maximum_kib = config->max_memory_kib ? config->max_memory_kib :
						config->memory_kib;
}

/* Memory devices of model 'dimm' in @x's list. */
static guint dimm_count(const DmemDomainXml *x)
{
	guint n = 0;

	for (guint i = 0; i < x->dimm_list_len; i++)
		n += x->dimm_list[i].dimm;
	return n;
}

/* Is there a DIMM in slot @slot in @x (the persistent definition)? */
static gboolean slot_defined(const DmemDomainXml *x, gint slot)
{
	for (guint i = 0; slot >= 0 && i < x->dimm_list_len; i++)
		if (x->dimm_list[i].dimm && x->dimm_list[i].slot == slot)
			return TRUE;
	return FALSE;
}

/*
 * The DIMMs hot-added this boot, newest first: the live definition's DIMMs
 * beyond those of the persistent one (libvirt appends hot-plugged devices,
 * and dmemd attaches them live only), less any in a slot the persistent
 * definition uses (one attached with --config too). DIMMs the VM boots with
 * are part of its startup memory and stay.
 */
static void removable_dimms(const DmemVmFacts *f, DmemVmInput *in)
{
	guint live = dimm_count(f->live), boot = dimm_count(f->config);
	guint want = live > boot ? live - boot : 0;

	for (guint i = f->live->dimm_list_len; i-- > 0 && in->removable_dimms < want &&
	     in->removable_dimms < DMEM_UNPLUG_DIMMS_MAX;) {
		const DmemDimm *m = &f->live->dimm_list[i];

		if (!m->dimm || slot_defined(f->config, m->slot))
			continue;
		/* Without an alias it cannot be named to libvirt: it stays,
		 * and so do the older ones behind it. */
		if (!m->alias[0])
			break;
		in->removable_kib[in->removable_dimms++] = m->size_kib;
	}
}

void dmem_settings_resolve(const DmemConfig *cfg, const DmemVmFacts *f,
			   DmemVmInput *in, char *reason)
{
	const DmemMetadata *md = f->metadata_error ? NULL : f->metadata;
	const char *why = unmanageable(f, reason);

	*in = (DmemVmInput) {
		.name = f->name,
		.enabled = md && md->has_enabled ? md->enabled : TRUE,
		.buffer_percent = md && md->has_buffer ? md->buffer_percent :
							 cfg->buffer_percent,
		.weight = md && md->has_weight ? md->weight : cfg->weight,
		.cache_ignore = md && md->has_cache && md->cache_ignore,
		.assigned_kib = f->actual_kib,
		.target_kib = f->target_known ? f->target_kib : f->actual_kib,
		.target_known = f->target_known,
		.rss_kib = f->rss_kib,
		.has_disk_io = f->has_disk_io,
		.disk_read_bytes = f->disk_read_bytes,
		.disk_write_bytes = f->disk_write_bytes,
		.call_pending = f->call_pending,
		.call_pending_s = f->call_pending_s,
		.apply_pending = f->apply_pending,
		.pending_target_kib = f->pending_target_kib,
		.pending_dimms = f->pending_dimms,
		.unplug_enabled = md && md->has_unplug ? md->unplug : cfg->unplug,
		.unplugging = f->unplugging,
		.unplug_blocked = f->unplug_blocked,
		.unplugged_kib = f->unplugged_kib,
	};
	if (why != reason && why)
		g_strlcpy(reason, why, DMEM_REASON_MAX);
	in->unmanaged_reason = why ? reason : NULL;

	if (f->config)
		dmem_settings_sizes(f->config, &in->startup_kib, &in->maximum_kib);
	in->minimum_kib = md && md->has_minimum ? dmem_mib_to_kib(md->minimum_mib) :
						  in->startup_kib;
	if (f->live) {
		in->live_kib = f->live->memory_kib;
		/* The hot-add ceiling of this boot is the live <maxMemory>. */
		in->hotadd_max_kib = f->live->max_memory_kib;
		in->free_slots = f->live->slots > f->live->dimms ?
				 f->live->slots - f->live->dimms : 0;
		if (f->config)
			removable_dimms(f, in);
	}
	if (f->stats)
		in->stats = *f->stats;
}
