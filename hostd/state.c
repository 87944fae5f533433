// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * state.c - serialise the daemon's state to and from its GKeyFile form.
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "error.h"
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
	g_free(vm->explain);
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

static void set_str(GKeyFile *kf, const char *g, const char *k, const char *v)
{
	if (v)
		g_key_file_set_string(kf, g, k, v);
}

static void set_kib(GKeyFile *kf, const char *g, const char *k, dmem_kib_t v)
{
	g_key_file_set_uint64(kf, g, k, v);
}

char *dmem_state_to_data(const DmemState *s, gsize *len)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	const char *d = GROUP_DAEMON;

	set_str(kf, d, "version", s->version);
	g_key_file_set_int64(kf, d, "pid", s->pid);
	g_key_file_set_int64(kf, d, "updated_us", s->updated_us);
	g_key_file_set_uint64(kf, d, "interval_ms", s->interval_ms);
	set_str(kf, d, "uri", s->uri);
	g_key_file_set_boolean(kf, d, "connected", s->connected);
	set_str(kf, d, "connection_error", s->connection_error);
	if (s->disconnected_since_us > 0)
		g_key_file_set_int64(kf, d, "disconnected_since_us",
				     s->disconnected_since_us);
	g_key_file_set_boolean(kf, d, "dry_run", s->dry_run);
	set_kib(kf, d, "host_available_kib", s->host_available_kib);
	set_kib(kf, d, "pool_kib", s->pool_kib);
	set_kib(kf, d, "held_kib", s->held_kib);
	set_kib(kf, d, "targets_kib", s->targets_kib);
	g_key_file_set_boolean(kf, d, "contention", s->contention);
	g_key_file_set_uint64(kf, d, "vms", s->vms->len);

	for (guint i = 0; i < s->vms->len; i++) {
		const DmemStateVm *vm = s->vms->pdata[i];
		g_autofree char *g = g_strdup_printf(GROUP_VM_PREFIX "%u", i);

		set_str(kf, g, "name", vm->name);
		set_str(kf, g, "uuid", vm->uuid);
		set_str(kf, g, "state", vm->state);
		set_str(kf, g, "status", vm->status);
		set_str(kf, g, "reason", vm->reason);
		g_key_file_set_boolean(kf, g, "managed", vm->managed);
		set_kib(kf, g, "startup_kib", vm->startup_kib);
		set_kib(kf, g, "minimum_kib", vm->minimum_kib);
		set_kib(kf, g, "maximum_kib", vm->maximum_kib);
		set_kib(kf, g, "assigned_kib", vm->assigned_kib);
		set_kib(kf, g, "target_kib", vm->target_kib);
		set_kib(kf, g, "live_kib", vm->live_kib);
		set_kib(kf, g, "balloon_kib", vm->balloon_kib);
		set_kib(kf, g, "hotadded_kib", vm->hotadded_kib);
		g_key_file_set_uint64(kf, g, "dimms", vm->dimms);
		if (vm->demand_known) {
			set_kib(kf, g, "demand_kib", vm->demand_kib);
			set_kib(kf, g, "ideal_kib", vm->ideal_kib);
		}
		set_str(kf, g, "explain", vm->explain);
	}
	return g_key_file_to_data(kf, len, NULL);
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
	new.held_kib = get_u64(&r, d, "held_kib");
	new.targets_kib = get_u64(&r, d, "targets_kib");
	new.contention = get_bool(&r, d, "contention");
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
		vm->demand_known = g_key_file_has_key(kf, g, "demand_kib", NULL);
		if (vm->demand_known) {
			vm->demand_kib = get_u64(&r, g, "demand_kib");
			vm->ideal_kib = get_u64(&r, g, "ideal_kib");
		}
		vm->explain = get_str(&r, g, "explain", FALSE);
	}
	if (!r.ok) {
		dmem_state_clear(&new);
		return FALSE;
	}
	dmem_state_clear(s);
	*s = new;
	return TRUE;
}

gboolean dmem_state_write(const DmemState *s, const char *path, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *data = NULL;
	GError *local = NULL;
	gsize len;

	if (g_mkdir_with_parents(dir, 0755) < 0) {
		int err = errno;

		g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
			    "cannot create %s: %s", dir, g_strerror(err));
		return FALSE;
	}
	data = dmem_state_to_data(s, &len);
	if (!g_file_set_contents_full(path, data, len,
				      G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local)) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED, "%s", local->message);
		g_error_free(local);
		return FALSE;
	}
	return TRUE;
}

gboolean dmem_state_read(DmemState *s, const char *path, GError **error)
{
	g_autofree char *data = NULL;
	gsize len;

	if (!dmem_file_read(path, &data, &len, error))
		return FALSE;
	return dmem_state_from_data(s, data, len, path, error);
}
