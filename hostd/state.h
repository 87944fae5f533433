/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * state.h - the daemon's published state (interface layer).
 *
 * dmemd replaces the state file atomically after every cycle; dmemctl status
 * and explain read it. The format is a GKeyFile: a [dmemd] group, then one
 * [vm N] group per VM, sizes in KiB. It is documented in dmemd(8) so that
 * other tools (cluster schedulers) can read it too.
 */
#ifndef DMEM_STATE_H
#define DMEM_STATE_H

#include <glib.h>

#include "units.h"

typedef struct {
	char *name;
	char *uuid;
	char *state;		/* "running", "paused", "shut off", ... */
	char *status;		/* dmem_status_name() */
	char *reason;
	char *explain;		/* dmem_policy_explain(), multi-line */
	gboolean managed;
	dmem_kib_t startup_kib, minimum_kib, maximum_kib;
	dmem_kib_t assigned_kib;	/* balloon actual */
	dmem_kib_t target_kib;		/* balloon target */
	dmem_kib_t live_kib;		/* boot + hot-added */
	dmem_kib_t balloon_kib;		/* live - assigned: held by the balloon */
	dmem_kib_t hotadded_kib;	/* sum of the DIMMs */
	guint dimms;
	gboolean demand_known;
	dmem_kib_t demand_kib, ideal_kib;
} DmemStateVm;

typedef struct {
	char *version;
	gint64 pid;
	gint64 updated_us;	/* wall clock of the last cycle */
	guint interval_ms;
	char *uri;
	gboolean connected;
	char *connection_error;	/* while not connected */
	gint64 disconnected_since_us;	/* wall clock; 0: connected or unknown */
	gboolean dry_run;
	dmem_kib_t host_available_kib;
	dmem_kib_t pool_kib;
	dmem_kib_t held_kib;
	dmem_kib_t targets_kib;
	gboolean contention;
	GPtrArray *vms;		/* DmemStateVm *, sorted by name */
} DmemState;

void dmem_state_init(DmemState *s);
void dmem_state_clear(DmemState *s);
DmemStateVm *dmem_state_add_vm(DmemState *s);

char *dmem_state_to_data(const DmemState *s, gsize *len);
gboolean dmem_state_from_data(DmemState *s, const char *data, gsize len,
			      const char *name, GError **error);

/* Write atomically (temp file + rename), mode 0644, creating the directory. */
gboolean dmem_state_write(const DmemState *s, const char *path, GError **error);
gboolean dmem_state_read(DmemState *s, const char *path, GError **error);

#endif /* DMEM_STATE_H */
