// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * status.c - format the published state for people (a table) and for
 * programs (JSON).
 */
#include <string.h>

#include "status.h"

/* The state is stale after this many intervals, or this many seconds. */
#define STALE_INTERVALS 5
#define STALE_MIN_S 5

enum {
	COL_NAME, COL_STATE, COL_STARTUP, COL_MAXIMUM, COL_ASSIGNED, COL_HELD,
	COL_DEMAND, COL_IDEAL, COL_BALLOON, COL_HOTADDED, COL_STATUS, COL_N
};

static const char *const headers[COL_N] = {
	"NAME", "STATE", "STARTUP", "MAXIMUM", "ASSIGNED", "HELD", "DEMAND",
	"IDEAL", "BALLOON", "HOT-ADDED", "STATUS",
};

static gboolean right_aligned(int col)
{
	return col >= COL_STARTUP && col <= COL_HOTADDED;
}

static char *size_or_dash(gboolean known, dmem_kib_t kib)
{
	return known ? dmem_size_format(kib) : g_strdup("-");
}

/*
 * The hot-added memory, and while a DIMM is being unplugged, what goes:
 * "1024 MiB -256 MiB" (its alias when its size is unknown).
 */
static char *hotadded_cell(const DmemStateVm *vm)
{
	g_autofree char *size = size_or_dash(vm->live_kib, vm->hotadded_kib);
	g_autofree char *going = NULL;

	if (!vm->live_kib || !vm->unplugging)
		return g_steal_pointer(&size);
	going = vm->unplugging_kib ? dmem_size_format(vm->unplugging_kib) :
		g_strdup(vm->unplugging);
	return g_strdup_printf("%s -%s", size, going);
}

char *dmem_status_table(const DmemState *s)
{
	guint n = s->vms->len;
	g_autofree char **cells = g_new0(char *, (gsize)(n + 1) * COL_N);
	gsize width[COL_N];
	GString *out = g_string_new(NULL);

	for (int c = 0; c < COL_N; c++) {
		cells[c] = g_strdup(headers[c]);
		width[c] = strlen(headers[c]);
	}
	for (guint i = 0; i < n; i++) {
		const DmemStateVm *vm = s->vms->pdata[i];
		char **row = &cells[(gsize)(i + 1) * COL_N];

		row[COL_NAME] = g_strdup(vm->name);
		row[COL_STATE] = g_strdup(vm->state);
		row[COL_STARTUP] = size_or_dash(vm->startup_kib, vm->startup_kib);
		row[COL_MAXIMUM] = size_or_dash(vm->maximum_kib, vm->maximum_kib);
		row[COL_ASSIGNED] = size_or_dash(vm->live_kib, vm->assigned_kib);
		row[COL_HELD] = size_or_dash(vm->live_kib, vm->held_kib);
		row[COL_DEMAND] = size_or_dash(vm->demand_known, vm->demand_kib);
		row[COL_IDEAL] = size_or_dash(vm->demand_known, vm->ideal_kib);
		row[COL_BALLOON] = size_or_dash(vm->live_kib, vm->balloon_kib);
		row[COL_HOTADDED] = hotadded_cell(vm);
		row[COL_STATUS] = g_strdup(vm->status);
		for (int c = 0; c < COL_N; c++)
			width[c] = MAX(width[c], (gsize)g_utf8_strlen(row[c], -1));
	}

	for (guint r = 0; r <= n; r++) {
		char **row = &cells[(gsize)r * COL_N];
		const DmemStateVm *vm = r ? s->vms->pdata[r - 1] : NULL;

		for (int c = 0; c < COL_N; c++) {
			gsize pad = width[c] - (gsize)g_utf8_strlen(row[c], -1);

			if (c)
				g_string_append(out, "  ");
			if (right_aligned(c))
				g_string_append_printf(out, "%*s%s", (int)pad, "", row[c]);
			else
				g_string_append_printf(out, "%s%*s", row[c], (int)pad, "");
		}
		g_string_append(out, "  ");
		g_string_append(out, vm ? (vm->reason ? vm->reason : "") : "REASON");
		/* No trailing blanks when a reason is empty. */
		while (out->len && out->str[out->len - 1] == ' ')
			g_string_truncate(out, out->len - 1);
		g_string_append_c(out, '\n');
	}
	for (gsize i = 0; i < (gsize)(n + 1) * COL_N; i++)
		g_free(cells[i]);
	return g_string_free(out, FALSE);
}

/* Host totals are GiB-sized: "6.0 GiB"; below 1 GiB "512 MiB"; 0 is "0". */
static char *host_size(dmem_kib_t kib)
{
	const dmem_kib_t gib = 1024 * 1024;

	if (kib == 0)
		return g_strdup("0");
	if (kib < gib)
		return dmem_size_format(kib);
	/* Tenths of GiB, rounded, without floating point. */
	kib = (kib * 10 + gib / 2) / gib;
	return g_strdup_printf("%" G_GUINT64_FORMAT ".%u GiB", kib / 10,
			       (unsigned int)(kib % 10));
}

char *dmem_status_host(const DmemState *s)
{
	g_autofree char *pool = host_size(s->pool_kib);
	g_autofree char *committed = host_size(s->committed_kib);
	g_autofree char *free_ = host_size(s->free_kib);
	g_autofree char *over = host_size(s->overcommit_kib);
	GString *out = g_string_new(NULL);

	g_string_append_printf(out, "pool %s, committed %s, free %s, overcommit %s",
			       pool, committed, free_, over);
	if (s->uncooperative_kib) {
		g_autofree char *unco = host_size(s->uncooperative_kib);

		g_string_append_printf(out, " (%s held by uncooperative VMs)", unco);
	}
	g_string_append_c(out, '\n');
	if (s->overcommit_kib)
		g_string_append_printf(out, "overcommit: %s\n",
				       s->overcommit_reason ? s->overcommit_reason :
							      "no reason given");
	return g_string_free(out, FALSE);
}

void dmem_json_append_string(GString *out, const char *text)
{
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
		switch (*p) {
		case '"':  g_string_append(out, "\\\""); break;
		case '\\': g_string_append(out, "\\\\"); break;
		case '\n': g_string_append(out, "\\n"); break;
		case '\t': g_string_append(out, "\\t"); break;
		case '\r': g_string_append(out, "\\r"); break;
		default:
			if (*p < 0x20)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char)*p);
		}
	}
	g_string_append_c(out, '"');
}

static void json_key(GString *out, const char *key, gboolean *first)
{
	if (!*first)
		g_string_append_c(out, ',');
	*first = FALSE;
	dmem_json_append_string(out, key);
	g_string_append_c(out, ':');
}

static void json_str(GString *out, const char *key, const char *v, gboolean *first)
{
	json_key(out, key, first);
	if (v)
		dmem_json_append_string(out, v);
	else
		g_string_append(out, "null");
}

static void json_u64(GString *out, const char *key, guint64 v, gboolean *first)
{
	json_key(out, key, first);
	g_string_append_printf(out, "%" G_GUINT64_FORMAT, v);
}

static void json_bool(GString *out, const char *key, gboolean v, gboolean *first)
{
	json_key(out, key, first);
	g_string_append(out, v ? "true" : "false");
}

char *dmem_status_json(const DmemState *s, const char *stale_reason)
{
	GString *out = g_string_new("{");
	gboolean first = TRUE;

	json_key(out, "dmemd", &first);
	{
		gboolean f = TRUE;

		g_string_append_c(out, '{');
		json_str(out, "version", s->version, &f);
		json_u64(out, "pid", (guint64)MAX(s->pid, 0), &f);
		json_u64(out, "updated_us", (guint64)MAX(s->updated_us, 0), &f);
		json_u64(out, "interval_ms", s->interval_ms, &f);
		json_str(out, "uri", s->uri, &f);
		json_bool(out, "connected", s->connected, &f);
		json_str(out, "connection_error", s->connection_error, &f);
		if (s->disconnected_since_us > 0)
			json_u64(out, "disconnected_since_us",
				 (guint64)s->disconnected_since_us, &f);
		else
			json_str(out, "disconnected_since_us", NULL, &f);
		json_bool(out, "dry_run", s->dry_run, &f);
		json_bool(out, "stale", stale_reason != NULL, &f);
		json_str(out, "stale_reason", stale_reason, &f);
		json_u64(out, "host_available_kib", s->host_available_kib, &f);
		json_u64(out, "pool_kib", s->pool_kib, &f);
		json_u64(out, "committed_kib", s->committed_kib, &f);
		json_u64(out, "free_kib", s->free_kib, &f);
		json_u64(out, "overcommit_kib", s->overcommit_kib, &f);
		json_str(out, "overcommit_reason", s->overcommit_reason, &f);
		json_u64(out, "minimums_kib", s->minimums_kib, &f);
		json_u64(out, "uncooperative_kib", s->uncooperative_kib, &f);
		json_bool(out, "contention", s->contention, &f);
		json_u64(out, "cycle_us", (guint64)MAX(s->cycle_us, 0), &f);
		g_string_append_c(out, '}');
	}
	json_key(out, "vms", &first);
	g_string_append_c(out, '[');
	for (guint i = 0; i < s->vms->len; i++) {
		const DmemStateVm *vm = s->vms->pdata[i];
		gboolean f = TRUE;

		if (i)
			g_string_append_c(out, ',');
		g_string_append_c(out, '{');
		json_str(out, "name", vm->name, &f);
		json_str(out, "uuid", vm->uuid, &f);
		json_str(out, "state", vm->state, &f);
		json_str(out, "status", vm->status, &f);
		json_str(out, "reason", vm->reason, &f);
		json_bool(out, "managed", vm->managed, &f);
		json_u64(out, "startup_kib", vm->startup_kib, &f);
		json_u64(out, "minimum_kib", vm->minimum_kib, &f);
		json_u64(out, "maximum_kib", vm->maximum_kib, &f);
		json_u64(out, "assigned_kib", vm->assigned_kib, &f);
		json_u64(out, "target_kib", vm->target_kib, &f);
		json_u64(out, "live_kib", vm->live_kib, &f);
		json_u64(out, "balloon_kib", vm->balloon_kib, &f);
		json_u64(out, "hotadded_kib", vm->hotadded_kib, &f);
		json_u64(out, "dimms", vm->dimms, &f);
		json_u64(out, "held_kib", vm->held_kib, &f);
		json_u64(out, "rss_kib", vm->rss_kib, &f);
		json_u64(out, "overhead_kib", vm->overhead_kib, &f);
		json_u64(out, "held_for_s", (guint64)MAX(vm->held_for_s, 0), &f);
		if (vm->demand_known) {
			json_u64(out, "demand_kib", vm->demand_kib, &f);
			json_u64(out, "ideal_kib", vm->ideal_kib, &f);
		} else {
			json_str(out, "demand_kib", NULL, &f);
			json_str(out, "ideal_kib", NULL, &f);
		}
		if (vm->cache_known)
			json_u64(out, "cache_kib", vm->cache_kib, &f);
		else
			json_str(out, "cache_kib", NULL, &f);
		if (vm->disk_io_known)
			json_u64(out, "disk_read_kib_per_s", vm->disk_read_kib_per_s, &f);
		else
			json_str(out, "disk_read_kib_per_s", NULL, &f);
		if (vm->hot_cache_known)
			json_u64(out, "hot_cache_kib", vm->hot_cache_kib, &f);
		else
			json_str(out, "hot_cache_kib", NULL, &f);
		json_bool(out, "unplug_enabled", vm->unplug_enabled, &f);
		json_str(out, "unplugging", vm->unplugging, &f);
		json_u64(out, "unplugging_kib", vm->unplugging ? vm->unplugging_kib : 0, &f);
		json_u64(out, "unplugging_ms",
			 vm->unplugging ? (guint64)MAX(vm->unplugging_ms, 0) : 0, &f);
		json_u64(out, "unplugs", vm->unplugs, &f);
		json_u64(out, "unplug_refusals", vm->unplug_refusals, &f);
		json_str(out, "unplug_failure", vm->unplug_failure, &f);
		json_u64(out, "unplug_retry_s", (guint64)MAX(vm->unplug_retry_s, 0), &f);
		g_string_append_c(out, '}');
	}
	g_string_append(out, "]}\n");
	return g_string_free(out, FALSE);
}

/* A duration for people: "42 s", "17 min", "3 h 5 min". */
static char *duration_text(gint64 s)
{
	if (s < 120)
		return g_strdup_printf("%" G_GINT64_FORMAT " s", s);
	if (s < 2 * 3600)
		return g_strdup_printf("%" G_GINT64_FORMAT " min", s / 60);
	return g_strdup_printf("%" G_GINT64_FORMAT " h %" G_GINT64_FORMAT " min",
			       s / 3600, s / 60 % 60);
}

char *dmem_status_disconnected(const DmemState *s, gint64 now_us)
{
	g_autofree char *since = NULL;
	g_autoptr(GDateTime) at = NULL;

	if (s->connected)
		return NULL;
	if (s->disconnected_since_us > 0)
		at = g_date_time_new_from_unix_local(s->disconnected_since_us / G_USEC_PER_SEC);
	if (at) {
		g_autofree char *when = g_date_time_format(at, "%Y-%m-%d %H:%M:%S");
		g_autofree char *ago = duration_text(MAX(now_us - s->disconnected_since_us, 0) /
						     G_USEC_PER_SEC);

		since = g_strdup_printf(" since %s (%s ago)", when, ago);
	}
	return g_strdup_printf("dmemd is not connected to libvirt (%s)%s: %s; it keeps "
			       "retrying and lists no VMs until it is back",
			       s->uri ? s->uri : "?", since ? since : "",
			       s->connection_error ? s->connection_error : "connecting");
}

char *dmem_state_stale_reason(const DmemState *s, gint64 now_us,
			      gboolean pid_alive)
{
	gint64 limit_us = MAX((gint64)STALE_MIN_S * G_USEC_PER_SEC,
			      (gint64)s->interval_ms * 1000 * STALE_INTERVALS);
	gint64 age_us = now_us - s->updated_us;

	if (!pid_alive)
		return g_strdup_printf("dmemd (pid %" G_GINT64_FORMAT ") is not running; "
				       "this state is from its last cycle, %" G_GINT64_FORMAT
				       " s ago", s->pid, MAX(age_us, 0) / G_USEC_PER_SEC);
	if (age_us > limit_us)
		return g_strdup_printf("the state is %" G_GINT64_FORMAT " s old: dmemd "
				       "(pid %" G_GINT64_FORMAT ") is not updating it",
				       age_us / G_USEC_PER_SEC, s->pid);
	return NULL;
}
