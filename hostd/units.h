/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * units.h - the one size type of dmem's host side and its conversions.
 *
 * Every memory size inside dmemd and dmemctl is a dmem_kib_t: libvirt reports
 * and takes memory in KiB, so KiB is exact at the boundary. The user-facing
 * unit is MiB (config keys, metadata attributes, dmemctl output); converting
 * between the two happens here and nowhere else.
 */
#ifndef DMEM_UNITS_H
#define DMEM_UNITS_H

#include <glib.h>
#include "dmem_defaults.h"

typedef guint64 dmem_kib_t;

#define DMEM_KIB_PER_MIB	((dmem_kib_t)1024)
#define DMEM_SIZE_MAX_KIB	((dmem_kib_t)DMEM_SIZE_MAX_MIB * DMEM_KIB_PER_MIB)

/* Callers keep @mib <= DMEM_SIZE_MAX_MIB (every parser below enforces it). */
static inline dmem_kib_t dmem_mib_to_kib(guint64 mib)
{
	return mib * DMEM_KIB_PER_MIB;
}

/* Whole MiB, rounded down. */
static inline guint64 dmem_kib_to_mib(dmem_kib_t kib)
{
	return kib / DMEM_KIB_PER_MIB;
}

/*
 * Parse a memory size: a decimal number with an optional fraction and an
 * optional binary unit K, M, G, T (case-insensitive, optionally followed by
 * "iB"). A bare number is MiB. "512M", "2G", "1536MiB", "1024", "1.5G".
 * Decimal units ("GB") are refused as ambiguous. Fractions are rounded to the
 * nearest KiB. Sizes above DMEM_SIZE_MAX_MIB are refused.
 */
gboolean dmem_size_parse(const char *text, dmem_kib_t *kib_out, GError **error);

/* Like dmem_size_parse(), but the size must be a whole number of MiB. */
gboolean dmem_size_parse_mib(const char *text, guint64 *mib_out, GError **error);

/*
 * Parse a plain non-negative decimal integer in [min, max], nothing else
 * (no sign, no whitespace, no unit).
 */
gboolean dmem_uint_parse(const char *text, guint64 min, guint64 max,
			 guint64 *value_out, GError **error);

/*
 * Format a size for people: "1536 MiB" (rounded to the nearest MiB), or
 * "N KiB" below 1 MiB. Returns a newly allocated string.
 */
char *dmem_size_format(dmem_kib_t kib);

#endif /* DMEM_UNITS_H */
