// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * metadata.c - parse and format the per-VM <dmem/> element with GMarkup.
 *
 * The element comes from libvirt, but anyone with write access to the domain
 * can put anything there, so it is validated as strictly as the config file.
 */
#include <string.h>

#include "dmem_defaults.h"
#include "error.h"
#include "metadata.h"
#include "units.h"

gboolean dmem_metadata_parse_minimum(const char *text, guint64 *mib, GError **error)
{
	guint64 v;

	if (!dmem_size_parse_mib(text, &v, error))
		return FALSE;
	if (v == 0) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_RANGE,
			    "%s: the minimum must be at least 1 MiB", text);
		return FALSE;
	}
	*mib = v;
	return TRUE;
}

gboolean dmem_metadata_parse_buffer(const char *text, guint *percent, GError **error)
{
	g_autofree char *digits = g_strdup(text);
	gsize len = strlen(digits);
	guint64 v;

	/* "20%" reads naturally for a percentage; accept it. */
	if (len > 0 && digits[len - 1] == '%')
		digits[len - 1] = '\0';
	if (!dmem_uint_parse(digits, 0, DMEM_BUFFER_PERCENT_MAX, &v, error)) {
		g_clear_error(error);
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_RANGE,
			    "%s: must be a percentage between 0 and %d", text,
			    DMEM_BUFFER_PERCENT_MAX);
		return FALSE;
	}
	*percent = (guint)v;
	return TRUE;
}

gboolean dmem_metadata_parse_weight(const char *text, guint *weight, GError **error)
{
	guint64 v;

	if (!dmem_uint_parse(text, 0, DMEM_WEIGHT_MAX, &v, error))
		return FALSE;
	*weight = (guint)v;
	return TRUE;
}

/* Exactly "yes" or "no", as dmemctl writes them. */
static gboolean parse_yes_no(const char *text, gboolean *yes, GError **error)
{
	if (strcmp(text, "yes") == 0) {
		*yes = TRUE;
		return TRUE;
	}
	if (strcmp(text, "no") == 0) {
		*yes = FALSE;
		return TRUE;
	}
	g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
		    "%s: must be 'yes' or 'no'", text);
	return FALSE;
}

gboolean dmem_metadata_parse_enabled(const char *text, gboolean *enabled, GError **error)
{
	return parse_yes_no(text, enabled, error);
}

gboolean dmem_metadata_parse_cache(const char *text, gboolean *ignore, GError **error)
{
	if (strcmp(text, "protect") == 0 || strcmp(text, "ignore") == 0) {
		*ignore = strcmp(text, "ignore") == 0;
		return TRUE;
	}
	g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
		    "%s: must be 'protect' or 'ignore'", text);
	return FALSE;
}

gboolean dmem_metadata_parse_unplug(const char *text, gboolean *unplug, GError **error)
{
	return parse_yes_no(text, unplug, error);
}

typedef struct {
	DmemMetadata *md;
	gboolean seen_root;
} ParseState;

static const char *local_name(const char *qname)
{
	const char *colon = strrchr(qname, ':');

	return colon ? colon + 1 : qname;
}

gboolean dmem_metadata_set(DmemMetadata *md, const char *name,
			   const char *value, GError **error)
{
	gboolean ok;

	if (strcmp(name, "minimum") == 0) {
		ok = dmem_metadata_parse_minimum(value, &md->minimum_mib, error);
		md->has_minimum = ok;
	} else if (strcmp(name, "buffer") == 0) {
		ok = dmem_metadata_parse_buffer(value, &md->buffer_percent, error);
		md->has_buffer = ok;
	} else if (strcmp(name, "weight") == 0) {
		ok = dmem_metadata_parse_weight(value, &md->weight, error);
		md->has_weight = ok;
	} else if (strcmp(name, "enabled") == 0) {
		ok = dmem_metadata_parse_enabled(value, &md->enabled, error);
		md->has_enabled = ok;
	} else if (strcmp(name, "cache") == 0) {
		ok = dmem_metadata_parse_cache(value, &md->cache_ignore, error);
		md->has_cache = ok;
	} else if (strcmp(name, "unplug") == 0) {
		ok = dmem_metadata_parse_unplug(value, &md->unplug, error);
		md->has_unplug = ok;
	} else {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_UNKNOWN,
			    "unknown attribute '%s' (known: minimum, buffer, weight, enabled, cache, unplug)",
			    name);
		return FALSE;
	}
	return ok;
}

static void on_start(GMarkupParseContext *ctx, const char *element,
		     const char **names, const char **values,
		     gpointer user_data, GError **error)
{
	ParseState *st = user_data;

	(void)ctx;
	if (st->seen_root) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_UNKNOWN,
			    "unexpected element <%s> inside <" DMEM_METADATA_ELEMENT ">",
			    element);
		return;
	}
	if (strcmp(local_name(element), DMEM_METADATA_ELEMENT) != 0) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_UNKNOWN,
			    "expected <" DMEM_METADATA_ELEMENT ">, found <%s>",
			    element);
		return;
	}
	st->seen_root = TRUE;

	for (int i = 0; names[i]; i++) {
		/* Namespace declarations are libvirt's business, not settings. */
		if (strcmp(names[i], "xmlns") == 0 ||
		    g_str_has_prefix(names[i], "xmlns:"))
			continue;
		/* GMarkup lets a repeated attribute through; which one wins? */
		for (int j = 0; j < i; j++) {
			if (strcmp(local_name(names[i]), local_name(names[j])) == 0) {
				g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
					    "attribute '%s' given twice", names[i]);
				return;
			}
		}
		if (!dmem_metadata_set(st->md, local_name(names[i]), values[i], error)) {
			if (!g_error_matches(*error, DMEM_ERROR, DMEM_ERROR_UNKNOWN))
				g_prefix_error(error, "%s=", local_name(names[i]));
			return;
		}
	}
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len,
		    gpointer user_data, GError **error)
{
	(void)ctx;
	(void)user_data;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isspace(text[i])) {
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "unexpected text inside <" DMEM_METADATA_ELEMENT ">");
			return;
		}
	}
}

gboolean dmem_metadata_parse(const char *xml, DmemMetadata *md, GError **error)
{
	static const GMarkupParser parser = {
		.start_element = on_start,
		.text = on_text,
	};
	DmemMetadata new = { 0 };
	ParseState st = { .md = &new };
	GMarkupParseContext *ctx;
	gboolean ok;

	g_return_val_if_fail(xml != NULL, FALSE);

	ctx = g_markup_parse_context_new(&parser, G_MARKUP_TREAT_CDATA_AS_TEXT,
					 &st, NULL);
	ok = g_markup_parse_context_parse(ctx, xml, -1, error) &&
	     g_markup_parse_context_end_parse(ctx, error);
	g_markup_parse_context_free(ctx);

	if (ok && !st.seen_root) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "no <" DMEM_METADATA_ELEMENT "> element");
		ok = FALSE;
	}
	if (!ok) {
		g_prefix_error(error, "invalid dmem metadata: ");
		return FALSE;
	}
	*md = new;
	return TRUE;
}

char *dmem_metadata_format(const DmemMetadata *md)
{
	GString *s = g_string_new("<" DMEM_METADATA_ELEMENT);

	if (md->has_minimum)
		g_string_append_printf(s, " minimum=\"%" G_GUINT64_FORMAT "\"",
				       md->minimum_mib);
	if (md->has_buffer)
		g_string_append_printf(s, " buffer=\"%u\"", md->buffer_percent);
	if (md->has_weight)
		g_string_append_printf(s, " weight=\"%u\"", md->weight);
	if (md->has_enabled)
		g_string_append_printf(s, " enabled=\"%s\"",
				       md->enabled ? "yes" : "no");
	if (md->has_cache)
		g_string_append_printf(s, " cache=\"%s\"",
				       md->cache_ignore ? "ignore" : "protect");
	if (md->has_unplug)
		g_string_append_printf(s, " unplug=\"%s\"",
				       md->unplug ? "yes" : "no");
	g_string_append(s, "/>");
	return g_string_free(s, FALSE);
}

void dmem_metadata_merge(DmemMetadata *md, const DmemMetadata *update)
{
	if (update->has_minimum) {
		md->has_minimum = TRUE;
		md->minimum_mib = update->minimum_mib;
	}
	if (update->has_buffer) {
		md->has_buffer = TRUE;
		md->buffer_percent = update->buffer_percent;
	}
	if (update->has_weight) {
		md->has_weight = TRUE;
		md->weight = update->weight;
	}
	if (update->has_enabled) {
		md->has_enabled = TRUE;
		md->enabled = update->enabled;
	}
	if (update->has_cache) {
		md->has_cache = TRUE;
		md->cache_ignore = update->cache_ignore;
	}
	if (update->has_unplug) {
		md->has_unplug = TRUE;
		md->unplug = update->unplug;
	}
}
