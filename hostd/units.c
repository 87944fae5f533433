// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * units.c - parsing and printing of memory sizes and plain integers.
 *
 * Error messages start with the offending text so that a caller can prefix
 * its context: "--weight " + "abc: not a whole number".
 */
#include <string.h>

#include "error.h"
#include "units.h"

#define FRACTION_DIGITS_MAX 9	/* 10^9 * 2^30 (T in KiB) < 2^64 */

/*
 * Parse leading decimal digits; a value that does not fit in 64 bits becomes
 * G_MAXUINT64 and sets *overflow.
 */
static gboolean parse_digits(const char *text, const char **end, guint64 *value,
			     gboolean *overflow_out)
{
	const char *p = text;
	guint64 v = 0;
	gboolean overflow = FALSE;

	while (g_ascii_isdigit(*p)) {
		guint d = *p - '0';

		if (v > (G_MAXUINT64 - d) / 10)
			overflow = TRUE;
		else
			v = v * 10 + d;
		p++;
	}
	*end = p;
	*value = overflow ? G_MAXUINT64 : v;
	if (overflow_out)
		*overflow_out = overflow;
	return p != text;
}

gboolean dmem_uint_parse(const char *text, guint64 min, guint64 max,
			 guint64 *value_out, GError **error)
{
	const char *end;
	gboolean overflow;
	guint64 v;

	g_return_val_if_fail(text != NULL, FALSE);

	if (*text == '\0') {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "%s: empty value (expected a whole number, valid: %"
			    G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ")", text,
			    min, max);
		return FALSE;
	}
	if (*text == '-' && g_ascii_isdigit(text[1])) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_RANGE,
			    "%s: must not be negative (valid: %" G_GUINT64_FORMAT
			    "..%" G_GUINT64_FORMAT ")", text, min, max);
		return FALSE;
	}
	if (!parse_digits(text, &end, &v, &overflow) || *end != '\0') {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "%s: not a whole number (valid: %" G_GUINT64_FORMAT
			    "..%" G_GUINT64_FORMAT ")", text, min, max);
		return FALSE;
	}
	if (overflow || v < min || v > max) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_RANGE,
			    "%s: must be between %" G_GUINT64_FORMAT " and %"
			    G_GUINT64_FORMAT, text, min, max);
		return FALSE;
	}
	*value_out = v;
	return TRUE;
}

/* Binary unit suffix to KiB multiplier; 0 when @unit is not one we accept. */
static guint64 unit_to_kib(const char *unit)
{
	static const struct {
		const char *name;
		guint64 kib;
	} units[] = {
		{ "", DMEM_KIB_PER_MIB },	/* a bare number is MiB */
		{ "k", 1 }, { "kib", 1 },
		{ "m", 1ULL << 10 }, { "mib", 1ULL << 10 },
		{ "g", 1ULL << 20 }, { "gib", 1ULL << 20 },
		{ "t", 1ULL << 30 }, { "tib", 1ULL << 30 },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(units); i++)
		if (g_ascii_strcasecmp(unit, units[i].name) == 0)
			return units[i].kib;
	return 0;
}

static gboolean is_decimal_unit(const char *unit)
{
	static const char *const decimal[] = { "kb", "mb", "gb", "tb" };

	for (gsize i = 0; i < G_N_ELEMENTS(decimal); i++)
		if (g_ascii_strcasecmp(unit, decimal[i]) == 0)
			return TRUE;
	return FALSE;
}

#define SIZE_EXAMPLES "e.g. 512M, 2G, 1536MiB; a bare number means MiB"

gboolean dmem_size_parse(const char *text, dmem_kib_t *kib_out, GError **error)
{
	const char *p, *unit;
	guint64 whole, frac = 0, frac_scale = 1, mult;

	g_return_val_if_fail(text != NULL, FALSE);

	if (*text == '\0') {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "%s: empty size (" SIZE_EXAMPLES ")", text);
		return FALSE;
	}
	if (*text == '-' && (g_ascii_isdigit(text[1]) || text[1] == '.')) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_RANGE,
			    "%s: a size must not be negative", text);
		return FALSE;
	}
	if (!parse_digits(text, &p, &whole, NULL))
		goto not_a_size;
	if (*p == '.') {
		const char *start = ++p;
		int n = 0;

		while (g_ascii_isdigit(*p)) {
			if (n < FRACTION_DIGITS_MAX) {
				frac = frac * 10 + (guint64)(*p - '0');
				frac_scale *= 10;
				n++;
			}
			p++;
		}
		if (p == start)
			goto not_a_size;
	}

	unit = p;
	mult = unit_to_kib(unit);
	if (mult == 0) {
		if (is_decimal_unit(unit))
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "%s: ambiguous unit '%s': sizes are binary, write %c or %ciB",
				    text, unit, g_ascii_toupper(unit[0]),
				    g_ascii_toupper(unit[0]));
		else if (g_ascii_isalpha(*unit))
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "%s: unknown unit '%s' (use K, M, G or T, optionally followed by iB)",
				    text, unit);
		else
			goto not_a_size;
		return FALSE;
	}

	if (whole > DMEM_SIZE_MAX_KIB / mult)
		goto too_large;
	whole *= mult;
	/* Round the fraction to the nearest KiB. */
	whole += (frac * mult + frac_scale / 2) / frac_scale;
	if (whole > DMEM_SIZE_MAX_KIB)
		goto too_large;

	*kib_out = whole;
	return TRUE;

too_large:
	g_set_error(error, DMEM_ERROR, DMEM_ERROR_RANGE,
		    "%s: too large (the limit is %" G_GUINT64_FORMAT " MiB)",
		    text, (guint64)DMEM_SIZE_MAX_MIB);
	return FALSE;
not_a_size:
	g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
		    "%s: not a size (" SIZE_EXAMPLES ")", text);
	return FALSE;
}

gboolean dmem_size_parse_mib(const char *text, guint64 *mib_out, GError **error)
{
	dmem_kib_t kib;

	if (!dmem_size_parse(text, &kib, error))
		return FALSE;
	if (kib % DMEM_KIB_PER_MIB != 0) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "%s: not a whole number of MiB (%" G_GUINT64_FORMAT
			    " KiB)", text, kib);
		return FALSE;
	}
	*mib_out = dmem_kib_to_mib(kib);
	return TRUE;
}

char *dmem_size_format(dmem_kib_t kib)
{
	if (kib != 0 && kib < DMEM_KIB_PER_MIB)
		return g_strdup_printf("%" G_GUINT64_FORMAT " KiB", kib);
	return g_strdup_printf("%" G_GUINT64_FORMAT " MiB",
			       (kib + DMEM_KIB_PER_MIB / 2) / DMEM_KIB_PER_MIB);
}
