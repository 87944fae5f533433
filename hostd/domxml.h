/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * domxml.h - the few facts dmemd needs from a libvirt domain XML.
 *
 * Pure parsing (GMarkup), no libvirt calls: the mechanism fetches the
 * persistent and the live XML and hands them here. Sizes are normalised to
 * KiB whatever unit the XML uses.
 */
#ifndef DMEM_DOMXML_H
#define DMEM_DOMXML_H

#include <glib.h>

#include "units.h"

/* At most this many memory devices are listed in DmemDomainXml.dimm_list. */
#define DMEM_DOMXML_DIMMS_MAX	64

/* One <devices><memory> device. */
typedef struct {
	char alias[64];		/* <alias name=.../>; "" if none (inactive XML) */
	dmem_kib_t size_kib;	/* <target><size> in KiB */
	gint slot;		/* <address type='dimm' slot=.../>; -1 if none */
	gboolean dimm;		/* model='dimm' (only these can be unplugged by dmemd) */
} DmemDimm;

typedef struct {
	dmem_kib_t memory_kib;		/* <memory>: boot + hot-plugged memory */
	dmem_kib_t current_kib;		/* <currentMemory> */
	dmem_kib_t max_memory_kib;	/* <maxMemory>; 0: none */
	guint slots;			/* <maxMemory slots=...> */
	guint numa_cells;		/* <cpu><numa><cell/> count */
	gboolean has_balloon;		/* a <memballoon> other than model none */
	char balloon_model[16];		/* "virtio", "none", ...; "" if absent */
	guint stats_period_s;		/* <memballoon><stats period=.../>; 0: none */
	guint dimms;			/* <devices><memory/> devices (slots used) */
	dmem_kib_t dimm_kib;		/* their total <target><size> */
	/*
	 * The memory devices in document order: libvirt appends hot-plugged
	 * devices at the end, so the newest is last. With more than
	 * DMEM_DOMXML_DIMMS_MAX devices only the LAST DMEM_DOMXML_DIMMS_MAX
	 * are kept (the newest matter most); dimms and dimm_kib still count
	 * them all, so dimm_list_len < dimms tells that some were dropped.
	 */
	DmemDimm dimm_list[DMEM_DOMXML_DIMMS_MAX];
	guint dimm_list_len;
} DmemDomainXml;

/*
 * Parse @xml into @out. Errors name what is wrong ("<memory unit='parsec'>:
 * unknown unit"); @out is untouched on error.
 */
gboolean dmem_domxml_parse(const char *xml, DmemDomainXml *out, GError **error);

/*
 * The newest memory device of model 'dimm' with an alias, or NULL: the one
 * dmemd may unplug (virDomainDetachDeviceAlias() needs the alias, so only a
 * live XML has one). Other models (nvdimm, virtio-mem, ...) are skipped. Only
 * dimm_list is searched, so with more than DMEM_DOMXML_DIMMS_MAX devices an
 * older DIMM before the kept ones is not found.
 */
const DmemDimm *dmem_domxml_newest_dimm(const DmemDomainXml *x);

#endif /* DMEM_DOMXML_H */
