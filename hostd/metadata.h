/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metadata.h - the per-VM <dmem/> settings element (interface layer).
 *
 *   <dmem minimum="1024" buffer="20" weight="5000" enabled="yes"
 *         cache="protect" unplug="yes"/>
 *
 * stored in the domain's libvirt metadata under namespace DMEM_METADATA_URI,
 * key DMEM_METADATA_KEY. Every attribute is optional; an absent attribute
 * means "use the default" (minimum: the startup memory; buffer, weight and
 * unplug: dmemd.conf; enabled: yes). Pure string <-> struct, no libvirt here.
 */
#ifndef DMEM_METADATA_H
#define DMEM_METADATA_H

#include <glib.h>

typedef struct {
	gboolean has_minimum;
	guint64 minimum_mib;	/* 1..DMEM_SIZE_MAX_MIB */
	gboolean has_buffer;
	guint buffer_percent;	/* 0..DMEM_BUFFER_PERCENT_MAX */
	gboolean has_weight;
	guint weight;		/* 0..DMEM_WEIGHT_MAX */
	gboolean has_enabled;
	gboolean enabled;
	gboolean has_cache;
	gboolean cache_ignore;	/* cache="ignore"; "protect" (default): FALSE */
	gboolean has_unplug;
	gboolean unplug;	/* unplug="no": hot-added DIMMs stay, ballooned */
} DmemMetadata;

/*
 * Parse the element as libvirt returns it (with or without a namespace prefix
 * and xmlns declarations). Unknown attributes, other elements and invalid
 * values are errors naming the attribute, the value and what is valid.
 */
gboolean dmem_metadata_parse(const char *xml, DmemMetadata *md, GError **error);

/* The element for virDomainSetMetadata(): only the attributes that are set. */
char *dmem_metadata_format(const DmemMetadata *md);

/* Overlay the attributes set in @update onto @md. */
void dmem_metadata_merge(DmemMetadata *md, const DmemMetadata *update);

/*
 * Set the attribute @name of @md from its text @value, validated like the
 * element's; the error does not repeat @name.
 */
gboolean dmem_metadata_set(DmemMetadata *md, const char *name,
			   const char *value, GError **error);

/* The validators of each attribute; @text is the user's value. */
gboolean dmem_metadata_parse_minimum(const char *text, guint64 *mib, GError **error);
gboolean dmem_metadata_parse_buffer(const char *text, guint *percent, GError **error);
gboolean dmem_metadata_parse_weight(const char *text, guint *weight, GError **error);
gboolean dmem_metadata_parse_enabled(const char *text, gboolean *enabled, GError **error);
gboolean dmem_metadata_parse_cache(const char *text, gboolean *ignore, GError **error);
gboolean dmem_metadata_parse_unplug(const char *text, gboolean *unplug, GError **error);

#endif /* DMEM_METADATA_H */
