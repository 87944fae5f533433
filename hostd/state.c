// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * state.c - serialise the daemon's state to and from its GKeyFile form, and
 * publish it.
 */
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "replace.h"
#include "state.h"

#define GROUP_DAEMON "dmemd"
#define GROUP_VM_PREFIX "vm "

static void vm_free(gpointer p)
{
	DmemStateVm *vm = p;

	g_free(vm->name);
	g_free(vm->uuid);
	g_free(vm->state);
	g_free(vm->status);
	g_free(vm->reason);
	g_free(vm->failure);
	g_free(vm->unplugging);
	g_free(vm->unplug_failure);
	g_free(vm);
}

void dmem_state_init(DmemState *s)
{
	*s = (DmemState) { .vms = g_ptr_array_new_with_free_func(vm_free) };
}

void dmem_state_clear(DmemState *s)
{
	g_free(s->version);
	g_free(s->uri);
	g_free(s->connection_error);
	g_free(s->overcommit_reason);
	if (s->vms)
		g_ptr_array_unref(s->vms);
	*s = (DmemState) { 0 };
}

DmemStateVm *dmem_state_add_vm(DmemState *s)
{
	DmemStateVm *vm = g_new0(DmemStateVm, 1);

	g_ptr_array_add(s->vms, vm);
	return vm;
}

/*
 * The state is written straight into a GString in the exact form
 * g_key_file_to_data() would give (dmem_state_from_data() and other tools
 * read it with GKeyFile): GKeyFile builds a hash table and a list node per
 * key and copies every value twice, which for 1000 VMs took most of dmemd's
 * cycle.
 */

/*
 * Append without a function call while the buffer has room: most appends
 * are a few bytes, and the call was half of the cost. GLib does the same
 * inline from 2.76 on; Debian 12 has 2.74.
 */
static inline void append(GString *out, const char *p, gsize n)
{
	if (G_UNLIKELY(n >= out->allocated_len - out->len)) {
		g_string_append_len(out, p, (gssize)n);
		return;
	}
	memcpy(out->str + out->len, p, n);
	out->len += n;
	out->str[out->len] = '\0';
}

/*
 * Each put_*() writes one "key=value" line. The key is a literal, "="
 * included, so its length is known at compile time.
 */
#define KEY(k) k "=", sizeof(k "=") - 1

/*
 * A string escaped as g_key_file_set_string() does: line breaks and
 * backslashes always; blanks only at the start, where the parser would strip
 * them. Like GKeyFile, a line break does not end the leading part.
 */
static void append_escaped(GString *out, const char *v)
{
	const char *p = v;

	for (;; p++) {
		if (*p == ' ')
			append(out, "\\s", 2);
		else if (*p == '\t')
			append(out, "\\t", 2);
		else if (*p == '\n')
			append(out, "\\n", 2);
		else if (*p == '\r')
			append(out, "\\r", 2);
		else
			break;
	}
	for (;;) {
		gsize run = strcspn(p, "\n\r\\");

		append(out, p, run);
		p += run;
		switch (*p) {
		case '\n':
			append(out, "\\n", 2);
			break;
		case '\r':
			append(out, "\\r", 2);
			break;
		case '\\':
			append(out, "\\\\", 2);
			break;
		default:
			return;
		}
		p++;
	}
}

/*
 * Absent when NULL, as the reader expects of optional keys. GKeyFile refuses
 * a file with a string that is not UTF-8, and a name or reason can carry
 * what a VM's metadata said, cut at a byte count: such a string is written
 * repaired, so that one VM cannot make the state unreadable for all.
 */
static void put_str(GString *out, const char *key, gsize key_len, const char *v)
{
	g_autofree char *valid = NULL;

	if (!v)
		return;
	if (!g_utf8_validate(v, -1, NULL))
		v = valid = g_utf8_make_valid(v, -1);
	append(out, key, key_len);
	append_escaped(out, v);
	append(out, "\n", 1);
}

/* The number and the line's end in one append; printf() would be slower. */
static void put_number(GString *out, const char *key, gsize key_len,
		       gboolean negative, guint64 v)
{
	char buf[24];
	gsize i = sizeof(buf);

	buf[--i] = '\n';
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (negative)
		buf[--i] = '-';
	append(out, key, key_len);
	append(out, buf + i, sizeof(buf) - i);
}

static void put_u64(GString *out, const char *key, gsize key_len, guint64 v)
{
	put_number(out, key, key_len, FALSE, v);
}

static void put_i64(GString *out, const char *key, gsize key_len, gint64 v)
{
	put_number(out, key, key_len, v < 0, v < 0 ? -(guint64)v : (guint64)v);
}

static void put_bool(GString *out, const char *key, gsize key_len, gboolean v)
{
	append(out, key, key_len);
	if (v)
		append(out, "true\n", 5);
	else
		append(out, "false\n", 6);
}

static void put_group(GString *out, const char *name)
{
	/* GKeyFile separates groups by an empty line. */
	if (out->len)
		append(out, "\n", 1);
	append(out, "[", 1);
	append(out, name, strlen(name));
	append(out, "]\n", 2);
}

static const char *const flag_names[] = {
	"held", "reclaiming", "held-by-rss", "ideal-at-floor", "above-maximum",
	"shrink-delayed", "demand-rising", "rate-limited", "growth-limited",
	"target-changed", "held-at-share", "growing", "shrink-at-once", "probing",
	"dimm-ahead", "unplug", "keep-balloon-off", "unplug-needs-room",
	"unplug-at-once",
};
G_STATIC_ASSERT(G_N_ELEMENTS(flag_names) == DMEM_DECISION_FLAGS);

const char *dmem_state_flag_name(guint bit)
{
	return bit < G_N_ELEMENTS(flag_names) ? flag_names[bit] : NULL;
}

static void put_flags(GString *out, const char *key, gsize key_len, guint flags)
{
	gboolean first = TRUE;

	append(out, key, key_len);
	for (guint b = 0; b < G_N_ELEMENTS(flag_names); b++) {
		if (!(flags & (1u << b)))
			continue;
		if (!first)
			append(out, " ", 1);
		append(out, flag_names[b], strlen(flag_names[b]));
		first = FALSE;
	}
	append(out, "\n", 1);
}

static void put_decision(GString *out, const DmemStateDecision *x)
{
	put_u64(out, KEY("buffer_percent"), x->buffer_percent);
	put_u64(out, KEY("weight"), x->weight);
	put_u64(out, KEY("free_slots"), x->free_slots);
	put_u64(out, KEY("previous_target_kib"), x->previous_target_kib);
	put_u64(out, KEY("used_kib"), x->used_kib);
	put_u64(out, KEY("guest_overhead_kib"), x->guest_overhead_kib);
	put_u64(out, KEY("pressure_kib"), x->pressure_kib);
	put_u64(out, KEY("floor_kib"), x->floor_kib);
	put_u64(out, KEY("effective_minimum_kib"), x->min_kib);
	put_u64(out, KEY("reachable_maximum_kib"), x->max_kib);
	put_u64(out, KEY("allocation_kib"), x->allocation_kib);
	put_u64(out, KEY("allocation"), x->allocation);
	put_u64(out, KEY("fair_share_kib"), x->fair_share_kib);
	put_u64(out, KEY("hotadd_fill_kib"), x->hotadd_fill_kib);
	put_u64(out, KEY("dimms_planned"), x->dimms);
	put_i64(out, KEY("shrink_wait_s"), x->shrink_wait_s);
	put_flags(out, KEY("flags"), x->flags);
	put_u64(out, KEY("cache_phase"), x->cache_phase);
	put_u64(out, KEY("cache_off"), x->cache_off);
	put_u64(out, KEY("cache_seen"), x->cache_seen);
	put_i64(out, KEY("cache_seen_s"), x->cache_seen_s);
	put_u64(out, KEY("cache_seen_step_kib"), x->cache_seen_step_kib);
	put_u64(out, KEY("cache_seen_before_kib_per_s"), x->cache_seen_before_kib_per_s);
	put_u64(out, KEY("cache_seen_during_kib_per_s"), x->cache_seen_during_kib_per_s);
	put_u64(out, KEY("probe_target_kib"), x->probe_target_kib);
	put_u64(out, KEY("probe_step_kib"), x->probe_step_kib);
	put_u64(out, KEY("unplug_dimms"), x->unplug_dimms);
	put_u64(out, KEY("unplug_spare_kib"), x->unplug_spare_kib);
	put_u64(out, KEY("unplug_wait_s"), (guint64)MAX(x->unplug_wait_s, 0));
	put_u64(out, KEY("unplug_kib"), x->unplug_kib);
	put_u64(out, KEY("unplug_target_kib"), x->unplug_target_kib);
	put_u64(out, KEY("unplug_raise_kib"), x->unplug_raise_kib);
}

/* Enough for the fixed keys of the daemon and of a VM. */
#define DAEMON_BYTES_GUESS 1024
#define VM_BYTES_GUESS 1024

char *dmem_state_to_data(const DmemState *s, gsize *len)
{
	gsize guess = DAEMON_BYTES_GUESS;
	GString *out;

	for (guint i = 0; i < s->vms->len; i++) {
		const DmemStateVm *vm = s->vms->pdata[i];

		guess += VM_BYTES_GUESS + (vm->reason ? strlen(vm->reason) : 0) +
			 (vm->unplug_failure ? strlen(vm->unplug_failure) : 0);
	}
	out = g_string_sized_new(guess);

	put_group(out, GROUP_DAEMON);
	put_str(out, KEY("version"), s->version);
	put_i64(out, KEY("pid"), s->pid);
	put_i64(out, KEY("updated_us"), s->updated_us);
	put_u64(out, KEY("interval_ms"), s->interval_ms);
	put_str(out, KEY("uri"), s->uri);
	put_bool(out, KEY("connected"), s->connected);
	put_str(out, KEY("connection_error"), s->connection_error);
	if (s->disconnected_since_us > 0)
		put_i64(out, KEY("disconnected_since_us"), s->disconnected_since_us);
	put_bool(out, KEY("dry_run"), s->dry_run);
	put_u64(out, KEY("host_available_kib"), s->host_available_kib);
	put_u64(out, KEY("pool_kib"), s->pool_kib);
	put_u64(out, KEY("committed_kib"), s->committed_kib);
	put_u64(out, KEY("free_kib"), s->free_kib);
	put_u64(out, KEY("overcommit_kib"), s->overcommit_kib);
	put_str(out, KEY("overcommit_reason"), s->overcommit_reason);
	put_u64(out, KEY("minimums_kib"), s->minimums_kib);
	put_u64(out, KEY("uncooperative_kib"), s->uncooperative_kib);
	put_bool(out, KEY("contention"), s->contention);
	put_bool(out, KEY("minimums_exceed_pool"), s->minimums_exceed_pool);
	put_i64(out, KEY("cycle_us"), s->cycle_us);
	put_u64(out, KEY("shrink_delay_s"), s->shrink_delay_s);
	put_u64(out, KEY("max_shrink_kib_per_s"), s->max_shrink_kib_per_s);
	put_u64(out, KEY("dimm_size_kib"), s->dimm_size_kib);
	put_u64(out, KEY("reclaim_unresponsive_s"), s->reclaim_unresponsive_s);
	put_bool(out, KEY("cache_aware"), s->cache_aware);
	put_u64(out, KEY("cache_probe_s"), s->cache_probe_s);
	put_u64(out, KEY("cache_reprobe_s"), s->cache_reprobe_s);
	put_u64(out, KEY("unplug_delay_s"), s->unplug_delay_s);
	put_u64(out, KEY("vms"), s->vms->len);

	for (guint i = 0; i < s->vms->len; i++) {
		const DmemStateVm *vm = s->vms->pdata[i];
		char group[sizeof(GROUP_VM_PREFIX) + 10];

		g_snprintf(group, sizeof(group), GROUP_VM_PREFIX "%u", i);
		put_group(out, group);
		put_str(out, KEY("name"), vm->name);
		put_str(out, KEY("uuid"), vm->uuid);
		put_str(out, KEY("state"), vm->state);
		put_str(out, KEY("status"), vm->status);
		put_str(out, KEY("reason"), vm->reason);
		put_bool(out, KEY("managed"), vm->managed);
		put_u64(out, KEY("startup_kib"), vm->startup_kib);
		put_u64(out, KEY("minimum_kib"), vm->minimum_kib);
		put_u64(out, KEY("maximum_kib"), vm->maximum_kib);
		put_u64(out, KEY("assigned_kib"), vm->assigned_kib);
		put_u64(out, KEY("target_kib"), vm->target_kib);
		put_u64(out, KEY("live_kib"), vm->live_kib);
		put_u64(out, KEY("balloon_kib"), vm->balloon_kib);
		put_u64(out, KEY("hotadded_kib"), vm->hotadded_kib);
		put_u64(out, KEY("dimms"), vm->dimms);
		put_u64(out, KEY("held_kib"), vm->held_kib);
		put_u64(out, KEY("rss_kib"), vm->rss_kib);
		put_u64(out, KEY("overhead_kib"), vm->overhead_kib);
		put_i64(out, KEY("held_for_s"), vm->held_for_s);
		if (vm->demand_known) {
			put_u64(out, KEY("demand_kib"), vm->demand_kib);
			put_u64(out, KEY("ideal_kib"), vm->ideal_kib);
		}
		if (vm->cache_known)
			put_u64(out, KEY("cache_kib"), vm->cache_kib);
		if (vm->disk_io_known)
			put_u64(out, KEY("disk_read_kib_per_s"), vm->disk_read_kib_per_s);
		if (vm->hot_cache_known)
			put_u64(out, KEY("hot_cache_kib"), vm->hot_cache_kib);
		put_str(out, KEY("failure"), vm->failure);
		put_bool(out, KEY("unplug_enabled"), vm->unplug_enabled);
		if (vm->unplugging) {
			put_str(out, KEY("unplugging"), vm->unplugging);
			put_u64(out, KEY("unplugging_kib"), vm->unplugging_kib);
			put_u64(out, KEY("unplugging_ms"), (guint64)MAX(vm->unplugging_ms, 0));
		}
		put_u64(out, KEY("unplugs"), vm->unplugs);
		put_u64(out, KEY("unplug_refusals"), vm->unplug_refusals);
		put_str(out, KEY("unplug_failure"), vm->unplug_failure);
		put_u64(out, KEY("unplug_retry_s"), (guint64)MAX(vm->unplug_retry_s, 0));
		if (vm->decision.known)
			put_decision(out, &vm->decision);
	}
	if (len)
		*len = out->len;
	return g_string_free(out, FALSE);
}

typedef struct {
	GKeyFile *kf;
	const char *name;
	GError **error;
	gboolean ok;
} Reader;

static char *get_str(Reader *r, const char *g, const char *k, gboolean required)
{
	GError *local = NULL;
	char *v;

	if (!r->ok)
		return NULL;
	if (!required && !g_key_file_has_key(r->kf, g, k, NULL))
		return NULL;
	v = g_key_file_get_string(r->kf, g, k, &local);
	if (!v) {
		g_set_error(r->error, DMEM_ERROR, DMEM_ERROR_INVALID, "%s: [%s] %s: %s",
			    r->name, g, k, local->message);
		g_error_free(local);
		r->ok = FALSE;
	}
	return v;
}

static void bad_value(Reader *r, const char *g, const char *k, const char *v,
		      const char *what)
{
	g_set_error(r->error, DMEM_ERROR, DMEM_ERROR_INVALID, "%s: [%s] %s=%s: %s",
		    r->name, g, k, v, what);
	r->ok = FALSE;
}

/* A whole number in [0, @max]; every number in the state is one. */
static guint64 get_uint(Reader *r, const char *g, const char *k, guint64 max)
{
	g_autofree char *v = get_str(r, g, k, TRUE);
	guint64 n = 0;

	if (v && !g_ascii_string_to_unsigned(v, 10, 0, max, &n, NULL))
		bad_value(r, g, k, v, "not a number");
	return n;
}

static guint64 get_u64(Reader *r, const char *g, const char *k)
{
	return get_uint(r, g, k, G_MAXUINT64);
}

static gboolean get_bool(Reader *r, const char *g, const char *k)
{
	g_autofree char *v = get_str(r, g, k, TRUE);

	if (!v)
		return FALSE;
	if (strcmp(v, "true") == 0)
		return TRUE;
	if (strcmp(v, "false") != 0)
		bad_value(r, g, k, v, "not a boolean");
	return FALSE;
}

static guint get_flags(Reader *r, const char *g, const char *k)
{
	g_autofree char *v = get_str(r, g, k, TRUE);
	g_auto(GStrv) words = NULL;
	guint flags = 0;

	if (!v || !*v)
		return 0;
	words = g_strsplit(v, " ", -1);
	for (char **w = words; *w; w++) {
		guint b;

		for (b = 0; b < G_N_ELEMENTS(flag_names); b++)
			if (strcmp(*w, flag_names[b]) == 0)
				break;
		/* A newer dmemd's flag: it only colours an explanation. */
		if (b < G_N_ELEMENTS(flag_names))
			flags |= 1u << b;
	}
	return flags;
}

static void get_decision(Reader *r, const char *g, DmemStateDecision *x)
{
	x->known = TRUE;
	x->buffer_percent = (guint)get_uint(r, g, "buffer_percent", G_MAXUINT);
	x->weight = (guint)get_uint(r, g, "weight", G_MAXUINT);
	x->free_slots = (guint)get_uint(r, g, "free_slots", G_MAXUINT);
	x->previous_target_kib = get_u64(r, g, "previous_target_kib");
	x->used_kib = get_u64(r, g, "used_kib");
	x->guest_overhead_kib = get_u64(r, g, "guest_overhead_kib");
	x->pressure_kib = get_u64(r, g, "pressure_kib");
	x->floor_kib = get_u64(r, g, "floor_kib");
	x->min_kib = get_u64(r, g, "effective_minimum_kib");
	x->max_kib = get_u64(r, g, "reachable_maximum_kib");
	x->allocation_kib = get_u64(r, g, "allocation_kib");
	x->allocation = (guint)get_uint(r, g, "allocation", G_MAXUINT);
	x->fair_share_kib = get_u64(r, g, "fair_share_kib");
	x->hotadd_fill_kib = get_u64(r, g, "hotadd_fill_kib");
	x->dimms = (guint)get_uint(r, g, "dimms_planned", G_MAXUINT);
	x->shrink_wait_s = (gint64)get_uint(r, g, "shrink_wait_s", G_MAXINT64);
	x->flags = get_flags(r, g, "flags");
	/* Added with the hot cache estimate: optional. */
	if (!g_key_file_has_key(r->kf, g, "cache_phase", NULL))
		return;
	/* Codes of policy.h; explain.c tells an unknown one as such. */
	x->cache_phase = (guint)get_uint(r, g, "cache_phase", G_MAXUINT);
	x->cache_off = (guint)get_uint(r, g, "cache_off", G_MAXUINT);
	x->cache_seen = (guint)get_uint(r, g, "cache_seen", G_MAXUINT);
	x->cache_seen_s = (gint64)get_uint(r, g, "cache_seen_s", G_MAXINT64);
	x->cache_seen_step_kib = get_u64(r, g, "cache_seen_step_kib");
	x->cache_seen_before_kib_per_s = get_u64(r, g, "cache_seen_before_kib_per_s");
	x->cache_seen_during_kib_per_s = get_u64(r, g, "cache_seen_during_kib_per_s");
	x->probe_target_kib = get_u64(r, g, "probe_target_kib");
	x->probe_step_kib = get_u64(r, g, "probe_step_kib");
	/* Added with hot-remove: optional. */
	if (!g_key_file_has_key(r->kf, g, "unplug_dimms", NULL))
		return;
	x->unplug_dimms = (guint)get_uint(r, g, "unplug_dimms", G_MAXUINT);
	x->unplug_spare_kib = get_u64(r, g, "unplug_spare_kib");
	x->unplug_wait_s = (gint64)get_uint(r, g, "unplug_wait_s", G_MAXINT64);
	x->unplug_kib = get_u64(r, g, "unplug_kib");
	x->unplug_target_kib = get_u64(r, g, "unplug_target_kib");
	x->unplug_raise_kib = get_u64(r, g, "unplug_raise_kib");
}

/* A VM's hot-remove facts; a state from before hot-remove has none. */
static void get_unplug(Reader *r, const char *g, DmemStateVm *vm)
{
	if (!g_key_file_has_key(r->kf, g, "unplug_enabled", NULL))
		return;
	vm->unplug_enabled = get_bool(r, g, "unplug_enabled");
	vm->unplugging = get_str(r, g, "unplugging", FALSE);
	if (vm->unplugging) {
		vm->unplugging_kib = get_u64(r, g, "unplugging_kib");
		vm->unplugging_ms = (gint64)get_uint(r, g, "unplugging_ms", G_MAXINT64);
	}
	vm->unplugs = (guint)get_uint(r, g, "unplugs", G_MAXUINT);
	vm->unplug_refusals = (guint)get_uint(r, g, "unplug_refusals", G_MAXUINT);
	vm->unplug_failure = get_str(r, g, "unplug_failure", FALSE);
	vm->unplug_retry_s = (gint64)get_uint(r, g, "unplug_retry_s", G_MAXINT64);
}

gboolean dmem_state_from_data(DmemState *s, const char *data, gsize len,
			      const char *name, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	Reader r = { .kf = kf, .name = name, .error = error, .ok = TRUE };
	const char *d = GROUP_DAEMON;
	DmemState new;
	guint64 nvms;
	GError *local = NULL;

	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID, "%s: malformed: %s",
			    name, local->message);
		g_error_free(local);
		return FALSE;
	}

	dmem_state_init(&new);
	new.version = get_str(&r, d, "version", TRUE);
	new.pid = (gint64)get_uint(&r, d, "pid", G_MAXINT64);
	new.updated_us = (gint64)get_uint(&r, d, "updated_us", G_MAXINT64);
	new.interval_ms = (guint)MIN(get_u64(&r, d, "interval_ms"), G_MAXUINT);
	new.uri = get_str(&r, d, "uri", TRUE);
	new.connected = get_bool(&r, d, "connected");
	new.connection_error = get_str(&r, d, "connection_error", FALSE);
	if (g_key_file_has_key(kf, d, "disconnected_since_us", NULL))
		new.disconnected_since_us = (gint64)get_uint(&r, d, "disconnected_since_us",
							     G_MAXINT64);
	new.dry_run = get_bool(&r, d, "dry_run");
	new.host_available_kib = get_u64(&r, d, "host_available_kib");
	new.pool_kib = get_u64(&r, d, "pool_kib");
	new.committed_kib = get_u64(&r, d, "committed_kib");
	new.free_kib = get_u64(&r, d, "free_kib");
	new.overcommit_kib = get_u64(&r, d, "overcommit_kib");
	new.overcommit_reason = get_str(&r, d, "overcommit_reason", FALSE);
	new.minimums_kib = get_u64(&r, d, "minimums_kib");
	new.uncooperative_kib = get_u64(&r, d, "uncooperative_kib");
	new.contention = get_bool(&r, d, "contention");
	new.cycle_us = (gint64)get_uint(&r, d, "cycle_us", G_MAXINT64);
	new.minimums_exceed_pool = get_bool(&r, d, "minimums_exceed_pool");
	new.shrink_delay_s = (guint)get_uint(&r, d, "shrink_delay_s", G_MAXUINT);
	new.max_shrink_kib_per_s = get_u64(&r, d, "max_shrink_kib_per_s");
	new.dimm_size_kib = get_u64(&r, d, "dimm_size_kib");
	new.reclaim_unresponsive_s = (guint)get_uint(&r, d, "reclaim_unresponsive_s",
						     G_MAXUINT);
	if (g_key_file_has_key(kf, d, "cache_aware", NULL)) {
		new.cache_aware = get_bool(&r, d, "cache_aware");
		new.cache_probe_s = (guint)get_uint(&r, d, "cache_probe_s", G_MAXUINT);
		new.cache_reprobe_s = (guint)get_uint(&r, d, "cache_reprobe_s", G_MAXUINT);
	}
	if (g_key_file_has_key(kf, d, "unplug_delay_s", NULL))
		new.unplug_delay_s = (guint)get_uint(&r, d, "unplug_delay_s", G_MAXUINT);
	nvms = get_u64(&r, d, "vms");

	for (guint64 i = 0; r.ok && i < nvms; i++) {
		g_autofree char *g = g_strdup_printf(GROUP_VM_PREFIX "%" G_GUINT64_FORMAT, i);
		DmemStateVm *vm;

		if (!g_key_file_has_group(kf, g)) {
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
				    "%s: [%s] missing (vms=%" G_GUINT64_FORMAT ")",
				    name, g, nvms);
			r.ok = FALSE;
			break;
		}
		vm = dmem_state_add_vm(&new);
		vm->name = get_str(&r, g, "name", TRUE);
		vm->uuid = get_str(&r, g, "uuid", FALSE);
		vm->state = get_str(&r, g, "state", TRUE);
		vm->status = get_str(&r, g, "status", TRUE);
		vm->reason = get_str(&r, g, "reason", FALSE);
		vm->managed = get_bool(&r, g, "managed");
		vm->startup_kib = get_u64(&r, g, "startup_kib");
		vm->minimum_kib = get_u64(&r, g, "minimum_kib");
		vm->maximum_kib = get_u64(&r, g, "maximum_kib");
		vm->assigned_kib = get_u64(&r, g, "assigned_kib");
		vm->target_kib = get_u64(&r, g, "target_kib");
		vm->live_kib = get_u64(&r, g, "live_kib");
		vm->balloon_kib = get_u64(&r, g, "balloon_kib");
		vm->hotadded_kib = get_u64(&r, g, "hotadded_kib");
		vm->dimms = (guint)MIN(get_u64(&r, g, "dimms"), G_MAXUINT);
		vm->held_kib = get_u64(&r, g, "held_kib");
		vm->rss_kib = get_u64(&r, g, "rss_kib");
		vm->overhead_kib = get_u64(&r, g, "overhead_kib");
		vm->held_for_s = (gint64)get_uint(&r, g, "held_for_s", G_MAXINT64);
		vm->demand_known = g_key_file_has_key(kf, g, "demand_kib", NULL);
		if (vm->demand_known) {
			vm->demand_kib = get_u64(&r, g, "demand_kib");
			vm->ideal_kib = get_u64(&r, g, "ideal_kib");
		}
		vm->cache_known = g_key_file_has_key(kf, g, "cache_kib", NULL);
		if (vm->cache_known)
			vm->cache_kib = get_u64(&r, g, "cache_kib");
		vm->disk_io_known = g_key_file_has_key(kf, g, "disk_read_kib_per_s", NULL);
		if (vm->disk_io_known)
			vm->disk_read_kib_per_s = get_u64(&r, g, "disk_read_kib_per_s");
		vm->hot_cache_known = g_key_file_has_key(kf, g, "hot_cache_kib", NULL);
		if (vm->hot_cache_known)
			vm->hot_cache_kib = get_u64(&r, g, "hot_cache_kib");
		vm->failure = get_str(&r, g, "failure", FALSE);
		get_unplug(&r, g, vm);
		if (g_key_file_has_key(kf, g, "flags", NULL))
			get_decision(&r, g, &vm->decision);
	}
	if (!r.ok) {
		dmem_state_clear(&new);
		return FALSE;
	}
	dmem_state_clear(s);
	*s = new;
	return TRUE;
}

/*
 * Who may read the state: root, and the libvirt group, whose members manage
 * the VMs anyway (the state names the VMs and tells their memory). Without
 * that group, root only. An unprivileged dmemd (a test, a developer) that
 * cannot give the file to the group keeps it to itself.
 *
 * Looked up once: the group comes with libvirt, which is there before dmemd
 * starts, and a group lookup can be slow (NSS may ask a directory server).
 */
#define STATE_GROUP "libvirt"

static gboolean in_group(gid_t gid)
{
	g_autofree gid_t *groups = NULL;
	int n;

	if (geteuid() == 0 || getegid() == gid)
		return TRUE;
	n = getgroups(0, NULL);
	if (n <= 0)
		return FALSE;
	groups = g_new(gid_t, n);
	n = getgroups(n, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return TRUE;
	return FALSE;
}

static gid_t state_gid(void)
{
	static gsize once;
	static gid_t gid;

	if (g_once_init_enter(&once)) {
		struct group *gr = getgrnam(STATE_GROUP);

		gid = gr && in_group(gr->gr_gid) ? gr->gr_gid : DMEM_REPLACE_KEEP_GID;
		g_once_init_leave(&once, 1);
	}
	return gid;
}

gboolean dmem_state_write(const DmemState *s, const char *path, GError **error)
{
	gid_t gid = state_gid();
	g_autofree char *data = NULL;
	gsize len;

	data = dmem_state_to_data(s, &len);
	return dmem_file_replace(path, data, len,
				 gid == DMEM_REPLACE_KEEP_GID ? 0600 : 0640,
				 gid, TRUE, error);
}

gboolean dmem_state_read(DmemState *s, const char *path, GError **error)
{
	g_autofree char *data = NULL;
	gsize len;

	if (!dmem_file_read(path, &data, &len, error))
		return FALSE;
	return dmem_state_from_data(s, data, len, path, error);
}
