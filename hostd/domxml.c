// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * domxml.c - extract memory layout, balloon and NUMA facts from domain XML.
 *
 * Only the elements below are read; everything else is skipped, so new
 * libvirt elements never break us:
 *
 *   /domain/memory, /domain/currentMemory, /domain/maxMemory[@slots]
 *   /domain/cpu/numa/cell
 *   /domain/devices/memballoon[@model]/stats[@period]
 *   /domain/devices/memory[@model]/target/size
 *   /domain/devices/memory/alias[@name]
 *   /domain/devices/memory/address[@type='dimm'][@slot]
 */
#include <string.h>

#include "domxml.h"
#include "error.h"

typedef enum {
	TEXT_NONE,
	TEXT_MEMORY,
	TEXT_CURRENT,
	TEXT_MAX,
	TEXT_DIMM_SIZE,
} TextTarget;

typedef struct {
	DmemDomainXml *out;
	TextTarget text;	/* which element's text is being read */
	guint64 unit_kib_num;	/* multiplier of that element's unit ... */
	guint64 unit_kib_den;	/* ... as a fraction (bytes: 1/1024) */
	GString *buf;
	gboolean seen_domain;
	gboolean seen_memory;
} ParseState;

/* libvirt's units, case-insensitive (formatdomain, "Memory Allocation"). */
static gboolean unit_to_kib(const char *unit, guint64 *num, guint64 *den)
{
	static const struct {
		const char *name;
		guint64 num, den;
	} units[] = {
		{ "b", 1, 1024 }, { "bytes", 1, 1024 },
		{ "KB", 1000, 1024 }, { "k", 1, 1 }, { "KiB", 1, 1 },
		{ "MB", 1000000, 1024 }, { "M", 1024, 1 }, { "MiB", 1024, 1 },
		{ "GB", 1000000000, 1024 }, { "G", 1048576, 1 },
		{ "GiB", 1048576, 1 },
		{ "TB", 1000000000000ULL, 1024 }, { "T", 1073741824ULL, 1 },
		{ "TiB", 1073741824ULL, 1 },
	};

	if (!unit) {
		*num = 1;	/* libvirt's default unit is KiB */
		*den = 1;
		return TRUE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(units); i++) {
		if (g_ascii_strcasecmp(unit, units[i].name) == 0) {
			*num = units[i].num;
			*den = units[i].den;
			return TRUE;
		}
	}
	return FALSE;
}

static const char *attr(const char **names, const char **values, const char *name)
{
	for (gsize i = 0; names[i]; i++)
		if (strcmp(names[i], name) == 0)
			return values[i];
	return NULL;
}

/* The element path below <domain>: "devices/memory/target/size" etc. */
static gboolean path_is(GMarkupParseContext *ctx, const char *path)
{
	const GSList *stack = g_markup_parse_context_get_element_stack(ctx);
	g_auto(GStrv) parts = g_strsplit(path, "/", -1);
	guint n = g_strv_length(parts);

	/* The stack is innermost first; it must be parts reversed + domain. */
	for (guint i = n; i > 0; i--) {
		if (!stack || strcmp(stack->data, parts[i - 1]) != 0)
			return FALSE;
		stack = stack->next;
	}
	return stack && strcmp(stack->data, "domain") == 0 && !stack->next;
}

static gboolean parse_uint_attr(const char *element, const char *name,
				const char *value, guint max, guint *out,
				GError **error)
{
	guint64 v;

	if (!value)
		return TRUE;
	if (!g_ascii_string_to_unsigned(value, 10, 0, max, &v, NULL)) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "<%s %s='%s'>: not a whole number", element, name,
			    value);
		return FALSE;
	}
	*out = (guint)v;
	return TRUE;
}

/*
 * Start a new memory device at the end of out->dimm_list. When the list is
 * full the oldest is dropped: libvirt appends hot-plugged devices, so the
 * last ones are the newest, the ones dmemd may unplug.
 */
static void dimm_append(DmemDomainXml *out, const char *model)
{
	if (out->dimm_list_len == DMEM_DOMXML_DIMMS_MAX) {
		memmove(&out->dimm_list[0], &out->dimm_list[1],
			(DMEM_DOMXML_DIMMS_MAX - 1) * sizeof(out->dimm_list[0]));
		out->dimm_list_len--;
	}
	out->dimm_list[out->dimm_list_len++] = (DmemDimm) {
		.slot = -1,
		.dimm = model && strcmp(model, "dimm") == 0,
	};
}

/*
 * The memory device being read. Only called for elements below
 * devices/memory, whose start appended it, so the list is never empty.
 */
static DmemDimm *dimm_current(DmemDomainXml *out)
{
	return &out->dimm_list[out->dimm_list_len - 1];
}

static void on_start(GMarkupParseContext *ctx, const char *element,
		     const char **names, const char **values,
		     gpointer user_data, GError **error)
{
	ParseState *st = user_data;
	DmemDomainXml *out = st->out;
	TextTarget text = TEXT_NONE;

	if (!st->seen_domain) {
		if (strcmp(element, "domain") != 0) {
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "not a domain XML: root element <%s>", element);
			return;
		}
		st->seen_domain = TRUE;
		return;
	}
	if (!g_markup_parse_context_get_element_stack(ctx)->next) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "<%s> after the <domain> element", element);
		return;
	}

	if (path_is(ctx, "memory")) {
		text = TEXT_MEMORY;
	} else if (path_is(ctx, "currentMemory")) {
		text = TEXT_CURRENT;
	} else if (path_is(ctx, "maxMemory")) {
		text = TEXT_MAX;
		if (!parse_uint_attr(element, "slots", attr(names, values, "slots"),
				     G_MAXUINT, &out->slots, error))
			return;
	} else if (path_is(ctx, "cpu/numa/cell")) {
		out->numa_cells++;
	} else if (path_is(ctx, "devices/memballoon")) {
		const char *model = attr(names, values, "model");

		g_strlcpy(out->balloon_model, model ? model : "",
			  sizeof(out->balloon_model));
		out->has_balloon = model && strcmp(model, "none") != 0;
	} else if (path_is(ctx, "devices/memballoon/stats")) {
		if (!parse_uint_attr(element, "period", attr(names, values, "period"),
				     G_MAXINT, &out->stats_period_s, error))
			return;
	} else if (path_is(ctx, "devices/memory")) {
		out->dimms++;
		dimm_append(out, attr(names, values, "model"));
	} else if (path_is(ctx, "devices/memory/alias")) {
		DmemDimm *d = dimm_current(out);
		const char *name = attr(names, values, "name");

		/* Truncating would detach the wrong device, or none. */
		if (name && strlen(name) >= sizeof(d->alias)) {
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "<alias name='%s'>: longer than %zu bytes",
				    name, sizeof(d->alias) - 1);
			return;
		}
		g_strlcpy(d->alias, name ? name : "", sizeof(d->alias));
	} else if (path_is(ctx, "devices/memory/address")) {
		const char *type = attr(names, values, "type");
		const char *slot = attr(names, values, "slot");
		guint v;

		/*
		 * Only a DIMM address has a slot (virtio-mem's is PCI). A slot
		 * that is not a number is an error, like slots= and period=
		 * above, not "no slot": libvirt always writes a number, so
		 * anything else means this XML is not what we think it is and
		 * dmemd must not pick a device to unplug from it.
		 */
		if (type && strcmp(type, "dimm") == 0 && slot) {
			if (!parse_uint_attr(element, "slot", slot, G_MAXINT, &v,
					     error))
				return;
			dimm_current(out)->slot = (gint)v;
		}
	} else if (path_is(ctx, "devices/memory/target/size")) {
		text = TEXT_DIMM_SIZE;
	}

	if (text != TEXT_NONE) {
		const char *unit = attr(names, values, "unit");

		if (!unit_to_kib(unit, &st->unit_kib_num, &st->unit_kib_den)) {
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "<%s unit='%s'>: unknown unit", element, unit);
			return;
		}
		st->text = text;
		g_string_truncate(st->buf, 0);
	}
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len,
		    gpointer user_data, GError **error)
{
	ParseState *st = user_data;

	if (st->text != TEXT_NONE)
		g_string_append_len(st->buf, text, len);
}

static void on_end(GMarkupParseContext *ctx, const char *element,
		   gpointer user_data, GError **error)
{
	ParseState *st = user_data;
	DmemDomainXml *out = st->out;
	guint64 v;
	dmem_kib_t kib;

	if (st->text == TEXT_NONE)
		return;
	g_strstrip(st->buf->str);
	if (!g_ascii_string_to_unsigned(st->buf->str, 10, 0, G_MAXUINT64, &v,
					NULL)) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "<%s>%s</%s>: not a size", element, st->buf->str,
			    element);
		st->text = TEXT_NONE;
		return;
	}
	if (v > DMEM_SIZE_MAX_KIB * st->unit_kib_den / st->unit_kib_num) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_RANGE,
			    "<%s>%s</%s>: too large", element, st->buf->str,
			    element);
		st->text = TEXT_NONE;
		return;
	}
	kib = v * st->unit_kib_num / st->unit_kib_den;

	switch (st->text) {
	case TEXT_MEMORY:
		out->memory_kib = kib;
		st->seen_memory = TRUE;
		break;
	case TEXT_CURRENT:
		out->current_kib = kib;
		break;
	case TEXT_MAX:
		out->max_memory_kib = kib;
		break;
	case TEXT_DIMM_SIZE:
		out->dimm_kib += kib;
		/* Summed like dimm_kib (a device has one <size>). */
		dimm_current(out)->size_kib += kib;
		break;
	case TEXT_NONE:
		break;
	}
	st->text = TEXT_NONE;
}

gboolean dmem_domxml_parse(const char *xml, DmemDomainXml *out, GError **error)
{
	static const GMarkupParser parser = {
		.start_element = on_start,
		.end_element = on_end,
		.text = on_text,
	};
	DmemDomainXml new = { 0 };
	ParseState st = { .out = &new, .buf = g_string_new(NULL) };
	GMarkupParseContext *ctx;
	gboolean ok;

	ctx = g_markup_parse_context_new(&parser, 0, &st, NULL);
	ok = g_markup_parse_context_parse(ctx, xml, -1, error) &&
	     g_markup_parse_context_end_parse(ctx, error);
	g_markup_parse_context_free(ctx);
	g_string_free(st.buf, TRUE);

	if (ok && !st.seen_memory) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "domain XML without <memory>");
		ok = FALSE;
	}
	if (!ok) {
		g_prefix_error(error, "domain XML: ");
		return FALSE;
	}
	/* Without <currentMemory>, libvirt means "all of <memory>". */
	if (new.current_kib == 0)
		new.current_kib = new.memory_kib;
	*out = new;
	return TRUE;
}

const DmemDimm *dmem_domxml_newest_dimm(const DmemDomainXml *x)
{
	g_return_val_if_fail(x != NULL, NULL);

	for (guint i = MIN(x->dimm_list_len, DMEM_DOMXML_DIMMS_MAX); i > 0; i--) {
		const DmemDimm *d = &x->dimm_list[i - 1];

		if (d->dimm && d->alias[0])
			return d;
	}
	return NULL;
}
