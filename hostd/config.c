// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config.c - load and validate dmemd.conf.
 *
 * One table describes every key: where it lives, its type, its range and
 * where it is stored. Loading walks the file in order, so the first problem in
 * the file is the one reported, and refuses anything it does not know: a typo
 * in a key name must not silently leave a default in place.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "error.h"

typedef enum {
	KEY_STRING,	/* char *, non-empty */
	KEY_PATH,	/* char *, an absolute path */
	KEY_METRICS,	/* char *, an absolute path to a *.prom file; empty: NULL */
	KEY_UINT,	/* guint */
	KEY_UINT_OR_EMPTY, /* guint and its gboolean "set"; empty: not set */
	KEY_MIB,	/* dmem_kib_t, written in MiB in the file */
	KEY_BOOL,	/* gboolean: yes/no (also true/false, 1/0) */
} KeyType;

typedef struct {
	const char *group;
	const char *name;
	KeyType type;
	guint64 min, max;
	guint64 multiple_of;	/* 0: any value in range */
	const char *multiple_why;
	size_t offset;		/* into DmemConfig */
	size_t set_offset;	/* KEY_UINT_OR_EMPTY: its "set" flag */
} KeyDesc;

/* Where a key is stored; FIELD_OR_EMPTY also where "set" is recorded. */
#define FIELD(f) offsetof(DmemConfig, f), 0
#define FIELD_OR_EMPTY(f, set) offsetof(DmemConfig, f), offsetof(DmemConfig, set)

static const KeyDesc keys[] = {
	{ "daemon", "uri", KEY_STRING, 0, 0, 0, NULL, FIELD(uri) },
	{ "daemon", "interval_ms", KEY_UINT,
	  DMEM_INTERVAL_MS_MIN, DMEM_INTERVAL_MS_MAX, 0, NULL,
	  FIELD(interval_ms) },
	{ "daemon", "state_file", KEY_PATH, 0, 0, 0, NULL, FIELD(state_file) },
	{ "daemon", "metrics_file", KEY_METRICS, 0, 0, 0, NULL, FIELD(metrics_file) },
	{ "policy", "buffer_percent", KEY_UINT,
	  0, DMEM_BUFFER_PERCENT_MAX, 0, NULL, FIELD(buffer_percent) },
	{ "policy", "weight", KEY_UINT,
	  0, DMEM_WEIGHT_MAX, 0, NULL, FIELD(weight) },
	{ "policy", "host_reserve_mib", KEY_MIB,
	  0, DMEM_SIZE_MAX_MIB, 0, NULL, FIELD(host_reserve_kib) },
	{ "policy", "host_pool_mib", KEY_MIB,
	  0, DMEM_SIZE_MAX_MIB, 0, NULL, FIELD(host_pool_kib) },
	{ "policy", "shrink_delay_s", KEY_UINT,
	  0, DMEM_SHRINK_DELAY_S_MAX, 0, NULL, FIELD(shrink_delay_s) },
	{ "policy", "max_shrink_mib_per_s", KEY_MIB,
	  1, DMEM_MAX_SHRINK_MIB_PER_S_MAX, 0, NULL,
	  FIELD(max_shrink_kib_per_s) },
	{ "policy", "reclaim_unresponsive_s", KEY_UINT,
	  0, DMEM_RECLAIM_UNRESPONSIVE_S_MAX, 0, NULL,
	  FIELD(reclaim_unresponsive_s) },
	{ "policy", "cache_aware", KEY_BOOL, 0, 0, 0, NULL, FIELD(cache_aware) },
	{ "policy", "cache_probe_s", KEY_UINT,
	  1, DMEM_CACHE_PROBE_S_MAX, 0, NULL, FIELD(cache_probe_s) },
	{ "policy", "cache_reprobe_s", KEY_UINT,
	  0, DMEM_CACHE_REPROBE_S_MAX, 0, NULL, FIELD(cache_reprobe_s) },
	{ "hotadd", "dimm_size_mib", KEY_MIB,
	  DMEM_GUEST_MEMORY_BLOCK_MIB, DMEM_DIMM_SIZE_MIB_MAX,
	  DMEM_GUEST_MEMORY_BLOCK_MIB, "the guest memory block size",
	  FIELD(dimm_size_kib) },
	{ "hotadd", "unplug", KEY_BOOL, 0, 0, 0, NULL, FIELD(unplug) },
	{ "hotadd", "unplug_delay_s", KEY_UINT_OR_EMPTY,
	  0, DMEM_SHRINK_DELAY_S_MAX, 0, NULL,
	  FIELD_OR_EMPTY(unplug_delay_s, unplug_delay_set) },
};

static const char *const groups[] = { "daemon", "policy", "hotadd" };

void dmem_config_init(DmemConfig *cfg)
{
	*cfg = (DmemConfig) {
		.uri = g_strdup(DMEM_DEFAULT_URI),
		.interval_ms = DMEM_DEFAULT_INTERVAL_MS,
		.state_file = g_strdup(DMEM_STATE_PATH),
		.buffer_percent = DMEM_DEFAULT_BUFFER_PERCENT,
		.weight = DMEM_DEFAULT_WEIGHT,
		.host_reserve_kib = dmem_mib_to_kib(DMEM_DEFAULT_HOST_RESERVE_MIB),
		.host_pool_kib = dmem_mib_to_kib(DMEM_DEFAULT_HOST_POOL_MIB),
		.shrink_delay_s = DMEM_DEFAULT_SHRINK_DELAY_S,
		.max_shrink_kib_per_s =
			dmem_mib_to_kib(DMEM_DEFAULT_MAX_SHRINK_MIB_PER_S),
		.reclaim_unresponsive_s = DMEM_DEFAULT_RECLAIM_UNRESPONSIVE_S,
		.cache_aware = DMEM_DEFAULT_CACHE_AWARE,
		.cache_probe_s = DMEM_DEFAULT_CACHE_PROBE_S,
		.cache_reprobe_s = DMEM_DEFAULT_CACHE_REPROBE_S,
		.dimm_size_kib = dmem_mib_to_kib(DMEM_DEFAULT_DIMM_SIZE_MIB),
		.unplug = DMEM_DEFAULT_UNPLUG,
		/* unplug_delay_s empty: shrink_delay_s */
	};
}

void dmem_config_clear(DmemConfig *cfg)
{
	g_clear_pointer(&cfg->uri, g_free);
	g_clear_pointer(&cfg->state_file, g_free);
	g_clear_pointer(&cfg->metrics_file, g_free);
}

void dmem_config_copy(DmemConfig *dst, const DmemConfig *src)
{
	*dst = *src;
	dst->uri = g_strdup(src->uri);
	dst->state_file = g_strdup(src->state_file);
	dst->metrics_file = g_strdup(src->metrics_file);
}

static const KeyDesc *find_key(const char *group, const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
		if (strcmp(keys[i].group, group) == 0 &&
		    strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static gboolean known_group(const char *group)
{
	for (gsize i = 0; i < G_N_ELEMENTS(groups); i++)
		if (strcmp(groups[i], group) == 0)
			return TRUE;
	return FALSE;
}

static char *known_keys(const char *group)
{
	GString *s = g_string_new(NULL);

	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		if (strcmp(keys[i].group, group) != 0)
			continue;
		if (s->len)
			g_string_append(s, ", ");
		g_string_append(s, keys[i].name);
	}
	return g_string_free(s, FALSE);
}

static gboolean load_key(DmemConfig *cfg, GKeyFile *kf, const char *name,
			 const KeyDesc *k, GError **error)
{
	g_autofree char *raw = NULL;
	GError *local = NULL;
	guint64 v;
	char *field = (char *)cfg + k->offset;

	raw = g_key_file_get_string(kf, k->group, k->name, &local);
	if (!raw) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "%s: [%s] %s: %s", name, k->group, k->name,
			    local->message);
		g_error_free(local);
		return FALSE;
	}

	/* Invisible trailing blanks are a common editing accident. */
	g_strstrip(raw);

	if (k->type == KEY_METRICS) {
		/* Empty: no metrics. */
		if (*raw && !g_path_is_absolute(raw)) {
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "%s: [%s] %s=%s: must be an absolute path",
				    name, k->group, k->name, raw);
			return FALSE;
		}
		if (*raw && !g_str_has_suffix(raw, DMEM_METRICS_SUFFIX)) {
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "%s: [%s] %s=%s: must end in " DMEM_METRICS_SUFFIX
				    " (node_exporter's textfile collector reads only *"
				    DMEM_METRICS_SUFFIX " files)",
				    name, k->group, k->name, raw);
			return FALSE;
		}
		g_free(*(char **)field);
		*(char **)field = *raw ? g_steal_pointer(&raw) : NULL;
		return TRUE;
	}
	if (k->type == KEY_STRING || k->type == KEY_PATH) {
		if (*raw == '\0') {
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "%s: [%s] %s: must not be empty",
				    name, k->group, k->name);
			return FALSE;
		}
		if (k->type == KEY_PATH && !g_path_is_absolute(raw)) {
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "%s: [%s] %s=%s: must be an absolute path",
				    name, k->group, k->name, raw);
			return FALSE;
		}
		g_free(*(char **)field);
		*(char **)field = g_steal_pointer(&raw);
		return TRUE;
	}

	if (k->type == KEY_BOOL) {
		static const char *const yes[] = { "yes", "true", "1" };
		static const char *const no[] = { "no", "false", "0" };

		for (gsize i = 0; i < G_N_ELEMENTS(yes); i++) {
			if (g_ascii_strcasecmp(raw, yes[i]) == 0 ||
			    g_ascii_strcasecmp(raw, no[i]) == 0) {
				*(gboolean *)field = g_ascii_strcasecmp(raw, yes[i]) == 0;
				return TRUE;
			}
		}
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "%s: [%s] %s=%s: must be yes or no",
			    name, k->group, k->name, raw);
		return FALSE;
	}

	if (k->type == KEY_UINT_OR_EMPTY && *raw == '\0') {
		/* Empty: the key it follows decides. */
		*(guint *)field = 0;
		*(gboolean *)((char *)cfg + k->set_offset) = FALSE;
		return TRUE;
	}

	if (!dmem_uint_parse(raw, k->min, k->max, &v, error)) {
		guint64 any;

		/*
		 * For "100" the useful news is "must be a multiple of 128",
		 * not "must be at least 128".
		 */
		if (!k->multiple_of ||
		    !dmem_uint_parse(raw, 0, G_MAXUINT64, &any, NULL) ||
		    any % k->multiple_of == 0) {
			g_prefix_error(error, "%s: [%s] %s=", name, k->group,
				       k->name);
			return FALSE;
		}
		g_clear_error(error);
		v = any;
	}
	if (k->multiple_of && v % k->multiple_of != 0) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_RANGE,
			    "%s: [%s] %s=%s: must be a multiple of %"
			    G_GUINT64_FORMAT " MiB (%s)", name, k->group,
			    k->name, raw, k->multiple_of, k->multiple_why);
		return FALSE;
	}

	if (k->type == KEY_MIB)
		*(dmem_kib_t *)field = dmem_mib_to_kib(v);
	else
		*(guint *)field = (guint)v;	/* every KEY_UINT max fits */
	if (k->type == KEY_UINT_OR_EMPTY)
		*(gboolean *)((char *)cfg + k->set_offset) = TRUE;
	return TRUE;
}

gboolean dmem_config_load_data(DmemConfig *cfg, const char *data, gsize len,
			       const char *name, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_auto(GStrv) group_names = NULL;
	GError *local = NULL;
	DmemConfig new;

	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "%s: malformed: %s", name, local->message);
		g_error_free(local);
		return FALSE;
	}

	dmem_config_init(&new);
	group_names = g_key_file_get_groups(kf, NULL);
	for (char **g = group_names; *g; g++) {
		g_auto(GStrv) key_names = NULL;

		if (!known_group(*g)) {
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_UNKNOWN,
				    "%s: unknown group [%s] (known groups: [daemon], [policy], [hotadd])",
				    name, *g);
			goto fail;
		}
		key_names = g_key_file_get_keys(kf, *g, NULL, NULL);
		for (char **key = key_names; key && *key; key++) {
			const KeyDesc *k = find_key(*g, *key);

			if (!k) {
				g_autofree char *known = known_keys(*g);

				g_set_error(error, DMEM_ERROR, DMEM_ERROR_UNKNOWN,
					    "%s: [%s] unknown key '%s' (known keys: %s)",
					    name, *g, *key, known);
				goto fail;
			}
			if (!load_key(&new, kf, name, k, error))
				goto fail;
		}
	}

	dmem_config_clear(cfg);
	*cfg = new;
	return TRUE;

fail:
	dmem_config_clear(&new);
	return FALSE;
}

gboolean dmem_config_load_file(DmemConfig *cfg, const char *path,
			       gboolean must_exist, GError **error)
{
	g_autofree char *data = NULL;
	GError *local = NULL;
	gsize len;

	if (!dmem_file_read(path, &data, &len, &local)) {
		if (g_error_matches(local, DMEM_ERROR, DMEM_ERROR_NOT_FOUND) &&
		    !must_exist) {
			g_error_free(local);
			dmem_config_clear(cfg);
			dmem_config_init(cfg);
			return TRUE;
		}
		g_propagate_error(error, local);
		return FALSE;
	}
	return dmem_config_load_data(cfg, data, len, path, error);
}

char *dmem_config_to_string(const DmemConfig *cfg)
{
	g_autofree char *unplug_delay = cfg->unplug_delay_set ?
		g_strdup_printf("%u", cfg->unplug_delay_s) : g_strdup("");

	return g_strdup_printf(
		"[daemon]\n"
		"uri=%s\n"
		"interval_ms=%u\n"
		"state_file=%s\n"
		"metrics_file=%s\n"
		"\n"
		"[policy]\n"
		"buffer_percent=%u\n"
		"weight=%u\n"
		"host_reserve_mib=%" G_GUINT64_FORMAT "\n"
		"host_pool_mib=%" G_GUINT64_FORMAT "\n"
		"shrink_delay_s=%u\n"
		"max_shrink_mib_per_s=%" G_GUINT64_FORMAT "\n"
		"reclaim_unresponsive_s=%u\n"
		"cache_aware=%s\n"
		"cache_probe_s=%u\n"
		"cache_reprobe_s=%u\n"
		"\n"
		"[hotadd]\n"
		"dimm_size_mib=%" G_GUINT64_FORMAT "\n"
		"unplug=%s\n"
		"unplug_delay_s=%s\n",
		cfg->uri, cfg->interval_ms, cfg->state_file,
		cfg->metrics_file ? cfg->metrics_file : "",
		cfg->buffer_percent, cfg->weight,
		dmem_kib_to_mib(cfg->host_reserve_kib),
		dmem_kib_to_mib(cfg->host_pool_kib), cfg->shrink_delay_s,
		dmem_kib_to_mib(cfg->max_shrink_kib_per_s),
		cfg->reclaim_unresponsive_s,
		cfg->cache_aware ? "yes" : "no", cfg->cache_probe_s,
		cfg->cache_reprobe_s,
		dmem_kib_to_mib(cfg->dimm_size_kib),
		cfg->unplug ? "yes" : "no", unplug_delay);
}

guint dmem_config_unplug_delay_s(const DmemConfig *cfg)
{
	return cfg->unplug_delay_set ? cfg->unplug_delay_s : cfg->shrink_delay_s;
}
