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
} DmemDomainXml;

/*
 * Parse @xml into @out. Errors name what is wrong ("<memory unit='parsec'>:
 * unknown unit"); @out is untouched on error.
 */
gboolean dmem_domxml_parse(const char *xml, DmemDomainXml *out, GError **error);

#endif /* DMEM_DOMXML_H */
